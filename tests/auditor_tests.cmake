# The auditor's recordings routes and page (issue 6), included from
# browser_tests.cmake. Both start the real tandem-signal in a network
# namespace of their own on recordings made by recording_synth for a session
# played by recording_timeline_session (tests/integration/recordings_fixture.sh).

# The Range header of the video route, sans-IO, with plain calls.
if(TARGET tdm_sig_http_range)
  add_executable(sig_http_range_test ${CMAKE_SOURCE_DIR}/tests/unit/sig_http_range_test.c)
  target_link_libraries(sig_http_range_test PRIVATE tdm_sig_http_range PkgConfig::CMOCKA)
  add_test(NAME sig_http_range_test COMMAND sig_http_range_test)
  set_tests_properties(sig_http_range_test PROPERTIES LABELS unit TIMEOUT 60)
endif()
if(TARGET tandem-signal AND TARGET tandem-replay AND TARGET recording_synth
   AND TARGET recording_timeline_session AND TARGET recording_webm_check)
  # API: who may, the list, verify results, timeline, video by range, the cache.
  add_test(NAME signal_recordings_api_test
           COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/signal_recordings_api_test.sh
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:recording_synth>
                   $<TARGET_FILE:recording_timeline_session> $<TARGET_FILE:tandem-replay>
                   $<TARGET_FILE:recording_webm_check>)
  set_tests_properties(signal_recordings_api_test PROPERTIES
                       LABELS integration TIMEOUT 180 SKIP_RETURN_CODE 77)
  # The same routes with --redis: participants, audit events and the chain's
  # verification read from Redis (a real redis-server).
  add_test(NAME signal_recordings_redis_test
           COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/signal_recordings_redis_test.sh
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:recording_synth>
                   $<TARGET_FILE:recording_timeline_session> $<TARGET_FILE:tandem-replay>)
  set_tests_properties(signal_recordings_redis_test PROPERTIES
                       LABELS integration TIMEOUT 120 SKIP_RETURN_CODE 77)
  # Headless Chromium on auditor.html: log in, list, open, play, seek by
  # marker, verify status; a tampered recording shows its fault; screenshots
  # into the build directory (auditor-screenshots/).
  add_test(NAME browser_auditor_pages_test
           COMMAND ${CMAKE_SOURCE_DIR}/tests/browser/run_auditor_browser_test.sh
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:recording_synth>
                   $<TARGET_FILE:recording_timeline_session>
                   --screenshots ${CMAKE_BINARY_DIR}/auditor-screenshots)
  set_tests_properties(browser_auditor_pages_test PROPERTIES
                       LABELS "integration;browser"
                       TIMEOUT 240
                       SKIP_RETURN_CODE 77
                       RESOURCE_LOCK browser)
endif()
