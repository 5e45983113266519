/* rep_input_test: tandem-rep's event lines (tools/tdm_rep_input.h) with
 * plain calls. Every message produced is checked with tandem-signal's own
 * input parser (signaling/tdm_sig_input.h): what the tool sends is what the
 * service accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_rep_input.h"
#include "tdm_sig_input.h"

/* Parses line; asserts status; returns the messages (caller decrefs). */
static json_t *parse(const char *line, tdm_status want, long *wait_ms)
{
    json_t *evs = json_array();
    long w = -1;
    tdm_error err = {{0}};
    tdm_status st = tdm_rep_input_parse(line, evs, &w, &err);
    if (st != want)
        fail_msg("'%s': status %d (%s), wanted %d", line, st, err.msg, want);
    if (st != TDM_OK) {
        assert_int_equal(json_array_size(evs), 0);
        assert_true(err.msg[0] != '\0');
    }
    if (wait_ms)
        *wait_ms = w;
    /* The service's parser accepts every message. */
    size_t i;
    json_t *ev;
    json_array_foreach (evs, i, ev) {
        char *t = json_dumps(ev, JSON_COMPACT);
        tdm_sig_input_event e;
        tdm_error perr = {{0}};
        if (tdm_sig_input_parse((const uint8_t *)t, strlen(t), &e, &perr) != TDM_OK)
            fail_msg("'%s' gave %s, refused by the service: %s", line, t, perr.msg);
        free(t);
    }
    return evs;
}

/* A bad line: refused with a reason, nothing added. */
static void refused(const char *line)
{
    json_t *evs = json_array();
    long w;
    tdm_error err = {{0}};
    if (tdm_rep_input_parse(line, evs, &w, &err) >= 0)
        fail_msg("'%s' was accepted", line);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(json_array_size(evs), 0);
    json_decref(evs);
}

static const char *type_of(json_t *evs, size_t i)
{
    return json_string_value(json_object_get(json_array_get(evs, i), "type"));
}

static void pointer_lines(void **state)
{
    (void)state;
    json_t *e = parse("move 0.5 0.25", TDM_OK, NULL);
    assert_int_equal(json_array_size(e), 1);
    assert_string_equal(type_of(e, 0), "pointer_move");
    assert_true(json_real_value(json_object_get(json_array_get(e, 0), "y")) == 0.25);
    json_decref(e);
    e = parse("  click 1 0 2", TDM_OK, NULL);
    assert_int_equal(json_array_size(e), 2);
    assert_true(json_is_true(json_object_get(json_array_get(e, 0), "down")));
    assert_true(json_is_false(json_object_get(json_array_get(e, 1), "down")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(e, 1), "button")), 2);
    json_decref(e);
    e = parse("down 0.1 0.1", TDM_OK, NULL);
    assert_int_equal(json_array_size(e), 1);
    assert_true(json_is_true(json_object_get(json_array_get(e, 0), "down")));
    json_decref(e);
    e = parse("up 0.1 0.1", TDM_OK, NULL);
    assert_true(json_is_false(json_object_get(json_array_get(e, 0), "down")));
    json_decref(e);
    e = parse("scroll 0 -3", TDM_OK, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(e, 0), "dy")), -3);
    json_decref(e);

    const char *bad[] = {"move 0.5", "move 1.5 0", "move -0.1 0", "move nan 0", "move 0.5 0.5 1",
                         "click 0.5 0.5 5", "click 0.5 0.5 1.5", "scroll 0.5 0",
                         "scroll 0 1001", "scroll 1", "move 0x 0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        refused(bad[i]);
}

static void key_lines(void **state)
{
    (void)state;
    json_t *e = parse("key ctrl+alt+Delete", TDM_OK, NULL);
    assert_int_equal(json_array_size(e), 2);
    assert_string_equal(type_of(e, 0), "key_down");
    assert_string_equal(type_of(e, 1), "key_up");
    json_t *mods = json_object_get(json_array_get(e, 0), "mods");
    assert_int_equal(json_array_size(mods), 2);
    assert_string_equal(json_string_value(json_array_get(mods, 0)), "ctrl");
    assert_string_equal(json_string_value(json_object_get(json_array_get(e, 0), "key")), "Delete");
    json_decref(e);
    struct {
        const char *line, *key;
    } names[] = {{"key enter", "Enter"}, {"key ESC", "Escape"}, {"key f5", "F5"},
                 {"key F24", "F24"},     {"key space", " "},    {"key +", "+"},
                 {"key ctrl++", "+"},    {"key é", "é"},        {"key PageDown", "PageDown"},
                 {"key Control+c", "c"}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        e = parse(names[i].line, TDM_OK, NULL);
        assert_string_equal(json_string_value(json_object_get(json_array_get(e, 0), "key")),
                            names[i].key);
        json_decref(e);
    }
    const char *bad[] = {"key", "key a b", "key hyper+x", "key ctrl+ctrl+c", "key ctrl+",
                         "key \"\x01\"", "key 123456789012345678901234567890123",
                         "key \"\xff\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        refused(bad[i]);
}

static void text_lines(void **state)
{
    (void)state;
    json_t *e = parse("type \"hi there\\n\"", TDM_OK, NULL);
    /* h i space t h e r e Enter: 9 keys, down and up each */
    assert_int_equal(json_array_size(e), 18);
    assert_string_equal(json_string_value(json_object_get(json_array_get(e, 4), "key")), " ");
    assert_string_equal(json_string_value(json_object_get(json_array_get(e, 16), "key")), "Enter");
    json_decref(e);
    e = parse("type 'naïve ☃'", TDM_OK, NULL);
    assert_int_equal(json_array_size(e), 14);
    assert_string_equal(json_string_value(json_object_get(json_array_get(e, 4), "key")), "ï");
    json_decref(e);
    e = parse("clipboard \"some text\"", TDM_OK, NULL);
    assert_string_equal(type_of(e, 0), "clipboard_to_customer");
    json_decref(e);

    const char *bad[] = {"type", "type a b", "type \"unclosed", "type \"\x02\"",
                         "type \"\xc3\x28\"", "type \"\xed\xa0\x80\"", "clipboard",
                         "frobnicate 1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        refused(bad[i]);
    /* Clipboard text that escaping would blow past one message. */
    static char big[TDM_REP_CLIPBOARD_MAX + 32];
    strcpy(big, "clipboard \"");
    memset(big + 11, '\\', 8000);
    /* "\\\\" is one backslash: 4000 of them, each encoded as two bytes, fit */
    big[8011] = '"';
    big[8012] = '\0';
    json_decref(parse(big, TDM_OK, NULL));
}

static void other_lines(void **state)
{
    (void)state;
    long w;
    json_t *e = parse("wait 250", TDM_OK, &w);
    assert_int_equal(w, 250);
    assert_int_equal(json_array_size(e), 0);
    json_decref(e);
    e = parse("# a comment", TDM_OK, &w);
    assert_int_equal(json_array_size(e), 0);
    assert_int_equal(w, 0);
    json_decref(e);
    e = parse("   ", TDM_OK, NULL);
    assert_int_equal(json_array_size(e), 0);
    json_decref(e);
    json_t *evs = json_array();
    assert_true(tdm_rep_input_parse("wait -1", evs, &w, NULL) < 0);
    assert_true(tdm_rep_input_parse("wait 1 2", evs, &w, NULL) < 0);
    assert_true(tdm_rep_input_parse("a b c d e f g h i", evs, &w, NULL) < 0);
    /* a bad line leaves what was there */
    assert_int_equal(tdm_rep_input_parse("move 0 0", evs, &w, NULL), TDM_OK);
    assert_true(tdm_rep_input_parse("type \"\x01\"", evs, &w, NULL) < 0);
    assert_int_equal(json_array_size(evs), 1);
    json_decref(evs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pointer_lines),
        cmocka_unit_test(key_lines),
        cmocka_unit_test(text_lines),
        cmocka_unit_test(other_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
