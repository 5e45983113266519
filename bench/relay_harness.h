/* relay_harness: the 1 -> N run of a real tandem-relay, shared by
 * bench_relay and bench_recording.
 *
 * Owns the run: a fresh relay per run (extra arguments such as
 * --record-dir), one publisher with N subscribers on 127.0.0.1 all on the
 * caller's thread, the benchmark's deadline, and the figures: what the
 * subscribers received, the relay's CPU time (utime+stime of all its
 * threads, /proc/<pid>/stat), its /metrics counters and latency. A run
 * connects everyone, starts every subscriber with keyframe packets, then
 * sends 1200-byte VP8 RTP packets (each carrying its send time) at a fixed
 * rate for run_s seconds. The relay process, HTTP, peers and the paced
 * stream are bench_peers' (shared with bench_janus and bench_cluster). See
 * bench_relay.c for why the load is paced and what the latency includes. */
#ifndef TDM_RELAY_HARNESS_H
#define TDM_RELAY_HARNESS_H

#include <stdint.h>

#define TDM_RH_PKT_LEN 1200   /* RTP header + payload, before SRTP */
#define TDM_RH_STAMP_OFF 16   /* payload offset of the 8-byte send time */
#define TDM_RH_MAX_SUBS 16
#define TDM_RH_HIST_US 100000 /* latency histogram: 1 us buckets up to 100 ms, then overflow */

typedef struct tdm_rh_hist {
    uint32_t *b; /* TDM_RH_HIST_US + 1 buckets of 1 us; the last is overflow */
    uint64_t n;
} tdm_rh_hist;

void tdm_rh_hist_init(tdm_rh_hist *h);
void tdm_rh_hist_add(tdm_rh_hist *h, int64_t ns);
/* The q-quantile in ms (bucket upper edge). */
double tdm_rh_hist_q_ms(const tdm_rh_hist *h, double q);

/* Names the benchmark in messages, sets the relay binary, ignores
 * SIGPIPE, and arms a deadline after which the relay is stopped and the
 * process exits 1. */
void tdm_rh_init(const char *name, const char *relay_path, unsigned deadline_s);

/* Prints "<name>: <message>", stops the relay, exits 1. */
void tdm_rh_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Stops a relay still running and removes the secret file. */
void tdm_rh_cleanup(void);

typedef struct tdm_rh_result {
    int n;
    double offered_pub;   /* packets/s the publisher sent */
    double fwd_wall;      /* packets/s the subscribers received, wall clock */
    double relay_cpu;     /* relay CPU seconds during the window and drain */
    double relay_util;    /* relay CPU / wall */
    double self_util;     /* this process's CPU / wall */
    double fwd_per_core;  /* received / relay CPU seconds */
    double loss;          /* 1 - received / (sent * n) */
    double relay_out;     /* relay's packets_out counter delta */
    double relay_in_loss; /* 1 - relay's packets_in delta / sent */
    double p50, p99;      /* ms */
    double rec_bytes;     /* recording bytes written during the window (metrics delta) */
    double rec_drops;     /* packets the recording writer dropped in the window */
    double recordings;    /* recordings open at the end of the window */
    double workers_cpu;   /* CPU seconds of the relay's media worker threads (its /metrics);
                           * relay_cpu - workers_cpu is every other thread's: HTTP, the
                           * recording writers */
    const char *profile;
} tdm_rh_result;

/* One fresh relay (with extra_args appended to its command line, a
 * NULL-terminated list or NULL), one publisher and n_subs subscribers,
 * fwd_rate forwarded packets/s offered in total (the publisher sends
 * fwd_rate / n_subs) for run_s seconds. */
tdm_rh_result tdm_rh_run(int n_subs, double fwd_rate, double run_s,
                         const char *const *extra_args);

#endif
