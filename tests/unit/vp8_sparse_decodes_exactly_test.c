/* Tandem's own sparse VP8 frames (tdm_vp8_sparse) decode in libvpx to
 * exactly the picture the writer says the decoder holds, at every
 * quantiser, at a size that is not a multiple of 16, interleaved with
 * libvpx's own frames (whose header updates tdm_vp8_stream follows), and
 * libvpx resumes correctly from the writer's picture. */
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

#include "tdm_psnr.h"
#include "tdm_vp8_bool.h"
#include "tdm_vp8_sparse.h"
#include "vpx_test_frames.h"

#define W 336
#define H 200
#define AW 336
#define AH 208
#define MB_COLS (AW / 16)
#define MB_ROWS (AH / 16)

static uint32_t rng = 12345;
static uint32_t rnd(void)
{
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

typedef struct pic {
    uint8_t y[AW * AH], u[(AW / 2) * (AH / 2)], v[(AW / 2) * (AH / 2)];
} pic;

static void paint_glyph(tdm_i420 *img, int mx, int my)
{
    /* Text-like: dark strokes on a light background, sharp edges. */
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++) {
            int px = mx * 16 + x, py = my * 16 + y;
            if (px >= img->width || py >= img->height)
                continue;
            img->y[(size_t)py * img->stride_y + px] = (rnd() % 5 == 0) ? 20 : 235;
        }
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) {
            int px = mx * 8 + x, py = my * 8 + y;
            if (px >= (img->width + 1) / 2 || py >= (img->height + 1) / 2)
                continue;
            img->u[(size_t)py * img->stride_u + px] = (uint8_t)(100 + rnd() % 60);
            img->v[(size_t)py * img->stride_v + px] = (uint8_t)(128 + (int)(rnd() % 9) - 4);
        }
}


static vpx_image_t wrap_pic(pic *p)
{
    return vpx_test_wrap_planes(p->y, p->u, p->v, AW, AW / 2, AW / 2, AW, AH);
}


/* Decodes and compares the visible picture with want (aligned layout). */
static void decode_and_compare(vpx_codec_ctx_t *dec, const uint8_t *frame, size_t len,
                               const pic *want)
{
    assert_int_equal(vpx_codec_decode(dec, frame, (unsigned)len, NULL, 0), VPX_CODEC_OK);
    vpx_codec_iter_t it = NULL;
    vpx_image_t *out = vpx_codec_get_frame(dec, &it);
    assert_non_null(out);
    assert_int_equal(out->d_w, W);
    assert_int_equal(out->d_h, H);
    for (int y = 0; y < H; y++)
        assert_memory_equal(out->planes[0] + (size_t)y * out->stride[0], want->y + y * AW, W);
    for (int p = 1; p < 3; p++) {
        const uint8_t *w = p == 1 ? want->u : want->v;
        for (int y = 0; y < (H + 1) / 2; y++)
            assert_memory_equal(out->planes[p] + (size_t)y * out->stride[p], w + y * (AW / 2),
                                (W + 1) / 2);
    }
}

static void copy_last(vpx_codec_ctx_t *enc, pic *p)
{
    vpx_ref_frame_t ref = {.frame_type = VP8_LAST_FRAME, .img = wrap_pic(p)};
    assert_int_equal(vpx_codec_control(enc, VP8_COPY_REFERENCE, &ref), VPX_CODEC_OK);
}

static void run(int profile, int error_resilient)
{
    vpx_codec_enc_cfg_t cfg;
    assert_int_equal(vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0), VPX_CODEC_OK);
    cfg.g_w = W;
    cfg.g_h = H;
    cfg.g_timebase.num = 1;
    cfg.g_timebase.den = 30;
    cfg.g_lag_in_frames = 0;
    cfg.rc_end_usage = VPX_CBR;
    cfg.rc_target_bitrate = 800;
    cfg.g_profile = (unsigned)profile;
    cfg.g_error_resilient = error_resilient ? VPX_ERROR_RESILIENT_DEFAULT : 0;
    vpx_codec_ctx_t enc, dec;
    assert_int_equal(vpx_codec_enc_init(&enc, vpx_codec_vp8_cx(), &cfg, 0), VPX_CODEC_OK);
    assert_int_equal(vpx_codec_control(&enc, VP8E_SET_CPUUSED, -6), VPX_CODEC_OK);
    assert_int_equal(vpx_codec_dec_init(&dec, vpx_codec_vp8_dx(), NULL, 0), VPX_CODEC_OK);

    tdm_i420 img;
    assert_int_equal(tdm_i420_alloc(&img, W, H), TDM_OK);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            img.y[(size_t)y * img.stride_y + x] = (uint8_t)((x * 3 + y * 5) & 255);
    for (int y = 0; y < (H + 1) / 2; y++)
        for (int x = 0; x < (W + 1) / 2; x++) {
            img.u[(size_t)y * img.stride_u + x] = (uint8_t)(90 + x % 50);
            img.v[(size_t)y * img.stride_v + x] = (uint8_t)(160 - y % 40);
        }

    static uint8_t frame[1 << 20];
    tdm_vp8_stream stream;
    tdm_vp8_stream_init(&stream);
    tdm_vp8_sparse *w;
    assert_int_equal(tdm_vp8_sparse_new(W, H, &w, NULL), TDM_OK);
    pic *ref = calloc(1, sizeof *ref);
    assert_non_null(ref);
    tdm_vp8_picture rp = {ref->y, ref->u, ref->v, AW, AW / 2};
    uint8_t code[MB_COLS * MB_ROWS];
    int pts = 0;
    static const int qs[] = {0, 3, 17, 60, 127, 8};

    for (int round = 0; round < 3; round++) {
        /* libvpx's frame: a keyframe first, then inter frames. */
        for (int k = 0; k < 3; k++) {
            paint_glyph(&img, (int)(rnd() % MB_COLS), (int)(rnd() % MB_ROWS));
            int flags = pts == 0 ? VPX_EFLAG_FORCE_KF : 0;
            size_t n = vpx_test_encode(&enc, &img, pts++, flags, frame, sizeof frame);
            tdm_error e = {0};
            assert_int_equal(tdm_vp8_stream_observe(&stream, frame, n, &e), TDM_OK);
            assert_true(stream.valid);
            assert_int_equal(stream.version, profile);
            /* libvpx rewrites the segment map and data it relies on. */
            assert_false(stream.segments_partial);
            copy_last(&enc, ref);
            decode_and_compare(&dec, frame, n, ref);
        }
        /* Tandem's frames. */
        for (int f = 0; f < 6; f++) {
            memset(code, 0, sizeof code);
            for (int g = 0; g < 5; g++) {
                int mx = (int)(rnd() % MB_COLS), my = (int)(rnd() % MB_ROWS);
                paint_glyph(&img, mx, my);
                code[my * MB_COLS + mx] = 1;
            }
            code[(MB_ROWS - 1) * MB_COLS + MB_COLS - 1] = 1; /* the cut corner */
            paint_glyph(&img, MB_COLS - 1, MB_ROWS - 1);
            tdm_vp8_sparse_result res;
            tdm_error e = {0};
            int q = qs[(f + round) % 6];
            assert_int_equal(tdm_vp8_sparse_encode(w, &stream, &img, code, q, &rp, &res, &e),
                             TDM_OK);
            assert_true(res.coded_mbs > 0);
            decode_and_compare(&dec, res.data, res.len, ref);
            pts++;
            if (q == 0) {
                /* Finest quantiser: the coded macroblocks are close to the source. */
                uint64_t sse = 0, samples = 0;
                for (int i = 0; i < MB_COLS * MB_ROWS; i++) {
                    if (!code[i])
                        continue;
                    for (int y = (i / MB_COLS) * 16; y < (i / MB_COLS) * 16 + 16 && y < H; y++)
                        for (int x = (i % MB_COLS) * 16; x < (i % MB_COLS) * 16 + 16; x++) {
                            int d = img.y[(size_t)y * img.stride_y + x] - ref->y[y * AW + x];
                            sse += (uint64_t)(d * d);
                            samples++;
                        }
                }
                double psnr = tdm_psnr_from_sse(sse, samples);
                print_message("q 0: coded macroblocks at %.1f dB\n", psnr);
                assert_true(psnr > 45.0);
            }
        }
        /* libvpx takes over from the writer's picture, for all three references. */
        vpx_image_t vi = wrap_pic(ref);
        for (int t = 0; t < 3; t++) {
            vpx_ref_frame_t r = {
                .frame_type = t == 0 ? VP8_LAST_FRAME : t == 1 ? VP8_GOLD_FRAME : VP8_ALTR_FRAME,
                .img = vi};
            assert_int_equal(vpx_codec_control(&enc, VP8_SET_REFERENCE, &r), VPX_CODEC_OK);
        }
    }
    /* Robustness of the header follower: cut frames are refused. */
    size_t n = vpx_test_encode(&enc, &img, pts++, 0, frame, sizeof frame);
    for (size_t cut = 0; cut < 12 && cut < n; cut++) {
        tdm_vp8_stream s2 = stream;
        tdm_error e = {0};
        assert_int_equal(tdm_vp8_stream_observe(&s2, frame, cut, &e), TDM_ERR_INVALID);
        assert_false(s2.valid);
    }
    tdm_vp8_stream fresh;
    tdm_vp8_stream_init(&fresh);
    assert_int_equal(tdm_vp8_stream_observe(&fresh, frame, n, NULL), TDM_ERR_INVALID);
    tdm_vp8_sparse_result res;
    assert_int_equal(tdm_vp8_sparse_encode(w, &fresh, &img, code, 0, &rp, &res, NULL),
                     TDM_ERR_INVALID);

    free(ref);
    tdm_vp8_sparse_free(w);
    tdm_i420_free(&img);
    vpx_codec_destroy(&enc);
    vpx_codec_destroy(&dec);
}

static void version0_entropy_carried(void **state)
{
    (void)state;
    run(0, 0);
}

static void version2_error_resilient(void **state)
{
    (void)state;
    run(2, 1);
}

static void bool_coder_round_trip(void **state)
{
    (void)state;
    tdm_vp8_bool_writer w = {0};
    tdm_vp8_bool_writer_reset(&w);
    enum { N = 20000 };
    static uint8_t bits[N], probs[N];
    for (int i = 0; i < N; i++) {
        probs[i] = (uint8_t)(1 + rnd() % 255);
        bits[i] = (uint8_t)((rnd() % 256) >= probs[i]);
        tdm_vp8_bool_write(&w, bits[i], probs[i]);
    }
    tdm_vp8_bool_writer_flush(&w);
    assert_false(w.nomem);
    tdm_vp8_bool_reader r;
    tdm_vp8_bool_reader_init(&r, w.buf, w.pos);
    for (int i = 0; i < N; i++)
        assert_int_equal(tdm_vp8_bool_read(&r, probs[i]), bits[i]);
    assert_int_equal(r.overrun, 0);
    tdm_vp8_bool_writer_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bool_coder_round_trip),
        cmocka_unit_test(version0_entropy_carried),
        cmocka_unit_test(version2_error_resilient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
