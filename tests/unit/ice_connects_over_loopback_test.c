/* ice_connects_over_loopback_test: two tdm_ice agents in one process on one
 * GMainContext, gathering only on 127.0.0.1, trickle their candidates to
 * each other and carry datagrams both ways; an ICE restart reconnects with
 * new credentials; the timer fires on the agent's context; ICE-TCP gathers
 * on loopback only; a peer that never answers ends in failed; bad input is
 * refused with the right status. Every candidate either side produces is
 * checked to be on 127.0.0.1, so no test traffic leaves loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "loopback_loop.h"
#include "tdm_ice.h"

#define WAIT_MS 10000
/* libnice waits 5 s after the last check failed before it declares the
 * component failed (its own constant), and the checks take ~2 s. */
#define FAIL_WAIT_MS 20000
#define DATAGRAMS 50
#define DATAGRAM_LEN 300

typedef struct side {
    const char *name;
    tdm_ice *ice;
    struct side *other;
    bool trickle; /* hand each local candidate to the other side at once */
    int candidates, not_loopback, tcp_candidates;
    bool gathered;
    tdm_ice_state state;
    bool failed_seen;
    int pairs;
    tdm_ice_candidate_type local_type, remote_type;
    tdm_ice_transport local_transport;
    char remote_address[64];
    int received, corrupt;
    int timers;
} side;

static void fill(uint8_t *buf, uint32_t n)
{
    buf[0] = (uint8_t)(n >> 24);
    buf[1] = (uint8_t)(n >> 16);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    for (size_t i = 4; i < DATAGRAM_LEN; i++)
        buf[i] = (uint8_t)(n * 7 + i);
}

static void on_datagram(void *user, uint8_t *buf, size_t len)
{
    side *s = user;
    uint8_t want[DATAGRAM_LEN];
    if (len != DATAGRAM_LEN) {
        s->corrupt++;
        return;
    }
    uint32_t n = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
    fill(want, n);
    if (memcmp(want, buf, len) != 0)
        s->corrupt++;
    else
        s->received++;
}

static void add_to_other(void *user, const char *cand)
{
    side *s = user;
    tdm_error err = {{0}};
    tdm_status st = tdm_ice_add_remote_candidate(s->other->ice, cand, &err);
    if (st != TDM_OK)
        fail_msg("%s: candidate '%s' refused: %s", s->name, cand, err.msg);
}

static void on_event(void *user, const tdm_ice_event *ev)
{
    side *s = user;
    switch (ev->type) {
    case TDM_ICE_EV_LOCAL_CANDIDATE:
        s->candidates++;
        if (!loopback_candidate_address_is(ev->candidate, "127.0.0.1")) {
            s->not_loopback++;
            print_error("%s: candidate off loopback: %s\n", s->name, ev->candidate);
        }
        if (strstr(ev->candidate, " TCP ") || strstr(ev->candidate, " tcp "))
            s->tcp_candidates++;
        if (s->trickle)
            add_to_other(s, ev->candidate);
        break;
    case TDM_ICE_EV_GATHERING_DONE:
        s->gathered = true;
        if (s->trickle)
            tdm_ice_remote_gathering_done(s->other->ice);
        break;
    case TDM_ICE_EV_STATE:
        s->state = ev->state;
        if (ev->state == TDM_ICE_FAILED)
            s->failed_seen = true;
        break;
    case TDM_ICE_EV_SELECTED_PAIR:
        s->pairs++;
        s->local_type = ev->local_type;
        s->remote_type = ev->remote_type;
        s->local_transport = ev->local_transport;
        snprintf(s->remote_address, sizeof s->remote_address, "%s", ev->remote_address);
        break;
    }
}

static void on_timer(void *user)
{
    side *s = user;
    s->timers++;
}

static void make_side(side *s, const char *name, GMainContext *ctx, bool controlling, bool tcp)
{
    memset(s, 0, sizeof *s);
    s->name = name;
    s->trickle = true;
    tdm_ice_config cfg;
    tdm_ice_config_init(&cfg, ctx, controlling);
    cfg.local_addresses[0] = "127.0.0.1";
    cfg.n_local_addresses = 1;
    cfg.ice_tcp = tcp;
    tdm_ice_callbacks cb = {
        .on_datagram = on_datagram, .on_event = on_event, .on_timer = on_timer, .user = s};
    tdm_error err = {{0}};
    if (tdm_ice_new(&cfg, &cb, &s->ice, &err) != TDM_OK)
        fail_msg("%s: %s", name, err.msg);
    assert_int_equal(tdm_ice_get_state(s->ice), TDM_ICE_NEW);
}

static void exchange_credentials(side *a, side *b)
{
    const char *ufrag, *pwd;
    tdm_error err = {{0}};
    tdm_ice_local_credentials(a->ice, &ufrag, &pwd);
    assert_true(strlen(ufrag) >= 4 && strlen(pwd) >= 22); /* RFC 8445 section 5.3 */
    assert_int_equal(tdm_ice_set_remote_credentials(b->ice, ufrag, pwd, &err), TDM_OK);
    tdm_ice_local_credentials(b->ice, &ufrag, &pwd);
    assert_int_equal(tdm_ice_set_remote_credentials(a->ice, ufrag, pwd, &err), TDM_OK);
}

typedef struct pair {
    GMainContext *ctx;
    side a, b;
} pair;

static bool both_up(void *arg)
{
    pair *p = arg;
    return tdm_ice_state_is_up(p->a.state) && tdm_ice_state_is_up(p->b.state) && p->a.pairs &&
           p->b.pairs;
}

static bool both_received(void *arg)
{
    pair *p = arg;
    return p->a.received >= DATAGRAMS && p->b.received >= DATAGRAMS;
}

static void pair_connect(pair *p, bool tcp)
{
    p->ctx = g_main_context_new();
    make_side(&p->a, "a", p->ctx, true, tcp);
    make_side(&p->b, "b", p->ctx, false, tcp);
    p->a.other = &p->b;
    p->b.other = &p->a;
    exchange_credentials(&p->a, &p->b);
    tdm_error err = {{0}};
    assert_int_equal(tdm_ice_gather(p->a.ice, &err), TDM_OK);
    assert_int_equal(tdm_ice_gather(p->b.ice, &err), TDM_OK);
    assert_true(loopback_run_until(p->ctx, both_up, p, WAIT_MS));
    assert_true(p->a.gathered && p->b.gathered);
    assert_true(p->a.candidates > 0 && p->b.candidates > 0);
    assert_int_equal(p->a.not_loopback + p->b.not_loopback, 0);
}

static void pair_free(pair *p)
{
    tdm_ice_free(p->a.ice);
    tdm_ice_free(p->b.ice);
    loopback_drain(p->ctx);
    g_main_context_unref(p->ctx);
}

static void send_datagrams(pair *p)
{
    uint8_t buf[DATAGRAM_LEN];
    p->a.received = p->b.received = 0;
    for (uint32_t i = 0; i < DATAGRAMS; i++) {
        fill(buf, i);
        assert_int_equal(tdm_ice_send(p->a.ice, buf, sizeof buf), TDM_OK);
        fill(buf, 1000 + i);
        assert_int_equal(tdm_ice_send(p->b.ice, buf, sizeof buf), TDM_OK);
        /* Let the receivers keep up: loopback sockets drop when their
         * buffer fills, and this is about correctness, not throughput. */
        if (i % 10 == 9)
            loopback_drain(p->ctx);
    }
    assert_true(loopback_run_until(p->ctx, both_received, p, WAIT_MS));
    assert_int_equal(p->a.corrupt + p->b.corrupt, 0);
}

static void ice_connects_and_carries_datagrams(void **state)
{
    (void)state;
    pair p;
    pair_connect(&p, false);
    /* Loopback only: host candidates, or peer reflexive when a check
     * arrived before the trickled candidate did. */
    for (side *s = &p.a; s; s = s == &p.a ? &p.b : NULL) {
        assert_true(s->local_type == TDM_ICE_CAND_HOST || s->local_type == TDM_ICE_CAND_PRFLX);
        assert_true(s->remote_type == TDM_ICE_CAND_HOST || s->remote_type == TDM_ICE_CAND_PRFLX);
        assert_int_equal(s->local_transport, TDM_ICE_UDP);
        assert_int_equal(strncmp(s->remote_address, "127.0.0.1:", 10), 0);
        assert_int_equal(s->tcp_candidates, 0); /* ICE-TCP is off by default */
    }
    assert_int_equal(tdm_ice_foreach_local_candidate(p.a.ice, NULL, NULL), (size_t)p.a.candidates);
    send_datagrams(&p);
    pair_free(&p);
}

static bool timer_fired(void *arg)
{
    return ((side *)arg)->timers > 0;
}

static void ice_timer_fires_once_on_the_context(void **state)
{
    (void)state;
    pair p;
    p.ctx = g_main_context_new();
    make_side(&p.a, "a", p.ctx, true, false);
    /* A cancelled timer and a replaced one never fire. */
    tdm_ice_set_timer(p.a.ice, 1);
    tdm_ice_cancel_timer(p.a.ice);
    tdm_ice_set_timer(p.a.ice, 2);
    tdm_ice_set_timer(p.a.ice, 30);
    assert_true(loopback_run_until(p.ctx, timer_fired, &p.a, WAIT_MS));
    assert_int_equal(p.a.timers, 1);
    /* Re-arming from nothing works after it fired; freeing with a timer
     * armed cancels it. */
    tdm_ice_set_timer(p.a.ice, 1);
    assert_true(loopback_run_until(p.ctx, timer_fired, &p.a, WAIT_MS));
    tdm_ice_set_timer(p.a.ice, 1);
    tdm_ice_free(p.a.ice);
    loopback_drain(p.ctx);
    g_main_context_unref(p.ctx);
}

static void ice_restart_reconnects_with_new_credentials(void **state)
{
    (void)state;
    pair p;
    pair_connect(&p, false);
    char old_ufrag[64];
    const char *ufrag;
    tdm_ice_local_credentials(p.a.ice, &ufrag, NULL);
    snprintf(old_ufrag, sizeof old_ufrag, "%s", ufrag);

    tdm_error err = {{0}};
    assert_int_equal(tdm_ice_restart(p.a.ice, &err), TDM_OK);
    assert_int_equal(tdm_ice_restart(p.b.ice, &err), TDM_OK);
    tdm_ice_local_credentials(p.a.ice, &ufrag, NULL);
    assert_string_not_equal(ufrag, old_ufrag);
    /* Until the restart selects a new pair, the old one carries data. */
    assert_true(tdm_ice_can_send(p.a.ice) && tdm_ice_can_send(p.b.ice));
    send_datagrams(&p);
    p.a.pairs = p.b.pairs = 0;
    exchange_credentials(&p.a, &p.b);
    /* After a restart the peers re-send all their candidates. */
    assert_true(tdm_ice_foreach_local_candidate(p.a.ice, add_to_other, &p.a) > 0);
    assert_true(tdm_ice_foreach_local_candidate(p.b.ice, add_to_other, &p.b) > 0);
    assert_true(loopback_run_until(p.ctx, both_up, &p, WAIT_MS));
    send_datagrams(&p);
    pair_free(&p);
}

static bool gathered(void *arg)
{
    return ((side *)arg)->gathered;
}

static void ice_tcp_gathers_on_loopback_only(void **state)
{
    (void)state;
    pair p;
    p.ctx = g_main_context_new();
    make_side(&p.a, "a", p.ctx, true, true);
    p.a.trickle = false;
    tdm_error err = {{0}};
    assert_int_equal(tdm_ice_gather(p.a.ice, &err), TDM_OK);
    assert_true(loopback_run_until(p.ctx, gathered, &p.a, WAIT_MS));
    assert_true(p.a.tcp_candidates > 0);
    assert_true(p.a.candidates > p.a.tcp_candidates); /* UDP too */
    assert_int_equal(p.a.not_loopback, 0);
    tdm_ice_free(p.a.ice);
    loopback_drain(p.ctx);
    g_main_context_unref(p.ctx);
}

static bool failed(void *arg)
{
    return ((side *)arg)->failed_seen;
}

static void ice_fails_when_the_peer_never_answers(void **state)
{
    (void)state;
    pair p;
    p.ctx = g_main_context_new();
    make_side(&p.a, "a", p.ctx, true, false);
    p.a.trickle = false;
    tdm_error err = {{0}};
    assert_int_equal(
        tdm_ice_set_remote_credentials(p.a.ice, "abcd", "0123456789abcdefghijkl", &err), TDM_OK);
    assert_int_equal(tdm_ice_gather(p.a.ice, &err), TDM_OK);
    /* Port 9 (discard) on loopback: nobody answers the checks. */
    assert_int_equal(tdm_ice_add_remote_candidate(
                         p.a.ice, "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host", &err),
                     TDM_OK);
    tdm_ice_remote_gathering_done(p.a.ice);
    assert_true(loopback_run_until(p.ctx, failed, &p.a, FAIL_WAIT_MS));
    assert_int_equal(tdm_ice_get_state(p.a.ice), TDM_ICE_FAILED);
    uint8_t byte = 0x80;
    assert_int_equal(tdm_ice_send(p.a.ice, &byte, 1), TDM_ERR_UNAVAILABLE);
    tdm_ice_free(p.a.ice);
    loopback_drain(p.ctx);
    g_main_context_unref(p.ctx);
}

static void ice_refuses_bad_input(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    tdm_error err = {{0}};
    tdm_ice *ice = NULL;
    side s;
    memset(&s, 0, sizeof s);
    tdm_ice_callbacks cb = {.on_datagram = on_datagram, .on_event = on_event, .user = &s};
    tdm_ice_config cfg;

    tdm_ice_config_init(&cfg, NULL, false);
    assert_int_equal(tdm_ice_new(&cfg, &cb, &ice, &err), TDM_ERR_INVALID);
    tdm_ice_config_init(&cfg, ctx, false);
    cfg.local_addresses[0] = "localhost"; /* names are not resolved */
    cfg.n_local_addresses = 1;
    assert_int_equal(tdm_ice_new(&cfg, &cb, &ice, &err), TDM_ERR_INVALID);
    cfg.local_addresses[0] = "127.0.0.1";
    cfg.stun_host = "stun.example.org";
    assert_int_equal(tdm_ice_new(&cfg, &cb, &ice, &err), TDM_ERR_INVALID);
    cfg.stun_host = NULL;
    cfg.turn[0] = (tdm_ice_turn){.host = "127.0.0.1", .port = 3478};
    cfg.n_turn = 1; /* no credentials */
    assert_int_equal(tdm_ice_new(&cfg, &cb, &ice, &err), TDM_ERR_INVALID);
    cfg.n_turn = 0;
    cfg.port_min = 5000;
    cfg.port_max = 4000;
    assert_int_equal(tdm_ice_new(&cfg, &cb, &ice, &err), TDM_ERR_INVALID);
    cfg.port_min = cfg.port_max = 0;
    assert_int_equal(tdm_ice_new(&cfg, &cb, &ice, &err), TDM_OK);

    assert_int_equal(tdm_ice_set_remote_credentials(ice, "", "x", &err), TDM_ERR_INVALID);
    assert_int_equal(tdm_ice_add_remote_candidate(ice, "garbage", &err), TDM_ERR_FORMAT);
    assert_int_equal(tdm_ice_add_remote_candidate(ice, "candidate:1 1 udp", &err),
                     TDM_ERR_FORMAT);
    assert_int_equal(
        tdm_ice_add_remote_candidate(
            ice, "candidate:1 1 udp 2122260223 4f1b2c3d-aaaa-bbbb.local 54321 typ host", &err),
        TDM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, ".local"));
    assert_int_equal(tdm_ice_add_remote_candidate(
                         ice, "candidate:1 2 udp 2122260222 127.0.0.1 54322 typ host", &err),
                     TDM_ERR_FORMAT); /* component 2: no rtcp-mux */
    /* The "a=" line form with CRLF is accepted (nothing is sent: no
     * credentials yet, no gathering). */
    assert_int_equal(tdm_ice_add_remote_candidate(
                         ice, "a=candidate:1 1 udp 2122260223 127.0.0.1 54321 typ host\r\n", &err),
                     TDM_OK);
    uint8_t byte = 0x80;
    assert_int_equal(tdm_ice_send(ice, &byte, 1), TDM_ERR_UNAVAILABLE);
    assert_int_equal(tdm_ice_send(ice, &byte, 0), TDM_ERR_INVALID);
    tdm_ice_free(ice);
    tdm_ice_free(NULL);
    loopback_drain(ctx);
    g_main_context_unref(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ice_connects_and_carries_datagrams),
        cmocka_unit_test(ice_timer_fires_once_on_the_context),
        cmocka_unit_test(ice_restart_reconnects_with_new_credentials),
        cmocka_unit_test(ice_tcp_gathers_on_loopback_only),
        cmocka_unit_test(ice_fails_when_the_peer_never_answers),
        cmocka_unit_test(ice_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
