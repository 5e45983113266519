/* srtp_session.c: one direction of SRTP/SRTCP over libsrtp 2 (see
 * tdm_srtp.h). Owns libsrtp's process-wide initialisation and one srtp_t
 * per session; checks lengths and headers before libsrtp sees a packet,
 * and sorts libsrtp's failures into the counted drop reasons. */
#include "tdm_srtp.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "tdm_rtp.h"

#define DEFAULT_REPLAY_WINDOW 1024u
#define RTCP_MIN_LEN 8 /* header word + sender SSRC: what SRTCP leaves in clear */

struct tdm_srtp_session {
    srtp_t ctx;
    tdm_srtp_direction direction;
    size_t rtp_overhead;
    size_t rtcp_overhead;
    tdm_srtp_stats stats;
};

const char *tdm_srtp_profile_name(tdm_srtp_profile p)
{
    switch (p) {
    case TDM_SRTP_AES128_CM_SHA1_80:
        return "SRTP_AES128_CM_SHA1_80";
    case TDM_SRTP_AEAD_AES_128_GCM:
        return "SRTP_AEAD_AES_128_GCM";
    case TDM_SRTP_PROFILE_NONE:
        break;
    }
    return "none";
}

const char *tdm_srtp_fail_name(tdm_srtp_fail why)
{
    switch (why) {
#define TDM_SRTP_FAIL_CASE(name, label, text)                                                      \
    case TDM_SRTP_FAIL_##name:                                                                     \
        return label;
        TDM_SRTP_FAIL_MAP(TDM_SRTP_FAIL_CASE)
#undef TDM_SRTP_FAIL_CASE
    case TDM_SRTP_FAIL_COUNT:
        break;
    }
    return "unknown";
}

void tdm_srtp_keys_wipe(tdm_srtp_keys *keys)
{
    if (keys)
        explicit_bzero(keys, sizeof *keys);
}

void tdm_srtp_config_init(tdm_srtp_config *cfg, tdm_srtp_direction direction)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->direction = direction;
    cfg->replay_window = DEFAULT_REPLAY_WINDOW;
    cfg->allow_repeat_tx = true;
}

/* libsrtp keeps a global crypto kernel that srtp_init sets up and that is
 * not safe to set up twice concurrently; it lives until the process ends. */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t init_result = srtp_err_status_init_fail;

static void init_libsrtp(void)
{
    init_result = srtp_init();
}

tdm_status tdm_srtp_global_init(tdm_error *err)
{
    pthread_once(&init_once, init_libsrtp);
    if (init_result != srtp_err_status_ok)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "srtp: libsrtp initialisation failed (status %d)",
                        (int)init_result);
    return TDM_OK;
}

tdm_status tdm_srtp_new(const tdm_srtp_keys *keys, const tdm_srtp_config *cfg,
                        tdm_srtp_session **out, tdm_error *err)
{
    if (!keys || !cfg || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "srtp: NULL keys, config or output");
    *out = NULL;
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    size_t want_len;
    switch (keys->profile) {
    case TDM_SRTP_AES128_CM_SHA1_80:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtcp);
        want_len = SRTP_AES_ICM_128_KEY_LEN_WSALT;
        break;
    case TDM_SRTP_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
        want_len = SRTP_AES_GCM_128_KEY_LEN_WSALT;
        break;
    default:
        return tdm_fail(err, TDM_ERR_INVALID, "srtp: unknown profile %d", (int)keys->profile);
    }
    if (keys->master_len != want_len)
        return tdm_fail(err, TDM_ERR_INVALID, "srtp: %s needs %zu key+salt bytes, got %zu",
                        tdm_srtp_profile_name(keys->profile), want_len, keys->master_len);
    if (cfg->direction != TDM_SRTP_INBOUND && cfg->direction != TDM_SRTP_OUTBOUND)
        return tdm_fail(err, TDM_ERR_INVALID, "srtp: unknown direction %d", (int)cfg->direction);
    if (cfg->replay_window < 64 || cfg->replay_window > 0x7fff)
        return tdm_fail(err, TDM_ERR_INVALID, "srtp: replay window %u outside 64..32767",
                        cfg->replay_window);
    tdm_status st = tdm_srtp_global_init(err);
    if (st != TDM_OK)
        return st;

    tdm_srtp_session *s = calloc(1, sizeof *s);
    if (!s)
        return tdm_fail(err, TDM_ERR_NOMEM, "srtp: out of memory");
    s->direction = cfg->direction;

    /* A wildcard template rather than one policy per SSRC: the SSRCs a
     * browser will use are not all known from SDP (simulcast, RTX, probes),
     * and libsrtp only lets a template match one direction, hence a session
     * per direction. */
    uint8_t key[TDM_SRTP_MAX_MASTER_LEN];
    bool inbound = cfg->direction == TDM_SRTP_INBOUND;
    memcpy(key, inbound ? keys->remote : keys->local, want_len);
    policy.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    policy.key = key;
    policy.window_size = cfg->replay_window;
    policy.allow_repeat_tx = cfg->allow_repeat_tx ? 1 : 0;
    policy.next = NULL;
    srtp_err_status_t e = srtp_create(&s->ctx, &policy);
    explicit_bzero(key, sizeof key); /* libsrtp derived its session keys */
    if (e != srtp_err_status_ok) {
        free(s);
        return tdm_fail(err, e == srtp_err_status_alloc_fail ? TDM_ERR_NOMEM : TDM_ERR_UNAVAILABLE,
                        "srtp: srtp_create failed (status %d)", (int)e);
    }
    uint32_t rtp_trailer = 0, rtcp_trailer = 0;
    if (srtp_get_protect_trailer_length(s->ctx, 0, 0, &rtp_trailer) != srtp_err_status_ok ||
        srtp_get_protect_rtcp_trailer_length(s->ctx, 0, 0, &rtcp_trailer) != srtp_err_status_ok) {
        tdm_srtp_free(s);
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "srtp: cannot read the trailer length");
    }
    s->rtp_overhead = rtp_trailer;
    s->rtcp_overhead = rtcp_trailer;
    *out = s;
    return TDM_OK;
}

void tdm_srtp_free(tdm_srtp_session *s)
{
    if (!s)
        return;
    if (s->ctx)
        srtp_dealloc(s->ctx); /* also zeroes its key material */
    free(s);
}

size_t tdm_srtp_rtp_overhead(const tdm_srtp_session *s)
{
    return s->rtp_overhead;
}

size_t tdm_srtp_rtcp_overhead(const tdm_srtp_session *s)
{
    return s->rtcp_overhead;
}

const tdm_srtp_stats *tdm_srtp_get_stats(const tdm_srtp_session *s)
{
    return &s->stats;
}

/* --- the packet path: no allocation, no formatted messages --------------- */

static tdm_status drop(tdm_srtp_session *s, tdm_srtp_fail reason, tdm_status st, tdm_srtp_fail *why)
{
    s->stats.fail[reason]++;
    if (why)
        *why = reason;
    return st;
}

static tdm_status drop_libsrtp(tdm_srtp_session *s, srtp_err_status_t e, tdm_srtp_fail *why)
{
    switch (e) {
    case srtp_err_status_auth_fail:
        return drop(s, TDM_SRTP_FAIL_AUTH, TDM_ERR_FORMAT, why);
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        return drop(s, TDM_SRTP_FAIL_REPLAY, TDM_ERR_FORMAT, why);
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err:
        /* libsrtp's own header and length checks, behind ours. */
        return drop(s, TDM_SRTP_FAIL_BAD_LENGTH, TDM_ERR_FORMAT, why);
    default:
        return drop(s, TDM_SRTP_FAIL_OTHER, TDM_ERR_IO, why);
    }
}

static tdm_status done(tdm_srtp_session *s, int n, size_t *out_len, tdm_srtp_fail *why)
{
    s->stats.packets++;
    *out_len = (size_t)n;
    if (why)
        *why = TDM_SRTP_FAIL_NONE;
    return TDM_OK;
}

static bool usable(const tdm_srtp_session *s, const uint8_t *buf, const size_t *out_len,
                   tdm_srtp_direction dir)
{
    return s && buf && out_len && s->direction == dir;
}

/* libsrtp writes the tag after the packet without knowing the buffer's
 * size, so the room is checked here (its documentation asks for
 * SRTP_MAX_TRAILER_LEN, the worst case with an MKI, which we never use). */
static bool has_room(size_t len, size_t cap, size_t overhead)
{
    return cap >= len && cap - len >= overhead && len <= (size_t)INT_MAX - overhead;
}

tdm_status tdm_srtp_protect_rtp(tdm_srtp_session *s, uint8_t *buf, size_t len, size_t cap,
                                size_t *out_len, tdm_srtp_fail *why)
{
    if (!usable(s, buf, out_len, TDM_SRTP_OUTBOUND))
        return TDM_ERR_INVALID;
    /* libsrtp trusts the CSRC count and extension length to lie inside the
     * packet; a plaintext packet must be whole, padding included. */
    tdm_rtp_packet pkt;
    if (tdm_rtp_parse(buf, len, &pkt, NULL) != TDM_OK)
        return drop(s, TDM_SRTP_FAIL_BAD_LENGTH, TDM_ERR_FORMAT, why);
    if (!has_room(len, cap, s->rtp_overhead))
        return drop(s, TDM_SRTP_FAIL_BAD_LENGTH, TDM_ERR_RANGE, why);
    int n = (int)len;
    srtp_err_status_t e = srtp_protect(s->ctx, buf, &n);
    if (e != srtp_err_status_ok)
        return drop_libsrtp(s, e, why);
    return done(s, n, out_len, why);
}

tdm_status tdm_srtp_unprotect_rtp(tdm_srtp_session *s, uint8_t *buf, size_t len, size_t *out_len,
                                  tdm_srtp_fail *why)
{
    if (!usable(s, buf, out_len, TDM_SRTP_INBOUND))
        return TDM_ERR_INVALID;
    if (len > INT_MAX || len < TDM_RTP_FIXED_HEADER + s->rtp_overhead)
        return drop(s, TDM_SRTP_FAIL_BAD_LENGTH, TDM_ERR_FORMAT, why);
    /* Only the header layout can be checked before decryption: the padding
     * count is the last encrypted byte. So parse with the P bit cleared,
     * and restore it before libsrtp authenticates the header. */
    tdm_rtp_packet pkt;
    uint8_t first = buf[0];
    buf[0] = (uint8_t)(first & ~0x20u);
    tdm_status st = tdm_rtp_parse(buf, len - s->rtp_overhead, &pkt, NULL);
    buf[0] = first;
    if (st != TDM_OK)
        return drop(s, TDM_SRTP_FAIL_BAD_LENGTH, TDM_ERR_FORMAT, why);
    int n = (int)len;
    srtp_err_status_t e = srtp_unprotect(s->ctx, buf, &n);
    if (e != srtp_err_status_ok)
        return drop_libsrtp(s, e, why);
    return done(s, n, out_len, why);
}

static bool rtcp_header_ok(const uint8_t *buf, size_t len, size_t min)
{
    return len >= min && (buf[0] >> 6) == 2;
}

tdm_status tdm_srtp_protect_rtcp(tdm_srtp_session *s, uint8_t *buf, size_t len, size_t cap,
                                 size_t *out_len, tdm_srtp_fail *why)
{
    if (!usable(s, buf, out_len, TDM_SRTP_OUTBOUND))
        return TDM_ERR_INVALID;
    if (!rtcp_header_ok(buf, len, RTCP_MIN_LEN))
        return drop(s, TDM_SRTP_FAIL_BAD_LENGTH, TDM_ERR_FORMAT, why);
    if (!has_room(len, cap, s->rtcp_overhead))
        return drop(s, TDM_SRTP_FAIL_BAD_LENGTH, TDM_ERR_RANGE, why);
    int n = (int)len;
    srtp_err_status_t e = srtp_protect_rtcp(s->ctx, buf, &n);
    if (e != srtp_err_status_ok)
        return drop_libsrtp(s, e, why);
    return done(s, n, out_len, why);
}

tdm_status tdm_srtp_unprotect_rtcp(tdm_srtp_session *s, uint8_t *buf, size_t len, size_t *out_len,
                                   tdm_srtp_fail *why)
{
    if (!usable(s, buf, out_len, TDM_SRTP_INBOUND))
        return TDM_ERR_INVALID;
    if (len > INT_MAX || !rtcp_header_ok(buf, len, RTCP_MIN_LEN + s->rtcp_overhead))
        return drop(s, TDM_SRTP_FAIL_BAD_LENGTH, TDM_ERR_FORMAT, why);
    int n = (int)len;
    srtp_err_status_t e = srtp_unprotect_rtcp(s->ctx, buf, &n);
    if (e != srtp_err_status_ok)
        return drop_libsrtp(s, e, why);
    return done(s, n, out_len, why);
}
