/* tdm_delay_line: a fixed delay, plus optional jitter, for a stream of
 * packets (the network impairment tandem-netdelay applies in tests, since
 * this kernel has no netem).
 *
 * Sans-IO: the packets stay with the caller (tandem-netdelay leaves them
 * queued in the kernel's NFQUEUE); this module holds one 64-bit tag per
 * packet and says when each is due. Time is microseconds on whatever
 * monotonic clock the caller reads, passed into every call.
 *
 * Order is kept: a packet is never due before the one pushed ahead of it,
 * so jitter stretches the gaps between packets but never reorders them, as
 * a queue on a real path does (reordering is a different impairment). The
 * line holds at most `capacity` packets: a push beyond that is refused and
 * counted as overflow, and the caller drops the packet, as a full router
 * buffer would. Storage is allocated once by tdm_delay_line_new; push and
 * pop allocate nothing. One thread at a time. */
#ifndef TDM_DELAY_LINE_H
#define TDM_DELAY_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

/* The most packets a line may hold (a sanity bound, ~16 MB of tags). */
#define TDM_DELAY_LINE_MAX_CAPACITY (1u << 20)

typedef struct tdm_delay_line_config {
    uint64_t delay_us;  /* every packet waits at least this long */
    uint64_t jitter_us; /* plus a uniform random extra in [0, jitter_us] */
    size_t capacity;    /* packets held at once: 1..TDM_DELAY_LINE_MAX_CAPACITY */
    uint64_t seed;      /* of the jitter's pseudo-random sequence: reproducible runs */
} tdm_delay_line_config;

typedef struct tdm_delay_line_stats {
    uint64_t pushed;     /* accepted into the line */
    uint64_t released;   /* handed back as due */
    uint64_t overflowed; /* refused because the line was full */
    size_t depth;        /* held now */
    size_t max_depth;    /* the most held at once */
} tdm_delay_line_stats;

typedef struct tdm_delay_line tdm_delay_line;

/* TDM_ERR_INVALID (capacity 0 or above the maximum, a delay plus jitter
 * over an hour: surely a unit mistake), TDM_ERR_NOMEM; err filled. */
tdm_status tdm_delay_line_new(const tdm_delay_line_config *cfg, tdm_delay_line **out,
                              tdm_error *err);
/* NULL is a no-op. */
void tdm_delay_line_free(tdm_delay_line *dl);

/* A packet arrived at now_us: it will be due at now_us + delay + jitter,
 * or when the packet ahead of it is due, whichever is later. TDM_OK, or
 * TDM_AGAIN if the line is full (counted in overflowed; the caller drops
 * the packet). */
tdm_status tdm_delay_line_push(tdm_delay_line *dl, uint64_t now_us, uint64_t tag);

/* If the oldest packet is due at now_us, removes it and returns TDM_OK with
 * its tag; TDM_AGAIN if none is due (or the line is empty). Call until
 * TDM_AGAIN. Pass UINT64_MAX to take everything (at shutdown). */
tdm_status tdm_delay_line_pop_due(tdm_delay_line *dl, uint64_t now_us, uint64_t *tag);

/* When the oldest packet is due: true with *due_us, false if the line is
 * empty. The caller sleeps until then (or until a packet arrives). */
bool tdm_delay_line_next_due(const tdm_delay_line *dl, uint64_t *due_us);

/* Counters since creation; valid until tdm_delay_line_free. */
const tdm_delay_line_stats *tdm_delay_line_get_stats(const tdm_delay_line *dl);

#endif
