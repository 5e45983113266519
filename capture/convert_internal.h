/* convert_internal.h: the contract between convert.c and its SIMD kernels. */
#ifndef TDM_CONVERT_INTERNAL_H
#define TDM_CONVERT_INTERNAL_H

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>

/* A conversion streams two source rows at once; the hardware prefetcher
 * alone leaves a cold frame at ~1.5x the memory floor on the machines we
 * measured, so the kernels ask for the lines 2 KiB (512 pixels) ahead of
 * each row themselves. Measured best of 0.5-4 KiB in bench_capture's cold
 * case; a prefetch past the end of a buffer never faults. */
#define TDM_CONVERT_PREFETCH_BYTES 2048

static inline void tdm__prefetch_rows(const uint8_t *s0, const uint8_t *s1, int offset)
{
    const char *a = (const char *)s0 + offset + TDM_CONVERT_PREFETCH_BYTES;
    const char *b = (const char *)s1 + offset + TDM_CONVERT_PREFETCH_BYTES;
    _mm_prefetch(a, _MM_HINT_T0);
    _mm_prefetch(a + 64, _MM_HINT_T0);
    _mm_prefetch(b, _MM_HINT_T0);
    _mm_prefetch(b + 64, _MM_HINT_T0);
}
#endif

/* Coefficients laid out as one BGRX pixel, so a kernel broadcasts each to a
 * register: y[] are unsigned (applied to pixel-128, see convert.c), u[] and v[]
 * signed. */
typedef struct tdm_yuv_coeffs {
    uint8_t y[4];
    int8_t u[4];
    int8_t v[4];
} tdm_yuv_coeffs;

/* Converts n pixels (n a multiple of the kernel's width: 16 for SSSE3, 32 for
 * AVX2) of two source rows into two luma rows and one row each of U and V.
 * For an odd last row the caller passes s1 == s0 and y1 == y0. */
typedef void (*tdm_convert_rows_fn)(const uint8_t *s0, const uint8_t *s1, uint8_t *y0,
                                    uint8_t *y1, uint8_t *u, uint8_t *v, int n,
                                    const tdm_yuv_coeffs *k);

void tdm__convert_rows_ssse3(const uint8_t *s0, const uint8_t *s1, uint8_t *y0, uint8_t *y1,
                             uint8_t *u, uint8_t *v, int n, const tdm_yuv_coeffs *k);
void tdm__convert_rows_avxvnni(const uint8_t *s0, const uint8_t *s1, uint8_t *y0, uint8_t *y1,
                               uint8_t *u, uint8_t *v, int n, const tdm_yuv_coeffs *k);
void tdm__convert_rows_avx2(const uint8_t *s0, const uint8_t *s1, uint8_t *y0, uint8_t *y1,
                            uint8_t *u, uint8_t *v, int n, const tdm_yuv_coeffs *k);

#endif
