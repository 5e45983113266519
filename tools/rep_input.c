/* rep_input.c: event lines to input messages (see tdm_rep_input.h). */
#define _GNU_SOURCE /* strcasecmp */
#include "tdm_rep_input.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_WORDS 8
#define LINE_MAX_BYTES 20000

/* Splits a line into words: whitespace-separated, "double" or 'single'
 * quoted (inside double quotes: \" \\ \n \t). buf holds the words. */
static int split_words(const char *line, char **words, char *buf, size_t cap, tdm_error *err)
{
    int n = 0;
    size_t w = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '\r' || *p == '\n')
            return n;
        if (n == MAX_WORDS)
            return tdm_fail(err, TDM_ERR_FORMAT, "too many words (quote text with spaces)"), -1;
        words[n++] = buf + w;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            char ch;
            if (*p == '"' || *p == '\'') {
                char q = *p++;
                while (*p && *p != q) {
                    ch = *p++;
                    if (q == '"' && ch == '\\' && *p) {
                        ch = *p++;
                        ch = ch == 'n' ? '\n' : ch == 't' ? '\t' : ch;
                    }
                    if (w + 2 >= cap)
                        return tdm_fail(err, TDM_ERR_RANGE, "line too long"), -1;
                    buf[w++] = ch;
                }
                if (*p != q)
                    return tdm_fail(err, TDM_ERR_FORMAT, "unclosed quote"), -1;
                p++;
                continue;
            }
            if (w + 2 >= cap)
                return tdm_fail(err, TDM_ERR_RANGE, "line too long"), -1;
            buf[w++] = *p++;
        }
        buf[w++] = '\0';
    }
}

static bool parse_num(const char *s, double lo, double hi, double *v)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(d) || d < lo || d > hi)
        return false;
    *v = d;
    return true;
}

/* Length of the UTF-8 sequence at s (1..4), 0 if it is not valid UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_len(p);
        if (!n)
            return false;
        p += n;
    }
    return true;
}

/* A DOM KeyboardEvent.key value must be printable: no C0 control or DEL. */
static bool printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* DOM KeyboardEvent.key values for the names people type; NULL when the
 * name is none of them (it is then used as given). */
static const char *named_key(const char *name, char *fbuf, size_t cap)
{
    static const struct {
        const char *alias, *key;
    } names[] = {
        {"enter", "Enter"},         {"return", "Enter"},       {"esc", "Escape"},
        {"escape", "Escape"},       {"tab", "Tab"},            {"backspace", "Backspace"},
        {"delete", "Delete"},       {"del", "Delete"},         {"insert", "Insert"},
        {"ins", "Insert"},          {"home", "Home"},          {"end", "End"},
        {"pageup", "PageUp"},       {"pgup", "PageUp"},        {"pagedown", "PageDown"},
        {"pgdn", "PageDown"},       {"up", "ArrowUp"},         {"down", "ArrowDown"},
        {"left", "ArrowLeft"},      {"right", "ArrowRight"},   {"space", " "},
        {"printscreen", "PrintScreen"}, {"capslock", "CapsLock"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcasecmp(name, names[i].alias) == 0)
            return names[i].key;
    if ((name[0] == 'f' || name[0] == 'F') && name[1] >= '1' && name[1] <= '9' &&
        strspn(name + 1, "0123456789") == strlen(name + 1) && strlen(name + 1) <= 2) {
        int k = atoi(name + 1);
        if (k >= 1 && k <= 24) {
            snprintf(fbuf, cap, "F%d", k);
            return fbuf;
        }
    }
    return NULL;
}

static const char *modifier(const char *m)
{
    if (strcasecmp(m, "ctrl") == 0 || strcasecmp(m, "control") == 0)
        return "ctrl";
    if (strcasecmp(m, "alt") == 0)
        return "alt";
    if (strcasecmp(m, "shift") == 0)
        return "shift";
    if (strcasecmp(m, "meta") == 0 || strcasecmp(m, "super") == 0 || strcasecmp(m, "win") == 0)
        return "meta";
    return NULL;
}

static json_t *key_msg(const char *type, const char *key, json_t *mods)
{
    return json_pack("{s:s, s:s, s:O}", "type", type, "key", key, "mods", mods);
}

static tdm_status pointer(char **w, int n, json_t *out, tdm_error *err)
{
    bool move = strcmp(w[0], "move") == 0;
    double x, y, b = 0;
    if (n < 3 || n > (move ? 3 : 4))
        return tdm_fail(err, TDM_ERR_FORMAT,
                        move ? "usage: move X Y" : "usage: click|down|up X Y [BUTTON]");
    if (!parse_num(w[1], 0, 1, &x) || !parse_num(w[2], 0, 1, &y))
        return tdm_fail(err, TDM_ERR_RANGE, "X and Y are fractions of the screen, 0..1");
    if (move) {
        json_array_append_new(out, json_pack("{s:s, s:f, s:f}", "type", "pointer_move", "x", x,
                                             "y", y));
        return TDM_OK;
    }
    if (n == 4 && (!parse_num(w[3], 0, 4, &b) || b != floor(b)))
        return tdm_fail(err, TDM_ERR_RANGE, "BUTTON is 0..4 (0 left, 1 middle, 2 right)");
    bool click = strcmp(w[0], "click") == 0;
    for (int down = 1; down >= 0; down--) {
        if (!click && down != (strcmp(w[0], "down") == 0))
            continue;
        json_array_append_new(out, json_pack("{s:s, s:i, s:b, s:f, s:f}", "type",
                                             "pointer_button", "button", (int)b, "down", down,
                                             "x", x, "y", y));
    }
    return TDM_OK;
}

static tdm_status chord(const char *word, json_t *out, tdm_error *err)
{
    char buf[256], fbuf[8];
    if (strlen(word) >= sizeof buf)
        return tdm_fail(err, TDM_ERR_RANGE, "chord too long");
    strcpy(buf, word);
    json_t *mods = json_array();
    char *key = buf;
    /* "+" alone, or a chord ending in "++", names the plus key itself. */
    for (char *plus; (plus = strchr(key, '+')) && plus[1] != '\0';) {
        *plus = '\0';
        const char *m = modifier(key);
        if (!m) {
            json_decref(mods);
            return tdm_fail(err, TDM_ERR_FORMAT, "'%s' is no modifier (ctrl, alt, shift, meta)",
                            key);
        }
        size_t i;
        json_t *have;
        json_array_foreach (mods, i, have) {
            if (strcmp(json_string_value(have), m) == 0) {
                json_decref(mods);
                return tdm_fail(err, TDM_ERR_FORMAT, "modifier %s given twice", m);
            }
        }
        json_array_append_new(mods, json_string(m));
        key = plus + 1;
    }
    if (strcmp(key, "+") != 0 && strchr(key, '+')) {
        json_decref(mods);
        return tdm_fail(err, TDM_ERR_FORMAT, "no key after the modifiers in '%.64s'", word);
    }
    const char *k = named_key(key, fbuf, sizeof fbuf);
    if (!k)
        k = key;
    if (!*k || strlen(k) > TDM_REP_KEY_MAX || !valid_utf8(k) || !printable(k)) {
        json_decref(mods);
        return tdm_fail(err, TDM_ERR_FORMAT,
                        "the key must be a name (Enter, F5, ...) or printable text of 1..%d bytes",
                        TDM_REP_KEY_MAX);
    }
    json_array_append_new(out, key_msg("key_down", k, mods));
    json_array_append_new(out, key_msg("key_up", k, mods));
    json_decref(mods);
    return TDM_OK;
}

static tdm_status type_text(const char *text, json_t *out, tdm_error *err)
{
    if (!valid_utf8(text))
        return tdm_fail(err, TDM_ERR_FORMAT, "TEXT is not UTF-8");
    json_t *none = json_array();
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        size_t n = utf8_len(p);
        char ch[5] = {0};
        memcpy(ch, p, n);
        const char *k = ch;
        if (ch[0] == '\n')
            k = "Enter";
        else if (ch[0] == '\t')
            k = "Tab";
        else if (!printable(ch)) {
            json_decref(none);
            return tdm_fail(err, TDM_ERR_FORMAT, "TEXT holds a control character");
        }
        json_array_append_new(out, key_msg("key_down", k, none));
        json_array_append_new(out, key_msg("key_up", k, none));
        p += n;
    }
    json_decref(none);
    return TDM_OK;
}

static tdm_status dispatch(char **w, int n, json_t *out, long *wait_ms, tdm_error *err)
{
    const char *verb = w[0];
    if (strcmp(verb, "move") == 0 || strcmp(verb, "click") == 0 || strcmp(verb, "down") == 0 ||
        strcmp(verb, "up") == 0)
        return pointer(w, n, out, err);
    if (strcmp(verb, "scroll") == 0) {
        double dx, dy;
        if (n != 3 || !parse_num(w[1], -1000, 1000, &dx) || !parse_num(w[2], -1000, 1000, &dy) ||
            dx != floor(dx) || dy != floor(dy))
            return tdm_fail(err, TDM_ERR_FORMAT, "usage: scroll DX DY (whole steps, -1000..1000)");
        json_array_append_new(out, json_pack("{s:s, s:i, s:i}", "type", "pointer_scroll", "dx",
                                             (int)dx, "dy", (int)dy));
        return TDM_OK;
    }
    if (strcmp(verb, "key") == 0) {
        if (n != 2)
            return tdm_fail(err, TDM_ERR_FORMAT,
                            "usage: key CHORD (e.g. ctrl+c, Enter, ctrl+alt+Delete)");
        return chord(w[1], out, err);
    }
    if (strcmp(verb, "type") == 0) {
        if (n != 2)
            return tdm_fail(err, TDM_ERR_FORMAT,
                            "usage: type TEXT (quote text with spaces: type \"hello world\")");
        return type_text(w[1], out, err);
    }
    if (strcmp(verb, "clipboard") == 0) {
        if (n != 2)
            return tdm_fail(err, TDM_ERR_FORMAT, "usage: clipboard TEXT");
        if (strlen(w[1]) > TDM_REP_CLIPBOARD_MAX || !valid_utf8(w[1]))
            return tdm_fail(err, TDM_ERR_RANGE, "clipboard TEXT must be UTF-8, at most %d bytes",
                            TDM_REP_CLIPBOARD_MAX);
        json_t *m = json_pack("{s:s, s:s}", "type", "clipboard_to_customer", "text", w[1]);
        /* Escaping can grow the text past what one message may hold. */
        char *enc = m ? json_dumps(m, JSON_COMPACT) : NULL;
        size_t len = enc ? strlen(enc) : 0;
        free(enc);
        if (!m || len > TDM_REP_MESSAGE_MAX) {
            json_decref(m);
            return tdm_fail(err, TDM_ERR_RANGE, "clipboard TEXT too long once encoded");
        }
        json_array_append_new(out, m);
        return TDM_OK;
    }
    if (strcmp(verb, "wait") == 0) {
        double ms;
        if (n != 2 || !parse_num(w[1], 0, 600000, &ms))
            return tdm_fail(err, TDM_ERR_FORMAT, "usage: wait MS (0..600000)");
        *wait_ms = (long)ms;
        return TDM_OK;
    }
    return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                    "unknown event '%.32s' (move, click, down, up, scroll, key, type, "
                    "clipboard, wait)",
                    verb);
}

tdm_status tdm_rep_input_parse(const char *line, json_t *events, long *wait_ms, tdm_error *err)
{
    *wait_ms = 0;
    if (!json_is_array(events))
        return tdm_fail(err, TDM_ERR_INVALID, "events must be a JSON array");
    const char *s = line + strspn(line, " \t");
    if (!*s || *s == '#' || *s == '\r' || *s == '\n')
        return TDM_OK;
    static _Thread_local char buf[LINE_MAX_BYTES + 2];
    char *words[MAX_WORDS];
    int n = split_words(s, words, buf, sizeof buf, err);
    if (n < 0)
        return TDM_ERR_FORMAT;
    if (n == 0)
        return TDM_OK;
    /* Parse into a scratch array so a bad line adds nothing. */
    json_t *tmp = json_array();
    if (!tmp)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    tdm_status st = dispatch(words, n, tmp, wait_ms, err);
    if (st == TDM_OK)
        json_array_extend(events, tmp);
    else
        *wait_ms = 0;
    json_decref(tmp);
    return st;
}
