/* dtls_handshake_in_memory_test: a DTLS client and server wired together in
 * memory complete the handshake and export mirror-image SRTP keys for
 * either profile; a certificate that does not match the SDP fingerprint is
 * refused with a clear reason; lost flights are recovered by the
 * retransmission timer; garbage never crashes an endpoint; close_notify
 * closes the peer. No sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dtls_test_pair.h"
#include "tdm_dtls.h"

static void assert_mentions(const char *msg, const char *needle)
{
    if (!strstr(msg, needle))
        fail_msg("'%s' does not mention '%s'", msg, needle);
}

static void assert_mirror(const tdm_srtp_keys *c, const tdm_srtp_keys *s, tdm_srtp_profile want)
{
    assert_int_equal(c->profile, want);
    assert_int_equal(s->profile, want);
    size_t len = want == TDM_SRTP_AEAD_AES_128_GCM ? 28 : 30;
    assert_int_equal(c->master_len, len);
    assert_int_equal(s->master_len, len);
    assert_memory_equal(c->local, s->remote, len);
    assert_memory_equal(c->remote, s->local, len);
    assert_memory_not_equal(c->local, c->remote, len);
}

static void completes_and_exports_mirror_keys(void **state)
{
    (void)state;
    test_pair p;
    tdm_srtp_keys c, s;
    test_pair_handshake(&p, NULL, &c, &s);
    /* Both offer both profiles: the server's preference, GCM, wins. */
    assert_mirror(&c, &s, TDM_SRTP_AEAD_AES_128_GCM);
    assert_true(p.max_datagram > 0 && p.max_datagram <= 1200);
    const tdm_dtls_stats *st = tdm_dtls_get_stats(p.client);
    assert_true(st->datagrams_out >= 2 && st->datagrams_in >= 1);
    assert_int_equal(st->timeouts, 0);
    assert_int_equal(tdm_dtls_get_stats(p.server)->out_dropped, 0);
    const char *reason = NULL;
    tdm_dtls_state(p.client, &reason);
    assert_string_equal(reason, "");
    test_pair_free(&p);
}

static void each_profile_alone_works(void **state)
{
    (void)state;
    const struct {
        tdm_srtp_profile client, server, want;
    } cases[] = {
        {TDM_SRTP_AES128_CM_SHA1_80, TDM_SRTP_PROFILE_NONE, TDM_SRTP_AES128_CM_SHA1_80},
        {TDM_SRTP_PROFILE_NONE, TDM_SRTP_AES128_CM_SHA1_80, TDM_SRTP_AES128_CM_SHA1_80},
        {TDM_SRTP_AEAD_AES_128_GCM, TDM_SRTP_AEAD_AES_128_GCM, TDM_SRTP_AEAD_AES_128_GCM},
        {TDM_SRTP_AES128_CM_SHA1_80, TDM_SRTP_AES128_CM_SHA1_80, TDM_SRTP_AES128_CM_SHA1_80},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_pair p;
        tdm_srtp_keys c, s;
        test_pair_options o = {.client_only = cases[i].client, .server_only = cases[i].server};
        test_pair_handshake(&p, &o, &c, &s);
        assert_mirror(&c, &s, cases[i].want);
        test_pair_free(&p);
    }
}

static void no_common_profile_fails(void **state)
{
    (void)state;
    test_pair p;
    test_pair_options o = {.client_only = TDM_SRTP_AES128_CM_SHA1_80,
                           .server_only = TDM_SRTP_AEAD_AES_128_GCM};
    test_pair_make(&p, &o);
    test_pair_run(&p, NULL, NULL);
    const char *reason = NULL;
    assert_int_equal(tdm_dtls_state(p.server, &reason), TDM_DTLS_FAILED);
    assert_mentions(reason, "SRTP profile");
    assert_int_equal(tdm_dtls_state(p.client, &reason), TDM_DTLS_FAILED);
    assert_mentions(reason, "SRTP profile");
    tdm_srtp_keys k;
    assert_int_equal(tdm_dtls_srtp_keys(p.client, &k), TDM_ERR_UNAVAILABLE);
    test_pair_free(&p);
}

static void fingerprint_mismatch_is_refused(void **state)
{
    (void)state;
    /* The client checks the server's certificate... */
    test_pair p;
    test_pair_options o = {.client_wrong_fp = true};
    test_pair_make(&p, &o);
    test_pair_run(&p, NULL, NULL);
    const char *reason = NULL;
    assert_int_equal(tdm_dtls_state(p.client, &reason), TDM_DTLS_FAILED);
    assert_mentions(reason, "does not match the SDP fingerprint");
    assert_mentions(reason, tdm_dtls_identity_fingerprint_text(p.server_id));
    /* ...and tells the server why it is leaving. */
    assert_int_equal(tdm_dtls_state(p.server, &reason), TDM_DTLS_FAILED);
    assert_mentions(reason, "peer sent fatal alert");
    tdm_srtp_keys k;
    assert_int_equal(tdm_dtls_srtp_keys(p.client, &k), TDM_ERR_UNAVAILABLE);
    assert_int_equal(tdm_dtls_srtp_keys(p.server, &k), TDM_ERR_UNAVAILABLE);
    /* A failed endpoint ignores further input. */
    const uint8_t hello[13] = {22, 0xfe, 0xfd};
    assert_int_equal(tdm_dtls_handle_datagram(p.client, hello, sizeof hello), TDM_ERR_UNAVAILABLE);
    test_pair_free(&p);

    /* The server checks the client's certificate the same way. */
    test_pair_options o2 = {.server_wrong_fp = true};
    test_pair_make(&p, &o2);
    test_pair_run(&p, NULL, NULL);
    assert_int_equal(tdm_dtls_state(p.server, &reason), TDM_DTLS_FAILED);
    assert_mentions(reason, "does not match the SDP fingerprint");
    assert_int_not_equal(tdm_dtls_state(p.client, &reason), TDM_DTLS_CONNECTED);
    test_pair_free(&p);
}

/* Drops datagrams while ctx's counter is positive. */
static bool drop_while(void *ctx, const tdm_dtls_endpoint *from, const uint8_t *buf, size_t len)
{
    (void)from, (void)buf, (void)len;
    int *n = ctx;
    if (*n > 0) {
        (*n)--;
        return false;
    }
    return true;
}

/* The one place the tests wait on the real clock: OpenSSL's DTLS timer
 * reads gettimeofday and cannot be driven by a fake clock (tdm_dtls.h).
 * The pair runs with a 50 ms initial timeout to keep this short. */
static void wait_and_retransmit(tdm_dtls_endpoint *ep)
{
    uint64_t before = tdm_dtls_get_stats(ep)->timeouts;
    for (int tries = 0; tries < 20 && tdm_dtls_get_stats(ep)->timeouts == before; tries++) {
        int64_t ms = tdm_dtls_timeout_ms(ep);
        assert_true(ms >= 0 && ms <= 50);
        struct timespec ts = {0, (long)(ms + 1) * 1000000L};
        nanosleep(&ts, NULL);
        assert_int_equal(tdm_dtls_handle_timeout(ep), TDM_OK);
    }
    assert_int_equal(tdm_dtls_get_stats(ep)->timeouts, before + 1);
}

static void lost_flights_are_retransmitted(void **state)
{
    (void)state;
    test_pair p;
    test_pair_options o = {.initial_timeout_ms = 50};
    test_pair_make(&p, &o);

    /* Calling the timer early does nothing. */
    assert_int_equal(tdm_dtls_handle_timeout(p.client), TDM_OK);
    assert_int_equal(tdm_dtls_get_stats(p.client)->timeouts, 0);
    assert_int_equal(tdm_dtls_timeout_ms(p.server), -1); /* the server waits, no timer */

    /* The ClientHello is lost: the client's timer sends it again. */
    int drop = 1;
    assert_int_equal(test_pair_move(&p, p.client, p.server, drop_while, &drop), 1);
    assert_int_equal(tdm_dtls_get_stats(p.server)->datagrams_in, 0);
    wait_and_retransmit(p.client);

    /* Deliver until the server has sent its last flight, then lose it. */
    test_pair_move(&p, p.client, p.server, NULL, NULL); /* ClientHello */
    test_pair_move(&p, p.server, p.client, NULL, NULL); /* ServerHello..Done */
    test_pair_move(&p, p.client, p.server, NULL, NULL); /* Certificate..Finished */
    test_pair_assert_phase(p.server, TDM_DTLS_CONNECTED);
    test_pair_assert_phase(p.client, TDM_DTLS_HANDSHAKING);
    drop = 1000;
    assert_true(test_pair_move(&p, p.server, p.client, drop_while, &drop) >= 1);

    /* The client repeats its flight; the connected server answers it by
     * repeating its own. */
    wait_and_retransmit(p.client);
    test_pair_run(&p, NULL, NULL);
    test_pair_assert_phase(p.client, TDM_DTLS_CONNECTED);
    test_pair_assert_phase(p.server, TDM_DTLS_CONNECTED);
    tdm_srtp_keys c, s;
    assert_int_equal(tdm_dtls_srtp_keys(p.client, &c), TDM_OK);
    assert_int_equal(tdm_dtls_srtp_keys(p.server, &s), TDM_OK);
    assert_mirror(&c, &s, TDM_SRTP_AEAD_AES_128_GCM);
    test_pair_free(&p);
}

/* A deterministic byte stream (xorshift32) for garbage. */
static uint32_t next_rand(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Feeds 300 garbage datagrams that pass the RFC 7983 demux. With epoch < 0
 * the bytes are random; otherwise every third one has a well-formed DTLS
 * 1.2 handshake record header in that epoch and a random body. Returns how
 * many the endpoint took without failing. */
static int feed_garbage(tdm_dtls_endpoint *ep, uint32_t seed, int epoch)
{
    uint8_t buf[1500];
    uint32_t x = seed;
    int ok = 0;
    for (int i = 0; i < 300; i++) {
        size_t len = 1 + next_rand(&x) % sizeof buf;
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)next_rand(&x);
        buf[0] = (uint8_t)(20 + buf[0] % 44);
        if (epoch >= 0 && i % 3 == 0 && len >= 13) {
            buf[0] = 22, buf[1] = 0xfe, buf[2] = 0xfd, buf[3] = 0, buf[4] = (uint8_t)epoch;
            buf[11] = (uint8_t)((len - 13) >> 8), buf[12] = (uint8_t)(len - 13);
        }
        tdm_status st = tdm_dtls_handle_datagram(ep, buf, len);
        if (st == TDM_OK)
            ok++;
        else if (st != TDM_ERR_IO && st != TDM_ERR_UNAVAILABLE)
            fail_msg("garbage %d: %s", i, tdm_status_str(st));
    }
    return ok;
}

static void garbage_is_rejected_without_crashing(void **state)
{
    (void)state;
    test_pair p;
    test_pair_make(&p, NULL);

    /* Not DTLS by RFC 7983: refused before OpenSSL sees it. */
    const uint8_t stun[20] = {0x00, 0x01};
    const uint8_t rtp[12] = {0x80, 96};
    const uint8_t low[1] = {19}, high[1] = {64};
    assert_int_equal(tdm_dtls_handle_datagram(p.server, stun, sizeof stun), TDM_ERR_FORMAT);
    assert_int_equal(tdm_dtls_handle_datagram(p.server, rtp, sizeof rtp), TDM_ERR_FORMAT);
    assert_int_equal(tdm_dtls_handle_datagram(p.server, low, 1), TDM_ERR_FORMAT);
    assert_int_equal(tdm_dtls_handle_datagram(p.server, high, 1), TDM_ERR_FORMAT);
    assert_int_equal(tdm_dtls_handle_datagram(p.server, rtp, 0), TDM_ERR_FORMAT);
    assert_int_equal(tdm_dtls_get_stats(p.server)->not_dtls, 5);
    assert_int_equal(tdm_dtls_handle_datagram(p.server, NULL, 3), TDM_ERR_INVALID);

    /* Random bytes are not records: dropped, and the handshake still
     * completes. */
    assert_int_equal(feed_garbage(p.server, 12345, -1), 300);
    assert_int_equal(feed_garbage(p.client, 777, -1), 300);
    test_pair_run(&p, NULL, NULL);
    test_pair_assert_phase(p.client, TDM_DTLS_CONNECTED);
    test_pair_assert_phase(p.server, TDM_DTLS_CONNECTED);

    /* Once connected, records of the finished epoch 0 are ignored and
     * forged epoch-1 records fail their tag and are dropped; those too short
     * to hold a tag never reach OpenSSL (which would fail on them). */
    for (int epoch = 0; epoch <= 1; epoch++) {
        assert_int_equal(feed_garbage(p.server, 99u + (uint32_t)epoch, epoch), 300);
        assert_int_equal(feed_garbage(p.client, 4242u + (uint32_t)epoch, epoch), 300);
    }
    for (size_t body = 0; body < 40; body++) {
        uint8_t rec[13 + 40] = {23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 7, 0, (uint8_t)body};
        assert_int_equal(tdm_dtls_handle_datagram(p.server, rec, 13 + body), TDM_OK);
    }
    assert_true(tdm_dtls_get_stats(p.server)->dropped_records >= 23);
    test_pair_run(&p, NULL, NULL);
    test_pair_assert_phase(p.client, TDM_DTLS_CONNECTED);
    test_pair_assert_phase(p.server, TDM_DTLS_CONNECTED);
    test_pair_free(&p);

    /* During the handshake, epoch 0 is unauthenticated: a well-framed but
     * malformed handshake message is fatal to OpenSSL. That is a clean
     * failure with a reason, never a crash. */
    test_pair_make(&p, NULL);
    feed_garbage(p.server, 31337, 0);
    const char *reason = NULL;
    if (tdm_dtls_state(p.server, &reason) == TDM_DTLS_FAILED)
        assert_true(strlen(reason) > 0);
    test_pair_free(&p);
}

static void close_notify_closes_the_peer(void **state)
{
    (void)state;
    test_pair p;
    tdm_srtp_keys c, s;
    test_pair_handshake(&p, NULL, &c, &s);
    tdm_dtls_close(p.client);
    const char *reason = NULL;
    assert_int_equal(tdm_dtls_state(p.client, &reason), TDM_DTLS_CLOSED);
    assert_mentions(reason, "closed locally");
    assert_int_equal(test_pair_move(&p, p.client, p.server, NULL, NULL), 1);
    assert_int_equal(tdm_dtls_state(p.server, &reason), TDM_DTLS_CLOSED);
    assert_mentions(reason, "close_notify");
    /* Keys outlive the close; the closed client ignores the server's reply. */
    tdm_srtp_keys again;
    assert_int_equal(tdm_dtls_srtp_keys(p.server, &again), TDM_OK);
    assert_memory_equal(again.local, s.local, s.master_len);
    test_pair_move(&p, p.server, p.client, NULL, NULL);
    assert_int_equal(tdm_dtls_timeout_ms(p.client), -1);
    test_pair_free(&p);
}

static void poll_keeps_a_datagram_too_big_for_the_buffer(void **state)
{
    (void)state;
    test_pair p;
    test_pair_make(&p, NULL);
    uint8_t small[16], big[1500];
    size_t len = 0;
    assert_int_equal(tdm_dtls_poll_datagram(p.client, small, sizeof small, &len), TDM_ERR_RANGE);
    assert_int_equal(tdm_dtls_poll_datagram(p.client, big, sizeof big, &len), TDM_OK);
    assert_true(len > sizeof small);
    assert_true(tdm_dtls_is_dtls(big, len));
    assert_int_equal(big[0], 22); /* handshake record */
    assert_int_equal(tdm_dtls_poll_datagram(p.client, big, sizeof big, &len), TDM_AGAIN);
    assert_int_equal(tdm_dtls_poll_datagram(p.server, big, sizeof big, &len), TDM_AGAIN);
    tdm_srtp_keys k;
    assert_int_equal(tdm_dtls_srtp_keys(p.client, &k), TDM_AGAIN);
    test_pair_free(&p);
}

static void identity_fingerprint_text_round_trips(void **state)
{
    (void)state;
    tdm_dtls_identity *a = NULL, *b = NULL;
    tdm_error err = {{0}};
    tdm_dtls_identity_config cfg = {.common_name = "relay-7", .valid_days = 2};
    assert_int_equal(tdm_dtls_identity_new(&cfg, &a, &err), TDM_OK);
    assert_int_equal(tdm_dtls_identity_new(NULL, &b, &err), TDM_OK);
    const char *text = tdm_dtls_identity_fingerprint_text(a);
    assert_int_equal(strlen(text), 95);
    uint8_t fp[TDM_DTLS_FINGERPRINT_LEN];
    assert_int_equal(tdm_dtls_fingerprint_parse(text, fp, &err), TDM_OK);
    assert_memory_equal(fp, tdm_dtls_identity_fingerprint(a), sizeof fp);
    /* Fresh keys each time. */
    assert_memory_not_equal(fp, tdm_dtls_identity_fingerprint(b), sizeof fp);

    char lower[TDM_DTLS_FINGERPRINT_TEXT_LEN];
    for (size_t i = 0; i <= 95; i++)
        lower[i] = (char)(text[i] >= 'A' && text[i] <= 'F' ? text[i] + 32 : text[i]);
    assert_int_equal(tdm_dtls_fingerprint_parse(lower, fp, &err), TDM_OK);
    assert_memory_equal(fp, tdm_dtls_identity_fingerprint(a), sizeof fp);

    char bad[128];
    snprintf(bad, sizeof bad, "%.92s", text); /* one pair short */
    assert_int_equal(tdm_dtls_fingerprint_parse(bad, fp, &err), TDM_ERR_FORMAT);
    assert_mentions(err.msg, "offset");
    snprintf(bad, sizeof bad, "%s:00", text);
    assert_int_equal(tdm_dtls_fingerprint_parse(bad, fp, &err), TDM_ERR_FORMAT);
    assert_mentions(err.msg, "trailing");
    snprintf(bad, sizeof bad, "%s", text);
    bad[3] = 'G';
    assert_int_equal(tdm_dtls_fingerprint_parse(bad, fp, &err), TDM_ERR_FORMAT);
    assert_mentions(err.msg, "offset 3");
    tdm_dtls_identity_free(a);
    tdm_dtls_identity_free(b);
}

static void bad_config_is_refused(void **state)
{
    (void)state;
    tdm_dtls_identity *id = NULL;
    tdm_error err = {{0}};
    assert_int_equal(tdm_dtls_identity_new(NULL, &id, &err), TDM_OK);
    tdm_dtls_config cfg;
    tdm_dtls_endpoint *ep = NULL;
    tdm_dtls_config_init(&cfg, id, TDM_DTLS_CLIENT, tdm_dtls_identity_fingerprint(id));
    cfg.mtu = 100;
    assert_int_equal(tdm_dtls_new(&cfg, &ep, &err), TDM_ERR_INVALID);
    assert_mentions(err.msg, "mtu");
    tdm_dtls_config_init(&cfg, id, TDM_DTLS_CLIENT, tdm_dtls_identity_fingerprint(id));
    cfg.only_profile = (tdm_srtp_profile)3;
    assert_int_equal(tdm_dtls_new(&cfg, &ep, &err), TDM_ERR_INVALID);
    assert_mentions(err.msg, "profile");
    tdm_dtls_config_init(&cfg, NULL, TDM_DTLS_CLIENT, tdm_dtls_identity_fingerprint(id));
    assert_int_equal(tdm_dtls_new(&cfg, &ep, &err), TDM_ERR_INVALID);
    assert_null(ep);
    /* An endpoint keeps working after its identity is freed. */
    tdm_dtls_config_init(&cfg, id, TDM_DTLS_CLIENT, tdm_dtls_identity_fingerprint(id));
    assert_int_equal(tdm_dtls_new(&cfg, &ep, &err), TDM_OK);
    tdm_dtls_identity_free(id);
    uint8_t buf[1500];
    size_t len;
    assert_int_equal(tdm_dtls_poll_datagram(ep, buf, sizeof buf, &len), TDM_OK);
    tdm_dtls_free(ep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(completes_and_exports_mirror_keys),
        cmocka_unit_test(each_profile_alone_works),
        cmocka_unit_test(no_common_profile_fails),
        cmocka_unit_test(fingerprint_mismatch_is_refused),
        cmocka_unit_test(lost_flights_are_retransmitted),
        cmocka_unit_test(garbage_is_rejected_without_crashing),
        cmocka_unit_test(close_notify_closes_the_peer),
        cmocka_unit_test(poll_keeps_a_datagram_too_big_for_the_buffer),
        cmocka_unit_test(identity_fingerprint_text_round_trips),
        cmocka_unit_test(bad_config_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
