/* tandem-rep watch's lines (tools/tdm_rep_watch.h): a failover's media
 * message reads as "media moved from A to B (reason)" and no line, readable
 * or --json, carries the relay token or any other secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_rep_watch.h"

#define JWT "eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJzXzEifQ.c2lnbmF0dXJl"

static const char moved[] =
    "{\"type\":\"media\",\"event\":\"moved\",\"from\":\"relay-1\",\"reason\":\"lost\","
    "\"media\":{\"node\":\"relay-2\",\"url\":\"http://10.0.0.6:8080/whep/s_1\","
    "\"kind\":\"whep\",\"token\":\"" JWT "\",\"turn\":{\"username\":\"u\","
    "\"credential\":\"turn-pass-1\"}}}";

static char *fmt(const char *m, bool json)
{
    char *out = NULL;
    tdm_error err = {{0}};
    assert_int_equal(tdm_rep_watch_format(m, strlen(m), json, "12:00:00.000Z", &out, &err),
                     TDM_OK);
    assert_non_null(out);
    return out;
}

static void media_moved_is_one_readable_line_without_token(void **state)
{
    (void)state;
    char *s = fmt(moved, false);
    assert_string_equal(s, "12:00:00.000Z media moved from relay-1 to relay-2 (lost)\n");
    free(s);
}

static void json_mode_redacts_tokens_and_credentials(void **state)
{
    (void)state;
    char *s = fmt(moved, true);
    assert_null(strstr(s, JWT));
    assert_null(strstr(s, "turn-pass-1"));
    assert_non_null(strstr(s, "\"token\":\"<redacted>\""));
    assert_non_null(strstr(s, "\"node\":\"relay-2\"")); /* the rest as received */
    assert_non_null(strstr(s, "\"url\":\"http://10.0.0.6:8080/whep/s_1\""));
    free(s);
}

static void unknown_kinds_are_shown_without_secrets(void **state)
{
    (void)state;
    char *s = fmt("{\"type\":\"futures\",\"deep\":[{\"media_token\":\"" JWT
                  "\",\"secret\":\"hunter2\",\"ok\":1}]}",
                  false);
    assert_non_null(strstr(s, "futures"));
    assert_non_null(strstr(s, "\"ok\":1"));
    assert_null(strstr(s, JWT));
    assert_null(strstr(s, "hunter2"));
    free(s);
    /* Not JSON at all: its bytes are not echoed. */
    s = fmt("token=" JWT, false);
    assert_null(strstr(s, JWT));
    assert_non_null(strstr(s, "unreadable message"));
    free(s);
    s = fmt("token=" JWT, true);
    assert_null(strstr(s, JWT));
    free(s);
}

static void session_events_read_as_before(void **state)
{
    (void)state;
    char *s = fmt("{\"type\":\"session\",\"event\":\"online\",\"subject\":\"p_1\",\"state\":"
                  "{\"state\":\"active\",\"participants\":[{\"id\":\"p_1\",\"kind\":\"invited\","
                  "\"name\":\"Dana\",\"profile\":\"view_only\"}]}}",
                  false);
    assert_string_equal(
        s, "12:00:00.000Z session online p_1 (invited Dana, view_only); state active, 1 present\n");
    free(s);
    s = fmt("{\"type\":\"error\",\"error\":\"input_denied\",\"reason\":\"customer_has_control\"}",
            false);
    assert_string_equal(s, "12:00:00.000Z error input_denied customer_has_control\n");
    free(s);
}

static void secret_keys(void **state)
{
    (void)state;
    assert_true(tdm_rep_watch_secret_key("token"));
    assert_true(tdm_rep_watch_secret_key("media_token"));
    assert_true(tdm_rep_watch_secret_key("credential"));
    assert_true(tdm_rep_watch_secret_key("session_secret"));
    assert_false(tdm_rep_watch_secret_key("node"));
    assert_false(tdm_rep_watch_secret_key("tokens_used"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(media_moved_is_one_readable_line_without_token),
        cmocka_unit_test(json_mode_redacts_tokens_and_credentials),
        cmocka_unit_test(unknown_kinds_are_shown_without_secrets),
        cmocka_unit_test(session_events_read_as_before),
        cmocka_unit_test(secret_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
