/* keyframe_throttle.c: merges subscribers' keyframe requests into at most
 * one request to the publisher per interval, deferring rather than
 * dropping. */
#include "tdm_keyframe_throttle.h"

#include <stdlib.h>

struct tdm_keyframe_throttle {
    tdm_keyframe_throttle_config cfg;
    uint64_t now;       /* latest time seen: time never goes back */
    bool sent_any;
    uint64_t last_sent; /* when the last request was forwarded */
    bool pending;       /* a deferred request waits for last_sent + interval */
    uint8_t fir_seq;
    tdm_keyframe_throttle_stats stats;
};

const char *tdm_keyframe_trigger_name(tdm_keyframe_trigger t)
{
    switch (t) {
    case TDM_KEYFRAME_TRIGGER_PLI:
        return "pli";
    case TDM_KEYFRAME_TRIGGER_FIR:
        return "fir";
    case TDM_KEYFRAME_TRIGGER_JOIN:
        return "join";
    case TDM_KEYFRAME_TRIGGER_COUNT:
        break;
    }
    return "unknown";
}

void tdm_keyframe_throttle_config_default(tdm_keyframe_throttle_config *cfg)
{
    cfg->interval_us = 300000;
}

tdm_status tdm_keyframe_throttle_new(const tdm_keyframe_throttle_config *cfg,
                                     tdm_keyframe_throttle **out)
{
    if (!out)
        return TDM_ERR_INVALID;
    *out = NULL;
    tdm_keyframe_throttle_config def;
    if (!cfg) {
        tdm_keyframe_throttle_config_default(&def);
        cfg = &def;
    }
    if (cfg->interval_us == 0)
        return TDM_ERR_INVALID;
    tdm_keyframe_throttle *t = calloc(1, sizeof *t);
    if (!t)
        return TDM_ERR_NOMEM;
    t->cfg = *cfg;
    *out = t;
    return TDM_OK;
}

void tdm_keyframe_throttle_free(tdm_keyframe_throttle *t)
{
    free(t);
}

static void advance(tdm_keyframe_throttle *t, uint64_t now_us)
{
    if (now_us > t->now)
        t->now = now_us;
}

static bool may_send(const tdm_keyframe_throttle *t)
{
    return !t->sent_any || t->now - t->last_sent >= t->cfg.interval_us;
}

static void forward(tdm_keyframe_throttle *t)
{
    t->sent_any = true;
    t->last_sent = t->now;
    t->pending = false;
    t->fir_seq++;
    t->stats.forwarded++;
}

bool tdm_keyframe_throttle_request(tdm_keyframe_throttle *t, tdm_keyframe_trigger trigger,
                                   uint64_t now_us)
{
    advance(t, now_us);
    if ((unsigned)trigger < TDM_KEYFRAME_TRIGGER_COUNT)
        t->stats.received[trigger]++;
    t->stats.received_total++;
    if (t->pending) {
        /* Also due already if the caller was late with handle_timeout:
         * then this request and the deferred one go out as one. */
        t->stats.suppressed++;
        if (may_send(t)) {
            forward(t);
            return true;
        }
        return false;
    }
    if (may_send(t)) {
        forward(t);
        return true;
    }
    t->pending = true;
    return false;
}

bool tdm_keyframe_throttle_handle_timeout(tdm_keyframe_throttle *t, uint64_t now_us)
{
    advance(t, now_us);
    if (!t->pending || !may_send(t))
        return false;
    forward(t);
    return true;
}

uint64_t tdm_keyframe_throttle_poll_timeout(const tdm_keyframe_throttle *t)
{
    if (!t->pending)
        return TDM_KEYFRAME_THROTTLE_NO_DEADLINE;
    return t->last_sent + t->cfg.interval_us;
}

void tdm_keyframe_throttle_on_keyframe(tdm_keyframe_throttle *t, uint64_t now_us)
{
    advance(t, now_us);
    if (t->pending) {
        t->pending = false;
        t->stats.suppressed++;
    }
}

uint8_t tdm_keyframe_throttle_fir_seq(const tdm_keyframe_throttle *t)
{
    return t->fir_seq;
}

const tdm_keyframe_throttle_stats *tdm_keyframe_throttle_get_stats(const tdm_keyframe_throttle *t)
{
    return &t->stats;
}
