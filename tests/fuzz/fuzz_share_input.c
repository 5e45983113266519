/* fuzz_share_input: feeds arbitrary bytes, as a WebSocket message from
 * tandem-signal, to tandem-share's input planner (clients/inject_plan.h)
 * and holds it to its contract: a result in range; an empty plan for
 * anything but "injected"; every action well-formed (buttons 1..9, keycodes
 * in the keymap, motion inside the shared monitor); the take-back chord's
 * key never pressed with Ctrl, Alt and Shift all held; and taking control
 * back releases everything still held. One planner lives across inputs so
 * held state builds up as in a session. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inject_plan.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_share_input: invariant failed: %s (line %d)\n", #cond,           \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static tdm_inject_planner planner;
static bool ready;
static const tdm_rect area = {64, 32, 640, 480};
enum { KC_T = 28, KC_CTRL = 37, KC_SHIFT = 50, KC_ALT = 64 };

static void init(void)
{
    static tdm_xkeymap map;
    map.min_keycode = 8;
    map.max_keycode = 255;
    for (unsigned kc = 10; kc < 100; kc++) {
        /* printable ASCII pairs, lower/upper */
        map.syms[(kc - 8) * TDM_XKEYMAP_COLUMNS] = 0x20 + (kc - 10);
        map.syms[(kc - 8) * TDM_XKEYMAP_COLUMNS + 1] = kc - 10 + 0x21 < 0x7f ? 0x21 + (kc - 10) : 0;
    }
    const uint32_t specials[][2] = {{KC_CTRL, 0xffe3}, {KC_SHIFT, 0xffe1}, {KC_ALT, 0xffe9},
                                    {36, 0xff0d},      {113, 0xff51},     {133, 0xffeb}};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        map.syms[(specials[i][0] - 8) * TDM_XKEYMAP_COLUMNS] = specials[i][1];
        map.syms[(specials[i][0] - 8) * TDM_XKEYMAP_COLUMNS + 1] = 0;
    }
    tdm_inject_planner_init(&planner, &map, area, TDM_INJECT_ALLOW_ALL);
    ready = true;
}

/* Replays a plan on a model of the server's key state to check the chord. */
static bool down[256];

static void check_plan(const tdm_inject_plan *p)
{
    CHECK(p->n <= TDM_INJECT_MAX_ACTIONS);
    for (size_t i = 0; i < p->n; i++) {
        const tdm_xaction *a = &p->a[i];
        switch (a->kind) {
        case TDM_XACT_MOTION:
            CHECK(a->x >= area.x && a->x < area.x + area.w);
            CHECK(a->y >= area.y && a->y < area.y + area.h);
            break;
        case TDM_XACT_BUTTON: CHECK(a->detail >= 1 && a->detail <= 9); break;
        case TDM_XACT_KEY: {
            CHECK(a->detail >= planner.map.min_keycode && a->detail <= planner.map.max_keycode);
            down[a->detail] = a->press;
            const uint32_t *s = &planner.map.syms[(a->detail - planner.map.min_keycode) *
                                                  TDM_XKEYMAP_COLUMNS];
            bool t = s[0] == 't'; /* the keycode x11_inject grabs */
            CHECK(!(a->press && t && down[KC_CTRL] && down[KC_ALT] && down[KC_SHIFT]));
            break;
        }
        case TDM_XACT_REMAP: CHECK(a->keysym != 0); break;
        default: CHECK(false);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready)
        init();
    tdm_inject_plan p;
    tdm_sig_input_kind kind;
    tdm_inject_result r = tdm_inject_plan_message(&planner, data, size, &p, &kind);
    CHECK((unsigned)r < TDM_INJECT_RESULT_COUNT);
    CHECK(strcmp(tdm_inject_result_name(r), "unknown") != 0);
    if (r != TDM_INJECT_OK)
        CHECK(p.n == 0);
    check_plan(&p);
    /* Now and then the customer takes over and gives back. */
    if (size && data[0] == '{' && size % 7 == 0) {
        tdm_inject_set_taken_back(&planner, true, &p);
        for (size_t i = 0; i < p.n; i++)
            CHECK(!p.a[i].press && p.a[i].kind != TDM_XACT_MOTION);
        check_plan(&p);
        for (unsigned kc = 0; kc < 256; kc++)
            CHECK(!(planner.held_keys[kc / 8] & (1u << (kc % 8))));
        for (int kc = 0; kc < 256; kc++)
            down[kc] = false;
        tdm_inject_set_taken_back(&planner, false, &p);
        CHECK(p.n == 0);
    }
    return 0;
}
