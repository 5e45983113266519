/* tdm_convert: BGRA/BGRX (X11 little-endian) to I420, limited range.
 *
 * The arithmetic, which every path reproduces byte for byte:
 *   Y = (kr*R + kg*G + kb*B + 0x1080) >> 8
 *   chroma from each 2x2 block: first the two rows are averaged per byte with
 *   rounding up, (a+b+1)>>1, then the two columns the same way; a missing
 *   column (odd width) or row (odd height) repeats the one present. Then
 *   U = (ub*B + ug*G + ur*R + 0x8080) >> 8 and V likewise.
 * The coefficients are 8-bit fixed point (BT.601: Y 66/129/25, U -38/-74/112,
 * V 112/-94/-18; BT.709: Y 47/157/16, U -26/-86/112, V 112/-102/-10), which
 * is what libyuv and browsers use, so results agree with libyuv to +-1.
 *
 * Paths: scalar (the reference), SSSE3, AVX2; tdm_convert picks the best the
 * CPU runs (tdm_cpu_best). All of them read each source byte once. */
#ifndef TDM_CONVERT_H
#define TDM_CONVERT_H

#include "tdm_cpu.h"
#include "tdm_frame.h"

typedef enum tdm_matrix {
    TDM_MATRIX_BT601 = 0,
    TDM_MATRIX_BT709 = 1,
} tdm_matrix;

const char *tdm_matrix_name(tdm_matrix m);
bool tdm_matrix_parse(const char *name, tdm_matrix *out);

/* Converts src into dst; both must have the same width and height. dst may
 * be a view into a larger image (tdm_i420_view). */
tdm_status tdm_convert_bgra_to_i420(const tdm_bgra *src, const tdm_i420 *dst, tdm_matrix m);

/* The same with an explicit path, for tests and benchmarks. TDM_ERR_UNSUPPORTED
 * if this CPU cannot run it. */
tdm_status tdm_convert_bgra_to_i420_with(tdm_simd path, const tdm_bgra *src,
                                         const tdm_i420 *dst, tdm_matrix m);

/* I420 back to packed RGB (3 bytes a pixel, R first), for snapshots and
 * thumbnails: not a hot path, scalar only. */
tdm_status tdm_convert_i420_to_rgb24(const tdm_i420 *src, uint8_t *rgb, int rgb_stride,
                                     tdm_matrix m);

#endif
