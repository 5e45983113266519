# Fuzz targets of the recording format (recording/, issue 6).
if(TARGET tdm_recording)
  tdm_fuzz_target(recording_fuzz_reader LIBS tdm_recording)
endif()
