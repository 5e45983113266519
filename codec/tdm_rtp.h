/* tdm_rtp: the RTP packet header (RFC 3550 section 5.1), parsed and written
 * in memory, and the drop reasons shared by every RTP payload parser.
 *
 * Sans-IO and allocation-free: the parser fills a caller struct whose
 * pointers borrow from the input buffer; the writer writes into a caller
 * buffer. A malformed packet is never an exception on the media path, it is
 * dropped and counted: every parser here returns TDM_ERR_FORMAT together
 * with a tdm_rtp_drop naming the reason, which the caller adds to a
 * tdm_rtp_drop_counts (one counter per reason, e.g. for /metrics). Parsers
 * on the hot path do not format tdm_error messages; the reason is the
 * detail.
 *
 * Sequence numbers (16-bit) and timestamps (32-bit) wrap; the unwrap helpers
 * extend them to 64 bits relative to a reference value. */
#ifndef TDM_RTP_H
#define TDM_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

/* Every reason a packet is dropped on the receive path: the RTP header
 * (this module), the payload formats (VP8, VP9, Opus) and frame assembly.
 * X(name, metric label, description). */
#define TDM_RTP_DROP_MAP(X)                                                              \
    X(NONE, "none", "not dropped")                                                       \
    /* RTP header */                                                                     \
    X(TOO_SHORT, "too_short", "shorter than the 12-byte fixed RTP header")               \
    X(BAD_VERSION, "bad_version", "RTP version is not 2")                                \
    X(BAD_CSRC, "bad_csrc", "CSRC list runs past the end of the packet")                 \
    X(BAD_EXTENSION, "bad_extension", "header extension runs past the end of the packet") \
    X(BAD_PADDING, "bad_padding", "padding count is zero or larger than the payload")    \
    /* VP8 payload (RFC 7741) */                                                         \
    X(VP8_TRUNCATED, "vp8_truncated", "VP8 payload descriptor runs past the end")        \
    X(VP8_EMPTY, "vp8_empty", "no VP8 data after the payload descriptor")                \
    X(VP8_BAD_KEYFRAME, "vp8_bad_keyframe", "VP8 keyframe without start code or size")   \
    /* VP9 payload (RFC 9628) */                                                         \
    X(VP9_TRUNCATED, "vp9_truncated", "VP9 payload descriptor runs past the end")        \
    X(VP9_EMPTY, "vp9_empty", "no VP9 data after the payload descriptor")                \
    X(VP9_BAD_REFS, "vp9_bad_refs", "VP9 flexible-mode reference list malformed")       \
    X(VP9_BAD_SS, "vp9_bad_ss", "VP9 scalability structure malformed or truncated")      \
    X(VP9_BAD_HEADER, "vp9_bad_header", "VP9 frame header has a bad marker or sync code") \
    /* Opus payload (RFC 7587, RFC 6716 section 3) */                                    \
    X(OPUS_EMPTY, "opus_empty", "empty Opus packet")                                     \
    X(OPUS_BAD_LENGTH, "opus_bad_length", "Opus frame lengths do not fit the packet")   \
    X(OPUS_BAD_FRAME_COUNT, "opus_bad_frame_count", "Opus frame count zero or over 120 ms") \
    X(OPUS_BAD_PADDING, "opus_bad_padding", "Opus padding runs past the end")            \
    /* frame assembly */                                                                 \
    X(WRONG_SSRC, "wrong_ssrc", "SSRC is not the stream's")                              \
    X(WRONG_PAYLOAD_TYPE, "wrong_payload_type", "payload type is not the stream's")      \
    X(DUPLICATE, "duplicate", "sequence number already held")                            \
    X(TOO_OLD, "too_old", "sequence number before the assembly window")                 \
    X(PACKET_TOO_BIG, "packet_too_big", "payload larger than an assembler slot")

typedef enum tdm_rtp_drop {
#define TDM_RTP_DROP_ENUM(name, label, text) TDM_RTP_DROP_##name,
    TDM_RTP_DROP_MAP(TDM_RTP_DROP_ENUM)
#undef TDM_RTP_DROP_ENUM
        TDM_RTP_DROP_COUNT /* number of reasons, not a reason */
} tdm_rtp_drop;

/* Short snake_case name (a metric label), e.g. "bad_padding"; never NULL. */
const char *tdm_rtp_drop_name(tdm_rtp_drop why);
/* One-line description; never NULL. */
const char *tdm_rtp_drop_text(tdm_rtp_drop why);

/* Dropped packets by reason. Zero-initialise. */
typedef struct tdm_rtp_drop_counts {
    uint64_t n[TDM_RTP_DROP_COUNT];
} tdm_rtp_drop_counts;

/* Adds one drop of reason why (ignores TDM_RTP_DROP_NONE and values out of
 * range). */
void tdm_rtp_drop_counts_add(tdm_rtp_drop_counts *c, tdm_rtp_drop why);
/* Sum over every reason. */
uint64_t tdm_rtp_drop_counts_total(const tdm_rtp_drop_counts *c);

#define TDM_RTP_FIXED_HEADER 12
#define TDM_RTP_MAX_CSRC 15

typedef struct tdm_rtp_header {
    bool marker;
    uint8_t payload_type; /* 0..127 */
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    uint8_t csrc_count; /* 0..15 */
    uint32_t csrc[TDM_RTP_MAX_CSRC];
    /* Header extension (X bit): skipped by the parser, exposed here. The
     * profile says how to read the body (0xBEDE one-byte, 0x1000-0x100F
     * two-byte elements, RFC 8285). ext_len is a multiple of 4. */
    bool has_extension;
    uint16_t ext_profile;
    const uint8_t *ext; /* borrowed from the parsed buffer (or the writer's input) */
    size_t ext_len;
} tdm_rtp_header;

typedef struct tdm_rtp_packet {
    tdm_rtp_header header;
    size_t header_len;      /* fixed header + CSRCs + extension */
    const uint8_t *payload; /* borrowed from buf; may be empty (padding only) */
    size_t payload_len;
    size_t padding_len; /* trailing padding including its count byte; 0 if P=0 */
} tdm_rtp_packet;

/* Parses one RTP packet. On TDM_OK, *out describes it (pointers into buf)
 * and *why (if not NULL) is TDM_RTP_DROP_NONE. On malformed input returns
 * TDM_ERR_FORMAT and sets *why to TOO_SHORT, BAD_VERSION, BAD_CSRC,
 * BAD_EXTENSION or BAD_PADDING; *out is then unspecified. TDM_ERR_INVALID
 * if buf (with len > 0) or out is NULL. */
tdm_status tdm_rtp_parse(const uint8_t *buf, size_t len, tdm_rtp_packet *out, tdm_rtp_drop *why);

/* Bytes the header h takes on the wire (fixed + CSRCs + extension). */
size_t tdm_rtp_header_size(const tdm_rtp_header *h);

/* Writes the header h (with P=0) at buf, so a payload can be written right
 * after it at buf + *written without a copy. TDM_ERR_RANGE if cap is too
 * small; TDM_ERR_INVALID if a field is out of range (payload type > 127,
 * more than 15 CSRCs, extension length not a multiple of 4 or over 262140
 * bytes, extension bytes missing). Nothing is written on error. */
tdm_status tdm_rtp_write_header(const tdm_rtp_header *h, uint8_t *buf, size_t cap,
                                size_t *written);

/* Writes a whole packet: header, payload, and padding_len bytes of padding
 * (0, or 1..255 with the P bit set; the last byte is the count, the others
 * zero). payload may point into buf (it is moved, not copied). Same errors
 * as tdm_rtp_write_header, plus TDM_ERR_INVALID for padding_len > 255. */
tdm_status tdm_rtp_write(const tdm_rtp_header *h, const uint8_t *payload, size_t payload_len,
                         size_t padding_len, uint8_t *buf, size_t cap, size_t *written);

/* Balanced splitting of a frame into packets, shared by the packetizers.
 * tdm_rtp_split_count: how many packets len bytes need when the first
 * packet holds at most first_cap bytes and the others cap (first_cap <= cap,
 * both >= 1; len >= 1). tdm_rtp_split_next: how many bytes the next packet
 * takes, given the bytes and packets still to go and this packet's room:
 * ceil(remaining / packets_left) capped at cap, so sizes differ by at most
 * one byte apart from a first packet with less room. */
size_t tdm_rtp_split_count(size_t len, size_t first_cap, size_t cap);
size_t tdm_rtp_split_next(size_t remaining, size_t packets_left, size_t cap);

/* Extends a 16-bit sequence number to 64 bits: the value congruent to seq
 * modulo 2^16 that is nearest to ref (an earlier extended value). Ties (a
 * distance of exactly 2^15) resolve forward. Never goes below zero: a
 * result that would be negative is taken forward instead, so start
 * references at 2^16 or more. */
uint64_t tdm_rtp_seq_unwrap(uint64_t ref, uint16_t seq);
/* The same for 32-bit RTP timestamps, modulo 2^32. */
uint64_t tdm_rtp_ts_unwrap(uint64_t ref, uint32_t ts);

#endif
