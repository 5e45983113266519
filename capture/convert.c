/* convert.c: the scalar reference conversion, the frame loop shared by all
 * paths, and run-time dispatch to the SIMD row kernels. */
#include "tdm_convert.h"

#include <string.h>

#include "convert_internal.h"

/* Fixed-point coefficients in BGRX order. Luma coefficients sum to 220 and
 * chroma ones to 0, which is what makes the SIMD bias trick exact: the
 * kernels compute sum(k*(p-128)) with pmaddubsw and add back 128*220. */
static const tdm_yuv_coeffs coeffs[2] = {
    [TDM_MATRIX_BT601] = {.y = {25, 129, 66, 0}, .u = {112, -74, -38, 0}, .v = {-18, -94, 112, 0}},
    [TDM_MATRIX_BT709] = {.y = {16, 157, 47, 0}, .u = {112, -86, -26, 0}, .v = {-10, -102, 112, 0}},
};

const char *tdm_matrix_name(tdm_matrix m)
{
    return m == TDM_MATRIX_BT709 ? "bt709" : "bt601";
}

bool tdm_matrix_parse(const char *name, tdm_matrix *out)
{
    if (strcmp(name, "bt601") == 0) {
        *out = TDM_MATRIX_BT601;
        return true;
    }
    if (strcmp(name, "bt709") == 0) {
        *out = TDM_MATRIX_BT709;
        return true;
    }
    return false;
}

static inline uint8_t avg_up(unsigned a, unsigned b)
{
    return (uint8_t)((a + b + 1) >> 1);
}

static inline uint8_t luma(const tdm_yuv_coeffs *k, const uint8_t *p)
{
    return (uint8_t)((k->y[0] * p[0] + k->y[1] * p[1] + k->y[2] * p[2] + 0x1080) >> 8);
}

static inline uint8_t chroma(const int8_t *c, unsigned b, unsigned g, unsigned r)
{
    return (uint8_t)((c[0] * (int)b + c[1] * (int)g + c[2] * (int)r + 0x8080) >> 8);
}

/* The reference: pixels [x0, width) of a row pair; x0 is even. */
static void convert_rows_scalar(const uint8_t *s0, const uint8_t *s1, uint8_t *y0, uint8_t *y1,
                                uint8_t *u, uint8_t *v, int x0, int width,
                                const tdm_yuv_coeffs *k)
{
    for (int x = x0; x < width; x += 2) {
        const uint8_t *a = s0 + 4 * x, *b = s1 + 4 * x;
        int x1 = x + 1 < width ? x + 1 : x; /* odd width: repeat the last column */
        const uint8_t *c = s0 + 4 * x1, *d = s1 + 4 * x1;
        y0[x] = luma(k, a);
        y1[x] = luma(k, b);
        if (x1 != x) {
            y0[x1] = luma(k, c);
            y1[x1] = luma(k, d);
        }
        uint8_t bl = avg_up(avg_up(a[0], b[0]), avg_up(c[0], d[0]));
        uint8_t gr = avg_up(avg_up(a[1], b[1]), avg_up(c[1], d[1]));
        uint8_t rd = avg_up(avg_up(a[2], b[2]), avg_up(c[2], d[2]));
        u[x / 2] = chroma(k->u, bl, gr, rd);
        v[x / 2] = chroma(k->v, bl, gr, rd);
    }
}

static tdm_status pick_kernel(tdm_simd path, tdm_convert_rows_fn *fn, int *lanes)
{
    if (!tdm_cpu_supports(path))
        return TDM_ERR_UNSUPPORTED;
    *fn = NULL;
    *lanes = 0;
    switch (path) {
    case TDM_SIMD_SCALAR:
        return TDM_OK;
#ifdef TDM_HAVE_X86_SIMD
    case TDM_SIMD_SSSE3:
        *fn = tdm__convert_rows_ssse3;
        *lanes = 16;
        return TDM_OK;
    case TDM_SIMD_AVX2:
        *fn = tdm__convert_rows_avx2;
        *lanes = 32;
        return TDM_OK;
    case TDM_SIMD_AVXVNNI:
        *fn = tdm__convert_rows_avxvnni;
        *lanes = 32;
        return TDM_OK;
#endif
    default:
        return TDM_ERR_UNSUPPORTED;
    }
}

tdm_status tdm_convert_bgra_to_i420_with(tdm_simd path, const tdm_bgra *src,
                                         const tdm_i420 *dst, tdm_matrix m)
{
    if (tdm_bgra_check(src, NULL) != TDM_OK || tdm_i420_check(dst, NULL) != TDM_OK)
        return TDM_ERR_INVALID;
    if (src->width != dst->width || src->height != dst->height)
        return TDM_ERR_INVALID;
    if (m != TDM_MATRIX_BT601 && m != TDM_MATRIX_BT709)
        return TDM_ERR_INVALID;
    tdm_convert_rows_fn kernel;
    int lanes;
    tdm_status st = pick_kernel(path, &kernel, &lanes);
    if (st != TDM_OK)
        return st;

    const tdm_yuv_coeffs *k = &coeffs[m];
    int w = src->width, h = src->height;
    int simd_w = lanes ? w / lanes * lanes : 0;
    for (int row = 0; row < h; row += 2) {
        const uint8_t *s0 = src->data + (size_t)row * src->stride;
        const uint8_t *s1 = row + 1 < h ? s0 + src->stride : s0;
        uint8_t *y0 = dst->y + (size_t)row * dst->stride_y;
        uint8_t *y1 = row + 1 < h ? y0 + dst->stride_y : y0;
        uint8_t *u = dst->u + (size_t)(row / 2) * dst->stride_u;
        uint8_t *v = dst->v + (size_t)(row / 2) * dst->stride_v;
        if (simd_w)
            kernel(s0, s1, y0, y1, u, v, simd_w, k);
        if (simd_w < w)
            convert_rows_scalar(s0, s1, y0, y1, u, v, simd_w, w, k);
    }
    return TDM_OK;
}

tdm_status tdm_convert_bgra_to_i420(const tdm_bgra *src, const tdm_i420 *dst, tdm_matrix m)
{
    return tdm_convert_bgra_to_i420_with(tdm_cpu_best(), src, dst, m);
}

static inline uint8_t clamp255(int v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

tdm_status tdm_convert_i420_to_rgb24(const tdm_i420 *src, uint8_t *rgb, int rgb_stride,
                                     tdm_matrix m)
{
    if (tdm_i420_check(src, NULL) != TDM_OK || !rgb || rgb_stride < 3 * src->width)
        return TDM_ERR_INVALID;
    /* Inverse of the limited-range matrices, scaled by 1024. */
    const int ky = 1192;
    int rv, gu, gv, bu;
    if (m == TDM_MATRIX_BT709) {
        rv = 1836, gu = 218, gv = 546, bu = 2163;
    } else {
        rv = 1634, gu = 401, gv = 832, bu = 2066;
    }
    for (int row = 0; row < src->height; row++) {
        const uint8_t *yp = src->y + (size_t)row * src->stride_y;
        const uint8_t *up = src->u + (size_t)(row / 2) * src->stride_u;
        const uint8_t *vp = src->v + (size_t)(row / 2) * src->stride_v;
        uint8_t *out = rgb + (size_t)row * rgb_stride;
        for (int x = 0; x < src->width; x++) {
            int yy = ky * (yp[x] - 16) + 512;
            int uu = up[x / 2] - 128, vv = vp[x / 2] - 128;
            out[3 * x + 0] = clamp255((yy + rv * vv) >> 10);
            out[3 * x + 1] = clamp255((yy - gu * uu - gv * vv) >> 10);
            out[3 * x + 2] = clamp255((yy + bu * uu) >> 10);
        }
    }
    return TDM_OK;
}
