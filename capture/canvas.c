/* canvas.c: the pixel-writing primitives and rectangle subtraction of
 * canvas.h. Kept out of line: each call covers a whole rectangle, so the
 * call costs nothing next to the loop. */
#include "canvas.h"

#include <string.h>

int tdm__rect_subtract(tdm_rect a, tdm_rect b, tdm_rect out[4])
{
    tdm_rect i = tdm__rect_isect(a, b);
    if (tdm__rect_empty(i)) {
        out[0] = a;
        return 1;
    }
    int n = 0;
    if (i.y > a.y)
        out[n++] = tdm__rect(a.x, a.y, a.w, i.y - a.y);
    if (i.y + i.h < a.y + a.h)
        out[n++] = tdm__rect(a.x, i.y + i.h, a.w, a.y + a.h - (i.y + i.h));
    if (i.x > a.x)
        out[n++] = tdm__rect(a.x, i.y, i.x - a.x, i.h);
    if (i.x + i.w < a.x + a.w)
        out[n++] = tdm__rect(i.x + i.w, i.y, a.x + a.w - (i.x + i.w), i.h);
    return n;
}

void tdm__canvas_fill(tdm_canvas *cv, tdm_rect r, uint32_t c)
{
    r = tdm__rect_isect(r, tdm__canvas_bounds(cv));
    for (int y = r.y; y < r.y + r.h; y++) {
        uint32_t *p = cv->px + (size_t)y * (size_t)cv->pitch + r.x;
        for (int x = 0; x < r.w; x++)
            p[x] = c;
    }
}

void tdm__canvas_outline(tdm_canvas *cv, tdm_rect r, int t, uint32_t c)
{
    tdm__canvas_fill(cv, tdm__rect(r.x, r.y, r.w, t), c);
    tdm__canvas_fill(cv, tdm__rect(r.x, r.y + r.h - t, r.w, t), c);
    tdm__canvas_fill(cv, tdm__rect(r.x, r.y, t, r.h), c);
    tdm__canvas_fill(cv, tdm__rect(r.x + r.w - t, r.y, t, r.h), c);
}

void tdm__canvas_copy(tdm_canvas *dst, const tdm_canvas *src, tdm_rect r, int sx, int sy)
{
    for (int y = 0; y < r.h; y++)
        memcpy(dst->px + (size_t)(r.y + y) * (size_t)dst->pitch + r.x,
               src->px + (size_t)(sy + y) * (size_t)src->pitch + sx, (size_t)r.w * 4);
}
