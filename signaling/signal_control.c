/* signal_control.c: the customer's take-back, stored with the session and
 * audited (tdm_sig_control.h). */
#include "signal_internal.h"
#include "tdm_sig_control.h"

tdm_status tdm_signal_control_get(tdm_signal *sig, const char *session_id, bool *customer,
                                  tdm_error *err)
{
    if (!sig || !session_id || !customer)
        return tdm_fail(err, TDM_ERR_INVALID, "control_get: NULL argument");
    tdm_sig_session_row row;
    bool found = false;
    tdm_status st = tdm_sig_store_session_get(sig->store, session_id, &row, &found, err);
    if (st != TDM_OK)
        return st;
    if (!found)
        return tdm_fail(err, TDM_ERR_INVALID, "control: no session %s", session_id);
    *customer = row.customer_control;
    return TDM_OK;
}

/* Moves the session to `taken` inside one transaction; audits the change
 * as kind by actor (detail stolen). */
static tdm_status change(tdm_signal *sig, const char *session_id, const char *subject,
                         const char *actor, bool taken, const char *kind, json_t *detail,
                         int64_t now_ms, bool *changed, tdm_error *err)
{
    *changed = false;
    tdm_status st = tdm_sig_store_begin(sig->store, err);
    if (st != TDM_OK) {
        json_decref(detail);
        return st;
    }
    tdm_sig_session_row row;
    bool found = false;
    st = tdm_sig_store_session_get(sig->store, session_id, &row, &found, err);
    if (st == TDM_OK && !found)
        st = tdm_fail(err, TDM_ERR_INVALID, "control: no session %s", session_id);
    if (st == TDM_OK && row.customer_control != taken) {
        st = tdm_sig_store_session_set_control(sig->store, session_id, taken, err);
        if (st == TDM_OK) {
            st = tdm_sig__audit(sig->store, session_id, now_ms, actor, kind, subject, detail, err);
            detail = NULL;
        }
        *changed = st == TDM_OK;
    }
    json_decref(detail);
    if (st == TDM_OK)
        st = tdm_sig_store_commit(sig->store, err);
    if (st != TDM_OK) {
        tdm_sig_store_rollback(sig->store);
        *changed = false;
    }
    return st;
}

tdm_status tdm_signal_control_set(tdm_signal *sig, const char *session_id,
                                  const char *customer_pid, bool taken, int64_t now_ms,
                                  bool *changed, tdm_error *err)
{
    if (!sig || !session_id || !customer_pid || !changed)
        return tdm_fail(err, TDM_ERR_INVALID, "control_set: NULL argument");
    return change(sig, session_id, customer_pid, customer_pid, taken,
                  taken ? "control_taken_back" : "control_returned", json_object(), now_ms,
                  changed, err);
}

tdm_status tdm_signal_control_reset(tdm_signal *sig, const char *session_id,
                                    const char *customer_pid, const char *reason, int64_t now_ms,
                                    bool *changed, tdm_error *err)
{
    if (!sig || !session_id || !customer_pid || !reason || !changed)
        return tdm_fail(err, TDM_ERR_INVALID, "control_reset: NULL argument");
    /* Most departures find control shared: a read, no lock taken. */
    bool customer = false;
    *changed = false;
    tdm_status st = tdm_signal_control_get(sig, session_id, &customer, err);
    if (st != TDM_OK || !customer)
        return st;
    return change(sig, session_id, customer_pid, "system", false, "control_returned",
                  json_pack("{s:s}", "reason", reason), now_ms, changed, err);
}

tdm_status tdm_signal_control_denial_audit(tdm_signal *sig, const char *session_id,
                                           const char *sender_pid, const char *event,
                                           int64_t now_ms, tdm_error *err)
{
    if (!sig || !session_id || !sender_pid)
        return tdm_fail(err, TDM_ERR_INVALID, "control audit: NULL argument");
    /* tdm_signal_input counted the event as allowed (the profile let it
     * through) in this same second; it is a denial, audited below. */
    live *l = tdm_sig__live_find(sig, sender_pid);
    if (l && l->allowed.n > 0 && l->allowed.sec == now_ms / 1000)
        l->allowed.n--;
    tdm_status st = tdm_sig_store_begin(sig->store, err);
    if (st != TDM_OK)
        return st;
    st = tdm_sig__audit(sig->store, session_id, now_ms, sender_pid, "input_denied", sender_pid,
                        json_pack("{s:s,s:s}", "event", event ? event : "", "reason",
                                  "customer_has_control"),
                        err);
    if (st == TDM_OK)
        st = tdm_sig_store_commit(sig->store, err);
    if (st != TDM_OK)
        tdm_sig_store_rollback(sig->store);
    return st;
}
