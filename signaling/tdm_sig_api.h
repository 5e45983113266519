/* tdm_sig_api: the HTTP API of tandem-signal (routes in signaling/API.md),
 * sans-IO.
 *
 * Owns routing a parsed request (method, path, query, the two credential
 * headers, body) to the tdm_signal call it stands for, the JSON of requests
 * and answers, the media object (relay placement through the relay
 * registry it owns, tdm_sig_registry.h; relay token, TURN credentials),
 * relay heartbeats and telling the hub what changed so sockets hear of it. The
 * shell reads the request off the wire and writes back status and body;
 * static files are not here (tdm_sig_static.h). Time is an argument.
 *
 * Revocations (issue 5: ending a session revokes every token of it): when a
 * session ends, or participants leave or are removed (cascades included:
 * the last rep leaving removes every invitee), the api queues one
 * revocation per relay concerned — the relays it minted relay tokens for,
 * for that session (every live relay when it no longer knows, which is
 * harmless: an unknown session costs a relay one table entry). The shell
 * takes them (tdm_sig_api_take_revocations) and POSTs them to each relay's
 * /admin/revoke (tdm_sig_relay_revoke.h). */
#ifndef TDM_SIG_API_H
#define TDM_SIG_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_sig_hub.h"
#include "tdm_sig_registry.h"
#include "tdm_sig_serve_config.h"
#include "tdm_signal.h"

/* Request bodies larger than this are refused with 413. */
#define TDM_SIG_API_BODY_MAX 65536

typedef struct tdm_sig_api_request {
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* without the query, e.g. "/api/v1/login" */
    const char *query;         /* after '?', or NULL */
    const char *authorization; /* Authorization header, or NULL */
    const char *secret;        /* X-Tandem-Secret header, or NULL */
    const uint8_t *body;
    size_t body_len;
    bool body_too_large;
} tdm_sig_api_request;

typedef struct tdm_sig_api_response {
    int status;
    char *body; /* JSON text (malloc'd; free()), never NULL after TDM_OK */
    /* A line for the operator's log ("" for none): the API decides what is
     * worth logging (refused heartbeats), the shell writes it. */
    char log[512];
} tdm_sig_api_response;

typedef struct tdm_sig_api tdm_sig_api;

/* All borrowed; they must outlive the api. */
tdm_status tdm_sig_api_new(tdm_signal *sig, tdm_sig_hub *hub, const tdm_sig_serve_config *cfg,
                           tdm_sig_api **out, tdm_error *err);
void tdm_sig_api_free(tdm_sig_api *api);

/* Whether the path is the API's (else it is a static file). */
bool tdm_sig_api_owns(const char *path);

/* Answers one request. TDM_OK with resp filled (any status, errors
 * included); other statuses only for out-of-memory. */
tdm_status tdm_sig_api_handle(tdm_sig_api *api, const tdm_sig_api_request *req, int64_t now_ms,
                              tdm_sig_api_response *resp);

/* The timer (about once a second): drops relays whose heartbeats stopped.
 * Writes a log line into log (cap bytes; "" when nothing happened). */
void tdm_sig_api_tick(tdm_sig_api *api, int64_t now_ms, char *log, size_t cap);

/* One revocation for the shell to send: POST url/admin/revoke with
 * {"session": session} or, participant non-empty, also "participant". */
#define TDM_SIG_API_REVOKE_QUEUE 128
/* Relays whose last recording-event time is kept for the replay check of
 * POST /api/v1/relays/recording (api.c). */
#define TDM_SIG_API_REC_RELAYS 64
typedef struct tdm_sig_revocation {
    char url[TDM_HB_URL_MAX]; /* the relay's base URL (registry) */
    char relay_id[TDM_HB_ID_MAX + 1];
    char session[TDM_HB_ID_MAX + 1];
    char participant[TDM_HB_ID_MAX + 1]; /* "" for the whole session */
} tdm_sig_revocation;

/* Moves up to max queued revocations into out (oldest first); returns how
 * many. The shell calls it after each tdm_sig_api_handle. Revocations that
 * did not fit the queue (TDM_SIG_API_REVOKE_QUEUE) are counted in
 * *dropped (may be NULL), which the call resets. */
size_t tdm_sig_api_take_revocations(tdm_sig_api *api, tdm_sig_revocation *out, size_t max,
                                    uint64_t *dropped);

/* The media object (API.md) for participant pid of sid, as JSON text
 * (free()); "null" when no relay can take the session. For relay
 * failover's "moved" messages (tdm_sig_failover.h). */
tdm_status tdm_sig_api_media_object(tdm_sig_api *api, const char *pid, const char *sid,
                                    tdm_sig_kind kind, int64_t now_ms, char **json,
                                    tdm_error *err);

/* The relay registry (tests, listing). Owned by api. */
tdm_sig_registry *tdm_sig_api_registry(tdm_sig_api *api);

#endif
