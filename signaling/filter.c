/* filter.c: the input filter and its token bucket (tdm_sig_filter.h). */
#include "tdm_sig_filter.h"

#include <strings.h>

static const char *const verdict_names[] = {
#define TDM_SIG_DENY_NAME(e, name) name,
    TDM_SIG_DENY_MAP(TDM_SIG_DENY_NAME)
#undef TDM_SIG_DENY_NAME
};

const char *tdm_sig_verdict_name(tdm_sig_verdict v)
{
    return (unsigned)v < TDM_SIG_VERDICT_COUNT ? verdict_names[v] : "unknown";
}

bool tdm_sig_bucket_take(tdm_sig_bucket *b, uint32_t rate_per_s, uint32_t burst, int64_t now_ms)
{
    int64_t cap = (int64_t)burst * 1000;
    if (!b->started) {
        b->started = true;
        b->milli_tokens = cap;
        b->last_ms = now_ms;
    } else if (now_ms > b->last_ms) {
        /* rate tokens per second = rate milli-tokens per ms. Clamp the
         * interval first so a long idle time cannot overflow. */
        int64_t dt = now_ms - b->last_ms;
        if (dt > 100000000)
            dt = 100000000;
        b->milli_tokens += dt * (int64_t)rate_per_s;
        if (b->milli_tokens > cap)
            b->milli_tokens = cap;
        b->last_ms = now_ms;
    }
    if (b->milli_tokens < 1000)
        return false;
    b->milli_tokens -= 1000;
    return true;
}

static bool chord_blocked(const tdm_sig_profile *p, const tdm_sig_input_event *ev)
{
    /* Only the key press matters: releasing keys is always harmless, and
     * refusing key_up could leave a key stuck down on the customer's side. */
    if (ev->kind != TDM_SIG_IN_KEY_DOWN)
        return false;
    for (unsigned i = 0; i < p->n_chords; i++) {
        const tdm_sig_chord *c = &p->chords[i];
        /* Extra modifiers do not unblock a chord: Ctrl+Alt+Shift+Delete is
         * still Ctrl+Alt+Delete to the customer's OS. */
        if ((ev->mods & c->mods) == c->mods && strcasecmp(ev->key, c->key) == 0)
            return true;
    }
    return false;
}

tdm_sig_verdict tdm_sig_filter_check(const tdm_sig_profile *p, const tdm_sig_input_event *ev,
                                     tdm_sig_bucket *bucket, int64_t now_ms)
{
    if (!p || !ev || (unsigned)ev->kind >= TDM_SIG_IN_KIND_COUNT || !(p->kinds & (1u << ev->kind)))
        return TDM_SIG_DENY_KIND;
    if (chord_blocked(p, ev))
        return TDM_SIG_DENY_CHORD;
    if (!bucket || !tdm_sig_bucket_take(bucket, p->rate_per_s, p->burst, now_ms))
        return TDM_SIG_DENY_RATE;
    return TDM_SIG_ALLOW;
}
