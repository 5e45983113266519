/* tdm_relay: the relay's media plane for one worker — the tdm_whip_backend
 * that turns WHIP/WHEP offers into real peers and forwards media between
 * them.
 *
 * Owns one GMainContext and the thread that runs it (the media thread), the
 * node's DTLS identity, and a table of sessions (session id -> forwarding
 * room, a NACK cache per publisher stream, a keyframe throttle, the
 * publisher endpoint and the subscriber endpoints) and endpoints (resource
 * id -> peer, role, session, participant, entity tag, room subscriber id).
 *
 * Media path, all on the media thread: a publisher's decrypted RTP latches
 * its stream (SSRC and payload type -> codec from the offer's rtpmap) on
 * the first packet, goes into that stream's NACK cache, through the room,
 * and each rewritten copy is encrypted in place and sent to its
 * subscriber. A subscriber's RTCP is parsed: NACKs are answered from the
 * cache (the publisher is not asked), PLI/FIR become keyframe requests that
 * the throttle lets through as PLIs to the publisher, and the lowest REMB
 * of the session's subscribers is passed to the publisher.
 *
 * Threads: peers, rooms and every table live on the media thread only.
 * The backend functions (tdm_relay_backend) are called on the HTTP thread;
 * each hops onto the media thread (g_main_context_invoke) and blocks on a
 * condition variable until the media thread has done the work, so no lock
 * guards the tables and the hot path takes none. create_endpoint blocks for
 * up to two seconds while host candidates are gathered (synchronously, so
 * the answer carries them: no trickle from the relay is needed).
 * tdm_relay_new, _start, _stop and _free are called from one control
 * thread (main), with the HTTP thread no longer calling the backend by
 * the time _stop is called. */
#ifndef TDM_RELAY_H
#define TDM_RELAY_H

#include <stdbool.h>
#include <stddef.h>

#include "tdm_ice.h"
#include "tdm_status.h"
#include "tdm_whip.h"

/* Sessions and endpoints one worker holds; beyond them creation is 503. */
#define TDM_RELAY_MAX_SESSIONS 64
#define TDM_RELAY_MAX_ENDPOINTS 256

typedef struct tdm_relay_config {
    /* Numeric addresses ICE gathers host candidates on. Required (at least
     * one): gathering on every interface would leak test traffic and
     * private addresses. Copied. */
    const char *local_addresses[TDM_ICE_MAX_LOCAL_ADDRESSES];
    size_t n_local_addresses;
    /* Subscribers per session; 0 means 16. */
    size_t max_subscribers;
} tdm_relay_config;

typedef struct tdm_relay tdm_relay;

/* Creates the context and the node identity; nothing runs yet.
 * @return TDM_OK with *out set; TDM_ERR_INVALID (no local address, too
 *         many, one not numeric); TDM_ERR_UNAVAILABLE (OpenSSL); NOMEM. */
tdm_status tdm_relay_new(const tdm_relay_config *cfg, tdm_relay **out, tdm_error *err);

/* Starts the media thread. TDM_ERR_UNAVAILABLE if it could not start or
 * already runs. */
tdm_status tdm_relay_start(tdm_relay *r, tdm_error *err);

/* Closes every endpoint on the media thread (DTLS close_notify sent), then
 * stops and joins it. No-op if not running. */
void tdm_relay_stop(tdm_relay *r);

/* Stops if needed and frees everything; NULL is a no-op. */
void tdm_relay_free(tdm_relay *r);

/* The backend for tdm_whip_new; ctx is r. Valid until tdm_relay_free.
 * While the media thread is not running, creation answers 503. */
void tdm_relay_backend(tdm_relay *r, tdm_whip_backend *out);

#endif
