# Fuzz target of tandem-share's parser of the input events tandem-signal
# forwards (clients/inject_plan.h).
if(TARGET tdm_inject)
  tdm_fuzz_target(fuzz_share_input LIBS tdm_inject)
endif()
