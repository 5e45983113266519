/* tdm_peer: one WebRTC peer connection of the relay (or of a native
 * client): ICE (tdm_ice.h) carrying DTLS-SRTP (RFC 5764) with BUNDLE and
 * rtcp-mux, so every packet of the client shares one transport.
 *
 * This module owns the ICE agent, the DTLS endpoint (tdm_dtls.h; its role
 * and the peer's certificate fingerprint come from the SDP) and the two
 * SRTP sessions (tdm_srtp.h) keyed from the handshake. Every received
 * datagram enters through tdm_peer_handle_datagram, which demultiplexes it
 * by its first byte (RFC 7983): DTLS goes to the endpoint, SRTP/SRTCP is
 * decrypted in place and handed to on_rtp / on_rtcp, anything else is
 * dropped and counted. The DTLS retransmission timer runs on the ICE
 * agent's loop (tdm_ice_set_timer), the one real clock here.
 *
 * Lifecycle: NEW (ICE not up) -> CONNECTING (ICE up, DTLS handshaking) ->
 * CONNECTED (keys in place, media flows) -> CLOSED (either side sent
 * close_notify) or FAILED (ICE checks failed, consent lost, DTLS failed,
 * e.g. a certificate that does not match the SDP fingerprint). FAILED and
 * CLOSED are final. The DTLS client starts its handshake when ICE is first
 * up; an ICE restart keeps the DTLS association and its keys.
 *
 * Threading and callbacks as in tdm_ice.h: everything runs on the thread
 * iterating the GMainContext; callbacks may also run from inside the calls
 * that drive ICE; never call tdm_peer_free from inside a callback. */
#ifndef TDM_PEER_H
#define TDM_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_dtls.h"
#include "tdm_ice.h"
#include "tdm_srtp.h"
#include "tdm_status.h"

/* The most SRTP adds to a packet with either profile: the 16-byte GCM tag,
 * plus 4 bytes of SRTCP index. Leave this much room after a packet handed
 * to tdm_peer_send_rtp / tdm_peer_send_rtcp. */
#define TDM_PEER_MAX_SRTP_OVERHEAD 20

typedef enum tdm_peer_state {
    TDM_PEER_NEW,
    TDM_PEER_CONNECTING,
    TDM_PEER_CONNECTED,
    TDM_PEER_FAILED,
    TDM_PEER_CLOSED,
} tdm_peer_state;

/* "connected", ...; never NULL. */
const char *tdm_peer_state_name(tdm_peer_state s);

/* Why a peer failed. */
typedef enum tdm_peer_fail {
    TDM_PEER_FAIL_NONE,
    TDM_PEER_FAIL_ICE,     /* connectivity checks found no working pair */
    TDM_PEER_FAIL_CONSENT, /* ICE was up, then the peer stopped answering */
    TDM_PEER_FAIL_DTLS,    /* handshake failed: fingerprint mismatch, alert, timeout */
    TDM_PEER_FAIL_SRTP,    /* the SRTP sessions could not be made from the keys */
} tdm_peer_fail;

/* Short snake_case name ("dtls"), for metrics labels; never NULL. */
const char *tdm_peer_fail_name(tdm_peer_fail f);

typedef struct tdm_peer_config {
    /* Transport settings; see tdm_ice.h. The peer supplies the callbacks. */
    tdm_ice_config ice;
    /* Our certificate (borrowed; it must outlive the peer's handshake). */
    const tdm_dtls_identity *identity;
    /* From SDP: a=setup:active makes us the DTLS client. */
    tdm_dtls_role role;
    /* The peer's a=fingerprint (SHA-256); a different certificate fails. */
    uint8_t peer_fingerprint[TDM_DTLS_FINGERPRINT_LEN];
    /* TDM_SRTP_PROFILE_NONE: offer both (GCM first); else only this one. */
    tdm_srtp_profile only_profile;
} tdm_peer_config;

/* Defaults around the given ICE settings, identity, role and fingerprint. */
void tdm_peer_config_init(tdm_peer_config *cfg, const tdm_ice_config *ice,
                          const tdm_dtls_identity *identity, tdm_dtls_role role,
                          const uint8_t peer_fp[TDM_DTLS_FINGERPRINT_LEN]);

typedef struct tdm_peer_callbacks {
    /* State changed. reason is human-readable ("" unless FAILED, or CLOSED
     * by the peer), valid during the call. fail is NONE unless FAILED. */
    void (*on_state)(void *user, tdm_peer_state state, tdm_peer_fail fail, const char *reason);
    /* A decrypted RTP / RTCP packet (RTCP may be compound). buf is writable
     * and valid only during the call. */
    void (*on_rtp)(void *user, uint8_t *buf, size_t len);
    void (*on_rtcp)(void *user, uint8_t *buf, size_t len);
    /* ICE events, passed through (local candidates for trickle, gathering
     * done, selected pair, ICE state). May be NULL. */
    void (*on_ice_event)(void *user, const tdm_ice_event *ev);
    void *user;
} tdm_peer_callbacks;

/* Counters since creation. */
typedef struct tdm_peer_stats {
    uint64_t datagrams_in, bytes_in;   /* everything ICE delivered */
    uint64_t datagrams_out, bytes_out; /* everything ICE accepted */
    uint64_t dtls_in, dtls_out;        /* DTLS datagrams */
    uint64_t rtp_in, rtcp_in;          /* decrypted and delivered */
    uint64_t rtp_out, rtcp_out;        /* protected and sent */
    /* Packets SRTP refused, by reason (index TDM_SRTP_FAIL_NONE unused). */
    uint64_t srtp_in_fail[TDM_SRTP_FAIL_COUNT];
    uint64_t srtp_out_fail[TDM_SRTP_FAIL_COUNT];
    uint64_t unknown_dropped; /* first byte neither DTLS nor RTP/RTCP (RFC 7983) */
    uint64_t early_dropped;   /* SRTP before the keys, or anything after FAILED/CLOSED */
    uint64_t send_failed;     /* ICE could not send: no pair up, or socket full */
} tdm_peer_stats;

typedef struct tdm_peer tdm_peer;

/* Creates the ICE agent and, for the DTLS server role, the endpoint that
 * waits for the ClientHello. Nothing is sent until the caller gathers
 * (tdm_ice_gather on tdm_peer_ice) and ICE connects. cb is copied.
 * TDM_ERR_INVALID (NULL identity, no on_state), the errors of tdm_ice_new
 * and tdm_dtls_new, with err filled. */
tdm_status tdm_peer_new(const tdm_peer_config *cfg, const tdm_peer_callbacks *cb, tdm_peer **out,
                        tdm_error *err);
/* Frees everything, sending nothing (tdm_peer_close first to tell the peer).
 * No callback fires afterwards. NULL is a no-op. */
void tdm_peer_free(tdm_peer *p);

/* The peer's ICE agent, for gathering, credentials, remote candidates and
 * restarts (tdm_ice.h); borrowed until tdm_peer_free. Do not set its timer:
 * the peer owns it. */
tdm_ice *tdm_peer_ice(tdm_peer *p);

/* For the offerer (a native client), which learns its DTLS role and the
 * peer's fingerprint from the answer, after its ICE agent and so its offer
 * exist: replaces what the config said. Only before DTLS has started (ICE
 * not yet up): TDM_ERR_UNAVAILABLE afterwards. A server role starts the
 * endpoint at once, as tdm_peer_new would have. */
tdm_status tdm_peer_set_remote_dtls(tdm_peer *p, tdm_dtls_role role,
                                    const uint8_t fp[TDM_DTLS_FINGERPRINT_LEN], tdm_error *err);

/* The core entry point: one datagram as ICE received it. The ICE callback
 * calls it; tests and fuzzers may too. buf is decrypted in place. Never
 * fails: whatever cannot be used is dropped and counted. */
void tdm_peer_handle_datagram(tdm_peer *p, uint8_t *buf, size_t len);

/* Protects the RTP (RTCP) packet of len bytes at buf in place and sends it.
 * cap is the buffer's size: len + TDM_PEER_MAX_SRTP_OVERHEAD always
 * suffices. TDM_OK; TDM_ERR_UNAVAILABLE before CONNECTED or after the end;
 * the errors of tdm_srtp_protect_rtp (counted in srtp_out_fail; buf then
 * unspecified); TDM_AGAIN / TDM_ERR_IO from tdm_ice_send (counted in
 * send_failed). */
tdm_status tdm_peer_send_rtp(tdm_peer *p, uint8_t *buf, size_t len, size_t cap);
tdm_status tdm_peer_send_rtcp(tdm_peer *p, uint8_t *buf, size_t len, size_t cap);

/* Protects the packet in place exactly as tdm_peer_send_rtp (_rtcp) would,
 * but sends nothing: *wire_len is the protected length. For tests and
 * tools that need the bytes as they go on the wire, to send them as they
 * are (tdm_ice_send on tdm_peer_ice), again (a replay) or damaged (a bad
 * tag). Each call uses up an SRTP index like a send. TDM_OK;
 * TDM_ERR_UNAVAILABLE before CONNECTED or after the end; the errors of
 * tdm_srtp_protect_rtp (counted in srtp_out_fail). */
tdm_status tdm_peer_protect_rtp(tdm_peer *p, uint8_t *buf, size_t len, size_t cap,
                                size_t *wire_len);
tdm_status tdm_peer_protect_rtcp(tdm_peer *p, uint8_t *buf, size_t len, size_t cap,
                                 size_t *wire_len);

/* Sends a DTLS close_notify and moves to CLOSED (no on_state for a close we
 * asked for). No-op once FAILED or CLOSED. */
void tdm_peer_close(tdm_peer *p);

/* The state, and (if reason is not NULL) its reason as in on_state,
 * borrowed until the next callback or tdm_peer_free. */
tdm_peer_state tdm_peer_get_state(const tdm_peer *p, tdm_peer_fail *fail, const char **reason);

/* The negotiated SRTP profile once CONNECTED, else TDM_SRTP_PROFILE_NONE. */
tdm_srtp_profile tdm_peer_srtp_profile(const tdm_peer *p);

/* Counters; valid until tdm_peer_free. */
const tdm_peer_stats *tdm_peer_get_stats(const tdm_peer *p);

#endif
