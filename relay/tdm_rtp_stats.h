/* tdm_rtp_stats: what a receiver of one RTP stream knows for its receiver
 * report block (RFC 3550 section 6.4.1 and appendix A.1, A.3, A.8):
 * extended highest sequence number with wrap counting, cumulative and
 * interval loss, interarrival jitter, and the last sender report's time for
 * the round trip (LSR/DLSR). Sans-IO, no allocation: the caller embeds the
 * struct and gives arrival times.
 *
 * The relay keeps one per publisher stream and sends the publisher a
 * receiver report from it every second. */
#ifndef TDM_RTP_STATS_H
#define TDM_RTP_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "tdm_rtcp.h"

typedef struct tdm_rtp_recv_stats {
    uint32_t clock_rate;
    bool started;
    uint16_t base_seq, max_seq;
    uint32_t cycles;  /* shifted count of sequence number wraps */
    uint32_t bad_seq; /* after a large jump: the seq that confirms a restart */
    uint64_t received;
    uint64_t expected_prior, received_prior;
    bool have_transit;
    uint32_t transit;
    uint32_t jitter_q4; /* jitter in timestamp units, times 16 */
    bool have_sr;
    uint32_t lsr;          /* middle 32 bits of the last SR's NTP time */
    uint64_t sr_arrival_us;
} tdm_rtp_recv_stats;

/* Starts empty for a stream of the given RTP clock rate (90000 for video,
 * 48000 for Opus). */
void tdm_rtp_recv_stats_init(tdm_rtp_recv_stats *s, uint32_t clock_rate);

/* One packet arrived at arrival_us (a monotonic clock in microseconds).
 * A jump of more than 3000 ahead or 100 behind is taken as a restart of
 * the sender's numbering only when the next packet confirms it (A.1). */
void tdm_rtp_recv_stats_packet(tdm_rtp_recv_stats *s, uint16_t seq, uint32_t rtp_timestamp,
                               uint64_t arrival_us);

/* A sender report for this stream arrived (its 64-bit NTP time). */
void tdm_rtp_recv_stats_sender_report(tdm_rtp_recv_stats *s, uint64_t ntp, uint64_t arrival_us);

/* Fills the report block for the stream ssrc at now_us and starts the next
 * interval (fraction lost counts from the previous call). false (nothing
 * written) before the first packet. */
bool tdm_rtp_recv_stats_report(tdm_rtp_recv_stats *s, uint32_t ssrc, uint64_t now_us,
                               tdm_rtcp_report_block *out);

/* The NTP time (RFC 3550 section 4: seconds since 1900 << 32 | fraction)
 * for a wall-clock time in microseconds since the Unix epoch. */
uint64_t tdm_rtp_ntp_from_unix_us(uint64_t unix_us);

#endif
