/* synthetic_text.c: the generated text of the synthetic source
 * (synthetic_internal.h): words, and whole lines of code, prose and shell
 * output, each drawn from a tdm_rng seeded by hashing where it appears. */
#include "synthetic_internal.h"

static void emit_ch(tdm_text_emitter *e, char c, uint8_t k)
{
    if (e->len < e->max) {
        e->buf[e->len] = c;
        e->cls[e->len] = k;
        e->len++;
    }
}

static void emit_str(tdm_text_emitter *e, const char *t, uint8_t k)
{
    while (*t)
        emit_ch(e, *t++, k);
}

static void emit_word(tdm_text_emitter *e, int minl, int maxl, uint8_t k, bool cap)
{
    /* Taking the smaller of two draws favours the frequent letters. */
    static const char letters[] = "etaoinshrdlcumwfgypbvkjxqz";
    int n = minl + tdm__rng_below(&e->r, maxl - minl + 1);
    for (int i = 0; i < n; i++) {
        int a = tdm__rng_below(&e->r, 26), b = tdm__rng_below(&e->r, 26);
        char c = letters[a < b ? a : b];
        emit_ch(e, i == 0 && cap ? (char)(c - 'a' + 'A') : c, k);
    }
}

static void emit_num(tdm_text_emitter *e, uint8_t k)
{
    int n = 1 + tdm__rng_below(&e->r, 4);
    for (int i = 0; i < n; i++)
        emit_ch(e, (char)('0' + tdm__rng_below(&e->r, 10)), k);
}

void tdm__text_emit_ch(tdm_text_emitter *e, char c, uint8_t k)
{
    emit_ch(e, c, k);
}

void tdm__text_emit_word(tdm_text_emitter *e, int minl, int maxl, uint8_t k, bool cap)
{
    emit_word(e, minl, maxl, k, cap);
}

int tdm__text_line(uint32_t seed, int stream, tdm_text_style style, uint32_t index, int max,
                   char *buf, uint8_t *cls)
{
    static const char *const kw[] = {"int", "static", "const", "void", "struct", "return",
                                     "if",  "for",    "while", "char", "bool",   "size_t"};
    tdm_text_emitter e = {buf, cls, 0, max < TDM_TEXT_MAX_LINE ? max : TDM_TEXT_MAX_LINE, {0}};
    uint32_t h = tdm__hash3(seed, (uint32_t)stream, index);
    e.r.state = h;
    if (e.max <= 0)
        return 0;
    switch (style) {
    case TDM_TEXT_CODE: {
        if (h % 9 == 0)
            return 0;
        int depth = (int)(tdm__hash3(seed, (uint32_t)stream, index / 4) % 3) + (index % 4 != 0);
        for (int i = 0; i < depth * 4; i++)
            emit_ch(&e, ' ', 0);
        switch ((h >> 8) % 7) {
        case 0:
            emit_str(&e, kw[tdm__rng_below(&e.r, 12)], 1);
            emit_ch(&e, ' ', 0);
            emit_word(&e, 3, 9, 0, false);
            emit_ch(&e, '(', 0);
            emit_str(&e, kw[tdm__rng_below(&e.r, 12)], 1);
            emit_ch(&e, ' ', 0);
            emit_word(&e, 1, 6, 0, false);
            emit_str(&e, ", ", 0);
            emit_word(&e, 2, 7, 0, false);
            emit_str(&e, ") {", 0);
            break;
        case 1:
            emit_word(&e, 2, 8, 0, false);
            emit_str(&e, " = ", 0);
            emit_word(&e, 3, 10, 0, false);
            emit_ch(&e, '(', 0);
            emit_word(&e, 1, 6, 0, false);
            emit_str(&e, ", ", 0);
            emit_num(&e, 2);
            emit_str(&e, ");", 0);
            break;
        case 2:
            emit_str(&e, "if", 1);
            emit_str(&e, " (", 0);
            emit_word(&e, 2, 7, 0, false);
            emit_str(&e, tdm__rng_below(&e.r, 2) ? " == " : " < ", 0);
            emit_word(&e, 2, 7, 0, false);
            emit_str(&e, ") {", 0);
            break;
        case 3:
            emit_str(&e, "return", 1);
            emit_ch(&e, ' ', 0);
            emit_word(&e, 2, 9, 0, false);
            emit_ch(&e, ';', 0);
            break;
        case 4: emit_ch(&e, '}', 0); break;
        case 5:
            emit_str(&e, "/* ", 3);
            for (int w = 3 + tdm__rng_below(&e.r, 6); w > 0; w--) {
                emit_word(&e, 1, 8, 3, false);
                emit_ch(&e, ' ', 3);
            }
            emit_str(&e, "*/", 3);
            break;
        default:
            emit_word(&e, 3, 8, 0, false);
            emit_str(&e, "(\"", 0);
            for (int w = 1 + tdm__rng_below(&e.r, 4); w > 0; w--) {
                emit_word(&e, 1, 7, 2, w == 1);
                emit_ch(&e, w > 1 ? ' ' : ':', 2);
            }
            emit_str(&e, "\", ", 0);
            emit_word(&e, 1, 6, 0, false);
            emit_str(&e, ");", 0);
            break;
        }
        break;
    }
    case TDM_TEXT_PROSE: {
        if (h % 11 == 0)
            return 0;
        if (h % 11 == 1) {
            for (int w = 2 + tdm__rng_below(&e.r, 4); w > 0; w--) {
                emit_word(&e, 2, 9, 1, true);
                if (w > 1)
                    emit_ch(&e, ' ', 1);
            }
            break;
        }
        int target = h % 7 == 0 ? e.max / 3 + tdm__rng_below(&e.r, e.max / 3 + 1)
                                : e.max - tdm__rng_below(&e.r, 6);
        bool cap = true;
        while (e.len < target) {
            tdm_text_emitter save = e;
            emit_word(&e, 1, 10, 0, cap);
            if (e.len >= target && save.len > 0) { /* the word would not fit: end the line */
                e.len = save.len;
                break;
            }
            cap = false;
            int p = tdm__rng_below(&e.r, 12);
            if (p == 0) {
                emit_ch(&e, '.', 0);
                cap = true;
            } else if (p == 1) {
                emit_ch(&e, ',', 0);
            }
            emit_ch(&e, ' ', 0);
        }
        while (e.len > 0 && buf[e.len - 1] == ' ')
            e.len--;
        break;
    }
    case TDM_TEXT_SHELL:
        if (h % 4 == 0) {
            emit_str(&e, "user@host", 1);
            emit_str(&e, ":~/", 0);
            emit_word(&e, 3, 7, 0, false);
            emit_str(&e, "$ ", 0);
            emit_word(&e, 2, 5, 2, false);
            for (int w = tdm__rng_below(&e.r, 4); w > 0; w--) {
                emit_str(&e, " -", 0);
                emit_word(&e, 1, 6, 0, false);
            }
        } else if (h % 4 == 1) {
            emit_str(&e, "-rw-r--r-- 1 user user ", 0);
            emit_num(&e, 0);
            emit_ch(&e, ' ', 0);
            emit_word(&e, 3, 9, 2, false);
            emit_ch(&e, '.', 2);
            emit_word(&e, 1, 3, 2, false);
        } else {
            for (int w = 2 + tdm__rng_below(&e.r, 8); w > 0; w--) {
                emit_word(&e, 1, 9, 0, false);
                emit_ch(&e, ' ', 0);
            }
        }
        break;
    }
    return e.len;
}
