/* signal_link_test: clients/signal_link.h against the real tandem-signal on
 * 127.0.0.1 (a real SQLite file in a temporary directory), and against small
 * misbehaving peers this test plays itself on loopback sockets for what the
 * service never does: refuse, stall, answer garbage, cut a response short,
 * chunk a body, ping, fragment a message, close with a code.
 *
 * usage: signal_link_test /path/to/tandem-signal */
#define _GNU_SOURCE
#include "signal_link.h"
#include "signal_link_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "signal_test_proc.h"

static const char *prog;
static char db[300], config[300];
static pid_t server = -1;
static uint16_t port;
static void cleanup(void)
{
    sigt_stop(&server, SIGTERM);
}

static void start_server(void)
{
    char *argv[] = {(char *)prog, "serve", "--listen", "127.0.0.1:0", "--db", db, "--config",
                    config, NULL};
    server = sigt_start(argv, NULL, &port);
}

/* ---- a listening socket of our own ---- */

static int listener(uint16_t *out_port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket");
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    CHECK(listen(fd, 4) == 0, "listen");
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    *out_port = ntohs(a.sin_port);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    CHECK(send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n, "send");
}

/* Reads a request head (up to the blank line) into buf. */
static void read_head(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        CHECK(n > 0, "peer read");
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            return;
    }
    CHECK(0, "request head too long");
}

typedef struct fake {
    int lfd;
    const char *script; /* which misbehaviour */
    char got[4096];     /* what the client sent after the handshake (ws scripts) */
    size_t got_len;
} fake;

/* Unmasks one client frame from fd into out; returns opcode. */
static int read_client_frame(int fd, char *out, size_t cap, size_t *len)
{
    uint8_t h[14];
    CHECK(recv(fd, h, 2, MSG_WAITALL) == 2, "frame head");
    CHECK(h[1] & 0x80, "client frames are masked");
    size_t plen = h[1] & 0x7f;
    if (plen == 126) {
        CHECK(recv(fd, h + 2, 2, MSG_WAITALL) == 2, "len16");
        plen = (size_t)(h[2] << 8 | h[3]);
    }
    CHECK(plen < cap, "frame fits");
    uint8_t key[4];
    CHECK(recv(fd, key, 4, MSG_WAITALL) == 4, "mask key");
    if (plen)
        CHECK(recv(fd, out, plen, MSG_WAITALL) == (ssize_t)plen, "payload");
    tdm_ws_mask((uint8_t *)out, plen, key, 0);
    out[plen] = '\0';
    *len = plen;
    return h[0] & 0x0f;
}

static void *fake_run(void *arg)
{
    fake *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    CHECK(fd >= 0, "accept");
    char req[8192];
    read_head(fd, req, sizeof req);
    const char *s = f->script;
    if (strcmp(s, "garbage") == 0) {
        send_all(fd, "SSH-2.0-OpenSSH_9.2\r\n", 21);
    } else if (strcmp(s, "truncated") == 0) {
        const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":";
        send_all(fd, r, sizeof r - 1);
    } else if (strcmp(s, "chunked") == 0) {
        /* In pieces, so the client must wait for the rest. */
        const char *parts[] = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                               "5\r\n{\"a\":\r\n", "7;ext=1\r\n\"chunk\"\r\n", "1\r\n}\r\n",
                               "0\r\n\r\n"};
        for (size_t i = 0; i < 5; i++) {
            send_all(fd, parts[i], strlen(parts[i]));
            usleep(20000);
        }
    } else if (strcmp(s, "close-delimited") == 0) {
        const char r[] = "HTTP/1.0 200 OK\r\n\r\n{\"till\":\"close\"}";
        send_all(fd, r, sizeof r - 1);
    } else if (strcmp(s, "not-upgrade") == 0) {
        const char r[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        send_all(fd, r, sizeof r - 1);
    } else if (strncmp(s, "ws", 2) == 0) {
        const char *k = strcasestr(req, "Sec-WebSocket-Key:");
        CHECK(k, "key header");
        char key[64] = {0};
        CHECK(sscanf(k + 18, " %63s", key) == 1, "key value");
        char acc[29];
        tdm_ws_accept_for(key, acc);
        if (strcmp(s, "ws-bad-accept") == 0)
            acc[0] = acc[0] == 'A' ? 'B' : 'A';
        char resp[512];
        int n = snprintf(resp, sizeof resp,
                         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                         "Sec-WebSocket-Protocol: tandem-v1\r\n\r\n",
                         acc);
        if (strcmp(s, "ws-script") == 0) {
            /* With the handshake, in the same write: a ping, then a text
             * message in three fragments with a pong between them, then a
             * 300-byte message (16-bit length), then close 4003. */
            uint8_t b[1024];
            size_t m = (size_t)n;
            memcpy(b, resp, m);
            const uint8_t ping[] = {0x89, 0x03, 'a', 'b', 'c'};
            memcpy(b + m, ping, sizeof ping);
            m += sizeof ping;
            const uint8_t f1[] = {0x01, 0x03, '{', '"', 'x'};
            const uint8_t pong[] = {0x8A, 0x00};
            const uint8_t f2[] = {0x00, 0x04, '"', ':', '4', '2'};
            const uint8_t f3[] = {0x80, 0x01, '}'};
            memcpy(b + m, f1, sizeof f1), m += sizeof f1;
            memcpy(b + m, pong, sizeof pong), m += sizeof pong;
            memcpy(b + m, f2, sizeof f2), m += sizeof f2;
            memcpy(b + m, f3, sizeof f3), m += sizeof f3;
            send_all(fd, b, m);
            /* The pong for our ping must come back with its payload. */
            char pl[256];
            size_t plen;
            CHECK(read_client_frame(fd, pl, sizeof pl, &plen) == 0xA && plen == 3 &&
                      memcmp(pl, "abc", 3) == 0,
                  "pong echoes the ping");
            uint8_t big[4 + 300];
            big[0] = 0x81, big[1] = 126, big[2] = 300 >> 8, big[3] = 300 & 0xff;
            memset(big + 4, 'z', 300);
            send_all(fd, big, sizeof big);
            /* The client's text message, then our close. */
            f->got_len = 0;
            CHECK(read_client_frame(fd, f->got, sizeof f->got, &f->got_len) == 0x1, "text");
            const uint8_t close_frame[] = {0x88, 0x02, 4003 >> 8, 4003 & 0xff};
            send_all(fd, close_frame, sizeof close_frame);
            CHECK(read_client_frame(fd, pl, sizeof pl, &plen) == 0x8 && plen == 2 &&
                      ((uint8_t)pl[0] << 8 | (uint8_t)pl[1]) == 4003,
                  "close echoed");
        } else if (strcmp(s, "ws-masked") == 0) {
            send_all(fd, resp, (size_t)n);
            const uint8_t masked[] = {0x81, 0x81, 1, 2, 3, 4, 'x' ^ 1};
            send_all(fd, masked, sizeof masked);
        } else {
            send_all(fd, resp, (size_t)n);
        }
    } else if (strcmp(s, "stall") != 0) {
        CHECK(0, "unknown script %s", s);
    }
    if (strcmp(s, "stall") == 0) {
        char b[16];
        /* Wait until the client gives up and closes. */
        while (recv(fd, b, sizeof b, 0) > 0)
            ;
    }
    shutdown(fd, SHUT_RDWR);
    close(fd);
    return NULL;
}

static tdm_link *link_to(uint16_t p, int timeout_ms)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", p);
    tdm_link *l;
    tdm_error err = {{0}};
    CHECK(tdm_link_new(url, timeout_ms, &l, &err) == TDM_OK, "link %s: %s", url, err.msg);
    return l;
}

/* Runs one scripted peer while fn talks to it. */
#define WITH_FAKE(script_name, body)                                               \
    do {                                                                           \
        fake fk = {.script = script_name};                                         \
        uint16_t fport;                                                            \
        fk.lfd = listener(&fport);                                                 \
        pthread_t th;                                                              \
        pthread_create(&th, NULL, fake_run, &fk);                                  \
        tdm_link *fl = link_to(fport, 3000);                                       \
        body;                                                                      \
        tdm_link_free(fl);                                                         \
        pthread_join(th, NULL);                                                    \
        close(fk.lfd);                                                             \
    } while (0)

static void test_urls(void)
{
    const char *bad[] = {"https://127.0.0.1:1", "ftp://x", "http://", "http://:80",
                         "http://h:0", "http://h:99999", "http://h:8x", "http://[::1",
                         "http://h/?q=1", "http://u@h:80", "127.0.0.1:8443", "http://h /x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tdm_link *l = NULL;
        tdm_error err = {{0}};
        CHECK(tdm_link_new(bad[i], 1000, &l, &err) < 0 && !l && err.msg[0],
              "'%s' refused with a reason", bad[i]);
    }
    tdm_link *l;
    tdm_error err = {{0}};
    CHECK(tdm_link_new("https://x", 1000, &l, &err) == TDM_ERR_UNSUPPORTED &&
              strstr(err.msg, "https"),
          "https named: %s", err.msg);
    CHECK(tdm_link_new("http://[::1]:8443/base/", 1000, &l, &err) == TDM_OK, "%s", err.msg);
    CHECK(strcmp(tdm_link_authority(l), "[::1]:8443") == 0, "authority %s",
          tdm_link_authority(l));
    tdm_link_free(l);
    CHECK(tdm_link_new("http://127.0.0.1:8443", 0, &l, &err) == TDM_ERR_INVALID, "timeout 0");
    printf("ok URLs\n");
}

static void test_failures(void)
{
    tdm_error err = {{0}};
    tdm_link_response r;

    /* refused: a port that was just free */
    uint16_t p;
    int fd = listener(&p);
    close(fd);
    tdm_link *l = link_to(p, 2000);
    CHECK(tdm_link_http(l, &(tdm_link_request){.path = "/healthz"}, &r, &err) < 0 &&
              r.failure == TDM_LINK_FAIL_REFUSED && r.status == 0 && !r.body &&
              strstr(err.msg, "refused"),
          "refused: %s", err.msg);
    tdm_link_response_free(&r);
    tdm_link_ws *ws = NULL;
    CHECK(tdm_link_ws_connect(l, &ws, &err) < 0 && !ws && strstr(err.msg, "refused"),
          "ws refused: %s", err.msg);
    tdm_link_free(l);

    /* A name that does not resolve (.invalid is reserved, RFC 6761), asked
     * from a child in a network namespace of its own with no interface up,
     * so the resolver's query cannot leave the machine. Needs root. */
    pid_t child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0) {
        if (unshare(CLONE_NEWNET) != 0)
            _exit(77);
        tdm_link *nl;
        tdm_error e2 = {{0}};
        tdm_link_response r2;
        if (tdm_link_new("http://no-such-host.invalid:80", 2000, &nl, &e2) != TDM_OK)
            _exit(1);
        tdm_status st2 = tdm_link_http(nl, &(tdm_link_request){.path = "/"}, &r2, &e2);
        bool good = st2 < 0 && r2.failure == TDM_LINK_FAIL_RESOLVE &&
                    strstr(e2.msg, "no-such-host.invalid");
        if (!good)
            fprintf(stderr, "resolve: %s\n", e2.msg);
        _exit(good ? 0 : 1);
    }
    int cst;
    waitpid(child, &cst, 0);
    if (WIFEXITED(cst) && WEXITSTATUS(cst) == 77)
        printf("skip unresolvable name: no network namespace (not root)\n");
    else
        CHECK(WIFEXITED(cst) && WEXITSTATUS(cst) == 0, "unresolvable name reported as such");

    /* header injection refused before anything is sent */
    l = link_to(1, 1000);
    CHECK(tdm_link_http(l, &(tdm_link_request){.path = "/x", .bearer = "a\r\nX-Evil: 1"}, &r,
                        &err) == TDM_ERR_INVALID,
          "CRLF in bearer");
    CHECK(tdm_link_http(l, &(tdm_link_request){.path = "no-slash"}, &r, &err) ==
              TDM_ERR_INVALID,
          "relative path");
    tdm_link_free(l);

    /* a peer that accepts and never answers */
    {
        fake fk = {.script = "stall"};
        uint16_t fport;
        fk.lfd = listener(&fport);
        pthread_t th;
        pthread_create(&th, NULL, fake_run, &fk);
        tdm_link *sl = link_to(fport, 300);
        CHECK(tdm_link_http(sl, &(tdm_link_request){.path = "/healthz"}, &r, &err) < 0 &&
                  r.failure == TDM_LINK_FAIL_TIMEOUT && strstr(err.msg, "timed out"),
              "timeout: %s", err.msg);
        tdm_link_response_free(&r);
        tdm_link_free(sl);
        pthread_join(th, NULL);
        close(fk.lfd);
    }
    WITH_FAKE("garbage", {
        CHECK(tdm_link_http(fl, &(tdm_link_request){.path = "/"}, &r, &err) == TDM_ERR_FORMAT &&
                  r.failure == TDM_LINK_FAIL_BAD_RESPONSE && strstr(err.msg, "not an HTTP"),
              "garbage: %s", err.msg);
        tdm_link_response_free(&r);
    });
    WITH_FAKE("truncated", {
        CHECK(tdm_link_http(fl, &(tdm_link_request){.path = "/"}, &r, &err) < 0 &&
                  r.failure == TDM_LINK_FAIL_BAD_RESPONSE && strstr(err.msg, "closed"),
              "truncated: %s", err.msg);
        tdm_link_response_free(&r);
    });
    WITH_FAKE("chunked", {
        CHECK(tdm_link_http(fl, &(tdm_link_request){.path = "/"}, &r, &err) == TDM_OK &&
                  r.status == 200 && strcmp(r.body, "{\"a\":\"chunk\"}") == 0 &&
                  r.body_len == 13,
              "chunked: %s / %s", err.msg, r.body ? r.body : "(null)");
        tdm_link_response_free(&r);
    });
    WITH_FAKE("close-delimited", {
        CHECK(tdm_link_http(fl, &(tdm_link_request){.path = "/"}, &r, &err) == TDM_OK &&
                  strcmp(r.body, "{\"till\":\"close\"}") == 0,
              "close-delimited: %s", err.msg);
        tdm_link_response_free(&r);
    });
    WITH_FAKE("not-upgrade", {
        tdm_link_ws *w = NULL;
        CHECK(tdm_link_ws_connect(fl, &w, &err) == TDM_ERR_FORMAT && !w &&
                  strstr(err.msg, "HTTP 200 instead of 101"),
              "not upgraded: %s", err.msg);
    });
    WITH_FAKE("ws-bad-accept", {
        tdm_link_ws *w = NULL;
        CHECK(tdm_link_ws_connect(fl, &w, &err) == TDM_ERR_FORMAT && !w &&
                  strstr(err.msg, "Sec-WebSocket-Accept"),
              "bad accept: %s", err.msg);
    });
    WITH_FAKE("ws-masked", {
        tdm_link_ws *w = NULL;
        CHECK(tdm_link_ws_connect(fl, &w, &err) == TDM_OK, "connect: %s", err.msg);
        const char *m;
        CHECK(tdm_link_ws_recv(w, 2000, &m, NULL, &err) == TDM_ERR_FORMAT &&
                  tdm_link_ws_failure(w) == TDM_LINK_FAIL_BAD_RESPONSE &&
                  strstr(err.msg, "masked"),
              "masked frame refused: %s", err.msg);
        tdm_link_ws_close(w);
    });
    WITH_FAKE("ws-script", {
        tdm_link_ws *w = NULL;
        CHECK(tdm_link_ws_connect(fl, &w, &err) == TDM_OK, "connect: %s", err.msg);
        /* Everything came with the handshake: buffered before any poll. */
        CHECK(tdm_link_ws_buffered(w), "frames buffered with the handshake");
        const char *m;
        size_t len;
        CHECK(tdm_link_ws_recv(w, 2000, &m, &len, &err) == TDM_OK && len == 8 &&
                  strcmp(m, "{\"x\":42}") == 0,
              "fragments reassembled around a pong: %s", err.msg);
        CHECK(tdm_link_ws_recv(w, 2000, &m, &len, &err) == TDM_OK && len == 300 &&
                  m[0] == 'z' && m[299] == 'z' && m[300] == '\0',
              "16-bit length: %s", err.msg);
        CHECK(tdm_link_ws_send(w, "{\"type\":\"ping\"}", 15, &err) == TDM_OK, "send");
        CHECK(tdm_link_ws_recv(w, 2000, &m, &len, &err) == TDM_EOF &&
                  tdm_link_ws_close_code(w) == 4003,
              "close code: %d", tdm_link_ws_close_code(w));
        CHECK(tdm_link_ws_recv(w, 0, &m, &len, &err) == TDM_EOF, "stays closed");
        CHECK(tdm_link_ws_send(w, "x", 1, &err) < 0, "no send after close");
        tdm_link_ws_close(w);
        CHECK(fk.got_len == 15 && strcmp(fk.got, "{\"type\":\"ping\"}") == 0, "peer got %s",
              fk.got);
    });
    printf("ok failures and misbehaving peers\n");
}

/* ---- against the real service ---- */

static json_t *call(tdm_link *l, const char *method, const char *path, const char *bearer,
                    const char *secret, const char *body, int want)
{
    tdm_link_response r;
    tdm_error err = {{0}};
    tdm_status st = tdm_link_http(
        l, &(tdm_link_request){.method = method, .path = path, .bearer = bearer,
                               .secret = secret, .body = body},
        &r, &err);
    CHECK(st == TDM_OK, "%s %s: %s", method, path, err.msg);
    char et[256];
    CHECK(r.status == want, "%s %s: %d (%s), wanted %d", method, path, r.status,
          tdm_link_error_text(&r, et, sizeof et), want);
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    CHECK(j, "%s %s: JSON body", method, path);
    tdm_link_response_free(&r);
    return j;
}

static const char *jstr(json_t *j, const char *k)
{
    const char *v = json_string_value(json_object_get(j, k));
    CHECK(v, "field %s", k);
    return v;
}

static tdm_link_ws *ws_authed(tdm_link *l, const char *secret)
{
    tdm_link_ws *ws;
    tdm_error err = {{0}};
    CHECK(tdm_link_ws_connect(l, &ws, &err) == TDM_OK, "ws connect: %s", err.msg);
    char *welcome = NULL;
    CHECK(tdm_link_ws_auth(ws, secret, &welcome, &err) == TDM_OK, "auth: %s", err.msg);
    CHECK(welcome && strstr(welcome, "\"welcome\""), "welcome");
    free(welcome);
    return ws;
}

/* The next message of the given type (others skipped). */
static json_t *next_of(tdm_link_ws *ws, const char *type)
{
    for (int i = 0; i < 50; i++) {
        const char *m;
        size_t len;
        tdm_error err = {{0}};
        tdm_status st = tdm_link_ws_recv(ws, 5000, &m, &len, &err);
        CHECK(st == TDM_OK, "waiting for %s: %s (status %d)", type, err.msg, st);
        json_t *j = json_loadb(m, len, 0, NULL);
        CHECK(j, "message is JSON");
        const char *t = json_string_value(json_object_get(j, "type"));
        if (t && strcmp(t, type) == 0)
            return j;
        json_decref(j);
    }
    CHECK(0, "no %s", type);
    return NULL;
}

static void ws_send_str(tdm_link_ws *ws, const char *s)
{
    tdm_error err = {{0}};
    CHECK(tdm_link_ws_send(ws, s, strlen(s), &err) == TDM_OK, "send: %s", err.msg);
}

static void test_service(void)
{
    char url[64];
    /* A name, not a number: resolution is part of the contract. */
    snprintf(url, sizeof url, "http://localhost:%u", port);
    tdm_link *l;
    tdm_error err = {{0}};
    CHECK(tdm_link_new(url, 5000, &l, &err) == TDM_OK, "%s", err.msg);

    json_t *j = call(l, "GET", "/healthz", NULL, NULL, NULL, 200);
    CHECK(json_is_true(json_object_get(j, "ok")), "healthz ok");
    json_decref(j);

    /* An error response is a response: status and error text. */
    tdm_link_response r;
    CHECK(tdm_link_http(l,
                        &(tdm_link_request){.method = "POST", .path = "/api/v1/login",
                                            .body = "{\"name\":\"alice\",\"password\":\"no\"}"},
                        &r, &err) == TDM_OK,
          "login: %s", err.msg);
    char et[256];
    CHECK(r.status == 401 && strncmp(tdm_link_error_text(&r, et, sizeof et), "bad_credentials",
                                     15) == 0,
          "wrong password: %d %s", r.status, et);
    tdm_link_response_free(&r);
    /* POST without a body still carries Content-Length: 0. */
    j = call(l, "POST", "/api/v1/logout", "not-a-token", NULL, NULL, 401);
    json_decref(j);

    j = call(l, "POST", "/api/v1/login", NULL, NULL,
             "{\"name\":\"alice\",\"password\":\"alice-pw\"}", 200);
    char *token = strdup(jstr(j, "token"));
    json_decref(j);
    j = call(l, "GET", "/api/v1/me", token, NULL, NULL, 200);
    json_decref(j);

    j = call(l, "POST", "/api/v1/sessions", token, NULL, "{}", 201);
    char *sid = strdup(jstr(j, "session_id"));
    char *rep_secret = strdup(jstr(j, "secret"));
    char body[256];
    snprintf(body, sizeof body, "{\"code\":\"%s\",\"display_name\":\"Bob\"}", jstr(j, "join_code"));
    json_decref(j);
    j = call(l, "POST", "/api/v1/join", NULL, NULL, body, 201);
    char *cust_secret = strdup(jstr(j, "secret"));
    json_decref(j);

    /* A wrong secret is refused with the service's code. */
    tdm_link_ws *bad;
    CHECK(tdm_link_ws_connect(l, &bad, &err) == TDM_OK, "%s", err.msg);
    CHECK(tdm_link_ws_auth(bad, "s_wrong", NULL, &err) == TDM_ERR_UNAVAILABLE &&
              strstr(err.msg, "bad_credentials"),
          "bad secret: %s", err.msg);
    tdm_link_ws_close(bad);

    tdm_link_ws *cust = ws_authed(l, cust_secret);
    tdm_link_ws *rep = ws_authed(l, rep_secret);

    /* Nothing waiting: a zero timeout answers at once. */
    const char *m;
    json_decref(next_of(cust, "session")); /* the rep coming online */
    while (tdm_link_ws_recv(cust, 0, &m, NULL, &err) == TDM_OK)
        ;
    CHECK(tdm_link_ws_recv(cust, 0, &m, NULL, &err) == TDM_AGAIN, "nothing now");

    /* The rep's input reaches the customer byte for byte. */
    const char ev[] = "{\"type\":\"pointer_move\",\"x\":0.5,\"y\":0.25}";
    ws_send_str(rep, ev);
    struct pollfd pf = {.fd = tdm_link_ws_fd(cust), .events = POLLIN};
    CHECK(tdm_link_ws_buffered(cust) || poll(&pf, 1, 5000) == 1, "fd readable for poll");
    size_t len;
    for (;;) {
        CHECK(tdm_link_ws_recv(cust, 5000, &m, &len, &err) == TDM_OK, "%s", err.msg);
        if (!strstr(m, "\"session\""))
            break;
    }
    CHECK(len == sizeof ev - 1 && strcmp(m, ev) == 0, "customer got %s", m);

    ws_send_str(rep, "{\"type\":\"ping\"}");
    json_decref(next_of(rep, "pong"));

    /* A 3000-byte chat comes back with a 16-bit frame length. */
    char chat[3100];
    memset(chat, 0, sizeof chat);
    strcpy(chat, "{\"type\":\"chat\",\"text\":\"");
    memset(chat + strlen(chat), 'w', 3000);
    strcat(chat, "\"}");
    ws_send_str(rep, chat);
    j = next_of(rep, "chat");
    CHECK(strlen(jstr(j, "text")) == 3000, "long chat");
    json_decref(j);

    /* A view_only invitee's input is denied with a reason. */
    char path[256];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/invites", sid);
    j = call(l, "POST", path, NULL, rep_secret, "{\"profile\":\"view_only\"}", 201);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"display_name\":\"Dana\"}", jstr(j, "token"));
    json_decref(j);
    j = call(l, "POST", "/api/v1/invites/accept", NULL, NULL, body, 201);
    tdm_link_ws *inv = ws_authed(l, jstr(j, "secret"));
    json_decref(j);
    ws_send_str(inv, "{\"type\":\"pointer_button\",\"button\":0,\"down\":true,\"x\":0.5,\"y\":0.5}");
    j = next_of(inv, "error");
    CHECK(strcmp(jstr(j, "error"), "input_denied") == 0 &&
              strcmp(jstr(j, "reason"), "kind_not_allowed") == 0,
          "denied");
    json_decref(j);

    /* The end: an ended event, then the server's close 1000. */
    snprintf(path, sizeof path, "/api/v1/sessions/%s/end", sid);
    j = call(l, "POST", path, NULL, rep_secret, "{}", 200);
    json_decref(j);
    tdm_status st;
    bool saw_ended = false;
    while ((st = tdm_link_ws_recv(cust, 5000, &m, &len, &err)) == TDM_OK)
        if (strstr(m, "\"ended\""))
            saw_ended = true;
    CHECK(st == TDM_EOF && saw_ended && tdm_link_ws_close_code(cust) == 1000,
          "end: status %d code %d %s", st, tdm_link_ws_close_code(cust), err.msg);
    tdm_link_ws_close(cust);
    tdm_link_ws_close(rep);
    tdm_link_ws_close(inv);
    free(token);
    free(sid);
    free(rep_secret);
    free(cust_secret);

    /* A prefix in the base URL is kept in front of every path. */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/api/", port);
    tdm_link *pl;
    CHECK(tdm_link_new(url, 5000, &pl, &err) == TDM_OK, "%s", err.msg);
    j = call(pl, "GET", "/v1/profiles", "nope", NULL, NULL, 401);
    json_decref(j);
    tdm_link_free(pl);
    tdm_link_free(l);
    printf("ok real tandem-signal\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s /path/to/tandem-signal\n", argv[0]);
        return 2;
    }
    prog = argv[1];
    signal(SIGPIPE, SIG_IGN);
    sigt_dir_make("signal_link_test");
    atexit(cleanup);
    sigt_path(db, sizeof db, "signal.db");
    sigt_path(config, sizeof config, "config.json");
    sigt_write_secrets(NULL);
    sigt_write_file("config.json",
               "{\"relays\":[{\"id\":\"relay-1\",\"url\":\"http://127.0.0.1:2\"}],"
               "\"relay_token_secret_file\":\"relay.secret\","
               "\"recording_master_key_file\":\"master.key\"}");
    sigt_user_add(prog, "--db", db, "alice", "rep", "alice-pw", "view_only,pointer,control");
    start_server();

    test_urls();
    test_failures();
    test_service();
    printf("signal_link_test: %d checks passed\n", sigt_checks);
    return 0;
}
