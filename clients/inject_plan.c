/* inject_plan.c: input event -> X actions (inject_plan.h). */
#include "inject_plan.h"

#include <math.h>
#include <string.h>

static const char *const result_names[] = {
#define TDM_INJECT_RESULT_NAME(e, name) name,
    TDM_INJECT_RESULT_MAP(TDM_INJECT_RESULT_NAME)
#undef TDM_INJECT_RESULT_NAME
};

const char *tdm_inject_result_name(tdm_inject_result r)
{
    return (unsigned)r < TDM_INJECT_RESULT_COUNT ? result_names[r] : "unknown";
}

bool tdm_inject_allow_parse(const char *s, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned allow;
    } names[] = {{"none", 0},
                 {"pointer", TDM_INJECT_ALLOW_POINTER},
                 {"keyboard", TDM_INJECT_ALLOW_KEYBOARD},
                 {"all", TDM_INJECT_ALLOW_ALL}};
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].allow;
            return true;
        }
    return false;
}

/* --- keys ------------------------------------------------------------------- */

enum {
    XK_SHIFT_L = 0xffe1,
    XK_CONTROL_L = 0xffe3,
    XK_ALT_L = 0xffe9,
    XK_SUPER_L = 0xffeb,
};

/* Modifier index: ctrl, alt, shift, meta (the order of mod_keycode). */
static const unsigned mod_bits[4] = {TDM_SIG_MOD_CTRL, TDM_SIG_MOD_ALT, TDM_SIG_MOD_SHIFT,
                                     TDM_SIG_MOD_META};
static const uint32_t mod_syms[4] = {XK_CONTROL_L, XK_ALT_L, XK_SHIFT_L, XK_SUPER_L};

static const struct {
    const char *dom;
    uint32_t keysym;
} named_keys[] = {
    {"Enter", 0xff0d},      {"Tab", 0xff09},          {"Backspace", 0xff08},
    {"Escape", 0xff1b},     {"Delete", 0xffff},       {"Insert", 0xff63},
    {"Home", 0xff50},       {"End", 0xff57},          {"PageUp", 0xff55},
    {"PageDown", 0xff56},   {"ArrowLeft", 0xff51},    {"ArrowUp", 0xff52},
    {"ArrowRight", 0xff53}, {"ArrowDown", 0xff54},    {"ContextMenu", 0xff67},
    {"Pause", 0xff13},      {"ScrollLock", 0xff14},   {"PrintScreen", 0xff61},
    {"NumLock", 0xff7f},    {"CapsLock", 0xffe5},     {"Clear", 0xff0b},
    {"Help", 0xff6a},       {"Shift", XK_SHIFT_L},    {"Control", XK_CONTROL_L},
    {"Alt", XK_ALT_L},      {"Meta", XK_SUPER_L},     {"OS", XK_SUPER_L},
    {"AltGraph", 0xfe03},   {"Space", 0x20},
};

/* The modifier index a DOM key name is, or -1. */
static int modifier_index(const char *key)
{
    static const char *const names[4] = {"Control", "Alt", "Shift", "Meta"};
    for (int i = 0; i < 4; i++)
        if (strcmp(key, names[i]) == 0)
            return i;
    return strcmp(key, "OS") == 0 ? 3 : -1;
}

/* One UTF-8 code point filling all of s; -1 otherwise. */
static long single_code_point(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    long cp;
    int more;
    if (p[0] < 0x80) {
        cp = p[0];
        more = 0;
    } else if ((p[0] & 0xe0) == 0xc0) {
        cp = p[0] & 0x1f;
        more = 1;
    } else if ((p[0] & 0xf0) == 0xe0) {
        cp = p[0] & 0x0f;
        more = 2;
    } else if ((p[0] & 0xf8) == 0xf0) {
        cp = p[0] & 0x07;
        more = 3;
    } else {
        return -1;
    }
    for (int i = 1; i <= more; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (p[more + 1] != 0 || cp == 0 || cp > 0x10ffff)
        return -1;
    return cp;
}

uint32_t tdm_inject_keysym_for_key(const char *key)
{
    if (!key || !*key)
        return 0;
    for (size_t i = 0; i < sizeof named_keys / sizeof named_keys[0]; i++)
        if (strcmp(key, named_keys[i].dom) == 0)
            return named_keys[i].keysym;
    if (key[0] == 'F' && key[1] >= '1' && key[1] <= '9') {
        int n = key[1] - '0';
        if (key[2] >= '0' && key[2] <= '9' && !key[3])
            n = n * 10 + (key[2] - '0');
        else if (key[2])
            n = 0;
        if (n >= 1 && n <= 24)
            return 0xffbe + (uint32_t)(n - 1); /* XK_F1.. */
    }
    long cp = single_code_point(key);
    if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
        return 0; /* control characters are not keys */
    /* X keysyms: Latin-1 is its own keysym; the rest of Unicode is offset. */
    return cp <= 0xff ? (uint32_t)cp : 0x01000000u + (uint32_t)cp;
}

static uint32_t *syms_of(tdm_xkeymap *m, unsigned kc)
{
    return &m->syms[(kc - m->min_keycode) * TDM_XKEYMAP_COLUMNS];
}

/* The keycode with ks in column 0 or 1 (column in *col); 0 if none. */
static uint8_t find_keycode(const tdm_xkeymap *m, uint32_t ks, int *col)
{
    if (m->max_keycode < m->min_keycode)
        return 0;
    for (int c = 0; c < 2; c++)
        for (unsigned kc = m->min_keycode; kc <= m->max_keycode; kc++)
            if (m->syms[(kc - m->min_keycode) * TDM_XKEYMAP_COLUMNS + c] == ks) {
                *col = c;
                return (uint8_t)kc;
            }
    /* X's rule: an alphabetic key listing only its lower case has the upper
     * case in the Shift column. */
    if (ks >= 'A' && ks <= 'Z') {
        int c0;
        uint8_t kc = find_keycode(m, ks + 32, &c0);
        if (kc && c0 == 0 && m->syms[(kc - m->min_keycode) * TDM_XKEYMAP_COLUMNS + 1] == 0) {
            *col = 1;
            return kc;
        }
    }
    return 0;
}

static bool key_held(const tdm_inject_planner *p, uint8_t kc)
{
    return p->held_keys[kc / 8] & (1u << (kc % 8));
}

static void set_key_held(tdm_inject_planner *p, uint8_t kc, bool held)
{
    if (held)
        p->held_keys[kc / 8] |= (uint8_t)(1u << (kc % 8));
    else
        p->held_keys[kc / 8] &= (uint8_t)~(1u << (kc % 8));
}

static void find_modifiers(tdm_inject_planner *p)
{
    for (int i = 0; i < 4; i++) {
        int col;
        p->mod_keycode[i] = find_keycode(&p->map, mod_syms[i], &col);
        if (p->mod_keycode[i] && col != 0)
            p->mod_keycode[i] = 0; /* only reachable with Shift: not a usable modifier */
    }
}

void tdm_inject_planner_init(tdm_inject_planner *p, const tdm_xkeymap *map, tdm_rect area,
                             unsigned allow)
{
    memset(p, 0, sizeof *p);
    p->area = area;
    p->allow = allow;
    p->have_display = map != NULL;
    p->map.min_keycode = 1;
    p->map.max_keycode = 0; /* empty */
    if (!map)
        return;
    p->map = *map;
    find_modifiers(p);
    /* Spare keycodes are chosen once: after a REMAP the server's mapping
     * (re-read on MappingNotify) shows them in use, but they stay ours. */
    for (unsigned kc = p->map.min_keycode;
         kc <= p->map.max_keycode && p->n_spare < TDM_INJECT_SPARE_MAX && kc >= 8; kc++) {
        const uint32_t *s = syms_of(&p->map, kc);
        bool empty = true;
        for (int c = 0; c < TDM_XKEYMAP_COLUMNS; c++)
            empty = empty && s[c] == 0;
        if (empty)
            p->spare[p->n_spare++] = (uint8_t)kc;
    }
}

void tdm_inject_planner_set_keymap(tdm_inject_planner *p, const tdm_xkeymap *map)
{
    if (!map || !p->have_display)
        return;
    p->map = *map;
    find_modifiers(p);
}

/* --- plans ------------------------------------------------------------------ */

static void push(tdm_inject_plan *out, tdm_xaction a)
{
    if (out->n < TDM_INJECT_MAX_ACTIONS)
        out->a[out->n++] = a;
}

static void key_action(tdm_inject_planner *p, tdm_inject_plan *out, uint8_t kc, bool press)
{
    push(out, (tdm_xaction){.kind = TDM_XACT_KEY, .press = press, .detail = kc});
    set_key_held(p, kc, press);
}

/* Presses or releases modifier i so that it is held iff want. */
static void sync_modifier(tdm_inject_planner *p, tdm_inject_plan *out, int i, bool want)
{
    bool held = p->held_mods & mod_bits[i];
    if (want == held || !p->mod_keycode[i])
        return;
    key_action(p, out, p->mod_keycode[i], want);
    if (want)
        p->held_mods |= mod_bits[i];
    else
        p->held_mods &= ~mod_bits[i];
}

static tdm_inject_result plan_key(tdm_inject_planner *p, const tdm_sig_input_event *ev,
                                  tdm_inject_plan *out)
{
    bool down = ev->kind == TDM_SIG_IN_KEY_DOWN;
    int mi = modifier_index(ev->key);
    if (mi >= 0) {
        uint8_t kc = p->mod_keycode[mi];
        if (!kc)
            return TDM_INJECT_NO_KEYCODE;
        if (down != key_held(p, kc))
            key_action(p, out, kc, down);
        if (down)
            p->held_mods |= mod_bits[mi];
        else
            p->held_mods &= ~mod_bits[mi];
        return TDM_INJECT_OK;
    }
    uint32_t ks = tdm_inject_keysym_for_key(ev->key);
    if (!ks)
        return TDM_INJECT_UNKNOWN_KEY;
    int col = 0;
    uint8_t kc = find_keycode(&p->map, ks, &col);
    bool is_char = ks < 0xfe00 || ks >= 0x01000000u || ks == 0x20;
    if (!down) {
        if (kc && key_held(p, kc))
            key_action(p, out, kc, false);
        return TDM_INJECT_OK; /* a key we never pressed: nothing to release */
    }
    bool shift = is_char ? col == 1 : (ev->mods & TDM_SIG_MOD_SHIFT) != 0;
    unsigned effective = (ev->mods & ~(unsigned)TDM_SIG_MOD_SHIFT) | (shift ? TDM_SIG_MOD_SHIFT : 0);
    if ((ks == TDM_TAKE_BACK_KEYSYM || ks == TDM_TAKE_BACK_KEYSYM - 32) &&
        (effective & TDM_TAKE_BACK_MODS) == TDM_TAKE_BACK_MODS)
        return TDM_INJECT_CHORD;
    if (!kc) {
        /* Not on the keyboard: borrow a spare keycode that is not held. */
        size_t tries = 0;
        while (tries < p->n_spare && key_held(p, p->spare[p->next_spare % p->n_spare])) {
            p->next_spare++;
            tries++;
        }
        if (tries == p->n_spare)
            return TDM_INJECT_NO_KEYCODE; /* none at all, or all held */
        kc = p->spare[p->next_spare++ % p->n_spare];
        uint32_t *s = syms_of(&p->map, kc);
        memset(s, 0, TDM_XKEYMAP_COLUMNS * sizeof *s);
        s[0] = s[1] = ks; /* the same with or without Shift */
        push(out, (tdm_xaction){.kind = TDM_XACT_REMAP, .detail = kc, .keysym = ks});
        col = 0;
        shift = is_char ? false : shift;
    }
    sync_modifier(p, out, 0, ev->mods & TDM_SIG_MOD_CTRL);
    sync_modifier(p, out, 1, ev->mods & TDM_SIG_MOD_ALT);
    sync_modifier(p, out, 3, ev->mods & TDM_SIG_MOD_META);
    sync_modifier(p, out, 2, shift);
    if (key_held(p, kc))
        key_action(p, out, kc, false); /* a repeat: X wants a release in between */
    key_action(p, out, kc, true);
    return TDM_INJECT_OK;
}

static tdm_xaction motion_to(const tdm_inject_planner *p, double x, double y)
{
    int w = p->area.w > 0 ? p->area.w - 1 : 0, h = p->area.h > 0 ? p->area.h - 1 : 0;
    return (tdm_xaction){.kind = TDM_XACT_MOTION,
                         .x = p->area.x + (int)lround(x * w),
                         .y = p->area.y + (int)lround(y * h)};
}

static void clicks(tdm_inject_plan *out, int delta, uint8_t negative, uint8_t positive)
{
    int n = delta < 0 ? -delta : delta;
    if (n > TDM_INJECT_SCROLL_MAX)
        n = TDM_INJECT_SCROLL_MAX;
    uint8_t b = delta < 0 ? negative : positive;
    for (int i = 0; i < n; i++) {
        push(out, (tdm_xaction){.kind = TDM_XACT_BUTTON, .press = true, .detail = b});
        push(out, (tdm_xaction){.kind = TDM_XACT_BUTTON, .press = false, .detail = b});
    }
}

static tdm_inject_result plan_event(tdm_inject_planner *p, const tdm_sig_input_event *ev,
                                    tdm_inject_plan *out)
{
    bool pointer = ev->kind == TDM_SIG_IN_POINTER_MOVE || ev->kind == TDM_SIG_IN_POINTER_BUTTON ||
                   ev->kind == TDM_SIG_IN_POINTER_SCROLL;
    bool key = ev->kind == TDM_SIG_IN_KEY_DOWN || ev->kind == TDM_SIG_IN_KEY_UP;
    if (p->taken_back)
        return TDM_INJECT_TAKEN_BACK;
    if (!pointer && !key)
        return TDM_INJECT_UNSUPPORTED; /* clipboard: not injected by this endpoint */
    if ((pointer && !(p->allow & TDM_INJECT_ALLOW_POINTER)) ||
        (key && !(p->allow & TDM_INJECT_ALLOW_KEYBOARD)))
        return TDM_INJECT_NOT_ALLOWED;
    if (!p->have_display)
        return TDM_INJECT_NO_DISPLAY;
    if (key)
        return plan_key(p, ev, out);
    if (ev->kind == TDM_SIG_IN_POINTER_MOVE) {
        push(out, motion_to(p, ev->x, ev->y));
    } else if (ev->kind == TDM_SIG_IN_POINTER_BUTTON) {
        /* DOM buttons: main, auxiliary (middle), secondary, back, forward. */
        static const uint8_t xbutton[5] = {1, 2, 3, 8, 9};
        uint8_t b = xbutton[ev->button];
        push(out, motion_to(p, ev->x, ev->y));
        bool held = p->held_buttons & (1u << b);
        if (ev->down != held) {
            push(out, (tdm_xaction){.kind = TDM_XACT_BUTTON, .press = ev->down, .detail = b});
            if (ev->down)
                p->held_buttons |= (uint16_t)(1u << b);
            else
                p->held_buttons &= (uint16_t)~(1u << b);
        }
    } else {
        /* Wheel notches: X buttons 4/5 (up/down) and 6/7 (left/right). */
        clicks(out, ev->dy, 4, 5);
        clicks(out, ev->dx, 6, 7);
    }
    return TDM_INJECT_OK;
}

tdm_inject_result tdm_inject_plan_message(tdm_inject_planner *p, const uint8_t *msg, size_t len,
                                          tdm_inject_plan *out, tdm_sig_input_kind *kind)
{
    out->n = 0;
    if (kind)
        *kind = TDM_SIG_IN_KIND_COUNT;
    tdm_sig_input_event ev;
    tdm_error err = {{0}};
    tdm_status st = tdm_sig_input_parse(msg, len, &ev, &err);
    if (st == TDM_ERR_UNSUPPORTED)
        return TDM_INJECT_NOT_INPUT;
    tdm_inject_result r;
    if (st != TDM_OK) {
        r = TDM_INJECT_BAD_EVENT;
    } else {
        if (kind)
            *kind = ev.kind;
        r = plan_event(p, &ev, out);
    }
    if (r != TDM_INJECT_OK)
        out->n = 0;
    p->counts[r]++;
    return r;
}

void tdm_inject_set_taken_back(tdm_inject_planner *p, bool taken_back, tdm_inject_plan *out)
{
    out->n = 0;
    if (taken_back && !p->taken_back) {
        for (unsigned b = 0; b < 16; b++)
            if (p->held_buttons & (1u << b))
                push(out, (tdm_xaction){.kind = TDM_XACT_BUTTON, .press = false, .detail = (uint8_t)b});
        for (unsigned kc = 0; kc < 256; kc++)
            if (key_held(p, (uint8_t)kc))
                push(out, (tdm_xaction){.kind = TDM_XACT_KEY, .press = false, .detail = (uint8_t)kc});
        memset(p->held_keys, 0, sizeof p->held_keys);
        p->held_buttons = 0;
        p->held_mods = 0;
    }
    p->taken_back = taken_back;
}
