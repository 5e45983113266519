/* bench_peers: processes, namespace, HTTP, peers and a tandem-relay for the
 * media-server benchmarks (see bench_peers.h). */
#define _GNU_SOURCE /* strcasestr, unshare */
#include "bench_peers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
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
#include "tdm_rtp.h"
#include "tdm_sdp_offer.h"
#include "tdm_token.h"

/* --- processes ------------------------------------------------------------ */

tdm_status tdm_bp_spawn(char *const argv[], int *stdout_fd, const char *log_path, pid_t *pid,
                        tdm_error *err)
{
    int out[2] = {-1, -1};
    if (stdout_fd && pipe(out) != 0)
        return tdm_fail(err, TDM_ERR_IO, "pipe: %s", strerror(errno));
    pid_t child = fork();
    if (child < 0) {
        if (stdout_fd) {
            close(out[0]);
            close(out[1]);
        }
        return tdm_fail(err, TDM_ERR_IO, "fork: %s", strerror(errno));
    }
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* should the benchmark die unexpectedly */
        int log = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (log >= 0) {
            dup2(log, 2);
            if (!stdout_fd)
                dup2(log, 1);
            close(log);
        }
        if (stdout_fd) {
            dup2(out[1], 1);
            close(out[0]);
            close(out[1]);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    if (stdout_fd) {
        close(out[1]);
        *stdout_fd = out[0];
    }
    *pid = child;
    return TDM_OK;
}

tdm_status tdm_bp_read_line(int fd, char *line, size_t cap, int timeout_ms, tdm_error *err)
{
    size_t n = 0;
    uint64_t deadline = tdm_bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint64_t now = tdm_bench_now_ns();
        if (now >= deadline)
            break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) != 1)
            continue;
        char ch;
        if (read(fd, &ch, 1) != 1)
            break;
        if (ch == '\n') {
            line[n] = '\0';
            return TDM_OK;
        }
        if (n + 1 < cap)
            line[n++] = ch;
    }
    line[n] = '\0';
    return tdm_fail(err, TDM_ERR_IO, "no line within %d ms (got '%s')", timeout_ms, line);
}

void tdm_bp_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int read_proc(pid_t pid, const char *file, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return 0;
}

double tdm_bp_proc_cpu_s(pid_t pid)
{
    char buf[1024];
    if (read_proc(pid, "stat", buf, sizeof buf) != 0)
        return -1;
    /* After the command name "(...)": state is field 3, utime 14, stime 15. */
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

long tdm_bp_proc_rss_kb(pid_t pid)
{
    char buf[4096];
    if (read_proc(pid, "status", buf, sizeof buf) != 0)
        return -1;
    const char *v = strstr(buf, "\nVmRSS:");
    return v ? atol(v + 7) : -1;
}

double tdm_bp_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* --- network namespace ---------------------------------------------------- */

static tdm_status ip(tdm_error *err, const char *a0, const char *a1, const char *a2,
                     const char *a3, const char *a4, const char *a5, const char *a6,
                     const char *a7, const char *a8)
{
    char *argv[] = {"/usr/sbin/ip", (char *)a0, (char *)a1, (char *)a2, (char *)a3, (char *)a4,
                    (char *)a5, (char *)a6, (char *)a7, (char *)a8, NULL};
    if (access(argv[0], X_OK) != 0)
        argv[0] = "/sbin/ip";
    pid_t pid;
    tdm_status st = tdm_bp_spawn(argv, NULL, NULL, &pid, err);
    if (st != TDM_OK)
        return st;
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return tdm_fail(err, TDM_ERR_IO, "ip %s %s %s %s failed", a0, a1, a2, a3 ? a3 : "");
    return TDM_OK;
}

tdm_status tdm_bp_netns_enter(const char *addr_a, const char *addr_b, tdm_error *err)
{
    if (unshare(CLONE_NEWNET) != 0)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "unshare(CLONE_NEWNET): %s (needs root)",
                        strerror(errno));
    char a[64], b[64];
    snprintf(a, sizeof a, "%s/24", addr_a);
    snprintf(b, sizeof b, "%s/24", addr_b);
    tdm_status st;
    if ((st = ip(err, "link", "set", "lo", "up", NULL, NULL, NULL, NULL, NULL)) != TDM_OK ||
        (st = ip(err, "link", "add", "v0", "type", "veth", "peer", "name", "v1", NULL)) !=
            TDM_OK ||
        (st = ip(err, "addr", "add", a, "dev", "v0", NULL, NULL, NULL, NULL)) != TDM_OK ||
        (st = ip(err, "addr", "add", b, "dev", "v1", NULL, NULL, NULL, NULL)) != TDM_OK ||
        (st = ip(err, "link", "set", "v0", "up", NULL, NULL, NULL, NULL, NULL)) != TDM_OK ||
        (st = ip(err, "link", "set", "v1", "up", NULL, NULL, NULL, NULL, NULL)) != TDM_OK ||
        (st = ip(err, "route", "add", "default", "dev", "v0", NULL, NULL, NULL, NULL)) != TDM_OK)
        return st;
    return TDM_OK;
}

long long tdm_bp_udp_rcvbuf_errors(void)
{
    char buf[4096];
    if (read_proc(getpid(), "net/snmp", buf, sizeof buf) != 0)
        return -1;
    /* Two "Udp:" lines: the field names, then the values. */
    const char *names = strstr(buf, "\nUdp:");
    const char *values = names ? strstr(names + 5, "\nUdp:") : NULL;
    if (!values)
        return -1;
    names += 5;
    values += 5;
    for (;;) {
        names += strspn(names, " ");
        values += strspn(values, " ");
        if (*names == '\n' || *names == '\0' || *values == '\n' || *values == '\0')
            return -1;
        size_t l = strcspn(names, " \n");
        if (l == 12 && strncmp(names, "RcvbufErrors", 12) == 0)
            return atoll(values);
        names += l;
        values += strcspn(values, " \n");
    }
}

/* --- HTTP ----------------------------------------------------------------- */

tdm_status tdm_bp_http(const char *host, uint16_t port, const char *method, const char *path,
                       const char *token, const char *ctype, const char *body,
                       tdm_bp_http_reply *rep, tdm_error *err)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return tdm_fail(err, TDM_ERR_INVALID, "bad host %s", host);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return tdm_fail(err, TDM_ERR_IO, "socket: %s", strerror(errno));
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        close(s);
        return tdm_fail(err, TDM_ERR_IO, "connect %s:%u: %s", host, port, strerror(errno));
    }
    static __thread char req[TDM_BP_HTTP_MAX + 1024];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n",
                     method, path, host, (unsigned)port, blen);
    if (token)
        n += snprintf(req + n, sizeof req - (size_t)n, "Authorization: Bearer %s\r\n", token);
    if (ctype)
        n += snprintf(req + n, sizeof req - (size_t)n, "Content-Type: %s\r\n", ctype);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n%s", body ? body : "");
    if (n <= 0 || (size_t)n >= sizeof req) {
        close(s);
        return tdm_fail(err, TDM_ERR_RANGE, "HTTP request too long");
    }
    for (size_t off = 0; off < (size_t)n;) {
        ssize_t k = write(s, req + off, (size_t)n - off);
        if (k <= 0) {
            close(s);
            return tdm_fail(err, TDM_ERR_IO, "HTTP write: %s", strerror(errno));
        }
        off += (size_t)k;
    }
    static __thread char resp[TDM_BP_HTTP_MAX + 4096];
    size_t got = 0;
    struct timeval tv = {.tv_sec = 10};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        if (got >= sizeof resp - 1) {
            close(s);
            return tdm_fail(err, TDM_ERR_RANGE, "HTTP reply too long");
        }
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
    if (sscanf(resp, "HTTP/1.%*d %d", &rep->status) != 1 || !end)
        return tdm_fail(err, TDM_ERR_FORMAT, "bad HTTP reply to %s %s", method, path);
    *end = '\0';
    char *loc = strcasestr(resp, "\r\nlocation:");
    if (loc) {
        loc += 11;
        loc += strspn(loc, " ");
        size_t l = strcspn(loc, "\r");
        if (l < sizeof rep->location)
            memcpy(rep->location, loc, l);
    }
    const char *body_at = end + 4;
    size_t raw = got - (size_t)(body_at - resp);
    if (raw >= sizeof rep->body)
        return tdm_fail(err, TDM_ERR_RANGE, "HTTP body too long");
    if (!strcasestr(resp, "\r\ntransfer-encoding: chunked")) {
        rep->body_len = raw;
        memcpy(rep->body, body_at, raw);
        rep->body[raw] = '\0';
        return TDM_OK;
    }
    /* Chunked (Janus's libmicrohttpd): hex size CRLF data CRLF ... 0 CRLF. */
    const char *p = body_at, *stop = body_at + raw;
    while (p < stop) {
        char *after;
        unsigned long chunk = strtoul(p, &after, 16);
        const char *data = strstr(after, "\r\n");
        if (!data || after == p)
            return tdm_fail(err, TDM_ERR_FORMAT, "bad chunk in reply to %s %s", method, path);
        data += 2;
        if (chunk == 0)
            break;
        if ((size_t)(stop - data) < chunk || rep->body_len + chunk >= sizeof rep->body)
            return tdm_fail(err, TDM_ERR_FORMAT, "truncated chunk in reply to %s", path);
        memcpy(rep->body + rep->body_len, data, chunk);
        rep->body_len += chunk;
        p = data + chunk + 2;
    }
    rep->body[rep->body_len] = '\0';
    return TDM_OK;
}

/* --- GLib loop helpers ---------------------------------------------------- */

static gboolean wake(gpointer unused)
{
    (void)unused;
    return G_SOURCE_CONTINUE;
}

bool tdm_bp_run_until(void *gmain_context, bool (*done)(void *), void *arg, unsigned timeout_ms)
{
    GMainContext *ctx = gmain_context;
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

#define TURN_MAX_FDS 4096

tdm_status tdm_bp_turn_until(void *gmain_context, uint64_t until_ns, tdm_error *err)
{
    GMainContext *ctx = gmain_context;
    static __thread GPollFD fds[TURN_MAX_FDS];
    gint prio, timeout_ms;
    g_main_context_prepare(ctx, &prio);
    gint n = g_main_context_query(ctx, prio, &timeout_ms, fds, TURN_MAX_FDS);
    if (n > TURN_MAX_FDS)
        return tdm_fail(err, TDM_ERR_RANGE, "too many poll fds (%d)", n);
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
    return TDM_OK;
}

/* --- bench peers ---------------------------------------------------------- */

/* The address field of "candidate:f c transport prio ADDR port typ ...". */
static bool candidate_on(const char *cand, const char *address)
{
    const char *p = strchr(cand, ':');
    if (!p)
        return false;
    p++;
    for (int field = 0; field < 4; field++) {
        p += strspn(p, " ");
        p += strcspn(p, " ");
    }
    p += strspn(p, " ");
    size_t l = strlen(address);
    return strncmp(p, address, l) == 0 && p[l] == ' ';
}

static void on_state(void *user, tdm_peer_state st, tdm_peer_fail fail, const char *reason)
{
    tdm_bp_peer *p = user;
    p->state = st;
    if (st == TDM_PEER_FAILED)
        fprintf(stderr, "bench: %s failed (%s): %s\n", p->name, tdm_peer_fail_name(fail), reason);
}

static void on_rtp(void *user, uint8_t *buf, size_t len)
{
    tdm_bp_peer *p = user;
    if (p->on_rtp)
        p->on_rtp(p->user, buf, len);
}

static void on_rtcp(void *user, uint8_t *buf, size_t len)
{
    (void)user, (void)buf, (void)len; /* PLIs, REMBs, SRs: not measured */
}

static void on_ice_event(void *user, const tdm_ice_event *ev)
{
    tdm_bp_peer *p = user;
    if (ev->type == TDM_ICE_EV_GATHERING_DONE) {
        p->gathered = true;
    } else if (ev->type == TDM_ICE_EV_LOCAL_CANDIDATE) {
        if (!candidate_on(ev->candidate, p->address))
            p->off_address = true;
        else if (p->n_cands < TDM_BP_MAX_CANDS)
            p->cands[p->n_cands++] = strdup(ev->candidate);
    } else if (ev->type == TDM_ICE_EV_SELECTED_PAIR) {
        size_t l = strlen(p->address);
        if (strncmp(ev->remote_address, p->address, l) != 0 || ev->remote_address[l] != ':')
            p->off_address = true;
    }
}

static bool gathered(void *arg)
{
    return ((tdm_bp_peer *)arg)->gathered;
}

tdm_status tdm_bp_peer_start(tdm_bp_peer *p, void *gmain_context, const char *address,
                             bool controlling, tdm_dtls_role role,
                             const uint8_t fp[TDM_DTLS_FINGERPRINT_LEN], tdm_error *err)
{
    static const uint8_t zero_fp[TDM_DTLS_FINGERPRINT_LEN];
    snprintf(p->address, sizeof p->address, "%s", address);
    tdm_status st = tdm_dtls_identity_new(NULL, &p->id, err);
    if (st != TDM_OK)
        return st;
    tdm_ice_config ice;
    tdm_ice_config_init(&ice, gmain_context, controlling);
    ice.local_addresses[0] = p->address;
    ice.n_local_addresses = 1;
    tdm_peer_config pc;
    tdm_peer_config_init(&pc, &ice, p->id, role, fp ? fp : zero_fp);
    tdm_peer_callbacks cb = {.on_state = on_state, .on_rtp = on_rtp, .on_rtcp = on_rtcp,
                             .on_ice_event = on_ice_event, .user = p};
    if ((st = tdm_peer_new(&pc, &cb, &p->peer, err)) != TDM_OK)
        return st;
    if ((st = tdm_ice_gather(tdm_peer_ice(p->peer), err)) != TDM_OK)
        return st;
    if (!tdm_bp_run_until(gmain_context, gathered, p, 5000) || p->n_cands == 0)
        return tdm_fail(err, TDM_ERR_IO, "%s: no candidates on %s", p->name, address);
    if (p->off_address)
        return tdm_fail(err, TDM_ERR_INVALID, "%s: a candidate off %s", p->name, address);
    return TDM_OK;
}

tdm_status tdm_bp_peer_remote(tdm_bp_peer *p, const tdm_sdp_media *m, tdm_error *err)
{
    tdm_ice *ia = tdm_peer_ice(p->peer);
    tdm_status st = tdm_ice_set_remote_credentials(ia, m->ice.ufrag, m->ice.pwd, err);
    if (st != TDM_OK)
        return st;
    size_t used = 0;
    for (size_t i = 0; i < m->n_candidates; i++) {
        const tdm_sdp_candidate *k = &m->candidates[i];
        if (k->transport != TDM_SDP_UDP)
            continue;
        if (strcmp(k->address, p->address) != 0)
            return tdm_fail(err, TDM_ERR_INVALID, "%s: remote candidate off %s: %s", p->name,
                            p->address, k->address);
        char text[256];
        snprintf(text, sizeof text, "candidate:%s %u UDP %u %s %u typ host", k->foundation,
                 (unsigned)k->component, (unsigned)k->priority, k->address, (unsigned)k->port);
        if ((st = tdm_ice_add_remote_candidate(ia, text, err)) != TDM_OK)
            return st;
        used++;
    }
    if (used == 0)
        return tdm_fail(err, TDM_ERR_INVALID, "%s: no usable remote candidate", p->name);
    tdm_ice_remote_gathering_done(ia);
    return TDM_OK;
}

tdm_status tdm_bp_answer_role(const tdm_sdp_media *m, tdm_dtls_role *role, tdm_error *err)
{
    if (m->dtls.setup == TDM_SDP_SETUP_PASSIVE)
        *role = TDM_DTLS_CLIENT;
    else if (m->dtls.setup == TDM_SDP_SETUP_ACTIVE)
        *role = TDM_DTLS_SERVER;
    else
        return tdm_fail(err, TDM_ERR_FORMAT, "answer's a=setup is neither active nor passive");
    if (!m->dtls.has_fingerprint)
        return tdm_fail(err, TDM_ERR_FORMAT, "answer has no sha-256 fingerprint");
    return TDM_OK;
}

void tdm_bp_peer_free(tdm_bp_peer *p)
{
    tdm_peer_free(p->peer);
    tdm_dtls_identity_free(p->id);
    for (size_t k = 0; k < p->n_cands; k++)
        free(p->cands[k]);
    p->peer = NULL;
    p->id = NULL;
    p->n_cands = 0;
    p->gathered = false;
    p->state = TDM_PEER_NEW;
}

bool tdm_bp_all_connected(const tdm_bp_peer *peers, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (peers[i].state != TDM_PEER_CONNECTED)
            return false;
    return true;
}

/* --- a real tandem-relay -------------------------------------------------- */

#define TANDEM_NODE "bench-node"
static const uint8_t tandem_secret[] = "bench-peers-secret-0123456789abcdef0123";

tdm_status tdm_bp_tandem_start(tdm_bp_tandem *t, const char *relay_path, const char *host,
                               const char *ice_address, const char *const *extra_args,
                               tdm_error *err)
{
    memset(t, 0, sizeof *t);
    snprintf(t->host, sizeof t->host, "%s", host);
    snprintf(t->secret_path, sizeof t->secret_path, "/tmp/tdm-bench-secret-XXXXXX");
    int fd = mkstemp(t->secret_path);
    if (fd < 0)
        return tdm_fail(err, TDM_ERR_IO, "mkstemp: %s", strerror(errno));
    ssize_t w = write(fd, tandem_secret, sizeof tandem_secret - 1);
    close(fd);
    if (w != (ssize_t)(sizeof tandem_secret - 1))
        return tdm_fail(err, TDM_ERR_IO, "write secret");
    char listen[96];
    snprintf(listen, sizeof listen, "%s:0", host);
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)relay_path;
    argv[n++] = "serve";
    argv[n++] = "--listen";
    argv[n++] = listen;
    argv[n++] = "--node-id";
    argv[n++] = TANDEM_NODE;
    argv[n++] = "--secret-file";
    argv[n++] = t->secret_path;
    argv[n++] = "--local-address";
    argv[n++] = (char *)ice_address;
    for (size_t i = 0; extra_args && extra_args[i] && n < 31; i++)
        argv[n++] = (char *)extra_args[i];
    argv[n] = NULL;
    int out = -1;
    tdm_status st = tdm_bp_spawn(argv, &out, NULL, &t->pid, err);
    if (st != TDM_OK)
        return st;
    /* "tandem-relay: node ID listening on http://HOST:PORT" */
    char line[256];
    st = tdm_bp_read_line(out, line, sizeof line, 10000, err);
    close(out);
    if (st != TDM_OK)
        return st;
    const char *colon = strrchr(line, ':');
    if (!strstr(line, "listening on") || !colon || atoi(colon + 1) <= 0)
        return tdm_fail(err, TDM_ERR_IO, "relay %s did not start: '%s'", relay_path, line);
    t->port = (uint16_t)atoi(colon + 1);
    return TDM_OK;
}

void tdm_bp_tandem_stop(tdm_bp_tandem *t)
{
    tdm_bp_stop(t->pid);
    t->pid = 0;
    if (t->secret_path[0])
        unlink(t->secret_path);
    t->secret_path[0] = '\0';
}

static tdm_status mint(const char *session, const char *participant, tdm_token_role role,
                       char *out, size_t cap, tdm_error *err)
{
    tdm_token_claims c;
    memset(&c, 0, sizeof c);
    snprintf(c.sub, sizeof c.sub, "%s", participant);
    snprintf(c.sid, sizeof c.sid, "%s", session);
    snprintf(c.node, sizeof c.node, "%s", TANDEM_NODE);
    c.role = role;
    int64_t now = (int64_t)time(NULL);
    c.exp = now + 3600;
    return tdm_token_mint(tandem_secret, sizeof tandem_secret - 1, &c, now, out, cap, err);
}

tdm_status tdm_bp_tandem_connect(tdm_bp_tandem *t, tdm_bp_peer *p, const char *session,
                                 bool publish, uint32_t ssrc, uint8_t pt, uint32_t *relay_ssrc,
                                 tdm_error *err)
{
    const char *ufrag, *pwd;
    tdm_ice *ia = tdm_peer_ice(p->peer);
    tdm_ice_local_credentials(ia, &ufrag, &pwd);
    tdm_sdp_offer_config oc = {
        .role = publish ? TDM_SDP_ROLE_PUBLISH : TDM_SDP_ROLE_SUBSCRIBE,
        .ice_ufrag = ufrag, .ice_pwd = pwd, .session_id = 42, .video_pt = pt,
        .video_ssrc = publish ? ssrc : 0, .cname = p->name,
        .candidates = (const char *const *)p->cands, .n_candidates = p->n_cands,
        .candidates_complete = true};
    memcpy(oc.fingerprint, tdm_dtls_identity_fingerprint(p->id), sizeof oc.fingerprint);
    char offer[8192];
    size_t olen;
    tdm_status st = tdm_sdp_offer_write(&oc, offer, sizeof offer, &olen, err);
    if (st != TDM_OK)
        return st;
    char token[TDM_TOKEN_MAX_LEN + 1], path[128];
    st = mint(session, p->name, publish ? TDM_TOKEN_ROLE_PUBLISH : TDM_TOKEN_ROLE_SUBSCRIBE,
              token, sizeof token, err);
    if (st != TDM_OK)
        return st;
    snprintf(path, sizeof path, "/%s/%s", publish ? "whip" : "whep", session);
    tdm_bp_http_reply *rep = malloc(sizeof *rep);
    tdm_sdp_session *ans = tdm_sdp_new();
    if (!rep || !ans) {
        free(rep);
        tdm_sdp_free(ans);
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    }
    st = tdm_bp_http(t->host, t->port, "POST", path, token, "application/sdp", offer, rep, err);
    if (st == TDM_OK && rep->status != 201)
        st = tdm_fail(err, TDM_ERR_IO, "%s: POST %s answered %d: %s", p->name, path,
                      rep->status, rep->body);
    if (st == TDM_OK)
        st = tdm_sdp_parse((const uint8_t *)rep->body, rep->body_len, ans, err);
    const tdm_sdp_media *m = &ans->media[0];
    tdm_dtls_role role = TDM_DTLS_CLIENT;
    if (st == TDM_OK && !publish) {
        if (m->n_ssrcs < 1)
            st = tdm_fail(err, TDM_ERR_FORMAT, "%s: answer has no SSRC", p->name);
        else if (relay_ssrc)
            *relay_ssrc = m->ssrcs[0].ssrc;
    }
    if (st == TDM_OK)
        st = tdm_bp_answer_role(m, &role, err);
    if (st == TDM_OK)
        st = tdm_peer_set_remote_dtls(p->peer, role, m->dtls.fingerprint, err);
    if (st == TDM_OK)
        st = tdm_bp_peer_remote(p, m, err);
    free(rep);
    tdm_sdp_free(ans);
    return st;
}

tdm_status tdm_bp_tandem_metric(tdm_bp_tandem *t, const char *name, double *value,
                                tdm_error *err)
{
    tdm_bp_http_reply *rep = malloc(sizeof *rep);
    if (!rep)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    tdm_status st = tdm_bp_http(t->host, t->port, "GET", "/metrics", NULL, NULL, NULL, rep, err);
    double sum = 0;
    size_t nl = strlen(name);
    for (const char *line = rep->body; st == TDM_OK && *line;) {
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
    free(rep);
    *value = sum;
    return st;
}

/* --- a stamped VP8 stream -------------------------------------------------- */

static tdm_status stream_send(tdm_bp_stream *s, bool keyframe, tdm_error *err)
{
    static const uint8_t key[] = {0x10, 0x50, 0x2d, 0x00, 0x9d, 0x01,
                                  0x2a, 0x80, 0x02, 0x68, 0x01};
    uint8_t payload[TDM_BP_PKT_LEN - 12], pkt[TDM_BP_PKT_CAP];
    uint32_t index = s->index++;
    memset(payload, (int)(index & 0xff), sizeof payload);
    if (keyframe)
        memcpy(payload, key, sizeof key);
    else
        payload[0] = 0x00;
    uint64_t now = tdm_bench_now_ns();
    memcpy(payload + TDM_BP_STAMP_OFF, &now, sizeof now);
    memcpy(payload + TDM_BP_MAGIC_OFF, &s->magic, sizeof s->magic);
    tdm_rtp_header h = {.marker = index % 10 == 9, .payload_type = s->pt,
                        .seq = (uint16_t)index, .timestamp = 1000u + 3000u * (index / 10),
                        .ssrc = s->ssrc};
    size_t len;
    tdm_status st = tdm_rtp_write(&h, payload, sizeof payload, 0, pkt,
                                  sizeof pkt - TDM_PEER_MAX_SRTP_OVERHEAD, &len);
    if (st != TDM_OK)
        return tdm_fail(err, st, "rtp write");
    if (tdm_peer_send_rtp(s->pub, pkt, len, sizeof pkt) != TDM_OK)
        s->send_fail++;
    return TDM_OK;
}

bool tdm_bp_stream_read(const uint8_t *buf, size_t len, uint32_t magic, uint32_t *ssrc,
                        uint64_t *sent_ns)
{
    tdm_rtp_packet p;
    uint32_t m;
    if (tdm_rtp_parse(buf, len, &p, NULL) != TDM_OK || p.payload_len < TDM_BP_MAGIC_OFF + 4)
        return false;
    memcpy(&m, p.payload + TDM_BP_MAGIC_OFF, sizeof m);
    if (m != magic)
        return false;
    memcpy(sent_ns, p.payload + TDM_BP_STAMP_OFF, sizeof *sent_ns);
    if (ssrc)
        *ssrc = p.header.ssrc;
    return true;
}

bool tdm_bp_stream_start(tdm_bp_stream *s, void *gmain_context, bool (*started)(void *),
                         void *arg, int tries, unsigned wait_ms, tdm_error *err)
{
    for (int i = 0; i < tries && !started(arg); i++) {
        if (stream_send(s, true, err) != TDM_OK)
            return false;
        tdm_bp_run_until(gmain_context, started, arg, wait_ms);
    }
    if (!started(arg)) {
        tdm_fail(err, TDM_ERR_IO, "not every receiver got the keyframe");
        return false;
    }
    return true;
}

tdm_status tdm_bp_stream_paced(tdm_bp_stream *s, void *gmain_context, double rate, uint64_t t0,
                               uint64_t t_end, uint64_t drain_ns, tdm_error *err)
{
    GMainContext *ctx = gmain_context;
    if (!g_main_context_acquire(ctx))
        return tdm_fail(err, TDM_ERR_IO, "cannot acquire the peers' context");
    tdm_status st = TDM_OK;
    for (uint64_t now = t0; st == TDM_OK && now < t_end; now = tdm_bench_now_ns()) {
        uint64_t due = (uint64_t)((double)(now - t0) * rate / 1e9);
        for (int burst = 0; st == TDM_OK && s->sent < due && burst < 2; burst++) {
            st = stream_send(s, false, err);
            s->sent++;
        }
        if (st == TDM_OK)
            st = tdm_bp_turn_until(ctx,
                                   s->sent < due ? 0
                                                 : t0 + (uint64_t)((double)(s->sent + 1) * 1e9 / rate),
                                   err);
    }
    for (uint64_t stop = tdm_bench_now_ns() + drain_ns; st == TDM_OK && tdm_bench_now_ns() < stop;)
        st = tdm_bp_turn_until(ctx, stop, err);
    g_main_context_release(ctx);
    return st;
}
