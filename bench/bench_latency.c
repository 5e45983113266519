/* bench_latency: glass-to-glass latency of a live session, with real
 * processes: tandem-share (synthetic desktop) -> tandem-relay ->
 * tandem-view, at 1920x1080 by default.
 *
 * What is measured. The synthetic desktop stamps each frame with its number
 * and the CLOCK_MONOTONIC time at which it was captured (tdm_stamp.h). The
 * view decodes every frame and writes it out as Y4M; here that output is a
 * FIFO, read as the frames come: the moment a frame's FRAME marker arrives
 * is the moment the view had it decoded (it writes right after decoding),
 * and the stamp read from the frame's luma gives its capture time. So one
 * frame's latency is capture -> convert -> encode -> packetize -> SRTP ->
 * relay (decrypt, forward, encrypt) -> view (assemble, decode) -> here.
 * All processes share one clock (one machine; network namespaces do not
 * change CLOCK_MONOTONIC). tandem-view's own per-second average and
 * maximum are printed beside it as a cross-check.
 *
 * Links. `loopback`: all three programs in one network namespace that
 * has only its loopback up (127.0.0.1). `delay40`: the relay and the
 * sharer in one namespace, the view in another joined by a veth pair, and
 * every UDP packet into or out of the view's namespace delayed by 40 ms
 * (tools/tandem-netdelay through an NFQUEUE, as the lossy view test does);
 * the figures subtract the 40 ms that the media's one way gains. Both need
 * root (ip netns); without it the loopback run uses the machine's
 * 127.0.0.1 and the delayed one is skipped.
 *
 * Anchor: the capture interval, read from the stamps of the frames
 * measured (p50; 33.3 ms at 30 fps). A frame that reaches the viewer
 * within one interval is on screen before the next one is captured: a
 * ratio below 1 means the viewer is less than a frame behind. For scale
 * the table also shows plain libvpx's own work for a frame of the same
 * scenario (libyuv ARGBToI420, encoding with a browser's screen-share
 * settings, decoding; p50, in process, before the sessions): the part of
 * the latency no transport can remove. On a shared machine both latency
 * and that figure move with the load (nacks and plis are printed to tell
 * a loss repair or a keyframe from scheduling).
 *
 * The first --skip frames the view decodes (default 60: the opening
 * keyframe, the sharer's settling after it, ICE and DTLS just done) are
 * not counted.
 *
 * Input latency: a rep's WebSocket to the XTEST injection on the customer's
 * display. tandem-signal (a rep account, a session), tandem-relay and
 * tandem-share joined with the customer's join code alone, capturing an
 * Xvfb display and injecting into it, all in a network namespace. This
 * process is the rep: it sends pointer and key events 20 ms apart and
 * notes when each left; tandem-share's --input-log stamps each event after
 * its injection was flushed to the X server, in the order received. The
 * anchor is the round trip of the rep's own socket to tandem-signal
 * ({"type":"ping"} -> pong) measured between the events: an event goes
 * rep -> service -> customer, about that round trip plus the filter, the
 * audit and XTEST.
 *
 * Nothing here asserts; it prints a table and the lines
 * BENCH latency.g2g.<scenario>.<link>.p95 (ms) and latency.input.p99 (ms). */
#define _GNU_SOURCE /* F_SETPIPE_SZ, setns */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <libyuv.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "signal_link.h"
#include "tdm_stamp.h"
#include "tdm_synthetic.h"
#include "tdm_video_decoder.h"
#include "tdm_video_encoder.h"

#ifndef TDM_SHARE_PATH
#define TDM_SHARE_PATH "tandem-share"
#endif
#ifndef TDM_VIEW_PATH
#define TDM_VIEW_PATH "tandem-view"
#endif
#ifndef TDM_RELAY_PATH
#define TDM_RELAY_PATH "tandem-relay"
#endif
#ifndef TDM_SIGNAL_PATH
#define TDM_SIGNAL_PATH ""
#endif
#ifndef TDM_NETDELAY_PATH
#define TDM_NETDELAY_PATH ""
#endif

#define FPS 30
#define ADDED_DELAY_MS 40
#define STAMP_CLOCK_MASK ((UINT64_C(1) << 56) - 1)

static int width = 1920, height = 1080;
static int frames = 300; /* counted per run: 10 s of video */
static int skip = 60;
static const char *codec = "vp8";
static bool verbose;
static int input_events = 300;
#define MAX_RUNS 20
static int runs = 3;

/* The machine's 1-minute load average, printed beside each run: on a
 * shared machine the latency follows it. */
static double loadavg(void)
{
    double l = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = 0;
        fclose(f);
    }
    return l;
}

static uint64_t now_us(void)
{
    return tdm_bench_now_ns() / 1000;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of v sorted ascending. */
static double pct(const double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

/* Runs a shell command; 0 when it exited 0. */
static int run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_cmd(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (verbose)
        fprintf(stderr, "+ %s\n", cmd);
    int st = system(cmd);
    return st == 0 ? 0 : -1;
}

/* Starts argv (inside network namespace ns unless NULL) with stdout and
 * stderr to files; returns its pid or -1. */
static pid_t spawn(const char *ns, const char *const *argv, const char *out, const char *errf)
{
    const char *full[64];
    size_t n = 0;
    if (ns) {
        full[n++] = "ip";
        full[n++] = "netns";
        full[n++] = "exec";
        full[n++] = ns;
    }
    for (size_t i = 0; argv[i] && n < 63; i++)
        full[n++] = argv[i];
    full[n] = NULL;
    if (verbose) {
        fprintf(stderr, "+");
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " %s", full[i]);
        fprintf(stderr, "\n");
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        close(o);
        close(e);
        execvp(full[0], (char *const *)full);
        _exit(127);
    }
    return pid;
}

/* Waits up to timeout_s for a line containing needle in file path; copies
 * it into line. */
static bool wait_line(const char *path, const char *needle, double timeout_s, char *line,
                      size_t cap)
{
    uint64_t end = now_us() + (uint64_t)(timeout_s * 1e6);
    do {
        FILE *f = fopen(path, "r");
        if (f) {
            char buf[1024];
            while (fgets(buf, sizeof buf, f)) {
                if (strstr(buf, needle)) {
                    size_t l = strlen(buf) < cap ? strlen(buf) : cap - 1;
                    memcpy(line, buf, l);
                    line[l] = 0;
                    fclose(f);
                    return true;
                }
            }
            fclose(f);
        }
        usleep(50000);
    } while (now_us() < end);
    return false;
}

static void stop(pid_t pid, int sig, double timeout_s)
{
    if (pid <= 0)
        return;
    kill(pid, sig);
    uint64_t end = now_us() + (uint64_t)(timeout_s * 1e6);
    while (now_us() < end) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void dump(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[512];
    int n = 0;
    while (fgets(buf, sizeof buf, f) && n++ < 20)
        fprintf(stderr, "    %s", buf);
    fclose(f);
}

/* ---- the FIFO reader: decoded frames as the view writes them ---- */

typedef struct reader {
    char path[512];
    double *lat_ms; /* latency of each counted frame */
    size_t n;
    double *gap_ms; /* capture interval between consecutive counted frames */
    size_t ngap;
    uint64_t last_capture_us;
    unsigned long frames, unreadable, skipped;
    long last_number;
    unsigned long out_of_order;
    bool failed;
    char why[160];
} reader;

static bool read_full(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static void *reader_main(void *arg)
{
    reader *rd = arg;
    int fd = open(rd->path, O_RDONLY);
    if (fd < 0) {
        rd->failed = true;
        snprintf(rd->why, sizeof rd->why, "cannot open the FIFO: %s", strerror(errno));
        return NULL;
    }
    /* A frame is 3 MB at 1080p: a deep pipe keeps the view from waiting on
     * us (the default is 64 KB). Best effort. */
    (void)fcntl(fd, F_SETPIPE_SZ, 1 << 20);
    char header[256];
    size_t hl = 0;
    uint8_t c;
    while (hl < sizeof header - 1 && read_full(fd, &c, 1) && c != '\n')
        header[hl++] = (char)c;
    header[hl] = 0;
    int w = 0, h = 0;
    const char *pw = strstr(header, " W"), *ph = strstr(header, " H");
    if (strncmp(header, "YUV4MPEG2", 9) != 0 || !pw || !ph) {
        rd->failed = true;
        snprintf(rd->why, sizeof rd->why, "not a Y4M stream: '%.60s'", header);
        close(fd);
        return NULL;
    }
    w = atoi(pw + 2);
    h = atoi(ph + 2);
    size_t ysize = (size_t)w * h, csize = 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2);
    uint8_t *buf = malloc(ysize + csize);
    if (!buf || w <= 0 || h <= 0) {
        rd->failed = true;
        snprintf(rd->why, sizeof rd->why, "bad size %dx%d", w, h);
        free(buf);
        close(fd);
        return NULL;
    }
    uint8_t marker[6];
    while (read_full(fd, marker, sizeof marker)) {
        uint64_t t = now_us();
        if (memcmp(marker, "FRAME\n", 6) != 0) {
            rd->failed = true;
            snprintf(rd->why, sizeof rd->why, "lost the FRAME markers");
            break;
        }
        if (!read_full(fd, buf, ysize + csize))
            break;
        rd->frames++;
        tdm_stamp st;
        if (tdm_stamp_read_luma(buf, w, w, h, 0, 0, &st) != TDM_OK) {
            rd->unreadable++;
            continue;
        }
        if (rd->last_number >= 0 && (long)st.frame_number <= rd->last_number)
            rd->out_of_order++;
        bool next = rd->last_number >= 0 && (long)st.frame_number == rd->last_number + 1;
        rd->last_number = (long)st.frame_number;
        uint64_t prev_capture = rd->last_capture_us;
        rd->last_capture_us = st.capture_us;
        if (rd->frames <= (unsigned long)skip) {
            rd->skipped++;
            continue;
        }
        if (next && st.capture_us > prev_capture && rd->ngap < (size_t)frames)
            rd->gap_ms[rd->ngap++] = (double)(st.capture_us - prev_capture) / 1000.0;
        uint64_t got = t & STAMP_CLOCK_MASK;
        if (got < st.capture_us || rd->n >= (size_t)frames)
            continue;
        rd->lat_ms[rd->n++] = (double)(got - st.capture_us) / 1000.0;
    }
    free(buf);
    close(fd);
    return NULL;
}

/* ---- for scale: plain libvpx's own work per frame, in process ---- */

static double codec_p50_ms(tdm_synthetic_scenario sc)
{
    tdm_error err = {{0}};
    tdm_synthetic_config scfg = {.width = width, .height = height, .scenario = sc, .fps = FPS};
    tdm_source *src = NULL;
    tdm_video_encoder *enc = NULL;
    tdm_video_decoder *dec = NULL;
    tdm_i420 img = {0}, pic = {0};
    double v[120];
    size_t n = 0;
    tdm_codec cc;
    if (!tdm_codec_parse(codec, &cc))
        return 0;
    tdm_video_encoder_config ecfg;
    tdm_video_encoder_config_init(&ecfg, cc, width, height);
    ecfg.skip_unchanged = false;
    ecfg.use_active_map = false;
    ecfg.loop_filter = true;
    tdm_video_decoder_config dcfg;
    tdm_video_decoder_config_init(&dcfg, cc);
    if (tdm_synthetic_open(&scfg, &src, &err) != TDM_OK ||
        tdm_video_encoder_new(&ecfg, &enc, &err) != TDM_OK ||
        tdm_video_decoder_new(&dcfg, &dec, &err) != TDM_OK ||
        tdm_i420_alloc(&img, width, height) != TDM_OK) {
        fprintf(stderr, "bench_latency: anchor: %s\n", err.msg);
        goto out;
    }
    for (int i = 0; i < 30 + 120; i++) {
        uint64_t pts = (uint64_t)i * 1000000 / FPS + 1;
        tdm_frame f;
        if (tdm_source_next(src, pts, &f, &err) != TDM_OK)
            break;
        uint64_t t0 = tdm_bench_now_ns();
        ARGBToI420(f.bgra.data, f.bgra.stride, img.y, img.stride_y, img.u, img.stride_u, img.v,
                   img.stride_v, width, height);
        tdm_encoded_frame out;
        bool produced = false, shown = false;
        if (tdm_video_encoder_encode(enc, &img, NULL, pts, &out, &produced, &err) != TDM_OK)
            break;
        if (produced &&
            tdm_video_decoder_decode(dec, out.data, out.len, &pic, &shown, &err) != TDM_OK)
            break;
        uint64_t t1 = tdm_bench_now_ns();
        if (i >= 30)
            v[n++] = (double)(t1 - t0) / 1e6;
    }
out:
    tdm_video_decoder_free(dec);
    tdm_video_encoder_free(enc);
    tdm_source_close(src);
    tdm_i420_free(&img);
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return pct(v, n, 50);
}

/* ---- one session ---- */

typedef struct result {
    bool ran;
    size_t n;
    double p50, p95, p99, max;
    double view_avg, view_max; /* tandem-view's own per-second figures */
    unsigned long long nacks, plis, lost; /* from the view's last status line */
    double interval_ms;        /* capture interval, p50: the anchor */
    unsigned long unreadable, out_of_order;
} result;

/* Reads tandem-view's per-second lines: mean of the averages, max of the
 * maxima, over the seconds after the first two. */
static void view_stats(const char *path, double sub_ms, result *r)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[512];
    double sum = 0, mx = 0;
    int n = 0, sec = 0;
    while (fgets(buf, sizeof buf, f)) {
        const char *p = strstr(buf, "latency_ms avg ");
        if (!p || strncmp(buf, "view: t=", 8) != 0)
            continue;
        const char *q = strstr(buf, " lost ");
        unsigned long long lost = 0, rec = 0, nacks = 0, plis = 0;
        if (q && sscanf(q, " lost %llu recovered %llu nacks %llu plis %llu", &lost, &rec, &nacks,
                        &plis) == 4) {
            r->lost = lost;
            r->nacks = nacks;
            r->plis = plis;
        }
        double a = 0, m = 0;
        if (sscanf(p, "latency_ms avg %lf max %lf", &a, &m) != 2 || a <= 0)
            continue;
        if (++sec <= 2)
            continue;
        sum += a;
        n++;
        if (m > mx)
            mx = m;
    }
    fclose(f);
    if (n) {
        r->view_avg = sum / n - sub_ms;
        r->view_max = mx - sub_ms;
    }
}

static bool run_session(tdm_synthetic_scenario sc, bool delayed, bool netns, result *res)
{
    memset(res, 0, sizeof *res);
    char work[] = "/tmp/bench_latency.XXXXXX";
    if (!mkdtemp(work)) {
        perror("bench_latency: mkdtemp");
        return false;
    }
    char path[640], line[512];
    char ns_r[32] = "", ns_v[32] = "";
    const char *nsr = NULL, *nsv = NULL;
    const char *addr_r = "127.0.0.1", *addr_v = "127.0.0.1";
    pid_t relay = -1, share = -1, view = -1, delay = -1;
    bool ok = false;
    reader rd = {.last_number = -1};
    pthread_t th;
    bool reading = false;
    rd.lat_ms = calloc((size_t)frames, sizeof *rd.lat_ms);
    rd.gap_ms = calloc((size_t)frames, sizeof *rd.gap_ms);
    if (!rd.lat_ms || !rd.gap_ms)
        goto out;

    if (netns) {
        snprintf(ns_r, sizeof ns_r, "tdm_bl_r%d", (int)getpid());
        nsr = nsv = ns_r;
        if (run_cmd("ip netns add %s && ip -n %s link set lo up", ns_r, ns_r) != 0)
            goto out;
        if (delayed) {
            snprintf(ns_v, sizeof ns_v, "tdm_bl_v%d", (int)getpid());
            nsv = ns_v;
            addr_r = "10.79.0.1";
            addr_v = "10.79.0.2";
            if (run_cmd("ip netns add %s && ip -n %s link set lo up && "
                        "ip -n %s link add blr type veth peer name blv netns %s && "
                        "ip -n %s addr add %s/24 dev blr && ip -n %s addr add %s/24 dev blv && "
                        "ip -n %s link set blr up && ip -n %s link set blv up",
                        ns_v, ns_v, ns_r, ns_v, ns_r, addr_r, ns_v, addr_v, ns_r, ns_v) != 0)
                goto out;
            /* The delay program first: packets queued with no reader are dropped. */
            char dms[16];
            snprintf(dms, sizeof dms, "%d", ADDED_DELAY_MS);
            const char *dargv[] = {TDM_NETDELAY_PATH, "--queue", "0", "--delay", dms, NULL};
            char dout[640], derr[640];
            snprintf(dout, sizeof dout, "%s/netdelay.out", work);
            snprintf(derr, sizeof derr, "%s/netdelay.err", work);
            delay = spawn(nsv, dargv, dout, derr);
            if (delay < 0 || !wait_line(dout, "ready", 5, line, sizeof line)) {
                fprintf(stderr, "bench_latency: tandem-netdelay did not start\n");
                dump(derr);
                goto out;
            }
            if (run_cmd("ip netns exec %s iptables -A INPUT -p udp -j NFQUEUE --queue-num 0 && "
                        "ip netns exec %s iptables -A OUTPUT -p udp -j NFQUEUE --queue-num 0",
                        ns_v, ns_v) != 0)
                goto out;
        }
    }

    /* The relay. */
    char secret[640], rout[640], rerr[640];
    snprintf(secret, sizeof secret, "%s/secret", work);
    if (run_cmd("head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \\n' > %s", secret) != 0)
        goto out;
    char listen[64];
    snprintf(listen, sizeof listen, "%s:0", addr_r);
    snprintf(rout, sizeof rout, "%s/relay.out", work);
    snprintf(rerr, sizeof rerr, "%s/relay.err", work);
    const char *rargv[] = {TDM_RELAY_PATH, "serve", "--listen", listen, "--node-id", "n1",
                           "--secret-file", secret, "--local-address", addr_r, NULL};
    relay = spawn(nsr, rargv, rout, rerr);
    if (relay < 0 || !wait_line(rout, "listening", 10, line, sizeof line)) {
        fprintf(stderr, "bench_latency: the relay did not start\n");
        dump(rerr);
        goto out;
    }
    char hostport[64] = "";
    const char *h = strstr(line, addr_r);
    if (!h || sscanf(h, "%63[0-9.:]", hostport) != 1) {
        fprintf(stderr, "bench_latency: no address in '%s'\n", line);
        goto out;
    }

    char tok_pub[2048] = "", tok_sub[2048] = "";
    for (int i = 0; i < 2; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "%s token --secret-file %s --session lat --participant %s --role %s --node n1",
                 TDM_RELAY_PATH, secret, i ? "viewer" : "pub", i ? "subscribe" : "publish");
        FILE *p = popen(cmd, "r");
        char *dst = i ? tok_sub : tok_pub;
        if (!p || !fgets(dst, 2048, p)) {
            if (p)
                pclose(p);
            fprintf(stderr, "bench_latency: cannot mint a token\n");
            goto out;
        }
        pclose(p);
        dst[strcspn(dst, "\r\n")] = 0;
    }

    char url_pub[128], url_sub[128], size[32], dur_s[16], sout[640], serr[640];
    snprintf(url_pub, sizeof url_pub, "http://%s/whip/lat", hostport);
    snprintf(url_sub, sizeof url_sub, "http://%s/whep/lat", hostport);
    snprintf(size, sizeof size, "%dx%d", width, height);
    /* The share outlives the view: it is stopped once the view is done. */
    int seconds = (frames + skip) / FPS + 30;
    snprintf(dur_s, sizeof dur_s, "%d", seconds);
    snprintf(sout, sizeof sout, "%s/share.out", work);
    snprintf(serr, sizeof serr, "%s/share.err", work);
    const char *sargv[] = {TDM_SHARE_PATH, "--url", url_pub, "--token", tok_pub,
                           "--local-address", addr_r, "--size", size, "--scenario",
                           tdm_synthetic_scenario_name(sc), "--codec", codec, "--duration",
                           dur_s, NULL};
    share = spawn(nsr, sargv, sout, serr);
    if (share < 0 || !wait_line(sout, "share: connected", 15, line, sizeof line)) {
        fprintf(stderr, "bench_latency: the share did not start publishing\n");
        dump(serr);
        goto out;
    }

    snprintf(rd.path, sizeof rd.path, "%s/view.y4m", work);
    if (mkfifo(rd.path, 0600) != 0) {
        perror("bench_latency: mkfifo");
        goto out;
    }
    if (pthread_create(&th, NULL, reader_main, &rd) != 0)
        goto out;
    reading = true;
    char vout[640], verr[640], expect[16];
    snprintf(vout, sizeof vout, "%s/view.out", work);
    snprintf(verr, sizeof verr, "%s/view.err", work);
    snprintf(expect, sizeof expect, "%d", frames + skip);
    snprintf(dur_s, sizeof dur_s, "%d", (frames + skip) / FPS + 20);
    const char *vargv[] = {TDM_VIEW_PATH, "--url", url_sub, "--token", tok_sub,
                           "--local-address", addr_v, "--codec", codec, "--y4m", rd.path,
                           "--duration", dur_s, "--expect-frames", expect, NULL};
    view = spawn(nsv, vargv, vout, verr);
    if (view < 0)
        goto out;
    int vst = 0;
    waitpid(view, &vst, 0);
    view = -1;
    ok = true;
    if (!WIFEXITED(vst) || WEXITSTATUS(vst) != 0) {
        fprintf(stderr, "bench_latency: the view exited with status %d\n",
                WIFEXITED(vst) ? WEXITSTATUS(vst) : -1);
        dump(verr);
        ok = false;
    }

out:
    if (reading) {
        /* Unblocks a reader still waiting for a writer that never came. */
        int fd = open(rd.path, O_WRONLY | O_NONBLOCK);
        if (fd >= 0)
            close(fd);
        pthread_join(th, NULL);
    }
    if (view > 0)
        stop(view, SIGINT, 5);
    stop(share, SIGINT, 5);
    stop(relay, SIGTERM, 5);
    stop(delay, SIGTERM, 5);
    double sub = delayed ? ADDED_DELAY_MS : 0;
    if (ok && rd.failed) {
        fprintf(stderr, "bench_latency: reading the view's frames: %s\n", rd.why);
        ok = false;
    }
    if (ok && rd.n > 0) {
        for (size_t i = 0; i < rd.n; i++)
            rd.lat_ms[i] -= sub;
        qsort(rd.lat_ms, rd.n, sizeof *rd.lat_ms, cmp_double);
        res->ran = true;
        res->n = rd.n;
        res->p50 = pct(rd.lat_ms, rd.n, 50);
        res->p95 = pct(rd.lat_ms, rd.n, 95);
        res->p99 = pct(rd.lat_ms, rd.n, 99);
        res->max = rd.lat_ms[rd.n - 1];
        if (rd.ngap) {
            qsort(rd.gap_ms, rd.ngap, sizeof *rd.gap_ms, cmp_double);
            res->interval_ms = pct(rd.gap_ms, rd.ngap, 50);
        }
        res->unreadable = rd.unreadable;
        res->out_of_order = rd.out_of_order;
        snprintf(path, sizeof path, "%s/view.out", work);
        view_stats(path, sub, res);
    } else if (ok) {
        fprintf(stderr, "bench_latency: no frame was measured\n");
    }
    if (ns_v[0])
        run_cmd("ip netns del %s", ns_v);
    if (ns_r[0])
        run_cmd("ip netns del %s", ns_r);
    if (!verbose)
        run_cmd("rm -rf %s", work);
    else
        fprintf(stderr, "bench_latency: kept %s\n", work);
    free(rd.lat_ms);
    free(rd.gap_ms);
    return res->ran;
}

/* ---- input latency: the rep's WebSocket to the XTEST injection ---- */

typedef struct input_result {
    size_t n;
    unsigned long refused, missing;
    double p50, p95, p99, max;
    double rtt_p50, rtt_p99; /* the anchor: ping -> pong over the rep's socket */
} input_result;

/* One HTTP call to tandem-signal; the parsed JSON body of a 2xx, else NULL. */
static json_t *api(tdm_link *link, const char *method, const char *path, const char *bearer,
                   const char *body)
{
    tdm_link_request req = {.method = method, .path = path, .bearer = bearer, .body = body};
    tdm_link_response resp;
    tdm_error err = {{0}};
    json_t *doc = NULL;
    if (tdm_link_http(link, &req, &resp, &err) == TDM_OK && resp.status / 100 == 2)
        doc = json_loads(resp.body, 0, NULL);
    else
        fprintf(stderr, "bench_latency: %s %s: %s (status %d)\n", method, path,
                err.msg[0] ? err.msg : (resp.body ? resp.body : ""), resp.status);
    tdm_link_response_free(&resp);
    return doc;
}

static void copy_str(char *dst, size_t cap, json_t *doc, const char *key)
{
    const char *v = json_string_value(json_object_get(doc, key));
    snprintf(dst, cap, "%s", v ? v : "");
}

/* Sends events over the rep's socket, 20 ms apart, and matches them in
 * order with the lines of tandem-share's --input-log. The events are few
 * enough for the profile's rate limit (control: 250/s). Each socket
 * message read meanwhile is either a pong (the anchor) or ignored. */
static bool measure_input(tdm_link_ws *ws, const char *log_path, int events, input_result *r)
{
    uint64_t *sent = calloc((size_t)events, sizeof *sent);
    double *lat = calloc((size_t)events, sizeof *lat);
    double rtt[64];
    size_t nrtt = 0;
    bool ok = false;
    if (!sent || !lat)
        goto out;
    tdm_error err = {{0}};
    static const char *const keys[] = {"key_down", "key_up"};
    for (int i = 0; i < events; i++) {
        char msg[160];
        if (i % 3 == 0)
            snprintf(msg, sizeof msg, "{\"type\":\"pointer_move\",\"x\":%.4f,\"y\":%.4f}",
                     0.1 + 0.8 * (double)(i % 97) / 97.0, 0.1 + 0.8 * (double)(i % 89) / 89.0);
        else
            snprintf(msg, sizeof msg, "{\"type\":\"%s\",\"key\":\"Shift\",\"mods\":[]}",
                     keys[(i % 3) - 1]);
        sent[i] = now_us();
        if (tdm_link_ws_send(ws, msg, strlen(msg), &err) != TDM_OK) {
            fprintf(stderr, "bench_latency: send: %s\n", err.msg);
            goto out;
        }
        /* Every tenth gap: a ping, whose pong times the socket's round trip. */
        uint64_t ping_at = 0;
        if (i % 10 == 5 && nrtt < 64) {
            ping_at = now_us();
            if (tdm_link_ws_send(ws, "{\"type\":\"ping\"}", 15, &err) != TDM_OK)
                goto out;
        }
        uint64_t until = sent[i] + 20000;
        for (uint64_t t = now_us(); t < until; t = now_us()) {
            const char *in;
            size_t len;
            tdm_status st = tdm_link_ws_recv(ws, (int)((until - t) / 1000) + 1, &in, &len, &err);
            if (st == TDM_OK && ping_at && strstr(in, "\"pong\"")) {
                rtt[nrtt++] = (double)(now_us() - ping_at) / 1000.0;
                ping_at = 0;
            } else if (st == TDM_OK && strstr(in, "\"error\"")) {
                fprintf(stderr, "bench_latency: the service says %.*s\n", (int)len, in);
            } else if (st != TDM_OK && st != TDM_AGAIN) {
                fprintf(stderr, "bench_latency: the rep's socket: %s\n", err.msg);
                goto out;
            }
        }
    }
    /* Wait for the log to hold every event (or 10 s). */
    uint64_t deadline = now_us() + 10000000;
    size_t lines = 0;
    do {
        FILE *f = fopen(log_path, "r");
        lines = 0;
        r->n = 0;
        r->refused = 0;
        if (f) {
            char buf[256];
            while (fgets(buf, sizeof buf, f) && lines < (size_t)events) {
                unsigned long long us;
                char type[64], status[96];
                if (sscanf(buf, "%llu %63s %95s", &us, type, status) != 3)
                    continue;
                if (strcmp(status, "injected") != 0)
                    r->refused++;
                else if (us >= sent[lines])
                    lat[r->n++] = (double)(us - sent[lines]) / 1000.0;
                lines++;
            }
            fclose(f);
        }
        if (lines >= (size_t)events)
            break;
        usleep(100000);
    } while (now_us() < deadline);
    r->missing = (unsigned long)events - lines;
    if (r->n) {
        qsort(lat, r->n, sizeof *lat, cmp_double);
        r->p50 = pct(lat, r->n, 50);
        r->p95 = pct(lat, r->n, 95);
        r->p99 = pct(lat, r->n, 99);
        r->max = lat[r->n - 1];
    }
    if (nrtt) {
        qsort(rtt, nrtt, sizeof *rtt, cmp_double);
        r->rtt_p50 = pct(rtt, nrtt, 50);
        r->rtt_p99 = pct(rtt, nrtt, 99);
    }
    ok = r->n > 0;
out:
    free(sent);
    free(lat);
    return ok;
}

/* tandem-signal, tandem-relay and tandem-share (joined with the customer's
 * code alone, capturing an Xvfb display and injecting into it with XTEST)
 * in a network namespace; this process joins the namespace for the rep's
 * HTTP calls and WebSocket, then returns to its own. Xvfb runs outside (its
 * abstract socket then claims the display number machine-wide; the share
 * reaches it through /tmp/.X11-unix). */
static bool run_input(int events, input_result *res)
{
    memset(res, 0, sizeof *res);
    char work[] = "/tmp/bench_latency.XXXXXX";
    if (!mkdtemp(work))
        return false;
    char ns[32], nspath[96], path[640], line[512], display[32] = "";
    snprintf(ns, sizeof ns, "tdm_bi%d", (int)getpid());
    snprintf(nspath, sizeof nspath, "/var/run/netns/%s", ns);
    pid_t xvfb = -1, relay = -1, signal_pid = -1, share = -1;
    int home_ns = -1, in_ns = -1;
    bool made_ns = false, ok = false;
    tdm_link *link = NULL;
    tdm_link_ws *ws = NULL;

    char xcmd[800], xout[640], xerr[640], dfile[640];
    snprintf(dfile, sizeof dfile, "%s/display", work);
    snprintf(xcmd, sizeof xcmd,
             "exec Xvfb -displayfd 3 -screen 0 1280x720x24 -nolisten tcp 3>%s", dfile);
    snprintf(xout, sizeof xout, "%s/xvfb.out", work);
    snprintf(xerr, sizeof xerr, "%s/xvfb.err", work);
    const char *xargv[] = {"sh", "-c", xcmd, NULL};
    xvfb = spawn(NULL, xargv, xout, xerr);
    for (int i = 0; i < 100 && !display[0]; i++) {
        FILE *f = fopen(dfile, "r");
        int d;
        if (f && fscanf(f, "%d", &d) == 1)
            snprintf(display, sizeof display, ":%d", d);
        if (f)
            fclose(f);
        if (!display[0])
            usleep(100000);
    }
    if (!display[0]) {
        fprintf(stderr, "bench_latency: Xvfb did not start\n");
        dump(xerr);
        goto out;
    }

    if (run_cmd("ip netns add %s && ip -n %s link set lo up", ns, ns) != 0)
        goto out;
    made_ns = true;
    home_ns = open("/proc/self/ns/net", O_RDONLY);
    in_ns = open(nspath, O_RDONLY);
    if (home_ns < 0 || in_ns < 0 || setns(in_ns, CLONE_NEWNET) != 0) {
        perror("bench_latency: entering the namespace");
        goto out;
    }

    const char *sig_addr = "127.0.0.1:18443", *rel_addr = "127.0.0.1:18080";
    char secret[640], mkey[640], cfg[640], db[640];
    snprintf(secret, sizeof secret, "%s/relay.secret", work);
    snprintf(mkey, sizeof mkey, "%s/master.key", work);
    snprintf(cfg, sizeof cfg, "%s/config.json", work);
    snprintf(db, sizeof db, "%s/signal.db", work);
    if (run_cmd("head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \\n' > %s && "
                "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > %s",
                secret, mkey) != 0)
        goto out;
    FILE *cf = fopen(cfg, "w");
    if (!cf)
        goto out;
    fprintf(cf,
            "{\"public_url\": \"http://%s\", \"relays\": [{\"id\": \"n1\", \"url\": \"http://%s\"}],\n"
            " \"relay_token_secret_file\": \"%s\", \"recording_master_key_file\": \"%s\"}\n",
            sig_addr, rel_addr, secret, mkey);
    fclose(cf);
    if (run_cmd("echo 'a-password-for-the-bench' | %s user add benchrep --role rep --db %s "
                ">/dev/null",
                TDM_SIGNAL_PATH, db) != 0)
        goto out;

    char rout[640], rerr[640], sgout[640], sgerr[640];
    snprintf(rout, sizeof rout, "%s/relay.out", work);
    snprintf(rerr, sizeof rerr, "%s/relay.err", work);
    const char *rargv[] = {TDM_RELAY_PATH, "serve", "--listen", rel_addr, "--node-id", "n1",
                           "--secret-file", secret, "--local-address", "127.0.0.1", NULL};
    relay = spawn(NULL, rargv, rout, rerr);
    snprintf(sgout, sizeof sgout, "%s/signal.out", work);
    snprintf(sgerr, sizeof sgerr, "%s/signal.err", work);
    const char *gargv[] = {TDM_SIGNAL_PATH, "serve", "--db", db, "--config", cfg,
                           "--listen", sig_addr, NULL};
    signal_pid = spawn(NULL, gargv, sgout, sgerr);
    if (relay < 0 || signal_pid < 0 || !wait_line(rout, "listening", 10, line, sizeof line)) {
        fprintf(stderr, "bench_latency: the relay did not start\n");
        dump(rerr);
        goto out;
    }
    char base[64];
    snprintf(base, sizeof base, "http://%s", sig_addr);
    tdm_error err = {{0}};
    if (tdm_link_new(base, 5000, &link, &err) != TDM_OK) {
        fprintf(stderr, "bench_latency: %s\n", err.msg);
        goto out;
    }
    bool up = false;
    for (int i = 0; i < 100 && !up; i++) {
        tdm_link_request req = {.path = "/healthz"};
        tdm_link_response resp;
        up = tdm_link_http(link, &req, &resp, &err) == TDM_OK && resp.status == 200;
        tdm_link_response_free(&resp);
        if (!up)
            usleep(100000);
    }
    if (!up) {
        fprintf(stderr, "bench_latency: tandem-signal did not start\n");
        dump(sgerr);
        goto out;
    }
    json_t *login = api(link, "POST", "/api/v1/login", NULL,
                        "{\"name\":\"benchrep\",\"password\":\"a-password-for-the-bench\"}");
    char bearer[1024] = "", rep_secret[256] = "", code[64] = "";
    copy_str(bearer, sizeof bearer, login, "token");
    json_decref(login);
    json_t *open_doc = bearer[0] ? api(link, "POST", "/api/v1/sessions", bearer, "{}") : NULL;
    copy_str(rep_secret, sizeof rep_secret, open_doc, "secret");
    copy_str(code, sizeof code, open_doc, "join_code");
    json_decref(open_doc);
    if (!rep_secret[0] || !code[0])
        goto out;

    char sout[640], serr[640], logp[640];
    snprintf(sout, sizeof sout, "%s/share.out", work);
    snprintf(serr, sizeof serr, "%s/share.err", work);
    snprintf(logp, sizeof logp, "%s/input.log", work);
    const char *sargv[] = {TDM_SHARE_PATH, "--signal", base, "--join-code", code, "--name",
                           "Bench", "--display", display, "--local-address", "127.0.0.1",
                           "--input-log", logp, "--codec", codec, "--duration", "120", NULL};
    share = spawn(NULL, sargv, sout, serr);
    if (share < 0 || !wait_line(sout, "share: connected", 20, line, sizeof line)) {
        fprintf(stderr, "bench_latency: tandem-share did not join and publish\n");
        dump(serr);
        goto out;
    }
    char *welcome = NULL;
    if (tdm_link_ws_connect(link, &ws, &err) != TDM_OK ||
        tdm_link_ws_auth(ws, rep_secret, &welcome, &err) != TDM_OK) {
        fprintf(stderr, "bench_latency: the rep's socket: %s\n", err.msg);
        goto out;
    }
    free(welcome);
    usleep(500000); /* the share's own socket settles */
    ok = measure_input(ws, logp, events, res);

out:
    tdm_link_ws_close(ws);
    tdm_link_free(link);
    stop(share, SIGINT, 5);
    stop(signal_pid, SIGTERM, 5);
    stop(relay, SIGTERM, 5);
    stop(xvfb, SIGTERM, 5);
    if (home_ns >= 0 && setns(home_ns, CLONE_NEWNET) != 0)
        perror("bench_latency: leaving the namespace");
    if (home_ns >= 0)
        close(home_ns);
    if (in_ns >= 0)
        close(in_ns);
    if (made_ns)
        run_cmd("ip netns del %s", ns);
    snprintf(path, sizeof path, "%s", work);
    if (!verbose)
        run_cmd("rm -rf %s", path);
    else
        fprintf(stderr, "bench_latency: kept %s\n", path);
    return ok;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_latency [--frames N] [--skip N] [--scenario S] [--link L]\n"
            "                     [--size WxH] [--codec vp8|vp9] [--input-events N]\n"
            "                     [--runs N] [--verbose]\n"
            "Glass-to-glass latency, tandem-share -> tandem-relay -> tandem-view, from the\n"
            "capture time stamped into each frame to the frame decoded at the view.\n"
            "  --frames N    frames measured per run                    [300]\n"
            "  --skip N      frames decoded before measuring starts     [60]\n"
            "  --scenario S  typing or scroll (default both; any synthetic scenario)\n"
            "  --link L      loopback or delay40 (default both; delay40 needs root)\n"
            "  --size WxH    [1920x1080]\n"
            "  --codec C     [vp8]\n"
            "  --input-events N  rep input events for the input latency [300]; 0: none\n"
            "  --runs N      runs of each measurement; BENCH lines take the median [3]\n"
            "  --verbose     show the commands and keep the work directory\n");
}

int main(int argc, char **argv)
{
    int only_sc = -1, only_link = -1;
    static const struct option opts[] = {{"frames", required_argument, NULL, 'n'},
                                         {"skip", required_argument, NULL, 'k'},
                                         {"scenario", required_argument, NULL, 's'},
                                         {"link", required_argument, NULL, 'l'},
                                         {"size", required_argument, NULL, 'z'},
                                         {"codec", required_argument, NULL, 'c'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"input-events", required_argument, NULL, 'i'},
                                         {"runs", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            frames = atoi(optarg);
            if (frames < 10) {
                fprintf(stderr, "bench_latency: --frames wants a number from 10\n");
                return 2;
            }
            break;
        case 'k':
            skip = atoi(optarg);
            if (skip < 0) {
                fprintf(stderr, "bench_latency: --skip wants a number from 0\n");
                return 2;
            }
            break;
        case 's': {
            tdm_synthetic_scenario s;
            if (!tdm_synthetic_scenario_parse(optarg, &s)) {
                fprintf(stderr, "bench_latency: unknown scenario '%s'\n", optarg);
                return 2;
            }
            only_sc = (int)s;
            break;
        }
        case 'l':
            if (strcmp(optarg, "loopback") == 0)
                only_link = 0;
            else if (strcmp(optarg, "delay40") == 0)
                only_link = 1;
            else {
                fprintf(stderr, "bench_latency: --link wants loopback or delay40\n");
                return 2;
            }
            break;
        case 'z':
            if (sscanf(optarg, "%dx%d", &width, &height) != 2 || width < 320 || height < 240) {
                fprintf(stderr, "bench_latency: bad --size '%s'\n", optarg);
                return 2;
            }
            break;
        case 'c':
            if (strcmp(optarg, "vp8") != 0 && strcmp(optarg, "vp9") != 0) {
                fprintf(stderr, "bench_latency: --codec wants vp8 or vp9\n");
                return 2;
            }
            codec = optarg;
            break;
        case 'v': verbose = true; break;
        case 'r':
            runs = atoi(optarg);
            if (runs < 1 || runs > MAX_RUNS) {
                fprintf(stderr, "bench_latency: --runs wants 1..%d\n", MAX_RUNS);
                return 2;
            }
            break;
        case 'i':
            input_events = atoi(optarg);
            if (input_events < 0 || input_events > 100000) {
                fprintf(stderr, "bench_latency: --input-events wants 0..100000\n");
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    bool root = geteuid() == 0;
    bool have_delay = root && TDM_NETDELAY_PATH[0] != 0 && system("command -v iptables >/dev/null 2>&1") == 0;
    signal(SIGPIPE, SIG_IGN);

    tdm_synthetic_scenario scs[2] = {TDM_SCENARIO_TYPING, TDM_SCENARIO_SCROLL};
    size_t nsc = 2;
    if (only_sc >= 0) {
        scs[0] = (tdm_synthetic_scenario)only_sc;
        nsc = 1;
    }
    printf("glass-to-glass latency: %dx%d %s at %d fps, %d frames measured per run after %d; "
           "ms, %d ms of added delay subtracted on delay40.\n"
           "view avg/max: tandem-view's own per-second figures; nacks, plis: the view's; "
           "interval: capture interval\n(p50, the anchor); libvpx: plain libvpx's "
           "conversion + encoding + decoding of a frame, p50, measured before\n",
           width, height, codec, FPS, frames, skip, ADDED_DELAY_MS);
    double anchors[2];
    for (size_t i = 0; i < nsc; i++)
        anchors[i] = codec_p50_ms(scs[i]);
    printf("%-8s %-9s | %6s %7s %7s %7s %7s | %8s %8s | %5s %4s | %8s %9s | %s\n", "scenario",
           "link", "frames", "p50", "p95", "p99", "max", "view avg", "view max", "nacks", "plis",
           "interval", "libvpx", "load");
    int failures = 0;
    /* Runs go round the configurations, so that a burst of load on the
     * machine falls on different ones; each BENCH figure is the median of
     * its runs' p95 (the table shows every run). */
    double p95s[2][2][MAX_RUNS], gaps[2][2][MAX_RUNS];
    int ok_runs[2][2] = {{0}};
    for (int run = 0; run < runs; run++) {
        for (size_t i = 0; i < nsc; i++) {
            for (int link = 0; link < 2; link++) {
                if (only_link >= 0 && link != only_link)
                    continue;
                const char *ln = link ? "delay40" : "loopback";
                const char *sn = tdm_synthetic_scenario_name(scs[i]);
                if (link && !have_delay) {
                    if (run == 0)
                        printf("%-8s %-9s | skipped: needs root, iptables and tandem-netdelay\n",
                               sn, ln);
                    continue;
                }
                double load0 = loadavg();
                result r;
                if (!run_session(scs[i], link == 1, root, &r)) {
                    printf("%-8s %-9s | failed (see stderr)\n", sn, ln);
                    failures++;
                    continue;
                }
                printf("%-8s %-9s | %6zu %7.1f %7.1f %7.1f %7.1f | %8.1f %8.1f | %5llu %4llu | "
                       "%8.1f %9.1f | %4.1f-%-4.1f\n",
                       sn, ln, r.n, r.p50, r.p95, r.p99, r.max, r.view_avg, r.view_max, r.nacks,
                       r.plis, r.interval_ms, anchors[i], load0, loadavg());
                if (r.unreadable || r.out_of_order)
                    printf("   (%lu unreadable stamps, %lu out of order)\n", r.unreadable,
                           r.out_of_order);
                fflush(stdout);
                p95s[i][link][ok_runs[i][link]] = r.p95;
                gaps[i][link][ok_runs[i][link]++] = r.interval_ms;
            }
        }
    }
    for (size_t i = 0; i < nsc; i++) {
        for (int link = 0; link < 2; link++) {
            int n = ok_runs[i][link];
            if (n == 0)
                continue;
            char name[96];
            snprintf(name, sizeof name, "latency.g2g.%s.%s.p95",
                     tdm_synthetic_scenario_name(scs[i]), link ? "delay40" : "loopback");
            double p95 = tdm_bench_median(p95s[i][link], (size_t)n);
            double gap = tdm_bench_median(gaps[i][link], (size_t)n);
            tdm_bench_line(name, p95, "ms", "frame_interval", gap);
        }
    }
    if (input_events > 0 && (only_sc < 0 && only_link < 0)) {
        char probe[1024];
        snprintf(probe, sizeof probe, "%s --help 2>/dev/null | grep -q -- --input-log",
                 TDM_SHARE_PATH);
        bool can = root && TDM_SIGNAL_PATH[0] && system(probe) == 0 &&
                   system("command -v Xvfb >/dev/null 2>&1") == 0;
        printf("input latency: rep's WebSocket -> tandem-signal -> tandem-share -> XTEST "
               "(--input-log), %d events 20 ms apart, ms; anchor: the rep's ping -> pong\n",
               input_events);
        if (!can)
            printf("  skipped: needs root, tandem-signal, Xvfb and tandem-share --input-log\n");
        double p99s[MAX_RUNS], rtts[MAX_RUNS];
        int n = 0;
        for (int run = 0; can && run < runs; run++) {
            input_result ir;
            double load0 = loadavg();
            if (!run_input(input_events, &ir)) {
                printf("  failed (see stderr)\n");
                failures++;
                continue;
            }
            printf("  events %zu (refused %lu, missing %lu)  p50 %.2f  p95 %.2f  p99 %.2f  "
                   "max %.2f | ping->pong p50 %.2f p99 %.2f | load %.1f-%.1f\n",
                   ir.n, ir.refused, ir.missing, ir.p50, ir.p95, ir.p99, ir.max, ir.rtt_p50,
                   ir.rtt_p99, load0, loadavg());
            fflush(stdout);
            p99s[n] = ir.p99;
            rtts[n++] = ir.rtt_p99;
        }
        if (n)
            tdm_bench_line("latency.input.p99", tdm_bench_median(p99s, (size_t)n), "ms",
                           "ws_ping_rtt_p99", tdm_bench_median(rtts, (size_t)n));
    }
    return failures ? 1 : 0;
}
