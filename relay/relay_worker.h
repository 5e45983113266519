/* relay_worker.h (internal to the relay node): one media worker — a thread
 * with its own GMainContext that owns a set of sessions outright: their
 * peers (ICE sockets, DTLS, SRTP), rooms, NACK caches, keyframe throttles
 * and ingest trackers. Nothing a worker owns is touched by another thread,
 * so its hot path (publisher RTP -> room -> every subscriber) takes no lock.
 *
 * The node (relay.c) spreads sessions over workers and calls the functions
 * below from the HTTP thread; each hops onto the worker's thread
 * (g_main_context_invoke) and blocks until the worker has done the work,
 * as the WHIP/WHEP backend contract wants a synchronous answer. */
#ifndef TDM_RELAY_WORKER_H
#define TDM_RELAY_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_dtls.h"
#include "tdm_ice.h"
#include "tdm_peer.h"
#include "tdm_relay.h"
#include "tdm_sdp.h"
#include "tdm_srtp.h"
#include "tdm_status.h"
#include "tdm_whip.h"

typedef struct tdm_relay_worker tdm_relay_worker;

typedef struct tdm_relay_worker_config {
    int index; /* for the thread name and metrics labels */
    const tdm_dtls_identity *identity; /* the node's, shared read-only */
    const char *const *local_addresses;
    size_t n_local_addresses;
    bool ice_tcp;
    uint32_t consent_timeout_ms;
    /* Recording: a file per published session in record_dir (NULL: off),
     * its key wrapped under the master key (see tdm_relay.h). */
    const char *record_dir;
    const uint8_t *recording_master_key; /* 32 bytes when record_dir is set */
    /* Where recording starts and stops are noted for the audit trail
     * (tdm_relay_note_recording_event); NULL: nowhere. */
    tdm_relay *node;
    size_t max_subscribers;
    size_t max_sessions; /* at most TDM_RELAY_MAX_SESSIONS */
} tdm_relay_worker_config;

/* Counters and gauges of one worker, summed by the node for /metrics. */
typedef struct tdm_relay_worker_metrics {
    uint64_t sessions, endpoints; /* gauges */
    uint64_t packets_in, bytes_in, packets_out, bytes_out;
    uint64_t drops_unlatched, drops_room, drops_send, drops_rtcp;
    uint64_t nacks_in, retransmissions, retransmission_misses;
    uint64_t plis_in, firs_in, plis_out, rembs_out, nacks_out;
    uint64_t ingest_keyframe_events;
    uint64_t srs_out, rrs_out;
    uint64_t recordings_open; /* gauge */
    uint64_t recordings_started, recordings_failed;
    uint64_t recording_bytes, recording_drops, recording_io_errors;
    uint64_t endpoints_created;
    uint64_t endpoints_failed[TDM_PEER_FAIL_SRTP + 1]; /* by tdm_peer_fail */
    uint64_t srtp_in_fail[TDM_SRTP_FAIL_COUNT];
    uint64_t unknown_dropped, early_dropped;
    /* Pairs ICE selected, by local type, remote type and local transport
     * (0 udp, 1 tcp). */
    uint64_t selected[4][4][2];
    double cpu_seconds; /* the worker thread's CPU time */
} tdm_relay_worker_metrics;

tdm_status tdm_relay_worker_new(const tdm_relay_worker_config *cfg, tdm_relay_worker **out,
                                tdm_error *err);
tdm_status tdm_relay_worker_start(tdm_relay_worker *w, tdm_error *err);
/* Closes every endpoint (close_notify sent), then stops and joins. */
void tdm_relay_worker_stop(tdm_relay_worker *w);
void tdm_relay_worker_free(tdm_relay_worker *w);

/* Sessions held now (read without a hop: a relaxed atomic, for placement). */
size_t tdm_relay_worker_session_count(const tdm_relay_worker *w);
/* Whether the worker holds the session. false when not running. */
bool tdm_relay_worker_has_session(tdm_relay_worker *w, const char *session_id);

/* The WHIP/WHEP backend operations, as in tdm_whip.h, on this worker. */
tdm_status tdm_relay_worker_create(tdm_relay_worker *w, const tdm_whip_endpoint *ep,
                                   const tdm_sdp_session *offer, char *answer, size_t cap,
                                   size_t *answer_len, tdm_error *err);
bool tdm_relay_worker_lookup(tdm_relay_worker *w, const char *rid, tdm_whip_endpoint *out);
tdm_status tdm_relay_worker_patch(tdm_relay_worker *w, const char *rid, const tdm_sdp_frag *frag,
                                  const char *new_etag, char *out, size_t cap, size_t *out_len,
                                  tdm_error *err);
/* TDM_OK, or TDM_EOF when the worker does not hold rid. */
tdm_status tdm_relay_worker_delete(tdm_relay_worker *w, const char *rid);
/* Ends (close_notify sent) every endpoint of session_id, or only those of
 * participant when it is not NULL; returns how many. 0 when not running. */
size_t tdm_relay_worker_end_session(tdm_relay_worker *w, const char *session_id,
                                    const char *participant);
/* false when the worker is not running (nothing written). */
bool tdm_relay_worker_metrics_get(tdm_relay_worker *w, tdm_relay_worker_metrics *out);

#endif
