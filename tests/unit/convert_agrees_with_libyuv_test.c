/* Tandem's BT.601 conversion agrees with libyuv's ARGBToI420 within +-1 on
 * every sample, on random and on desktop-like frames, odd sizes included.
 * (libyuv as packaged has no limited-range BT.709 ARGB converter; BT.709 is
 * pinned by known answers in convert_matches_reference_test.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libyuv.h>

#include "tdm_convert.h"

static uint32_t rng_state = 777;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static int max_plane_diff(const uint8_t *a, int sa, const uint8_t *b, int sb, int w, int h,
                          long *exact, long *total)
{
    int worst = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int d = abs(a[(size_t)y * sa + x] - b[(size_t)y * sb + x]);
            if (d > worst)
                worst = d;
            *exact += d == 0;
            (*total)++;
        }
    return worst;
}

static void compare(const uint8_t *px, int w, int h, int stride, long *exact, long *total)
{
    tdm_i420 ours, theirs;
    assert_int_equal(tdm_i420_alloc(&ours, w, h), TDM_OK);
    assert_int_equal(tdm_i420_alloc(&theirs, w, h), TDM_OK);
    tdm_bgra src = {.data = px, .width = w, .height = h, .stride = stride};
    assert_int_equal(tdm_convert_bgra_to_i420(&src, &ours, TDM_MATRIX_BT601), TDM_OK);
    /* libyuv's "ARGB" is the same little-endian B,G,R,A byte order. */
    assert_int_equal(ARGBToI420(px, stride, theirs.y, theirs.stride_y, theirs.u, theirs.stride_u,
                                theirs.v, theirs.stride_v, w, h),
                     0);
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    int dy = max_plane_diff(ours.y, ours.stride_y, theirs.y, theirs.stride_y, w, h, exact, total);
    int du = max_plane_diff(ours.u, ours.stride_u, theirs.u, theirs.stride_u, cw, ch, exact, total);
    int dv = max_plane_diff(ours.v, ours.stride_v, theirs.v, theirs.stride_v, cw, ch, exact, total);
    if (dy > 1 || du > 1 || dv > 1)
        fail_msg("%dx%d: max difference Y %d U %d V %d", w, h, dy, du, dv);
    tdm_i420_free(&ours);
    tdm_i420_free(&theirs);
}

static void random_frames_agree_within_one(void **state)
{
    (void)state;
    static const int sizes[][2] = {{1, 1},   {3, 3},    {17, 5},    {32, 32},    {33, 33},
                                   {64, 7},  {101, 51}, {640, 480}, {1279, 719}, {1920, 1080}};
    long exact = 0, total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int w = sizes[i][0], h = sizes[i][1], stride = 4 * w + 12;
        uint8_t *px = malloc((size_t)stride * h);
        assert_non_null(px);
        for (size_t j = 0; j < (size_t)stride * h; j++)
            px[j] = (uint8_t)rnd();
        compare(px, w, h, stride, &exact, &total);
        free(px);
    }
    print_message("random: %.4f%% of samples identical to libyuv, the rest +-1\n",
                  100.0 * (double)exact / (double)total);
    assert_true(total > 0);
}

static void desktop_like_frames_agree_within_one(void **state)
{
    (void)state;
    /* Flat areas, hard black-on-white edges and saturated colour blocks. */
    int w = 853, h = 481, stride = 4 * w;
    uint8_t *px = malloc((size_t)stride * h);
    assert_non_null(px);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + (size_t)y * stride + 4 * x;
            int cell = (x / 7 + y / 11) % 5;
            uint32_t c = cell == 0 ? 0x000000 : cell == 1 ? 0xffffff : cell == 2 ? 0x2060c0
                         : cell == 3 ? 0xff0000 : 0x30d050;
            p[0] = c & 255, p[1] = (c >> 8) & 255, p[2] = (c >> 16) & 255, p[3] = 255;
        }
    long exact = 0, total = 0;
    compare(px, w, h, stride, &exact, &total);
    print_message("desktop: %.4f%% of samples identical to libyuv\n",
                  100.0 * (double)exact / (double)total);
    free(px);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_frames_agree_within_one),
        cmocka_unit_test(desktop_like_frames_agree_within_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
