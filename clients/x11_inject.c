/* x11_inject.c: XTEST injection and the take-back chord grab (x11_inject.h). */
#include "x11_inject.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xcb/xcb.h>
#include <xcb/xtest.h>

struct tdm_x11_injector {
    xcb_connection_t *conn;
    xcb_window_t root;
    char display[64];
    tdm_xkeymap map;
    xcb_keycode_t chord_keycode; /* 0: not grabbed */
    uint8_t remapped[32];        /* keycodes a REMAP gave a keysym: emptied at close */
};

static tdm_status read_keymap(tdm_x11_injector *inj, tdm_error *err)
{
    const xcb_setup_t *setup = xcb_get_setup(inj->conn);
    uint8_t min = setup->min_keycode, max = setup->max_keycode;
    xcb_get_keyboard_mapping_reply_t *r = xcb_get_keyboard_mapping_reply(
        inj->conn, xcb_get_keyboard_mapping(inj->conn, min, (uint8_t)(max - min + 1)), NULL);
    if (!r)
        return tdm_fail(err, TDM_ERR_IO, "X display '%s': cannot read the keyboard mapping",
                        inj->display);
    const xcb_keysym_t *syms = xcb_get_keyboard_mapping_keysyms(r);
    int n = xcb_get_keyboard_mapping_keysyms_length(r);
    int per = r->keysyms_per_keycode;
    memset(&inj->map, 0, sizeof inj->map);
    inj->map.min_keycode = min;
    inj->map.max_keycode = max;
    for (int kc = min; kc <= max; kc++)
        for (int c = 0; c < per && c < TDM_XKEYMAP_COLUMNS; c++) {
            int i = (kc - min) * per + c;
            if (i < n)
                inj->map.syms[(kc - min) * TDM_XKEYMAP_COLUMNS + c] = syms[i];
        }
    free(r);
    return TDM_OK;
}

static uint8_t keycode_of(const tdm_xkeymap *m, uint32_t ks)
{
    for (unsigned kc = m->min_keycode; kc <= m->max_keycode; kc++)
        if (m->syms[(kc - m->min_keycode) * TDM_XKEYMAP_COLUMNS] == ks)
            return (uint8_t)kc;
    return 0;
}

static tdm_status grab_chord(tdm_x11_injector *inj, tdm_error *err)
{
    uint8_t kc = keycode_of(&inj->map, TDM_TAKE_BACK_KEYSYM);
    if (!kc)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                        "X display '%s' has no key for 't': cannot grab the take-back chord",
                        inj->display);
    /* Alt is Mod1 on every layout X ships; Lock and Mod2 (Num Lock) must
     * not stop the chord, so each combination is grabbed. */
    uint16_t base = XCB_MOD_MASK_CONTROL | XCB_MOD_MASK_1 | XCB_MOD_MASK_SHIFT;
    uint16_t extra[4] = {0, XCB_MOD_MASK_LOCK, XCB_MOD_MASK_2, XCB_MOD_MASK_LOCK | XCB_MOD_MASK_2};
    xcb_void_cookie_t ck[4];
    for (int i = 0; i < 4; i++)
        ck[i] = xcb_grab_key_checked(inj->conn, 1, inj->root, base | extra[i], kc,
                                     XCB_GRAB_MODE_ASYNC, XCB_GRAB_MODE_ASYNC);
    uint8_t code = 0;
    for (int i = 0; i < 4; i++) {
        xcb_generic_error_t *e = xcb_request_check(inj->conn, ck[i]);
        if (e && !code)
            code = e->error_code;
        free(e);
    }
    if (code)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE,
                        "X display '%s': another client holds Ctrl+Alt+Shift+T (X error %u); "
                        "the take-back chord needs it",
                        inj->display, code);
    inj->chord_keycode = kc;
    return TDM_OK;
}

tdm_status tdm_x11_injector_open(const char *display, bool grab, tdm_x11_injector **out,
                                 tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "injector: no output pointer");
    *out = NULL;
    const char *name = display ? display : getenv("DISPLAY");
    if (!name || !*name)
        return tdm_fail(err, TDM_ERR_INVALID, "no X display given and $DISPLAY is not set");
    tdm_x11_injector *inj = calloc(1, sizeof *inj);
    if (!inj)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the injector");
    snprintf(inj->display, sizeof inj->display, "%s", name);
    int screen_number = 0;
    inj->conn = xcb_connect(name, &screen_number);
    tdm_status st = TDM_OK;
    if (xcb_connection_has_error(inj->conn)) {
        st = tdm_fail(err, TDM_ERR_UNAVAILABLE, "cannot connect to X display '%s'", name);
        goto fail;
    }
    xcb_screen_iterator_t it = xcb_setup_roots_iterator(xcb_get_setup(inj->conn));
    for (int i = 0; it.rem && i < screen_number; i++)
        xcb_screen_next(&it);
    if (!it.rem) {
        st = tdm_fail(err, TDM_ERR_INVALID, "X display '%s' has no screen %d", name, screen_number);
        goto fail;
    }
    inj->root = it.data->root;
    const xcb_query_extension_reply_t *ext = xcb_get_extension_data(inj->conn, &xcb_test_id);
    xcb_test_get_version_reply_t *v =
        ext && ext->present
            ? xcb_test_get_version_reply(inj->conn, xcb_test_get_version(inj->conn, 2, 2), NULL)
            : NULL;
    if (!v) {
        st = tdm_fail(err, TDM_ERR_UNSUPPORTED,
                      "X display '%s' lacks the XTEST extension, which remote input needs", name);
        goto fail;
    }
    free(v);
    if ((st = read_keymap(inj, err)) != TDM_OK || (grab && (st = grab_chord(inj, err)) != TDM_OK))
        goto fail;
    xcb_flush(inj->conn);
    *out = inj;
    return TDM_OK;
fail:
    tdm_x11_injector_close(inj);
    return st;
}

void tdm_x11_injector_close(tdm_x11_injector *inj)
{
    if (!inj)
        return;
    if (inj->conn && !xcb_connection_has_error(inj->conn)) {
        /* Spare keycodes go back to having no keysym: the customer's
         * keyboard is left as it was found. */
        xcb_keysym_t none[2] = {0, 0};
        for (unsigned kc = 0; kc < 256; kc++)
            if (inj->remapped[kc / 8] & (1u << (kc % 8)))
                xcb_change_keyboard_mapping(inj->conn, 1, (xcb_keycode_t)kc, 2, none);
        free(xcb_get_input_focus_reply(inj->conn, xcb_get_input_focus(inj->conn), NULL));
    }
    if (inj->conn)
        xcb_disconnect(inj->conn); /* the server drops the grabs with the client */
    free(inj);
}

const tdm_xkeymap *tdm_x11_injector_keymap(const tdm_x11_injector *inj)
{
    return inj ? &inj->map : NULL;
}

tdm_status tdm_x11_injector_run(tdm_x11_injector *inj, const tdm_inject_plan *plan, tdm_error *err)
{
    if (!inj || !plan)
        return tdm_fail(err, TDM_ERR_INVALID, "injector run: NULL argument");
    for (size_t i = 0; i < plan->n; i++) {
        const tdm_xaction *a = &plan->a[i];
        switch (a->kind) {
        case TDM_XACT_MOTION:
            /* detail 0: absolute, relative to the root window given. */
            xcb_test_fake_input(inj->conn, XCB_MOTION_NOTIFY, 0, XCB_CURRENT_TIME, inj->root,
                                (int16_t)a->x, (int16_t)a->y, 0);
            break;
        case TDM_XACT_BUTTON:
            xcb_test_fake_input(inj->conn, a->press ? XCB_BUTTON_PRESS : XCB_BUTTON_RELEASE,
                                a->detail, XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
            break;
        case TDM_XACT_KEY:
            xcb_test_fake_input(inj->conn, a->press ? XCB_KEY_PRESS : XCB_KEY_RELEASE, a->detail,
                                XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
            break;
        case TDM_XACT_REMAP: {
            xcb_keysym_t syms[2] = {a->keysym, a->keysym};
            xcb_change_keyboard_mapping(inj->conn, 1, a->detail, 2, syms);
            /* Our model already has it; the MappingNotify re-read agrees. */
            uint32_t *row = &inj->map.syms[(a->detail - inj->map.min_keycode) * TDM_XKEYMAP_COLUMNS];
            memset(row, 0, TDM_XKEYMAP_COLUMNS * sizeof *row);
            row[0] = row[1] = a->keysym;
            inj->remapped[a->detail / 8] |= (uint8_t)(1u << (a->detail % 8));
            break;
        }
        }
    }
    if (xcb_flush(inj->conn) <= 0 || xcb_connection_has_error(inj->conn))
        return tdm_fail(err, TDM_ERR_IO, "lost the connection to X display '%s'", inj->display);
    return TDM_OK;
}

tdm_status tdm_x11_injector_sync(tdm_x11_injector *inj, tdm_error *err)
{
    xcb_get_input_focus_reply_t *r =
        xcb_get_input_focus_reply(inj->conn, xcb_get_input_focus(inj->conn), NULL);
    if (!r)
        return tdm_fail(err, TDM_ERR_IO, "lost the connection to X display '%s'", inj->display);
    free(r);
    return TDM_OK;
}

int tdm_x11_injector_fd(const tdm_x11_injector *inj)
{
    return inj ? xcb_get_file_descriptor(inj->conn) : -1;
}

tdm_status tdm_x11_injector_poll(tdm_x11_injector *inj, unsigned *chord, bool *keymap_changed,
                                 tdm_error *err)
{
    *chord = 0;
    *keymap_changed = false;
    bool reread = false;
    xcb_generic_event_t *ev;
    while ((ev = xcb_poll_for_event(inj->conn)) != NULL) {
        uint8_t type = ev->response_type & 0x7f;
        if (type == XCB_KEY_PRESS &&
            ((xcb_key_press_event_t *)ev)->detail == inj->chord_keycode && inj->chord_keycode)
            (*chord)++;
        else if (type == XCB_MAPPING_NOTIFY &&
                 ((xcb_mapping_notify_event_t *)ev)->request == XCB_MAPPING_KEYBOARD)
            reread = true;
        free(ev);
    }
    if (xcb_connection_has_error(inj->conn))
        return tdm_fail(err, TDM_ERR_IO, "lost the connection to X display '%s'", inj->display);
    if (reread) {
        tdm_status st = read_keymap(inj, err);
        if (st != TDM_OK)
            return st;
        *keymap_changed = true;
    }
    return TDM_OK;
}
