/* signal_accounts.c: accounts and reps' logins — adding users, checking
 * passwords, bearer tokens for the rep console (tdm_signal.h). */
#include "signal_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

tdm_status tdm_signal_user_add(tdm_sig_store *store, const tdm_signal_new_user *u, int64_t now_ms,
                               tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!store || !u)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "user_add: NULL argument");
    if (!tdm_sig__user_name_ok(u->name))
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST,
                               "user name must be 1..%d of [A-Za-z0-9._@-]", TDM_SIG_NAME_MAX);
    if (u->role < TDM_SIG_ROLE_REP || u->role > TDM_SIG_ROLE_AUDITOR)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST, "unknown role");
    if (!tdm_sig__profile_list_ok(u->invite_profiles))
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST,
                               "invite profiles must be a comma-separated list of profile names");
    if (u->may_invite && (!u->invite_profiles || !*u->invite_profiles))
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST,
                               "a user who may invite needs at least one invite profile");
    tdm_sig_user row;
    memset(&row, 0, sizeof row);
    snprintf(row.name, sizeof row.name, "%s", u->name);
    row.role = u->role;
    row.may_invite = u->may_invite;
    snprintf(row.invite_profiles, sizeof row.invite_profiles, "%s",
             u->invite_profiles ? u->invite_profiles : "");
    tdm_error herr = {{0}};
    tdm_status st = tdm_sig_password_hash(u->password, u->password_len, u->scrypt,
                                          row.password_hash, sizeof row.password_hash, &herr);
    if (st == TDM_ERR_INVALID)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST, "%s", herr.msg);
    if (st != TDM_OK)
        return tdm_fail(tdm_sig__detail(err), st, "%s", herr.msg);
    if ((st = tdm_sig_store_begin(store, tdm_sig__detail(err))) != TDM_OK)
        return st;
    int64_t id = 0;
    st = tdm_sig_store_user_add(store, &row, now_ms / 1000, &id, tdm_sig__detail(err));
    if (st == TDM_ERR_INVALID) {
        tdm_sig_store_rollback(store);
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_REQUEST, "user '%s' already exists",
                               u->name);
    }
    if (st == TDM_OK)
        st = tdm_sig__audit(store, TDM_SIG_AUDIT_SYSTEM_CHAIN, now_ms,
                            u->added_by ? u->added_by : "cli", "user_added", row.name,
                            json_pack("{s:s,s:b,s:s}", "role", tdm_sig_role_name(row.role),
                                      "may_invite", row.may_invite, "invite_profiles",
                                      row.invite_profiles),
                            tdm_sig__detail(err));
    if (st == TDM_OK)
        st = tdm_sig_store_commit(store, tdm_sig__detail(err));
    if (st != TDM_OK)
        tdm_sig_store_rollback(store);
    return st;
}

tdm_status tdm_signal_login(tdm_signal *sig, const char *name, const char *password,
                            size_t password_len, int64_t now_ms, tdm_signal_login_result *out,
                            tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !out || !password)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "login: NULL argument");
    memset(out, 0, sizeof *out);
    bool found = false;
    tdm_status st = TDM_OK;
    if (tdm_sig__user_name_ok(name))
        st = tdm_sig_store_user_get(sig->store, name, &out->user, &found, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    /* Unknown users cost the same scrypt as known ones, so timing does not
     * tell which names exist. The dummy is a valid hash of nothing sayable. */
    static const char dummy[] = "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
                                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    bool ok = false;
    st = tdm_sig_password_check(password, password_len, found ? out->user.password_hash : dummy,
                                &ok, tdm_sig__detail(err));
    /* The hash has done its work; it does not leave this function. */
    OPENSSL_cleanse(out->user.password_hash, sizeof out->user.password_hash);
    if (st == TDM_OK && (!found || !ok))
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_CREDENTIALS, "wrong user name or password");
    uint8_t rnd[TDM_SIG_LINK_TOKEN_BYTES], digest[TDM_SIG_DIGEST_LEN];
    if (st == TDM_OK &&
        (st = tdm_sig__random_bytes(sig, rnd, sizeof rnd, tdm_sig__detail(err))) == TDM_OK) {
        tdm_sig_link_token_format(rnd, out->token);
        OPENSSL_cleanse(rnd, sizeof rnd);
        out->expires_s = now_ms / 1000 + sig->cfg.login_ttl_s;
        st = tdm_sig_secret_digest(sig->cfg.digest_key, sizeof sig->cfg.digest_key, "login",
                                   out->token, digest, tdm_sig__detail(err));
    }
    if (st == TDM_OK && (st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err))) == TDM_OK) {
        if ((st = tdm_sig_store_login_insert(sig->store, digest, out->user.id, now_ms / 1000,
                                             out->expires_s, tdm_sig__detail(err))) == TDM_OK)
            st = tdm_sig__audit(sig->store, TDM_SIG_AUDIT_SYSTEM_CHAIN, now_ms, out->user.name,
                                "login", out->user.name,
                                json_pack("{s:s,s:I}", "role", tdm_sig_role_name(out->user.role),
                                          "expires_s", (json_int_t)out->expires_s),
                                tdm_sig__detail(err));
        st = tdm_sig__finish(sig, st, err);
    }
    if (st != TDM_OK)
        memset(out, 0, sizeof *out);
    return st;
}

/* The digest of a bearer token given bare or as "Bearer <token>". */
static bool bearer_digest(tdm_signal *sig, const char *bearer, uint8_t digest[TDM_SIG_DIGEST_LEN])
{
    if (!bearer)
        return false;
    if (strncasecmp(bearer, "Bearer ", 7) == 0)
        bearer += 7;
    while (*bearer == ' ')
        bearer++;
    size_t n = strnlen(bearer, TDM_SIG_LINK_TOKEN_CAP);
    if (n == 0 || n >= TDM_SIG_LINK_TOKEN_CAP)
        return false;
    return tdm_sig_secret_digest(sig->cfg.digest_key, sizeof sig->cfg.digest_key, "login", bearer,
                                 digest, NULL) == TDM_OK;
}

tdm_status tdm_signal_authenticate(tdm_signal *sig, const char *bearer, int64_t now_ms,
                                   tdm_sig_user *out, tdm_signal_error *err)
{
    tdm_sig__clear_err(err);
    if (!sig || !out)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "authenticate: NULL argument");
    memset(out, 0, sizeof *out);
    uint8_t digest[TDM_SIG_DIGEST_LEN];
    if (!bearer_digest(sig, bearer, digest))
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_CREDENTIALS, "not logged in");
    bool found = false;
    int64_t user_id = 0;
    tdm_status st = tdm_sig_store_login_find(sig->store, digest, now_ms / 1000, &user_id, &found,
                                             tdm_sig__detail(err));
    if (st == TDM_OK && found)
        st = tdm_sig_store_user_get_id(sig->store, user_id, out, &found, tdm_sig__detail(err));
    OPENSSL_cleanse(out->password_hash, sizeof out->password_hash);
    if (st == TDM_OK && !found)
        st = tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_CREDENTIALS,
                             "not logged in (or the login expired)");
    return st;
}

tdm_status tdm_signal_logout(tdm_signal *sig, const char *bearer, int64_t now_ms,
                             tdm_signal_error *err)
{
    tdm_sig_user u;
    tdm_status st = tdm_signal_authenticate(sig, bearer, now_ms, &u, err);
    if (st != TDM_OK)
        return st;
    uint8_t digest[TDM_SIG_DIGEST_LEN];
    bearer_digest(sig, bearer, digest);
    if ((st = tdm_sig_store_begin(sig->store, tdm_sig__detail(err))) != TDM_OK)
        return st;
    if ((st = tdm_sig_store_login_revoke(sig->store, digest, now_ms / 1000, NULL,
                                         tdm_sig__detail(err))) == TDM_OK)
        st = tdm_sig__audit(sig->store, TDM_SIG_AUDIT_SYSTEM_CHAIN, now_ms, u.name, "logout",
                            u.name, json_object(), tdm_sig__detail(err));
    return tdm_sig__finish(sig, st, err);
}
