/* Every SIMD conversion path equals the scalar reference byte for byte, on
 * random frames of odd and even sizes with padded strides and unaligned
 * rows, writes nothing outside the image, and gives the known answers for
 * flat colours. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_convert.h"

static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* An I420 image with sentinel-filled padding around each plane row. */
typedef struct {
    tdm_i420 img;
    uint8_t *mem;
    size_t size;
} guarded_i420;

enum { PAD = 37, SENTINEL = 0xA5 };

static void guarded_alloc(guarded_i420 *g, int w, int h)
{
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    int sy = w + PAD, sc = cw + PAD;
    g->size = (size_t)sy * h + 2 * (size_t)sc * ch + 64;
    g->mem = malloc(g->size);
    assert_non_null(g->mem);
    memset(g->mem, SENTINEL, g->size);
    g->img = (tdm_i420){.y = g->mem, .u = g->mem + (size_t)sy * h,
                        .v = g->mem + (size_t)sy * h + (size_t)sc * ch,
                        .stride_y = sy, .stride_u = sc, .stride_v = sc, .width = w, .height = h};
}

static void assert_padding_untouched(const guarded_i420 *g)
{
    const tdm_i420 *m = &g->img;
    int cw = (m->width + 1) / 2, ch = (m->height + 1) / 2;
    for (int r = 0; r < m->height; r++)
        for (int x = m->width; x < m->stride_y; x++)
            assert_int_equal(m->y[(size_t)r * m->stride_y + x], SENTINEL);
    for (int r = 0; r < ch; r++)
        for (int x = cw; x < m->stride_u; x++) {
            assert_int_equal(m->u[(size_t)r * m->stride_u + x], SENTINEL);
            assert_int_equal(m->v[(size_t)r * m->stride_v + x], SENTINEL);
        }
    for (size_t i = (size_t)(m->v - g->mem) + (size_t)m->stride_v * ch; i < g->size; i++)
        assert_int_equal(g->mem[i], SENTINEL);
}

static void assert_planes_equal(const tdm_i420 *a, const tdm_i420 *b, const char *what)
{
    int cw = (a->width + 1) / 2, ch = (a->height + 1) / 2;
    for (int r = 0; r < a->height; r++)
        if (memcmp(a->y + (size_t)r * a->stride_y, b->y + (size_t)r * b->stride_y, a->width))
            fail_msg("%s: Y row %d differs (%dx%d)", what, r, a->width, a->height);
    for (int r = 0; r < ch; r++) {
        if (memcmp(a->u + (size_t)r * a->stride_u, b->u + (size_t)r * b->stride_u, cw))
            fail_msg("%s: U row %d differs (%dx%d)", what, r, a->width, a->height);
        if (memcmp(a->v + (size_t)r * a->stride_v, b->v + (size_t)r * b->stride_v, cw))
            fail_msg("%s: V row %d differs (%dx%d)", what, r, a->width, a->height);
    }
}

/* Random BGRA rows at an odd byte offset (4-aligned pixels, not 16/32). */
static uint8_t *random_bgra(int h, int stride, int offset)
{
    uint8_t *mem = malloc((size_t)stride * h + offset);
    assert_non_null(mem);
    for (size_t i = 0; i < (size_t)stride * h + offset; i++)
        mem[i] = (uint8_t)rnd();
    return mem;
}

static void check_size(int w, int h, tdm_matrix m)
{
    int stride = 4 * w + 4 * (int)(rnd() % 9);
    int offset = 4 * (int)(rnd() % 4);
    uint8_t *mem = random_bgra(h, stride, offset);
    tdm_bgra src = {.data = mem + offset, .width = w, .height = h, .stride = stride};

    guarded_i420 ref;
    guarded_alloc(&ref, w, h);
    assert_int_equal(tdm_convert_bgra_to_i420_with(TDM_SIMD_SCALAR, &src, &ref.img, m), TDM_OK);
    assert_padding_untouched(&ref);

    int tested = 0;
    for (int p = TDM_SIMD_SSSE3; p < TDM_SIMD_COUNT; p++) {
        if (!tdm_cpu_supports((tdm_simd)p))
            continue;
        guarded_i420 out;
        guarded_alloc(&out, w, h);
        assert_int_equal(tdm_convert_bgra_to_i420_with((tdm_simd)p, &src, &out.img, m), TDM_OK);
        assert_planes_equal(&ref.img, &out.img, tdm_simd_name((tdm_simd)p));
        assert_padding_untouched(&out);
        free(out.mem);
        tested++;
    }
    (void)tested;
    free(ref.mem);
    free(mem);
}

static void simd_paths_equal_scalar_on_random_frames(void **state)
{
    (void)state;
    static const int sizes[][2] = {{1, 1},   {2, 2},    {3, 5},     {15, 7},    {16, 2},
                                   {17, 3},  {31, 31},  {32, 32},   {33, 17},   {47, 9},
                                   {63, 64}, {64, 63},  {65, 65},   {127, 33},  {129, 1},
                                   {1, 129}, {333, 77}, {640, 480}, {1921, 11}, {1920, 1080}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        check_size(sizes[i][0], sizes[i][1], TDM_MATRIX_BT601);
        check_size(sizes[i][0], sizes[i][1], TDM_MATRIX_BT709);
    }
    for (int i = 0; i < 200; i++)
        check_size(1 + (int)(rnd() % 200), 1 + (int)(rnd() % 50),
                   (rnd() & 1) ? TDM_MATRIX_BT709 : TDM_MATRIX_BT601);
}

static void this_machine_runs_a_simd_path(void **state)
{
    (void)state;
#if defined(__x86_64__)
    /* Every x86-64 CPU built since 2006 has SSSE3; a CI box without it would
     * silently test nothing above, so say so loudly. */
    assert_true(tdm_cpu_supports(TDM_SIMD_SSSE3));
#else
    skip();
#endif
}

static void flat_colour(uint8_t b, uint8_t g, uint8_t r, tdm_matrix m, int ey, int eu, int ev)
{
    enum { W = 70, H = 9 };
    uint8_t px[W * H * 4];
    for (int i = 0; i < W * H; i++) {
        px[4 * i] = b, px[4 * i + 1] = g, px[4 * i + 2] = r, px[4 * i + 3] = 255;
    }
    tdm_bgra src = {.data = px, .width = W, .height = H, .stride = 4 * W};
    for (int p = 0; p < TDM_SIMD_COUNT; p++) {
        if (!tdm_cpu_supports((tdm_simd)p))
            continue;
        tdm_i420 out;
        assert_int_equal(tdm_i420_alloc(&out, W, H), TDM_OK);
        assert_int_equal(tdm_convert_bgra_to_i420_with((tdm_simd)p, &src, &out, m), TDM_OK);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                assert_int_equal(out.y[y * out.stride_y + x], ey);
        for (int y = 0; y < (H + 1) / 2; y++)
            for (int x = 0; x < (W + 1) / 2; x++) {
                assert_int_equal(out.u[y * out.stride_u + x], eu);
                assert_int_equal(out.v[y * out.stride_v + x], ev);
            }
        tdm_i420_free(&out);
    }
}

static void flat_colours_give_known_values(void **state)
{
    (void)state;
    flat_colour(255, 255, 255, TDM_MATRIX_BT601, 235, 128, 128);
    flat_colour(0, 0, 0, TDM_MATRIX_BT601, 16, 128, 128);
    flat_colour(0, 0, 255, TDM_MATRIX_BT601, 82, 90, 240);  /* red */
    flat_colour(0, 255, 0, TDM_MATRIX_BT601, 144, 54, 34);  /* green */
    flat_colour(255, 0, 0, TDM_MATRIX_BT601, 41, 240, 110); /* blue */
    flat_colour(255, 255, 255, TDM_MATRIX_BT709, 235, 128, 128);
    flat_colour(0, 0, 255, TDM_MATRIX_BT709, 63, 102, 240);
    flat_colour(0, 255, 0, TDM_MATRIX_BT709, 172, 42, 26);
}

static void subrect_views_convert_like_the_whole(void **state)
{
    (void)state;
    int w = 300, h = 200;
    uint8_t *mem = random_bgra(h, 4 * w, 0);
    tdm_bgra src = {.data = mem, .width = w, .height = h, .stride = 4 * w};
    tdm_i420 whole, parts;
    assert_int_equal(tdm_i420_alloc(&whole, w, h), TDM_OK);
    assert_int_equal(tdm_i420_alloc(&parts, w, h), TDM_OK);
    assert_int_equal(tdm_convert_bgra_to_i420(&src, &whole, TDM_MATRIX_BT601), TDM_OK);
    /* Even-aligned pieces of uneven sizes, covering the frame. */
    int xs[] = {0, 32, 98, 160, 300}, ys[] = {0, 64, 66, 130, 200};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            tdm_rect r = {xs[i], ys[j], xs[i + 1] - xs[i], ys[j + 1] - ys[j]};
            tdm_bgra sv = tdm_bgra_view(&src, r);
            tdm_i420 dv = tdm_i420_view(&parts, r);
            assert_int_equal(tdm_convert_bgra_to_i420(&sv, &dv, TDM_MATRIX_BT601), TDM_OK);
        }
    assert_planes_equal(&whole, &parts, "pieces");
    tdm_i420_free(&whole);
    tdm_i420_free(&parts);
    free(mem);
}

static void bad_arguments_are_refused(void **state)
{
    (void)state;
    uint8_t px[16 * 16 * 4] = {0};
    tdm_i420 out;
    assert_int_equal(tdm_i420_alloc(&out, 16, 16), TDM_OK);
    tdm_bgra ok = {.data = px, .width = 16, .height = 16, .stride = 64};
    tdm_bgra b = ok;
    b.stride = 60; /* smaller than the width */
    assert_int_equal(tdm_convert_bgra_to_i420(&b, &out, TDM_MATRIX_BT601), TDM_ERR_INVALID);
    b = ok;
    b.width = 0;
    assert_int_equal(tdm_convert_bgra_to_i420(&b, &out, TDM_MATRIX_BT601), TDM_ERR_INVALID);
    b = ok;
    b.data = NULL;
    assert_int_equal(tdm_convert_bgra_to_i420(&b, &out, TDM_MATRIX_BT601), TDM_ERR_INVALID);
    b = ok;
    b.width = 15; /* size mismatch with the destination */
    assert_int_equal(tdm_convert_bgra_to_i420(&b, &out, TDM_MATRIX_BT601), TDM_ERR_INVALID);
    assert_int_equal(tdm_convert_bgra_to_i420(&ok, &out, (tdm_matrix)7), TDM_ERR_INVALID);
    assert_int_equal(tdm_convert_bgra_to_i420(&ok, &out, TDM_MATRIX_BT601), TDM_OK);
    tdm_i420_free(&out);
}

static void i420_to_rgb_inverts_within_a_few_levels(void **state)
{
    (void)state;
    int w = 64, h = 32;
    uint8_t *mem = malloc((size_t)w * h * 4);
    assert_non_null(mem);
    /* Smooth content: 2x2 blocks of one colour, so chroma loses nothing. */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = mem + ((size_t)y * w + x) * 4;
            p[0] = (uint8_t)((x / 2) * 8), p[1] = (uint8_t)((y / 2) * 16), p[2] = (uint8_t)(200 - x), p[3] = 255;
        }
    tdm_bgra src = {.data = mem, .width = w, .height = h, .stride = 4 * w};
    tdm_i420 yuv;
    assert_int_equal(tdm_i420_alloc(&yuv, w, h), TDM_OK);
    uint8_t *rgb = malloc((size_t)w * h * 3);
    assert_non_null(rgb);
    for (int m = 0; m < 2; m++) {
        assert_int_equal(tdm_convert_bgra_to_i420(&src, &yuv, (tdm_matrix)m), TDM_OK);
        assert_int_equal(tdm_convert_i420_to_rgb24(&yuv, rgb, 3 * w, (tdm_matrix)m), TDM_OK);
        for (int i = 0; i < w * h; i++) {
            assert_in_range(rgb[3 * i + 0], mem[4 * i + 2] > 4 ? mem[4 * i + 2] - 4 : 0, mem[4 * i + 2] + 4);
            assert_in_range(rgb[3 * i + 1], mem[4 * i + 1] > 4 ? mem[4 * i + 1] - 4 : 0, mem[4 * i + 1] + 4);
            assert_in_range(rgb[3 * i + 2], mem[4 * i + 0] > 4 ? mem[4 * i + 0] - 4 : 0, mem[4 * i + 0] + 4);
        }
    }
    free(rgb);
    free(mem);
    tdm_i420_free(&yuv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(this_machine_runs_a_simd_path),
        cmocka_unit_test(simd_paths_equal_scalar_on_random_frames),
        cmocka_unit_test(flat_colours_give_known_values),
        cmocka_unit_test(subrect_views_convert_like_the_whole),
        cmocka_unit_test(bad_arguments_are_refused),
        cmocka_unit_test(i420_to_rgb_inverts_within_a_few_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
