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
 * Nothing leaves 127.0.0.1; the relay is always stopped by PID. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "tdm_dtls.h"
#include "tdm_peer.h"
#include "tdm_rtp.h"
#include "tdm_sdp.h"
#include "tdm_sdp_offer.h"
#include "tdm_token.h"

#ifndef TDM_RELAY_PATH
#define TDM_RELAY_PATH "tandem-relay"
#endif

#define NODE "bench-node"
#define PKT_LEN 1200 /* RTP header + payload, before SRTP */
#define PUB_SSRC 0x5eed0001u
#define PT 96
#define BUF_CAP 1600
#define HTTP_MAX (64 * 1024)
#define MAX_CANDS 16
#define MAX_SUBS 16
#define STAMP_OFF 16 /* payload offset of the 8-byte send time, after the VP8 headers */
#define LOAD_OF_CEILING 0.2 /* default offered load: half of the 40% target (issue 4) */
#define RUN_S 3.0
#define ANCHOR_S 2.0
#define ANCHOR_PARTS 5
#define ANCHOR_PACED_RATE 10000.0
#define HIST_US 100000 /* latency histogram: 1 us buckets up to 100 ms, then overflow */
#define DEADLINE_S 58

static const char *relay_path;
static volatile pid_t relay_pid = -1;
static uint16_t relay_port;
static char secret_path[64];
static const uint8_t secret[] = "bench-relay-secret-0123456789abcdef0123";
static char session[32];

/* --- the relay process --------------------------------------------------- */

static void stop_relay(void)
{
    pid_t pid = relay_pid;
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            relay_pid = -1;
            return;
        }
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    relay_pid = -1;
    fprintf(stderr, "bench_relay: relay ignored SIGTERM, killed\n");
}

static void cleanup(void)
{
    stop_relay();
    if (secret_path[0])
        unlink(secret_path);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_relay: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    cleanup();
    exit(1);
}

/* The whole run is bounded: past the deadline the relay is stopped and we exit. */
static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "bench_relay: deadline passed, stopping\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    pid_t pid = relay_pid;
    if (pid > 0) {
        kill(pid, SIGTERM);
        struct timespec tick = {.tv_nsec = 50000000};
        int i = 0;
        while (waitpid(pid, NULL, WNOHANG) != pid && i++ < 40)
            nanosleep(&tick, NULL);
        if (i > 40) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    if (secret_path[0])
        unlink(secret_path);
    _exit(1);
}

static void start_relay(void)
{
    if (!secret_path[0]) {
        snprintf(secret_path, sizeof secret_path, "/tmp/tdm-bench-secret-XXXXXX");
        int fd = mkstemp(secret_path);
        if (fd < 0)
            die("mkstemp: %s", strerror(errno));
        if (write(fd, secret, sizeof secret - 1) != (ssize_t)(sizeof secret - 1))
            die("write secret");
        close(fd);
    }
    int out[2];
    if (pipe(out) != 0)
        die("pipe");
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* should this process die unexpectedly */
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execl(relay_path, relay_path, "serve", "--listen", "127.0.0.1:0", "--node-id", NODE,
              "--secret-file", secret_path, "--local-address", "127.0.0.1", (char *)NULL);
        _exit(127);
    }
    relay_pid = pid;
    close(out[1]);
    /* "tandem-relay: node ID listening on http://127.0.0.1:PORT" */
    char line[256];
    size_t n = 0;
    struct pollfd p = {.fd = out[0], .events = POLLIN};
    while (n + 1 < sizeof line && poll(&p, 1, 10000) == 1) {
        ssize_t k = read(out[0], line + n, 1);
        if (k <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    close(out[0]);
    const char *colon = strrchr(line, ':');
    if (!strstr(line, "listening on") || !colon)
        die("relay %s did not start: '%s'", relay_path, line);
    relay_port = (uint16_t)atoi(colon + 1);
    if (!relay_port)
        die("relay port in '%s'", line);
}

/* utime + stime of the whole relay process (all threads), in seconds. */
static double relay_cpu_s(void)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)relay_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        die("open %s", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name "(...)": state is field 3, utime 14, stime 15. */
    char *p = strrchr(buf, ')');
    if (!p)
        die("parse %s", path);
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        die("parse %s", path);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* --- a minimal blocking HTTP/1.1 client ---------------------------------- */

typedef struct http_reply {
    int status;
    char location[256];
    char body[HTTP_MAX];
    size_t body_len;
} http_reply;

static void http(const char *method, const char *path, const char *token, const char *ctype,
                 const char *body, http_reply *rep)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(relay_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0)
        die("connect to relay: %s", strerror(errno));
    static char req[HTTP_MAX];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n",
                     method, path, (unsigned)relay_port, blen);
    if (token)
        n += snprintf(req + n, sizeof req - (size_t)n, "Authorization: Bearer %s\r\n", token);
    if (ctype)
        n += snprintf(req + n, sizeof req - (size_t)n, "Content-Type: %s\r\n", ctype);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n%s", body ? body : "");
    if (n <= 0 || (size_t)n >= sizeof req)
        die("HTTP request too long");
    for (size_t off = 0; off < (size_t)n;) {
        ssize_t k = write(s, req + off, (size_t)n - off);
        if (k <= 0)
            die("HTTP write");
        off += (size_t)k;
    }
    static char resp[HTTP_MAX + 4096];
    size_t got = 0;
    struct timeval tv = {.tv_sec = 10};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        if (got >= sizeof resp - 1)
            die("HTTP reply too long");
        ssize_t k = read(s, resp + got, sizeof resp - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
        resp[got] = '\0';
        char *end = strstr(resp, "\r\n\r\n");
        char *cl = strcasestr(resp, "\r\ncontent-length:");
        if (end && cl && cl < end && got >= (size_t)(end + 4 - resp) + (size_t)atol(cl + 17))
            break;
    }
    close(s);
    resp[got] = '\0';
    memset(rep, 0, sizeof *rep);
    char *end = strstr(resp, "\r\n\r\n");
    if (sscanf(resp, "HTTP/1.1 %d", &rep->status) != 1 || !end)
        die("bad HTTP reply to %s %s", method, path);
    *end = '\0';
    char *loc = strcasestr(resp, "\r\nlocation:");
    if (loc) {
        loc += 11;
        loc += strspn(loc, " ");
        size_t l = strcspn(loc, "\r");
        if (l < sizeof rep->location)
            memcpy(rep->location, loc, l);
    }
    rep->body_len = got - (size_t)(end + 4 - resp);
    if (rep->body_len >= sizeof rep->body)
        die("HTTP body too long");
    memcpy(rep->body, end + 4, rep->body_len);
    rep->body[rep->body_len] = '\0';
}

static void mint(const char *participant, tdm_token_role role, char *out, size_t cap)
{
    tdm_token_claims c;
    memset(&c, 0, sizeof c);
    snprintf(c.sub, sizeof c.sub, "%s", participant);
    snprintf(c.sid, sizeof c.sid, "%s", session);
    snprintf(c.node, sizeof c.node, "%s", NODE);
    c.role = role;
    int64_t now = (int64_t)time(NULL);
    c.exp = now + 300;
    tdm_error err = {{0}};
    if (tdm_token_mint(secret, sizeof secret - 1, &c, now, out, cap, &err) != TDM_OK)
        die("mint: %s", err.msg);
}

/* A counter from the relay's /metrics (summed over its label sets). */
static double relay_metric(const char *name)
{
    static http_reply rep;
    http("GET", "/metrics", NULL, NULL, NULL, &rep);
    double sum = 0;
    size_t nl = strlen(name);
    for (const char *line = rep.body; *line;) {
        if (strncmp(line, name, nl) == 0 && (line[nl] == ' ' || line[nl] == '{')) {
            const char *sp = strchr(line, ' ');
            if (sp)
                sum += strtod(sp + 1, NULL);
        }
        const char *nl_at = strchr(line, '\n');
        if (!nl_at)
            break;
        line = nl_at + 1;
    }
    return sum;
}

/* --- latency histogram --------------------------------------------------- */

typedef struct hist {
    uint32_t *b; /* HIST_US + 1 buckets of 1 us; the last is overflow */
    uint64_t n;
} hist;

static void hist_init(hist *h)
{
    h->b = calloc(HIST_US + 1, sizeof *h->b);
    if (!h->b)
        die("out of memory");
    h->n = 0;
}

static void hist_add(hist *h, int64_t ns)
{
    int64_t us = ns < 0 ? 0 : ns / 1000;
    h->b[us > HIST_US ? HIST_US : us]++;
    h->n++;
}

/* The q-quantile in ms (bucket upper edge). */
static double hist_q_ms(const hist *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->n), acc = 0;
    for (int i = 0; i <= HIST_US; i++) {
        acc += h->b[i];
        if (acc > want)
            return (i + 1) / 1000.0;
    }
    return HIST_US / 1000.0;
}

/* --- the anchor: plain UDP on loopback ------------------------------------ */

typedef struct udp_pair {
    int tx, rx;
    struct sockaddr_in to;
    double rate; /* 0: as fast as possible */
    atomic_bool stop;
    uint64_t sent, received;
    uint64_t t_start, t_end; /* receiver counts datagrams in [t_start, t_end) */
    hist lat;                /* paced mode only */
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
            hist_add(&u->lat, (int64_t)(now - sent));
        }
    }
    atomic_store(&u->stop, true);
    return NULL;
}

/* Runs the pair for warm-up + seconds; returns datagrams received per second. */
static double udp_run(double rate, double seconds, hist *lat)
{
    udp_pair u;
    memset(&u, 0, sizeof u);
    u.rate = rate;
    atomic_init(&u.stop, false);
    u.tx = socket(AF_INET, SOCK_DGRAM, 0);
    u.rx = socket(AF_INET, SOCK_DGRAM, 0);
    if (u.tx < 0 || u.rx < 0)
        die("socket");
    int big = 4 << 20;
    setsockopt(u.rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    struct timeval tv = {.tv_usec = 100000};
    setsockopt(u.rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(u.rx, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(u.rx, (struct sockaddr *)&a, &al) != 0)
        die("bind: %s", strerror(errno));
    u.to = a;
    if (lat)
        u.lat = *lat;
    else
        hist_init(&u.lat);
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

/* --- clients ------------------------------------------------------------- */

typedef struct client {
    char name[32];
    bool publish;
    tdm_dtls_identity *id;
    tdm_peer *peer;
    bool gathered;
    size_t n_cands;
    char *cands[MAX_CANDS];
    tdm_peer_state state;
    uint32_t relay_ssrc;
    /* Subscriber: packets received, and those sent within the window. */
    uint64_t received, in_window;
    uint64_t foreign;
} client;

/* Where subscribers count: packets stamped in [win_start, win_end). */
static uint64_t win_start = UINT64_MAX, win_end = UINT64_MAX;
static hist run_lat;

static void on_state(void *user, tdm_peer_state st, tdm_peer_fail fail, const char *reason)
{
    client *c = user;
    c->state = st;
    if (st == TDM_PEER_FAILED)
        fprintf(stderr, "bench_relay: %s failed (%s): %s\n", c->name, tdm_peer_fail_name(fail),
                reason);
}

static void on_rtp(void *user, uint8_t *buf, size_t len)
{
    uint64_t now = tdm_bench_now_ns();
    client *c = user;
    tdm_rtp_packet p;
    if (tdm_rtp_parse(buf, len, &p, NULL) != TDM_OK || p.header.ssrc != c->relay_ssrc ||
        p.payload_len < STAMP_OFF + 8) {
        c->foreign++;
        return;
    }
    uint64_t sent;
    memcpy(&sent, p.payload + STAMP_OFF, sizeof sent);
    c->received++;
    if (sent >= win_start && sent < win_end) {
        c->in_window++;
        hist_add(&run_lat, (int64_t)(now - sent));
    }
}

static void on_rtcp(void *user, uint8_t *buf, size_t len)
{
    (void)user, (void)buf, (void)len; /* PLIs and REMBs: not measured here */
}

static bool candidate_is_loopback(const char *cand)
{
    /* "candidate:f c transport prio ADDR port typ ..." */
    const char *p = strchr(cand, ':');
    if (!p)
        return false;
    p++;
    for (int field = 0; field < 4; field++) {
        p += strspn(p, " ");
        p += strcspn(p, " ");
    }
    p += strspn(p, " ");
    return strncmp(p, "127.0.0.1 ", 10) == 0;
}

static void on_ice_event(void *user, const tdm_ice_event *ev)
{
    client *c = user;
    if (ev->type == TDM_ICE_EV_GATHERING_DONE)
        c->gathered = true;
    else if (ev->type == TDM_ICE_EV_LOCAL_CANDIDATE && c->n_cands < MAX_CANDS) {
        if (!candidate_is_loopback(ev->candidate))
            die("%s: candidate off loopback: %s", c->name, ev->candidate);
        c->cands[c->n_cands++] = strdup(ev->candidate);
    } else if (ev->type == TDM_ICE_EV_SELECTED_PAIR &&
               strncmp(ev->remote_address, "127.0.0.1:", 10) != 0) {
        die("%s: pair off loopback: %s", c->name, ev->remote_address);
    }
}

static gboolean wake(gpointer unused)
{
    (void)unused;
    return G_SOURCE_CONTINUE;
}

/* Iterates ctx until done(arg) or timeout_ms passed; returns done(arg). */
static bool run_until(GMainContext *ctx, bool (*done)(void *), void *arg, unsigned timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    GSource *w = g_timeout_source_new(10);
    g_source_set_callback(w, wake, NULL, NULL);
    g_source_attach(w, ctx);
    while (!done(arg) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(ctx, TRUE);
    g_source_destroy(w);
    g_source_unref(w);
    return done(arg);
}

/* One turn of ctx (acquired by the caller) that waits at most until
 * until_ns: g_main_context_iteration with a wait finer than GLib's
 * milliseconds, so a paced sender sleeps between packets instead of
 * spinning on the core the relay also needs. */
static void turn_until(GMainContext *ctx, uint64_t until_ns)
{
    static GPollFD fds[256];
    gint prio, timeout_ms;
    g_main_context_prepare(ctx, &prio);
    gint n = g_main_context_query(ctx, prio, &timeout_ms, fds, 256);
    if (n > 256)
        die("too many poll fds (%d)", n);
    uint64_t now = tdm_bench_now_ns();
    uint64_t wait = until_ns > now ? until_ns - now : 0;
    if (timeout_ms >= 0 && (uint64_t)timeout_ms * 1000000u < wait)
        wait = (uint64_t)timeout_ms * 1000000u;
    struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000u),
                          .tv_nsec = (long)(wait % 1000000000u)};
    /* GPollFD is struct pollfd on Unix (GLib's g_poll is poll there). */
    ppoll((struct pollfd *)fds, (nfds_t)n, &ts, NULL);
    g_main_context_check(ctx, prio, fds, n);
    g_main_context_dispatch(ctx);
}

static bool gathered(void *arg)
{
    return ((client *)arg)->gathered;
}

/* The relay's certificate fingerprint, from the answer to a throwaway offer. */
static void probe_fingerprint(uint8_t fp[TDM_DTLS_FINGERPRINT_LEN])
{
    tdm_sdp_offer_config oc = {.role = TDM_SDP_ROLE_SUBSCRIBE, .ice_ufrag = "prob",
                               .ice_pwd = "probeprobeprobeprobeprobe", .session_id = 1,
                               .video_pt = PT};
    char offer[4096], token[TDM_TOKEN_MAX_LEN + 1], path[96];
    size_t olen;
    tdm_error err = {{0}};
    if (tdm_sdp_offer_write(&oc, offer, sizeof offer, &olen, &err) != TDM_OK)
        die("offer: %s", err.msg);
    mint("probe", TDM_TOKEN_ROLE_SUBSCRIBE, token, sizeof token);
    static http_reply rep;
    snprintf(path, sizeof path, "/whep/%s", session);
    http("POST", path, token, "application/sdp", offer, &rep);
    if (rep.status != 201)
        die("probe: POST answered %d: %s", rep.status, rep.body);
    tdm_sdp_session *ans = tdm_sdp_new();
    if (tdm_sdp_parse((const uint8_t *)rep.body, rep.body_len, ans, &err) != TDM_OK ||
        !ans->media[0].dtls.has_fingerprint)
        die("probe answer: %s", err.msg);
    memcpy(fp, ans->media[0].dtls.fingerprint, TDM_DTLS_FINGERPRINT_LEN);
    tdm_sdp_free(ans);
    char loc[256];
    snprintf(loc, sizeof loc, "%s", rep.location);
    http("DELETE", loc, token, NULL, NULL, &rep);
    if (rep.status != 200)
        die("probe: DELETE answered %d", rep.status);
}

static void client_connect(client *c, GMainContext *ctx, const uint8_t relay_fp[32])
{
    tdm_error err = {{0}};
    if (tdm_dtls_identity_new(NULL, &c->id, &err) != TDM_OK)
        die("identity: %s", err.msg);
    tdm_ice_config ice;
    tdm_ice_config_init(&ice, ctx, true);
    ice.local_addresses[0] = "127.0.0.1";
    ice.n_local_addresses = 1;
    tdm_peer_config pc;
    /* We offer actpass; the relay answers passive, so we are the DTLS client. */
    tdm_peer_config_init(&pc, &ice, c->id, TDM_DTLS_CLIENT, relay_fp);
    tdm_peer_callbacks cb = {.on_state = on_state, .on_rtp = on_rtp, .on_rtcp = on_rtcp,
                             .on_ice_event = on_ice_event, .user = c};
    if (tdm_peer_new(&pc, &cb, &c->peer, &err) != TDM_OK)
        die("%s: %s", c->name, err.msg);
    tdm_ice *ia = tdm_peer_ice(c->peer);
    if (tdm_ice_gather(ia, &err) != TDM_OK)
        die("%s: gather: %s", c->name, err.msg);
    if (!run_until(ctx, gathered, c, 5000) || c->n_cands == 0)
        die("%s: no candidates", c->name);

    const char *ufrag, *pwd;
    tdm_ice_local_credentials(ia, &ufrag, &pwd);
    tdm_sdp_offer_config oc = {
        .role = c->publish ? TDM_SDP_ROLE_PUBLISH : TDM_SDP_ROLE_SUBSCRIBE,
        .ice_ufrag = ufrag, .ice_pwd = pwd, .session_id = 42, .video_pt = PT,
        .video_ssrc = c->publish ? PUB_SSRC : 0, .cname = c->name,
        .candidates = (const char *const *)c->cands, .n_candidates = c->n_cands,
        .candidates_complete = true};
    memcpy(oc.fingerprint, tdm_dtls_identity_fingerprint(c->id), sizeof oc.fingerprint);
    static char offer[8192];
    size_t olen;
    if (tdm_sdp_offer_write(&oc, offer, sizeof offer, &olen, &err) != TDM_OK)
        die("%s: offer: %s", c->name, err.msg);

    char token[TDM_TOKEN_MAX_LEN + 1], path[96];
    mint(c->name, c->publish ? TDM_TOKEN_ROLE_PUBLISH : TDM_TOKEN_ROLE_SUBSCRIBE, token,
         sizeof token);
    snprintf(path, sizeof path, "/%s/%s", c->publish ? "whip" : "whep", session);
    static http_reply rep;
    http("POST", path, token, "application/sdp", offer, &rep);
    if (rep.status != 201)
        die("%s: POST answered %d: %s", c->name, rep.status, rep.body);

    tdm_sdp_session *ans = tdm_sdp_new();
    if (tdm_sdp_parse((const uint8_t *)rep.body, rep.body_len, ans, &err) != TDM_OK)
        die("%s: answer: %s", c->name, err.msg);
    const tdm_sdp_media *m = &ans->media[0];
    if (!c->publish) {
        if (m->n_ssrcs < 1)
            die("%s: answer has no SSRC", c->name);
        c->relay_ssrc = m->ssrcs[0].ssrc;
    }
    if (tdm_ice_set_remote_credentials(ia, m->ice.ufrag, m->ice.pwd, &err) != TDM_OK)
        die("%s: credentials: %s", c->name, err.msg);
    for (size_t i = 0; i < m->n_candidates; i++) {
        const tdm_sdp_candidate *k = &m->candidates[i];
        if (strcmp(k->address, "127.0.0.1") != 0)
            die("%s: relay candidate off loopback: %s", c->name, k->address);
        char text[256];
        snprintf(text, sizeof text, "candidate:%s %u %s %u %s %u typ host", k->foundation,
                 (unsigned)k->component, k->transport == TDM_SDP_TCP ? "TCP" : "UDP",
                 (unsigned)k->priority, k->address, (unsigned)k->port);
        if (tdm_ice_add_remote_candidate(ia, text, &err) != TDM_OK)
            die("%s: candidate: %s", c->name, err.msg);
    }
    tdm_ice_remote_gathering_done(ia);
    tdm_sdp_free(ans);
}

static void client_free(client *c)
{
    tdm_peer_free(c->peer);
    tdm_dtls_identity_free(c->id);
    for (size_t k = 0; k < c->n_cands; k++)
        free(c->cands[k]);
    memset(c, 0, sizeof *c);
}

typedef struct group {
    client *c;
    int n; /* c[0] publishes, c[1..n-1] subscribe */
} group;

static bool all_connected(void *arg)
{
    group *g = arg;
    for (int i = 0; i < g->n; i++)
        if (g->c[i].state != TDM_PEER_CONNECTED)
            return false;
    return true;
}

static bool all_received(void *arg)
{
    group *g = arg;
    for (int i = 1; i < g->n; i++)
        if (g->c[i].received == 0)
            return false;
    return true;
}

/* One 1200-byte VP8 packet: a keyframe start (RFC 7741 descriptor S=1, key
 * frame tag, start code, 640x360) or a continuation (S=0), with the send
 * time at STAMP_OFF of the payload. Returns the RTP length. */
static size_t make_packet(uint8_t *pkt, bool keyframe, uint32_t index)
{
    static const uint8_t key[] = {0x10, 0x50, 0x2d, 0x00, 0x9d, 0x01,
                                  0x2a, 0x80, 0x02, 0x68, 0x01};
    uint8_t payload[PKT_LEN - 12];
    memset(payload, (int)(index & 0xff), sizeof payload);
    if (keyframe)
        memcpy(payload, key, sizeof key);
    else
        payload[0] = 0x00;
    uint64_t now = tdm_bench_now_ns();
    memcpy(payload + STAMP_OFF, &now, sizeof now);
    tdm_rtp_header h = {.marker = index % 10 == 9, .payload_type = PT, .seq = (uint16_t)index,
                        .timestamp = 1000u + 3000u * (index / 10), .ssrc = PUB_SSRC};
    size_t len;
    if (tdm_rtp_write(&h, payload, sizeof payload, 0, pkt, BUF_CAP - TDM_PEER_MAX_SRTP_OVERHEAD,
                      &len) != TDM_OK)
        die("rtp write");
    return len;
}

typedef struct run_result {
    int n;
    double offered_pub;  /* packets/s the publisher sent */
    double fwd_wall;     /* packets/s the subscribers received, wall clock */
    double relay_cpu;    /* relay CPU seconds during the window and drain */
    double relay_util;   /* relay CPU / wall */
    double self_util;    /* this process's CPU / wall */
    double fwd_per_core; /* received / relay CPU seconds */
    double loss;         /* 1 - received / (sent * n) */
    double relay_out;    /* relay's packets_out counter delta */
    double relay_in_loss; /* 1 - relay's packets_in delta / sent */
    double p50, p99;     /* ms */
    const char *profile;
} run_result;

static run_result relay_run(int n_subs, double fwd_rate)
{
    run_result r = {.n = n_subs};
    snprintf(session, sizeof session, "bench-1x%d", n_subs);
    start_relay();
    GMainContext *ctx = g_main_context_new();
    uint8_t fp[TDM_DTLS_FINGERPRINT_LEN];
    probe_fingerprint(fp);

    static client cl[MAX_SUBS + 1];
    group g = {cl, n_subs + 1};
    for (int i = 0; i < g.n; i++) {
        cl[i].publish = i == 0;
        if (i == 0)
            snprintf(cl[i].name, sizeof cl[i].name, "publisher");
        else
            snprintf(cl[i].name, sizeof cl[i].name, "viewer-%d", i);
    }
    for (int i = 1; i < g.n; i++)
        client_connect(&cl[i], ctx, fp);
    client_connect(&cl[0], ctx, fp);
    if (!run_until(ctx, all_connected, &g, 15000))
        die("1x%d: not every client connected", n_subs);
    r.profile = tdm_srtp_profile_name(tdm_peer_srtp_profile(cl[0].peer));

    /* Keyframe starts until every subscriber has been started. */
    uint8_t pkt[BUF_CAP];
    uint32_t index = 0;
    for (int tries = 0; tries < 300 && !all_received(&g); tries++) {
        size_t len = make_packet(pkt, true, index++);
        tdm_peer_send_rtp(cl[0].peer, pkt, len, sizeof pkt);
        run_until(ctx, all_received, &g, 10);
    }
    if (!all_received(&g))
        die("1x%d: not every subscriber got the keyframe", n_subs);

    double pub_rate = fwd_rate / n_subs;
    hist_init(&run_lat);
    double out0 = relay_metric("tandem_relay_packets_out_total");
    double in0 = relay_metric("tandem_relay_packets_in_total");
    double cpu0 = relay_cpu_s(), self0 = self_cpu_s();
    uint64_t t0 = tdm_bench_now_ns();
    uint64_t t_end = t0 + (uint64_t)(RUN_S * 1e9);
    win_start = t0;
    win_end = t_end;
    uint64_t sent = 0, send_fail = 0;
    if (!g_main_context_acquire(ctx))
        die("cannot acquire the client context");
    for (uint64_t now = t0; now < t_end; now = tdm_bench_now_ns()) {
        uint64_t due = (uint64_t)((double)(now - t0) * pub_rate / 1e9);
        for (int burst = 0; sent < due && burst < 2; burst++) {
            size_t len = make_packet(pkt, false, index++);
            if (tdm_peer_send_rtp(cl[0].peer, pkt, len, sizeof pkt) != TDM_OK)
                send_fail++;
            sent++;
        }
        turn_until(ctx, sent < due ? 0 : t0 + (uint64_t)((double)(sent + 1) * 1e9 / pub_rate));
    }
    /* Drain what is in flight (100 ms). */
    for (uint64_t stop = tdm_bench_now_ns() + 100000000u; tdm_bench_now_ns() < stop;)
        turn_until(ctx, stop);
    g_main_context_release(ctx);
    uint64_t t1 = tdm_bench_now_ns();
    double cpu1 = relay_cpu_s(), self1 = self_cpu_s();
    double out1 = relay_metric("tandem_relay_packets_out_total");
    double in1 = relay_metric("tandem_relay_packets_in_total");
    win_start = win_end = UINT64_MAX;

    uint64_t got = 0;
    for (int i = 1; i < g.n; i++)
        got += cl[i].in_window;
    double wall = (double)(t1 - t0) / 1e9;
    r.offered_pub = (double)sent / RUN_S;
    r.fwd_wall = (double)got / RUN_S;
    r.relay_cpu = cpu1 - cpu0;
    r.relay_util = r.relay_cpu / wall;
    r.self_util = (self1 - self0) / wall;
    r.fwd_per_core = r.relay_cpu > 0 ? (double)got / r.relay_cpu : 0;
    r.loss = sent ? 1.0 - (double)got / ((double)sent * n_subs) : 0;
    r.relay_out = out1 - out0;
    r.relay_in_loss = sent ? 1.0 - (in1 - in0) / (double)sent : 0;
    r.p50 = hist_q_ms(&run_lat, 0.50);
    r.p99 = hist_q_ms(&run_lat, 0.99);
    if (send_fail)
        fprintf(stderr, "bench_relay: 1x%d: %llu sends failed\n", n_subs,
                (unsigned long long)send_fail);
    free(run_lat.b);

    for (int i = 0; i < g.n; i++)
        client_free(&cl[i]);
    for (int i = 0; i < 100 && g_main_context_iteration(ctx, FALSE); i++)
        ;
    g_main_context_unref(ctx);
    stop_relay();
    return r;
}

int main(int argc, char **argv)
{
    double fwd_rate = 0; /* 0: LOAD_OF_CEILING of the measured ceiling */
    relay_path = TDM_RELAY_PATH; /* the relay built beside this benchmark */
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
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1000UL); /* pacing sleeps of tens of us */
    signal(SIGALRM, on_alarm);
    alarm(DEADLINE_S);

    /* Anchor: the ceiling (median of short runs: this machine's noise only
     * ever lowers it, and one stall should not set the offered load), then
     * the paced hop's latency. */
    double parts[ANCHOR_PARTS];
    for (int i = 0; i < ANCHOR_PARTS; i++)
        parts[i] = udp_run(0, ANCHOR_S / ANCHOR_PARTS, NULL);
    double ceiling = tdm_bench_median(parts, ANCHOR_PARTS);
    double c_lo = parts[0], c_hi = parts[ANCHOR_PARTS - 1]; /* sorted by the median */
    hist hop;
    hist_init(&hop);
    udp_run(ANCHOR_PACED_RATE, 1.0, &hop);
    double hop_p50 = hist_q_ms(&hop, 0.50), hop_p99 = hist_q_ms(&hop, 0.99);
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
        die("offered rate %.0f too low (ceiling %.0f)", fwd_rate, ceiling);

    static const int ns[] = {1, 4, 16};
    run_result res[3];
    for (int i = 0; i < 3; i++)
        res[i] = relay_run(ns[i], fwd_rate);

    printf("relay: %.0f forwarded pkts/s offered in total (publisher sends that / N), %.0f s "
           "per N, SRTP %s;\n  fwd/core = packets received by subscribers / relay CPU seconds "
           "(utime+stime, all threads)\n",
           fwd_rate, RUN_S, res[0].profile);
    printf("  %-6s %10s %10s %9s %9s %8s %8s %10s %8s %8s\n", "fanout", "pub pkt/s",
           "fwd pkt/s", "relay CPU", "bench CPU", "in loss", "rx loss", "fwd/core", "p50 ms",
           "p99 ms");
    for (int i = 0; i < 3; i++) {
        const run_result *r = &res[i];
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
    cleanup();
    return 0;
}
