/* The decision part of relay failover (signaling/tdm_sig_failover.h) with
 * plain calls and a fake clock: which sessions move, from where and why —
 * a relay that left the registry (lost), one that said it is going (gone),
 * one an admin drained whose deadline passed (drained) — and the drain
 * marks' effect on heartbeats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_sig_failover.h"
#include "tdm_sig_serve_config.h"

static tdm_sig_failover *make(void)
{
    tdm_sig_failover *fo = NULL;
    assert_int_equal(tdm_sig_failover_new(NULL, NULL, NULL, &fo, NULL), TDM_OK);
    return fo;
}

static void lost_relay_moves_its_sessions_only(void **state)
{
    (void)state;
    tdm_sig_failover *fo = make();
    tdm_sig_failover_note(fo, "s_a", "r1", 1000);
    tdm_sig_failover_note(fo, "s_b", "r2", 1000);
    tdm_sig_failover_note(fo, "s_c", "r1", 1000);
    const char *live[] = {"r1", "r2", "r3"};
    tdm_sig_move mv[8];
    assert_int_equal(tdm_sig_failover_due(fo, live, NULL, 3, 2000, mv, 8), 0);
    const char *after[] = {"r2", "r3"}; /* r1 dropped by its TTL */
    size_t n = tdm_sig_failover_due(fo, after, NULL, 2, 5000, mv, 8);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(mv[i].from, "r1");
        assert_int_equal(mv[i].reason, TDM_SIG_MOVE_LOST);
        assert_true(strcmp(mv[i].sid, "s_a") == 0 || strcmp(mv[i].sid, "s_c") == 0);
    }
    assert_string_equal(tdm_sig_move_reason_name(TDM_SIG_MOVE_LOST), "lost");
    /* Once moved (settled on the new relay) nothing is due any more. */
    tdm_sig_failover_settle(fo, "s_a", "r3", 5000);
    tdm_sig_failover_settle(fo, "s_c", "r2", 5000);
    assert_int_equal(tdm_sig_failover_due(fo, after, NULL, 2, 5000, mv, 8), 0);
    assert_string_equal(tdm_sig_failover_relay_of(fo, "s_a"), "r3");
    /* max bounds what one call returns. */
    const char *none[] = {"r9"};
    assert_int_equal(tdm_sig_failover_due(fo, none, NULL, 1, 6000, mv, 2), 2);
    tdm_sig_failover_free(fo);
}

/* A client asked for media after its relay was lost and before the move:
 * the session changed relay behind the failover's back, and is still due
 * from the old relay (so the move is audited and the others are told). */
static void media_on_another_relay_is_a_pending_move(void **state)
{
    (void)state;
    tdm_sig_failover *fo = make();
    tdm_sig_failover_note(fo, "s_a", "r1", 0);
    tdm_sig_failover_note(fo, "s_a", "r1", 100); /* same relay: nothing */
    const char *live[] = {"r2"};
    tdm_sig_move mv[4];
    tdm_sig_failover_note(fo, "s_a", "r2", 200);
    assert_string_equal(tdm_sig_failover_relay_of(fo, "s_a"), "r2");
    assert_int_equal(tdm_sig_failover_due(fo, live, NULL, 1, 300, mv, 4), 1);
    assert_string_equal(mv[0].from, "r1");
    assert_int_equal(mv[0].reason, TDM_SIG_MOVE_LOST);
    /* Another note on the new relay keeps the first origin. */
    tdm_sig_failover_note(fo, "s_a", "r2", 400);
    assert_int_equal(tdm_sig_failover_due(fo, live, NULL, 1, 500, mv, 4), 1);
    assert_string_equal(mv[0].from, "r1");
    tdm_sig_failover_settle(fo, "s_a", "r2", 600);
    assert_int_equal(tdm_sig_failover_due(fo, live, NULL, 1, 700, mv, 4), 0);
    tdm_sig_failover_free(fo);
}

static void gone_relay_moves_while_still_listed(void **state)
{
    (void)state;
    tdm_sig_failover *fo = make();
    tdm_sig_failover_note(fo, "s_a", "r1", 0);
    tdm_sig_failover_gone(fo, "r1", 1000);
    assert_true(tdm_sig_failover_is_gone(fo, "r1", 1000));
    assert_false(tdm_sig_failover_is_gone(fo, "r2", 1000));
    const char *live[] = {"r1", "r2"};
    tdm_sig_move mv[4];
    assert_int_equal(tdm_sig_failover_due(fo, live, NULL, 2, 1500, mv, 4), 1);
    assert_int_equal(mv[0].reason, TDM_SIG_MOVE_GONE);
    assert_string_equal(mv[0].from, "r1");
    /* Back under the same id, heartbeating as not draining: no longer gone. */
    tdm_hb_report rep = {.draining = false};
    strcpy(rep.id, "r1");
    tdm_sig_failover_on_heartbeat(fo, &rep, 2000);
    assert_false(tdm_sig_failover_is_gone(fo, "r1", 2000));
    assert_int_equal(tdm_sig_failover_due(fo, live, NULL, 2, 2000, mv, 4), 0);
    /* A gone mark lapses on its own after 10 minutes. */
    tdm_sig_failover_gone(fo, "r1", 3000);
    assert_true(tdm_sig_failover_is_gone(fo, "r1", 3000 + 600000));
    assert_false(tdm_sig_failover_is_gone(fo, "r1", 3000 + 600001));
    tdm_sig_failover_free(fo);
}

static void admin_drain_marks_heartbeats_and_moves_after_deadline(void **state)
{
    (void)state;
    tdm_sig_failover *fo = make();
    tdm_sig_failover_note(fo, "s_a", "r1", 0);
    tdm_sig_failover_set_drain(fo, "r1", true, 10, 1000);
    int deadline = 0;
    assert_true(tdm_sig_failover_drain_mark(fo, "r1", &deadline));
    assert_int_equal(deadline, 10);
    assert_false(tdm_sig_failover_drain_mark(fo, "r2", NULL));
    /* The relay's own heartbeat says not draining: the mark wins. */
    tdm_hb_report rep = {.draining = false};
    strcpy(rep.id, "r1");
    tdm_sig_failover_on_heartbeat(fo, &rep, 2000);
    assert_true(rep.draining);
    const char *live[] = {"r1", "r2"};
    tdm_sig_move mv[4];
    /* Its session goes on until the deadline... */
    assert_int_equal(tdm_sig_failover_due(fo, live, NULL, 2, 10999, mv, 4), 0);
    /* ...then moves. */
    assert_int_equal(tdm_sig_failover_due(fo, live, NULL, 2, 11000, mv, 4), 1);
    assert_int_equal(mv[0].reason, TDM_SIG_MOVE_DRAINED);
    assert_string_equal(tdm_sig_move_reason_name(TDM_SIG_MOVE_DRAINED), "drained");
    /* Undrained: heartbeats pass unchanged, nothing moves. */
    tdm_sig_failover_set_drain(fo, "r1", false, 0, 12000);
    assert_false(tdm_sig_failover_drain_mark(fo, "r1", NULL));
    rep.draining = false;
    tdm_sig_failover_on_heartbeat(fo, &rep, 12000);
    assert_false(rep.draining);
    assert_int_equal(tdm_sig_failover_due(fo, live, NULL, 2, 20000, mv, 4), 0);
    /* A default deadline (<= 0) is 30 s. */
    tdm_sig_failover_set_drain(fo, "r2", true, 0, 0);
    assert_true(tdm_sig_failover_drain_mark(fo, "r2", &deadline));
    assert_int_equal(deadline, 30);
    tdm_sig_failover_free(fo);
}

static void forget_and_bounds(void **state)
{
    (void)state;
    tdm_sig_failover *fo = make();
    tdm_sig_failover_note(fo, "s_a", "r1", 0);
    tdm_sig_failover_forget(fo, "s_a");
    assert_string_equal(tdm_sig_failover_relay_of(fo, "s_a"), "");
    const char *none[] = {"r2"};
    tdm_sig_move mv[4];
    assert_int_equal(tdm_sig_failover_due(fo, none, NULL, 1, 0, mv, 4), 0);
    /* Ids longer than a relay id are ignored, not truncated into a wrong key. */
    char long_id[TDM_HB_ID_MAX + 8];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    tdm_sig_failover_note(fo, long_id, "r1", 0);
    assert_string_equal(tdm_sig_failover_relay_of(fo, long_id), "");
    /* Full: the least recently noted session goes. */
    char sid[32];
    for (int i = 0; i < TDM_SIG_FAILOVER_SESSIONS + 1; i++) {
        snprintf(sid, sizeof sid, "s_%d", i);
        tdm_sig_failover_note(fo, sid, "r1", i);
    }
    assert_string_equal(tdm_sig_failover_relay_of(fo, "s_0"), "");
    snprintf(sid, sizeof sid, "s_%d", TDM_SIG_FAILOVER_SESSIONS);
    assert_string_equal(tdm_sig_failover_relay_of(fo, sid), "r1");
    tdm_sig_failover_free(fo);
}

/* A session on a draining relay is only checked: another instance (with
 * --redis) may have moved it; the check itself moves nothing. */
static void draining_relay_is_checked(void **state)
{
    (void)state;
    tdm_sig_failover *fo = make();
    tdm_sig_failover_note(fo, "s_a", "r1", 0);
    tdm_sig_failover_note(fo, "s_b", "r2", 0);
    const char *live[] = {"r1", "r2"};
    const bool draining[] = {true, false};
    tdm_sig_move mv[4];
    assert_int_equal(tdm_sig_failover_due(fo, live, draining, 2, 100, mv, 4), 1);
    assert_string_equal(mv[0].sid, "s_a");
    assert_int_equal(mv[0].reason, TDM_SIG_MOVE_ELSEWHERE);
    assert_string_equal(tdm_sig_move_reason_name(mv[0].reason), "moved");
    tdm_sig_failover_free(fo);
}

/* With --redis a session whose clients connect here is tracked with its
 * relay unknown (skipped until known); learning it is not a move. On one
 * machine the hook does nothing. */
static void clients_here_are_tracked_with_redis(void **state)
{
    (void)state;
    static tdm_sig_serve_config cfg; /* zeroed: no Redis */
    tdm_sig_failover *fo = NULL;
    assert_int_equal(tdm_sig_failover_new(NULL, NULL, &cfg, &fo, NULL), TDM_OK);
    tdm_sig_failover_hub_auth(fo, "s_a");
    assert_string_equal(tdm_sig_failover_relay_of(fo, "s_a"), "");
    snprintf(cfg.redis_url, sizeof cfg.redis_url, "redis://127.0.0.1:6379");
    tdm_sig_failover_hub_auth(fo, "s_a");
    const char *live[] = {"r2"};
    tdm_sig_move mv[4];
    assert_int_equal(tdm_sig_failover_due(fo, live, NULL, 1, 0, mv, 4), 0);
    tdm_sig_failover_note(fo, "s_a", "r1", 10);
    assert_string_equal(tdm_sig_failover_relay_of(fo, "s_a"), "r1");
    const char *live1[] = {"r1"};
    assert_int_equal(tdm_sig_failover_due(fo, live1, NULL, 1, 20, mv, 4), 0);
    /* Known sessions are not reset by a later connection. */
    tdm_sig_failover_hub_auth(fo, "s_a");
    assert_string_equal(tdm_sig_failover_relay_of(fo, "s_a"), "r1");
    tdm_sig_failover_free(fo);
}

static void routes_owned(void **state)
{
    (void)state;
    const char *gone[] = {"relays", "gone"};
    const char *drain[] = {"relays", "r1", "drain"};
    const char *hb[] = {"relays", "heartbeat"};
    const char *list[] = {"relays"};
    assert_true(tdm_sig_failover_owns(gone, 2));
    assert_true(tdm_sig_failover_owns(drain, 3));
    assert_false(tdm_sig_failover_owns(hb, 2));
    assert_false(tdm_sig_failover_owns(list, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lost_relay_moves_its_sessions_only),
        cmocka_unit_test(media_on_another_relay_is_a_pending_move),
        cmocka_unit_test(gone_relay_moves_while_still_listed),
        cmocka_unit_test(admin_drain_marks_heartbeats_and_moves_after_deadline),
        cmocka_unit_test(forget_and_bounds),
        cmocka_unit_test(draining_relay_is_checked),
        cmocka_unit_test(clients_here_are_tracked_with_redis),
        cmocka_unit_test(routes_owned),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
