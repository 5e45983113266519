/* signal_keys.c: what a participant gets to reach the media — relay
 * access tokens, TURN credentials — the session's recording key, and the
 * audit trail as JSON for auditors (tdm_signal.h). */
#include "signal_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tdm_status tdm_signal_relay_token(tdm_signal *sig, const char *pid, const char *node,
                                  int64_t now_ms, char *out, size_t cap, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !out)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "relay_token: NULL argument");
    tdm_sig_participant_row p;
    tdm_sig_session_row s;
    tdm_status st = tdm_sig__load_actor(sig, pid, &p, &s, err);
    if (st != TDM_OK)
        return st;
    tdm_token_claims c;
    memset(&c, 0, sizeof c);
    if (!node || strlen(node) > TDM_TOKEN_ID_MAX)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST, "bad relay node id");
    snprintf(c.sub, sizeof c.sub, "%s", p.id);
    snprintf(c.sid, sizeof c.sid, "%s", s.id);
    snprintf(c.node, sizeof c.node, "%s", node);
    c.role = p.kind == TDM_SIG_KIND_CUSTOMER ? TDM_TOKEN_ROLE_PUBLISH : TDM_TOKEN_ROLE_SUBSCRIBE;
    int64_t now_s = now_ms / 1000;
    c.exp = now_s + sig->cfg.relay_token_ttl_s;
    st = tdm_token_mint(sig->token_secret, sig->cfg.token_secret_len, &c, now_s, out, cap,
                        tdm_sig__detail(err));
    if (st == TDM_ERR_INVALID)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST, "%s",
                               err ? err->detail.msg : "bad claims");
    return st;
}

tdm_status tdm_signal_turn_credentials(tdm_signal *sig, const char *pid, int64_t now_ms,
                                       char user[TDM_SIG_TURN_USER_CAP],
                                       char pass[TDM_SIG_TURN_PASS_CAP], tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !user || !pass)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "turn_credentials: NULL argument");
    if (!sig->cfg.turn_secret)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_UNAVAILABLE, "no TURN server configured");
    tdm_sig_participant_row p;
    tdm_sig_session_row s;
    tdm_status st = tdm_sig__load_actor(sig, pid, &p, &s, err);
    if (st != TDM_OK)
        return st;
    return tdm_sig_turn_credentials(sig->turn_secret, sig->cfg.turn_secret_len, p.id,
                                    now_ms / 1000 + sig->cfg.turn_ttl_s, user, pass,
                                    tdm_sig__detail(err));
}

tdm_status tdm_signal_recording_key(tdm_signal *sig, const char *session_id,
                                    uint8_t key[TDM_SIG_RECORDING_KEY_LEN], tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !key)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "recording_key: NULL argument");
    tdm_sig_session_row s;
    bool found = false;
    tdm_status st = tdm_sig_store_session_get(sig->store, session_id ? session_id : "", &s, &found,
                                              tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if (!found)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_FOUND, "no such session");
    return tdm_sig_key_unwrap(sig->cfg.master_key, s.wrapped_key, sizeof s.wrapped_key, s.id, key,
                              tdm_sig__detail(err));
}

/* --- recording events from relays --- */

tdm_status tdm_signal_recording_event_audit(tdm_signal *sig, const tdm_signal_recording_event *ev,
                                            int64_t now_ms, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !ev || !ev->relay_id || !ev->session_id || !ev->file)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "recording_event: NULL argument");
    if (ev->stopped &&
        (!ev->sha256 || strlen(ev->sha256) != 64 ||
         strspn(ev->sha256, "0123456789abcdef") != 64))
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST,
                               "hash must be 64 lowercase hex digits");
    tdm_sig_session_row s;
    bool found = false;
    tdm_status st = tdm_sig_store_session_get(sig->store, ev->session_id, &s, &found,
                                              tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if (!found)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_FOUND, "no such session");
    char actor[96];
    snprintf(actor, sizeof actor, "relay:%s", ev->relay_id);
    json_t *d = json_pack("{s:s,s:s,s:I}", "file", ev->file, "relay", ev->relay_id, "relay_ts_ms",
                          (json_int_t)ev->relay_ts_ms);
    if (d && ev->stopped) {
        json_object_set_new(d, "sha256", json_string(ev->sha256));
        json_object_set_new(d, "packets", json_integer((json_int_t)ev->packets));
        json_object_set_new(d, "dropped", json_integer((json_int_t)ev->dropped));
    }
    if ((st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err))) != TDM_OK) {
        json_decref(d);
        return st;
    }
    st = tdm_sig__audit(sig->store, s.id, now_ms, actor,
                        ev->stopped ? "recording_stopped" : "recording_started", ev->file, d,
                        tdm_sig__detail(err));
    return tdm_sig__finish(sig, st, err);
}

/* --- audit reading --- */

static void audit_to_json(void *ctx, const tdm_sig_audit_entry *e)
{
    json_t *arr = ctx;
    char hash[2 * TDM_SIG_AUDIT_HASH_LEN + 1];
    tdm_sig_hex(e->hash, sizeof e->hash, hash);
    json_t *detail_obj = json_loads(e->detail ? e->detail : "{}", 0, NULL);
    json_array_append_new(arr, json_pack("{s:I,s:I,s:s,s:s,s:s,s:o,s:s}", "seq", (json_int_t)e->seq,
                                         "ts_ms", (json_int_t)e->ts_ms, "actor",
                                         e->actor ? e->actor : "", "kind", e->kind ? e->kind : "",
                                         "subject", e->subject ? e->subject : "", "detail",
                                         detail_obj ? detail_obj : json_null(), "hash", hash));
}

tdm_status tdm_signal_audit_json(tdm_sig_store *store, const char *session_id, int64_t after_seq,
                                 size_t limit, char **json, tdm_error *err)
{
    if (!store || !session_id || !json)
        return tdm_fail(err, TDM_ERR_INVALID, "audit_json: NULL argument");
    *json = NULL;
    json_t *arr = json_array();
    if (!arr)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    tdm_status st =
        tdm_sig_store_audit_list(store, session_id, after_seq, limit, audit_to_json, arr, err);
    if (st == TDM_OK && !(*json = json_dumps(arr, JSON_COMPACT)))
        st = tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    json_decref(arr);
    return st;
}
