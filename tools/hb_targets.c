/* tdm_hb_targets: see tdm_hb_targets.h. */
#include "tdm_hb_targets.h"

void tdm_hb_targets_init(tdm_hb_targets *t, size_t n)
{
    t->n = n < 1 ? 1 : n > TDM_HB_TARGETS_MAX ? TDM_HB_TARGETS_MAX : n;
    t->current = 0;
    t->retry_ms = 0;
}

size_t tdm_hb_targets_order(tdm_hb_targets *t, int64_t now_ms, size_t order[TDM_HB_TARGETS_MAX])
{
    size_t start = t->current;
    if (t->current > 0 && now_ms >= t->retry_ms) {
        /* Time to look at the earlier ones again: from the first, which
         * reaches the current one after them. The next look is a full
         * period away whatever this one finds. */
        start = 0;
        t->retry_ms = now_ms + TDM_HB_TARGETS_RETRY_MS;
    }
    for (size_t k = 0; k < t->n; k++)
        order[k] = (start + k) % t->n;
    return t->n;
}

bool tdm_hb_targets_move_on(int status)
{
    /* No answer, or an instance that cannot serve (Redis away: 503; a
     * crash: 500): another instance may. 4xx is the service's verdict on
     * the request, which another instance of the same service repeats. */
    return status == 0 || status >= 500;
}

bool tdm_hb_targets_answered(tdm_hb_targets *t, size_t i, int64_t now_ms)
{
    if (i >= t->n || i == t->current)
        return false;
    t->current = i;
    t->retry_ms = now_ms + TDM_HB_TARGETS_RETRY_MS;
    return true;
}

unsigned tdm_hb_targets_attempt_ms(int64_t left_ms, size_t remaining)
{
    if (left_ms <= 0)
        return 0;
    if (remaining < 1)
        remaining = 1;
    int64_t share = left_ms / (int64_t)remaining;
    if (share < 1)
        share = 1;
    return share > (int64_t)UINT32_MAX ? UINT32_MAX : (unsigned)share;
}
