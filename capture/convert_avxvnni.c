/* convert_avxvnni.c: the AVX2 kernel with VEX dot products, 32 pixels a step.
 * Compiled with -mavx2 -mavxvnni; called only after
 * tdm_cpu_supports(TDM_SIMD_AVXVNNI).
 *
 * vpdpbusd sums the four byte products of a pixel into one 32-bit lane and
 * adds the bias in the same instruction, replacing pmaddubsw + phaddw + add
 * of convert_avx2.c (a third fewer instructions; the conversion is compute
 * bound once the frame is in cache). The arithmetic is unchanged: luma on
 * p-128 with unsigned coefficients plus 0x7E80, chroma on the averaged
 * pixel with signed coefficients plus 0x8080, so results are identical. */
#include <immintrin.h>
#include <string.h>

#include "convert_avx2_common.h"
#include "convert_internal.h"

static inline __m256i luma32(__m256i p0, __m256i p1, __m256i p2, __m256i p3, __m256i ky,
                             __m256i flip, __m256i bias, __m256i order)
{
    __m256i s0 = _mm256_dpbusd_avx_epi32(bias, ky, _mm256_xor_si256(p0, flip));
    __m256i s1 = _mm256_dpbusd_avx_epi32(bias, ky, _mm256_xor_si256(p1, flip));
    __m256i s2 = _mm256_dpbusd_avx_epi32(bias, ky, _mm256_xor_si256(p2, flip));
    __m256i s3 = _mm256_dpbusd_avx_epi32(bias, ky, _mm256_xor_si256(p3, flip));
    /* Sums are in [0x1080, 0xEBA4]: packus to 16 bits is exact. */
    __m256i lo = _mm256_srli_epi16(_mm256_packus_epi32(s0, s1), 8);
    __m256i hi = _mm256_srli_epi16(_mm256_packus_epi32(s2, s3), 8);
    return _mm256_permutevar8x32_epi32(_mm256_packus_epi16(lo, hi), order);
}

void tdm__convert_rows_avxvnni(const uint8_t *s0, const uint8_t *s1, uint8_t *y0, uint8_t *y1,
                               uint8_t *u, uint8_t *v, int n, const tdm_yuv_coeffs *k)
{
    const __m256i ky = tdm__broadcast4(k->y), ku = tdm__broadcast4(k->u), kv = tdm__broadcast4(k->v);
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    const __m256i ybias = _mm256_set1_epi32(0x7E80);
    const __m256i cbias = _mm256_set1_epi32(0x8080);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);

    for (int x = 0; x < n; x += 32) {
        const __m256i *pa = (const __m256i *)(s0 + 4 * x);
        const __m256i *pb = (const __m256i *)(s1 + 4 * x);
        tdm__prefetch_rows(s0, s1, 4 * x);
        __m256i a0 = _mm256_loadu_si256(pa), a1 = _mm256_loadu_si256(pa + 1);
        __m256i a2 = _mm256_loadu_si256(pa + 2), a3 = _mm256_loadu_si256(pa + 3);
        __m256i b0 = _mm256_loadu_si256(pb), b1 = _mm256_loadu_si256(pb + 1);
        __m256i b2 = _mm256_loadu_si256(pb + 2), b3 = _mm256_loadu_si256(pb + 3);

        _mm256_storeu_si256((__m256i *)(y0 + x), luma32(a0, a1, a2, a3, ky, flip, ybias, order));
        _mm256_storeu_si256((__m256i *)(y1 + x), luma32(b0, b1, b2, b3, ky, flip, ybias, order));

        __m256i h0 = tdm__pair_avg(_mm256_avg_epu8(a0, b0), _mm256_avg_epu8(a1, b1));
        __m256i h1 = tdm__pair_avg(_mm256_avg_epu8(a2, b2), _mm256_avg_epu8(a3, b3));
        /* Chroma sums are in [0x10F0, 0xF010]: packus is exact here too. */
        __m256i u16 = _mm256_packus_epi32(_mm256_dpbusd_avx_epi32(cbias, h0, ku),
                                          _mm256_dpbusd_avx_epi32(cbias, h1, ku));
        __m256i v16 = _mm256_packus_epi32(_mm256_dpbusd_avx_epi32(cbias, h0, kv),
                                          _mm256_dpbusd_avx_epi32(cbias, h1, kv));
        u16 = _mm256_permutevar8x32_epi32(_mm256_srli_epi16(u16, 8), order);
        v16 = _mm256_permutevar8x32_epi32(_mm256_srli_epi16(v16, 8), order);
        __m256i uv = _mm256_permute4x64_epi64(_mm256_packus_epi16(u16, v16), 0xD8);
        _mm_storeu_si128((__m128i *)(u + x / 2), _mm256_castsi256_si128(uv));
        _mm_storeu_si128((__m128i *)(v + x / 2), _mm256_extracti128_si256(uv, 1));
    }
}
