/* relay_test_http.h: what the C integration tests of the relay process
 * share: a minimal blocking HTTP/1.1 client for its WHIP/WHEP routes and
 * /metrics on 127.0.0.1, reading the port of a relay it started, and
 * minting tokens with the test's secret. Header
 * only (static functions): each test is one translation unit, built with
 * cmocka, whose assertions end the test on a transport failure. */
#ifndef TDM_RELAY_TEST_HTTP_H
#define TDM_RELAY_TEST_HTTP_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tdm_token.h"

#define TDM_TEST_HTTP_MAX (64 * 1024)

typedef struct http_reply {
    int status;
    char location[256];
    char body[TDM_TEST_HTTP_MAX];
    size_t body_len; /* body is also NUL-terminated */
} http_reply;

/* One request to 127.0.0.1:port (Connection: close); the reply's status,
 * Location and body. if_match and the other strings may be NULL. */
static void test_http(uint16_t port, const char *method, const char *path, const char *token,
                      const char *ctype, const char *if_match, const char *body, http_reply *rep)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0)
        fail_msg("cannot connect to the relay: %s (did it crash?)", strerror(errno));
    static char req[TDM_TEST_HTTP_MAX];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n",
                     method, path, (unsigned)port, blen);
    if (token)
        n += snprintf(req + n, sizeof req - (size_t)n, "Authorization: Bearer %s\r\n", token);
    if (ctype)
        n += snprintf(req + n, sizeof req - (size_t)n, "Content-Type: %s\r\n", ctype);
    if (if_match)
        n += snprintf(req + n, sizeof req - (size_t)n, "If-Match: %s\r\n", if_match);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n%s", body ? body : "");
    assert_true(n > 0 && (size_t)n < sizeof req);
    for (size_t off = 0; off < (size_t)n;) {
        ssize_t k = write(s, req + off, (size_t)n - off);
        assert_true(k > 0);
        off += (size_t)k;
    }
    static char resp[TDM_TEST_HTTP_MAX + 4096];
    size_t got = 0;
    struct timeval tv = {.tv_sec = 10};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        assert_true(got < sizeof resp - 1);
        ssize_t k = read(s, resp + got, sizeof resp - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
        /* Stop at Content-Length rather than rely on the server closing. */
        resp[got] = '\0';
        char *end = strstr(resp, "\r\n\r\n");
        char *cl = strcasestr(resp, "\r\ncontent-length:");
        if (end && cl && cl < end && got >= (size_t)(end + 4 - resp) + (size_t)atol(cl + 17))
            break;
    }
    close(s);
    resp[got] = '\0';
    memset(rep, 0, sizeof *rep);
    assert_int_equal(sscanf(resp, "HTTP/1.1 %d", &rep->status), 1);
    char *end = strstr(resp, "\r\n\r\n");
    assert_non_null(end);
    *end = '\0';
    char *loc = strcasestr(resp, "\r\nlocation:");
    if (loc) {
        loc += 11;
        loc += strspn(loc, " ");
        size_t l = strcspn(loc, "\r");
        assert_true(l < sizeof rep->location);
        memcpy(rep->location, loc, l);
    }
    rep->body_len = got - (size_t)(end + 4 - resp);
    assert_true(rep->body_len < sizeof rep->body);
    memcpy(rep->body, end + 4, rep->body_len);
    rep->body[rep->body_len] = '\0';
}

/* The port of a relay just started with --listen 127.0.0.1:0, read from
 * its standard output ("... listening on http://127.0.0.1:PORT"), waiting
 * up to 10 s; 0 (after saying what it read) when it did not start. */
static uint16_t test_read_listen_port(int fd)
{
    char line[256];
    size_t n = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (n + 1 < sizeof line && poll(&p, 1, 10000) == 1) {
        ssize_t k = read(fd, line + n, 1);
        if (k <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    const char *colon = strrchr(line, ':');
    if (!strstr(line, "listening on") || !colon) {
        fprintf(stderr, "relay did not start: '%s'\n", line);
        return 0;
    }
    return (uint16_t)atoi(colon + 1);
}

/* A token for participant in session on node, valid for ttl_s seconds. */
static void test_mint(const uint8_t *secret, size_t secret_len, const char *node,
                      const char *session, const char *participant, tdm_token_role role,
                      int ttl_s, char *out, size_t cap)
{
    tdm_token_claims c;
    memset(&c, 0, sizeof c);
    snprintf(c.sub, sizeof c.sub, "%s", participant);
    snprintf(c.sid, sizeof c.sid, "%s", session);
    snprintf(c.node, sizeof c.node, "%s", node);
    c.role = role;
    int64_t now = (int64_t)time(NULL);
    c.exp = now + ttl_s;
    tdm_error err = {{0}};
    if (tdm_token_mint(secret, secret_len, &c, now, out, cap, &err) != TDM_OK)
        fail_msg("mint: %s", err.msg);
}

#endif
