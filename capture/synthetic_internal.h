/* synthetic_internal.h: seeded hashing and the generated text of the
 * synthetic source, shared by synthetic.c and synthetic_text.c.
 *
 * Owns the integer hash and small random generator every generated detail
 * of the desktop is drawn from, and the text generator (synthetic_text.c):
 * lines of code, prose and shell output that are pure functions of a seed,
 * a stream number and a line index, with a colour class per character.
 * Everything here is the same on every platform; nothing reads a clock or
 * global state. */
#ifndef TDM_SYNTHETIC_INTERNAL_H
#define TDM_SYNTHETIC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

/* ---- hashing ---- */

/* The lowbias32 finaliser: a bijection that mixes every input bit. */
static inline uint32_t tdm__mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static inline uint32_t tdm__hash3(uint32_t a, uint32_t b, uint32_t c)
{
    return tdm__mix32(a ^ tdm__mix32(b + 0x9e3779b9u * tdm__mix32(c + 0x632be5abu)));
}

/* An LCG whose output goes through tdm__mix32; any state is a valid seed. */
typedef struct tdm_rng {
    uint32_t state;
} tdm_rng;

static inline uint32_t tdm__rng_next(tdm_rng *r)
{
    r->state = r->state * 1664525u + 1013904223u;
    return tdm__mix32(r->state);
}

/* A value in [0, n); n > 0. */
static inline int tdm__rng_below(tdm_rng *r, int n)
{
    return (int)(tdm__rng_next(r) % (uint32_t)n);
}

/* ---- generated text ---- */

/* Longest line the generator writes, in characters. */
#define TDM_TEXT_MAX_LINE 256

typedef enum tdm_text_style { TDM_TEXT_CODE, TDM_TEXT_PROSE, TDM_TEXT_SHELL } tdm_text_style;

/* Writes characters and their classes into caller-owned buffers, dropping
 * whatever goes past max; words come from r. */
typedef struct tdm_text_emitter {
    char *buf;
    uint8_t *cls;
    int len, max;
    tdm_rng r;
} tdm_text_emitter;

void tdm__text_emit_ch(tdm_text_emitter *e, char c, uint8_t k);
/* A lower-case word of minl to maxl letters (capitalised when cap), in
 * class k, with English-like letter frequencies. */
void tdm__text_emit_word(tdm_text_emitter *e, int minl, int maxl, uint8_t k, bool cap);

/* Line `index` of a text stream: a pure function of (seed, stream, style,
 * index), which lets the scroll scenario draw any line at any time. Writes
 * at most min(max, TDM_TEXT_MAX_LINE) characters to buf and their classes
 * to cls (no NUL) and returns how many; blank lines return 0. Classes: 0
 * plain, 1 keyword/heading/prompt, 2 literal, 3 comment. */
int tdm__text_line(uint32_t seed, int stream, tdm_text_style style, uint32_t index, int max,
                   char *buf, uint8_t *cls);

#endif
