/* redis_registry.c: the relay registry's tables in Redis (tdm_redis_registry.h). */
#include "tdm_redis_registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#define K_CAP 160
#define PLACE_KEEP_MS (24LL * 3600 * 1000)

struct tdm_redis_registry {
    tdm_redis_conn rc;
};

/* KEYS: relay hash, relays set, ts key. ARGV: 1 ts (0: static), 2 ttl_ms,
 * 3 id, 4 node, 5 url, 6 draining, 7 sessions, 8 endpoints, 9 pin, 10 pout,
 * 11 pps, 12 cpu_total, 13 cpu, 14 workers, 15 now_ms, 16 static, 17 ts keep ms.
 * Returns {1, first_seen, heartbeats, placed} or {0} for a replay. A static
 * push onto a relay that heartbeats only extends its life. */
static const char lua_heartbeat[] =
    "local ts = tonumber(ARGV[1]) "
    "if ts > 0 then "
    "  local last = tonumber(redis.call('GET', KEYS[3]) or '0') "
    "  if ts <= last then return {0} end "
    "  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[17]) "
    "end "
    "local exists = redis.call('EXISTS', KEYS[1]) == 1 "
    "if ts == 0 and exists then "
    "  redis.call('HSET', KEYS[1], 'static', 1) "
    "  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then "
    "    redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "else "
    "  if not exists then redis.call('HSET', KEYS[1], 'first_seen', ARGV[15], 'heartbeats', 0, "
    "    'static', ARGV[16], 'last_ts', 0) end "
    "  redis.call('HSET', KEYS[1], 'id', ARGV[3], 'node', ARGV[4], 'url', ARGV[5], "
    "    'draining', ARGV[6], 'sessions', ARGV[7], 'endpoints', ARGV[8], 'pin', ARGV[9], "
    "    'pout', ARGV[10], 'pps', ARGV[11], 'cpu_total', ARGV[12], 'cpu', ARGV[13], "
    "    'workers', ARGV[14], 'last_seen', ARGV[15]) "
    "  if ts > 0 then redis.call('HSET', KEYS[1], 'last_ts', ARGV[1]) "
    "    redis.call('HINCRBY', KEYS[1], 'heartbeats', 1) end "
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
    "end "
    "redis.call('SADD', KEYS[2], ARGV[3]) "
    "return {1}";

/* KEYS: place:{sid}, relays set. ARGV: 1 sid, 2 max_sessions, 3 "tdm:relay:",
 * 4 now_ms, 5 keep_ms. Returns {relay id, 1 if placed now} or {'', 0}. */
static const char lua_place[] =
    "local cur = redis.call('GET', KEYS[1]) "
    "if cur and redis.call('EXISTS', ARGV[3] .. cur) == 1 then return {cur, 0} end "
    "if cur then redis.call('ZREM', ARGV[3] .. cur .. ':placed', ARGV[1]) end "
    "local now = tonumber(ARGV[4]) "
    "local max = tonumber(ARGV[2]) "
    "local best, bl, bp, bc "
    "for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do "
    "  local k = ARGV[3] .. id "
    "  local h = redis.call('HMGET', k, 'draining', 'sessions', 'pps', 'cpu') "
    "  if not h[1] then "
    "    redis.call('SREM', KEYS[2], id) redis.call('DEL', k .. ':placed') "
    "  elseif h[1] == '0' then "
    "    redis.call('ZREMRANGEBYSCORE', k .. ':placed', '-inf', now - tonumber(ARGV[5])) "
    "    local placed = redis.call('ZCARD', k .. ':placed') "
    "    local load = math.max(tonumber(h[2]) or 0, placed) "
    "    if max == 0 or load < max then "
    "      local pps, cpu = tonumber(h[3]) or 0, tonumber(h[4]) or 0 "
    "      if not best or load < bl or (load == bl and (pps < bp or (pps == bp and "
    "         (cpu < bc or (cpu == bc and id < best))))) then "
    "        best, bl, bp, bc = id, load, pps, cpu end "
    "    end "
    "  end "
    "end "
    "if not best then return {'', 0} end "
    "redis.call('SET', KEYS[1], best, 'PX', ARGV[5]) "
    "redis.call('ZADD', ARGV[3] .. best .. ':placed', now, ARGV[1]) "
    "return {best, 1}";

static const char lua_release[] =
    "local cur = redis.call('GET', KEYS[1]) "
    "if cur then redis.call('ZREM', ARGV[2] .. cur .. ':placed', ARGV[1]) "
    "redis.call('DEL', KEYS[1]) end return 1";

static void args_init(tdm_redis_args *a)
{
    a->n = 0;
    a->overflow = false;
}

static void eval_head(tdm_redis_args *a, const char *script, int nk)
{
    args_init(a);
    tdm_redis_args_str(a, "EVAL");
    tdm_redis_args_str(a, script);
    tdm_redis_args_int(a, nk);
}

static void args_real(tdm_redis_args *a, char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.6f", v);
    tdm_redis_args_str(a, buf);
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

static const char *hs(const redisReply *r, const char *field)
{
    const redisReply *v = hf(r, field);
    return v && v->type == REDIS_REPLY_STRING ? v->str : "";
}

/* Reads relay id's hash (and its placed count) into *out; *found false if
 * it lapsed. */
static tdm_status fetch(tdm_redis_registry *r, const char *id, tdm_sig_relay_entry *out,
                        bool *found, tdm_error *err)
{
    char k[K_CAP], kp[K_CAP];
    snprintf(k, sizeof k, "tdm:relay:%s", id);
    snprintf(kp, sizeof kp, "tdm:relay:%s:placed", id);
    tdm_redis_args a;
    args_init(&a);
    tdm_redis_args_str(&a, "HGETALL");
    tdm_redis_args_str(&a, k);
    tdm_status st;
    redisReply *h = tdm_redis_conn_run_idempotent(&r->rc, &a, &st, err);
    if (!h)
        return st;
    *found = h->type == REDIS_REPLY_ARRAY && h->elements >= 2 && hs(h, "url")[0];
    if (*found) {
        memset(out, 0, sizeof *out);
        tdm_hb_report *rep = &out->report;
        snprintf(rep->id, sizeof rep->id, "%s", hs(h, "id"));
        snprintf(rep->node, sizeof rep->node, "%s", hs(h, "node"));
        snprintf(rep->url, sizeof rep->url, "%s", hs(h, "url"));
        rep->draining = strcmp(hs(h, "draining"), "1") == 0;
        rep->load.sessions = strtoull(hs(h, "sessions"), NULL, 10);
        rep->load.endpoints = strtoull(hs(h, "endpoints"), NULL, 10);
        rep->load.packets_in_total = strtoull(hs(h, "pin"), NULL, 10);
        rep->load.packets_out_total = strtoull(hs(h, "pout"), NULL, 10);
        rep->load.packets_per_s = strtod(hs(h, "pps"), NULL);
        rep->load.cpu_seconds_total = strtod(hs(h, "cpu_total"), NULL);
        rep->load.cpu_load = strtod(hs(h, "cpu"), NULL);
        rep->load.workers = (uint32_t)strtoul(hs(h, "workers"), NULL, 10);
        out->is_static = strcmp(hs(h, "static"), "1") == 0;
        out->live = true;
        out->first_seen_ms = strtoll(hs(h, "first_seen"), NULL, 10);
        out->last_seen_ms = strtoll(hs(h, "last_seen"), NULL, 10);
        out->last_ts_ms = strtoll(hs(h, "last_ts"), NULL, 10);
        out->heartbeats = strtoull(hs(h, "heartbeats"), NULL, 10);
    }
    freeReplyObject(h);
    if (!*found)
        return TDM_OK;
    args_init(&a);
    tdm_redis_args_str(&a, "ZCARD");
    tdm_redis_args_str(&a, kp);
    redisReply *z = tdm_redis_conn_run(&r->rc, &a, &st, err);
    if (!z)
        return st;
    out->placed = z->type == REDIS_REPLY_INTEGER ? (uint32_t)z->integer : 0;
    freeReplyObject(z);
    return TDM_OK;
}

static tdm_status cb_heartbeat(void *ctx, const tdm_hb_report *rep, bool is_static, int64_t ts_ms,
                               int64_t now_ms, int64_t ttl_ms, int64_t skew_ms,
                               tdm_sig_relay_entry *out, tdm_error *err)
{
    tdm_redis_registry *r = ctx;
    char k[K_CAP], kt[K_CAP], f[4][32];
    snprintf(k, sizeof k, "tdm:relay:%s", rep->id);
    snprintf(kt, sizeof kt, "tdm:relay:%s:ts", rep->id);
    tdm_redis_args a;
    eval_head(&a, lua_heartbeat, 3);
    tdm_redis_args_str(&a, k);
    tdm_redis_args_str(&a, "tdm:relays");
    tdm_redis_args_str(&a, kt);
    tdm_redis_args_int(&a, is_static ? 0 : ts_ms);
    tdm_redis_args_int(&a, ttl_ms);
    tdm_redis_args_str(&a, rep->id);
    tdm_redis_args_str(&a, rep->node[0] ? rep->node : rep->id);
    tdm_redis_args_str(&a, rep->url);
    tdm_redis_args_str(&a, rep->draining ? "1" : "0");
    tdm_redis_args_int(&a, (int64_t)rep->load.sessions);
    tdm_redis_args_int(&a, (int64_t)rep->load.endpoints);
    tdm_redis_args_int(&a, (int64_t)rep->load.packets_in_total);
    tdm_redis_args_int(&a, (int64_t)rep->load.packets_out_total);
    args_real(&a, f[0], sizeof f[0], rep->load.packets_per_s);
    args_real(&a, f[1], sizeof f[1], rep->load.cpu_seconds_total);
    args_real(&a, f[2], sizeof f[2], rep->load.cpu_load);
    tdm_redis_args_int(&a, rep->load.workers);
    tdm_redis_args_int(&a, now_ms);
    tdm_redis_args_str(&a, is_static ? "1" : "0");
    tdm_redis_args_int(&a, 2 * skew_ms + ttl_ms);
    tdm_status st;
    redisReply *rr = tdm_redis_conn_run(&r->rc, &a, &st, err);
    if (!rr)
        return st;
    bool ok = rr->type == REDIS_REPLY_ARRAY && rr->elements >= 1 &&
              rr->element[0]->type == REDIS_REPLY_INTEGER && rr->element[0]->integer == 1;
    freeReplyObject(rr);
    if (!ok)
        return tdm_fail(err, TDM_ERR_INVALID,
                        "heartbeat: timestamp not newer than the last accepted (replay?)");
    bool found = false;
    if ((st = fetch(r, rep->id, out, &found, err)) != TDM_OK)
        return st;
    if (!found) /* expired in between: report what was sent */
        memset(out, 0, sizeof *out), out->report = *rep, out->live = true;
    return TDM_OK;
}

static tdm_status cb_place(void *ctx, const char *sid, uint32_t max_sessions, int64_t now_ms,
                           tdm_sig_relay_entry *out, bool *is_new, tdm_error *err)
{
    tdm_redis_registry *r = ctx;
    char k[K_CAP];
    snprintf(k, sizeof k, "tdm:place:%s", sid);
    /* A relay lapsing between the script and the read: place again. */
    for (int attempt = 0; attempt < 3; attempt++) {
        tdm_redis_args a;
        eval_head(&a, lua_place, 2);
        tdm_redis_args_str(&a, k);
        tdm_redis_args_str(&a, "tdm:relays");
        tdm_redis_args_str(&a, sid);
        tdm_redis_args_int(&a, max_sessions);
        tdm_redis_args_str(&a, "tdm:relay:");
        tdm_redis_args_int(&a, now_ms);
        tdm_redis_args_int(&a, PLACE_KEEP_MS);
        tdm_status st;
        redisReply *rr = tdm_redis_conn_run(&r->rc, &a, &st, err);
        if (!rr)
            return st;
        char id[TDM_HB_ID_MAX + 1] = "";
        if (rr->type == REDIS_REPLY_ARRAY && rr->elements == 2 &&
            rr->element[0]->type == REDIS_REPLY_STRING) {
            snprintf(id, sizeof id, "%s", rr->element[0]->str);
            *is_new = rr->element[1]->type == REDIS_REPLY_INTEGER && rr->element[1]->integer;
        }
        freeReplyObject(rr);
        if (!id[0])
            return tdm_fail(err, TDM_ERR_UNAVAILABLE,
                            "no relay can take a new session (none live, or all draining or full)");
        bool found = false;
        if ((st = fetch(r, id, out, &found, err)) != TDM_OK)
            return st;
        if (found)
            return TDM_OK;
    }
    return tdm_fail(err, TDM_ERR_UNAVAILABLE, "relays keep lapsing while placing a session");
}

static void cb_release(void *ctx, const char *sid)
{
    tdm_redis_registry *r = ctx;
    char k[K_CAP];
    snprintf(k, sizeof k, "tdm:place:%s", sid);
    tdm_redis_args a;
    eval_head(&a, lua_release, 1);
    tdm_redis_args_str(&a, k);
    tdm_redis_args_str(&a, sid);
    tdm_redis_args_str(&a, "tdm:relay:");
    tdm_status st;
    redisReply *rr = tdm_redis_conn_run(&r->rc, &a, &st, NULL);
    /* Not released (Redis away): the placement lapses after a day, and a
     * relay counts it only until then. */
    if (rr)
        freeReplyObject(rr);
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const tdm_sig_relay_entry *)a)->report.id,
                  ((const tdm_sig_relay_entry *)b)->report.id);
}

static tdm_status cb_list(void *ctx, int64_t now_ms, tdm_sig_relay_entry *out, size_t cap,
                          size_t *n, tdm_error *err)
{
    (void)now_ms;
    tdm_redis_registry *r = ctx;
    *n = 0;
    tdm_redis_args a;
    args_init(&a);
    tdm_redis_args_str(&a, "SMEMBERS");
    tdm_redis_args_str(&a, "tdm:relays");
    tdm_status st;
    /* Read-only, so safe to repeat on a connection that broke (Redis restarted). */
    redisReply *rr = tdm_redis_conn_run_idempotent(&r->rc, &a, &st, err);
    if (!rr)
        return st;
    for (size_t i = 0; rr->type == REDIS_REPLY_ARRAY && i < rr->elements && *n < cap; i++) {
        bool found = false;
        if ((st = fetch(r, rr->element[i]->str, &out[*n], &found, err)) != TDM_OK)
            break;
        if (found)
            (*n)++;
    }
    freeReplyObject(rr);
    qsort(out, *n, sizeof *out, cmp_entry);
    return st;
}

tdm_status tdm_redis_registry_new(const tdm_redis_addr *addr, tdm_redis_registry **out,
                                  tdm_error *err)
{
    tdm_redis_registry *r = calloc(1, sizeof *r);
    if (!r)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    tdm_redis_conn_init(&r->rc, addr, 1000);
    *out = r;
    return TDM_OK;
}

void tdm_redis_registry_free(tdm_redis_registry *r)
{
    if (!r)
        return;
    tdm_redis_conn_drop(&r->rc);
    free(r);
}

void tdm_redis_registry_remote(tdm_redis_registry *r, tdm_sig_registry_remote *out)
{
    memset(out, 0, sizeof *out);
    out->heartbeat = cb_heartbeat;
    out->place = cb_place;
    out->release = cb_release;
    out->list = cb_list;
    out->ctx = r;
}
