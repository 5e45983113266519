/* synthetic.c: the synthetic frame source (tdm_synthetic.h).
 *
 * Owns a procedurally drawn desktop (gradient background, icons, taskbar,
 * bordered windows full of generated text in a generated glyph set) and the
 * six scenarios that change it frame by frame. Everything is drawn once at
 * open; each later frame redraws only what its scenario changes and reports
 * exactly those rectangles as damage. Pixels depend only on the config and
 * the frame number (the stamp's time field aside): no clock, no global
 * state, no allocation after open. Drawing is canvas.h, the glyph set
 * glyphs.h, hashing and the generated text synthetic_internal.h. */
#include "tdm_synthetic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canvas.h"
#include "glyphs.h"
#include "synthetic_internal.h"
#include "tdm_stamp.h"

/* Window chrome at UI scale 1; text metrics are in glyphs.h. */
#define TITLE_H 22
#define TASKBAR_H 32

#define MAX_DAMAGE 16
#define MAX_WINDOWS 6
/* Windows, icons and the drag path stay at or below this row, so nothing
 * but the stamp is ever drawn into the stamp's 128x56 block. */
#define STAMP_CLEAR 64
#define VIDEO_W 640
#define VIDEO_H 360
#define TILE 256
#define SINE_N 1024

typedef enum win_kind {
    WIN_FILES,
    WIN_TERMINAL,
    WIN_MAIL,
    WIN_EDITOR,
    WIN_READER,
    WIN_NOTES,
    WIN_PLAYER
} win_kind;

typedef struct win {
    win_kind kind;
    tdm_rect r;      /* outer, border included */
    tdm_rect client; /* inside the border, below the title bar */
    bool active;
    bool in_sprite; /* drag: drawn into the sprite, not the desktop */
    const char *title;
} win;

/* A grid of text cells in a window (the editor). */
typedef struct textgrid {
    tdm_rect area;   /* the region that scrolls: gutter plus text */
    tdm_rect gutter; /* line-number column */
    int x0, y0;      /* top-left of cell (0, 0) */
    int cols, rows;
} textgrid;

/* Text streams: each window kind draws its lines from its own stream. */
enum { STREAM_EDITOR = 1, STREAM_TERMINAL, STREAM_FILES, STREAM_MAIL, STREAM_READER, STREAM_NOTES };

typedef struct synth {
    tdm_source src; /* first: tdm_source_close hands this pointer back */
    tdm_synthetic_config cfg;
    int s;      /* UI scale: 2 on 4K-class frames, as a HiDPI desktop */
    int desk_h; /* rows above the taskbar */
    int stride;
    uint8_t *mem; /* the frame */
    tdm_canvas fb;
    uint8_t *base_mem; /* drag: desktop without the dragged window; full: the desktop */
    tdm_canvas base;
    uint32_t *sprite_mem; /* drag: the dragged window */
    tdm_canvas sprite;

    tdm_glyph_set font; /* at scale s */
    uint32_t accent, bg_top, bg_bottom;
    win wins[MAX_WINDOWS];
    int nwins;

    uint64_t n; /* number of the frame next() returns */
    tdm_rect damage[MAX_DAMAGE];
    size_t ndamage;

    struct {
        textgrid g;
        int row, col;   /* caret cell */
        int pos, len;   /* next character of line[] to type */
        uint32_t index; /* document line being typed */
        char line[TDM_TEXT_MAX_LINE];
        uint8_t cls[TDM_TEXT_MAX_LINE];
    } typing;
    struct {
        tdm_rect area;
        int x0, cols, speed;
        uint64_t offset; /* content rows scrolled off the top */
    } scroll;
    struct {
        tdm_rect r;
        int vx, vy, xmin, xmax, ymin, ymax;
    } drag;
    struct {
        tdm_rect r;
        int16_t horizon[VIDEO_W];
        uint8_t sky[VIDEO_H][3];
        uint8_t clouds[TILE * TILE]; /* soft value noise */
        uint8_t grain[TILE * TILE];  /* per-pixel noise */
    } video;
    int16_t sine[SINE_N]; /* sin over one period, amplitude 1024 */

    char text[TDM_TEXT_MAX_LINE]; /* scratch for drawing a line */
    uint8_t text_cls[TDM_TEXT_MAX_LINE];
} synth;

/* ---- damage ---- */

/* Records a redrawn rectangle, folding it into an earlier one when that
 * costs (almost) no unchanged pixels, as neighbouring text cells do. */
static void add_damage(synth *S, tdm_rect r)
{
    r = tdm_rect_clip(r, S->fb.w, S->fb.h);
    if (tdm__rect_empty(r))
        return;
    long slack = 64L * S->s * S->s;
    for (size_t i = 0; i < S->ndamage; i++) {
        tdm_rect u = tdm__rect_bbox(S->damage[i], r);
        if (tdm__rect_area(u) <= tdm__rect_area(S->damage[i]) + tdm__rect_area(r) + slack) {
            S->damage[i] = u;
            return;
        }
    }
    if (S->ndamage < MAX_DAMAGE) {
        S->damage[S->ndamage++] = r;
        return;
    }
    /* Out of slots (never expected): widen the last one, still honest. */
    S->damage[MAX_DAMAGE - 1] = tdm__rect_bbox(S->damage[MAX_DAMAGE - 1], r);
}

/* ---- layout ---- */

static win make_win(const synth *S, win_kind kind, const char *title, int fx, int fy, int fw,
                    int fh, bool active)
{
    /* Fractions are per mille of the frame width and the desktop height. */
    int W = S->fb.w, D = S->desk_h, s = S->s;
    win w = {kind, tdm__rect(0, 0, 0, 0), tdm__rect(0, 0, 0, 0), active, false, title};
    int x = (int)((long)fx * W / 1000), y = (int)((long)fy * D / 1000);
    if (y < STAMP_CLEAR)
        y = STAMP_CLEAR;
    int ww = (int)((long)fw * W / 1000), wh = (int)((long)fh * D / 1000);
    if (x + ww > W)
        ww = W - x;
    if (y + wh > D)
        wh = D - y;
    w.r = tdm__rect(x, y, ww, wh);
    w.client = tdm__rect(x + s, y + s + TITLE_H * s, ww - 2 * s, wh - 2 * s - TITLE_H * s);
    return w;
}

static void layout(synth *S)
{
    S->nwins = 0;
    S->wins[S->nwins++] = make_win(S, WIN_FILES, "Files - Documents", 100, 120, 380, 430, false);
    S->wins[S->nwins++] = make_win(S, WIN_TERMINAL, "Terminal", 540, 60, 430, 420, false);
    S->wins[S->nwins++] = make_win(S, WIN_MAIL, "Inbox - Mail", 300, 520, 460, 450, false);
    switch (S->cfg.scenario) {
    case TDM_SCENARIO_SCROLL:
        S->wins[S->nwins++] =
            make_win(S, WIN_READER, "Reader - release notes", 220, 160, 560, 800, true);
        break;
    case TDM_SCENARIO_DRAG: {
        S->wins[S->nwins++] = make_win(S, WIN_EDITOR, "main.c - Editor", 200, 180, 550, 700, false);
        /* The dragged window starts near the top left and is sized so it
         * always has room to travel. */
        win n = make_win(S, WIN_NOTES, "Notes", 150, 100, 360, 420, true);
        n.in_sprite = true;
        S->wins[S->nwins++] = n;
        break;
    }
    case TDM_SCENARIO_VIDEO: {
        S->wins[S->nwins++] = make_win(S, WIN_EDITOR, "main.c - Editor", 200, 180, 550, 700, false);
        int s = S->s, ctrl = 24 * s;
        int vw = S->fb.w - 16 - 2 * s,
            vh = S->desk_h - STAMP_CLEAR - 8 - TITLE_H * s - ctrl - 2 * s;
        if (vw > VIDEO_W)
            vw = VIDEO_W;
        if (vh > VIDEO_H)
            vh = VIDEO_H;
        win p = {.kind = WIN_PLAYER, .active = true, .title = "Player - clip.webm"};
        int ww = vw + 2 * s, wh = vh + ctrl + TITLE_H * s + 2 * s;
        int x = (S->fb.w - ww) * 3 / 5, y = STAMP_CLEAR + (S->desk_h - STAMP_CLEAR - wh) / 3;
        p.r = tdm__rect(x, y, ww, wh);
        p.client = tdm__rect(x + s, y + s + TITLE_H * s, vw, vh + ctrl);
        S->video.r = tdm__rect(p.client.x, p.client.y, vw, vh);
        S->wins[S->nwins++] = p;
        break;
    }
    default:
        S->wins[S->nwins++] = make_win(S, WIN_EDITOR, "main.c - Editor", 200, 180, 550, 700, true);
        break;
    }
}

/* ---- windows ---- */

static const uint32_t PAL_CODE[4] = {0xFF202020u, 0xFF0030C0u, 0xFFA31515u, 0xFF2E7D32u};
#define EDITOR_BG 0xFFFFFFFFu
#define GUTTER_BG 0xFFF0F0F0u
#define GUTTER_FG 0xFF909090u
#define MENU_H(S) (20 * (S)->s)
#define READER_BAR_H(S) (30 * (S)->s)
#define READER_BG 0xFFFCFCFAu

static textgrid editor_grid(const synth *S, const win *w)
{
    int s = S->s;
    textgrid g;
    g.area = tdm__rect(w->client.x, w->client.y + MENU_H(S), w->client.w, w->client.h - MENU_H(S));
    g.gutter = tdm__rect(g.area.x, g.area.y, 5 * S->font.cw, g.area.h);
    g.x0 = g.gutter.x + g.gutter.w + 4 * s;
    g.y0 = g.area.y + 3 * s;
    g.cols = (g.area.x + g.area.w - g.x0 - 4 * s) / S->font.cw;
    g.rows = (g.area.y + g.area.h - g.y0) / S->font.lh;
    if (g.cols < 1)
        g.cols = 1;
    if (g.rows < 1)
        g.rows = 1;
    return g;
}

static void draw_line_number(synth *S, tdm_canvas *cv, const textgrid *g, int row, uint32_t number)
{
    char num[16];
    int n = snprintf(num, sizeof num, "%u", (unsigned)number);
    uint32_t pal[4] = {GUTTER_FG, GUTTER_FG, GUTTER_FG, GUTTER_FG};
    int y = g->y0 + row * S->font.lh;
    tdm__glyphs_draw_text(&S->font, cv, g->gutter, g->gutter.x + g->gutter.w - (n + 1) * S->font.cw,
                          y, num, n, NULL, pal);
}

/* Editor: menu bar, line-number gutter, code. The typing scenario fills
 * only the top rows and types the rest. */
static void draw_editor(synth *S, tdm_canvas *cv, const win *w, int filled_rows)
{
    static const char *const menu[] = {"File", "Edit", "Selection", "View", "Go", "Help"};
    int s = S->s;
    tdm_rect mb = tdm__rect(w->client.x, w->client.y, w->client.w, MENU_H(S));
    tdm__canvas_fill(cv, mb, 0xFFF3F3F3u);
    tdm__canvas_fill(cv, tdm__rect(mb.x, mb.y + mb.h - s, mb.w, s), 0xFFDDDDDDu);
    int x = mb.x + 6 * s;
    for (int i = 0; i < 6; i++) {
        tdm__glyphs_draw_str(&S->font, cv, mb, x, mb.y + 3 * s, menu[i], 0xFF303030u);
        x += ((int)strlen(menu[i]) + 2) * S->font.cw;
    }
    textgrid g = editor_grid(S, w);
    tdm__canvas_fill(cv, g.area, EDITOR_BG);
    tdm__canvas_fill(cv, g.gutter, GUTTER_BG);
    tdm_rect text = tdm__rect(g.x0, g.area.y, g.area.x + g.area.w - g.x0, g.area.h);
    for (int row = 0; row < filled_rows && row < g.rows; row++) {
        int n = tdm__text_line(S->cfg.seed, STREAM_EDITOR, TDM_TEXT_CODE, (uint32_t)row, g.cols,
                               S->text, S->text_cls);
        draw_line_number(S, cv, &g, row, (uint32_t)row + 1);
        tdm__glyphs_draw_text(&S->font, cv, text, g.x0, g.y0 + row * S->font.lh, S->text, n,
                              S->text_cls, PAL_CODE);
    }
}

static void draw_terminal(synth *S, tdm_canvas *cv, const win *w)
{
    static const uint32_t pal[4] = {0xFFD0D0D0u, 0xFF6BD46Bu, 0xFF7FB2F0u, 0xFF909090u};
    tdm__canvas_fill(cv, w->client, 0xFF1C1C1Cu);
    int cols = (w->client.w - 8 * S->s) / S->font.cw, rows = (w->client.h - 4 * S->s) / S->font.lh;
    for (int row = 0; row < rows; row++) {
        int n = tdm__text_line(S->cfg.seed, STREAM_TERMINAL, TDM_TEXT_SHELL, (uint32_t)row, cols,
                               S->text, S->text_cls);
        tdm__glyphs_draw_text(&S->font, cv, w->client, w->client.x + 4 * S->s,
                              w->client.y + 2 * S->s + row * S->font.lh, S->text, n, S->text_cls,
                              pal);
    }
}

static void draw_files(synth *S, tdm_canvas *cv, const win *w)
{
    int s = S->s, lh = S->font.lh + 4 * s;
    tdm_rect c = w->client;
    tdm_rect side = tdm__rect(c.x, c.y, c.w * 28 / 100, c.h);
    tdm_rect list = tdm__rect(side.x + side.w, c.y, c.w - side.w, c.h);
    tdm__canvas_fill(cv, side, 0xFFF0F2F5u);
    tdm__canvas_fill(cv, tdm__rect(side.x + side.w - s, side.y, s, side.h), 0xFFD8D8D8u);
    tdm__canvas_fill(cv, list, 0xFFFFFFFFu);
    static const char *const places[] = {"Home",  "Desktop",  "Documents", "Downloads",
                                         "Music", "Pictures", "Videos",    "Trash"};
    for (int i = 0; i < 8; i++) {
        int y = c.y + 6 * s + i * lh;
        if (i == 2)
            tdm__canvas_fill(cv,
                             tdm__rect_isect(tdm__rect(side.x, y - 2 * s, side.w - s, lh), side),
                             tdm__lighten(S->accent, 180));
        tdm__glyphs_draw_str(&S->font, cv, side, side.x + 8 * s, y, places[i], 0xFF303030u);
    }
    tdm_rect head = tdm__rect(list.x, list.y, list.w, lh);
    tdm__canvas_fill(cv, head, 0xFFF5F5F5u);
    tdm__canvas_fill(cv, tdm__rect(head.x, head.y + head.h - s, head.w, s), 0xFFDDDDDDu);
    tdm__glyphs_draw_str(&S->font, cv, list, list.x + 24 * s, list.y + 2 * s, "Name", 0xFF505050u);
    tdm__glyphs_draw_str(&S->font, cv, list, list.x + list.w - 10 * S->font.cw, list.y + 2 * s,
                         "Size", 0xFF505050u);
    int name_cols = (list.w - 12 * S->font.cw - 24 * s) / S->font.cw;
    for (int i = 0; list.y + (i + 1) * lh + lh <= list.y + list.h; i++) {
        int y = list.y + (i + 1) * lh;
        if (i & 1)
            tdm__canvas_fill(cv, tdm__rect(list.x, y, list.w, lh), 0xFFF7F8FAu);
        tdm_rng r = {tdm__hash3(S->cfg.seed, STREAM_FILES, (uint32_t)i)};
        bool folder = i < 3 || tdm__rng_below(&r, 4) == 0;
        tdm__canvas_fill(cv, tdm__rect(list.x + 8 * s, y + 3 * s, 11 * s, 9 * s),
                         folder ? 0xFFE8B33Au : 0xFF5B8DEFu);
        tdm_text_emitter e = {S->text, S->text_cls, 0, name_cols, r};
        tdm__text_emit_word(&e, 3, 10, 0, i == 0);
        if (!folder) {
            tdm__text_emit_ch(&e, '.', 0);
            tdm__text_emit_word(&e, 1, 3, 0, false);
        }
        tdm__glyphs_draw_text(&S->font, cv, list, list.x + 24 * s, y + s, S->text, e.len, NULL,
                              PAL_CODE);
        if (!folder) {
            char size[16];
            snprintf(size, sizeof size, "%u kB", (unsigned)(1 + tdm__rng_next(&e.r) % 9000));
            tdm__glyphs_draw_str(&S->font, cv, list, list.x + list.w - 10 * S->font.cw, y + s, size,
                                 0xFF707070u);
        }
    }
}

static void draw_mail(synth *S, tdm_canvas *cv, const win *w)
{
    int s = S->s, rowh = 2 * S->font.lh + 6 * s;
    tdm_rect c = w->client;
    tdm_rect bar = tdm__rect(c.x, c.y, c.w, 26 * s);
    tdm__canvas_fill(cv, bar, 0xFFEEEEEEu);
    tdm__canvas_fill(cv, tdm__rect(bar.x, bar.y + bar.h - s, bar.w, s), 0xFFD0D0D0u);
    tdm__glyphs_draw_str(&S->font, cv, bar, bar.x + 8 * s, bar.y + 5 * s,
                         "New  Reply  Forward  Delete", 0xFF303030u);
    tdm_rect list = tdm__rect(c.x, bar.y + bar.h, c.w, c.h - bar.h);
    tdm__canvas_fill(cv, list, 0xFFFFFFFFu);
    int cols = (list.w - 20 * s) / S->font.cw;
    static const uint32_t pal[4] = {0xFF606060u, 0xFF202020u, 0xFF202020u, 0xFF909090u};
    for (int i = 0; list.y + i * rowh < list.y + list.h; i++) {
        int y = list.y + i * rowh;
        if (i == 1)
            tdm__canvas_fill(cv, tdm__rect_isect(tdm__rect(list.x, y, list.w, rowh), list),
                             tdm__lighten(S->accent, 190));
        tdm__canvas_fill(cv, tdm__rect_isect(tdm__rect(list.x, y + rowh - s, list.w, s), list),
                         0xFFEAEAEAu);
        tdm_rng r = {tdm__hash3(S->cfg.seed, STREAM_MAIL, (uint32_t)i)};
        tdm_text_emitter e = {S->text, S->text_cls, 0, cols, r};
        tdm__text_emit_word(&e, 3, 8, 1, true);
        tdm__text_emit_ch(&e, ' ', 1);
        tdm__text_emit_word(&e, 4, 9, 1, true);
        tdm__glyphs_draw_text(&S->font, cv, list, list.x + 12 * s, y + 3 * s, S->text, e.len,
                              S->text_cls, pal);
        int n = tdm__text_line(S->cfg.seed, STREAM_MAIL, TDM_TEXT_PROSE, (uint32_t)i + 1000, cols,
                               S->text, S->text_cls);
        tdm__glyphs_draw_text(&S->font, cv, list, list.x + 12 * s, y + 3 * s + S->font.lh, S->text,
                              n, NULL, pal);
        if (i % 3 == 0)
            tdm__canvas_fill(
                cv, tdm__rect_isect(tdm__rect(list.x + 4 * s, y + 7 * s, 4 * s, 4 * s), list),
                S->accent);
    }
}

static void draw_notes(synth *S, tdm_canvas *cv, const win *w)
{
    static const uint32_t pal[4] = {0xFF3A3320u, 0xFF3A3320u, 0xFF3A3320u, 0xFF3A3320u};
    tdm__canvas_fill(cv, w->client, 0xFFFFF6B8u);
    int cols = (w->client.w - 16 * S->s) / S->font.cw, rows = (w->client.h - 8 * S->s) / S->font.lh;
    for (int row = 0; row < rows; row++) {
        int n = tdm__text_line(S->cfg.seed, STREAM_NOTES, TDM_TEXT_PROSE, (uint32_t)row, cols,
                               S->text, S->text_cls);
        tdm__glyphs_draw_text(&S->font, cv, w->client, w->client.x + 8 * S->s,
                              w->client.y + 4 * S->s + row * S->font.lh, S->text, n, NULL, pal);
    }
}

/* Reader: text from line offset/lh on, drawn only into visual rows
 * [y0, y1) of the scroll area; the scroll scenario calls this for the strip
 * that scrolled into view. */
static void reader_rows(synth *S, tdm_canvas *cv, int y0, int y1)
{
    uint32_t pal[4] = {0xFF262626u, S->accent, 0xFF262626u, 0xFF262626u};
    tdm_rect a = S->scroll.area;
    tdm_rect clip = tdm__rect(a.x, y0, a.w, y1 - y0);
    tdm__canvas_fill(cv, clip, READER_BG);
    uint64_t first = (S->scroll.offset + (uint64_t)(y0 - a.y)) / (uint64_t)S->font.lh;
    uint64_t last = (S->scroll.offset + (uint64_t)(y1 - 1 - a.y)) / (uint64_t)S->font.lh;
    for (uint64_t i = first; i <= last; i++) {
        int y = a.y + (int)((int64_t)(i * (uint64_t)S->font.lh) - (int64_t)S->scroll.offset);
        int n = tdm__text_line(S->cfg.seed, STREAM_READER, TDM_TEXT_PROSE, (uint32_t)i,
                               S->scroll.cols, S->text, S->text_cls);
        tdm__glyphs_draw_text(&S->font, cv, clip, S->scroll.x0, y, S->text, n, S->text_cls, pal);
    }
}

static void draw_reader(synth *S, tdm_canvas *cv, const win *w)
{
    int s = S->s;
    tdm_rect bar = tdm__rect(w->client.x, w->client.y, w->client.w, READER_BAR_H(S));
    tdm__canvas_fill(cv, bar, 0xFFF1F1F1u);
    tdm__canvas_fill(cv, tdm__rect(bar.x, bar.y + bar.h - s, bar.w, s), 0xFFD0D0D0u);
    tdm_rect addr = tdm__rect(bar.x + 40 * s, bar.y + 5 * s, bar.w - 56 * s, bar.h - 10 * s);
    tdm__canvas_fill(cv, addr, 0xFFFFFFFFu);
    tdm__canvas_outline(cv, addr, s, 0xFFC8C8C8u);
    tdm__glyphs_draw_str(&S->font, cv, addr, addr.x + 6 * s, addr.y + (addr.h - S->font.lh) / 2 + s,
                         "https://example.org/tandem/notes", 0xFF404040u);
    tdm__canvas_fill(cv, tdm__rect(bar.x + 10 * s, bar.y + 10 * s, 10 * s, 10 * s), 0xFF9A9A9Au);
    S->scroll.area = tdm__rect(w->client.x, bar.y + bar.h, w->client.w, w->client.h - bar.h);
    S->scroll.x0 = S->scroll.area.x + 14 * s;
    S->scroll.cols = (S->scroll.area.w - 28 * s) / S->font.cw;
    if (S->scroll.cols < 1)
        S->scroll.cols = 1;
    reader_rows(S, cv, S->scroll.area.y, S->scroll.area.y + S->scroll.area.h);
}

static void draw_player(synth *S, tdm_canvas *cv, const win *w)
{
    int s = S->s;
    tdm_rect v = S->video.r;
    tdm_rect ctrl = tdm__rect(w->client.x, v.y + v.h, w->client.w, w->client.h - v.h);
    tdm__canvas_fill(cv, ctrl, 0xFF202020u);
    int cy = ctrl.y + ctrl.h / 2;
    for (int i = 0; i < 8 * s; i++) /* play triangle */
        tdm__canvas_fill(cv, tdm__rect(ctrl.x + 8 * s + i, cy - (8 * s - i) / 2, 1, 8 * s - i),
                         0xFFEEEEEEu);
    tdm_rect track = tdm__rect(ctrl.x + 24 * s, cy - s, ctrl.w - 90 * s, 2 * s);
    tdm__canvas_fill(cv, track, 0xFF5A5A5Au);
    tdm__canvas_fill(cv, tdm__rect(track.x, track.y, track.w / 3, track.h), S->accent);
    tdm__glyphs_draw_str(&S->font, cv, ctrl, ctrl.x + ctrl.w - 60 * s, cy - S->font.lh / 2, "1:07",
                         0xFFCCCCCCu);
}

static void draw_window(synth *S, tdm_canvas *cv, const win *w)
{
    int s = S->s;
    tdm__canvas_fill(cv, w->r, w->active ? tdm__shade(S->accent, 3, 5) : 0xFF8A8A8Au);
    tdm_rect title = tdm__rect(w->r.x + s, w->r.y + s, w->r.w - 2 * s, TITLE_H * s);
    tdm__canvas_fill(cv, title, w->active ? S->accent : 0xFFDCDCDCu);
    tdm__glyphs_draw_str(&S->font, cv, title, title.x + 8 * s, title.y + 4 * s, w->title,
                         w->active ? 0xFFFFFFFFu : 0xFF404040u);
    for (int i = 0; i < 3; i++) {
        tdm_rect b =
            tdm__rect(title.x + title.w - (i + 1) * 20 * s, title.y + 5 * s, 12 * s, 12 * s);
        if (b.x > title.x + title.w / 2)
            tdm__canvas_fill(cv, b,
                             i == 0 && w->active ? 0xFFE5484Du
                             : w->active         ? tdm__lighten(S->accent, 90)
                                                 : 0xFFB8B8B8u);
    }
    switch (w->kind) {
    case WIN_FILES: draw_files(S, cv, w); break;
    case WIN_TERMINAL: draw_terminal(S, cv, w); break;
    case WIN_MAIL: draw_mail(S, cv, w); break;
    case WIN_EDITOR:
        draw_editor(S, cv, w,
                    S->cfg.scenario == TDM_SCENARIO_TYPING ? editor_grid(S, w).rows * 2 / 5
                                                           : TDM_TEXT_MAX_LINE);
        break;
    case WIN_READER: draw_reader(S, cv, w); break;
    case WIN_NOTES: draw_notes(S, cv, w); break;
    case WIN_PLAYER: draw_player(S, cv, w); break;
    }
}

/* ---- the desktop ---- */

static void draw_desktop(synth *S, tdm_canvas *cv)
{
    int W = cv->w, D = S->desk_h, s = S->s;
    int r0 = (int)(S->bg_top >> 16 & 255), g0 = (int)(S->bg_top >> 8 & 255),
        b0 = (int)(S->bg_top & 255);
    int r1 = (int)(S->bg_bottom >> 16 & 255), g1 = (int)(S->bg_bottom >> 8 & 255),
        b1 = (int)(S->bg_bottom & 255);
    for (int y = 0; y < D; y++)
        tdm__canvas_fill(
            cv, tdm__rect(0, y, W, 1),
            tdm__rgb(r0 + (r1 - r0) * y / D, g0 + (g1 - g0) * y / D, b0 + (b1 - b0) * y / D));

    static const char *const icons[] = {"Computer", "Projects", "Notes", "Trash"};
    static const uint32_t icon_col[] = {0xFF5B8DEFu, 0xFFE8B33Au, 0xFFF2E6A0u, 0xFFB0B8C0u};
    for (int i = 0; i < 4; i++) {
        int y = STAMP_CLEAR + 12 * s + i * 64 * s;
        if (y + 50 * s > D)
            break;
        tdm_rect ic = tdm__rect(24 * s, y, 32 * s, 32 * s);
        tdm__canvas_fill(cv, ic, icon_col[i]);
        tdm__canvas_outline(cv, ic, s, tdm__shade(icon_col[i], 3, 5));
        tdm__canvas_fill(cv, tdm__rect(ic.x + 8 * s, ic.y + 8 * s, 16 * s, 4 * s),
                         tdm__shade(icon_col[i], 3, 5));
        int tx = ic.x + ic.w / 2 - (int)strlen(icons[i]) * S->font.cw / 2;
        tdm_rect all = tdm__canvas_bounds(cv);
        tdm__glyphs_draw_str(&S->font, cv, all, tx + s, y + 35 * s, icons[i], 0xFF202020u);
        tdm__glyphs_draw_str(&S->font, cv, all, tx, y + 34 * s, icons[i], 0xFFFFFFFFu);
    }

    tdm_rect bar = tdm__rect(0, D, W, cv->h - D);
    tdm__canvas_fill(cv, bar, 0xFF1E2430u);
    tdm__canvas_fill(cv, tdm__rect(0, D, W, s), 0xFF3A4250u);
    tdm__canvas_fill(cv, tdm__rect(6 * s, D + 5 * s, 22 * s, bar.h - 10 * s), S->accent);
    int x = 36 * s;
    for (int i = 0; i < S->nwins; i++) {
        const win *w = &S->wins[i];
        tdm_rect b = tdm__rect(x, D + 4 * s, 150 * s, bar.h - 8 * s);
        if (b.x + b.w > W - 90 * s)
            break;
        tdm__canvas_fill(cv, b, w->active ? 0xFF3C4658u : 0xFF2A313Eu);
        if (w->active)
            tdm__canvas_fill(cv, tdm__rect(b.x, b.y + b.h - 2 * s, b.w, 2 * s), S->accent);
        tdm__glyphs_draw_str(&S->font, cv, b, b.x + 8 * s, b.y + (b.h - S->font.lh) / 2 + s,
                             w->title, 0xFFE8E8E8u);
        x += b.w + 4 * s;
    }
    tdm__glyphs_draw_str(&S->font, cv, bar, W - 60 * s, D + (bar.h - S->font.lh) / 2 + s, "09:41",
                         0xFFE8E8E8u);
    for (int i = 0; i < 3; i++)
        tdm__canvas_fill(cv, tdm__rect(W - 90 * s + i * 9 * s, D + 12 * s, 6 * s, bar.h - 24 * s),
                         0xFF8892A0u);

    for (int i = 0; i < S->nwins; i++)
        if (!S->wins[i].in_sprite)
            draw_window(S, cv, &S->wins[i]);
}

/* ---- scenarios: one step per frame after frame 0 ---- */

static void caret(synth *S, bool on)
{
    textgrid *g = &S->typing.g;
    tdm_rect r = tdm__rect(g->x0 + S->typing.col * S->font.cw, g->y0 + S->typing.row * S->font.lh,
                           S->s, S->font.lh);
    tdm__canvas_fill(&S->fb, r, on ? 0xFF101010u : EDITOR_BG);
    add_damage(S, r);
}

static void load_typed_line(synth *S)
{
    int max = S->typing.g.cols + S->typing.g.cols / 2;
    S->typing.len = tdm__text_line(S->cfg.seed, STREAM_EDITOR, TDM_TEXT_CODE, S->typing.index, max,
                                   S->typing.line, S->typing.cls);
    S->typing.pos = 0;
}

/* Moves the caret to the start of the next row, scrolling the text up a
 * line when it was on the last. */
static void next_row(synth *S)
{
    textgrid *g = &S->typing.g;
    S->typing.col = 0;
    if (++S->typing.row < g->rows)
        return;
    S->typing.row = g->rows - 1;
    tdm_canvas *fb = &S->fb;
    tdm_rect moved = tdm__rect(g->area.x, g->y0, g->area.w, g->rows * S->font.lh);
    tdm__canvas_copy(fb, fb, tdm__rect(moved.x, moved.y, moved.w, moved.h - S->font.lh), moved.x,
                     moved.y + S->font.lh);
    int last = g->y0 + (g->rows - 1) * S->font.lh;
    tdm__canvas_fill(fb, tdm__rect(g->area.x, last, g->area.w, S->font.lh), EDITOR_BG);
    tdm__canvas_fill(fb, tdm__rect(g->gutter.x, last, g->gutter.w, S->font.lh), GUTTER_BG);
    add_damage(S, moved);
}

static void step_typing(synth *S)
{
    textgrid *g = &S->typing.g;
    caret(S, false);
    if (S->typing.pos >= S->typing.len) {
        /* End of the line: Enter. */
        next_row(S);
        S->typing.index++;
        load_typed_line(S);
        draw_line_number(S, &S->fb, g, S->typing.row, S->typing.index + 1);
        add_damage(
            S, tdm__rect(g->gutter.x, g->y0 + S->typing.row * S->font.lh, g->gutter.w, S->font.lh));
    } else {
        if (S->typing.col >= g->cols)
            next_row(S); /* soft wrap */
        tdm_rect cell = tdm__rect(g->x0 + S->typing.col * S->font.cw,
                                  g->y0 + S->typing.row * S->font.lh, S->font.cw, S->font.lh);
        tdm__canvas_fill(&S->fb, cell, EDITOR_BG);
        char ch = S->typing.line[S->typing.pos];
        if (ch != ' ')
            tdm__glyphs_draw_char(&S->font, &S->fb, cell, cell.x, cell.y, ch,
                                  PAL_CODE[S->typing.cls[S->typing.pos] & 3]);
        add_damage(S, cell);
        S->typing.pos++;
        S->typing.col++;
    }
    caret(S, true);
}

static void step_scroll(synth *S)
{
    tdm_rect a = S->scroll.area;
    int sp = S->scroll.speed;
    tdm_canvas *fb = &S->fb;
    tdm__canvas_copy(fb, fb, tdm__rect(a.x, a.y, a.w, a.h - sp), a.x, a.y + sp);
    S->scroll.offset += (uint64_t)sp;
    reader_rows(S, fb, a.y + a.h - sp, a.y + a.h);
    add_damage(S, a);
}

static void bounce(int *pos, int *v, int lo, int hi)
{
    int p = *pos + *v;
    if (p > hi) {
        p = 2 * hi - p;
        *v = -*v;
    } else if (p < lo) {
        p = 2 * lo - p;
        *v = -*v;
    }
    *pos = p < lo ? lo : p > hi ? hi : p;
}

static void step_drag(synth *S)
{
    tdm_rect old = S->drag.r;
    bounce(&S->drag.r.x, &S->drag.vx, S->drag.xmin, S->drag.xmax);
    bounce(&S->drag.r.y, &S->drag.vy, S->drag.ymin, S->drag.ymax);
    tdm_rect now = S->drag.r;
    tdm_rect exposed[4];
    int n = tdm__rect_subtract(old, now, exposed);
    for (int i = 0; i < n; i++) {
        tdm__canvas_copy(&S->fb, &S->base, exposed[i], exposed[i].x, exposed[i].y);
        add_damage(S, exposed[i]);
    }
    tdm__canvas_copy(&S->fb, &S->sprite, now, 0, 0);
    add_damage(S, now);
}

/* The video: a landscape panning sideways under drifting clouds, with a
 * ball bouncing over it. Frame n is a pure function of n. */
static void video_render(synth *S, uint64_t n)
{
    tdm_rect v = S->video.r;
    const int16_t *sine = S->sine;
    uint32_t pan = (uint32_t)n * 3u, cloud_pan = (uint32_t)n;
    int base = v.h * 3 / 5, a1 = v.h / 9, a2 = v.h / 22;
    for (int x = 0; x < v.w; x++) {
        uint32_t wx = (uint32_t)x + pan;
        S->video.horizon[x] = (int16_t)(base + (sine[(wx * 2u) & (SINE_N - 1)] * a1 >> 10) +
                                        (sine[(wx * 7u + 300u) & (SINE_N - 1)] * a2 >> 10));
    }
    for (int y = 0; y < v.h; y++) {
        uint32_t *p = S->fb.px + (size_t)(v.y + y) * (size_t)S->fb.pitch + v.x;
        const uint8_t *cl = S->video.clouds + (size_t)(y & (TILE - 1)) * TILE;
        const uint8_t *gr = S->video.grain + (size_t)(y & (TILE - 1)) * TILE;
        int sr = S->video.sky[y][0], sg = S->video.sky[y][1], sb = S->video.sky[y][2];
        for (int x = 0; x < v.w; x++) {
            int h = S->video.horizon[x];
            if (y < h) {
                int c = cl[((uint32_t)x + cloud_pan) & (TILE - 1)];
                int k = c > 140 ? (c - 140) * 2 : 0;
                k = k > 220 ? 220 : k;
                p[x] = tdm__rgb(sr + ((255 - sr) * k >> 8), sg + ((255 - sg) * k >> 8),
                                sb + ((255 - sb) * k >> 8));
            } else {
                int d = y - h;
                int t = (gr[((uint32_t)x + pan) & (TILE - 1)] - 128) >> 2;
                int g = 150 - d * 90 / v.h + t;
                p[x] = tdm__rgb(tdm__clamp255(g / 2 + 20 + t / 2), tdm__clamp255(g),
                                tdm__clamp255(g / 4 + t / 3));
            }
        }
    }
    /* The ball's position is a triangle wave of n in each axis. */
    int rad = v.h / 9 + 2;
    int spanx = v.w - 2 * rad, spany = v.h / 2 - rad;
    if (spanx > 0 && spany > 0) {
        int tx = (int)((n * 5) % (uint64_t)(2 * spanx)),
            ty = (int)((n * 4) % (uint64_t)(2 * spany));
        int cx = rad + (tx < spanx ? tx : 2 * spanx - tx),
            cy = rad + (ty < spany ? ty : 2 * spany - ty);
        for (int y = cy - rad; y <= cy + rad; y++) {
            if (y < 0 || y >= v.h)
                continue;
            uint32_t *p = S->fb.px + (size_t)(v.y + y) * (size_t)S->fb.pitch + v.x;
            for (int x = cx - rad; x <= cx + rad; x++) {
                int dx = x - cx, dy = y - cy, d2 = dx * dx + dy * dy;
                if (x < 0 || x >= v.w || d2 > rad * rad)
                    continue;
                /* Lit from the upper left. */
                int lx = dx + rad / 3, ly = dy + rad / 3;
                int l = 255 - (lx * lx + ly * ly) * 200 / (rad * rad);
                l = tdm__clamp255(l);
                p[x] = tdm__rgb(tdm__clamp255(l + 40), l * 2 / 5, l / 5);
            }
        }
    }
}

static void step_video(synth *S)
{
    video_render(S, S->n);
    add_damage(S, S->video.r);
}

/* The desktop panned diagonally (wrapping) and its colours perturbed by a
 * per-frame XOR, so essentially every pixel changes; two straight copies
 * per row keep it near memory speed. */
static void step_full(synth *S)
{
    int W = S->fb.w, H = S->fb.h;
    uint64_t n = S->n;
    int sx = (int)((n * 5) % (uint64_t)W), sy = (int)((n * 3) % (uint64_t)H);
    uint32_t m = (uint32_t)((n * 37) & 63) | (uint32_t)((n * 23) & 63) << 8 |
                 (uint32_t)((n * 11) & 63) << 16;
    for (int y = 0; y < H; y++) {
        const uint32_t *restrict src = S->base.px + (size_t)((y + sy) % H) * (size_t)S->base.pitch;
        uint32_t *restrict dst = S->fb.px + (size_t)y * (size_t)S->fb.pitch;
        int k = W - sx;
        for (int x = 0; x < k; x++)
            dst[x] = src[x + sx] ^ m;
        for (int x = 0; x < sx; x++)
            dst[k + x] = src[x] ^ m;
    }
    add_damage(S, tdm__rect(0, 0, W, H));
}

/* ---- video tables ---- */

/* Bhaskara I's approximation of sin, in integers so every platform draws
 * the same pixels (and libm is not needed). */
static void build_sine(int16_t sine[SINE_N])
{
    for (int i = 0; i < SINE_N; i++) {
        int t = i % (SINE_N / 2);
        long u = (long)t * (SINE_N / 2 - t);
        long q = (long)(SINE_N / 2) * (SINE_N / 2) * 5 / 4;
        int v = (int)(4096 * u / (q - u));
        sine[i] = (int16_t)(i < SINE_N / 2 ? v : -v);
    }
}

static void build_video_tables(synth *S)
{
    tdm_rng r = {tdm__hash3(S->cfg.seed, 0x7669u, 0)};
    for (int i = 0; i < TILE * TILE; i++)
        S->video.grain[i] = (uint8_t)tdm__rng_next(&r);
    /* Value noise on a 16x16 lattice, bilinear with smoothstep, two octaves:
     * tileable soft shapes for clouds. */
    uint8_t lat[2][16][16];
    for (int o = 0; o < 2; o++)
        for (int j = 0; j < 16; j++)
            for (int i = 0; i < 16; i++)
                lat[o][j][i] = (uint8_t)tdm__rng_next(&r);
    for (int y = 0; y < TILE; y++) {
        for (int x = 0; x < TILE; x++) {
            int sum = 0;
            for (int o = 0; o < 2; o++) {
                int cell = o == 0 ? 32 : 16, cells = TILE / cell;
                int ix = x / cell, iy = y / cell;
                int fx = (x % cell) * 256 / cell, fy = (y % cell) * 256 / cell;
                fx = fx * fx * (768 - 2 * fx) >> 16;
                fy = fy * fy * (768 - 2 * fy) >> 16;
                int a = lat[o][iy][ix], b = lat[o][iy][(ix + 1) % cells];
                int c = lat[o][(iy + 1) % cells][ix],
                    d = lat[o][(iy + 1) % cells][(ix + 1) % cells];
                int top = a + ((b - a) * fx >> 8), bot = c + ((d - c) * fx >> 8);
                sum += (top + ((bot - top) * fy >> 8)) * (o == 0 ? 2 : 1);
            }
            S->video.clouds[y * TILE + x] = (uint8_t)(sum / 3);
        }
    }
    int vh = S->video.r.h > 0 ? S->video.r.h : 1;
    for (int y = 0; y < VIDEO_H; y++) {
        int k = y * 256 / vh;
        k = k > 256 ? 256 : k;
        S->video.sky[y][0] = (uint8_t)(40 + (150 * k >> 8));
        S->video.sky[y][1] = (uint8_t)(90 + (130 * k >> 8));
        S->video.sky[y][2] = (uint8_t)(190 + (50 * k >> 8));
    }
}

/* ---- the source ---- */

static tdm_status synth_next(tdm_source *src, uint64_t now_us, tdm_frame *out, tdm_error *err)
{
    synth *S = (synth *)src;
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "synthetic source: no frame to fill");
    S->ndamage = 0;
    if (S->n == 0) {
        add_damage(S, tdm__rect(0, 0, S->fb.w, S->fb.h));
    } else {
        if (!S->cfg.frozen_stamp)
            add_damage(S, tdm__rect(0, 0, TDM_STAMP_WIDTH, TDM_STAMP_HEIGHT));
        switch (S->cfg.scenario) {
        case TDM_SCENARIO_TYPING: step_typing(S); break;
        case TDM_SCENARIO_SCROLL: step_scroll(S); break;
        case TDM_SCENARIO_DRAG: step_drag(S); break;
        case TDM_SCENARIO_VIDEO: step_video(S); break;
        case TDM_SCENARIO_FULL: step_full(S); break;
        default: break;
        }
    }
    if (S->n == 0 || !S->cfg.frozen_stamp) {
        tdm_stamp st = {(uint32_t)S->n, now_us};
        tdm_status rc = tdm_stamp_write_bgra(S->mem, S->stride, S->fb.w, S->fb.h, 0, 0, st);
        if (rc != TDM_OK)
            return tdm_fail(err, rc, "synthetic source: cannot place the stamp");
    }
    memset(out, 0, sizeof *out);
    out->format = TDM_PIXFMT_BGRA;
    out->bgra.data = S->mem;
    out->bgra.width = S->fb.w;
    out->bgra.height = S->fb.h;
    out->bgra.stride = S->stride;
    out->number = S->n;
    out->capture_us = now_us;
    out->damage_known = true;
    out->damage = S->damage;
    out->damage_count = S->ndamage;
    S->n++;
    return TDM_OK;
}

static void synth_close(tdm_source *src)
{
    synth *S = (synth *)src;
    free(S->mem);
    free(S->base_mem);
    free(S->sprite_mem);
    free(S);
}

static const tdm_source_ops synth_ops = {"synthetic", synth_next, synth_close};

static const char *const scenario_names[TDM_SCENARIO_COUNT] = {"idle", "typing", "scroll",
                                                               "drag", "video",  "full"};

const char *tdm_synthetic_scenario_name(tdm_synthetic_scenario s)
{
    if ((int)s < 0 || s >= TDM_SCENARIO_COUNT)
        return "unknown";
    return scenario_names[s];
}

bool tdm_synthetic_scenario_parse(const char *name, tdm_synthetic_scenario *out)
{
    if (!name)
        return false;
    for (int i = 0; i < TDM_SCENARIO_COUNT; i++) {
        if (strcmp(name, scenario_names[i]) == 0) {
            if (out)
                *out = (tdm_synthetic_scenario)i;
            return true;
        }
    }
    return false;
}

static uint8_t *alloc_pixels(size_t bytes)
{
    uint8_t *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

static void pick_colours(synth *S)
{
    static const uint32_t accents[] = {0xFF2B6CC4u, 0xFF0F7B6Cu, 0xFF7A3FB0u, 0xFFC2572Bu,
                                       0xFF3A5A80u};
    static const uint32_t tops[] = {0xFF3C6E9Eu, 0xFF2F5D50u, 0xFF5A4A78u, 0xFF6B7B8Cu};
    static const uint32_t bottoms[] = {0xFF1F3550u, 0xFF18302Au, 0xFF2A2238u, 0xFF3A4350u};
    uint32_t h = tdm__hash3(S->cfg.seed, 0x636f6cu, 0);
    S->accent = accents[h % 5];
    S->bg_top = tops[(h >> 8) % 4];
    S->bg_bottom = bottoms[(h >> 8) % 4];
}

tdm_status tdm_synthetic_open(const tdm_synthetic_config *cfg, tdm_source **out, tdm_error *err)
{
    if (!cfg || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "synthetic source: no config or output pointer");
    *out = NULL;
    if ((int)cfg->scenario < 0 || cfg->scenario >= TDM_SCENARIO_COUNT)
        return tdm_fail(err, TDM_ERR_INVALID,
                        "synthetic source: unknown scenario %d (idle, typing, scroll, drag, "
                        "video or full)",
                        (int)cfg->scenario);
    if (cfg->width < TDM_SYNTHETIC_MIN_WIDTH || cfg->height < TDM_SYNTHETIC_MIN_HEIGHT)
        return tdm_fail(err, TDM_ERR_RANGE,
                        "synthetic source: size %dx%d is below the minimum of %dx%d", cfg->width,
                        cfg->height, TDM_SYNTHETIC_MIN_WIDTH, TDM_SYNTHETIC_MIN_HEIGHT);
    if (cfg->width > TDM_MAX_DIMENSION || cfg->height > TDM_MAX_DIMENSION)
        return tdm_fail(err, TDM_ERR_RANGE, "synthetic source: size %dx%d exceeds the limit of %d",
                        cfg->width, cfg->height, TDM_MAX_DIMENSION);
    if (!(cfg->fps >= 0 && cfg->fps <= 1000))
        return tdm_fail(err, TDM_ERR_RANGE, "synthetic source: frame rate %g is not in [0, 1000]",
                        cfg->fps);

    synth *S = calloc(1, sizeof *S);
    if (!S)
        return tdm_fail(err, TDM_ERR_NOMEM, "synthetic source: out of memory");
    S->cfg = *cfg;
    S->src.ops = &synth_ops;
    S->src.width = cfg->width;
    S->src.height = cfg->height;
    S->src.format = TDM_PIXFMT_BGRA;
    S->src.fps = cfg->fps > 0 ? cfg->fps : 30.0;

    int W = cfg->width, H = cfg->height;
    S->s = W >= 2560 && H >= 1440 ? 2 : 1;
    S->desk_h = H - TASKBAR_H * S->s;
    S->stride = (4 * W + 63) / 64 * 64;
    size_t bytes = (size_t)S->stride * (size_t)H;
    S->mem = alloc_pixels(bytes);
    bool need_base = cfg->scenario == TDM_SCENARIO_DRAG || cfg->scenario == TDM_SCENARIO_FULL;
    if (need_base)
        S->base_mem = alloc_pixels(bytes);
    if (!S->mem || (need_base && !S->base_mem)) {
        synth_close(&S->src);
        return tdm_fail(err, TDM_ERR_NOMEM, "synthetic source: no memory for %dx%d frames", W, H);
    }
    S->fb = (tdm_canvas){(uint32_t *)(void *)S->mem, W, H, S->stride / 4};
    S->base = (tdm_canvas){(uint32_t *)(void *)S->base_mem, W, H, S->stride / 4};

    tdm__glyphs_init(&S->font, S->s);
    build_sine(S->sine);
    pick_colours(S);
    layout(S);

    switch (cfg->scenario) {
    case TDM_SCENARIO_DRAG: {
        win *w = &S->wins[S->nwins - 1];
        S->sprite_mem = malloc((size_t)w->r.w * (size_t)w->r.h * 4);
        if (!S->sprite_mem) {
            synth_close(&S->src);
            return tdm_fail(err, TDM_ERR_NOMEM, "synthetic source: out of memory");
        }
        S->sprite = (tdm_canvas){S->sprite_mem, w->r.w, w->r.h, w->r.w};
        draw_desktop(S, &S->base);
        S->drag.r = w->r;
        S->drag.xmin = 0;
        S->drag.xmax = W - w->r.w;
        S->drag.ymin = STAMP_CLEAR;
        S->drag.ymax = S->desk_h - w->r.h;
        S->drag.vx = 6 * S->s;
        S->drag.vy = 4 * S->s;
        /* Draw the window at the sprite's origin. */
        win at0 = *w;
        at0.r.x -= w->r.x;
        at0.r.y -= w->r.y;
        at0.client.x -= w->r.x;
        at0.client.y -= w->r.y;
        draw_window(S, &S->sprite, &at0);
        memcpy(S->mem, S->base_mem, bytes);
        tdm__canvas_copy(&S->fb, &S->sprite, w->r, 0, 0);
        break;
    }
    case TDM_SCENARIO_FULL:
        draw_desktop(S, &S->base);
        memcpy(S->mem, S->base_mem, bytes);
        break;
    case TDM_SCENARIO_VIDEO:
        draw_desktop(S, &S->fb);
        build_video_tables(S);
        video_render(S, 0);
        break;
    case TDM_SCENARIO_SCROLL:
        S->scroll.speed = 3 * S->s;
        draw_desktop(S, &S->fb);
        break;
    case TDM_SCENARIO_TYPING: {
        draw_desktop(S, &S->fb);
        const win *w = &S->wins[S->nwins - 1];
        S->typing.g = editor_grid(S, w);
        S->typing.row = S->typing.g.rows * 2 / 5;
        S->typing.col = 0;
        S->typing.index = (uint32_t)S->typing.row;
        load_typed_line(S);
        draw_line_number(S, &S->fb, &S->typing.g, S->typing.row, S->typing.index + 1);
        caret(S, true);
        S->ndamage = 0; /* frame 0 reports the whole frame anyway */
        break;
    }
    default: draw_desktop(S, &S->fb); break;
    }
    /* The stride's padding and the X bytes: every pixel written above is
     * opaque, so only the padding stays zero. */
    *out = &S->src;
    return TDM_OK;
}
