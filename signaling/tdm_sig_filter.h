/* tdm_sig_filter: the input filter, sans-IO.
 *
 * Owns the decision whether one parsed input event from a participant may
 * reach the customer: event kind allowed by the profile, key chord not
 * blocked, rate within the profile's token bucket. Time is an argument (ms
 * on any monotonic scale); nothing here reads a clock. */
#ifndef TDM_SIG_FILTER_H
#define TDM_SIG_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "tdm_sig_input.h"
#include "tdm_sig_profile.h"

/* X(enum, stable name) */
#define TDM_SIG_DENY_MAP(X)                                                                        \
    X(TDM_SIG_ALLOW, "allowed")                                                                    \
    X(TDM_SIG_DENY_KIND, "kind_not_allowed")                                                       \
    X(TDM_SIG_DENY_CHORD, "key_chord_blocked")                                                     \
    X(TDM_SIG_DENY_RATE, "rate_limited")

typedef enum tdm_sig_verdict {
#define TDM_SIG_DENY_ENUM(e, name) e,
    TDM_SIG_DENY_MAP(TDM_SIG_DENY_ENUM)
#undef TDM_SIG_DENY_ENUM
        TDM_SIG_VERDICT_COUNT
} tdm_sig_verdict;

const char *tdm_sig_verdict_name(tdm_sig_verdict v);

/* A token bucket. Zeroed state is "full at the first event". */
typedef struct tdm_sig_bucket {
    int64_t milli_tokens; /* tokens * 1000, so refill needs no floating point */
    int64_t last_ms;
    bool started;
} tdm_sig_bucket;

/* Takes one token at now_ms from a bucket refilled at rate_per_s up to
 * burst; true if there was one. A clock that steps back refills nothing. */
bool tdm_sig_bucket_take(tdm_sig_bucket *b, uint32_t rate_per_s, uint32_t burst, int64_t now_ms);

/* The verdict for ev under profile p. Only an event that passes the kind and
 * chord checks spends a token, so refused keys do not starve pointer moves. */
tdm_sig_verdict tdm_sig_filter_check(const tdm_sig_profile *p, const tdm_sig_input_event *ev,
                                     tdm_sig_bucket *bucket, int64_t now_ms);

#endif
