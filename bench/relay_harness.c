/* relay_harness.c: see relay_harness.h. The relay process, HTTP, peers,
 * /proc readings and the paced stream are bench_peers', shared with
 * bench_janus and bench_cluster; this file is the 1 -> N run and its
 * figures. */
#include "relay_harness.h"

#include <glib.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_peers.h"
#include "bench_util.h"

#define ADDR "127.0.0.1" /* the relay's HTTP and ICE, and the clients' ICE */
#define PUB_SSRC 0x5eed0001u
#define PT 96
#define MAGIC 0x52686172u
#define MAX_SUBS TDM_RH_MAX_SUBS
#define HIST_US TDM_RH_HIST_US

_Static_assert(TDM_RH_PKT_LEN == TDM_BP_PKT_LEN && TDM_RH_STAMP_OFF == TDM_BP_STAMP_OFF,
               "relay_harness's packets are bench_peers' stream");

static const char *prog = "bench";
static const char *relay_path;
static tdm_bp_tandem relay; /* pid 0: not running */
static char session[32];

/* --- the relay process --------------------------------------------------- */

void tdm_rh_cleanup(void)
{
    tdm_bp_tandem_stop(&relay);
}

void tdm_rh_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    tdm_rh_cleanup();
    exit(1);
}

/* The whole run is bounded: past the deadline the relay is killed and we exit. */
static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = ": deadline passed, stopping\n";
    ssize_t w = write(2, prog, strlen(prog));
    w = write(2, msg, sizeof msg - 1);
    (void)w;
    if (relay.pid > 0) {
        kill(relay.pid, SIGKILL);
        waitpid(relay.pid, NULL, 0);
    }
    if (relay.secret_path[0])
        unlink(relay.secret_path);
    _exit(1);
}

void tdm_rh_init(const char *name, const char *path, unsigned deadline_s)
{
    prog = name;
    relay_path = path;
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1000UL); /* pacing sleeps of tens of us */
    signal(SIGALRM, on_alarm);
    alarm(deadline_s);
}

/* A counter of the relay's /metrics (summed over its label sets). */
static double relay_metric(const char *name)
{
    double v;
    tdm_error err = {{0}};
    if (tdm_bp_tandem_metric(&relay, name, &v, &err) != TDM_OK)
        tdm_rh_die("metric %s: %s", name, err.msg);
    return v;
}

static double relay_cpu_s(void)
{
    double s = tdm_bp_proc_cpu_s(relay.pid);
    if (s < 0)
        tdm_rh_die("relay process %d gone", (int)relay.pid);
    return s;
}

/* --- latency histogram --------------------------------------------------- */


void tdm_rh_hist_init(tdm_rh_hist *h)
{
    h->b = calloc(HIST_US + 1, sizeof *h->b);
    if (!h->b)
        tdm_rh_die("out of memory");
    h->n = 0;
}

void tdm_rh_hist_add(tdm_rh_hist *h, int64_t ns)
{
    int64_t us = ns < 0 ? 0 : ns / 1000;
    h->b[us > HIST_US ? HIST_US : us]++;
    h->n++;
}

/* The q-quantile in ms (bucket upper edge). */
double tdm_rh_hist_q_ms(const tdm_rh_hist *h, double q)
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

/* --- clients ------------------------------------------------------------- */

typedef struct client {
    tdm_bp_peer p;
    uint32_t relay_ssrc;
    /* Subscriber: packets received, and those sent within the window. */
    uint64_t received, in_window;
    uint64_t foreign;
} client;

/* Where subscribers count: packets stamped in [win_start, win_end). */
static uint64_t win_start = UINT64_MAX, win_end = UINT64_MAX;
static tdm_rh_hist run_lat;

static void on_rtp(void *user, uint8_t *buf, size_t len)
{
    uint64_t now = tdm_bench_now_ns();
    client *c = user;
    uint32_t ssrc;
    uint64_t sent;
    if (!tdm_bp_stream_read(buf, len, MAGIC, &ssrc, &sent) || ssrc != c->relay_ssrc) {
        c->foreign++;
        return;
    }
    c->received++;
    if (sent >= win_start && sent < win_end) {
        c->in_window++;
        tdm_rh_hist_add(&run_lat, (int64_t)(now - sent));
    }
}

static void client_connect(client *c, GMainContext *ctx, bool publish)
{
    tdm_error err = {{0}};
    if (tdm_bp_peer_start(&c->p, ctx, ADDR, true, TDM_DTLS_CLIENT, NULL, &err) != TDM_OK ||
        tdm_bp_tandem_connect(&relay, &c->p, session, publish, PUB_SSRC, PT, &c->relay_ssrc,
                              &err) != TDM_OK)
        tdm_rh_die("%s", err.msg);
}

typedef struct group {
    client *c;
    int n; /* c[0] publishes, c[1..n-1] subscribe */
} group;

static bool all_connected(void *arg)
{
    group *g = arg;
    for (int i = 0; i < g->n; i++)
        if (g->c[i].p.state != TDM_PEER_CONNECTED)
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

tdm_rh_result tdm_rh_run(int n_subs, double fwd_rate, double run_s, const char *const *extra_args)
{
    tdm_rh_result r = {.n = n_subs};
    tdm_error err = {{0}};
    if (n_subs < 1 || n_subs > MAX_SUBS)
        tdm_rh_die("1x%d: 1 to %d subscribers", n_subs, MAX_SUBS);
    snprintf(session, sizeof session, "bench-1x%d", n_subs);
    if (tdm_bp_tandem_start(&relay, relay_path, ADDR, ADDR, extra_args, &err) != TDM_OK)
        tdm_rh_die("%s", err.msg);
    GMainContext *ctx = g_main_context_new();

    static client cl[MAX_SUBS + 1];
    memset(cl, 0, sizeof cl);
    group g = {cl, n_subs + 1};
    for (int i = 0; i < g.n; i++) {
        if (i == 0)
            snprintf(cl[i].p.name, sizeof cl[i].p.name, "publisher");
        else
            snprintf(cl[i].p.name, sizeof cl[i].p.name, "viewer-%d", i);
        cl[i].p.on_rtp = on_rtp;
        cl[i].p.user = &cl[i];
    }
    for (int i = 1; i < g.n; i++)
        client_connect(&cl[i], ctx, false);
    client_connect(&cl[0], ctx, true);
    if (!tdm_bp_run_until(ctx, all_connected, &g, 15000))
        tdm_rh_die("1x%d: not every client connected", n_subs);
    for (int i = 0; i < g.n; i++)
        if (cl[i].p.off_address)
            tdm_rh_die("%s: ICE off %s", cl[i].p.name, ADDR);
    r.profile = tdm_srtp_profile_name(tdm_peer_srtp_profile(cl[0].p.peer));

    tdm_bp_stream s = {.pub = cl[0].p.peer, .ssrc = PUB_SSRC, .pt = PT, .magic = MAGIC};
    if (!tdm_bp_stream_start(&s, ctx, all_received, &g, 300, 10, &err))
        tdm_rh_die("1x%d: %s", n_subs, err.msg);

    double pub_rate = fwd_rate / n_subs;
    tdm_rh_hist_init(&run_lat);
    double out0 = relay_metric("tandem_relay_packets_out_total");
    double in0 = relay_metric("tandem_relay_packets_in_total");
    double rb0 = relay_metric("tandem_relay_recording_bytes_total");
    double rd0 = relay_metric("tandem_relay_recording_drops_total");
    double wc0 = relay_metric("tandem_relay_worker_cpu_seconds_total");
    double cpu0 = relay_cpu_s(), self0 = tdm_bp_self_cpu_s();
    uint64_t t0 = tdm_bench_now_ns();
    uint64_t t_end = t0 + (uint64_t)(run_s * 1e9);
    win_start = t0;
    win_end = t_end;
    if (tdm_bp_stream_paced(&s, ctx, pub_rate, t0, t_end, 100000000u, &err) != TDM_OK)
        tdm_rh_die("1x%d: %s", n_subs, err.msg);
    uint64_t t1 = tdm_bench_now_ns();
    double cpu1 = relay_cpu_s(), self1 = tdm_bp_self_cpu_s();
    double out1 = relay_metric("tandem_relay_packets_out_total");
    double in1 = relay_metric("tandem_relay_packets_in_total");
    r.rec_bytes = relay_metric("tandem_relay_recording_bytes_total") - rb0;
    r.rec_drops = relay_metric("tandem_relay_recording_drops_total") - rd0;
    r.recordings = relay_metric("tandem_relay_recordings");
    r.workers_cpu = relay_metric("tandem_relay_worker_cpu_seconds_total") - wc0;
    win_start = win_end = UINT64_MAX;

    uint64_t got = 0, sent = s.sent;
    for (int i = 1; i < g.n; i++)
        got += cl[i].in_window;
    double wall = (double)(t1 - t0) / 1e9;
    r.offered_pub = (double)sent / run_s;
    r.fwd_wall = (double)got / run_s;
    r.relay_cpu = cpu1 - cpu0;
    r.relay_util = r.relay_cpu / wall;
    r.self_util = (self1 - self0) / wall;
    r.fwd_per_core = r.relay_cpu > 0 ? (double)got / r.relay_cpu : 0;
    r.loss = sent ? 1.0 - (double)got / ((double)sent * n_subs) : 0;
    r.relay_out = out1 - out0;
    r.relay_in_loss = sent ? 1.0 - (in1 - in0) / (double)sent : 0;
    r.p50 = tdm_rh_hist_q_ms(&run_lat, 0.50);
    r.p99 = tdm_rh_hist_q_ms(&run_lat, 0.99);
    if (s.send_fail)
        fprintf(stderr, "%s: 1x%d: %llu sends failed\n", prog, n_subs,
                (unsigned long long)s.send_fail);
    free(run_lat.b);

    for (int i = 0; i < g.n; i++)
        tdm_bp_peer_free(&cl[i].p);
    for (int i = 0; i < 100 && g_main_context_iteration(ctx, FALSE); i++)
        ;
    g_main_context_unref(ctx);
    tdm_bp_tandem_stop(&relay);
    return r;
}
