/* sdp_offer.c: a WHIP/WHEP client's SDP offer (tdm_sdp_offer.h). */
#include "tdm_sdp_offer.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct writer {
    char *out;
    size_t cap, len;
    bool overflow;
} writer;

__attribute__((format(printf, 2, 3))) static void w_fmt(writer *w, const char *fmt, ...)
{
    if (w->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->out + w->len, w->cap - w->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= w->cap - w->len) {
        w->overflow = true;
        return;
    }
    w->len += (size_t)n;
}

/* ICE strings must survive the answerer's parser; refuse what it would. */
static bool ice_chars(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    }
    return true;
}

tdm_status tdm_sdp_offer_write(const tdm_sdp_offer_config *cfg, char *out, size_t cap,
                               size_t *out_len, tdm_error *err)
{
    if (!cfg || !out || !out_len || cap == 0)
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_offer: NULL argument");
    bool publish = cfg->role == TDM_SDP_ROLE_PUBLISH;
    if (!publish && cfg->role != TDM_SDP_ROLE_SUBSCRIBE)
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_offer: role must be publish or subscribe");
    if (!ice_chars(cfg->ice_ufrag, 4, 256) || !ice_chars(cfg->ice_pwd, 22, 256))
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_offer: bad ICE ufrag or pwd");
    if (cfg->video_codec != 0 && cfg->video_codec != TDM_CODEC_VP8 &&
        cfg->video_codec != TDM_CODEC_VP9)
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_offer: video_codec %s is not VP8 or VP9",
                        tdm_codec_name(cfg->video_codec));
    if (cfg->video_pt < 96 || cfg->video_pt > 127)
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_offer: video payload type must be 96..127");
    if (publish && cfg->video_ssrc == 0)
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_offer: a publisher needs an SSRC");
    for (size_t i = 0; i < cfg->n_candidates; i++)
        if (!cfg->candidates[i] || strncmp(cfg->candidates[i], "candidate:", 10) != 0 ||
            strpbrk(cfg->candidates[i], "\r\n"))
            return tdm_fail(err, TDM_ERR_INVALID, "sdp_offer: candidate %zu is malformed", i);
    const char *cname = cfg->cname ? cfg->cname : "tandem";
    if (strpbrk(cname, " \r\n") || !*cname)
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_offer: cname must be a token");

    writer w = {out, cap, 0, false};
    unsigned pt = cfg->video_pt;
    w_fmt(&w, "v=0\r\no=- %" PRIu64 " 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
          cfg->session_id & ~(UINT64_C(1) << 63));
    w_fmt(&w, "a=group:BUNDLE 0\r\na=ice-options:trickle\r\n");
    w_fmt(&w, "m=video 9 UDP/TLS/RTP/SAVPF %u\r\nc=IN IP4 0.0.0.0\r\n", pt);
    w_fmt(&w, "a=mid:0\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", cfg->ice_ufrag, cfg->ice_pwd);
    w_fmt(&w, "a=fingerprint:sha-256 ");
    for (size_t i = 0; i < TDM_SDP_FINGERPRINT_LEN; i++)
        w_fmt(&w, "%02X%s", cfg->fingerprint[i], i + 1 < TDM_SDP_FINGERPRINT_LEN ? ":" : "\r\n");
    w_fmt(&w, "a=setup:actpass\r\na=%s\r\na=rtcp-mux\r\na=rtcp-rsize\r\n",
          publish ? "sendonly" : "recvonly");
    bool vp9 = cfg->video_codec == TDM_CODEC_VP9;
    w_fmt(&w, "a=rtpmap:%u %s/90000\r\n", pt, vp9 ? "VP9" : "VP8");
    if (vp9)
        w_fmt(&w, "a=fmtp:%u profile-id=0\r\n", pt);
    /* All the feedback the relay answers: NACK, PLI, FIR and REMB (so the
     * relay can pass its subscribers' bandwidth estimate on). */
    w_fmt(&w, "a=rtcp-fb:%u nack\r\na=rtcp-fb:%u nack pli\r\na=rtcp-fb:%u ccm fir\r\n"
              "a=rtcp-fb:%u goog-remb\r\n",
          pt, pt, pt, pt);
    if (publish)
        w_fmt(&w, "a=ssrc:%" PRIu32 " cname:%s\r\n", cfg->video_ssrc, cname);
    for (size_t i = 0; i < cfg->n_candidates; i++)
        w_fmt(&w, "a=%s\r\n", cfg->candidates[i]);
    if (cfg->candidates_complete)
        w_fmt(&w, "a=end-of-candidates\r\n");
    if (w.overflow)
        return tdm_fail(err, TDM_ERR_RANGE, "sdp_offer: %zu bytes are not enough", cap);
    *out_len = w.len;
    return TDM_OK;
}
