/* signal_redis_envelope_test: the messages between tandem-signal instances
 * (signaling/tdm_redis_envelope.h) and the Redis URL
 * (signaling/tdm_redis_conn.h), with plain calls: each type round-trips;
 * wrong types, bad ids, oversized or missing data, duplicate keys and
 * non-objects are refused; URLs with host, port, IPv6 and database parse,
 * and user info, bad ports and trailing junk are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_redis_conn.h"
#include "tdm_redis_envelope.h"

static void round_trip(const tdm_redis_envelope *in)
{
    char *text = tdm_redis_envelope_format(in);
    assert_non_null(text);
    tdm_redis_envelope out;
    assert_int_equal(tdm_redis_envelope_parse(text, strlen(text), &out, NULL), TDM_OK);
    assert_int_equal(out.type, in->type);
    assert_string_equal(out.inst, in->inst);
    assert_string_equal(out.event, in->event);
    assert_string_equal(out.subject, in->subject);
    assert_string_equal(out.pid, in->pid);
    assert_int_equal(out.kind, in->kind);
    assert_int_equal(out.on, in->on);
    assert_int_equal(out.data_len, in->data_len);
    if (in->data_len)
        assert_memory_equal(out.data, in->data, in->data_len);
    tdm_redis_envelope_clear(&out);
    free(text);
}

static void every_type_round_trips(void **state)
{
    (void)state;
    char ev[] = "{\"type\":\"key_down\",\"key\":\"\\u00e9\",\"mods\":[]}";
    tdm_redis_envelope e = {.type = TDM_ENV_INPUT, .inst = "i_0123", .data = ev,
                            .data_len = strlen(ev)};
    round_trip(&e);
    e.type = TDM_ENV_CHAT;
    round_trip(&e);
    tdm_redis_envelope c = {.type = TDM_ENV_CHANGED, .inst = "i_0123", .event = "profile_changed",
                            .subject = "p_abc"};
    round_trip(&c);
    c.subject[0] = '\0'; /* no subject */
    round_trip(&c);
    tdm_redis_envelope p = {.type = TDM_ENV_PRESENCE, .inst = "i_0123", .pid = "p_abc", .kind = 2,
                            .on = true};
    round_trip(&p);
    p.on = false;
    round_trip(&p);
}

static void refuse(const char *text)
{
    tdm_redis_envelope e;
    tdm_error err = {{0}};
    assert_int_equal(tdm_redis_envelope_parse(text, strlen(text), &e, &err), TDM_ERR_FORMAT);
    assert_true(err.msg[0] != '\0');
    tdm_redis_envelope_clear(&e);
}

static void malformed_are_refused(void **state)
{
    (void)state;
    refuse("");
    refuse("[]");
    refuse("{\"t\":\"chat\",\"d\":\"x\"}");                       /* no instance */
    refuse("{\"i\":\"i 1\",\"t\":\"chat\",\"d\":\"x\"}");          /* bad id */
    refuse("{\"i\":\"i_1\",\"t\":\"shout\",\"d\":\"x\"}");         /* unknown type */
    refuse("{\"i\":\"i_1\",\"t\":\"chat\"}");                      /* no data */
    refuse("{\"i\":\"i_1\",\"t\":\"chat\",\"d\":\"\"}");           /* empty data */
    refuse("{\"i\":\"i_1\",\"t\":\"chat\",\"d\":3}");              /* not text */
    refuse("{\"i\":\"i_1\",\"i\":\"i_2\",\"t\":\"chat\",\"d\":\"x\"}"); /* duplicate key */
    refuse("{\"i\":\"i_1\",\"t\":\"changed\",\"e\":\"Ended\",\"u\":\"\"}");
    refuse("{\"i\":\"i_1\",\"t\":\"changed\",\"e\":\"ended\"}");
    refuse("{\"i\":\"i_1\",\"t\":\"presence\",\"p\":\"p_1\",\"k\":0,\"on\":true}");
    refuse("{\"i\":\"i_1\",\"t\":\"presence\",\"p\":\"p_1\",\"k\":1,\"on\":1}");
    /* Data over the cap. */
    size_t n = TDM_ENV_DATA_MAX + 1;
    char *big = malloc(n + 64);
    assert_non_null(big);
    int k = snprintf(big, 64, "{\"i\":\"i_1\",\"t\":\"input\",\"d\":\"");
    memset(big + k, 'a', n);
    strcpy(big + k + n, "\"}");
    refuse(big);
    free(big);
    /* A message that cannot be formatted is not sent. */
    tdm_redis_envelope bad = {.type = TDM_ENV_PRESENCE, .inst = "i_1", .pid = "p 1", .kind = 1};
    assert_null(tdm_redis_envelope_format(&bad));
}

static void urls(void **state)
{
    (void)state;
    tdm_redis_addr a;
    assert_int_equal(tdm_redis_url_parse("redis://127.0.0.1", &a, NULL), TDM_OK);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 6379);
    assert_int_equal(a.db, 0);
    assert_int_equal(tdm_redis_url_parse("redis://cache.internal:7001/4", &a, NULL), TDM_OK);
    assert_string_equal(a.host, "cache.internal");
    assert_int_equal(a.port, 7001);
    assert_int_equal(a.db, 4);
    assert_int_equal(tdm_redis_url_parse("redis://[::1]:6380/", &a, NULL), TDM_OK);
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 6380);
    static const char *const bad[] = {
        "http://127.0.0.1:6379", "redis://", "redis://:6379", "redis://h:0", "redis://h:65536",
        "redis://h:12x", "redis://u:p@h:1", "redis://h/x", "redis://h:1/2/3", "redis://[::1",
        "redis://h:1?x=1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tdm_error err = {{0}};
        assert_int_equal(tdm_redis_url_parse(bad[i], &a, &err), TDM_ERR_FORMAT);
        assert_true(err.msg[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_type_round_trips),
        cmocka_unit_test(malformed_are_refused),
        cmocka_unit_test(urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
