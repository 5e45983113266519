/* frame.c: checks, allocation and views for tdm_bgra and tdm_i420. */
#include "tdm_frame.h"

#include <stdlib.h>
#include <string.h>

tdm_status tdm_check_dimensions(int width, int height, tdm_error *err)
{
    if (width < 1 || height < 1)
        return tdm_fail(err, TDM_ERR_RANGE, "image size %dx%d is empty", width, height);
    if (width > TDM_MAX_DIMENSION || height > TDM_MAX_DIMENSION)
        return tdm_fail(err, TDM_ERR_RANGE, "image size %dx%d exceeds the limit of %d", width,
                        height, TDM_MAX_DIMENSION);
    return TDM_OK;
}

tdm_status tdm_bgra_check(const tdm_bgra *img, tdm_error *err)
{
    if (!img || !img->data)
        return tdm_fail(err, TDM_ERR_INVALID, "BGRA image has no pixels");
    tdm_status st = tdm_check_dimensions(img->width, img->height, err);
    if (st != TDM_OK)
        return st;
    if (img->stride < 4 * img->width)
        return tdm_fail(err, TDM_ERR_INVALID, "BGRA stride %d is smaller than 4 x width %d",
                        img->stride, img->width);
    return TDM_OK;
}

tdm_status tdm_i420_check(const tdm_i420 *img, tdm_error *err)
{
    if (!img || !img->y || !img->u || !img->v)
        return tdm_fail(err, TDM_ERR_INVALID, "I420 image has no planes");
    tdm_status st = tdm_check_dimensions(img->width, img->height, err);
    if (st != TDM_OK)
        return st;
    int cw = (img->width + 1) / 2;
    if (img->stride_y < img->width || img->stride_u < cw || img->stride_v < cw)
        return tdm_fail(err, TDM_ERR_INVALID, "I420 strides %d/%d/%d are smaller than %d/%d",
                        img->stride_y, img->stride_u, img->stride_v, img->width, cw);
    return TDM_OK;
}

static int round_up(int v, int a)
{
    return (v + a - 1) / a * a;
}

tdm_status tdm_i420_alloc(tdm_i420 *img, int width, int height)
{
    memset(img, 0, sizeof *img);
    tdm_status st = tdm_check_dimensions(width, height, NULL);
    if (st != TDM_OK)
        return st;
    int cw = (width + 1) / 2, ch = (height + 1) / 2;
    int sy = round_up(width, 64), sc = round_up(cw, 64);
    size_t ysize = (size_t)sy * (size_t)height;
    size_t csize = (size_t)sc * (size_t)ch;
    /* 64 spare bytes at the end let SIMD kernels read a whole vector past
     * the last pixel without leaving the allocation. */
    size_t total = ysize + 2 * csize + 64;
    uint8_t *mem = aligned_alloc(64, (total + 63) / 64 * 64);
    if (!mem)
        return TDM_ERR_NOMEM;
    memset(mem, 0, total);
    img->owned = mem;
    img->y = mem;
    img->u = mem + ysize;
    img->v = mem + ysize + csize;
    img->stride_y = sy;
    img->stride_u = img->stride_v = sc;
    img->width = width;
    img->height = height;
    return TDM_OK;
}

void tdm_i420_free(tdm_i420 *img)
{
    if (!img)
        return;
    free(img->owned);
    memset(img, 0, sizeof *img);
}

tdm_i420 tdm_i420_view(const tdm_i420 *img, tdm_rect r)
{
    tdm_i420 v = *img;
    v.owned = NULL;
    v.y = img->y + (size_t)r.y * img->stride_y + r.x;
    v.u = img->u + (size_t)(r.y / 2) * img->stride_u + r.x / 2;
    v.v = img->v + (size_t)(r.y / 2) * img->stride_v + r.x / 2;
    v.width = r.w;
    v.height = r.h;
    return v;
}

tdm_bgra tdm_bgra_view(const tdm_bgra *img, tdm_rect r)
{
    tdm_bgra v = *img;
    v.data = img->data + (size_t)r.y * img->stride + (size_t)r.x * 4;
    v.width = r.w;
    v.height = r.h;
    return v;
}

tdm_rect tdm_rect_clip(tdm_rect r, int width, int height)
{
    int x0 = r.x < 0 ? 0 : r.x, y0 = r.y < 0 ? 0 : r.y;
    long x1 = (long)r.x + r.w, y1 = (long)r.y + r.h;
    if (x1 > width)
        x1 = width;
    if (y1 > height)
        y1 = height;
    tdm_rect c = {x0, y0, 0, 0};
    if (x1 > x0 && y1 > y0) {
        c.w = (int)(x1 - x0);
        c.h = (int)(y1 - y0);
    }
    return c;
}
