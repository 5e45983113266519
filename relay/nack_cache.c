/* nack_cache.c: a ring of recently forwarded RTP packets indexed by
 * unwrapped sequence number, for answering NACKs. */
#include "tdm_nack_cache.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_rtp.h"

/* A slot's ext is the unwrapped sequence number it holds; EMPTY when it
 * holds none. Comparing ext on lookup is what makes a stale slot (left over
 * from a lap of the ring, or from a jump forward) a miss, not a wrong
 * packet. */
#define EMPTY UINT64_MAX

typedef struct slot {
    uint64_t ext;
    size_t len;
} slot;

struct tdm_nack_cache {
    tdm_nack_cache_config cfg;
    slot *slots;
    uint8_t *data; /* slots * max_packet_bytes */
    bool started;
    uint64_t highest; /* highest unwrapped sequence number stored */
    tdm_nack_cache_stats stats;
};

void tdm_nack_cache_config_default(tdm_nack_cache_config *cfg)
{
    cfg->slots = 1024;
    cfg->max_packet_bytes = 1500;
}

const char *tdm_nack_miss_name(tdm_nack_miss m)
{
    switch (m) {
    case TDM_NACK_HIT:
        return "hit";
    case TDM_NACK_MISS_TOO_OLD:
        return "too_old";
    case TDM_NACK_MISS_NOT_SEEN:
        return "not_seen";
    }
    return "unknown";
}

tdm_status tdm_nack_cache_new(const tdm_nack_cache_config *cfg, tdm_nack_cache **out)
{
    if (!out)
        return TDM_ERR_INVALID;
    *out = NULL;
    tdm_nack_cache_config def;
    if (!cfg) {
        tdm_nack_cache_config_default(&def);
        cfg = &def;
    }
    if (cfg->slots < 16 || cfg->slots > 32768 || (cfg->slots & (cfg->slots - 1)) != 0 ||
        cfg->max_packet_bytes == 0 || cfg->max_packet_bytes > 65536)
        return TDM_ERR_INVALID;
    tdm_nack_cache *c = calloc(1, sizeof *c);
    if (!c)
        return TDM_ERR_NOMEM;
    c->cfg = *cfg;
    c->slots = malloc(cfg->slots * sizeof *c->slots);
    c->data = malloc(cfg->slots * cfg->max_packet_bytes);
    if (!c->slots || !c->data) {
        tdm_nack_cache_free(c);
        return TDM_ERR_NOMEM;
    }
    tdm_nack_cache_reset(c);
    *out = c;
    return TDM_OK;
}

void tdm_nack_cache_free(tdm_nack_cache *c)
{
    if (!c)
        return;
    free(c->slots);
    free(c->data);
    free(c);
}

void tdm_nack_cache_reset(tdm_nack_cache *c)
{
    for (uint32_t i = 0; i < c->cfg.slots; i++)
        c->slots[i].ext = EMPTY;
    c->started = false;
    c->highest = 0;
}

static uint64_t unwrap(const tdm_nack_cache *c, uint16_t seq)
{
    return tdm_rtp_seq_unwrap(c->highest, seq);
}

tdm_status tdm_nack_cache_put(tdm_nack_cache *c, uint16_t seq, const uint8_t *buf, size_t len)
{
    if (!c || !buf || len == 0)
        return TDM_ERR_INVALID;
    if (len > c->cfg.max_packet_bytes) {
        c->stats.rejected_too_big++;
        return TDM_ERR_RANGE;
    }
    uint64_t ext;
    if (!c->started) {
        /* Start a lap of 2^16 up so that numbers just before the first one
         * (reordering at the very start) unwrap without going below zero. */
        ext = (1u << 16) + seq;
        c->highest = ext;
        c->started = true;
    } else {
        ext = unwrap(c, seq);
        if (ext + c->cfg.slots <= c->highest) {
            c->stats.rejected_too_old++;
            return TDM_ERR_UNAVAILABLE;
        }
        if (ext > c->highest)
            c->highest = ext;
    }
    uint32_t i = (uint32_t)(ext & (c->cfg.slots - 1));
    c->slots[i].ext = ext;
    c->slots[i].len = len;
    memcpy(c->data + (size_t)i * c->cfg.max_packet_bytes, buf, len);
    c->stats.stored++;
    return TDM_OK;
}

static tdm_status miss(tdm_nack_cache *c, tdm_nack_miss m, tdm_nack_miss *why)
{
    if (m == TDM_NACK_MISS_TOO_OLD)
        c->stats.misses_too_old++;
    else
        c->stats.misses_not_seen++;
    if (why)
        *why = m;
    return TDM_ERR_UNAVAILABLE;
}

tdm_status tdm_nack_cache_get(tdm_nack_cache *c, uint16_t seq, const uint8_t **pkt, size_t *len,
                              tdm_nack_miss *why)
{
    if (!c || !pkt || !len)
        return TDM_ERR_INVALID;
    if (!c->started)
        return miss(c, TDM_NACK_MISS_NOT_SEEN, why);
    uint64_t ext = unwrap(c, seq);
    if (ext > c->highest)
        return miss(c, TDM_NACK_MISS_NOT_SEEN, why);
    if (ext + c->cfg.slots <= c->highest)
        return miss(c, TDM_NACK_MISS_TOO_OLD, why);
    uint32_t i = (uint32_t)(ext & (c->cfg.slots - 1));
    if (c->slots[i].ext != ext)
        return miss(c, TDM_NACK_MISS_NOT_SEEN, why);
    *pkt = c->data + (size_t)i * c->cfg.max_packet_bytes;
    *len = c->slots[i].len;
    c->stats.hits++;
    if (why)
        *why = TDM_NACK_HIT;
    return TDM_OK;
}

const tdm_nack_cache_stats *tdm_nack_cache_get_stats(const tdm_nack_cache *c)
{
    return &c->stats;
}
