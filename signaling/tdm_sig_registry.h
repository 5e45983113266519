/* tdm_sig_registry: tandem-signal's in-process relay registry and session
 * placement, sans-IO (time is an argument; nothing here reads a clock).
 *
 * Owns which relays exist (from heartbeats, tdm_relay_heartbeat.h, plus
 * static entries from the configuration), when one is dropped, which relay
 * a new session goes to and which relay each placed session keeps.
 *
 * Rules (API.md, "Relay registry"):
 * - a heartbeat is accepted only if its signed timestamp is within skew_ms
 *   of now (stale) and newer than the last one accepted from that relay id
 *   (replay); a dropped relay's last timestamp is kept until it could no
 *   longer pass the skew check, so a captured heartbeat cannot revive it;
 * - a relay not heard from for ttl_ms is dropped, and the sessions placed
 *   on it forget it (they are placed afresh when next asked for);
 * - static entries (configuration) never expire; a heartbeat with their id
 *   updates their URL, load and draining flag;
 * - placement: a session already placed on a relay that is still in the
 *   registry keeps it (draining or not: draining means nothing new). A new
 *   one goes to the relay with the smallest session load among those that
 *   are not draining and below max_sessions (0: no cap); the session load
 *   is max(sessions the relay reported, sessions placed here and not
 *   released), so sessions placed between two heartbeats count at once;
 *   ties go to fewer packets/s, then less CPU, then the smaller id.
 *
 * Single-threaded, like the rest of the signaling core. */
#ifndef TDM_SIG_REGISTRY_H
#define TDM_SIG_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_relay_heartbeat.h"
#include "tdm_status.h"

#define TDM_SIG_REGISTRY_MAX 64 /* relays, dropped ones awaiting expiry included */

typedef struct tdm_sig_registry_config {
    int64_t ttl_ms;          /* 0 = 3000 (three missed 1 s heartbeats, tandem-relay's default) */
    int64_t skew_ms;         /* 0 = 30000 */
    uint32_t max_sessions;   /* per relay; 0 = no cap */
} tdm_sig_registry_config;

typedef struct tdm_sig_relay_entry {
    tdm_hb_report report;  /* id, node, url, draining, load as last heard */
    bool is_static;        /* from the configuration: never expires */
    bool live;             /* false: dropped, kept only for replay checks */
    int64_t first_seen_ms, last_seen_ms;
    int64_t last_ts_ms;    /* the last accepted heartbeat's signed time */
    uint64_t heartbeats;
    uint32_t placed;       /* sessions placed here and not released */
} tdm_sig_relay_entry;

typedef struct tdm_sig_registry_counters {
    uint64_t accepted, refused_auth, refused_stale, refused_replay, refused_full;
    uint64_t dropped, placements;
} tdm_sig_registry_counters;

typedef struct tdm_sig_registry tdm_sig_registry;

tdm_status tdm_sig_registry_new(const tdm_sig_registry_config *cfg, tdm_sig_registry **out,
                                tdm_error *err);
void tdm_sig_registry_free(tdm_sig_registry *reg);

/* A configured relay: live forever, load only from placements until it
 * heartbeats. TDM_ERR_INVALID for a bad id or URL, TDM_ERR_RANGE if full. */
tdm_status tdm_sig_registry_add_static(tdm_sig_registry *reg, const char *id, const char *url,
                                       tdm_error *err);

/* Parses a heartbeat body (tdm_hb_body_format's JSON; unknown fields are
 * ignored, "node" defaults to "id"). TDM_ERR_FORMAT naming the field. */
tdm_status tdm_sig_registry_parse(const uint8_t *body, size_t len, tdm_hb_report *out,
                                  tdm_error *err);

/* Records an authenticated heartbeat signed at ts_ms, received at now_ms.
 * TDM_OK (*entry, if given, points at the relay's entry until the next
 * call); TDM_ERR_INVALID for a stale (outside skew) or replayed timestamp
 * (err says which; counted); TDM_ERR_RANGE when the table is full. */
tdm_status tdm_sig_registry_heartbeat(tdm_sig_registry *reg, const tdm_hb_report *rep,
                                      int64_t ts_ms, int64_t now_ms,
                                      const tdm_sig_relay_entry **entry, tdm_error *err);

/* Counts a heartbeat refused before it reached the registry (bad
 * signature or credentials); returns the count so far. */
uint64_t tdm_sig_registry_note_refused_auth(tdm_sig_registry *reg);

/* Drops relays silent for more than ttl_ms and forgets tombstones older
 * than skew_ms. Writes the ids dropped now, comma-separated, into dropped
 * (may be NULL). Returns how many were dropped. Every call below runs it. */
size_t tdm_sig_registry_expire(tdm_sig_registry *reg, int64_t now_ms, char *dropped, size_t cap);

/* Ids of relays dropped (by any call) since the last take, comma-separated,
 * into out; false when none were. For the operator's log. */
bool tdm_sig_registry_take_dropped(tdm_sig_registry *reg, char *out, size_t cap);

/* The relay for session sid (rules above); records a new placement.
 * TDM_OK with *out valid until the next call; TDM_ERR_UNAVAILABLE when no
 * relay can take a new session (none, all draining or full). */
tdm_status tdm_sig_registry_place(tdm_sig_registry *reg, const char *sid, int64_t now_ms,
                                  const tdm_sig_relay_entry **out, tdm_error *err);
/* Forgets sid's placement (the session ended). No-op if it had none. */
void tdm_sig_registry_release(tdm_sig_registry *reg, const char *sid);

/* A shared backend (tandem-signal --redis: tdm_redis_registry.h) that takes
 * over the table and the placements, so every signaling instance sees the
 * same relays and hands out the same relay for a session. The rules above
 * stay; the skew check and the counters stay here, per instance; the
 * replay check, the TTL and placement are the backend's. Static entries are
 * pushed to it (as heartbeats with ts 0, refreshed from expire()), so they
 * live as long as some instance is configured with them. */
typedef struct tdm_sig_registry_remote {
    /* Records a heartbeat (ts_ms 0: a static entry, no replay check) with a
     * time to live of ttl_ms; fills *out. TDM_ERR_INVALID for a replay. */
    tdm_status (*heartbeat)(void *ctx, const tdm_hb_report *rep, bool is_static, int64_t ts_ms,
                            int64_t now_ms, int64_t ttl_ms, int64_t skew_ms,
                            tdm_sig_relay_entry *out, tdm_error *err);
    /* As tdm_sig_registry_place; *is_new when this call placed it. */
    tdm_status (*place)(void *ctx, const char *sid, uint32_t max_sessions, int64_t now_ms,
                        tdm_sig_relay_entry *out, bool *is_new, tdm_error *err);
    void (*release)(void *ctx, const char *sid);
    /* Up to cap live relays into out. */
    tdm_status (*list)(void *ctx, int64_t now_ms, tdm_sig_relay_entry *out, size_t cap,
                       size_t *n, tdm_error *err);
    void *ctx;
} tdm_sig_registry_remote;

/* From now on every call goes through remote (copied); NULL goes back to
 * the in-process table. */
void tdm_sig_registry_set_remote(tdm_sig_registry *reg, const tdm_sig_registry_remote *remote);

/* Live relays, for listing: n and the i-th (after expiring at now_ms). */
size_t tdm_sig_registry_count(tdm_sig_registry *reg, int64_t now_ms);
const tdm_sig_relay_entry *tdm_sig_registry_at(const tdm_sig_registry *reg, size_t i);
/* The load placement compares (above). */
uint64_t tdm_sig_registry_session_load(const tdm_sig_relay_entry *e);
const tdm_sig_registry_counters *tdm_sig_registry_counters_get(const tdm_sig_registry *reg);
const tdm_sig_registry_config *tdm_sig_registry_config_get(const tdm_sig_registry *reg);

#endif
