/* tdm_opus_rtp: the Opus RTP payload format (RFC 7587), sans-IO.
 *
 * An RTP payload is exactly one Opus packet, so packetizing is a copy and
 * depacketizing is validation: the packet's TOC byte and frame layout are
 * checked against RFC 6716 section 3.4 (rules R1-R7: at least one byte;
 * no frame over 1275 bytes; code 1 sizes even; code 2 first length fits;
 * code 3 with 1..48 frames of at most 120 ms in all, padding and VBR
 * lengths that fit), so garbage is dropped with a reason before it reaches
 * a decoder. The RTP timestamp advances by the packet's duration at 48 kHz
 * whatever the encoder's internal rate (RFC 7587 section 4.1). */
#ifndef TDM_OPUS_RTP_H
#define TDM_OPUS_RTP_H

#include "tdm_codec.h"
#include "tdm_rtp.h"

/* Longest frame in an Opus packet (RFC 6716 R2). */
#define TDM_OPUS_MAX_FRAME_BYTES 1275
/* At most 120 ms of 2.5 ms frames. */
#define TDM_OPUS_MAX_FRAMES 48

typedef enum tdm_opus_mode {
    TDM_OPUS_MODE_SILK = 1,
    TDM_OPUS_MODE_HYBRID = 2,
    TDM_OPUS_MODE_CELT = 3,
} tdm_opus_mode;

typedef struct tdm_opus_payload {
    uint8_t config;     /* TOC config, 0..31 */
    tdm_opus_mode mode;
    int bandwidth_hz;   /* audio bandwidth: 4000 (NB) .. 20000 (FB) */
    bool stereo;        /* TOC s bit */
    uint8_t code;       /* TOC c: 0 one frame, 1 two equal, 2 two sized, 3 signalled count */
    bool vbr;           /* code 3 v bit (code 2 is always VBR) */
    int frame_count;    /* 1..48 */
    int frame_samples;  /* per frame at 48 kHz: 120 .. 2880 */
    int samples;        /* frame_count * frame_samples: the RTP timestamp step */
    size_t padding;     /* code 3 padding bytes (not counting the length bytes) */
    uint16_t frame_len[TDM_OPUS_MAX_FRAMES]; /* each frame's bytes (0 = DTX/lost) */
    const uint8_t *data; /* the whole Opus packet (buf), for the decoder */
    size_t len;
} tdm_opus_payload;

/* Validates one RTP payload as an Opus packet. On TDM_OK fills *out.
 * TDM_ERR_FORMAT with *why OPUS_EMPTY (zero bytes), OPUS_BAD_LENGTH (a
 * frame length over 1275, an odd code-1 size, a length byte missing or a
 * length past the end), OPUS_BAD_FRAME_COUNT (code 3 with no count byte, a
 * count of zero or over 120 ms) or OPUS_BAD_PADDING (padding past the end).
 * TDM_ERR_INVALID for NULL arguments. */
tdm_status tdm_opus_depacketize(const uint8_t *buf, size_t len, tdm_opus_payload *out,
                                tdm_rtp_drop *why);

/* Copies the Opus packet in frame (codec TDM_CODEC_OPUS) into buf as an RTP
 * payload after validating it; *samples (if not NULL) gets its duration at
 * 48 kHz, the RTP timestamp step to the next packet. TDM_ERR_FORMAT (with
 * *why) for an invalid packet, TDM_ERR_RANGE if cap is too small,
 * TDM_ERR_INVALID for a NULL or non-Opus frame. */
tdm_status tdm_opus_packetize(const tdm_encoded_frame *frame, uint8_t *buf, size_t cap,
                              size_t *len, int *samples, tdm_rtp_drop *why);

#endif
