/* rtp_stats.c: receiver statistics of one RTP stream (tdm_rtp_stats.h). */
#include "tdm_rtp_stats.h"

#include <string.h>

#define MAX_DROPOUT 3000
#define MAX_MISORDER 100
#define SEQ_MOD (1u << 16)

void tdm_rtp_recv_stats_init(tdm_rtp_recv_stats *s, uint32_t clock_rate)
{
    memset(s, 0, sizeof *s);
    s->clock_rate = clock_rate ? clock_rate : 90000;
}

static void restart(tdm_rtp_recv_stats *s, uint16_t seq)
{
    s->started = true;
    s->base_seq = seq;
    s->max_seq = seq;
    s->cycles = 0;
    s->bad_seq = SEQ_MOD + 1; /* no candidate */
    s->received = 0;
    s->expected_prior = 0;
    s->received_prior = 0;
}

/* Arrival time in timestamp units; only differences matter, so the
 * truncation to 32 bits wraps harmlessly. */
static uint32_t arrival_units(const tdm_rtp_recv_stats *s, uint64_t arrival_us)
{
    return (uint32_t)((arrival_us * s->clock_rate) / 1000000u);
}

void tdm_rtp_recv_stats_packet(tdm_rtp_recv_stats *s, uint16_t seq, uint32_t rtp_timestamp,
                               uint64_t arrival_us)
{
    /* Jitter follows only packets that move the stream forward: a
     * retransmission (same SSRC, no RTX here) or a reordered packet arrives
     * late by design and would swell it (a single retransmission 200 ms
     * late took it from 0.12 to 2.56 ms). */
    bool advanced = true;
    if (!s->started) {
        restart(s, seq);
    } else {
        uint16_t udelta = (uint16_t)(seq - s->max_seq);
        if (udelta < MAX_DROPOUT) {
            if (seq < s->max_seq)
                s->cycles += SEQ_MOD; /* wrapped */
            s->max_seq = seq;
        } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
            advanced = false;
            /* A big jump: the sender restarted its numbering, or a stray
             * packet. Believe it only when the next one follows it. */
            if (seq == s->bad_seq) {
                restart(s, seq);
            } else {
                s->bad_seq = (uint32_t)((seq + 1) & (SEQ_MOD - 1));
                return;
            }
        } else {
            advanced = false; /* a duplicate or a reordered packet, counted below */
        }
        if (udelta == 0)
            advanced = false;
    }
    s->received++;
    if (!advanced)
        return;
    uint32_t transit = arrival_units(s, arrival_us) - rtp_timestamp;
    if (s->have_transit) {
        int32_t d = (int32_t)(transit - s->transit);
        uint32_t ad = d < 0 ? (uint32_t)(-(int64_t)d) : (uint32_t)d;
        /* J += (|D| - J) / 16, kept times 16 (A.8) */
        s->jitter_q4 += ad - ((s->jitter_q4 + 8) >> 4);
    }
    s->transit = transit;
    s->have_transit = true;
}

void tdm_rtp_recv_stats_sender_report(tdm_rtp_recv_stats *s, uint64_t ntp, uint64_t arrival_us)
{
    s->have_sr = true;
    s->lsr = (uint32_t)(ntp >> 16);
    s->sr_arrival_us = arrival_us;
}

bool tdm_rtp_recv_stats_report(tdm_rtp_recv_stats *s, uint32_t ssrc, uint64_t now_us,
                               tdm_rtcp_report_block *out)
{
    if (!s->started)
        return false;
    uint64_t ext_max = (uint64_t)s->cycles + s->max_seq;
    uint64_t expected = ext_max - s->base_seq + 1;
    int64_t lost = (int64_t)expected - (int64_t)s->received;
    uint64_t expected_interval = expected - s->expected_prior;
    int64_t received_interval = (int64_t)(s->received - s->received_prior);
    int64_t lost_interval = (int64_t)expected_interval - received_interval;
    s->expected_prior = expected;
    s->received_prior = s->received;
    memset(out, 0, sizeof *out);
    out->ssrc = ssrc;
    out->fraction_lost = expected_interval == 0 || lost_interval <= 0
                             ? 0
                             : (uint8_t)(((uint64_t)lost_interval << 8) / expected_interval);
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000;
    out->cumulative_lost = (int32_t)lost;
    out->highest_seq = (uint32_t)ext_max;
    out->jitter = s->jitter_q4 >> 4;
    if (s->have_sr) {
        out->lsr = s->lsr;
        uint64_t since = now_us > s->sr_arrival_us ? now_us - s->sr_arrival_us : 0;
        out->dlsr = (uint32_t)((since * 65536u) / 1000000u);
    }
    return true;
}

uint64_t tdm_rtp_ntp_from_unix_us(uint64_t unix_us)
{
    /* 70 years (17 of them leap) between 1900 and 1970 */
    const uint64_t epoch_offset = 2208988800u;
    uint64_t secs = unix_us / 1000000u + epoch_offset;
    uint64_t frac = ((unix_us % 1000000u) << 32) / 1000000u;
    return (secs << 32) | frac;
}
