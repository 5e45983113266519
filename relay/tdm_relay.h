/* tdm_relay: the relay node's media plane — the tdm_whip_backend that turns
 * WHIP/WHEP offers into real peers and forwards media between them.
 *
 * Owns the node's DTLS identity and a fixed set of worker threads
 * (relay_worker.h), each with its own GMainContext, sessions and peers.
 * A session lives on exactly one worker: every endpoint of it (the
 * publisher and all subscribers) is created there, so forwarding never
 * crosses threads and the hot path takes no lock and allocates nothing per
 * packet. A new session goes to the worker holding the fewest sessions.
 *
 * Media path, on the session's worker: a publisher's decrypted RTP latches
 * its stream (SSRC and payload type -> codec from the offer's rtpmap) on
 * the first packet, goes into that stream's NACK cache, through the room,
 * and each rewritten copy is encrypted in place and sent to its
 * subscriber. A subscriber's RTCP is parsed: NACKs are answered from the
 * cache (the publisher is not asked), PLI/FIR become keyframe requests that
 * the throttle lets through as PLIs to the publisher, and the lowest REMB
 * of the session's subscribers is passed to the publisher. The relay
 * writes its own sender reports to subscribers and receiver reports to
 * the publisher.
 *
 * Threads: the backend functions (tdm_relay_backend) are called on the
 * HTTP thread (one); each hops onto the worker concerned and blocks until
 * it has done the work. create_endpoint blocks for up to two seconds while
 * host candidates are gathered (synchronously, so the answer carries them:
 * no trickle from the relay is needed). tdm_relay_new, _start, _stop and
 * _free are called from one control thread (main), with the HTTP thread no
 * longer calling the backend by the time _stop is called. */
#ifndef TDM_RELAY_H
#define TDM_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_ice.h"
#include "tdm_status.h"
#include "tdm_whip.h"

/* Sessions and endpoints one worker holds; beyond them creation is 503. */
#define TDM_RELAY_MAX_SESSIONS 64
#define TDM_RELAY_MAX_ENDPOINTS 256
#define TDM_RELAY_MAX_WORKERS 64

typedef struct tdm_relay_config {
    /* Numeric addresses ICE gathers host candidates on. Required (at least
     * one): gathering on every interface would leak test traffic and
     * private addresses. Copied. */
    const char *local_addresses[TDM_ICE_MAX_LOCAL_ADDRESSES];
    size_t n_local_addresses;
    /* Subscribers per session; 0 means 16. */
    size_t max_subscribers;
    /* Worker threads; 0 means one per online CPU. */
    size_t workers;
    /* Also gather ICE-TCP candidates (RFC 6544, passive), for clients whose
     * network blocks UDP. */
    bool ice_tcp;
    /* How long a client may leave ICE consent checks unanswered before it
     * is dropped (counted under reason "consent"); 0: the default. libnice
     * runs only 10 s or 50 s (see TDM_ICE_CONSENT_*_MS): up to 10 s gets
     * the 10 s mode. */
    uint32_t consent_timeout_ms;
    /* Recording: every published session is written, as forwarded, to a
     * file of its own in record_dir (recording/tdm_rec_writer.h; NULL: no
     * recording), under a random per-session key wrapped with
     * recording_master_key (shared with signaling and auditors; copied). */
    const char *record_dir;
    uint8_t recording_master_key[32];
} tdm_relay_config;

typedef struct tdm_relay tdm_relay;

/* Creates the workers and the node identity; nothing runs yet.
 * @return TDM_OK with *out set; TDM_ERR_INVALID (no local address, too
 *         many, one not numeric, too many workers); TDM_ERR_UNAVAILABLE
 *         (OpenSSL); NOMEM. */
tdm_status tdm_relay_new(const tdm_relay_config *cfg, tdm_relay **out, tdm_error *err);

/* Starts the worker threads. TDM_ERR_UNAVAILABLE if one could not start
 * (none is left running) or they already run. */
tdm_status tdm_relay_start(tdm_relay *r, tdm_error *err);

/* Closes every endpoint on its worker (DTLS close_notify sent), then
 * stops and joins the workers. No-op if not running. */
void tdm_relay_stop(tdm_relay *r);

/* Stops if needed and frees everything; NULL is a no-op. */
void tdm_relay_free(tdm_relay *r);

/* The backend for tdm_whip_new; ctx is r. Valid until tdm_relay_free.
 * While the workers are not running, creation answers 503. */
void tdm_relay_backend(tdm_relay *r, tdm_whip_backend *out);

/* The number of worker threads. */
size_t tdm_relay_workers(const tdm_relay *r);

/* The node's load, summed over the workers: what a relay reports in its
 * heartbeat to the signaling registry. Totals are counters since start;
 * the caller derives rates between two reads. */
typedef struct tdm_relay_load_info {
    size_t workers;
    uint64_t sessions, endpoints; /* now */
    uint64_t packets_in, packets_out, bytes_in, bytes_out; /* totals */
    double cpu_seconds; /* the worker threads' CPU time, total */
} tdm_relay_load_info;

/* Fills *out, hopping onto each worker like /metrics does; callable from
 * any thread while the relay runs (not concurrently with _stop or _free).
 * TDM_OK; TDM_ERR_UNAVAILABLE when the workers are not running (*out then
 * holds only the worker count). */
tdm_status tdm_relay_load(tdm_relay *r, tdm_relay_load_info *out);

/* Recording events for the audit trail: a worker notes each recording it
 * opens and closes (control path, once per publisher, never per packet)
 * in a small queue of the node; the heartbeat thread takes them and
 * reports them to signaling (API.md "Relay recording events"). */
#define TDM_RELAY_REC_EVENTS_MAX 64 /* queued; beyond it the oldest goes */
#define TDM_RELAY_REC_SESSION_MAX 64
#define TDM_RELAY_REC_FILE_MAX 512

typedef enum tdm_relay_rec_kind {
    TDM_RELAY_REC_STARTED = 0,
    TDM_RELAY_REC_STOPPED = 1,
} tdm_relay_rec_kind;

typedef struct tdm_relay_rec_event {
    tdm_relay_rec_kind kind;
    char session[TDM_RELAY_REC_SESSION_MAX + 1];
    char file[TDM_RELAY_REC_FILE_MAX]; /* the base name, no directory */
    uint64_t packets, dropped;         /* stopped only */
    char sha256[65];                   /* stopped only: the file's hash, hex */
    int64_t ts_ms;                     /* wall clock, Unix ms */
} tdm_relay_rec_event;

/* Appends ev to the queue; when full, the oldest is dropped and counted.
 * Callable from any thread (the workers call it). */
void tdm_relay_note_recording_event(tdm_relay *r, const tdm_relay_rec_event *ev);

/* Moves up to cap queued events, oldest first, into out; returns how many.
 * *dropped (optional) gets the events dropped since the last take. */
size_t tdm_relay_take_recording_events(tdm_relay *r, tdm_relay_rec_event *out, size_t cap,
                                       uint64_t *dropped);

#endif
