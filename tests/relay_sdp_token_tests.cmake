# Unit tests of the relay's SDP offer/answer, trickle fragments and tokens.
tdm_unit_test(sdp_offer_answer_test)
tdm_unit_test(token_checks_test)
