/* tdm_sig_server: tandem-signal's HTTP + WebSocket listener, a thin IO shell
 * over libwebsockets.
 *
 * Owns the lws context and its event loop (lws's default poll loop, one
 * thread), reading HTTP requests and WebSocket messages off the wire,
 * per-socket send queues, the once-a-second timer, and reading static files.
 * Every decision is elsewhere: routes in tdm_sig_api, socket messages in
 * tdm_sig_hub, file paths in tdm_sig_static, rights in tdm_signal. Patterns
 * follow relay/http_server.c (one transaction struct per connection, bodies
 * bounded, Content-Length required). Plain HTTP: bind to loopback or put a
 * TLS-terminating proxy in front. */
#ifndef TDM_SIG_SERVER_H
#define TDM_SIG_SERVER_H

#include <signal.h>
#include <stdint.h>

#include "tdm_sig_serve_config.h"
#include "tdm_signal.h"

typedef struct tdm_sig_server_config {
    const char *address; /* IP literal; NULL = "127.0.0.1" */
    uint16_t port;       /* 0 picks a free port */
    const char *web_root; /* directory of static pages; NULL = none (404) */
} tdm_sig_server_config;

typedef struct tdm_sig_server tdm_sig_server;

/* sig and cfg are borrowed and must outlive the server. */
tdm_status tdm_sig_server_new(const tdm_sig_server_config *scfg, const tdm_sig_serve_config *cfg,
                              tdm_signal *sig, tdm_sig_server **out, tdm_error *err);
uint16_t tdm_sig_server_port(const tdm_sig_server *s);
/* Runs the loop until *stop becomes non-zero (checked at least once a
 * second, and at once after tdm_sig_server_wake). */
tdm_status tdm_sig_server_run(tdm_sig_server *s, volatile sig_atomic_t *stop, tdm_error *err);
/* Wakes the loop; safe from a signal handler or another thread. */
void tdm_sig_server_wake(tdm_sig_server *s);
void tdm_sig_server_free(tdm_sig_server *s);

#endif
