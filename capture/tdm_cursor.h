/* tdm_cursor: drawing the pointer's image into a captured BGRX frame, and
 * taking it out again.
 *
 * Servers keep the cursor out of captured pixels (it lives in a hardware or
 * software overlay), so a viewer would see no pointer at all; the X11 source
 * composites the XFixes cursor image into its frame. That image is ARGB32
 * with premultiplied alpha, one uint32 per pixel (A in the top byte).
 *
 * The frame's pixels are the capture buffer itself, and a frame whose screen
 * did not change reuses that buffer without grabbing again, so whatever was
 * under the cursor is saved at drawing time and put back before the cursor
 * is drawn somewhere else. Sans-IO and allocation-free: the caller owns the
 * save area (TDM_CURSOR_SAVE_BYTES). */
#ifndef TDM_CURSOR_H
#define TDM_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "tdm_frame.h"

/* Cursors are drawn up to this size; a larger image is cut to its top-left
 * TDM_CURSOR_MAX square (no real theme comes near). */
#define TDM_CURSOR_MAX 256
#define TDM_CURSOR_SAVE_BYTES ((size_t)TDM_CURSOR_MAX * TDM_CURSOR_MAX * 4)

typedef struct tdm_cursor_image {
    const uint32_t *argb; /* premultiplied, width * height, rows packed */
    int width, height;
    int x, y; /* the image's top-left corner in frame coordinates
                 (pointer position minus hotspot minus the frame's origin) */
} tdm_cursor_image;

/* Draws c over the width x height frame at pixels (stride bytes per row),
 * first copying what it covers into save. Returns the rectangle drawn (in
 * frame coordinates, clipped to the frame and to TDM_CURSOR_MAX); w == 0
 * when nothing of the cursor is on the frame. */
tdm_rect tdm_cursor_draw(uint8_t *pixels, int stride, int width, int height,
                         const tdm_cursor_image *c, uint8_t *save);

/* Puts back what tdm_cursor_draw saved for rectangle r (its return value). */
void tdm_cursor_restore(uint8_t *pixels, int stride, tdm_rect r, const uint8_t *save);

#endif
