/* whip_client: what tandem-share and tandem-view share — the client end of
 * WHIP (RFC 9725) and WHEP, and the media transport it sets up.
 *
 * Owns three things:
 *  - relay URLs (http://host:port/whip/<session> or /whep/<session>) and
 *    the HTTP/1.1 responses of the relay, parsed in memory (sans-IO, unit
 *    tested);
 *  - a blocking HTTP/1.1 exchange over one TCP connection (POST of the SDP
 *    offer, DELETE of the resource) with a timeout. Hosts are numeric IPv4
 *    or IPv6 addresses or "localhost": nothing is resolved over the
 *    network, and there is no TLS (put a TLS-terminating proxy in front);
 *  - a session: one tdm_peer (ICE controlling, DTLS client) on its own
 *    GMainContext, gathering only on the addresses the caller lists, the
 *    offer/answer exchange with the relay, and a loop that runs the
 *    context until the peer connects and afterwards while the program
 *    works, waking up for the program's own timers.
 *
 * Errors: every function returns a tdm_status and fills a tdm_error with a
 * message a user can act on ("cannot connect to 127.0.0.1:8080: Connection
 * refused", "the relay refused the token (401): token expired"). */
#ifndef TDM_WHIP_CLIENT_H
#define TDM_WHIP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_ice.h"
#include "tdm_peer.h"
#include "tdm_sdp.h"
#include "tdm_status.h"

/* --- URLs ------------------------------------------------------------------ */

#define TDM_CLIENT_HOST_MAX 64
#define TDM_CLIENT_PATH_MAX 512

typedef enum tdm_client_kind {
    TDM_CLIENT_PUBLISH = 1,   /* /whip/<session> */
    TDM_CLIENT_SUBSCRIBE = 2, /* /whep/<session> */
} tdm_client_kind;

typedef struct tdm_client_url {
    char host[TDM_CLIENT_HOST_MAX]; /* without the brackets of an IPv6 literal */
    uint16_t port;                  /* 80 when the URL has none */
    char path[TDM_CLIENT_PATH_MAX]; /* "/whip/<session>", query dropped */
    tdm_client_kind kind;
    char session[128]; /* the <session> segment */
} tdm_client_url;

/* Parses "http://HOST[:PORT]/whip/SESSION" (or /whep/). HOST is an IPv4
 * literal, "[IPv6]" or "localhost". TDM_ERR_FORMAT with err naming the
 * fault (https, a host name, no session, a path that is neither /whip/ nor
 * /whep/, a bad port), TDM_ERR_INVALID for NULL arguments. */
tdm_status tdm_client_url_parse(const char *url, tdm_client_url *out, tdm_error *err);

/* Resolves a Location header against the URL it answered: an absolute
 * path keeps host and port; "http://host:port/path" must name the same
 * relay (a resource elsewhere would take the token to another host, so it
 * is refused with TDM_ERR_FORMAT). out gets the path. */
tdm_status tdm_client_location_resolve(const tdm_client_url *base, const char *location,
                                       char out[TDM_CLIENT_PATH_MAX], tdm_error *err);

/* --- ICE servers (STUN, TURN) -------------------------------------------- */

/* Behind a NAT a client needs a STUN server to learn its public address
 * (server-reflexive candidates) and, where the NAT or a firewall lets no
 * direct UDP through, a TURN server to relay its media (relayed
 * candidates). tdm_ice takes one STUN server and up to TDM_ICE_MAX_TURN
 * TURN servers. */

#define TDM_CLIENT_ICE_DEFAULT_PORT 3478 /* RFC 7064/7065 default for stun: and turn: */

typedef enum tdm_client_ice_scheme {
    TDM_CLIENT_ICE_STUN = 1,
    TDM_CLIENT_ICE_TURN = 2,
} tdm_client_ice_scheme;

typedef struct tdm_client_ice_server {
    tdm_client_ice_scheme scheme;
    char host[TDM_CLIENT_HOST_MAX]; /* numeric, or a name (see host_is_name); no brackets */
    bool host_is_name;              /* a DNS name: tdm_client_ice_server_resolve first */
    uint16_t port;                  /* TDM_CLIENT_ICE_DEFAULT_PORT when the URL has none */
    tdm_ice_turn_transport transport; /* TURN: ?transport=udp (default) or tcp */
} tdm_client_ice_server;

/* Parses an ICE server URL (RFC 7064, RFC 7065): "stun:HOST[:PORT]" or
 * "turn:HOST[:PORT][?transport=udp|tcp]"; HOST is an IPv4 address, "[IPv6]"
 * or a host name (kept, for tdm_client_ice_server_resolve). Sans-IO.
 * TDM_ERR_UNSUPPORTED for stuns:/turns: (TLS) and for a ?transport= on a
 * stun: URL; TDM_ERR_FORMAT, with err naming the fault, for anything else
 * that is not such a URL; TDM_ERR_INVALID for NULL arguments. */
tdm_status tdm_client_ice_server_parse(const char *url, tdm_client_ice_server *out,
                                       tdm_error *err);

/* libnice takes numeric addresses only: replaces a host name with its
 * first address of `family` (AF_INET, AF_INET6; AF_UNSPEC: any) from the
 * system resolver (which may ask DNS). No-op for a numeric host.
 * TDM_ERR_INVALID if the name has no such address, TDM_ERR_UNAVAILABLE if
 * the resolver failed otherwise; err has the resolver's reason. */
tdm_status tdm_client_ice_server_resolve(tdm_client_ice_server *s, int family, tdm_error *err);

#define TDM_CLIENT_MAX_ICE_SERVERS (1 + TDM_ICE_MAX_TURN)

/* What the programs' --ice-server, --ice-username, --ice-credential and
 * --ice-transport-policy options say, checked as they are given. */
typedef struct tdm_client_ice_options {
    tdm_client_ice_server servers[TDM_CLIENT_MAX_ICE_SERVERS];
    size_t n_servers;
    const char *username, *credential; /* TURN long-term credentials, borrowed */
    bool relay_only;                   /* --ice-transport-policy relay */
    bool tcp;                          /* --ice-tcp: also ICE-TCP candidates (RFC 6544) */
} tdm_client_ice_options;

/* Parses url and adds it. Errors as tdm_client_ice_server_parse, and
 * TDM_ERR_RANGE beyond one stun: or TDM_ICE_MAX_TURN turn: servers. */
tdm_status tdm_client_ice_options_add_server(tdm_client_ice_options *o, const char *url,
                                             tdm_error *err);

/* "all" (the default: host, server-reflexive and relayed candidates) or
 * "relay" (relayed only, like RTCPeerConnection's iceTransportPolicy).
 * TDM_ERR_FORMAT for another word; TDM_ERR_UNSUPPORTED for "relay" when
 * this build's tdm_ice cannot restrict itself to relayed candidates. */
tdm_status tdm_client_ice_options_set_policy(tdm_client_ice_options *o, const char *policy,
                                             tdm_error *err);

/* The programs' --ice-* options, shared: TDM_CLIENT_ICE_LONG_OPTIONS goes in
 * a getopt_long table, and tdm_client_ice_option takes what it returns for
 * them. The values are the option characters below. */
#define TDM_CLIENT_ICE_LONG_OPTIONS                                                          \
    {"ice-server", required_argument, NULL, 'I'},                                            \
        {"ice-username", required_argument, NULL, 'U'},                                      \
        {"ice-credential", required_argument, NULL, 'C'},                                    \
        {"ice-transport-policy", required_argument, NULL, 'P'},                              \
        {"ice-tcp", no_argument, NULL, 'T'}

/* Whether opt is one of those characters. */
bool tdm_client_is_ice_option(int opt);

/* Applies one of them (value borrowed for --ice-username/--ice-credential).
 * Errors as tdm_client_ice_options_add_server and _set_policy. */
tdm_status tdm_client_ice_option(tdm_client_ice_options *o, int opt, const char *value,
                                 tdm_error *err);

/* Once every option is in: a turn: server needs both credentials,
 * credentials need a turn: server, and policy relay needs a turn: server.
 * TDM_ERR_INVALID with err saying which. */
tdm_status tdm_client_ice_options_check(const tdm_client_ice_options *o, tdm_error *err);

/* The options' lines for the programs' --help. */
#define TDM_CLIENT_ICE_USAGE                                                                  \
    "  --ice-server URL     STUN or TURN server for NAT traversal, repeatable (one\n"          \
    "                       stun:, up to 4 turn:): stun:HOST[:PORT] or\n"                     \
    "                       turn:HOST[:PORT][?transport=udp|tcp] (port 3478 by default;\n"    \
    "                       a host name is resolved once at start)\n"                         \
    "  --ice-username USER  TURN user name (long-term or REST-API credentials)\n"              \
    "  --ice-credential PW  TURN password (both are required with a turn: server)\n"          \
    "  --ice-transport-policy all|relay\n"                                                     \
    "                       relay: use relayed (TURN) candidates only (default all)\n"   \
    "  --ice-tcp            also gather ICE-TCP candidates, for networks that block\n"       \
    "                       UDP (the relay must run with --ice-tcp)\n"

/* --- HTTP responses (sans-IO) --------------------------------------------- */

typedef struct tdm_client_response {
    int status;                         /* 100..599 */
    char reason[64];                    /* reason phrase from the status line */
    char location[TDM_CLIENT_PATH_MAX]; /* "" when absent */
    char content_type[64];              /* "" when absent */
    const uint8_t *body;                /* borrowed from the parsed buffer */
    size_t body_len;
    bool has_content_length; /* else the body runs to the end of the connection */
} tdm_client_response;

/* Parses a whole HTTP/1.1 response held in buf (status line, headers, an
 * empty line, then the body: Content-Length bytes of it when given, else
 * everything to the end, as with Connection: close). TDM_AGAIN while the
 * head or the announced body is incomplete (read more); TDM_ERR_FORMAT for
 * something that is not an HTTP/1.x response; chunked transfer coding is
 * TDM_ERR_UNSUPPORTED (the relay never sends it to a Connection: close
 * request). *out borrows from buf. */
tdm_status tdm_client_response_parse(const uint8_t *buf, size_t len, tdm_client_response *out,
                                     tdm_error *err);

/* The first line of a text/plain error body, for messages: copies at most
 * cap - 1 bytes without the line end; "" if there is none. */
void tdm_client_response_reason_text(const tdm_client_response *r, char *out, size_t cap);

/* --- blocking HTTP exchange ---------------------------------------------- */

/* A response with the buffer it borrows from; free with
 * tdm_client_reply_free. */
typedef struct tdm_client_reply {
    tdm_client_response r;
    uint8_t *raw;
    size_t raw_len;
} tdm_client_reply;

void tdm_client_reply_free(tdm_client_reply *reply);

/* Sends one request (Connection: close) to host:port of url and reads the
 * whole response, all within timeout_ms. body may be NULL (then
 * content_type is ignored); token NULL sends no Authorization.
 * TDM_OK whatever the status (the caller judges it); TDM_ERR_UNAVAILABLE
 * (connection refused, unreachable), TDM_ERR_IO (timeout, reset, a reply
 * over 256 KiB), TDM_ERR_FORMAT (not HTTP). */
tdm_status tdm_client_http(const tdm_client_url *url, const char *method, const char *path,
                           const char *token, const char *content_type, const uint8_t *body,
                           size_t body_len, unsigned timeout_ms, tdm_client_reply *out,
                           tdm_error *err);

/* --- session -------------------------------------------------------------- */

/* What the offer builder gets to write our offer. Strings are borrowed for
 * the call. candidates are the attribute values ("candidate:..."), all
 * gathered before the offer is sent (no trickle from the client). */
typedef struct tdm_client_offer_params {
    const char *ice_ufrag, *ice_pwd;
    const uint8_t *fingerprint; /* sha-256 of our certificate, 32 bytes */
    const char *const *candidates;
    size_t n_candidates;
} tdm_client_offer_params;

/* Writes the SDP offer into out (cap bytes), *len its length. */
typedef tdm_status (*tdm_client_offer_fn)(void *user, const tdm_client_offer_params *p, char *out,
                                          size_t cap, size_t *len, tdm_error *err);

typedef struct tdm_client_session_config {
    const char *url;   /* relay URL; its kind must match `kind` */
    const char *token; /* bearer token */
    tdm_client_kind kind;
    /* Numeric addresses ICE may gather on: required, so that no test ever
     * touches a real interface by accident. Borrowed for the open call. */
    const char *local_addresses[TDM_ICE_MAX_LOCAL_ADDRESSES];
    size_t n_local_addresses;
    unsigned http_timeout_ms;    /* 0: 5000 */
    unsigned connect_timeout_ms; /* gathering + ICE + DTLS; 0: 10000 */
    tdm_client_offer_fn build_offer;
    void *offer_user;
    /* STUN/TURN servers and the transport policy (NULL: host candidates
     * only). Host names in it are resolved in tdm_client_session_open, to
     * the address family of the first local address. Borrowed for the
     * open call. */
    const tdm_client_ice_options *ice;
    /* Media from the relay, decrypted; buf valid during the call. */
    void (*on_rtp)(void *user, uint8_t *buf, size_t len);
    void (*on_rtcp)(void *user, uint8_t *buf, size_t len);
    /* ICE selected a (new) candidate pair; pair is the text of
     * tdm_client_session_pair. Optional. */
    void (*on_pair)(void *user, const char *pair);
    void *media_user;
} tdm_client_session_config;

typedef struct tdm_client_session tdm_client_session;

/* Does the whole setup: gathers, builds and POSTs the offer, checks the
 * answer (201, application/sdp, an accepted m-line whose a=setup makes us
 * the DTLS client), hands ICE the relay's credentials and candidates, and
 * runs until the peer is connected. On failure nothing is left on the
 * relay (a created resource is DELETEd) and err says what went wrong:
 * TDM_ERR_INVALID (bad config, bad URL), TDM_ERR_UNAVAILABLE (relay not
 * reachable), TDM_ERR_IO (the relay refused: err has the status and its
 * reason; or the transport did not come up in time), TDM_ERR_FORMAT (an
 * answer we cannot use), TDM_ERR_UNSUPPORTED (the answer wants us to be
 * the DTLS server, which this client does not do).
 * *out is set once the session exists, before the exchange, because
 * on_rtp/on_rtcp may already run inside this call (the relay sends as soon
 * as DTLS completes) and may need tdm_client_session_answer; it is NULL
 * again on failure. */
tdm_status tdm_client_session_open(const tdm_client_session_config *cfg, tdm_client_session **out,
                                   tdm_error *err);

/* DELETEs the resource (a failure is only a warning on stderr: the relay
 * drops a silent client on its own), sends DTLS close_notify and frees
 * everything. NULL is a no-op. */
void tdm_client_session_close(tdm_client_session *s);

/* Runs the loop once: dispatches what is due, waiting at most max_wait_ms
 * for something to happen. Callbacks (on_rtp, on_rtcp) run from here. */
void tdm_client_session_iterate(tdm_client_session *s, unsigned max_wait_ms);

/* The peer (for sending and its state and counters); borrowed. */
tdm_peer *tdm_client_session_peer(tdm_client_session *s);

/* The relay's answer as parsed, and the index of the m-line carrying the
 * media (the first accepted one); borrowed until close. */
const tdm_sdp_session *tdm_client_session_answer(const tdm_client_session *s, size_t *media);

/* The selected candidate pair, "local TYPE/TRANSPORT ADDR:PORT remote
 * TYPE/TRANSPORT ADDR:PORT", e.g. "local srflx/udp 100.64.0.1:40000 remote
 * host/udp 100.64.0.10:50000" (types host, srflx, prflx, relay; transports
 * udp, tcp-active, tcp-passive, tcp-so); "(no pair)" before one. A relay
 * local candidate is always udp: that is the relayed address, whatever
 * the transport to the TURN server. */
const char *tdm_client_session_pair(const tdm_client_session *s);

/* CLOCK_MONOTONIC in microseconds: the clock both programs stamp and
 * measure with, so latency is meaningful when they share a machine. */
uint64_t tdm_client_now_us(void);

/* 32 random bits (getrandom), for SSRCs and SDP session ids. */
uint32_t tdm_client_random_u32(void);

/* Parses a whole string as a number in [lo, hi]; false otherwise. For the
 * programs' command-line options. */
bool tdm_client_parse_number(const char *s, double lo, double hi, double *out);

#endif
