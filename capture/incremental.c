/* incremental.c: the fused diff + copy + convert pass over changed tiles. */
#include "tdm_incremental.h"

#include <stdlib.h>
#include <string.h>

#include "dirty_internal.h"

#define MAX_COLS (TDM_MAX_DIMENSION / TDM_TILE_SIZE + 1)

struct tdm_incremental {
    int width, height;
    tdm_matrix matrix;
    tdm_simd path;
    bool primed; /* the reference holds a converted frame */
    uint8_t *ref_mem;
    tdm_bgra ref;
    tdm_i420 image;
    tdm_tilemap changed;
    tdm_tilemap candidates;
};

tdm_status tdm_incremental_new(int width, int height, tdm_matrix m, tdm_incremental **out)
{
    *out = NULL;
    tdm_status st = tdm_check_dimensions(width, height, NULL);
    if (st != TDM_OK)
        return st;
    if (m != TDM_MATRIX_BT601 && m != TDM_MATRIX_BT709)
        return TDM_ERR_INVALID;
    tdm_incremental *inc = calloc(1, sizeof *inc);
    if (!inc)
        return TDM_ERR_NOMEM;
    inc->width = width;
    inc->height = height;
    inc->matrix = m;
    inc->path = tdm_cpu_best();
    int stride = (4 * width + 63) / 64 * 64;
    inc->ref_mem = aligned_alloc(64, (size_t)stride * height);
    if (!inc->ref_mem || tdm_i420_alloc(&inc->image, width, height) != TDM_OK ||
        tdm_tilemap_init(&inc->changed, width, height) != TDM_OK ||
        tdm_tilemap_init(&inc->candidates, width, height) != TDM_OK) {
        tdm_incremental_free(inc);
        return TDM_ERR_NOMEM;
    }
    inc->ref = (tdm_bgra){.data = inc->ref_mem, .width = width, .height = height, .stride = stride};
    *out = inc;
    return TDM_OK;
}

void tdm_incremental_free(tdm_incremental *inc)
{
    if (!inc)
        return;
    free(inc->ref_mem);
    tdm_i420_free(&inc->image);
    tdm_tilemap_free(&inc->changed);
    tdm_tilemap_free(&inc->candidates);
    free(inc);
}

tdm_status tdm_incremental_set_path(tdm_incremental *inc, tdm_simd path)
{
    if (!tdm_cpu_supports(path))
        return TDM_ERR_UNSUPPORTED;
    inc->path = path;
    return TDM_OK;
}

const tdm_i420 *tdm_incremental_image(const tdm_incremental *inc)
{
    return &inc->image;
}

void tdm_incremental_reset(tdm_incremental *inc)
{
    inc->primed = false;
}

static void copy_rect(const tdm_bgra *src, const tdm_bgra *dst, tdm_rect r)
{
    for (int y = r.y; y < r.y + r.h; y++)
        memcpy((uint8_t *)dst->data + (size_t)y * dst->stride + 4 * (size_t)r.x,
               src->data + (size_t)y * src->stride + 4 * (size_t)r.x, 4 * (size_t)r.w);
}

static tdm_status convert_rect(tdm_incremental *inc, const tdm_bgra *src, tdm_rect r)
{
    tdm_bgra sv = tdm_bgra_view(src, r);
    tdm_i420 dv = tdm_i420_view(&inc->image, r);
    return tdm_convert_bgra_to_i420_with(inc->path, &sv, &dv, inc->matrix);
}

static tdm_status convert_whole(tdm_incremental *inc, const tdm_bgra *src)
{
    tdm_rect all = {0, 0, inc->width, inc->height};
    copy_rect(src, &inc->ref, all);
    tdm_tilemap_fill(&inc->changed);
    tdm_status st = convert_rect(inc, src, all);
    if (st == TDM_OK)
        inc->primed = true;
    return st;
}

tdm_status tdm_incremental_convert(tdm_incremental *inc, const tdm_frame *frame,
                                   const tdm_tilemap **changed)
{
    if (!inc || !frame || frame->format != TDM_PIXFMT_BGRA)
        return TDM_ERR_INVALID;
    const tdm_bgra *src = &frame->bgra;
    tdm_status st = tdm_bgra_check(src, NULL);
    if (st != TDM_OK)
        return st;
    if (src->width != inc->width || src->height != inc->height)
        return TDM_ERR_INVALID;
    if (changed)
        *changed = &inc->changed;
    if (!inc->primed)
        return convert_whole(inc, src);

    const tdm_tilemap *cand_map = NULL;
    if (frame->damage_known) {
        if (frame->damage_count > 0 && !frame->damage)
            return TDM_ERR_INVALID;
        tdm_tilemap_clear(&inc->candidates);
        for (size_t i = 0; i < frame->damage_count; i++)
            tdm_tilemap_add_rect(&inc->candidates, frame->damage[i]);
        cand_map = &inc->candidates;
    }

    tdm_diff_tiles_fn kernel = tdm__diff_kernel(inc->path);
    uint8_t cand[MAX_COLS], dirty[MAX_COLS];
    tdm_tilemap_clear(&inc->changed);
    for (int row = 0; row < inc->changed.rows; row++) {
        const uint8_t *cand_row = NULL;
        if (cand_map) {
            /* Most rows have no candidate at all: test whole words first. */
            const uint64_t *words = cand_map->bits + (size_t)row * cand_map->words;
            uint64_t any = 0;
            for (int i = 0; i < cand_map->words; i++)
                any |= words[i];
            if (!any)
                continue;
            for (int col = 0; col < cand_map->cols; col++)
                cand[col] = (uint8_t)((words[col / 64] >> (col % 64)) & 1);
            cand_row = cand;
        }
        tdm__dirty_stripe(kernel, src, &inc->ref, row, inc->changed.cols, cand_row, dirty);
        /* Runs of changed tiles become one copy and one conversion each. */
        for (int col = 0; col < inc->changed.cols;) {
            if (!dirty[col]) {
                col++;
                continue;
            }
            int c0 = col;
            while (col < inc->changed.cols && dirty[col])
                tdm_tilemap_set(&inc->changed, col++, row);
            tdm_rect r = {c0 * TDM_TILE_SIZE, row * TDM_TILE_SIZE, (col - c0) * TDM_TILE_SIZE,
                          TDM_TILE_SIZE};
            r = tdm_rect_clip(r, inc->width, inc->height);
            copy_rect(src, &inc->ref, r);
            st = convert_rect(inc, src, r);
            if (st != TDM_OK) {
                inc->primed = false; /* the reference and the image disagree now */
                return st;
            }
        }
    }
    return TDM_OK;
}
