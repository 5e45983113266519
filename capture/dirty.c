/* dirty.c: tile bitmaps, rectangle merging, and the dirty-tile driver with
 * its scalar reference. */
#include "tdm_dirty.h"

#include <stdlib.h>
#include <string.h>

#include "dirty_internal.h"

#define MAX_COLS (TDM_MAX_DIMENSION / TDM_TILE_SIZE + 1)

tdm_status tdm_tilemap_init(tdm_tilemap *m, int width, int height)
{
    memset(m, 0, sizeof *m);
    tdm_status st = tdm_check_dimensions(width, height, NULL);
    if (st != TDM_OK)
        return st;
    m->width = width;
    m->height = height;
    m->cols = (width + TDM_TILE_SIZE - 1) / TDM_TILE_SIZE;
    m->rows = (height + TDM_TILE_SIZE - 1) / TDM_TILE_SIZE;
    m->words = (m->cols + 63) / 64;
    m->bits = calloc((size_t)m->rows * m->words, sizeof *m->bits);
    return m->bits ? TDM_OK : TDM_ERR_NOMEM;
}

void tdm_tilemap_free(tdm_tilemap *m)
{
    free(m->bits);
    memset(m, 0, sizeof *m);
}

void tdm_tilemap_clear(tdm_tilemap *m)
{
    memset(m->bits, 0, (size_t)m->rows * m->words * sizeof *m->bits);
}

void tdm_tilemap_fill(tdm_tilemap *m)
{
    tdm_tilemap_clear(m);
    for (int r = 0; r < m->rows; r++)
        for (int c = 0; c < m->cols; c++)
            tdm_tilemap_set(m, c, r);
}

size_t tdm_tilemap_count(const tdm_tilemap *m)
{
    size_t n = 0;
    for (size_t i = 0; i < (size_t)m->rows * m->words; i++)
        n += (size_t)__builtin_popcountll(m->bits[i]);
    return n;
}

void tdm_tilemap_add_rect(tdm_tilemap *m, tdm_rect r)
{
    tdm_rect c = tdm_rect_clip(r, m->width, m->height);
    if (c.w == 0 || c.h == 0)
        return;
    int c0 = c.x / TDM_TILE_SIZE, c1 = (c.x + c.w - 1) / TDM_TILE_SIZE;
    int r0 = c.y / TDM_TILE_SIZE, r1 = (c.y + c.h - 1) / TDM_TILE_SIZE;
    for (int row = r0; row <= r1; row++)
        for (int col = c0; col <= c1; col++)
            tdm_tilemap_set(m, col, row);
}

typedef struct open_run {
    int c0, c1, r0;
} open_run;

static size_t emit(const tdm_tilemap *m, open_run run, int r_end, tdm_rect *out, size_t max,
                   size_t n)
{
    if (n < max) {
        tdm_rect r = {run.c0 * TDM_TILE_SIZE, run.r0 * TDM_TILE_SIZE,
                      (run.c1 - run.c0) * TDM_TILE_SIZE, (r_end - run.r0) * TDM_TILE_SIZE};
        out[n] = tdm_rect_clip(r, m->width, m->height);
    }
    return n + 1;
}

size_t tdm_tilemap_rects(const tdm_tilemap *m, tdm_rect *out, size_t max)
{
    /* At most one run per two columns is open at a time. */
    open_run open[MAX_COLS / 2 + 1], next[MAX_COLS / 2 + 1];
    int nopen = 0;
    size_t n = 0;
    for (int row = 0; row <= m->rows; row++) {
        int nnext = 0, oi = 0;
        int col = 0;
        while (row < m->rows && col < m->cols) {
            if (!tdm_tilemap_test(m, col, row)) {
                col++;
                continue;
            }
            int c0 = col;
            while (col < m->cols && tdm_tilemap_test(m, col, row))
                col++;
            /* Runs are sorted by c0 in both lists: close open runs that end
             * before this one, extend the one that matches exactly. */
            while (oi < nopen && open[oi].c0 < c0)
                n = emit(m, open[oi], row, out, max, n), oi++;
            if (oi < nopen && open[oi].c0 == c0 && open[oi].c1 == col)
                next[nnext++] = open[oi++];
            else
                next[nnext++] = (open_run){c0, col, row};
        }
        while (oi < nopen)
            n = emit(m, open[oi], row, out, max, n), oi++;
        memcpy(open, next, (size_t)nnext * sizeof *next);
        nopen = nnext;
    }
    return n;
}

static void diff_tiles_scalar(const uint8_t *cur, int cur_stride, const uint8_t *prev,
                              int prev_stride, int rows, int ntiles, int last_width,
                              const uint8_t *cand, uint8_t *dirty)
{
    for (int t = 0; t < ntiles; t++) {
        if (cand && !cand[t])
            continue;
        size_t bytes = 4 * (size_t)(t == ntiles - 1 ? last_width : TDM_TILE_SIZE);
        for (int r = 0; r < rows && !dirty[t]; r++) {
            const uint8_t *a = cur + (size_t)r * cur_stride + (size_t)t * 4 * TDM_TILE_SIZE;
            const uint8_t *b = prev + (size_t)r * prev_stride + (size_t)t * 4 * TDM_TILE_SIZE;
            if (memcmp(a, b, bytes) != 0)
                dirty[t] = 1;
        }
    }
}

tdm_diff_tiles_fn tdm__diff_kernel(int path)
{
    switch (path) {
#ifdef TDM_HAVE_X86_SIMD
    case TDM_SIMD_SSSE3: /* the 128-bit diff needs only SSE2 */
        return tdm__diff_tiles_sse2;
    case TDM_SIMD_AVX2:
    case TDM_SIMD_AVXVNNI: /* a compare has no dot products to gain from */
        return tdm__diff_tiles_avx2;
#endif
    default:
        return NULL;
    }
}

void tdm__dirty_stripe(tdm_diff_tiles_fn kernel, const tdm_bgra *cur, const tdm_bgra *prev,
                       int row, int cols, const uint8_t *cand_row, uint8_t *dirty)
{
    int y = row * TDM_TILE_SIZE;
    int rows = cur->height - y < TDM_TILE_SIZE ? cur->height - y : TDM_TILE_SIZE;
    const uint8_t *c = cur->data + (size_t)y * cur->stride;
    const uint8_t *p = prev->data + (size_t)y * prev->stride;
    int full = cur->width / TDM_TILE_SIZE;              /* tiles a kernel can take */
    int last_width = cur->width - full * TDM_TILE_SIZE; /* 0, or a narrow last tile */
    memset(dirty, 0, (size_t)cols);
    if (!kernel) {
        diff_tiles_scalar(c, cur->stride, p, prev->stride, rows, cols,
                          last_width ? last_width : TDM_TILE_SIZE, cand_row, dirty);
        return;
    }
    if (full)
        kernel(c, cur->stride, p, prev->stride, rows, full, cand_row, dirty);
    if (last_width) {
        size_t off = (size_t)full * 4 * TDM_TILE_SIZE;
        diff_tiles_scalar(c + off, cur->stride, p + off, prev->stride, rows, 1, last_width,
                          cand_row ? cand_row + full : NULL, dirty + full);
    }
}

tdm_status tdm_dirty_detect_with(tdm_simd path, const tdm_bgra *cur, const tdm_bgra *prev,
                                 const tdm_tilemap *candidates, tdm_tilemap *out)
{
    if (tdm_bgra_check(cur, NULL) != TDM_OK || tdm_bgra_check(prev, NULL) != TDM_OK || !out ||
        !out->bits)
        return TDM_ERR_INVALID;
    if (cur->width != prev->width || cur->height != prev->height || out->width != cur->width ||
        out->height != cur->height)
        return TDM_ERR_INVALID;
    if (candidates && (candidates->width != cur->width || candidates->height != cur->height))
        return TDM_ERR_INVALID;
    if (!tdm_cpu_supports(path))
        return TDM_ERR_UNSUPPORTED;
    tdm_diff_tiles_fn kernel = tdm__diff_kernel(path);

    uint8_t cand[MAX_COLS], dirty[MAX_COLS];
    tdm_tilemap_clear(out);
    for (int row = 0; row < out->rows; row++) {
        const uint8_t *cand_row = NULL;
        if (candidates) {
            bool any = false;
            for (int col = 0; col < out->cols; col++)
                any |= (bool)(cand[col] = tdm_tilemap_test(candidates, col, row));
            if (!any)
                continue;
            cand_row = cand;
        }
        tdm__dirty_stripe(kernel, cur, prev, row, out->cols, cand_row, dirty);
        for (int col = 0; col < out->cols; col++)
            if (dirty[col])
                tdm_tilemap_set(out, col, row);
    }
    return TDM_OK;
}

tdm_status tdm_dirty_detect(const tdm_bgra *cur, const tdm_bgra *prev,
                            const tdm_tilemap *candidates, tdm_tilemap *out)
{
    return tdm_dirty_detect_with(tdm_cpu_best(), cur, prev, candidates, out);
}
