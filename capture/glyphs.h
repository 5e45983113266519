/* glyphs.h: the generated glyph set and drawing text with it, internal to
 * capture/.
 *
 * Owns a 128-character bitmap font built at init without any font data:
 * punctuation is drawn by hand and every other printable character is a
 * few strokes picked by hashing its code, so text has the density and
 * edges of real text. Owns its metrics at a whole-number UI scale and
 * drawing characters and strings onto a tdm_canvas. The set is the same
 * for every run on every platform. */
#ifndef TDM_GLYPHS_H
#define TDM_GLYPHS_H

#include <stdint.h>

#include "canvas.h"

/* Metrics at scale 1: ink is GLYPH_W x GLYPH_H inside a CELL_W x LINE_H
 * cell; cell column 0 stays empty so a caret fits there. */
#define TDM_GLYPH_W 5
#define TDM_GLYPH_H 12
#define TDM_GLYPH_CELL_W 7
#define TDM_GLYPH_LINE_H 15

typedef struct tdm_glyph_set {
    uint8_t rows[128][TDM_GLYPH_H]; /* row masks, bit 4 = leftmost ink column */
    int scale;                      /* each glyph pixel is scale x scale pixels */
    int cw, lh;                     /* cell width and line height, scaled */
} tdm_glyph_set;

/* Builds the set at a scale of 1 or more. Cannot fail. */
void tdm__glyphs_init(tdm_glyph_set *gs, int scale);

/* Draws character ch (its low 7 bits) in colour c into the cell whose top
 * left is (x, y), touching only pixels inside clip; clip must lie inside
 * the canvas. Space, DEL and control characters draw nothing. */
void tdm__glyphs_draw_char(const tdm_glyph_set *gs, tdm_canvas *cv, tdm_rect clip, int x, int y,
                           char ch, uint32_t c);

/* Draws n characters of t in consecutive cells from (x, y) (the top of the
 * line), clipped to clip and the canvas. Character i gets colour
 * pal[cls[i] & 3] when cls is given, else pal[0]. */
void tdm__glyphs_draw_text(const tdm_glyph_set *gs, tdm_canvas *cv, tdm_rect clip, int x, int y,
                           const char *t, int n, const uint8_t *cls, const uint32_t pal[4]);

/* tdm__glyphs_draw_text for a NUL-terminated string in one colour. */
void tdm__glyphs_draw_str(const tdm_glyph_set *gs, tdm_canvas *cv, tdm_rect clip, int x, int y,
                          const char *t, uint32_t c);

#endif
