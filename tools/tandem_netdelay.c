/* tandem-netdelay: delays packets for network tests, where this kernel has
 * no netem. iptables rules send the packets to an NFQUEUE; this program
 * holds each one (in the kernel: it only keeps the packet's id) for a fixed
 * delay plus optional jitter, then lets it through with an NF_ACCEPT
 * verdict, in arrival order.
 *
 * This file is the IO shell only: the netlink socket (libnetfilter_queue),
 * the monotonic clock and the signals. When each packet is due, the order,
 * the bound and the overflow count are tdm_delay_line's (sans-IO, unit
 * tested on a fake clock). */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <arpa/inet.h>
#include <linux/netfilter.h> /* NF_ACCEPT, NF_DROP */
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "tdm_delay_line.h"

#define PROG "tandem-netdelay"
#define DEFAULT_CAPACITY 4096
/* Room the kernel keeps for queue messages waiting to be read: a burst of
 * packets must not overflow it while we are busy releasing others. */
#define RCVBUF_BYTES (8 << 20)
#define MAX_DELAY_MS 60000.0

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " --queue N --delay MS [--jitter MS] [--capacity N] [--seed N]\n"
            "\n"
            "Delays packets for network tests (this kernel has no netem). iptables rules\n"
            "send packets to NFQUEUE queue N; each is held for MS milliseconds, plus a\n"
            "uniform random 0..JITTER ms, then accepted, in the order the packets came: jitter\n"
            "stretches gaps, it never reorders. Only each packet's id is kept here; the\n"
            "packet waits in the kernel, unchanged. Run it in the network namespace of the\n"
            "rules, as root (CAP_NET_ADMIN). For a delay each way, queue both directions:\n"
            "\n"
            "  iptables -A OUTPUT -p udp -j NFQUEUE --queue-num 0\n"
            "  iptables -A INPUT  -p udp -j NFQUEUE --queue-num 0\n"
            "  " PROG " --queue 0 --delay 40\n"
            "\n"
            "  --queue N      NFQUEUE number to take packets from (0-65535); required\n"
            "  --delay MS     delay in milliseconds (fractions allowed, up to 60000); required\n"
            "  --jitter MS    extra random delay, 0..MS milliseconds (default 0)\n"
            "  --capacity N   packets held at once (default %d); a packet arriving when\n"
            "                 the line is full is dropped and counted as overflowed\n"
            "  --seed N       seed of the jitter's random sequence (default 1): the same seed\n"
            "                 gives the same delays for the same arrivals\n"
            "  --help         this text\n"
            "\n"
            "Prints '" PROG ": queue N ready' once it holds the queue (add rules after\n"
            "that: without a reader the kernel drops queued packets), and at SIGINT or\n"
            "SIGTERM lets every held packet through and prints:\n"
            "  " PROG ": received R released A overflowed O max_depth D socket_overruns S\n"
            "(socket_overruns: times the kernel could not hand us queued packets because\n"
            "our socket buffer was full; those packets were dropped by the kernel.)\n"
            "Exits 0 after a signal; 1 if the queue cannot be opened (not root, another\n"
            "process holds it, no nfnetlink_queue in the kernel); 2 for bad options.\n",
            DEFAULT_CAPACITY);
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(try " PROG " --help)\n");
    va_end(ap);
    return 2;
}

/* A decimal number of milliseconds in [0, MAX_DELAY_MS] as microseconds. */
static bool parse_ms(const char *s, uint64_t *us)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0 || v > MAX_DELAY_MS)
        return false;
    *us = (uint64_t)llround(v * 1000.0);
    return true;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-' || *s == '+')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v > max)
        return false;
    *out = v;
    return true;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

typedef struct shell {
    tdm_delay_line *line;
    struct nfq_q_handle *q;
    uint64_t now; /* the arrival time of what nfq_handle_packet delivers */
    uint64_t received, socket_overruns, verdict_failures;
} shell;

/* One queued packet: into the line, or dropped if the line is full. */
static int on_packet(struct nfq_q_handle *q, struct nfgenmsg *msg, struct nfq_data *nfa,
                     void *user)
{
    (void)msg;
    shell *sh = user;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    if (!ph)
        return 0;
    uint32_t id = ntohl(ph->packet_id);
    sh->received++;
    if (tdm_delay_line_push(sh->line, sh->now, id) != TDM_OK &&
        nfq_set_verdict(q, id, NF_DROP, 0, NULL) < 0)
        sh->verdict_failures++;
    return 0;
}

static void release_due(shell *sh, uint64_t now)
{
    uint64_t tag;
    while (tdm_delay_line_pop_due(sh->line, now, &tag) == TDM_OK)
        if (nfq_set_verdict(sh->q, (uint32_t)tag, NF_ACCEPT, 0, NULL) < 0)
            sh->verdict_failures++;
}

/* Reads every queue message waiting on the socket. Returns false on a
 * socket error we cannot go on from. */
static bool read_queue(struct nfq_handle *h, shell *sh)
{
    /* With NFQNL_COPY_META a message is a few hundred bytes; this holds many. */
    static char buf[1 << 16] __attribute__((aligned));
    for (;;) {
        ssize_t n = recv(nfq_fd(h), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            sh->now = now_us();
            nfq_handle_packet(h, buf, (int)n);
            continue;
        }
        if (n < 0 && errno == ENOBUFS) {
            sh->socket_overruns++; /* the kernel dropped what did not fit */
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return true;
        fprintf(stderr, PROG ": reading the queue failed: %s\n",
                n == 0 ? "socket closed" : strerror(errno));
        return false;
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"queue", required_argument, NULL, 'q'},
                                         {"delay", required_argument, NULL, 'd'},
                                         {"jitter", required_argument, NULL, 'j'},
                                         {"capacity", required_argument, NULL, 'c'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    uint64_t queue = 0, capacity = DEFAULT_CAPACITY, seed = 1;
    tdm_delay_line_config cfg = {0};
    bool have_queue = false, have_delay = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            if (!parse_u64(optarg, 65535, &queue))
                return bad_usage("--queue wants a number from 0 to 65535, got '%s'", optarg);
            have_queue = true;
            break;
        case 'd':
            if (!parse_ms(optarg, &cfg.delay_us))
                return bad_usage("--delay wants milliseconds from 0 to 60000, got '%s'", optarg);
            have_delay = true;
            break;
        case 'j':
            if (!parse_ms(optarg, &cfg.jitter_us))
                return bad_usage("--jitter wants milliseconds from 0 to 60000, got '%s'",
                                 optarg);
            break;
        case 'c':
            if (!parse_u64(optarg, TDM_DELAY_LINE_MAX_CAPACITY, &capacity) || capacity == 0)
                return bad_usage("--capacity wants a number from 1 to 1048576, got '%s'",
                                 optarg);
            break;
        case 's':
            if (!parse_u64(optarg, UINT64_MAX, &seed))
                return bad_usage("--seed wants a non-negative integer, got '%s'", optarg);
            break;
        case 'h': usage(stdout); return 0;
        default:
            return bad_usage("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);
    if (!have_queue)
        return bad_usage("%s is required", "--queue");
    if (!have_delay)
        return bad_usage("%s is required", "--delay");
    cfg.capacity = (size_t)capacity;
    cfg.seed = seed;

    shell sh = {0};
    tdm_error err = {{0}};
    if (tdm_delay_line_new(&cfg, &sh.line, &err) != TDM_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }

    struct nfq_handle *h = nfq_open();
    if (!h) {
        fprintf(stderr, PROG ": cannot open a netfilter queue socket: %s (needs root or "
                        "CAP_NET_ADMIN, and nfnetlink_queue in the kernel)\n",
                strerror(errno));
        tdm_delay_line_free(sh.line);
        return 1;
    }
    sh.q = nfq_create_queue(h, (uint16_t)queue, on_packet, &sh);
    if (!sh.q) {
        fprintf(stderr, PROG ": cannot bind NFQUEUE %u: %s (another process holds it?)\n",
                (unsigned)queue, strerror(errno));
        nfq_close(h);
        tdm_delay_line_free(sh.line);
        return 1;
    }
    /* Only the metadata (the id) comes up; the packet stays in the kernel.
     * The kernel's own bound is set above ours, so our overflow count is
     * the one that speaks. */
    uint32_t kernel_max = (uint32_t)capacity + 1024; /* capacity is at most 2^20 */
    if (nfq_set_mode(sh.q, NFQNL_COPY_META, 0) < 0 || nfq_set_queue_maxlen(sh.q, kernel_max) < 0) {
        fprintf(stderr, PROG ": cannot configure NFQUEUE %u: %s\n", (unsigned)queue,
                strerror(errno));
        nfq_destroy_queue(sh.q);
        nfq_close(h);
        tdm_delay_line_free(sh.line);
        return 1;
    }
    int rcvbuf = RCVBUF_BYTES;
    if (setsockopt(nfq_fd(h), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
        setsockopt(nfq_fd(h), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);

    /* Signals are blocked except inside ppoll, so a stop request cannot
     * slip in between the flag check and the wait. */
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGTERM);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf(PROG ": queue %u ready (delay %.3f ms, jitter %.3f ms, capacity %zu)\n",
           (unsigned)queue, (double)cfg.delay_us / 1000.0, (double)cfg.jitter_us / 1000.0,
           cfg.capacity);
    fflush(stdout);

    int rc = 0;
    while (!stop_requested) {
        uint64_t due;
        struct timespec ts, *timeout = NULL;
        if (tdm_delay_line_next_due(sh.line, &due)) {
            uint64_t now = now_us();
            uint64_t wait = due > now ? due - now : 0;
            ts.tv_sec = (time_t)(wait / 1000000u);
            ts.tv_nsec = (long)(wait % 1000000u) * 1000;
            timeout = &ts;
        }
        struct pollfd p = {.fd = nfq_fd(h), .events = POLLIN};
        int n = ppoll(&p, 1, timeout, &waitmask);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, PROG ": poll failed: %s\n", strerror(errno));
            rc = 1;
            break;
        }
        if (n > 0 && !read_queue(h, &sh)) {
            rc = 1;
            break;
        }
        release_due(&sh, now_us());
    }

    /* Let everything held through: closing the queue would drop it. */
    release_due(&sh, UINT64_MAX);
    const tdm_delay_line_stats *s = tdm_delay_line_get_stats(sh.line);
    printf(PROG ": received %llu released %llu overflowed %llu max_depth %zu socket_overruns "
                "%llu\n",
           (unsigned long long)sh.received, (unsigned long long)s->released,
           (unsigned long long)s->overflowed, s->max_depth,
           (unsigned long long)sh.socket_overruns);
    if (sh.verdict_failures)
        fprintf(stderr, PROG ": %llu verdicts failed\n", (unsigned long long)sh.verdict_failures);
    fflush(stdout);
    nfq_destroy_queue(sh.q);
    nfq_close(h);
    tdm_delay_line_free(sh.line);
    return rc;
}
