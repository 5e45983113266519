# The relay's media plane (relay.c: the node, spreading sessions over worker threads; relay_worker.c:
# one worker's sessions, endpoints, the WHIP/WHEP
# backend over tdm_peer, in the IO shell) and the client-side SDP offer
# writer (sdp_offer.c, sans-IO, in the core).
list(APPEND TDM_RELAY_SHELL_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/relay.c
  ${CMAKE_CURRENT_SOURCE_DIR}/relay_worker.c)
list(APPEND TDM_RELAY_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/sdp_offer.c)
