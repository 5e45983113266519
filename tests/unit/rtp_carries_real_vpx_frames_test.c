/* rtp_carries_real_vpx_frames_test: frames from the real libvpx VP8 and
 * VP9 encoders go through the packetizer, a lossy link with NACK
 * retransmission, and the frame assembler, and come out byte-identical with
 * the keyframe flag and picture size the encoder meant; the decoder takes
 * every one. A packet lost for good leads to a keyframe request, which the
 * encoder answers, and the decoder never sees a frame it cannot decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

#include "tdm_assembler.h"
#include "tdm_vp8_rtp.h"
#include "tdm_vp9_rtp.h"

#define W 330 /* not a multiple of 16: the sizes must come from the header */
#define H 190
#define FRAMES 60
#define MTU 1200
#define MS 1000u

static uint64_t rng_state = 0x5151515151515151u;

static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32);
}

typedef struct pkt {
    uint8_t buf[MTU];
    size_t len;
} pkt;

typedef struct enc_frame {
    uint8_t *data;
    size_t len;
    bool key;
} enc_frame;

static void draw(vpx_image_t *img, int t)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            img->planes[0][y * img->stride[0] + x] = (uint8_t)(x + 2 * y + 3 * t);
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < (H + 1) / 2; y++)
            for (int x = 0; x < (W + 1) / 2; x++)
                img->planes[p][y * img->stride[p] + x] = (uint8_t)(128 + ((x * p + t) & 15));
}

static void run(tdm_codec codec, bool lose_one_for_good)
{
    bool vp9 = codec == TDM_CODEC_VP9;
    vpx_codec_iface_t *cx = vp9 ? vpx_codec_vp9_cx() : vpx_codec_vp8_cx();
    vpx_codec_iface_t *dx = vp9 ? vpx_codec_vp9_dx() : vpx_codec_vp8_dx();
    vpx_codec_enc_cfg_t cfg;
    assert_int_equal(vpx_codec_enc_config_default(cx, &cfg, 0), VPX_CODEC_OK);
    cfg.g_w = W;
    cfg.g_h = H;
    cfg.g_timebase.num = 1;
    cfg.g_timebase.den = 30;
    cfg.g_lag_in_frames = 0;
    cfg.rc_end_usage = VPX_CBR;
    cfg.rc_target_bitrate = 800;
    cfg.kf_mode = VPX_KF_DISABLED; /* keyframes only when asked for */
    vpx_codec_ctx_t enc, dec;
    assert_int_equal(vpx_codec_enc_init(&enc, cx, &cfg, 0), VPX_CODEC_OK);
    assert_int_equal(vpx_codec_control(&enc, VP8E_SET_CPUUSED, vp9 ? 8 : -8), VPX_CODEC_OK);
    assert_int_equal(vpx_codec_dec_init(&dec, dx, NULL, 0), VPX_CODEC_OK);
    vpx_image_t *img = vpx_img_alloc(NULL, VPX_IMG_FMT_I420, W, H, 16);

    tdm_vp8_packetizer p8;
    tdm_vp9_packetizer p9;
    tdm_vp8_packetizer_init(&p8, 0x7ff8, 0);
    tdm_vp9_packetizer_init(&p9, 0x7ff8, 0, false);
    tdm_assembler_config acfg;
    tdm_assembler_config_default(&acfg, codec);
    acfg.max_nack_tries = 2;
    tdm_assembler *a = NULL;
    assert_int_equal(tdm_assembler_new(&acfg, &a), TDM_OK);
    tdm_assembler_set_rtt(a, 20 * MS);

    static pkt sent[20000];
    size_t n_sent = 0;
    enc_frame frames[FRAMES + 8];
    int n_frames = 0, decoded = 0, keys_asked = 0, keys_sent = 0;
    uint16_t seq = 65500;
    uint32_t ts0 = 0xfffe0000u;
    uint64_t now = 1000000;
    bool force_key = true;
    size_t lost_for_good = SIZE_MAX;

    for (int t = 0; t < FRAMES; t++) {
        draw(img, t);
        vpx_enc_frame_flags_t flags = force_key ? VPX_EFLAG_FORCE_KF : 0;
        force_key = false;
        assert_int_equal(vpx_codec_encode(&enc, img, t, 1, flags, VPX_DL_REALTIME), VPX_CODEC_OK);
        vpx_codec_iter_t it = NULL;
        const vpx_codec_cx_pkt_t *cp;
        while ((cp = vpx_codec_get_cx_data(&enc, &it)) != NULL) {
            if (cp->kind != VPX_CODEC_CX_FRAME_PKT)
                continue;
            enc_frame *ef = &frames[n_frames];
            ef->len = cp->data.frame.sz;
            ef->data = malloc(ef->len);
            memcpy(ef->data, cp->data.frame.buf, ef->len);
            ef->key = cp->data.frame.flags & VPX_FRAME_IS_KEY;
            keys_sent += ef->key;
            uint32_t ts = ts0 + (uint32_t)n_frames * 3000u;
            n_frames++;
            /* The encoder's facts, as the encoder wrapper would hand them. */
            tdm_encoded_frame f = {.codec = codec, .data = ef->data, .len = ef->len,
                                   .keyframe = ef->key, .rtp_timestamp = ts};
            tdm_rtp_header h = {.payload_type = 96, .ssrc = 42, .timestamp = ts};
            assert_int_equal(vp9 ? tdm_vp9_packetizer_start(&p9, &f, MTU - 12)
                                 : tdm_vp8_packetizer_start(&p8, &f, MTU - 12),
                             TDM_OK);
            bool last = false;
            while (!last) {
                pkt *p = &sent[n_sent];
                size_t plen;
                assert_int_equal(vp9 ? tdm_vp9_packetizer_next(&p9, p->buf + 12, MTU - 12, &plen, &last)
                                     : tdm_vp8_packetizer_next(&p8, p->buf + 12, MTU - 12, &plen, &last),
                                 TDM_OK);
                h.seq = seq++;
                h.marker = last;
                assert_int_equal(tdm_rtp_write(&h, p->buf + 12, plen, 0, p->buf, MTU, &p->len),
                                 TDM_OK);
                bool lose = rnd() % 10 == 0;
                if (lose_one_for_good && t == 20 && lost_for_good == SIZE_MAX) {
                    lose = true;
                    lost_for_good = n_sent;
                }
                if (!lose)
                    assert_int_equal(tdm_assembler_push(a, now, p->buf, p->len, NULL), TDM_OK);
                n_sent++;
            }
        }
        /* 33 ms pass; NACKs are answered (except for the one lost for
         * good), keyframe requests go to the encoder. */
        for (int ms = 0; ms < 33; ms++) {
            now += MS;
            tdm_assembler_handle_timeout(a, now);
            uint16_t seqs[64];
            size_t n = 0;
            while (tdm_assembler_poll_nack(a, seqs, 64, &n) == TDM_OK) {
                for (size_t k = 0; k < n; k++) {
                    size_t idx = (uint16_t)(seqs[k] - 65500);
                    assert_true(idx < n_sent);
                    if (idx != lost_for_good)
                        tdm_assembler_push(a, now, sent[idx].buf, sent[idx].len, NULL);
                }
            }
            tdm_assembler_event ev;
            while (tdm_assembler_poll_event(a, &ev) == TDM_OK) {
                keys_asked++;
                force_key = true;
            }
            tdm_encoded_frame out;
            while (tdm_assembler_poll_frame(a, &out, NULL) == TDM_OK) {
                int idx = (int)((out.rtp_timestamp - ts0) / 3000u);
                assert_true(idx >= 0 && idx < n_frames);
                assert_int_equal(out.len, frames[idx].len);
                assert_memory_equal(out.data, frames[idx].data, out.len);
                assert_int_equal(out.keyframe, frames[idx].key);
                assert_int_equal(out.width, W);
                assert_int_equal(out.height, H);
                if (vpx_codec_decode(&dec, out.data, (unsigned)out.len, NULL, 0) != VPX_CODEC_OK)
                    fail_msg("decode of frame %d: %s", idx, vpx_codec_error(&dec));
                vpx_codec_iter_t dit = NULL;
                vpx_image_t *d;
                while ((d = vpx_codec_get_frame(&dec, &dit)) != NULL) {
                    assert_int_equal(d->d_w, W);
                    assert_int_equal(d->d_h, H);
                    decoded++;
                }
            }
        }
    }
    const tdm_assembler_stats *st = tdm_assembler_get_stats(a);
    if (lose_one_for_good) {
        assert_true(keys_asked >= 1);
        assert_true(keys_sent >= 2);
        assert_int_equal(st->packets_given_up, 1);
        assert_true(decoded >= FRAMES - 10);
    } else {
        assert_int_equal(keys_asked, 0);
        assert_int_equal(keys_sent, 1);
        assert_true(decoded >= FRAMES - 1); /* the last may still be in flight */
    }
    assert_true(st->packets_recovered > 0);
    for (int i = 0; i < n_frames; i++)
        free(frames[i].data);
    tdm_assembler_free(a);
    vpx_img_free(img);
    vpx_codec_destroy(&enc);
    vpx_codec_destroy(&dec);
}

static void vp8_frames_survive_loss(void **state)
{
    (void)state;
    run(TDM_CODEC_VP8, false);
}

static void vp9_frames_survive_loss(void **state)
{
    (void)state;
    run(TDM_CODEC_VP9, false);
}

static void vp8_keyframe_request_recovers(void **state)
{
    (void)state;
    run(TDM_CODEC_VP8, true);
}

static void vp9_keyframe_request_recovers(void **state)
{
    (void)state;
    run(TDM_CODEC_VP9, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vp8_frames_survive_loss),
        cmocka_unit_test(vp9_frames_survive_loss),
        cmocka_unit_test(vp8_keyframe_request_recovers),
        cmocka_unit_test(vp9_keyframe_request_recovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
