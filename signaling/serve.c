/* serve.c: tandem-signal's libwebsockets shell (tdm_sig_server.h). One
 * protocol handles both HTTP transactions and WebSocket connections on
 * /api/v1/ws; every decision is tdm_sig_api's, tdm_sig_hub's or
 * tdm_sig_static's. Relay revocations the api queues are handed to the
 * sender thread (tdm_sig_relay_revoke.h) after each request, so a slow relay
 * never blocks this loop. */
#include "tdm_sig_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "tdm_sig_api.h"
#include "tdm_sig_hub.h"
#include "tdm_sig_recordings.h"
#include "tdm_sig_relay_revoke.h"
#include "tdm_sig_static.h"
#include "tdm_redis_cluster.h"

#define WS_PATH "/api/v1/ws"
#define PATH_CAP 1024
#define HDR_CAP 512
#define STATIC_MAX (16 << 20) /* larger files are not pages */
#define WRITE_CHUNK 16384
#define WS_BUCKETS 1024
/* A socket whose unsent messages exceed this is not keeping up (a stalled
 * customer under a flood of input): it is closed rather than let the
 * queue grow without bound or drop events out of order. */
#define WS_QUEUE_MAX (8u << 20)
#define CLOSE_TRY_AGAIN_LATER 1013

/* A queued outgoing WebSocket message: LWS_PRE bytes of headroom, then data. */
typedef struct ws_msg {
    struct ws_msg *next;
    size_t len;
    unsigned char buf[];
} ws_msg;

typedef struct ws_conn {
    uint64_t id;
    struct ws_conn *next_by_id;
    struct lws *wsi;
    ws_msg *head, *tail;
    size_t queued; /* bytes in head..tail */
    uint8_t *rx; /* TDM_SIG_WS_MESSAGE_MAX bytes */
    size_t rx_len;
    bool rx_too_large;
    int close_code; /* non-zero: close once the queue is written */
} ws_conn;

/* One HTTP transaction (reused across keep-alive requests). */
typedef struct http_txn {
    char method[8];
    char path[PATH_CAP];
    char query[PATH_CAP];
    char authorization[HDR_CAP];
    char secret[HDR_CAP];
    char range[HDR_CAP];
    bool has_auth, has_secret, has_query, has_range;
    uint8_t *body;
    size_t body_len;
    bool body_too_large;
    bool length_required;
    bool responded;
    /* response */
    int status;
    const char *content_type;
    char *resp; /* malloc'd */
    size_t resp_len, sent;
    bool writing, head_only;
    /* A file body (tdm_sig_recordings' video): fd >= 0 sends file_left
     * bytes from file_off instead of resp. Extra headers in hdr_*. */
    int fd;
    uint64_t file_off, file_left;
    char hdr_content_range[96];
    bool hdr_accept_ranges;
    int hdr_retry_after;
} http_txn;

typedef struct pss {
    http_txn *h;
    ws_conn *w;
} pss;

struct tdm_sig_server {
    struct lws_context *ctx;
    const tdm_sig_serve_config *cfg;
    tdm_signal *sig;
    tdm_sig_hub *hub;
    tdm_sig_api *api;
    tdm_sig_recordings *recs; /* /api/v1/recordings (auditor pages) */
    /* Sends the api's relay revocations off the event loop; NULL without
     * a cluster secret (relays then have no /admin/revoke either). */
    tdm_sig_revoker *revoker;
    /* --redis: the other instances (pub/sub, shared relay registry); NULL
     * on one machine. Its bus threads wake this loop with
     * lws_cancel_service; their messages are handled on EVENT_WAIT_CANCELLED. */
    tdm_redis_cluster *cluster;
    char web_root[PATH_MAX];
    bool has_web_root;
    uint16_t port;
    uint64_t next_conn;
    ws_conn *conns[WS_BUCKETS];
    lws_sorted_usec_list_t tick_sul;
    int64_t last_tick_ms;
    bool destroying; /* in lws_context_destroy: closes are not news */
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- WebSocket connections and the hub's IO --- */

static ws_conn *ws_find(tdm_sig_server *s, uint64_t id)
{
    for (ws_conn *w = s->conns[id % WS_BUCKETS]; w; w = w->next_by_id)
        if (w->id == id)
            return w;
    return NULL;
}

static void ws_unlink(tdm_sig_server *s, ws_conn *w)
{
    ws_conn **pp = &s->conns[w->id % WS_BUCKETS];
    while (*pp && *pp != w)
        pp = &(*pp)->next_by_id;
    if (*pp)
        *pp = w->next_by_id;
}

static void ws_drop_queue(ws_conn *w)
{
    for (ws_msg *m = w->head, *n; m; m = n) {
        n = m->next;
        free(m);
    }
    w->head = w->tail = NULL;
    w->queued = 0;
}

static void ws_free(ws_conn *w)
{
    ws_drop_queue(w);
    free(w->rx);
    free(w);
}

static void hub_send(void *ctx, uint64_t conn, const char *data, size_t len)
{
    tdm_sig_server *s = ctx;
    ws_conn *w = ws_find(s, conn);
    if (!w || w->close_code)
        return;
    if (len > WS_QUEUE_MAX - w->queued) {
        ws_drop_queue(w);
        w->close_code = CLOSE_TRY_AGAIN_LATER;
        lws_callback_on_writable(w->wsi);
        return;
    }
    ws_msg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m) {
        /* A socket that cannot get its messages would see a gap: close it. */
        w->close_code = 1011;
        lws_callback_on_writable(w->wsi);
        return;
    }
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, data, len);
    w->queued += len;
    if (w->tail)
        w->tail->next = m;
    else
        w->head = m;
    w->tail = m;
    lws_callback_on_writable(w->wsi);
}

static void hub_close(void *ctx, uint64_t conn, int code)
{
    tdm_sig_server *s = ctx;
    ws_conn *w = ws_find(s, conn);
    if (!w || w->close_code)
        return;
    w->close_code = code;
    lws_callback_on_writable(w->wsi);
}

static int ws_writeable(struct lws *wsi, ws_conn *w)
{
    ws_msg *m = w->head;
    if (m) {
        if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
            return -1;
        w->head = m->next;
        if (!w->head)
            w->tail = NULL;
        w->queued -= m->len;
        free(m);
        if (w->head || w->close_code)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (w->close_code) {
        lws_close_reason(wsi, (enum lws_close_status)w->close_code, NULL, 0);
        return -1;
    }
    return 0;
}

static int ws_receive(tdm_sig_server *s, struct lws *wsi, ws_conn *w, const void *in, size_t len)
{
    if (lws_is_first_fragment(wsi)) {
        w->rx_len = 0;
        w->rx_too_large = false;
    }
    if (!w->rx_too_large) {
        if (len > TDM_SIG_WS_MESSAGE_MAX - w->rx_len)
            w->rx_too_large = true; /* the rest of it is read and dropped */
        else {
            memcpy(w->rx + w->rx_len, in, len);
            w->rx_len += len;
        }
    }
    if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
        tdm_sig_hub_message(s->hub, w->id, w->rx, w->rx_len, w->rx_too_large, wall_ms());
        w->rx_len = 0;
        w->rx_too_large = false;
    }
    return 0;
}

static int ws_established(tdm_sig_server *s, struct lws *wsi, pss *p)
{
    ws_conn *w = calloc(1, sizeof *w);
    if (w)
        w->rx = malloc(TDM_SIG_WS_MESSAGE_MAX);
    if (!w || !w->rx) {
        if (w)
            free(w);
        return -1;
    }
    w->id = ++s->next_conn;
    w->wsi = wsi;
    tdm_error err;
    if (tdm_sig_hub_open(s->hub, w->id, wall_ms(), &err) != TDM_OK) {
        ws_free(w);
        return -1;
    }
    w->next_by_id = s->conns[w->id % WS_BUCKETS];
    s->conns[w->id % WS_BUCKETS] = w;
    p->w = w;
    return 0;
}

static void ws_closed(tdm_sig_server *s, pss *p)
{
    ws_conn *w = p ? p->w : NULL;
    if (!w)
        return;
    p->w = NULL;
    ws_unlink(s, w);
    uint64_t id = w->id;
    ws_free(w);
    /* After the free: the hub may push "offline" to others, never to id. */
    if (!s->destroying)
        tdm_sig_hub_closed(s->hub, id, wall_ms());
}

/* --- HTTP --- */

static bool copy_header(struct lws *wsi, enum lws_token_indexes tok, char *buf, size_t cap)
{
    int n = lws_hdr_total_length(wsi, tok);
    if (n <= 0 || (size_t)n >= cap)
        return false;
    return lws_hdr_copy(wsi, buf, (int)cap, tok) == n;
}

static const char *method_of(struct lws *wsi)
{
    static const struct {
        enum lws_token_indexes tok;
        const char *name;
    } map[] = {
        {WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
        {WSI_TOKEN_PUT_URI, "PUT"},       {WSI_TOKEN_DELETE_URI, "DELETE"},
        {WSI_TOKEN_HEAD_URI, "HEAD"},     {WSI_TOKEN_PATCH_URI, "PATCH"},
        {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (lws_hdr_total_length(wsi, map[i].tok) > 0)
            return map[i].name;
    return "OTHER";
}

static http_txn *txn_get(pss *p)
{
    if (!p->h && (p->h = calloc(1, sizeof *p->h)) != NULL)
        p->h->fd = -1;
    return p->h;
}

static void txn_close_file(http_txn *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    t->file_left = 0;
}

static void txn_free(pss *p)
{
    if (!p || !p->h)
        return;
    txn_close_file(p->h);
    free(p->h->body);
    free(p->h->resp);
    free(p->h);
    p->h = NULL;
}

/* Reads the request line and headers; returns whether a body follows. */
static bool begin_request(struct lws *wsi, http_txn *t, const char *uri)
{
    free(t->resp);
    t->resp = NULL;
    txn_close_file(t);
    t->hdr_content_range[0] = '\0';
    t->hdr_accept_ranges = false;
    t->hdr_retry_after = 0;
    snprintf(t->method, sizeof t->method, "%s", method_of(wsi));
    snprintf(t->path, sizeof t->path, "%s", uri);
    /* lws keeps each query argument as a fragment: join them with '&'. */
    size_t ql = 0;
    for (int idx = 0; idx < 32; idx++) {
        char frag[PATH_CAP];
        int n = lws_hdr_copy_fragment(wsi, frag, (int)sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, idx);
        if (n <= 0)
            break;
        int w = snprintf(t->query + ql, sizeof t->query - ql, "%s%s", ql ? "&" : "", frag);
        if (w < 0 || (size_t)w >= sizeof t->query - ql)
            break;
        ql += (size_t)w;
    }
    t->query[ql] = '\0';
    t->has_query = ql > 0;
    t->has_auth = copy_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, t->authorization,
                              sizeof t->authorization);
    t->has_range = copy_header(wsi, WSI_TOKEN_HTTP_RANGE, t->range, sizeof t->range);
    static const char sname[] = "x-tandem-secret:";
    int n = lws_hdr_custom_length(wsi, sname, (int)sizeof sname - 1);
    t->has_secret = n > 0 && (size_t)n < sizeof t->secret &&
                    lws_hdr_custom_copy(wsi, t->secret, (int)sizeof t->secret, sname,
                                        (int)sizeof sname - 1) == n;
    t->body_len = 0;
    t->body_too_large = t->length_required = t->responded = t->writing = false;
    t->sent = t->resp_len = 0;
    char te[64];
    if (copy_header(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING, te, sizeof te)) {
        t->length_required = true;
        return false;
    }
    char cl[32];
    if (!copy_header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl))
        return false;
    char *end;
    unsigned long long len = strtoull(cl, &end, 10);
    if (end == cl || *end)
        return false;
    if (len > TDM_SIG_API_BODY_MAX) {
        t->body_too_large = true; /* answered at once; the connection closes after */
        return false;
    }
    return len > 0;
}

static void append_body(http_txn *t, const void *in, size_t len)
{
    if (t->body_too_large)
        return;
    if (!t->body && !(t->body = malloc(TDM_SIG_API_BODY_MAX))) {
        t->body_too_large = true;
        return;
    }
    if (len > TDM_SIG_API_BODY_MAX - t->body_len) {
        t->body_too_large = true;
        return;
    }
    memcpy(t->body + t->body_len, in, len);
    t->body_len += len;
}

static void set_text(http_txn *t, int status, const char *ctype, const char *text)
{
    t->status = status;
    t->content_type = ctype;
    free(t->resp);
    t->resp = strdup(text);
    t->resp_len = t->resp ? strlen(text) : 0;
}

static void set_error(http_txn *t, int status, const char *code, const char *detail)
{
    char buf[512];
    snprintf(buf, sizeof buf, "{\"error\":\"%s\",\"detail\":\"%s\"}", code, detail);
    set_text(t, status, "application/json", buf);
}

/* A static file: mapped by tdm_sig_static, resolved with realpath and
 * checked to be under the root, read whole. */
static void serve_static(tdm_sig_server *s, http_txn *t)
{
    if (strcmp(t->method, "GET") != 0 && strcmp(t->method, "HEAD") != 0) {
        set_error(t, 405, "method_not_allowed", "static files: GET or HEAD");
        return;
    }
    char mapped[PATH_MAX], real[PATH_MAX];
    struct stat st;
    if (!s->has_web_root || !tdm_sig_static_map(s->web_root, t->path, mapped, sizeof mapped) ||
        !realpath(mapped, real) || !tdm_sig_static_under(s->web_root, real)) {
        set_error(t, 404, "not_found", "no such page");
        return;
    }
    if (stat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* A directory without the slash: its index, as "/dir/" would be. */
        size_t n = strlen(real);
        if (n + sizeof "/index.html" > sizeof real) {
            set_error(t, 404, "not_found", "no such page");
            return;
        }
        memcpy(real + n, "/index.html", sizeof "/index.html");
        if (stat(real, &st) != 0) {
            set_error(t, 404, "not_found", "no such page");
            return;
        }
    }
    if (!S_ISREG(st.st_mode) || st.st_size > STATIC_MAX) {
        set_error(t, 404, "not_found", "no such page");
        return;
    }
    FILE *f = fopen(real, "rb");
    char *buf = f ? malloc((size_t)st.st_size + 1) : NULL;
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    if (f)
        fclose(f);
    if (!buf || n != (size_t)st.st_size) {
        free(buf);
        set_error(t, 500, "internal", "cannot read the file");
        return;
    }
    free(t->resp);
    t->resp = buf;
    t->resp_len = n;
    t->status = 200;
    t->content_type = tdm_sig_static_mime(real);
}

/* Moves what the api queued to the sender thread: never blocks here. */
static void hand_over_revocations(tdm_sig_server *s)
{
    tdm_sig_revocation v[8];
    size_t n;
    uint64_t dropped = 0;
    while ((n = tdm_sig_api_take_revocations(s->api, v, 8, &dropped)) > 0)
        for (size_t i = 0; i < n; i++) {
            if (!s->revoker) {
                /* Said once per revocation: the operator should know the
                 * relay keeps serving until its tokens expire. */
                fprintf(stderr,
                        "tandem-signal: not revoking %s%s%s on relay %s: no cluster_secret_file "
                        "configured (relay tokens expire on their own)\n",
                        v[i].session, v[i].participant[0] ? "/" : "", v[i].participant,
                        v[i].relay_id);
            } else if (tdm_sig_revoker_submit(s->revoker, &v[i]) != TDM_OK) {
                fprintf(stderr, "tandem-signal: revocation queue full: %s on relay %s dropped\n",
                        v[i].session, v[i].relay_id);
            }
        }
    if (dropped)
        fprintf(stderr, "tandem-signal: %llu relay revocation(s) dropped (api queue full)\n",
                (unsigned long long)dropped);
}

static int respond(struct lws *wsi, tdm_sig_server *s, http_txn *t)
{
    t->responded = true;
    t->head_only = strcmp(t->method, "HEAD") == 0;
    if (t->length_required) {
        set_error(t, 411, "bad_request", "Content-Length required");
        t->body_too_large = true; /* close after: the chunked body stays unread */
    } else if (tdm_sig_recordings_owns(t->path)) {
        tdm_sig_rec_request req = {
            .method = t->method,
            .path = t->path,
            .query = t->has_query ? t->query : NULL,
            .authorization = t->has_auth ? t->authorization : NULL,
            .range = t->has_range ? t->range : NULL,
        };
        tdm_sig_rec_response resp;
        if (tdm_sig_recordings_handle(s->recs, &req, wall_ms(), &resp) != TDM_OK)
            return -1;
        free(t->resp);
        t->status = resp.status;
        t->content_type = resp.content_type;
        snprintf(t->hdr_content_range, sizeof t->hdr_content_range, "%s", resp.content_range);
        t->hdr_accept_ranges = resp.accept_ranges;
        t->hdr_retry_after = resp.retry_after_s;
        if (resp.fd >= 0) {
            t->fd = resp.fd;
            t->file_off = resp.offset;
            t->file_left = resp.length;
            t->resp = strdup(""); /* the body comes from fd */
            t->resp_len = 0;
        } else {
            t->resp = resp.body;
            t->resp_len = resp.body_len;
        }
    } else if (s->cluster && strcmp(t->path, "/healthz") == 0 &&
               !tdm_redis_cluster_redis_up(s->cluster)) {
        /* Everything else answers 503 now: a load balancer should send no
         * traffic here until Redis is back. */
        static const char down[] = "{\"ok\":false,\"redis\":\"unavailable\"}";
        free(t->resp);
        t->resp = strdup(down);
        t->resp_len = sizeof down - 1;
        t->status = 503;
        t->content_type = "application/json";
        t->hdr_retry_after = 1; /* expected, not a fault: no log line per probe */
    } else if (tdm_sig_api_owns(t->path)) {
        tdm_sig_api_request req = {
            .method = t->method,
            .path = t->path,
            .query = t->has_query ? t->query : NULL,
            .authorization = t->has_auth ? t->authorization : NULL,
            .secret = t->has_secret ? t->secret : NULL,
            .body = t->body,
            .body_len = t->body_len,
            .body_too_large = t->body_too_large,
        };
        tdm_sig_api_response resp;
        if (tdm_sig_api_handle(s->api, &req, wall_ms(), &resp) != TDM_OK) {
            free(resp.body);
            return -1;
        }
        if (resp.log[0])
            fprintf(stderr, "tandem-signal: %s\n", resp.log);
        hand_over_revocations(s);
        free(t->resp);
        t->resp = resp.body;
        t->resp_len = strlen(resp.body);
        t->status = resp.status;
        t->content_type = "application/json";
    } else {
        serve_static(s, t);
    }
    if (!t->resp)
        return -1;
    /* The machine failed: worth a line for ops (not a planned "come back
     * later" with Retry-After, such as a video still being exported). */
    if (t->status >= 500 && t->hdr_retry_after == 0)
        fprintf(stderr, "tandem-signal: %s %s: %d %.*s\n", t->method, t->path, t->status,
                (int)(t->resp_len < 300 ? t->resp_len : 300), t->resp);

    unsigned char buf[LWS_PRE + 1024];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    static const char nosniff[] = "nosniff";
    const char *cache = tdm_sig_api_owns(t->path) ? "no-store" : "no-cache";
    if (lws_add_http_header_status(wsi, (unsigned int)t->status, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)t->content_type,
                                     (int)strlen(t->content_type), &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)cache, (int)strlen(cache), &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)nosniff, (int)sizeof nosniff - 1, &p,
                                    end))
        return -1;
    if (t->hdr_content_range[0] &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"content-range:",
                                    (const unsigned char *)t->hdr_content_range,
                                    (int)strlen(t->hdr_content_range), &p, end))
        return -1;
    if (t->hdr_accept_ranges &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"accept-ranges:",
                                    (const unsigned char *)"bytes", 5, &p, end))
        return -1;
    char ra[16];
    if (t->hdr_retry_after > 0 &&
        (snprintf(ra, sizeof ra, "%d", t->hdr_retry_after),
         lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
                                     (const unsigned char *)ra, (int)strlen(ra), &p, end)))
        return -1;
    uint64_t body_len = t->fd >= 0 ? t->file_left : t->resp_len;
    if (lws_add_http_header_content_length(wsi, (lws_filepos_t)body_len, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (t->head_only)
        txn_close_file(t);
    if (t->fd >= 0 && t->file_left > 0) {
        t->writing = true;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (t->resp_len > 0 && !t->head_only) {
        t->writing = true;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (t->body_too_large)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* The next piece of a file body (pread: the txn's own offset). */
static int write_file_body(struct lws *wsi, http_txn *t)
{
    size_t n = t->file_left < WRITE_CHUNK ? (size_t)t->file_left : WRITE_CHUNK;
    unsigned char buf[LWS_PRE + WRITE_CHUNK];
    ssize_t got = pread(t->fd, buf + LWS_PRE, n, (off_t)t->file_off);
    if (got != (ssize_t)n)
        return -1; /* the file shrank under us: the length promised cannot be kept */
    bool last = n == t->file_left;
    if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    t->file_off += n;
    t->file_left -= n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    txn_close_file(t);
    t->writing = false;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int write_body(struct lws *wsi, http_txn *t)
{
    if (t->fd >= 0)
        return write_file_body(wsi, t);
    size_t left = t->resp_len - t->sent;
    size_t n = left < WRITE_CHUNK ? left : WRITE_CHUNK;
    unsigned char buf[LWS_PRE + WRITE_CHUNK];
    memcpy(buf + LWS_PRE, t->resp + t->sent, n);
    bool last = n == left;
    if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    t->sent += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    t->writing = false;
    if (t->body_too_large)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    pss *p = user;
    tdm_sig_server *s = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        http_txn *t = p ? txn_get(p) : NULL;
        if (!t)
            return -1;
        if (begin_request(wsi, t, in ? (const char *)in : "/"))
            return 0; /* the body comes; answered on BODY_COMPLETION */
        return respond(wsi, s, t);
    }
    case LWS_CALLBACK_HTTP_BODY:
        if (!p || !p->h)
            return -1;
        if (!p->h->responded)
            append_body(p->h, in, len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (!p || !p->h)
            return -1;
        return p->h->responded ? 0 : respond(wsi, s, p->h);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!p || !p->h || !p->h->writing)
            return 0;
        return write_body(wsi, p->h);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        txn_free(p);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        /* Upgrades only on the one WebSocket path. */
        char uri[PATH_CAP];
        if (!copy_header(wsi, WSI_TOKEN_GET_URI, uri, sizeof uri) || strcmp(uri, WS_PATH) != 0)
            return 1;
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        return p ? ws_established(s, wsi, p) : -1;
    case LWS_CALLBACK_RECEIVE:
        if (!p || !p->w)
            return -1;
        return ws_receive(s, wsi, p->w, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!p || !p->w)
            return 0;
        return ws_writeable(wsi, p->w);
    case LWS_CALLBACK_CLOSED:
        ws_closed(s, p);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (s && s->cluster)
            tdm_redis_cluster_service(s->cluster, wall_ms());
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    /* rx_buffer_size: lws hands a message over in pieces of this size. */
    {"tandem-v1", callback, sizeof(pss), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void cluster_wake(void *ctx)
{
    tdm_sig_server *s = ctx;
    if (s->ctx)
        lws_cancel_service(s->ctx);
}

static void tick(lws_sorted_usec_list_t *sul)
{
    tdm_sig_server *s = lws_container_of(sul, tdm_sig_server, tick_sul);
    int64_t now = wall_ms();
    tdm_error err = {{0}};
    if (tdm_signal_tick(s->sig, now, &err) != TDM_OK)
        fprintf(stderr, "tandem-signal: tick: %s\n", err.msg);
    tdm_sig_hub_tick(s->hub, now);
    tdm_redis_cluster_tick(s->cluster, now);
    char line[256];
    tdm_sig_api_tick(s->api, now, line, sizeof line);
    if (line[0])
        fprintf(stderr, "tandem-signal: %s\n", line);
    lws_sul_schedule(s->ctx, 0, &s->tick_sul, tick, LWS_US_PER_SEC);
}

tdm_status tdm_sig_server_new(const tdm_sig_server_config *scfg, const tdm_sig_serve_config *cfg,
                              tdm_signal *sig, tdm_sig_server **out, tdm_error *err)
{
    if (!scfg || !cfg || !sig || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "server_new: NULL argument");
    *out = NULL;
    const char *addr = scfg->address ? scfg->address : "127.0.0.1";
    unsigned char sa[sizeof(struct in6_addr)];
    bool v6 = inet_pton(AF_INET6, addr, sa) == 1;
    if (!v6 && inet_pton(AF_INET, addr, sa) != 1)
        return tdm_fail(err, TDM_ERR_INVALID, "listen address '%s' is not an IP address", addr);
    tdm_sig_server *s = calloc(1, sizeof *s);
    if (!s)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    s->cfg = cfg;
    s->sig = sig;
    if (scfg->web_root) {
        if (!realpath(scfg->web_root, s->web_root)) {
            tdm_fail(err, TDM_ERR_IO, "web root %s: %s", scfg->web_root, strerror(errno));
            free(s);
            return TDM_ERR_IO;
        }
        s->has_web_root = true;
    }
    tdm_sig_hub_io io = {.send = hub_send, .close = hub_close, .ctx = s};
    tdm_status st = tdm_sig_hub_new(sig, &io, &s->hub, err);
    if (st == TDM_OK)
        st = tdm_sig_api_new(sig, s->hub, cfg, &s->api, err);
    if (st == TDM_OK)
        st = tdm_sig_recordings_new(sig, cfg, &s->recs, err);
    if (st == TDM_OK && cfg->cluster_secret_len > 0) {
        tdm_sig_revoker_config rcfg = {.secret = cfg->cluster_secret,
                                       .secret_len = cfg->cluster_secret_len};
        st = tdm_sig_revoker_new(&rcfg, &s->revoker, err);
    }
    if (st != TDM_OK) {
        tdm_sig_server_free(s);
        return st;
    }
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = scfg->port;
    info.iface = addr;
    info.protocols = protocols;
    info.user = s;
    info.max_http_header_data = 8192;
    info.pt_serv_buf_size = 32768;
    info.timeout_secs = 10;
    info.keepalive_timeout = 30;
    if (!v6)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        tdm_sig_server_free(s);
        return tdm_fail(err, TDM_ERR_IO, "cannot listen on %s%s%s:%u (address in use or not local?)",
                        v6 ? "[" : "", addr, v6 ? "]" : "", scfg->port);
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(s->ctx, "default");
    int port = vh ? lws_get_vhost_listen_port(vh) : -1;
    if (port <= 0 || port > 65535) {
        tdm_sig_server_free(s);
        return tdm_fail(err, TDM_ERR_IO, "cannot listen on %s port %u", addr, scfg->port);
    }
    s->port = (uint16_t)port;
    if (cfg->redis_url[0]) {
        st = tdm_redis_cluster_new(cfg->redis_url, sig, s->hub, tdm_sig_api_registry(s->api),
                                   cluster_wake, s, &s->cluster, err);
        if (st != TDM_OK) {
            tdm_sig_server_free(s);
            return st;
        }
        fprintf(stderr, "tandem-signal: cluster instance %s (redis %s)\n",
                tdm_redis_cluster_instance(s->cluster), cfg->redis_url);
    }
    lws_sul_schedule(s->ctx, 0, &s->tick_sul, tick, LWS_US_PER_SEC);
    *out = s;
    return TDM_OK;
}

uint16_t tdm_sig_server_port(const tdm_sig_server *s) { return s ? s->port : 0; }

tdm_status tdm_sig_server_run(tdm_sig_server *s, volatile sig_atomic_t *stop, tdm_error *err)
{
    if (!s || !stop)
        return tdm_fail(err, TDM_ERR_INVALID, "server_run: NULL argument");
    while (!*stop)
        if (lws_service(s->ctx, 1000) < 0)
            return tdm_fail(err, TDM_ERR_IO, "the event loop failed");
    return TDM_OK;
}

void tdm_sig_server_wake(tdm_sig_server *s)
{
    if (s && s->ctx)
        lws_cancel_service(s->ctx);
}

void tdm_sig_server_free(tdm_sig_server *s)
{
    if (!s)
        return;
    /* Before the sockets close: the hub then stops telling the cluster. */
    tdm_redis_cluster_free(s->cluster);
    s->cluster = NULL;
    if (s->ctx) {
        lws_sul_cancel(&s->tick_sul);
        s->destroying = true;
        lws_context_destroy(s->ctx); /* closes sockets: CLOSED callbacks run */
    }
    for (unsigned b = 0; b < WS_BUCKETS; b++)
        for (ws_conn *w = s->conns[b], *n; w; w = n) {
            n = w->next_by_id;
            ws_free(w);
        }
    tdm_sig_revoker_free(s->revoker);
    tdm_sig_recordings_free(s->recs);
    tdm_sig_api_free(s->api);
    tdm_sig_hub_free(s->hub);
    free(s);
}
