/* signal_link: the native clients' connection to tandem-signal — blocking
 * HTTP/1.1 requests and one WebSocket (RFC 6455), as signaling/API.md
 * describes them.
 *
 * Owns: the base URL, connecting (numeric host or a resolvable name, IPv4 or
 * IPv6), deadlines, and turning every failure into a status plus a sentence
 * a person can act on ("connection refused by 127.0.0.1:8443", "timed out
 * after 5000 ms waiting for the response"). Protocol bytes are parsed by the
 * sans-IO half (signal_link_wire.h), which is fuzzed.
 *
 * Blocking on purpose: a client asks, waits with a deadline, and acts on the
 * answer; tandem-share and tandem-rep have nothing else to do meanwhile, and a
 * program with its own loop polls tdm_link_ws_fd().
 *
 * Plain http:// only: the service behind a TLS-terminating proxy is reached
 * on its internal address, or by the browser console. */
#ifndef TDM_SIGNAL_LINK_H
#define TDM_SIGNAL_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

/* Why a call failed, for a caller that reacts differently (retry on
 * REFUSED/TIMEOUT, give up on URL/BAD_RESPONSE). */
typedef enum tdm_link_failure {
    TDM_LINK_FAIL_NONE = 0,
    TDM_LINK_FAIL_URL,          /* base URL or path unusable */
    TDM_LINK_FAIL_RESOLVE,      /* host name did not resolve */
    TDM_LINK_FAIL_REFUSED,      /* connection refused / unreachable */
    TDM_LINK_FAIL_TIMEOUT,      /* deadline passed (connect, send or receive) */
    TDM_LINK_FAIL_IO,           /* reset, broken pipe, other socket error */
    TDM_LINK_FAIL_BAD_RESPONSE, /* the peer's bytes are not valid HTTP/WebSocket */
    TDM_LINK_FAIL_TOO_LARGE,    /* response or message over the size limit */
    TDM_LINK_FAIL_CLOSED,       /* peer closed the connection/WebSocket */
} tdm_link_failure;

const char *tdm_link_failure_str(tdm_link_failure f);

/* ---- the service's address ---------------------------------------------- */

typedef struct tdm_link tdm_link;

/* base_url: "http://HOST[:PORT][/PREFIX]" (port defaults to 80; HOST is a
 * name, an IPv4 address or "[IPv6]"). timeout_ms (> 0) bounds each request
 * from connect to last byte, and WebSocket connect and send. Nothing is
 * connected yet. */
tdm_status tdm_link_new(const char *base_url, int timeout_ms, tdm_link **out,
                        tdm_error *err);
void tdm_link_free(tdm_link *link);

/* "HOST:PORT" (IPv6 in brackets) as parsed, for messages. */
const char *tdm_link_authority(const tdm_link *link);

/* ---- HTTP --------------------------------------------------------------- */

/* One request on a fresh connection (Connection: close). Zero-initialise and
 * set what applies; fields may be added at the end later. */
typedef struct tdm_link_request {
    const char *method; /* "GET", "POST", "PUT", "DELETE"; NULL = GET */
    const char *path;   /* "/api/v1/login", appended to the base URL's prefix;
                           must start with '/' */
    const char *bearer; /* Authorization: Bearer <bearer>, or NULL */
    const char *secret; /* X-Tandem-Secret: <secret>, or NULL */
    const char *body;   /* JSON body (Content-Type: application/json), or NULL */
} tdm_link_request;

typedef struct tdm_link_response {
    int status;               /* HTTP status; 0 when no response was read */
    char *body;               /* malloc'd, NUL-terminated ("" if empty); NULL on failure */
    size_t body_len;
    tdm_link_failure failure; /* NONE when a response was read */
} tdm_link_response;

/* TDM_OK when a complete response was read, whatever its status (a 404 is a
 * response: check resp->status). A negative status when none was: err says
 * why and resp->failure which kind. Responses are limited to 8 MiB. Always
 * call tdm_link_response_free afterwards. */
tdm_status tdm_link_http(tdm_link *link, const tdm_link_request *req,
                         tdm_link_response *resp, tdm_error *err);
void tdm_link_response_free(tdm_link_response *resp);

/* For an error response ({"error": code, "detail": text}): "code: text", or
 * "HTTP <status>" when the body is not of that shape. Writes into buf. */
const char *tdm_link_error_text(const tdm_link_response *resp, char *buf, size_t cap);

/* ---- WebSocket ---------------------------------------------------------- */

typedef struct tdm_link_ws tdm_link_ws;

/* Connects to <base>/api/v1/ws and upgrades, requesting subprotocol
 * tandem-v1 (an answer naming another is refused). Does not authenticate:
 * see tdm_link_ws_auth. */
tdm_status tdm_link_ws_connect(tdm_link *link, tdm_link_ws **out, tdm_error *err);

/* Sends {"type":"auth","secret":...} and waits (the link's timeout) for the
 * answer. TDM_OK on "welcome", with *welcome (malloc'd JSON text, caller
 * frees; may be NULL to ignore); TDM_ERR_UNAVAILABLE when the service refused
 * the secret (err holds its error code), other negatives on transport errors. */
tdm_status tdm_link_ws_auth(tdm_link_ws *ws, const char *secret, char **welcome,
                            tdm_error *err);

/* One text message in one masked frame. Safe to call from another thread
 * than tdm_link_ws_recv (writes are serialised inside). Messages are limited
 * to 1 MiB. */
tdm_status tdm_link_ws_send(tdm_link_ws *ws, const char *text, size_t len, tdm_error *err);

/* The next text message, waiting up to timeout_ms (0: only what is already
 * here, < 0: forever). Pings are answered and pongs swallowed inside.
 *   TDM_OK:    *msg (NUL-terminated, valid until the next recv or close),
 *              *len its length (len may be NULL);
 *   TDM_AGAIN: nothing within timeout_ms;
 *   TDM_EOF:   the server closed the WebSocket (tdm_link_ws_close_code);
 *   negative:  transport or protocol failure (err, tdm_link_ws_failure).
 * Fragmented messages are reassembled; messages over 1 MiB fail. */
tdm_status tdm_link_ws_recv(tdm_link_ws *ws, int timeout_ms, const char **msg,
                            size_t *len, tdm_error *err);

/* The socket, for poll(POLLIN) in a caller's loop. Check
 * tdm_link_ws_buffered() first: bytes already read from the socket do not
 * make it readable again. */
int tdm_link_ws_fd(const tdm_link_ws *ws);
bool tdm_link_ws_buffered(const tdm_link_ws *ws);

/* The close code the server sent (1000, 4001, 4003, ...); 1005 if it sent
 * none, 0 while open. */
int tdm_link_ws_close_code(const tdm_link_ws *ws);
tdm_link_failure tdm_link_ws_failure(const tdm_link_ws *ws);

/* Sends a close frame (1000) if still open, waits briefly for the server's,
 * closes the socket and frees. NULL is fine. Call it once no other thread
 * is inside tdm_link_ws_send or tdm_link_ws_recv. */
void tdm_link_ws_close(tdm_link_ws *ws);

#endif
