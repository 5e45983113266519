/* inject_plan: what tandem-share does with one input event message that
 * arrived from tandem-signal, as a list of X actions — sans-IO.
 *
 * Owns: the local check (defence in depth: the customer's own
 * --allow-input policy, whether the customer took control back, the
 * take-back chord that is never injected), mapping an event onto the shared
 * monitor (x, y in [0,1] -> that monitor's pixels) and onto the X server's
 * keyboard (DOM KeyboardEvent.key + mods -> keysym -> keycode), and the
 * state that needs: which keys, buttons and modifiers it holds pressed, so
 * that taking control back releases them all.
 *
 * The message is parsed by signaling's own strict parser (tdm_sig_input.h),
 * so the two ends agree on what an event is. The keyboard model is a copy
 * of the server's mapping (GetKeyboardMapping), given by the IO side.
 *
 * Keys: a named DOM key (Enter, ArrowLeft, F5, Control, ...) maps to its
 * keysym; a key that is one character maps to that character's keysym
 * (Latin-1 directly, anything else 0x01000000 + code point). The keycode is
 * the first one with the keysym in column 0 (no Shift) or column 1 (Shift);
 * Shift is pressed or released as the column needs. A character the
 * mapping lacks gets a spare keycode (one with no keysym at all) remapped
 * to it — a REMAP action before the press; up to TDM_INJECT_SPARE_MAX spare
 * keycodes are used in turn, never one that is held down. With no spare
 * keycode the event is refused (no_keycode). Modifiers: "ctrl", "alt",
 * "meta" (and "shift" for keys that are not characters) are pressed or
 * released before a key_down so the held set matches the event's mods. */
#ifndef TDM_INJECT_PLAN_H
#define TDM_INJECT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_frame.h"
#include "tdm_sig_input.h"

#define TDM_XKEYMAP_COLUMNS 8 /* keysyms kept per keycode (columns past it unused) */
#define TDM_INJECT_MAX_ACTIONS 64
#define TDM_INJECT_SPARE_MAX 8
#define TDM_INJECT_SCROLL_MAX 10 /* wheel clicks per axis per event */

/* The take-back chord (grabbed on the root by x11_inject): Ctrl+Alt+Shift+T. */
#define TDM_TAKE_BACK_MODS (TDM_SIG_MOD_CTRL | TDM_SIG_MOD_ALT | TDM_SIG_MOD_SHIFT)
#define TDM_TAKE_BACK_KEYSYM 0x74u /* XK_t */

/* The server's keyboard mapping: syms[(keycode - min) * TDM_XKEYMAP_COLUMNS + col]. */
typedef struct tdm_xkeymap {
    uint8_t min_keycode, max_keycode;
    uint32_t syms[256 * TDM_XKEYMAP_COLUMNS];
} tdm_xkeymap;

typedef enum tdm_xaction_kind {
    TDM_XACT_MOTION, /* absolute pointer motion to x, y (root pixels) */
    TDM_XACT_BUTTON, /* detail = X button 1..9 */
    TDM_XACT_KEY,    /* detail = keycode */
    TDM_XACT_REMAP,  /* keycode detail now means keysym (columns 0 and 1) */
} tdm_xaction_kind;

typedef struct tdm_xaction {
    tdm_xaction_kind kind;
    bool press;     /* BUTTON, KEY */
    uint8_t detail; /* button or keycode */
    int x, y;       /* MOTION */
    uint32_t keysym; /* REMAP */
} tdm_xaction;

typedef struct tdm_inject_plan {
    tdm_xaction a[TDM_INJECT_MAX_ACTIONS];
    size_t n;
} tdm_inject_plan;

/* The outcome for one message. X(enum, name as in --input-log). */
#define TDM_INJECT_RESULT_MAP(X)                                                                   \
    X(TDM_INJECT_OK, "injected")                                                                   \
    X(TDM_INJECT_NOT_INPUT, "not_input")          /* another message type: not ours */             \
    X(TDM_INJECT_BAD_EVENT, "bad_event")          /* malformed input event */                      \
    X(TDM_INJECT_NOT_ALLOWED, "not_allowed_locally") /* outside --allow-input */                   \
    X(TDM_INJECT_TAKEN_BACK, "customer_has_control")                                               \
    X(TDM_INJECT_CHORD, "take_back_chord")                                                         \
    X(TDM_INJECT_UNKNOWN_KEY, "unknown_key")                                                       \
    X(TDM_INJECT_NO_KEYCODE, "no_keycode")                                                         \
    X(TDM_INJECT_UNSUPPORTED, "unsupported")      /* clipboard: not injected */                    \
    X(TDM_INJECT_NO_DISPLAY, "no_display")        /* synthetic source: counted only */

typedef enum tdm_inject_result {
#define TDM_INJECT_RESULT_ENUM(e, name) e,
    TDM_INJECT_RESULT_MAP(TDM_INJECT_RESULT_ENUM)
#undef TDM_INJECT_RESULT_ENUM
        TDM_INJECT_RESULT_COUNT
} tdm_inject_result;

const char *tdm_inject_result_name(tdm_inject_result r);

/* --allow-input */
enum {
    TDM_INJECT_ALLOW_POINTER = 1,
    TDM_INJECT_ALLOW_KEYBOARD = 2,
    TDM_INJECT_ALLOW_ALL = 3,
};
/* "none", "pointer", "keyboard", "all"; false if unknown. */
bool tdm_inject_allow_parse(const char *s, unsigned *out);

typedef struct tdm_inject_planner {
    tdm_xkeymap map;
    tdm_rect area;  /* the shared monitor in root pixels */
    unsigned allow; /* TDM_INJECT_ALLOW_* */
    bool taken_back;
    bool have_display; /* false: every event is counted, none planned */
    uint8_t held_keys[32];   /* bit per keycode pressed by us */
    uint16_t held_buttons;   /* bit per X button */
    unsigned held_mods;      /* TDM_SIG_MOD_* whose key we hold */
    uint8_t mod_keycode[4];  /* ctrl, alt, shift, meta; 0 = none */
    uint8_t spare[TDM_INJECT_SPARE_MAX];
    size_t n_spare, next_spare;
    uint64_t counts[TDM_INJECT_RESULT_COUNT];
} tdm_inject_planner;

/* map may be NULL when there is no display (have_display false). */
void tdm_inject_planner_init(tdm_inject_planner *p, const tdm_xkeymap *map, tdm_rect area,
                             unsigned allow);
/* The server's mapping changed (MappingNotify): the new one; held state stays. */
void tdm_inject_planner_set_keymap(tdm_inject_planner *p, const tdm_xkeymap *map);

/* One WebSocket text message. TDM_INJECT_OK fills out with the actions to
 * run in order (possibly none: a key_up of a key not held); anything else
 * leaves out empty. kind gets the event's kind when it parsed (else
 * TDM_SIG_IN_KIND_COUNT). Counts every result but NOT_INPUT. */
tdm_inject_result tdm_inject_plan_message(tdm_inject_planner *p, const uint8_t *msg, size_t len,
                                          tdm_inject_plan *out, tdm_sig_input_kind *kind);

/* The customer takes control back (true) or gives it again (false). Taking
 * it fills out with releases of everything held; giving it back, nothing. */
void tdm_inject_set_taken_back(tdm_inject_planner *p, bool taken_back, tdm_inject_plan *out);

/* Keysym for a DOM KeyboardEvent.key value; 0 if none (Dead, Unidentified,
 * several characters). */
uint32_t tdm_inject_keysym_for_key(const char *key);

#endif
