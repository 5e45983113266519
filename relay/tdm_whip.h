/* tdm_whip: the relay's HTTP API — WHIP (RFC 9725) and WHEP request
 * handling, sans-IO.
 *
 * Owns routing, access-token checks, content checks, resource ids, entity
 * tags, CORS and the mapping of every outcome to an HTTP status. It takes a
 * request the IO shell has already read (relay/tdm_http.h) plus the current
 * time, and fills a response the shell writes; it opens no socket and reads
 * no clock. Media work (ICE, DTLS, rooms) is behind tdm_whip_backend, which
 * the relay implements with its peers; tests implement it with a fake.
 *
 * Routes:
 *   POST    /whip/<session>            publish: SDP offer -> 201 + SDP answer
 *   POST    /whep/<session>            subscribe: the same, as WHEP
 *   PATCH   /whip/<session>/<resource> trickle ICE (204) or ICE restart (200)
 *   DELETE  /whip/<session>/<resource> leave (200)   (and the same for /whep)
 *   OPTIONS on any of the above        CORS preflight (204), no token needed
 *   GET     /healthz                   200 "ok", 503 when the backend says so
 *   GET     /metrics                   Prometheus text: the backend's, then ours
 *   POST    /admin/revoke              signaling ends a session or removes a
 *                                      participant (below); 404 when the relay
 *                                      has no cluster secret
 *
 * /admin/revoke: body {"session": ID} or {"session": ID, "participant": PID}
 * (application/json), authenticated like relay heartbeats with the cluster
 * secret (signaling/tdm_relay_heartbeat.h: Authorization: TDM-HMAC-SHA256
 * ts=<ms>,sig=<hex> over "<ts>\n<body>"); the signed time must be within
 * TDM_WHIP_ADMIN_SKEW_MS of now and newer than the last accepted one
 * (replay). Refusals: 401 bad or missing signature, stale or replayed
 * timestamp; 400 bad body; 503 revocation table full (retry). On success
 * the backend ends every endpoint of the session (or participant) and the
 * revocation is remembered for revocation_ttl_s (tdm_revocations.h): a
 * WHIP/WHEP request whose otherwise valid token names a revoked session or
 * participant gets 403 "session ended" / "participant removed". Answer:
 * 200 {"ended": N} (endpoints ended now). Why 404 without a cluster secret:
 * the route does not exist on such a relay, exactly like an unknown path,
 * so nothing about the admin surface is revealed and signaling's log says
 * plainly that the relay cannot revoke (it retries, then gives up).
 *
 * Every WHIP/WHEP request other than OPTIONS needs `Authorization: Bearer
 * <jwt>` granting the route's role (whip: publish, whep: subscribe) on this
 * node for the session in the path; PATCH and DELETE also need it to name the
 * participant that created the resource. Checks run before anything is
 * looked up, so an unauthenticated caller learns nothing about sessions or
 * resources: refusals say only the token's problem (tdm_token_failure_text).
 *
 * Statuses, in the order they are decided: 404 unknown path, 405 wrong method
 * (with Allow), 401 (with WWW-Authenticate: Bearer) / 403 token, 413 body over
 * TDM_WHIP_MAX_BODY, 415 wrong Content-Type (application/sdp for POST,
 * application/trickle-ice-sdpfrag for PATCH), 404 unknown resource, 400 bad
 * SDP (the parser's "line N: ..." message), 412 If-Match differs from the
 * resource's ETag, then what the backend says (see tdm_whip_backend).
 *
 * Entity tags (RFC 9725 4.3): a POST's 201 carries an ETag naming the ICE
 * session; a trickle PATCH whose If-Match names another ETag gets 412; an ICE
 * restart needs If-Match "*" or the current tag, and its 200 carries a new
 * ETag. A PATCH without If-Match is accepted: the resource URL is already an
 * unguessable capability and the token is checked, so refusing it would
 * only break lax clients.
 *
 * Threads: one tdm_whip is used by one thread (the HTTP loop's). */
#ifndef TDM_WHIP_H
#define TDM_WHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_sdp.h"
#include "tdm_status.h"
#include "tdm_token.h"

/* Largest request body read: an SDP offer may be as large as the parser takes. */
#define TDM_WHIP_MAX_BODY TDM_SDP_MAX_BYTES
/* A response body buffer of this size holds any answer and the metrics. */
#define TDM_WHIP_BODY_CAP (128 * 1024)
/* Resource ids: 128 random bits as 32 lower-case hex digits. */
#define TDM_WHIP_RESOURCE_ID_LEN 32
/* Entity tags: 64 random bits as 16 hex digits, quoted on the wire. */
#define TDM_WHIP_ETAG_LEN 16
#define TDM_WHIP_MAX_HEADERS 16
#define TDM_WHIP_HEADER_VALUE_MAX 512
#define TDM_WHIP_MAX_ICE_SERVERS 8

typedef enum tdm_whip_method {
    TDM_WHIP_OTHER = 0, /* any method not below: 405 where the path exists */
    TDM_WHIP_GET,
    TDM_WHIP_HEAD,
    TDM_WHIP_POST,
    TDM_WHIP_PATCH,
    TDM_WHIP_DELETE,
    TDM_WHIP_OPTIONS,
    TDM_WHIP_PUT,
} tdm_whip_method;

/* A request as the shell read it. Strings are borrowed for the call; a NULL
 * header means it was absent. */
typedef struct tdm_whip_request {
    tdm_whip_method method;
    const char *path; /* as sent; a "?query" suffix is ignored */
    const char *authorization;
    const char *content_type;
    const char *if_match;
    const uint8_t *body;
    size_t body_len;
    /* The shell stopped reading because the body (or its Content-Length) was
     * over TDM_WHIP_MAX_BODY: answered with 413 once the route and token pass. */
    bool body_too_large;
} tdm_whip_request;

typedef struct tdm_whip_header {
    char name[32];
    char value[TDM_WHIP_HEADER_VALUE_MAX];
} tdm_whip_header;

/* The caller points body at body_cap bytes (at least 512; TDM_WHIP_BODY_CAP
 * is enough for anything this module writes) before tdm_whip_handle; the rest is output.
 * The body is not NUL-terminated. Header names repeat when a header is sent
 * several times (Link). Content-Length is the shell's to write. */
typedef struct tdm_whip_response {
    int status;
    size_t n_headers;
    tdm_whip_header headers[TDM_WHIP_MAX_HEADERS];
    char *body;
    size_t body_cap;
    size_t body_len;
} tdm_whip_response;

/* One endpoint (a WHIP publisher or a WHEP subscriber) as the backend keeps
 * it. tdm_whip chooses resource_id and etag; the backend stores them. */
typedef struct tdm_whip_endpoint {
    char resource_id[TDM_WHIP_RESOURCE_ID_LEN + 1];
    char etag[TDM_WHIP_ETAG_LEN + 1]; /* without the quotes */
    tdm_token_role role;
    char session[TDM_TOKEN_ID_MAX + 1];
    char participant[TDM_TOKEN_ID_MAX + 1];
    /* The client's current ICE credentials, which tell an ICE restart from a
     * trickle PATCH. Filled by lookup_endpoint; "" when passed to create. */
    char remote_ufrag[TDM_SDP_ICE_STR_MAX + 1];
    char remote_pwd[TDM_SDP_ICE_STR_MAX + 1];
} tdm_whip_endpoint;

/* What the relay provides. Every function is called on the HTTP thread and
 * must not block. Statuses map to HTTP the same way for every call:
 *   TDM_OK                               success
 *   TDM_ERR_FORMAT, TDM_ERR_UNSUPPORTED  400 (create: nothing in the offer is
 *                                        acceptable) / 422 (patch: e.g. ICE
 *                                        restart not supported)
 *   TDM_ERR_INVALID                      409 the request conflicts with the
 *                                        session (a second publisher)
 *   TDM_EOF                              404 the endpoint has ended
 *   TDM_ERR_UNAVAILABLE, TDM_ERR_RANGE,
 *   TDM_ERR_NOMEM                        503 (no media plane, node full)
 *   anything else                        500 "internal error"
 * For 4xx and 503 the client sees err->msg (or a generic text when empty),
 * so it must name no other session or participant. */
typedef struct tdm_whip_backend {
    void *ctx;
    /* Creates the endpoint ep (role, session, participant, resource_id and
     * etag set) for a parsed offer and writes the SDP answer into answer
     * (cap bytes, *answer_len excluding any NUL). Required. */
    tdm_status (*create_endpoint)(void *ctx, const tdm_whip_endpoint *ep,
                                  const tdm_sdp_session *offer, char *answer, size_t cap,
                                  size_t *answer_len, tdm_error *err);
    /* Fills *out for a live resource id; false when there is none. Required. */
    bool (*lookup_endpoint)(void *ctx, const char *resource_id, tdm_whip_endpoint *out);
    /* Applies a trickle fragment (new_etag NULL: add the candidates) or an ICE
     * restart (new_etag set: restart ICE with frag's credentials, store
     * new_etag, write the relay's new ufrag/pwd and candidates as a
     * trickle-ice-sdpfrag into out). NULL: PATCH answers 405. */
    tdm_status (*patch_endpoint)(void *ctx, const char *resource_id, const tdm_sdp_frag *frag,
                                 const char *new_etag, char *out, size_t cap, size_t *out_len,
                                 tdm_error *err);
    /* Ends the endpoint. Required. */
    tdm_status (*delete_endpoint)(void *ctx, const char *resource_id);
    /* Ends every endpoint of session (participant NULL) or of one
     * participant of it, DTLS close_notify sent; *ended gets how many. NULL:
     * revocation only refuses new requests. */
    tdm_status (*end_session)(void *ctx, const char *session, const char *participant,
                              size_t *ended);
    /* Writes Prometheus text (complete lines) for the media plane. May be NULL. */
    tdm_status (*write_metrics)(void *ctx, char *out, size_t cap, size_t *out_len);
    /* False while the node should take no new endpoints (draining): /healthz
     * answers 503. NULL: always healthy. */
    bool (*healthy)(void *ctx);
} tdm_whip_backend;

/* Fills n bytes with cryptographically strong randomness. */
typedef tdm_status (*tdm_whip_random_fn)(void *ctx, uint8_t *out, size_t n);

/* An ICE server advertised to clients in Link headers of the 201 (RFC 9725
 * 4.6). username/credential are for TURN and may be NULL. */
typedef struct tdm_whip_ice_server {
    const char *url; /* "stun:host:port", "turn:host:port?transport=udp", ... */
    const char *username;
    const char *credential;
} tdm_whip_ice_server;

/* Checks an admin request's Authorization against its body and gives the
 * signed time in ms (tandem-relay: tdm_hb_verify under the cluster secret).
 * TDM_OK, or any error for "not authentic" (err says why). Injected so the
 * relay core does not link the signaling contract library. */
typedef tdm_status (*tdm_whip_admin_verify_fn)(void *ctx, const char *authorization,
                                               const uint8_t *body, size_t body_len,
                                               int64_t *ts_ms, tdm_error *err);

/* Signed admin times further than this from now are refused (as the
 * registry refuses heartbeats: signaling/tdm_sig_registry.h). */
#define TDM_WHIP_ADMIN_SKEW_MS 30000
/* Default revocation memory: signaling's default relay token lifetime
 * (300 s) twice over, plus the token leeway. */
#define TDM_WHIP_REVOCATION_TTL_S (600 + TDM_TOKEN_LEEWAY_S)

/* Copied by tdm_whip_new; nothing is borrowed after it returns. */
typedef struct tdm_whip_config {
    const uint8_t *secret; /* the token secret, >= TDM_TOKEN_SECRET_MIN bytes */
    size_t secret_len;
    const char *node_id; /* this relay's id, as tokens name it */
    /* Value of Access-Control-Allow-Origin on every response ("*" or one
     * origin); NULL sends no CORS headers and answers OPTIONS without them. */
    const char *cors_origin;
    const tdm_whip_ice_server *ice_servers;
    size_t n_ice_servers; /* at most TDM_WHIP_MAX_ICE_SERVERS */
    /* NULL: OpenSSL's RAND_bytes. Tests inject their own. */
    tdm_whip_random_fn random;
    void *random_ctx;
    /* NULL: no /admin/revoke route (404). */
    tdm_whip_admin_verify_fn admin_verify;
    void *admin_ctx;
    /* How long revocations are remembered; 0: TDM_WHIP_REVOCATION_TTL_S. Must
     * cover the longest relay token lifetime signaling mints. */
    int64_t revocation_ttl_s;
} tdm_whip_config;

typedef struct tdm_whip tdm_whip;

/* @return TDM_OK with *out set; TDM_ERR_INVALID for a missing backend
 *         function, a short secret, a bad node id or too many ICE servers
 *         (err says which); TDM_ERR_NOMEM. */
tdm_status tdm_whip_new(const tdm_whip_config *cfg, const tdm_whip_backend *backend,
                        tdm_whip **out, tdm_error *err);
/* Frees w and wipes its copy of the secret; NULL is a no-op. */
void tdm_whip_free(tdm_whip *w);

/* Handles one request at now_s (seconds since the epoch) and fills resp
 * (status, headers, body). Every outcome, errors included, is a response.
 * @return TDM_OK; TDM_ERR_INVALID for NULL arguments or a response without
 *         a body buffer (resp untouched then). */
tdm_status tdm_whip_handle(tdm_whip *w, const tdm_whip_request *req, int64_t now_s,
                           tdm_whip_response *resp);

/* The value of header name in resp (case-insensitive), or NULL. */
const char *tdm_whip_response_header(const tdm_whip_response *resp, const char *name);

/* Method from its HTTP name ("PATCH" -> TDM_WHIP_PATCH); TDM_WHIP_OTHER
 * for anything else. */
tdm_whip_method tdm_whip_method_parse(const char *name);

#endif
