/* delay_line_keeps_order_test: the delay line of tandem-netdelay on a fake
 * clock. A fixed delay releases each packet exactly when it is due, not a
 * microsecond earlier; with jitter every packet waits at least the delay
 * and at most delay + jitter beyond the packet ahead of it, and packets
 * come out in the order they went in; the same seed gives the same delays;
 * a full line refuses and counts, then takes packets again as it drains,
 * across many turns of its ring; bad configurations are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_delay_line.h"

#define MS 1000u

static tdm_delay_line *new_line(uint64_t delay_us, uint64_t jitter_us, size_t capacity,
                                uint64_t seed)
{
    tdm_delay_line_config cfg = {.delay_us = delay_us, .jitter_us = jitter_us,
                                 .capacity = capacity, .seed = seed};
    tdm_delay_line *dl = NULL;
    tdm_error err = {{0}};
    if (tdm_delay_line_new(&cfg, &dl, &err) != TDM_OK)
        fail_msg("tdm_delay_line_new: %s", err.msg);
    return dl;
}

static void fixed_delay_releases_exactly_when_due(void **state)
{
    (void)state;
    tdm_delay_line *dl = new_line(40 * MS, 0, 16, 1);
    uint64_t due, tag;
    assert_false(tdm_delay_line_next_due(dl, &due));
    assert_int_equal(tdm_delay_line_pop_due(dl, 0, &tag), TDM_AGAIN);

    assert_int_equal(tdm_delay_line_push(dl, 1000, 7), TDM_OK);
    assert_int_equal(tdm_delay_line_push(dl, 1500, 8), TDM_OK);
    assert_true(tdm_delay_line_next_due(dl, &due));
    assert_int_equal(due, 1000 + 40 * MS);
    assert_int_equal(tdm_delay_line_pop_due(dl, 1000 + 40 * MS - 1, &tag), TDM_AGAIN);
    assert_int_equal(tdm_delay_line_pop_due(dl, 1000 + 40 * MS, &tag), TDM_OK);
    assert_int_equal(tag, 7);
    /* The second is not due yet: each keeps its own arrival time. */
    assert_int_equal(tdm_delay_line_pop_due(dl, 1000 + 40 * MS, &tag), TDM_AGAIN);
    assert_true(tdm_delay_line_next_due(dl, &due));
    assert_int_equal(due, 1500 + 40 * MS);
    assert_int_equal(tdm_delay_line_pop_due(dl, 2000 + 40 * MS, &tag), TDM_OK);
    assert_int_equal(tag, 8);
    assert_false(tdm_delay_line_next_due(dl, &due));

    const tdm_delay_line_stats *s = tdm_delay_line_get_stats(dl);
    assert_int_equal(s->pushed, 2);
    assert_int_equal(s->released, 2);
    assert_int_equal(s->overflowed, 0);
    assert_int_equal(s->depth, 0);
    assert_int_equal(s->max_depth, 2);
    tdm_delay_line_free(dl);
}

/* Pushes n packets 0..n-1 at irregular times and records when each came
 * out, popping as a caller would: at the deadline the line names. */
#define N 5000
typedef struct run {
    uint64_t in_us[N], out_us[N];
    uint64_t order[N];
} run;

static void run_line(tdm_delay_line *dl, run *r)
{
    uint64_t now = 0, seq = 0, next_in = 0, out = 0;
    uint32_t gap = 12345;
    while (out < N) {
        uint64_t due;
        bool have = tdm_delay_line_next_due(dl, &due);
        /* Advance the fake clock to the next event: an arrival or a due packet. */
        if (seq < N && (!have || next_in <= due))
            now = next_in;
        else
            now = due;
        if (seq < N && now == next_in) {
            r->in_us[seq] = now;
            assert_int_equal(tdm_delay_line_push(dl, now, seq), TDM_OK);
            seq++;
            gap = gap * 1103515245u + 12345u; /* bursts and lulls: 0..4 ms apart */
            next_in = now + (gap >> 16) % (4 * MS);
        }
        uint64_t tag;
        while (tdm_delay_line_pop_due(dl, now, &tag) == TDM_OK) {
            r->order[out] = tag;
            r->out_us[tag] = now;
            out++;
        }
    }
}

static void jitter_stays_in_bounds_and_keeps_order(void **state)
{
    (void)state;
    const uint64_t delay = 40 * MS, jitter = 10 * MS;
    static run r;
    tdm_delay_line *dl = new_line(delay, jitter, N, 42);
    run_line(dl, &r);
    bool some_jitter = false;
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(r.order[i], i); /* in order */
        uint64_t waited = r.out_us[i] - r.in_us[i];
        assert_true(waited >= delay);
        /* At most its own delay + jitter, or it waited for the one ahead. */
        assert_true(waited <= delay + jitter || (i > 0 && r.out_us[i] == r.out_us[i - 1]));
        some_jitter |= waited != delay;
    }
    assert_true(some_jitter);
    const tdm_delay_line_stats *s = tdm_delay_line_get_stats(dl);
    assert_int_equal(s->pushed, N);
    assert_int_equal(s->released, N);
    assert_int_equal(s->overflowed, 0);
    assert_true(s->max_depth > 1 && s->max_depth < N);
    tdm_delay_line_free(dl);
}

static void same_seed_same_delays(void **state)
{
    (void)state;
    static run a, b, c;
    tdm_delay_line *la = new_line(5 * MS, 3 * MS, N, 7);
    tdm_delay_line *lb = new_line(5 * MS, 3 * MS, N, 7);
    tdm_delay_line *lc = new_line(5 * MS, 3 * MS, N, 8);
    run_line(la, &a);
    run_line(lb, &b);
    run_line(lc, &c);
    assert_memory_equal(a.out_us, b.out_us, sizeof a.out_us);
    assert_memory_not_equal(a.out_us, c.out_us, sizeof a.out_us);
    tdm_delay_line_free(la);
    tdm_delay_line_free(lb);
    tdm_delay_line_free(lc);
}

static void full_line_refuses_and_counts(void **state)
{
    (void)state;
    tdm_delay_line *dl = new_line(10 * MS, 0, 4, 1);
    uint64_t tag, now = 0, next_tag = 0, expect = 0;
    /* Many turns of the 4-slot ring: fill, overflow once, drain one, repeat. */
    for (int turn = 0; turn < 1000; turn++) {
        while (tdm_delay_line_get_stats(dl)->depth < 4)
            assert_int_equal(tdm_delay_line_push(dl, now, next_tag++), TDM_OK);
        assert_int_equal(tdm_delay_line_push(dl, now, 999999), TDM_AGAIN);
        now += 10 * MS;
        assert_int_equal(tdm_delay_line_pop_due(dl, now, &tag), TDM_OK);
        assert_int_equal(tag, expect++);
    }
    const tdm_delay_line_stats *s = tdm_delay_line_get_stats(dl);
    assert_int_equal(s->overflowed, 1000);
    assert_int_equal(s->max_depth, 4);
    assert_int_equal(s->pushed, next_tag);
    assert_int_equal(s->released, 1000);
    /* Shutdown takes everything, in order, whatever the time. */
    while (tdm_delay_line_pop_due(dl, UINT64_MAX, &tag) == TDM_OK)
        assert_int_equal(tag, expect++);
    assert_int_equal(expect, next_tag);
    assert_int_equal(s->depth, 0);
    tdm_delay_line_free(dl);
}

static void rejects_bad_config(void **state)
{
    (void)state;
    tdm_delay_line *dl = (tdm_delay_line *)&dl;
    tdm_error err = {{0}};
    tdm_delay_line_config cfg = {.delay_us = 40 * MS, .capacity = 0};
    assert_int_equal(tdm_delay_line_new(&cfg, &dl, &err), TDM_ERR_INVALID);
    assert_null(dl);
    assert_non_null(strstr(err.msg, "capacity"));
    cfg.capacity = TDM_DELAY_LINE_MAX_CAPACITY + 1;
    assert_int_equal(tdm_delay_line_new(&cfg, &dl, &err), TDM_ERR_INVALID);
    cfg.capacity = 8;
    cfg.delay_us = 3600ull * 1000000ull;
    cfg.jitter_us = 1;
    assert_int_equal(tdm_delay_line_new(&cfg, &dl, &err), TDM_ERR_INVALID);
    assert_non_null(strstr(err.msg, "hour"));
    assert_int_equal(tdm_delay_line_new(NULL, &dl, &err), TDM_ERR_INVALID);
    assert_int_equal(tdm_delay_line_new(&cfg, NULL, &err), TDM_ERR_INVALID);
    cfg.jitter_us = 0;
    assert_int_equal(tdm_delay_line_new(&cfg, &dl, &err), TDM_OK);
    tdm_delay_line_free(dl);
    tdm_delay_line_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixed_delay_releases_exactly_when_due),
        cmocka_unit_test(jitter_stays_in_bounds_and_keeps_order),
        cmocka_unit_test(same_seed_same_delays),
        cmocka_unit_test(full_line_refuses_and_counts),
        cmocka_unit_test(rejects_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
