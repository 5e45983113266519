/* convert_ssse3.c: the 128-bit row kernel, 16 pixels a step.
 * Compiled with -mssse3; called only after tdm_cpu_supports(TDM_SIMD_SSSE3).
 *
 * Luma: pmaddubsw multiplies the unsigned coefficients by the pixel bytes
 * made signed by flipping their top bit (p-128), so G's 129 fits; phaddw
 * adds the (B,G) and (R,X) pairs; adding 128*220 + 0x1080 = 0x7E80 (mod 2^16)
 * restores the unsigned sum exactly, and >>8 gives Y.
 * Chroma: pavgb of the two rows, then of even and odd pixels, then the same
 * pmaddubsw/phaddw with signed coefficients plus 0x8080. */
#include <string.h>
#include <tmmintrin.h>

#include "convert_internal.h"

static inline __m128i broadcast4(const void *bytes)
{
    int32_t w;
    memcpy(&w, bytes, 4);
    return _mm_set1_epi32(w);
}

static inline __m128i luma16(__m128i p0, __m128i p1, __m128i p2, __m128i p3, __m128i ky,
                             __m128i flip, __m128i bias)
{
    __m128i t0 = _mm_maddubs_epi16(ky, _mm_xor_si128(p0, flip));
    __m128i t1 = _mm_maddubs_epi16(ky, _mm_xor_si128(p1, flip));
    __m128i t2 = _mm_maddubs_epi16(ky, _mm_xor_si128(p2, flip));
    __m128i t3 = _mm_maddubs_epi16(ky, _mm_xor_si128(p3, flip));
    __m128i lo = _mm_srli_epi16(_mm_add_epi16(_mm_hadd_epi16(t0, t1), bias), 8);
    __m128i hi = _mm_srli_epi16(_mm_add_epi16(_mm_hadd_epi16(t2, t3), bias), 8);
    return _mm_packus_epi16(lo, hi);
}

/* Averages horizontally adjacent pixels of two registers of 4 pixels. */
static inline __m128i pair_avg(__m128i m0, __m128i m1)
{
    __m128 f0 = _mm_castsi128_ps(m0), f1 = _mm_castsi128_ps(m1);
    __m128i even = _mm_castps_si128(_mm_shuffle_ps(f0, f1, 0x88));
    __m128i odd = _mm_castps_si128(_mm_shuffle_ps(f0, f1, 0xDD));
    return _mm_avg_epu8(even, odd);
}

void tdm__convert_rows_ssse3(const uint8_t *s0, const uint8_t *s1, uint8_t *y0, uint8_t *y1,
                             uint8_t *u, uint8_t *v, int n, const tdm_yuv_coeffs *k)
{
    const __m128i ky = broadcast4(k->y), ku = broadcast4(k->u), kv = broadcast4(k->v);
    const __m128i flip = _mm_set1_epi8((char)0x80);
    const __m128i ybias = _mm_set1_epi16(0x7E80);
    const __m128i cbias = _mm_set1_epi16((short)0x8080);

    for (int x = 0; x < n; x += 16) {
        const __m128i *pa = (const __m128i *)(s0 + 4 * x);
        const __m128i *pb = (const __m128i *)(s1 + 4 * x);
        tdm__prefetch_rows(s0, s1, 4 * x);
        __m128i a0 = _mm_loadu_si128(pa), a1 = _mm_loadu_si128(pa + 1);
        __m128i a2 = _mm_loadu_si128(pa + 2), a3 = _mm_loadu_si128(pa + 3);
        __m128i b0 = _mm_loadu_si128(pb), b1 = _mm_loadu_si128(pb + 1);
        __m128i b2 = _mm_loadu_si128(pb + 2), b3 = _mm_loadu_si128(pb + 3);

        _mm_storeu_si128((__m128i *)(y0 + x), luma16(a0, a1, a2, a3, ky, flip, ybias));
        _mm_storeu_si128((__m128i *)(y1 + x), luma16(b0, b1, b2, b3, ky, flip, ybias));

        __m128i h0 = pair_avg(_mm_avg_epu8(a0, b0), _mm_avg_epu8(a1, b1));
        __m128i h1 = pair_avg(_mm_avg_epu8(a2, b2), _mm_avg_epu8(a3, b3));
        __m128i u16 = _mm_hadd_epi16(_mm_maddubs_epi16(h0, ku), _mm_maddubs_epi16(h1, ku));
        __m128i v16 = _mm_hadd_epi16(_mm_maddubs_epi16(h0, kv), _mm_maddubs_epi16(h1, kv));
        u16 = _mm_srli_epi16(_mm_add_epi16(u16, cbias), 8);
        v16 = _mm_srli_epi16(_mm_add_epi16(v16, cbias), 8);
        __m128i uv = _mm_packus_epi16(u16, v16);
        _mm_storel_epi64((__m128i *)(u + x / 2), uv);
        _mm_storel_epi64((__m128i *)(v + x / 2), _mm_srli_si128(uv, 8));
    }
}
