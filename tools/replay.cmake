# tandem-replay: the auditor's tool for recordings (recording/, issue 6).
if(TARGET tdm_rec_export)
  add_executable(tandem-replay tandem_replay.c)
  target_link_libraries(tandem-replay PRIVATE tdm_rec_export tdm_recording tdm_common)
endif()
