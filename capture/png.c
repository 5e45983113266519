/* png.c: PNG output through libpng; errors come back as tdm_status, never
 * as a longjmp out of the caller. */
#include "tdm_png.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* rows: a callback filling one RGB row, so both formats share the writer. */
typedef void (*row_fn)(const void *img, int y, uint8_t *rgb);

static tdm_status write_png(const char *path, int w, int h, const void *img, row_fn fill,
                            tdm_error *err)
{
    /* Only a file this call created is removed on failure: the path may name
     * something that is not ours to delete (a device such as /dev/full, or
     * a file the user wants kept). */
    volatile bool created = true; /* read after libpng's longjmp */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) {
        created = false;
        fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    }
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (created && fd >= 0)
            unlink(path);
        return tdm_fail(err, TDM_ERR_IO, "cannot create %s: %s", path, strerror(e));
    }
    uint8_t *row = malloc((size_t)w * 3);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!row || !png || !info) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        free(row);
        fclose(f);
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory writing %s", path);
    }
    /* volatile: the value must survive libpng's longjmp back here. */
    volatile tdm_status st = TDM_OK;
    if (setjmp(png_jmpbuf(png))) {
        st = TDM_ERR_IO;
    } else {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        for (int y = 0; y < h; y++) {
            fill(img, y, row);
            png_write_row(png, row);
        }
        png_write_end(png, NULL);
    }
    png_destroy_write_struct(&png, &info);
    free(row);
    if (fclose(f) != 0 && st == TDM_OK)
        st = TDM_ERR_IO;
    if (st != TDM_OK) {
        if (created)
            unlink(path);
        return tdm_fail(err, st, "writing %s failed (disk full?)", path);
    }
    return TDM_OK;
}

typedef struct i420_src {
    const tdm_i420 *img;
    tdm_matrix m;
} i420_src;

static void fill_i420(const void *p, int y, uint8_t *rgb)
{
    const i420_src *s = p;
    /* Convert a one-row view: the chroma row for y is picked by the view. */
    tdm_i420 row = *s->img;
    row.y = s->img->y + (size_t)y * s->img->stride_y;
    row.u = s->img->u + (size_t)(y / 2) * s->img->stride_u;
    row.v = s->img->v + (size_t)(y / 2) * s->img->stride_v;
    row.height = 1;
    row.owned = NULL;
    tdm_convert_i420_to_rgb24(&row, rgb, 3 * row.width, s->m);
}

static void fill_bgra(const void *p, int y, uint8_t *rgb)
{
    const tdm_bgra *b = p;
    const uint8_t *s = b->data + (size_t)y * b->stride;
    for (int x = 0; x < b->width; x++) {
        rgb[3 * x] = s[4 * x + 2];
        rgb[3 * x + 1] = s[4 * x + 1];
        rgb[3 * x + 2] = s[4 * x];
    }
}

tdm_status tdm_png_write_i420(const char *path, const tdm_i420 *img, tdm_matrix m,
                              tdm_error *err)
{
    tdm_status st = tdm_i420_check(img, err);
    if (st != TDM_OK)
        return st;
    i420_src s = {.img = img, .m = m};
    return write_png(path, img->width, img->height, &s, fill_i420, err);
}

tdm_status tdm_png_write_bgra(const char *path, const tdm_bgra *img, tdm_error *err)
{
    tdm_status st = tdm_bgra_check(img, err);
    if (st != TDM_OK)
        return st;
    return write_png(path, img->width, img->height, img, fill_bgra, err);
}
