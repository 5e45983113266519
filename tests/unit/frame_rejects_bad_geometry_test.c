/* Image geometry is checked before any pixel is touched: zero, negative and
 * huge sizes, strides smaller than a row, missing planes; rectangles clip
 * without overflow. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_frame.h"

static void sizes_outside_the_limits_are_refused(void **state)
{
    (void)state;
    tdm_error err = {{0}};
    assert_int_equal(tdm_check_dimensions(0, 10, &err), TDM_ERR_RANGE);
    assert_non_null(strstr(err.msg, "empty"));
    assert_int_equal(tdm_check_dimensions(10, -1, &err), TDM_ERR_RANGE);
    assert_int_equal(tdm_check_dimensions(TDM_MAX_DIMENSION + 1, 10, &err), TDM_ERR_RANGE);
    assert_non_null(strstr(err.msg, "limit"));
    assert_int_equal(tdm_check_dimensions(INT_MAX, INT_MAX, NULL), TDM_ERR_RANGE);
    assert_int_equal(tdm_check_dimensions(1, 1, NULL), TDM_OK);
    assert_int_equal(tdm_check_dimensions(TDM_MAX_DIMENSION, 2, NULL), TDM_OK);
}

static void bgra_views_are_checked(void **state)
{
    (void)state;
    uint8_t px[16];
    tdm_error err = {{0}};
    tdm_bgra b = {.data = px, .width = 2, .height = 2, .stride = 8};
    assert_int_equal(tdm_bgra_check(&b, &err), TDM_OK);
    b.stride = 7;
    assert_int_equal(tdm_bgra_check(&b, &err), TDM_ERR_INVALID);
    assert_non_null(strstr(err.msg, "stride"));
    b.stride = 8;
    b.data = NULL;
    assert_int_equal(tdm_bgra_check(&b, &err), TDM_ERR_INVALID);
    assert_int_equal(tdm_bgra_check(NULL, &err), TDM_ERR_INVALID);
}

static void i420_alloc_and_check(void **state)
{
    (void)state;
    tdm_i420 img;
    assert_int_equal(tdm_i420_alloc(&img, 0, 5), TDM_ERR_RANGE);
    assert_int_equal(tdm_i420_alloc(&img, 5, 100000), TDM_ERR_RANGE);
    assert_int_equal(tdm_i420_alloc(&img, 33, 17), TDM_OK);
    assert_int_equal(tdm_i420_check(&img, NULL), TDM_OK);
    assert_true(img.stride_y >= 33 && img.stride_u >= 17);
    assert_int_equal((uintptr_t)img.y % 64, 0);
    memset(img.v, 1, (size_t)img.stride_v * 9); /* whole last plane is writable */
    tdm_i420 bad = img;
    bad.stride_u = 16;
    assert_int_equal(tdm_i420_check(&bad, NULL), TDM_ERR_INVALID);
    bad = img;
    bad.u = NULL;
    assert_int_equal(tdm_i420_check(&bad, NULL), TDM_ERR_INVALID);
    tdm_i420_free(&img);
    assert_null(img.y);
    tdm_i420_free(&img); /* freeing twice is harmless */
}

static void rectangles_clip_without_overflow(void **state)
{
    (void)state;
    tdm_rect r = tdm_rect_clip((tdm_rect){-10, -10, 30, 30}, 100, 100);
    assert_int_equal(r.x, 0);
    assert_int_equal(r.w, 20);
    r = tdm_rect_clip((tdm_rect){90, 90, INT_MAX, INT_MAX}, 100, 100);
    assert_int_equal(r.w, 10);
    assert_int_equal(r.h, 10);
    r = tdm_rect_clip((tdm_rect){200, 0, 10, 10}, 100, 100);
    assert_int_equal(r.w, 0);
    r = tdm_rect_clip((tdm_rect){10, 10, -5, 5}, 100, 100);
    assert_int_equal(r.w, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sizes_outside_the_limits_are_refused),
        cmocka_unit_test(bgra_views_are_checked),
        cmocka_unit_test(i420_alloc_and_check),
        cmocka_unit_test(rectangles_clip_without_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
