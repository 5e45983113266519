# Encoders and decoders: libvpx VP8/VP9 (screen-content realtime), libopus,
# and PSNR for measuring them. Included by codec/CMakeLists.txt.
target_sources(tdm_codec PRIVATE vpx_encoder.c vpx_decoder.c psnr.c opus_codec.c
                                vp8_tables.c vp8_bool.c vp8_sparse.c vp9_sparse.c)
