/* tdm_room: the forwarding room of one session (which packet goes to whom,
 * rewritten how), sans-IO.
 *
 * One publisher sends up to TDM_ROOM_MAX_STREAMS streams (say one video,
 * one audio), each named by SSRC, payload type and codec. Up to
 * max_subscribers subscribers receive them. The room takes each decrypted
 * publisher packet once and writes one rewritten copy per subscriber into
 * buffers it preallocated; the IO shell encrypts each copy in place and
 * sends it. RTCP, the NACK cache and keyframe-request throttling live
 * elsewhere: the room only names what they need (events, NACK mapping).
 *
 * What a subscriber sees, per stream:
 *   - its own SSRC, chosen by the shell when it wrote the WHEP answer (or the
 *     publisher's, if the shell passes 0). Own SSRCs are the recommended
 *     choice: the subscriber's stream is not the publisher's (it starts
 *     later, has its own sequence numbers, may outlive a publisher that
 *     reconnects with a new SSRC), so naming it differently keeps the
 *     publisher's RTCP and the subscriber's apart.
 *   - its own payload type for the codec (the WHEP offerer chose it).
 *   - its own sequence numbers, starting at first_seq. out = in + delta
 *     (mod 2^16); delta changes only when the room drops the newest packet
 *     of a stream for a subscriber that is already receiving (padding-only
 *     probes, payloads that fail to parse, a wrong payload type), so those
 *     drops leave no gap. A gap in the publisher's own sequence (loss
 *     upstream) is kept as a gap: the subscriber NACKs it, and
 *     tdm_room_map_nack finds the publisher's number for the cache.
 *   - video only from the start of a keyframe: a subscriber that joins (or
 *     whose publisher changed) gets nothing of a video stream until a
 *     packet starts a keyframe; audio flows at once.
 *   - the publisher's timestamps, unless the publisher changed under it:
 *     then an offset keeps them running on from the last one sent, by the
 *     wall-clock time in between (now_us), so the subscriber's jitter
 *     buffer sees one stream.
 *   - only the RTP header extensions (RFC 8285) it negotiated, matched by
 *     URI and renumbered to its ids; a block with none left loses the X bit.
 *     The block keeps the publisher's form (one-byte or two-byte) unless a
 *     subscriber id above 14 forces the two-byte form. A header extension
 *     that is not RFC 8285 is removed whole. Contents pass unchanged (a
 *     transport-wide sequence number is not renumbered per subscriber).
 *
 * Memory: tdm_room_new makes one allocation (through the config's hook, if
 * given) holding every subscriber slot, sequence-mapping ring, output
 * buffer and the event queue; nothing else in this module allocates, so
 * forwarding, NACK mapping and events allocate nothing. No locks: a room
 * belongs to one worker thread.
 *
 * Subscriber ids are small non-negative ints that carry a generation, so a
 * stale id (of a removed subscriber) is refused rather than taken for the
 * subscriber that reused its slot. */
#ifndef TDM_ROOM_H
#define TDM_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_codec.h"
#include "tdm_rtp.h"
#include "tdm_status.h"

/* Streams per publisher, and stream entries per subscriber. */
#define TDM_ROOM_MAX_STREAMS 4
/* Header extensions negotiated per side. */
#define TDM_ROOM_MAX_EXTENSIONS 16
/* Longest extension URI kept (longer ones are refused). */
#define TDM_ROOM_MAX_URI 127
/* Header extension elements read per packet; later ones are stripped. */
#define TDM_ROOM_MAX_EXT_ELEMENTS 32
/* Writable bytes after every output packet, so the shell can append an
 * SRTP authentication tag in place. */
#define TDM_ROOM_TRAILER_ROOM 32

typedef struct tdm_room_extension {
    uint8_t id;      /* 1..14 for the one-byte form, up to 255 for the two-byte form */
    const char *uri; /* e.g. "urn:ietf:params:rtp-hdrext:sdes:mid"; copied */
} tdm_room_extension;

typedef struct tdm_room_stream {
    tdm_codec codec;      /* VP8 and VP9 are video, Opus audio */
    uint32_t ssrc;        /* nonzero, distinct per stream */
    uint8_t payload_type; /* 0..127 */
} tdm_room_stream;

typedef struct tdm_room_publisher_config {
    const tdm_room_stream *streams; /* copied */
    size_t stream_count;            /* 0..TDM_ROOM_MAX_STREAMS */
    const tdm_room_extension *extensions;
    size_t extension_count; /* 0..TDM_ROOM_MAX_EXTENSIONS */
} tdm_room_publisher_config;

/* One codec a subscriber takes. A publisher stream goes to the subscriber's
 * first entry of the same codec; a codec without an entry is not sent. */
typedef struct tdm_room_subscriber_stream {
    tdm_codec codec;
    uint8_t payload_type; /* the subscriber's number for the codec */
    uint32_t ssrc;        /* outgoing SSRC; 0: the publisher's */
    uint16_t first_seq;   /* first sequence number sent (pick at random) */
} tdm_room_subscriber_stream;

typedef struct tdm_room_subscriber_config {
    const tdm_room_subscriber_stream *streams; /* copied */
    size_t stream_count;                       /* 1..TDM_ROOM_MAX_STREAMS */
    const tdm_room_extension *extensions;
    size_t extension_count;
} tdm_room_subscriber_config;

typedef struct tdm_room_config {
    /* Subscribers at most, 1..4096. Default 16. */
    size_t max_subscribers;
    /* Largest publisher packet accepted, 64..65535. Default 1500. */
    size_t max_packet_bytes;
    /* Sequence numbers per subscriber stream for which a NACK can still be
     * mapped; a power of two, 64..32768. Default 1024 (about a second of
     * screen video at 8 Mbit/s). */
    uint32_t nack_window;
    /* While a subscriber waits for a keyframe, the keyframe-wanted event is
     * repeated this often (requests get lost). Default 500 ms. */
    uint64_t keyframe_retry_us;
    /* Allocator hook (both or neither; default calloc/free), so tests can
     * count allocations and inject failures. */
    void *(*alloc)(size_t size, void *ctx); /* must return zeroed memory */
    void (*free)(void *p, void *ctx);
    void *alloc_ctx;
} tdm_room_config;

void tdm_room_config_default(tdm_room_config *cfg);

typedef enum tdm_room_event_type {
    TDM_ROOM_EVENT_KEYFRAME_WANTED = 1, /* ask the publisher for a keyframe (PLI/FIR) */
} tdm_room_event_type;

typedef enum tdm_room_keyframe_reason {
    TDM_ROOM_KEYFRAME_JOIN = 1,      /* a subscriber joined and waits for a picture */
    TDM_ROOM_KEYFRAME_STILL_WAITING, /* repeat: a subscriber still waits */
    TDM_ROOM_KEYFRAME_LOSS,          /* a subscriber lost packets that cannot be resent */
    TDM_ROOM_KEYFRAME_PLI,           /* a subscriber asked (PLI/FIR) */
} tdm_room_keyframe_reason;

const char *tdm_room_keyframe_reason_name(tdm_room_keyframe_reason r);

typedef struct tdm_room_event {
    tdm_room_event_type type;
    tdm_room_keyframe_reason reason;
    int subscriber;         /* who needs it; -1 when several wait */
    uint32_t publisher_ssrc; /* the stream to ask the keyframe of */
} tdm_room_event;

/* One rewritten packet. data is owned by the room: valid, and writable up
 * to cap (len + TDM_ROOM_TRAILER_ROOM at least), until the next
 * tdm_room_forward or tdm_room_free. */
typedef struct tdm_room_packet {
    int subscriber;
    uint32_t ssrc; /* as sent */
    uint16_t seq;  /* as sent */
    uint8_t *data;
    size_t len;
    size_t cap;
} tdm_room_packet;

typedef struct tdm_room_output {
    const tdm_room_packet *packets; /* borrowed, see tdm_room_packet */
    size_t count;
    size_t withheld;   /* subscribers of the stream that did not get it */
    tdm_rtp_drop drop; /* NONE, or why the packet went to nobody */
} tdm_room_output;

typedef struct tdm_room_stats {
    uint64_t packets_in, bytes_in;
    uint64_t packets_out, bytes_out;
    uint64_t padding_dropped;     /* padding-only video packets (probes), not forwarded */
    uint64_t subscribers_refused; /* adds beyond max_subscribers */
    uint64_t events_dropped;      /* event queue full */
    tdm_rtp_drop_counts drops;    /* publisher packets that went to nobody */
} tdm_room_stats;

typedef struct tdm_room_subscriber_stats {
    uint64_t packets, bytes;  /* sent by forwarding */
    uint64_t withheld;        /* video before a keyframe started it */
    uint64_t late_dropped;    /* reordered packets older than the last seq change */
    uint64_t ext_stripped;    /* extension elements removed */
    uint64_t retransmissions; /* written by tdm_room_write_retransmission */
    uint64_t nack_misses;     /* NACKed seqs that could not be mapped */
} tdm_room_subscriber_stats;

typedef struct tdm_room tdm_room;

/* cfg may be NULL for the defaults. TDM_ERR_INVALID for a config out of
 * range, TDM_ERR_NOMEM. */
tdm_status tdm_room_new(const tdm_room_config *cfg, tdm_room **out);
void tdm_room_free(tdm_room *room);

/* Sets (or, with cfg NULL or no streams, clears) the publisher. A stream
 * whose SSRC was already there keeps its state; for any other, every
 * subscriber's stream of that codec waits for a keyframe again and then
 * continues its sequence numbers and timestamps. TDM_ERR_INVALID for bad
 * streams (unknown codec, SSRC 0 or repeated, payload type > 127) or
 * extensions (id 0, URI missing or too long); nothing changes then. */
tdm_status tdm_room_set_publisher(tdm_room *room, const tdm_room_publisher_config *cfg);

/* Adds a subscriber; *id names it from then on. Queues a keyframe-wanted
 * event (JOIN) for each video stream it will get. TDM_ERR_UNAVAILABLE when
 * max_subscribers are in (counted), TDM_ERR_INVALID for a bad config. */
tdm_status tdm_room_add_subscriber(tdm_room *room, const tdm_room_subscriber_config *cfg,
                                   int *id);
/* TDM_ERR_INVALID if id is not a current subscriber. */
tdm_status tdm_room_remove_subscriber(tdm_room *room, int id);
size_t tdm_room_subscriber_count(const tdm_room *room);

/* Forwards one decrypted publisher packet (whole, header included) that
 * arrived at now_us. *out lists the copies written, one per subscriber
 * that gets it. A packet that goes to nobody is counted in the room stats
 * and named in out->drop: malformed RTP, PACKET_TOO_BIG, WRONG_SSRC,
 * WRONG_PAYLOAD_TYPE, a malformed VP8/VP9 payload; a padding-only video
 * packet is dropped with drop NONE (counted as padding_dropped). That is
 * not an error: returns TDM_OK, or TDM_ERR_INVALID for NULL arguments. */
tdm_status tdm_room_forward(tdm_room *room, uint64_t now_us, const uint8_t *buf, size_t len,
                            tdm_room_output *out);

/* Maps a NACKed sequence number in a subscriber's stream (media_ssrc as
 * the subscriber names it) to the publisher's SSRC and sequence number,
 * for the packet cache. TDM_OK; TDM_ERR_RANGE if the number is not among
 * the last nack_window of that stream or was never sent (the subscriber's
 * loss cannot be repaired: a LOSS keyframe-wanted event is queued);
 * TDM_ERR_INVALID for an unknown subscriber or SSRC. */
tdm_status tdm_room_map_nack(tdm_room *room, int subscriber, uint32_t media_ssrc,
                             uint16_t subscriber_seq, uint32_t *publisher_ssrc,
                             uint16_t *publisher_seq);

/* Writes the publisher packet buf (from the cache) as subscriber_seq of
 * the subscriber's stream media_ssrc, rewritten as forwarding would, into
 * the caller's dst. TDM_ERR_RANGE if the mapping no longer holds or cap is
 * too small (dst needs len + TDM_ROOM_MAX_EXT_ELEMENTS + 4 at most);
 * TDM_ERR_FORMAT if buf is not the packet the mapping names;
 * TDM_ERR_INVALID for unknown ids. */
tdm_status tdm_room_write_retransmission(tdm_room *room, int subscriber, uint32_t media_ssrc,
                                         uint16_t subscriber_seq, const uint8_t *buf,
                                         size_t len, uint8_t *dst, size_t cap,
                                         size_t *written);

/* Queues a keyframe-wanted event for the publisher stream behind a
 * subscriber's media_ssrc (a PLI or FIR from it, or a NACK the cache could
 * not answer). TDM_ERR_INVALID for unknown ids or a stream not routed now. */
tdm_status tdm_room_request_keyframe(tdm_room *room, int subscriber, uint32_t media_ssrc,
                                     tdm_room_keyframe_reason reason);

/* The next event, or TDM_AGAIN. */
tdm_status tdm_room_poll_event(tdm_room *room, tdm_room_event *ev);

const tdm_room_stats *tdm_room_get_stats(const tdm_room *room);
/* TDM_ERR_INVALID for an unknown subscriber. */
tdm_status tdm_room_get_subscriber_stats(const tdm_room *room, int id,
                                         tdm_room_subscriber_stats *out);

#endif
