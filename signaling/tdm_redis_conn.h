/* tdm_redis_conn: one blocking hiredis connection to the cluster's Redis
 * (tandem-signal --redis), reconnecting on demand.
 *
 * Owns the Redis URL syntax (redis://HOST[:PORT][/DB]), connecting with a
 * short timeout, selecting the database, and turning transport failures
 * into one recognisable error: every message starts with
 * TDM_REDIS_DOWN_PREFIX, so the HTTP layer can answer 503 rather than 500
 * while Redis is away. After a failed connect no new attempt is made for
 * TDM_REDIS_RETRY_MS, doubling with each further failure up to
 * TDM_REDIS_RETRY_MAX_MS: a dead or unreachable Redis then costs callers
 * nothing but the error, not a connect timeout per call.
 *
 * Not thread-safe: one connection per thread (the store's on the event loop,
 * the bus's publisher and subscriber each their own). */
#ifndef TDM_REDIS_CONN_H
#define TDM_REDIS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

#define TDM_REDIS_DOWN_PREFIX "redis unavailable"
#define TDM_REDIS_RETRY_MS 500
#define TDM_REDIS_RETRY_MAX_MS 4000
#define TDM_REDIS_HOST_MAX 255

typedef struct tdm_redis_addr {
    char host[TDM_REDIS_HOST_MAX + 1];
    uint16_t port; /* default 6379 */
    int db;        /* 0..15 by default config; any non-negative number is accepted */
} tdm_redis_addr;

/* Parses redis://HOST[:PORT][/DB]; HOST is a name, an IPv4 literal or an
 * IPv6 literal in brackets. TDM_ERR_FORMAT naming what is wrong. */
tdm_status tdm_redis_url_parse(const char *url, tdm_redis_addr *out, tdm_error *err);

struct redisContext;
struct redisReply;

typedef struct tdm_redis_conn {
    tdm_redis_addr addr;
    int timeout_ms; /* connect and command timeout; 0 = 2000 */
    struct redisContext *ctx;
    int64_t retry_after_ms; /* monotonic; no connect attempt before */
    int failed_connects;    /* in a row: the back-off doubles with each */
} tdm_redis_conn;

void tdm_redis_conn_init(tdm_redis_conn *rc, const tdm_redis_addr *addr, int timeout_ms);
/* Connects (and SELECTs) unless connected. TDM_ERR_UNAVAILABLE with the
 * prefix above when Redis cannot be reached. */
tdm_status tdm_redis_conn_ensure(tdm_redis_conn *rc, tdm_error *err);
/* Runs one command given as argv (binary-safe). Returns the reply (free
 * with freeReplyObject) or NULL with err set: TDM_ERR_UNAVAILABLE for a
 * transport failure (the connection is dropped, the next call reconnects),
 * TDM_ERR_IO for an error reply (whose text is in err). */
struct redisReply *tdm_redis_conn_argv(tdm_redis_conn *rc, int argc, const char *const *argv,
                                       const size_t *lens, tdm_status *st, tdm_error *err);
void tdm_redis_conn_drop(tdm_redis_conn *rc);

/* A growing argv for tdm_redis_conn_argv. Strings and blobs are borrowed
 * (must outlive the call); integers are formatted into the struct. */
#define TDM_REDIS_ARGS_MAX 40
typedef struct tdm_redis_args {
    int n;
    bool overflow;
    const char *v[TDM_REDIS_ARGS_MAX];
    size_t l[TDM_REDIS_ARGS_MAX];
    char num[TDM_REDIS_ARGS_MAX][24];
} tdm_redis_args;

void tdm_redis_args_str(tdm_redis_args *a, const char *s);
void tdm_redis_args_bin(tdm_redis_args *a, const void *p, size_t n);
void tdm_redis_args_int(tdm_redis_args *a, int64_t v);
/* Runs a; NULL and err as tdm_redis_conn_argv (TDM_ERR_RANGE on overflow). */
struct redisReply *tdm_redis_conn_run(tdm_redis_conn *rc, const tdm_redis_args *a,
                                      tdm_status *st, tdm_error *err);
/* Same for a command that may safely run twice (a read): when it fails on
 * a connection that was up (Redis restarted under it), it is tried once
 * more on a fresh connection, so the first read after a restart does not
 * fail for nothing. Writes never retry: one that failed might have run. */
struct redisReply *tdm_redis_conn_run_idempotent(tdm_redis_conn *rc, const tdm_redis_args *a,
                                                 tdm_status *st, tdm_error *err);

#endif
