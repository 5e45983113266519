/* Incremental conversion gives, frame after frame, exactly the image a full
 * conversion of that frame gives, on every path, with and without damage
 * hints, and reports as changed exactly the tiles that changed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_incremental.h"

static uint32_t rng_state = 99;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void assert_images_equal(const tdm_i420 *a, const tdm_i420 *b, int frame)
{
    int cw = (a->width + 1) / 2, ch = (a->height + 1) / 2;
    for (int r = 0; r < a->height; r++)
        if (memcmp(a->y + (size_t)r * a->stride_y, b->y + (size_t)r * b->stride_y, a->width))
            fail_msg("frame %d: Y row %d differs from a full conversion", frame, r);
    for (int r = 0; r < ch; r++)
        if (memcmp(a->u + (size_t)r * a->stride_u, b->u + (size_t)r * b->stride_u, cw) ||
            memcmp(a->v + (size_t)r * a->stride_v, b->v + (size_t)r * b->stride_v, cw))
            fail_msg("frame %d: chroma row %d differs from a full conversion", frame, r);
}

/* Paints a random rectangle; returns it so it can serve as damage. */
static tdm_rect paint(uint8_t *px, int w, int h, int stride)
{
    tdm_rect r = {(int)(rnd() % (unsigned)w), (int)(rnd() % (unsigned)h), 1 + (int)(rnd() % 90),
                  1 + (int)(rnd() % 40)};
    r = tdm_rect_clip(r, w, h);
    uint32_t colour = rnd();
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++)
            memcpy(px + (size_t)y * stride + 4 * x, &colour, 4);
    return r;
}

static void run_sequence(tdm_simd path, int w, int h, bool with_damage)
{
    int stride = 4 * w + 8;
    uint8_t *px = malloc((size_t)stride * h), *before = malloc((size_t)stride * h);
    assert_non_null(px);
    assert_non_null(before);
    for (size_t i = 0; i < (size_t)stride * h; i++)
        px[i] = (uint8_t)(rnd() & 0xF0); /* a few flat-ish levels */

    tdm_incremental *inc;
    assert_int_equal(tdm_incremental_new(w, h, TDM_MATRIX_BT709, &inc), TDM_OK);
    assert_int_equal(tdm_incremental_set_path(inc, path), TDM_OK);
    tdm_i420 full;
    assert_int_equal(tdm_i420_alloc(&full, w, h), TDM_OK);
    tdm_tilemap truth;
    assert_int_equal(tdm_tilemap_init(&truth, w, h), TDM_OK);

    for (int n = 0; n < 25; n++) {
        memcpy(before, px, (size_t)stride * h);
        tdm_rect damage[4];
        size_t ndamage = n == 0 ? 0 : rnd() % 4; /* some frames change nothing */
        for (size_t i = 0; i < ndamage; i++)
            damage[i] = paint(px, w, h, stride);
        tdm_frame f = {.format = TDM_PIXFMT_BGRA,
                       .bgra = {.data = px, .width = w, .height = h, .stride = stride},
                       .number = (uint64_t)n,
                       .damage_known = with_damage,
                       .damage = damage,
                       .damage_count = ndamage};
        const tdm_tilemap *changed = NULL;
        assert_int_equal(tdm_incremental_convert(inc, &f, &changed), TDM_OK);
        assert_non_null(changed);
        assert_int_equal(tdm_convert_bgra_to_i420_with(TDM_SIMD_SCALAR, &f.bgra, &full,
                                                       TDM_MATRIX_BT709),
                         TDM_OK);
        assert_images_equal(tdm_incremental_image(inc), &full, n);
        if (n == 0) {
            assert_int_equal(tdm_tilemap_count(changed), (size_t)truth.cols * truth.rows);
        } else {
            tdm_bgra prev = {.data = before, .width = w, .height = h, .stride = stride};
            assert_int_equal(tdm_dirty_detect_with(TDM_SIMD_SCALAR, &f.bgra, &prev, NULL, &truth),
                             TDM_OK);
            for (int r = 0; r < truth.rows; r++)
                for (int c = 0; c < truth.cols; c++)
                    assert_int_equal(tdm_tilemap_test(changed, c, r), tdm_tilemap_test(&truth, c, r));
        }
    }
    tdm_tilemap_free(&truth);
    tdm_i420_free(&full);
    tdm_incremental_free(inc);
    free(px);
    free(before);
}

static void every_frame_equals_a_full_conversion(void **state)
{
    (void)state;
    static const int sizes[][2] = {{33, 17}, {64, 64}, {333, 101}, {640, 360}, {1001, 99}};
    for (int p = 0; p < TDM_SIMD_COUNT; p++) {
        if (!tdm_cpu_supports((tdm_simd)p))
            continue;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            run_sequence((tdm_simd)p, sizes[i][0], sizes[i][1], false);
            run_sequence((tdm_simd)p, sizes[i][0], sizes[i][1], true);
        }
    }
}

static void unchanged_frame_with_empty_damage_reads_nothing(void **state)
{
    (void)state;
    int w = 256, h = 128;
    uint8_t *px = calloc((size_t)w * h, 4);
    assert_non_null(px);
    tdm_incremental *inc;
    assert_int_equal(tdm_incremental_new(w, h, TDM_MATRIX_BT601, &inc), TDM_OK);
    tdm_frame f = {.format = TDM_PIXFMT_BGRA, .bgra = {px, w, h, 4 * w}};
    const tdm_tilemap *changed;
    assert_int_equal(tdm_incremental_convert(inc, &f, &changed), TDM_OK);
    /* A change the source did not report is not looked for: damage is
     * trusted, which is what makes a damage-driven frame nearly free. */
    px[4 * (w * 5 + 7)] = 200;
    f.damage_known = true;
    f.damage_count = 0;
    assert_int_equal(tdm_incremental_convert(inc, &f, &changed), TDM_OK);
    assert_int_equal(tdm_tilemap_count(changed), 0);
    /* Without damage the same change is found. */
    f.damage_known = false;
    assert_int_equal(tdm_incremental_convert(inc, &f, &changed), TDM_OK);
    assert_int_equal(tdm_tilemap_count(changed), 1);
    assert_true(tdm_tilemap_test(changed, 0, 0));
    /* After a reset everything is converted again. */
    tdm_incremental_reset(inc);
    assert_int_equal(tdm_incremental_convert(inc, &f, &changed), TDM_OK);
    assert_int_equal(tdm_tilemap_count(changed), 8 * 4);
    tdm_incremental_free(inc);
    free(px);
}

static void wrong_frames_are_refused(void **state)
{
    (void)state;
    tdm_incremental *inc;
    assert_int_equal(tdm_incremental_new(0, 10, TDM_MATRIX_BT601, &inc), TDM_ERR_RANGE);
    assert_null(inc);
    assert_int_equal(tdm_incremental_new(64, 64, TDM_MATRIX_BT601, &inc), TDM_OK);
    uint8_t px[64 * 64 * 4] = {0};
    tdm_frame f = {.format = TDM_PIXFMT_BGRA, .bgra = {px, 32, 64, 256}};
    assert_int_equal(tdm_incremental_convert(inc, &f, NULL), TDM_ERR_INVALID);
    f.bgra.width = 64;
    f.format = TDM_PIXFMT_I420;
    assert_int_equal(tdm_incremental_convert(inc, &f, NULL), TDM_ERR_INVALID);
    f.format = TDM_PIXFMT_BGRA;
    assert_int_equal(tdm_incremental_convert(inc, &f, NULL), TDM_OK);
    f.damage_known = true;
    f.damage_count = 3; /* damage claimed but not given */
    assert_int_equal(tdm_incremental_convert(inc, &f, NULL), TDM_ERR_INVALID);
    tdm_incremental_free(inc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_frame_equals_a_full_conversion),
        cmocka_unit_test(unchanged_frame_with_empty_damage_reads_nothing),
        cmocka_unit_test(wrong_frames_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
