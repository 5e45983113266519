/* tdm_redis_cluster: what makes several tandem-signal instances one
 * service (tandem-signal serve --redis URL).
 *
 * Owns the wiring of one instance into the cluster: the relay registry's
 * shared backend (tdm_redis_registry.h), the pub/sub bus
 * (tdm_redis_bus.h) and the hub's cluster hooks (tdm_sig_hub_cluster):
 * the envelope of messages between instances, and the presence table
 * (which participant has a socket on which other instance).
 *
 * Channel layout: one channel per session, "tdm:ch:{sid}". An instance
 * SUBSCRIBEs to a session's channel while it has sockets of that session
 * (and ignores its own messages), so traffic reaches only the instances
 * that serve the session; a session's messages from one sender instance
 * form one ordered stream (Redis delivers a connection's publishes in
 * order). Why per session and not per instance: the sender then need not
 * know where the session's sockets are, and a new instance needs no
 * directory, only its subscriptions.
 *
 * Envelope (JSON): {"i": instance id, "t": type, ...}
 *   "input"    {"d": the event text}: to the customer's sockets, byte for byte
 *   "chat"     {"d": the chat message as sent}: to every socket
 *   "changed"  {"e": event, "u": subject}: the hub re-reads the session from
 *              the shared store and pushes it (removed/ended close sockets)
 *   "presence" {"p": pid, "k": kind, "on": bool}: pid's sockets on "i"
 * Presence is re-announced every TDM_CLUSTER_PRESENCE_REFRESH_MS (and at
 * once to an instance newly announcing itself in a session) and forgotten
 * TDM_CLUSTER_PRESENCE_TTL_MS after the last announcement, so the sockets
 * of an instance that died stop counting as online.
 *
 * Loop thread only, except the bus's wake callback. */
#ifndef TDM_REDIS_CLUSTER_H
#define TDM_REDIS_CLUSTER_H

#include "tdm_sig_hub.h"
#include "tdm_sig_registry.h"
#include "tdm_signal.h"

#define TDM_CLUSTER_PRESENCE_REFRESH_MS 5000
#define TDM_CLUSTER_PRESENCE_TTL_MS 15000

typedef struct tdm_redis_cluster tdm_redis_cluster;

/* Parses url, starts the bus, installs the registry backend on reg and the
 * hooks on hub (all borrowed; they must outlive the cluster). wake(ctx) is
 * called from another thread when messages wait for tdm_redis_cluster_service. */
tdm_status tdm_redis_cluster_new(const char *url, tdm_signal *sig, tdm_sig_hub *hub,
                                 tdm_sig_registry *reg, void (*wake)(void *ctx), void *wake_ctx,
                                 tdm_redis_cluster **out, tdm_error *err);
/* Takes the hooks off the hub and the registry, stops the bus. */
void tdm_redis_cluster_free(tdm_redis_cluster *c);
/* Hands messages from other instances to the hub. */
void tdm_redis_cluster_service(tdm_redis_cluster *c, int64_t now_ms);
/* Presence refresh and expiry; call about once a second. */
void tdm_redis_cluster_tick(tdm_redis_cluster *c, int64_t now_ms);
const char *tdm_redis_cluster_instance(const tdm_redis_cluster *c);
/* Whether Redis is reachable as far as the bus's subscriber knows: its
 * connection is always open, so a Redis that goes away is seen at once and
 * one that comes back within TDM_REDIS_RETRY_MS, without a round trip per
 * question (/healthz asks on every probe). */
bool tdm_redis_cluster_redis_up(tdm_redis_cluster *c);

#endif
