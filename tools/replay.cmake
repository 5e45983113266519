# tandem-replay: the auditor's tool for recordings (recording/, issue 6).
# timeline and info --db read tandem-signal's SQLite audit log read-only and
# verify it with signaling's own chain walk (tdm_signaling, linked for
# tdm_sig_audit_* only).
if(TARGET tdm_rec_export AND TARGET tdm_signaling)
  add_executable(tandem-replay tandem_replay.c replay_audit.c replay_timeline.c)
  target_include_directories(tandem-replay PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(tandem-replay PRIVATE tdm_rec_export tdm_recording tdm_signaling tdm_common
                        PkgConfig::JANSSON PkgConfig::SQLITE)
endif()
