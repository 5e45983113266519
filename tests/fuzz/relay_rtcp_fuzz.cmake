# Fuzz target of the relay's RTCP parser and writers (relay/rtcp.c).
tdm_fuzz_target(fuzz_rtcp)
