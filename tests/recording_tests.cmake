# Recording (issue 6): the sans-IO format, sealing and reading; the writer's
# IO shell. Included from tests/CMakeLists.txt.
if(TARGET tdm_recording)
  tdm_unit_test(recording_integrity_test LIBS tdm_recording)
endif()
if(TARGET tdm_recording)
  tdm_unit_test(recording_writer_test LIBS tdm_recording)
endif()
# A session's files as segments (issue 8): scan, order, seams.
if(TARGET tdm_recording)
  tdm_unit_test(recording_segments_test LIBS tdm_recording)
endif()

# Integration: a synthetic session recorded through the writer, exported by
# tandem-replay, decoded (ffmpeg and codec/) with every stamp checked; a
# writer killed with SIGKILL; tampering seen by the CLI.
if(TARGET tandem-replay AND NOT TDM_FUZZ)
  add_executable(recording_synth integration/recording_synth.c)
  target_link_libraries(recording_synth PRIVATE tdm_recording tdm_codec tdm_capture tdm_common m)
  add_executable(recording_webm_check integration/recording_webm_check.c)
  target_link_libraries(recording_webm_check PRIVATE tdm_codec tdm_capture tdm_common PkgConfig::AV)
  foreach(t recording_export_test recording_kill_test recording_cli_test)
    add_test(NAME ${t}
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/${t}.sh $<TARGET_FILE:tandem-replay>
                     $<TARGET_FILE:recording_synth> $<TARGET_FILE:recording_webm_check>)
    set_tests_properties(${t} PROPERTIES LABELS integration TIMEOUT 300)
  endforeach()
endif()

# The relay records a live session it forwards (share -> relay -> view in a
# network namespace); tandem-replay verifies and exports it, every frame
# stamp in order. Needs root (77 without).
if(TARGET tandem-relay AND TARGET tandem-share AND TARGET tandem-view AND TARGET tandem-replay
   AND TARGET recording_webm_check)
  add_test(NAME relay_records_session_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/relay_records_session_test.sh
                   $<TARGET_FILE:tandem-relay> $<TARGET_FILE:tandem-share>
                   $<TARGET_FILE:tandem-view> $<TARGET_FILE:tandem-replay>
                   $<TARGET_FILE:recording_webm_check>)
  set_tests_properties(relay_records_session_test PROPERTIES LABELS integration TIMEOUT 90
                       SKIP_RETURN_CODE 77)
  # The same live session, the relay killed with SIGKILL mid-recording: the
  # file verifies up to where it ends (and says where), exports, and
  # ffmpeg/the frame stamps decode in order.
  add_test(NAME relay_recording_kill_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/relay_recording_kill_test.sh
                   $<TARGET_FILE:tandem-relay> $<TARGET_FILE:tandem-share>
                   $<TARGET_FILE:tandem-view> $<TARGET_FILE:tandem-replay>
                   $<TARGET_FILE:recording_webm_check>)
  set_tests_properties(relay_recording_kill_test PROPERTIES LABELS integration TIMEOUT 90
                       SKIP_RETURN_CODE 77)
  # A session published twice to the same relay, 2 s apart: two segments
  # (issue 8) that tandem-replay lists as one session, verifies and joins
  # (the gap kept in the timestamps and marked by a chapter).
  add_test(NAME relay_records_segments_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/relay_records_segments_test.sh
                   $<TARGET_FILE:tandem-relay> $<TARGET_FILE:tandem-share>
                   $<TARGET_FILE:tandem-replay> $<TARGET_FILE:recording_webm_check>)
  set_tests_properties(relay_records_segments_test PROPERTIES LABELS integration TIMEOUT 90
                       SKIP_RETURN_CODE 77)
endif()

# tandem-replay timeline and info --db (issue 6): a session played through
# tandem-signal (user add) and signaling's core API into a real database, a
# recording of that session, the merged timeline checked for order, offsets
# and a verified audit chain; one audit row tampered makes it unverified and
# names the entry.
if(TARGET tandem-replay AND TARGET recording_synth AND TARGET tandem-signal AND NOT TDM_FUZZ)
  add_executable(recording_timeline_session integration/recording_timeline_session.c)
  target_link_libraries(recording_timeline_session PRIVATE tdm_signaling tdm_common)
  add_test(NAME recording_timeline_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/recording_timeline_test.sh
                   $<TARGET_FILE:tandem-replay> $<TARGET_FILE:recording_synth>
                   $<TARGET_FILE:tandem-signal> $<TARGET_FILE:recording_timeline_session>)
  set_tests_properties(recording_timeline_test PROPERTIES LABELS integration TIMEOUT 120)
  # A session in two segments with a gap (issue 8: failover goes on in a new
  # segment): list, verify per segment, joined export across the seam with
  # the gap kept and marked, timeline gap event; tampered, wrongly keyed,
  # other-codec and cut segments.
  add_test(NAME replay_segments_test
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/replay_segments_test.sh
                   $<TARGET_FILE:tandem-replay> $<TARGET_FILE:recording_synth>
                   $<TARGET_FILE:recording_webm_check> $<TARGET_FILE:tandem-signal>
                   $<TARGET_FILE:recording_timeline_session>)
  set_tests_properties(replay_segments_test PROPERTIES LABELS integration TIMEOUT 180)
endif()
