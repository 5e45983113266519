# Fuzz targets of the signaling core's parsers of outside bytes (input event
# messages; the profile configuration from the same bytes).
if(TARGET tdm_signaling)
  tdm_fuzz_target(fuzz_signal_input LIBS tdm_signaling)
endif()
# The Range header of tandem-signal's video route (signaling/http_range.c).
if(TARGET tdm_sig_http_range)
  tdm_fuzz_target(fuzz_http_range LIBS tdm_sig_http_range)
endif()
