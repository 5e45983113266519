/* tdm_sdp_offer: writes the SDP offer of a WHIP/WHEP client, sans-IO.
 *
 * Owns the client side of the offer/answer exchange that tdm_sdp.h answers:
 * one BUNDLEd video m-line (VP8 or VP9 profile 0 with NACK, PLI, FIR and REMB
 * feedback), rtcp-mux, the
 * client's ICE credentials and candidates, its DTLS fingerprint with
 * setup:actpass, sendonly for publish (with its SSRC) or recvonly for
 * subscribe. Native clients and tests use it; browsers write their own. */
#ifndef TDM_SDP_OFFER_H
#define TDM_SDP_OFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_sdp.h"
#include "tdm_status.h"

typedef struct tdm_sdp_offer_config {
    tdm_sdp_role role;     /* PUBLISH: sendonly; SUBSCRIBE: recvonly */
    const char *ice_ufrag; /* 4..256 ice-chars */
    const char *ice_pwd;   /* 22..256 ice-chars */
    uint8_t fingerprint[TDM_SDP_FINGERPRINT_LEN]; /* sha-256 of our certificate */
    uint64_t session_id;   /* o= sess-id (top bit cleared) */
    tdm_codec video_codec; /* TDM_CODEC_VP8 (also when 0) or TDM_CODEC_VP9 */
    uint8_t video_pt;      /* the codec's payload type, 96..127 */
    uint32_t video_ssrc;   /* publish: the SSRC we send with (nonzero) */
    const char *cname;     /* publish: a token; NULL means "tandem" */
    /* Candidate attribute values ("candidate:..."), borrowed for the call. */
    const char *const *candidates;
    size_t n_candidates;
    bool candidates_complete; /* write a=end-of-candidates */
} tdm_sdp_offer_config;

/* Writes the offer into out (NUL-terminated), *out_len excluding the NUL.
 * @return TDM_OK; TDM_ERR_RANGE when cap is too small; TDM_ERR_INVALID for
 *         a bad config (err says which field). */
tdm_status tdm_sdp_offer_write(const tdm_sdp_offer_config *cfg, char *out, size_t cap,
                               size_t *out_len, tdm_error *err);

#endif
