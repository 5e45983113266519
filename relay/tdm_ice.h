/* tdm_ice: the ICE transport of one client (RFC 8445/5245), over libnice.
 *
 * This module owns one libnice agent with one stream of one component
 * (BUNDLE with rtcp-mux: everything rides on a single 5-tuple), the
 * sockets it gathers, and one optional one-shot timer on the same loop. It
 * is a thin adapter: received datagrams go to a single callback
 * (on_datagram), everything else is reported as a tdm_ice_event, and the
 * protocol above it (DTLS, SRTP: tdm_peer.h) lives elsewhere. GLib stays
 * inside ice.c: the caller's GMainContext comes in as an opaque pointer.
 *
 * Gathering happens only on the addresses listed in the config (none
 * listed: libnice enumerates every interface, which tests must never do),
 * with UPnP off; libnice does no mDNS. ICE-TCP is off unless asked for.
 * Consent (RFC 7675): once connected, libnice sends a check on the
 * selected pair every 4 to 6 s, and a peer that leaves them unanswered for
 * the consent timeout (tdm_ice_config.consent_timeout_ms) moves the
 * transport to TDM_ICE_FAILED.
 *
 * Threading: an agent and its callbacks belong to the thread iterating its
 * GMainContext. Callbacks run from that context and may also run from
 * inside tdm_ice_gather, tdm_ice_add_remote_candidate and the other calls
 * that change the agent (libnice emits queued signals when a call
 * returns). Never call tdm_ice_free from inside one of its callbacks. */
#ifndef TDM_ICE_H
#define TDM_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

#define TDM_ICE_MAX_LOCAL_ADDRESSES 16
#define TDM_ICE_MAX_TURN 4
/* Longest candidate attribute we produce or accept, NUL included. */
#define TDM_ICE_CANDIDATE_MAX 512
/* The two consent timeouts libnice (0.1.21) can run; it fixes both and
 * sends each consent check once, without retransmission:
 *  - STRICT is its RFC 7675 mode: lost 10 s after the last answered check,
 *    so one or two lost checks cut the peer. Measured here: viewers behind
 *    5 % loss each way were cut within 30 s while media flowed fine.
 *  - TOLERANT is its keepalive mode: lost after 50 s without an answer,
 *    about ten lost checks in a row. The default: a peer on a bad link is
 *    kept, a vanished one is found out within a minute. */
#define TDM_ICE_CONSENT_STRICT_MS 10000u
#define TDM_ICE_CONSENT_TOLERANT_MS 50000u

typedef enum tdm_ice_state {
    TDM_ICE_NEW,          /* created, not gathering */
    TDM_ICE_GATHERING,    /* gathering local candidates */
    TDM_ICE_CHECKING,     /* connectivity checks running */
    TDM_ICE_CONNECTED,    /* a working pair: datagrams can flow */
    TDM_ICE_READY,        /* nomination done: the pair is final */
    TDM_ICE_FAILED,       /* checks failed, or consent was lost */
    TDM_ICE_DISCONNECTED, /* no activity (after a restart, before checks) */
} tdm_ice_state;

/* "connected", ...; never NULL. */
const char *tdm_ice_state_name(tdm_ice_state s);
/* CONNECTED or READY: datagrams can be sent. */
bool tdm_ice_state_is_up(tdm_ice_state s);

typedef enum tdm_ice_candidate_type {
    TDM_ICE_CAND_HOST,
    TDM_ICE_CAND_SRFLX, /* server reflexive (STUN) */
    TDM_ICE_CAND_PRFLX, /* peer reflexive (learned from checks) */
    TDM_ICE_CAND_RELAY, /* TURN */
} tdm_ice_candidate_type;

/* The SDP name: "host", "srflx", "prflx", "relay"; never NULL. */
const char *tdm_ice_candidate_type_name(tdm_ice_candidate_type t);

typedef enum tdm_ice_transport {
    TDM_ICE_UDP,
    TDM_ICE_TCP_ACTIVE,
    TDM_ICE_TCP_PASSIVE,
    TDM_ICE_TCP_SO,
} tdm_ice_transport;

/* "udp", "tcp-active", ...; never NULL. */
const char *tdm_ice_transport_name(tdm_ice_transport t);

typedef enum tdm_ice_turn_transport {
    TDM_ICE_TURN_UDP,
    TDM_ICE_TURN_TCP,
} tdm_ice_turn_transport;

typedef struct tdm_ice_turn {
    const char *host; /* numeric IPv4 or IPv6 address (libnice resolves nothing) */
    uint16_t port;    /* 0: 3478 */
    const char *username;
    const char *password;
    tdm_ice_turn_transport transport;
} tdm_ice_turn;

typedef struct tdm_ice_config {
    /* The GMainContext (GLib type kept out of this header) the agent, its
     * sockets and its timer attach to. Required; the caller iterates it and
     * keeps it alive longer than the agent. */
    void *main_context;
    /* Controlling side (RFC 8445 section 6.1.1): the offerer. The relay
     * answers WHIP/WHEP offers, so it is controlled. */
    bool controlling;
    /* Numeric addresses to gather host candidates on. With none, libnice
     * enumerates every interface. Copied. */
    const char *local_addresses[TDM_ICE_MAX_LOCAL_ADDRESSES];
    size_t n_local_addresses;
    /* Local port range for host candidates (both 0: any). */
    uint16_t port_min, port_max;
    /* Also gather TCP candidates (RFC 6544). */
    bool ice_tcp;
    /* Use relayed (TURN) candidates only, for checks and media, like
     * RTCPeerConnection's iceTransportPolicy "relay" (libnice force-relay). */
    bool relay_only;
    /* Optional STUN server for server-reflexive candidates: numeric address
     * (NULL: none); port 0 means 3478. */
    const char *stun_host;
    uint16_t stun_port;
    /* Optional TURN servers for relayed candidates. */
    tdm_ice_turn turn[TDM_ICE_MAX_TURN];
    size_t n_turn;
    /* How long a connected peer may leave consent checks unanswered before
     * the transport fails; 0: TDM_ICE_CONSENT_TOLERANT_MS. libnice offers
     * only the two timeouts above, so this gets the first of them at or
     * above the asked value (TOLERANT for anything longer):
     * tdm_ice_consent_timeout_ms says which. */
    uint32_t consent_timeout_ms;
} tdm_ice_config;

/* Zeroes cfg and sets the context and role; everything else off. */
void tdm_ice_config_init(tdm_ice_config *cfg, void *main_context, bool controlling);

typedef enum tdm_ice_event_type {
    /* A new local candidate; ev->candidate holds its attribute text. */
    TDM_ICE_EV_LOCAL_CANDIDATE,
    /* Local gathering finished (send end-of-candidates). */
    TDM_ICE_EV_GATHERING_DONE,
    /* The transport changed state; ev->state. */
    TDM_ICE_EV_STATE,
    /* A (new) pair was selected; ev->local_type etc. describe it. */
    TDM_ICE_EV_SELECTED_PAIR,
} tdm_ice_event_type;

typedef struct tdm_ice_event {
    tdm_ice_event_type type;
    /* LOCAL_CANDIDATE: "candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ
     * host" (the attribute value, without "a=" and without CRLF). */
    const char *candidate;
    tdm_ice_state state; /* STATE */
    /* SELECTED_PAIR: */
    tdm_ice_candidate_type local_type, remote_type;
    tdm_ice_transport local_transport;
    const char *local_address, *remote_address; /* "ip:port" */
} tdm_ice_event;

typedef struct tdm_ice_callbacks {
    /* One received datagram (never STUN: libnice answers that itself). buf
     * is writable and the callee may transform it in place (SRTP
     * decryption); it is valid only during the call. It must not iterate
     * the main context (ice.c lets the receiving source recurse to spare
     * GLib's per-dispatch poll-set changes). Required. */
    void (*on_datagram)(void *user, uint8_t *buf, size_t len);
    /* An event; the pointers in ev are valid only during the call. */
    void (*on_event)(void *user, const tdm_ice_event *ev);
    /* The timer set with tdm_ice_set_timer fired. */
    void (*on_timer)(void *user);
    void *user;
} tdm_ice_callbacks;

typedef struct tdm_ice tdm_ice;

/* Creates the agent and its stream; nothing is gathered or sent until
 * tdm_ice_gather. cb is copied. TDM_ERR_INVALID (no context, no
 * on_datagram, a local address or STUN/TURN host that is not a numeric
 * address, too many of them, a bad port range), TDM_ERR_NOMEM,
 * TDM_ERR_UNAVAILABLE (libnice refused), with err filled. */
tdm_status tdm_ice_new(const tdm_ice_config *cfg, const tdm_ice_callbacks *cb, tdm_ice **out,
                       tdm_error *err);
/* Cancels the timer, detaches the callbacks and releases the agent and its
 * sockets. No callback fires afterwards. NULL is a no-op. */
void tdm_ice_free(tdm_ice *ice);

/* Starts gathering; candidates arrive as TDM_ICE_EV_LOCAL_CANDIDATE (trickle)
 * and TDM_ICE_EV_GATHERING_DONE ends them. TDM_ERR_UNAVAILABLE if libnice
 * cannot gather (e.g. it could bind no socket). */
tdm_status tdm_ice_gather(tdm_ice *ice, tdm_error *err);

/* Our ICE username fragment and password for SDP; borrowed until the next
 * tdm_ice_restart or tdm_ice_free. */
void tdm_ice_local_credentials(tdm_ice *ice, const char **ufrag, const char **pwd);

/* The peer's ufrag and password from its SDP (or restart). TDM_ERR_INVALID
 * if either is empty or libnice refuses them. */
tdm_status tdm_ice_set_remote_credentials(tdm_ice *ice, const char *ufrag, const char *pwd,
                                          tdm_error *err);

/* Adds one remote candidate, as an SDP attribute ("candidate:..." or
 * "a=candidate:...", trailing CR/LF allowed); checks with it start at once
 * (trickle ICE). TDM_ERR_FORMAT if it does not parse (or is for another
 * component); TDM_ERR_UNSUPPORTED for a host name, such as a browser's
 * mDNS ".local" candidate: skip it, the peer is then learned as peer
 * reflexive from its checks. */
tdm_status tdm_ice_add_remote_candidate(tdm_ice *ice, const char *sdp, tdm_error *err);

/* The peer sent end-of-candidates: with no pair working, the transport may
 * now fail instead of waiting for more candidates. */
void tdm_ice_remote_gathering_done(tdm_ice *ice);

/* Calls fn with each local candidate gathered so far (the same text as the
 * LOCAL_CANDIDATE event; valid during the call). Returns their number. */
size_t tdm_ice_foreach_local_candidate(tdm_ice *ice,
                                       void (*fn)(void *user, const char *candidate),
                                       void *user);

/* ICE restart (RFC 8445 section 9): new local credentials (read them
 * again), remote candidates forgotten, local candidates kept. Set the new
 * remote credentials and candidates afterwards. TDM_ERR_UNAVAILABLE if
 * libnice refused. */
tdm_status tdm_ice_restart(tdm_ice *ice, tdm_error *err);

/* Sends one datagram on the selected pair. TDM_OK; TDM_ERR_UNAVAILABLE if
 * no pair was selected yet (or ICE failed); TDM_AGAIN if the socket would block (dropped, as UDP
 * would); TDM_ERR_IO if libnice failed otherwise; TDM_ERR_INVALID for an
 * empty datagram. */
tdm_status tdm_ice_send(tdm_ice *ice, const uint8_t *buf, size_t len);

/* The current state. */
tdm_ice_state tdm_ice_get_state(const tdm_ice *ice);

/* The consent timeout in force (one of TDM_ICE_CONSENT_*_MS). */
uint32_t tdm_ice_consent_timeout_ms(const tdm_ice *ice);

/* True once a pair is selected, until ICE fails. It stays true through an
 * ICE restart: the old pair carries datagrams until a new one is chosen. */
bool tdm_ice_can_send(const tdm_ice *ice);

/* (Re)arms the one-shot timer to fire on_timer after delay_ms on the
 * agent's context; an earlier setting is replaced. */
void tdm_ice_set_timer(tdm_ice *ice, uint32_t delay_ms);
/* Disarms the timer; no-op if it is not armed. */
void tdm_ice_cancel_timer(tdm_ice *ice);

#endif
