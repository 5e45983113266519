/* tdm_srtp: SRTP and SRTCP protection for one direction of one peer, over
 * libsrtp 2, keyed from a DTLS-SRTP handshake (tdm_dtls.h).
 *
 * This module owns the libsrtp session (srtp_t) of one direction: an
 * outbound session protects what we send with our own write key, an inbound
 * session unprotects what the peer sends with its write key. Packets are
 * transformed in place in a caller buffer; nothing is allocated per packet
 * (libsrtp allocates once per new SSRC, see tdm_srtp_new). Every failed
 * packet is dropped and counted by reason (tdm_srtp_fail), for /metrics.
 *
 * A session is used by one thread at a time; distinct sessions may be used
 * from distinct threads at once. */
#ifndef TDM_SRTP_H
#define TDM_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

/* SRTP protection profiles, valued as their IANA DTLS-SRTP identifiers
 * (RFC 5764 section 4.1.2, RFC 7714 section 14.2). */
typedef enum tdm_srtp_profile {
    TDM_SRTP_PROFILE_NONE = 0,
    TDM_SRTP_AES128_CM_SHA1_80 = 0x0001,
    TDM_SRTP_AEAD_AES_128_GCM = 0x0007,
} tdm_srtp_profile;

/* The name OpenSSL and the RFCs use, e.g. "SRTP_AEAD_AES_128_GCM"; never
 * NULL ("none" for unknown values). */
const char *tdm_srtp_profile_name(tdm_srtp_profile p);

/* Master key followed by master salt, as libsrtp takes them: 16 + 14 bytes
 * for AES128_CM_SHA1_80, 16 + 12 for AEAD_AES_128_GCM. */
#define TDM_SRTP_MAX_MASTER_LEN 30

/* Keys of one DTLS-SRTP association, already resolved from the
 * client/server split of RFC 5764 section 4.2 to this endpoint's point of
 * view: `local` protects what we send, `remote` unprotects what the peer
 * sends. So the two ends of one handshake hold mirror images (a.local ==
 * b.remote). Secret: wipe with tdm_srtp_keys_wipe when done. */
typedef struct tdm_srtp_keys {
    tdm_srtp_profile profile;
    size_t master_len; /* bytes used in local and remote */
    uint8_t local[TDM_SRTP_MAX_MASTER_LEN];
    uint8_t remote[TDM_SRTP_MAX_MASTER_LEN];
} tdm_srtp_keys;

/* Overwrites keys in a way the compiler cannot elide. */
void tdm_srtp_keys_wipe(tdm_srtp_keys *keys);

/* Why a packet was dropped. X(name, metric label, description). */
#define TDM_SRTP_FAIL_MAP(X)                                                                       \
    X(NONE, "none", "not dropped")                                                                 \
    X(AUTH, "auth", "authentication tag did not verify")                                           \
    X(REPLAY, "replay", "packet index already seen or older than the replay window")               \
    X(BAD_LENGTH, "bad_length", "too short, malformed header, or no room for the tag")             \
    X(OTHER, "other", "any other libsrtp failure")

typedef enum tdm_srtp_fail {
#define TDM_SRTP_FAIL_ENUM(name, label, text) TDM_SRTP_FAIL_##name,
    TDM_SRTP_FAIL_MAP(TDM_SRTP_FAIL_ENUM)
#undef TDM_SRTP_FAIL_ENUM
        TDM_SRTP_FAIL_COUNT /* number of reasons, not a reason */
} tdm_srtp_fail;

/* Short snake_case name (a metric label); never NULL. */
const char *tdm_srtp_fail_name(tdm_srtp_fail why);

typedef enum tdm_srtp_direction {
    TDM_SRTP_INBOUND,  /* unprotect what the peer sends, with keys->remote */
    TDM_SRTP_OUTBOUND, /* protect what we send, with keys->local */
} tdm_srtp_direction;

typedef struct tdm_srtp_config {
    tdm_srtp_direction direction;
    /* Inbound RTP replay window in packets, 64..32767 (libsrtp's range).
     * The default 1024 covers the reordering and NACK retransmissions a
     * video stream sees at high bitrate; libsrtp's own default of 128 is a
     * fraction of a second of a 2 Mbit/s stream. */
    unsigned replay_window;
    /* Outbound: allow protecting the same (SSRC, sequence number) again.
     * The relay answers NACKs by re-sending cached packets with their
     * original sequence numbers (RFC 4585 generic NACK, no RTX stream), and
     * libsrtp otherwise refuses a repeated index as a replay. Safe only if
     * the repeated packet is byte-identical to the first one: with AES-GCM a
     * different plaintext under the same index reuses the nonce. */
    bool allow_repeat_tx;
} tdm_srtp_config;

/* Defaults: the given direction, window 1024, repeat allowed. */
void tdm_srtp_config_init(tdm_srtp_config *cfg, tdm_srtp_direction direction);

typedef struct tdm_srtp_stats {
    uint64_t packets; /* protected or unprotected successfully */
    uint64_t fail[TDM_SRTP_FAIL_COUNT];
} tdm_srtp_stats;

typedef struct tdm_srtp_session tdm_srtp_session;

/* Initialises libsrtp once per process; safe from any thread, any number of
 * times. tdm_srtp_new calls it; call it earlier to fail at startup. */
tdm_status tdm_srtp_global_init(tdm_error *err);

/* Creates a session for one direction, keyed from keys (copied; the caller
 * may wipe them afterwards). Any SSRC is accepted: libsrtp keeps one
 * template and clones it, allocating once, for each new SSRC it meets (an
 * inbound SSRC only after its first packet authenticated). Errors:
 * TDM_ERR_INVALID (NULL, unknown profile, bad master_len or window),
 * TDM_ERR_NOMEM, TDM_ERR_UNAVAILABLE (libsrtp failed), with err filled. */
tdm_status tdm_srtp_new(const tdm_srtp_keys *keys, const tdm_srtp_config *cfg,
                        tdm_srtp_session **out, tdm_error *err);
/* Frees the session and wipes its keys. NULL is a no-op. */
void tdm_srtp_free(tdm_srtp_session *s);

/* Bytes protection adds to an RTP / RTCP packet of this session (tag, and
 * for RTCP the 4-byte E flag and index). */
size_t tdm_srtp_rtp_overhead(const tdm_srtp_session *s);
size_t tdm_srtp_rtcp_overhead(const tdm_srtp_session *s);

/* Protects the RTP (or RTCP) packet of len bytes at buf in place; cap is
 * the buffer's size and must leave room for the overhead. On TDM_OK,
 * *out_len is the protected length. On failure the packet is dropped and
 * counted, *why (if not NULL) says why, and buf is unspecified:
 * TDM_ERR_RANGE (no room for the tag: BAD_LENGTH), TDM_ERR_FORMAT
 * (malformed header: BAD_LENGTH; a repeated index with allow_repeat_tx
 * off: REPLAY), TDM_ERR_IO (OTHER). TDM_ERR_INVALID, not counted, for NULL
 * arguments or an inbound session. */
tdm_status tdm_srtp_protect_rtp(tdm_srtp_session *s, uint8_t *buf, size_t len, size_t cap,
                                size_t *out_len, tdm_srtp_fail *why);
tdm_status tdm_srtp_protect_rtcp(tdm_srtp_session *s, uint8_t *buf, size_t len, size_t cap,
                                 size_t *out_len, tdm_srtp_fail *why);

/* Verifies and decrypts the SRTP (or SRTCP) packet of len bytes at buf in
 * place. On TDM_OK, *out_len is the plain length. On failure the packet is
 * dropped and counted, *why says why: TDM_ERR_FORMAT (AUTH, REPLAY or
 * BAD_LENGTH), TDM_ERR_IO (OTHER). TDM_ERR_INVALID, not counted, for NULL
 * arguments or an outbound session. */
tdm_status tdm_srtp_unprotect_rtp(tdm_srtp_session *s, uint8_t *buf, size_t len, size_t *out_len,
                                  tdm_srtp_fail *why);
tdm_status tdm_srtp_unprotect_rtcp(tdm_srtp_session *s, uint8_t *buf, size_t len, size_t *out_len,
                                   tdm_srtp_fail *why);

/* Counters since creation; valid until tdm_srtp_free. */
const tdm_srtp_stats *tdm_srtp_get_stats(const tdm_srtp_session *s);

#endif
