/* signal_registry_test: the relay registry (signaling/tdm_sig_registry.h)
 * and the heartbeat contract (signaling/tdm_relay_heartbeat.h) on a fake
 * clock — a relay silent past the TTL is dropped and its sessions move;
 * new sessions go to the least-loaded relay, never to a draining or full
 * one; a placed session keeps its relay; stale and replayed timestamps are
 * refused and a dropped relay cannot be revived by a replay; the HMAC
 * refuses a wrong secret or an altered body; the body round-trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_relay_heartbeat.h"
#include "tdm_sig_registry.h"

#define T0 1700000000000LL /* a wall-clock-like start, in ms */

static const uint8_t SECRET[] = "0123456789abcdef0123456789abcdef-cluster";

static tdm_hb_report report(const char *id, uint64_t sessions, double pps, bool draining)
{
    tdm_hb_report r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.node, sizeof r.node, "%s-node", id);
    snprintf(r.url, sizeof r.url, "http://127.0.0.1:9/%s", id);
    r.load.sessions = sessions;
    r.load.packets_per_s = pps;
    r.draining = draining;
    return r;
}

static tdm_sig_registry *make(uint32_t cap)
{
    tdm_sig_registry_config cfg = {.ttl_ms = 3000, .skew_ms = 10000, .max_sessions = cap};
    tdm_sig_registry *reg = NULL;
    assert_int_equal(tdm_sig_registry_new(&cfg, &reg, NULL), TDM_OK);
    return reg;
}

static void beat(tdm_sig_registry *reg, tdm_hb_report r, int64_t now)
{
    tdm_error err = {{0}};
    assert_int_equal(tdm_sig_registry_heartbeat(reg, &r, now, now, NULL, &err), TDM_OK);
}

static const char *place(tdm_sig_registry *reg, const char *sid, int64_t now)
{
    const tdm_sig_relay_entry *e = NULL;
    if (tdm_sig_registry_place(reg, sid, now, &e, NULL) != TDM_OK)
        return NULL;
    return e->report.id;
}

static void expiry_after_ttl(void **state)
{
    (void)state;
    tdm_sig_registry *reg = make(0);
    beat(reg, report("a", 0, 0, false), T0);
    beat(reg, report("b", 0, 0, false), T0);
    assert_int_equal(tdm_sig_registry_count(reg, T0 + 3000), 2); /* exactly the TTL: kept */
    beat(reg, report("a", 0, 0, false), T0 + 2500);
    char dropped[64];
    assert_int_equal(tdm_sig_registry_expire(reg, T0 + 3001, dropped, sizeof dropped), 1);
    assert_string_equal(dropped, "b");
    assert_int_equal(tdm_sig_registry_count(reg, T0 + 3001), 1);
    assert_string_equal(tdm_sig_registry_at(reg, 0)->report.id, "a");
    assert_int_equal(tdm_sig_registry_counters_get(reg)->dropped, 1);
    /* b comes back with a fresh heartbeat. */
    beat(reg, report("b", 0, 0, false), T0 + 4000);
    assert_int_equal(tdm_sig_registry_count(reg, T0 + 4000), 2);
    tdm_sig_registry_free(reg);
}

static void least_loaded_placement(void **state)
{
    (void)state;
    tdm_sig_registry *reg = make(0);
    beat(reg, report("a", 3, 0, false), T0);
    beat(reg, report("b", 1, 0, false), T0);
    /* b reports 1 session, a 3: b takes new sessions until it is at 3,
     * then ties go to the smaller id. */
    assert_string_equal(place(reg, "s1", T0), "b"); /* b: max(1, 1) = 1 */
    assert_string_equal(place(reg, "s2", T0), "b"); /* b: 2 */
    assert_string_equal(place(reg, "s3", T0), "b"); /* b: 3 */
    assert_string_equal(place(reg, "s4", T0), "a"); /* 3 vs 3: "a" < "b" */
    /* A placed session keeps its relay, whatever the loads say now. */
    beat(reg, report("a", 50, 0, false), T0 + 100);
    assert_string_equal(place(reg, "s4", T0 + 100), "a");
    assert_string_equal(place(reg, "s5", T0 + 100), "b");
    /* Equal sessions: fewer packets/s wins. */
    tdm_sig_registry *r2 = make(0);
    beat(r2, report("a", 2, 900, false), T0);
    beat(r2, report("b", 2, 100, false), T0);
    assert_string_equal(place(r2, "x", T0), "b");
    /* The session load is max(reported, placed); released sessions stop counting. */
    tdm_sig_registry_release(r2, "x");
    const tdm_sig_relay_entry *e = NULL;
    assert_int_equal(tdm_sig_registry_place(r2, "y", T0, &e, NULL), TDM_OK);
    assert_int_equal(e->placed, 1);
    assert_int_equal(tdm_sig_registry_session_load(e), 2);
    tdm_sig_registry_free(r2);
    tdm_sig_registry_free(reg);
}

static void draining_gets_nothing_new(void **state)
{
    (void)state;
    tdm_sig_registry *reg = make(0);
    beat(reg, report("a", 0, 0, false), T0);
    beat(reg, report("b", 5, 0, false), T0);
    assert_string_equal(place(reg, "old", T0), "a");
    beat(reg, report("a", 0, 0, true), T0 + 10); /* a starts draining */
    for (int i = 0; i < 5; i++) {
        char sid[16];
        snprintf(sid, sizeof sid, "new%d", i);
        assert_string_equal(place(reg, sid, T0 + 20), "b");
    }
    /* Its existing session stays (draining means nothing new). */
    assert_string_equal(place(reg, "old", T0 + 20), "a");
    /* All draining: nothing can be placed. */
    beat(reg, report("b", 5, 0, true), T0 + 30);
    assert_null(place(reg, "another", T0 + 30));
    beat(reg, report("a", 0, 0, false), T0 + 40); /* a is back in service */
    assert_string_equal(place(reg, "another", T0 + 40), "a");
    tdm_sig_registry_free(reg);
}

static void cap_per_relay(void **state)
{
    (void)state;
    tdm_sig_registry *reg = make(2);
    beat(reg, report("a", 0, 0, false), T0);
    beat(reg, report("b", 0, 0, false), T0);
    int on_a = 0, on_b = 0;
    for (int i = 0; i < 4; i++) {
        char sid[16];
        snprintf(sid, sizeof sid, "s%d", i);
        const char *r = place(reg, sid, T0);
        assert_non_null(r);
        on_a += strcmp(r, "a") == 0;
        on_b += strcmp(r, "b") == 0;
    }
    assert_int_equal(on_a, 2);
    assert_int_equal(on_b, 2);
    assert_null(place(reg, "s4", T0)); /* both full */
    tdm_sig_registry_release(reg, "s0");
    assert_non_null(place(reg, "s4", T0)); /* a slot freed */
    /* A relay that reports being full counts as full. */
    beat(reg, report("c", 2, 0, false), T0 + 1);
    assert_null(place(reg, "s5", T0 + 1));
    tdm_sig_registry_free(reg);
}

static void dropped_relay_sessions_move(void **state)
{
    (void)state;
    tdm_sig_registry *reg = make(0);
    beat(reg, report("a", 0, 0, false), T0);
    beat(reg, report("b", 9, 0, false), T0);
    assert_string_equal(place(reg, "s", T0), "a");
    beat(reg, report("b", 9, 0, false), T0 + 2000);
    beat(reg, report("b", 9, 0, false), T0 + 4000); /* a went silent at T0 */
    assert_string_equal(place(reg, "s", T0 + 4000), "b");
    assert_string_equal(place(reg, "t", T0 + 4000), "b");
    tdm_sig_registry_free(reg);
}

static void stale_and_replayed_refused(void **state)
{
    (void)state;
    tdm_sig_registry *reg = make(0);
    tdm_hb_report r = report("a", 0, 0, false);
    tdm_error err = {{0}};
    /* Outside the skew window either way. */
    assert_int_equal(tdm_sig_registry_heartbeat(reg, &r, T0 - 10001, T0, NULL, &err),
                     TDM_ERR_INVALID);
    assert_int_equal(tdm_sig_registry_heartbeat(reg, &r, T0 + 10001, T0, NULL, &err),
                     TDM_ERR_INVALID);
    assert_int_equal(tdm_sig_registry_counters_get(reg)->refused_stale, 2);
    assert_int_equal(tdm_sig_registry_count(reg, T0), 0);
    /* Accepted once; the same timestamp again (a replay), or an older one, is refused. */
    assert_int_equal(tdm_sig_registry_heartbeat(reg, &r, T0, T0, NULL, &err), TDM_OK);
    assert_int_equal(tdm_sig_registry_heartbeat(reg, &r, T0, T0 + 5, NULL, &err),
                     TDM_ERR_INVALID);
    assert_int_equal(tdm_sig_registry_heartbeat(reg, &r, T0 - 1, T0 + 5, NULL, &err),
                     TDM_ERR_INVALID);
    assert_int_equal(tdm_sig_registry_counters_get(reg)->refused_replay, 2);
    /* Dropped after the TTL: a replay of its last heartbeat inside the skew
     * window must not bring it back. */
    assert_int_equal(tdm_sig_registry_count(reg, T0 + 3001), 0);
    assert_int_equal(tdm_sig_registry_heartbeat(reg, &r, T0, T0 + 3500, NULL, &err),
                     TDM_ERR_INVALID);
    assert_int_equal(tdm_sig_registry_count(reg, T0 + 3500), 0);
    /* A fresh one does. */
    assert_int_equal(tdm_sig_registry_heartbeat(reg, &r, T0 + 3600, T0 + 3600, NULL, &err),
                     TDM_OK);
    assert_int_equal(tdm_sig_registry_count(reg, T0 + 3600), 1);
    tdm_sig_registry_free(reg);
}

static void static_entries_never_expire(void **state)
{
    (void)state;
    tdm_sig_registry *reg = make(0);
    assert_int_equal(tdm_sig_registry_add_static(reg, "cfg", "http://127.0.0.1:1/", NULL),
                     TDM_OK);
    assert_int_equal(tdm_sig_registry_add_static(reg, "bad id", "http://x", NULL),
                     TDM_ERR_INVALID);
    assert_int_equal(tdm_sig_registry_count(reg, T0 + 86400000), 1);
    const tdm_sig_relay_entry *e = NULL;
    assert_int_equal(tdm_sig_registry_place(reg, "s", T0, &e, NULL), TDM_OK);
    assert_string_equal(e->report.url, "http://127.0.0.1:1"); /* trailing slash dropped */
    assert_string_equal(e->report.node, "cfg");
    /* A heartbeat with its id updates it but it stays static. */
    tdm_hb_report r = report("cfg", 0, 0, true);
    beat(reg, r, T0 + 1000);
    assert_int_equal(tdm_sig_registry_count(reg, T0 + 999999), 1);
    assert_null(place(reg, "t", T0 + 999999)); /* draining */
    tdm_sig_registry_free(reg);
}

static void hmac_and_body(void **state)
{
    (void)state;
    tdm_hb_report r = report("relay-1", 4, 12.5, true);
    r.load.workers = 2;
    r.load.packets_in_total = 1000;
    r.load.cpu_seconds_total = 1.5;
    char body[TDM_HB_BODY_CAP], auth[TDM_HB_AUTH_CAP];
    size_t len = 0;
    assert_int_equal(tdm_hb_body_format(&r, body, sizeof body, &len, NULL), TDM_OK);
    assert_int_equal(tdm_hb_sign(SECRET, sizeof SECRET - 1, T0, (uint8_t *)body, len, auth, NULL),
                     TDM_OK);
    assert_true(strncmp(auth, "TDM-HMAC-SHA256 ts=1700000000000,sig=", 37) == 0);
    int64_t ts = 0;
    assert_int_equal(
        tdm_hb_verify(SECRET, sizeof SECRET - 1, auth, (uint8_t *)body, len, &ts, NULL), TDM_OK);
    assert_int_equal(ts, T0);
    /* Wrong secret, altered body, altered timestamp: refused. */
    static const uint8_t other[] = "another-secret-another-secret-another!!";
    assert_int_equal(tdm_hb_verify(other, sizeof other - 1, auth, (uint8_t *)body, len, &ts, NULL),
                     TDM_ERR_INVALID);
    body[len - 3] ^= 1;
    assert_int_equal(
        tdm_hb_verify(SECRET, sizeof SECRET - 1, auth, (uint8_t *)body, len, &ts, NULL),
        TDM_ERR_INVALID);
    body[len - 3] ^= 1;
    char moved[TDM_HB_AUTH_CAP];
    snprintf(moved, sizeof moved, "%s", auth);
    moved[strlen("TDM-HMAC-SHA256 ts=1700000000")] = '1';
    assert_int_equal(
        tdm_hb_verify(SECRET, sizeof SECRET - 1, moved, (uint8_t *)body, len, &ts, NULL),
        TDM_ERR_INVALID);
    assert_int_equal(tdm_hb_verify(SECRET, sizeof SECRET - 1, "Bearer x", (uint8_t *)body, len,
                                   &ts, NULL),
                     TDM_ERR_FORMAT);
    assert_int_equal(tdm_hb_verify(SECRET, sizeof SECRET - 1, NULL, (uint8_t *)body, len, &ts,
                                   NULL),
                     TDM_ERR_FORMAT);
    /* A short cluster secret is refused when signing. */
    assert_int_equal(tdm_hb_sign((const uint8_t *)"short", 5, T0, (uint8_t *)body, len, auth,
                                 NULL),
                     TDM_ERR_INVALID);
    /* The body parses back to what was sent. */
    tdm_hb_report back;
    assert_int_equal(tdm_sig_registry_parse((uint8_t *)body, len, &back, NULL), TDM_OK);
    assert_string_equal(back.id, "relay-1");
    assert_string_equal(back.node, "relay-1-node");
    assert_string_equal(back.url, "http://127.0.0.1:9/relay-1");
    assert_true(back.draining);
    assert_int_equal(back.load.sessions, 4);
    assert_int_equal(back.load.workers, 2);
    assert_int_equal(back.load.packets_in_total, 1000);
    assert_true(back.load.packets_per_s > 12.4 && back.load.packets_per_s < 12.6);
    /* Bad bodies name the field. */
    const char *bad[] = {"{}", "{\"id\":\"a b\",\"url\":\"http://x\"}",
                         "{\"id\":\"a\",\"url\":\"ftp://x\"}",
                         "{\"id\":\"a\",\"url\":\"http://x\",\"draining\":1}",
                         "{\"id\":\"a\",\"url\":\"http://x\",\"load\":{\"sessions\":-1}}", "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tdm_sig_registry_parse((const uint8_t *)bad[i], strlen(bad[i]), &back,
                                                NULL),
                         TDM_ERR_FORMAT);
    /* Rates from two readings. */
    tdm_hb_load prev = {.packets_in_total = 100, .packets_out_total = 200, .cpu_seconds_total = 1};
    tdm_hb_load cur = {.packets_in_total = 300, .packets_out_total = 600, .cpu_seconds_total = 2};
    tdm_hb_load_rates(&cur, &prev, 2.0);
    assert_true(cur.packets_per_s > 299.9 && cur.packets_per_s < 300.1);
    assert_true(cur.cpu_load > 0.49 && cur.cpu_load < 0.51);
    tdm_hb_load_rates(&prev, &cur, 2.0); /* counters went backwards (restart): 0 */
    assert_true(prev.packets_per_s == 0 && prev.cpu_load == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(expiry_after_ttl),
        cmocka_unit_test(least_loaded_placement),
        cmocka_unit_test(draining_gets_nothing_new),
        cmocka_unit_test(cap_per_relay),
        cmocka_unit_test(dropped_relay_sessions_move),
        cmocka_unit_test(stale_and_replayed_refused),
        cmocka_unit_test(static_entries_never_expire),
        cmocka_unit_test(hmac_and_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
