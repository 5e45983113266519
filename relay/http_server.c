/* http_server.c: the relay's HTTP/1.1 listener on libwebsockets (tdm_http.h).
 * Collects one request per transaction, hands it to tdm_whip_handle, writes
 * the response. No routing, no policy: those are tdm_whip's. */
#include "tdm_http.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

struct tdm_http_server {
    struct lws_context *ctx;
    tdm_whip *whip;
    uint16_t port;
};

/* Header values tdm_whip reads. A longer one is refused by lws's header
 * budget (max_http_header_data) before it gets here. */
#define HDR_MAX (TDM_TOKEN_MAX_LEN + 64)
#define PATH_MAX_LEN 1024
/* Largest single lws_write of a body; lws buffers what the socket takes
 * partially, so keep each write modest and continue on WRITEABLE. */
#define WRITE_CHUNK 16384

/* One request/response in flight on a connection. Allocated on the first
 * request of a connection and reused across keep-alive transactions. */
typedef struct conn {
    tdm_whip_method method;
    char path[PATH_MAX_LEN];
    char authorization[HDR_MAX];
    char content_type[256];
    char if_match[256];
    bool has_auth, has_ctype, has_if_match;
    uint8_t *body; /* TDM_WHIP_MAX_BODY bytes once a body is expected */
    size_t body_len;
    bool body_too_large;
    /* response */
    tdm_whip_response resp;
    char *resp_body; /* TDM_WHIP_BODY_CAP bytes */
    size_t sent;
    bool writing;
    bool responded; /* this transaction's response is written or being written */
    bool length_required; /* a body without Content-Length: 411, then close */
} conn;

/* What lws keeps per connection (zeroed by lws). */
typedef struct pss {
    conn *c;
} pss;

static tdm_whip_method method_of(struct lws *wsi)
{
    static const struct {
        enum lws_token_indexes tok;
        tdm_whip_method m;
    } map[] = {
        {WSI_TOKEN_GET_URI, TDM_WHIP_GET},         {WSI_TOKEN_POST_URI, TDM_WHIP_POST},
        {WSI_TOKEN_PATCH_URI, TDM_WHIP_PATCH},     {WSI_TOKEN_DELETE_URI, TDM_WHIP_DELETE},
        {WSI_TOKEN_OPTIONS_URI, TDM_WHIP_OPTIONS}, {WSI_TOKEN_PUT_URI, TDM_WHIP_PUT},
        {WSI_TOKEN_HEAD_URI, TDM_WHIP_HEAD},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (lws_hdr_total_length(wsi, map[i].tok) > 0)
            return map[i].m;
    return TDM_WHIP_OTHER;
}

/* Copies a header; false when absent (or too long, which lws would not
 * have let through). */
static bool copy_header(struct lws *wsi, enum lws_token_indexes tok, char *dst, size_t cap)
{
    int n = lws_hdr_total_length(wsi, tok);
    if (n <= 0 || (size_t)n >= cap)
        return false;
    return lws_hdr_copy(wsi, dst, (int)cap, tok) >= 0;
}

static conn *conn_get(pss *p)
{
    if (!p->c) {
        p->c = calloc(1, sizeof *p->c);
        if (!p->c)
            return NULL;
    }
    if (!p->c->resp_body) {
        p->c->resp_body = malloc(TDM_WHIP_BODY_CAP);
        if (!p->c->resp_body)
            return NULL;
    }
    return p->c;
}

static void conn_free(pss *p)
{
    if (!p || !p->c)
        return;
    free(p->c->body);
    free(p->c->resp_body);
    free(p->c);
    p->c = NULL;
}

/* Starts a transaction: reads what tdm_whip needs from the request line and
 * headers. Returns whether a body follows. */
static bool begin_request(struct lws *wsi, conn *c, const char *uri, size_t uri_len)
{
    c->method = method_of(wsi);
    size_t n = uri_len < sizeof c->path - 1 ? uri_len : sizeof c->path - 1;
    memcpy(c->path, uri, n);
    c->path[n] = '\0';
    c->has_auth = copy_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, c->authorization,
                              sizeof c->authorization);
    c->has_ctype = copy_header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, c->content_type,
                               sizeof c->content_type);
    c->has_if_match = copy_header(wsi, WSI_TOKEN_HTTP_IF_MATCH, c->if_match, sizeof c->if_match);
    c->body_len = 0;
    c->body_too_large = false;
    c->sent = 0;
    c->writing = false;
    c->responded = false;
    c->length_required = false;

    /* A chunked body would be read as no body at all; browsers and curl
     * send Content-Length for an offer, so refuse the framing outright. */
    char te[64];
    if (copy_header(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, te, sizeof te)) {
        c->length_required = true;
        return false;
    }
    char cl[32];
    if (!copy_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl))
        return false;
    char *end;
    unsigned long long len = strtoull(cl, &end, 10);
    if (end == cl || *end)
        return false;
    /* Declared too large: answered at once (413 once the token passes), and
     * the connection closes after, so the body is never read. */
    if (len > TDM_WHIP_MAX_BODY) {
        c->body_too_large = true;
        return false;
    }
    return len > 0;
}

static void append_body(conn *c, const void *in, size_t len)
{
    if (c->body_too_large)
        return;
    if (!c->body) {
        c->body = malloc(TDM_WHIP_MAX_BODY);
        if (!c->body) {
            c->body_too_large = true; /* refused rather than half-read */
            return;
        }
    }
    if (len > TDM_WHIP_MAX_BODY - c->body_len) {
        c->body_too_large = true;
        return;
    }
    memcpy(c->body + c->body_len, in, len);
    c->body_len += len;
}

/* Writes the status line and headers; the body follows on WRITEABLE.
 * Returns -1 to close the connection. */
static int respond(struct lws *wsi, tdm_http_server *s, conn *c)
{
    tdm_whip_request req = {
        .method = c->method,
        .path = c->path,
        .authorization = c->has_auth ? c->authorization : NULL,
        .content_type = c->has_ctype ? c->content_type : NULL,
        .if_match = c->has_if_match ? c->if_match : NULL,
        .body = c->body,
        .body_len = c->body_len,
        .body_too_large = c->body_too_large,
    };
    c->responded = true;
    memset(&c->resp, 0, sizeof c->resp);
    c->resp.body = c->resp_body;
    c->resp.body_cap = TDM_WHIP_BODY_CAP;
    if (c->length_required) {
        /* Framing is the shell's business, the only status it decides. */
        static const char msg[] = "Content-Length required\n";
        c->resp.status = 411;
        c->resp.n_headers = 1;
        snprintf(c->resp.headers[0].name, sizeof c->resp.headers[0].name, "Content-Type");
        snprintf(c->resp.headers[0].value, sizeof c->resp.headers[0].value,
                 "text/plain; charset=utf-8");
        memcpy(c->resp.body, msg, sizeof msg - 1);
        c->resp.body_len = sizeof msg - 1;
        c->body_too_large = true; /* close after: the chunked body stays unread */
    } else if (tdm_whip_handle(s->whip, &req, (int64_t)time(NULL), &c->resp) != TDM_OK) {
        return -1;
    }

    /* Status line plus at most TDM_WHIP_MAX_HEADERS headers of bounded size. */
    unsigned char buf[LWS_PRE + 2048 + TDM_WHIP_MAX_HEADERS * (TDM_WHIP_HEADER_VALUE_MAX + 40)];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    if (lws_add_http_header_status(wsi, (unsigned int)c->resp.status, &p, end))
        return -1;
    for (size_t i = 0; i < c->resp.n_headers; i++) {
        char name[sizeof c->resp.headers[i].name + 1];
        /* lws wants the HTTP/1 form of the name, colon included. */
        snprintf(name, sizeof name, "%s:", c->resp.headers[i].name);
        const char *v = c->resp.headers[i].value;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                        (const unsigned char *)v, (int)strlen(v), &p, end))
            return -1;
    }
    /* RFC 9110 8.6: no Content-Length on a 204; the client knows it has no
     * body, so the connection stays usable without one. */
    if (c->resp.status != 204 &&
        lws_add_http_header_content_length(wsi, (lws_filepos_t)c->resp.body_len, &p, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (c->resp.body_len > 0 && c->method != TDM_WHIP_HEAD) {
        c->writing = true;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->body_too_large)
        return -1; /* what is left of an oversized body is never read */
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int write_body(struct lws *wsi, conn *c)
{
    size_t left = c->resp.body_len - c->sent;
    size_t n = left < WRITE_CHUNK ? left : WRITE_CHUNK;
    unsigned char buf[LWS_PRE + WRITE_CHUNK];
    memcpy(buf + LWS_PRE, c->resp_body + c->sent, n);
    bool last = n == left;
    if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    c->sent += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    c->writing = false;
    if (c->body_too_large)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    pss *p = user;
    tdm_http_server *s = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        conn *c = conn_get(p);
        if (!c)
            return -1;
        if (begin_request(wsi, c, in ? in : "", in ? strlen(in) : 0))
            return 0; /* wait for LWS_CALLBACK_HTTP_BODY_COMPLETION */
        return respond(wsi, s, c);
    }
    case LWS_CALLBACK_HTTP_BODY:
        if (!p || !p->c)
            return -1;
        if (!p->c->responded)
            append_body(p->c, in, len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!p || !p->c)
            return -1;
        return p->c->responded ? 0 : respond(wsi, s, p->c);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!p || !p->c || !p->c->writing)
            return 0;
        return write_body(wsi, p->c);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        conn_free(p);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"tandem-http", callback, sizeof(pss), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

tdm_status tdm_http_new(const tdm_http_config *cfg, tdm_whip *whip, tdm_http_server **out,
                        tdm_error *err)
{
    if (!cfg || !whip || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "http_new: NULL argument");
    *out = NULL;
    const char *addr = cfg->address ? cfg->address : "127.0.0.1";
    unsigned char sa[sizeof(struct in6_addr)];
    bool v6 = inet_pton(AF_INET6, addr, sa) == 1;
    if (!v6 && inet_pton(AF_INET, addr, sa) != 1)
        return tdm_fail(err, TDM_ERR_INVALID, "listen address '%s' is not an IP address", addr);

    tdm_http_server *s = calloc(1, sizeof *s);
    if (!s)
        return tdm_fail(err, TDM_ERR_NOMEM, "http_new: out of memory");
    s->whip = whip;

    /* lws logs process-wide; its notices (one per connection and more) would
     * drown the relay's own output, so keep errors and warnings. */
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = cfg->port;
    /* lws takes an interface name or an address literal here. */
    info.iface = addr;
    info.protocols = protocols;
    info.user = s;
    /* A bearer token alone may be TDM_TOKEN_MAX_LEN bytes; lws's default
     * header budget (1 KiB) would refuse real tokens. */
    info.max_http_header_data = 8192;
    info.pt_serv_buf_size = 16384;
    info.timeout_secs = 10;
    info.keepalive_timeout = 30;
    if (!v6)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        free(s);
        return tdm_fail(err, TDM_ERR_IO, "cannot listen on %s%s%s:%u (address in use or not local?)",
                        v6 ? "[" : "", addr, v6 ? "]" : "", cfg->port);
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(s->ctx, "default");
    int port = vh ? lws_get_vhost_listen_port(vh) : -1;
    if (port <= 0 || port > 65535) {
        tdm_http_free(s);
        return tdm_fail(err, TDM_ERR_IO, "cannot listen on %s port %u", addr, cfg->port);
    }
    s->port = (uint16_t)port;
    *out = s;
    return TDM_OK;
}

uint16_t tdm_http_port(const tdm_http_server *s) { return s ? s->port : 0; }

tdm_status tdm_http_service(tdm_http_server *s, int timeout_ms)
{
    if (!s)
        return TDM_ERR_INVALID;
    return lws_service(s->ctx, timeout_ms) < 0 ? TDM_ERR_IO : TDM_OK;
}

void tdm_http_cancel(tdm_http_server *s)
{
    if (s)
        lws_cancel_service(s->ctx);
}

void tdm_http_free(tdm_http_server *s)
{
    if (!s)
        return;
    if (s->ctx)
        lws_context_destroy(s->ctx);
    free(s);
}
