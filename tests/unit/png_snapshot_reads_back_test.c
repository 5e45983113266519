/* PNG snapshots read back with libpng as the pixels that were written:
 * exactly for BGRA, within the I420 round trip's error for I420; a path that
 * cannot be created gives TDM_ERR_IO with the path in the message and leaves
 * no file behind. */
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tdm_png.h"

/* Reads an 8-bit RGB PNG into a malloc'd buffer; NULL on any problem. */
static uint8_t *read_rgb(const char *path, int *w, int *h)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path))
        return NULL;
    img.format = PNG_FORMAT_RGB;
    uint8_t *buf = malloc(PNG_IMAGE_SIZE(img));
    if (!buf || !png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        free(buf);
        png_image_free(&img);
        return NULL;
    }
    *w = (int)img.width;
    *h = (int)img.height;
    return buf;
}

static void temp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "/tmp/tdm_png_test_%d_%s.png", (int)getpid(), name);
}

static void bgra_snapshot_is_exact(void **state)
{
    (void)state;
    int w = 37, h = 21, stride = 4 * w + 12;
    uint8_t *px = malloc((size_t)stride * h);
    assert_non_null(px);
    for (int i = 0; i < stride * h; i++)
        px[i] = (uint8_t)(i * 31 + 7);
    tdm_bgra b = {.data = px, .width = w, .height = h, .stride = stride};
    char path[128];
    temp_path(path, sizeof path, "bgra");
    assert_int_equal(tdm_png_write_bgra(path, &b, NULL), TDM_OK);
    int rw, rh;
    uint8_t *rgb = read_rgb(path, &rw, &rh);
    assert_non_null(rgb);
    assert_int_equal(rw, w);
    assert_int_equal(rh, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *s = px + (size_t)y * stride + 4 * x;
            const uint8_t *d = rgb + ((size_t)y * w + x) * 3;
            assert_int_equal(d[0], s[2]);
            assert_int_equal(d[1], s[1]);
            assert_int_equal(d[2], s[0]);
        }
    free(rgb);
    free(px);
    unlink(path);
}

static void i420_snapshot_matches_the_colours(void **state)
{
    (void)state;
    int w = 64, h = 48;
    uint8_t *px = malloc((size_t)w * h * 4);
    assert_non_null(px);
    /* Quadrants of flat colour: chroma subsampling loses nothing there. */
    const uint8_t colours[4][3] = {{200, 30, 30}, {30, 200, 30}, {30, 30, 200}, {240, 240, 240}};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *c = colours[(y >= h / 2) * 2 + (x >= w / 2)];
            uint8_t *p = px + ((size_t)y * w + x) * 4;
            p[0] = c[2], p[1] = c[1], p[2] = c[0], p[3] = 255;
        }
    tdm_bgra b = {.data = px, .width = w, .height = h, .stride = 4 * w};
    tdm_i420 yuv;
    assert_int_equal(tdm_i420_alloc(&yuv, w, h), TDM_OK);
    assert_int_equal(tdm_convert_bgra_to_i420(&b, &yuv, TDM_MATRIX_BT709), TDM_OK);
    char path[128];
    temp_path(path, sizeof path, "i420");
    assert_int_equal(tdm_png_write_i420(path, &yuv, TDM_MATRIX_BT709, NULL), TDM_OK);
    int rw, rh;
    uint8_t *rgb = read_rgb(path, &rw, &rh);
    assert_non_null(rgb);
    assert_int_equal(rw, w);
    for (int q = 0; q < 4; q++) {
        int x = (q % 2) * w / 2 + 5, y = (q / 2) * h / 2 + 5;
        const uint8_t *d = rgb + ((size_t)y * w + x) * 3;
        for (int c = 0; c < 3; c++)
            assert_in_range(d[c], colours[q][c] - 4, colours[q][c] + 4);
    }
    free(rgb);
    free(px);
    tdm_i420_free(&yuv);
    unlink(path);
}

static void unwritable_path_is_a_clear_error(void **state)
{
    (void)state;
    uint8_t px[16] = {0};
    tdm_bgra b = {.data = px, .width = 2, .height = 2, .stride = 8};
    tdm_error err = {{0}};
    assert_int_equal(tdm_png_write_bgra("/nonexistent-dir/x.png", &b, &err), TDM_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.png"));
    /* /dev/full accepts the open and fails the writes: the error surfaces. */
    assert_int_equal(tdm_png_write_bgra("/dev/full", &b, &err), TDM_ERR_IO);
    b.stride = 4;
    assert_int_equal(tdm_png_write_bgra("/tmp/never.png", &b, &err), TDM_ERR_INVALID);
    assert_int_equal(access("/tmp/never.png", F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bgra_snapshot_is_exact),
        cmocka_unit_test(i420_snapshot_matches_the_colours),
        cmocka_unit_test(unwritable_path_is_a_clear_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
