/* signal_control.c: audit entries of the customer's take-back
 * (tdm_sig_control.h). */
#include "signal_internal.h"
#include "tdm_sig_control.h"

static tdm_status write_one(tdm_signal *sig, const char *session_id, const char *actor,
                            const char *kind, json_t *detail, int64_t now_ms, tdm_error *err)
{
    if (!sig || !session_id || !actor) {
        json_decref(detail);
        return tdm_fail(err, TDM_ERR_INVALID, "control audit: NULL argument");
    }
    tdm_status st = tdm_sig_store_begin(sig->store, err);
    if (st != TDM_OK) {
        json_decref(detail);
        return st;
    }
    st = tdm_sig__audit(sig->store, session_id, now_ms, actor, kind, actor, detail, err);
    if (st == TDM_OK)
        st = tdm_sig_store_commit(sig->store, err);
    if (st != TDM_OK)
        tdm_sig_store_rollback(sig->store);
    return st;
}

tdm_status tdm_signal_control_audit(tdm_signal *sig, const char *session_id,
                                    const char *customer_pid, bool taken, int64_t now_ms,
                                    tdm_error *err)
{
    return write_one(sig, session_id, customer_pid,
                     taken ? "control_taken_back" : "control_returned", json_object(), now_ms,
                     err);
}

tdm_status tdm_signal_control_denial_audit(tdm_signal *sig, const char *session_id,
                                           const char *sender_pid, const char *event,
                                           int64_t now_ms, tdm_error *err)
{
    return write_one(sig, session_id, sender_pid, "input_denied",
                     json_pack("{s:s,s:s}", "event", event ? event : "", "reason",
                               "customer_has_control"),
                     now_ms, err);
}
