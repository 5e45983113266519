# Tests of the customer endpoint on a real desktop (issue 7): the cursor
# compositing and remote-input planning as unit tests; XTEST injection and
# capture with cursor and monitor choice against a real Xvfb; the whole
# path (tandem-signal, tandem-relay, tandem-share --display, tandem-view, a
# rep and an invitee over the WebSocket) under Xvfb with real X clients.
tdm_unit_test(cursor_composite_test)
if(TARGET tdm_inject)
  tdm_unit_test(inject_plan_test LIBS tdm_inject)
endif()
if(TARGET tdm_share_audio)
  tdm_unit_test(share_wav_test LIBS tdm_share_audio)
endif()
# The signaling side of taking control back (signaling/hub.c).
if(TARGET tdm_signaling)
  tdm_unit_test(hub_control_test LIBS tdm_signaling PkgConfig::SQLITE)
endif()

# The whole-path test's helpers: a participant's WebSocket driven from the
# script, and a block diff of two tandem-view snapshots.
if(TARGET tdm_signal_link AND TARGET tandem-share AND TARGET tandem-view AND TARGET tandem-relay
   AND TARGET tandem-signal)
  add_executable(desktop_ws_client integration/desktop_ws_client.c)
  target_link_libraries(desktop_ws_client PRIVATE tdm_signal_link)
  add_executable(desktop_png_diff integration/desktop_png_diff.c)
  target_link_libraries(desktop_png_diff PRIVATE PkgConfig::PNG)
  add_test(NAME desktop_session_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/desktop_session_test.sh
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:tandem-relay>
                   $<TARGET_FILE:tandem-share> $<TARGET_FILE:tandem-view>
                   $<TARGET_FILE:desktop_ws_client> $<TARGET_FILE:desktop_png_diff>)
  set_tests_properties(desktop_session_test PROPERTIES LABELS integration TIMEOUT 240
                       SKIP_RETURN_CODE 77)
endif()

# The X side against a real Xvfb: XTEST injection, the chord grab, capture
# with the cursor, RandR monitors.
if(TARGET tdm_inject)
  pkg_check_modules(XCB_RANDR_DESKTOP REQUIRED IMPORTED_TARGET xcb-randr)
  add_executable(x11_desktop_test integration/x11_desktop_test.c)
  target_link_libraries(x11_desktop_test PRIVATE tdm_inject tdm_capture tdm_common
                        PkgConfig::CMOCKA PkgConfig::XCB PkgConfig::XCB_RANDR_DESKTOP)
  add_test(NAME x11_desktop_test COMMAND x11_desktop_test)
  set_tests_properties(x11_desktop_test PROPERTIES LABELS integration TIMEOUT 120)
endif()

# The customer's voice channel end to end: share --audio -> relay recording
# -> tandem-replay export -> ffmpeg decodes the pitch.
if(TARGET tandem-share AND TARGET tandem-relay AND TARGET tandem-replay)
  add_test(NAME desktop_audio_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/desktop_audio_test.sh
                   $<TARGET_FILE:tandem-relay> $<TARGET_FILE:tandem-share>
                   $<TARGET_FILE:tandem-replay>)
  set_tests_properties(desktop_audio_test PROPERTIES LABELS integration TIMEOUT 120
                       SKIP_RETURN_CODE 77)
endif()
