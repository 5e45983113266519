/* sdp_answers_chromium156_offers_test: offers captured from Chromium 156 by
 * the browser test (tests/browser, --save-sdp) parse, and the relay's
 * answers to them are what Chromium accepted there: the offerer's payload
 * types kept, only VP8, VP9 profile 0 and Opus answered (no rtx, red, ulpfec,
 * flexfec, H.264, AV1, G.722, ...), the data channel rejected while the
 * media is taken, BUNDLE on the offerer's first accepted mid with the
 * candidates there, setup and direction right for WHIP and WHEP. Also the
 * trickle fragments the test page builds from Chromium's candidates, and
 * that no prefix of a captured offer crashes the parser or the answer.
 *
 * Fixtures (tests/unit/chromium156_*.sdp, as the relay received them):
 *   whip_vp8_datachannel: video (VP8 + rtx) then audio, an SCTP data
 *     channel, four candidates (UDP and TCP active);
 *   whep_datachannel: recvonly video with all 34 payload types Chromium
 *     has, audio, a data channel;
 *   whip_vp9_audio_first_passive / whep_audio_first_passive: audio first,
 *     no candidates (they trickle), setup rewritten to passive by the test
 *     page so that the relay is the DTLS client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_sdp.h"

#ifndef TDM_CHROMIUM_FIXTURES
#error "TDM_CHROMIUM_FIXTURES must name the directory of the .sdp fixtures"
#endif

#define ANSWER_CAP 16384

static uint8_t *load(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", TDM_CHROMIUM_FIXTURES, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    uint8_t *buf = malloc(TDM_SDP_MAX_BYTES);
    assert_non_null(buf);
    *len = fread(buf, 1, TDM_SDP_MAX_BYTES, f);
    fclose(f);
    assert_true(*len > 0 && *len < TDM_SDP_MAX_BYTES);
    return buf;
}

static tdm_sdp_session *parse_fixture(const char *name)
{
    size_t len;
    uint8_t *text = load(name, &len);
    tdm_sdp_session *s = tdm_sdp_new();
    assert_non_null(s);
    tdm_error err = {{0}};
    tdm_status st = tdm_sdp_parse(text, len, s, &err);
    if (st != TDM_OK)
        fail_msg("%s: %s", name, err.msg);
    free(text);
    return s;
}

/* The relay's side as relay_worker.c fills it for a subscriber (ssrcs set)
 * or a publisher (0). */
static tdm_sdp_local local_side(const tdm_sdp_candidate *cand, uint32_t ssrc_audio,
                                uint32_t ssrc_video)
{
    tdm_sdp_local l = {
        .ice_ufrag = "r3lY",
        .ice_pwd = "relaypasswordrelaypassword",
        .session_id = 42,
        .codecs = TDM_SDP_CODECS_ALL,
        .extensions = TDM_SDP_EXT_DEFAULT,
        .candidates = cand,
        .n_candidates = 1,
        .candidates_complete = true,
        .ssrc_audio = ssrc_audio,
        .ssrc_video = ssrc_video,
        .cname = ssrc_video ? "tandem-relay" : NULL,
        .msid_stream = ssrc_video ? "tandem" : NULL,
    };
    memset(l.fingerprint, 0xab, sizeof l.fingerprint);
    return l;
}

static const tdm_sdp_candidate relay_candidate = {
    .foundation = "1", .component = 1, .transport = TDM_SDP_UDP, .priority = 2015363583,
    .address = "10.77.0.1", .port = 40000, .type = TDM_SDP_CAND_HOST,
};

static char *answer(const tdm_sdp_session *offer, tdm_sdp_role role, tdm_sdp_answer_info *info)
{
    bool sub = role == TDM_SDP_ROLE_SUBSCRIBE;
    tdm_sdp_local l = local_side(&relay_candidate, sub ? 1111 : 0, sub ? 2222 : 0);
    char *out = malloc(ANSWER_CAP);
    assert_non_null(out);
    size_t n = 0;
    tdm_error err = {{0}};
    tdm_status st = tdm_sdp_answer(offer, &l, role, out, ANSWER_CAP, &n, info, &err);
    if (st != TDM_OK)
        fail_msg("answer: %s", err.msg);
    assert_int_equal(strlen(out), n);
    return out;
}

/* The m-section of an answer that carries a=mid:<mid>, as its own string. */
static char *section(const char *sdp, const char *mid)
{
    char want[64];
    snprintf(want, sizeof want, "\r\na=mid:%s\r\n", mid);
    const char *at = strstr(sdp, want);
    if (!at)
        fail_msg("no section with mid %s in:\n%s", mid, sdp);
    const char *start = at;
    while (start > sdp && strncmp(start, "\r\nm=", 4) != 0)
        start--;
    const char *end = strstr(at + 2, "\r\nm=");
    size_t n = end ? (size_t)(end - start) + 2 : strlen(start);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, start, n);
    s[n] = '\0';
    return s;
}

static void assert_has(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("missing \"%s\" in:\n%s", needle, text);
}

static void assert_lacks(const char *text, const char *needle)
{
    if (strstr(text, needle))
        fail_msg("unexpected \"%s\" in:\n%s", needle, text);
}

/* What no answer of the relay may carry: codecs it does not forward and
 * feedback or extensions it does not implement. */
static void assert_only_supported(const char *ans)
{
    static const char *const never[] = {
        "rtx/",   "red/",   "ulpfec", "flexfec",  "H264",          "AV1",          "G722",
        "PCMU",   "PCMA",   "CN/",    "telephone-event", "transport-cc", "profile-id=2",
        "sdes:mid", "video-orientation", "ssrc-audio-level", "rtcp-xr",
    };
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        assert_lacks(ans, never[i]);
}

/* The answer parses back with the same parser, and every payload type it
 * lists is one the offer gave the same codec. */
static void assert_answer_consistent(const tdm_sdp_session *offer, const char *ans)
{
    tdm_sdp_session *back = tdm_sdp_new();
    assert_non_null(back);
    tdm_error err = {{0}};
    if (tdm_sdp_parse((const uint8_t *)ans, strlen(ans), back, &err) != TDM_OK)
        fail_msg("answer does not parse back: %s\n%s", err.msg, ans);
    assert_int_equal(back->n_media, offer->n_media);
    for (size_t i = 0; i < back->n_media; i++) {
        const tdm_sdp_media *bm = &back->media[i], *om = &offer->media[i];
        assert_string_equal(bm->mid, om->mid);
        assert_string_equal(bm->kind_name, om->kind_name);
        if (bm->port == 0)
            continue;
        for (size_t k = 0; k < bm->n_codecs; k++) {
            const tdm_sdp_codec *bc = &bm->codecs[k];
            const tdm_sdp_codec *oc = NULL;
            for (size_t j = 0; j < om->n_codecs && !oc; j++)
                if (om->codecs[j].pt == bc->pt)
                    oc = &om->codecs[j];
            assert_non_null(oc);
            assert_string_equal(bc->encoding, oc->encoding);
            assert_int_equal(bc->clock_hz, oc->clock_hz);
        }
    }
    tdm_sdp_free(back);
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* --- WHIP: VP8 + Opus + data channel, candidates in the offer ---------- */

static void whip_vp8_with_data_channel(void **state)
{
    (void)state;
    tdm_sdp_session *o = parse_fixture("chromium156_whip_vp8_datachannel_offer.sdp");
    assert_int_equal(o->n_media, 3);
    assert_int_equal(o->n_bundle, 3);
    const tdm_sdp_media *v = &o->media[0], *a = &o->media[1], *d = &o->media[2];
    assert_int_equal(v->kind, TDM_SDP_MEDIA_VIDEO);
    assert_int_equal(a->kind, TDM_SDP_MEDIA_AUDIO);
    assert_int_equal(d->kind, TDM_SDP_MEDIA_OTHER);
    assert_int_equal(v->direction, TDM_SDP_SENDONLY);
    assert_int_equal(v->dtls.setup, TDM_SDP_SETUP_ACTPASS);
    assert_true(v->rtcp_mux && v->rtcp_rsize && v->ice.trickle);
    /* setCodecPreferences left VP8 and its rtx. */
    assert_int_equal(v->n_codecs, 2);
    assert_int_equal(v->codecs[0].pt, 96);
    assert_string_equal(v->codecs[0].encoding, "VP8");
    assert_int_equal(v->codecs[0].feedback,
                     TDM_SDP_FB_SUPPORTED | TDM_SDP_FB_TRANSPORT_CC);
    assert_string_equal(v->codecs[1].encoding, "rtx");
    assert_int_equal(v->codecs[1].rtx_apt, 96);
    /* Two UDP and two TCP (active) host candidates, Chromium's extensions
     * (generation, network-id) skipped. */
    assert_int_equal(v->n_candidates, 4);
    assert_int_equal(v->candidates[0].transport, TDM_SDP_UDP);
    assert_string_equal(v->candidates[0].address, "10.77.0.1");
    assert_int_equal(v->candidates[2].transport, TDM_SDP_TCP);
    assert_int_equal(v->candidates[2].tcptype, TDM_SDP_TCPTYPE_ACTIVE);
    assert_int_equal(a->n_codecs, 8);
    assert_int_equal(a->codecs[0].channels, 2);
    assert_true(a->codecs[0].opus_inband_fec);
    /* SSRC of the video and of its rtx (the FID group). */
    assert_int_equal(v->n_ssrcs, 2);

    tdm_sdp_answer_info info;
    char *ans = answer(o, TDM_SDP_ROLE_PUBLISH, &info);
    assert_true(info.accepted[0] && info.accepted[1] && !info.accepted[2]);
    assert_int_equal(info.n_accepted, 2);
    assert_int_equal(info.transport_media, 0);
    assert_int_equal(info.setup, TDM_SDP_SETUP_PASSIVE);
    assert_int_equal(info.direction[0], TDM_SDP_RECVONLY);
    assert_int_equal(info.direction[1], TDM_SDP_RECVONLY);
    assert_has(ans, "a=group:BUNDLE 0 1\r\n");
    assert_only_supported(ans);

    char *sv = section(ans, "0"), *sa = section(ans, "1"), *sd = section(ans, "2");
    assert_has(sv, "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n");
    assert_has(sv, "a=rtpmap:96 VP8/90000\r\n");
    assert_has(sv, "a=rtcp-fb:96 nack pli\r\n");
    assert_has(sv, "a=recvonly\r\n");
    assert_has(sv, "a=setup:passive\r\n");
    assert_has(sv, "a=rtcp-mux\r\n");
    /* The offer's id for abs-send-time, the one extension answered. */
    assert_has(sv, "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n");
    assert_has(sv, "a=candidate:1 1 udp 2015363583 10.77.0.1 40000 typ host\r\n");
    assert_has(sv, "a=end-of-candidates\r\n");
    assert_has(sa, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
    assert_has(sa, "a=rtpmap:111 opus/48000/2\r\n");
    assert_has(sa, "a=fmtp:111 minptime=10;useinbandfec=1\r\n");
    assert_lacks(sa, "a=candidate");
    /* A publisher's answer promises no SSRC of the relay's. */
    assert_lacks(ans, "a=ssrc:");
    assert_lacks(ans, "a=msid:");
    assert_has(sd, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n");
    assert_lacks(sd, "a=candidate");
    assert_answer_consistent(o, ans);
    free(sv);
    free(sa);
    free(sd);
    free(ans);
    tdm_sdp_free(o);
}

/* --- WHEP: everything Chromium can receive, and a data channel --------- */

static void whep_all_codecs_with_data_channel(void **state)
{
    (void)state;
    tdm_sdp_session *o = parse_fixture("chromium156_whep_datachannel_offer.sdp");
    assert_int_equal(o->n_media, 3);
    const tdm_sdp_media *v = &o->media[0];
    assert_int_equal(v->direction, TDM_SDP_RECVONLY);
    assert_int_equal(v->n_codecs, 34); /* within TDM_SDP_MAX_CODECS */
    assert_true(v->n_codecs <= TDM_SDP_MAX_CODECS);
    /* The four VP9 profiles Chromium decodes: only 0 is ours. */
    int vp9_profiles = 0;
    for (size_t k = 0; k < v->n_codecs; k++)
        if (strcmp(v->codecs[k].encoding, "VP9") == 0)
            vp9_profiles |= 1 << v->codecs[k].vp9_profile;
    assert_int_equal(vp9_profiles, 0xf);

    tdm_sdp_answer_info info;
    char *ans = answer(o, TDM_SDP_ROLE_SUBSCRIBE, &info);
    assert_true(info.accepted[0] && info.accepted[1] && !info.accepted[2]);
    assert_int_equal(info.direction[0], TDM_SDP_SENDONLY);
    assert_int_equal(info.direction[1], TDM_SDP_SENDONLY);
    assert_has(ans, "a=group:BUNDLE 0 1\r\n");
    assert_only_supported(ans);
    char *sv = section(ans, "0"), *sa = section(ans, "1");
    /* VP8 and VP9 profile 0 under the offerer's numbers, in its order. */
    assert_has(sv, "m=video 9 UDP/TLS/RTP/SAVPF 96 98\r\n");
    assert_has(sv, "a=rtpmap:98 VP9/90000\r\n");
    assert_has(sv, "a=fmtp:98 profile-id=0\r\n");
    assert_has(sv, "a=sendonly\r\n");
    /* What Chromium needs to make a track of it: msid and the SSRC. */
    assert_has(sv, "a=msid:tandem video\r\n");
    assert_has(sv, "a=ssrc:2222 cname:tandem-relay\r\n");
    assert_has(sa, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
    assert_has(sa, "a=msid:tandem audio\r\n");
    assert_has(sa, "a=ssrc:1111 cname:tandem-relay\r\n");
    assert_has(ans, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n");
    assert_int_equal(count(ans, "a=candidate:"), 1);
    assert_answer_consistent(o, ans);
    free(sv);
    free(sa);
    free(ans);
    tdm_sdp_free(o);
}

/* --- audio first, trickled, relay as the DTLS client ------------------- */

static void whip_vp9_audio_first_passive(void **state)
{
    (void)state;
    tdm_sdp_session *o = parse_fixture("chromium156_whip_vp9_audio_first_passive_offer.sdp");
    assert_int_equal(o->n_media, 2);
    assert_int_equal(o->media[0].kind, TDM_SDP_MEDIA_AUDIO);
    assert_int_equal(o->media[1].kind, TDM_SDP_MEDIA_VIDEO);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(o->media[i].dtls.setup, TDM_SDP_SETUP_PASSIVE);
        /* Sent before gathering: candidates come in PATCHes. */
        assert_int_equal(o->media[i].n_candidates, 0);
        assert_false(o->media[i].end_of_candidates);
    }
    assert_int_equal(o->media[1].codecs[0].pt, 98);
    assert_int_equal(o->media[1].codecs[0].vp9_profile, 0);

    tdm_sdp_answer_info info;
    char *ans = answer(o, TDM_SDP_ROLE_PUBLISH, &info);
    /* The audio m-line is the BUNDLE tag, so the transport is there. */
    assert_int_equal(info.transport_media, 0);
    assert_int_equal(info.setup, TDM_SDP_SETUP_ACTIVE);
    assert_has(ans, "a=group:BUNDLE 0 1\r\n");
    assert_only_supported(ans);
    char *sa = section(ans, "0"), *sv = section(ans, "1");
    assert_has(sa, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n");
    assert_has(sa, "a=setup:active\r\n");
    assert_has(sa, "a=candidate:");
    assert_has(sv, "m=video 9 UDP/TLS/RTP/SAVPF 98\r\n");
    assert_has(sv, "a=fmtp:98 profile-id=0\r\n");
    assert_has(sv, "a=setup:active\r\n");
    assert_has(sv, "a=recvonly\r\n");
    assert_lacks(sv, "a=candidate:");
    assert_answer_consistent(o, ans);
    free(sa);
    free(sv);
    free(ans);
    tdm_sdp_free(o);
}

static void whep_audio_first_passive(void **state)
{
    (void)state;
    tdm_sdp_session *o = parse_fixture("chromium156_whep_audio_first_passive_offer.sdp");
    tdm_sdp_answer_info info;
    char *ans = answer(o, TDM_SDP_ROLE_SUBSCRIBE, &info);
    assert_int_equal(info.transport_media, 0);
    assert_int_equal(info.setup, TDM_SDP_SETUP_ACTIVE);
    assert_only_supported(ans);
    char *sa = section(ans, "0"), *sv = section(ans, "1");
    assert_has(sa, "a=ssrc:1111 cname:tandem-relay\r\n");
    assert_has(sa, "a=sendonly\r\n");
    assert_has(sv, "m=video 9 UDP/TLS/RTP/SAVPF 96 98\r\n");
    assert_has(sv, "a=ssrc:2222 cname:tandem-relay\r\n");
    assert_answer_consistent(o, ans);
    free(sa);
    free(sv);
    free(ans);
    tdm_sdp_free(o);
}

/* --- trickle fragments as the test page PATCHes them ------------------- */

static void trickle_fragments_from_chromium(void **state)
{
    (void)state;
    /* RTCIceCandidate.candidate as Chromium 156 gives it (with ufrag and
     * network-id extensions), in the fragment the page builds. */
    static const char frag_text[] =
        "a=ice-ufrag:FnZx\r\n"
        "a=ice-pwd:BHvXWNWsrJKizsblhhfw8vG/\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
        "a=mid:0\r\n"
        "a=candidate:144498477 1 udp 2122260223 10.77.0.1 38846 typ host generation 0 "
        "ufrag FnZx network-id 1\r\n";
    static const char tcp_text[] =
        "a=ice-ufrag:FnZx\r\n"
        "a=ice-pwd:BHvXWNWsrJKizsblhhfw8vG/\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
        "a=mid:0\r\n"
        "a=candidate:1985166773 1 tcp 1518280447 10.77.0.1 9 typ host tcptype active "
        "generation 0 ufrag FnZx network-id 1\r\n";
    static const char end_text[] =
        "a=ice-ufrag:FnZx\r\n"
        "a=ice-pwd:BHvXWNWsrJKizsblhhfw8vG/\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
        "a=mid:0\r\n"
        "a=end-of-candidates\r\n";
    tdm_sdp_frag *f = malloc(sizeof *f);
    assert_non_null(f);
    tdm_error err = {{0}};

    assert_int_equal(tdm_sdp_frag_parse((const uint8_t *)frag_text, strlen(frag_text), f, &err),
                     TDM_OK);
    assert_int_equal(f->n_mids, 1);
    assert_string_equal(f->mids[0], "0");
    assert_int_equal(f->n_candidates, 1);
    assert_string_equal(f->candidates[0].c.address, "10.77.0.1");
    assert_int_equal(f->candidates[0].c.port, 38846);
    assert_false(f->end_of_candidates);
    /* The same credentials as the offer: a trickle, not an ICE restart. */
    assert_false(tdm_sdp_frag_is_restart(f, "FnZx", "BHvXWNWsrJKizsblhhfw8vG/"));

    assert_int_equal(tdm_sdp_frag_parse((const uint8_t *)tcp_text, strlen(tcp_text), f, &err),
                     TDM_OK);
    assert_int_equal(f->n_candidates, 1);
    assert_int_equal(f->candidates[0].c.transport, TDM_SDP_TCP);
    assert_int_equal(f->candidates[0].c.tcptype, TDM_SDP_TCPTYPE_ACTIVE);

    assert_int_equal(tdm_sdp_frag_parse((const uint8_t *)end_text, strlen(end_text), f, &err),
                     TDM_OK);
    assert_int_equal(f->n_candidates, 0);
    assert_true(f->end_of_candidates);
    free(f);
}

/* --- no prefix of a captured offer crashes anything -------------------- */

static void truncated_offers_fail_cleanly(void **state)
{
    (void)state;
    static const char *const names[] = {
        "chromium156_whip_vp8_datachannel_offer.sdp",
        "chromium156_whep_datachannel_offer.sdp",
        "chromium156_whip_vp9_audio_first_passive_offer.sdp",
        "chromium156_whep_audio_first_passive_offer.sdp",
    };
    tdm_sdp_session *s = tdm_sdp_new();
    char *out = malloc(ANSWER_CAP);
    assert_non_null(s);
    assert_non_null(out);
    tdm_sdp_local l = local_side(&relay_candidate, 1111, 2222);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t len;
        uint8_t *text = load(names[i], &len);
        size_t parsed = 0;
        /* Every prefix that ends a line: an SDP cut short (or a media
         * section lost) is either answered or refused, never crashed on. */
        for (size_t cut = 1; cut <= len; cut++) {
            if (text[cut - 1] != '\n')
                continue;
            tdm_error err = {{0}};
            if (tdm_sdp_parse(text, cut, s, &err) != TDM_OK) {
                assert_true(err.msg[0] != '\0');
                continue;
            }
            parsed++;
            size_t n;
            for (int role = TDM_SDP_ROLE_PUBLISH; role <= TDM_SDP_ROLE_SUBSCRIBE; role++) {
                tdm_status st = tdm_sdp_answer(s, &l, (tdm_sdp_role)role, out, ANSWER_CAP, &n,
                                               NULL, &err);
                assert_true(st == TDM_OK || st == TDM_ERR_UNSUPPORTED);
            }
        }
        assert_true(parsed > 0);
        /* A buffer too small is an error, not an overflow. */
        assert_int_equal(tdm_sdp_parse(text, len, s, NULL), TDM_OK);
        size_t n;
        assert_int_equal(tdm_sdp_answer(s, &l, TDM_SDP_ROLE_SUBSCRIBE, out, 200, &n, NULL, NULL),
                         TDM_ERR_RANGE);
        free(text);
    }
    free(out);
    tdm_sdp_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whip_vp8_with_data_channel),
        cmocka_unit_test(whep_all_codecs_with_data_channel),
        cmocka_unit_test(whip_vp9_audio_first_passive),
        cmocka_unit_test(whep_audio_first_passive),
        cmocka_unit_test(trickle_fragments_from_chromium),
        cmocka_unit_test(truncated_offers_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
