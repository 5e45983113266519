/* tdm_assembler: turns a received VP8 or VP9 RTP stream back into frames,
 * sans-IO.
 *
 * Input: decrypted RTP packets of one stream, each with its arrival time,
 * and the passing of time. Output, drained by polling until TDM_AGAIN:
 *   - complete frames, in sequence-number order, each a tdm_encoded_frame
 *     whose data lives in the assembler (valid until the next
 *     tdm_assembler_poll_frame or tdm_assembler_free);
 *   - NACK requests: the sequence numbers still missing, first asked
 *     nack_delay_us after the gap shows, then again every retry interval
 *     (5/4 of the round-trip time, 10 ms at least) until the packet comes,
 *     max_nack_tries have gone unanswered, or the packet has been missing
 *     for max_missing_us; then it is given up;
 *   - "keyframe needed" events, when a frame cannot be completed (one of its
 *     packets was given up, or its structure is broken), when a frame
 *     references one that never arrived (its picture ID does not follow the
 *     last frame's), or when the stream starts without a keyframe. From
 *     then on frames other than keyframes are dropped until a keyframe
 *     completes; the event repeats every keyframe_retry_us while waiting, in
 *     case the request was lost;
 *   - the next deadline (tdm_assembler_poll_timeout), when
 *     tdm_assembler_handle_timeout should be called even if no packet
 *     arrives.
 *
 * Sequence numbers and timestamps are unwrapped to 64 bits, so the stream
 * may cross 65535 -> 0 and 0xffffffff -> 0 anywhere. Packets may arrive in
 * any order within the window of ring_slots sequence numbers; duplicates
 * are dropped. A complete keyframe lets the assembler skip every older
 * incomplete frame at once. A lost frame that was marked non-reference
 * (VP8 N=1) does not break the stream. Padding-only packets (bandwidth
 * probes) fill their sequence number without data. A packet whose RTP
 * header is fine but whose payload is malformed loses its frame at once
 * (asking again would bring the same bytes). 32 packets in a row from far
 * behind the window mean the sender restarted its sequence numbers: the
 * stream starts over. Retransmissions must arrive as the original packet
 * (an RTX stream is unwrapped by the caller). One spatial layer: a VP9
 * frame is B..E.
 *
 * Memory: everything is allocated by tdm_assembler_new (a ring of
 * ring_slots packets of max_packet_bytes each, and one frame buffer);
 * nothing is allocated per packet or frame. Every dropped packet is counted
 * by reason; frames lost are counted by cause. */
#ifndef TDM_ASSEMBLER_H
#define TDM_ASSEMBLER_H

#include "tdm_codec.h"
#include "tdm_rtp.h"

/* No deadline pending. */
#define TDM_ASSEMBLER_NO_DEADLINE UINT64_MAX

typedef struct tdm_assembler_config {
    tdm_codec codec;      /* TDM_CODEC_VP8 or TDM_CODEC_VP9 */
    int payload_type;     /* accepted payload type; -1 (default): any */
    bool lock_ssrc;       /* accept only `ssrc`; default false: lock to the first packet's */
    uint32_t ssrc;
    /* Window in packets, a power of two from 16 to 32768. Default 1024:
     * about 1.2 MB of 1200-byte packets, a large screen keyframe plus a
     * second of 8 Mbit/s video behind a lost packet. */
    uint32_t ring_slots;
    /* Largest payload (after the payload descriptor) a slot holds.
     * Default 1500: anything that fits a path MTU. */
    size_t max_packet_bytes;
    /* Largest frame. Default 0: ring_slots * max_packet_bytes. */
    size_t max_frame_bytes;
    /* First NACK for a gap waits this long, so that mere reordering does not
     * trigger a retransmission. Default 10 ms. */
    uint64_t nack_delay_us;
    /* Round-trip time until tdm_assembler_set_rtt says. Default 100 ms. */
    uint64_t initial_rtt_us;
    /* NACKs per missing packet before giving up on it. Default 10. */
    int max_nack_tries;
    /* A packet missing this long is given up whatever the tries: by then a
     * keyframe is the faster way back. Default 1 s. */
    uint64_t max_missing_us;
    /* Repeat the keyframe-needed event this often while waiting. Default
     * 500 ms. */
    uint64_t keyframe_retry_us;
} tdm_assembler_config;

/* Fills cfg with the defaults above for codec. */
void tdm_assembler_config_default(tdm_assembler_config *cfg, tdm_codec codec);

typedef enum tdm_keyframe_reason {
    TDM_KEYFRAME_STREAM_START = 1, /* the stream began with a frame that is not a keyframe */
    TDM_KEYFRAME_PACKET_LOST,      /* a packet was given up (or rejected as malformed) */
    TDM_KEYFRAME_FRAME_BROKEN,     /* a frame without its start, end, or over max_frame_bytes */
    TDM_KEYFRAME_REFERENCE_MISSING, /* picture IDs skipped: a frame never arrived */
    TDM_KEYFRAME_STILL_WAITING,    /* repeat of an earlier request */
} tdm_keyframe_reason;

const char *tdm_keyframe_reason_name(tdm_keyframe_reason r);

typedef enum tdm_assembler_event_type {
    TDM_ASSEMBLER_KEYFRAME_NEEDED = 1,
} tdm_assembler_event_type;

typedef struct tdm_assembler_event {
    tdm_assembler_event_type type;
    tdm_keyframe_reason reason;
} tdm_assembler_event;

/* Facts about a frame beyond tdm_encoded_frame. */
typedef struct tdm_assembler_frame_info {
    uint64_t first_seq, last_seq; /* unwrapped sequence numbers */
    uint64_t timestamp;           /* unwrapped RTP timestamp (low 32 bits = RTP) */
    size_t packets;
    bool has_picture_id;
    uint16_t picture_id;
    uint64_t first_arrival_us, last_arrival_us;
} tdm_assembler_frame_info;

typedef struct tdm_assembler_stats {
    uint64_t packets_received; /* every call to push */
    uint64_t packets_stored;
    uint64_t padding_packets;   /* stored without data */
    uint64_t packets_recovered; /* arrived after being NACKed */
    uint64_t nacks_sent;        /* sequence numbers handed out by poll_nack, repeats included */
    uint64_t packets_given_up;
    uint64_t frames_emitted, keyframes_emitted;
    uint64_t frames_lost;          /* dropped incomplete or broken */
    uint64_t frames_too_big;
    uint64_t frames_waiting_keyframe; /* complete but dropped while waiting for a keyframe */
    uint64_t packets_skipped;      /* discarded when a keyframe overtook them, or by a jump */
    uint64_t keyframe_requests;    /* events handed out */
    tdm_rtp_drop_counts drops;     /* packets not stored, by reason */
} tdm_assembler_stats;

typedef struct tdm_assembler tdm_assembler;

/* Allocates an assembler. cfg may be NULL for the VP8 defaults.
 * TDM_ERR_INVALID for a bad config (codec not VP8/VP9, ring_slots not a
 * power of two in range, zero sizes or tries), TDM_ERR_NOMEM. */
tdm_status tdm_assembler_new(const tdm_assembler_config *cfg, tdm_assembler **out);
void tdm_assembler_free(tdm_assembler *a);

/* Forgets the stream (packets, SSRC lock, picture IDs) but keeps the
 * counters; the next packet starts a new stream, waiting for a keyframe. */
void tdm_assembler_reset(tdm_assembler *a);

/* Round-trip time measured by RTCP, for the NACK retry interval. */
void tdm_assembler_set_rtt(tdm_assembler *a, uint64_t rtt_us);

/* Takes one RTP packet (the whole packet, header included) that arrived at
 * now_us. A packet that is not kept is counted and, if why is not NULL,
 * named in *why (TDM_RTP_DROP_NONE when it was kept); that is not an error.
 * Returns TDM_OK, or TDM_ERR_INVALID for NULL arguments. Time never goes
 * back: an earlier now_us than seen before counts as the latest. */
tdm_status tdm_assembler_push(tdm_assembler *a, uint64_t now_us, const uint8_t *buf, size_t len,
                              tdm_rtp_drop *why);

/* Lets time pass without a packet: gives up on packets, schedules NACKs and
 * repeats keyframe requests that are due. */
void tdm_assembler_handle_timeout(tdm_assembler *a, uint64_t now_us);

/* The next complete frame in order. TDM_OK fills *frame (its data owned by
 * a, valid until the next call or free; width/height are those of the last
 * keyframe) and *info if not NULL; TDM_AGAIN if none is ready. */
tdm_status tdm_assembler_poll_frame(tdm_assembler *a, tdm_encoded_frame *frame,
                                    tdm_assembler_frame_info *info);

/* Sequence numbers to NACK now, ascending in unwrapped order, at most cap
 * of them; each counts as one try. TDM_OK with *count >= 1 (call again: more
 * may be due), or TDM_AGAIN with *count = 0. */
tdm_status tdm_assembler_poll_nack(tdm_assembler *a, uint16_t *seqs, size_t cap, size_t *count);

/* The next event, or TDM_AGAIN. */
tdm_status tdm_assembler_poll_event(tdm_assembler *a, tdm_assembler_event *ev);

/* The earliest time at which handle_timeout (or poll_nack) has work, or
 * TDM_ASSEMBLER_NO_DEADLINE. May be <= now when NACKs are due. */
uint64_t tdm_assembler_poll_timeout(const tdm_assembler *a);

const tdm_assembler_stats *tdm_assembler_get_stats(const tdm_assembler *a);

#endif
