/* keyframe_throttle_limits_requests_test: on a fake clock, the first
 * keyframe request goes out at once; requests inside the interval merge
 * into one deferred request due when the interval ends; a keyframe
 * cancels it; joins share the throttle; many subscribers asking at random
 * never make the publisher see two requests closer than the interval, and
 * every request is accounted for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_keyframe_throttle.h"

#define MS 1000u

static tdm_keyframe_throttle *new_throttle(uint64_t interval_us)
{
    tdm_keyframe_throttle_config cfg;
    tdm_keyframe_throttle_config_default(&cfg);
    assert_int_equal(cfg.interval_us, 300 * MS);
    cfg.interval_us = interval_us;
    tdm_keyframe_throttle *t = NULL;
    assert_int_equal(tdm_keyframe_throttle_new(&cfg, &t), TDM_OK);
    return t;
}

static void check_accounting(const tdm_keyframe_throttle *t)
{
    const tdm_keyframe_throttle_stats *s = tdm_keyframe_throttle_get_stats(t);
    uint64_t pending =
        tdm_keyframe_throttle_poll_timeout(t) != TDM_KEYFRAME_THROTTLE_NO_DEADLINE ? 1 : 0;
    assert_true(s->received_total == s->forwarded + s->suppressed + pending);
    uint64_t sum = 0;
    for (int i = 0; i < TDM_KEYFRAME_TRIGGER_COUNT; i++)
        sum += s->received[i];
    assert_true(sum == s->received_total);
}

static void first_request_goes_at_once_then_defers(void **state)
{
    (void)state;
    tdm_keyframe_throttle *t = new_throttle(300 * MS);
    uint64_t now = 1000 * MS;
    assert_true(tdm_keyframe_throttle_poll_timeout(t) == TDM_KEYFRAME_THROTTLE_NO_DEADLINE);
    assert_true(tdm_keyframe_throttle_request(t, TDM_KEYFRAME_TRIGGER_PLI, now));
    assert_int_equal(tdm_keyframe_throttle_fir_seq(t), 1);
    assert_true(tdm_keyframe_throttle_poll_timeout(t) == TDM_KEYFRAME_THROTTLE_NO_DEADLINE);

    /* Three more subscribers ask within the interval: one deferred request. */
    assert_false(tdm_keyframe_throttle_request(t, TDM_KEYFRAME_TRIGGER_PLI, now + 10 * MS));
    assert_false(tdm_keyframe_throttle_request(t, TDM_KEYFRAME_TRIGGER_FIR, now + 50 * MS));
    assert_false(tdm_keyframe_throttle_request(t, TDM_KEYFRAME_TRIGGER_JOIN, now + 299 * MS));
    assert_true(tdm_keyframe_throttle_poll_timeout(t) == now + 300 * MS);
    check_accounting(t);

    /* Not before the deadline; at it, once. */
    assert_false(tdm_keyframe_throttle_handle_timeout(t, now + 299 * MS));
    assert_true(tdm_keyframe_throttle_handle_timeout(t, now + 300 * MS));
    assert_false(tdm_keyframe_throttle_handle_timeout(t, now + 301 * MS));
    assert_int_equal(tdm_keyframe_throttle_fir_seq(t), 2);
    assert_true(tdm_keyframe_throttle_poll_timeout(t) == TDM_KEYFRAME_THROTTLE_NO_DEADLINE);

    const tdm_keyframe_throttle_stats *s = tdm_keyframe_throttle_get_stats(t);
    assert_int_equal(s->received_total, 4);
    assert_int_equal(s->received[TDM_KEYFRAME_TRIGGER_PLI], 2);
    assert_int_equal(s->received[TDM_KEYFRAME_TRIGGER_FIR], 1);
    assert_int_equal(s->received[TDM_KEYFRAME_TRIGGER_JOIN], 1);
    assert_int_equal(s->forwarded, 2);
    assert_int_equal(s->suppressed, 2);
    check_accounting(t);

    /* After a quiet spell a request goes at once again. */
    assert_true(tdm_keyframe_throttle_request(t, TDM_KEYFRAME_TRIGGER_PLI, now + 2000 * MS));
    tdm_keyframe_throttle_free(t);
}

static void keyframe_answers_deferred_request(void **state)
{
    (void)state;
    tdm_keyframe_throttle *t = new_throttle(300 * MS);
    assert_true(tdm_keyframe_throttle_request(t, TDM_KEYFRAME_TRIGGER_JOIN, 0));
    assert_false(tdm_keyframe_throttle_request(t, TDM_KEYFRAME_TRIGGER_JOIN, 100 * MS));
    /* The keyframe the first request asked for arrives: the newcomer gets
     * it too, so the deferred request is not needed. */
    tdm_keyframe_throttle_on_keyframe(t, 150 * MS);
    assert_true(tdm_keyframe_throttle_poll_timeout(t) == TDM_KEYFRAME_THROTTLE_NO_DEADLINE);
    assert_false(tdm_keyframe_throttle_handle_timeout(t, 400 * MS));
    assert_int_equal(tdm_keyframe_throttle_get_stats(t)->forwarded, 1);
    assert_int_equal(tdm_keyframe_throttle_get_stats(t)->suppressed, 1);
    check_accounting(t);
    /* A keyframe with nothing deferred changes nothing. */
    tdm_keyframe_throttle_on_keyframe(t, 450 * MS);
    assert_int_equal(tdm_keyframe_throttle_get_stats(t)->suppressed, 1);
    tdm_keyframe_throttle_free(t);
}

static void late_timeout_merges_with_new_request(void **state)
{
    (void)state;
    tdm_keyframe_throttle *t = new_throttle(100 * MS);
    assert_true(tdm_keyframe_throttle_request(t, TDM_KEYFRAME_TRIGGER_PLI, 0));
    assert_false(tdm_keyframe_throttle_request(t, TDM_KEYFRAME_TRIGGER_PLI, 10 * MS));
    /* The caller missed the deadline; the next request releases both as
     * one, and nothing is left deferred. */
    assert_true(tdm_keyframe_throttle_request(t, TDM_KEYFRAME_TRIGGER_PLI, 150 * MS));
    assert_true(tdm_keyframe_throttle_poll_timeout(t) == TDM_KEYFRAME_THROTTLE_NO_DEADLINE);
    assert_false(tdm_keyframe_throttle_handle_timeout(t, 1000 * MS));
    assert_int_equal(tdm_keyframe_throttle_get_stats(t)->forwarded, 2);
    check_accounting(t);
    tdm_keyframe_throttle_free(t);
}

static void clock_going_back_counts_as_latest(void **state)
{
    (void)state;
    tdm_keyframe_throttle *t = new_throttle(300 * MS);
    assert_true(tdm_keyframe_throttle_request(t, TDM_KEYFRAME_TRIGGER_PLI, 1000 * MS));
    /* An earlier time does not open the throttle nor break the deadline. */
    assert_false(tdm_keyframe_throttle_request(t, TDM_KEYFRAME_TRIGGER_PLI, 10 * MS));
    assert_true(tdm_keyframe_throttle_poll_timeout(t) == 1300 * MS);
    assert_false(tdm_keyframe_throttle_handle_timeout(t, 20 * MS));
    assert_true(tdm_keyframe_throttle_handle_timeout(t, 1300 * MS));
    tdm_keyframe_throttle_free(t);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32);
}

/* 16 subscribers on a lossy link ask for keyframes at random; the loop
 * sleeps until the next request or deadline, like the relay's event loop.
 * The publisher never sees two requests less than an interval apart, and no
 * request waits longer than one interval for one to go out. */
static void many_subscribers_never_exceed_rate(void **state)
{
    (void)state;
    const uint64_t interval = 250 * MS;
    tdm_keyframe_throttle *t = new_throttle(interval);
    uint64_t now = 5 * MS, last_out = 0, oldest_waiting = 0;
    bool any_out = false, waiting = false;
    for (int i = 0; i < 20000; i++) {
        uint64_t next_request = now + rnd() % (40 * MS);
        uint64_t deadline = tdm_keyframe_throttle_poll_timeout(t);
        bool out;
        if (deadline <= next_request) {
            now = deadline;
            out = tdm_keyframe_throttle_handle_timeout(t, now);
            assert_true(out); /* a deadline always releases the request */
        } else {
            now = next_request;
            if (rnd() % 50 == 0)
                tdm_keyframe_throttle_on_keyframe(t, now);
            if (tdm_keyframe_throttle_poll_timeout(t) == TDM_KEYFRAME_THROTTLE_NO_DEADLINE)
                waiting = false;
            tdm_keyframe_trigger trig = (tdm_keyframe_trigger)(rnd() % 3);
            out = tdm_keyframe_throttle_request(t, trig, now);
            if (!out && !waiting) {
                waiting = true;
                oldest_waiting = now;
            }
        }
        if (out) {
            if (any_out)
                assert_true(now - last_out >= interval);
            if (waiting)
                assert_true(now - oldest_waiting <= interval);
            any_out = true;
            last_out = now;
            waiting = false;
        }
        check_accounting(t);
    }
    const tdm_keyframe_throttle_stats *s = tdm_keyframe_throttle_get_stats(t);
    assert_true(s->suppressed > s->forwarded);
    /* At about one request per 20 ms, throttled to one per 250 ms. */
    assert_true(s->forwarded <= now / interval + 1);
    assert_true(s->forwarded >= now / interval / 2);
    tdm_keyframe_throttle_free(t);
}

static void rejects_bad_config(void **state)
{
    (void)state;
    tdm_keyframe_throttle_config cfg = {.interval_us = 0};
    tdm_keyframe_throttle *t = NULL;
    assert_int_equal(tdm_keyframe_throttle_new(&cfg, &t), TDM_ERR_INVALID);
    assert_null(t);
    assert_int_equal(tdm_keyframe_throttle_new(NULL, &t), TDM_OK);
    assert_string_equal(tdm_keyframe_trigger_name(TDM_KEYFRAME_TRIGGER_JOIN), "join");
    assert_string_equal(tdm_keyframe_trigger_name(TDM_KEYFRAME_TRIGGER_COUNT), "unknown");
    tdm_keyframe_throttle_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_request_goes_at_once_then_defers),
        cmocka_unit_test(keyframe_answers_deferred_request),
        cmocka_unit_test(late_timeout_merges_with_new_request),
        cmocka_unit_test(clock_going_back_counts_as_latest),
        cmocka_unit_test(many_subscribers_never_exceed_rate),
        cmocka_unit_test(rejects_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
