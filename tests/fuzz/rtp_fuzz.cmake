# Fuzz targets of the RTP payload formats and frame assembly (codec/).
tdm_fuzz_target(fuzz_rtp_header)
tdm_fuzz_target(fuzz_vp8_depacketizer)
tdm_fuzz_target(fuzz_vp9_depacketizer)
# libopus's own packet parser is the oracle the Opus checks are held to.
tdm_fuzz_target(fuzz_opus_depacketizer LIBS PkgConfig::OPUS)
tdm_fuzz_target(fuzz_assembler)
tdm_fuzz_target(fuzz_vp8_frame_header)
tdm_fuzz_target(fuzz_vp9_frame_header)
