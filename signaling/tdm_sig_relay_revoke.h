/* tdm_sig_relay_revoke: tandem-signal's sender of relay revocations — the
 * IO side of "ending a session revokes every token of it" (issue 5).
 *
 * Owns a worker thread and its bounded queue. The event loop hands it the
 * revocations the api queued (tdm_sig_api_take_revocations) and returns at
 * once; the thread POSTs each to <relay url>/admin/revoke, signed with the
 * cluster secret exactly as relay heartbeats are (tdm_relay_heartbeat.h:
 * TDM-HMAC-SHA256 over "<ts_ms>\n<body>"; the relay checks the time window
 * and refuses a timestamp not newer than the last it accepted, so this
 * sender never signs two requests with the same millisecond).
 *
 * Why a thread and not the lws client on the event loop: a relay that does
 * not answer must never stall sockets, heartbeats or input forwarding, and a
 * blocking POST with a short timeout on a thread of its own is a few dozen
 * lines that are easy to reason about; the volume is tiny (one request per
 * relay per session end or departure).
 *
 * Failures never reach the API caller: each is logged, retried
 * (connection errors, timeouts, 401 — a clock step — and 5xx) up to
 * `attempts` times with doubling backoff, then given up on: the relay
 * tokens still expire on their own (relay_token_ttl_s). 400 and 404 (a
 * relay started without --cluster-secret-file has no such route) are not
 * retried. http:// only, like heartbeats: the request is signed, not
 * secret, and travels on the cluster network. */
#ifndef TDM_SIG_RELAY_REVOKE_H
#define TDM_SIG_RELAY_REVOKE_H

#include <stddef.h>
#include <stdint.h>

#include "tdm_sig_api.h"
#include "tdm_status.h"

#define TDM_SIG_REVOKER_QUEUE 256

typedef struct tdm_sig_revoker_config {
    const uint8_t *secret; /* the cluster secret (copied), >= TDM_HB_SECRET_MIN */
    size_t secret_len;
    int timeout_ms; /* connect, send and answer, each; 0 = 2000 */
    int attempts;   /* 0 = 4 */
    int backoff_ms; /* before the 2nd attempt, doubling; 0 = 500 */
} tdm_sig_revoker_config;

typedef struct tdm_sig_revoker_counters {
    uint64_t sent;    /* answered 200 */
    uint64_t retries; /* attempts after a failure */
    uint64_t failed;  /* given up on */
    uint64_t dropped; /* queue full */
} tdm_sig_revoker_counters;

typedef struct tdm_sig_revoker tdm_sig_revoker;

/* Starts the thread. TDM_ERR_INVALID for a short secret; NOMEM;
 * TDM_ERR_UNAVAILABLE when the thread cannot start. */
tdm_status tdm_sig_revoker_new(const tdm_sig_revoker_config *cfg, tdm_sig_revoker **out,
                               tdm_error *err);
/* Queues v; never blocks on the network. TDM_ERR_RANGE (counted as
 * dropped) when the queue is full. */
tdm_status tdm_sig_revoker_submit(tdm_sig_revoker *r, const tdm_sig_revocation *v);
/* A snapshot of the counters (any thread). */
void tdm_sig_revoker_counters_get(tdm_sig_revoker *r, tdm_sig_revoker_counters *out);
/* Stops the thread (an attempt in flight finishes, within its timeout),
 * drops what is queued, wipes the secret. NULL is a no-op. */
void tdm_sig_revoker_free(tdm_sig_revoker *r);

#endif
