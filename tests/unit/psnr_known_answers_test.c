/* psnr_known_answers_test: tdm_psnr on images whose answer is worked out
 * by hand, on views (strides wider than the picture), odd sizes and bad
 * arguments. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_psnr.h"

static void fill(tdm_i420 *img, uint8_t y, uint8_t u, uint8_t v)
{
    int cw = (img->width + 1) / 2, ch = (img->height + 1) / 2;
    for (int r = 0; r < img->height; r++)
        memset(img->y + (size_t)r * img->stride_y, y, (size_t)img->width);
    for (int r = 0; r < ch; r++) {
        memset(img->u + (size_t)r * img->stride_u, u, (size_t)cw);
        memset(img->v + (size_t)r * img->stride_v, v, (size_t)cw);
    }
}

static void assert_db(double got, double want)
{
    if (fabs(got - want) > 1e-9)
        fail_msg("PSNR %.12f, expected %.12f", got, want);
}

static void test_identical_is_max(void **state)
{
    (void)state;
    tdm_i420 a, b;
    assert_int_equal(tdm_i420_alloc(&a, 64, 48), TDM_OK);
    assert_int_equal(tdm_i420_alloc(&b, 64, 48), TDM_OK);
    fill(&a, 10, 20, 30);
    fill(&b, 10, 20, 30);
    tdm_psnr p;
    assert_int_equal(tdm_psnr_compute(&a, &b, &p, NULL), TDM_OK);
    assert_db(p.y, TDM_PSNR_MAX);
    assert_db(p.u, TDM_PSNR_MAX);
    assert_db(p.v, TDM_PSNR_MAX);
    assert_db(p.yuv, TDM_PSNR_MAX);
    assert_true(p.sse_y == 0 && p.sse_u == 0 && p.sse_v == 0);
    tdm_i420_free(&a);
    tdm_i420_free(&b);
}

/* Luma off by one everywhere: MSE 1, so 20 log10(255) = 48.1308 dB; the
 * pooled figure counts 6 samples per 4 luma: 10 log10(255^2 * 1.5). */
static void test_off_by_one(void **state)
{
    (void)state;
    tdm_i420 a, b;
    assert_int_equal(tdm_i420_alloc(&a, 64, 48), TDM_OK);
    assert_int_equal(tdm_i420_alloc(&b, 64, 48), TDM_OK);
    fill(&a, 100, 128, 128);
    fill(&b, 101, 128, 128);
    tdm_psnr p;
    assert_int_equal(tdm_psnr_compute(&a, &b, &p, NULL), TDM_OK);
    assert_true(p.sse_y == 64 * 48);
    assert_db(p.y, 20.0 * log10(255.0));
    assert_db(p.y, 48.130803608679102);
    assert_db(p.u, TDM_PSNR_MAX);
    assert_db(p.yuv, 10.0 * log10(255.0 * 255.0 * 1.5));
    /* Symmetric. */
    tdm_psnr q;
    assert_int_equal(tdm_psnr_compute(&b, &a, &q, NULL), TDM_OK);
    assert_db(q.yuv, p.yuv);
    tdm_i420_free(&a);
    tdm_i420_free(&b);
}

/* One luma sample off by 10 in a 4x4 picture: SSE 100 over 16 samples;
 * chroma V off by 255 in one of its 4 samples: 255^2 / 4 -> 6.0206 dB. */
static void test_single_samples(void **state)
{
    (void)state;
    tdm_i420 a, b;
    assert_int_equal(tdm_i420_alloc(&a, 4, 4), TDM_OK);
    assert_int_equal(tdm_i420_alloc(&b, 4, 4), TDM_OK);
    fill(&a, 50, 60, 0);
    fill(&b, 50, 60, 0);
    b.y[2 * b.stride_y + 3] = 60;
    b.v[1 * b.stride_v + 0] = 255;
    tdm_psnr p;
    assert_int_equal(tdm_psnr_compute(&a, &b, &p, NULL), TDM_OK);
    assert_true(p.sse_y == 100 && p.sse_u == 0 && p.sse_v == 65025);
    assert_db(p.y, 10.0 * log10(65025.0 * 16 / 100));
    assert_db(p.v, 10.0 * log10(4.0));
    assert_db(p.yuv, 10.0 * log10(65025.0 * 24 / (100 + 65025)));
    tdm_i420_free(&a);
    tdm_i420_free(&b);
}

/* Views: only the visible samples count, whatever lies past the width or
 * outside the view. Odd sizes: chroma is (w+1)/2 x (h+1)/2. */
static void test_views_and_odd_sizes(void **state)
{
    (void)state;
    tdm_i420 a, b;
    assert_int_equal(tdm_i420_alloc(&a, 64, 64), TDM_OK);
    assert_int_equal(tdm_i420_alloc(&b, 64, 64), TDM_OK);
    fill(&a, 0, 0, 0);
    fill(&b, 0, 0, 0);
    /* Differences everywhere outside the 7x5 view at (8, 6). */
    for (int r = 0; r < 64; r++)
        for (int c = 0; c < 64; c++)
            if (!(c >= 8 && c < 15 && r >= 6 && r < 11))
                b.y[(size_t)r * b.stride_y + c] = 200;
    tdm_i420 va = tdm_i420_view(&a, (tdm_rect){8, 6, 7, 5});
    tdm_i420 vb = tdm_i420_view(&b, (tdm_rect){8, 6, 7, 5});
    assert_int_equal(va.width, 7);
    tdm_psnr p;
    assert_int_equal(tdm_psnr_compute(&va, &vb, &p, NULL), TDM_OK);
    assert_db(p.yuv, TDM_PSNR_MAX);
    /* Now one chroma sample of the view's last column and row (index 3, 2:
     * (7+1)/2 - 1 and (5+1)/2 - 1) differs by 2: SSE 4 over 7*5 + 2*4*3. */
    vb.u[2 * vb.stride_u + 3] = 2;
    assert_int_equal(tdm_psnr_compute(&va, &vb, &p, NULL), TDM_OK);
    assert_true(p.sse_u == 4);
    assert_db(p.u, 10.0 * log10(65025.0 * 12 / 4));
    assert_db(p.yuv, 10.0 * log10(65025.0 * (35 + 24) / 4));
    tdm_i420_free(&a);
    tdm_i420_free(&b);
}

static void test_from_sse(void **state)
{
    (void)state;
    assert_db(tdm_psnr_from_sse(0, 100), TDM_PSNR_MAX);
    assert_db(tdm_psnr_from_sse(5, 0), TDM_PSNR_MAX);
    assert_db(tdm_psnr_from_sse(65025, 1), 0.0);
    assert_db(tdm_psnr_from_sse(1, 1), 48.130803608679102);
    /* Tiny errors over huge counts still cap at the maximum. */
    assert_db(tdm_psnr_from_sse(1, UINT64_C(1) << 60), TDM_PSNR_MAX);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    tdm_i420 a, b;
    assert_int_equal(tdm_i420_alloc(&a, 16, 16), TDM_OK);
    assert_int_equal(tdm_i420_alloc(&b, 16, 8), TDM_OK);
    tdm_psnr p;
    tdm_error err = {{0}};
    assert_int_equal(tdm_psnr_compute(&a, &b, &p, &err), TDM_ERR_INVALID);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(tdm_psnr_compute(&a, NULL, &p, &err), TDM_ERR_INVALID);
    assert_int_equal(tdm_psnr_compute(&a, &a, NULL, &err), TDM_ERR_INVALID);
    tdm_i420 bad = a;
    bad.stride_y = 3;
    assert_int_equal(tdm_psnr_compute(&a, &bad, &p, &err), TDM_ERR_INVALID);
    tdm_i420_free(&a);
    tdm_i420_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_is_max),
        cmocka_unit_test(test_off_by_one),
        cmocka_unit_test(test_single_samples),
        cmocka_unit_test(test_views_and_odd_sizes),
        cmocka_unit_test(test_from_sse),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
