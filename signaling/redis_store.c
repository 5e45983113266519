/* redis_store.c: signaling's state in Redis (tdm_redis_store.h). */
#include "tdm_redis_store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "tdm_redis_conn.h"

#define K_CAP 160
#define AUDIT_CAS_TRIES 256
#define AUDIT_PAGE 512
/* Ended sessions' records stay this long after a join code or login lapses
 * (seconds); they are reconstructible from the audit chain, which never expires. */
#define CODE_KEEP_S 86400

struct tdm_sig_rstore {
    tdm_redis_conn rc;
    char lock_token[33];
    bool locked;
};

/* --- helpers --- */

static void key(char out[K_CAP], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void key(char out[K_CAP], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, K_CAP, fmt, ap);
    va_end(ap);
}

static void hex(const uint8_t *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool unhex(const char *s, uint8_t *out, size_t n)
{
    if (!s || strlen(s) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return false;
        out[i] = (uint8_t)v;
    }
    return true;
}

static void args_init(tdm_redis_args *a)
{
    a->n = 0;
    a->overflow = false;
}

static redisReply *run(tdm_sig_rstore *s, const tdm_redis_args *a, tdm_status *st, tdm_error *err)
{
    return tdm_redis_conn_run(&s->rc, a, st, err);
}

/* Runs a and ignores the reply. */
static tdm_status run_ok(tdm_sig_rstore *s, const tdm_redis_args *a, tdm_error *err)
{
    tdm_status st;
    redisReply *r = run(s, a, &st, err);
    if (r)
        freeReplyObject(r);
    return st;
}

/* Runs a and returns its integer reply in *v. */
static tdm_status run_int(tdm_sig_rstore *s, const tdm_redis_args *a, long long *v,
                          tdm_error *err)
{
    tdm_status st;
    redisReply *r = run(s, a, &st, err);
    if (!r)
        return st;
    if (r->type != REDIS_REPLY_INTEGER)
        st = tdm_fail(err, TDM_ERR_IO, "redis: expected an integer reply");
    else
        *v = r->integer;
    freeReplyObject(r);
    return st;
}

/* GET k into out (cap bytes); *found false for a missing key. */
static tdm_status get_str(tdm_sig_rstore *s, const char *k, char *out, size_t cap, bool *found,
                          tdm_error *err)
{
    tdm_redis_args a;
    args_init(&a);
    tdm_redis_args_str(&a, "GET");
    tdm_redis_args_str(&a, k);
    tdm_status st;
    redisReply *r = tdm_redis_conn_run_idempotent(&s->rc, &a, &st, err);
    if (!r)
        return st;
    *found = r->type == REDIS_REPLY_STRING && r->len < cap;
    if (*found) {
        memcpy(out, r->str, r->len);
        out[r->len] = '\0';
    }
    freeReplyObject(r);
    return TDM_OK;
}

/* HGETALL k: the reply (caller frees) or NULL; *found = non-empty. */
static redisReply *hgetall(tdm_sig_rstore *s, const char *k, bool *found, tdm_status *st,
                           tdm_error *err)
{
    tdm_redis_args a;
    args_init(&a);
    tdm_redis_args_str(&a, "HGETALL");
    tdm_redis_args_str(&a, k);
    redisReply *r = tdm_redis_conn_run_idempotent(&s->rc, &a, st, err);
    *found = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2;
    return r;
}

static const redisReply *hf(const redisReply *r, const char *field)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, field) == 0)
            return r->element[i + 1];
    return NULL;
}

static void hcopy(const redisReply *r, const char *field, char *dst, size_t cap)
{
    const redisReply *v = hf(r, field);
    snprintf(dst, cap, "%.*s", v && v->type == REDIS_REPLY_STRING ? (int)v->len : 0,
             v && v->type == REDIS_REPLY_STRING ? v->str : "");
}

static int64_t hint(const redisReply *r, const char *field)
{
    const redisReply *v = hf(r, field);
    return v && v->type == REDIS_REPLY_STRING ? strtoll(v->str, NULL, 10) : 0;
}

static void hblob(const redisReply *r, const char *field, uint8_t *dst, size_t n)
{
    const redisReply *v = hf(r, field);
    memset(dst, 0, n);
    if (v && v->type == REDIS_REPLY_STRING && v->len == n)
        memcpy(dst, v->str, n);
}

/* EVAL script with nk keys then the rest of a (already holding KEYS and
 * ARGV after the first three slots, which this fills). */
static void eval_head(tdm_redis_args *a, const char *script, int nk)
{
    args_init(a);
    tdm_redis_args_str(a, "EVAL");
    tdm_redis_args_str(a, script);
    tdm_redis_args_int(a, nk);
}

/* Sets fields of an existing hash only (an UPDATE of a missing row is a no-op). */
static const char lua_hset_if_exists[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], unpack(ARGV)) "
    "return 1 end return 0";

/* Sets ARGV[3..] when field ARGV[1] equals ARGV[2] (a compare-and-set on one row). */
static const char lua_hset_if_field[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
    "local v = redis.call('HGET', KEYS[1], ARGV[1]) or '' "
    "if v ~= ARGV[2] then return 0 end "
    "redis.call('HSET', KEYS[1], unpack(ARGV, 3)) return 1";

static tdm_status hset_if_field(tdm_sig_rstore *s, const char *k, const char *field,
                                const char *expect, const char *f1, const char *v1,
                                const char *f2, const char *v2, long long *done, tdm_error *err)
{
    tdm_redis_args a;
    eval_head(&a, lua_hset_if_field, 1);
    tdm_redis_args_str(&a, k);
    tdm_redis_args_str(&a, field);
    tdm_redis_args_str(&a, expect);
    tdm_redis_args_str(&a, f1);
    tdm_redis_args_str(&a, v1);
    if (f2) {
        tdm_redis_args_str(&a, f2);
        tdm_redis_args_str(&a, v2);
    }
    long long v = 0;
    tdm_status st = run_int(s, &a, &v, err);
    if (done)
        *done = v;
    return st;
}

/* --- open, close, transactions --- */

tdm_status tdm_sig_rstore_open(const char *url, tdm_sig_rstore **out, tdm_error *err)
{
    *out = NULL;
    tdm_redis_addr addr;
    tdm_status st = tdm_redis_url_parse(url, &addr, err);
    if (st != TDM_OK)
        return st;
    tdm_sig_rstore *s = calloc(1, sizeof *s);
    if (!s)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    tdm_redis_conn_init(&s->rc, &addr, 2000);
    if ((st = tdm_redis_conn_ensure(&s->rc, err)) != TDM_OK) {
        tdm_sig_rstore_close(s);
        return st;
    }
    *out = s;
    return TDM_OK;
}

void tdm_sig_rstore_close(tdm_sig_rstore *s)
{
    if (!s)
        return;
    tdm_sig_rstore_rollback(s);
    tdm_redis_conn_drop(&s->rc);
    free(s);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

tdm_status tdm_sig_rstore_begin(tdm_sig_rstore *s, tdm_error *err)
{
    if (s->locked)
        return tdm_fail(err, TDM_ERR_INVALID, "store: a transaction is already open");
    uint8_t rnd[16];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "store: no random bytes for the lock");
    hex(rnd, sizeof rnd, s->lock_token);
    int64_t deadline = mono_ms() + TDM_REDIS_LOCK_WAIT_MS;
    for (;;) {
        tdm_redis_args a;
        args_init(&a);
        tdm_redis_args_str(&a, "SET");
        tdm_redis_args_str(&a, "tdm:lock");
        tdm_redis_args_str(&a, s->lock_token);
        tdm_redis_args_str(&a, "NX");
        tdm_redis_args_str(&a, "PX");
        tdm_redis_args_int(&a, TDM_REDIS_LOCK_LEASE_MS);
        tdm_status st;
        redisReply *r = run(s, &a, &st, err);
        if (!r)
            return st;
        bool got = r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (got) {
            s->locked = true;
            return TDM_OK;
        }
        if (mono_ms() > deadline)
            return tdm_fail(err, TDM_ERR_UNAVAILABLE,
                            TDM_REDIS_DOWN_PREFIX ": the store's write lock stayed taken for %d ms",
                            TDM_REDIS_LOCK_WAIT_MS);
        /* Held by another instance for a few round trips at most. */
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void unlock(tdm_sig_rstore *s)
{
    if (!s->locked)
        return;
    s->locked = false;
    tdm_redis_args a;
    eval_head(&a,
              "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
              "end return 0",
              1);
    tdm_redis_args_str(&a, "tdm:lock");
    tdm_redis_args_str(&a, s->lock_token);
    /* Failing to release is harmless: the lease lapses. */
    run_ok(s, &a, NULL);
}

tdm_status tdm_sig_rstore_commit(tdm_sig_rstore *s, tdm_error *err)
{
    (void)err;
    unlock(s);
    return TDM_OK;
}

void tdm_sig_rstore_rollback(tdm_sig_rstore *s)
{
    if (s)
        unlock(s);
}

/* --- users --- */

tdm_status tdm_sig_rstore_user_add(tdm_sig_rstore *s, const tdm_sig_user *u, int64_t now_s,
                                   int64_t *id, tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:user:%s", u->name);
    tdm_redis_args a;
    eval_head(&a,
              "if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end "
              "local id = redis.call('INCR', KEYS[2]) "
              "redis.call('HSET', KEYS[1], 'id', id, 'name', ARGV[1], 'hash', ARGV[2], 'role', "
              "ARGV[3], 'may_invite', ARGV[4], 'profiles', ARGV[5], 'created', ARGV[6]) "
              "redis.call('SET', ARGV[7] .. id, ARGV[1]) return id",
              2);
    tdm_redis_args_str(&a, k);
    tdm_redis_args_str(&a, "tdm:seq:user");
    tdm_redis_args_str(&a, u->name);
    tdm_redis_args_str(&a, u->password_hash);
    tdm_redis_args_str(&a, tdm_sig_role_name(u->role));
    tdm_redis_args_int(&a, u->may_invite);
    tdm_redis_args_str(&a, u->invite_profiles);
    tdm_redis_args_int(&a, now_s);
    tdm_redis_args_str(&a, "tdm:user_id:");
    long long v = 0;
    tdm_status st = run_int(s, &a, &v, err);
    if (st != TDM_OK)
        return st;
    if (v < 0)
        return tdm_fail(err, TDM_ERR_INVALID, "store: user '%s' exists", u->name);
    if (id)
        *id = v;
    return TDM_OK;
}

tdm_status tdm_sig_rstore_user_get(tdm_sig_rstore *s, const char *name, tdm_sig_user *out,
                                   bool *found, tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:user:%s", name);
    tdm_status st;
    redisReply *r = hgetall(s, k, found, &st, err);
    if (!r)
        return st;
    if (*found) {
        memset(out, 0, sizeof *out);
        out->id = hint(r, "id");
        hcopy(r, "name", out->name, sizeof out->name);
        hcopy(r, "hash", out->password_hash, sizeof out->password_hash);
        char role[16];
        hcopy(r, "role", role, sizeof role);
        if (!tdm_sig_role_parse(role, &out->role))
            st = tdm_fail(err, TDM_ERR_IO, "store: user '%s' has role '%s'", name, role);
        out->may_invite = hint(r, "may_invite") != 0;
        hcopy(r, "profiles", out->invite_profiles, sizeof out->invite_profiles);
    }
    freeReplyObject(r);
    return st;
}

tdm_status tdm_sig_rstore_user_get_id(tdm_sig_rstore *s, int64_t id, tdm_sig_user *out,
                                      bool *found, tdm_error *err)
{
    char k[K_CAP], name[TDM_SIG_NAME_MAX + 1];
    key(k, "tdm:user_id:%lld", (long long)id);
    tdm_status st = get_str(s, k, name, sizeof name, found, err);
    if (st != TDM_OK || !*found)
        return st;
    return tdm_sig_rstore_user_get(s, name, out, found, err);
}

/* --- sessions --- */

tdm_status tdm_sig_rstore_session_insert(tdm_sig_rstore *s, const tdm_sig_session_row *r,
                                         tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:sess:%s", r->id);
    tdm_redis_args a;
    eval_head(&a,
              "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end "
              "redis.call('HSET', KEYS[1], unpack(ARGV)) return 1",
              1);
    tdm_redis_args_str(&a, k);
    tdm_redis_args_str(&a, "owner");
    tdm_redis_args_str(&a, r->owner);
    tdm_redis_args_str(&a, "state");
    tdm_redis_args_int(&a, r->state);
    tdm_redis_args_str(&a, "created");
    tdm_redis_args_int(&a, r->created_s);
    tdm_redis_args_str(&a, "ended");
    tdm_redis_args_int(&a, 0);
    tdm_redis_args_str(&a, "key");
    tdm_redis_args_bin(&a, r->wrapped_key, sizeof r->wrapped_key);
    long long v = 0;
    tdm_status st = run_int(s, &a, &v, err);
    if (st == TDM_OK && v != 1)
        return tdm_fail(err, TDM_ERR_INVALID, "store: session %s exists", r->id);
    return st;
}

tdm_status tdm_sig_rstore_session_get(tdm_sig_rstore *s, const char *id, tdm_sig_session_row *out,
                                      bool *found, tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:sess:%s", id);
    tdm_status st;
    redisReply *r = hgetall(s, k, found, &st, err);
    if (!r)
        return st;
    if (*found) {
        memset(out, 0, sizeof *out);
        snprintf(out->id, sizeof out->id, "%s", id);
        hcopy(r, "owner", out->owner, sizeof out->owner);
        out->state = (tdm_sig_state)hint(r, "state");
        out->created_s = hint(r, "created");
        out->ended_s = hint(r, "ended");
        hblob(r, "key", out->wrapped_key, sizeof out->wrapped_key);
        out->customer_control = hint(r, "control") != 0; /* absent: shared */
    }
    freeReplyObject(r);
    return TDM_OK;
}

static tdm_status hset_if_exists(tdm_sig_rstore *s, const char *k, const char *f1,
                                 const char *v1, const char *f2, const char *v2, tdm_error *err)
{
    tdm_redis_args a;
    eval_head(&a, lua_hset_if_exists, 1);
    tdm_redis_args_str(&a, k);
    tdm_redis_args_str(&a, f1);
    tdm_redis_args_str(&a, v1);
    if (f2) {
        tdm_redis_args_str(&a, f2);
        tdm_redis_args_str(&a, v2);
    }
    return run_ok(s, &a, err);
}

tdm_status tdm_sig_rstore_session_set_owner(tdm_sig_rstore *s, const char *id, const char *owner,
                                            tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:sess:%s", id);
    return hset_if_exists(s, k, "owner", owner ? owner : "", NULL, NULL, err);
}

tdm_status tdm_sig_rstore_session_set_state(tdm_sig_rstore *s, const char *id, tdm_sig_state st,
                                            int64_t now_s, tdm_error *err)
{
    char k[K_CAP], sv[8], nv[24];
    key(k, "tdm:sess:%s", id);
    snprintf(sv, sizeof sv, "%d", (int)st);
    snprintf(nv, sizeof nv, "%lld", (long long)now_s);
    return hset_if_exists(s, k, "state", sv, st == TDM_SIG_STATE_ENDED ? "ended" : NULL, nv, err);
}

/* Read on the loop of every instance serving the session (welcome, each
 * change it hears, its SUBSCRIBE taking effect); written under the lock. */
tdm_status tdm_sig_rstore_session_set_control(tdm_sig_rstore *s, const char *id, bool customer,
                                              tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:sess:%s", id);
    return hset_if_exists(s, k, "control", customer ? "1" : "0", NULL, NULL, err);
}

/* --- participants --- */

tdm_status tdm_sig_rstore_participant_insert(tdm_sig_rstore *s, const tdm_sig_participant_row *r,
                                             tdm_error *err)
{
    char kp[K_CAP], ks[K_CAP], kl[K_CAP], dh[2 * TDM_SIG_DIGEST_LEN + 1];
    hex(r->secret_digest, TDM_SIG_DIGEST_LEN, dh);
    key(kp, "tdm:part:%s", r->id);
    key(ks, "tdm:part_secret:%s", dh);
    key(kl, "tdm:sess:%s:parts", r->session_id);
    tdm_redis_args a;
    eval_head(&a,
              "if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then "
              "return 0 end "
              "redis.call('HSET', KEYS[1], unpack(ARGV)) "
              "redis.call('SET', KEYS[2], ARGV[2]) redis.call('RPUSH', KEYS[3], ARGV[2]) return 1",
              3);
    tdm_redis_args_str(&a, kp);
    tdm_redis_args_str(&a, ks);
    tdm_redis_args_str(&a, kl);
    tdm_redis_args_str(&a, "id");
    tdm_redis_args_str(&a, r->id);
    tdm_redis_args_str(&a, "session");
    tdm_redis_args_str(&a, r->session_id);
    tdm_redis_args_str(&a, "kind");
    tdm_redis_args_int(&a, r->kind);
    tdm_redis_args_str(&a, "user");
    tdm_redis_args_int(&a, r->user_id);
    tdm_redis_args_str(&a, "name");
    tdm_redis_args_str(&a, r->display_name);
    tdm_redis_args_str(&a, "profile");
    tdm_redis_args_str(&a, r->profile);
    tdm_redis_args_str(&a, "invited_by");
    tdm_redis_args_str(&a, r->invited_by);
    tdm_redis_args_str(&a, "joined");
    tdm_redis_args_int(&a, r->joined_s);
    tdm_redis_args_str(&a, "left");
    tdm_redis_args_int(&a, 0);
    long long v = 0;
    tdm_status st = run_int(s, &a, &v, err);
    if (st == TDM_OK && v != 1)
        return tdm_fail(err, TDM_ERR_INVALID, "store: participant %s or its secret exists",
                        r->id);
    return st;
}

static tdm_status part_get(tdm_sig_rstore *s, const char *id, tdm_sig_participant_row *out,
                           bool *found, tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:part:%s", id);
    tdm_status st;
    redisReply *r = hgetall(s, k, found, &st, err);
    if (!r)
        return st;
    if (*found) {
        memset(out, 0, sizeof *out);
        hcopy(r, "id", out->id, sizeof out->id);
        hcopy(r, "session", out->session_id, sizeof out->session_id);
        out->kind = (tdm_sig_kind)hint(r, "kind");
        out->user_id = hint(r, "user");
        hcopy(r, "name", out->display_name, sizeof out->display_name);
        hcopy(r, "profile", out->profile, sizeof out->profile);
        hcopy(r, "invited_by", out->invited_by, sizeof out->invited_by);
        out->joined_s = hint(r, "joined");
        out->left_s = hint(r, "left");
    }
    freeReplyObject(r);
    return TDM_OK;
}

tdm_status tdm_sig_rstore_participant_get(tdm_sig_rstore *s, const char *id,
                                          tdm_sig_participant_row *out, bool *found,
                                          tdm_error *err)
{
    return part_get(s, id, out, found, err);
}

tdm_status tdm_sig_rstore_participant_by_secret(tdm_sig_rstore *s,
                                                const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                                tdm_sig_participant_row *out, bool *found,
                                                tdm_error *err)
{
    char k[K_CAP], dh[2 * TDM_SIG_DIGEST_LEN + 1], pid[TDM_SIG_ID_CAP];
    hex(digest, TDM_SIG_DIGEST_LEN, dh);
    key(k, "tdm:part_secret:%s", dh);
    tdm_status st = get_str(s, k, pid, sizeof pid, found, err);
    if (st != TDM_OK || !*found)
        return st;
    return part_get(s, pid, out, found, err);
}

tdm_status tdm_sig_rstore_participant_list(tdm_sig_rstore *s, const char *session_id,
                                           bool present_only, tdm_sig_participant_row *rows,
                                           size_t cap, size_t *n, tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:sess:%s:parts", session_id);
    tdm_redis_args a;
    args_init(&a);
    tdm_redis_args_str(&a, "LRANGE");
    tdm_redis_args_str(&a, k);
    tdm_redis_args_int(&a, 0);
    tdm_redis_args_int(&a, -1);
    tdm_status st;
    redisReply *r = run(s, &a, &st, err);
    if (!r)
        return st;
    *n = 0;
    for (size_t i = 0; st == TDM_OK && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        tdm_sig_participant_row row;
        bool found = false;
        if ((st = part_get(s, r->element[i]->str, &row, &found, err)) != TDM_OK)
            break;
        if (!found || (present_only && row.left_s != 0))
            continue;
        if (*n < cap)
            rows[*n] = row;
        (*n)++;
    }
    freeReplyObject(r);
    return st;
}

tdm_status tdm_sig_rstore_participant_set_profile(tdm_sig_rstore *s, const char *id,
                                                  const char *profile, tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:part:%s", id);
    return hset_if_exists(s, k, "profile", profile, NULL, NULL, err);
}

tdm_status tdm_sig_rstore_participant_set_left(tdm_sig_rstore *s, const char *id, int64_t now_s,
                                               tdm_error *err)
{
    char k[K_CAP], nv[24];
    key(k, "tdm:part:%s", id);
    snprintf(nv, sizeof nv, "%lld", (long long)now_s);
    return hset_if_field(s, k, "left", "0", "left", nv, NULL, NULL, NULL, err);
}

/* --- join codes --- */

tdm_status tdm_sig_rstore_code_insert(tdm_sig_rstore *s, const char *session_id,
                                      const uint8_t digest[TDM_SIG_DIGEST_LEN], int64_t expires_s,
                                      tdm_error *err)
{
    char kd[K_CAP], ks[K_CAP], dh[2 * TDM_SIG_DIGEST_LEN + 1];
    hex(digest, TDM_SIG_DIGEST_LEN, dh);
    key(kd, "tdm:code_digest:%s", dh);
    key(ks, "tdm:sess:%s:codes", session_id);
    tdm_redis_args a;
    eval_head(&a,
              "local id = redis.call('INCR', KEYS[1]) local k = ARGV[1] .. id "
              "redis.call('HSET', k, 'session', ARGV[2], 'expires', ARGV[3], 'used', 0, "
              "'revoked', 0) redis.call('EXPIREAT', k, ARGV[4]) "
              "redis.call('SET', KEYS[2], id) redis.call('EXPIREAT', KEYS[2], ARGV[4]) "
              "redis.call('SADD', KEYS[3], id) return id",
              3);
    tdm_redis_args_str(&a, "tdm:seq:code");
    tdm_redis_args_str(&a, kd);
    tdm_redis_args_str(&a, ks);
    tdm_redis_args_str(&a, "tdm:code:");
    tdm_redis_args_str(&a, session_id);
    tdm_redis_args_int(&a, expires_s);
    tdm_redis_args_int(&a, expires_s + CODE_KEEP_S);
    long long v = 0;
    return run_int(s, &a, &v, err);
}

tdm_status tdm_sig_rstore_code_find_live(tdm_sig_rstore *s,
                                         const uint8_t digest[TDM_SIG_DIGEST_LEN], int64_t now_s,
                                         char session_id[TDM_SIG_ID_CAP], int64_t *code_id,
                                         bool *found, tdm_error *err)
{
    char k[K_CAP], dh[2 * TDM_SIG_DIGEST_LEN + 1], id[24];
    hex(digest, TDM_SIG_DIGEST_LEN, dh);
    key(k, "tdm:code_digest:%s", dh);
    tdm_status st = get_str(s, k, id, sizeof id, found, err);
    if (st != TDM_OK || !*found)
        return st;
    key(k, "tdm:code:%s", id);
    redisReply *r = hgetall(s, k, found, &st, err);
    if (!r)
        return st;
    if (*found && hint(r, "used") == 0 && hint(r, "revoked") == 0 && hint(r, "expires") > now_s) {
        hcopy(r, "session", session_id, TDM_SIG_ID_CAP);
        *code_id = strtoll(id, NULL, 10);
    } else {
        *found = false;
    }
    freeReplyObject(r);
    return TDM_OK;
}

tdm_status tdm_sig_rstore_code_use(tdm_sig_rstore *s, int64_t code_id, int64_t now_s,
                                   tdm_error *err)
{
    char k[K_CAP], nv[24];
    key(k, "tdm:code:%lld", (long long)code_id);
    snprintf(nv, sizeof nv, "%lld", (long long)now_s);
    long long done = 0;
    tdm_status st = hset_if_field(s, k, "used", "0", "used", nv, NULL, NULL, &done, err);
    if (st == TDM_OK && !done)
        return tdm_fail(err, TDM_ERR_INVALID, "store: join code already used");
    return st;
}

tdm_status tdm_sig_rstore_code_revoke_session(tdm_sig_rstore *s, const char *session_id,
                                              int64_t now_s, tdm_error *err)
{
    char ks[K_CAP];
    key(ks, "tdm:sess:%s:codes", session_id);
    tdm_redis_args a;
    eval_head(&a,
              "for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do local k = ARGV[1] .. id "
              "if redis.call('HGET', k, 'used') == '0' and redis.call('HGET', k, 'revoked') == '0' "
              "then redis.call('HSET', k, 'revoked', ARGV[2]) end end return 1",
              1);
    tdm_redis_args_str(&a, ks);
    tdm_redis_args_str(&a, "tdm:code:");
    tdm_redis_args_int(&a, now_s);
    return run_ok(s, &a, err);
}

/* --- invites --- */

tdm_status tdm_sig_rstore_invite_insert(tdm_sig_rstore *s, const tdm_sig_invite_row *r,
                                        tdm_error *err)
{
    char ki[K_CAP], kd[K_CAP], ks[K_CAP], dh[2 * TDM_SIG_DIGEST_LEN + 1];
    hex(r->token_digest, TDM_SIG_DIGEST_LEN, dh);
    key(ki, "tdm:inv:%s", r->id);
    key(kd, "tdm:inv_digest:%s", dh);
    key(ks, "tdm:sess:%s:invites", r->session_id);
    tdm_redis_args a;
    eval_head(&a,
              "if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then "
              "return 0 end "
              "redis.call('HSET', KEYS[1], 'id', ARGV[1], 'session', ARGV[2], 'digest', ARGV[3], "
              "'profile', ARGV[4], 'created_by', ARGV[5], 'created', ARGV[6], 'expires', ARGV[7], "
              "'used', 0, 'used_by', '', 'revoked', 0, 'expired', 0) "
              "redis.call('SET', KEYS[2], ARGV[1]) redis.call('SADD', KEYS[3], ARGV[1]) "
              "redis.call('ZADD', KEYS[4], ARGV[7], ARGV[1]) return 1",
              4);
    tdm_redis_args_str(&a, ki);
    tdm_redis_args_str(&a, kd);
    tdm_redis_args_str(&a, ks);
    tdm_redis_args_str(&a, "tdm:inv_due");
    tdm_redis_args_str(&a, r->id);
    tdm_redis_args_str(&a, r->session_id);
    tdm_redis_args_bin(&a, r->token_digest, TDM_SIG_DIGEST_LEN);
    tdm_redis_args_str(&a, r->profile);
    tdm_redis_args_str(&a, r->created_by);
    tdm_redis_args_int(&a, r->created_s);
    tdm_redis_args_int(&a, r->expires_s);
    long long v = 0;
    tdm_status st = run_int(s, &a, &v, err);
    if (st == TDM_OK && v != 1)
        return tdm_fail(err, TDM_ERR_INVALID, "store: invite %s or its token exists", r->id);
    return st;
}

static tdm_status inv_get(tdm_sig_rstore *s, const char *id, tdm_sig_invite_row *out,
                          bool *found, tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:inv:%s", id);
    tdm_status st;
    redisReply *r = hgetall(s, k, found, &st, err);
    if (!r)
        return st;
    if (*found) {
        memset(out, 0, sizeof *out);
        hcopy(r, "id", out->id, sizeof out->id);
        hcopy(r, "session", out->session_id, sizeof out->session_id);
        hblob(r, "digest", out->token_digest, TDM_SIG_DIGEST_LEN);
        hcopy(r, "profile", out->profile, sizeof out->profile);
        hcopy(r, "created_by", out->created_by, sizeof out->created_by);
        out->created_s = hint(r, "created");
        out->expires_s = hint(r, "expires");
        out->used_s = hint(r, "used");
        out->revoked_s = hint(r, "revoked");
        hcopy(r, "used_by", out->used_by, sizeof out->used_by);
        out->expired_s = hint(r, "expired");
    }
    freeReplyObject(r);
    return TDM_OK;
}

tdm_status tdm_sig_rstore_invite_get(tdm_sig_rstore *s, const char *id, tdm_sig_invite_row *out,
                                     bool *found, tdm_error *err)
{
    return inv_get(s, id, out, found, err);
}

tdm_status tdm_sig_rstore_invite_get_by_digest(tdm_sig_rstore *s,
                                               const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                               tdm_sig_invite_row *out, bool *found,
                                               tdm_error *err)
{
    char k[K_CAP], dh[2 * TDM_SIG_DIGEST_LEN + 1], id[TDM_SIG_ID_CAP];
    hex(digest, TDM_SIG_DIGEST_LEN, dh);
    key(k, "tdm:inv_digest:%s", dh);
    tdm_status st = get_str(s, k, id, sizeof id, found, err);
    if (st != TDM_OK || !*found)
        return st;
    return inv_get(s, id, out, found, err);
}

/* A compare-and-set on an invite that also takes it off the due list. */
static const char lua_inv_cas[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
    "if redis.call('HGET', KEYS[1], ARGV[1]) ~= '0' then return 0 end "
    "redis.call('HSET', KEYS[1], unpack(ARGV, 3)) "
    "if ARGV[2] == '1' then redis.call('ZREM', KEYS[2], redis.call('HGET', KEYS[1], 'id')) end "
    "return 1";

static tdm_status inv_cas(tdm_sig_rstore *s, const char *id, const char *field, bool undue,
                          const char *f1, const char *v1, const char *f2, const char *v2,
                          long long *done, tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:inv:%s", id);
    tdm_redis_args a;
    eval_head(&a, lua_inv_cas, 2);
    tdm_redis_args_str(&a, k);
    tdm_redis_args_str(&a, "tdm:inv_due");
    tdm_redis_args_str(&a, field);
    tdm_redis_args_str(&a, undue ? "1" : "0");
    tdm_redis_args_str(&a, f1);
    tdm_redis_args_str(&a, v1);
    if (f2) {
        tdm_redis_args_str(&a, f2);
        tdm_redis_args_str(&a, v2);
    }
    long long v = 0;
    tdm_status st = run_int(s, &a, &v, err);
    if (done)
        *done = v;
    return st;
}

tdm_status tdm_sig_rstore_invite_use(tdm_sig_rstore *s, const char *id, const char *used_by,
                                     int64_t now_s, tdm_error *err)
{
    char nv[24];
    snprintf(nv, sizeof nv, "%lld", (long long)now_s);
    long long done = 0;
    tdm_status st = inv_cas(s, id, "used", true, "used", nv, "used_by", used_by, &done, err);
    if (st == TDM_OK && !done) /* the one-time rule holds even without the lock */
        return tdm_fail(err, TDM_ERR_INVALID, "store: invite %s already used", id);
    return st;
}

tdm_status tdm_sig_rstore_invite_revoke(tdm_sig_rstore *s, const char *id, int64_t now_s,
                                        tdm_error *err)
{
    char nv[24];
    snprintf(nv, sizeof nv, "%lld", (long long)now_s);
    return inv_cas(s, id, "revoked", true, "revoked", nv, NULL, NULL, NULL, err);
}

tdm_status tdm_sig_rstore_invite_revoke_session(tdm_sig_rstore *s, const char *session_id,
                                                int64_t now_s, int *n, tdm_error *err)
{
    char ks[K_CAP];
    key(ks, "tdm:sess:%s:invites", session_id);
    tdm_redis_args a;
    eval_head(&a,
              "local n = 0 for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
              "local k = ARGV[1] .. id "
              "if redis.call('HGET', k, 'used') == '0' and redis.call('HGET', k, 'revoked') == '0' "
              "then redis.call('HSET', k, 'revoked', ARGV[2]) redis.call('ZREM', KEYS[2], id) "
              "n = n + 1 end end return n",
              2);
    tdm_redis_args_str(&a, ks);
    tdm_redis_args_str(&a, "tdm:inv_due");
    tdm_redis_args_str(&a, "tdm:inv:");
    tdm_redis_args_int(&a, now_s);
    long long v = 0;
    tdm_status st = run_int(s, &a, &v, err);
    if (n)
        *n = st == TDM_OK ? (int)v : 0;
    return st;
}

tdm_status tdm_sig_rstore_invite_due(tdm_sig_rstore *s, int64_t now_s, size_t limit,
                                     tdm_sig_invite_row *rows, size_t *n, tdm_error *err)
{
    *n = 0;
    tdm_redis_args a;
    args_init(&a);
    tdm_redis_args_str(&a, "ZRANGEBYSCORE");
    tdm_redis_args_str(&a, "tdm:inv_due");
    tdm_redis_args_str(&a, "-inf");
    tdm_redis_args_int(&a, now_s);
    tdm_redis_args_str(&a, "LIMIT");
    tdm_redis_args_int(&a, 0);
    tdm_redis_args_int(&a, (int64_t)limit);
    tdm_status st;
    redisReply *r = run(s, &a, &st, err);
    if (!r)
        return st;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && *n < limit; i++) {
        tdm_sig_invite_row row;
        bool found = false;
        if ((st = inv_get(s, r->element[i]->str, &row, &found, err)) != TDM_OK)
            break;
        if (!found || row.used_s || row.revoked_s || row.expired_s)
            continue;
        rows[(*n)++] = row;
    }
    freeReplyObject(r);
    return st;
}

tdm_status tdm_sig_rstore_invite_mark_expired(tdm_sig_rstore *s, const char *id, int64_t now_s,
                                              tdm_error *err)
{
    char nv[24];
    snprintf(nv, sizeof nv, "%lld", (long long)now_s);
    return inv_cas(s, id, "expired", true, "expired", nv, NULL, NULL, NULL, err);
}

/* --- logins --- */

tdm_status tdm_sig_rstore_login_insert(tdm_sig_rstore *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                       int64_t user_id, int64_t now_s, int64_t expires_s,
                                       tdm_error *err)
{
    char k[K_CAP], dh[2 * TDM_SIG_DIGEST_LEN + 1];
    hex(digest, TDM_SIG_DIGEST_LEN, dh);
    key(k, "tdm:login:%s", dh);
    tdm_redis_args a;
    eval_head(&a,
              "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end "
              "redis.call('HSET', KEYS[1], 'user', ARGV[1], 'created', ARGV[2], 'expires', "
              "ARGV[3], 'revoked', 0) redis.call('EXPIREAT', KEYS[1], ARGV[3]) return 1",
              1);
    tdm_redis_args_str(&a, k);
    tdm_redis_args_int(&a, user_id);
    tdm_redis_args_int(&a, now_s);
    tdm_redis_args_int(&a, expires_s);
    long long v = 0;
    tdm_status st = run_int(s, &a, &v, err);
    if (st == TDM_OK && v != 1)
        return tdm_fail(err, TDM_ERR_INVALID, "store: login token exists");
    return st;
}

tdm_status tdm_sig_rstore_login_find(tdm_sig_rstore *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                     int64_t now_s, int64_t *user_id, bool *found,
                                     tdm_error *err)
{
    char k[K_CAP], dh[2 * TDM_SIG_DIGEST_LEN + 1];
    hex(digest, TDM_SIG_DIGEST_LEN, dh);
    key(k, "tdm:login:%s", dh);
    tdm_status st;
    redisReply *r = hgetall(s, k, found, &st, err);
    if (!r)
        return st;
    if (*found && hint(r, "revoked") == 0 && hint(r, "expires") > now_s)
        *user_id = hint(r, "user");
    else
        *found = false;
    freeReplyObject(r);
    return TDM_OK;
}

tdm_status tdm_sig_rstore_login_revoke(tdm_sig_rstore *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                       int64_t now_s, int *n, tdm_error *err)
{
    char k[K_CAP], dh[2 * TDM_SIG_DIGEST_LEN + 1], nv[24];
    hex(digest, TDM_SIG_DIGEST_LEN, dh);
    key(k, "tdm:login:%s", dh);
    snprintf(nv, sizeof nv, "%lld", (long long)now_s);
    long long done = 0;
    tdm_status st = hset_if_field(s, k, "revoked", "0", "revoked", nv, NULL, NULL, &done, err);
    if (n)
        *n = st == TDM_OK ? (int)done : 0;
    return st;
}

/* --- audit log --- */

/* Appends when the head is still (ARGV[1] seq, ARGV[2] hex hash; "0", ""
 * for an empty chain): 1 done, 0 someone appended first (re-read, retry),
 * -1 the log's length disagrees with its head (refused: never hide it). */
static const char lua_audit_append[] =
    "local seq = redis.call('HGET', KEYS[1], 'seq') or '0' "
    "local h = redis.call('HGET', KEYS[1], 'hash') or '' "
    "if seq ~= ARGV[1] or h ~= ARGV[2] then return 0 end "
    "if redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[1]) then return -1 end "
    "redis.call('RPUSH', KEYS[2], ARGV[5]) "
    "redis.call('HSET', KEYS[1], 'seq', ARGV[3], 'hash', ARGV[4]) "
    "redis.call('SADD', KEYS[3], ARGV[6]) return 1";

static tdm_status audit_head(tdm_sig_rstore *s, const char *chain, bool *found, int64_t *seq,
                             char hash_hex[2 * TDM_SIG_AUDIT_HASH_LEN + 1], tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:audit:%s:head", chain);
    tdm_status st;
    redisReply *r = hgetall(s, k, found, &st, err);
    if (!r)
        return st;
    *seq = 0;
    hash_hex[0] = '\0';
    if (*found) {
        *seq = hint(r, "seq");
        hcopy(r, "hash", hash_hex, 2 * TDM_SIG_AUDIT_HASH_LEN + 1);
    }
    freeReplyObject(r);
    return TDM_OK;
}

tdm_status tdm_sig_rstore_audit_append(tdm_sig_rstore *s, const char *chain, int64_t ts_ms,
                                       const char *actor, const char *kind, const char *subject,
                                       const char *detail_json, int64_t *seq, tdm_error *err)
{
    char kh[K_CAP], kl[K_CAP];
    key(kh, "tdm:audit:%s:head", chain);
    key(kl, "tdm:audit:%s:log", chain);
    for (int attempt = 0; attempt < AUDIT_CAS_TRIES; attempt++) {
        tdm_sig_audit_entry e;
        memset(&e, 0, sizeof e);
        e.chain = chain;
        e.ts_ms = ts_ms;
        e.actor = actor ? actor : "";
        e.kind = kind;
        e.subject = subject ? subject : "";
        e.detail = detail_json ? detail_json : "{}";
        bool found = false;
        int64_t head_seq = 0;
        char head_hex[2 * TDM_SIG_AUDIT_HASH_LEN + 1];
        tdm_status st = audit_head(s, chain, &found, &head_seq, head_hex, err);
        if (st != TDM_OK)
            return st;
        if (found && !unhex(head_hex, e.prev_hash, sizeof e.prev_hash))
            return tdm_fail(err, TDM_ERR_IO, "store: audit chain %s: unreadable head", chain);
        e.seq = head_seq + 1;
        if ((st = tdm_sig_audit_hash(&e, e.hash, err)) != TDM_OK)
            return st;
        char prev_hex[2 * TDM_SIG_AUDIT_HASH_LEN + 1], hash_hex[2 * TDM_SIG_AUDIT_HASH_LEN + 1];
        hex(e.prev_hash, sizeof e.prev_hash, prev_hex);
        hex(e.hash, sizeof e.hash, hash_hex);
        json_t *obj = json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:s}", "seq", (json_int_t)e.seq,
                                "ts_ms", (json_int_t)e.ts_ms, "actor", e.actor, "kind", e.kind,
                                "subject", e.subject, "detail", e.detail, "prev", prev_hex,
                                "hash", hash_hex);
        char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(obj);
        if (!text)
            return tdm_fail(err, TDM_ERR_NOMEM, "store: cannot serialize an audit entry");
        tdm_redis_args a;
        eval_head(&a, lua_audit_append, 3);
        tdm_redis_args_str(&a, kh);
        tdm_redis_args_str(&a, kl);
        tdm_redis_args_str(&a, "tdm:audit:chains");
        tdm_redis_args_int(&a, head_seq);
        tdm_redis_args_str(&a, found ? head_hex : "");
        tdm_redis_args_int(&a, e.seq);
        tdm_redis_args_str(&a, hash_hex);
        tdm_redis_args_str(&a, text);
        tdm_redis_args_str(&a, chain);
        long long v = 0;
        st = run_int(s, &a, &v, err);
        free(text);
        if (st != TDM_OK)
            return st;
        if (v == 1) {
            if (seq)
                *seq = e.seq;
            return TDM_OK;
        }
        if (v < 0)
            return tdm_fail(err, TDM_ERR_IO,
                            "store: audit chain %s: log length and head disagree; not appending",
                            chain);
        /* Lost the race: back off a random while, growing, so writers that
         * keep colliding spread out (the write lock makes this rare). */
        uint8_t r = 0;
        RAND_bytes(&r, 1);
        int cap_us = attempt < 10 ? (attempt + 1) * 200 : 2000;
        struct timespec ts = {0, (long)(r * cap_us / 255) * 1000L};
        nanosleep(&ts, NULL);
    }
    return tdm_fail(err, TDM_ERR_UNAVAILABLE, "store: audit chain %s: too much contention",
                    chain);
}

/* Parses a stored entry into e (strings point into doc). A damaged entry
 * yields seq -1, which the walk reports. */
static void entry_parse(json_t *doc, const char *chain, tdm_sig_audit_entry *e)
{
    memset(e, 0, sizeof *e);
    e->chain = chain;
    e->seq = -1;
    e->actor = e->kind = e->subject = e->detail = "";
    if (!json_is_object(doc))
        return;
    json_t *v;
    if (json_is_integer(v = json_object_get(doc, "seq")))
        e->seq = json_integer_value(v);
    e->ts_ms = json_integer_value(json_object_get(doc, "ts_ms"));
    const char *sv;
    if ((sv = json_string_value(json_object_get(doc, "actor"))))
        e->actor = sv;
    if ((sv = json_string_value(json_object_get(doc, "kind"))))
        e->kind = sv;
    if ((sv = json_string_value(json_object_get(doc, "subject"))))
        e->subject = sv;
    if ((sv = json_string_value(json_object_get(doc, "detail"))))
        e->detail = sv;
    unhex(json_string_value(json_object_get(doc, "prev")), e->prev_hash, sizeof e->prev_hash);
    unhex(json_string_value(json_object_get(doc, "hash")), e->hash, sizeof e->hash);
}

tdm_status tdm_sig_rstore_audit_list(tdm_sig_rstore *s, const char *chain, int64_t after_seq,
                                     size_t limit,
                                     void (*fn)(void *ctx, const tdm_sig_audit_entry *e), void *ctx,
                                     tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:audit:%s:log", chain);
    /* seq n sits at index n-1: entries are only ever appended, in order. */
    int64_t start = after_seq > 0 ? after_seq : 0;
    size_t left = limit ? limit : SIZE_MAX;
    while (left > 0) {
        int64_t page = left < AUDIT_PAGE ? (int64_t)left : AUDIT_PAGE;
        tdm_redis_args a;
        args_init(&a);
        tdm_redis_args_str(&a, "LRANGE");
        tdm_redis_args_str(&a, k);
        tdm_redis_args_int(&a, start);
        tdm_redis_args_int(&a, start + page - 1);
        tdm_status st;
        redisReply *r = run(s, &a, &st, err);
        if (!r)
            return st;
        size_t got = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        for (size_t i = 0; i < got; i++) {
            json_t *doc = json_loadb(r->element[i]->str, r->element[i]->len, 0, NULL);
            tdm_sig_audit_entry e;
            entry_parse(doc, chain, &e);
            fn(ctx, &e);
            json_decref(doc);
        }
        freeReplyObject(r);
        if ((int64_t)got < page)
            break;
        start += page;
        left -= (size_t)page;
    }
    return TDM_OK;
}

typedef struct verify_ctx {
    tdm_sig_audit_walk *w;
    tdm_sig_audit_report *rep;
} verify_ctx;

static void verify_step(void *ctx, const tdm_sig_audit_entry *e)
{
    verify_ctx *v = ctx;
    if (v->w->bad)
        return;
    v->rep->entries++;
    tdm_sig_audit_walk_step(v->w, e);
}

static tdm_status verify_chain(tdm_sig_rstore *s, const char *chain, tdm_sig_audit_report *rep,
                               tdm_error *err)
{
    tdm_sig_audit_walk w;
    tdm_sig_audit_walk_init(&w, chain);
    verify_ctx v = {&w, rep};
    tdm_status st = tdm_sig_rstore_audit_list(s, chain, 0, 0, verify_step, &v, err);
    if (st != TDM_OK)
        return st;
    if (!w.bad) {
        bool found = false;
        int64_t head_seq = 0;
        char head_hex[2 * TDM_SIG_AUDIT_HASH_LEN + 1];
        uint8_t head[TDM_SIG_AUDIT_HASH_LEN] = {0};
        if ((st = audit_head(s, chain, &found, &head_seq, head_hex, err)) != TDM_OK)
            return st;
        if (found)
            unhex(head_hex, head, sizeof head);
        tdm_sig_audit_walk_finish(&w, found, head_seq, head);
    }
    rep->chains++;
    if (w.bad && rep->intact) {
        rep->intact = false;
        snprintf(rep->problem, sizeof rep->problem, "%s", w.problem);
        snprintf(rep->bad_chain, sizeof rep->bad_chain, "%s", chain);
        rep->bad_seq = w.bad_seq;
    }
    return TDM_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

tdm_status tdm_sig_rstore_audit_verify(tdm_sig_rstore *s, const char *chain,
                                       tdm_sig_audit_report *report, tdm_error *err)
{
    memset(report, 0, sizeof *report);
    report->intact = true;
    tdm_redis_args a;
    args_init(&a);
    tdm_redis_args_str(&a, "SMEMBERS");
    tdm_redis_args_str(&a, "tdm:audit:chains");
    tdm_status st;
    redisReply *r = run(s, &a, &st, err);
    if (!r)
        return st;
    size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
    char **names = calloc(n ? n : 1, sizeof *names);
    size_t m = 0;
    if (!names)
        st = tdm_fail(err, TDM_ERR_NOMEM, "audit verify: out of memory");
    for (size_t i = 0; names && i < n; i++)
        if (!chain || strcmp(r->element[i]->str, chain) == 0)
            names[m++] = r->element[i]->str;
    if (names)
        qsort(names, m, sizeof *names, cmp_str);
    if (st == TDM_OK && chain && m == 0)
        st = tdm_fail(err, TDM_ERR_INVALID, "no audit log for session '%s'", chain);
    for (size_t i = 0; st == TDM_OK && i < m; i++)
        st = verify_chain(s, names[i], report, err);
    free(names);
    freeReplyObject(r);
    return st;
}
