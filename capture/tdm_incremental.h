/* tdm_incremental: keeps a standing I420 frame up to date by converting only
 * the tiles that changed.
 *
 * It owns a copy of the last BGRA frame it converted (the reference) and the
 * I420 image. For each new frame it walks the frame one 32-row stripe at a
 * time: compares the candidate tiles with the reference, and while that
 * stripe is still in cache copies the changed tiles into the reference and
 * converts them. Candidates are the tiles the frame's damage touches when the
 * source knows its damage (X11 DAMAGE, the synthetic source), else all tiles.
 * The first frame, and the first after tdm_incremental_reset, is converted
 * whole. The result equals converting every frame in full (tested). */
#ifndef TDM_INCREMENTAL_H
#define TDM_INCREMENTAL_H

#include "tdm_convert.h"
#include "tdm_dirty.h"

typedef struct tdm_incremental tdm_incremental;

tdm_status tdm_incremental_new(int width, int height, tdm_matrix m, tdm_incremental **out);
void tdm_incremental_free(tdm_incremental *inc);

/* Chooses the SIMD path (default: tdm_cpu_best()); for tests and benchmarks. */
tdm_status tdm_incremental_set_path(tdm_incremental *inc, tdm_simd path);

/* Converts a TDM_PIXFMT_BGRA frame of the size given at creation. On TDM_OK,
 * *changed (if not NULL) points at the tiles that changed, owned by inc and
 * valid until the next call. */
tdm_status tdm_incremental_convert(tdm_incremental *inc, const tdm_frame *frame,
                                   const tdm_tilemap **changed);

/* The standing I420 image, owned by inc. */
const tdm_i420 *tdm_incremental_image(const tdm_incremental *inc);

/* Makes the next frame convert in full (e.g. after the source was restarted). */
void tdm_incremental_reset(tdm_incremental *inc);

#endif
