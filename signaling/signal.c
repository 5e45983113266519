/* signal.c: the signaling core's state and shared helpers — refusals,
 * ids, name checks, audit entries, transactions, the in-memory table of
 * live participants — and its lifecycle (tdm_signal.h; the operations are
 * in signal_*.c, see signal_internal.h). */
#include "signal_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

/* --- refusals --- */

static const struct {
    const char *name;
    int http;
} refusals[] = {
#define TDM_SIG_REFUSAL_ROW(e, name, http) {name, http},
    TDM_SIG_REFUSAL_MAP(TDM_SIG_REFUSAL_ROW)
#undef TDM_SIG_REFUSAL_ROW
};

const char *tdm_sig_refusal_name(tdm_sig_refusal r)
{
    return (unsigned)r < TDM_SIG_REFUSAL_COUNT ? refusals[r].name : "unknown";
}

int tdm_sig_refusal_http_status(tdm_sig_refusal r)
{
    return (unsigned)r < TDM_SIG_REFUSAL_COUNT ? refusals[r].http : 500;
}

tdm_status tdm_sig__refuse(tdm_signal_error *err, tdm_sig_refusal why, const char *fmt, ...)
{
    if (err) {
        err->why = why;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->detail.msg, sizeof err->detail.msg, fmt, ap);
        va_end(ap);
    }
    return TDM_ERR_INVALID;
}

tdm_error *tdm_sig__detail(tdm_signal_error *err)
{
    if (!err)
        return NULL;
    err->why = TDM_SIG_REFUSE_NONE;
    return &err->detail;
}

void tdm_sig__clear_err(tdm_signal_error *err)
{
    if (err) {
        err->why = TDM_SIG_REFUSE_NONE;
        err->detail.msg[0] = '\0';
    }
}

/* --- helpers --- */

tdm_status tdm_sig__random_bytes(tdm_signal *sig, uint8_t *buf, size_t n, tdm_error *err)
{
    if (sig->cfg.random)
        return sig->cfg.random(sig->cfg.random_ctx, buf, n);
    if (RAND_bytes(buf, (int)n) != 1)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "no random bytes");
    return TDM_OK;
}

/* "s_" + 24 hex digits: 96 random bits, valid in tokens and URLs. */
tdm_status tdm_sig__new_id(tdm_signal *sig, char prefix, char out[TDM_SIG_ID_CAP], tdm_error *err)
{
    uint8_t r[12];
    tdm_status st = tdm_sig__random_bytes(sig, r, sizeof r, err);
    if (st != TDM_OK)
        return st;
    out[0] = prefix;
    out[1] = '_';
    tdm_sig_hex(r, sizeof r, out + 2);
    return TDM_OK;
}

/* Display names are shown to other participants and written to the audit
 * log as JSON: printable, valid UTF-8 (shortest forms, no surrogates). */
bool tdm_sig__display_name_ok(const char *s)
{
    size_t n = s ? strnlen(s, TDM_SIG_NAME_MAX + 1) : 0;
    if (n == 0 || n > TDM_SIG_NAME_MAX)
        return false;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p;
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (len == 0 || (size_t)(end - p) < len || c < 0x20 || c == 0x7f || c == 0xc0 || c == 0xc1)
            return false;
        uint32_t cp = len == 1 ? c : c & (0x7fu >> len);
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3fu);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += len;
    }
    return true;
}

bool tdm_sig__user_name_ok(const char *s)
{
    size_t n = s ? strnlen(s, TDM_SIG_NAME_MAX + 1) : 0;
    if (n == 0 || n > TDM_SIG_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-'))
            return false;
    }
    return true;
}

/* Is name one of the comma-separated list? */
bool tdm_sig__in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

bool tdm_sig__profile_list_ok(const char *list)
{
    if (!list || !*list)
        return true;
    char buf[TDM_SIG_PROFILE_LIST_CAP];
    if (strlen(list) >= sizeof buf)
        return false;
    strcpy(buf, list);
    if (buf[0] == ',' || buf[strlen(buf) - 1] == ',' || strstr(buf, ",,"))
        return false;
    char *save = NULL;
    for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
        if (!tdm_sig_profile_name_ok(p))
            return false;
    return true;
}

/* Appends an audit entry built from a jansson object (stolen). The detail
 * is written compact with sorted keys, so equal content is equal bytes. */
tdm_status tdm_sig__audit(tdm_sig_store *store, const char *chain, int64_t now_ms,
                          const char *actor, const char *kind, const char *subject,
                          json_t *detail_obj, tdm_error *err)
{
    /* json_pack returns NULL on bad UTF-8 or no memory: an entry without
     * its detail is not written (the operation fails with it). */
    if (!detail_obj)
        return tdm_fail(err, TDM_ERR_NOMEM, "audit: cannot build the %s entry", kind);
    char *text = json_dumps(detail_obj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(detail_obj);
    if (!text)
        return tdm_fail(err, TDM_ERR_NOMEM, "audit: cannot serialize detail");
    tdm_status st =
        tdm_sig_store_audit_append(store, chain, now_ms, actor, kind, subject, text, NULL, err);
    free(text);
    return st;
}

/* Commits, or rolls back if anything before failed. */
tdm_status tdm_sig__finish(tdm_signal *sig, tdm_status st, tdm_signal_error *err)
{
    if (st == TDM_OK)
        st = tdm_sig_store_commit(sig->store, tdm_sig__detail(err));
    if (st != TDM_OK)
        tdm_sig_store_rollback(sig->store);
    return st;
}

/* --- the live participant table --- */

static unsigned live_hash(const char *pid)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *pid; pid++)
        h = (h ^ (uint8_t)*pid) * 16777619u;
    return h % LIVE_BUCKETS;
}

live *tdm_sig__live_find(tdm_signal *sig, const char *pid)
{
    for (live *l = sig->live[live_hash(pid)]; l; l = l->next)
        if (strcmp(l->pid, pid) == 0)
            return l;
    return NULL;
}

void tdm_sig__live_add(tdm_signal *sig, live *l)
{
    unsigned b = live_hash(l->pid);
    l->next = sig->live[b];
    sig->live[b] = l;
}

void tdm_sig__live_drop(tdm_signal *sig, const char *pid)
{
    for (live **pp = &sig->live[live_hash(pid)]; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->pid, pid) == 0) {
            live *l = *pp;
            *pp = l->next;
            free(l);
            return;
        }
}

static tdm_status write_count(tdm_signal *sig, live *l, per_second *c, const char *kind,
                              int64_t before_sec, tdm_error *err)
{
    if (c->n == 0 || c->sec >= before_sec)
        return TDM_OK;
    json_t *d = json_pack("{s:I,s:I,s:s}", "count", (json_int_t)c->n, "second", (json_int_t)c->sec,
                          "profile", l->profile->name);
    tdm_status st =
        tdm_sig__audit(sig->store, l->session_id, c->sec * 1000, l->pid, kind, l->pid, d, err);
    if (st == TDM_OK)
        c->n = 0;
    return st;
}

/* Writes l's per-second counts for seconds before before_sec (inside a
 * transaction). */
tdm_status tdm_sig__live_write_count(tdm_signal *sig, live *l, int64_t before_sec, tdm_error *err)
{
    tdm_status st = write_count(sig, l, &l->allowed, "input_allowed", before_sec, err);
    if (st == TDM_OK)
        st = write_count(sig, l, &l->denied_unlogged, "input_denied_counted", before_sec, err);
    return st;
}

/* Forgets a participant, writing its count first (inside a transaction). */
tdm_status tdm_sig__live_forget(tdm_signal *sig, const char *pid, tdm_error *err)
{
    live *l = tdm_sig__live_find(sig, pid);
    if (!l)
        return TDM_OK;
    tdm_status st = tdm_sig__live_write_count(sig, l, INT64_MAX, err);
    if (st == TDM_OK)
        tdm_sig__live_drop(sig, pid);
    return st;
}

/* Present participants of a session in join order, in a malloc'd array
 * (free() it; NULL when there are none). */
tdm_status tdm_sig__list_present(tdm_signal *sig, const char *session_id,
                                 tdm_sig_participant_row **rows, size_t *n, tdm_error *err)
{
    *rows = NULL;
    size_t cap = 16;
    for (;;) {
        tdm_sig_participant_row *r = calloc(cap, sizeof *r);
        if (!r)
            return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
        tdm_status st =
            tdm_sig_store_participant_list(sig->store, session_id, true, r, cap, n, err);
        if (st != TDM_OK || *n <= cap) {
            if (st == TDM_OK)
                *rows = r;
            else
                free(r);
            return st;
        }
        free(r); /* more than we had room for: ask again with room for all */
        cap = *n;
    }
}

/* --- lifecycle --- */

tdm_status tdm_signal_new(const tdm_signal_config *cfg, tdm_signal **out, tdm_error *err)
{
    if (!cfg || !out || !cfg->db_path)
        return tdm_fail(err, TDM_ERR_INVALID, "signal_new: NULL argument");
    *out = NULL;
    if (!cfg->token_secret || cfg->token_secret_len < TDM_TOKEN_SECRET_MIN ||
        cfg->token_secret_len > 256)
        return tdm_fail(err, TDM_ERR_INVALID, "signal: token secret must be %d..256 bytes",
                        TDM_TOKEN_SECRET_MIN);
    if (cfg->turn_secret && (cfg->turn_secret_len == 0 || cfg->turn_secret_len > 256))
        return tdm_fail(err, TDM_ERR_INVALID, "signal: TURN secret must be 1..256 bytes");
    /* An all-zero key is a configuration that forgot to set it. */
    static const uint8_t zero[32];
    if (CRYPTO_memcmp(cfg->master_key, zero, sizeof cfg->master_key) == 0 ||
        CRYPTO_memcmp(cfg->digest_key, zero, sizeof cfg->digest_key) == 0)
        return tdm_fail(err, TDM_ERR_INVALID, "signal: master and digest keys must be set");
    tdm_signal *sig = calloc(1, sizeof *sig);
    if (!sig)
        return tdm_fail(err, TDM_ERR_NOMEM, "signal_new: out of memory");
    sig->cfg = *cfg;
    if (cfg->profiles)
        sig->profiles = *cfg->profiles;
    else
        tdm_sig_profiles_builtin(&sig->profiles);
    sig->cfg.profiles = &sig->profiles;
    memcpy(sig->token_secret, cfg->token_secret, cfg->token_secret_len);
    sig->cfg.token_secret = sig->token_secret;
    if (cfg->turn_secret) {
        memcpy(sig->turn_secret, cfg->turn_secret, cfg->turn_secret_len);
        sig->cfg.turn_secret = sig->turn_secret;
    }
    snprintf(sig->rep_profile, sizeof sig->rep_profile, "%s",
             cfg->rep_profile ? cfg->rep_profile : "control");
    sig->cfg.rep_profile = sig->rep_profile;
    sig->cfg.db_path = NULL; /* not kept: the caller's string */
#define DEFAULT(f, v)                                                                              \
    if (sig->cfg.f <= 0)                                                                           \
        sig->cfg.f = (v);
    DEFAULT(join_code_ttl_s, 600)
    DEFAULT(invite_ttl_default_s, 7200)
    DEFAULT(invite_ttl_max_s, 86400)
    DEFAULT(relay_token_ttl_s, 300)
    DEFAULT(turn_ttl_s, 3600)
    DEFAULT(login_ttl_s, 12 * 3600)
#undef DEFAULT
    if (sig->cfg.invite_ttl_default_s > sig->cfg.invite_ttl_max_s)
        sig->cfg.invite_ttl_default_s = sig->cfg.invite_ttl_max_s;
    if (!tdm_sig_profiles_find(&sig->profiles, sig->rep_profile)) {
        tdm_status st = tdm_fail(err, TDM_ERR_INVALID, "signal: rep profile '%s' is not defined",
                                 sig->rep_profile);
        tdm_signal_free(sig);
        return st;
    }
    tdm_status st = tdm_sig_store_open(cfg->db_path, &sig->store, err);
    if (st != TDM_OK) {
        tdm_signal_free(sig);
        return st;
    }
    *out = sig;
    return TDM_OK;
}

void tdm_signal_free(tdm_signal *sig)
{
    if (!sig)
        return;
    if (sig->store && tdm_sig_store_begin(sig->store, NULL) == TDM_OK) {
        for (unsigned b = 0; b < LIVE_BUCKETS; b++)
            for (live *l = sig->live[b]; l; l = l->next)
                tdm_sig__live_write_count(sig, l, INT64_MAX, NULL);
        if (tdm_sig_store_commit(sig->store, NULL) != TDM_OK)
            tdm_sig_store_rollback(sig->store);
    }
    for (unsigned b = 0; b < LIVE_BUCKETS; b++)
        while (sig->live[b]) {
            live *l = sig->live[b];
            sig->live[b] = l->next;
            free(l);
        }
    tdm_sig_store_close(sig->store);
    OPENSSL_cleanse(sig, sizeof *sig);
    free(sig);
}

tdm_sig_store *tdm_signal_store(tdm_signal *sig)
{
    return sig ? sig->store : NULL;
}

/* --- reading state --- */

/* Loads session and participant for an operation by pid: the participant
 * must be present and its session not ended. */
tdm_status tdm_sig__load_actor(tdm_signal *sig, const char *pid, tdm_sig_participant_row *p,
                               tdm_sig_session_row *s, tdm_signal_error *err)
{
    bool found = false;
    tdm_status st =
        tdm_sig_store_participant_get(sig->store, pid ? pid : "", p, &found, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if (!found)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_FOUND, "no such participant");
    if ((st = tdm_sig_store_session_get(sig->store, p->session_id, s, &found,
                                        tdm_sig__detail(err))) != TDM_OK)
        return st;
    if (!found)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_FOUND, "no such session");
    if (s->state == TDM_SIG_STATE_ENDED)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_SESSION_ENDED, "the session has ended");
    if (p->left_s)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_PRESENT, "participant has left the session");
    return TDM_OK;
}

/* load_actor plus: the actor owns the session. */
tdm_status tdm_sig__load_owner(tdm_signal *sig, const char *pid, tdm_sig_participant_row *p,
                               tdm_sig_session_row *s, tdm_signal_error *err)
{
    tdm_status st = tdm_sig__load_actor(sig, pid, p, s, err);
    if (st != TDM_OK)
        return st;
    /* Checked by kind as well as by id: an invitee is never an owner, even
     * if a row said so. */
    if (p->kind != TDM_SIG_KIND_REP)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_A_REP, "only reps may do this");
    if (strcmp(s->owner, p->id) != 0)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_OWNER,
                               "only the session's owner may do this");
    return TDM_OK;
}

/* A present participant of the same session as the actor. */
tdm_status tdm_sig__load_target(tdm_signal *sig, const tdm_sig_session_row *s, const char *pid,
                                tdm_sig_participant_row *t, tdm_signal_error *err)
{
    bool found = false;
    tdm_status st =
        tdm_sig_store_participant_get(sig->store, pid ? pid : "", t, &found, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if (!found || strcmp(t->session_id, s->id) != 0)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_FOUND,
                               "no such participant in this session");
    if (t->left_s)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_PRESENT, "participant has left the session");
    return TDM_OK;
}

tdm_status tdm_sig__load_rep_user(tdm_signal *sig, const char *name, tdm_sig_user *u,
                                  tdm_signal_error *err)
{
    bool found = false;
    tdm_status st =
        tdm_sig_store_user_get(sig->store, name ? name : "", u, &found, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if (!found)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_FOUND, "no such user");
    if (u->role == TDM_SIG_ROLE_AUDITOR)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_NOT_A_REP,
                               "auditors cannot take part in sessions");
    return TDM_OK;
}

void tdm_sig__fill_joined(const tdm_sig_participant_row *p, tdm_signal_joined *out)
{
    snprintf(out->session_id, sizeof out->session_id, "%s", p->session_id);
    snprintf(out->participant_id, sizeof out->participant_id, "%s", p->id);
    out->kind = p->kind;
    snprintf(out->profile, sizeof out->profile, "%s", p->profile);
}

tdm_status tdm_sig__participant_insert(tdm_signal *sig, tdm_sig_participant_row *p,
                                       char secret[TDM_SIG_LINK_TOKEN_CAP], tdm_error *err)
{
    uint8_t rnd[TDM_SIG_LINK_TOKEN_BYTES];
    tdm_status st = tdm_sig__random_bytes(sig, rnd, sizeof rnd, err);
    if (st != TDM_OK)
        return st;
    tdm_sig_link_token_format(rnd, secret);
    OPENSSL_cleanse(rnd, sizeof rnd);
    if ((st = tdm_sig_secret_digest(sig->cfg.digest_key, sizeof sig->cfg.digest_key, "participant",
                                    secret, p->secret_digest, err)) != TDM_OK)
        return st;
    return tdm_sig_store_participant_insert(sig->store, p, err);
}

tdm_status tdm_signal_participant_auth(tdm_signal *sig, const char *secret, int64_t now_ms,
                                       tdm_sig_participant_row *out, tdm_signal_error *err)
{
    (void)now_ms; /* validity follows the participant and session, not a clock */
    tdm_sig__clear_err(err);
    if (!sig || !out)
        return tdm_fail(tdm_sig__detail(err), TDM_ERR_INVALID, "participant_auth: NULL argument");
    memset(out, 0, sizeof *out);
    uint8_t digest[TDM_SIG_DIGEST_LEN];
    if (!secret || !*secret || strnlen(secret, TDM_SIG_LINK_TOKEN_CAP) >= TDM_SIG_LINK_TOKEN_CAP ||
        tdm_sig_secret_digest(sig->cfg.digest_key, sizeof sig->cfg.digest_key, "participant",
                              secret, digest, NULL) != TDM_OK)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_CREDENTIALS,
                               "unknown participant credential");
    bool found = false;
    tdm_status st =
        tdm_sig_store_participant_by_secret(sig->store, digest, out, &found, tdm_sig__detail(err));
    if (st != TDM_OK)
        return st;
    if (!found)
        return tdm_sig__refuse(err, TDM_SIG_REFUSE_BAD_CREDENTIALS,
                               "unknown participant credential");
    char pid[TDM_SIG_ID_CAP];
    snprintf(pid, sizeof pid, "%s", out->id);
    tdm_sig_session_row s;
    st = tdm_sig__load_actor(sig, pid, out, &s, err);
    if (st != TDM_OK)
        memset(out, 0, sizeof *out);
    return st;
}
