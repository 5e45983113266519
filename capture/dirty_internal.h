/* dirty_internal.h: the contract between dirty.c and its SIMD kernels. */
#ifndef TDM_DIRTY_INTERNAL_H
#define TDM_DIRTY_INTERNAL_H

#include <stdint.h>

/* Compares `rows` rows of `ntiles` full 32-pixel tiles starting at cur/prev.
 * cand[t] non-zero marks a tile to compare (cand NULL: all); dirty[t] is set
 * to 1 for each compared tile that differs and is never cleared. */
typedef void (*tdm_diff_tiles_fn)(const uint8_t *cur, int cur_stride, const uint8_t *prev,
                                  int prev_stride, int rows, int ntiles, const uint8_t *cand,
                                  uint8_t *dirty);

void tdm__diff_tiles_sse2(const uint8_t *cur, int cur_stride, const uint8_t *prev,
                          int prev_stride, int rows, int ntiles, const uint8_t *cand,
                          uint8_t *dirty);
void tdm__diff_tiles_avx2(const uint8_t *cur, int cur_stride, const uint8_t *prev,
                          int prev_stride, int rows, int ntiles, const uint8_t *cand,
                          uint8_t *dirty);

/* The kernel for a path, or NULL for the scalar reference. */
tdm_diff_tiles_fn tdm__diff_kernel(int path);

/* Compares tile row `row` of cur and prev into dirty[0..cols) (zeroed first),
 * with kernel for the full-width tiles and the scalar reference for a narrow
 * last tile. cand_row as for the kernels. Sizes are checked by the caller. */
struct tdm_bgra;
void tdm__dirty_stripe(tdm_diff_tiles_fn kernel, const struct tdm_bgra *cur,
                       const struct tdm_bgra *prev, int row, int cols, const uint8_t *cand_row,
                       uint8_t *dirty);

#endif
