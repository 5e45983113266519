/* tdm_redis_bus: Redis pub/sub between tandem-signal instances, off the
 * event loop.
 *
 * Owns two threads, each with its own blocking hiredis connection:
 * - the publisher takes messages from an in-memory queue, in the order they
 *   were queued, and PUBLISHes them (pipelined in batches) on channel
 *   "tdm:ch:{session id}"; one connection and one queue keep each
 *   instance's messages in order, which is what keeps a rep's input events
 *   in order at the customer's instance;
 * - the subscriber SUBSCRIBEs to the channels of the sessions this
 *   instance follows (tdm_redis_bus_follow: those it has sockets of), so an
 *   instance hears only its own sessions' traffic; it waits in poll() on
 *   its connection and on a pipe the loop writes to when the set changes,
 *   queues what arrives and wakes the event loop through the wake callback
 *   (lws_cancel_service); the loop takes the messages with
 *   tdm_redis_bus_take. After a reconnect it subscribes to the whole set
 *   again.
 * Why threads and not hiredis' async API: libwebsockets has no hiredis
 * adapter, and two threads with blocking calls keep reconnecting and
 * back-off as straight-line code; the loop thread never waits on Redis for
 * pub/sub (it only takes a mutex to queue or take).
 *
 * While Redis is away: publishing keeps retrying the oldest message every
 * TDM_REDIS_RETRY_MS, and messages queued more than TDM_BUS_STALE_MS ago
 * are dropped (counted, logged): input replayed seconds late would do harm.
 * The queue is capped (TDM_BUS_QUEUE_MAX bytes; beyond, new messages are
 * dropped and counted). The subscriber reconnects and re-subscribes by
 * itself; what was published while it was away is lost (pub/sub keeps
 * nothing), so instances resynchronise through the shared store (session
 * state is read from it) and through presence refreshes. */
#ifndef TDM_REDIS_BUS_H
#define TDM_REDIS_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_redis_conn.h"

#define TDM_BUS_CHANNEL_PREFIX "tdm:ch:"
#define TDM_BUS_STALE_MS 2000
#define TDM_BUS_QUEUE_MAX (16u << 20)
#define TDM_BUS_MESSAGE_MAX (64u << 10)

typedef struct tdm_redis_bus tdm_redis_bus;

typedef struct tdm_redis_bus_stats {
    uint64_t published, received, dropped_stale, dropped_full;
    uint64_t subscriptions; /* connections the subscriber made: > 1 = it reconnected */
    bool pub_connected, sub_connected;
} tdm_redis_bus_stats;

/* Starts both threads. wake(wake_ctx) is called from the subscriber thread
 * after messages were queued for the loop. */
tdm_status tdm_redis_bus_new(const tdm_redis_addr *addr, void (*wake)(void *ctx), void *wake_ctx,
                             tdm_redis_bus **out, tdm_error *err);
/* Stops and joins the threads; queued messages are dropped. */
void tdm_redis_bus_free(tdm_redis_bus *b);

/* Queues msg for channel tdm:ch:{session_id}; never blocks on Redis.
 * false when dropped (queue full, message too large). */
bool tdm_redis_bus_publish(tdm_redis_bus *b, const char *session_id, const char *msg, size_t len);

/* Starts (on) or stops hearing session_id's channel; never blocks on
 * Redis. Messages published before the SUBSCRIBE reaches Redis are not
 * heard: the cluster re-announces what matters (presence) periodically and
 * re-reads the rest when the subscription is confirmed (tdm_redis_bus_take). */
void tdm_redis_bus_follow(tdm_redis_bus *b, const char *session_id, bool on);

/* Hands every received message to fn (session id from the channel name)
 * in arrival order; returns how many. Loop thread. msg NULL (len 0): the
 * SUBSCRIBE to that session's channel took effect (also after each
 * reconnect) — nothing published there from then on is missed, so state
 * changed before can be read from the store without a gap. */
size_t tdm_redis_bus_take(tdm_redis_bus *b,
                          void (*fn)(void *ctx, const char *session_id, const char *msg,
                                     size_t len),
                          void *ctx);

void tdm_redis_bus_stats_get(tdm_redis_bus *b, tdm_redis_bus_stats *out);

#endif
