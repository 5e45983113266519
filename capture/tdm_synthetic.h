/* tdm_synthetic: a deterministic generator of desktop-like screen content.
 *
 * Scenarios (see tdm_synthetic_scenario): idle, typing, scroll, drag, video,
 * full. Each draws a desktop of flat areas, bordered windows and
 * high-contrast glyph-like text, and changes it each frame the way the named
 * activity does. For a given scenario, size and seed, frame N's pixels are
 * always the same except for the stamp (tdm_stamp.h, at (0,0)), which holds
 * N and the now_us passed to tdm_source_next. Frames carry exact damage
 * rectangles (what the generator redrew, including the stamp), as an X
 * server's DAMAGE extension would report. */
#ifndef TDM_SYNTHETIC_H
#define TDM_SYNTHETIC_H

#include <stdbool.h>

#include "tdm_source.h"

typedef enum tdm_synthetic_scenario {
    TDM_SCENARIO_IDLE,   /* static desktop */
    TDM_SCENARIO_TYPING, /* a text editor where one line grows each frame */
    TDM_SCENARIO_SCROLL, /* a text window scrolling */
    TDM_SCENARIO_DRAG,   /* a window dragged across the desktop */
    TDM_SCENARIO_VIDEO,  /* a 640x360 moving region in a static desktop */
    TDM_SCENARIO_FULL,   /* the whole frame changes every frame */
    TDM_SCENARIO_COUNT
} tdm_synthetic_scenario;

typedef struct tdm_synthetic_config {
    int width, height;               /* >= TDM_SYNTHETIC_MIN_WIDTH/HEIGHT */
    tdm_synthetic_scenario scenario;
    uint32_t seed;                   /* varies text and colours; 0 is fine */
    double fps;                      /* nominal rate reported by the source,
                                        in [0, 1000]; 0 means 30 */
    /* Freeze the stamp after frame 0: it is no longer rewritten nor
     * reported as damage, so `idle` is truly idle. For measuring what
     * screen content costs an encoder, where a stamp changing every frame
     * would look like a ticking clock; frame numbers cannot be read back. */
    bool frozen_stamp;
} tdm_synthetic_config;

#define TDM_SYNTHETIC_MIN_WIDTH 320
#define TDM_SYNTHETIC_MIN_HEIGHT 240

/* "idle", "typing", ...; "unknown" outside the enum, never NULL. */
const char *tdm_synthetic_scenario_name(tdm_synthetic_scenario s);
/* Parses a scenario name; false when unknown. */
bool tdm_synthetic_scenario_parse(const char *name, tdm_synthetic_scenario *out);

/* Opens a synthetic source yielding TDM_PIXFMT_BGRA frames (stride 4*width,
 * rounded up to 64 bytes, rows 64-byte aligned, X bytes 255). Never ends (no
 * TDM_EOF). Frame 0's damage is the whole frame; every later frame's is the
 * stamp block plus the rectangles the scenario redrew, so a pixel that
 * differs from the previous frame always lies in some damage rectangle.
 * Nothing but the stamp is drawn in the stamp block. All memory (one frame,
 * plus a second for drag and full) is taken here; next() allocates nothing.
 * Errors: TDM_ERR_INVALID (NULL argument, unknown scenario), TDM_ERR_RANGE
 * (size outside [TDM_SYNTHETIC_MIN_*, TDM_MAX_DIMENSION], fps out of range),
 * TDM_ERR_NOMEM; err says which. */
tdm_status tdm_synthetic_open(const tdm_synthetic_config *cfg, tdm_source **out, tdm_error *err);

#endif
