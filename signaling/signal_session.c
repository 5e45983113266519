/* signal_session.c: the session state machine — open, join code, customer
 * and rep joins, leaving (with the owner and invitee rules), removal,
 * ownership transfer, profile changes, ending (tdm_signal.h). */
#include "signal_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* Creates a join code for session s, writes its digest; text in out. */
static tdm_status make_code(tdm_signal *sig, const char *session_id, int64_t now_s,
                            tdm_signal_opened *out, tdm_error *err)
{
    uint8_t rnd[8], digest[TDM_SIG_DIGEST_LEN];
    char digits[TDM_SIG_CODE_DIGITS + 1];
    /* A new code must not equal a live one (two sessions, one code): draw
     * again in that rare case. */
    for (int attempt = 0; attempt < 8; attempt++) {
        tdm_status st = tdm_sig__random_bytes(sig, rnd, sizeof rnd, err);
        if (st != TDM_OK)
            return st;
        tdm_sig_join_code_format(rnd, out->join_code);
        tdm_sig_join_code_normalize(out->join_code, digits);
        if ((st = tdm_sig_secret_digest(sig->cfg.digest_key, sizeof sig->cfg.digest_key, "code",
                                        digits, digest, err)) != TDM_OK)
            return st;
        bool taken = false;
        char other[TDM_SIG_ID_CAP];
        int64_t code_id = 0;
        if ((st = tdm_sig_store_code_find_live(sig->store, digest, now_s, other, &code_id, &taken,
                                               err)) != TDM_OK)
            return st;
        if (taken)
            continue;
        out->code_expires_s = now_s + sig->cfg.join_code_ttl_s;
        return tdm_sig_store_code_insert(sig->store, session_id, digest, out->code_expires_s, err);
    }
    return tdm_fail(err, TDM_ERR_UNAVAILABLE, "no free join code");
}

tdm_status tdm_signal_session_open(tdm_signal *sig, const char *rep_name, int64_t now_ms,
                                   tdm_signal_opened *out, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !out)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "session_open: NULL argument");
    memset(out, 0, sizeof *out);
    int64_t now_s = now_ms / 1000;
    tdm_status st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    tdm_sig_user u;
    tdm_sig_session_row s;
    tdm_sig_participant_row p;
    memset(&s, 0, sizeof s);
    memset(&p, 0, sizeof p);
    uint8_t key[TDM_SIG_RECORDING_KEY_LEN], nonce[12];
    if ((st = tdm_sig__load_rep_user(sig, rep_name, &u, err)) != TDM_OK ||
        (st = tdm_sig__new_id(sig, 's', s.id, tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig__new_id(sig, 'p', p.id, tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig__random_bytes(sig, key, sizeof key, tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig__random_bytes(sig, nonce, sizeof nonce, tdm_sig__detail(err))) != TDM_OK)
        goto out;
    snprintf(s.owner, sizeof s.owner, "%s", p.id);
    s.state = TDM_SIG_STATE_WAITING;
    s.created_s = now_s;
    st = tdm_sig_key_wrap(sig->cfg.master_key, key, nonce, s.id, s.wrapped_key,
                          tdm_sig__detail(err));
    OPENSSL_cleanse(key, sizeof key);
    if (st != TDM_OK ||
        (st = tdm_sig_store_session_insert(sig->store, &s, tdm_sig__detail(err))) != TDM_OK)
        goto out;
    snprintf(p.session_id, sizeof p.session_id, "%s", s.id);
    p.kind = TDM_SIG_KIND_REP;
    p.user_id = u.id;
    snprintf(p.display_name, sizeof p.display_name, "%s", u.name);
    snprintf(p.profile, sizeof p.profile, "%s", sig->rep_profile);
    p.joined_s = now_s;
    if ((st = tdm_sig__participant_insert(sig, &p, out->secret, tdm_sig__detail(err))) != TDM_OK ||
        (st = make_code(sig, s.id, now_s, out, tdm_sig__detail(err))) != TDM_OK)
        goto out;
    if ((st = tdm_sig__audit(sig->store, s.id, now_ms, p.id, "session_opened", s.id,
                             json_pack("{s:s,s:s,s:I}", "rep", u.name, "owner", p.id,
                                       "code_expires_s", (json_int_t)out->code_expires_s),
                             tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig__audit(
             sig->store, s.id, now_ms, p.id, "participant_joined", p.id,
             json_pack("{s:s,s:s,s:s}", "kind", "rep", "name", u.name, "profile", p.profile),
             tdm_sig__detail(err))) != TDM_OK)
        goto out;
    snprintf(out->session_id, sizeof out->session_id, "%s", s.id);
    snprintf(out->participant_id, sizeof out->participant_id, "%s", p.id);
out:
    st = tdm_sig__finish(sig, st, err);
    if (st != TDM_OK)
        memset(out, 0, sizeof *out);
    return st;
}

tdm_status tdm_signal_join_code_renew(tdm_signal *sig, const char *actor_pid, int64_t now_ms,
                                      tdm_signal_opened *out, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !out)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "join_code_renew: NULL argument");
    memset(out, 0, sizeof *out);
    int64_t now_s = now_ms / 1000;
    tdm_sig_participant_row p;
    tdm_sig_session_row s;
    tdm_status st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if ((st = tdm_sig__load_owner(sig, actor_pid, &p, &s, err)) != TDM_OK ||
        (st = tdm_sig_store_code_revoke_session(sig->store, s.id, now_s, tdm_sig__detail(err))) !=
            TDM_OK ||
        (st = make_code(sig, s.id, now_s, out, tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig__audit(sig->store, s.id, now_ms, p.id, "join_code_renewed", s.id,
                             json_pack("{s:I}", "code_expires_s", (json_int_t)out->code_expires_s),
                             tdm_sig__detail(err))) != TDM_OK)
        goto out;
    snprintf(out->session_id, sizeof out->session_id, "%s", s.id);
    snprintf(out->participant_id, sizeof out->participant_id, "%s", p.id);
out:
    st = tdm_sig__finish(sig, st, err);
    if (st != TDM_OK)
        memset(out, 0, sizeof *out);
    return st;
}

tdm_status tdm_signal_customer_join(tdm_signal *sig, const char *code, const char *display_name,
                                    int64_t now_ms, tdm_signal_joined *out, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !out)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "customer_join: NULL argument");
    memset(out, 0, sizeof *out);
    int64_t now_s = now_ms / 1000;
    char digits[TDM_SIG_CODE_DIGITS + 1];
    if (!tdm_sig_join_code_normalize(code, digits))
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_CODE_INVALID, "a join code is 9 digits");
    if (display_name && !tdm_sig__display_name_ok(display_name))
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST,
                               "display name must be 1..%d printable bytes", TDM_SIG_NAME_MAX);
    uint8_t digest[TDM_SIG_DIGEST_LEN];
    tdm_status st = tdm_sig_secret_digest(sig->cfg.digest_key, sizeof sig->cfg.digest_key, "code",
                                          digits, digest, tdm_sig__detail(err));
    if (st != TDM_OK || (st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err))) != TDM_OK)
        return st;
    bool found = false;
    int64_t code_id = 0;
    tdm_sig_session_row s;
    tdm_sig_participant_row p;
    memset(&p, 0, sizeof p);
    if ((st = tdm_sig_store_code_find_live(sig->store, digest, now_s, p.session_id, &code_id,
                                           &found, tdm_sig__detail(err))) != TDM_OK)
        goto out;
    if (!found) {
        st =
            tdm_sig__refuse(err, TDM_SIG_REFUSE_CODE_INVALID, "unknown, used or expired join code");
        goto out;
    }
    if ((st = tdm_sig_store_session_get(sig->store, p.session_id, &s, &found,
                                        tdm_sig__detail(err))) != TDM_OK)
        goto out;
    if (!found || s.state == TDM_SIG_STATE_ENDED) {
        st =
            tdm_sig__refuse(err, TDM_SIG_REFUSE_CODE_INVALID, "unknown, used or expired join code");
        goto out;
    }
    if ((st = tdm_sig__new_id(sig, 'p', p.id, tdm_sig__detail(err))) != TDM_OK)
        goto out;
    p.kind = TDM_SIG_KIND_CUSTOMER;
    snprintf(p.display_name, sizeof p.display_name, "%s", display_name ? display_name : "customer");
    /* The customer sends no input through the filter; view_only says so. */
    snprintf(p.profile, sizeof p.profile, "view_only");
    p.joined_s = now_s;
    if ((st = tdm_sig_store_code_use(sig->store, code_id, now_s, tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig__participant_insert(sig, &p, out->secret, tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig_store_session_set_state(sig->store, s.id, TDM_SIG_STATE_ACTIVE, now_s,
                                              tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig__audit(sig->store, s.id, now_ms, p.id, "participant_joined", p.id,
                             json_pack("{s:s,s:s,s:s}", "kind", "customer", "name", p.display_name,
                                       "profile", p.profile),
                             tdm_sig__detail(err))) != TDM_OK)
        goto out;
    tdm_sig__fill_joined(&p, out);
out:
    st = tdm_sig__finish(sig, st, err);
    if (st != TDM_OK) /* no credential for a participant that was not stored */
        memset(out, 0, sizeof *out);
    return st;
}

tdm_status tdm_signal_rep_join(tdm_signal *sig, const char *session_id, const char *rep_name,
                               int64_t now_ms, tdm_signal_joined *out, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !out)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "rep_join: NULL argument");
    memset(out, 0, sizeof *out);
    int64_t now_s = now_ms / 1000;
    tdm_status st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    tdm_sig_user u;
    tdm_sig_session_row s;
    tdm_sig_participant_row p;
    memset(&p, 0, sizeof p);
    bool found = false;
    if ((st = tdm_sig__load_rep_user(sig, rep_name, &u, err)) != TDM_OK ||
        (st = tdm_sig_store_session_get(sig->store, session_id ? session_id : "", &s, &found,
                                        tdm_sig__detail(err))) != TDM_OK)
        goto out;
    if (!found) {
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_FOUND, "no such session");
        goto out;
    }
    if (s.state == TDM_SIG_STATE_ENDED) {
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_SESSION_ENDED, "the session has ended");
        goto out;
    }
    if ((st = tdm_sig__new_id(sig, 'p', p.id, tdm_sig__detail(err))) != TDM_OK)
        goto out;
    snprintf(p.session_id, sizeof p.session_id, "%s", s.id);
    p.kind = TDM_SIG_KIND_REP;
    p.user_id = u.id;
    snprintf(p.display_name, sizeof p.display_name, "%s", u.name);
    snprintf(p.profile, sizeof p.profile, "%s", sig->rep_profile);
    p.joined_s = now_s;
    if ((st = tdm_sig__participant_insert(sig, &p, out->secret, tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig__audit(
             sig->store, s.id, now_ms, p.id, "participant_joined", p.id,
             json_pack("{s:s,s:s,s:s}", "kind", "rep", "name", u.name, "profile", p.profile),
             tdm_sig__detail(err))) != TDM_OK)
        goto out;
    if (!s.owner[0]) { /* an ownerless session is claimed by the rep who comes */
        if ((st = tdm_sig_store_session_set_owner(sig->store, s.id, p.id, tdm_sig__detail(err))) !=
                TDM_OK ||
            (st = tdm_sig__audit(
                 sig->store, s.id, now_ms, p.id, "ownership_transferred", p.id,
                 json_pack("{s:s,s:s}", "from", "", "reason", "ownerless_session_joined"),
                 tdm_sig__detail(err))) != TDM_OK)
            goto out;
    }
    tdm_sig__fill_joined(&p, out);
out:
    st = tdm_sig__finish(sig, st, err);
    if (st != TDM_OK) /* no credential for a participant that was not stored */
        memset(out, 0, sizeof *out);
    return st;
}

/* Marks p left (with its audit entry), then applies the owner and invitee
 * rules. Inside a transaction. */
static tdm_status depart(tdm_signal *sig, tdm_sig_session_row *s, const tdm_sig_participant_row *p,
                         const char *actor, const char *kind, const char *reason, int64_t now_ms,
                         tdm_error *err)
{
    int64_t now_s = now_ms / 1000;
    tdm_status st = tdm_sig__live_forget(sig, p->id, err);
    if (st != TDM_OK ||
        (st = tdm_sig_store_participant_set_left(sig->store, p->id, now_s, err)) != TDM_OK ||
        (st = tdm_sig__audit(
             sig->store, s->id, now_ms, actor, kind, p->id,
             json_pack("{s:s,s:s}", "kind", tdm_sig_kind_name(p->kind), "reason", reason), err)) !=
            TDM_OK)
        return st;
    if (p->kind != TDM_SIG_KIND_REP)
        return TDM_OK;
    tdm_sig_participant_row *rows = NULL;
    size_t n = 0;
    if ((st = tdm_sig__list_present(sig, s->id, &rows, &n, err)) != TDM_OK)
        goto out;
    if (strcmp(s->owner, p->id) == 0) {
        /* Hand the session to the longest-present rep (list is in join
         * order), or to nobody. */
        const char *heir = "";
        for (size_t i = 0; i < n && !heir[0]; i++)
            if (rows[i].kind == TDM_SIG_KIND_REP)
                heir = rows[i].id;
        if ((st = tdm_sig_store_session_set_owner(sig->store, s->id, heir, err)) != TDM_OK ||
            (st = tdm_sig__audit(sig->store, s->id, now_ms, p->id, "ownership_transferred", heir,
                                 json_pack("{s:s,s:s}", "from", p->id, "reason", "owner_left"),
                                 err)) != TDM_OK)
            goto out;
        snprintf(s->owner, sizeof s->owner, "%s", heir);
    }
    if (s->owner[0])
        goto out; /* another rep owns the session: invitees stay */
    for (size_t i = 0; i < n; i++) {
        if (rows[i].kind != TDM_SIG_KIND_INVITED)
            continue;
        if ((st = tdm_sig__live_forget(sig, rows[i].id, err)) != TDM_OK ||
            (st = tdm_sig_store_participant_set_left(sig->store, rows[i].id, now_s, err)) !=
                TDM_OK ||
            (st = tdm_sig__audit(
                 sig->store, s->id, now_ms, "system", "participant_removed", rows[i].id,
                 json_pack("{s:s,s:s,s:s}", "kind", "invited", "reason", "no_rep_owns_the_session",
                           "invited_by", rows[i].invited_by),
                 err)) != TDM_OK)
            goto out;
    }
    int revoked = 0;
    if ((st = tdm_sig_store_invite_revoke_session(sig->store, s->id, now_s, &revoked, err)) !=
        TDM_OK)
        goto out;
    if (revoked)
        st = tdm_sig__audit(
            sig->store, s->id, now_ms, "system", "invites_revoked", s->id,
            json_pack("{s:i,s:s}", "count", revoked, "reason", "no_rep_owns_the_session"), err);
out:
    free(rows);
    return st;
}

tdm_status tdm_signal_leave(tdm_signal *sig, const char *pid, int64_t now_ms, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "leave: NULL argument");
    tdm_sig_participant_row p;
    tdm_sig_session_row s;
    tdm_status st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if ((st = tdm_sig__load_actor(sig, pid, &p, &s, err)) == TDM_OK)
        st = depart(sig, &s, &p, p.id, "participant_left", "left", now_ms, tdm_sig__detail(err));
    return tdm_sig__finish(sig, st, err);
}

tdm_status tdm_signal_remove(tdm_signal *sig, const char *actor_pid, const char *target_pid,
                             int64_t now_ms, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "remove: NULL argument");
    tdm_sig_participant_row a, t;
    tdm_sig_session_row s;
    tdm_status st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if ((st = tdm_sig__load_owner(sig, actor_pid, &a, &s, err)) != TDM_OK ||
        (st = tdm_sig__load_target(sig, &s, target_pid, &t, err)) != TDM_OK)
        goto out;
    if (strcmp(a.id, t.id) == 0) {
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST,
                             "the owner leaves rather than removes itself");
        goto out;
    }
    st = depart(sig, &s, &t, a.id, "participant_removed", "removed_by_owner", now_ms,
                tdm_sig__detail(err));
out:
    return tdm_sig__finish(sig, st, err);
}

tdm_status tdm_signal_transfer(tdm_signal *sig, const char *actor_pid, const char *to_pid,
                               int64_t now_ms, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "transfer: NULL argument");
    tdm_sig_participant_row a, t;
    tdm_sig_session_row s;
    tdm_status st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if ((st = tdm_sig__load_owner(sig, actor_pid, &a, &s, err)) != TDM_OK ||
        (st = tdm_sig__load_target(sig, &s, to_pid, &t, err)) != TDM_OK)
        goto out;
    if (t.kind != TDM_SIG_KIND_REP) {
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_A_REP, "only a rep can own a session");
        goto out;
    }
    if ((st = tdm_sig_store_session_set_owner(sig->store, s.id, t.id, tdm_sig__detail(err))) !=
        TDM_OK)
        goto out;
    st = tdm_sig__audit(sig->store, s.id, now_ms, a.id, "ownership_transferred", t.id,
                        json_pack("{s:s,s:s}", "from", a.id, "reason", "transfer"),
                        tdm_sig__detail(err));
out:
    return tdm_sig__finish(sig, st, err);
}

tdm_status tdm_signal_set_profile(tdm_signal *sig, const char *actor_pid, const char *target_pid,
                                  const char *profile, int64_t now_ms, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "set_profile: NULL argument");
    const tdm_sig_profile *prof = tdm_sig_profiles_find(&sig->profiles, profile);
    if (!prof)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_UNKNOWN_PROFILE, "no such profile");
    tdm_sig_participant_row a, t;
    tdm_sig_session_row s;
    tdm_sig_user u;
    bool found = false;
    tdm_status st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if ((st = tdm_sig__load_owner(sig, actor_pid, &a, &s, err)) != TDM_OK ||
        (st = tdm_sig__load_target(sig, &s, target_pid, &t, err)) != TDM_OK)
        goto out;
    if (t.kind == TDM_SIG_KIND_CUSTOMER) {
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST,
                             "the customer's input is not filtered here");
        goto out;
    }
    if (t.kind == TDM_SIG_KIND_INVITED) {
        if ((st = tdm_sig_store_user_get_id(sig->store, a.user_id, &u, &found,
                                            tdm_sig__detail(err))) != TDM_OK)
            goto out;
        if (!found || !u.may_invite || !tdm_sig__in_list(u.invite_profiles, prof->name)) {
            st = tdm_sig__refuse(err, TDM_SIG_REFUSE_PROFILE_NOT_ALLOWED,
                                 "an invitee may only get one of the owner's invite profiles");
            goto out;
        }
    }
    if ((st = tdm_sig_store_participant_set_profile(sig->store, t.id, prof->name,
                                                    tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig__audit(sig->store, s.id, now_ms, a.id, "profile_changed", t.id,
                             json_pack("{s:s,s:s}", "from", t.profile, "to", prof->name),
                             tdm_sig__detail(err))) != TDM_OK)
        goto out;
out:
    st = tdm_sig__finish(sig, st, err);
    if (st == TDM_OK) {
        /* Effective for the next event: the live entry switches now that
         * the change is recorded. */
        live *l = tdm_sig__live_find(sig, t.id);
        if (l)
            l->profile = prof;
    }
    return st;
}

tdm_status tdm_signal_end(tdm_signal *sig, const char *actor_pid, int64_t now_ms,
                          tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "end: NULL argument");
    int64_t now_s = now_ms / 1000;
    tdm_sig_participant_row a;
    tdm_sig_session_row s;
    tdm_sig_participant_row *rows = NULL;
    size_t n = 0;
    int revoked = 0;
    tdm_status st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if ((st = tdm_sig__load_owner(sig, actor_pid, &a, &s, err)) != TDM_OK)
        goto out;
    if ((st = tdm_sig__list_present(sig, s.id, &rows, &n, tdm_sig__detail(err))) != TDM_OK)
        goto out;
    for (size_t i = 0; i < n; i++)
        if ((st = tdm_sig__live_forget(sig, rows[i].id, tdm_sig__detail(err))) != TDM_OK ||
            (st = tdm_sig_store_participant_set_left(sig->store, rows[i].id, now_s,
                                                     tdm_sig__detail(err))) != TDM_OK)
            goto out;
    if ((st = tdm_sig_store_code_revoke_session(sig->store, s.id, now_s, tdm_sig__detail(err))) !=
            TDM_OK ||
        (st = tdm_sig_store_invite_revoke_session(sig->store, s.id, now_s, &revoked,
                                                  tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig_store_session_set_state(sig->store, s.id, TDM_SIG_STATE_ENDED, now_s,
                                              tdm_sig__detail(err))) != TDM_OK)
        goto out;
    st = tdm_sig__audit(sig->store, s.id, now_ms, a.id, "session_ended", s.id,
                        json_pack("{s:i,s:i}", "participants", (int)n, "invites_revoked", revoked),
                        tdm_sig__detail(err));
out:
    free(rows);
    return tdm_sig__finish(sig, st, err);
}

tdm_status tdm_signal_participant(tdm_signal *sig, const char *pid, tdm_sig_participant_row *out,
                                  tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !out)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "participant: NULL argument");
    tdm_sig_session_row s;
    return tdm_sig__load_actor(sig, pid, out, &s, err);
}

tdm_status tdm_signal_session_json(tdm_signal *sig, const char *session_id, char **json,
                                   tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !json)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "session_json: NULL argument");
    *json = NULL;
    tdm_sig_session_row s;
    bool found = false;
    tdm_status st = tdm_sig_store_session_get(sig->store, session_id ? session_id : "", &s, &found,
                                              tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if (!found)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_FOUND, "no such session");
    tdm_sig_participant_row *rows = NULL;
    size_t n = 0;
    st = tdm_sig__list_present(sig, s.id, &rows, &n, tdm_sig__detail(err));
    json_t *list = json_array();
    for (size_t i = 0; st == TDM_OK && i < n; i++)
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "id", rows[i].id, "kind",
                                              tdm_sig_kind_name(rows[i].kind), "name",
                                              rows[i].display_name, "profile", rows[i].profile,
                                              "invited_by", rows[i].invited_by, "owner",
                                              strcmp(rows[i].id, s.owner) == 0));
    free(rows);
    json_t *doc = json_pack("{s:s,s:s,s:s,s:o}", "session", s.id, "state",
                            tdm_sig_state_name(s.state), "owner", s.owner, "participants", list);
    if (st == TDM_OK && (!doc || !(*json = json_dumps(doc, JSON_COMPACT))))
        st = tdm_fail(tdm_sig__detail(err), TDM_ERR_NOMEM, "out of memory");
    json_decref(doc);
    return st;
}
