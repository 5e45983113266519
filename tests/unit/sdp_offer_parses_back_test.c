/* sdp_offer_parses_back_test: offers from tdm_sdp_offer_write parse with
 * tdm_sdp_parse into what was asked for (direction, VP8 with NACK/PLI
 * feedback, ICE, fingerprint, actpass, SSRC, candidates), the relay can
 * answer them, and bad configs or small buffers are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_sdp.h"
#include "tdm_sdp_offer.h"

static const char *const cands[] = {
    "candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host",
    "candidate:2 1 UDP 2015363326 127.0.0.1 40002 typ host",
};

static void config(tdm_sdp_offer_config *c, tdm_sdp_role role)
{
    memset(c, 0, sizeof *c);
    c->role = role;
    c->ice_ufrag = "abcd";
    c->ice_pwd = "0123456789012345678901";
    for (int i = 0; i < TDM_SDP_FINGERPRINT_LEN; i++)
        c->fingerprint[i] = (uint8_t)(i * 7);
    c->session_id = UINT64_MAX; /* the top bit is cleared on the wire */
    c->video_pt = 100;
    c->video_ssrc = role == TDM_SDP_ROLE_PUBLISH ? 0xdeadbeefu : 0;
    c->cname = "me";
    c->candidates = cands;
    c->n_candidates = 2;
    c->candidates_complete = true;
}

static void offer_parses_back(tdm_sdp_role role)
{
    tdm_sdp_offer_config c;
    config(&c, role);
    char buf[4096];
    size_t len;
    tdm_error err = {{0}};
    assert_int_equal(tdm_sdp_offer_write(&c, buf, sizeof buf, &len, &err), TDM_OK);
    assert_int_equal(strlen(buf), len);
    tdm_sdp_session *s = tdm_sdp_new();
    if (tdm_sdp_parse((const uint8_t *)buf, len, s, &err) != TDM_OK)
        fail_msg("%s\n%s", err.msg, buf);
    assert_int_equal(s->n_media, 1);
    assert_int_equal(s->n_bundle, 1);
    const tdm_sdp_media *m = &s->media[0];
    assert_int_equal(m->kind, TDM_SDP_MEDIA_VIDEO);
    assert_string_equal(m->mid, "0");
    assert_true(m->rtcp_mux);
    assert_int_equal(m->direction,
                     role == TDM_SDP_ROLE_PUBLISH ? TDM_SDP_SENDONLY : TDM_SDP_RECVONLY);
    assert_string_equal(m->ice.ufrag, "abcd");
    assert_string_equal(m->ice.pwd, c.ice_pwd);
    assert_true(m->dtls.has_fingerprint);
    assert_memory_equal(m->dtls.fingerprint, c.fingerprint, TDM_SDP_FINGERPRINT_LEN);
    assert_int_equal(m->dtls.setup, TDM_SDP_SETUP_ACTPASS);
    assert_int_equal(m->n_codecs, 1);
    assert_int_equal(m->codecs[0].pt, 100);
    assert_string_equal(m->codecs[0].encoding, "VP8");
    assert_int_equal(m->codecs[0].clock_hz, 90000);
    assert_int_equal(m->codecs[0].feedback, TDM_SDP_FB_SUPPORTED);
    assert_int_equal(m->n_candidates, 2);
    assert_int_equal(m->candidates[1].port, 40002);
    assert_true(m->end_of_candidates);
    if (role == TDM_SDP_ROLE_PUBLISH) {
        assert_int_equal(m->n_ssrcs, 1);
        assert_int_equal(m->ssrcs[0].ssrc, 0xdeadbeefu);
        assert_string_equal(m->ssrcs[0].cname, "me");
    } else {
        assert_int_equal(m->n_ssrcs, 0);
    }
    assert_int_equal(s->origin_session_id, UINT64_MAX >> 1);

    /* The relay's answerer takes it. */
    tdm_sdp_local local = {.ice_ufrag = "wxyz", .ice_pwd = "abcdefghijklmnopqrstuv",
                           .session_id = 9, .codecs = TDM_SDP_CODECS_ALL,
                           .extensions = TDM_SDP_EXT_DEFAULT};
    char answer[4096];
    size_t alen;
    tdm_sdp_answer_info info;
    assert_int_equal(tdm_sdp_answer(s, &local, role, answer, sizeof answer, &alen, &info, &err),
                     TDM_OK);
    assert_true(info.accepted[0]);
    assert_int_equal(info.setup, TDM_SDP_SETUP_PASSIVE);
    tdm_sdp_free(s);
}

static void publish_offer_parses_back(void **state)
{
    (void)state;
    offer_parses_back(TDM_SDP_ROLE_PUBLISH);
}

static void subscribe_offer_parses_back(void **state)
{
    (void)state;
    offer_parses_back(TDM_SDP_ROLE_SUBSCRIBE);
}

static void bad_configs_are_refused(void **state)
{
    (void)state;
    char buf[4096];
    size_t len = 12345;
    tdm_error err = {{0}};
    tdm_sdp_offer_config c;

    config(&c, TDM_SDP_ROLE_PUBLISH);
    c.video_ssrc = 0;
    assert_int_equal(tdm_sdp_offer_write(&c, buf, sizeof buf, &len, &err), TDM_ERR_INVALID);
    config(&c, TDM_SDP_ROLE_PUBLISH);
    c.ice_ufrag = "ab"; /* under 4 chars */
    assert_int_equal(tdm_sdp_offer_write(&c, buf, sizeof buf, &len, &err), TDM_ERR_INVALID);
    config(&c, TDM_SDP_ROLE_PUBLISH);
    c.ice_pwd = "short";
    assert_int_equal(tdm_sdp_offer_write(&c, buf, sizeof buf, &len, &err), TDM_ERR_INVALID);
    config(&c, TDM_SDP_ROLE_PUBLISH);
    c.ice_ufrag = "ab\r\nc"; /* would inject a line */
    assert_int_equal(tdm_sdp_offer_write(&c, buf, sizeof buf, &len, &err), TDM_ERR_INVALID);
    config(&c, TDM_SDP_ROLE_PUBLISH);
    c.video_pt = 8;
    assert_int_equal(tdm_sdp_offer_write(&c, buf, sizeof buf, &len, &err), TDM_ERR_INVALID);
    config(&c, TDM_SDP_ROLE_PUBLISH);
    static const char *const bad[] = {"candidate:1 1 UDP 1 127.0.0.1 9 typ host\r\na=x"};
    c.candidates = bad;
    c.n_candidates = 1;
    assert_int_equal(tdm_sdp_offer_write(&c, buf, sizeof buf, &len, &err), TDM_ERR_INVALID);
    config(&c, TDM_SDP_ROLE_PUBLISH);
    c.role = (tdm_sdp_role)0;
    assert_int_equal(tdm_sdp_offer_write(&c, buf, sizeof buf, &len, &err), TDM_ERR_INVALID);
    assert_int_equal(len, 12345); /* untouched on failure */

    /* Every buffer size short of the offer is refused, none overflows. */
    config(&c, TDM_SDP_ROLE_PUBLISH);
    size_t full;
    assert_int_equal(tdm_sdp_offer_write(&c, buf, sizeof buf, &full, &err), TDM_OK);
    for (size_t cap = 1; cap <= full; cap++)
        assert_int_equal(tdm_sdp_offer_write(&c, buf, cap, &len, &err), TDM_ERR_RANGE);
    assert_int_equal(tdm_sdp_offer_write(&c, buf, full + 1, &len, &err), TDM_OK);
    assert_int_equal(len, full);
}

/* A VP9 offer names VP9 with profile 0 and the same feedback. */
static void vp9_offer_names_vp9(void **state)
{
    (void)state;
    tdm_sdp_offer_config c = {.role = TDM_SDP_ROLE_SUBSCRIBE,
                              .ice_ufrag = "abcd",
                              .ice_pwd = "0123456789abcdefghijkl",
                              .session_id = 7,
                              .video_codec = TDM_CODEC_VP9,
                              .video_pt = 98};
    char out[4096];
    size_t len;
    tdm_error err;
    assert_int_equal(tdm_sdp_offer_write(&c, out, sizeof out, &len, &err), TDM_OK);
    tdm_sdp_session *s = tdm_sdp_new();
    assert_non_null(s);
    assert_int_equal(tdm_sdp_parse((const uint8_t *)out, len, s, &err), TDM_OK);
    const tdm_sdp_media *m = &s->media[0];
    assert_int_equal(m->n_codecs, 1);
    assert_string_equal(m->codecs[0].encoding, "VP9");
    assert_int_equal(m->codecs[0].feedback, TDM_SDP_FB_SUPPORTED);
    assert_non_null(strstr(out, "a=fmtp:98 profile-id=0"));
    c.video_codec = TDM_CODEC_OPUS;
    assert_int_equal(tdm_sdp_offer_write(&c, out, sizeof out, &len, &err), TDM_ERR_INVALID);
    tdm_sdp_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(publish_offer_parses_back),
        cmocka_unit_test(subscribe_offer_parses_back),
        cmocka_unit_test(bad_configs_are_refused),
        cmocka_unit_test(vp9_offer_names_vp9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
