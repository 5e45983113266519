/* relay_revoke.c: the revocation sender thread (tdm_sig_relay_revoke.h). */
#include "tdm_sig_relay_revoke.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "tdm_relay_heartbeat.h"

typedef struct job {
    tdm_sig_revocation v;
    int attempt;     /* attempts made */
    int64_t due_ms;  /* monotonic */
} job;

struct tdm_sig_revoker {
    uint8_t secret[256];
    size_t secret_len;
    int timeout_ms, attempts, backoff_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;                        /* under mu */
    job q[TDM_SIG_REVOKER_QUEUE];     /* under mu; unordered */
    size_t n;                         /* under mu */
    tdm_sig_revoker_counters counters; /* under mu */
    int64_t last_ts_ms;               /* the thread's: signed times strictly increase */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* http://HOST[:PORT][/PATH] -> host, port, path prefix (no trailing '/'). */
static bool parse_url(const char *url, char *host, size_t hcap, char *port, size_t pcap,
                      char *path, size_t pathcap)
{
    if (strncmp(url, "http://", 7) != 0)
        return false;
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = memchr(h, ':', hl);
    size_t nl = colon ? (size_t)(colon - h) : hl;
    if (nl == 0 || nl >= hcap)
        return false;
    memcpy(host, h, nl);
    host[nl] = '\0';
    if (colon) {
        size_t pl = hl - nl - 1;
        if (pl == 0 || pl >= pcap || strspn(colon + 1, "0123456789") < pl)
            return false;
        memcpy(port, colon + 1, pl);
        port[pl] = '\0';
    } else {
        snprintf(port, pcap, "80");
    }
    snprintf(path, pathcap, "%s", slash ? slash : "");
    size_t n = strlen(path);
    while (n && path[n - 1] == '/')
        path[--n] = '\0';
    return true;
}

static bool wait_fd(int fd, short ev, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = ev};
    int rc;
    do
        rc = poll(&p, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    return rc == 1 && (p.revents & (ev | POLLHUP | POLLERR));
}

/* One POST. Returns the HTTP status, or -1 (err says why) when there was
 * none: connection, timeout or a malformed answer. */
static int post(tdm_sig_revoker *r, const tdm_sig_revocation *v, char *answer, size_t acap,
                tdm_error *err)
{
    char host[256], port[8], path[512];
    if (!parse_url(v->url, host, sizeof host, port, sizeof port, path, sizeof path))
        return tdm_fail(err, TDM_ERR_INVALID, "relay URL '%s' is not http://HOST[:PORT][/PATH]",
                        v->url),
               -2;
    char body[256];
    int bl = v->participant[0]
                 ? snprintf(body, sizeof body, "{\"session\":\"%s\",\"participant\":\"%s\"}",
                            v->session, v->participant)
                 : snprintf(body, sizeof body, "{\"session\":\"%s\"}", v->session);
    int64_t ts = wall_ms();
    if (ts <= r->last_ts_ms)
        ts = r->last_ts_ms + 1;
    r->last_ts_ms = ts;
    char auth[TDM_HB_AUTH_CAP];
    if (tdm_hb_sign(r->secret, r->secret_len, ts, (const uint8_t *)body, (size_t)bl, auth, err) !=
        TDM_OK)
        return -2;
    char req[2048];
    int rl = snprintf(req, sizeof req,
                      "POST %s/admin/revoke HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: %s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %d\r\n"
                      "Connection: close\r\n\r\n%s",
                      path, host, port, auth, bl, body);

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
        return tdm_fail(err, TDM_ERR_IO, "cannot resolve %s", host), -1;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int status = -1;
    if (fd < 0) {
        tdm_fail(err, TDM_ERR_IO, "socket: %s", strerror(errno));
        goto out;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        tdm_fail(err, TDM_ERR_IO, "connect: %s", strerror(errno));
        goto out;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (!wait_fd(fd, POLLOUT, r->timeout_ms) ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
        tdm_fail(err, TDM_ERR_IO, "connect: %s", soerr ? strerror(soerr) : "timed out");
        goto out;
    }
    for (int off = 0; off < rl;) {
        if (!wait_fd(fd, POLLOUT, r->timeout_ms)) {
            tdm_fail(err, TDM_ERR_IO, "send timed out");
            goto out;
        }
        ssize_t w = send(fd, req + off, (size_t)(rl - off), MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            tdm_fail(err, TDM_ERR_IO, "send: %s", strerror(errno));
            goto out;
        }
        off += w > 0 ? (int)w : 0;
    }
    size_t got = 0;
    while (got + 1 < acap) {
        if (!wait_fd(fd, POLLIN, r->timeout_ms)) {
            if (got == 0) {
                tdm_fail(err, TDM_ERR_IO, "no answer within %d ms", r->timeout_ms);
                goto out;
            }
            break;
        }
        ssize_t n = recv(fd, answer + got, acap - 1 - got, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    answer[got] = '\0';
    int code = 0;
    if (sscanf(answer, "HTTP/1.%*d %d", &code) != 1 || code < 100 || code > 599) {
        tdm_fail(err, TDM_ERR_FORMAT, "malformed answer");
        goto out;
    }
    status = code;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return status;
}

/* The answer's body, one line, for the log. */
static const char *answer_body(char *answer)
{
    char *b = strstr(answer, "\r\n\r\n");
    b = b ? b + 4 : answer + strlen(answer);
    b[strcspn(b, "\r\n")] = '\0';
    if (strlen(b) > 120)
        b[120] = '\0';
    return b;
}

static void *run(void *arg)
{
    tdm_sig_revoker *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        /* The job due first; wait until then or for news. */
        size_t best = r->n;
        for (size_t i = 0; i < r->n; i++)
            if (best == r->n || r->q[i].due_ms < r->q[best].due_ms)
                best = i;
        int64_t now = mono_ms();
        if (best == r->n || r->q[best].due_ms > now) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            int64_t wait_ms = best == r->n ? 1000 : r->q[best].due_ms - now;
            until.tv_sec += wait_ms / 1000;
            until.tv_nsec += (wait_ms % 1000) * 1000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&r->cv, &r->mu, &until);
            continue;
        }
        job j = r->q[best];
        r->q[best] = r->q[--r->n];
        pthread_mutex_unlock(&r->mu);

        char answer[1024];
        tdm_error e = {{0}};
        int status = post(r, &j.v, answer, sizeof answer, &e);
        j.attempt++;
        const char *what = j.v.participant[0] ? "participant" : "session";
        bool retry = status == -1 || status == 401 || status >= 500;
        bool last = !retry || j.attempt >= r->attempts;
        if (status == 200)
            fprintf(stderr, "tandem-signal: relay %s revoked %s %s%s%s: %s\n", j.v.relay_id, what,
                    j.v.session, j.v.participant[0] ? "/" : "", j.v.participant,
                    answer_body(answer));
        else
            fprintf(stderr,
                    "tandem-signal: revoking %s %s%s%s on relay %s (%s) failed (attempt %d): "
                    "%s%s%s\n",
                    what, j.v.session, j.v.participant[0] ? "/" : "", j.v.participant,
                    j.v.relay_id, j.v.url, j.attempt,
                    status > 0 ? "HTTP " : e.msg, status > 0 ? answer_body(answer) : "",
                    status == 404 ? " (relay has no /admin/revoke: started without "
                                    "--cluster-secret-file?)"
                    : status > 0 && last ? "; giving up, its tokens expire on their own"
                                         : "");

        pthread_mutex_lock(&r->mu);
        if (status == 200) {
            r->counters.sent++;
        } else if (last || r->stop || r->n == TDM_SIG_REVOKER_QUEUE) {
            r->counters.failed++;
        } else {
            r->counters.retries++;
            j.due_ms = mono_ms() + ((int64_t)r->backoff_ms << (j.attempt - 1));
            r->q[r->n++] = j;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

tdm_status tdm_sig_revoker_new(const tdm_sig_revoker_config *cfg, tdm_sig_revoker **out,
                               tdm_error *err)
{
    if (!cfg || !out || !cfg->secret || cfg->secret_len < TDM_HB_SECRET_MIN ||
        cfg->secret_len > sizeof ((tdm_sig_revoker *)0)->secret)
        return tdm_fail(err, TDM_ERR_INVALID, "revoker: the cluster secret needs %d..256 bytes",
                        TDM_HB_SECRET_MIN);
    tdm_sig_revoker *r = calloc(1, sizeof *r);
    if (!r)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    memcpy(r->secret, cfg->secret, cfg->secret_len);
    r->secret_len = cfg->secret_len;
    r->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000;
    r->attempts = cfg->attempts > 0 ? cfg->attempts : 4;
    r->backoff_ms = cfg->backoff_ms > 0 ? cfg->backoff_ms : 500;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        OPENSSL_cleanse(r->secret, sizeof r->secret);
        free(r);
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "revoker: cannot start its thread");
    }
    *out = r;
    return TDM_OK;
}

tdm_status tdm_sig_revoker_submit(tdm_sig_revoker *r, const tdm_sig_revocation *v)
{
    if (!r || !v)
        return TDM_ERR_INVALID;
    pthread_mutex_lock(&r->mu);
    tdm_status st = TDM_OK;
    if (r->n == TDM_SIG_REVOKER_QUEUE) {
        r->counters.dropped++;
        st = TDM_ERR_RANGE;
    } else {
        r->q[r->n++] = (job){.v = *v, .attempt = 0, .due_ms = mono_ms()};
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return st;
}

void tdm_sig_revoker_counters_get(tdm_sig_revoker *r, tdm_sig_revoker_counters *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->counters;
    pthread_mutex_unlock(&r->mu);
}

void tdm_sig_revoker_free(tdm_sig_revoker *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    OPENSSL_cleanse(r->secret, sizeof r->secret);
    free(r);
}
