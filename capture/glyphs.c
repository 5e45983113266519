/* glyphs.c: building the glyph set (glyphs.h) from strokes, and drawing
 * characters with it. */
#include "glyphs.h"

#include <stdbool.h>
#include <string.h>

/* Picks a character's strokes: the lowbias32 finaliser, the same as
 * tdm__mix32 (synthetic_internal.h), kept private so that the glyph set
 * depends on nothing but the canvas. */
static uint32_t glyph_hash(int ch)
{
    uint32_t x = (uint32_t)ch * 0x9E3779B1u + 0x51ED27u;
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

enum { ST_L, ST_R, ST_C, ST_T, ST_M, ST_B, ST_DD, ST_DU, ST_LU, ST_LL, ST_RU, ST_RL, ST_COUNT };

static void stroke(uint8_t g[TDM_GLYPH_H], int st, int t, int b)
{
    int m = (t + b) / 2;
    for (int r = t; r <= b; r++) {
        int k = (r - t) * 4 / (b - t);
        switch (st) {
        case ST_L: g[r] |= 0x10; break;
        case ST_R: g[r] |= 0x01; break;
        case ST_C: g[r] |= 0x04; break;
        case ST_T: g[r] |= r == t ? 0x1F : 0; break;
        case ST_M: g[r] |= r == m ? 0x1F : 0; break;
        case ST_B: g[r] |= r == b ? 0x1F : 0; break;
        case ST_DD: g[r] |= (uint8_t)(0x10 >> k); break;
        case ST_DU: g[r] |= (uint8_t)(0x01 << k); break;
        case ST_LU: g[r] |= r <= m ? 0x10 : 0; break;
        case ST_LL: g[r] |= r >= m ? 0x10 : 0; break;
        case ST_RU: g[r] |= r <= m ? 0x01 : 0; break;
        case ST_RL: g[r] |= r >= m ? 0x01 : 0; break;
        }
    }
}

static void set_rows(uint8_t g[TDM_GLYPH_H], int r0, int r1, uint8_t mask)
{
    for (int r = r0; r <= r1; r++)
        g[r] |= mask;
}

static void build_glyph(uint8_t g[TDM_GLYPH_H], int ch)
{
    memset(g, 0, TDM_GLYPH_H);
    /* Punctuation is drawn by hand, one glyph per line. */
    /* clang-format off */
    switch (ch) {
    case ' ': return;
    case '.': set_rows(g, 8, 9, 0x0C); return;
    case ',': set_rows(g, 8, 9, 0x0C); g[10] = 0x08; return;
    case ':': set_rows(g, 4, 5, 0x0C); set_rows(g, 8, 9, 0x0C); return;
    case ';': set_rows(g, 4, 5, 0x0C); set_rows(g, 8, 9, 0x0C); g[10] = 0x08; return;
    case '-': g[6] = 0x0E; return;
    case '_': g[10] = 0x1F; return;
    case '=': g[5] = g[7] = 0x1F; return;
    case '+': g[6] = 0x1F; set_rows(g, 4, 8, 0x04); return;
    case '*': g[3] = 0x15; g[4] = 0x0E; g[5] = 0x15; return;
    case '\'': set_rows(g, 1, 3, 0x04); return;
    case '"': set_rows(g, 1, 3, 0x0A); return;
    case '!': set_rows(g, 1, 6, 0x04); g[9] = 0x04; return;
    case '(': g[1] = g[11] = 0x04; set_rows(g, 2, 10, 0x08); return;
    case ')': g[1] = g[11] = 0x04; set_rows(g, 2, 10, 0x02); return;
    case '[': g[1] = g[11] = 0x0C; set_rows(g, 2, 10, 0x08); return;
    case ']': g[1] = g[11] = 0x06; set_rows(g, 2, 10, 0x02); return;
    case '{': g[1] = g[11] = 0x06; set_rows(g, 2, 10, 0x04); g[6] = 0x08; return;
    case '}': g[1] = g[11] = 0x0C; set_rows(g, 2, 10, 0x04); g[6] = 0x02; return;
    case '/': stroke(g, ST_DU, 1, 10); return;
    case '\\': stroke(g, ST_DD, 1, 10); return;
    case '<': g[6] = 0x08; g[5] = g[7] = 0x04; g[4] = g[8] = 0x02; return;
    case '>': g[6] = 0x02; g[5] = g[7] = 0x04; g[4] = g[8] = 0x08; return;
    case '|': set_rows(g, 1, 11, 0x04); return;
    case '#': set_rows(g, 2, 9, 0x0A); g[4] = g[7] = 0x1F; return;
    default: break;
    }
    /* clang-format on */
    if (ch < 33 || ch > 126)
        return;
    uint32_t h = glyph_hash(ch);
    bool lower = ch >= 'a' && ch <= 'z';
    int t = lower ? 4 : 1, b = 9;
    int nstrokes = 2 + (int)(h % 3);
    bool vertical = false;
    for (int i = 0; i < nstrokes; i++) {
        int st = (int)((h >> (4 + 4 * i)) % ST_COUNT);
        stroke(g, st, t, b);
        vertical |= st == ST_L || st == ST_R || st == ST_C || st >= ST_LU;
    }
    if (!vertical)
        stroke(g, (h >> 28) & 1 ? ST_L : ST_R, t, b);
    if (h & 0x8) { /* round the box's corners, as in o, c, e */
        g[t] &= (uint8_t)~0x11;
        g[b] &= (uint8_t)~0x11;
    }
    if (lower) {
        if (strchr("bdfhklt", ch))
            set_rows(g, 1, t, ch == 'd' ? 0x01 : 0x10);
        if (strchr("gjpqy", ch))
            set_rows(g, b, 11, ch == 'p' ? 0x10 : 0x01);
        if (ch == 'i' || ch == 'j')
            g[2] = 0x04;
    }
}

void tdm__glyphs_init(tdm_glyph_set *gs, int scale)
{
    for (int c = 0; c < 128; c++)
        build_glyph(gs->rows[c], c);
    gs->scale = scale;
    gs->cw = TDM_GLYPH_CELL_W * scale;
    gs->lh = TDM_GLYPH_LINE_H * scale;
}

static void draw_glyph(const tdm_glyph_set *gs, tdm_canvas *cv, tdm_rect clip, int x, int y,
                       char ch, uint32_t c)
{
    const uint8_t *g = gs->rows[(unsigned char)ch & 127];
    int s = gs->scale;
    for (int r = 0; r < TDM_GLYPH_H; r++) {
        if (!g[r])
            continue;
        for (int sy = 0; sy < s; sy++) {
            int py = y + r * s + sy;
            if (py < clip.y || py >= clip.y + clip.h)
                continue;
            uint32_t *row = cv->px + (size_t)py * (size_t)cv->pitch;
            for (int col = 0; col < TDM_GLYPH_W; col++) {
                if (!(g[r] & (0x10 >> col)))
                    continue;
                for (int sx = 0; sx < s; sx++) {
                    int px = x + (1 + col) * s + sx;
                    if (px >= clip.x && px < clip.x + clip.w)
                        row[px] = c;
                }
            }
        }
    }
}

void tdm__glyphs_draw_char(const tdm_glyph_set *gs, tdm_canvas *cv, tdm_rect clip, int x, int y,
                           char ch, uint32_t c)
{
    draw_glyph(gs, cv, clip, x, y, ch, c);
}

void tdm__glyphs_draw_text(const tdm_glyph_set *gs, tdm_canvas *cv, tdm_rect clip, int x, int y,
                           const char *t, int n, const uint8_t *cls, const uint32_t pal[4])
{
    clip = tdm__rect_isect(clip, tdm__canvas_bounds(cv));
    if (tdm__rect_empty(clip) || y >= clip.y + clip.h || y + gs->lh <= clip.y)
        return;
    for (int i = 0; i < n; i++, x += gs->cw) {
        if (x >= clip.x + clip.w)
            break;
        if (t[i] != ' ' && x + gs->cw > clip.x)
            draw_glyph(gs, cv, clip, x, y, t[i], pal[cls ? cls[i] & 3 : 0]);
    }
}

void tdm__glyphs_draw_str(const tdm_glyph_set *gs, tdm_canvas *cv, tdm_rect clip, int x, int y,
                          const char *t, uint32_t c)
{
    uint32_t pal[4] = {c, c, c, c};
    tdm__glyphs_draw_text(gs, cv, clip, x, y, t, (int)strlen(t), NULL, pal);
}
