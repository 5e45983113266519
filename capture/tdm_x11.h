/* tdm_x11: capture of a real X display through MIT-SHM (xcb-shm).
 *
 * Frames are TDM_PIXFMT_BGRA (the X server's 24/32-bit TrueColor layout with
 * LSB-first image byte order), read from the whole root window of the
 * display's default screen (all monitors as one image) into a SysV
 * shared-memory segment made once at open; the frame's pixels point into
 * that segment (stride 4 * width), so they are overwritten by the next
 * capture. Open refuses servers without MIT-SHM, remote servers (which
 * cannot attach the segment) and other pixel layouts, with the reason in err.
 *
 * When use_damage is set and the server has DAMAGE and XFIXES 2, the frame's
 * damage lists the rectangles the server reports changed since the previous
 * capture (clipped to the screen; collapsed to their bounding box past a few
 * hundred), and a frame with nothing changed has damage_known true and
 * damage_count 0 (its pixels are the previous frame's). Without damage,
 * damage_known is false and the consumer diffs. The first frame always has
 * damage_known false, as does the frame after any failed next().
 *
 * A resize of the screen (RandR) is not followed: everything downstream was
 * sized at open, so next() fails with TDM_ERR_UNAVAILABLE from then on and
 * the caller reopens the source. The source is single-threaded; next()
 * allocates nothing beyond the replies xcb hands back. */
#ifndef TDM_X11_H
#define TDM_X11_H

#include <stdbool.h>

#include "tdm_source.h"

typedef struct tdm_x11_config {
    const char *display;  /* NULL: $DISPLAY */
    bool use_damage;      /* false forces the diffing fallback */
    double fps;           /* nominal rate reported by the source */
} tdm_x11_config;

/* Opens cfg->display (NULL: $DISPLAY). cfg->fps must be >= 0 (0: none).
 * A missing DAMAGE or XFIXES extension is not an error: the source then
 * reports damage as unknown (see tdm_x11_has_damage). */
tdm_status tdm_x11_open(const tdm_x11_config *cfg, tdm_source **out, tdm_error *err);

/* Whether the open source gets damage from the server; false for a NULL
 * source or one that is not an x11 source. */
bool tdm_x11_has_damage(const tdm_source *src);

#endif
