/* signal_serve_client.c: blocking HTTP and WebSocket client (see the header). */
#define _GNU_SOURCE /* strcasestr */
#include "signal_serve_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RX_CAP (1 << 20)

void sc_auth_headers(char *out, size_t cap, const char *bearer, const char *secret)
{
    out[0] = '\0';
    if (bearer)
        snprintf(out, cap, "Authorization: Bearer %s\r\n", bearer);
    if (secret)
        snprintf(out + strlen(out), cap - strlen(out), "X-Tandem-Secret: %s\r\n", secret);
}

int sc_http_json(uint16_t port, const char *method, const char *path, const char *headers,
                 const char *body, json_t **last)
{
    char *resp = NULL;
    int status = sc_http(port, method, path, headers, body, &resp);
    json_decref(*last);
    *last = resp ? json_loads(resp, 0, NULL) : NULL;
    if (!*last)
        *last = json_object();
    free(resp);
    return status;
}

struct sc_ws {
    int fd;
    uint8_t *rx; /* bytes read, not yet consumed */
    size_t rx_len;
    char *msg; /* the message handed out */
    size_t msg_cap;
};

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static bool write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

int sc_http(uint16_t port, const char *method, const char *path, const char *headers,
            const char *body, char **resp)
{
    *resp = NULL;
    int fd = dial(port);
    if (fd < 0)
        return 0;
    size_t blen = body ? strlen(body) : 0;
    char head[8192];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     method, path, headers ? headers : "", blen);
    if (n <= 0 || (size_t)n >= sizeof head || !write_all(fd, head, (size_t)n) ||
        (blen && !write_all(fd, body, blen))) {
        close(fd);
        return 0;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        /* Stop once the declared body is in (lws may keep the socket). */
        buf[len] = '\0';
        char *hend = strstr(buf, "\r\n\r\n");
        char *cl = hend ? strcasestr(buf, "content-length:") : NULL;
        if (hend && cl && cl < hend &&
            len >= (size_t)(hend + 4 - buf) + strtoul(cl + 15, NULL, 10))
            break;
    }
    close(fd);
    buf[len] = '\0';
    int status = 0;
    char *hend = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1 || !hend) {
        free(buf);
        return 0;
    }
    *resp = strdup(hend + 4);
    free(buf);
    return status;
}

sc_ws *sc_ws_connect(uint16_t port, const char *path)
{
    int fd = dial(port);
    if (fd < 0)
        return NULL;
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path);
    if (!write_all(fd, req, (size_t)n)) {
        close(fd);
        return NULL;
    }
    sc_ws *ws = calloc(1, sizeof *ws);
    ws->fd = fd;
    ws->rx = malloc(RX_CAP);
    /* Read the response head; anything after it is frames. */
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            goto fail;
        ssize_t r = recv(fd, ws->rx + ws->rx_len, RX_CAP - 1 - ws->rx_len, 0);
        if (r <= 0)
            goto fail;
        ws->rx_len += (size_t)r;
        ws->rx[ws->rx_len] = '\0';
        char *hend = strstr((char *)ws->rx, "\r\n\r\n");
        if (!hend)
            continue;
        if (strncmp((char *)ws->rx, "HTTP/1.1 101", 12) != 0)
            goto fail;
        size_t used = (size_t)(hend + 4 - (char *)ws->rx);
        memmove(ws->rx, ws->rx + used, ws->rx_len - used);
        ws->rx_len -= used;
        return ws;
    }
fail:
    sc_ws_close(ws);
    return NULL;
}

static bool send_frame(sc_ws *ws, int opcode, bool fin, const char *data, size_t len)
{
    uint8_t hdr[14];
    size_t h = 0;
    hdr[h++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        hdr[h++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(hdr + h, mask, 4);
    h += 4;
    uint8_t stackbuf[4096];
    uint8_t *buf = h + len <= sizeof stackbuf ? stackbuf : malloc(h + len);
    memcpy(buf, hdr, h);
    for (size_t i = 0; i < len; i++)
        buf[h + i] = (uint8_t)data[i] ^ mask[i & 3];
    bool ok = write_all(ws->fd, buf, h + len);
    if (buf != stackbuf)
        free(buf);
    return ok;
}

bool sc_ws_send(sc_ws *ws, const char *data, size_t len)
{
    return send_frame(ws, 1, true, data, len);
}

bool sc_ws_send_fragmented(sc_ws *ws, const char *data, size_t len, int n_frags)
{
    size_t per = len / (size_t)n_frags + 1;
    size_t off = 0;
    for (int i = 0; off < len || i == 0; i++) {
        size_t n = len - off < per ? len - off : per;
        bool last = off + n >= len;
        if (!send_frame(ws, i == 0 ? 1 : 0, last, data + off, n))
            return false;
        off += n;
        if (last)
            break;
    }
    return true;
}

/* A whole frame in rx? Returns its total size and fills the fields. */
static size_t frame_ready(const sc_ws *ws, int *opcode, bool *fin, size_t *plen, size_t *hlen)
{
    if (ws->rx_len < 2)
        return 0;
    const uint8_t *b = ws->rx;
    *fin = b[0] & 0x80;
    *opcode = b[0] & 0x0f;
    uint64_t len = b[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
        if (ws->rx_len < 4)
            return 0;
        len = (uint64_t)b[2] << 8 | b[3];
        h = 4;
    } else if (len == 127) {
        if (ws->rx_len < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | b[2 + i];
        h = 10;
    }
    if (b[1] & 0x80)
        h += 4; /* servers do not mask, but skip it if one did */
    if (ws->rx_len < h + len)
        return 0;
    *plen = (size_t)len;
    *hlen = h;
    return h + (size_t)len;
}

long sc_ws_recv(sc_ws *ws, int timeout_ms, const char **msg, int *close_code)
{
    size_t msg_len = 0;
    for (;;) {
        int opcode;
        bool fin;
        size_t plen, hlen, total;
        while ((total = frame_ready(ws, &opcode, &fin, &plen, &hlen)) > 0) {
            const uint8_t *payload = ws->rx + hlen;
            if (opcode == 8) {
                if (close_code)
                    *close_code = plen >= 2 ? (payload[0] << 8 | payload[1]) : 1005;
                return -2;
            }
            if (opcode == 1 || opcode == 0) {
                if (msg_len + plen + 1 > ws->msg_cap) {
                    ws->msg_cap = msg_len + plen + 1;
                    ws->msg = realloc(ws->msg, ws->msg_cap);
                }
                memcpy(ws->msg + msg_len, payload, plen);
                msg_len += plen;
            } else if (opcode == 9) {
                /* Answer pings so lws keeps the connection. */
                char tmp[126];
                size_t n = plen < sizeof tmp ? plen : sizeof tmp;
                memcpy(tmp, payload, n);
                send_frame(ws, 10, true, tmp, n);
            }
            memmove(ws->rx, ws->rx + total, ws->rx_len - total);
            ws->rx_len -= total;
            if ((opcode == 1 || opcode == 0) && fin) {
                ws->msg[msg_len] = '\0';
                *msg = ws->msg;
                return (long)msg_len;
            }
        }
        struct pollfd p = {.fd = ws->fd, .events = POLLIN};
        int pr = poll(&p, 1, timeout_ms);
        if (pr == 0)
            return -1;
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            return -2;
        }
        if (ws->rx_len == RX_CAP)
            return -2;
        ssize_t r = recv(ws->fd, ws->rx + ws->rx_len, RX_CAP - ws->rx_len, 0);
        if (r <= 0) {
            if (close_code)
                *close_code = 1006;
            return -2;
        }
        ws->rx_len += (size_t)r;
    }
}

int sc_ws_fd(const sc_ws *ws) { return ws->fd; }

void sc_ws_close(sc_ws *ws)
{
    if (!ws)
        return;
    close(ws->fd);
    free(ws->rx);
    free(ws->msg);
    free(ws);
}
