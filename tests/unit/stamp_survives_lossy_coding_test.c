/* stamp_survives_lossy_coding_test: the frame stamp round-trips through its
 * writer and readers, a damaged stamp is refused rather than misread, and,
 * the claim the stamp exists for, every stamp of a synthetic stream is read
 * back with the right frame number, in order, after real VP8 and VP9
 * realtime coding at a modest bitrate.
 *
 * Lowest bitrate that still worked: no failure was found. Swept at
 * 640x480, 30 fps, 90 frames, CBR, the encoder settings below, targets
 * 400 -> 5 kbit/s, for typing, scroll, drag, video and full:
 * - frame dropping off: the coders cannot go below the rate of their
 *   coarsest quantiser, and every stamp read right at that floor. Actual
 *   floors with max q 63, VP8 / VP9 (kbit/s): typing 113 / 62, scroll
 *   194 / 118, drag 218 / 144, video 241 / 80, full 700 / 476 (with max q
 *   56: typing 131 / 86, full 928 / 935).
 * - frame dropping on (threshold 30): down to a 5 kbit/s target (8-52
 *   kbit/s actual, 1-3 frames delivered) every delivered stamp read right.
 * So the stamp outlives any bitrate at which the picture is still usable.
 * The test runs at 400 kbit/s (max q 56), at the floor (max q 63) and at
 * 20 kbit/s with drops. */
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

#include "tdm_stamp.h"
#include "tdm_synthetic.h"

/* ---- a local scalar BGRA -> I420 (BT.601, limited range) ---- */

static uint8_t luma(const uint8_t *p)
{
    return (uint8_t)((66 * p[2] + 129 * p[1] + 25 * p[0] + 4224) >> 8);
}

static void bgra_to_i420(const uint8_t *bgra, int stride, int w, int h, uint8_t *y, int sy,
                         uint8_t *u, int su, uint8_t *v, int sv)
{
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++)
            y[(size_t)r * sy + c] = luma(bgra + (size_t)r * stride + 4 * c);
    for (int r = 0; r < (h + 1) / 2; r++) {
        for (int c = 0; c < (w + 1) / 2; c++) {
            int sum[3] = {0, 0, 0};
            for (int dy = 0; dy < 2; dy++) {
                for (int dx = 0; dx < 2; dx++) {
                    int yy = 2 * r + dy < h ? 2 * r + dy : h - 1;
                    int xx = 2 * c + dx < w ? 2 * c + dx : w - 1;
                    const uint8_t *p = bgra + (size_t)yy * stride + 4 * xx;
                    for (int k = 0; k < 3; k++)
                        sum[k] += p[k];
                }
            }
            int B = (sum[0] + 2) >> 2, G = (sum[1] + 2) >> 2, R = (sum[2] + 2) >> 2;
            u[(size_t)r * su + c] = (uint8_t)((-38 * R - 74 * G + 112 * B + 32896) >> 8);
            v[(size_t)r * sv + c] = (uint8_t)((112 * R - 94 * G - 18 * B + 32896) >> 8);
        }
    }
}

/* ---- plain round trips ---- */

#define CW 300
#define CH 200
#define CSTRIDE (CW * 4 + 64)

static uint8_t canvas[CSTRIDE * CH];
static uint8_t lumabuf[CW * CH];

static void fill_noise(uint32_t seed)
{
    for (size_t i = 0; i < sizeof canvas; i++) {
        seed = seed * 1664525u + 1013904223u;
        canvas[i] = (uint8_t)(seed >> 24);
    }
}

static void to_luma(void)
{
    for (int r = 0; r < CH; r++)
        for (int c = 0; c < CW; c++)
            lumabuf[r * CW + c] = luma(canvas + (size_t)r * CSTRIDE + 4 * c);
}

static void test_round_trip(void **state)
{
    (void)state;
    const tdm_stamp values[] = {
        {0, 0},
        {1, 1},
        {0xFFFFFFFFu, (UINT64_C(1) << 56) - 1},
        {123456789u, UINT64_C(0x00ABCDEF01234567)},
        {0x80000001u, UINT64_C(1700000000000000)},
    };
    const int at[][2] = {{0, 0}, {8, 16}, {3, 5}, {CW - TDM_STAMP_WIDTH, CH - TDM_STAMP_HEIGHT}};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        for (size_t j = 0; j < sizeof at / sizeof at[0]; j++) {
            fill_noise((uint32_t)(i * 31 + j));
            int x = at[j][0], y = at[j][1];
            assert_int_equal(tdm_stamp_write_bgra(canvas, CSTRIDE, CW, CH, x, y, values[i]),
                             TDM_OK);
            tdm_stamp got = {7, 7};
            assert_int_equal(tdm_stamp_read_bgra(canvas, CSTRIDE, CW, CH, x, y, &got), TDM_OK);
            assert_int_equal(got.frame_number, values[i].frame_number);
            assert_int_equal(got.capture_us, values[i].capture_us);
            to_luma(); /* limited range: black is 16, white 235 */
            memset(&got, 0, sizeof got);
            assert_int_equal(tdm_stamp_read_luma(lumabuf, CW, CW, CH, x, y, &got), TDM_OK);
            assert_int_equal(got.frame_number, values[i].frame_number);
            assert_int_equal(got.capture_us, values[i].capture_us);
        }
    }
}

static void test_time_keeps_low_56_bits(void **state)
{
    (void)state;
    tdm_stamp s = {42, UINT64_C(0xFF00000000000123)}, got;
    assert_int_equal(tdm_stamp_write_bgra(canvas, CSTRIDE, CW, CH, 0, 0, s), TDM_OK);
    assert_int_equal(tdm_stamp_read_bgra(canvas, CSTRIDE, CW, CH, 0, 0, &got), TDM_OK);
    assert_int_equal(got.capture_us, 0x123);
}

/* Writes black and white exactly, with an opaque X byte, and touches
 * nothing outside its block. */
static void test_writes_only_its_block(void **state)
{
    (void)state;
    memset(canvas, 0x77, sizeof canvas);
    tdm_stamp s = {5, 6};
    assert_int_equal(tdm_stamp_write_bgra(canvas, CSTRIDE, CW, CH, 10, 20, s), TDM_OK);
    for (int r = 0; r < CH; r++) {
        for (int c = 0; c < CSTRIDE / 4; c++) {
            const uint8_t *p = canvas + (size_t)r * CSTRIDE + 4 * c;
            bool inside =
                c >= 10 && c < 10 + TDM_STAMP_WIDTH && r >= 20 && r < 20 + TDM_STAMP_HEIGHT;
            if (!inside) {
                assert_true(p[0] == 0x77 && p[1] == 0x77 && p[2] == 0x77 && p[3] == 0x77);
            } else {
                assert_true((p[0] == 0 || p[0] == 255) && p[0] == p[1] && p[1] == p[2]);
                assert_int_equal(p[3], 255);
            }
        }
    }
}

static void test_range(void **state)
{
    (void)state;
    tdm_stamp s = {1, 2}, got;
    assert_int_equal(tdm_stamp_write_bgra(canvas, CSTRIDE, CW, CH, -1, 0, s), TDM_ERR_RANGE);
    assert_int_equal(tdm_stamp_write_bgra(canvas, CSTRIDE, CW, CH, 0, -1, s), TDM_ERR_RANGE);
    assert_int_equal(tdm_stamp_write_bgra(canvas, CSTRIDE, CW, CH, CW - 127, 0, s), TDM_ERR_RANGE);
    assert_int_equal(tdm_stamp_write_bgra(canvas, CSTRIDE, CW, CH, 0, CH - 55, s), TDM_ERR_RANGE);
    assert_int_equal(tdm_stamp_write_bgra(canvas, CSTRIDE, 127, CH, 0, 0, s), TDM_ERR_RANGE);
    assert_int_equal(tdm_stamp_read_bgra(canvas, CSTRIDE, CW, 55, 0, 0, &got), TDM_ERR_RANGE);
    assert_int_equal(tdm_stamp_read_luma(lumabuf, CW, CW, CH, CW - 100, 0, &got), TDM_ERR_RANGE);
    assert_int_equal(tdm_stamp_read_luma(lumabuf, CW, CW, CH, 0, INT32_MAX, &got), TDM_ERR_RANGE);
    assert_int_equal(tdm_stamp_write_bgra(NULL, CSTRIDE, CW, CH, 0, 0, s), TDM_ERR_INVALID);
    assert_int_equal(tdm_stamp_read_luma(NULL, CW, CW, CH, 0, 0, &got), TDM_ERR_INVALID);
}

static void invert_cell(int cell, int x, int y)
{
    int cx = x + (cell % TDM_STAMP_COLS) * TDM_STAMP_CELL;
    int cy = y + (cell / TDM_STAMP_COLS) * TDM_STAMP_CELL;
    for (int r = 0; r < TDM_STAMP_CELL; r++)
        for (int c = 0; c < TDM_STAMP_CELL; c++)
            for (int k = 0; k < 3; k++)
                canvas[(size_t)(cy + r) * CSTRIDE + 4 * (size_t)(cx + c) + k] ^= 0xFF;
}

/* Any single flipped cell - magic, payload or CRC - is caught, and so is
 * every pair among the payload's first cells. */
static void test_corrupt_stamp_rejected(void **state)
{
    (void)state;
    tdm_stamp s = {0x12345678u, UINT64_C(0x00FEDCBA98765432)}, got;
    int ncells = TDM_STAMP_COLS * TDM_STAMP_ROWS;
    for (int cell = 0; cell < ncells; cell++) {
        fill_noise(99);
        assert_int_equal(tdm_stamp_write_bgra(canvas, CSTRIDE, CW, CH, 4, 4, s), TDM_OK);
        invert_cell(cell, 4, 4);
        assert_int_equal(tdm_stamp_read_bgra(canvas, CSTRIDE, CW, CH, 4, 4, &got), TDM_ERR_FORMAT);
        to_luma();
        assert_int_equal(tdm_stamp_read_luma(lumabuf, CW, CW, CH, 4, 4, &got), TDM_ERR_FORMAT);
    }
    for (int a = 0; a < 40; a++) {
        for (int b = a + 1; b < 40; b++) {
            assert_int_equal(tdm_stamp_write_bgra(canvas, CSTRIDE, CW, CH, 0, 0, s), TDM_OK);
            invert_cell(a, 0, 0);
            invert_cell(b, 0, 0);
            assert_int_equal(tdm_stamp_read_bgra(canvas, CSTRIDE, CW, CH, 0, 0, &got),
                             TDM_ERR_FORMAT);
        }
    }
}

static void test_no_stamp_rejected(void **state)
{
    (void)state;
    tdm_stamp got;
    memset(canvas, 128, sizeof canvas);
    assert_int_equal(tdm_stamp_read_bgra(canvas, CSTRIDE, CW, CH, 0, 0, &got), TDM_ERR_FORMAT);
    for (uint32_t seed = 1; seed < 50; seed++) {
        fill_noise(seed);
        assert_int_equal(tdm_stamp_read_bgra(canvas, CSTRIDE, CW, CH, 0, 0, &got), TDM_ERR_FORMAT);
    }
}

/* Noise up to +-50 on every pixel and a brightness shift leave it
 * readable: the reader averages the cell centre and adapts its threshold. */
static void test_tolerates_noise(void **state)
{
    (void)state;
    tdm_stamp s = {777, 888888}, got;
    fill_noise(5);
    assert_int_equal(tdm_stamp_write_bgra(canvas, CSTRIDE, CW, CH, 16, 8, s), TDM_OK);
    to_luma();
    uint32_t seed = 3;
    for (size_t i = 0; i < sizeof lumabuf; i++) {
        seed = seed * 1664525u + 1013904223u;
        int v = lumabuf[i] / 2 + 40 + (int)(seed >> 24) % 101 - 50;
        lumabuf[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    assert_int_equal(tdm_stamp_read_luma(lumabuf, CW, CW, CH, 16, 8, &got), TDM_OK);
    assert_int_equal(got.frame_number, 777);
    assert_int_equal(got.capture_us, 888888);
}

/* ---- the real claim: through VP8 and VP9 ---- */

#define LW 640
#define LH 480
#define LFRAMES 90

static uint64_t capture_time(uint32_t frame)
{
    return 1000000u + 33333u * (uint64_t)frame;
}

typedef struct codec_run {
    bool vp9;
    tdm_synthetic_scenario sc;
    unsigned kbps;
    unsigned max_q;   /* 56 as WebRTC senders cap it; 63 lets the coder starve */
    bool allow_drops; /* let rate control skip frames when over budget */
} codec_run;

typedef struct codec_result {
    int decoded;  /* frames that came out of the decoder */
    int good;     /* of those, with a valid stamp that fits the sequence */
    size_t bytes; /* coded size of the whole stream */
    int first_bad;
    tdm_status first_bad_status;
    uint32_t first_bad_number;
} codec_result;

/* Encodes LFRAMES frames of a synthetic scenario the way a realtime
 * screen-sharing sender would, decodes them, and reads every decoded
 * frame's stamp. Without drops, decoded frame k must carry number k; with
 * drops, numbers must rise strictly. Either way the time must be the one
 * given to that frame. */
static codec_result code_stream(codec_run run)
{
    codec_result res = {0, 0, 0, -1, TDM_OK, 0};
    tdm_synthetic_config scfg = {.width = LW, .height = LH, .scenario = run.sc, .seed = 3, .fps = 30.0};
    tdm_source *src = NULL;
    tdm_error err = {{0}};
    if (tdm_synthetic_open(&scfg, &src, &err) != TDM_OK)
        fail_msg("synthetic: %s", err.msg);

    vpx_codec_iface_t *cx = run.vp9 ? vpx_codec_vp9_cx() : vpx_codec_vp8_cx();
    vpx_codec_iface_t *dx = run.vp9 ? vpx_codec_vp9_dx() : vpx_codec_vp8_dx();
    vpx_codec_enc_cfg_t cfg;
    assert_int_equal(vpx_codec_enc_config_default(cx, &cfg, 0), VPX_CODEC_OK);
    cfg.g_w = LW;
    cfg.g_h = LH;
    cfg.g_timebase.num = 1;
    cfg.g_timebase.den = 30;
    cfg.g_threads = 1;
    cfg.g_lag_in_frames = 0;
    cfg.rc_end_usage = VPX_CBR;
    cfg.rc_target_bitrate = run.kbps;
    cfg.rc_min_quantizer = 4;
    cfg.rc_max_quantizer = run.max_q;
    cfg.rc_undershoot_pct = 50;
    cfg.rc_overshoot_pct = 50;
    cfg.rc_buf_sz = 1000;
    cfg.rc_buf_initial_sz = 500;
    cfg.rc_buf_optimal_sz = 600;
    cfg.rc_dropframe_thresh = run.allow_drops ? 30 : 0;
    cfg.kf_mode = VPX_KF_AUTO;
    cfg.kf_max_dist = 3000;

    vpx_codec_ctx_t enc, dec;
    assert_int_equal(vpx_codec_enc_init(&enc, cx, &cfg, 0), VPX_CODEC_OK);
    if (run.vp9) {
        assert_int_equal(vpx_codec_control(&enc, VP8E_SET_CPUUSED, 8), VPX_CODEC_OK);
        assert_int_equal(vpx_codec_control(&enc, VP9E_SET_TUNE_CONTENT, VP9E_CONTENT_SCREEN),
                         VPX_CODEC_OK);
        assert_int_equal(vpx_codec_control(&enc, VP9E_SET_AQ_MODE, 3), VPX_CODEC_OK);
    } else {
        assert_int_equal(vpx_codec_control(&enc, VP8E_SET_CPUUSED, -6), VPX_CODEC_OK);
        assert_int_equal(vpx_codec_control(&enc, VP8E_SET_SCREEN_CONTENT_MODE, 1u), VPX_CODEC_OK);
        assert_int_equal(vpx_codec_control(&enc, VP8E_SET_STATIC_THRESHOLD, 1u), VPX_CODEC_OK);
    }
    assert_int_equal(vpx_codec_dec_init(&dec, dx, NULL, 0), VPX_CODEC_OK);

    vpx_image_t *img = vpx_img_alloc(NULL, VPX_IMG_FMT_I420, LW, LH, 16);
    assert_non_null(img);
    int64_t last = -1;
    for (int i = 0; i <= LFRAMES; i++) {
        bool flush = i == LFRAMES;
        if (!flush) {
            tdm_frame f;
            if (tdm_source_next(src, capture_time((uint32_t)i), &f, &err) != TDM_OK)
                fail_msg("synthetic next: %s", err.msg);
            bgra_to_i420(f.bgra.data, f.bgra.stride, LW, LH, img->planes[0], img->stride[0],
                         img->planes[1], img->stride[1], img->planes[2], img->stride[2]);
        }
        if (vpx_codec_encode(&enc, flush ? NULL : img, i, 1, 0, VPX_DL_REALTIME) != VPX_CODEC_OK)
            fail_msg("encode: %s", vpx_codec_error_detail(&enc));
        vpx_codec_iter_t it = NULL;
        const vpx_codec_cx_pkt_t *pkt;
        while ((pkt = vpx_codec_get_cx_data(&enc, &it)) != NULL) {
            if (pkt->kind != VPX_CODEC_CX_FRAME_PKT)
                continue;
            res.bytes += pkt->data.frame.sz;
            if (vpx_codec_decode(&dec, pkt->data.frame.buf, (unsigned)pkt->data.frame.sz, NULL,
                                 0) != VPX_CODEC_OK)
                fail_msg("decode: %s", vpx_codec_error(&dec));
            vpx_codec_iter_t dit = NULL;
            vpx_image_t *out;
            while ((out = vpx_codec_get_frame(&dec, &dit)) != NULL) {
                tdm_stamp st = {0, 0};
                tdm_status rc = tdm_stamp_read_luma(out->planes[0], out->stride[0], (int)out->d_w,
                                                    (int)out->d_h, 0, 0, &st);
                bool in_order = run.allow_drops ? (int64_t)st.frame_number > last
                                                : st.frame_number == (uint32_t)res.decoded;
                if (rc == TDM_OK && in_order && st.capture_us == capture_time(st.frame_number)) {
                    res.good++;
                    last = st.frame_number;
                } else if (res.first_bad < 0) {
                    res.first_bad = res.decoded;
                    res.first_bad_status = rc;
                    res.first_bad_number = st.frame_number;
                }
                res.decoded++;
            }
        }
    }
    vpx_img_free(img);
    vpx_codec_destroy(&enc);
    vpx_codec_destroy(&dec);
    tdm_source_close(src);
    return res;
}

static void expect_all_stamps(codec_run run)
{
    codec_result r = code_stream(run);
    bool ok = r.good == r.decoded && (run.allow_drops ? r.decoded > 0 : r.decoded == LFRAMES);
    if (!ok)
        fail_msg("%s %s %u kbit/s (max q %u%s; %.0f kbit/s coded): %d of %d frames decoded, %d "
                 "stamps right; first wrong: decoded frame %d (%s, number %u)",
                 run.vp9 ? "VP9" : "VP8", tdm_synthetic_scenario_name(run.sc), run.kbps, run.max_q,
                 run.allow_drops ? ", drops" : "", (double)r.bytes * 8 * 30 / LFRAMES / 1000,
                 r.decoded, LFRAMES, r.good, r.first_bad, tdm_status_str(r.first_bad_status),
                 r.first_bad_number);
}

/* For each codec and scenario: a modest realtime rate as a sender would
 * configure it; the coarsest quantiser at a target the coder cannot reach
 * (the bitrate floor); and a starved rate with frame dropping on, where
 * whatever arrives must still read right. */
static void expect_survives(bool vp9, tdm_synthetic_scenario sc)
{
    expect_all_stamps((codec_run){vp9, sc, 400, 56, false});
    expect_all_stamps((codec_run){vp9, sc, 20, 63, false});
    expect_all_stamps((codec_run){vp9, sc, 20, 63, true});
}

static void test_vp8_typing(void **state)
{
    (void)state;
    expect_survives(false, TDM_SCENARIO_TYPING);
}

static void test_vp8_full(void **state)
{
    (void)state;
    expect_survives(false, TDM_SCENARIO_FULL);
}

static void test_vp8_video(void **state)
{
    (void)state;
    expect_survives(false, TDM_SCENARIO_VIDEO);
}

static void test_vp9_typing(void **state)
{
    (void)state;
    expect_survives(true, TDM_SCENARIO_TYPING);
}

static void test_vp9_full(void **state)
{
    (void)state;
    expect_survives(true, TDM_SCENARIO_FULL);
}

static void test_vp9_video(void **state)
{
    (void)state;
    expect_survives(true, TDM_SCENARIO_VIDEO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_time_keeps_low_56_bits),
        cmocka_unit_test(test_writes_only_its_block),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_corrupt_stamp_rejected),
        cmocka_unit_test(test_no_stamp_rejected),
        cmocka_unit_test(test_tolerates_noise),
        cmocka_unit_test(test_vp8_typing),
        cmocka_unit_test(test_vp8_full),
        cmocka_unit_test(test_vp8_video),
        cmocka_unit_test(test_vp9_typing),
        cmocka_unit_test(test_vp9_full),
        cmocka_unit_test(test_vp9_video),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
