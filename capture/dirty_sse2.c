/* dirty_sse2.c: tile comparison, 128-bit. Compiled with -msse2 (baseline on
 * x86-64). Same walk as dirty_avx2.c. */
#include <emmintrin.h>

#include "dirty_internal.h"

void tdm__diff_tiles_sse2(const uint8_t *cur, int cur_stride, const uint8_t *prev,
                          int prev_stride, int rows, int ntiles, const uint8_t *cand,
                          uint8_t *dirty)
{
    int pending = 0;
    for (int t = 0; t < ntiles; t++)
        pending += (!cand || cand[t]) && !dirty[t];
    const __m128i zero = _mm_setzero_si128();
    for (int r = 0; r < rows && pending > 0; r++) {
        const __m128i *a = (const __m128i *)(cur + (size_t)r * cur_stride);
        const __m128i *b = (const __m128i *)(prev + (size_t)r * prev_stride);
        for (int t = 0; t < ntiles; t++, a += 8, b += 8) {
            if ((cand && !cand[t]) || dirty[t])
                continue;
            __m128i x = zero;
            for (int i = 0; i < 8; i++)
                x = _mm_or_si128(x, _mm_xor_si128(_mm_loadu_si128(a + i), _mm_loadu_si128(b + i)));
            if (_mm_movemask_epi8(_mm_cmpeq_epi8(x, zero)) != 0xFFFF) {
                dirty[t] = 1;
                pending--;
            }
        }
    }
}
