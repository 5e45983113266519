/* tdm_http: the relay's HTTP/1.1 server, a thin IO shell over libwebsockets.
 *
 * Owns the listening socket, reading each request's method, path, the
 * headers tdm_whip needs and its body (bounded by TDM_WHIP_MAX_BODY), and
 * writing back what tdm_whip_handle decided. Every decision about a request
 * is tdm_whip's; this file only moves bytes and reads the wall clock.
 *
 * Plain HTTP only for now: bind it to loopback (the default) or put a
 * TLS-terminating proxy in front. Browsers need HTTPS for WHIP/WHEP from a
 * page served over HTTPS; lws can do TLS itself (LWS_WITH_TLS is on in
 * Debian's build), which a later change wires to a certificate option.
 *
 * Event loop: the server owns an lws context on lws's default poll loop, and
 * the caller drives it with tdm_http_service. When the relay's GLib loop
 * (libnice's) arrives, the same context is created with
 * LWS_SERVER_OPTION_GLIB and the GMainLoop as foreign loop — Debian ships
 * that event-lib plugin (package libwebsockets-evlib-glib) — and then the
 * GLib loop drives lws and tdm_http_service is not called.
 *
 * Threads: all calls on one thread, except tdm_http_cancel. */
#ifndef TDM_HTTP_H
#define TDM_HTTP_H

#include <stdint.h>

#include "tdm_status.h"
#include "tdm_whip.h"

typedef struct tdm_http_config {
    /* IPv4 or IPv6 literal to listen on; NULL means "127.0.0.1". */
    const char *address;
    /* 0 picks a free port; tdm_http_port says which. */
    uint16_t port;
} tdm_http_config;

typedef struct tdm_http_server tdm_http_server;

/* Creates the lws context and starts listening. whip is borrowed and must
 * outlive the server.
 * @return TDM_OK with *out set; TDM_ERR_INVALID for a bad address;
 *         TDM_ERR_IO when lws cannot listen (port taken, address not
 *         local); TDM_ERR_NOMEM. */
tdm_status tdm_http_new(const tdm_http_config *cfg, tdm_whip *whip, tdm_http_server **out,
                        tdm_error *err);

/* The port actually listened on. */
uint16_t tdm_http_port(const tdm_http_server *s);

/* Runs one iteration of the loop: waits up to timeout_ms (lws may wake
 * sooner for its own timers) and handles whatever is ready. Returns early
 * when a signal interrupts the wait or tdm_http_cancel is called.
 * @return TDM_OK; TDM_ERR_IO when the loop failed and should not be run
 *         again. */
tdm_status tdm_http_service(tdm_http_server *s, int timeout_ms);

/* Wakes a tdm_http_service that is waiting, from any thread. */
void tdm_http_cancel(tdm_http_server *s);

/* Closes every connection and the listener; NULL is a no-op. */
void tdm_http_free(tdm_http_server *s);

#endif
