/* signal_invite.c: Rep Invite — creating, revoking and accepting one-time,
 * expiring, profile-bound invites (tdm_signal.h). */
#include "signal_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

tdm_status tdm_signal_invite_create(tdm_signal *sig, const char *actor_pid, const char *profile,
                                    int64_t ttl_s, int64_t now_ms, tdm_signal_invite *out,
                                    tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !out)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "invite_create: NULL argument");
    memset(out, 0, sizeof *out);
    int64_t now_s = now_ms / 1000;
    if (ttl_s < 0)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST, "expiry must be positive");
    if (ttl_s == 0)
        ttl_s = sig->cfg.invite_ttl_default_s;
    if (ttl_s > sig->cfg.invite_ttl_max_s)
        ttl_s = sig->cfg.invite_ttl_max_s;
    tdm_sig_participant_row a;
    tdm_sig_session_row s;
    tdm_sig_user u;
    tdm_sig_invite_row inv;
    memset(&inv, 0, sizeof inv);
    bool found = false;
    uint8_t rnd[TDM_SIG_LINK_TOKEN_BYTES];
    tdm_status st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if ((st = tdm_sig__load_actor(sig, actor_pid, &a, &s, err)) != TDM_OK)
        goto out;
    if (a.kind != TDM_SIG_KIND_REP) {
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_A_REP, "only reps may invite");
        goto out;
    }
    if ((st = tdm_sig_store_user_get_id(sig->store, a.user_id, &u, &found, tdm_sig__detail(err))) !=
        TDM_OK)
        goto out;
    if (!found || !u.may_invite) {
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_INVITE_NOT_ALLOWED, "this rep may not invite");
        goto out;
    }
    const tdm_sig_profile *prof = tdm_sig_profiles_find(&sig->profiles, profile);
    if (!prof) {
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_UNKNOWN_PROFILE, "no such profile");
        goto out;
    }
    if (!tdm_sig__in_list(u.invite_profiles, prof->name)) {
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_PROFILE_NOT_ALLOWED,
                             "this rep may not invite with '%s'", prof->name);
        goto out;
    }
    if ((st = tdm_sig__new_id(sig, 'i', inv.id, tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig__random_bytes(sig, rnd, sizeof rnd, tdm_sig__detail(err))) != TDM_OK)
        goto out;
    tdm_sig_link_token_format(rnd, out->token);
    OPENSSL_cleanse(rnd, sizeof rnd);
    if ((st = tdm_sig_secret_digest(sig->cfg.digest_key, sizeof sig->cfg.digest_key, "invite",
                                    out->token, inv.token_digest, tdm_sig__detail(err))) != TDM_OK)
        goto out;
    snprintf(inv.session_id, sizeof inv.session_id, "%s", s.id);
    snprintf(inv.profile, sizeof inv.profile, "%s", prof->name);
    snprintf(inv.created_by, sizeof inv.created_by, "%s", a.id);
    inv.created_s = now_s;
    inv.expires_s = now_s + ttl_s;
    if ((st = tdm_sig_store_invite_insert(sig->store, &inv, tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig__audit(
             sig->store, s.id, now_ms, a.id, "invite_created", inv.id,
             json_pack("{s:s,s:I}", "profile", inv.profile, "expires_s", (json_int_t)inv.expires_s),
             tdm_sig__detail(err))) != TDM_OK)
        goto out;
    snprintf(out->invite_id, sizeof out->invite_id, "%s", inv.id);
    snprintf(out->profile, sizeof out->profile, "%s", inv.profile);
    out->expires_s = inv.expires_s;
out:
    st = tdm_sig__finish(sig, st, err);
    if (st != TDM_OK)
        memset(out, 0, sizeof *out);
    return st;
}

tdm_status tdm_signal_invite_revoke(tdm_signal *sig, const char *actor_pid, const char *invite_id,
                                    int64_t now_ms, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "invite_revoke: NULL argument");
    tdm_sig_participant_row a;
    tdm_sig_session_row s;
    tdm_sig_invite_row inv;
    bool found = false;
    tdm_status st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if ((st = tdm_sig__load_actor(sig, actor_pid, &a, &s, err)) != TDM_OK ||
        (st = tdm_sig_store_invite_get(sig->store, invite_id ? invite_id : "", &inv, &found,
                                       tdm_sig__detail(err))) != TDM_OK)
        goto out;
    if (!found || strcmp(inv.session_id, s.id) != 0) {
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_FOUND, "no such invite in this session");
        goto out;
    }
    if (a.kind != TDM_SIG_KIND_REP ||
        (strcmp(inv.created_by, a.id) != 0 && strcmp(s.owner, a.id) != 0)) {
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_OWNER,
                             "only the invite's creator or the owner may revoke it");
        goto out;
    }
    if (inv.used_s) {
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_INVITE_USED,
                             "the invite was used (remove the participant)");
        goto out;
    }
    if (inv.revoked_s)
        goto out; /* already revoked: nothing to do, nothing to record */
    if ((st = tdm_sig_store_invite_revoke(sig->store, inv.id, now_ms / 1000,
                                          tdm_sig__detail(err))) == TDM_OK)
        st = tdm_sig__audit(sig->store, s.id, now_ms, a.id, "invite_revoked", inv.id,
                            json_pack("{s:s}", "profile", inv.profile), tdm_sig__detail(err));
out:
    return tdm_sig__finish(sig, st, err);
}

tdm_status tdm_signal_invite_accept(tdm_signal *sig, const char *token, const char *display_name,
                                    int64_t now_ms, tdm_signal_joined *out, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !out)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "invite_accept: NULL argument");
    memset(out, 0, sizeof *out);
    int64_t now_s = now_ms / 1000;
    if (!token || strnlen(token, TDM_SIG_LINK_TOKEN_CAP) >= TDM_SIG_LINK_TOKEN_CAP)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_INVITE_UNKNOWN, "unknown invite");
    if (!tdm_sig__display_name_ok(display_name))
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST,
                               "display name must be 1..%d printable bytes", TDM_SIG_NAME_MAX);
    uint8_t digest[TDM_SIG_DIGEST_LEN];
    tdm_status st = tdm_sig_secret_digest(sig->cfg.digest_key, sizeof sig->cfg.digest_key, "invite",
                                          token, digest, tdm_sig__detail(err));
    if (st != TDM_OK || (st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err))) != TDM_OK)
        return st;
    tdm_sig_invite_row inv;
    tdm_sig_session_row s;
    tdm_sig_participant_row p;
    memset(&p, 0, sizeof p);
    bool found = false;
    if ((st = tdm_sig_store_invite_get_by_digest(sig->store, digest, &inv, &found,
                                                 tdm_sig__detail(err))) != TDM_OK)
        goto out;
    /* A forged token matches no digest; nothing to audit it against. */
    if (!found) {
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_INVITE_UNKNOWN, "unknown invite");
        goto out;
    }
    if ((st = tdm_sig_store_session_get(sig->store, inv.session_id, &s, &found,
                                        tdm_sig__detail(err))) != TDM_OK)
        goto out;
    tdm_sig_refusal why = TDM_SIG_REFUSE_NONE;
    if (!found || s.state == TDM_SIG_STATE_ENDED)
        why = TDM_SIG_REFUSE_SESSION_ENDED;
    else if (inv.revoked_s)
        why = TDM_SIG_REFUSE_INVITE_REVOKED;
    else if (inv.used_s)
        why = TDM_SIG_REFUSE_INVITE_USED;
    else if (now_s >= inv.expires_s)
        why = TDM_SIG_REFUSE_INVITE_EXPIRED;
    if (why != TDM_SIG_REFUSE_NONE) {
        /* A refused real invite is worth recording (someone holds a link);
         * the entry commits on its own. */
        bool first_expiry = why == TDM_SIG_REFUSE_INVITE_EXPIRED && !inv.expired_s;
        st = tdm_sig__audit(
            sig->store, inv.session_id, now_ms, "anonymous",
            first_expiry ? "invite_expired" : "invite_refused", inv.id,
            json_pack("{s:s,s:s}", "reason", tdm_sig_refusal_name(why), "name", display_name),
            tdm_sig__detail(err));
        if (st == TDM_OK && first_expiry)
            st = tdm_sig_store_invite_mark_expired(sig->store, inv.id, now_s, tdm_sig__detail(err));
        st = tdm_sig__finish(sig, st, err);
        return st != TDM_OK
                   ? st
                   : tdm_sig__refuse(err, why, "invite refused: %s", tdm_sig_refusal_name(why));
    }
    if ((st = tdm_sig__new_id(sig, 'p', p.id, tdm_sig__detail(err))) != TDM_OK)
        goto out;
    snprintf(p.session_id, sizeof p.session_id, "%s", s.id);
    p.kind = TDM_SIG_KIND_INVITED;
    snprintf(p.display_name, sizeof p.display_name, "%s", display_name);
    snprintf(p.profile, sizeof p.profile, "%s", inv.profile);
    snprintf(p.invited_by, sizeof p.invited_by, "%s", inv.created_by);
    p.joined_s = now_s;
    if ((st = tdm_sig__participant_insert(sig, &p, out->secret, tdm_sig__detail(err))) != TDM_OK ||
        (st = tdm_sig_store_invite_use(sig->store, inv.id, p.id, now_s, tdm_sig__detail(err))) !=
            TDM_OK ||
        (st = tdm_sig__audit(sig->store, s.id, now_ms, p.id, "invite_used", inv.id,
                             json_pack("{s:s}", "participant", p.id), tdm_sig__detail(err))) !=
            TDM_OK ||
        (st = tdm_sig__audit(sig->store, s.id, now_ms, p.id, "participant_joined", p.id,
                             json_pack("{s:s,s:s,s:s,s:s}", "kind", "invited", "name",
                                       p.display_name, "profile", p.profile, "invited_by",
                                       p.invited_by),
                             tdm_sig__detail(err))) != TDM_OK)
        goto out;
    tdm_sig__fill_joined(&p, out);
out:
    st = tdm_sig__finish(sig, st, err);
    if (st != TDM_OK) /* no credential for a participant that was not stored */
        memset(out, 0, sizeof *out);
    return st;
}
