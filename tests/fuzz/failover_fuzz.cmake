# Relay failover's messages from outside (signaling/relay_failover.c route
# bodies, clients/media_move.c): one target, the first byte picks the parser.
if(TARGET tdm_signaling AND TARGET tdm_media_move)
  tdm_fuzz_target(fuzz_failover_messages LIBS tdm_signaling tdm_media_move)
endif()
