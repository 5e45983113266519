/* tdm_sig_input: input event messages, rep -> signaling -> customer.
 *
 * Owns parsing one WebSocket text message carrying an input event into a
 * tdm_sig_input_event, sans-IO. The parser reads outside bytes, so it is
 * strict: the message is one JSON object of at most TDM_SIG_INPUT_MAX bytes,
 * "type" names a known kind, the fields of that kind have the right types
 * and ranges, and no other field is present (so a message that passed can be
 * forwarded as it is without smuggling anything to the customer).
 *
 *   {"type":"pointer_move","x":0.5,"y":0.25}            x, y in [0,1]
 *   {"type":"pointer_button","button":0,"down":true,"x":..,"y":..}  button 0..4
 *   {"type":"pointer_scroll","dx":0,"dy":-3}             |dx|,|dy| <= 1000
 *   {"type":"key_down","key":"Delete","mods":["ctrl","alt"]}
 *   {"type":"key_up","key":"a","mods":[]}                mods optional
 *   {"type":"clipboard_to_customer","text":"..."}        text <= 16 KiB
 *   {"type":"clipboard_from_customer"}                   a request to read
 *
 * key is a DOM KeyboardEvent.key value, 1..32 bytes of printable UTF-8;
 * mods are "ctrl", "alt", "shift", "meta", each at most once. */
#ifndef TDM_SIG_INPUT_H
#define TDM_SIG_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

#define TDM_SIG_INPUT_MAX 20000
#define TDM_SIG_CLIPBOARD_MAX 16384
#define TDM_SIG_KEY_MAX 32

/* X(enum, wire name) */
#define TDM_SIG_INPUT_KIND_MAP(X)                                                                  \
    X(TDM_SIG_IN_POINTER_MOVE, "pointer_move")                                                     \
    X(TDM_SIG_IN_POINTER_BUTTON, "pointer_button")                                                 \
    X(TDM_SIG_IN_POINTER_SCROLL, "pointer_scroll")                                                 \
    X(TDM_SIG_IN_KEY_DOWN, "key_down")                                                             \
    X(TDM_SIG_IN_KEY_UP, "key_up")                                                                 \
    X(TDM_SIG_IN_CLIPBOARD_TO_CUSTOMER, "clipboard_to_customer")                                   \
    X(TDM_SIG_IN_CLIPBOARD_FROM_CUSTOMER, "clipboard_from_customer")

typedef enum tdm_sig_input_kind {
#define TDM_SIG_INPUT_KIND_ENUM(e, name) e,
    TDM_SIG_INPUT_KIND_MAP(TDM_SIG_INPUT_KIND_ENUM)
#undef TDM_SIG_INPUT_KIND_ENUM
        TDM_SIG_IN_KIND_COUNT
} tdm_sig_input_kind;

/* Modifier bits of a key event or a blocked chord. */
enum {
    TDM_SIG_MOD_CTRL = 1,
    TDM_SIG_MOD_ALT = 2,
    TDM_SIG_MOD_SHIFT = 4,
    TDM_SIG_MOD_META = 8,
};

typedef struct tdm_sig_input_event {
    tdm_sig_input_kind kind;
    double x, y;                   /* pointer_move, pointer_button */
    int button;                    /* pointer_button */
    bool down;                     /* pointer_button */
    int dx, dy;                    /* pointer_scroll */
    char key[TDM_SIG_KEY_MAX + 1]; /* key_down, key_up */
    unsigned mods;                 /* key_down, key_up: TDM_SIG_MOD_* */
    size_t text_len;               /* clipboard_to_customer: bytes of text */
} tdm_sig_input_event;

/* Wire name of a kind ("key_down"); "unknown" out of range. */
const char *tdm_sig_input_kind_name(tdm_sig_input_kind k);
/* Kind from a wire name; false if unknown. */
bool tdm_sig_input_kind_parse(const char *name, tdm_sig_input_kind *out);

/* Parses one message.
 * @return TDM_OK; TDM_ERR_RANGE for a message over TDM_SIG_INPUT_MAX (not
 *         read) or a field out of range; TDM_ERR_FORMAT for anything
 *         malformed (not JSON, not an object, missing/extra/mistyped field);
 *         TDM_ERR_UNSUPPORTED for an unknown "type". err says which field. */
tdm_status tdm_sig_input_parse(const uint8_t *buf, size_t len, tdm_sig_input_event *out,
                               tdm_error *err);

#endif
