/* Receiver statistics of one RTP stream against values worked out by hand
 * from RFC 3550 (A.1, A.3, A.8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tdm_rtp_stats.h"

static tdm_rtcp_report_block report(tdm_rtp_recv_stats *s, uint64_t now)
{
    tdm_rtcp_report_block b;
    assert_true(tdm_rtp_recv_stats_report(s, 0x1234, now, &b));
    assert_int_equal(b.ssrc, 0x1234);
    return b;
}

static void nothing_before_first_packet(void **state)
{
    (void)state;
    tdm_rtp_recv_stats s;
    tdm_rtp_recv_stats_init(&s, 90000);
    tdm_rtcp_report_block b;
    assert_false(tdm_rtp_recv_stats_report(&s, 1, 0, &b));
}

static void in_order_stream_has_no_loss(void **state)
{
    (void)state;
    tdm_rtp_recv_stats s;
    tdm_rtp_recv_stats_init(&s, 90000);
    for (uint16_t i = 0; i < 100; i++)
        tdm_rtp_recv_stats_packet(&s, (uint16_t)(1000 + i), i * 3000u, i * 33333u);
    tdm_rtcp_report_block b = report(&s, 4000000);
    assert_int_equal(b.highest_seq, 1099);
    assert_int_equal(b.cumulative_lost, 0);
    assert_int_equal(b.fraction_lost, 0);
    assert_int_equal(b.jitter, 0);
    assert_int_equal(b.lsr, 0);
    assert_int_equal(b.dlsr, 0);
}

static void losses_count_in_total_and_per_interval(void **state)
{
    (void)state;
    tdm_rtp_recv_stats s;
    tdm_rtp_recv_stats_init(&s, 90000);
    /* 100 sent, every 10th lost */
    for (uint16_t i = 0; i < 100; i++)
        if (i % 10 != 5)
            tdm_rtp_recv_stats_packet(&s, i, i * 3000u, i * 33333u);
    tdm_rtcp_report_block b = report(&s, 0);
    assert_int_equal(b.cumulative_lost, 10);
    assert_int_equal(b.fraction_lost, 10 * 256 / 100);
    /* next interval: 50 sent, none lost; the total stays, the fraction is 0 */
    for (uint16_t i = 100; i < 150; i++)
        tdm_rtp_recv_stats_packet(&s, i, i * 3000u, i * 33333u);
    b = report(&s, 0);
    assert_int_equal(b.cumulative_lost, 10);
    assert_int_equal(b.fraction_lost, 0);
    assert_int_equal(b.highest_seq, 149);
    /* duplicates make received exceed expected: loss may go negative,
     * the fraction never does */
    for (int k = 0; k < 20; k++)
        tdm_rtp_recv_stats_packet(&s, 149, 149 * 3000u, 150 * 33333u);
    b = report(&s, 0);
    assert_int_equal(b.cumulative_lost, -10);
    assert_int_equal(b.fraction_lost, 0);
}

static void sequence_wrap_extends_the_highest_number(void **state)
{
    (void)state;
    tdm_rtp_recv_stats s;
    tdm_rtp_recv_stats_init(&s, 90000);
    for (uint32_t i = 0; i < 20; i++)
        tdm_rtp_recv_stats_packet(&s, (uint16_t)(65530u + i), i * 3000u, i * 1000u);
    tdm_rtcp_report_block b = report(&s, 0);
    assert_int_equal(b.highest_seq, 65536u + 13u);
    assert_int_equal(b.cumulative_lost, 0);
    /* a reordered packet from before the wrap does not count as a wrap */
    tdm_rtp_recv_stats_packet(&s, 65534, 0, 30000);
    b = report(&s, 0);
    assert_int_equal(b.highest_seq, 65536u + 13u);
}

static void a_big_jump_restarts_only_when_confirmed(void **state)
{
    (void)state;
    tdm_rtp_recv_stats s;
    tdm_rtp_recv_stats_init(&s, 90000);
    for (uint16_t i = 0; i < 10; i++)
        tdm_rtp_recv_stats_packet(&s, i, 0, 0);
    tdm_rtp_recv_stats_packet(&s, 30000, 0, 0); /* stray: ignored */
    tdm_rtp_recv_stats_packet(&s, 10, 0, 0);
    tdm_rtcp_report_block b = report(&s, 0);
    assert_int_equal(b.highest_seq, 10);
    assert_int_equal(b.cumulative_lost, 0);
    tdm_rtp_recv_stats_packet(&s, 40000, 0, 0); /* a restart ... */
    tdm_rtp_recv_stats_packet(&s, 40001, 0, 0); /* ... confirmed */
    tdm_rtp_recv_stats_packet(&s, 40002, 0, 0);
    b = report(&s, 0);
    assert_int_equal(b.highest_seq, 40002);
    assert_int_equal(b.cumulative_lost, 0);
}

static void jitter_converges_to_the_transit_swing(void **state)
{
    (void)state;
    tdm_rtp_recv_stats s;
    tdm_rtp_recv_stats_init(&s, 90000);
    /* every other packet 10 ms late: |D| = 900 units each time, so J -> 900 */
    for (uint32_t i = 0; i < 300; i++)
        tdm_rtp_recv_stats_packet(&s, (uint16_t)i, i * 3000u,
                                  (uint64_t)i * 100000u / 3u + (i % 2 ? 10000u : 0u));
    tdm_rtcp_report_block b = report(&s, 0);
    assert_in_range(b.jitter, 880, 901);
}

static void late_retransmissions_leave_jitter_alone(void **state)
{
    (void)state;
    tdm_rtp_recv_stats s;
    tdm_rtp_recv_stats_init(&s, 90000);
    for (uint32_t i = 0; i < 100; i++)
        if (i != 50)
            tdm_rtp_recv_stats_packet(&s, (uint16_t)i, i * 3000u, (uint64_t)i * 100000u / 3u);
    /* seq 50 comes back 200 ms late, as a NACKed retransmission does */
    tdm_rtp_recv_stats_packet(&s, 50, 50 * 3000u, 50 * 100000u / 3u + 200000u);
    tdm_rtcp_report_block b = report(&s, 0);
    assert_int_equal(b.cumulative_lost, 0);
    assert_in_range(b.jitter, 0, 1);
}

static void sender_report_gives_lsr_and_dlsr(void **state)
{
    (void)state;
    tdm_rtp_recv_stats s;
    tdm_rtp_recv_stats_init(&s, 48000);
    tdm_rtp_recv_stats_packet(&s, 7, 960, 1000000);
    tdm_rtp_recv_stats_sender_report(&s, 0x0001234567890000ull, 2000000);
    tdm_rtcp_report_block b = report(&s, 2500000);
    assert_int_equal(b.lsr, 0x23456789u);
    assert_int_equal(b.dlsr, 32768); /* 0.5 s in 1/65536 s */
}

static void ntp_time_of_unix_time(void **state)
{
    (void)state;
    assert_int_equal(tdm_rtp_ntp_from_unix_us(0), 2208988800ull << 32);
    assert_int_equal(tdm_rtp_ntp_from_unix_us(1500000), ((2208988800ull + 1) << 32) | 0x80000000u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nothing_before_first_packet),
        cmocka_unit_test(in_order_stream_has_no_loss),
        cmocka_unit_test(losses_count_in_total_and_per_interval),
        cmocka_unit_test(sequence_wrap_extends_the_highest_number),
        cmocka_unit_test(a_big_jump_restarts_only_when_confirmed),
        cmocka_unit_test(jitter_converges_to_the_transit_swing),
        cmocka_unit_test(late_retransmissions_leave_jitter_alone),
        cmocka_unit_test(sender_report_gives_lsr_and_dlsr),
        cmocka_unit_test(ntp_time_of_unix_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
