/* hb_targets_test: which of tandem-relay's --signal-url a request goes
 * to (tools/tdm_hb_targets.h), on a fake clock. One URL: always it. Several:
 * the first until it fails; a failure moves on to the next at once and the
 * relay stays there; the earlier ones are tried first again only after
 * the retry period, and win the relay back when they answer; a failure of
 * the last URL wraps around; 4xx does not move on, 5xx and no answer do;
 * each attempt gets an equal share of what is left of the budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_hb_targets.h"

/* Runs one request: order at now, the first index whose outcome[] does
 * not move on answers. Returns it, or -1 when none answered. */
static int request(tdm_hb_targets *t, int64_t now, const int *outcome, size_t *tried)
{
    size_t order[TDM_HB_TARGETS_MAX];
    size_t n = tdm_hb_targets_order(t, now, order);
    assert_int_equal(n, t->n);
    *tried = 0;
    for (size_t k = 0; k < n; k++) {
        (*tried)++;
        if (!tdm_hb_targets_move_on(outcome[order[k]])) {
            tdm_hb_targets_answered(t, order[k], now);
            return (int)order[k];
        }
    }
    return -1;
}

static void one_url_is_always_tried(void **state)
{
    (void)state;
    tdm_hb_targets t;
    tdm_hb_targets_init(&t, 1);
    size_t tried;
    int dead[] = {0};
    for (int64_t now = 0; now < 100000; now += 1000) {
        assert_int_equal(request(&t, now, dead, &tried), -1);
        assert_int_equal(tried, 1);
    }
    int ok[] = {200};
    assert_int_equal(request(&t, 100000, ok, &tried), 0);
}

static void order_holds_each_index_once(void **state)
{
    (void)state;
    tdm_hb_targets t;
    tdm_hb_targets_init(&t, 5);
    assert_false(tdm_hb_targets_answered(&t, 0, 0)); /* already the current one */
    assert_true(tdm_hb_targets_answered(&t, 3, 0));
    size_t order[TDM_HB_TARGETS_MAX];
    assert_int_equal(tdm_hb_targets_order(&t, 1, order), 5);
    size_t want[] = {3, 4, 0, 1, 2};
    assert_memory_equal(order, want, sizeof want);
    /* Out of range is ignored, counts are clamped. */
    assert_false(tdm_hb_targets_answered(&t, 5, 2));
    assert_int_equal(t.current, 3);
    tdm_hb_targets_init(&t, 0);
    assert_int_equal(t.n, 1);
    tdm_hb_targets_init(&t, 100);
    assert_int_equal(t.n, TDM_HB_TARGETS_MAX);
}

static void failure_moves_on_at_once_and_stays(void **state)
{
    (void)state;
    tdm_hb_targets t;
    tdm_hb_targets_init(&t, 3);
    size_t tried;
    int all_up[] = {200, 200, 200};
    assert_int_equal(request(&t, 0, all_up, &tried), 0);
    assert_int_equal(tried, 1);
    int first_down[] = {0, 200, 200};
    assert_int_equal(request(&t, 1000, first_down, &tried), 1); /* same request, next URL */
    assert_int_equal(tried, 2);
    /* The relay keeps to the one that works: one attempt per request,
     * even after the first is back, until the retry period ends. */
    for (int64_t now = 2000; now < 1000 + TDM_HB_TARGETS_RETRY_MS; now += 1000) {
        assert_int_equal(request(&t, now, all_up, &tried), 1);
        assert_int_equal(tried, 1);
    }
    /* Then the earlier one first again; it answers and has the relay back. */
    assert_int_equal(request(&t, 1000 + TDM_HB_TARGETS_RETRY_MS, all_up, &tried), 0);
    assert_int_equal(tried, 1);
    assert_int_equal(request(&t, 2000 + TDM_HB_TARGETS_RETRY_MS, all_up, &tried), 0);
}

static void earlier_still_down_costs_one_attempt_per_period(void **state)
{
    (void)state;
    tdm_hb_targets t;
    tdm_hb_targets_init(&t, 2);
    size_t tried;
    int first_down[] = {0, 200};
    int64_t now = 0;
    assert_int_equal(request(&t, now, first_down, &tried), 1);
    int extra = 0;
    for (now = 1000; now <= 10 * TDM_HB_TARGETS_RETRY_MS; now += 1000) {
        assert_int_equal(request(&t, now, first_down, &tried), 1);
        extra += (int)tried - 1;
    }
    assert_int_equal(extra, 10); /* once per period, no more */
}

static void last_failing_wraps_around(void **state)
{
    (void)state;
    tdm_hb_targets t;
    tdm_hb_targets_init(&t, 3);
    size_t tried;
    int only_last[] = {503, 0, 200};
    assert_int_equal(request(&t, 0, only_last, &tried), 2);
    assert_int_equal(tried, 3);
    int only_first[] = {200, 0, 0};
    assert_int_equal(request(&t, 1000, only_first, &tried), 0); /* 2, then wraps to 0 */
    assert_int_equal(tried, 2);
    int none[] = {0, 500, 0};
    assert_int_equal(request(&t, 2000, none, &tried), -1);
    assert_int_equal(tried, 3);
    assert_int_equal(t.current, 0); /* nothing answered: unchanged */
}

static void only_no_answer_and_5xx_move_on(void **state)
{
    (void)state;
    assert_true(tdm_hb_targets_move_on(0));
    assert_true(tdm_hb_targets_move_on(500));
    assert_true(tdm_hb_targets_move_on(503));
    assert_true(tdm_hb_targets_move_on(599));
    assert_false(tdm_hb_targets_move_on(200));
    assert_false(tdm_hb_targets_move_on(400));
    assert_false(tdm_hb_targets_move_on(401)); /* a bad clock is bad everywhere */
    assert_false(tdm_hb_targets_move_on(404));
    tdm_hb_targets t;
    tdm_hb_targets_init(&t, 2);
    size_t tried;
    int refused[] = {401, 200};
    assert_int_equal(request(&t, 0, refused, &tried), 0);
    assert_int_equal(tried, 1);
}

static void attempts_share_the_budget(void **state)
{
    (void)state;
    assert_int_equal(tdm_hb_targets_attempt_ms(1000, 1), 1000);
    assert_int_equal(tdm_hb_targets_attempt_ms(1000, 2), 500);
    assert_int_equal(tdm_hb_targets_attempt_ms(1000, 3), 333);
    assert_int_equal(tdm_hb_targets_attempt_ms(1000, 0), 1000);
    assert_int_equal(tdm_hb_targets_attempt_ms(2, 8), 1);
    assert_int_equal(tdm_hb_targets_attempt_ms(0, 1), 0);
    assert_int_equal(tdm_hb_targets_attempt_ms(-5, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_url_is_always_tried),
        cmocka_unit_test(order_holds_each_index_once),
        cmocka_unit_test(failure_moves_on_at_once_and_stays),
        cmocka_unit_test(earlier_still_down_costs_one_attempt_per_period),
        cmocka_unit_test(last_failing_wraps_around),
        cmocka_unit_test(only_no_answer_and_5xx_move_on),
        cmocka_unit_test(attempts_share_the_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
