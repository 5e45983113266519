# Fuzz targets of the recording format (recording/, issue 6).
if(TARGET tdm_recording)
  tdm_fuzz_target(fuzz_recording_reader LIBS tdm_recording)
endif()
# Export and thumbs over a valid recording whose packets are outside bytes.
if(TARGET tdm_rec_export)
  tdm_fuzz_target(fuzz_recording_export LIBS tdm_rec_export PkgConfig::AV)
endif()
