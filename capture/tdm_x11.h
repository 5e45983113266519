/* tdm_x11: capture of a real X display through MIT-SHM (xcb-shm).
 *
 * Frames are TDM_PIXFMT_BGRA (the X server's 24/32-bit TrueColor layout with
 * LSB-first image byte order), read from the root window of the display's
 * default screen — all monitors as one image, or the rectangle of one
 * monitor (RandR 1.5 GetMonitors) — into a SysV shared-memory segment made
 * once at open; the frame's pixels point into that segment (stride 4 *
 * width), so they are overwritten by the next capture.
 *
 * With draw_cursor (and XFIXES), the pointer's image is composited into the
 * frame: the X server never puts it in captured pixels. A cursor that moved
 * or changed shape adds its old and new rectangles to the frame's damage;
 * what it covers is saved at drawing and put back before it is drawn
 * elsewhere, so a frame without screen damage costs no new grab. Open refuses servers without MIT-SHM, remote servers (which
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
 * A resize of the screen (RandR) is not followed, nor is a monitor that
 * moves inside an unchanged screen (the rectangle is chosen at open): everything downstream was
 * sized at open, so next() fails with TDM_ERR_UNAVAILABLE from then on and
 * the caller reopens the source. The source is single-threaded; next()
 * allocates nothing beyond the replies xcb hands back. */
#ifndef TDM_X11_H
#define TDM_X11_H

#include <stdbool.h>
#include <stddef.h>

#include "tdm_source.h"

typedef struct tdm_x11_config {
    const char *display;  /* NULL: $DISPLAY */
    bool use_damage;      /* false forces the diffing fallback */
    double fps;           /* nominal rate reported by the source */
    const char *monitor;  /* NULL: the whole screen; else an index into
                             tdm_x11_list_monitors' list ("0") or a name */
    bool draw_cursor;     /* composite the cursor into frames */
} tdm_x11_config;

#define TDM_X11_MAX_MONITORS 16

typedef struct tdm_x11_monitor {
    char name[64]; /* RandR's name ("DP-1"); "screen" for the fallback */
    tdm_rect area; /* in root coordinates, clipped to the screen */
    bool primary;
} tdm_x11_monitor;

/* The display's monitors in RandR's order (at most cap). Without RandR 1.5,
 * or with no monitor defined, the whole screen is one monitor "screen". */
tdm_status tdm_x11_list_monitors(const char *display, tdm_x11_monitor *out, size_t cap, size_t *n,
                                 tdm_error *err);

/* The captured rectangle in root coordinates (for mapping input onto it);
 * false for a source that is not an x11 source. */
bool tdm_x11_area(const tdm_source *src, tdm_rect *area);

/* Opens cfg->display (NULL: $DISPLAY). cfg->fps must be >= 0 (0: none).
 * A missing DAMAGE or XFIXES extension is not an error: the source then
 * reports damage as unknown (see tdm_x11_has_damage). */
tdm_status tdm_x11_open(const tdm_x11_config *cfg, tdm_source **out, tdm_error *err);

/* Whether the open source gets damage from the server; false for a NULL
 * source or one that is not an x11 source. */
bool tdm_x11_has_damage(const tdm_source *src);

#endif
