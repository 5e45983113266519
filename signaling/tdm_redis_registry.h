/* tdm_redis_registry: the relay registry's shared backend in Redis
 * (tdm_sig_registry_remote, tdm_sig_registry.h), for tandem-signal --redis.
 *
 * Owns the registry's keys (API.md "Cluster"):
 *   tdm:relays                 set of relay ids ever heard (pruned lazily)
 *   tdm:relay:{id}             hash: the last heartbeat (id, node, url,
 *                              draining, load fields, first/last seen, count),
 *                              PEXPIRE relay_ttl: a silent relay's key lapses
 *   tdm:relay:{id}:ts          last accepted signed timestamp (replay check),
 *                              kept 2 x skew so a captured heartbeat cannot
 *                              revive a dropped relay
 *   tdm:relay:{id}:placed      zset of session ids placed there (score: when),
 *                              entries older than a day pruned
 *   tdm:place:{sid}            the relay id of a session (expires after a day)
 * A heartbeat (replay check included) and a placement are each one Lua
 * script, so two instances never place past the cap or accept a replay
 * between them. Each call is one or two round trips on the caller's thread
 * (the event loop), with a 1 s timeout; while Redis is away the calls fail
 * at once (tdm_redis_conn.h) and placement answers TDM_ERR_UNAVAILABLE. */
#ifndef TDM_REDIS_REGISTRY_H
#define TDM_REDIS_REGISTRY_H

#include "tdm_redis_conn.h"
#include "tdm_sig_registry.h"

typedef struct tdm_redis_registry tdm_redis_registry;

/* Does not connect yet: the first call does (and every call after a failure). */
tdm_status tdm_redis_registry_new(const tdm_redis_addr *addr, tdm_redis_registry **out,
                                  tdm_error *err);
void tdm_redis_registry_free(tdm_redis_registry *r);
/* The callbacks for tdm_sig_registry_set_remote; r must outlive their use. */
void tdm_redis_registry_remote(tdm_redis_registry *r, tdm_sig_registry_remote *out);

#endif
