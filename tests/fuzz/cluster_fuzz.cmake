# The cluster's parsers of outside bytes (signaling/tdm_redis_envelope.h:
# messages between tandem-signal instances; the Redis URL).
if(TARGET tdm_signaling)
  tdm_fuzz_target(fuzz_redis_wire LIBS tdm_signaling)
endif()
