/* Dirty-tile detection is exact: every SIMD path returns the same bitmap as
 * the scalar reference and as a pixel-by-pixel check, with and without
 * candidate tiles; merged rectangles cover exactly the marked tiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_dirty.h"

static uint32_t rng_state = 4242;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Which tiles differ, computed the slow obvious way. */
static void brute_force(const tdm_bgra *a, const tdm_bgra *b, tdm_tilemap *out)
{
    tdm_tilemap_clear(out);
    for (int y = 0; y < a->height; y++)
        for (int x = 0; x < 4 * a->width; x++)
            if (a->data[(size_t)y * a->stride + x] != b->data[(size_t)y * b->stride + x])
                tdm_tilemap_set(out, x / 4 / TDM_TILE_SIZE, y / TDM_TILE_SIZE);
}

static void assert_maps_equal(const tdm_tilemap *a, const tdm_tilemap *b, const char *what)
{
    for (int r = 0; r < a->rows; r++)
        for (int c = 0; c < a->cols; c++)
            if (tdm_tilemap_test(a, c, r) != tdm_tilemap_test(b, c, r))
                fail_msg("%s: tile (%d,%d) differs in a %dx%d frame", what, c, r, a->width,
                         a->height);
}

static void check_pair(int w, int h, int changes)
{
    int stride = 4 * w + 4 * (int)(rnd() % 5);
    size_t size = (size_t)stride * h;
    uint8_t *m0 = malloc(size), *m1 = malloc(size);
    assert_non_null(m0);
    assert_non_null(m1);
    for (size_t i = 0; i < size; i++)
        m0[i] = (uint8_t)rnd();
    memcpy(m1, m0, size);
    for (int i = 0; i < changes; i++) {
        int x = (int)(rnd() % (unsigned)(4 * w)), y = (int)(rnd() % (unsigned)h);
        m1[(size_t)y * stride + x] ^= (uint8_t)(1 + rnd() % 255);
    }
    /* Padding bytes past the width differ too: they must not count. */
    for (int y = 0; y < h; y++)
        for (int x = 4 * w; x < stride; x++)
            m1[(size_t)y * stride + x] = (uint8_t)~m0[(size_t)y * stride + x];
    tdm_bgra a = {.data = m0, .width = w, .height = h, .stride = stride};
    tdm_bgra b = {.data = m1, .width = w, .height = h, .stride = stride};

    tdm_tilemap truth, got, cand, masked;
    assert_int_equal(tdm_tilemap_init(&truth, w, h), TDM_OK);
    assert_int_equal(tdm_tilemap_init(&got, w, h), TDM_OK);
    assert_int_equal(tdm_tilemap_init(&cand, w, h), TDM_OK);
    assert_int_equal(tdm_tilemap_init(&masked, w, h), TDM_OK);
    brute_force(&a, &b, &truth);
    for (int r = 0; r < cand.rows; r++)
        for (int c = 0; c < cand.cols; c++)
            if (rnd() % 3 == 0)
                tdm_tilemap_set(&cand, c, r);

    for (int p = 0; p < TDM_SIMD_COUNT; p++) {
        if (!tdm_cpu_supports((tdm_simd)p))
            continue;
        assert_int_equal(tdm_dirty_detect_with((tdm_simd)p, &b, &a, NULL, &got), TDM_OK);
        assert_maps_equal(&truth, &got, tdm_simd_name((tdm_simd)p));
        assert_int_equal(tdm_dirty_detect_with((tdm_simd)p, &b, &a, &cand, &masked), TDM_OK);
        for (int r = 0; r < cand.rows; r++)
            for (int c = 0; c < cand.cols; c++)
                assert_int_equal(tdm_tilemap_test(&masked, c, r),
                                 tdm_tilemap_test(&truth, c, r) && tdm_tilemap_test(&cand, c, r));
    }
    tdm_tilemap_free(&truth);
    tdm_tilemap_free(&got);
    tdm_tilemap_free(&cand);
    tdm_tilemap_free(&masked);
    free(m0);
    free(m1);
}

static void all_paths_equal_brute_force(void **state)
{
    (void)state;
    static const int sizes[][2] = {{1, 1},  {31, 31},  {32, 32},  {33, 33},   {64, 64},
                                   {65, 1}, {100, 70}, {257, 65}, {640, 480}, {1920, 1080}};
    int counts[] = {0, 1, 3, 40};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t j = 0; j < 4; j++)
            check_pair(sizes[i][0], sizes[i][1], counts[j]);
    for (int i = 0; i < 100; i++)
        check_pair(1 + (int)(rnd() % 300), 1 + (int)(rnd() % 100), (int)(rnd() % 10));
}

/* Each marked tile lies in exactly one rectangle; no unmarked tile in any. */
static void assert_rects_cover_exactly(const tdm_tilemap *m)
{
    size_t n = tdm_tilemap_rects(m, NULL, 0);
    tdm_rect *rects = calloc(n + 1, sizeof *rects);
    assert_non_null(rects);
    assert_int_equal(tdm_tilemap_rects(m, rects, n), n);
    for (int r = 0; r < m->rows; r++)
        for (int c = 0; c < m->cols; c++) {
            int px = c * TDM_TILE_SIZE, py = r * TDM_TILE_SIZE, hits = 0;
            for (size_t i = 0; i < n; i++)
                hits += px >= rects[i].x && px < rects[i].x + rects[i].w && py >= rects[i].y &&
                        py < rects[i].y + rects[i].h;
            assert_int_equal(hits, tdm_tilemap_test(m, c, r) ? 1 : 0);
        }
    for (size_t i = 0; i < n; i++) {
        assert_true(rects[i].w > 0 && rects[i].h > 0);
        assert_true(rects[i].x + rects[i].w <= m->width && rects[i].y + rects[i].h <= m->height);
    }
    free(rects);
}

static void rectangles_merge_and_cover_exactly(void **state)
{
    (void)state;
    tdm_tilemap m;
    assert_int_equal(tdm_tilemap_init(&m, 1000, 500), TDM_OK); /* 32x16 tiles, narrow edges */
    assert_int_equal(tdm_tilemap_rects(&m, NULL, 0), 0);

    tdm_tilemap_fill(&m);
    tdm_rect one;
    assert_int_equal(tdm_tilemap_rects(&m, &one, 1), 1);
    assert_int_equal(one.x, 0);
    assert_int_equal(one.y, 0);
    assert_int_equal(one.w, 1000);
    assert_int_equal(one.h, 500);

    /* A block of 3x4 tiles and an L beside it: the block is one rectangle. */
    tdm_tilemap_clear(&m);
    tdm_tilemap_add_rect(&m, (tdm_rect){64, 64, 96, 128});
    tdm_tilemap_add_rect(&m, (tdm_rect){320, 32, 32, 96});
    tdm_tilemap_add_rect(&m, (tdm_rect){320, 96, 96, 32});
    tdm_rect rects[8];
    assert_int_equal(tdm_tilemap_rects(&m, rects, 8), 3);
    int blocks = 0;
    for (int i = 0; i < 3; i++)
        blocks += rects[i].x == 64 && rects[i].y == 64 && rects[i].w == 96 && rects[i].h == 128;
    assert_int_equal(blocks, 1);
    assert_rects_cover_exactly(&m);
    assert_int_equal(tdm_tilemap_count(&m), 12 + 3 + 2);

    /* A rectangle partly outside the frame is clipped, not wrapped. */
    tdm_tilemap_clear(&m);
    tdm_tilemap_add_rect(&m, (tdm_rect){-50, 480, 100, 100});
    assert_int_equal(tdm_tilemap_count(&m), 2);
    tdm_tilemap_add_rect(&m, (tdm_rect){5000, 5000, 10, 10});
    assert_int_equal(tdm_tilemap_count(&m), 2);

    for (int i = 0; i < 300; i++) {
        tdm_tilemap_clear(&m);
        int density = 1 + (int)(rnd() % 4);
        for (int r = 0; r < m.rows; r++)
            for (int c = 0; c < m.cols; c++)
                if ((int)(rnd() % 5) < density)
                    tdm_tilemap_set(&m, c, r);
        assert_rects_cover_exactly(&m);
    }
    tdm_tilemap_free(&m);
}

static void mismatched_sizes_are_refused(void **state)
{
    (void)state;
    uint8_t px[64 * 64 * 4] = {0};
    tdm_bgra a = {.data = px, .width = 64, .height = 64, .stride = 256};
    tdm_bgra b = {.data = px, .width = 63, .height = 64, .stride = 256};
    tdm_tilemap m;
    assert_int_equal(tdm_tilemap_init(&m, 64, 64), TDM_OK);
    assert_int_equal(tdm_dirty_detect(&a, &b, NULL, &m), TDM_ERR_INVALID);
    assert_int_equal(tdm_dirty_detect(&a, &a, NULL, &m), TDM_OK);
    assert_int_equal(tdm_tilemap_count(&m), 0);
    tdm_tilemap_free(&m);
    assert_int_equal(tdm_tilemap_init(&m, 0, 10), TDM_ERR_RANGE);
    assert_int_equal(tdm_tilemap_init(&m, 10, 100000), TDM_ERR_RANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_paths_equal_brute_force),
        cmocka_unit_test(rectangles_merge_and_cover_exactly),
        cmocka_unit_test(mismatched_sizes_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
