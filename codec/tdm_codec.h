/* tdm_codec: what the codec layer's parts have in common.
 *
 * An encoded frame is the unit between an encoder, a packetizer, a frame
 * assembler and a decoder: the bytes of one VP8 frame, one VP9 frame or
 * superframe, or one Opus packet, with the facts each stage needs. */
#ifndef TDM_CODEC_H
#define TDM_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

typedef enum tdm_codec {
    TDM_CODEC_VP8 = 1,
    TDM_CODEC_VP9 = 2,
    TDM_CODEC_OPUS = 3,
} tdm_codec;

const char *tdm_codec_name(tdm_codec c);
bool tdm_codec_parse(const char *name, tdm_codec *out);

/* RTP clock rates: 90 kHz for video, 48 kHz for Opus (RFC 7587). */
#define TDM_VIDEO_CLOCK_HZ 90000
#define TDM_OPUS_CLOCK_HZ 48000

typedef struct tdm_encoded_frame {
    tdm_codec codec;
    const uint8_t *data; /* borrowed; lifetime stated by whoever hands it out */
    size_t len;
    uint32_t rtp_timestamp;
    bool keyframe;
    /* Video only: picture size (from the keyframe header when depacketized). */
    int width, height;
} tdm_encoded_frame;

#endif
