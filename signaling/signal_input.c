/* signal_input.c: input events from reps and invitees — parse, filter by
 * the sender's current profile, audit denials, count what passed — and the
 * once-a-second tick (tdm_signal.h). */
#include "signal_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tdm_status live_load(tdm_signal *sig, const char *pid, live **out, tdm_signal_error *err)
{
    tdm_sig_participant_row p;
    tdm_sig_session_row s;
    tdm_status st = tdm_sig__load_actor(sig, pid, &p, &s, err);
    if (st != TDM_OK)
        return st;
    const tdm_sig_profile *prof = tdm_sig_profiles_find(&sig->profiles, p.profile);
    live *l = calloc(1, sizeof *l);
    if (!l)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_NOMEM, "out of memory");
    snprintf(l->pid, sizeof l->pid, "%s", p.id);
    snprintf(l->session_id, sizeof l->session_id, "%s", p.session_id);
    l->kind = p.kind;
    /* A profile removed from the configuration since grants nothing. */
    l->profile = prof ? prof : tdm_sig_profiles_find(&sig->profiles, "view_only");
    tdm_sig__live_add(sig, l);
    *out = l;
    return TDM_OK;
}

tdm_status tdm_signal_input(tdm_signal *sig, const char *pid, const uint8_t *msg, size_t len,
                            int64_t now_ms, tdm_signal_input_result *out, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !out || !pid)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "input: NULL argument");
    memset(out, 0, sizeof *out);
    live *l = tdm_sig__live_find(sig, pid);
    tdm_status st = TDM_OK;
    if (!l && (st = live_load(sig, pid, &l, err)) != TDM_OK)
        return st;
    if (l->kind == TDM_SIG_KIND_CUSTOMER)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST,
                               "the customer sends no remote input");
    tdm_error perr = {{0}};
    st = tdm_sig_input_parse(msg, len, &out->event, &perr);
    if (st != TDM_OK) {
        /* The shell answers with the reason and keeps the socket. */
        tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST, "%s", perr.msg);
        return st;
    }
    out->verdict = tdm_sig_filter_check(l->profile, &out->event, &l->bucket, now_ms);
    int64_t sec = now_ms / 1000;
    bool allowed = out->verdict == TDM_SIG_ALLOW;
    bool log_each =
        !allowed && tdm_sig_bucket_take(&l->denial_log, DENIAL_LOG_RATE, DENIAL_LOG_BURST, now_ms);
    if ((l->allowed.n && l->allowed.sec < sec) ||
        (l->denied_unlogged.n && l->denied_unlogged.sec < sec)) {
        /* First event of a new second: record the last seconds' counts. */
        if ((st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err))) != TDM_OK)
            return st;
        if ((st = tdm_sig__finish(sig, tdm_sig__live_write_count(sig, l, sec, tdm_sig__detail(err)),
                                  err)) != TDM_OK)
            return st;
    }
    if (allowed || !log_each) {
        per_second *c = allowed ? &l->allowed : &l->denied_unlogged;
        c->sec = sec;
        c->n++;
        return TDM_OK;
    }
    /* Denied: recorded before the caller drops it. */
    json_t *d =
        json_pack("{s:s,s:s,s:s}", "event", tdm_sig_input_kind_name(out->event.kind), "reason",
                  tdm_sig_verdict_name(out->verdict), "profile", l->profile->name);
    if (d && (out->event.kind == TDM_SIG_IN_KEY_DOWN || out->event.kind == TDM_SIG_IN_KEY_UP)) {
        json_object_set_new(d, "key", json_string(out->event.key));
        json_object_set_new(d, "mods", json_integer(out->event.mods));
    }
    if ((st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err))) != TDM_OK) {
        json_decref(d);
        return st;
    }
    st = tdm_sig__audit(sig->store, l->session_id, now_ms, l->pid, "input_denied", l->pid, d,
                        tdm_sig__detail(err));
    return tdm_sig__finish(sig, st, err);
}

#define EXPIRE_BATCH 64

tdm_status tdm_signal_tick(tdm_signal *sig, int64_t now_ms, tdm_error *err)
{
    if (!sig)
        return tdm_fail(err, TDM_ERR_INVALID, "tick: NULL argument");
    int64_t sec = now_ms / 1000;
    tdm_sig_invite_row due[EXPIRE_BATCH];
    size_t n = 0;
    tdm_status st = tdm_sig_store_begin(sig->store, err);
    if (st != TDM_OK)
        return st;
    for (unsigned b = 0; st == TDM_OK && b < LIVE_BUCKETS; b++)
        for (live *l = sig->live[b]; st == TDM_OK && l; l = l->next)
            st = tdm_sig__live_write_count(sig, l, sec, err);
    /* Invites that lapsed unused: recorded once each, a batch per tick. */
    if (st == TDM_OK)
        st = tdm_sig_store_invite_due(sig->store, sec, EXPIRE_BATCH, due, &n, err);
    for (size_t i = 0; st == TDM_OK && i < n; i++)
        if ((st = tdm_sig_store_invite_mark_expired(sig->store, due[i].id, sec, err)) == TDM_OK)
            st = tdm_sig__audit(
                sig->store, due[i].session_id, now_ms, "system", "invite_expired", due[i].id,
                json_pack("{s:s,s:s}", "profile", due[i].profile, "reason", "unused"), err);
    if (st == TDM_OK)
        st = tdm_sig_store_commit(sig->store, err);
    if (st != TDM_OK)
        tdm_sig_store_rollback(sig->store);
    return st;
}
