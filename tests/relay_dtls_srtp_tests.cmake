# relay: DTLS-SRTP (relay/dtls.c, relay/srtp_session.c).
tdm_unit_test(dtls_handshake_in_memory_test)
tdm_unit_test(srtp_protects_and_rejects_test)
