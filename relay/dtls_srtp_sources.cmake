# DTLS-SRTP: the DTLS endpoint and node identity over OpenSSL (dtls.c) and
# SRTP sessions over libsrtp (srtp_session.c).
list(APPEND TDM_RELAY_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/dtls.c
     ${CMAKE_CURRENT_SOURCE_DIR}/srtp_session.c)
