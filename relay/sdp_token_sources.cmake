# SDP offer/answer and trickle fragments (WHIP/WHEP), relay access tokens.
list(APPEND TDM_RELAY_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/sdp.c ${CMAKE_CURRENT_SOURCE_DIR}/token.c
     ${CMAKE_CURRENT_SOURCE_DIR}/revocations.c)
