/* nack_cache_answers_retransmissions_test: packets stored around the
 * 65535 -> 0 wrap come back byte for byte when NACKed; packets that fell
 * out of the ring, were never stored, are still in the future or were too
 * big are misses counted by reason; late (reordered) packets are kept;
 * stale slots never answer for a newer number; a forwarding loop over a
 * seeded lossy link answers every NACK it can. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_nack_cache.h"

/* A recognisable packet for seq: its length and every byte depend on it. */
static size_t make_packet(uint16_t seq, uint8_t *buf)
{
    size_t len = 12 + seq % 200;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seq * 31 + i);
    return len;
}

static void expect_hit(tdm_nack_cache *c, uint16_t seq)
{
    uint8_t want[256];
    size_t want_len = make_packet(seq, want);
    const uint8_t *pkt = NULL;
    size_t len = 0;
    tdm_nack_miss why = TDM_NACK_MISS_NOT_SEEN;
    if (tdm_nack_cache_get(c, seq, &pkt, &len, &why) != TDM_OK)
        fail_msg("seq %u: miss (%s), want a hit", seq, tdm_nack_miss_name(why));
    assert_int_equal(why, TDM_NACK_HIT);
    assert_int_equal(len, want_len);
    assert_memory_equal(pkt, want, len);
}

static void expect_miss(tdm_nack_cache *c, uint16_t seq, tdm_nack_miss reason)
{
    const uint8_t *pkt = NULL;
    size_t len = 0;
    tdm_nack_miss why = TDM_NACK_HIT;
    if (tdm_nack_cache_get(c, seq, &pkt, &len, &why) != TDM_ERR_UNAVAILABLE || why != reason)
        fail_msg("seq %u: got %s, want %s", seq, tdm_nack_miss_name(why),
                 tdm_nack_miss_name(reason));
}

static void put(tdm_nack_cache *c, uint16_t seq)
{
    uint8_t buf[256];
    size_t len = make_packet(seq, buf);
    assert_int_equal(tdm_nack_cache_put(c, seq, buf, len), TDM_OK);
}

static tdm_nack_cache *new_cache(uint32_t slots)
{
    tdm_nack_cache_config cfg;
    tdm_nack_cache_config_default(&cfg);
    cfg.slots = slots;
    cfg.max_packet_bytes = 256;
    tdm_nack_cache *c = NULL;
    assert_int_equal(tdm_nack_cache_new(&cfg, &c), TDM_OK);
    return c;
}

static void answers_across_the_wrap(void **state)
{
    (void)state;
    tdm_nack_cache *c = new_cache(64);
    /* Nothing stored yet: a miss, not a crash. */
    expect_miss(c, 65534, TDM_NACK_MISS_NOT_SEEN);
    for (uint32_t i = 0; i < 40; i++)
        put(c, (uint16_t)(65520 + i)); /* 65520 .. 65535, 0 .. 23 */
    for (uint32_t i = 0; i < 40; i++)
        expect_hit(c, (uint16_t)(65520 + i));
    /* Asking again finds the same packet. */
    expect_hit(c, 65535);
    expect_hit(c, 0);
    /* The next numbers have not been sent yet. */
    expect_miss(c, 24, TDM_NACK_MISS_NOT_SEEN);
    expect_miss(c, 1000, TDM_NACK_MISS_NOT_SEEN);
    /* Long before the first packet: outside the ring. */
    expect_miss(c, 65000, TDM_NACK_MISS_TOO_OLD);

    const tdm_nack_cache_stats *s = tdm_nack_cache_get_stats(c);
    assert_int_equal(s->stored, 40);
    assert_int_equal(s->hits, 42);
    assert_int_equal(s->misses_not_seen, 3);
    assert_int_equal(s->misses_too_old, 1);
    tdm_nack_cache_free(c);
}

static void old_packets_fall_out_of_the_ring(void **state)
{
    (void)state;
    tdm_nack_cache *c = new_cache(16);
    for (uint32_t i = 0; i < 20; i++)
        put(c, (uint16_t)(65530 + i)); /* up to 13 */
    /* 16 slots: 65534 .. 13 are held, 65530 .. 65533 fell out. */
    for (uint32_t i = 0; i < 4; i++)
        expect_miss(c, (uint16_t)(65530 + i), TDM_NACK_MISS_TOO_OLD);
    for (uint32_t i = 4; i < 20; i++)
        expect_hit(c, (uint16_t)(65530 + i));
    /* A packet that late is refused, and counted. */
    uint8_t buf[256];
    size_t len = make_packet(65531, buf);
    assert_int_equal(tdm_nack_cache_put(c, 65531, buf, len), TDM_ERR_UNAVAILABLE);
    assert_int_equal(tdm_nack_cache_get_stats(c)->rejected_too_old, 1);
    expect_miss(c, 65531, TDM_NACK_MISS_TOO_OLD);
    tdm_nack_cache_free(c);
}

static void losses_and_reordering(void **state)
{
    (void)state;
    tdm_nack_cache *c = new_cache(32);
    /* 65530, 65531, (65532 lost upstream), 65533, 1 (0 late), then 0. */
    put(c, 65530);
    put(c, 65531);
    put(c, 65533);
    put(c, 1);
    expect_miss(c, 65532, TDM_NACK_MISS_NOT_SEEN);
    expect_miss(c, 0, TDM_NACK_MISS_NOT_SEEN);
    put(c, 0);
    expect_hit(c, 0);
    expect_hit(c, 1);
    expect_hit(c, 65533);
    /* A late packet older than the first one seen, but inside the ring. */
    put(c, 65520);
    expect_hit(c, 65520);

    /* Too big for a slot: refused and counted; the slot stays a miss. */
    uint8_t big[257] = {0};
    assert_int_equal(tdm_nack_cache_put(c, 2, big, sizeof big), TDM_ERR_RANGE);
    assert_int_equal(tdm_nack_cache_get_stats(c)->rejected_too_big, 1);
    expect_miss(c, 2, TDM_NACK_MISS_NOT_SEEN);
    tdm_nack_cache_free(c);
}

static void stale_slots_never_answer(void **state)
{
    (void)state;
    tdm_nack_cache *c = new_cache(16);
    put(c, 100);
    /* A jump forward of exactly one lap: seq 116 shares 100's slot, and
     * 101..115 were never stored this lap. */
    put(c, 116);
    expect_miss(c, 100, TDM_NACK_MISS_TOO_OLD);
    for (uint16_t s = 101; s < 116; s++)
        expect_miss(c, s, TDM_NACK_MISS_NOT_SEEN);
    expect_hit(c, 116);
    /* A jump of many laps leaves no stale packet visible. */
    put(c, 117);
    put(c, 5000);
    for (uint16_t s = 4985; s < 5000; s++)
        expect_miss(c, s, TDM_NACK_MISS_NOT_SEEN);
    expect_hit(c, 5000);

    /* Reset forgets everything, keeps counting. */
    uint64_t stored = tdm_nack_cache_get_stats(c)->stored;
    tdm_nack_cache_reset(c);
    expect_miss(c, 5000, TDM_NACK_MISS_NOT_SEEN);
    put(c, 7);
    expect_hit(c, 7);
    assert_int_equal(tdm_nack_cache_get_stats(c)->stored, stored + 1);
    tdm_nack_cache_free(c);
}

static void rejects_bad_config_and_arguments(void **state)
{
    (void)state;
    tdm_nack_cache *c = NULL;
    tdm_nack_cache_config cfg;
    tdm_nack_cache_config_default(&cfg);
    cfg.slots = 100; /* not a power of two */
    assert_int_equal(tdm_nack_cache_new(&cfg, &c), TDM_ERR_INVALID);
    cfg.slots = 8;
    assert_int_equal(tdm_nack_cache_new(&cfg, &c), TDM_ERR_INVALID);
    cfg.slots = 64;
    cfg.max_packet_bytes = 0;
    assert_int_equal(tdm_nack_cache_new(&cfg, &c), TDM_ERR_INVALID);
    assert_null(c);
    assert_int_equal(tdm_nack_cache_new(NULL, &c), TDM_OK);
    uint8_t b = 0;
    assert_int_equal(tdm_nack_cache_put(c, 1, &b, 0), TDM_ERR_INVALID);
    assert_int_equal(tdm_nack_cache_put(c, 1, NULL, 1), TDM_ERR_INVALID);
    const uint8_t *pkt;
    assert_int_equal(tdm_nack_cache_get(c, 1, &pkt, NULL, NULL), TDM_ERR_INVALID);
    tdm_nack_cache_free(c);
    tdm_nack_cache_free(NULL);
}

static uint64_t rng_state = 0x853c49e6748fea9bu;

static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32);
}

/* A publisher's stream starting at 65000 crosses the wrap; 5% of packets
 * are lost before the relay (never stored), and a subscriber NACKs a
 * random recent number after each packet. Every answer matches a model:
 * hit when stored and within the ring, else the right miss. */
static void lossy_stream_matches_model(void **state)
{
    (void)state;
    enum { SLOTS = 128, N = 5000 };
    static bool stored[N];
    tdm_nack_cache *c = new_cache(SLOTS);
    for (uint32_t i = 0; i < N; i++) {
        uint16_t seq = (uint16_t)(65000 + i);
        stored[i] = rnd() % 100 >= 5;
        if (stored[i])
            put(c, seq);
        uint32_t back = rnd() % (SLOTS + 40);
        if (back > i)
            continue;
        uint32_t j = i - back;
        uint16_t ask = (uint16_t)(65000 + j);
        /* The ring is relative to the highest stored number. */
        uint32_t highest = i;
        while (!stored[highest] && highest > 0)
            highest--;
        if (!stored[highest])
            continue;
        if (j > highest)
            expect_miss(c, ask, TDM_NACK_MISS_NOT_SEEN);
        else if (highest - j >= SLOTS)
            expect_miss(c, ask, TDM_NACK_MISS_TOO_OLD);
        else if (stored[j])
            expect_hit(c, ask);
        else
            expect_miss(c, ask, TDM_NACK_MISS_NOT_SEEN);
    }
    const tdm_nack_cache_stats *s = tdm_nack_cache_get_stats(c);
    assert_true(s->hits > 0 && s->misses_not_seen > 0 && s->misses_too_old > 0);
    tdm_nack_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answers_across_the_wrap),
        cmocka_unit_test(old_packets_fall_out_of_the_ring),
        cmocka_unit_test(losses_and_reordering),
        cmocka_unit_test(stale_slots_never_answer),
        cmocka_unit_test(rejects_bad_config_and_arguments),
        cmocka_unit_test(lossy_stream_matches_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
