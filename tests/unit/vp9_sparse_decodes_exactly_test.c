/* Tandem's own sparse VP9 frames (tdm_vp9_sparse) decode in libvpx to
 * exactly the picture the writer says the decoder holds (coded blocks: the
 * source itself, lossless), at sizes that are not multiples of 8 or 64,
 * interleaved with libvpx's own frames; libvpx resumes from the writer's
 * picture with one error-resilient frame and its frames decode exactly
 * too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

#include "tdm_vp9_sparse.h"
#include "vpx_test_frames.h"

static uint32_t rng = 777;
static uint32_t rnd(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

typedef struct pic {
    int aw, ah;
    uint8_t *y, *u, *v;
} pic;

static void pic_alloc(pic *p, int w, int h)
{
    p->aw = (w + 15) & ~15;
    p->ah = (h + 15) & ~15;
    p->y = calloc((size_t)p->aw * p->ah * 3 / 2, 1);
    assert_non_null(p->y);
    p->u = p->y + (size_t)p->aw * p->ah;
    p->v = p->u + (size_t)(p->aw / 2) * (p->ah / 2);
}

static vpx_image_t wrap_pic(pic *p)
{
    return vpx_test_wrap_planes(p->y, p->u, p->v, p->aw, p->aw / 2, p->aw / 2, p->aw, p->ah);
}


static void paint(tdm_i420 *img, int mx, int my)
{
    for (int y = my * 16; y < my * 16 + 16 && y < img->height; y++)
        for (int x = mx * 16; x < mx * 16 + 16 && x < img->width; x++)
            img->y[(size_t)y * img->stride_y + x] = (rnd() % 4 == 0) ? 16 : 240;
    for (int y = my * 8; y < my * 8 + 8 && y < (img->height + 1) / 2; y++)
        for (int x = mx * 8; x < mx * 8 + 8 && x < (img->width + 1) / 2; x++) {
            img->u[(size_t)y * img->stride_u + x] = (uint8_t)(60 + rnd() % 140);
            img->v[(size_t)y * img->stride_v + x] = (uint8_t)(128 + (int)(rnd() % 31) - 15);
        }
}


static void decode_and_compare(vpx_codec_ctx_t *dec, const uint8_t *frame, size_t len,
                               const pic *want, int w, int h, const char *what)
{
    vpx_codec_err_t e = vpx_codec_decode(dec, frame, (unsigned)len, NULL, 0);
    if (e != VPX_CODEC_OK)
        fail_msg("%s: libvpx refused the frame: %s (%s)", what, vpx_codec_error(dec),
                 vpx_codec_error_detail(dec) ? vpx_codec_error_detail(dec) : "");
    vpx_codec_iter_t it = NULL;
    vpx_image_t *out = vpx_codec_get_frame(dec, &it);
    assert_non_null(out);
    assert_int_equal(out->d_w, w);
    assert_int_equal(out->d_h, h);
    for (int p = 0; p < 3; p++) {
        const uint8_t *wp = p == 0 ? want->y : p == 1 ? want->u : want->v;
        int ws = p ? want->aw / 2 : want->aw, pw = p ? (w + 1) / 2 : w, ph = p ? (h + 1) / 2 : h;
        for (int y = 0; y < ph; y++)
            if (memcmp(out->planes[p] + (size_t)y * out->stride[p], wp + (size_t)y * ws,
                       (size_t)pw) != 0)
                fail_msg("%s: plane %d row %d differs", what, p, y);
    }
}

static void copy_last(vpx_codec_ctx_t *enc, pic *p)
{
    vpx_ref_frame_t ref = {.frame_type = VP8_LAST_FRAME, .img = wrap_pic(p)};
    assert_int_equal(vpx_codec_control(enc, VP8_COPY_REFERENCE, &ref), VPX_CODEC_OK);
}

static void run(int W, int H)
{
    vpx_codec_enc_cfg_t cfg;
    assert_int_equal(vpx_codec_enc_config_default(vpx_codec_vp9_cx(), &cfg, 0), VPX_CODEC_OK);
    cfg.g_w = (unsigned)W;
    cfg.g_h = (unsigned)H;
    cfg.g_timebase.num = 1;
    cfg.g_timebase.den = 30;
    cfg.g_lag_in_frames = 0;
    cfg.rc_end_usage = VPX_CBR;
    cfg.rc_target_bitrate = 800;
    cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
    vpx_codec_ctx_t enc, dec;
    assert_int_equal(vpx_codec_enc_init(&enc, vpx_codec_vp9_cx(), &cfg, 0), VPX_CODEC_OK);
    assert_int_equal(vpx_codec_control(&enc, VP8E_SET_CPUUSED, 8), VPX_CODEC_OK);
    assert_int_equal(vpx_codec_control(&enc, VP9E_SET_TUNE_CONTENT, VP9E_CONTENT_SCREEN),
                     VPX_CODEC_OK);
    assert_int_equal(vpx_codec_control(&enc, VP9E_SET_AQ_MODE, 3), VPX_CODEC_OK);
    assert_int_equal(vpx_codec_dec_init(&dec, vpx_codec_vp9_dx(), NULL, 0), VPX_CODEC_OK);

    tdm_i420 img;
    assert_int_equal(tdm_i420_alloc(&img, W, H), TDM_OK);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            img.y[(size_t)y * img.stride_y + x] = (uint8_t)((x * 3 + y * 7) & 255);
    for (int y = 0; y < (H + 1) / 2; y++)
        for (int x = 0; x < (W + 1) / 2; x++) {
            img.u[(size_t)y * img.stride_u + x] = (uint8_t)(90 + x % 50);
            img.v[(size_t)y * img.stride_v + x] = (uint8_t)(160 - y % 40);
        }
    int mb_cols = (W + 15) / 16, mb_rows = (H + 15) / 16;
    static uint8_t frame[1 << 21];
    tdm_vp9_stream stream;
    tdm_vp9_stream_init(&stream);
    tdm_vp9_sparse *w;
    assert_int_equal(tdm_vp9_sparse_new(W, H, &w, NULL), TDM_OK);
    pic ref;
    pic_alloc(&ref, W, H);
    tdm_vp8_picture rp = {ref.y, ref.u, ref.v, ref.aw, ref.aw / 2};
    uint8_t *code = calloc((size_t)mb_cols * mb_rows, 1);
    assert_non_null(code);
    int pts = 0;
    bool resumed = false;
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 3; k++) {
            paint(&img, (int)(rnd() % (unsigned)mb_cols), (int)(rnd() % (unsigned)mb_rows));
            int flags = pts == 0 ? VPX_EFLAG_FORCE_KF : 0;
            size_t n = vpx_test_encode(&enc, &img, pts++, flags, frame, sizeof frame);
            if (resumed)
                assert_true(frame[0] & 1); /* error resilient */
            resumed = false;
            tdm_error e = {0};
            if (tdm_vp9_stream_observe(&stream, frame, n, &e) != TDM_OK)
                fail_msg("libvpx frame %d: %s", pts - 1, e.msg);
            copy_last(&enc, &ref);
            decode_and_compare(&dec, frame, n, &ref, W, H, "libvpx frame");
        }
        for (int f = 0; f < 5; f++) {
            memset(code, 0, (size_t)mb_cols * mb_rows);
            if (f == 0) { /* nothing chosen: every block repeats the last frame */
                tdm_vp9_sparse_result er;
                assert_int_equal(tdm_vp9_sparse_encode(w, &stream, &img, code, &rp, &er, NULL),
                                 TDM_OK);
                decode_and_compare(&dec, er.data, er.len, &ref, W, H, "all-skip frame");
                pts++;
            }
            if (f == 4) /* a settling pass: a third of the picture, unchanged */
                for (int i = 0; i < mb_cols * mb_rows; i++)
                    code[i] = rnd() % 3 == 0;
            for (int g = 0; g < 4 + f; g++) {
                int mx = (int)(rnd() % (unsigned)mb_cols), my = (int)(rnd() % (unsigned)mb_rows);
                paint(&img, mx, my);
                code[my * mb_cols + mx] = 1;
            }
            /* The cut corner, and a whole 32x32 area. */
            paint(&img, mb_cols - 1, mb_rows - 1);
            code[(mb_rows - 1) * mb_cols + mb_cols - 1] = 1;
            for (int i = 0; i < 4; i++) {
                paint(&img, 2 + (i & 1), 2 + (i >> 1));
                code[(2 + (i >> 1)) * mb_cols + 2 + (i & 1)] = 1;
            }
            tdm_vp9_sparse_result res;
            tdm_error e = {0};
            assert_int_equal(tdm_vp9_sparse_encode(w, &stream, &img, code, &rp, &res, &e),
                             TDM_OK);
            assert_true(res.coded_blocks > 0);
            decode_and_compare(&dec, res.data, res.len, &ref, W, H, "own frame");
            assert_int_equal(tdm_vp9_stream_observe(&stream, res.data, res.len, &e), TDM_OK);
            /* Lossless: every coded area shows the source. */
            for (int i = 0; i < mb_cols * mb_rows; i++) {
                if (!code[i])
                    continue;
                for (int y = (i / mb_cols) * 16; y < (i / mb_cols) * 16 + 16 && y < H; y++)
                    for (int x = (i % mb_cols) * 16; x < (i % mb_cols) * 16 + 16 && x < W; x++)
                        assert_int_equal(ref.y[(size_t)y * ref.aw + x],
                                         img.y[(size_t)y * img.stride_y + x]);
            }
            pts++;
        }
        vpx_image_t vi = wrap_pic(&ref);
        for (int t = 0; t < 3; t++) {
            vpx_ref_frame_t r = {
                .frame_type = t == 0 ? VP8_LAST_FRAME : t == 1 ? VP8_GOLD_FRAME : VP8_ALTR_FRAME,
                .img = vi};
            assert_int_equal(vpx_codec_control(&enc, VP8_SET_REFERENCE, &r), VPX_CODEC_OK);
        }
        resumed = true;
    }
    free(code);
    free(ref.y);
    tdm_vp9_sparse_free(w);
    tdm_i420_free(&img);
    vpx_codec_destroy(&enc);
    vpx_codec_destroy(&dec);
}

static void size_336x200(void **state)
{
    (void)state;
    run(336, 200);
}

static void size_331x241(void **state)
{
    (void)state;
    run(331, 241);
}

static void size_640x360(void **state)
{
    (void)state;
    run(640, 360); /* the last superblock row has 5 of 8 block rows */
}

static void size_1000x562(void **state)
{
    (void)state;
    run(1000, 562); /* 5 of 8 block columns in the last superblock column */
}

static void size_1920x1080(void **state)
{
    (void)state;
    run(1920, 1080);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(size_336x200),
        cmocka_unit_test(size_331x241),
        cmocka_unit_test(size_640x360),
        cmocka_unit_test(size_1000x562),
        cmocka_unit_test(size_1920x1080),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
