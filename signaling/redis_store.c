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

/* Decimal text of v, for script arguments that compare it as a string. */
static const char *num(char out[24], int64_t v)
{
    snprintf(out, 24, "%lld", (long long)v);
    return out;
}

/* The key of what a secret's digest finds: prefix + hex(digest). */
static void digest_key(char out[K_CAP], const char *prefix,
                       const uint8_t digest[TDM_SIG_DIGEST_LEN])
{
    char dh[2 * TDM_SIG_DIGEST_LEN + 1];
    hex(digest, TDM_SIG_DIGEST_LEN, dh);
    key(out, "%s%s", prefix, dh);
}

/* HGETALL k and, when the hash exists, fill(r, out) from it; fill may
 * refuse a damaged hash. *found false when it does not exist. */
typedef tdm_status (*hash_fill)(const redisReply *r, void *out, tdm_error *err);

static tdm_status hash_read(tdm_sig_rstore *s, const char *k, hash_fill fill, void *out,
                            bool *found, tdm_error *err)
{
    tdm_status st;
    redisReply *r = hgetall(s, k, found, &st, err);
    if (!r)
        return st;
    st = *found ? fill(r, out, err) : TDM_OK;
    freeReplyObject(r);
    return st;
}

/* One kind of row: a hash at prefix + id, read by fill into its struct. */
typedef struct row_kind {
    const char *prefix;
    hash_fill fill;
} row_kind;

static tdm_status row_get(tdm_sig_rstore *s, const row_kind *rk, const char *id, void *out,
                          bool *found, tdm_error *err)
{
    char k[K_CAP];
    key(k, "%s%s", rk->prefix, id);
    return hash_read(s, k, rk->fill, out, found, err);
}

/* The row whose id the string at index_key (a name's, a digest's) holds. */
static tdm_status row_by_index(tdm_sig_rstore *s, const row_kind *rk, const char *index_key,
                               void *out, bool *found, tdm_error *err)
{
    char id[K_CAP];
    tdm_status st = get_str(s, index_key, id, sizeof id, found, err);
    if (st != TDM_OK || !*found)
        return st;
    return row_get(s, rk, id, out, found, err);
}

/* Runs a (a query that answers row ids) and reads each row of kind rk
 * into row; take(ctx, row) keeps it and returns false to stop early. */
static tdm_status rows_each(tdm_sig_rstore *s, const tdm_redis_args *a, const row_kind *rk,
                            void *row, bool (*take)(void *ctx, const void *row), void *ctx,
                            tdm_error *err)
{
    tdm_status st;
    redisReply *r = run(s, a, &st, err);
    if (!r)
        return st;
    for (size_t i = 0; st == TDM_OK && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        bool found = false;
        st = row_get(s, rk, r->element[i]->str, row, &found, err);
        if (st == TDM_OK && found && !take(ctx, row))
            break;
    }
    freeReplyObject(r);
    return st;
}

/* Runs an insert script (1: written; 0: the row or one of its index keys
 * exists, which fails as "store: <what> exists"). */
static tdm_status run_insert(tdm_sig_rstore *s, const tdm_redis_args *a, tdm_error *err,
                             const char *what_fmt, ...) __attribute__((format(printf, 4, 5)));
static tdm_status run_insert(tdm_sig_rstore *s, const tdm_redis_args *a, tdm_error *err,
                             const char *what_fmt, ...)
{
    long long v = 0;
    tdm_status st = run_int(s, a, &v, err);
    if (st != TDM_OK || v == 1)
        return st;
    char what[128];
    va_list ap;
    va_start(ap, what_fmt);
    vsnprintf(what, sizeof what, what_fmt, ap);
    va_end(ap);
    return tdm_fail(err, TDM_ERR_INVALID, "store: %s exists", what);
}

/* Appends the field/value pairs f1 v1 and, with f2, f2 v2. */
static void args_fields(tdm_redis_args *a, const char *f1, const char *v1, const char *f2,
                        const char *v2)
{
    tdm_redis_args_str(a, f1);
    tdm_redis_args_str(a, v1);
    if (f2) {
        tdm_redis_args_str(a, f2);
        tdm_redis_args_str(a, v2);
    }
}

/* Runs a compare-and-set script; *done (when asked) is its 1 or 0. */
static tdm_status run_cas(tdm_sig_rstore *s, const tdm_redis_args *a, long long *done,
                          tdm_error *err)
{
    long long v = 0;
    tdm_status st = run_int(s, a, &v, err);
    if (done)
        *done = v;
    return st;
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
    args_fields(&a, f1, v1, f2, v2);
    return run_cas(s, &a, done, err);
}

/* Sets field of the hash at k to now_s once: only while it is still 0 (a
 * login revoked, a participant gone, a code used). *done: whether it did. */
static tdm_status stamp_once(tdm_sig_rstore *s, const char *k, const char *field, int64_t now_s,
                             long long *done, tdm_error *err)
{
    char nv[24];
    return hset_if_field(s, k, field, "0", field, num(nv, now_s), NULL, NULL, done, err);
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

static tdm_status user_fill(const redisReply *r, void *o, tdm_error *err)
{
    tdm_sig_user *out = o;
    memset(out, 0, sizeof *out);
    out->id = hint(r, "id");
    hcopy(r, "name", out->name, sizeof out->name);
    hcopy(r, "hash", out->password_hash, sizeof out->password_hash);
    out->may_invite = hint(r, "may_invite") != 0;
    hcopy(r, "profiles", out->invite_profiles, sizeof out->invite_profiles);
    char role[16];
    hcopy(r, "role", role, sizeof role);
    if (!tdm_sig_role_parse(role, &out->role))
        return tdm_fail(err, TDM_ERR_IO, "store: user '%s' has role '%s'", out->name, role);
    return TDM_OK;
}

static const row_kind USER = {"tdm:user:", user_fill};

tdm_status tdm_sig_rstore_user_get(tdm_sig_rstore *s, const char *name, tdm_sig_user *out,
                                   bool *found, tdm_error *err)
{
    return row_get(s, &USER, name, out, found, err);
}

tdm_status tdm_sig_rstore_user_get_id(tdm_sig_rstore *s, int64_t id, tdm_sig_user *out,
                                      bool *found, tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:user_id:%lld", (long long)id);
    return row_by_index(s, &USER, k, out, found, err);
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
    return run_insert(s, &a, err, "session %s", r->id);
}

static tdm_status session_fill(const redisReply *r, void *o, tdm_error *err)
{
    (void)err;
    tdm_sig_session_row *out = o;
    memset(out, 0, sizeof *out);
    hcopy(r, "owner", out->owner, sizeof out->owner);
    out->state = (tdm_sig_state)hint(r, "state");
    out->created_s = hint(r, "created");
    out->ended_s = hint(r, "ended");
    hblob(r, "key", out->wrapped_key, sizeof out->wrapped_key);
    out->customer_control = hint(r, "control") != 0; /* absent: shared */
    return TDM_OK;
}

static const row_kind SESSION = {"tdm:sess:", session_fill};

tdm_status tdm_sig_rstore_session_get(tdm_sig_rstore *s, const char *id, tdm_sig_session_row *out,
                                      bool *found, tdm_error *err)
{
    tdm_status st = row_get(s, &SESSION, id, out, found, err);
    if (st == TDM_OK && *found) /* the hash does not repeat its own id */
        snprintf(out->id, sizeof out->id, "%s", id);
    return st;
}

static tdm_status hset_if_exists(tdm_sig_rstore *s, const char *k, const char *f1,
                                 const char *v1, const char *f2, const char *v2, tdm_error *err)
{
    tdm_redis_args a;
    eval_head(&a, lua_hset_if_exists, 1);
    tdm_redis_args_str(&a, k);
    args_fields(&a, f1, v1, f2, v2);
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
    char k[K_CAP], sv[24], nv[24];
    key(k, "tdm:sess:%s", id);
    return hset_if_exists(s, k, "state", num(sv, st),
                          st == TDM_SIG_STATE_ENDED ? "ended" : NULL, num(nv, now_s), err);
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
    char kp[K_CAP], ks[K_CAP], kl[K_CAP];
    key(kp, "tdm:part:%s", r->id);
    digest_key(ks, "tdm:part_secret:", r->secret_digest);
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
    return run_insert(s, &a, err, "participant %s or its secret", r->id);
}

static tdm_status part_fill(const redisReply *r, void *o, tdm_error *err)
{
    (void)err;
    tdm_sig_participant_row *out = o;
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
    return TDM_OK;
}

static const row_kind PART = {"tdm:part:", part_fill};

tdm_status tdm_sig_rstore_participant_get(tdm_sig_rstore *s, const char *id,
                                          tdm_sig_participant_row *out, bool *found,
                                          tdm_error *err)
{
    return row_get(s, &PART, id, out, found, err);
}

tdm_status tdm_sig_rstore_participant_by_secret(tdm_sig_rstore *s,
                                                const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                                tdm_sig_participant_row *out, bool *found,
                                                tdm_error *err)
{
    char k[K_CAP];
    digest_key(k, "tdm:part_secret:", digest);
    return row_by_index(s, &PART, k, out, found, err);
}

typedef struct part_list {
    bool present_only;
    tdm_sig_participant_row *rows;
    size_t cap, n;
} part_list;

static bool part_take(void *ctx, const void *row)
{
    part_list *l = ctx;
    const tdm_sig_participant_row *p = row;
    if (l->present_only && p->left_s != 0)
        return true;
    if (l->n < l->cap)
        l->rows[l->n] = *p;
    l->n++; /* counted past cap: the caller learns how many there are */
    return true;
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
    part_list l = {present_only, rows, cap, 0};
    tdm_sig_participant_row row;
    tdm_status st = rows_each(s, &a, &PART, &row, part_take, &l, err);
    *n = l.n;
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
    char k[K_CAP];
    key(k, "tdm:part:%s", id);
    return stamp_once(s, k, "left", now_s, NULL, err);
}

/* --- join codes --- */

tdm_status tdm_sig_rstore_code_insert(tdm_sig_rstore *s, const char *session_id,
                                      const uint8_t digest[TDM_SIG_DIGEST_LEN], int64_t expires_s,
                                      tdm_error *err)
{
    char kd[K_CAP], ks[K_CAP];
    digest_key(kd, "tdm:code_digest:", digest);
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

typedef struct code_rec {
    char session_id[TDM_SIG_ID_CAP];
    int64_t used, revoked, expires;
} code_rec;

static tdm_status code_fill(const redisReply *r, void *o, tdm_error *err)
{
    (void)err;
    code_rec *c = o;
    hcopy(r, "session", c->session_id, sizeof c->session_id);
    c->used = hint(r, "used");
    c->revoked = hint(r, "revoked");
    c->expires = hint(r, "expires");
    return TDM_OK;
}

static const row_kind CODE = {"tdm:code:", code_fill};

tdm_status tdm_sig_rstore_code_find_live(tdm_sig_rstore *s,
                                         const uint8_t digest[TDM_SIG_DIGEST_LEN], int64_t now_s,
                                         char session_id[TDM_SIG_ID_CAP], int64_t *code_id,
                                         bool *found, tdm_error *err)
{
    char k[K_CAP], id[24];
    digest_key(k, "tdm:code_digest:", digest);
    tdm_status st = get_str(s, k, id, sizeof id, found, err);
    if (st != TDM_OK || !*found)
        return st;
    code_rec c = {0};
    if ((st = row_get(s, &CODE, id, &c, found, err)) != TDM_OK)
        return st;
    *found = *found && c.used == 0 && c.revoked == 0 && c.expires > now_s;
    if (*found) {
        snprintf(session_id, TDM_SIG_ID_CAP, "%s", c.session_id);
        *code_id = strtoll(id, NULL, 10);
    }
    return TDM_OK;
}

tdm_status tdm_sig_rstore_code_use(tdm_sig_rstore *s, int64_t code_id, int64_t now_s,
                                   tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:code:%lld", (long long)code_id);
    long long done = 0;
    tdm_status st = stamp_once(s, k, "used", now_s, &done, err);
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
    char ki[K_CAP], kd[K_CAP], ks[K_CAP];
    key(ki, "tdm:inv:%s", r->id);
    digest_key(kd, "tdm:inv_digest:", r->token_digest);
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
    return run_insert(s, &a, err, "invite %s or its token", r->id);
}

static tdm_status inv_fill(const redisReply *r, void *o, tdm_error *err)
{
    (void)err;
    tdm_sig_invite_row *out = o;
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
    return TDM_OK;
}

static const row_kind INVITE = {"tdm:inv:", inv_fill};

tdm_status tdm_sig_rstore_invite_get(tdm_sig_rstore *s, const char *id, tdm_sig_invite_row *out,
                                     bool *found, tdm_error *err)
{
    return row_get(s, &INVITE, id, out, found, err);
}

tdm_status tdm_sig_rstore_invite_get_by_digest(tdm_sig_rstore *s,
                                               const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                               tdm_sig_invite_row *out, bool *found,
                                               tdm_error *err)
{
    char k[K_CAP];
    digest_key(k, "tdm:inv_digest:", digest);
    return row_by_index(s, &INVITE, k, out, found, err);
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
    args_fields(&a, f1, v1, f2, v2);
    return run_cas(s, &a, done, err);
}

/* Ends a still-open invite for good (field: "revoked" or "expired"). */
static tdm_status inv_end(tdm_sig_rstore *s, const char *id, const char *field, int64_t now_s,
                          tdm_error *err)
{
    char nv[24];
    return inv_cas(s, id, field, true, field, num(nv, now_s), NULL, NULL, NULL, err);
}

tdm_status tdm_sig_rstore_invite_use(tdm_sig_rstore *s, const char *id, const char *used_by,
                                     int64_t now_s, tdm_error *err)
{
    char nv[24];
    long long done = 0;
    tdm_status st =
        inv_cas(s, id, "used", true, "used", num(nv, now_s), "used_by", used_by, &done, err);
    if (st == TDM_OK && !done) /* the one-time rule holds even without the lock */
        return tdm_fail(err, TDM_ERR_INVALID, "store: invite %s already used", id);
    return st;
}

tdm_status tdm_sig_rstore_invite_revoke(tdm_sig_rstore *s, const char *id, int64_t now_s,
                                        tdm_error *err)
{
    return inv_end(s, id, "revoked", now_s, err);
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

typedef struct inv_list {
    tdm_sig_invite_row *rows;
    size_t limit, n;
} inv_list;

static bool inv_take_open(void *ctx, const void *row)
{
    inv_list *l = ctx;
    const tdm_sig_invite_row *i = row;
    if (!i->used_s && !i->revoked_s && !i->expired_s)
        l->rows[l->n++] = *i;
    return l->n < l->limit;
}

tdm_status tdm_sig_rstore_invite_due(tdm_sig_rstore *s, int64_t now_s, size_t limit,
                                     tdm_sig_invite_row *rows, size_t *n, tdm_error *err)
{
    *n = 0;
    if (limit == 0)
        return TDM_OK;
    tdm_redis_args a;
    args_init(&a);
    tdm_redis_args_str(&a, "ZRANGEBYSCORE");
    tdm_redis_args_str(&a, "tdm:inv_due");
    tdm_redis_args_str(&a, "-inf");
    tdm_redis_args_int(&a, now_s);
    tdm_redis_args_str(&a, "LIMIT");
    tdm_redis_args_int(&a, 0);
    tdm_redis_args_int(&a, (int64_t)limit);
    inv_list l = {rows, limit, 0};
    tdm_sig_invite_row row;
    tdm_status st = rows_each(s, &a, &INVITE, &row, inv_take_open, &l, err);
    *n = l.n;
    return st;
}

tdm_status tdm_sig_rstore_invite_mark_expired(tdm_sig_rstore *s, const char *id, int64_t now_s,
                                              tdm_error *err)
{
    return inv_end(s, id, "expired", now_s, err);
}

/* --- logins --- */

tdm_status tdm_sig_rstore_login_insert(tdm_sig_rstore *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                       int64_t user_id, int64_t now_s, int64_t expires_s,
                                       tdm_error *err)
{
    char k[K_CAP];
    digest_key(k, "tdm:login:", digest);
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
    return run_insert(s, &a, err, "login token");
}

typedef struct login_rec {
    int64_t user, revoked, expires;
} login_rec;

static tdm_status login_fill(const redisReply *r, void *o, tdm_error *err)
{
    (void)err;
    login_rec *l = o;
    l->user = hint(r, "user");
    l->revoked = hint(r, "revoked");
    l->expires = hint(r, "expires");
    return TDM_OK;
}

tdm_status tdm_sig_rstore_login_find(tdm_sig_rstore *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                     int64_t now_s, int64_t *user_id, bool *found,
                                     tdm_error *err)
{
    char k[K_CAP];
    digest_key(k, "tdm:login:", digest);
    login_rec l = {0};
    tdm_status st = hash_read(s, k, login_fill, &l, found, err);
    if (st != TDM_OK)
        return st;
    *found = *found && l.revoked == 0 && l.expires > now_s;
    if (*found)
        *user_id = l.user;
    return TDM_OK;
}

tdm_status tdm_sig_rstore_login_revoke(tdm_sig_rstore *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                       int64_t now_s, int *n, tdm_error *err)
{
    char k[K_CAP];
    digest_key(k, "tdm:login:", digest);
    long long done = 0;
    tdm_status st = stamp_once(s, k, "revoked", now_s, &done, err);
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

typedef struct audit_head_rec {
    int64_t seq;
    char hash_hex[2 * TDM_SIG_AUDIT_HASH_LEN + 1];
} audit_head_rec;

static tdm_status audit_head_fill(const redisReply *r, void *o, tdm_error *err)
{
    (void)err;
    audit_head_rec *h = o;
    h->seq = hint(r, "seq");
    hcopy(r, "hash", h->hash_hex, sizeof h->hash_hex);
    return TDM_OK;
}

/* The chain's head: seq 0 and no hash for a chain not yet written. */
static tdm_status audit_head(tdm_sig_rstore *s, const char *chain, bool *found,
                             audit_head_rec *h, tdm_error *err)
{
    char k[K_CAP];
    key(k, "tdm:audit:%s:head", chain);
    memset(h, 0, sizeof *h);
    return hash_read(s, k, audit_head_fill, h, found, err);
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
        audit_head_rec head;
        tdm_status st = audit_head(s, chain, &found, &head, err);
        if (st != TDM_OK)
            return st;
        int64_t head_seq = head.seq;
        if (found && !unhex(head.hash_hex, e.prev_hash, sizeof e.prev_hash))
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
        tdm_redis_args_str(&a, found ? head.hash_hex : "");
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
    /* The head first, then the entries up to it: an append is atomic (entry
     * and head in one script), so entries another instance adds meanwhile
     * lie beyond this head and are left for the next verify, instead of
     * making the chain look cut or extended. */
    bool found = false;
    audit_head_rec head = {0};
    tdm_status st = audit_head(s, chain, &found, &head, err);
    if (st != TDM_OK)
        return st;
    size_t limit = found && head.seq > 0 ? (size_t)head.seq : 0;
    if ((st = tdm_sig_rstore_audit_list(s, chain, 0, limit, verify_step, &v, err)) != TDM_OK)
        return st;
    if (!w.bad) {
        uint8_t head_hash[TDM_SIG_AUDIT_HASH_LEN] = {0};
        if (found)
            unhex(head.hash_hex, head_hash, sizeof head_hash);
        tdm_sig_audit_walk_finish(&w, found, head.seq, head_hash);
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
