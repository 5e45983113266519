/* signal_link.c: the IO shell of the signaling client — sockets, deadlines
 * and error sentences around the parsers of signal_link_wire.c. */
#define _GNU_SOURCE
#include "signal_link.h"

#include "signal_link_wire.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define RESP_MAX (8u << 20)
#define WS_MSG_MAX (1u << 20)
#define WS_PATH "/api/v1/ws"
#define WS_SUBPROTOCOL "tandem-v1"

struct tdm_link {
    tdm_link_url url;
    char authority[300];
    int timeout_ms;
};

struct tdm_link_ws {
    int fd;
    int timeout_ms;
    char authority[300];
    uint8_t *rx; /* bytes read, not yet consumed */
    size_t rx_len, rx_cap;
    char *msg; /* the message being assembled / handed out */
    size_t msg_len, msg_cap;
    bool assembling;
    bool close_sent;
    bool ended; /* close frame received, EOF or failure: recv returns at once */
    tdm_status end_status;
    int close_code;
    tdm_link_failure failure;
    pthread_mutex_t write_lock;
};

const char *tdm_link_failure_str(tdm_link_failure f)
{
    switch (f) {
    case TDM_LINK_FAIL_NONE: return "none";
    case TDM_LINK_FAIL_URL: return "bad URL";
    case TDM_LINK_FAIL_RESOLVE: return "name not resolved";
    case TDM_LINK_FAIL_REFUSED: return "connection refused";
    case TDM_LINK_FAIL_TIMEOUT: return "timed out";
    case TDM_LINK_FAIL_IO: return "connection failed";
    case TDM_LINK_FAIL_BAD_RESPONSE: return "bad response";
    case TDM_LINK_FAIL_TOO_LARGE: return "too large";
    case TDM_LINK_FAIL_CLOSED: return "closed by the server";
    }
    return "unknown";
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (-1: no deadline), for poll(). */
static int left_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t l = deadline - now_ms();
    return l <= 0 ? 0 : (l > 0x7fffffff ? 0x7fffffff : (int)l);
}

tdm_status tdm_link_new(const char *base_url, int timeout_ms, tdm_link **out, tdm_error *err)
{
    *out = NULL;
    if (timeout_ms <= 0)
        return tdm_fail(err, TDM_ERR_INVALID, "timeout must be positive (got %d ms)", timeout_ms);
    tdm_link *l = calloc(1, sizeof *l);
    if (!l)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    tdm_status st = tdm_link_url_parse(base_url, &l->url, err);
    if (st != TDM_OK) {
        free(l);
        return st;
    }
    snprintf(l->authority, sizeof l->authority, l->url.ipv6_literal ? "[%s]:%u" : "%s:%u",
             l->url.host, l->url.port);
    l->timeout_ms = timeout_ms;
    *out = l;
    return TDM_OK;
}

void tdm_link_free(tdm_link *link) { free(link); }

const char *tdm_link_authority(const tdm_link *link) { return link->authority; }

/* ---- sockets ----------------------------------------------------------- */

__attribute__((format(printf, 5, 6))) static tdm_status
set_failure(tdm_link_failure *slot, tdm_link_failure f, tdm_error *err, tdm_status st,
            const char *fmt, ...)
{
    if (slot)
        *slot = f;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* A connected, non-blocking TCP socket to the link's host, tried address by
 * address until the deadline. */
static tdm_status dial(const tdm_link *link, int64_t deadline, int *out_fd,
                       tdm_link_failure *fail, tdm_error *err)
{
    *out_fd = -1;
    char port[8];
    snprintf(port, sizeof port, "%u", link->url.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(link->url.host, port, &hints, &res);
    if (gai == EAI_ADDRFAMILY || gai == EAI_NONAME || gai == EAI_NODATA) {
        /* AI_ADDRCONFIG hides loopback-only machines' addresses: ask again. */
        hints.ai_flags = 0;
        gai = getaddrinfo(link->url.host, port, &hints, &res);
    }
    if (gai != 0)
        return set_failure(fail, TDM_LINK_FAIL_RESOLVE, err, TDM_ERR_UNAVAILABLE,
                           "cannot resolve '%s': %s", link->url.host, gai_strerror(gai));
    int last_errno = 0;
    bool timed_out = false;
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        int s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       ai->ai_protocol);
        if (s < 0) {
            last_errno = errno;
            continue;
        }
        int rc = connect(s, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            struct pollfd p = {.fd = s, .events = POLLOUT};
            int pr;
            do
                pr = poll(&p, 1, left_ms(deadline));
            while (pr < 0 && errno == EINTR);
            if (pr == 0) {
                timed_out = true;
                close(s);
                break; /* the deadline is spent for every address */
            }
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (pr < 0 || getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
                soerr = errno;
            rc = soerr ? -1 : 0;
            errno = soerr;
        }
        if (rc != 0) {
            last_errno = errno;
            close(s);
            continue;
        }
        int one = 1;
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fd = s;
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        *out_fd = fd;
        return TDM_OK;
    }
    if (timed_out)
        return set_failure(fail, TDM_LINK_FAIL_TIMEOUT, err, TDM_ERR_UNAVAILABLE,
                           "timed out connecting to %s (after %d ms)", link->authority,
                           link->timeout_ms);
    if (last_errno == ECONNREFUSED)
        return set_failure(fail, TDM_LINK_FAIL_REFUSED, err, TDM_ERR_UNAVAILABLE,
                           "connection refused by %s (is tandem-signal running there?)",
                           link->authority);
    if (last_errno == ENETUNREACH || last_errno == EHOSTUNREACH)
        return set_failure(fail, TDM_LINK_FAIL_REFUSED, err, TDM_ERR_UNAVAILABLE,
                           "%s is unreachable: %s", link->authority, strerror(last_errno));
    return set_failure(fail, TDM_LINK_FAIL_IO, err, TDM_ERR_IO, "cannot connect to %s: %s",
                       link->authority, strerror(last_errno ? last_errno : EIO));
}

/* Writes everything before the deadline. */
static tdm_status write_all(int fd, const void *buf, size_t len, int64_t deadline,
                            const char *authority, tdm_link_failure *fail, tdm_error *err)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int pr = poll(&pf, 1, left_ms(deadline));
            if (pr == 0)
                return set_failure(fail, TDM_LINK_FAIL_TIMEOUT, err, TDM_ERR_IO,
                                   "timed out sending to %s", authority);
            if (pr < 0 && errno != EINTR)
                return set_failure(fail, TDM_LINK_FAIL_IO, err, TDM_ERR_IO,
                                   "sending to %s: %s", authority, strerror(errno));
            continue;
        }
        return set_failure(fail, TDM_LINK_FAIL_IO, err, TDM_ERR_IO, "sending to %s: %s",
                           authority, n == 0 ? "nothing written" : strerror(errno));
    }
    return TDM_OK;
}

/* Reads what is there, waiting until the deadline: >0 bytes, 0 at EOF, -1
 * on timeout (fail TIMEOUT) or error (fail IO). */
static ssize_t read_some(int fd, void *buf, size_t cap, int64_t deadline,
                         tdm_link_failure *fail)
{
    for (;;) {
        ssize_t n = recv(fd, buf, cap, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            *fail = TDM_LINK_FAIL_IO;
            return -1;
        }
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int pr = poll(&pf, 1, left_ms(deadline));
        if (pr == 0) {
            *fail = TDM_LINK_FAIL_TIMEOUT;
            return -1;
        }
        if (pr < 0 && errno != EINTR) {
            *fail = TDM_LINK_FAIL_IO;
            return -1;
        }
    }
}

static bool has_crlf(const char *s) { return s && strpbrk(s, "\r\n") != NULL; }

/* ---- HTTP --------------------------------------------------------------- */

void tdm_link_response_free(tdm_link_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

static tdm_status buf_grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return TDM_OK;
    size_t c = *cap ? *cap : 4096;
    while (c < need)
        c *= 2;
    uint8_t *n = realloc(*buf, c);
    if (!n)
        return TDM_ERR_NOMEM;
    *buf = n;
    *cap = c;
    return TDM_OK;
}

tdm_status tdm_link_http(tdm_link *link, const tdm_link_request *req, tdm_link_response *resp,
                         tdm_error *err)
{
    memset(resp, 0, sizeof *resp);
    const char *method = req->method ? req->method : "GET";
    if (!req->path || req->path[0] != '/' || has_crlf(req->path) || strchr(req->path, ' ')) {
        resp->failure = TDM_LINK_FAIL_URL;
        return tdm_fail(err, TDM_ERR_INVALID, "request path must start with '/' and hold no spaces");
    }
    if (has_crlf(method) || strchr(method, ' ') || has_crlf(req->bearer) ||
        has_crlf(req->secret)) {
        resp->failure = TDM_LINK_FAIL_URL;
        return tdm_fail(err, TDM_ERR_INVALID, "line breaks in a request header");
    }
    size_t blen = req->body ? strlen(req->body) : 0;
    char *head = NULL;
    bool needs_length = req->body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
    int hn = asprintf(&head,
                      "%s %s%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                      "Accept: application/json\r\nUser-Agent: tandem-signal-link\r\n"
                      "%s%s%s%s%s%s%s%s",
                      method, link->url.prefix, req->path, link->authority,
                      req->bearer ? "Authorization: Bearer " : "", req->bearer ? req->bearer : "",
                      req->bearer ? "\r\n" : "", req->secret ? "X-Tandem-Secret: " : "",
                      req->secret ? req->secret : "", req->secret ? "\r\n" : "",
                      req->body ? "Content-Type: application/json\r\n" : "", "");
    if (hn < 0)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    char *full = NULL;
    int fn;
    if (needs_length)
        fn = asprintf(&full, "%sContent-Length: %zu\r\n\r\n", head, blen);
    else
        fn = asprintf(&full, "%s\r\n", head);
    free(head);
    if (fn < 0)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");

    int64_t deadline = now_ms() + link->timeout_ms;
    int fd;
    tdm_status st = dial(link, deadline, &fd, &resp->failure, err);
    if (st != TDM_OK) {
        free(full);
        return st;
    }
    st = write_all(fd, full, (size_t)fn, deadline, link->authority, &resp->failure, err);
    free(full);
    if (st == TDM_OK && blen)
        st = write_all(fd, req->body, blen, deadline, link->authority, &resp->failure, err);
    if (st != TDM_OK) {
        close(fd);
        return st;
    }

    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    tdm_http_head h;
    bool have_head = false, eof = false;
    size_t body_len = 0;
    for (;;) {
        if (!have_head && len) {
            tdm_error perr = {{0}};
            st = tdm_http_head_parse(buf, len, &h, &perr);
            if (st == TDM_OK && h.status >= 100 && h.status < 200) {
                /* an interim answer (100 Continue): the real one follows */
                memmove(buf, buf + h.head_len, len - h.head_len);
                len -= h.head_len;
                continue;
            }
            if (st == TDM_OK)
                have_head = true;
            else if (st != TDM_AGAIN) {
                resp->failure = TDM_LINK_FAIL_BAD_RESPONSE;
                close(fd);
                free(buf);
                return tdm_fail(err, TDM_ERR_FORMAT, "bad response from %s: %s",
                                link->authority, perr.msg);
            }
        }
        if (have_head) {
            size_t have = len - h.head_len;
            bool no_body = strcmp(method, "HEAD") == 0 || h.status == 204 || h.status == 304;
            if (no_body) {
                body_len = 0;
                break;
            }
            if (h.content_length >= 0) {
                if ((unsigned long long)h.content_length > RESP_MAX) {
                    resp->failure = TDM_LINK_FAIL_TOO_LARGE;
                    close(fd);
                    free(buf);
                    return tdm_fail(err, TDM_ERR_RANGE, "response from %s over %u bytes",
                                    link->authority, RESP_MAX);
                }
                if (have >= (size_t)h.content_length) {
                    body_len = (size_t)h.content_length;
                    break;
                }
            } else if (h.chunked) {
                size_t out = 0;
                tdm_error derr = {{0}};
                st = tdm_http_dechunk(buf + h.head_len, have, RESP_MAX, &out, &derr);
                if (st == TDM_OK) {
                    body_len = out;
                    break;
                }
                if (st != TDM_AGAIN) {
                    resp->failure = st == TDM_ERR_RANGE ? TDM_LINK_FAIL_TOO_LARGE
                                                        : TDM_LINK_FAIL_BAD_RESPONSE;
                    close(fd);
                    free(buf);
                    return tdm_fail(err, st, "bad response from %s: %s", link->authority,
                                    derr.msg);
                }
            } else if (eof) {
                body_len = have; /* delimited by the close */
                break;
            }
        }
        if (eof) {
            resp->failure = TDM_LINK_FAIL_BAD_RESPONSE;
            close(fd);
            free(buf);
            return tdm_fail(err, TDM_ERR_TRUNCATED,
                            "%s closed the connection before a complete response (%zu bytes)",
                            link->authority, len);
        }
        if (len >= RESP_MAX + 16384) {
            resp->failure = TDM_LINK_FAIL_TOO_LARGE;
            close(fd);
            free(buf);
            return tdm_fail(err, TDM_ERR_RANGE, "response from %s over %u bytes",
                            link->authority, RESP_MAX);
        }
        if (buf_grow(&buf, &cap, len + 16384 + 1) != TDM_OK) {
            close(fd);
            free(buf);
            return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
        }
        ssize_t n = read_some(fd, buf + len, cap - len - 1, deadline, &resp->failure);
        if (n < 0) {
            int e = errno;
            close(fd);
            free(buf);
            if (resp->failure == TDM_LINK_FAIL_TIMEOUT)
                return tdm_fail(err, TDM_ERR_IO,
                                "timed out after %d ms waiting for the response of %s %s%s",
                                link->timeout_ms, link->authority, method, req->path);
            return tdm_fail(err, TDM_ERR_IO, "reading from %s: %s", link->authority,
                            strerror(e));
        }
        if (n == 0)
            eof = true;
        len += (size_t)n;
    }
    close(fd);
    resp->status = h.status;
    resp->body = malloc(body_len + 1);
    if (!resp->body) {
        free(buf);
        resp->status = 0;
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    }
    if (body_len)
        memcpy(resp->body, buf + h.head_len, body_len);
    resp->body[body_len] = '\0';
    resp->body_len = body_len;
    resp->failure = TDM_LINK_FAIL_NONE;
    free(buf);
    return TDM_OK;
}

const char *tdm_link_error_text(const tdm_link_response *resp, char *buf, size_t cap)
{
    json_t *j = resp->body ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
    const char *code = j ? json_string_value(json_object_get(j, "error")) : NULL;
    const char *detail = j ? json_string_value(json_object_get(j, "detail")) : NULL;
    if (code && detail && *detail)
        snprintf(buf, cap, "%s: %s", code, detail);
    else if (code)
        snprintf(buf, cap, "%s (HTTP %d)", code, resp->status);
    else
        snprintf(buf, cap, "HTTP %d", resp->status);
    json_decref(j);
    return buf;
}

/* ---- WebSocket ---------------------------------------------------------- */

static tdm_status ws_fail(tdm_link_ws *ws, tdm_link_failure f, tdm_status st, tdm_error *err,
                          const char *what)
{
    ws->failure = f;
    ws->ended = true;
    ws->end_status = st;
    if (!ws->close_code)
        ws->close_code = 1006;
    return tdm_fail(err, st, "WebSocket to %s: %s", ws->authority, what);
}

static void ws_free(tdm_link_ws *ws)
{
    if (ws->fd >= 0)
        close(ws->fd);
    pthread_mutex_destroy(&ws->write_lock);
    free(ws->rx);
    free(ws->msg);
    free(ws);
}

tdm_status tdm_link_ws_connect(tdm_link *link, tdm_link_ws **out, tdm_error *err)
{
    *out = NULL;
    tdm_link_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    ws->fd = -1;
    pthread_mutex_init(&ws->write_lock, NULL);
    ws->timeout_ms = link->timeout_ms;
    snprintf(ws->authority, sizeof ws->authority, "%s", link->authority);

    uint8_t nonce[16];
    if (RAND_bytes(nonce, sizeof nonce) != 1) {
        ws_free(ws);
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "no randomness for the WebSocket key");
    }
    char key[32], expect[29];
    EVP_EncodeBlock((unsigned char *)key, nonce, sizeof nonce);
    tdm_ws_accept_for(key, expect);

    int64_t deadline = now_ms() + link->timeout_ms;
    tdm_link_failure fail = TDM_LINK_FAIL_NONE;
    tdm_status st = dial(link, deadline, &ws->fd, &fail, err);
    if (st != TDM_OK) {
        ws_free(ws);
        return st;
    }
    char req[1024];
    int rn = snprintf(req, sizeof req,
                      "GET %s" WS_PATH " HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " WS_SUBPROTOCOL
                      "\r\nUser-Agent: tandem-signal-link\r\n\r\n",
                      link->url.prefix, link->authority, key);
    st = write_all(ws->fd, req, (size_t)rn, deadline, link->authority, &fail, err);
    if (st != TDM_OK) {
        ws_free(ws);
        return st;
    }
    tdm_http_head h;
    for (;;) {
        if (buf_grow(&ws->rx, &ws->rx_cap, ws->rx_len + 4096) != TDM_OK) {
            ws_free(ws);
            return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
        }
        ssize_t n = read_some(ws->fd, ws->rx + ws->rx_len, ws->rx_cap - ws->rx_len, deadline,
                              &fail);
        if (n <= 0) {
            int e = errno;
            ws_free(ws);
            if (n == 0)
                return tdm_fail(err, TDM_ERR_TRUNCATED,
                                "%s closed the connection during the WebSocket handshake",
                                link->authority);
            if (fail == TDM_LINK_FAIL_TIMEOUT)
                return tdm_fail(err, TDM_ERR_IO,
                                "timed out after %d ms waiting for the WebSocket handshake "
                                "of %s",
                                link->timeout_ms, link->authority);
            return tdm_fail(err, TDM_ERR_IO, "reading from %s: %s", link->authority,
                            strerror(e));
        }
        ws->rx_len += (size_t)n;
        tdm_error perr = {{0}};
        st = tdm_http_head_parse(ws->rx, ws->rx_len, &h, &perr);
        if (st == TDM_OK)
            break;
        if (st != TDM_AGAIN) {
            ws_free(ws);
            return tdm_fail(err, TDM_ERR_FORMAT, "bad WebSocket handshake from %s: %s",
                            link->authority, perr.msg);
        }
    }
    const char *bad = NULL;
    char why[128];
    if (h.status != 101) {
        snprintf(why, sizeof why, "HTTP %d instead of 101 Switching Protocols", h.status);
        bad = why;
    } else if (!h.upgrade_websocket || !h.connection_upgrade)
        bad = "no Upgrade: websocket / Connection: Upgrade in the answer";
    else if (strcmp(h.ws_accept, expect) != 0)
        bad = "wrong Sec-WebSocket-Accept";
    else if (h.ws_protocol[0] && strcmp(h.ws_protocol, WS_SUBPROTOCOL) != 0)
        bad = "the server chose another subprotocol";
    if (bad) {
        tdm_status r = tdm_fail(err, TDM_ERR_FORMAT, "WebSocket handshake with %s failed: %s",
                                link->authority, bad);
        ws_free(ws);
        return r;
    }
    /* Frames may have come with the handshake's answer. */
    memmove(ws->rx, ws->rx + h.head_len, ws->rx_len - h.head_len);
    ws->rx_len -= h.head_len;
    *out = ws;
    return TDM_OK;
}

/* Sends one frame under the write lock. */
static tdm_status ws_send_frame(tdm_link_ws *ws, uint8_t opcode, const void *data, size_t len,
                                tdm_error *err)
{
    uint8_t key[4];
    if (RAND_bytes(key, sizeof key) != 1)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "no randomness for the WebSocket mask");
    uint8_t *frame = malloc(len + 14);
    if (!frame)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    size_t h = tdm_ws_frame_header(frame, opcode, len, key);
    if (len)
        memcpy(frame + h, data, len);
    tdm_ws_mask(frame + h, len, key, 0);
    tdm_link_failure fail = TDM_LINK_FAIL_NONE;
    pthread_mutex_lock(&ws->write_lock);
    tdm_status st = write_all(ws->fd, frame, h + len, now_ms() + ws->timeout_ms, ws->authority,
                              &fail, err);
    pthread_mutex_unlock(&ws->write_lock);
    free(frame);
    if (st != TDM_OK && ws->failure == TDM_LINK_FAIL_NONE)
        ws->failure = fail;
    return st;
}

tdm_status tdm_link_ws_send(tdm_link_ws *ws, const char *text, size_t len, tdm_error *err)
{
    if (len > WS_MSG_MAX) {
        ws->failure = TDM_LINK_FAIL_TOO_LARGE;
        return tdm_fail(err, TDM_ERR_RANGE, "message of %zu bytes over the %u limit", len,
                        WS_MSG_MAX);
    }
    if (ws->close_sent)
        return tdm_fail(err, TDM_ERR_IO, "WebSocket to %s is closing", ws->authority);
    return ws_send_frame(ws, TDM_WS_OP_TEXT, text, len, err);
}

static void ws_consume(tdm_link_ws *ws, size_t n)
{
    memmove(ws->rx, ws->rx + n, ws->rx_len - n);
    ws->rx_len -= n;
}

tdm_status tdm_link_ws_recv(tdm_link_ws *ws, int timeout_ms, const char **msg, size_t *len,
                            tdm_error *err)
{
    *msg = NULL;
    if (len)
        *len = 0;
    if (ws->ended) {
        if (ws->end_status == TDM_EOF)
            return TDM_EOF;
        return tdm_fail(err, ws->end_status, "WebSocket to %s already failed (%s)",
                        ws->authority, tdm_link_failure_str(ws->failure));
    }
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        tdm_ws_frame f;
        tdm_error ferr = {{0}};
        tdm_status st = tdm_ws_frame_parse(ws->rx, ws->rx_len, WS_MSG_MAX, &f, &ferr);
        if (st == TDM_OK && ws->rx_len - f.header_len >= f.payload_len) {
            const uint8_t *pl = ws->rx + f.header_len;
            size_t plen = (size_t)f.payload_len;
            size_t total = f.header_len + plen;
            switch (f.opcode) {
            case TDM_WS_OP_TEXT:
            case TDM_WS_OP_BINARY:
            case TDM_WS_OP_CONT: {
                if ((f.opcode == TDM_WS_OP_CONT) != ws->assembling)
                    return ws_fail(ws, TDM_LINK_FAIL_BAD_RESPONSE, TDM_ERR_FORMAT, err,
                                   ws->assembling ? "new message inside a fragmented one"
                                                  : "continuation without a message");
                if (!ws->assembling)
                    ws->msg_len = 0;
                if (ws->msg_len + plen > WS_MSG_MAX)
                    return ws_fail(ws, TDM_LINK_FAIL_TOO_LARGE, TDM_ERR_RANGE, err,
                                   "message over 1 MiB");
                if (ws->msg_len + plen + 1 > ws->msg_cap) {
                    size_t c = ws->msg_len + plen + 1 + 4096;
                    char *n = realloc(ws->msg, c);
                    if (!n)
                        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
                    ws->msg = n;
                    ws->msg_cap = c;
                }
                memcpy(ws->msg + ws->msg_len, pl, plen);
                ws->msg_len += plen;
                ws->msg[ws->msg_len] = '\0';
                ws_consume(ws, total);
                ws->assembling = !f.fin;
                if (f.fin) {
                    *msg = ws->msg;
                    if (len)
                        *len = ws->msg_len;
                    return TDM_OK;
                }
                continue;
            }
            case TDM_WS_OP_PING: {
                uint8_t echo[125];
                memcpy(echo, pl, plen);
                ws_consume(ws, total);
                if (!ws->close_sent) {
                    tdm_status ps = ws_send_frame(ws, TDM_WS_OP_PONG, echo, plen, err);
                    if (ps != TDM_OK)
                        return ws_fail(ws, ws->failure ? ws->failure : TDM_LINK_FAIL_IO, ps,
                                       err, "cannot answer a ping");
                }
                continue;
            }
            case TDM_WS_OP_PONG:
                ws_consume(ws, total);
                continue;
            case TDM_WS_OP_CLOSE: {
                int code = 1005;
                bool valid = tdm_ws_close_code(pl, plen, &code);
                ws_consume(ws, total);
                ws->close_code = valid ? code : 1002;
                if (!ws->close_sent) {
                    uint8_t c[2] = {(uint8_t)(ws->close_code >> 8), (uint8_t)ws->close_code};
                    bool echo = valid && code != 1005;
                    /* Best effort: the server is closing anyway. */
                    ws_send_frame(ws, TDM_WS_OP_CLOSE, c, echo ? 2 : 0, NULL);
                    ws->close_sent = true;
                }
                ws->ended = true;
                ws->end_status = TDM_EOF;
                ws->failure = TDM_LINK_FAIL_CLOSED;
                return TDM_EOF;
            }
            }
        }
        if (st != TDM_OK && st != TDM_AGAIN)
            return ws_fail(ws,
                           st == TDM_ERR_RANGE ? TDM_LINK_FAIL_TOO_LARGE
                                               : TDM_LINK_FAIL_BAD_RESPONSE,
                           st, err, ferr.msg);
        /* Need more bytes. */
        size_t want = ws->rx_len + 65536;
        if (st == TDM_OK)
            want = f.header_len + (size_t)f.payload_len + 65536;
        if (buf_grow(&ws->rx, &ws->rx_cap, want) != TDM_OK)
            return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
        int wait = left_ms(deadline);
        struct pollfd pf = {.fd = ws->fd, .events = POLLIN};
        int pr = poll(&pf, 1, wait);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            return ws_fail(ws, TDM_LINK_FAIL_IO, TDM_ERR_IO, err, strerror(errno));
        if (pr == 0)
            return TDM_AGAIN;
        ssize_t n = recv(ws->fd, ws->rx + ws->rx_len, ws->rx_cap - ws->rx_len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n < 0)
            return ws_fail(ws, TDM_LINK_FAIL_IO, TDM_ERR_IO, err, strerror(errno));
        if (n == 0) {
            /* TCP closed without a close frame: abnormal closure (1006). */
            ws->close_code = 1006;
            ws->ended = true;
            ws->end_status = TDM_EOF;
            ws->failure = TDM_LINK_FAIL_CLOSED;
            return TDM_EOF;
        }
        ws->rx_len += (size_t)n;
    }
}

tdm_status tdm_link_ws_auth(tdm_link_ws *ws, const char *secret, char **welcome,
                            tdm_error *err)
{
    if (welcome)
        *welcome = NULL;
    json_t *j = json_pack("{s:s, s:s}", "type", "auth", "secret", secret ? secret : "");
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    tdm_status st = tdm_link_ws_send(ws, text, strlen(text), err);
    free(text);
    if (st != TDM_OK)
        return st;
    int64_t deadline = now_ms() + ws->timeout_ms;
    for (;;) {
        const char *m;
        size_t mlen;
        st = tdm_link_ws_recv(ws, left_ms(deadline), &m, &mlen, err);
        if (st == TDM_AGAIN)
            return tdm_fail(err, TDM_ERR_IO, "timed out after %d ms waiting for the welcome of %s",
                            ws->timeout_ms, ws->authority);
        if (st == TDM_EOF)
            return tdm_fail(err, TDM_ERR_UNAVAILABLE,
                            "%s closed the WebSocket during authentication (code %d)",
                            ws->authority, ws->close_code);
        if (st != TDM_OK)
            return st;
        json_t *r = json_loadb(m, mlen, 0, NULL);
        const char *type = r ? json_string_value(json_object_get(r, "type")) : NULL;
        if (type && strcmp(type, "welcome") == 0) {
            json_decref(r);
            if (welcome && !(*welcome = strdup(m)))
                return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
            return TDM_OK;
        }
        if (type && strcmp(type, "error") == 0) {
            const char *code = json_string_value(json_object_get(r, "error"));
            const char *detail = json_string_value(json_object_get(r, "detail"));
            st = tdm_fail(err, TDM_ERR_UNAVAILABLE, "%s refused the secret: %s%s%s",
                          ws->authority, code ? code : "error", detail ? ": " : "",
                          detail ? detail : "");
            json_decref(r);
            return st;
        }
        json_decref(r);
        /* Anything else before the welcome (none is expected) is skipped. */
    }
}

int tdm_link_ws_fd(const tdm_link_ws *ws) { return ws->fd; }

bool tdm_link_ws_buffered(const tdm_link_ws *ws)
{
    if (ws->ended)
        return true; /* recv answers at once */
    tdm_ws_frame f;
    tdm_status st = tdm_ws_frame_parse(ws->rx, ws->rx_len, WS_MSG_MAX, &f, NULL);
    if (st == TDM_AGAIN)
        return false;
    if (st != TDM_OK)
        return true; /* recv reports the bad frame at once */
    return ws->rx_len - f.header_len >= f.payload_len;
}

int tdm_link_ws_close_code(const tdm_link_ws *ws) { return ws->close_code; }

tdm_link_failure tdm_link_ws_failure(const tdm_link_ws *ws) { return ws->failure; }

void tdm_link_ws_close(tdm_link_ws *ws)
{
    if (!ws)
        return;
    if (!ws->ended && !ws->close_sent) {
        uint8_t c[2] = {1000 >> 8, 1000 & 0xff};
        if (ws_send_frame(ws, TDM_WS_OP_CLOSE, c, 2, NULL) == TDM_OK) {
            ws->close_sent = true;
            /* Wait a little for the server's close so it sees a clean end. */
            int64_t deadline = now_ms() + (ws->timeout_ms < 1000 ? ws->timeout_ms : 1000);
            const char *m;
            while (!ws->ended) {
                tdm_status st = tdm_link_ws_recv(ws, left_ms(deadline), &m, NULL, NULL);
                if (st != TDM_OK)
                    break;
            }
        }
    }
    ws_free(ws);
}
