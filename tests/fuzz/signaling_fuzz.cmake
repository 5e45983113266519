# Fuzz targets of the signaling core's parsers of outside bytes (input event
# messages; the profile configuration from the same bytes).
if(TARGET tdm_signaling)
  tdm_fuzz_target(fuzz_signal_input LIBS tdm_signaling)
endif()
