# --- codec: encoders and decoders (libvpx, libopus) and PSNR ---
tdm_unit_test(video_encoder_roundtrip_test)
tdm_unit_test(video_decoder_rejects_corrupt_input_test)
tdm_unit_test(opus_roundtrip_test)
tdm_unit_test(psnr_known_answers_test)
tdm_unit_test(vp8_sparse_decodes_exactly_test LIBS PkgConfig::VPX)
tdm_unit_test(vp9_sparse_decodes_exactly_test LIBS PkgConfig::VPX)
