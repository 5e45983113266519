/* convert_avx2_common.h: helpers shared by the 256-bit kernels
 * (convert_avx2.c, convert_avxvnni.c). Include only from files compiled
 * with -mavx2: these are inlined into each kernel under its own flags. */
#ifndef TDM_CONVERT_AVX2_COMMON_H
#define TDM_CONVERT_AVX2_COMMON_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* One BGRX pixel's worth of coefficient bytes, in every 32-bit lane. */
static inline __m256i tdm__broadcast4(const void *bytes)
{
    int32_t w;
    memcpy(&w, bytes, 4);
    return _mm256_set1_epi32(w);
}

/* Averages horizontally adjacent pixels of two registers of 8 pixels (the
 * second step of the 2x2 chroma average; results interleave by lane). */
static inline __m256i tdm__pair_avg(__m256i m0, __m256i m1)
{
    __m256 f0 = _mm256_castsi256_ps(m0), f1 = _mm256_castsi256_ps(m1);
    __m256i even = _mm256_castps_si256(_mm256_shuffle_ps(f0, f1, 0x88));
    __m256i odd = _mm256_castps_si256(_mm256_shuffle_ps(f0, f1, 0xDD));
    return _mm256_avg_epu8(even, odd);
}

#endif
