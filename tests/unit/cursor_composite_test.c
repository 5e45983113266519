/* cursor_composite_test: drawing the XFixes cursor image into a BGRX frame
 * (capture/tdm_cursor.h): premultiplied alpha over the background, clipping
 * at the frame's edges, and restoring exactly what was covered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tdm_cursor.h"

enum { W = 40, H = 30, STRIDE = W * 4 + 16 };

static uint8_t frame[STRIDE * H], original[STRIDE * H];
static uint8_t save[TDM_CURSOR_SAVE_BYTES];

static void fill_background(void)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = frame + y * STRIDE + x * 4;
            p[0] = (uint8_t)(x * 6), p[1] = (uint8_t)(y * 8), p[2] = 200, p[3] = 0;
        }
    memcpy(original, frame, sizeof frame);
}

static void opaque_transparent_and_half(void **state)
{
    (void)state;
    fill_background();
    /* 2x2: opaque red, fully clear, half-alpha white (premultiplied 0x80808080), opaque black. */
    uint32_t img[4] = {0xffff0000u, 0x00000000u, 0x80808080u, 0xff000000u};
    tdm_cursor_image c = {.argb = img, .width = 2, .height = 2, .x = 10, .y = 5};
    tdm_rect r = tdm_cursor_draw(frame, STRIDE, W, H, &c, save);
    assert_int_equal(r.x, 10);
    assert_int_equal(r.y, 5);
    assert_int_equal(r.w, 2);
    assert_int_equal(r.h, 2);
    const uint8_t *p = frame + 5 * STRIDE + 10 * 4;
    assert_int_equal(p[0], 0); /* red: B */
    assert_int_equal(p[1], 0);
    assert_int_equal(p[2], 255);
    assert_memory_equal(p + 4, original + 5 * STRIDE + 11 * 4, 4); /* clear: untouched */
    const uint8_t *h = frame + 6 * STRIDE + 10 * 4, *o = original + 6 * STRIDE + 10 * 4;
    for (int k = 0; k < 3; k++) {
        /* 0x80 + d * (255 - 0x80) / 255, rounded */
        int want = 0x80 + (o[k] * 127 + 127) / 255;
        assert_true(abs(h[k] - want) <= 1);
    }
    assert_int_equal(frame[6 * STRIDE + 11 * 4 + 2], 0); /* black */
    /* Nothing outside the rectangle changed. */
    assert_memory_equal(frame, original, 5 * STRIDE);
    assert_memory_equal(frame + 7 * STRIDE, original + 7 * STRIDE, (H - 7) * STRIDE);
    tdm_cursor_restore(frame, STRIDE, r, save);
    assert_memory_equal(frame, original, sizeof frame);
}

static void clipped_at_every_edge(void **state)
{
    (void)state;
    fill_background();
    uint32_t img[8 * 8];
    for (int i = 0; i < 64; i++)
        img[i] = 0xff00ff00u;
    struct { int x, y; tdm_rect want; } cases[] = {
        {-3, -2, {0, 0, 5, 6}},
        {W - 4, H - 5, {W - 4, H - 5, 4, 5}},
        {W, 0, {0, 0, 0, 0}},
        {0, -8, {0, 0, 0, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tdm_cursor_image c = {.argb = img, .width = 8, .height = 8, .x = cases[i].x, .y = cases[i].y};
        tdm_rect r = tdm_cursor_draw(frame, STRIDE, W, H, &c, save);
        assert_int_equal(r.w, cases[i].want.w);
        if (r.w) {
            assert_int_equal(r.x, cases[i].want.x);
            assert_int_equal(r.y, cases[i].want.y);
            assert_int_equal(r.h, cases[i].want.h);
            /* The cursor's own pixel that lands at the rectangle's corner. */
            assert_int_equal(frame[r.y * STRIDE + r.x * 4 + 1], 255);
        }
        tdm_cursor_restore(frame, STRIDE, r, save);
        assert_memory_equal(frame, original, sizeof frame);
    }
}

static void oversized_cursor_is_cut(void **state)
{
    (void)state;
    enum { BW = 300, BH = 300, BS = BW * 4 };
    uint8_t *big = calloc(BS, BH);
    uint32_t *img = malloc(sizeof *img * 400 * 400);
    assert_non_null(big);
    assert_non_null(img);
    for (int i = 0; i < 400 * 400; i++)
        img[i] = 0xffffffffu;
    tdm_cursor_image c = {.argb = img, .width = 400, .height = 400, .x = 0, .y = 0};
    tdm_rect r = tdm_cursor_draw(big, BS, BW, BH, &c, save);
    assert_int_equal(r.w, TDM_CURSOR_MAX);
    assert_int_equal(r.h, TDM_CURSOR_MAX);
    assert_int_equal(big[(TDM_CURSOR_MAX - 1) * BS + (TDM_CURSOR_MAX - 1) * 4], 255);
    assert_int_equal(big[TDM_CURSOR_MAX * BS], 0);
    tdm_cursor_restore(big, BS, r, save);
    for (int i = 0; i < BS * BH; i++)
        if (big[i])
            fail_msg("byte %d not restored", i);
    free(big);
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opaque_transparent_and_half),
        cmocka_unit_test(clipped_at_every_edge),
        cmocka_unit_test(oversized_cursor_is_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
