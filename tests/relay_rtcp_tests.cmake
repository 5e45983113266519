# Unit tests of relay/ RTCP, NACK cache and keyframe throttle.
tdm_unit_test(rtcp_parse_build_roundtrip_test)
tdm_unit_test(nack_cache_answers_retransmissions_test)
tdm_unit_test(keyframe_throttle_limits_requests_test)
tdm_unit_test(rtp_recv_stats_test)
