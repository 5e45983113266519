/* tdm_dirty: which tiles of a frame changed, as a bitmap and as rectangles.
 *
 * Frames are cut into TDM_TILE_SIZE square tiles (the last column and row of
 * tiles may be narrower). 32 keeps tiles even (chroma lines up), covers
 * exactly 2x2 VP8/VP9 macroblocks, and makes one tile row 128 bytes of BGRA:
 * four AVX2 loads. A tile is dirty when any byte of its pixels differs.
 *
 * tdm_dirty_detect compares two frames, optionally only the candidate tiles
 * a damage report names, with the best SIMD path; _with picks the path. */
#ifndef TDM_DIRTY_H
#define TDM_DIRTY_H

#include <stdbool.h>

#include "tdm_cpu.h"
#include "tdm_frame.h"

#define TDM_TILE_SIZE 32

typedef struct tdm_tilemap {
    int width, height; /* pixels */
    int cols, rows;    /* tiles */
    int words;         /* uint64_t words per tile row */
    uint64_t *bits;    /* rows * words; bit c of word c/64 is column c */
} tdm_tilemap;

tdm_status tdm_tilemap_init(tdm_tilemap *m, int width, int height);
void tdm_tilemap_free(tdm_tilemap *m);
void tdm_tilemap_clear(tdm_tilemap *m);
void tdm_tilemap_fill(tdm_tilemap *m);

static inline bool tdm_tilemap_test(const tdm_tilemap *m, int col, int row)
{
    return (m->bits[(size_t)row * m->words + col / 64] >> (col % 64)) & 1;
}

static inline void tdm_tilemap_set(tdm_tilemap *m, int col, int row)
{
    m->bits[(size_t)row * m->words + col / 64] |= (uint64_t)1 << (col % 64);
}

size_t tdm_tilemap_count(const tdm_tilemap *m);

/* Marks every tile that r (in pixels, clipped to the frame) touches. */
void tdm_tilemap_add_rect(tdm_tilemap *m, tdm_rect r);

/* The marked tiles as rectangles in pixels, clipped to the frame: horizontal
 * runs of tiles, merged downward while the next row has the same run.
 * Writes at most max and returns how many there are (like snprintf). */
size_t tdm_tilemap_rects(const tdm_tilemap *m, tdm_rect *out, size_t max);

/* Sets out to the tiles where cur and prev differ. cur, prev and out must have
 * the same size. candidates, if not NULL, limits the comparison to its marked
 * tiles (others are reported clean without being read). */
tdm_status tdm_dirty_detect(const tdm_bgra *cur, const tdm_bgra *prev,
                            const tdm_tilemap *candidates, tdm_tilemap *out);
tdm_status tdm_dirty_detect_with(tdm_simd path, const tdm_bgra *cur, const tdm_bgra *prev,
                                 const tdm_tilemap *candidates, tdm_tilemap *out);

#endif
