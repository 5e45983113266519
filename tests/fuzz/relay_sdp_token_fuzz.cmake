# Fuzz targets of the relay's SDP parser/answer builder and token verifier.
tdm_fuzz_target(fuzz_sdp)
tdm_fuzz_target(fuzz_token)
# The WHIP/WHEP request handler (paths, headers, bodies from the network).
tdm_fuzz_target(fuzz_whip)
