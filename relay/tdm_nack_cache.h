/* tdm_nack_cache: the recently forwarded RTP packets of one stream, kept so
 * that a subscriber's NACK is answered by the relay itself instead of being
 * passed to the publisher.
 *
 * The relay stores each packet after decrypting it and before rewriting it
 * per subscriber, keyed by the publisher's sequence number; a NACK (mapped
 * back to that numbering by the caller) looks the packet up and the caller
 * rewrites and encrypts the copy like any other packet.
 *
 * Memory: tdm_nack_cache_new allocates a ring of `slots` packets of at most
 * max_packet_bytes each; put and get allocate nothing. Sequence numbers are
 * unwrapped to 64 bits, so the stream may cross 65535 -> 0 anywhere; a
 * packet is "too old" once `slots` newer sequence numbers have been seen.
 * Sans-IO and time-free: age is counted in packets, which is what a ring
 * can hold; the caller sizes it for the longest NACK round trip at its
 * peak packet rate. */
#ifndef TDM_NACK_CACHE_H
#define TDM_NACK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

typedef struct tdm_nack_cache_config {
    /* Packets kept, a power of two from 16 to 32768. Default 1024: about a
     * second of 8 Mbit/s screen video in 1200-byte packets. */
    uint32_t slots;
    /* Largest packet (whole RTP packet) a slot holds. Default 1500. */
    size_t max_packet_bytes;
} tdm_nack_cache_config;

void tdm_nack_cache_config_default(tdm_nack_cache_config *cfg);

/* Why a lookup found nothing. */
typedef enum tdm_nack_miss {
    TDM_NACK_HIT = 0,
    TDM_NACK_MISS_TOO_OLD,  /* fell out of the ring */
    TDM_NACK_MISS_NOT_SEEN, /* never stored: lost before the relay, not sent yet, or too big */
} tdm_nack_miss;

const char *tdm_nack_miss_name(tdm_nack_miss m);

typedef struct tdm_nack_cache_stats {
    uint64_t stored;          /* packets put and kept */
    uint64_t rejected_too_big;  /* put refused: over max_packet_bytes */
    uint64_t rejected_too_old;  /* put refused: behind the ring already */
    uint64_t hits;
    uint64_t misses_too_old;
    uint64_t misses_not_seen;
} tdm_nack_cache_stats;

typedef struct tdm_nack_cache tdm_nack_cache;

/* cfg may be NULL for the defaults. TDM_ERR_INVALID for a bad config,
 * TDM_ERR_NOMEM. */
tdm_status tdm_nack_cache_new(const tdm_nack_cache_config *cfg, tdm_nack_cache **out);
/* Frees c and every packet it holds; NULL is fine. */
void tdm_nack_cache_free(tdm_nack_cache *c);

/* Keeps a copy of the RTP packet buf (len bytes) under sequence number
 * seq. A packet again under a number still held replaces it. Late packets
 * (out of order) are kept if still inside the ring. TDM_OK; TDM_ERR_RANGE
 * if len is over max_packet_bytes, TDM_ERR_UNAVAILABLE if seq is already
 * behind the ring (both counted, neither harms the cache); TDM_ERR_INVALID
 * for NULL arguments or len 0. */
tdm_status tdm_nack_cache_put(tdm_nack_cache *c, uint16_t seq, const uint8_t *buf, size_t len);

/* Looks seq up for a retransmission. TDM_OK: *pkt and *len describe the
 * stored packet, owned by c and valid until the next put or free.
 * TDM_ERR_UNAVAILABLE: a miss, counted, named in *why if why is not NULL.
 * A lookup moves nothing: asking twice for one packet finds it twice. */
tdm_status tdm_nack_cache_get(tdm_nack_cache *c, uint16_t seq, const uint8_t **pkt, size_t *len,
                              tdm_nack_miss *why);

/* Forgets every packet (the publisher restarted its stream) but keeps the
 * counters. */
void tdm_nack_cache_reset(tdm_nack_cache *c);

const tdm_nack_cache_stats *tdm_nack_cache_get_stats(const tdm_nack_cache *c);

#endif
