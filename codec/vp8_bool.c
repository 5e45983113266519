/* vp8_bool.c: the boolean entropy coder (see tdm_vp8_bool.h). */
#include "tdm_vp8_bool.h"

#include <stdlib.h>

void tdm_vp8_bool_writer_reset(tdm_vp8_bool_writer *w)
{
    w->pos = 0;
    w->range = 255;
    w->bottom = 0;
    w->bit_count = 24;
    w->nomem = false;
}

void tdm_vp8_bool_writer_free(tdm_vp8_bool_writer *w)
{
    free(w->buf);
    w->buf = NULL;
    w->cap = 0;
}

static void put_byte(tdm_vp8_bool_writer *w, uint8_t b)
{
    if (w->pos == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        uint8_t *nb = realloc(w->buf, cap);
        if (!nb) {
            w->nomem = true;
            return;
        }
        w->buf = nb;
        w->cap = cap;
    }
    w->buf[w->pos++] = b;
}

/* A carry out of bottom runs back through the bytes already written. */
static void carry(tdm_vp8_bool_writer *w)
{
    size_t i = w->pos;
    while (i > 0 && w->buf[i - 1] == 0xff)
        w->buf[--i] = 0;
    if (i > 0)
        w->buf[i - 1]++;
}

void tdm_vp8_bool_write(tdm_vp8_bool_writer *w, int bit, int prob)
{
    uint32_t split = 1 + (((w->range - 1) * (uint32_t)prob) >> 8);
    if (bit) {
        w->bottom += split;
        w->range -= split;
    } else {
        w->range = split;
    }
    while (w->range < 128) {
        w->range <<= 1;
        if (w->bottom & (UINT32_C(1) << 31))
            carry(w);
        w->bottom <<= 1;
        if (!--w->bit_count) {
            put_byte(w, (uint8_t)(w->bottom >> 24));
            w->bottom &= (UINT32_C(1) << 24) - 1;
            w->bit_count = 8;
        }
    }
}

void tdm_vp8_bool_write_literal(tdm_vp8_bool_writer *w, uint32_t value, int n)
{
    while (n-- > 0)
        tdm_vp8_bool_write(w, (int)((value >> n) & 1), 128);
}

void tdm_vp8_bool_writer_flush(tdm_vp8_bool_writer *w)
{
    /* 32 even-odds zeros shift every pending bit of bottom out. */
    for (int i = 0; i < 32; i++)
        tdm_vp8_bool_write(w, 0, 128);
}

static uint8_t next_byte(tdm_vp8_bool_reader *r)
{
    if (r->p < r->end)
        return *r->p++;
    r->overrun++;
    return 0;
}

void tdm_vp8_bool_reader_init(tdm_vp8_bool_reader *r, const uint8_t *buf, size_t len)
{
    r->p = buf;
    r->end = buf + len;
    r->overrun = 0;
    r->value = (uint32_t)next_byte(r) << 8;
    r->value |= next_byte(r);
    r->range = 255;
    r->bit_count = 0;
}

int tdm_vp8_bool_read(tdm_vp8_bool_reader *r, int prob)
{
    uint32_t split = 1 + (((r->range - 1) * (uint32_t)prob) >> 8);
    uint32_t big_split = split << 8;
    int bit;
    if (r->value >= big_split) {
        bit = 1;
        r->range -= split;
        r->value -= big_split;
    } else {
        bit = 0;
        r->range = split;
    }
    while (r->range < 128) {
        r->value <<= 1;
        r->range <<= 1;
        if (++r->bit_count == 8) {
            r->bit_count = 0;
            r->value |= next_byte(r);
        }
    }
    return bit;
}

uint32_t tdm_vp8_bool_read_literal(tdm_vp8_bool_reader *r, int n)
{
    uint32_t v = 0;
    while (n-- > 0)
        v = (v << 1) | (uint32_t)tdm_vp8_bool_read(r, 128);
    return v;
}
