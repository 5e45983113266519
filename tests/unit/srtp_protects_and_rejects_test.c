/* srtp_protects_and_rejects_test: with keys from a real in-memory DTLS
 * handshake, RTP and RTCP protected by one end are unprotected by the other
 * for both profiles, across the sequence number wrap and for several
 * SSRCs; a flipped bit, a replay, the wrong key or a bad length is
 * rejected and counted by reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dtls_test_pair.h"
#include "tdm_rtp.h"
#include "tdm_srtp.h"

static const tdm_srtp_profile profiles[] = {TDM_SRTP_AEAD_AES_128_GCM, TDM_SRTP_AES128_CM_SHA1_80};

/* One direction, client -> server, keyed by a real handshake. */
typedef struct srtp_link {
    tdm_srtp_keys client, server;
    tdm_srtp_session *out; /* the client's outbound */
    tdm_srtp_session *in;  /* the server's inbound */
} srtp_link;

static tdm_srtp_session *session(const tdm_srtp_keys *keys, tdm_srtp_direction dir, bool repeat_tx)
{
    tdm_srtp_config cfg;
    tdm_srtp_config_init(&cfg, dir);
    cfg.allow_repeat_tx = repeat_tx;
    tdm_srtp_session *s = NULL;
    tdm_error err = {{0}};
    if (tdm_srtp_new(keys, &cfg, &s, &err) != TDM_OK)
        fail_msg("srtp: %s", err.msg);
    return s;
}

static void link_open(srtp_link *l, tdm_srtp_profile profile)
{
    test_pair p;
    test_pair_options o = {.client_only = profile, .server_only = profile};
    test_pair_handshake(&p, &o, &l->client, &l->server);
    test_pair_free(&p);
    assert_int_equal(l->client.profile, profile);
    l->out = session(&l->client, TDM_SRTP_OUTBOUND, true);
    l->in = session(&l->server, TDM_SRTP_INBOUND, true);
}

static void link_close(srtp_link *l)
{
    tdm_srtp_free(l->out);
    tdm_srtp_free(l->in);
    tdm_srtp_keys_wipe(&l->client);
    tdm_srtp_keys_wipe(&l->server);
}

/* An RTP packet with a one-byte-header extension and a payload that
 * depends on seq, written into buf; returns its length. */
static size_t make_rtp(uint8_t *buf, size_t cap, uint32_t ssrc, uint16_t seq, size_t payload_len)
{
    static const uint8_t ext[4] = {0x10, 0xAB, 0, 0};
    tdm_rtp_header h = {.payload_type = 96,
                        .seq = seq,
                        .timestamp = 90u * seq,
                        .ssrc = ssrc,
                        .has_extension = true,
                        .ext_profile = 0xBEDE,
                        .ext = ext,
                        .ext_len = sizeof ext};
    uint8_t payload[1200];
    for (size_t i = 0; i < payload_len; i++)
        payload[i] = (uint8_t)(seq * 7 + i);
    size_t n = 0;
    assert_int_equal(tdm_rtp_write(&h, payload, payload_len, 0, buf, cap, &n), TDM_OK);
    return n;
}

/* A receiver report with one report block. */
static size_t make_rtcp(uint8_t *buf, uint32_t ssrc, uint8_t fill)
{
    memset(buf, fill, 32);
    buf[0] = 0x81, buf[1] = 201, buf[2] = 0, buf[3] = 7;
    buf[4] = (uint8_t)(ssrc >> 24), buf[5] = (uint8_t)(ssrc >> 16);
    buf[6] = (uint8_t)(ssrc >> 8), buf[7] = (uint8_t)ssrc;
    return 32;
}

static void assert_rtp_round_trip(srtp_link *l, uint32_t ssrc, uint16_t seq)
{
    uint8_t plain[1500], buf[1500];
    size_t len = make_rtp(plain, sizeof plain, ssrc, seq, 200);
    memcpy(buf, plain, len);
    size_t prot = 0, back = 0;
    tdm_srtp_fail why = TDM_SRTP_FAIL_OTHER;
    assert_int_equal(tdm_srtp_protect_rtp(l->out, buf, len, sizeof buf, &prot, &why), TDM_OK);
    assert_int_equal(why, TDM_SRTP_FAIL_NONE);
    assert_int_equal(prot, len + tdm_srtp_rtp_overhead(l->out));
    assert_memory_equal(buf, plain, 20);                     /* header stays clear */
    assert_memory_not_equal(buf + 20, plain + 20, len - 20); /* payload does not */
    if (tdm_srtp_unprotect_rtp(l->in, buf, prot, &back, &why) != TDM_OK)
        fail_msg("seq %u ssrc %u: %s", seq, ssrc, tdm_srtp_fail_name(why));
    assert_int_equal(back, len);
    assert_memory_equal(buf, plain, len);
}

static void rtp_and_rtcp_round_trip_for_both_profiles(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        srtp_link l;
        link_open(&l, profiles[i]);
        assert_int_equal(tdm_srtp_rtp_overhead(l.out),
                         profiles[i] == TDM_SRTP_AEAD_AES_128_GCM ? 16 : 10);
        assert_int_equal(tdm_srtp_rtcp_overhead(l.out), tdm_srtp_rtp_overhead(l.out) + 4);
        /* Several SSRCs through the one wildcard session (video, audio). */
        for (uint16_t seq = 100; seq < 110; seq++) {
            assert_rtp_round_trip(&l, 0x11111111, seq);
            assert_rtp_round_trip(&l, 0x22222222, (uint16_t)(seq + 5000));
        }
        uint8_t plain[64], buf[64];
        for (uint8_t k = 0; k < 3; k++) {
            size_t len = make_rtcp(plain, 0x11111111, (uint8_t)(0x40 + k));
            memcpy(buf, plain, len);
            size_t prot = 0, back = 0;
            assert_int_equal(tdm_srtp_protect_rtcp(l.out, buf, len, sizeof buf, &prot, NULL),
                             TDM_OK);
            assert_int_equal(prot, len + tdm_srtp_rtcp_overhead(l.out));
            assert_memory_not_equal(buf + 8, plain + 8, len - 8);
            assert_int_equal(tdm_srtp_unprotect_rtcp(l.in, buf, prot, &back, NULL), TDM_OK);
            assert_int_equal(back, len);
            assert_memory_equal(buf, plain, len);
        }
        /* And the other direction with the mirror keys. */
        tdm_srtp_session *s_out = session(&l.server, TDM_SRTP_OUTBOUND, true);
        tdm_srtp_session *c_in = session(&l.client, TDM_SRTP_INBOUND, true);
        size_t len = make_rtp(plain, sizeof plain, 0x33333333, 1, 20);
        memcpy(buf, plain, len);
        size_t prot = 0, back = 0;
        assert_int_equal(tdm_srtp_protect_rtp(s_out, buf, len, sizeof buf, &prot, NULL), TDM_OK);
        assert_int_equal(tdm_srtp_unprotect_rtp(c_in, buf, prot, &back, NULL), TDM_OK);
        assert_memory_equal(buf, plain, len);
        const tdm_srtp_stats *st = tdm_srtp_get_stats(l.in);
        assert_int_equal(st->packets, 23);
        for (int r = 0; r < TDM_SRTP_FAIL_COUNT; r++)
            assert_int_equal(st->fail[r], 0);
        tdm_srtp_free(s_out);
        tdm_srtp_free(c_in);
        link_close(&l);
    }
}

/* Protects seq, flips one bit at offset (from the end if negative), and
 * expects an authentication failure. */
static void flipped_bit_fails(srtp_link *l, uint16_t seq, long offset, bool rtcp)
{
    uint8_t buf[1500];
    size_t len =
        rtcp ? make_rtcp(buf, 0x1234, (uint8_t)seq) : make_rtp(buf, sizeof buf, 0x1234, seq, 100);
    size_t prot = 0, back = 0;
    tdm_status st = rtcp ? tdm_srtp_protect_rtcp(l->out, buf, len, sizeof buf, &prot, NULL)
                         : tdm_srtp_protect_rtp(l->out, buf, len, sizeof buf, &prot, NULL);
    assert_int_equal(st, TDM_OK);
    size_t at = offset >= 0 ? (size_t)offset : prot - (size_t)(-offset);
    buf[at] ^= 0x04;
    tdm_srtp_fail why = TDM_SRTP_FAIL_NONE;
    st = rtcp ? tdm_srtp_unprotect_rtcp(l->in, buf, prot, &back, &why)
              : tdm_srtp_unprotect_rtp(l->in, buf, prot, &back, &why);
    assert_int_equal(st, TDM_ERR_FORMAT);
    assert_int_equal(why, TDM_SRTP_FAIL_AUTH);
}

static void flipped_bits_are_rejected_and_counted(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        srtp_link l;
        link_open(&l, profiles[i]);
        flipped_bit_fails(&l, 1, 40, false); /* payload */
        flipped_bit_fails(&l, 2, -1, false); /* tag */
        flipped_bit_fails(&l, 3, 2, false);  /* header (sequence number) */
        flipped_bit_fails(&l, 4, 12, true);  /* RTCP body */
        flipped_bit_fails(&l, 5, -2, true);  /* RTCP tag */
        const tdm_srtp_stats *st = tdm_srtp_get_stats(l.in);
        assert_int_equal(st->fail[TDM_SRTP_FAIL_AUTH], 5);
        assert_int_equal(st->packets, 0);
        /* A good packet still goes through afterwards. */
        assert_rtp_round_trip(&l, 0x1234, 6);
        link_close(&l);
    }
}

static void replays_are_rejected_and_counted(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        srtp_link l;
        link_open(&l, profiles[i]);
        uint8_t buf[1500], copy[1500];
        size_t len = make_rtp(buf, sizeof buf, 0xabc, 500, 100), prot = 0, back = 0;
        assert_int_equal(tdm_srtp_protect_rtp(l.out, buf, len, sizeof buf, &prot, NULL), TDM_OK);
        memcpy(copy, buf, prot);
        assert_int_equal(tdm_srtp_unprotect_rtp(l.in, buf, prot, &back, NULL), TDM_OK);
        tdm_srtp_fail why = TDM_SRTP_FAIL_NONE;
        assert_int_equal(tdm_srtp_unprotect_rtp(l.in, copy, prot, &back, &why), TDM_ERR_FORMAT);
        assert_int_equal(why, TDM_SRTP_FAIL_REPLAY);

        /* Held back while 1600 newer packets pass: now behind the
         * 1024-packet window, too old to tell from a replay. */
        len = make_rtp(copy, sizeof copy, 0xabc, 501, 100);
        size_t held = 0;
        assert_int_equal(tdm_srtp_protect_rtp(l.out, copy, len, sizeof copy, &held, NULL), TDM_OK);
        for (uint32_t seq = 600; seq <= 2100; seq += 100)
            assert_rtp_round_trip(&l, 0xabc, (uint16_t)seq);
        assert_int_equal(tdm_srtp_unprotect_rtp(l.in, copy, held, &back, &why), TDM_ERR_FORMAT);
        assert_int_equal(why, TDM_SRTP_FAIL_REPLAY);

        /* RTCP has its own index and replay check. */
        len = make_rtcp(buf, 0xabc, 9);
        assert_int_equal(tdm_srtp_protect_rtcp(l.out, buf, len, sizeof buf, &prot, NULL), TDM_OK);
        memcpy(copy, buf, prot);
        assert_int_equal(tdm_srtp_unprotect_rtcp(l.in, buf, prot, &back, NULL), TDM_OK);
        assert_int_equal(tdm_srtp_unprotect_rtcp(l.in, copy, prot, &back, &why), TDM_ERR_FORMAT);
        assert_int_equal(why, TDM_SRTP_FAIL_REPLAY);
        assert_int_equal(tdm_srtp_get_stats(l.in)->fail[TDM_SRTP_FAIL_REPLAY], 3);
        link_close(&l);
    }
}

static void repeat_tx_allows_identical_retransmission(void **state)
{
    (void)state;
    srtp_link l;
    link_open(&l, TDM_SRTP_AEAD_AES_128_GCM);
    uint8_t a[1500], b[1500];
    size_t len = make_rtp(a, sizeof a, 0x77, 42, 300), pa = 0, pb = 0;
    memcpy(b, a, len);
    /* A NACKed packet re-sent from the cache: same index, same bytes out. */
    assert_int_equal(tdm_srtp_protect_rtp(l.out, a, len, sizeof a, &pa, NULL), TDM_OK);
    assert_int_equal(tdm_srtp_protect_rtp(l.out, b, len, sizeof b, &pb, NULL), TDM_OK);
    assert_int_equal(pa, pb);
    assert_memory_equal(a, b, pa);

    /* Without it, libsrtp refuses the repeated index. */
    tdm_srtp_session *strict = session(&l.client, TDM_SRTP_OUTBOUND, false);
    len = make_rtp(a, sizeof a, 0x77, 42, 300);
    memcpy(b, a, len);
    tdm_srtp_fail why = TDM_SRTP_FAIL_NONE;
    assert_int_equal(tdm_srtp_protect_rtp(strict, a, len, sizeof a, &pa, NULL), TDM_OK);
    assert_int_equal(tdm_srtp_protect_rtp(strict, b, len, sizeof b, &pb, &why), TDM_ERR_FORMAT);
    assert_int_equal(why, TDM_SRTP_FAIL_REPLAY);
    tdm_srtp_free(strict);
    link_close(&l);
}

static void wrong_key_is_rejected(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        srtp_link l, other;
        link_open(&l, profiles[i]);
        link_open(&other, profiles[i]);
        uint8_t buf[1500];
        size_t len = make_rtp(buf, sizeof buf, 0x55, 7, 100), prot = 0, back = 0;
        assert_int_equal(tdm_srtp_protect_rtp(l.out, buf, len, sizeof buf, &prot, NULL), TDM_OK);
        tdm_srtp_fail why = TDM_SRTP_FAIL_NONE;
        assert_int_equal(tdm_srtp_unprotect_rtp(other.in, buf, prot, &back, &why), TDM_ERR_FORMAT);
        assert_int_equal(why, TDM_SRTP_FAIL_AUTH);
        /* Our own outbound key is not the peer's: a session keyed with the
         * wrong half of the split rejects too. */
        tdm_srtp_session *mixed = session(&l.client, TDM_SRTP_INBOUND, true);
        len = make_rtp(buf, sizeof buf, 0x55, 8, 100);
        assert_int_equal(tdm_srtp_protect_rtp(l.out, buf, len, sizeof buf, &prot, NULL), TDM_OK);
        assert_int_equal(tdm_srtp_unprotect_rtp(mixed, buf, prot, &back, &why), TDM_ERR_FORMAT);
        assert_int_equal(why, TDM_SRTP_FAIL_AUTH);
        tdm_srtp_free(mixed);
        link_close(&l);
        link_close(&other);
    }
}

static void sequence_numbers_wrap(void **state)
{
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        srtp_link l;
        link_open(&l, profiles[i]);
        /* Crossing 65535 -> 0 bumps the rollover counter on both sides; a
         * mismatch would fail authentication (and decrypt to garbage). */
        for (uint32_t n = 65530; n < 65536 + 10; n++)
            assert_rtp_round_trip(&l, 0x99, (uint16_t)n);
        /* Reordering across the wrap: 65535 after 2 is late, not new. The
         * receiver must know the stream from before the wrap (a first
         * packet after it cannot tell its rollover counter). */
        for (uint16_t seq = 65530; seq < 65535; seq++)
            assert_rtp_round_trip(&l, 0x42, seq);
        uint8_t late[1500];
        size_t len = make_rtp(late, sizeof late, 0x42, 65535, 50), prot = 0, back = 0;
        assert_int_equal(tdm_srtp_protect_rtp(l.out, late, len, sizeof late, &prot, NULL), TDM_OK);
        for (uint16_t seq = 0; seq <= 2; seq++)
            assert_rtp_round_trip(&l, 0x42, seq);
        uint8_t plain[1500];
        make_rtp(plain, sizeof plain, 0x42, 65535, 50);
        assert_int_equal(tdm_srtp_unprotect_rtp(l.in, late, prot, &back, NULL), TDM_OK);
        assert_memory_equal(late, plain, len);
        link_close(&l);
    }
}

static void bad_lengths_are_rejected_and_counted(void **state)
{
    (void)state;
    srtp_link l;
    link_open(&l, TDM_SRTP_AEAD_AES_128_GCM);
    uint8_t buf[1500];
    size_t out = 0;
    tdm_srtp_fail why = TDM_SRTP_FAIL_NONE;
    size_t len = make_rtp(buf, sizeof buf, 1, 1, 100);
    /* No room for the tag. */
    assert_int_equal(tdm_srtp_protect_rtp(l.out, buf, len, len + 15, &out, &why), TDM_ERR_RANGE);
    assert_int_equal(why, TDM_SRTP_FAIL_BAD_LENGTH);
    assert_int_equal(tdm_srtp_protect_rtcp(l.out, buf, 32, 32 + 19, &out, &why), TDM_ERR_RANGE);
    /* A CSRC count running past the end; not RTP version 2. */
    uint8_t bad[64] = {0x8f, 96};
    assert_int_equal(tdm_srtp_protect_rtp(l.out, bad, 20, sizeof bad, &out, &why), TDM_ERR_FORMAT);
    assert_int_equal(why, TDM_SRTP_FAIL_BAD_LENGTH);
    bad[0] = 0x40;
    assert_int_equal(tdm_srtp_protect_rtcp(l.out, bad, 32, sizeof bad, &out, &why), TDM_ERR_FORMAT);
    assert_int_equal(tdm_srtp_get_stats(l.out)->fail[TDM_SRTP_FAIL_BAD_LENGTH], 4);

    /* Inbound: shorter than header + tag, or a header that needs more than
     * the packet holds before the tag. */
    uint8_t tiny[27] = {0x80, 96};
    assert_int_equal(tdm_srtp_unprotect_rtp(l.in, tiny, sizeof tiny, &out, &why), TDM_ERR_FORMAT);
    assert_int_equal(why, TDM_SRTP_FAIL_BAD_LENGTH);
    uint8_t ext[40] = {0x90, 96};
    ext[12] = 0xBE, ext[13] = 0xDE, ext[15] = 4; /* 16 extension bytes, 8 before the tag */
    assert_int_equal(tdm_srtp_unprotect_rtp(l.in, ext, sizeof ext, &out, &why), TDM_ERR_FORMAT);
    assert_int_equal(why, TDM_SRTP_FAIL_BAD_LENGTH);
    assert_int_equal(tdm_srtp_unprotect_rtcp(l.in, tiny, sizeof tiny, &out, &why), TDM_ERR_FORMAT);
    assert_int_equal(tdm_srtp_get_stats(l.in)->fail[TDM_SRTP_FAIL_BAD_LENGTH], 3);
    /* The P bit of an SRTP packet is not checked before decryption: its
     * count byte is encrypted. */
    len = make_rtp(buf, sizeof buf, 1, 2, 100);
    buf[0] |= 0x20;
    buf[len - 1] = 4; /* a valid count once decrypted */
    size_t prot = 0;
    assert_int_equal(tdm_srtp_protect_rtp(l.out, buf, len, sizeof buf, &prot, NULL), TDM_OK);
    assert_int_equal(tdm_srtp_unprotect_rtp(l.in, buf, prot, &out, &why), TDM_OK);

    /* Misuse is an invalid argument, not a counted drop. */
    assert_int_equal(tdm_srtp_unprotect_rtp(l.out, buf, prot, &out, NULL), TDM_ERR_INVALID);
    assert_int_equal(tdm_srtp_protect_rtp(l.in, buf, len, sizeof buf, &out, NULL), TDM_ERR_INVALID);
    assert_int_equal(tdm_srtp_protect_rtp(l.out, NULL, len, sizeof buf, &out, NULL),
                     TDM_ERR_INVALID);
    link_close(&l);
}

static void bad_keys_are_refused(void **state)
{
    (void)state;
    tdm_srtp_keys k;
    memset(&k, 0, sizeof k);
    tdm_srtp_config cfg;
    tdm_srtp_config_init(&cfg, TDM_SRTP_INBOUND);
    tdm_srtp_session *s = NULL;
    tdm_error err = {{0}};
    assert_int_equal(tdm_srtp_new(&k, &cfg, &s, &err), TDM_ERR_INVALID);
    assert_non_null(strstr(err.msg, "profile"));
    k.profile = TDM_SRTP_AEAD_AES_128_GCM;
    k.master_len = 30;
    assert_int_equal(tdm_srtp_new(&k, &cfg, &s, &err), TDM_ERR_INVALID);
    assert_non_null(strstr(err.msg, "28"));
    k.master_len = 28;
    cfg.replay_window = 10;
    assert_int_equal(tdm_srtp_new(&k, &cfg, &s, &err), TDM_ERR_INVALID);
    assert_null(s);
    assert_string_equal(tdm_srtp_fail_name(TDM_SRTP_FAIL_AUTH), "auth");
    assert_string_equal(tdm_srtp_profile_name(TDM_SRTP_AES128_CM_SHA1_80),
                        "SRTP_AES128_CM_SHA1_80");
    assert_int_equal(tdm_srtp_global_init(&err), TDM_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rtp_and_rtcp_round_trip_for_both_profiles),
        cmocka_unit_test(flipped_bits_are_rejected_and_counted),
        cmocka_unit_test(replays_are_rejected_and_counted),
        cmocka_unit_test(repeat_tx_allows_identical_retransmission),
        cmocka_unit_test(wrong_key_is_rejected),
        cmocka_unit_test(sequence_numbers_wrap),
        cmocka_unit_test(bad_lengths_are_rejected_and_counted),
        cmocka_unit_test(bad_keys_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
