/* whip.c: WHIP/WHEP routing, token checks, ETags, CORS and status mapping
 * (tdm_whip.h). Stateless about endpoints — the backend keeps them — and
 * stateful only for counters that /metrics reports. */
#include "tdm_whip.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "tdm_revocations.h"

/* Statuses this module produces, for the per-status request counter. */
static const int counted_statuses[] = {200, 201, 204, 400, 401, 403, 404, 405,
                                       409, 412, 413, 415, 422, 500, 503};
#define N_COUNTED (sizeof counted_statuses / sizeof counted_statuses[0])

typedef struct ice_server {
    char *url, *username, *credential;
} ice_server;

struct tdm_whip {
    uint8_t *secret;
    size_t secret_len;
    char node_id[TDM_TOKEN_ID_MAX + 1];
    char *cors_origin;
    ice_server ice[TDM_WHIP_MAX_ICE_SERVERS];
    size_t n_ice;
    tdm_whip_random_fn random;
    void *random_ctx;
    tdm_whip_backend be;
    uint64_t by_status[N_COUNTED];
    uint64_t by_token_failure[TDM_TOKEN_FAILURE_COUNT];
    uint64_t created[2], deleted[2]; /* [0] publish, [1] subscribe */
    /* /admin/revoke (NULL verify: the route does not exist). */
    tdm_whip_admin_verify_fn admin_verify;
    void *admin_ctx;
    int64_t last_admin_ts_ms; /* replay check: the last accepted signed time */
    int64_t revocation_ttl_s;
    tdm_revocations *revoked;
    uint64_t revocations[2];  /* [0] session ended, [1] participant removed */
    uint64_t revoked_endpoints; /* endpoints ended by a revocation */
    uint64_t revoked_refusals[2]; /* tokens refused: [0] session, [1] participant */
    uint64_t admin_refused;       /* admin requests refused (auth, body) */
};

static tdm_status openssl_random(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    return RAND_bytes(out, (int)n) == 1 ? TDM_OK : TDM_ERR_UNAVAILABLE;
}

/* The id alphabet of tdm_token.h: what a session id in a path may be. */
static bool id_ok(const char *s, size_t n)
{
    if (n == 0 || n > TDM_TOKEN_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '~' || c == ':' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Link header values are written between <> and inside quoted-strings:
 * refuse what would break out of either rather than escape it. */
static bool link_text_ok(const char *s, const char *forbidden)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s == 0x7f || strchr(forbidden, *s))
            return false;
    return true;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

tdm_status tdm_whip_new(const tdm_whip_config *cfg, const tdm_whip_backend *backend,
                        tdm_whip **out, tdm_error *err)
{
    if (!cfg || !backend || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "whip_new: NULL argument");
    *out = NULL;
    if (!backend->create_endpoint || !backend->lookup_endpoint || !backend->delete_endpoint)
        return tdm_fail(err, TDM_ERR_INVALID,
                        "whip_new: backend needs create, lookup and delete functions");
    if (!cfg->secret || cfg->secret_len < TDM_TOKEN_SECRET_MIN)
        return tdm_fail(err, TDM_ERR_INVALID, "whip_new: token secret must be at least %d bytes",
                        TDM_TOKEN_SECRET_MIN);
    if (!cfg->node_id || !id_ok(cfg->node_id, strlen(cfg->node_id)))
        return tdm_fail(err, TDM_ERR_INVALID,
                        "whip_new: node id must be 1..%d characters of [A-Za-z0-9._~:-]",
                        TDM_TOKEN_ID_MAX);
    if (cfg->n_ice_servers > TDM_WHIP_MAX_ICE_SERVERS ||
        (cfg->n_ice_servers && !cfg->ice_servers))
        return tdm_fail(err, TDM_ERR_INVALID, "whip_new: at most %d ICE servers",
                        TDM_WHIP_MAX_ICE_SERVERS);
    for (size_t i = 0; i < cfg->n_ice_servers; i++) {
        const tdm_whip_ice_server *s = &cfg->ice_servers[i];
        size_t total = (s->url ? strlen(s->url) : 0) + (s->username ? strlen(s->username) : 0) +
                       (s->credential ? strlen(s->credential) : 0);
        if (!s->url || !*s->url || !link_text_ok(s->url, "<>\"\\,;") ||
            (s->username && !link_text_ok(s->username, "\"\\")) ||
            (s->credential && !link_text_ok(s->credential, "\"\\")) ||
            total + 96 > TDM_WHIP_HEADER_VALUE_MAX)
            return tdm_fail(err, TDM_ERR_INVALID,
                            "whip_new: ICE server %zu: empty, too long or has characters a Link "
                            "header cannot carry",
                            i + 1);
    }
    if (cfg->cors_origin && (!*cfg->cors_origin || !link_text_ok(cfg->cors_origin, "") ||
                             strlen(cfg->cors_origin) >= TDM_WHIP_HEADER_VALUE_MAX))
        return tdm_fail(err, TDM_ERR_INVALID, "whip_new: bad CORS origin");

    tdm_whip *w = calloc(1, sizeof *w);
    if (!w)
        return tdm_fail(err, TDM_ERR_NOMEM, "whip_new: out of memory");
    bool oom = false;
    w->secret = malloc(cfg->secret_len);
    if (w->secret) {
        memcpy(w->secret, cfg->secret, cfg->secret_len);
        w->secret_len = cfg->secret_len;
    } else {
        oom = true;
    }
    strcpy(w->node_id, cfg->node_id);
    w->cors_origin = dup_or_null(cfg->cors_origin, &oom);
    for (size_t i = 0; i < cfg->n_ice_servers; i++) {
        w->ice[i].url = dup_or_null(cfg->ice_servers[i].url, &oom);
        w->ice[i].username = dup_or_null(cfg->ice_servers[i].username, &oom);
        w->ice[i].credential = dup_or_null(cfg->ice_servers[i].credential, &oom);
    }
    w->n_ice = cfg->n_ice_servers;
    w->random = cfg->random ? cfg->random : openssl_random;
    w->random_ctx = cfg->random ? cfg->random_ctx : NULL;
    w->be = *backend;
    w->admin_verify = cfg->admin_verify;
    w->admin_ctx = cfg->admin_ctx;
    w->revocation_ttl_s = cfg->revocation_ttl_s > 0 ? cfg->revocation_ttl_s
                                                    : TDM_WHIP_REVOCATION_TTL_S;
    /* Always present (a lookup in an empty table is cheap), so token checks
     * need no branch on whether the admin route exists. */
    if (tdm_revocations_new(0, &w->revoked) != TDM_OK)
        oom = true;
    if (oom) {
        tdm_whip_free(w);
        return tdm_fail(err, TDM_ERR_NOMEM, "whip_new: out of memory");
    }
    *out = w;
    return TDM_OK;
}

void tdm_whip_free(tdm_whip *w)
{
    if (!w)
        return;
    if (w->secret)
        OPENSSL_cleanse(w->secret, w->secret_len);
    free(w->secret);
    free(w->cors_origin);
    for (size_t i = 0; i < w->n_ice; i++) {
        free(w->ice[i].url);
        free(w->ice[i].username);
        if (w->ice[i].credential)
            OPENSSL_cleanse(w->ice[i].credential, strlen(w->ice[i].credential));
        free(w->ice[i].credential);
    }
    tdm_revocations_free(w->revoked);
    free(w);
}

tdm_whip_method tdm_whip_method_parse(const char *name)
{
    static const struct {
        const char *name;
        tdm_whip_method m;
    } methods[] = {
        {"GET", TDM_WHIP_GET},       {"HEAD", TDM_WHIP_HEAD},       {"POST", TDM_WHIP_POST},
        {"PATCH", TDM_WHIP_PATCH},   {"DELETE", TDM_WHIP_DELETE}, {"OPTIONS", TDM_WHIP_OPTIONS},
        {"PUT", TDM_WHIP_PUT},
    };
    /* Methods are case-sensitive (RFC 9110 9.1). */
    for (size_t i = 0; name && i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(name, methods[i].name) == 0)
            return methods[i].m;
    return TDM_WHIP_OTHER;
}

const char *tdm_whip_response_header(const tdm_whip_response *resp, const char *name)
{
    for (size_t i = 0; resp && name && i < resp->n_headers; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    return NULL;
}

/* --- response writing --- */

static void add_header(tdm_whip_response *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The header set of every response is bounded by construction (the
 * largest, a 201 with TDM_WHIP_MAX_ICE_SERVERS Link headers and CORS, is 15
 * of TDM_WHIP_MAX_HEADERS); a header that would not fit is dropped, not
 * truncated, so no half value is ever sent. */
static void add_header(tdm_whip_response *r, const char *name, const char *fmt, ...)
{
    if (r->n_headers >= TDM_WHIP_MAX_HEADERS)
        return;
    tdm_whip_header *h = &r->headers[r->n_headers];
    snprintf(h->name, sizeof h->name, "%s", name);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(h->value, sizeof h->value, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof h->value)
        r->n_headers++;
}

static void set_body(tdm_whip_response *r, const char *text, size_t n)
{
    if (n > r->body_cap)
        n = r->body_cap;
    memcpy(r->body, text, n);
    r->body_len = n;
}

static void cors_headers(const tdm_whip *w, tdm_whip_response *r)
{
    if (!w->cors_origin)
        return;
    add_header(r, "Access-Control-Allow-Origin", "%s", w->cors_origin);
    /* A browser script reads Location and ETag only when exposed. */
    add_header(r, "Access-Control-Expose-Headers", "Location, ETag, Link, Accept-Patch");
    if (strcmp(w->cors_origin, "*") != 0)
        add_header(r, "Vary", "Origin");
}

/* An error response: status and a one-line text/plain reason. */
static void fail_with(const tdm_whip *w, tdm_whip_response *r, int status, const char *reason)
{
    r->status = status;
    r->n_headers = 0;
    cors_headers(w, r);
    add_header(r, "Content-Type", "text/plain; charset=utf-8");
    char line[300];
    int n = snprintf(line, sizeof line, "%s\n", reason);
    set_body(r, line, n < 0 ? 0 : (size_t)n >= sizeof line ? sizeof line - 1 : (size_t)n);
}

/* Status for a backend result (the table in tdm_whip.h). */
static int backend_http_status(tdm_status st, bool patch)
{
    switch (st) {
    case TDM_OK:
        return 200;
    case TDM_ERR_FORMAT:
    case TDM_ERR_UNSUPPORTED:
        return patch ? 422 : 400;
    case TDM_ERR_INVALID:
        return 409;
    case TDM_EOF:
        return 404;
    case TDM_ERR_UNAVAILABLE:
    case TDM_ERR_RANGE:
    case TDM_ERR_NOMEM:
        return 503;
    default:
        return 500;
    }
}

static void fail_backend(const tdm_whip *w, tdm_whip_response *r, tdm_status st, bool patch,
                         const tdm_error *e)
{
    int status = backend_http_status(st, patch);
    const char *generic = status == 404   ? "not found"
                          : status == 503 ? "service unavailable"
                          : status == 409 ? "conflict"
                                          : "request refused";
    /* 500 hides whatever the backend said: it is for the log, not the client. */
    const char *reason = status == 500 ? "internal error" : e->msg[0] ? e->msg : generic;
    fail_with(w, r, status, reason);
}

/* --- request parsing --- */

typedef enum route_kind {
    ROUTE_NONE = 0,
    ROUTE_HEALTHZ,
    ROUTE_METRICS,
    ROUTE_ENDPOINT, /* /whip/<session> */
    ROUTE_RESOURCE, /* /whip/<session>/<resource> */
    ROUTE_ADMIN_REVOKE, /* /admin/revoke */
} route_kind;

typedef struct route {
    route_kind kind;
    bool whep;
    char session[TDM_TOKEN_ID_MAX + 1];
    char resource[TDM_WHIP_RESOURCE_ID_LEN + 1];
} route;

static bool resource_id_ok(const char *s, size_t n)
{
    if (n != TDM_WHIP_RESOURCE_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static route parse_route(const char *path)
{
    route r = {.kind = ROUTE_NONE};
    if (!path)
        return r;
    size_t len = strcspn(path, "?#");
    if (len == 8 && strncmp(path, "/healthz", 8) == 0) {
        r.kind = ROUTE_HEALTHZ;
        return r;
    }
    if (len == 8 && strncmp(path, "/metrics", 8) == 0) {
        r.kind = ROUTE_METRICS;
        return r;
    }
    if (len == 13 && strncmp(path, "/admin/revoke", 13) == 0) {
        r.kind = ROUTE_ADMIN_REVOKE;
        return r;
    }
    if (len < 6 || (strncmp(path, "/whip/", 6) != 0 && strncmp(path, "/whep/", 6) != 0))
        return r;
    r.whep = path[3] == 'e';
    const char *s = path + 6, *end = path + len;
    const char *slash = memchr(s, '/', (size_t)(end - s));
    size_t sn = (size_t)((slash ? slash : end) - s);
    if (!id_ok(s, sn))
        return r;
    memcpy(r.session, s, sn);
    r.session[sn] = '\0';
    if (!slash) {
        r.kind = ROUTE_ENDPOINT;
        return r;
    }
    const char *rid = slash + 1;
    size_t rn = (size_t)(end - rid);
    if (!resource_id_ok(rid, rn))
        return r;
    memcpy(r.resource, rid, rn);
    r.resource[rn] = '\0';
    r.kind = ROUTE_RESOURCE;
    return r;
}

/* Media type of a Content-Type value, case-insensitive, parameters ignored. */
static bool media_type_is(const char *value, const char *want)
{
    if (!value)
        return false;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strcspn(value, ";");
    while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    return n == strlen(want) && strncasecmp(value, want, n) == 0;
}

/* If-Match (RFC 9110 13.1.1): "*" or a list of entity tags, compared
 * strongly (a weak W/"..." tag never matches). */
static bool if_match_passes(const char *value, const char *etag)
{
    const char *p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    if (p[0] == '*')
        return true;
    size_t elen = strlen(etag);
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            break;
        bool weak = strncmp(p, "W/", 2) == 0;
        if (weak)
            p += 2;
        if (*p != '"')
            return false; /* not a list of entity tags: cannot match */
        const char *q = strchr(p + 1, '"');
        if (!q)
            return false;
        if (!weak && (size_t)(q - p - 1) == elen && strncmp(p + 1, etag, elen) == 0)
            return true;
        p = q + 1;
    }
    return false;
}

static tdm_status random_hex(tdm_whip *w, char *out, size_t hex_len)
{
    uint8_t raw[32];
    size_t n = hex_len / 2;
    if (n > sizeof raw)
        return TDM_ERR_INVALID;
    tdm_status st = w->random(w->random_ctx, raw, n);
    if (st != TDM_OK)
        return st;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[hex_len] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    return TDM_OK;
}

/* --- handlers --- */

static void handle_options(const tdm_whip *w, const route *rt, tdm_whip_response *r)
{
    const char *allow = rt->kind == ROUTE_ENDPOINT   ? "POST, OPTIONS"
                        : rt->kind == ROUTE_RESOURCE ? (w->be.patch_endpoint
                                                            ? "PATCH, DELETE, OPTIONS"
                                                            : "DELETE, OPTIONS")
                                                     : "GET, HEAD, OPTIONS";
    r->status = 204;
    add_header(r, "Allow", "%s", allow);
    if (rt->kind == ROUTE_ENDPOINT)
        add_header(r, "Accept-Post", "application/sdp");
    if (rt->kind == ROUTE_RESOURCE && w->be.patch_endpoint)
        add_header(r, "Accept-Patch", "application/trickle-ice-sdpfrag");
    if (w->cors_origin) {
        cors_headers(w, r);
        add_header(r, "Access-Control-Allow-Methods", "%s", allow);
        add_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match");
        add_header(r, "Access-Control-Max-Age", "86400");
    }
}

static void handle_healthz(tdm_whip *w, tdm_whip_response *r)
{
    if (w->be.healthy && !w->be.healthy(w->be.ctx)) {
        fail_with(w, r, 503, "draining");
        return;
    }
    r->status = 200;
    cors_headers(w, r);
    add_header(r, "Content-Type", "text/plain; charset=utf-8");
    set_body(r, "ok\n", 3);
}

/* Appends printf output to the body; false when it did not fit. */
static bool body_printf(tdm_whip_response *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool body_printf(tdm_whip_response *r, const char *fmt, ...)
{
    size_t room = r->body_cap - r->body_len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->body + r->body_len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room)
        return false;
    r->body_len += (size_t)n;
    return true;
}

static void handle_metrics(tdm_whip *w, tdm_whip_response *r)
{
    size_t len = 0;
    if (w->be.write_metrics) {
        tdm_status st = w->be.write_metrics(w->be.ctx, r->body, r->body_cap, &len);
        if (st != TDM_OK || len > r->body_cap) {
            fail_with(w, r, 500, "internal error");
            return;
        }
    }
    r->body_len = len;
    bool ok = body_printf(r,
                          "# HELP tandem_http_requests_total WHIP/WHEP and other HTTP requests "
                          "answered, by status.\n"
                          "# TYPE tandem_http_requests_total counter\n");
    for (size_t i = 0; ok && i < N_COUNTED; i++)
        ok = body_printf(r, "tandem_http_requests_total{code=\"%d\"} %llu\n",
                         counted_statuses[i], (unsigned long long)w->by_status[i]);
    ok = ok && body_printf(r, "# HELP tandem_token_refusals_total Access tokens refused, by "
                              "reason.\n"
                              "# TYPE tandem_token_refusals_total counter\n");
    for (int f = 1; ok && f < TDM_TOKEN_FAILURE_COUNT; f++)
        ok = body_printf(r, "tandem_token_refusals_total{reason=\"%s\"} %llu\n",
                         tdm_token_failure_name((tdm_token_failure)f),
                         (unsigned long long)w->by_token_failure[f]);
    ok = ok && body_printf(r,
                           "# HELP tandem_whip_endpoints_created_total Endpoints created over "
                           "WHIP (publish) and WHEP (subscribe).\n"
                           "# TYPE tandem_whip_endpoints_created_total counter\n"
                           "tandem_whip_endpoints_created_total{role=\"publish\"} %llu\n"
                           "tandem_whip_endpoints_created_total{role=\"subscribe\"} %llu\n"
                           "# HELP tandem_whip_endpoints_deleted_total Endpoints ended by an "
                           "HTTP DELETE.\n"
                           "# TYPE tandem_whip_endpoints_deleted_total counter\n"
                           "tandem_whip_endpoints_deleted_total{role=\"publish\"} %llu\n"
                           "tandem_whip_endpoints_deleted_total{role=\"subscribe\"} %llu\n",
                           (unsigned long long)w->created[0], (unsigned long long)w->created[1],
                           (unsigned long long)w->deleted[0], (unsigned long long)w->deleted[1]);
    ok = ok && body_printf(
                   r,
                   "# HELP tandem_relay_revocations_total Revocations from signaling, by "
                   "kind.\n"
                   "# TYPE tandem_relay_revocations_total counter\n"
                   "tandem_relay_revocations_total{kind=\"session\"} %llu\n"
                   "tandem_relay_revocations_total{kind=\"participant\"} %llu\n"
                   "# HELP tandem_relay_revoked_endpoints_total Endpoints ended by a "
                   "revocation.\n"
                   "# TYPE tandem_relay_revoked_endpoints_total counter\n"
                   "tandem_relay_revoked_endpoints_total %llu\n"
                   "# HELP tandem_relay_revoked_token_refusals_total Valid tokens refused "
                   "because their session ended or participant was removed.\n"
                   "# TYPE tandem_relay_revoked_token_refusals_total counter\n"
                   "tandem_relay_revoked_token_refusals_total{reason=\"session_ended\"} %llu\n"
                   "tandem_relay_revoked_token_refusals_total{reason=\"participant_removed\"} "
                   "%llu\n"
                   "# HELP tandem_relay_admin_refused_total Admin requests refused (auth, "
                   "body).\n"
                   "# TYPE tandem_relay_admin_refused_total counter\n"
                   "tandem_relay_admin_refused_total %llu\n",
                   (unsigned long long)w->revocations[0], (unsigned long long)w->revocations[1],
                   (unsigned long long)w->revoked_endpoints,
                   (unsigned long long)w->revoked_refusals[0],
                   (unsigned long long)w->revoked_refusals[1],
                   (unsigned long long)w->admin_refused);
    if (!ok) {
        fail_with(w, r, 500, "internal error");
        return;
    }
    r->status = 200;
    cors_headers(w, r);
    /* The exposition format's version parameter, as Prometheus expects. */
    add_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
}

static void handle_post(tdm_whip *w, const route *rt, const tdm_whip_request *req,
                        const tdm_token_claims *claims, tdm_whip_response *r)
{
    if (!media_type_is(req->content_type, "application/sdp")) {
        fail_with(w, r, 415, "Content-Type must be application/sdp");
        return;
    }
    tdm_sdp_session *offer = tdm_sdp_new();
    if (!offer) {
        fail_with(w, r, 503, "out of memory");
        return;
    }
    tdm_error e = {{0}};
    tdm_status st = tdm_sdp_parse(req->body ? req->body : (const uint8_t *)"", req->body_len,
                                  offer, &e);
    if (st != TDM_OK) {
        fail_with(w, r, 400, e.msg[0] ? e.msg : "malformed SDP offer");
        tdm_sdp_free(offer);
        return;
    }

    tdm_whip_endpoint ep;
    memset(&ep, 0, sizeof ep);
    ep.role = claims->role;
    strcpy(ep.session, rt->session);
    strcpy(ep.participant, claims->sub);
    if (random_hex(w, ep.resource_id, TDM_WHIP_RESOURCE_ID_LEN) != TDM_OK ||
        random_hex(w, ep.etag, TDM_WHIP_ETAG_LEN) != TDM_OK) {
        fail_with(w, r, 500, "internal error");
        tdm_sdp_free(offer);
        return;
    }
    size_t alen = 0;
    e.msg[0] = '\0';
    st = w->be.create_endpoint(w->be.ctx, &ep, offer, r->body, r->body_cap, &alen, &e);
    tdm_sdp_free(offer);
    if (st == TDM_OK && alen > r->body_cap)
        st = TDM_ERR_IO; /* a backend bug: never send past the buffer */
    if (st != TDM_OK) {
        fail_backend(w, r, st, false, &e);
        return;
    }
    w->created[rt->whep]++;
    r->status = 201;
    r->body_len = alen;
    cors_headers(w, r);
    add_header(r, "Content-Type", "application/sdp");
    /* Relative to the request URL (RFC 9110 10.2.2), so it holds behind a
     * proxy that rewrites the host. */
    add_header(r, "Location", "/%s/%s/%s", rt->whep ? "whep" : "whip", rt->session,
               ep.resource_id);
    add_header(r, "ETag", "\"%s\"", ep.etag);
    if (w->be.patch_endpoint)
        add_header(r, "Accept-Patch", "application/trickle-ice-sdpfrag");
    for (size_t i = 0; i < w->n_ice; i++) {
        const ice_server *s = &w->ice[i];
        if (s->username && s->credential)
            add_header(r, "Link",
                       "<%s>; rel=\"ice-server\"; username=\"%s\"; credential=\"%s\"; "
                       "credential-type=\"password\"",
                       s->url, s->username, s->credential);
        else
            add_header(r, "Link", "<%s>; rel=\"ice-server\"", s->url);
    }
}

/* Looks the resource up for this caller: a resource of another session,
 * route or participant is as unknown as one that never existed. */
static bool lookup_own(tdm_whip *w, const route *rt, const tdm_token_claims *claims,
                       tdm_whip_endpoint *ep)
{
    memset(ep, 0, sizeof *ep);
    if (!w->be.lookup_endpoint(w->be.ctx, rt->resource, ep))
        return false;
    ep->session[TDM_TOKEN_ID_MAX] = ep->participant[TDM_TOKEN_ID_MAX] = '\0';
    ep->etag[TDM_WHIP_ETAG_LEN] = '\0';
    ep->remote_ufrag[TDM_SDP_ICE_STR_MAX] = ep->remote_pwd[TDM_SDP_ICE_STR_MAX] = '\0';
    return ep->role == claims->role && strcmp(ep->session, rt->session) == 0 &&
           strcmp(ep->participant, claims->sub) == 0;
}

static void handle_patch(tdm_whip *w, const route *rt, const tdm_whip_request *req,
                         const tdm_token_claims *claims, tdm_whip_response *r)
{
    if (!media_type_is(req->content_type, "application/trickle-ice-sdpfrag")) {
        fail_with(w, r, 415, "Content-Type must be application/trickle-ice-sdpfrag");
        return;
    }
    tdm_whip_endpoint ep;
    if (!lookup_own(w, rt, claims, &ep)) {
        fail_with(w, r, 404, "not found");
        return;
    }
    /* A fragment is a few KiB at most; off the worker stack all the same. */
    tdm_sdp_frag *frag = malloc(sizeof *frag);
    if (!frag) {
        fail_with(w, r, 503, "out of memory");
        return;
    }
    tdm_error e = {{0}};
    tdm_status st = tdm_sdp_frag_parse(req->body ? req->body : (const uint8_t *)"",
                                       req->body_len, frag, &e);
    if (st != TDM_OK) {
        fail_with(w, r, 400, e.msg[0] ? e.msg : "malformed trickle-ice-sdpfrag");
        free(frag);
        return;
    }
    bool restart = tdm_sdp_frag_is_restart(frag, ep.remote_ufrag, ep.remote_pwd);
    if (req->if_match) {
        /* A restart names "*" (RFC 9725 4.3.2) or, from a strict client, the
         * current tag; a trickle names the tag of the ICE session it feeds,
         * and a stale one means its candidates are for a session now gone. */
        if (!if_match_passes(req->if_match, ep.etag)) {
            fail_with(w, r, 412, "If-Match does not match the ICE session");
            free(frag);
            return;
        }
    }
    char new_etag[TDM_WHIP_ETAG_LEN + 1];
    if (restart && random_hex(w, new_etag, TDM_WHIP_ETAG_LEN) != TDM_OK) {
        fail_with(w, r, 500, "internal error");
        free(frag);
        return;
    }
    size_t flen = 0;
    e.msg[0] = '\0';
    st = w->be.patch_endpoint(w->be.ctx, rt->resource, frag, restart ? new_etag : NULL,
                              r->body, r->body_cap, &flen, &e);
    free(frag);
    if (st == TDM_OK && restart && flen > r->body_cap)
        st = TDM_ERR_IO;
    if (st != TDM_OK) {
        fail_backend(w, r, st, true, &e);
        return;
    }
    cors_headers(w, r);
    if (!restart) {
        r->status = 204;
        r->body_len = 0;
        return;
    }
    r->status = 200;
    r->body_len = flen;
    add_header(r, "Content-Type", "application/trickle-ice-sdpfrag");
    add_header(r, "ETag", "\"%s\"", new_etag);
}

static void handle_delete(tdm_whip *w, const route *rt, const tdm_token_claims *claims,
                          tdm_whip_response *r)
{
    tdm_whip_endpoint ep;
    if (!lookup_own(w, rt, claims, &ep)) {
        fail_with(w, r, 404, "not found");
        return;
    }
    tdm_status st = w->be.delete_endpoint(w->be.ctx, rt->resource);
    if (st != TDM_OK) {
        tdm_error e = {{0}};
        fail_backend(w, r, st, false, &e);
        return;
    }
    w->deleted[rt->whep]++;
    r->status = 200;
    cors_headers(w, r);
}

static void admin_refuse(tdm_whip *w, tdm_whip_response *r, int status, const char *reason)
{
    w->admin_refused++;
    fail_with(w, r, status, reason);
}

/* POST /admin/revoke (tdm_whip.h): authenticate, parse, remember, end. The
 * revocation is remembered before the endpoints end, so a client that
 * reconnects at once already meets the 403. */
static void handle_admin_revoke(tdm_whip *w, const tdm_whip_request *req, int64_t now_s,
                                tdm_whip_response *r)
{
    if (req->body_too_large || req->body_len > 1024) {
        admin_refuse(w, r, 413, "request body too large");
        return;
    }
    const uint8_t *body = req->body ? req->body : (const uint8_t *)"";
    int64_t ts_ms = 0;
    tdm_error e = {{0}};
    if (!req->authorization ||
        w->admin_verify(w->admin_ctx, req->authorization, body, req->body_len, &ts_ms, &e) !=
            TDM_OK) {
        admin_refuse(w, r, 401, "admin request not authenticated");
        return;
    }
    int64_t skew = ts_ms - now_s * 1000;
    if (skew > TDM_WHIP_ADMIN_SKEW_MS || -skew > TDM_WHIP_ADMIN_SKEW_MS) {
        admin_refuse(w, r, 401, "admin request timestamp outside the allowed skew");
        return;
    }
    if (ts_ms <= w->last_admin_ts_ms) {
        admin_refuse(w, r, 401, "admin request timestamp not newer than the last (replay?)");
        return;
    }
    json_error_t je;
    json_t *j = json_loadb((const char *)body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    const char *session = j ? json_string_value(json_object_get(j, "session")) : NULL;
    json_t *pj = j ? json_object_get(j, "participant") : NULL;
    const char *participant = pj ? json_string_value(pj) : NULL;
    bool ok = json_is_object(j) && session && id_ok(session, strlen(session)) &&
              (!pj || (participant && id_ok(participant, strlen(participant))));
    if (!ok) {
        json_decref(j);
        admin_refuse(w, r, 400,
                     "body must be {\"session\": ID} or {\"session\": ID, \"participant\": ID}");
        return;
    }
    /* Authentic and well formed: consume the timestamp now, so the same
     * request cannot be replayed even when it fails below. */
    w->last_admin_ts_ms = ts_ms;
    tdm_status st =
        tdm_revocations_add(w->revoked, session, participant, now_s, w->revocation_ttl_s, &e);
    if (st != TDM_OK) {
        json_decref(j);
        fail_with(w, r, st == TDM_ERR_RANGE ? 503 : 500,
                  st == TDM_ERR_RANGE ? "revocation table full" : "internal error");
        return;
    }
    w->revocations[participant ? 1 : 0]++;
    size_t ended = 0;
    if (w->be.end_session)
        st = w->be.end_session(w->be.ctx, session, participant, &ended);
    json_decref(j);
    if (st != TDM_OK) {
        fail_backend(w, r, st, false, &e);
        return;
    }
    w->revoked_endpoints += ended;
    r->status = 200;
    r->body_len = 0;
    body_printf(r, "{\"ended\":%zu}", ended);
    add_header(r, "Content-Type", "application/json");
}

static void dispatch(tdm_whip *w, const tdm_whip_request *req, int64_t now_s,
                     tdm_whip_response *r)
{
    route rt = parse_route(req->path);
    tdm_whip_method m = req->method;
    const char *allow = NULL;
    if (rt.kind == ROUTE_ADMIN_REVOKE && !w->admin_verify)
        rt.kind = ROUTE_NONE; /* no cluster secret: the route does not exist */
    switch (rt.kind) {
    case ROUTE_NONE:
        fail_with(w, r, 404, "not found");
        return;
    case ROUTE_ADMIN_REVOKE:
        /* Server to server: no CORS, no preflight. */
        if (m != TDM_WHIP_POST) {
            fail_with(w, r, 405, "method not allowed");
            add_header(r, "Allow", "POST");
        } else {
            handle_admin_revoke(w, req, now_s, r);
        }
        return;
    case ROUTE_HEALTHZ:
    case ROUTE_METRICS:
        if (m != TDM_WHIP_GET && m != TDM_WHIP_HEAD && m != TDM_WHIP_OPTIONS)
            allow = "GET, HEAD, OPTIONS";
        break;
    case ROUTE_ENDPOINT:
        if (m != TDM_WHIP_POST && m != TDM_WHIP_OPTIONS)
            allow = "POST, OPTIONS";
        break;
    case ROUTE_RESOURCE:
        if (m == TDM_WHIP_PATCH && !w->be.patch_endpoint)
            allow = "DELETE, OPTIONS";
        else if (m != TDM_WHIP_PATCH && m != TDM_WHIP_DELETE && m != TDM_WHIP_OPTIONS)
            allow = w->be.patch_endpoint ? "PATCH, DELETE, OPTIONS" : "DELETE, OPTIONS";
        break;
    }
    if (allow) {
        fail_with(w, r, 405, "method not allowed");
        add_header(r, "Allow", "%s", allow);
        return;
    }
    if (m == TDM_WHIP_OPTIONS) {
        handle_options(w, &rt, r);
        return;
    }
    if (rt.kind == ROUTE_HEALTHZ || rt.kind == ROUTE_METRICS) {
        if (rt.kind == ROUTE_HEALTHZ)
            handle_healthz(w, r);
        else
            handle_metrics(w, r);
        if (m == TDM_WHIP_HEAD)
            r->body_len = 0;
        return;
    }

    tdm_token_claims claims;
    tdm_token_failure why = TDM_TOKEN_MALFORMED;
    tdm_error e = {{0}};
    tdm_status st = tdm_token_verify(w->secret, w->secret_len, req->authorization, now_s,
                                     rt.whep ? TDM_TOKEN_ROLE_SUBSCRIBE : TDM_TOKEN_ROLE_PUBLISH,
                                     w->node_id, rt.session, &claims, &why, &e);
    if (st != TDM_OK) {
        if (st != TDM_ERR_FORMAT || why == TDM_TOKEN_OK || why >= TDM_TOKEN_FAILURE_COUNT) {
            fail_with(w, r, st == TDM_ERR_NOMEM ? 503 : 500,
                      st == TDM_ERR_NOMEM ? "out of memory" : "internal error");
            return;
        }
        w->by_token_failure[why]++;
        int status = tdm_token_failure_http_status(why);
        fail_with(w, r, status, tdm_token_failure_text(why));
        if (status == 401) /* RFC 6750 3: the scheme, and why the token failed */
            add_header(r, "WWW-Authenticate",
                       why == TDM_TOKEN_MISSING ? "Bearer realm=\"tandem\""
                                                : "Bearer realm=\"tandem\", error=\"invalid_token\"");
        return;
    }
    /* After the token (so an unauthenticated caller learns nothing about
     * which sessions ended), before anything is looked up or created.
     * DELETE is let through: it can only end the caller's own resource, and
     * a client leaving after the relay ended it should hear 404, not 403. */
    tdm_revoked rv = m == TDM_WHIP_DELETE
                         ? TDM_REVOKED_NONE
                         : tdm_revocations_check(w->revoked, claims.sid, claims.sub, now_s);
    if (rv != TDM_REVOKED_NONE) {
        w->revoked_refusals[rv == TDM_REVOKED_SESSION ? 0 : 1]++;
        fail_with(w, r, 403, tdm_revoked_text(rv));
        return;
    }
    if (req->body_too_large || req->body_len > TDM_WHIP_MAX_BODY) {
        fail_with(w, r, 413, "request body too large");
        return;
    }
    switch (m) {
    case TDM_WHIP_POST:
        handle_post(w, &rt, req, &claims, r);
        break;
    case TDM_WHIP_PATCH:
        handle_patch(w, &rt, req, &claims, r);
        break;
    default:
        handle_delete(w, &rt, &claims, r);
        break;
    }
}

tdm_status tdm_whip_handle(tdm_whip *w, const tdm_whip_request *req, int64_t now_s,
                           tdm_whip_response *resp)
{
    if (!w || !req || !resp || !resp->body || resp->body_cap < 512)
        return TDM_ERR_INVALID;
    resp->status = 500;
    resp->n_headers = 0;
    resp->body_len = 0;
    dispatch(w, req, now_s, resp);
    for (size_t i = 0; i < N_COUNTED; i++)
        if (counted_statuses[i] == resp->status)
            w->by_status[i]++;
    return TDM_OK;
}
