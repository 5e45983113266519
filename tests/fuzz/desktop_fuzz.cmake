# Fuzz target of tandem-share's parser of the input events tandem-signal
# forwards (clients/inject_plan.h).
if(TARGET tdm_inject)
  tdm_fuzz_target(fuzz_share_input LIBS tdm_inject)
endif()
# ... and of the WAV header behind tandem-share --audio FILE.
if(TARGET tdm_share_audio)
  tdm_fuzz_target(fuzz_share_wav LIBS tdm_share_audio)
endif()
