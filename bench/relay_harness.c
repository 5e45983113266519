/* relay_harness.c: see relay_harness.h. Moved out of bench_relay.c so the
 * relay and recording benchmarks drive the relay with the same code. */
#define _GNU_SOURCE /* strcasestr */
#include "relay_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
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

#define NODE "bench-node"
#define PKT_LEN TDM_RH_PKT_LEN
#define PUB_SSRC 0x5eed0001u
#define PT 96
#define BUF_CAP 1600
#define HTTP_MAX (64 * 1024)
#define MAX_CANDS 16
#define MAX_SUBS TDM_RH_MAX_SUBS
#define STAMP_OFF TDM_RH_STAMP_OFF
#define HIST_US TDM_RH_HIST_US
#define MAX_EXTRA_ARGS 16

static const char *prog = "bench";
static const char *const *relay_extra; /* more arguments for the relay, NULL-terminated */

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
    fprintf(stderr, "%s: relay ignored SIGTERM, killed\n", prog);
}

void tdm_rh_cleanup(void)
{
    stop_relay();
    if (secret_path[0])
        unlink(secret_path);
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

/* The whole run is bounded: past the deadline the relay is stopped and we exit. */
static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = ": deadline passed, stopping\n";
    ssize_t w = write(2, prog, strlen(prog));
    w = write(2, msg, sizeof msg - 1);
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

void tdm_rh_init(const char *name, const char *path, unsigned deadline_s)
{
    prog = name;
    relay_path = path;
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1000UL); /* pacing sleeps of tens of us */
    signal(SIGALRM, on_alarm);
    alarm(deadline_s);
}

static void start_relay(void)
{
    if (!secret_path[0]) {
        snprintf(secret_path, sizeof secret_path, "/tmp/tdm-bench-secret-XXXXXX");
        int fd = mkstemp(secret_path);
        if (fd < 0)
            tdm_rh_die("mkstemp: %s", strerror(errno));
        if (write(fd, secret, sizeof secret - 1) != (ssize_t)(sizeof secret - 1))
            tdm_rh_die("write secret");
        close(fd);
    }
    int out[2];
    if (pipe(out) != 0)
        tdm_rh_die("pipe");
    pid_t pid = fork();
    if (pid < 0)
        tdm_rh_die("fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* should this process die unexpectedly */
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        const char *args[12 + MAX_EXTRA_ARGS] = {relay_path,   "serve",       "--listen",
                                                 "127.0.0.1:0", "--node-id",   NODE,
                                                 "--secret-file", secret_path, "--local-address",
                                                 "127.0.0.1"};
        size_t n = 10;
        for (size_t i = 0; relay_extra && relay_extra[i] && i < MAX_EXTRA_ARGS; i++)
            args[n++] = relay_extra[i];
        args[n] = NULL;
        execv(relay_path, (char *const *)args);
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
        tdm_rh_die("relay %s did not start: '%s'", relay_path, line);
    relay_port = (uint16_t)atoi(colon + 1);
    if (!relay_port)
        tdm_rh_die("relay port in '%s'", line);
}

/* utime + stime of the whole relay process (all threads), in seconds. */
static double relay_cpu_s(void)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)relay_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        tdm_rh_die("open %s", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name "(...)": state is field 3, utime 14, stime 15. */
    char *p = strrchr(buf, ')');
    if (!p)
        tdm_rh_die("parse %s", path);
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        tdm_rh_die("parse %s", path);
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
        tdm_rh_die("socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(relay_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0)
        tdm_rh_die("connect to relay: %s", strerror(errno));
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
        tdm_rh_die("HTTP request too long");
    for (size_t off = 0; off < (size_t)n;) {
        ssize_t k = write(s, req + off, (size_t)n - off);
        if (k <= 0)
            tdm_rh_die("HTTP write");
        off += (size_t)k;
    }
    static char resp[HTTP_MAX + 4096];
    size_t got = 0;
    struct timeval tv = {.tv_sec = 10};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        if (got >= sizeof resp - 1)
            tdm_rh_die("HTTP reply too long");
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
        tdm_rh_die("bad HTTP reply to %s %s", method, path);
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
        tdm_rh_die("HTTP body too long");
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
        tdm_rh_die("mint: %s", err.msg);
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
static tdm_rh_hist run_lat;

static void on_state(void *user, tdm_peer_state st, tdm_peer_fail fail, const char *reason)
{
    client *c = user;
    c->state = st;
    if (st == TDM_PEER_FAILED)
        fprintf(stderr, "%s: %s failed (%s): %s\n", prog, c->name, tdm_peer_fail_name(fail),
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
        tdm_rh_hist_add(&run_lat, (int64_t)(now - sent));
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
            tdm_rh_die("%s: candidate off loopback: %s", c->name, ev->candidate);
        c->cands[c->n_cands++] = strdup(ev->candidate);
    } else if (ev->type == TDM_ICE_EV_SELECTED_PAIR &&
               strncmp(ev->remote_address, "127.0.0.1:", 10) != 0) {
        tdm_rh_die("%s: pair off loopback: %s", c->name, ev->remote_address);
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
        tdm_rh_die("too many poll fds (%d)", n);
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
        tdm_rh_die("offer: %s", err.msg);
    mint("probe", TDM_TOKEN_ROLE_SUBSCRIBE, token, sizeof token);
    static http_reply rep;
    snprintf(path, sizeof path, "/whep/%s", session);
    http("POST", path, token, "application/sdp", offer, &rep);
    if (rep.status != 201)
        tdm_rh_die("probe: POST answered %d: %s", rep.status, rep.body);
    tdm_sdp_session *ans = tdm_sdp_new();
    if (tdm_sdp_parse((const uint8_t *)rep.body, rep.body_len, ans, &err) != TDM_OK ||
        !ans->media[0].dtls.has_fingerprint)
        tdm_rh_die("probe answer: %s", err.msg);
    memcpy(fp, ans->media[0].dtls.fingerprint, TDM_DTLS_FINGERPRINT_LEN);
    tdm_sdp_free(ans);
    char loc[256];
    snprintf(loc, sizeof loc, "%s", rep.location);
    http("DELETE", loc, token, NULL, NULL, &rep);
    if (rep.status != 200)
        tdm_rh_die("probe: DELETE answered %d", rep.status);
}

static void client_connect(client *c, GMainContext *ctx, const uint8_t relay_fp[32])
{
    tdm_error err = {{0}};
    if (tdm_dtls_identity_new(NULL, &c->id, &err) != TDM_OK)
        tdm_rh_die("identity: %s", err.msg);
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
        tdm_rh_die("%s: %s", c->name, err.msg);
    tdm_ice *ia = tdm_peer_ice(c->peer);
    if (tdm_ice_gather(ia, &err) != TDM_OK)
        tdm_rh_die("%s: gather: %s", c->name, err.msg);
    if (!run_until(ctx, gathered, c, 5000) || c->n_cands == 0)
        tdm_rh_die("%s: no candidates", c->name);

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
        tdm_rh_die("%s: offer: %s", c->name, err.msg);

    char token[TDM_TOKEN_MAX_LEN + 1], path[96];
    mint(c->name, c->publish ? TDM_TOKEN_ROLE_PUBLISH : TDM_TOKEN_ROLE_SUBSCRIBE, token,
         sizeof token);
    snprintf(path, sizeof path, "/%s/%s", c->publish ? "whip" : "whep", session);
    static http_reply rep;
    http("POST", path, token, "application/sdp", offer, &rep);
    if (rep.status != 201)
        tdm_rh_die("%s: POST answered %d: %s", c->name, rep.status, rep.body);

    tdm_sdp_session *ans = tdm_sdp_new();
    if (tdm_sdp_parse((const uint8_t *)rep.body, rep.body_len, ans, &err) != TDM_OK)
        tdm_rh_die("%s: answer: %s", c->name, err.msg);
    const tdm_sdp_media *m = &ans->media[0];
    if (!c->publish) {
        if (m->n_ssrcs < 1)
            tdm_rh_die("%s: answer has no SSRC", c->name);
        c->relay_ssrc = m->ssrcs[0].ssrc;
    }
    if (tdm_ice_set_remote_credentials(ia, m->ice.ufrag, m->ice.pwd, &err) != TDM_OK)
        tdm_rh_die("%s: credentials: %s", c->name, err.msg);
    for (size_t i = 0; i < m->n_candidates; i++) {
        const tdm_sdp_candidate *k = &m->candidates[i];
        if (strcmp(k->address, "127.0.0.1") != 0)
            tdm_rh_die("%s: relay candidate off loopback: %s", c->name, k->address);
        char text[256];
        snprintf(text, sizeof text, "candidate:%s %u %s %u %s %u typ host", k->foundation,
                 (unsigned)k->component, k->transport == TDM_SDP_TCP ? "TCP" : "UDP",
                 (unsigned)k->priority, k->address, (unsigned)k->port);
        if (tdm_ice_add_remote_candidate(ia, text, &err) != TDM_OK)
            tdm_rh_die("%s: candidate: %s", c->name, err.msg);
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
        tdm_rh_die("rtp write");
    return len;
}

tdm_rh_result tdm_rh_run(int n_subs, double fwd_rate, double run_s, const char *const *extra_args)
{
    tdm_rh_result r = {.n = n_subs};
    if (n_subs < 1 || n_subs > MAX_SUBS)
        tdm_rh_die("1x%d: 1 to %d subscribers", n_subs, MAX_SUBS);
    relay_extra = extra_args;
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
        tdm_rh_die("1x%d: not every client connected", n_subs);
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
        tdm_rh_die("1x%d: not every subscriber got the keyframe", n_subs);

    double pub_rate = fwd_rate / n_subs;
    tdm_rh_hist_init(&run_lat);
    double out0 = relay_metric("tandem_relay_packets_out_total");
    double in0 = relay_metric("tandem_relay_packets_in_total");
    double rb0 = relay_metric("tandem_relay_recording_bytes_total");
    double rd0 = relay_metric("tandem_relay_recording_drops_total");
    double wc0 = relay_metric("tandem_relay_worker_cpu_seconds_total");
    double cpu0 = relay_cpu_s(), self0 = self_cpu_s();
    uint64_t t0 = tdm_bench_now_ns();
    uint64_t t_end = t0 + (uint64_t)(run_s * 1e9);
    win_start = t0;
    win_end = t_end;
    uint64_t sent = 0, send_fail = 0;
    if (!g_main_context_acquire(ctx))
        tdm_rh_die("cannot acquire the client context");
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
    r.rec_bytes = relay_metric("tandem_relay_recording_bytes_total") - rb0;
    r.rec_drops = relay_metric("tandem_relay_recording_drops_total") - rd0;
    r.recordings = relay_metric("tandem_relay_recordings");
    r.workers_cpu = relay_metric("tandem_relay_worker_cpu_seconds_total") - wc0;
    win_start = win_end = UINT64_MAX;

    uint64_t got = 0;
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
    if (send_fail)
        fprintf(stderr, "%s: 1x%d: %llu sends failed\n", prog, n_subs,
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
