target_sources(tdm_codec PRIVATE rtp.c vp8_rtp.c vp9_rtp.c opus_rtp.c assembler.c)
