/* tdm_dtls: the DTLS 1.2 endpoint of one peer (RFC 6347) for DTLS-SRTP
 * (RFC 5764), over OpenSSL, and the node identity it presents.
 *
 * This module owns the node's certificate (tdm_dtls_identity: a
 * self-signed ECDSA P-256 certificate made at startup, whose SHA-256
 * fingerprint goes into SDP) and, per peer, an OpenSSL DTLS connection
 * (tdm_dtls_endpoint) that runs entirely on in-memory datagrams: the
 * caller hands it each received DTLS datagram and drains the datagrams it
 * wants sent. It opens no socket. The peer is trusted by the fingerprint
 * from its SDP, not by a CA: a self-signed certificate is accepted exactly
 * when its SHA-256 matches. On completion it yields the SRTP profile and
 * keys (tdm_srtp.h).
 *
 * Time: the one exception to sans-IO in the relay. OpenSSL runs its DTLS
 * retransmission timer on the real clock (gettimeofday) and offers no way
 * to inject time, so tdm_dtls_timeout_ms reads that clock and OpenSSL may
 * also retransmit from inside tdm_dtls_handle_datagram when the timer has
 * run out. Everything else here is driven only by the calls below.
 *
 * Robustness: garbage is dropped, but during the handshake (epoch 0, not
 * yet authenticated) a well-framed yet malformed handshake message is fatal
 * in OpenSSL; ICE connectivity checks are what keep strangers off the
 * transport at that point.
 *
 * An endpoint is used by one thread at a time. An identity may be shared by
 * endpoints on any threads (OpenSSL reference-counts it); freeing it while
 * endpoints live is safe. */
#ifndef TDM_DTLS_H
#define TDM_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_srtp.h"
#include "tdm_status.h"

#define TDM_DTLS_FINGERPRINT_LEN 32 /* SHA-256 */
/* "AB:CD:...": 32 hex pairs, 31 colons, NUL. */
#define TDM_DTLS_FINGERPRINT_TEXT_LEN 96

/* Formats a fingerprint the way SDP's a=fingerprint carries it (RFC 8122):
 * upper-case hex pairs separated by colons. */
void tdm_dtls_fingerprint_format(const uint8_t fp[TDM_DTLS_FINGERPRINT_LEN],
                                 char out[TDM_DTLS_FINGERPRINT_TEXT_LEN]);
/* Parses that form (either case) into 32 bytes. TDM_ERR_FORMAT, with err
 * naming the position, if it is not exactly 32 colon-separated hex pairs. */
tdm_status tdm_dtls_fingerprint_parse(const char *text, uint8_t out[TDM_DTLS_FINGERPRINT_LEN],
                                      tdm_error *err);

/* RFC 7983 demultiplexing: true if a datagram on the ICE transport is
 * DTLS (first byte 20..63) rather than STUN, RTP/RTCP or TURN channel
 * data. */
bool tdm_dtls_is_dtls(const uint8_t *buf, size_t len);

/* --- identity -------------------------------------------------------- */

typedef struct tdm_dtls_identity_config {
    const char *common_name; /* subject and issuer CN; NULL means "tandem" */
    unsigned valid_days;     /* 0 means 30 */
} tdm_dtls_identity_config;

typedef struct tdm_dtls_identity tdm_dtls_identity;

/* Generates a fresh P-256 key and a self-signed certificate with a random
 * 63-bit serial, valid from an hour ago (clock skew) for valid_days. cfg
 * may be NULL for the defaults. TDM_ERR_UNAVAILABLE with OpenSSL's error
 * text in err if OpenSSL fails. */
tdm_status tdm_dtls_identity_new(const tdm_dtls_identity_config *cfg, tdm_dtls_identity **out,
                                 tdm_error *err);
/* NULL is a no-op. Endpoints made from it keep working. */
void tdm_dtls_identity_free(tdm_dtls_identity *id);

/* SHA-256 of the DER certificate; borrowed, valid until the identity is
 * freed. */
const uint8_t *tdm_dtls_identity_fingerprint(const tdm_dtls_identity *id);
/* The same as SDP text ("AB:CD:..."), for "a=fingerprint:sha-256 <text>". */
const char *tdm_dtls_identity_fingerprint_text(const tdm_dtls_identity *id);

/* --- endpoint -------------------------------------------------------- */

/* SDP a=setup:active is the DTLS client, a=setup:passive the server. */
typedef enum tdm_dtls_role {
    TDM_DTLS_CLIENT,
    TDM_DTLS_SERVER,
} tdm_dtls_role;

typedef enum tdm_dtls_phase {
    TDM_DTLS_HANDSHAKING,
    TDM_DTLS_CONNECTED, /* keys available */
    TDM_DTLS_FAILED,    /* handshake or connection failed; see the reason */
    TDM_DTLS_CLOSED,    /* close_notify sent or received */
} tdm_dtls_phase;

/* Name of a phase, e.g. "connected"; never NULL. */
const char *tdm_dtls_phase_name(tdm_dtls_phase phase);

typedef struct tdm_dtls_config {
    const tdm_dtls_identity *identity; /* the certificate we present */
    tdm_dtls_role role;
    /* SHA-256 fingerprint of the peer's certificate, from the peer's SDP.
     * The handshake fails unless the certificate the peer presents has it. */
    uint8_t peer_fingerprint[TDM_DTLS_FINGERPRINT_LEN];
    /* TDM_SRTP_PROFILE_NONE offers both profiles, AEAD_AES_128_GCM first
     * (about five times cheaper to protect than AES_CM + HMAC-SHA1 with
     * Debian's libsrtp), unless the environment variable TDM_SRTP_PROFILE
     * names one (see tdm_dtls_env_profile); any other value offers only
     * that profile. */
    tdm_srtp_profile only_profile;
    /* Largest datagram we send, DTLS record headers included. 0: 1200,
     * which fits in IPv6 minimum MTU with room for TURN framing. */
    size_t mtu;
    /* First retransmission timeout, doubled on each retry up to 60 s
     * (RFC 6347 section 4.2.4.1). 0: 1000 ms as the RFC recommends. */
    unsigned initial_timeout_ms;
} tdm_dtls_config;

/* The profile the environment variable TDM_SRTP_PROFILE restricts every
 * endpoint to when its config leaves only_profile at NONE: a cap like
 * TDM_SIMD, for testing the other profile against a peer that cannot be told
 * which to pick (Chromium offers both and takes GCM whenever it may).
 * Values: SRTP_AES128_CM_SHA1_80 (also accepted as Chromium's getStats
 * spells it, SRTP_AES128_CM_HMAC_SHA1_80, and as RFC 5764 does,
 * AES_CM_128_HMAC_SHA1_80) and SRTP_AEAD_AES_128_GCM (or AEAD_AES_128_GCM).
 * *out is TDM_SRTP_PROFILE_NONE when the variable is unset or empty.
 * TDM_ERR_INVALID for any other value, so a typo cannot silently test the
 * default; tdm_dtls_new then fails with the same message. */
tdm_status tdm_dtls_env_profile(tdm_srtp_profile *out, tdm_error *err);

/* Defaults for everything but the identity, role and peer fingerprint. */
void tdm_dtls_config_init(tdm_dtls_config *cfg, const tdm_dtls_identity *identity,
                          tdm_dtls_role role, const uint8_t peer_fp[TDM_DTLS_FINGERPRINT_LEN]);

/* Counters since creation. */
typedef struct tdm_dtls_stats {
    uint64_t datagrams_in;    /* handed to OpenSSL */
    uint64_t datagrams_out;   /* returned by tdm_dtls_poll_datagram */
    uint64_t not_dtls;        /* refused by tdm_dtls_handle_datagram: not DTLS */
    uint64_t out_dropped;     /* outgoing queue full or record over the MTU */
    uint64_t app_data_bytes;  /* application data received and discarded */
    uint64_t dropped_records; /* datagrams dropped before OpenSSL for a record
                               * too short to be encrypted (OpenSSL drops
                               * other bad records silently, uncounted) */
    uint64_t timeouts;        /* retransmissions run by tdm_dtls_handle_timeout */
} tdm_dtls_stats;

typedef struct tdm_dtls_endpoint tdm_dtls_endpoint;

/* Creates an endpoint; a client queues its ClientHello at once, so create
 * it when the transport can carry datagrams (ICE connected) and then drain
 * tdm_dtls_poll_datagram. TDM_ERR_INVALID (NULL identity, MTU under 256 or
 * over 16384, unknown profile), TDM_ERR_NOMEM, TDM_ERR_UNAVAILABLE
 * (OpenSSL failed), with err filled. */
tdm_status tdm_dtls_new(const tdm_dtls_config *cfg, tdm_dtls_endpoint **out, tdm_error *err);
/* Frees the endpoint and wipes its keys, without sending anything (call
 * tdm_dtls_close and drain first for a polite close). NULL is a no-op. */
void tdm_dtls_free(tdm_dtls_endpoint *ep);

/* Feeds one received datagram (may hold several DTLS records). Records
 * OpenSSL finds invalid are dropped silently, as DTLS requires; so is a
 * datagram with an encrypted record too short to be genuine (counted in
 * dropped_records), which OpenSSL 3.0 would take as fatal. Afterwards
 * drain tdm_dtls_poll_datagram and check tdm_dtls_state. Returns TDM_OK if
 * the endpoint took it; TDM_ERR_FORMAT (counted in not_dtls) if it is empty
 * or not DTLS by RFC 7983; TDM_ERR_IO if it made the endpoint fail (reason
 * in tdm_dtls_state); TDM_ERR_UNAVAILABLE if the endpoint had already
 * failed or closed (datagram ignored). */
tdm_status tdm_dtls_handle_datagram(tdm_dtls_endpoint *ep, const uint8_t *buf, size_t len);

/* Copies the next datagram to send into out. TDM_OK with *len set;
 * TDM_AGAIN if there is none; TDM_ERR_RANGE if cap is smaller than the next
 * datagram (which stays queued; cap >= the MTU always suffices). The queue
 * holds 16 datagrams; more are dropped as on a full socket, and DTLS
 * retransmission recovers them. */
tdm_status tdm_dtls_poll_datagram(tdm_dtls_endpoint *ep, uint8_t *out, size_t cap, size_t *len);

/* Milliseconds until the retransmission timer fires (0: due now), or -1 if
 * no timer runs. Reads the real clock (see the header comment). */
int64_t tdm_dtls_timeout_ms(tdm_dtls_endpoint *ep);

/* Runs the retransmission timer if it is due: the last flight is queued
 * again (drain tdm_dtls_poll_datagram). Calling it early does nothing.
 * TDM_OK; TDM_ERR_IO if the handshake gave up after too many
 * retransmissions (the endpoint failed; reason in tdm_dtls_state). */
tdm_status tdm_dtls_handle_timeout(tdm_dtls_endpoint *ep);

/* The phase, and (if reason is not NULL) a human-readable reason for
 * FAILED and CLOSED, e.g. "peer certificate fingerprint AB:.. does not
 * match the SDP fingerprint CD:..". The reason is "" otherwise and is
 * borrowed until the endpoint is freed. */
tdm_dtls_phase tdm_dtls_state(const tdm_dtls_endpoint *ep, const char **reason);

/* The negotiated profile and keys, once the handshake has completed (they
 * stay available after a later close). TDM_AGAIN while handshaking;
 * TDM_ERR_UNAVAILABLE if the handshake failed. */
tdm_status tdm_dtls_srtp_keys(const tdm_dtls_endpoint *ep, tdm_srtp_keys *out);

/* Queues a close_notify alert (drain tdm_dtls_poll_datagram) and moves to
 * CLOSED. No-op if already failed or closed. */
void tdm_dtls_close(tdm_dtls_endpoint *ep);

/* Counters; valid until the endpoint is freed. */
const tdm_dtls_stats *tdm_dtls_get_stats(const tdm_dtls_endpoint *ep);

#endif
