/* inject_plan_test: the sans-IO half of tandem-share's remote input
 * (clients/inject_plan.h) with plain calls on a small US-like keymap:
 * pointer mapping onto the shared monitor, buttons and wheel, keys with
 * Shift chosen by column, modifiers following the event's mods, spare
 * keycodes for characters the keyboard lacks, the local --allow-input
 * policy, the take-back chord never planned, take-back releasing all held. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "inject_plan.h"

enum { KC_A = 38, KC_T = 28, KC_1 = 10, KC_RETURN = 36, KC_CTRL = 37, KC_SHIFT = 50,
       KC_ALT = 64, KC_SUPER = 133, KC_LEFT = 113 };

static tdm_xkeymap keymap;

static void set_key(uint8_t kc, uint32_t s0, uint32_t s1)
{
    keymap.syms[(kc - keymap.min_keycode) * TDM_XKEYMAP_COLUMNS] = s0;
    keymap.syms[(kc - keymap.min_keycode) * TDM_XKEYMAP_COLUMNS + 1] = s1;
}

/* Keycodes 8..255; everything above 200 is left empty (spare). */
static void build_keymap(void)
{
    memset(&keymap, 0, sizeof keymap);
    keymap.min_keycode = 8;
    keymap.max_keycode = 255;
    set_key(KC_A, 'a', 'A');
    set_key(KC_T, 't', 'T');
    set_key(KC_1, '1', '!');
    set_key(KC_RETURN, 0xff0d, 0);
    set_key(KC_CTRL, 0xffe3, 0);
    set_key(KC_SHIFT, 0xffe1, 0);
    set_key(KC_ALT, 0xffe9, 0xffe7);
    set_key(KC_SUPER, 0xffeb, 0);
    set_key(KC_LEFT, 0xff51, 0);
    set_key(65, ' ', 0);
    set_key(39, 's', 0); /* only lower case listed: X's rule gives 'S' in column 1 */
    /* Fill 8..199 with something so only 200.. are spare. */
    for (unsigned kc = 8; kc < 200; kc++)
        if (!keymap.syms[(kc - 8) * TDM_XKEYMAP_COLUMNS])
            set_key((uint8_t)kc, 0x100 + kc, 0); /* Latin-2 keysyms, unused by the tests */
}

static tdm_inject_planner planner;

static int setup(void **state)
{
    (void)state;
    build_keymap();
    tdm_inject_planner_init(&planner, &keymap, (tdm_rect){100, 50, 801, 601},
                            TDM_INJECT_ALLOW_ALL);
    return 0;
}

static tdm_inject_result plan(const char *json, tdm_inject_plan *out)
{
    return tdm_inject_plan_message(&planner, (const uint8_t *)json, strlen(json), out, NULL);
}

static void expect_key(const tdm_xaction *a, uint8_t kc, bool press)
{
    assert_int_equal(a->kind, TDM_XACT_KEY);
    assert_int_equal(a->detail, kc);
    assert_int_equal(a->press, press);
}

static void pointer_maps_onto_the_monitor(void **state)
{
    (void)state;
    tdm_inject_plan p;
    assert_int_equal(plan("{\"type\":\"pointer_move\",\"x\":0,\"y\":0}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.a[0].kind, TDM_XACT_MOTION);
    assert_int_equal(p.a[0].x, 100);
    assert_int_equal(p.a[0].y, 50);
    assert_int_equal(plan("{\"type\":\"pointer_move\",\"x\":1,\"y\":0.5}", &p), TDM_INJECT_OK);
    assert_int_equal(p.a[0].x, 100 + 800);
    assert_int_equal(p.a[0].y, 50 + 300);

    /* A press moves first; a second press of a held button is not repeated. */
    assert_int_equal(plan("{\"type\":\"pointer_button\",\"button\":2,\"down\":true,\"x\":0.5,\"y\":0}", &p),
                     TDM_INJECT_OK);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.a[0].kind, TDM_XACT_MOTION);
    assert_int_equal(p.a[1].kind, TDM_XACT_BUTTON);
    assert_int_equal(p.a[1].detail, 3); /* DOM secondary = X button 3 */
    assert_true(p.a[1].press);
    assert_int_equal(plan("{\"type\":\"pointer_button\",\"button\":2,\"down\":true,\"x\":0.5,\"y\":0}", &p),
                     TDM_INJECT_OK);
    assert_int_equal(p.n, 1);
    assert_int_equal(plan("{\"type\":\"pointer_button\",\"button\":2,\"down\":false,\"x\":0.5,\"y\":0}", &p),
                     TDM_INJECT_OK);
    assert_int_equal(p.n, 2);
    assert_false(p.a[1].press);
}

static void wheel_becomes_clicks(void **state)
{
    (void)state;
    tdm_inject_plan p;
    assert_int_equal(plan("{\"type\":\"pointer_scroll\",\"dx\":-1,\"dy\":3}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 8); /* 3 down clicks, 1 left click, press + release each */
    for (int i = 0; i < 6; i++)
        assert_int_equal(p.a[i].detail, 5);
    assert_int_equal(p.a[6].detail, 6);
    assert_int_equal(plan("{\"type\":\"pointer_scroll\",\"dx\":0,\"dy\":-1000}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 2 * TDM_INJECT_SCROLL_MAX);
    assert_int_equal(p.a[0].detail, 4);
}

static void shift_follows_the_column(void **state)
{
    (void)state;
    tdm_inject_plan p;
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"a\",\"mods\":[]}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 1);
    expect_key(&p.a[0], KC_A, true);
    assert_int_equal(plan("{\"type\":\"key_up\",\"key\":\"a\",\"mods\":[]}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 1);
    expect_key(&p.a[0], KC_A, false);

    /* "!" without the browser's Shift: Shift is pressed for it. */
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"!\"}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 2);
    expect_key(&p.a[0], KC_SHIFT, true);
    expect_key(&p.a[1], KC_1, true);
    /* The release of "1" (Shift let go first in the browser) finds the same key. */
    assert_int_equal(plan("{\"type\":\"key_up\",\"key\":\"1\"}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 1);
    expect_key(&p.a[0], KC_1, false);
    /* Next a lower-case letter: Shift goes up first. */
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"a\"}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 2);
    expect_key(&p.a[0], KC_SHIFT, false);
    expect_key(&p.a[1], KC_A, true);
    /* Implicit upper case: 'S' from a key listing only 's'. */
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"S\",\"mods\":[\"shift\"]}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 2);
    expect_key(&p.a[0], KC_SHIFT, true);
    expect_key(&p.a[1], 39, true);
    /* A key released that was never pressed plans nothing. */
    assert_int_equal(plan("{\"type\":\"key_up\",\"key\":\"Enter\"}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 0);
}

static void modifiers_follow_mods(void **state)
{
    (void)state;
    tdm_inject_plan p;
    /* The browser's own order: Control down, c with ctrl, up, Control up. */
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"Control\",\"mods\":[\"ctrl\"]}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 1);
    expect_key(&p.a[0], KC_CTRL, true);
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"a\",\"mods\":[\"ctrl\"]}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 1);
    expect_key(&p.a[0], KC_A, true);
    assert_int_equal(plan("{\"type\":\"key_up\",\"key\":\"a\",\"mods\":[\"ctrl\"]}", &p), TDM_INJECT_OK);
    assert_int_equal(plan("{\"type\":\"key_up\",\"key\":\"Control\",\"mods\":[]}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 1);
    expect_key(&p.a[0], KC_CTRL, false);

    /* mods without the modifier's own event: pressed, then released when a
     * later key_down no longer has them. */
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"ArrowLeft\",\"mods\":[\"alt\",\"shift\"]}", &p),
                     TDM_INJECT_OK);
    assert_int_equal(p.n, 3);
    expect_key(&p.a[0], KC_ALT, true);
    expect_key(&p.a[1], KC_SHIFT, true);
    expect_key(&p.a[2], KC_LEFT, true);
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"Enter\",\"mods\":[\"meta\"]}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 4);
    expect_key(&p.a[0], KC_ALT, false);
    expect_key(&p.a[1], KC_SUPER, true);
    expect_key(&p.a[2], KC_SHIFT, false);
    expect_key(&p.a[3], KC_RETURN, true);
}

static void unmapped_characters_borrow_spare_keycodes(void **state)
{
    (void)state;
    tdm_inject_plan p;
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"\\u20ac\"}", &p), TDM_INJECT_OK); /* € */
    assert_int_equal(p.n, 2);
    assert_int_equal(p.a[0].kind, TDM_XACT_REMAP);
    assert_int_equal(p.a[0].detail, 200);
    assert_int_equal(p.a[0].keysym, 0x010020ac);
    expect_key(&p.a[1], 200, true);
    /* Still mapped: the next press needs no remap. */
    assert_int_equal(plan("{\"type\":\"key_up\",\"key\":\"\\u20ac\"}", &p), TDM_INJECT_OK);
    expect_key(&p.a[0], 200, false);
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"\\u20ac\"}", &p), TDM_INJECT_OK);
    assert_int_equal(p.n, 1);
    /* Latin-1 é is its own keysym; the € key is held, so the next spare is used. */
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"\\u00e9\"}", &p), TDM_INJECT_OK);
    assert_int_equal(p.a[0].kind, TDM_XACT_REMAP);
    assert_int_equal(p.a[0].detail, 201);
    assert_int_equal(p.a[0].keysym, 0xe9);

    /* No spare keycode at all: refused, counted. */
    tdm_xkeymap full = keymap;
    for (unsigned kc = 200; kc <= 255; kc++)
        full.syms[(kc - 8) * TDM_XKEYMAP_COLUMNS] = 0x100 + kc;
    tdm_inject_planner_init(&planner, &full, (tdm_rect){0, 0, 100, 100}, TDM_INJECT_ALLOW_ALL);
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"\\u20ac\"}", &p), TDM_INJECT_NO_KEYCODE);
    assert_int_equal(p.n, 0);
    assert_int_equal(planner.counts[TDM_INJECT_NO_KEYCODE], 1);
    /* Keys that are no key at all. */
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"Dead\"}", &p), TDM_INJECT_UNKNOWN_KEY);
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"ab\"}", &p), TDM_INJECT_UNKNOWN_KEY);
}

static void take_back_chord_is_never_planned(void **state)
{
    (void)state;
    tdm_inject_plan p;
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"T\",\"mods\":[\"ctrl\",\"alt\",\"shift\"]}", &p),
                     TDM_INJECT_CHORD);
    assert_int_equal(p.n, 0);
    /* Shift implied by the upper-case T is the same chord. */
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"T\",\"mods\":[\"ctrl\",\"alt\"]}", &p),
                     TDM_INJECT_CHORD);
    /* Without all three it is an ordinary key. */
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"t\",\"mods\":[\"ctrl\",\"alt\"]}", &p),
                     TDM_INJECT_OK);
    assert_int_equal(planner.counts[TDM_INJECT_CHORD], 2);
}

static void local_policy_and_take_back(void **state)
{
    (void)state;
    tdm_inject_plan p;
    tdm_inject_planner_init(&planner, &keymap, (tdm_rect){0, 0, 640, 480}, TDM_INJECT_ALLOW_POINTER);
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"a\"}", &p), TDM_INJECT_NOT_ALLOWED);
    assert_int_equal(plan("{\"type\":\"pointer_move\",\"x\":0.1,\"y\":0.1}", &p), TDM_INJECT_OK);
    assert_int_equal(plan("{\"type\":\"clipboard_from_customer\"}", &p), TDM_INJECT_UNSUPPORTED);
    assert_int_equal(plan("{\"type\":\"chat\",\"text\":\"hi\"}", &p), TDM_INJECT_NOT_INPUT);
    assert_int_equal(plan("{\"type\":\"pointer_move\",\"x\":2,\"y\":0}", &p), TDM_INJECT_BAD_EVENT);
    unsigned allow;
    assert_true(tdm_inject_allow_parse("none", &allow));
    assert_int_equal(allow, 0);
    assert_false(tdm_inject_allow_parse("most", &allow));

    /* Held keys and buttons are released when the customer takes over. */
    tdm_inject_planner_init(&planner, &keymap, (tdm_rect){0, 0, 640, 480}, TDM_INJECT_ALLOW_ALL);
    assert_int_equal(plan("{\"type\":\"key_down\",\"key\":\"Control\",\"mods\":[\"ctrl\"]}", &p), TDM_INJECT_OK);
    assert_int_equal(plan("{\"type\":\"pointer_button\",\"button\":0,\"down\":true,\"x\":0,\"y\":0}", &p),
                     TDM_INJECT_OK);
    tdm_inject_set_taken_back(&planner, true, &p);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.a[0].kind, TDM_XACT_BUTTON);
    assert_int_equal(p.a[0].detail, 1);
    assert_false(p.a[0].press);
    expect_key(&p.a[1], KC_CTRL, false);
    assert_int_equal(plan("{\"type\":\"pointer_move\",\"x\":0.1,\"y\":0.1}", &p), TDM_INJECT_TAKEN_BACK);
    assert_int_equal(p.n, 0);
    tdm_inject_set_taken_back(&planner, false, &p);
    assert_int_equal(p.n, 0);
    assert_int_equal(plan("{\"type\":\"pointer_move\",\"x\":0.1,\"y\":0.1}", &p), TDM_INJECT_OK);

    /* Without a display everything is counted, nothing planned. */
    tdm_inject_planner_init(&planner, NULL, (tdm_rect){0, 0, 640, 480}, TDM_INJECT_ALLOW_ALL);
    assert_int_equal(plan("{\"type\":\"pointer_move\",\"x\":0.1,\"y\":0.1}", &p), TDM_INJECT_NO_DISPLAY);
    assert_int_equal(planner.counts[TDM_INJECT_NO_DISPLAY], 1);
}

static void keysyms_for_dom_keys(void **state)
{
    (void)state;
    assert_int_equal(tdm_inject_keysym_for_key("Enter"), 0xff0d);
    assert_int_equal(tdm_inject_keysym_for_key("F1"), 0xffbe);
    assert_int_equal(tdm_inject_keysym_for_key("F12"), 0xffc9);
    assert_int_equal(tdm_inject_keysym_for_key("F25"), 0);
    assert_int_equal(tdm_inject_keysym_for_key("F"), 'F');
    assert_int_equal(tdm_inject_keysym_for_key(" "), 0x20);
    assert_int_equal(tdm_inject_keysym_for_key("\xc3\xa9"), 0xe9);
    assert_int_equal(tdm_inject_keysym_for_key("\xe2\x82\xac"), 0x010020ac);
    assert_int_equal(tdm_inject_keysym_for_key("Unidentified"), 0);
    assert_int_equal(tdm_inject_keysym_for_key("\xc3"), 0); /* cut UTF-8 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(pointer_maps_onto_the_monitor, setup),
        cmocka_unit_test_setup(wheel_becomes_clicks, setup),
        cmocka_unit_test_setup(shift_follows_the_column, setup),
        cmocka_unit_test_setup(modifiers_follow_mods, setup),
        cmocka_unit_test_setup(unmapped_characters_borrow_spare_keycodes, setup),
        cmocka_unit_test_setup(take_back_chord_is_never_planned, setup),
        cmocka_unit_test_setup(local_policy_and_take_back, setup),
        cmocka_unit_test(keysyms_for_dom_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
