# Peer transport: the libnice ICE adapter (ice.c) and the peer connection
# that runs DTLS-SRTP over it (peer.c). They need libnice (and GLib).
list(APPEND TDM_RELAY_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ice.c ${CMAKE_CURRENT_SOURCE_DIR}/peer.c)
set(TDM_RELAY_NEEDS_NICE ON)
