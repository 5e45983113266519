# tandem-replay: the auditor's tool for recordings (recording/, issue 6).
# timeline and info --db read tandem-signal's SQLite audit log read-only and
# verify it with signaling's own chain walk (tdm_signaling, linked for
# tdm_sig_audit_* only).
#
# tdm_replay (replay_audit.c, replay_timeline.c): a session's audit trail and
# the merged timeline, one library shared by tandem-replay and tandem-signal's
# auditor routes (signaling/api_recordings.c), so both say the same.
if(TARGET tdm_rec_export AND TARGET tdm_signaling)
  add_library(tdm_replay STATIC replay_audit.c replay_timeline.c replay_segments.c)
  target_include_directories(tdm_replay PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(tdm_replay PUBLIC tdm_recording tdm_signaling tdm_common
                        PkgConfig::JANSSON PkgConfig::SQLITE)
  add_executable(tandem-replay tandem_replay.c)
  target_link_libraries(tandem-replay PRIVATE tdm_replay tdm_rec_export tdm_recording tdm_signaling
                        tdm_common PkgConfig::JANSSON PkgConfig::SQLITE)
endif()
