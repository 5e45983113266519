/* tdm_frame: the images that flow through capture and conversion.
 *
 * tdm_bgra is a borrowed view of 32-bit pixels in X11's little-endian layout
 * (bytes B, G, R, X/A). tdm_i420 is planar 4:2:0 (full-size Y, half-size U
 * and V rounded up); it is either a view or owned through tdm_i420_alloc.
 * A tdm_frame is what a frame source yields: one of the two formats, the
 * frame number and capture time, and what the source knows about which
 * region changed since its previous frame. */
#ifndef TDM_FRAME_H
#define TDM_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

/* Largest width or height any Tandem component accepts (8K is 7680). */
#define TDM_MAX_DIMENSION 16384

typedef struct tdm_rect {
    int x, y, w, h;
} tdm_rect;

typedef struct tdm_bgra {
    const uint8_t *data; /* borrowed; first pixel of the first row */
    int width, height;
    int stride; /* bytes between rows, >= 4 * width */
} tdm_bgra;

typedef struct tdm_i420 {
    uint8_t *y, *u, *v;
    int stride_y, stride_u, stride_v;
    int width, height;     /* luma size; chroma is (w+1)/2 x (h+1)/2 */
    void *owned;           /* non-NULL when tdm_i420_alloc made the planes */
} tdm_i420;

typedef enum tdm_pixfmt {
    TDM_PIXFMT_BGRA = 1,
    TDM_PIXFMT_I420 = 2,
} tdm_pixfmt;

typedef struct tdm_frame {
    tdm_pixfmt format;
    tdm_bgra bgra; /* valid when format == TDM_PIXFMT_BGRA */
    tdm_i420 i420; /* valid when format == TDM_PIXFMT_I420 (a view) */
    uint64_t number;     /* frame number from the source, 0-based */
    uint64_t capture_us; /* capture time, microseconds (source's clock) */
    /* Damage: the regions that changed since the source's previous frame.
     * damage_known false means "unknown, diff everything"; true with
     * damage_count 0 means "nothing changed". Borrowed, like the pixels. */
    bool damage_known;
    const tdm_rect *damage;
    size_t damage_count;
} tdm_frame;

/* Checks a width/height pair against [1, TDM_MAX_DIMENSION]. */
tdm_status tdm_check_dimensions(int width, int height, tdm_error *err);

/* Checks that a BGRA view is usable: non-NULL data, sane size and stride. */
tdm_status tdm_bgra_check(const tdm_bgra *img, tdm_error *err);

/* Checks that an I420 view is usable: non-NULL planes, strides >= widths. */
tdm_status tdm_i420_check(const tdm_i420 *img, tdm_error *err);

/* Allocates planes for a width x height image, strides rounded to 64 bytes,
 * each plane 64-byte aligned, contents zero. Free with tdm_i420_free. */
tdm_status tdm_i420_alloc(tdm_i420 *img, int width, int height);
void tdm_i420_free(tdm_i420 *img);

/* A view of the part of img inside r. r.x and r.y must be even, so that the
 * chroma planes of the view line up with the luma plane. */
tdm_i420 tdm_i420_view(const tdm_i420 *img, tdm_rect r);
tdm_bgra tdm_bgra_view(const tdm_bgra *img, tdm_rect r);

/* Intersection of r with [0,w) x [0,h); may come back empty (w or h 0). */
tdm_rect tdm_rect_clip(tdm_rect r, int width, int height);

#endif
