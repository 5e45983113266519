# Unit tests of the RTP payload formats and frame assembly (codec/).
tdm_unit_test(rtp_header_roundtrip_test)
tdm_unit_test(vp8_payload_roundtrip_test)
tdm_unit_test(vp9_payload_roundtrip_test)
# libopus is the reference the Opus packet checks are compared with.
tdm_unit_test(opus_payload_test LIBS PkgConfig::OPUS m)
tdm_unit_test(assembler_recovers_frames_test)
# Real libvpx bitstreams through packetizer, lossy link and assembler.
tdm_unit_test(rtp_carries_real_vpx_frames_test LIBS PkgConfig::VPX)
