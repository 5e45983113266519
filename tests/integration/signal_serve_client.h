/* signal_serve_client: a small blocking HTTP/1.1 and WebSocket (RFC 6455)
 * client for the tandem-signal integration test and benchmark.
 *
 * Written from the RFC rather than with libwebsockets on purpose: the
 * service is then checked against a second implementation of the protocol,
 * and a test can write exactly the frames it wants (oversize, fragmented)
 * and read with a timeout in straight-line code. Loopback only. */
#ifndef SIGNAL_SERVE_CLIENT_H
#define SIGNAL_SERVE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* One request on a fresh connection. headers: extra header lines, each
 * ending in "\r\n", or NULL. body may be NULL. Returns the status (0 on a
 * transport failure); *resp (malloc'd, NUL-terminated) gets the body. */
int sc_http(uint16_t port, const char *method, const char *path, const char *headers,
            const char *body, char **resp);

/* The API's credentials as header lines for sc_http: "Authorization:
 * Bearer" and "X-Tandem-Secret", each only when given (not NULL). */
void sc_auth_headers(char *out, size_t cap, const char *bearer, const char *secret);
/* sc_http with the reply parsed as JSON into *last, which it replaces
 * (freeing the old); an empty object when the body is not JSON. */
int sc_http_json(uint16_t port, const char *method, const char *path, const char *headers,
                 const char *body, json_t **last);

typedef struct sc_ws sc_ws;

/* Connects and upgrades; NULL on failure. */
sc_ws *sc_ws_connect(uint16_t port, const char *path);
/* A text message in one frame (masked, as a client must). */
bool sc_ws_send(sc_ws *ws, const char *data, size_t len);
/* A text message split over n_frags frames (continuations). */
bool sc_ws_send_fragmented(sc_ws *ws, const char *data, size_t len, int n_frags);
/* The next text message, waiting up to timeout_ms (< 0: forever). Returns
 * its length with *msg pointing into the client's buffer (valid until the
 * next call, NUL-terminated); -1 on timeout; -2 when the server closed (its
 * close code in *close_code if not NULL) or the connection failed. */
long sc_ws_recv(sc_ws *ws, int timeout_ms, const char **msg, int *close_code);
int sc_ws_fd(const sc_ws *ws);
void sc_ws_close(sc_ws *ws);

#endif
