/* canvas.h: 2D drawing on a 32-bit BGRA canvas, internal to capture/.
 *
 * Owns the canvas (a borrowed grid of pixels stored as little-endian 32-bit
 * words 0xXXRRGGBB, i.e. bytes B, G, R, X), the rectangle arithmetic the
 * drawing code clips with, colour helpers, and the primitives that write
 * rectangles of pixels: fill, outline, copy. Fill and outline clip to the
 * canvas; copy does not. Rectangles are half-open: x in [r.x, r.x + r.w).
 * The rectangle and colour helpers are static inline because the synthetic
 * source calls them per pixel and per text cell. */
#ifndef TDM_CANVAS_H
#define TDM_CANVAS_H

#include <stdbool.h>
#include <stdint.h>

#include "tdm_frame.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "canvas.h stores BGRA pixels as little-endian 32-bit words"
#endif

typedef struct tdm_canvas {
    uint32_t *px; /* borrowed; pixel (x, y) is px[y * pitch + x] */
    int w, h;
    int pitch; /* pixels per row, >= w */
} tdm_canvas;

/* ---- rectangles ---- */

static inline tdm_rect tdm__rect(int x, int y, int w, int h)
{
    tdm_rect r = {x, y, w, h};
    return r;
}

static inline bool tdm__rect_empty(tdm_rect r)
{
    return r.w <= 0 || r.h <= 0;
}

/* a and b's overlap; when there is none, an empty rectangle (w = h = 0). */
static inline tdm_rect tdm__rect_isect(tdm_rect a, tdm_rect b)
{
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
    int y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    if (x1 <= x0 || y1 <= y0)
        return tdm__rect(x0, y0, 0, 0);
    return tdm__rect(x0, y0, x1 - x0, y1 - y0);
}

/* The smallest rectangle holding both a and b. */
static inline tdm_rect tdm__rect_bbox(tdm_rect a, tdm_rect b)
{
    int x0 = a.x < b.x ? a.x : b.x, y0 = a.y < b.y ? a.y : b.y;
    int x1 = a.x + a.w > b.x + b.w ? a.x + a.w : b.x + b.w;
    int y1 = a.y + a.h > b.y + b.h ? a.y + a.h : b.y + b.h;
    return tdm__rect(x0, y0, x1 - x0, y1 - y0);
}

static inline long tdm__rect_area(tdm_rect r)
{
    return (long)r.w * r.h;
}

/* a minus b as up to four disjoint rectangles in out; returns how many
 * (a itself, once, when they do not overlap). */
int tdm__rect_subtract(tdm_rect a, tdm_rect b, tdm_rect out[4]);

static inline tdm_rect tdm__canvas_bounds(const tdm_canvas *cv)
{
    return tdm__rect(0, 0, cv->w, cv->h);
}

/* ---- colours: opaque (X byte 255) ---- */

/* r, g and b must be in [0, 255]. */
static inline uint32_t tdm__rgb(int r, int g, int b)
{
    return 0xFF000000u | (uint32_t)r << 16 | (uint32_t)g << 8 | (uint32_t)b;
}

static inline int tdm__clamp255(int v)
{
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

/* Each component of c scaled by num/den, clamped to [0, 255]. */
static inline uint32_t tdm__shade(uint32_t c, int num, int den)
{
    int r = (int)(c >> 16 & 255) * num / den, g = (int)(c >> 8 & 255) * num / den,
        b = (int)(c & 255) * num / den;
    return tdm__rgb(tdm__clamp255(r), tdm__clamp255(g), tdm__clamp255(b));
}

/* c moved k256/256 of the way to white; k256 in [0, 256]. */
static inline uint32_t tdm__lighten(uint32_t c, int k256)
{
    int r = (int)(c >> 16 & 255), g = (int)(c >> 8 & 255), b = (int)(c & 255);
    return tdm__rgb(r + ((255 - r) * k256 >> 8), g + ((255 - g) * k256 >> 8),
                    b + ((255 - b) * k256 >> 8));
}

/* ---- drawing ---- */

/* Sets the pixels of r that lie on the canvas to c. */
void tdm__canvas_fill(tdm_canvas *cv, tdm_rect r, uint32_t c);

/* A frame of thickness t just inside r, clipped like fill. */
void tdm__canvas_outline(tdm_canvas *cv, tdm_rect r, int t, uint32_t c);

/* Copies the r.w x r.h pixels at (sx, sy) in src to r in dst. No clipping:
 * the caller keeps both rectangles inside their canvases. dst and src may
 * be the same canvas if the rectangles do not overlap or if sy > r.y: rows
 * are copied top to bottom, so moving pixels up (scrolling) is safe. */
void tdm__canvas_copy(tdm_canvas *dst, const tdm_canvas *src, tdm_rect r, int sx, int sy);

#endif
