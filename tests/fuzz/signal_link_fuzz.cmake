# The native clients' parsers of tandem-signal's bytes (clients/signal_link_wire.h).
if(TARGET tdm_signal_link)
  tdm_fuzz_target(fuzz_signal_link LIBS tdm_signal_link)
endif()
# tandem-rep's event lines, checked against the service's own input parser.
if(TARGET tdm_rep_input AND TARGET tdm_signaling)
  tdm_fuzz_target(fuzz_rep_input LIBS tdm_rep_input tdm_signaling)
endif()
# tandem-rep watch's lines for any message: never a secret in them.
if(TARGET tdm_rep_watch)
  tdm_fuzz_target(fuzz_rep_watch LIBS tdm_rep_watch)
endif()
