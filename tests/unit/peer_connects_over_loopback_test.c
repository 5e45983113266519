/* peer_connects_over_loopback_test: two tdm_peer connections in one process
 * on one GMainContext, each gathering only on 127.0.0.1, trickle candidates
 * and credentials to each other directly, run DTLS (one client, one server,
 * each checking the other's fingerprint) and reach connected; 100 RTP and
 * 10 RTCP packets each way arrive decrypted and intact, for both SRTP
 * profiles. Forged, replayed and garbage datagrams are counted by reason
 * and the connection keeps working; a close reaches the other side; a
 * certificate that does not match the expected fingerprint ends in failed
 * with the reason, whichever side checks it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "loopback_loop.h"
#include "tdm_dtls.h"
#include "tdm_peer.h"
#include "tdm_rtp.h"

#define WAIT_MS 10000
#define RTP_COUNT 100
#define RTCP_COUNT 10
#define BUF_CAP 1500

typedef struct end {
    const char *name;
    uint32_t ssrc; /* what this end sends with */
    tdm_dtls_identity *id;
    tdm_peer *peer;
    struct end *other;
    int candidates, not_loopback;
    tdm_peer_state state;
    tdm_peer_fail fail;
    char reason[256];
    int state_events;
    bool pair_seen;
    /* What arrived from the other end. */
    bool rtp_seen[RTP_COUNT + 20];
    int rtp_ok, rtp_bad, rtcp_ok, rtcp_bad;
} end;

typedef struct duo {
    GMainContext *ctx;
    end a, b;
} duo;

/* --- packets whose every byte follows from (ssrc, n) ---------------------- */

static size_t make_rtp(uint8_t *buf, uint32_t ssrc, uint16_t n)
{
    uint8_t payload[1000];
    size_t plen = 20 + (n * 37u) % 900;
    for (size_t i = 0; i < plen; i++)
        payload[i] = (uint8_t)(ssrc ^ (n * 13u) ^ i);
    tdm_rtp_header h = {
        .marker = n % 10 == 9, .payload_type = 96, .seq = n, .timestamp = 90000u + n * 3000u,
        .ssrc = ssrc};
    size_t len = 0;
    assert_int_equal(tdm_rtp_write(&h, payload, plen, 0, buf, BUF_CAP, &len), TDM_OK);
    return len;
}

/* A receiver report with one report block whose fields carry n. */
static size_t make_rtcp(uint8_t *buf, uint32_t ssrc, uint32_t n)
{
    static const uint8_t head[4] = {0x81, 201, 0, 7};
    memcpy(buf, head, 4);
    for (int i = 0; i < 4; i++) {
        buf[4 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
        buf[8 + i] = (uint8_t)((ssrc ^ 0xffffffffu) >> (24 - 8 * i));
    }
    for (size_t i = 12; i < 32; i++)
        buf[i] = (uint8_t)(n * 31u + i);
    return 32;
}

static void on_rtp(void *user, uint8_t *buf, size_t len)
{
    end *e = user;
    tdm_rtp_packet pkt;
    uint8_t want[BUF_CAP];
    if (tdm_rtp_parse(buf, len, &pkt, NULL) != TDM_OK || pkt.header.ssrc != e->other->ssrc ||
        pkt.header.seq >= RTP_COUNT + 20) {
        e->rtp_bad++;
        return;
    }
    size_t wlen = make_rtp(want, e->other->ssrc, pkt.header.seq);
    if (wlen != len || memcmp(want, buf, len) != 0 || e->rtp_seen[pkt.header.seq]) {
        e->rtp_bad++;
        return;
    }
    e->rtp_seen[pkt.header.seq] = true;
    e->rtp_ok++;
}

static void on_rtcp(void *user, uint8_t *buf, size_t len)
{
    end *e = user;
    uint8_t want[64];
    if (len != 32) {
        e->rtcp_bad++;
        return;
    }
    /* buf[12] = n*31 + 12 (mod 256), unique for n < 10: recover n. */
    uint32_t n;
    for (n = 0; n < RTCP_COUNT; n++)
        if ((uint8_t)(n * 31u + 12) == buf[12])
            break;
    make_rtcp(want, e->other->ssrc, n);
    if (n == RTCP_COUNT || memcmp(want, buf, len) != 0)
        e->rtcp_bad++;
    else
        e->rtcp_ok++;
}

static void on_state(void *user, tdm_peer_state state, tdm_peer_fail fail, const char *reason)
{
    end *e = user;
    e->state = state;
    e->fail = fail;
    e->state_events++;
    snprintf(e->reason, sizeof e->reason, "%s", reason);
}

static void on_ice_event(void *user, const tdm_ice_event *ev)
{
    end *e = user;
    tdm_error err = {{0}};
    switch (ev->type) {
    case TDM_ICE_EV_LOCAL_CANDIDATE:
        e->candidates++;
        if (!loopback_candidate_address_is(ev->candidate, "127.0.0.1")) {
            e->not_loopback++;
            print_error("%s: candidate off loopback: %s\n", e->name, ev->candidate);
        }
        /* Trickle straight to the other end, as a signalling channel would. */
        if (tdm_ice_add_remote_candidate(tdm_peer_ice(e->other->peer), ev->candidate, &err) !=
            TDM_OK)
            fail_msg("%s: candidate refused: %s", e->name, err.msg);
        break;
    case TDM_ICE_EV_GATHERING_DONE:
        tdm_ice_remote_gathering_done(tdm_peer_ice(e->other->peer));
        break;
    case TDM_ICE_EV_SELECTED_PAIR:
        e->pair_seen = true;
        assert_int_equal(strncmp(ev->remote_address, "127.0.0.1:", 10), 0);
        assert_int_equal(strncmp(ev->local_address, "127.0.0.1:", 10), 0);
        break;
    case TDM_ICE_EV_STATE: break;
    }
}

typedef struct duo_options {
    tdm_srtp_profile profile;
    bool client_expects_wrong_fp; /* a (client) checks b's certificate */
    bool server_expects_wrong_fp; /* b (server) checks a's certificate */
} duo_options;

static void make_end(end *e, GMainContext *ctx, bool controlling, tdm_dtls_role role,
                     const uint8_t fp[TDM_DTLS_FINGERPRINT_LEN], tdm_srtp_profile profile)
{
    tdm_ice_config ice;
    tdm_ice_config_init(&ice, ctx, controlling);
    ice.local_addresses[0] = "127.0.0.1";
    ice.n_local_addresses = 1;
    tdm_peer_config cfg;
    tdm_peer_config_init(&cfg, &ice, e->id, role, fp);
    cfg.only_profile = profile;
    tdm_peer_callbacks cb = {
        .on_state = on_state, .on_rtp = on_rtp, .on_rtcp = on_rtcp,
        .on_ice_event = on_ice_event, .user = e};
    tdm_error err = {{0}};
    if (tdm_peer_new(&cfg, &cb, &e->peer, &err) != TDM_OK)
        fail_msg("%s: %s", e->name, err.msg);
}

static void duo_start(duo *d, const duo_options *o)
{
    memset(d, 0, sizeof *d);
    d->ctx = g_main_context_new();
    d->a.name = "a";
    d->b.name = "b";
    d->a.ssrc = 0x11111111;
    d->b.ssrc = 0x22222222;
    d->a.other = &d->b;
    d->b.other = &d->a;
    tdm_error err = {{0}};
    assert_int_equal(tdm_dtls_identity_new(NULL, &d->a.id, &err), TDM_OK);
    assert_int_equal(tdm_dtls_identity_new(NULL, &d->b.id, &err), TDM_OK);

    /* a offers (controlling, a=setup:active: DTLS client), b answers as
     * the relay does (controlled, DTLS server). */
    uint8_t fp[TDM_DTLS_FINGERPRINT_LEN];
    memcpy(fp, tdm_dtls_identity_fingerprint(d->b.id), sizeof fp);
    if (o->client_expects_wrong_fp)
        fp[3] ^= 0x10;
    make_end(&d->a, d->ctx, true, TDM_DTLS_CLIENT, fp, o->profile);
    memcpy(fp, tdm_dtls_identity_fingerprint(d->a.id), sizeof fp);
    if (o->server_expects_wrong_fp)
        fp[30] ^= 0x01;
    make_end(&d->b, d->ctx, false, TDM_DTLS_SERVER, fp, o->profile);

    const char *ufrag, *pwd;
    tdm_ice_local_credentials(tdm_peer_ice(d->a.peer), &ufrag, &pwd);
    assert_int_equal(tdm_ice_set_remote_credentials(tdm_peer_ice(d->b.peer), ufrag, pwd, &err),
                     TDM_OK);
    tdm_ice_local_credentials(tdm_peer_ice(d->b.peer), &ufrag, &pwd);
    assert_int_equal(tdm_ice_set_remote_credentials(tdm_peer_ice(d->a.peer), ufrag, pwd, &err),
                     TDM_OK);
    assert_int_equal(tdm_peer_get_state(d->a.peer, NULL, NULL), TDM_PEER_NEW);
    uint8_t pkt[BUF_CAP];
    size_t len = make_rtp(pkt, d->a.ssrc, 0);
    assert_int_equal(tdm_peer_send_rtp(d->a.peer, pkt, len, sizeof pkt), TDM_ERR_UNAVAILABLE);

    assert_int_equal(tdm_ice_gather(tdm_peer_ice(d->a.peer), &err), TDM_OK);
    assert_int_equal(tdm_ice_gather(tdm_peer_ice(d->b.peer), &err), TDM_OK);
}

static void duo_free(duo *d)
{
    tdm_peer_free(d->a.peer);
    tdm_peer_free(d->b.peer);
    loopback_drain(d->ctx);
    g_main_context_unref(d->ctx);
    tdm_dtls_identity_free(d->a.id);
    tdm_dtls_identity_free(d->b.id);
}

static bool both_connected(void *arg)
{
    duo *d = arg;
    return d->a.state == TDM_PEER_CONNECTED && d->b.state == TDM_PEER_CONNECTED;
}

static bool both_finished(void *arg)
{
    duo *d = arg;
    return (d->a.state == TDM_PEER_FAILED || d->a.state == TDM_PEER_CLOSED) &&
           (d->b.state == TDM_PEER_FAILED || d->b.state == TDM_PEER_CLOSED);
}

static bool b_finished(void *arg)
{
    duo *d = arg;
    return d->b.state == TDM_PEER_FAILED || d->b.state == TDM_PEER_CLOSED;
}

typedef struct want_media {
    duo *d;
    int rtp, rtcp;
} want_media;

static bool media_arrived(void *arg)
{
    want_media *w = arg;
    return w->d->a.rtp_ok >= w->rtp && w->d->b.rtp_ok >= w->rtp && w->d->a.rtcp_ok >= w->rtcp &&
           w->d->b.rtcp_ok >= w->rtcp;
}

static void send_rtp_range(duo *d, uint16_t from, uint16_t to)
{
    uint8_t pkt[BUF_CAP];
    for (uint16_t n = from; n < to; n++) {
        for (end *e = &d->a; e; e = e == &d->a ? &d->b : NULL) {
            size_t len = make_rtp(pkt, e->ssrc, n);
            assert_int_equal(tdm_peer_send_rtp(e->peer, pkt, len, len + TDM_PEER_MAX_SRTP_OVERHEAD),
                             TDM_OK);
        }
        /* Keep the loopback socket buffers from overflowing. */
        if (n % 10 == 9)
            loopback_drain(d->ctx);
    }
}

static void send_rtcp_all(duo *d)
{
    uint8_t pkt[64];
    for (uint32_t n = 0; n < RTCP_COUNT; n++)
        for (end *e = &d->a; e; e = e == &d->a ? &d->b : NULL) {
            size_t len = make_rtcp(pkt, e->ssrc, n);
            assert_int_equal(tdm_peer_send_rtcp(e->peer, pkt, len, sizeof pkt), TDM_OK);
        }
}

static void check_connected(duo *d, tdm_srtp_profile want)
{
    assert_true(loopback_run_until(d->ctx, both_connected, d, WAIT_MS));
    assert_true(d->a.candidates > 0 && d->b.candidates > 0);
    assert_int_equal(d->a.not_loopback + d->b.not_loopback, 0);
    assert_true(d->a.pair_seen && d->b.pair_seen);
    tdm_srtp_profile pa = tdm_peer_srtp_profile(d->a.peer);
    assert_int_equal(pa, tdm_peer_srtp_profile(d->b.peer));
    assert_int_equal(pa, want == TDM_SRTP_PROFILE_NONE ? TDM_SRTP_AEAD_AES_128_GCM : want);
}

static void media_flows_both_ways(tdm_srtp_profile profile)
{
    duo d;
    duo_options o = {.profile = profile};
    duo_start(&d, &o);
    check_connected(&d, profile);

    send_rtp_range(&d, 0, RTP_COUNT);
    send_rtcp_all(&d);
    want_media w = {&d, RTP_COUNT, RTCP_COUNT};
    assert_true(loopback_run_until(d.ctx, media_arrived, &w, WAIT_MS));
    for (end *e = &d.a; e; e = e == &d.a ? &d.b : NULL) {
        assert_int_equal(e->rtp_bad + e->rtcp_bad, 0);
        const tdm_peer_stats *st = tdm_peer_get_stats(e->peer);
        assert_int_equal(st->rtp_in, RTP_COUNT);
        assert_int_equal(st->rtcp_in, RTCP_COUNT);
        assert_int_equal(st->rtp_out, RTP_COUNT);
        assert_int_equal(st->rtcp_out, RTCP_COUNT);
        assert_true(st->dtls_in > 0 && st->dtls_out > 0);
        assert_int_equal(st->unknown_dropped + st->send_failed, 0);
        for (int r = 0; r < TDM_SRTP_FAIL_COUNT; r++)
            assert_int_equal(st->srtp_in_fail[r] + st->srtp_out_fail[r], 0);
    }
    duo_free(&d);
}

static void peer_media_flows_gcm(void **state)
{
    (void)state;
    media_flows_both_ways(TDM_SRTP_PROFILE_NONE);
}

static void peer_media_flows_aes_cm_sha1(void **state)
{
    (void)state;
    media_flows_both_ways(TDM_SRTP_AES128_CM_SHA1_80);
}

/* --- ICE restart ----------------------------------------------------------- */

static void add_to_other(void *user, const char *cand)
{
    end *e = user;
    tdm_error err = {{0}};
    if (tdm_ice_add_remote_candidate(tdm_peer_ice(e->other->peer), cand, &err) != TDM_OK)
        fail_msg("%s: candidate refused: %s", e->name, err.msg);
}

static bool both_paired(void *arg)
{
    duo *d = arg;
    return d->a.pair_seen && d->b.pair_seen;
}

static void peer_survives_ice_restart(void **state)
{
    (void)state;
    duo d;
    duo_options o = {0};
    duo_start(&d, &o);
    check_connected(&d, TDM_SRTP_PROFILE_NONE);
    int events_a = d.a.state_events, events_b = d.b.state_events;

    /* As after a WHIP PATCH with new ice-ufrag/ice-pwd: both restart, swap
     * credentials, re-send candidates. DTLS and the SRTP keys carry on. */
    tdm_error err = {{0}};
    assert_int_equal(tdm_ice_restart(tdm_peer_ice(d.a.peer), &err), TDM_OK);
    assert_int_equal(tdm_ice_restart(tdm_peer_ice(d.b.peer), &err), TDM_OK);
    d.a.pair_seen = d.b.pair_seen = false;
    const char *ufrag, *pwd;
    tdm_ice_local_credentials(tdm_peer_ice(d.a.peer), &ufrag, &pwd);
    assert_int_equal(tdm_ice_set_remote_credentials(tdm_peer_ice(d.b.peer), ufrag, pwd, &err),
                     TDM_OK);
    tdm_ice_local_credentials(tdm_peer_ice(d.b.peer), &ufrag, &pwd);
    assert_int_equal(tdm_ice_set_remote_credentials(tdm_peer_ice(d.a.peer), ufrag, pwd, &err),
                     TDM_OK);
    tdm_ice_foreach_local_candidate(tdm_peer_ice(d.a.peer), add_to_other, &d.a);
    tdm_ice_foreach_local_candidate(tdm_peer_ice(d.b.peer), add_to_other, &d.b);
    assert_true(loopback_run_until(d.ctx, both_paired, &d, WAIT_MS));

    send_rtp_range(&d, 0, RTP_COUNT);
    want_media w = {&d, RTP_COUNT, 0};
    assert_true(loopback_run_until(d.ctx, media_arrived, &w, WAIT_MS));
    assert_int_equal(d.a.rtp_bad + d.b.rtp_bad, 0);
    assert_int_equal(d.a.state_events, events_a); /* still the same connection */
    assert_int_equal(d.b.state_events, events_b);
    assert_int_equal(d.a.state, TDM_PEER_CONNECTED);
    duo_free(&d);
}

/* --- hostile input --------------------------------------------------------- */

typedef struct want_counts {
    const tdm_peer_stats *st;
    uint64_t datagrams_in;
} want_counts;

static bool datagrams_arrived(void *arg)
{
    want_counts *w = arg;
    return w->st->datagrams_in >= w->datagrams_in;
}

static uint64_t srtp_in_failures(const tdm_peer_stats *st)
{
    uint64_t n = 0;
    for (int r = 0; r < TDM_SRTP_FAIL_COUNT; r++)
        n += st->srtp_in_fail[r];
    return n;
}

static void peer_counts_garbage_and_keeps_working(void **state)
{
    (void)state;
    duo d;
    duo_options o = {0};
    duo_start(&d, &o);
    check_connected(&d, TDM_SRTP_PROFILE_NONE);
    send_rtp_range(&d, 0, 10);
    want_media w = {&d, 10, 0};
    assert_true(loopback_run_until(d.ctx, media_arrived, &w, WAIT_MS));

    const tdm_peer_stats *bs = tdm_peer_get_stats(d.b.peer);
    tdm_peer_stats before = *bs;
    tdm_ice *a_ice = tdm_peer_ice(d.a.peer);

    /* Over the real transport, a -> b. A real SRTP packet, captured after
     * tdm_peer_send_rtp protected it in place: forged with a fresh sequence
     * number (libsrtp checks replay before authenticity), then replayed. */
    uint8_t pkt[BUF_CAP], copy[BUF_CAP];
    size_t len = make_rtp(pkt, d.a.ssrc, 10);
    assert_int_equal(tdm_peer_send_rtp(d.a.peer, pkt, len, sizeof pkt), TDM_OK);
    size_t wire = len + 16; /* GCM tag */
    memcpy(copy, pkt, wire);
    copy[2] = 0x01; /* sequence number 10 -> 266 */
    assert_int_equal(tdm_ice_send(a_ice, copy, wire), TDM_OK); /* forged */
    assert_int_equal(tdm_ice_send(a_ice, pkt, wire), TDM_OK);  /* replayed */
    static const uint8_t junk_high[] = {0xff, 1, 2, 3, 4, 5, 6, 7};
    static const uint8_t junk_mid[] = {0x55, 1, 2, 3, 4, 5, 6, 7};
    static const uint8_t fake_dtls[] = {23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4};
    static const uint8_t fake_srtcp[] = {0x80, 200, 0, 6, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                         13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26};
    assert_int_equal(tdm_ice_send(a_ice, junk_high, sizeof junk_high), TDM_OK);
    assert_int_equal(tdm_ice_send(a_ice, junk_mid, sizeof junk_mid), TDM_OK);
    assert_int_equal(tdm_ice_send(a_ice, fake_dtls, sizeof fake_dtls), TDM_OK);
    assert_int_equal(tdm_ice_send(a_ice, fake_srtcp, sizeof fake_srtcp), TDM_OK);
    want_counts wc = {bs, before.datagrams_in + 7};
    assert_true(loopback_run_until(d.ctx, datagrams_arrived, &wc, WAIT_MS));
    assert_int_equal(bs->rtp_in, before.rtp_in + 1); /* the genuine one */
    /* The forged packet and the fake SRTCP fail authentication. */
    assert_int_equal(bs->srtp_in_fail[TDM_SRTP_FAIL_AUTH], 2);
    assert_int_equal(bs->srtp_in_fail[TDM_SRTP_FAIL_REPLAY], 1);
    assert_int_equal(srtp_in_failures(bs), 3);
    assert_int_equal(bs->unknown_dropped, 2);
    assert_int_equal(bs->dtls_in, before.dtls_in + 1);

    /* Straight into the core entry point: sizes the socket never gives,
     * and a seeded stream of random datagrams. */
    uint8_t small[1] = {0x80};
    tdm_peer_handle_datagram(d.b.peer, small, 0);
    tdm_peer_handle_datagram(d.b.peer, small, 1);
    uint32_t seed = 12345;
    for (int i = 0; i < 2000; i++) {
        uint8_t junk[200];
        size_t n = 1 + i % sizeof junk;
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            junk[k] = (uint8_t)(seed >> 16);
        }
        /* Keep DTLS-looking garbage out: a well-framed but bogus epoch-0
         * handshake record is fatal in OpenSSL by design (tdm_dtls.h); ICE
         * keeps strangers from sending it. */
        if (tdm_dtls_is_dtls(junk, n))
            junk[0] = 0x90;
        tdm_peer_handle_datagram(d.b.peer, junk, n);
    }
    assert_int_equal(bs->datagrams_in, before.datagrams_in + 7 + 2 + 2000);
    assert_int_equal(d.b.rtp_bad + d.b.rtcp_bad, 0);
    assert_int_equal(tdm_peer_get_state(d.b.peer, NULL, NULL), TDM_PEER_CONNECTED);

    /* Still connected and carrying media both ways. */
    send_rtp_range(&d, 11, 30);
    w.rtp = 10 + 19; /* b also has a's packet 10 from above; a does not */
    assert_true(loopback_run_until(d.ctx, media_arrived, &w, WAIT_MS));
    assert_int_equal(d.a.state, TDM_PEER_CONNECTED);
    assert_int_equal(d.b.state, TDM_PEER_CONNECTED);

    /* A polite close reaches the other side. */
    tdm_peer_close(d.a.peer);
    assert_int_equal(tdm_peer_get_state(d.a.peer, NULL, NULL), TDM_PEER_CLOSED);
    assert_int_equal(tdm_peer_send_rtp(d.a.peer, pkt, len, sizeof pkt), TDM_ERR_UNAVAILABLE);
    assert_true(loopback_run_until(d.ctx, b_finished, &d, WAIT_MS));
    assert_int_equal(d.b.state, TDM_PEER_CLOSED);
    assert_int_equal(d.a.state, TDM_PEER_CONNECTED); /* no event for our own close */
    assert_non_null(strstr(d.b.reason, "closed by the peer"));
    duo_free(&d);
}

/* --- fingerprint mismatch -------------------------------------------------- */

static void wrong_fingerprint_fails(const duo_options *o, end *(*checker)(duo *))
{
    duo d;
    duo_start(&d, o);
    assert_true(loopback_run_until(d.ctx, both_finished, &d, WAIT_MS));
    end *c = checker(&d);
    assert_int_equal(c->state, TDM_PEER_FAILED);
    assert_int_equal(c->fail, TDM_PEER_FAIL_DTLS);
    assert_non_null(strstr(c->reason, "fingerprint"));
    end *other = c->other;
    assert_int_equal(other->state, TDM_PEER_FAILED); /* told by the alert */
    assert_int_equal(other->fail, TDM_PEER_FAIL_DTLS);
    for (end *e = &d.a; e; e = e == &d.a ? &d.b : NULL) {
        tdm_peer_fail f;
        const char *reason;
        assert_int_equal(tdm_peer_get_state(e->peer, &f, &reason), TDM_PEER_FAILED);
        assert_string_equal(reason, e->reason);
        assert_int_equal(tdm_peer_get_stats(e->peer)->rtp_in, 0);
        assert_int_equal(tdm_peer_srtp_profile(e->peer), TDM_SRTP_PROFILE_NONE);
    }
    duo_free(&d);
}

static end *end_a(duo *d)
{
    return &d->a;
}

static end *end_b(duo *d)
{
    return &d->b;
}

static void peer_fails_when_server_sees_wrong_certificate(void **state)
{
    (void)state;
    duo_options o = {.server_expects_wrong_fp = true};
    wrong_fingerprint_fails(&o, end_b);
}

static void peer_fails_when_client_sees_wrong_certificate(void **state)
{
    (void)state;
    duo_options o = {.client_expects_wrong_fp = true};
    wrong_fingerprint_fails(&o, end_a);
}

static void peer_refuses_bad_config(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    tdm_ice_config ice;
    tdm_ice_config_init(&ice, ctx, false);
    uint8_t fp[TDM_DTLS_FINGERPRINT_LEN] = {0};
    tdm_peer_config cfg;
    tdm_peer_config_init(&cfg, &ice, NULL, TDM_DTLS_SERVER, fp);
    end e;
    memset(&e, 0, sizeof e);
    tdm_peer_callbacks cb = {.on_state = on_state, .user = &e};
    tdm_peer *p = NULL;
    tdm_error err = {{0}};
    assert_int_equal(tdm_peer_new(&cfg, &cb, &p, &err), TDM_ERR_INVALID); /* no identity */
    assert_int_equal(tdm_dtls_identity_new(NULL, &e.id, &err), TDM_OK);
    cfg.identity = e.id;
    cfg.ice.main_context = NULL;
    assert_int_equal(tdm_peer_new(&cfg, &cb, &p, &err), TDM_ERR_INVALID); /* from tdm_ice */
    assert_null(p);
    tdm_peer_free(NULL);
    tdm_dtls_identity_free(e.id);
    g_main_context_unref(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(peer_media_flows_gcm),
        cmocka_unit_test(peer_media_flows_aes_cm_sha1),
        cmocka_unit_test(peer_survives_ice_restart),
        cmocka_unit_test(peer_counts_garbage_and_keeps_working),
        cmocka_unit_test(peer_fails_when_server_sees_wrong_certificate),
        cmocka_unit_test(peer_fails_when_client_sees_wrong_certificate),
        cmocka_unit_test(peer_refuses_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
