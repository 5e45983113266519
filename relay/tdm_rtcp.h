/* tdm_rtcp: RTCP packets (RFC 3550 section 6, RFC 4585 feedback, RFC 5104
 * FIR, REMB from draft-alvestrand-rmcat-remb) parsed from and written to
 * memory, and the RTP/RTCP demultiplexer of RFC 5761.
 *
 * Parsing: tdm_rtcp_iter_init checks a whole compound packet first and
 * either accepts all of it or rejects all of it with a tdm_rtcp_drop reason
 * (RFC 3550 A.2: a compound packet is valid or discarded as a unit); then
 * tdm_rtcp_iter_next hands out one typed item per RTCP packet. Items borrow
 * from the input buffer; variable-length parts (report blocks, NACK pairs,
 * FIR entries, REMB SSRCs) are read with the accessor functions below, so
 * nothing is allocated. Reduced-size RTCP (RFC 5506: a feedback packet
 * alone, without a leading SR/RR) is accepted, as WebRTC peers send it.
 * Packet types this module does not know (XR, APP, transport-wide CC, ...)
 * pass through as TDM_RTCP_OTHER with their body.
 *
 * Writing: one function per packet kind, each writing one RTCP packet into
 * a caller buffer and nothing on error; tdm_rtcp_write_compound joins
 * packets already written. */
#ifndef TDM_RTCP_H
#define TDM_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

/* Why a compound RTCP packet was dropped. X(name, metric label, text). */
#define TDM_RTCP_DROP_MAP(X)                                                               \
    X(NONE, "none", "not dropped")                                                         \
    X(TOO_SHORT, "too_short", "empty, or less than a 4-byte RTCP header left")             \
    X(BAD_VERSION, "bad_version", "RTCP version is not 2")                                 \
    X(BAD_LENGTH, "bad_length", "length field runs past the end of the compound packet")   \
    X(BAD_PADDING, "bad_padding", "padding count is zero or larger than the packet body")  \
    X(BAD_REPORT, "bad_report", "SR/RR shorter than its sender info and report blocks")    \
    X(BAD_SDES, "bad_sdes", "SDES chunks or items run past the packet")                    \
    X(BAD_BYE, "bad_bye", "BYE SSRC list or reason runs past the packet")                  \
    X(BAD_FEEDBACK, "bad_feedback", "feedback packet shorter than its 12-byte header")     \
    X(BAD_NACK, "bad_nack", "generic NACK without a whole number of PID/BLP pairs")        \
    X(BAD_PLI, "bad_pli", "PLI carries feedback control information")                      \
    X(BAD_FIR, "bad_fir", "FIR without a whole number of 8-byte entries")                  \
    X(BAD_REMB, "bad_remb", "REMB shorter than its header or SSRC list")

typedef enum tdm_rtcp_drop {
#define TDM_RTCP_DROP_ENUM(name, label, text) TDM_RTCP_DROP_##name,
    TDM_RTCP_DROP_MAP(TDM_RTCP_DROP_ENUM)
#undef TDM_RTCP_DROP_ENUM
        TDM_RTCP_DROP_COUNT /* number of reasons, not a reason */
} tdm_rtcp_drop;

/* Short snake_case name (a metric label); never NULL. */
const char *tdm_rtcp_drop_name(tdm_rtcp_drop why);
/* One-line description; never NULL. */
const char *tdm_rtcp_drop_text(tdm_rtcp_drop why);

/* Dropped compound packets by reason. Zero-initialise. */
typedef struct tdm_rtcp_drop_counts {
    uint64_t n[TDM_RTCP_DROP_COUNT];
} tdm_rtcp_drop_counts;

/* Adds one drop (ignores NONE and values out of range). */
void tdm_rtcp_drop_counts_add(tdm_rtcp_drop_counts *c, tdm_rtcp_drop why);
uint64_t tdm_rtcp_drop_counts_total(const tdm_rtcp_drop_counts *c);

/* RTCP packet types (the PT byte) and feedback message types (FMT). */
enum {
    TDM_RTCP_PT_SR = 200,
    TDM_RTCP_PT_RR = 201,
    TDM_RTCP_PT_SDES = 202,
    TDM_RTCP_PT_BYE = 203,
    TDM_RTCP_PT_APP = 204,
    TDM_RTCP_PT_RTPFB = 205,
    TDM_RTCP_PT_PSFB = 206,
    TDM_RTCP_FMT_NACK = 1, /* RTPFB */
    TDM_RTCP_FMT_PLI = 1,  /* PSFB */
    TDM_RTCP_FMT_FIR = 4,  /* PSFB */
    TDM_RTCP_FMT_AFB = 15, /* PSFB application layer feedback: REMB */
};

#define TDM_RTCP_MAX_BLOCKS 31 /* report blocks in one SR/RR (5-bit count) */
#define TDM_RTCP_REPORT_BLOCK_SIZE 24
#define TDM_RTCP_MAX_REMB_SSRCS 255

/* RFC 5761 section 4: with RTP and RTCP on one port, a packet whose second
 * byte is 192..223 is RTCP (RTP payload types 64..95 are not used there, so
 * even a marker bit cannot make RTP look like it). Anything else, including
 * fewer than 2 bytes, is left to the RTP parser to accept or drop. */
bool tdm_rtcp_is_rtcp(const uint8_t *buf, size_t len);

typedef enum tdm_rtcp_type {
    TDM_RTCP_SR = 1,
    TDM_RTCP_RR,
    TDM_RTCP_SDES,
    TDM_RTCP_BYE,
    TDM_RTCP_NACK, /* RTPFB FMT 1 */
    TDM_RTCP_PLI,  /* PSFB FMT 1 */
    TDM_RTCP_FIR,  /* PSFB FMT 4 */
    TDM_RTCP_REMB, /* PSFB FMT 15 with the "REMB" identifier */
    TDM_RTCP_OTHER,
} tdm_rtcp_type;

/* SR sender info. ntp is the 64-bit NTP timestamp (seconds << 32 | fraction). */
typedef struct tdm_rtcp_sender_info {
    uint64_t ntp;
    uint32_t rtp_timestamp;
    uint32_t packet_count;
    uint32_t octet_count;
} tdm_rtcp_sender_info;

typedef struct tdm_rtcp_report_block {
    uint32_t ssrc;
    uint8_t fraction_lost;   /* lost fraction * 256 */
    int32_t cumulative_lost; /* 24-bit signed on the wire; the writer clamps */
    uint32_t highest_seq;    /* extended highest sequence number received */
    uint32_t jitter;
    uint32_t lsr;  /* middle 32 bits of the last SR's NTP timestamp */
    uint32_t dlsr; /* delay since that SR, 1/65536 s */
} tdm_rtcp_report_block;

/* SR (has_sender_info) or RR. */
typedef struct tdm_rtcp_report {
    uint32_t ssrc;
    bool has_sender_info;
    tdm_rtcp_sender_info sender;
    uint8_t block_count;
    const uint8_t *blocks;  /* block_count * 24 bytes; read with tdm_rtcp_report_block_at */
    const uint8_t *ext;     /* profile-specific extension after the blocks */
    size_t ext_len;
} tdm_rtcp_report;

typedef struct tdm_rtcp_sdes {
    uint8_t chunk_count; /* chunks were checked for shape; their items are skipped */
} tdm_rtcp_sdes;

typedef struct tdm_rtcp_bye {
    uint8_t ssrc_count;
    const uint8_t *ssrcs; /* ssrc_count * 4 bytes; read with tdm_rtcp_bye_ssrc */
    const uint8_t *reason; /* not NUL-terminated; NULL when absent */
    size_t reason_len;
} tdm_rtcp_bye;

/* Generic NACK (RFC 4585 section 6.2.1). */
typedef struct tdm_rtcp_nack {
    uint32_t sender_ssrc, media_ssrc;
    size_t pair_count;    /* >= 1 */
    const uint8_t *pairs; /* pair_count * 4 bytes: PID, BLP */
} tdm_rtcp_nack;

/* PLI (RFC 4585 section 6.3.1). */
typedef struct tdm_rtcp_pli {
    uint32_t sender_ssrc, media_ssrc;
} tdm_rtcp_pli;

/* One FIR request (RFC 5104 section 4.3.1): the SSRC asked for a keyframe
 * and the command sequence number, which a sender raises per new request
 * and keeps on repetitions. */
typedef struct tdm_rtcp_fir_entry {
    uint32_t ssrc;
    uint8_t seq;
} tdm_rtcp_fir_entry;

typedef struct tdm_rtcp_fir {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;    /* 0 by RFC 5104; not enforced */
    size_t entry_count;     /* >= 1 */
    const uint8_t *entries; /* entry_count * 8 bytes; read with tdm_rtcp_fir_entry_at */
} tdm_rtcp_fir;

typedef struct tdm_rtcp_remb {
    uint32_t sender_ssrc;
    uint64_t bitrate_bps; /* mantissa << exponent; UINT64_MAX if that overflows */
    uint8_t ssrc_count;
    const uint8_t *ssrcs; /* ssrc_count * 4 bytes; read with tdm_rtcp_remb_ssrc */
} tdm_rtcp_remb;

/* A packet type or feedback format this module does not interpret. */
typedef struct tdm_rtcp_other {
    uint8_t packet_type;
    uint8_t count;       /* the 5-bit count / FMT field */
    const uint8_t *body; /* after the 4-byte header, without padding */
    size_t body_len;
} tdm_rtcp_other;

typedef struct tdm_rtcp_item {
    tdm_rtcp_type type;
    const uint8_t *raw; /* the whole RTCP packet, header and padding included */
    size_t raw_len;
    union {
        tdm_rtcp_report report; /* SR, RR */
        tdm_rtcp_sdes sdes;
        tdm_rtcp_bye bye;
        tdm_rtcp_nack nack;
        tdm_rtcp_pli pli;
        tdm_rtcp_fir fir;
        tdm_rtcp_remb remb;
        tdm_rtcp_other other;
    } u;
} tdm_rtcp_item;

/* Walks a compound packet. Holds only a borrowed pointer and an offset. */
typedef struct tdm_rtcp_iter {
    const uint8_t *buf;
    size_t len;
    size_t off;
} tdm_rtcp_iter;

/* Checks the whole compound packet buf and sets the iterator to its first
 * packet. TDM_OK (and *why = NONE if why is not NULL), or TDM_ERR_FORMAT
 * with *why naming the first fault: then the iterator yields nothing.
 * TDM_ERR_INVALID if it is NULL, or buf is NULL with len > 0. */
tdm_status tdm_rtcp_iter_init(tdm_rtcp_iter *it, const uint8_t *buf, size_t len,
                              tdm_rtcp_drop *why);

/* The next packet of a compound accepted by tdm_rtcp_iter_init: TDM_OK and
 * *item (borrowing from the buffer, valid as long as it), or TDM_EOF after
 * the last. */
tdm_status tdm_rtcp_iter_next(tdm_rtcp_iter *it, tdm_rtcp_item *item);

/* Accessors for the variable-length parts; i must be below the count. */
tdm_rtcp_report_block tdm_rtcp_report_block_at(const tdm_rtcp_report *r, size_t i);
uint32_t tdm_rtcp_bye_ssrc(const tdm_rtcp_bye *b, size_t i);
tdm_rtcp_fir_entry tdm_rtcp_fir_entry_at(const tdm_rtcp_fir *f, size_t i);
uint32_t tdm_rtcp_remb_ssrc(const tdm_rtcp_remb *r, size_t i);
/* PID and BLP of pair i. */
void tdm_rtcp_nack_pair(const tdm_rtcp_nack *n, size_t i, uint16_t *pid, uint16_t *blp);

/* The sequence numbers a NACK asks for, pair by pair (each PID, then the
 * ones its BLP bits name, ascending modulo 2^16). Writes the first cap of
 * them to seqs and returns how many there are in all (at most 17 per pair),
 * so a short seqs shows as a return value above cap. */
size_t tdm_rtcp_nack_seqs(const tdm_rtcp_nack *n, uint16_t *seqs, size_t cap);

/* Writers. Each writes one RTCP packet (no padding) at buf and sets
 * *written to its size. TDM_ERR_RANGE if cap is too small; TDM_ERR_INVALID
 * for NULL pointers with a non-zero count or a count out of range (given
 * per function). Nothing is written on error. */

/* SR with up to 31 report blocks (blocks may be NULL when n is 0).
 * cumulative_lost is clamped to the 24-bit range, as RFC 3550 A.3 says. */
tdm_status tdm_rtcp_write_sr(uint32_t ssrc, const tdm_rtcp_sender_info *info,
                             const tdm_rtcp_report_block *blocks, size_t n, uint8_t *buf,
                             size_t cap, size_t *written);
/* RR with up to 31 report blocks. */
tdm_status tdm_rtcp_write_rr(uint32_t ssrc, const tdm_rtcp_report_block *blocks, size_t n,
                             uint8_t *buf, size_t cap, size_t *written);

/* Generic NACK for the n >= 1 sequence numbers in seqs, in any order,
 * duplicates allowed. The pairs cover exactly that set; there are as few as
 * possible when seqs is ascending modulo 2^16 (as a receiver lists its
 * gaps, wrap included), since each new PID is the first number not yet
 * covered. O(n * pairs): the pairs are built in buf itself, so the one
 * exception to "nothing is written on error" is here: on TDM_ERR_RANGE the
 * first cap bytes of buf may have been scribbled on. */
tdm_status tdm_rtcp_write_nack(uint32_t sender_ssrc, uint32_t media_ssrc, const uint16_t *seqs,
                               size_t n, uint8_t *buf, size_t cap, size_t *written);

tdm_status tdm_rtcp_write_pli(uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *buf, size_t cap,
                              size_t *written);

/* FIR with n >= 1 entries (media SSRC 0, as RFC 5104 requires). */
tdm_status tdm_rtcp_write_fir(uint32_t sender_ssrc, const tdm_rtcp_fir_entry *entries, size_t n,
                              uint8_t *buf, size_t cap, size_t *written);

/* REMB for the n <= 255 SSRCs in ssrcs. The bitrate is rounded down to the
 * 18-bit mantissa and 6-bit exponent of the wire format (exact below 2^18
 * bps, within 1/2^17 above), so a sender is never told more than measured. */
tdm_status tdm_rtcp_write_remb(uint32_t sender_ssrc, uint64_t bitrate_bps, const uint32_t *ssrcs,
                               size_t n, uint8_t *buf, size_t cap, size_t *written);

/* A packet already written, for tdm_rtcp_write_compound. */
typedef struct tdm_rtcp_part {
    const uint8_t *data;
    size_t len;
} tdm_rtcp_part;

/* Joins n whole RTCP packets into one compound packet at buf (the parts
 * must not overlap buf). Each part must be one RTCP packet whose length
 * field matches its size, else TDM_ERR_INVALID. RFC 3550 wants an SR or RR
 * first in a full compound packet; that is the caller's choice (RFC 5506
 * reduced-size packets skip it). */
tdm_status tdm_rtcp_write_compound(const tdm_rtcp_part *parts, size_t n, uint8_t *buf, size_t cap,
                                   size_t *written);

#endif
