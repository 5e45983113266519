/* tdm_hb_targets: which of tandem-relay's tandem-signal instances
 * (--signal-url, repeatable) a heartbeat, a recording event or the final
 * "gone" is sent to, and in which order the others are tried when it
 * fails. Sans-IO: the caller posts, reports outcomes and passes the time.
 *
 * Rules (signaling/API.md "Relay registry"): the relay keeps to the
 * instance that last answered; a transport failure or a 5xx moves the
 * same request on to the next URL at once (in the order given, wrapping
 * around); any other answer, refusals included, came from a working
 * instance and ends the request there. While the relay is on a later URL,
 * the earlier ones are tried again first every TDM_HB_TARGETS_RETRY_MS,
 * so an instance that comes back (the operator's preferred one is listed
 * first) gets the relay back. */
#ifndef TDM_HB_TARGETS_H
#define TDM_HB_TARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDM_HB_TARGETS_MAX 8
#define TDM_HB_TARGETS_RETRY_MS 30000

typedef struct tdm_hb_targets {
    size_t n;          /* URLs, 1..TDM_HB_TARGETS_MAX */
    size_t current;    /* the one that last worked (at first: the first) */
    int64_t retry_ms;  /* when the ones before current are tried first again */
} tdm_hb_targets;

/* n is clamped to 1..TDM_HB_TARGETS_MAX. */
void tdm_hb_targets_init(tdm_hb_targets *t, size_t n);

/* The indices to try for one request started at now_ms (monotonic), in
 * order, into order[]; returns how many (always t->n, each index once). */
size_t tdm_hb_targets_order(tdm_hb_targets *t, int64_t now_ms, size_t order[TDM_HB_TARGETS_MAX]);

/* Whether an outcome (HTTP status, 0 for a transport failure) sends the
 * request on to the next URL. */
bool tdm_hb_targets_move_on(int status);

/* Index i answered (an outcome for which move_on is false): it becomes
 * the current one. Returns true when that is a change. */
bool tdm_hb_targets_answered(tdm_hb_targets *t, size_t i, int64_t now_ms);

/* The time one attempt may take when left_ms of the request's budget
 * remain and `remaining` attempts (this one included) may follow: an
 * equal share, so a URL that hangs cannot eat the time of the ones after
 * it. */
unsigned tdm_hb_targets_attempt_ms(int64_t left_ms, size_t remaining);

#endif
