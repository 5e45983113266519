/* bench_relay: the real tandem-relay forwarding one publisher to 1, 4 and
 * 16 subscribers on 127.0.0.1, against the loopback UDP ceiling measured in
 * the same run.
 *
 *   relay.fwd.1x<N>          packets the subscribers received per second of
 *                            relay CPU time (utime+stime of the whole relay
 *                            process, /proc/<pid>/stat), vs the loopback UDP
 *                            ceiling in packets/s
 *   relay.latency.p99.1x<N>  p99 of receive - send time at the subscribers,
 *                            vs the p99 of one plain UDP hop
 *
 * Anchor: two threads on two blocking UDP sockets on 127.0.0.1; the sender
 * sendto()s 1200-byte datagrams as fast as it can and the ceiling is what
 * the receiver's recvfrom() got per second (median of 5 runs of 0.4 s).
 * Then the same pair, the sender sleeping between datagrams paced at
 * ANCHOR_PACED_RATE/s for 1 s, each stamped with its CLOCK_MONOTONIC send
 * time, gives the plain hop's latency.
 *
 * Relay: a fresh relay per N (started from the path in argv or the one
 * built beside this benchmark), with ICE on 127.0.0.1 only. The clients
 * (tdm_peer over libnice, DTLS-SRTP) all run on this process's one thread:
 * it sends the publisher's packets at a fixed rate (at most 2 per turn)
 * and between sends runs the GMainContext, sleeping in ppoll() until the
 * next send time or a datagram, so received packets are stamped as soon as
 * this thread gets to them. Each packet is
 * 1200 bytes of RTP (VP8: the first ones start keyframes so the room starts
 * every subscriber, then continuation packets), carrying its send time.
 * Latency therefore includes the publisher's SRTP protect, two loopback
 * hops, the relay, the subscriber's SRTP unprotect and any wait for this
 * thread; it is an upper bound on what the relay adds.
 *
 * The offered load is fixed, not searched for: LOAD_OF_CEILING (0.2) of the
 * ceiling just measured, in forwarded packets/s in total (the publisher
 * sends that / N), i.e. half of the 40% target, where its latency
 * target applies. On a 2-core machine that keeps the relay below one core
 * and leaves the other to the clients in this process (whose SRTP and
 * libnice work is not counted). fwd/core is then a conservative figure:
 * below saturation the relay wakes up for fewer packets at a time, so it
 * rises with load. --fwd-rate sets the load instead. One relay is started
 * per N, so each N runs on a fresh process.
 * Nothing leaves 127.0.0.1; the relay is always stopped by PID. The relay
 * process, the clients and the paced run are relay_harness.c, shared with
 * bench_recording; the anchor and the table are here. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "relay_harness.h"

#ifndef TDM_RELAY_PATH
#define TDM_RELAY_PATH "tandem-relay"
#endif

#define PKT_LEN TDM_RH_PKT_LEN
#define STAMP_OFF TDM_RH_STAMP_OFF
#define LOAD_OF_CEILING 0.2 /* default offered load: half of the 40% target (issue 4) */
#define RUN_S 3.0
#define ANCHOR_S 2.0
#define ANCHOR_PARTS 5
#define ANCHOR_PACED_RATE 10000.0
#define DEADLINE_S 58

/* --- the anchor: plain UDP on loopback ------------------------------------ */

typedef struct udp_pair {
    int tx, rx;
    struct sockaddr_in to;
    double rate; /* 0: as fast as possible */
    atomic_bool stop;
    uint64_t sent, received;
    uint64_t t_start, t_end; /* receiver counts datagrams in [t_start, t_end) */
    tdm_rh_hist lat;                /* paced mode only */
} udp_pair;

static void *udp_sender(void *arg)
{
    udp_pair *u = arg;
    uint8_t buf[PKT_LEN];
    memset(buf, 0xab, sizeof buf);
    uint64_t t0 = tdm_bench_now_ns();
    while (!atomic_load_explicit(&u->stop, memory_order_relaxed)) {
        if (u->rate > 0) {
            uint64_t due = (uint64_t)((double)(tdm_bench_now_ns() - t0) * u->rate / 1e9);
            if (u->sent >= due) {
                /* Sleep to the next send time, as the relay run's sender does. */
                uint64_t next = t0 + (uint64_t)((double)(u->sent + 1) * 1e9 / u->rate);
                struct timespec ts = {.tv_sec = (time_t)(next / 1000000000u),
                                      .tv_nsec = (long)(next % 1000000000u)};
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                continue;
            }
        }
        uint64_t now = tdm_bench_now_ns();
        memcpy(buf + STAMP_OFF, &now, sizeof now);
        if (sendto(u->tx, buf, sizeof buf, 0, (struct sockaddr *)&u->to, sizeof u->to) ==
            (ssize_t)sizeof buf)
            u->sent++;
    }
    return NULL;
}

static void *udp_receiver(void *arg)
{
    udp_pair *u = arg;
    uint8_t buf[2048];
    for (;;) {
        ssize_t k = recv(u->rx, buf, sizeof buf, 0);
        uint64_t now = tdm_bench_now_ns();
        if (now >= u->t_end)
            break;
        if (k != PKT_LEN || now < u->t_start)
            continue;
        u->received++;
        if (u->rate > 0) {
            uint64_t sent;
            memcpy(&sent, buf + STAMP_OFF, sizeof sent);
            tdm_rh_hist_add(&u->lat, (int64_t)(now - sent));
        }
    }
    atomic_store(&u->stop, true);
    return NULL;
}

/* Runs the pair for warm-up + seconds; returns datagrams received per second. */
static double udp_run(double rate, double seconds, tdm_rh_hist *lat)
{
    udp_pair u;
    memset(&u, 0, sizeof u);
    u.rate = rate;
    atomic_init(&u.stop, false);
    u.tx = socket(AF_INET, SOCK_DGRAM, 0);
    u.rx = socket(AF_INET, SOCK_DGRAM, 0);
    if (u.tx < 0 || u.rx < 0)
        tdm_rh_die("socket");
    int big = 4 << 20;
    setsockopt(u.rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    struct timeval tv = {.tv_usec = 100000};
    setsockopt(u.rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(u.rx, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(u.rx, (struct sockaddr *)&a, &al) != 0)
        tdm_rh_die("bind: %s", strerror(errno));
    u.to = a;
    if (lat)
        u.lat = *lat;
    else
        tdm_rh_hist_init(&u.lat);
    uint64_t now = tdm_bench_now_ns();
    u.t_start = now + 50000000u; /* 50 ms warm-up */
    u.t_end = u.t_start + (uint64_t)(seconds * 1e9);
    pthread_t ts, tr;
    pthread_create(&tr, NULL, udp_receiver, &u);
    pthread_create(&ts, NULL, udp_sender, &u);
    pthread_join(tr, NULL);
    pthread_join(ts, NULL);
    close(u.tx);
    close(u.rx);
    if (lat)
        *lat = u.lat;
    else
        free(u.lat.b);
    return (double)u.received / seconds;
}


int main(int argc, char **argv)
{
    double fwd_rate = 0; /* 0: LOAD_OF_CEILING of the measured ceiling */
    const char *relay_path = TDM_RELAY_PATH; /* the relay built beside this benchmark */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fwd-rate") == 0 && i + 1 < argc)
            fwd_rate = atof(argv[++i]);
        else if (argv[i][0] != '-')
            relay_path = argv[i];
        else {
            fprintf(stderr,
                    "usage: %s [--fwd-rate PKTS_PER_S] [PATH-TO-tandem-relay]\n"
                    "  --fwd-rate: forwarded packets/s in total, offered (default %.2f of the\n"
                    "              loopback UDP ceiling measured in the same run)\n",
                    argv[0], LOAD_OF_CEILING);
            return 2;
        }
    }
    if (fwd_rate < 0)
        return 2;
    if (access(relay_path, X_OK) != 0) {
        fprintf(stderr, "bench_relay: no relay at %s\n", relay_path);
        return 1;
    }
    tdm_rh_init("bench_relay", relay_path, DEADLINE_S);

    /* Anchor: the ceiling (median of short runs: this machine's noise only
     * ever lowers it, and one stall should not set the offered load), then
     * the paced hop's latency. */
    double parts[ANCHOR_PARTS];
    for (int i = 0; i < ANCHOR_PARTS; i++)
        parts[i] = udp_run(0, ANCHOR_S / ANCHOR_PARTS, NULL);
    double ceiling = tdm_bench_median(parts, ANCHOR_PARTS);
    double c_lo = parts[0], c_hi = parts[ANCHOR_PARTS - 1]; /* sorted by the median */
    tdm_rh_hist hop;
    tdm_rh_hist_init(&hop);
    udp_run(ANCHOR_PACED_RATE, 1.0, &hop);
    double hop_p50 = tdm_rh_hist_q_ms(&hop, 0.50), hop_p99 = tdm_rh_hist_q_ms(&hop, 0.99);
    free(hop.b);
    printf("anchor: loopback UDP, 1200-byte datagrams, sender and receiver threads, blocking\n"
           "  ceiling %.0f pkts/s (unpaced, median of %d x %.1f s; %.0f..%.0f)\n"
           "  one hop paced at %.0f pkts/s: p50 %.3f ms, p99 %.3f ms\n",
           ceiling, ANCHOR_PARTS, ANCHOR_S / ANCHOR_PARTS, c_lo, c_hi, ANCHOR_PACED_RATE,
           hop_p50, hop_p99);
    fflush(stdout);

    if (fwd_rate == 0)
        fwd_rate = 1000 * (double)(long)(LOAD_OF_CEILING * ceiling / 1000);
    if (fwd_rate < 1000)
        tdm_rh_die("offered rate %.0f too low (ceiling %.0f)", fwd_rate, ceiling);

    static const int ns[] = {1, 4, 16};
    tdm_rh_result res[3];
    for (int i = 0; i < 3; i++)
        res[i] = tdm_rh_run(ns[i], fwd_rate, RUN_S, NULL);

    printf("relay: %.0f forwarded pkts/s offered in total (publisher sends that / N), %.0f s "
           "per N, SRTP %s;\n  fwd/core = packets received by subscribers / relay CPU seconds "
           "(utime+stime, all threads)\n",
           fwd_rate, RUN_S, res[0].profile);
    printf("  %-6s %10s %10s %9s %9s %8s %8s %10s %8s %8s\n", "fanout", "pub pkt/s",
           "fwd pkt/s", "relay CPU", "bench CPU", "in loss", "rx loss", "fwd/core", "p50 ms",
           "p99 ms");
    for (int i = 0; i < 3; i++) {
        const tdm_rh_result *r = &res[i];
        printf("  1x%-4d %10.0f %10.0f %8.0f%% %8.0f%% %7.2f%% %7.2f%% %10.0f %8.3f %8.3f\n",
               r->n, r->offered_pub, r->fwd_wall, 100 * r->relay_util, 100 * r->self_util,
               100 * r->relay_in_loss, 100 * r->loss, r->fwd_per_core, r->p50, r->p99);
    }
    fflush(stdout);
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "relay.fwd.1x%d", res[i].n);
        tdm_bench_line(name, res[i].fwd_per_core, "pkts/s", "loopback_udp", ceiling);
    }
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "relay.latency.p99.1x%d", res[i].n);
        tdm_bench_line(name, res[i].p99, "ms", "loopback_udp", hop_p99);
    }
    tdm_rh_cleanup();
    return 0;
}
