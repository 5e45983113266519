/* dirty_avx2.c: tile comparison, 256-bit. Compiled with -mavx2.
 * Rows are walked in memory order (what the prefetcher streams best); a tile
 * found dirty is skipped for the rest of its rows, and the stripe ends early
 * once every candidate tile is dirty. */
#include <immintrin.h>

#include "dirty_internal.h"

void tdm__diff_tiles_avx2(const uint8_t *cur, int cur_stride, const uint8_t *prev,
                          int prev_stride, int rows, int ntiles, const uint8_t *cand,
                          uint8_t *dirty)
{
    int pending = 0;
    for (int t = 0; t < ntiles; t++)
        pending += (!cand || cand[t]) && !dirty[t];
    for (int r = 0; r < rows && pending > 0; r++) {
        const __m256i *a = (const __m256i *)(cur + (size_t)r * cur_stride);
        const __m256i *b = (const __m256i *)(prev + (size_t)r * prev_stride);
        for (int t = 0; t < ntiles; t++, a += 4, b += 4) {
            if ((cand && !cand[t]) || dirty[t])
                continue;
            __m256i x0 = _mm256_xor_si256(_mm256_loadu_si256(a), _mm256_loadu_si256(b));
            __m256i x1 = _mm256_xor_si256(_mm256_loadu_si256(a + 1), _mm256_loadu_si256(b + 1));
            __m256i x2 = _mm256_xor_si256(_mm256_loadu_si256(a + 2), _mm256_loadu_si256(b + 2));
            __m256i x3 = _mm256_xor_si256(_mm256_loadu_si256(a + 3), _mm256_loadu_si256(b + 3));
            __m256i x = _mm256_or_si256(_mm256_or_si256(x0, x1), _mm256_or_si256(x2, x3));
            if (!_mm256_testz_si256(x, x)) {
                dirty[t] = 1;
                pending--;
            }
        }
    }
}
