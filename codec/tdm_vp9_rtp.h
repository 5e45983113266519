/* tdm_vp9_rtp: the VP9 RTP payload format (RFC 9628), sans-IO.
 *
 * The packetizer sends one spatial and one temporal layer in non-flexible
 * mode. Every payload starts with
 *
 *   byte 0  I=1 P L=1 F=0 B E V Z=0    P=0 on keyframes; B first, E last
 *   byte 1  M=1 PictureID[14:8]        15-bit picture ID
 *   byte 2  PictureID[7:0]
 *   byte 3  TID=0 U=0 SID=0 D=0        layer indices
 *   byte 4  TL0PICIDX
 *
 * and the first payload of a keyframe carries the scalability structure
 * (V=1): N_S=0 (one spatial layer), Y=1 with the 16-bit width and height
 * (Y=0 if the size is unknown: not in the frame, not in its header),
 * and either G=0 or, when asked for, a one-picture group (N_G=1: TID 0,
 * U=0, one reference with P_DIFF 1). The picture ID and TL0PICIDX advance
 * by one per frame and wrap. Sizes are balanced as for VP8; the RTP marker
 * goes on the last payload (E=1).
 *
 * The depacketizer also reads flexible mode (up to three P_DIFF references)
 * and any SS (up to 8 spatial layers, a picture group of up to 255 entries,
 * of which the first TDM_VP9_MAX_GROUP are kept). On the first packet of a
 * frame (B=1) it reads the VP9 uncompressed header: a frame whose header
 * says key frame (frame_type 0), with P=0 and in spatial layer 0, is a
 * keyframe, and its frame size is returned. When the packet is too short for
 * the header, B=1, P=0 and an SS mark a keyframe, sized from the SS. */
#ifndef TDM_VP9_RTP_H
#define TDM_VP9_RTP_H

#include "tdm_codec.h"
#include "tdm_rtp.h"

#define TDM_VP9_MAX_SPATIAL 8
#define TDM_VP9_MAX_GROUP 16
#define TDM_VP9_MAX_REFS 3
/* Descriptor the packetizer writes, and its SS on keyframes of known size
 * (G=0 / G=1); an unknown size drops the 4 size bytes (Y=0). */
#define TDM_VP9_DESCRIPTOR_SIZE 5
#define TDM_VP9_SS_SIZE 5
#define TDM_VP9_SS_GROUP_SIZE 8

typedef struct tdm_vp9_group_entry {
    uint8_t tid;        /* 0..7 */
    bool switch_up;     /* U */
    uint8_t ref_count;  /* R, 0..3 */
    uint8_t p_diff[TDM_VP9_MAX_REFS];
} tdm_vp9_group_entry;

/* Scalability structure (RFC 9628 section 4.2.1). */
typedef struct tdm_vp9_ss {
    uint8_t spatial_layers; /* N_S + 1, 1..8 */
    bool has_resolution;    /* Y */
    uint16_t width[TDM_VP9_MAX_SPATIAL], height[TDM_VP9_MAX_SPATIAL];
    bool has_group;     /* G */
    uint8_t group_size; /* N_G (entries beyond TDM_VP9_MAX_GROUP are checked, not kept) */
    tdm_vp9_group_entry group[TDM_VP9_MAX_GROUP];
} tdm_vp9_ss;

typedef struct tdm_vp9_descriptor {
    bool has_picture_id;  /* I */
    bool inter_predicted; /* P */
    bool has_layers;      /* L */
    bool flexible;        /* F */
    bool begin;           /* B: first packet of a frame */
    bool end;             /* E: last packet of a frame */
    bool has_ss;          /* V */
    bool not_upper_ref;   /* Z */
    bool long_picture_id; /* M */
    uint16_t picture_id;
    uint8_t tid;            /* valid when has_layers */
    bool switch_up;         /* U */
    uint8_t sid;            /* 0..7 */
    bool inter_layer_dep;   /* D */
    bool has_tl0picidx;     /* non-flexible mode with L=1 */
    uint8_t tl0picidx;
    uint8_t ref_count; /* flexible mode with P=1: 1..3 */
    uint8_t p_diff[TDM_VP9_MAX_REFS];
    tdm_vp9_ss ss; /* valid when has_ss */
    size_t size;   /* bytes of the descriptor including the SS */
} tdm_vp9_descriptor;

typedef struct tdm_vp9_payload {
    tdm_vp9_descriptor desc;
    const uint8_t *data; /* VP9 bytes after the descriptor, borrowed from buf */
    size_t len;          /* >= 1 */
    bool frame_start;    /* B */
    bool frame_end;      /* E */
    bool keyframe;       /* see the header comment */
    bool has_size;
    int width, height;
} tdm_vp9_payload;

/* What the start of a VP9 frame's uncompressed header says. */
typedef struct tdm_vp9_frame_header {
    int profile;      /* 0..3 */
    bool show_existing_frame;
    bool keyframe;    /* frame_type == KEY_FRAME */
    bool show_frame;
    bool has_size;    /* keyframe and the bytes reach the frame size */
    int width, height;
} tdm_vp9_frame_header;

/* Reads the uncompressed header at the start of a VP9 frame. TDM_OK;
 * TDM_ERR_TRUNCATED when the bytes end before frame_type (or, for a key
 * frame, before the sync code); TDM_ERR_FORMAT for a frame marker other
 * than 2 or a key frame with a wrong sync code. */
tdm_status tdm_vp9_parse_frame_header(const uint8_t *buf, size_t len, tdm_vp9_frame_header *out);

/* Parses one RTP payload. On TDM_OK fills *out; TDM_ERR_FORMAT with *why
 * VP9_TRUNCATED, VP9_EMPTY, VP9_BAD_REFS (more than three P_DIFFs, or a
 * P_DIFF of zero), VP9_BAD_SS (the SS runs past the end) or VP9_BAD_HEADER
 * (B=1 and the frame header's marker or sync code is wrong).
 * TDM_ERR_INVALID for NULL arguments. */
tdm_status tdm_vp9_depacketize(const uint8_t *buf, size_t len, tdm_vp9_payload *out,
                               tdm_rtp_drop *why);

/* Writes descriptor d (with its SS when d->has_ss) at buf. TDM_ERR_INVALID
 * for out-of-range fields, TDM_ERR_RANGE if cap is too small. */
tdm_status tdm_vp9_descriptor_write(const tdm_vp9_descriptor *d, uint8_t *buf, size_t cap,
                                    size_t *written);

/* Caller-owned; fields are private. Initialise with tdm_vp9_packetizer_init;
 * needs no cleanup. */
typedef struct tdm_vp9_packetizer {
    uint16_t next_picture_id;
    uint8_t next_tl0picidx;
    bool ss_group; /* send G=1 with a one-picture group in the SS */
    uint16_t picture_id;
    uint8_t tl0picidx;
    bool keyframe;
    int width, height; /* for the SS; 0 if unknown (then Y=0) */
    const uint8_t *data;
    size_t remaining;
    size_t packets_left;
    size_t max_payload;
    bool first;
} tdm_vp9_packetizer;

/* Starts with the given picture ID (masked to 15 bits) and TL0PICIDX.
 * ss_group selects the SS form sent on keyframes (see above). */
void tdm_vp9_packetizer_init(tdm_vp9_packetizer *p, uint16_t picture_id, uint8_t tl0picidx,
                             bool ss_group);

/* As tdm_vp8_packetizer_start. The SS of a keyframe gets its size from
 * frame->width/height, or failing that from the frame's own header. */
tdm_status tdm_vp9_packetizer_start(tdm_vp9_packetizer *p, const tdm_encoded_frame *frame,
                                    size_t max_payload);

/* As tdm_vp8_packetizer_next; *last is the E bit (set the RTP marker). */
tdm_status tdm_vp9_packetizer_next(tdm_vp9_packetizer *p, uint8_t *buf, size_t cap, size_t *len,
                                   bool *last);

size_t tdm_vp9_packetizer_remaining(const tdm_vp9_packetizer *p);

#endif
