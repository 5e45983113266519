/* bench_cluster: how many sessions one real tandem-relay carries on this
 * machine with zero frames lost at the viewers.
 *
 * A session is 1 publisher + 2 viewers (WHIP/WHEP, real ICE + DTLS-SRTP:
 * bench_peers.h), the publisher sending a synthetic VP8 stream at 30 frames/s
 * and 1.5 Mbit/s: 1230-byte RTP packets, 5 per frame, a 10-packet keyframe
 * every 60 frames (2 s). Every packet carries, in its payload, the session,
 * the frame number, its index in the frame, the frame's packet count and the
 * frame's send time, so a viewer knows exactly which frames it got whole and
 * that nothing from another session reached it. Sessions are staggered over
 * the frame interval; a frame goes out as one burst, as an encoder's does.
 * The peers run on --threads generator threads (default 2, each with its own
 * GMainContext and a share of the sessions); the relay is a separate process
 * with ICE on 127.0.0.1 only. A frame is lost when a viewer did not get every
 * packet of it (no NACK: on loopback, any loss is overload).
 *
 * Search: N = 1, 2, 4, ... (a fresh relay per step, --step-seconds each) until
 * a step fails, then bisection between the last good and the first bad N,
 * then a confirmation run of --duration seconds (default 60) at the best N
 * (stepping down 10% while it fails). A step fails when a viewer lost a
 * frame, when the relay refused a session (its session cap), or when this
 * generator sent under 98% of its schedule (starved of CPU: frames over
 * 100 ms late are skipped, as an encoder would drop them, not burst out), in
 * which case the step says nothing about the relay and the result is a lower
 * bound. The machine's load average is shown per step: this is a shared
 * 2-core machine and the relay and the generator compete with everything
 * else on it. Reported from the confirmation run:
 * CPU per session (relay utime+stime / wall / N), memory per session ((relay
 * RSS under load - RSS of the idle relay) / N) and the relay's RSS once a
 * second (flat = no leak). The generator's own CPU and how late it sent are
 * shown so a step limited by this process rather than the relay is visible.
 *
 * BENCH lines:
 *   cluster.max_sessions     sessions, anchor one_core_linear = 1 / (relay
 *                            CPU share of one session at N=1): the sessions
 *                            one core would carry if each cost what the first
 *                            did. ratio > 1: more than one core's worth.
 *   cluster.cpu_per_session  % of one core at max_sessions, anchor the same
 *                            at N=1 (ratio < 1: per-session cost amortises)
 *   cluster.rss_per_session  KiB, anchor the idle relay's RSS
 *   cluster.rss_drift        KiB the RSS grew from 10 s into the confirmation
 *                            run to its end, anchor rss_per_session (ratio
 *                            well under 1: no leak worth one session)
 *
 * --quick: N=2 for 3 s, no search; exits 1 unless every viewer got every
 * frame of the window. --sessions N: one run at N, no search.
 * BENCH_CLUSTER_DEBUG=1 in the environment lists every lost frame on stderr.
 * The benchmark runs in a network namespace of its own when it can (root),
 * so its UDP drop counters (/proc/net/snmp) count only its own traffic. */
#define _GNU_SOURCE
#include <glib.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_peers.h"
#include "bench_util.h"
#include "tdm_rtp.h"

#ifndef TDM_RELAY_PATH
#define TDM_RELAY_PATH "tandem-relay"
#endif

#define ADDR "127.0.0.1"
#define PT 96
#define FPS 30
#define PKT_LEN 1230 /* 5.083 packets/frame on average x 30 x 1230 x 8 = 1.5 Mbit/s */
#define DELTA_PKTS 5
#define KEY_PKTS 10
#define KEY_EVERY 60
#define BUF_CAP 1600
#define INFO_OFF 16 /* after the VP8 descriptor and keyframe header */
#define MAGIC 0x436c5553u
#define MAX_SESSIONS 1024
#define WARMUP_S 1.0
#define DEADLINE_S 1800

static const char *relay_path = TDM_RELAY_PATH;
static pid_t relay_pid = -1;
static tdm_bp_tandem *current_relay; /* to stop it and remove its secret on the way out */

__attribute__((format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_cluster: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (current_relay)
        tdm_bp_tandem_stop(current_relay);
    exit(1);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "bench_cluster: deadline passed, stopping\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    if (relay_pid > 0)
        kill(relay_pid, SIGKILL);
    if (current_relay)
        unlink(current_relay->secret_path);
    _exit(1);
}

/* What every packet says about itself (payload bytes INFO_OFF..). */
typedef struct info {
    uint32_t magic, session, frame;
    uint16_t idx, count;
    uint64_t frame_time; /* scheduled send time of the frame, ns */
} info;

typedef struct viewer {
    tdm_bp_peer p;
    uint32_t session;
    uint64_t received, foreign;
    uint32_t first_frame;  /* the window's frames: first_frame .. +cap */
    uint8_t *counts;       /* packets got per frame of the window */
    uint32_t cap;
    uint64_t over;          /* more packets of a frame than it has */
} viewer;

typedef struct session {
    tdm_bp_peer pub;
    viewer v[2];
    uint32_t ssrc;
    uint16_t seq;
    uint32_t frame;       /* next frame to send */
    uint64_t next_ns;     /* its scheduled time */
    uint32_t win_first;   /* first frame of the window */
    uint32_t win_frames;  /* frames sent in the window */
    uint8_t *sent_map;    /* per frame of the window: 1 sent, 0 skipped */
    uint32_t cap;
    bool in_window;
} session;

static uint64_t period_ns = 1000000000u / FPS;

static uint16_t frame_packets(uint32_t f)
{
    return f % KEY_EVERY == 0 ? KEY_PKTS : DELTA_PKTS;
}

static void viewer_rtp(void *user, uint8_t *buf, size_t len)
{
    viewer *v = user;
    tdm_rtp_packet pk;
    info in;
    if (tdm_rtp_parse(buf, len, &pk, NULL) != TDM_OK || pk.payload_len < INFO_OFF + sizeof in) {
        v->foreign++;
        return;
    }
    memcpy(&in, pk.payload + INFO_OFF, sizeof in);
    if (in.magic != MAGIC || in.session != v->session) {
        v->foreign++;
        return;
    }
    v->received++;
    if (in.frame < v->first_frame) /* before the window (UINT32_MAX: not open yet) */
        return;
    uint32_t i = in.frame - v->first_frame;
    if (i >= v->cap)
        return;
    if (v->counts[i] >= in.count)
        v->over++;
    else
        v->counts[i]++;
}

/* Sends frame s->frame of session s as one burst. */
static void send_frame(session *s, uint32_t sid, uint64_t *sent)
{
    static const uint8_t key[] = {0x10, 0x50, 0x2d, 0x00, 0x9d, 0x01,
                                  0x2a, 0x80, 0x02, 0x68, 0x01};
    uint16_t count = frame_packets(s->frame);
    for (uint16_t k = 0; k < count; k++) {
        uint8_t payload[PKT_LEN - 12], pkt[BUF_CAP];
        memset(payload, (int)(s->frame & 0xff), sizeof payload);
        if (k == 0 && count == KEY_PKTS)
            memcpy(payload, key, sizeof key);
        else if (k == 0) {
            payload[0] = 0x10; /* descriptor: S, start of the frame's partition */
            payload[1] = 0x01; /* VP8 frame tag with P=1: an interframe */
        } else {
            payload[0] = 0x00;
        }
        info in = {.magic = MAGIC, .session = sid, .frame = s->frame, .idx = k, .count = count,
                   .frame_time = s->next_ns};
        memcpy(payload + INFO_OFF, &in, sizeof in);
        tdm_rtp_header h = {.marker = k + 1 == count, .payload_type = PT, .seq = s->seq++,
                            .timestamp = 3000u * s->frame, .ssrc = s->ssrc};
        size_t len;
        if (tdm_rtp_write(&h, payload, sizeof payload, 0, pkt,
                          BUF_CAP - TDM_PEER_MAX_SRTP_OVERHEAD, &len) != TDM_OK)
            die("rtp write");
        tdm_peer_send_rtp(s->pub.peer, pkt, len, sizeof pkt);
        (*sent)++;
    }
    if (s->in_window) {
        s->win_frames++;
        if (s->frame - s->win_first < s->cap)
            s->sent_map[s->frame - s->win_first] = 1;
    }
    s->frame++;
    s->next_ns += period_ns;
}

/* A frame more than this late is skipped, as a real-time encoder drops
 * frames it cannot deliver in time, rather than sent in a catch-up burst
 * that would say more about this process's stall than about the relay. */
#define SKIP_LATE_NS 100000000u

static void skip_frame(session *s)
{
    s->frame++;
    s->next_ns += period_ns;
}

typedef struct step {
    int n;
    double seconds;
    uint64_t frames_sent;   /* per viewer, summed over sessions' windows x 2 */
    uint64_t frames_lost;   /* over all viewers */
    uint64_t foreign, over;
    double relay_util;      /* relay CPU / wall */
    double cpu_per_session; /* % of one core */
    double gen_util;        /* this process's CPU / wall */
    double late_ms;         /* worst lateness of a frame send */
    long rss_idle, rss_load; /* KiB */
    double rss_per_session; /* KiB */
    double relay_in, relay_out, pkts_sent; /* counters over warm-up and window */
    long long rcvbuf_drops; /* kernel UDP receive-buffer drops in the window (this netns) */
    long rss_samples[4096];
    int n_rss;
    bool full;         /* the relay refused a session: its cap */
    double sched_frac; /* frames sent / frames scheduled in the window */
    double load;       /* 1-minute load average after the step */
} step;

/* One generator thread: its own GMainContext and a slice of the sessions.
 * The main thread only sets up the relay, reads counters and samples RSS;
 * on a busy shared machine one thread for every peer falls behind first. */
typedef struct gen {
    session *ss;
    int first, count, n_total;
    tdm_bp_tandem *t;
    pthread_barrier_t *barrier;
    const volatile uint64_t *t0; /* set by the main thread between the barriers */
    double seconds;
    uint64_t sent;
    double late_ms;
    bool refused, failed;
    tdm_error err;
} gen;

typedef struct gen_set {
    session *ss;
    int first, count;
} gen_set;

static bool set_connected(void *arg)
{
    gen_set *g = arg;
    for (int i = g->first; i < g->first + g->count; i++)
        if (g->ss[i].pub.state != TDM_PEER_CONNECTED ||
            g->ss[i].v[0].p.state != TDM_PEER_CONNECTED ||
            g->ss[i].v[1].p.state != TDM_PEER_CONNECTED)
            return false;
    return true;
}

static tdm_status connect_session(gen *g, GMainContext *ctx, int i)
{
    session *s = &g->ss[i];
    char name[32];
    snprintf(name, sizeof name, "cl-%d", i);
    for (int k = 0; k < 2; k++)
        if (tdm_bp_peer_start(&s->v[k].p, ctx, ADDR, true, TDM_DTLS_CLIENT, NULL, &g->err) !=
                TDM_OK ||
            tdm_bp_tandem_connect(g->t, &s->v[k].p, name, false, 0, PT, NULL, &g->err) != TDM_OK)
            return TDM_ERR_IO;
    if (tdm_bp_peer_start(&s->pub, ctx, ADDR, true, TDM_DTLS_CLIENT, NULL, &g->err) != TDM_OK ||
        tdm_bp_tandem_connect(g->t, &s->pub, name, true, s->ssrc, PT, NULL, &g->err) != TDM_OK)
        return TDM_ERR_IO;
    return TDM_OK;
}

static void *gen_main(void *arg)
{
    gen *g = arg;
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    gen_set set = {g->ss, g->first, g->count};
    for (int i = g->first; i < g->first + g->count && !g->refused && !g->failed; i++) {
        if (connect_session(g, ctx, i) != TDM_OK) {
            /* The relay's own session cap (503 "relay is full") ends a search. */
            if (strstr(g->err.msg, "relay is full"))
                g->refused = true;
            else
                g->failed = true;
        }
        /* Let earlier peers' ICE and DTLS progress while we set up more. */
        for (int k = 0; k < 50 && g_main_context_iteration(ctx, FALSE); k++)
            ;
    }
    if (!g->refused && !g->failed &&
        !tdm_bp_run_until(ctx, set_connected, &set, 30000 + 100 * (unsigned)g->n_total)) {
        snprintf(g->err.msg, sizeof g->err.msg, "not every peer connected");
        g->failed = true;
    }
    pthread_barrier_wait(g->barrier); /* everyone connected (or not) */
    pthread_barrier_wait(g->barrier); /* the main thread set t0 */
    uint64_t t0 = *g->t0;
    uint64_t t_win = t0 + (uint64_t)(WARMUP_S * 1e9);
    uint64_t t_end = t0 ? t_win + (uint64_t)(g->seconds * 1e9) : 0; /* 0: abandon */
    for (int i = g->first; i < g->first + g->count; i++)
        g->ss[i].next_ns = t0 + period_ns * (uint64_t)i / (uint64_t)g->n_total;
    bool windowed = false;
    for (uint64_t now = tdm_bench_now_ns(); now < t_end; now = tdm_bench_now_ns()) {
        if (!windowed && now >= t_win) {
            windowed = true;
            for (int i = g->first; i < g->first + g->count; i++) {
                session *s = &g->ss[i];
                s->in_window = true;
                s->win_first = s->v[0].first_frame = s->v[1].first_frame = s->frame;
            }
        }
        uint64_t next = UINT64_MAX;
        for (int i = g->first; i < g->first + g->count; i++) {
            session *s = &g->ss[i];
            if (s->next_ns <= now && s->next_ns < t_end) {
                double late = (double)(now - s->next_ns) / 1e6;
                if (windowed && late > g->late_ms)
                    g->late_ms = late;
                while (s->next_ns + SKIP_LATE_NS <= now && s->next_ns < t_end)
                    skip_frame(s);
            }
            if (s->next_ns <= now && s->next_ns < t_end)
                send_frame(s, (uint32_t)i, &g->sent);
            if (s->next_ns < next)
                next = s->next_ns;
        }
        if (!windowed && next > t_win)
            next = t_win;
        if (tdm_bp_turn_until(ctx, next < t_end ? next : t_end, &g->err) != TDM_OK) {
            g->failed = true;
            break;
        }
    }
    /* What is still in flight. */
    tdm_error ignored;
    for (uint64_t stop = tdm_bench_now_ns() + 300000000u; t_end && tdm_bench_now_ns() < stop;)
        tdm_bp_turn_until(ctx, stop, &ignored);
    pthread_barrier_wait(g->barrier); /* the main thread reads the counters */
    pthread_barrier_wait(g->barrier); /* ... and has read them */
    for (int i = g->first; i < g->first + g->count; i++) {
        tdm_bp_peer_free(&g->ss[i].pub);
        tdm_bp_peer_free(&g->ss[i].v[0].p);
        tdm_bp_peer_free(&g->ss[i].v[1].p);
    }
    for (int i = 0; i < 500 && g_main_context_iteration(ctx, FALSE); i++)
        ;
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
    return NULL;
}

static int n_threads = 2;

static double wall_s(uint64_t from)
{
    return (double)(tdm_bench_now_ns() - from) / 1e9;
}

static void run_step(step *st, int n, double seconds, bool sample_rss)
{
    memset(st, 0, sizeof *st);
    st->n = n;
    st->seconds = seconds;
    tdm_error err = {{0}};
    tdm_bp_tandem t;
    if (tdm_bp_tandem_start(&t, relay_path, ADDR, ADDR, NULL, &err) != TDM_OK)
        die("relay: %s", err.msg);
    relay_pid = t.pid;
    current_relay = &t;
    usleep(200000);
    st->rss_idle = tdm_bp_proc_rss_kb(t.pid);
    session *ss = calloc((size_t)n, sizeof *ss);
    if (!ss)
        die("out of memory");
    uint32_t cap = (uint32_t)((seconds + WARMUP_S + 5) * FPS);
    for (int i = 0; i < n; i++) {
        session *s = &ss[i];
        s->ssrc = 0x10000000u + (uint32_t)i;
        s->cap = cap;
        s->sent_map = calloc(cap, 1);
        snprintf(s->pub.name, sizeof s->pub.name, "s%d-publisher", i);
        for (int k = 0; k < 2; k++) {
            viewer *v = &s->v[k];
            snprintf(v->p.name, sizeof v->p.name, "s%d-viewer%d", i, k + 1);
            v->p.on_rtp = viewer_rtp;
            v->p.user = v;
            v->session = (uint32_t)i;
            v->first_frame = UINT32_MAX;
            v->cap = cap;
            v->counts = calloc(cap, 1);
            if (!v->counts || !s->sent_map)
                die("out of memory");
        }
    }
    int nt = n < n_threads ? n : n_threads;
    gen g[16];
    pthread_t th[16];
    pthread_barrier_t barrier;
    volatile uint64_t t0 = 0;
    pthread_barrier_init(&barrier, NULL, (unsigned)nt + 1);
    for (int k = 0; k < nt; k++) {
        int first = n * k / nt, last = n * (k + 1) / nt;
        g[k] = (gen){.ss = ss, .first = first, .count = last - first, .n_total = n, .t = &t,
                     .barrier = &barrier, .t0 = &t0, .seconds = seconds};
        if (pthread_create(&th[k], NULL, gen_main, &g[k]) != 0)
            die("pthread_create");
    }
    pthread_barrier_wait(&barrier); /* all connected, or refused, or failed */
    bool go = true;
    for (int k = 0; k < nt; k++) {
        if (g[k].failed)
            die("N=%d: %s", n, g[k].err.msg);
        if (g[k].refused)
            go = false;
    }
    /* The relay's counters over the whole stream (warm-up included). */
    double cpu0 = 0, self0 = 0, in0 = 0, out0 = 0, in1 = 0, out1 = 0;
    if (go && (tdm_bp_tandem_metric(&t, "tandem_relay_packets_in_total", &in0, &err) != TDM_OK ||
               tdm_bp_tandem_metric(&t, "tandem_relay_packets_out_total", &out0, &err) != TDM_OK))
        die("metrics: %s", err.msg);
    uint64_t start = tdm_bench_now_ns() + 20000000u; /* every thread awake by then */
    t0 = go ? start : 0;
    pthread_barrier_wait(&barrier);
    if (go) {
        /* Warm-up (frame 0 is a keyframe, so the viewers start at once),
         * then the window: every frame scheduled in it counts. */
        uint64_t t_win = start + (uint64_t)(WARMUP_S * 1e9);
        uint64_t t_end = t_win + (uint64_t)(seconds * 1e9);
        while (tdm_bench_now_ns() < t_win)
            usleep(1000);
        cpu0 = tdm_bp_proc_cpu_s(t.pid);
        self0 = tdm_bp_self_cpu_s();
        st->rcvbuf_drops = -tdm_bp_udp_rcvbuf_errors();
        for (uint64_t next = t_win + 1000000000u; tdm_bench_now_ns() < t_end; usleep(20000))
            if (sample_rss && tdm_bench_now_ns() >= next && st->n_rss < 4096) {
                st->rss_samples[st->n_rss++] = tdm_bp_proc_rss_kb(t.pid);
                next += 1000000000u;
            }
    }
    uint64_t w0 = tdm_bench_now_ns();
    pthread_barrier_wait(&barrier); /* the generators drained */
    double wall = seconds + wall_s(w0);
    if (go) {
        st->rcvbuf_drops += tdm_bp_udp_rcvbuf_errors();
        double cpu1 = tdm_bp_proc_cpu_s(t.pid), self1 = tdm_bp_self_cpu_s();
        st->rss_load = tdm_bp_proc_rss_kb(t.pid);
        if (tdm_bp_tandem_metric(&t, "tandem_relay_packets_in_total", &in1, &err) != TDM_OK ||
            tdm_bp_tandem_metric(&t, "tandem_relay_packets_out_total", &out1, &err) != TDM_OK)
            die("metrics: %s", err.msg);
        st->relay_util = (cpu1 - cpu0) / wall;
        st->gen_util = (self1 - self0) / wall;
    }
    pthread_barrier_wait(&barrier);
    for (int k = 0; k < nt; k++) {
        pthread_join(th[k], NULL);
        st->pkts_sent += (double)g[k].sent;
        if (g[k].late_ms > st->late_ms)
            st->late_ms = g[k].late_ms;
    }
    pthread_barrier_destroy(&barrier);
    st->full = !go;
    st->cpu_per_session = 100.0 * st->relay_util / n;
    st->rss_per_session = (double)(st->rss_load - st->rss_idle) / n;
    st->relay_in = in1 - in0;
    st->relay_out = out1 - out0;
    for (int i = 0; go && i < n; i++) {
        session *s = &ss[i];
        for (int k = 0; k < 2; k++) {
            viewer *v = &s->v[k];
            st->frames_sent += s->win_frames;
            for (uint32_t f = 0; f < s->frame - s->win_first && f < v->cap; f++)
                if (s->sent_map[f] && v->counts[f] != frame_packets(s->win_first + f)) {
                    st->frames_lost++;
                    if (getenv("BENCH_CLUSTER_DEBUG"))
                        fprintf(stderr, "lost: session %d viewer %d frame %u (%u of %u)\n", i,
                                k, s->win_first + f, v->counts[f],
                                frame_packets(s->win_first + f));
                }
            st->foreign += v->foreign;
            st->over += v->over;
        }
    }
    if (go)
        st->sched_frac = (double)st->frames_sent / 2 / ((double)n * seconds * FPS);
    FILE *la = fopen("/proc/loadavg", "r");
    if (!la || fscanf(la, "%lf", &st->load) != 1)
        st->load = -1;
    if (la)
        fclose(la);
    for (int i = 0; i < n; i++) {
        free(ss[i].v[0].counts);
        free(ss[i].v[1].counts);
        free(ss[i].sent_map);
    }
    free(ss);
    tdm_bp_tandem_stop(&t);
    relay_pid = -1;
    current_relay = NULL;
}

static void print_header(void)
{
    printf("  %5s %6s %10s %8s %9s %9s %9s %9s %9s %8s %8s %8s %9s %8s %7s %5s  %s\n", "N", "secs", "frames",
           "lost", "relay CPU", "CPU/sess", "RSS idle", "RSS load", "RSS/sess", "relay in",
           "rel out", "rcvbuf", "bench CPU", "late ms", "sched", "load", "verdict");
    fflush(stdout);
}

static const char *step_verdict(const step *s);

static void print_step(const step *s)
{
    /* relay out as a fraction of what 2 viewers per packet in would need */
    double out_frac = s->relay_in > 0 ? s->relay_out / (2 * s->relay_in) : 0;
    double in_frac = s->pkts_sent > 0 ? s->relay_in / s->pkts_sent : 0;
    if (s->full) {
        printf("  %5d  FULL: the relay refused a session (503 \"relay is full\": its cap)\n", s->n);
        fflush(stdout);
        return;
    }
    printf("  %5d %6.0f %10llu %8llu %8.1f%% %8.2f%% %8ldK %8ldK %8.0fK %7.2f%% %7.2f%% %8lld "
           "%8.0f%% %8.1f %6.1f%% %5.1f  %s\n",
           s->n, s->seconds, (unsigned long long)s->frames_sent,
           (unsigned long long)s->frames_lost, 100 * s->relay_util, s->cpu_per_session,
           s->rss_idle, s->rss_load, s->rss_per_session, 100 * in_frac, 100 * out_frac,
           s->rcvbuf_drops, 100 * s->gen_util, s->late_ms, 100 * s->sched_frac, s->load,
           step_verdict(s));
    fflush(stdout);
}

/* Below this share of its schedule, the generator (this process) could not
 * offer the load: the step says nothing about the relay. */
#define MIN_SCHED_FRAC 0.98

static bool step_ok(const step *s)
{
    return !s->full && s->frames_lost == 0 && s->foreign == 0 && s->over == 0 &&
           s->frames_sent > 0 && s->sched_frac >= MIN_SCHED_FRAC;
}

static const char *step_verdict(const step *s)
{
    if (s->full)
        return "FULL";
    if (s->foreign || s->over)
        return "WRONG";
    if (s->frames_lost)
        return "LOST";
    if (s->sched_frac < MIN_SCHED_FRAC)
        return "GEN";
    return "ok";
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--quick] [--duration S] [--step-seconds S] [--max N] [--sessions N]\n"
            "          [--threads T]\n"
            "          [PATH-TO-tandem-relay]\n"
            "  --duration: the confirmation run at the best N, seconds [60]\n"
            "  --step-seconds: each step of the search [10]\n"
            "  --max: the most sessions tried [%d]\n"
            "  --sessions: one run at N sessions for --duration, no search\n"
            "  --threads: generator threads, each with a share of the sessions [2]\n"
            "  --quick: N=2 for 3 s; exit 1 unless every viewer got every frame\n",
            argv0, MAX_SESSIONS);
}

int main(int argc, char **argv)
{
    double duration = 60, step_s = 10;
    int max_n = MAX_SESSIONS, fixed_n = 0;
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc)
            duration = atof(argv[++i]);
        else if (strcmp(argv[i], "--step-seconds") == 0 && i + 1 < argc)
            step_s = atof(argv[++i]);
        else if (strcmp(argv[i], "--max") == 0 && i + 1 < argc)
            max_n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--sessions") == 0 && i + 1 < argc)
            fixed_n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            n_threads = atoi(argv[++i]);
        else if (argv[i][0] != '-')
            relay_path = argv[i];
        else {
            usage(argv[0]);
            return 2;
        }
    }
    if (n_threads < 1 || n_threads > 16 || duration <= 0 || step_s <= 0 || max_n < 1 || max_n > MAX_SESSIONS || fixed_n < 0 ||
        fixed_n > MAX_SESSIONS) {
        usage(argv[0]);
        return 2;
    }
    if (access(relay_path, X_OK) != 0) {
        fprintf(stderr, "bench_cluster: no relay at %s\n", relay_path);
        return 1;
    }
    tdm_error err = {{0}};
    /* A private namespace of our own (before any thread): its loopback and
     * UDP counters carry only this benchmark's traffic. */
    if (tdm_bp_netns_enter("10.97.0.1", "10.97.0.2", &err) != TDM_OK)
        fprintf(stderr, "bench_cluster: %s; staying on the host's loopback\n", err.msg);
    /* 3 sockets per session here and in the relay (which inherits this). */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm(DEADLINE_S);
    prctl(PR_SET_TIMERSLACK, 1000UL);
    static step s1, cur, best;

    printf("sessions of 1 publisher + 2 viewers, %d fps, %.2f Mbit/s (1230-byte RTP, %d pkts/frame,"
           " %d-pkt keyframe every %d), one tandem-relay, ICE on %s\n",
           FPS, (double)PKT_LEN * 8 * FPS * ((KEY_PKTS + (KEY_EVERY - 1) * DELTA_PKTS) / (double)KEY_EVERY) / 1e6,
           DELTA_PKTS, KEY_PKTS, KEY_EVERY, ADDR);
    printf("lost = frames some viewer did not get whole; relay in = its packets_in / packets "
           "sent;\nrel out = its packets_out / (2 x its packets_in); rcvbuf = datagrams the kernel "
           "dropped on a full\nUDP receive buffer (relay's or a viewer's); late = worst lateness "
           "of a frame send by this generator;\nsched = frames sent / frames scheduled (a frame "
           "over 100 ms late is skipped, as an encoder\nwould, not sent in a burst); load = the "
           "machine's 1-minute load average after the step; "
           "verdict: ok, LOST (a viewer missed a frame), GEN (this\ngenerator fell below "
           "98%% of its schedule: the step says nothing about the relay), FULL (the relay's\n"
           "session cap), WRONG (a viewer got another session's or duplicate packets)\n");
    print_header();
    if (quick || fixed_n) {
        int n = quick ? 2 : fixed_n;
        run_step(&cur, n, quick ? 3 : duration, !quick);
        print_step(&cur);
        if (quick) {
            if (!step_ok(&cur)) {
                fprintf(stderr, "bench_cluster: quick: %llu of %llu frames lost, %llu foreign\n",
                        (unsigned long long)cur.frames_lost, (unsigned long long)cur.frames_sent,
                        (unsigned long long)cur.foreign);
                return 1;
            }
            printf("quick: every viewer got every frame (%llu frames)\n",
                   (unsigned long long)cur.frames_sent);
        }
        return 0;
    }

    /* The search. */
    run_step(&s1, 1, step_s, false);
    print_step(&s1);
    if (!step_ok(&s1))
        die("N=1 already fails (%s)", step_verdict(&s1));
    int good = 1, bad = 0;
    char limit[8] = "";
    for (int n = 2; n <= max_n; n *= 2) {
        run_step(&cur, n, step_s, false);
        print_step(&cur);
        if (!step_ok(&cur)) {
            bad = n;
            snprintf(limit, sizeof limit, "%s", step_verdict(&cur));
            break;
        }
        good = n;
    }
    while (bad && bad - good > (good / 8 > 1 ? good / 8 : 1)) {
        int mid = (good + bad) / 2;
        run_step(&cur, mid, step_s, false);
        print_step(&cur);
        if (step_ok(&cur)) {
            good = mid;
        } else {
            bad = mid;
            snprintf(limit, sizeof limit, "%s", step_verdict(&cur));
        }
    }
    /* Confirmation at full duration, stepping down while it loses frames. */
    int n = good;
    for (int attempt = 0; attempt < 4; attempt++) {
        printf("confirmation run: N=%d for %.0f s\n", n, duration);
        print_header();
        run_step(&best, n, duration, true);
        print_step(&best);
        if (step_ok(&best))
            break;
        snprintf(limit, sizeof limit, "%s", step_verdict(&best));
        if (n == 1)
            die("N=1 fails over %.0f s (%s)", duration, limit);
        n = n * 9 / 10 < n - 1 ? n * 9 / 10 : n - 1;
    }
    if (!step_ok(&best))
        die("no N held for %.0f s", duration);

    printf("relay RSS over the confirmation run (KiB, one sample a second):\n ");
    for (int i = 0; i < best.n_rss; i++)
        printf(" %ld%s", best.rss_samples[i], (i + 1) % 15 == 0 ? "\n " : "");
    printf("\n");
    long rss_10 = best.n_rss > 10 ? best.rss_samples[9] : best.rss_samples[0];
    long rss_last = best.n_rss ? best.rss_samples[best.n_rss - 1] : best.rss_load;
    double drift = (double)(rss_last - rss_10);
    const char *why = !limit[0]                     ? "the --max cap was reached"
                      : strcmp(limit, "LOST") == 0  ? "more lost frames at a viewer"
                      : strcmp(limit, "FULL") == 0  ? "more hit the relay's session cap"
                      : strcmp(limit, "GEN") == 0   ? "more and this generator fell behind: "
                                                      "a lower bound for the relay"
                                                    : "more got wrong packets";
    printf("max sessions with zero frames lost: %d (%s); RSS drift from 10 s to the end: %.0f KiB\n",
           best.n, why, drift);
    fflush(stdout);

    double one_core = s1.relay_util > 0 ? 1.0 / s1.relay_util : 0;
    tdm_bench_line("cluster.max_sessions", best.n, "sessions", "one_core_linear", one_core);
    tdm_bench_line("cluster.cpu_per_session", best.cpu_per_session, "%core", "1x1",
                   s1.cpu_per_session);
    tdm_bench_line("cluster.rss_per_session", best.rss_per_session, "KiB", "relay_idle_rss",
                   (double)best.rss_idle);
    tdm_bench_line("cluster.rss_drift", drift, "KiB", "rss_per_session", best.rss_per_session);
    return 0;
}
