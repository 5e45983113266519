/* delay_line.c: the delay line of tdm_delay_line.h. A ring of (due time,
 * tag) slots allocated once; the jitter comes from a seeded splitmix64 so a
 * run can be repeated. No clock, no IO. */
#include "tdm_delay_line.h"

#include <stdlib.h>

#define HOUR_US (3600ull * 1000000ull)

typedef struct slot {
    uint64_t due_us;
    uint64_t tag;
} slot;

struct tdm_delay_line {
    tdm_delay_line_config cfg;
    slot *ring;
    size_t head; /* oldest */
    uint64_t last_due_us;
    uint64_t rng;
    tdm_delay_line_stats stats;
};

/* splitmix64: small, fast and good enough for spreading delays. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

tdm_status tdm_delay_line_new(const tdm_delay_line_config *cfg, tdm_delay_line **out,
                              tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "delay line: out is NULL");
    *out = NULL;
    if (!cfg || cfg->capacity == 0 || cfg->capacity > TDM_DELAY_LINE_MAX_CAPACITY)
        return tdm_fail(err, TDM_ERR_INVALID, "delay line: capacity must be 1 to %u, got %zu",
                        TDM_DELAY_LINE_MAX_CAPACITY, cfg ? cfg->capacity : 0);
    if (cfg->delay_us > HOUR_US || cfg->jitter_us > HOUR_US - cfg->delay_us)
        return tdm_fail(err, TDM_ERR_INVALID,
                        "delay line: delay plus jitter is over an hour (microseconds?)");
    tdm_delay_line *dl = calloc(1, sizeof *dl);
    if (!dl)
        return tdm_fail(err, TDM_ERR_NOMEM, "delay line: out of memory");
    dl->ring = calloc(cfg->capacity, sizeof *dl->ring);
    if (!dl->ring) {
        free(dl);
        return tdm_fail(err, TDM_ERR_NOMEM, "delay line: out of memory for %zu packets",
                        cfg->capacity);
    }
    dl->cfg = *cfg;
    dl->rng = cfg->seed;
    *out = dl;
    return TDM_OK;
}

void tdm_delay_line_free(tdm_delay_line *dl)
{
    if (!dl)
        return;
    free(dl->ring);
    free(dl);
}

tdm_status tdm_delay_line_push(tdm_delay_line *dl, uint64_t now_us, uint64_t tag)
{
    if (dl->stats.depth == dl->cfg.capacity) {
        dl->stats.overflowed++;
        return TDM_AGAIN;
    }
    uint64_t extra = 0;
    if (dl->cfg.jitter_us)
        extra = next_random(&dl->rng) % (dl->cfg.jitter_us + 1);
    uint64_t due = now_us + dl->cfg.delay_us + extra;
    /* Never before the packet ahead: a queue does not reorder. The first
     * packet has nothing ahead of it. */
    if (dl->stats.depth > 0 && due < dl->last_due_us)
        due = dl->last_due_us;
    dl->last_due_us = due;
    size_t tail = (dl->head + dl->stats.depth) % dl->cfg.capacity;
    dl->ring[tail] = (slot){.due_us = due, .tag = tag};
    dl->stats.depth++;
    dl->stats.pushed++;
    if (dl->stats.depth > dl->stats.max_depth)
        dl->stats.max_depth = dl->stats.depth;
    return TDM_OK;
}

tdm_status tdm_delay_line_pop_due(tdm_delay_line *dl, uint64_t now_us, uint64_t *tag)
{
    if (dl->stats.depth == 0 || dl->ring[dl->head].due_us > now_us)
        return TDM_AGAIN;
    *tag = dl->ring[dl->head].tag;
    dl->head = (dl->head + 1) % dl->cfg.capacity;
    dl->stats.depth--;
    dl->stats.released++;
    return TDM_OK;
}

bool tdm_delay_line_next_due(const tdm_delay_line *dl, uint64_t *due_us)
{
    if (dl->stats.depth == 0)
        return false;
    *due_us = dl->ring[dl->head].due_us;
    return true;
}

const tdm_delay_line_stats *tdm_delay_line_get_stats(const tdm_delay_line *dl)
{
    return &dl->stats;
}
