/* cursor.c: cursor compositing (tdm_cursor.h). */
#include "tdm_cursor.h"

#include <string.h>

tdm_rect tdm_cursor_draw(uint8_t *pixels, int stride, int width, int height,
                         const tdm_cursor_image *c, uint8_t *save)
{
    tdm_rect none = {0, 0, 0, 0};
    if (!pixels || !c || !c->argb || !save || c->width <= 0 || c->height <= 0)
        return none;
    int cw = c->width < TDM_CURSOR_MAX ? c->width : TDM_CURSOR_MAX;
    int ch = c->height < TDM_CURSOR_MAX ? c->height : TDM_CURSOR_MAX;
    tdm_rect r = tdm_rect_clip((tdm_rect){c->x, c->y, cw, ch}, width, height);
    if (r.w <= 0 || r.h <= 0)
        return none;
    for (int row = 0; row < r.h; row++) {
        uint8_t *dst = pixels + (size_t)(r.y + row) * (size_t)stride + (size_t)r.x * 4;
        memcpy(save + (size_t)row * (size_t)r.w * 4, dst, (size_t)r.w * 4);
        const uint32_t *src = c->argb + (size_t)(r.y - c->y + row) * (size_t)c->width + (r.x - c->x);
        for (int col = 0; col < r.w; col++, dst += 4) {
            uint32_t p = src[col];
            unsigned a = p >> 24;
            if (a == 0)
                continue; /* premultiplied: a clear pixel adds nothing */
            unsigned inv = 255u - a;
            unsigned s[3] = {p & 0xffu, (p >> 8) & 0xffu, (p >> 16) & 0xffu}; /* B, G, R */
            for (int k = 0; k < 3; k++) {
                /* (d * inv + 127) / 255, exact for every byte pair */
                unsigned t = dst[k] * inv + 128u;
                unsigned v = s[k] + ((t + (t >> 8)) >> 8);
                dst[k] = (uint8_t)(v > 255u ? 255u : v);
            }
        }
    }
    return r;
}

void tdm_cursor_restore(uint8_t *pixels, int stride, tdm_rect r, const uint8_t *save)
{
    if (!pixels || !save || r.w <= 0 || r.h <= 0)
        return;
    for (int row = 0; row < r.h; row++)
        memcpy(pixels + (size_t)(r.y + row) * (size_t)stride + (size_t)r.x * 4,
               save + (size_t)row * (size_t)r.w * 4, (size_t)r.w * 4);
}
