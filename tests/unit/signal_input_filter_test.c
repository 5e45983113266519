/* signal_input_filter_test: the input event parser gives clear errors for
 * malformed, unknown and oversize messages and reads every kind; the
 * profiles hold: view_only denies every kind, pointer only moves, control
 * blocks Ctrl+Alt+Delete (with extra modifiers too) but not Ctrl+C, full
 * adds the clipboard; the token bucket holds the rate on a fake clock; a
 * JSON profile configuration loads and its mistakes are named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_sig_filter.h"
#include "tdm_sig_input.h"
#include "tdm_sig_profile.h"

static tdm_status parse(const char *s, tdm_sig_input_event *ev, tdm_error *e)
{
    return tdm_sig_input_parse((const uint8_t *)s, strlen(s), ev, e);
}

static tdm_sig_input_event ev_of(const char *s)
{
    tdm_sig_input_event ev;
    tdm_error e = {{0}};
    tdm_status st = parse(s, &ev, &e);
    if (st != TDM_OK)
        fail_msg("parse %s: %s", s, e.msg);
    return ev;
}

/* One valid message of every kind. */
static const char *const every_kind[TDM_SIG_IN_KIND_COUNT] = {
    "{\"type\":\"pointer_move\",\"x\":0.5,\"y\":0.25}",
    "{\"type\":\"pointer_button\",\"button\":0,\"down\":true,\"x\":1,\"y\":0}",
    "{\"type\":\"pointer_scroll\",\"dx\":0,\"dy\":-3}",
    "{\"type\":\"key_down\",\"key\":\"a\",\"mods\":[\"shift\"]}",
    "{\"type\":\"key_up\",\"key\":\"a\"}",
    "{\"type\":\"clipboard_to_customer\",\"text\":\"hello\"}",
    "{\"type\":\"clipboard_from_customer\"}",
};

static void parser_reads_every_kind(void **state)
{
    (void)state;
    for (int k = 0; k < TDM_SIG_IN_KIND_COUNT; k++) {
        tdm_sig_input_event ev = ev_of(every_kind[k]);
        assert_int_equal(ev.kind, k);
    }
    tdm_sig_input_event ev = ev_of(every_kind[TDM_SIG_IN_POINTER_MOVE]);
    assert_true(ev.x == 0.5 && ev.y == 0.25);
    ev = ev_of("{\"type\":\"key_down\",\"key\":\"Delete\",\"mods\":[\"ctrl\",\"alt\"]}");
    assert_string_equal(ev.key, "Delete");
    assert_int_equal(ev.mods, TDM_SIG_MOD_CTRL | TDM_SIG_MOD_ALT);
    ev = ev_of(every_kind[TDM_SIG_IN_CLIPBOARD_TO_CUSTOMER]);
    assert_int_equal(ev.text_len, 5);
}

static void parser_errors_are_clear(void **state)
{
    (void)state;
    static const struct {
        const char *msg;
        tdm_status want;
        const char *says;
    } cases[] = {
        {"", TDM_ERR_FORMAT, "not JSON"},
        {"{\"type\":\"pointer_move\",\"x\":0.5", TDM_ERR_FORMAT, "not JSON"},
        {"[1,2]", TDM_ERR_FORMAT, "object"},
        {"{\"type\":\"key_down\",\"key\":\"a\"} trailing", TDM_ERR_FORMAT, "not JSON"},
        {"{\"x\":1}", TDM_ERR_FORMAT, "\"type\""},
        {"{\"type\":7}", TDM_ERR_FORMAT, "\"type\""},
        {"{\"type\":\"teleport\"}", TDM_ERR_UNSUPPORTED, "unknown event type"},
        {"{\"type\":\"pointer_move\",\"x\":0.5}", TDM_ERR_FORMAT, "needs \"y\""},
        {"{\"type\":\"pointer_move\",\"x\":2,\"y\":0}", TDM_ERR_RANGE, "\"x\""},
        {"{\"type\":\"pointer_move\",\"x\":\"0\",\"y\":0}", TDM_ERR_FORMAT, "\"x\""},
        {"{\"type\":\"pointer_move\",\"x\":0,\"y\":0,\"cmd\":\"rm -rf\"}", TDM_ERR_FORMAT,
         "unexpected field"},
        {"{\"type\":\"pointer_button\",\"button\":9,\"down\":true,\"x\":0,\"y\":0}", TDM_ERR_RANGE,
         "\"button\""},
        {"{\"type\":\"pointer_button\",\"button\":1,\"down\":1,\"x\":0,\"y\":0}", TDM_ERR_FORMAT,
         "\"down\""},
        {"{\"type\":\"key_down\",\"key\":\"\"}", TDM_ERR_FORMAT, "\"key\""},
        {"{\"type\":\"key_down\",\"key\":\"a\\u0000b\"}", TDM_ERR_FORMAT, "not JSON"},
        {"{\"type\":\"key_down\",\"key\":\"a\",\"mods\":[\"hyper\"]}", TDM_ERR_FORMAT, "modifier"},
        {"{\"type\":\"key_down\",\"key\":\"a\",\"mods\":[\"ctrl\",\"ctrl\"]}", TDM_ERR_FORMAT,
         "repeated"},
        {"{\"type\":\"key_up\",\"key\":\"a\",\"type\":\"key_up\"}", TDM_ERR_FORMAT, "not JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tdm_sig_input_event ev;
        tdm_error e = {{0}};
        tdm_status st = parse(cases[i].msg, &ev, &e);
        if (st != cases[i].want || !strstr(e.msg, cases[i].says))
            fail_msg("'%s': got %d '%s', wanted %d with '%s'", cases[i].msg, st, e.msg,
                     cases[i].want, cases[i].says);
    }
}

static void parser_refuses_oversize_unread(void **state)
{
    (void)state;
    size_t n = TDM_SIG_INPUT_MAX + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    tdm_sig_input_event ev;
    tdm_error e = {{0}};
    assert_int_equal(tdm_sig_input_parse((const uint8_t *)big, n, &ev, &e), TDM_ERR_RANGE);
    assert_non_null(strstr(e.msg, "over"));
    /* A clipboard text over its own limit inside a message under the cap. */
    size_t text = TDM_SIG_CLIPBOARD_MAX + 1;
    snprintf(big, n, "{\"type\":\"clipboard_to_customer\",\"text\":\"");
    size_t at = strlen(big);
    memset(big + at, 'x', text);
    strcpy(big + at + text, "\"}");
    assert_int_equal(parse(big, &ev, &e), TDM_ERR_RANGE);
    assert_non_null(strstr(e.msg, "clipboard"));
    free(big);
}

static tdm_sig_verdict check(const tdm_sig_profile *p, const char *msg, tdm_sig_bucket *b,
                             int64_t now)
{
    tdm_sig_input_event ev = ev_of(msg);
    return tdm_sig_filter_check(p, &ev, b, now);
}

static void view_only_denies_every_kind(void **state)
{
    (void)state;
    tdm_sig_profiles set;
    tdm_sig_profiles_builtin(&set);
    const tdm_sig_profile *p = tdm_sig_profiles_find(&set, "view_only");
    assert_non_null(p);
    tdm_sig_bucket b = {0};
    for (int k = 0; k < TDM_SIG_IN_KIND_COUNT; k++)
        assert_int_equal(check(p, every_kind[k], &b, 1000), TDM_SIG_DENY_KIND);
}

static void pointer_profile_only_moves(void **state)
{
    (void)state;
    tdm_sig_profiles set;
    tdm_sig_profiles_builtin(&set);
    const tdm_sig_profile *p = tdm_sig_profiles_find(&set, "pointer");
    tdm_sig_bucket b = {0};
    for (int k = 0; k < TDM_SIG_IN_KIND_COUNT; k++)
        assert_int_equal(check(p, every_kind[k], &b, 1000),
                         k == TDM_SIG_IN_POINTER_MOVE ? TDM_SIG_ALLOW : TDM_SIG_DENY_KIND);
}

static void control_blocks_ctrl_alt_delete(void **state)
{
    (void)state;
    tdm_sig_profiles set;
    tdm_sig_profiles_builtin(&set);
    const tdm_sig_profile *c = tdm_sig_profiles_find(&set, "control");
    const tdm_sig_profile *f = tdm_sig_profiles_find(&set, "full");
    tdm_sig_bucket b = {0};
    const char *cad = "{\"type\":\"key_down\",\"key\":\"Delete\",\"mods\":[\"ctrl\",\"alt\"]}";
    assert_int_equal(check(c, cad, &b, 1000), TDM_SIG_DENY_CHORD);
    assert_int_equal(check(f, cad, &b, 1000), TDM_SIG_DENY_CHORD);
    assert_int_equal(
        check(c, "{\"type\":\"key_down\",\"key\":\"delete\",\"mods\":[\"shift\",\"alt\",\"ctrl\"]}",
              &b, 1000),
        TDM_SIG_DENY_CHORD);
    /* Not the chord: Delete alone, Ctrl+Delete, Ctrl+C, and releasing keys. */
    assert_int_equal(check(c, "{\"type\":\"key_down\",\"key\":\"Delete\"}", &b, 1000),
                     TDM_SIG_ALLOW);
    assert_int_equal(
        check(c, "{\"type\":\"key_down\",\"key\":\"Delete\",\"mods\":[\"ctrl\"]}", &b, 1000),
        TDM_SIG_ALLOW);
    assert_int_equal(
        check(c, "{\"type\":\"key_down\",\"key\":\"c\",\"mods\":[\"ctrl\"]}", &b, 1000),
        TDM_SIG_ALLOW);
    assert_int_equal(
        check(c, "{\"type\":\"key_up\",\"key\":\"Delete\",\"mods\":[\"ctrl\",\"alt\"]}", &b, 1000),
        TDM_SIG_ALLOW);
    assert_int_equal(
        check(c, "{\"type\":\"key_down\",\"key\":\"l\",\"mods\":[\"meta\"]}", &b, 1000),
        TDM_SIG_DENY_CHORD);
    /* control has no clipboard; full has both directions. */
    assert_int_equal(check(c, every_kind[TDM_SIG_IN_CLIPBOARD_TO_CUSTOMER], &b, 1000),
                     TDM_SIG_DENY_KIND);
    assert_int_equal(check(f, every_kind[TDM_SIG_IN_CLIPBOARD_TO_CUSTOMER], &b, 1000),
                     TDM_SIG_ALLOW);
    assert_int_equal(check(f, every_kind[TDM_SIG_IN_CLIPBOARD_FROM_CUSTOMER], &b, 1000),
                     TDM_SIG_ALLOW);
}

static void rate_limit_holds_on_a_fake_clock(void **state)
{
    (void)state;
    tdm_sig_profile p;
    memset(&p, 0, sizeof p);
    strcpy(p.name, "t");
    p.kinds = 1u << TDM_SIG_IN_POINTER_MOVE;
    p.rate_per_s = 10;
    p.burst = 5;
    tdm_sig_bucket b = {0};
    const char *mv = every_kind[TDM_SIG_IN_POINTER_MOVE];
    int64_t t = 1700000000000;
    /* The burst passes at once, then nothing at the same instant. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(check(&p, mv, &b, t), TDM_SIG_ALLOW);
    assert_int_equal(check(&p, mv, &b, t), TDM_SIG_DENY_RATE);
    /* 10/s: one token per 100 ms. */
    assert_int_equal(check(&p, mv, &b, t + 99), TDM_SIG_DENY_RATE);
    assert_int_equal(check(&p, mv, &b, t + 100), TDM_SIG_ALLOW);
    assert_int_equal(check(&p, mv, &b, t + 150), TDM_SIG_DENY_RATE);
    /* Over 10 simulated seconds at 1 kHz, about 10/s pass (plus the burst). */
    int allowed = 0;
    for (int ms = 1; ms <= 10000; ms++)
        allowed += check(&p, mv, &b, t + 150 + ms) == TDM_SIG_ALLOW;
    assert_in_range(allowed, 99, 101);
    /* A long pause refills only to the burst. */
    allowed = 0;
    for (int i = 0; i < 20; i++)
        allowed += check(&p, mv, &b, t + 3600000) == TDM_SIG_ALLOW;
    assert_int_equal(allowed, 5);
    /* A clock that steps back refills nothing. */
    assert_int_equal(check(&p, mv, &b, t), TDM_SIG_DENY_RATE);
    /* Denied kinds do not spend tokens. */
    tdm_sig_bucket b2 = {0};
    p.burst = 1;
    assert_int_equal(check(&p, every_kind[TDM_SIG_IN_KEY_DOWN], &b2, t), TDM_SIG_DENY_KIND);
    assert_int_equal(check(&p, mv, &b2, t), TDM_SIG_ALLOW);
}

static void profiles_load_from_json(void **state)
{
    (void)state;
    tdm_sig_profiles set;
    tdm_sig_profiles_builtin(&set);
    const char *cfg =
        "{\"profiles\":{"
        "\"support_l1\":{\"events\":[\"pointer_move\",\"pointer_button\",\"key_down\",\"key_up\"],"
        "\"blocked_chords\":[\"Ctrl+Alt+Del\",\"Meta+R\"],\"clipboard\":\"to_customer\","
        "\"rate\":{\"per_second\":50,\"burst\":60}},"
        "\"view_only\":{\"events\":[\"pointer_move\"]}}}";
    tdm_error e = {{0}};
    assert_int_equal(tdm_sig_profiles_load_json(&set, cfg, strlen(cfg), &e), TDM_OK);
    assert_int_equal(set.count, 5);
    const tdm_sig_profile *p = tdm_sig_profiles_find(&set, "support_l1");
    assert_non_null(p);
    assert_int_equal(p->rate_per_s, 50);
    assert_int_equal(p->burst, 60);
    assert_int_equal(p->n_chords, 2);
    tdm_sig_bucket b = {0};
    assert_int_equal(
        check(p, "{\"type\":\"key_down\",\"key\":\"Delete\",\"mods\":[\"ctrl\",\"alt\"]}", &b, 0),
        TDM_SIG_DENY_CHORD);
    assert_int_equal(check(p, "{\"type\":\"key_down\",\"key\":\"r\",\"mods\":[\"meta\"]}", &b, 0),
                     TDM_SIG_DENY_CHORD);
    assert_int_equal(check(p, every_kind[TDM_SIG_IN_CLIPBOARD_TO_CUSTOMER], &b, 0), TDM_SIG_ALLOW);
    assert_int_equal(check(p, every_kind[TDM_SIG_IN_CLIPBOARD_FROM_CUSTOMER], &b, 0),
                     TDM_SIG_DENY_KIND);
    assert_int_equal(check(p, every_kind[TDM_SIG_IN_POINTER_SCROLL], &b, 0), TDM_SIG_DENY_KIND);
    /* A built-in can be redefined. */
    assert_int_equal(check(tdm_sig_profiles_find(&set, "view_only"), every_kind[0], &b, 0),
                     TDM_SIG_ALLOW);

    static const struct {
        const char *json;
        const char *says;
    } bad[] = {
        {"{\"profiles\":{\"x\":{\"events\":[\"teleport\"]}}}", "events[0]"},
        {"{\"profiles\":{\"x\":{\"events\":[\"clipboard_to_customer\"]}}}", "events[0]"},
        {"{\"profiles\":{\"x\":{\"blocked_chords\":[\"Hyper+Q\"]}}}", "unknown modifier"},
        {"{\"profiles\":{\"x\":{\"clipboard\":\"sideways\"}}}", "clipboard"},
        {"{\"profiles\":{\"x\":{\"rate\":{\"per_second\":-1,\"burst\":1}}}}", "rate"},
        {"{\"profiles\":{\"Bad Name\":{}}}", "profile name"},
        {"{\"profiles\":{\"x\":{\"colour\":\"red\"}}}", "unknown field"},
        {"{\"profile\":{}}", "expected"},
        {"{", "not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tdm_sig_profiles before = set;
        assert_int_not_equal(tdm_sig_profiles_load_json(&set, bad[i].json, strlen(bad[i].json), &e),
                             TDM_OK);
        if (!strstr(e.msg, bad[i].says))
            fail_msg("'%s': message '%s' does not say '%s'", bad[i].json, e.msg, bad[i].says);
        assert_memory_equal(&before, &set, sizeof set); /* unchanged on error */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parser_reads_every_kind),
        cmocka_unit_test(parser_errors_are_clear),
        cmocka_unit_test(parser_refuses_oversize_unread),
        cmocka_unit_test(view_only_denies_every_kind),
        cmocka_unit_test(pointer_profile_only_moves),
        cmocka_unit_test(control_blocks_ctrl_alt_delete),
        cmocka_unit_test(rate_limit_holds_on_a_fake_clock),
        cmocka_unit_test(profiles_load_from_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
