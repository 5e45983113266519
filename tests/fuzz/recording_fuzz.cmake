# Fuzz targets of the recording format (recording/, issue 6).
if(TARGET tdm_recording)
  tdm_fuzz_target(fuzz_recording_reader LIBS tdm_recording)
endif()
