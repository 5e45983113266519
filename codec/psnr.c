/* psnr.c: sums of squared differences and their PSNR. Scalar on purpose:
 * it measures, it is not on a hot path. */
#include "tdm_psnr.h"

#include <math.h>

double tdm_psnr_from_sse(uint64_t sse, uint64_t n)
{
    if (sse == 0 || n == 0)
        return TDM_PSNR_MAX;
    double p = 10.0 * log10(255.0 * 255.0 * (double)n / (double)sse);
    return p > TDM_PSNR_MAX ? TDM_PSNR_MAX : p;
}

static uint64_t plane_sse(const uint8_t *a, int sa, const uint8_t *b, int sb, int w, int h)
{
    uint64_t sum = 0;
    for (int r = 0; r < h; r++) {
        const uint8_t *pa = a + (size_t)r * sa, *pb = b + (size_t)r * sb;
        uint32_t row = 0; /* w <= 16384 samples of at most 255^2 fit */
        for (int c = 0; c < w; c++) {
            int d = pa[c] - pb[c];
            row += (uint32_t)(d * d);
        }
        sum += row;
    }
    return sum;
}

tdm_status tdm_psnr_compute(const tdm_i420 *a, const tdm_i420 *b, tdm_psnr *out, tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "no place for the result");
    if (tdm_i420_check(a, err) != TDM_OK || tdm_i420_check(b, err) != TDM_OK)
        return TDM_ERR_INVALID;
    if (a->width != b->width || a->height != b->height)
        return tdm_fail(err, TDM_ERR_INVALID, "images are %dx%d and %dx%d", a->width, a->height,
                        b->width, b->height);
    int w = a->width, h = a->height, cw = (w + 1) / 2, ch = (h + 1) / 2;
    out->sse_y = plane_sse(a->y, a->stride_y, b->y, b->stride_y, w, h);
    out->sse_u = plane_sse(a->u, a->stride_u, b->u, b->stride_u, cw, ch);
    out->sse_v = plane_sse(a->v, a->stride_v, b->v, b->stride_v, cw, ch);
    uint64_t ny = (uint64_t)w * h, nc = (uint64_t)cw * ch;
    out->y = tdm_psnr_from_sse(out->sse_y, ny);
    out->u = tdm_psnr_from_sse(out->sse_u, nc);
    out->v = tdm_psnr_from_sse(out->sse_v, nc);
    out->yuv = tdm_psnr_from_sse(out->sse_y + out->sse_u + out->sse_v, ny + 2 * nc);
    return TDM_OK;
}
