# RTCP, receiver statistics, NACK cache and keyframe throttle: sans-IO parts of tdm_relay_core.
list(APPEND TDM_RELAY_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/rtcp.c
     ${CMAKE_CURRENT_SOURCE_DIR}/nack_cache.c ${CMAKE_CURRENT_SOURCE_DIR}/keyframe_throttle.c
     ${CMAKE_CURRENT_SOURCE_DIR}/rtp_stats.c)
