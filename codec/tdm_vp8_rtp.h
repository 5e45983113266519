/* tdm_vp8_rtp: the VP8 RTP payload format (RFC 7741), sans-IO.
 *
 * The packetizer splits one encoded VP8 frame into RTP payloads of at most
 * max_payload bytes each, written one at a time into caller buffers; it
 * allocates nothing. Every payload starts with a 6-byte descriptor:
 *
 *   byte 0  X=1 R=0 N=0 S R=0 PID=0     S=1 on the frame's first packet
 *   byte 1  I=1 L=1 T=1 K=0 RSV=0
 *   byte 2  M=1 PictureID[14:8]         15-bit picture ID
 *   byte 3  PictureID[7:0]
 *   byte 4  TL0PICIDX
 *   byte 5  TID=0 Y=0 KEYIDX=0
 *
 * T=1 rides along with L=1 because RFC 7741 requires the T bit whenever
 * TL0PICIDX is present; with a single temporal layer every frame is TID 0.
 * The picture ID (15-bit) and TL0PICIDX (8-bit) advance by one per frame and
 * wrap. Payload sizes are balanced (they differ by at most one byte) so that
 * no packet is a tiny tail. The RTP marker bit goes on the last packet
 * (the `last` output of next()), the timestamp is the frame's.
 *
 * The depacketizer reads any valid descriptor (7- or 15-bit picture ID,
 * TL0PICIDX, TID/Y, KEYIDX, in any combination) and points at the VP8 bytes
 * after it. On the first packet of a frame (S=1, PID=0) it reads the VP8
 * payload header: P=0 means a keyframe, whose 3-byte start code 9d 01 2a
 * and 14-bit width and height are checked and returned when the packet
 * holds them. */
#ifndef TDM_VP8_RTP_H
#define TDM_VP8_RTP_H

#include "tdm_codec.h"
#include "tdm_rtp.h"

/* Size of the descriptor the packetizer writes. */
#define TDM_VP8_DESCRIPTOR_SIZE 6
/* Largest possible descriptor (X, I with M, L, T/K). */
#define TDM_VP8_DESCRIPTOR_MAX 6

typedef struct tdm_vp8_descriptor {
    bool extended;      /* X: the I/L/T/K octet is present */
    bool non_reference; /* N: no other frame depends on this one */
    bool start;         /* S: first packet of a VP8 partition */
    uint8_t partition;  /* PID: partition index, 0..7 */
    bool has_picture_id; /* I */
    bool has_tl0picidx;  /* L */
    bool has_tid;        /* T */
    bool has_keyidx;     /* K */
    bool long_picture_id; /* M: picture_id is 15 bits, else 7 */
    uint16_t picture_id;
    uint8_t tl0picidx;
    uint8_t tid;       /* 0..3, valid when has_tid */
    bool layer_sync;   /* Y, valid when has_tid */
    uint8_t keyidx;    /* 0..31, valid when has_keyidx */
    size_t size;       /* bytes of the descriptor */
} tdm_vp8_descriptor;

typedef struct tdm_vp8_payload {
    tdm_vp8_descriptor desc;
    const uint8_t *data; /* VP8 bytes after the descriptor, borrowed from buf */
    size_t len;          /* >= 1 */
    bool frame_start;    /* S=1 and PID=0: the first packet of a frame */
    bool keyframe;       /* frame_start and the payload header's P bit is 0 */
    bool has_size;       /* keyframe and the packet holds the size fields */
    int width, height;   /* 14-bit sizes from the keyframe header (scale bits dropped) */
} tdm_vp8_payload;

/* Parses one RTP payload (the bytes after the RTP header and before the
 * padding). On TDM_OK fills *out; TDM_ERR_FORMAT with *why VP8_TRUNCATED
 * (descriptor runs past the end), VP8_EMPTY (nothing after it) or
 * VP8_BAD_KEYFRAME (a keyframe whose start code is wrong, or whose width
 * or height is zero). TDM_ERR_INVALID for NULL arguments. */
tdm_status tdm_vp8_depacketize(const uint8_t *buf, size_t len, tdm_vp8_payload *out,
                               tdm_rtp_drop *why);

/* Writes descriptor d at buf (fields as in tdm_vp8_descriptor; size is
 * ignored and returned in *written). TDM_ERR_INVALID for out-of-range
 * fields (picture ID over 7 bits without M, over 15 with it; PID > 7,
 * TID > 3, KEYIDX > 31), TDM_ERR_RANGE if cap is too small. */
tdm_status tdm_vp8_descriptor_write(const tdm_vp8_descriptor *d, uint8_t *buf, size_t cap,
                                    size_t *written);

/* Caller-owned; fields are private. Initialise with
 * tdm_vp8_packetizer_init; needs no cleanup. */
typedef struct tdm_vp8_packetizer {
    uint16_t next_picture_id; /* for the next frame */
    uint8_t next_tl0picidx;
    uint16_t picture_id; /* of the frame in progress */
    uint8_t tl0picidx;
    const uint8_t *data; /* frame in progress, borrowed */
    size_t remaining;    /* bytes not yet packetized */
    size_t packets_left; /* including the next one */
    size_t max_data;     /* VP8 bytes per packet at most */
    bool first;
} tdm_vp8_packetizer;

/* Starts with the given picture ID (masked to 15 bits) and TL0PICIDX;
 * senders pick them at random. */
void tdm_vp8_packetizer_init(tdm_vp8_packetizer *p, uint16_t picture_id, uint8_t tl0picidx);

/* Starts packetizing frame (frame->data must stay valid until next() has
 * returned last = true, or until the next start). max_payload is the room
 * for one RTP payload (the path MTU less IP, UDP, RTP and SRTP overhead).
 * A frame still in progress is abandoned. TDM_ERR_INVALID for an empty
 * frame or one whose codec is not VP8; TDM_ERR_RANGE if max_payload cannot
 * hold the descriptor and one byte. On success the frame takes the current
 * picture ID and TL0PICIDX and both advance. */
tdm_status tdm_vp8_packetizer_start(tdm_vp8_packetizer *p, const tdm_encoded_frame *frame,
                                    size_t max_payload);

/* Writes the next payload of the frame into buf. On TDM_OK, *len is its
 * size and *last is true on the frame's final payload (set the RTP marker).
 * TDM_AGAIN when no frame is in progress; TDM_ERR_RANGE (nothing consumed)
 * if cap is smaller than the payload, which is never more than the
 * max_payload given to start. */
tdm_status tdm_vp8_packetizer_next(tdm_vp8_packetizer *p, uint8_t *buf, size_t cap, size_t *len,
                                   bool *last);

/* Payloads the frame in progress still has to give (0 when idle). */
size_t tdm_vp8_packetizer_remaining(const tdm_vp8_packetizer *p);

#endif
