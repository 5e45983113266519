/* redis_conn.c: a blocking hiredis connection that reconnects on demand
 * (tdm_redis_conn.h). */
#include "tdm_redis_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

tdm_status tdm_redis_url_parse(const char *url, tdm_redis_addr *out, tdm_error *err)
{
    static const char scheme[] = "redis://";
    if (!url || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "redis url: NULL argument");
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "redis url must start with redis://");
    const char *p = url + sizeof scheme - 1, *host_end;
    size_t hl;
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (!host_end)
            return tdm_fail(err, TDM_ERR_FORMAT, "redis url: unclosed '[' in host");
        hl = (size_t)(host_end - p - 1);
        if (hl == 0 || hl > TDM_REDIS_HOST_MAX)
            return tdm_fail(err, TDM_ERR_FORMAT, "redis url: bad IPv6 host");
        memcpy(out->host, p + 1, hl);
        p = host_end + 1;
    } else {
        hl = strcspn(p, ":/");
        if (hl == 0 || hl > TDM_REDIS_HOST_MAX)
            return tdm_fail(err, TDM_ERR_FORMAT, "redis url: missing or too long host");
        memcpy(out->host, p, hl);
        p += hl;
    }
    for (const char *h = out->host; *h; h++)
        if (*h <= ' ' || *h > '~' || *h == '@' || *h == '?' || *h == '#')
            return tdm_fail(err, TDM_ERR_FORMAT,
                            "redis url: bad character in host (no user:password@ here)");
    if (*p == ':') {
        p++;
        unsigned long v = 0;
        const char *d = p;
        while (*p >= '0' && *p <= '9' && v <= 65535)
            v = v * 10 + (unsigned long)(*p++ - '0');
        if (p == d || v == 0 || v > 65535)
            return tdm_fail(err, TDM_ERR_FORMAT, "redis url: port must be 1..65535");
        out->port = (uint16_t)v;
    }
    if (*p == '/') {
        p++;
        if (*p) {
            long v = 0;
            const char *d = p;
            while (*p >= '0' && *p <= '9' && v < 100000)
                v = v * 10 + (*p++ - '0');
            if (p == d || v >= 100000)
                return tdm_fail(err, TDM_ERR_FORMAT, "redis url: database must be a number");
            out->db = (int)v;
        }
    }
    if (*p)
        return tdm_fail(err, TDM_ERR_FORMAT, "redis url: unexpected '%.32s'", p);
    return TDM_OK;
}

void tdm_redis_conn_init(tdm_redis_conn *rc, const tdm_redis_addr *addr, int timeout_ms)
{
    memset(rc, 0, sizeof *rc);
    rc->addr = *addr;
    rc->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
}

void tdm_redis_conn_drop(tdm_redis_conn *rc)
{
    if (rc && rc->ctx) {
        redisFree(rc->ctx);
        rc->ctx = NULL;
    }
}

static tdm_status down(tdm_redis_conn *rc, tdm_error *err, const char *why)
{
    tdm_redis_conn_drop(rc);
    int64_t wait = TDM_REDIS_RETRY_MS;
    for (int i = 0; i < rc->failed_connects && wait < TDM_REDIS_RETRY_MAX_MS; i++)
        wait *= 2;
    rc->retry_after_ms = mono_ms() + (wait < TDM_REDIS_RETRY_MAX_MS ? wait : TDM_REDIS_RETRY_MAX_MS);
    rc->failed_connects++;
    return tdm_fail(err, TDM_ERR_UNAVAILABLE, TDM_REDIS_DOWN_PREFIX " (%s:%u): %s",
                    rc->addr.host, rc->addr.port, why);
}

tdm_status tdm_redis_conn_ensure(tdm_redis_conn *rc, tdm_error *err)
{
    if (rc->ctx)
        return TDM_OK;
    if (mono_ms() < rc->retry_after_ms)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE,
                        TDM_REDIS_DOWN_PREFIX " (%s:%u): not reachable a moment ago",
                        rc->addr.host, rc->addr.port);
    struct timeval tv = {.tv_sec = rc->timeout_ms / 1000, .tv_usec = (rc->timeout_ms % 1000) * 1000};
    rc->ctx = redisConnectWithTimeout(rc->addr.host, rc->addr.port, tv);
    if (!rc->ctx)
        return down(rc, err, "out of memory");
    if (rc->ctx->err) {
        char why[128];
        snprintf(why, sizeof why, "%s", rc->ctx->errstr);
        return down(rc, err, why);
    }
    if (redisSetTimeout(rc->ctx, tv) != REDIS_OK)
        return down(rc, err, "cannot set timeout");
    if (rc->addr.db != 0) {
        redisReply *r = redisCommand(rc->ctx, "SELECT %d", rc->addr.db);
        bool ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
        if (!ok)
            return down(rc, err, "SELECT failed");
    }
    rc->failed_connects = 0;
    return TDM_OK;
}

redisReply *tdm_redis_conn_argv(tdm_redis_conn *rc, int argc, const char *const *argv,
                                const size_t *lens, tdm_status *st, tdm_error *err)
{
    tdm_status s = tdm_redis_conn_ensure(rc, err);
    if (s != TDM_OK) {
        *st = s;
        return NULL;
    }
    redisReply *r = redisCommandArgv(rc->ctx, argc, (const char **)argv, lens);
    if (!r) {
        char why[128];
        snprintf(why, sizeof why, "%s", rc->ctx->errstr[0] ? rc->ctx->errstr : "connection lost");
        *st = down(rc, err, why);
        /* A connection that broke (Redis restarted) says nothing about the
         * next connect: let the next call try at once. */
        rc->retry_after_ms = 0;
        rc->failed_connects = 0;
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        /* LOADING / a replica: as good as absent for now. */
        bool transient = r->str && (strncmp(r->str, "LOADING", 7) == 0 ||
                                    strncmp(r->str, "READONLY", 8) == 0 ||
                                    strncmp(r->str, "MASTERDOWN", 10) == 0);
        *st = transient ? TDM_ERR_UNAVAILABLE : TDM_ERR_IO;
        tdm_fail(err, *st, "%sredis %s: %.180s", transient ? TDM_REDIS_DOWN_PREFIX ": " : "",
                 argc > 0 ? argv[0] : "?", r->str ? r->str : "error");
        freeReplyObject(r);
        return NULL;
    }
    *st = TDM_OK;
    return r;
}

void tdm_redis_args_str(tdm_redis_args *a, const char *s)
{
    tdm_redis_args_bin(a, s ? s : "", s ? strlen(s) : 0);
}

void tdm_redis_args_bin(tdm_redis_args *a, const void *p, size_t n)
{
    if (a->n >= TDM_REDIS_ARGS_MAX) {
        a->overflow = true;
        return;
    }
    a->v[a->n] = p;
    a->l[a->n] = n;
    a->n++;
}

void tdm_redis_args_int(tdm_redis_args *a, int64_t v)
{
    if (a->n >= TDM_REDIS_ARGS_MAX) {
        a->overflow = true;
        return;
    }
    int k = snprintf(a->num[a->n], sizeof a->num[a->n], "%lld", (long long)v);
    a->v[a->n] = a->num[a->n];
    a->l[a->n] = (size_t)k;
    a->n++;
}

redisReply *tdm_redis_conn_run(tdm_redis_conn *rc, const tdm_redis_args *a, tdm_status *st,
                               tdm_error *err)
{
    if (a->overflow || a->n == 0) {
        *st = tdm_fail(err, TDM_ERR_RANGE, "redis: too many arguments");
        return NULL;
    }
    return tdm_redis_conn_argv(rc, a->n, a->v, a->l, st, err);
}

redisReply *tdm_redis_conn_run_idempotent(tdm_redis_conn *rc, const tdm_redis_args *a,
                                          tdm_status *st, tdm_error *err)
{
    bool was_up = rc->ctx != NULL;
    redisReply *r = tdm_redis_conn_run(rc, a, st, err);
    if (!r && *st == TDM_ERR_UNAVAILABLE && was_up && !rc->ctx)
        r = tdm_redis_conn_run(rc, a, st, err);
    return r;
}
