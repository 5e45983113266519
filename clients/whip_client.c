/* whip_client: URL and HTTP response parsing, the blocking HTTP exchange
 * with the relay, and the client session (tdm_peer on its own
 * GMainContext). See whip_client.h. */
#include "whip_client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "tdm_dtls.h"

/* --- URLs ------------------------------------------------------------------ */

static bool is_ipv4_literal(const char *s)
{
    struct in_addr a;
    return inet_pton(AF_INET, s, &a) == 1;
}

static bool is_ipv6_literal(const char *s)
{
    struct in6_addr a;
    return inet_pton(AF_INET6, s, &a) == 1;
}

/* A DNS name as RFC 1123 allows it: letters, digits, '-' and '.', no
 * empty label, no label starting or ending with '-'. */
static bool is_host_name(const char *s)
{
    size_t label = 0;
    for (const char *p = s;; p++) {
        if (*p == '.' || *p == '\0') {
            if (label == 0 || p[-1] == '-')
                return false;
            if (*p == '\0')
                return true;
            label = 0;
        } else if (isalnum((unsigned char)*p) || (*p == '-' && label > 0)) {
            label++;
        } else {
            return false;
        }
    }
}

/* How parse_authority judges the host: the relay URL takes numeric hosts
 * and localhost only (nothing is resolved); an ICE server may be a name
 * that is resolved later. */
typedef struct authority_rules {
    const char *what; /* message prefix: "URL", "ICE server URL" */
    uint16_t default_port;
    bool allow_names;
} authority_rules;

/* host[:port] from s (n bytes). *is_name: the host is a DNS name. */
static tdm_status parse_authority(const authority_rules *rules, const char *s, size_t n,
                                  char host[TDM_CLIENT_HOST_MAX], uint16_t *port, bool *is_name,
                                  tdm_error *err)
{
    const char *what = rules->what;
    const char *port_text = NULL;
    size_t port_len = 0, host_len;
    const char *h = s;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return tdm_fail(err, TDM_ERR_FORMAT, "%s: '[' without ']' in the host", what);
        h = s + 1;
        host_len = (size_t)(close - h);
        const char *after = close + 1;
        if (after < s + n) {
            if (*after != ':')
                return tdm_fail(err, TDM_ERR_FORMAT, "%s: junk after the IPv6 address", what);
            port_text = after + 1;
            port_len = (size_t)(s + n - port_text);
        }
    } else {
        const char *colon = memchr(s, ':', n);
        host_len = colon ? (size_t)(colon - s) : n;
        if (colon) {
            port_text = colon + 1;
            port_len = (size_t)(s + n - port_text);
        }
    }
    if (host_len == 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "%s: no host", what);
    if (host_len >= TDM_CLIENT_HOST_MAX)
        return tdm_fail(err, TDM_ERR_FORMAT, "%s: host too long", what);
    memcpy(host, h, host_len);
    host[host_len] = '\0';
    bool bracketed = h != s;
    *is_name = false;
    if (bracketed) {
        if (!is_ipv6_literal(host))
            return tdm_fail(err, TDM_ERR_FORMAT, "%s: '[%s]' is not a numeric IPv6 address",
                            what, host);
    } else if (!is_ipv4_literal(host)) {
        *is_name = true;
        bool name_ok = rules->allow_names ? is_host_name(host) : strcmp(host, "localhost") == 0;
        if (!name_ok)
            return tdm_fail(err, TDM_ERR_FORMAT,
                            rules->allow_names
                                ? "%s: host '%s' is neither an IPv4 address, [IPv6] nor a host "
                                  "name"
                                : "%s: host '%s' must be a numeric IPv4 address, [IPv6] or "
                                  "localhost (names are not resolved)",
                            what, host);
    }
    *port = rules->default_port;
    if (port_text) {
        if (port_len == 0 || port_len > 5)
            return tdm_fail(err, TDM_ERR_FORMAT, "%s: bad port", what);
        unsigned v = 0;
        for (size_t i = 0; i < port_len; i++) {
            if (!isdigit((unsigned char)port_text[i]))
                return tdm_fail(err, TDM_ERR_FORMAT, "%s: bad port", what);
            v = v * 10 + (unsigned)(port_text[i] - '0');
        }
        if (v == 0 || v > 65535)
            return tdm_fail(err, TDM_ERR_FORMAT, "%s: port %u out of range", what, v);
        *port = (uint16_t)v;
    }
    return TDM_OK;
}

static const authority_rules relay_url_rules = {.what = "URL", .default_port = 80};

tdm_status tdm_client_url_parse(const char *url, tdm_client_url *out, tdm_error *err)
{
    if (!url || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "URL: NULL argument");
    memset(out, 0, sizeof *out);
    static const char scheme[] = "http://";
    if (strncmp(url, "https://", 8) == 0)
        return tdm_fail(err, TDM_ERR_FORMAT,
                        "URL: https is not supported here; use http:// (or a TLS proxy)");
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "URL '%s' must start with http://", url);
    const char *auth = url + sizeof scheme - 1;
    const char *slash = strchr(auth, '/');
    if (!slash)
        return tdm_fail(err, TDM_ERR_FORMAT,
                        "URL: no path (want /whip/<session> or /whep/<session>)");
    bool is_name;
    tdm_status st = parse_authority(&relay_url_rules, auth, (size_t)(slash - auth), out->host,
                                    &out->port, &is_name, err);
    if (st != TDM_OK)
        return st;
    size_t path_len = strcspn(slash, "?#");
    if (path_len >= TDM_CLIENT_PATH_MAX)
        return tdm_fail(err, TDM_ERR_FORMAT, "URL: path too long");
    memcpy(out->path, slash, path_len);
    out->path[path_len] = '\0';
    const char *rest;
    if (strncmp(out->path, "/whip/", 6) == 0)
        out->kind = TDM_CLIENT_PUBLISH;
    else if (strncmp(out->path, "/whep/", 6) == 0)
        out->kind = TDM_CLIENT_SUBSCRIBE;
    else
        return tdm_fail(err, TDM_ERR_FORMAT,
                        "URL: path '%s' is neither /whip/<session> nor /whep/<session>", out->path);
    rest = out->path + 6;
    size_t sess_len = strlen(rest);
    if (sess_len > 0 && rest[sess_len - 1] == '/')
        sess_len--; /* a trailing slash is harmless */
    if (sess_len == 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "URL: no session after %.6s", out->path);
    if (memchr(rest, '/', sess_len))
        return tdm_fail(err, TDM_ERR_FORMAT, "URL: session '%.*s' contains '/'", (int)sess_len,
                        rest);
    if (sess_len >= sizeof out->session)
        return tdm_fail(err, TDM_ERR_FORMAT, "URL: session too long");
    memcpy(out->session, rest, sess_len);
    out->session[sess_len] = '\0';
    out->path[6 + sess_len] = '\0';
    return TDM_OK;
}

tdm_status tdm_client_location_resolve(const tdm_client_url *base, const char *location,
                                       char out[TDM_CLIENT_PATH_MAX], tdm_error *err)
{
    if (!base || !location || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "Location: NULL argument");
    const char *path = location;
    if (strncmp(location, "http://", 7) == 0) {
        const char *auth = location + 7;
        const char *slash = strchr(auth, '/');
        if (!slash)
            return tdm_fail(err, TDM_ERR_FORMAT, "Location '%s' has no path", location);
        char host[TDM_CLIENT_HOST_MAX];
        uint16_t port;
        bool is_name;
        if (parse_authority(&relay_url_rules, auth, (size_t)(slash - auth), host, &port,
                            &is_name, err) != TDM_OK ||
            strcmp(host, base->host) != 0 || port != base->port)
            return tdm_fail(err, TDM_ERR_FORMAT,
                            "Location '%s' is not on the relay we asked; not following it",
                            location);
        path = slash;
    } else if (location[0] != '/') {
        return tdm_fail(err, TDM_ERR_FORMAT,
                        "Location '%s' is neither an absolute path nor an "
                        "http URL",
                        location);
    }
    size_t n = strlen(path);
    if (n >= TDM_CLIENT_PATH_MAX)
        return tdm_fail(err, TDM_ERR_FORMAT, "Location too long");
    memcpy(out, path, n + 1);
    return TDM_OK;
}

/* --- ICE servers ---------------------------------------------------------- */

static const authority_rules ice_url_rules = {
    .what = "ICE server URL", .default_port = TDM_CLIENT_ICE_DEFAULT_PORT, .allow_names = true};

/* The query of a turn: URL: only "transport=udp" or "transport=tcp"
 * (RFC 7065 3.1). */
static tdm_status parse_turn_query(const char *url, const char *q, tdm_ice_turn_transport *out,
                                   tdm_error *err)
{
    if (strcmp(q, "transport=udp") == 0)
        *out = TDM_ICE_TURN_UDP;
    else if (strcmp(q, "transport=tcp") == 0)
        *out = TDM_ICE_TURN_TCP;
    else
        return tdm_fail(err, TDM_ERR_FORMAT,
                        "ICE server URL '%s': the query must be ?transport=udp or "
                        "?transport=tcp",
                        url);
    return TDM_OK;
}

tdm_status tdm_client_ice_server_parse(const char *url, tdm_client_ice_server *out,
                                       tdm_error *err)
{
    if (!url || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "ICE server URL: NULL argument");
    memset(out, 0, sizeof *out);
    const char *rest; /* schemes are case-insensitive (RFC 3986 3.1) */
    if (strncasecmp(url, "stun:", 5) == 0) {
        out->scheme = TDM_CLIENT_ICE_STUN;
        rest = url + 5;
    } else if (strncasecmp(url, "turn:", 5) == 0) {
        out->scheme = TDM_CLIENT_ICE_TURN;
        rest = url + 5;
    } else if (strncasecmp(url, "stuns:", 6) == 0 || strncasecmp(url, "turns:", 6) == 0) {
        return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                        "ICE server URL '%s': TLS (stuns:, turns:) is not supported; use "
                        "turn:HOST?transport=tcp where UDP is blocked",
                        url);
    } else {
        return tdm_fail(err, TDM_ERR_FORMAT,
                        "ICE server URL '%s' must start with stun: or turn: "
                        "(stun:HOST[:PORT], turn:HOST[:PORT][?transport=udp|tcp])",
                        url);
    }
    /* A common slip, accepted by nothing that follows the RFCs. */
    if (strncmp(rest, "//", 2) == 0)
        return tdm_fail(err, TDM_ERR_FORMAT,
                        "ICE server URL '%s': no '//' after the scheme (stun:HOST[:PORT])", url);
    const char *q = strchr(rest, '?');
    size_t auth_len = q ? (size_t)(q - rest) : strlen(rest);
    if (memchr(rest, '/', auth_len) || memchr(rest, '@', auth_len))
        return tdm_fail(err, TDM_ERR_FORMAT,
                        "ICE server URL '%s': want HOST[:PORT] only (credentials go in "
                        "--ice-username and --ice-credential)",
                        url);
    tdm_status st = parse_authority(&ice_url_rules, rest, auth_len, out->host, &out->port,
                                    &out->host_is_name, err);
    if (st != TDM_OK)
        return st;
    out->transport = TDM_ICE_TURN_UDP;
    if (!q)
        return TDM_OK;
    if (out->scheme == TDM_CLIENT_ICE_STUN)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                        "ICE server URL '%s': stun: takes no query (STUN runs over UDP here)",
                        url);
    return parse_turn_query(url, q + 1, &out->transport, err);
}

tdm_status tdm_client_ice_server_resolve(tdm_client_ice_server *s, int family, tdm_error *err)
{
    if (!s)
        return tdm_fail(err, TDM_ERR_INVALID, "ICE server: NULL argument");
    if (!s->host_is_name)
        return TDM_OK;
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(s->host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        const char *fam = family == AF_INET ? " (IPv4)" : family == AF_INET6 ? " (IPv6)" : "";
        /* A name that does not exist is the user's to fix (bad usage); a
         * resolver that cannot answer now is a runtime failure. */
        tdm_status st = rc == EAI_NONAME ? TDM_ERR_INVALID : TDM_ERR_UNAVAILABLE;
#ifdef EAI_NODATA /* glibc, with _GNU_SOURCE: the name exists without an address */
        if (rc == EAI_NODATA)
            st = TDM_ERR_INVALID;
#endif
        return tdm_fail(err, st, "cannot resolve the %s server '%s'%s: %s",
                        s->scheme == TDM_CLIENT_ICE_TURN ? "TURN" : "STUN", s->host, fam,
                        rc ? gai_strerror(rc) : "no address");
    }
    char text[INET6_ADDRSTRLEN];
    const void *addr = res->ai_family == AF_INET
                           ? (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr
                           : (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
    bool ok = inet_ntop(res->ai_family, addr, text, sizeof text) != NULL;
    freeaddrinfo(res);
    if (!ok)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "cannot format the address of '%s'", s->host);
    snprintf(s->host, sizeof s->host, "%s", text);
    s->host_is_name = false;
    return TDM_OK;
}

static size_t count_scheme(const tdm_client_ice_options *o, tdm_client_ice_scheme scheme)
{
    size_t n = 0;
    for (size_t i = 0; i < o->n_servers; i++)
        n += o->servers[i].scheme == scheme;
    return n;
}

tdm_status tdm_client_ice_options_add_server(tdm_client_ice_options *o, const char *url,
                                             tdm_error *err)
{
    if (!o)
        return tdm_fail(err, TDM_ERR_INVALID, "ICE options: NULL argument");
    tdm_client_ice_server s;
    tdm_status st = tdm_client_ice_server_parse(url, &s, err);
    if (st != TDM_OK)
        return st;
    /* tdm_ice has room for one STUN server (libnice's agent takes one)
     * and TDM_ICE_MAX_TURN TURN servers. */
    if (s.scheme == TDM_CLIENT_ICE_STUN && count_scheme(o, TDM_CLIENT_ICE_STUN) >= 1)
        return tdm_fail(err, TDM_ERR_RANGE, "at most one stun: server (got a second: '%s')", url);
    if (s.scheme == TDM_CLIENT_ICE_TURN && count_scheme(o, TDM_CLIENT_ICE_TURN) >= TDM_ICE_MAX_TURN)
        return tdm_fail(err, TDM_ERR_RANGE, "at most %d turn: servers", TDM_ICE_MAX_TURN);
    o->servers[o->n_servers++] = s;
    return TDM_OK;
}

tdm_status tdm_client_ice_options_set_policy(tdm_client_ice_options *o, const char *policy,
                                             tdm_error *err)
{
    if (!o || !policy)
        return tdm_fail(err, TDM_ERR_INVALID, "ICE options: NULL argument");
    if (strcmp(policy, "all") == 0) {
        o->relay_only = false;
        return TDM_OK;
    }
    if (strcmp(policy, "relay") != 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "ICE transport policy '%s': want all or relay",
                        policy);
    o->relay_only = true;
    return TDM_OK;
}

bool tdm_client_is_ice_option(int opt)
{
    return opt == 'I' || opt == 'U' || opt == 'C' || opt == 'P' || opt == 'T';
}

tdm_status tdm_client_ice_option(tdm_client_ice_options *o, int opt, const char *value,
                                 tdm_error *err)
{
    switch (opt) {
    case 'I': return tdm_client_ice_options_add_server(o, value, err);
    case 'U': o->username = value; return TDM_OK;
    case 'C': o->credential = value; return TDM_OK;
    case 'P': return tdm_client_ice_options_set_policy(o, value, err);
    case 'T': o->tcp = true; return TDM_OK;
    default: return tdm_fail(err, TDM_ERR_INVALID, "not an ICE option");
    }
}

tdm_status tdm_client_ice_options_check(const tdm_client_ice_options *o, tdm_error *err)
{
    if (!o)
        return tdm_fail(err, TDM_ERR_INVALID, "ICE options: NULL argument");
    bool turn = count_scheme(o, TDM_CLIENT_ICE_TURN) > 0;
    bool user = o->username && *o->username, cred = o->credential && *o->credential;
    if (turn && !(user && cred))
        return tdm_fail(err, TDM_ERR_INVALID,
                        "a turn: server needs --ice-username and --ice-credential");
    if (!turn && (o->username || o->credential))
        return tdm_fail(err, TDM_ERR_INVALID,
                        "--ice-username and --ice-credential are for a turn: server; none given");
    if (o->relay_only && !turn)
        return tdm_fail(err, TDM_ERR_INVALID,
                        "--ice-transport-policy relay needs a turn: server (--ice-server)");
    return TDM_OK;
}

/* --- HTTP responses ------------------------------------------------------- */

/* Finds "\r\n\r\n" (or a bare "\n\n", which lenient servers send). */
static bool find_head_end(const uint8_t *buf, size_t len, size_t *head_len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (buf[i] == '\n' && buf[i + 1] == '\n') {
            *head_len = i + 2;
            return true;
        }
        if (i + 3 < len && buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' &&
            buf[i + 3] == '\n') {
            *head_len = i + 4;
            return true;
        }
    }
    return false;
}

static void copy_trimmed(char *dst, size_t cap, const char *src, size_t n)
{
    while (n > 0 && (*src == ' ' || *src == '\t')) {
        src++;
        n--;
    }
    while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\t' || src[n - 1] == '\r'))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

tdm_status tdm_client_response_parse(const uint8_t *buf, size_t len, tdm_client_response *out,
                                     tdm_error *err)
{
    if (!out || (!buf && len > 0))
        return tdm_fail(err, TDM_ERR_INVALID, "HTTP: NULL argument");
    memset(out, 0, sizeof *out);
    if (len >= 5 && memcmp(buf, "HTTP/", 5) != 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "the relay's reply is not HTTP");
    size_t head_len;
    if (!find_head_end(buf, len, &head_len))
        return TDM_AGAIN;
    const char *p = (const char *)buf, *end = p + head_len;
    const char *eol = memchr(p, '\n', head_len);
    /* "HTTP/1.x SSS reason" */
    if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
        !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
        !isdigit((unsigned char)p[11]))
        return tdm_fail(err, TDM_ERR_FORMAT, "bad HTTP status line");
    out->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (out->status < 100)
        return tdm_fail(err, TDM_ERR_FORMAT, "bad HTTP status %d", out->status);
    if (p + 13 <= eol) /* "SSS " then the reason phrase, which may be empty */
        copy_trimmed(out->reason, sizeof out->reason, p + 13, (size_t)(eol - (p + 13)));
    bool has_length = false;
    size_t content_length = 0;
    for (p = eol + 1; p < end;) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        size_t n = (size_t)(eol - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n == 0)
            break;
        const char *colon = memchr(p, ':', n);
        if (!colon)
            return tdm_fail(err, TDM_ERR_FORMAT, "HTTP header line without ':'");
        size_t name_len = (size_t)(colon - p);
        const char *value = colon + 1;
        size_t value_len = n - name_len - 1;
        if (name_len == 8 && strncasecmp(p, "Location", 8) == 0) {
            copy_trimmed(out->location, sizeof out->location, value, value_len);
        } else if (name_len == 12 && strncasecmp(p, "Content-Type", 12) == 0) {
            copy_trimmed(out->content_type, sizeof out->content_type, value, value_len);
        } else if (name_len == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
            char num[32];
            copy_trimmed(num, sizeof num, value, value_len);
            char *stop;
            errno = 0;
            unsigned long long v = strtoull(num, &stop, 10);
            if (num[0] == '\0' || *stop != '\0' || errno || num[0] == '-')
                return tdm_fail(err, TDM_ERR_FORMAT, "bad Content-Length '%s'", num);
            content_length = (size_t)v;
            has_length = true;
            out->has_content_length = true;
        } else if (name_len == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
            char te[32];
            copy_trimmed(te, sizeof te, value, value_len);
            if (strcasecmp(te, "identity") != 0)
                return tdm_fail(err, TDM_ERR_UNSUPPORTED, "HTTP Transfer-Encoding '%s'", te);
        }
        p = eol + 1;
    }
    out->body = buf + head_len;
    out->body_len = len - head_len;
    if (has_length) {
        if (out->body_len < content_length)
            return TDM_AGAIN;
        out->body_len = content_length;
    }
    return TDM_OK;
}

void tdm_client_response_reason_text(const tdm_client_response *r, char *out, size_t cap)
{
    if (!out || cap == 0)
        return;
    out[0] = '\0';
    if (!r || !r->body)
        return;
    size_t n = 0;
    while (n < r->body_len && r->body[n] != '\n' && r->body[n] != '\r')
        n++;
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = isprint(r->body[i]) ? (char)r->body[i] : '?'; /* it ends up on a terminal */
    out[n] = '\0';
}

/* --- blocking HTTP -------------------------------------------------------- */

uint64_t tdm_client_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint32_t tdm_client_random_u32(void)
{
    uint32_t v = 0;
    if (getrandom(&v, sizeof v, 0) != sizeof v)
        v = (uint32_t)tdm_client_now_us() * 2654435761u; /* never fails on Linux >= 3.17 */
    return v;
}

bool tdm_client_parse_number(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

static int ms_left(uint64_t deadline_us)
{
    uint64_t now = tdm_client_now_us();
    if (now >= deadline_us)
        return 0;
    uint64_t ms = (deadline_us - now + 999) / 1000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* snprintf at *n into buf; false (and *n unchanged) when it does not fit. */
__attribute__((format(printf, 4, 5))) static bool append(char *buf, size_t cap, size_t *n,
                                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= cap - *n)
        return false;
    *n += (size_t)k;
    return true;
}

/* Connects with a deadline; returns the socket or -1 with err filled. */
static int connect_to(const tdm_client_url *url, uint64_t deadline_us, tdm_error *err,
                      tdm_status *st)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    /* "localhost" is loopback by definition (RFC 6761); no resolver needed. */
    const char *host = strcmp(url->host, "localhost") == 0 ? "127.0.0.1" : url->host;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(url->port);
        sl = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(url->port);
        sl = sizeof *v6;
    } else {
        *st = tdm_fail(err, TDM_ERR_INVALID, "host '%s' is not a numeric address", url->host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *st = tdm_fail(err, TDM_ERR_IO, "socket: %s", strerror(errno));
        return -1;
    }
    int r = connect(fd, (struct sockaddr *)&ss, sl);
    if (r != 0 && errno == EINPROGRESS) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        do
            r = poll(&pfd, 1, ms_left(deadline_us));
        while (r < 0 && errno == EINTR);
        if (r == 0) {
            close(fd);
            *st = tdm_fail(err, TDM_ERR_UNAVAILABLE, "cannot connect to %s:%u: timed out",
                           url->host, url->port);
            return -1;
        }
        int so = 0;
        socklen_t solen = sizeof so;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &solen);
        errno = so;
        r = so == 0 ? 0 : -1;
    }
    if (r != 0) {
        int e = errno;
        close(fd);
        *st = tdm_fail(err, TDM_ERR_UNAVAILABLE, "cannot connect to the relay at %s:%u: %s",
                       url->host, url->port, strerror(e));
        return -1;
    }
    return fd;
}

static tdm_status send_all(int fd, const uint8_t *buf, size_t len, uint64_t deadline_us,
                           tdm_error *err)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return tdm_fail(err, TDM_ERR_IO, "sending to the relay: %s", strerror(errno));
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (poll(&pfd, 1, ms_left(deadline_us)) == 0)
            return tdm_fail(err, TDM_ERR_IO, "sending to the relay: timed out");
    }
    return TDM_OK;
}

#define REPLY_MAX (256 * 1024)

void tdm_client_reply_free(tdm_client_reply *reply)
{
    if (!reply)
        return;
    free(reply->raw);
    memset(reply, 0, sizeof *reply);
}

tdm_status tdm_client_http(const tdm_client_url *url, const char *method, const char *path,
                           const char *token, const char *content_type, const uint8_t *body,
                           size_t body_len, unsigned timeout_ms, tdm_client_reply *out,
                           tdm_error *err)
{
    if (!url || !method || !path || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "HTTP: NULL argument");
    memset(out, 0, sizeof *out);
    uint64_t deadline = tdm_client_now_us() + (uint64_t)timeout_ms * 1000u;
    tdm_status st = TDM_OK;
    int fd = connect_to(url, deadline, err, &st);
    if (fd < 0)
        return st;

    /* 8 KiB: a token may be up to 4 KiB and a path up to 512 bytes. Every
     * append is checked, so a long token is an error, never an overflow. */
    char head[8192];
    size_t n = 0;
    bool v6 = strchr(url->host, ':') != NULL;
    bool fits = append(head, sizeof head, &n,
                       "%s %s HTTP/1.1\r\nHost: %s%s%s:%u\r\nUser-Agent: tandem-client\r\n"
                       "Connection: close\r\n",
                       method, path, v6 ? "[" : "", url->host, v6 ? "]" : "", url->port);
    if (fits && token)
        fits = append(head, sizeof head, &n, "Authorization: Bearer %s\r\n", token);
    if (fits && body)
        fits = append(head, sizeof head, &n, "Content-Type: %s\r\nAccept: application/sdp\r\n",
                      content_type);
    if (fits)
        fits = append(head, sizeof head, &n, "Content-Length: %zu\r\n\r\n",
                      body ? body_len : 0);
    if (!fits) {
        close(fd);
        return tdm_fail(err, TDM_ERR_INVALID, "HTTP: request head too long (token?)");
    }
    st = send_all(fd, (const uint8_t *)head, (size_t)n, deadline, err);
    if (st == TDM_OK && body)
        st = send_all(fd, body, body_len, deadline, err);

    size_t cap = 16384, len = 0;
    uint8_t *buf = st == TDM_OK ? malloc(cap) : NULL;
    if (st == TDM_OK && !buf)
        st = tdm_fail(err, TDM_ERR_NOMEM, "HTTP: out of memory");
    bool eof = false;
    while (st == TDM_OK) {
        /* Complete once the parser has the head and Content-Length bytes,
         * or at EOF. */
        tdm_status ps = tdm_client_response_parse(buf, len, &out->r, err);
        if (ps == TDM_OK) {
            /* Without Content-Length the body runs to EOF. */
            if (eof || out->r.has_content_length)
                break;
        } else if (ps != TDM_AGAIN) {
            st = ps;
            break;
        } else if (eof) {
            st = tdm_fail(err, TDM_ERR_IO,
                          len ? "the relay closed the connection mid-reply"
                              : "the relay closed the connection without replying");
            break;
        }
        if (eof)
            break;
        if (len == cap) {
            if (cap >= REPLY_MAX) {
                st =
                    tdm_fail(err, TDM_ERR_IO, "the relay's reply is over %d KiB", REPLY_MAX / 1024);
                break;
            }
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                st = tdm_fail(err, TDM_ERR_NOMEM, "HTTP: out of memory");
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, ms_left(deadline));
        if (pr == 0) {
            st = tdm_fail(err, TDM_ERR_IO, "no reply from the relay within %u ms", timeout_ms);
            break;
        }
        ssize_t got = recv(fd, buf + len, cap - len, 0);
        if (got > 0) {
            len += (size_t)got;
        } else if (got == 0) {
            eof = true;
        } else if (errno != EAGAIN && errno != EINTR) {
            st = tdm_fail(err, TDM_ERR_IO, "reading from the relay: %s", strerror(errno));
        }
    }
    close(fd);
    if (st != TDM_OK) {
        free(buf);
        memset(out, 0, sizeof *out);
        return st;
    }
    out->raw = buf;
    out->raw_len = len;
    return TDM_OK;
}

/* --- session -------------------------------------------------------------- */

#define MAX_LOCAL_CANDIDATES 32

struct tdm_client_session {
    tdm_client_url url;
    char *token;
    unsigned http_timeout_ms;
    char resource[TDM_CLIENT_PATH_MAX]; /* "" until the relay created one */
    GMainContext *ctx;
    tdm_dtls_identity *id;
    tdm_peer *peer;
    tdm_sdp_session *answer;
    size_t media;
    char cands[MAX_LOCAL_CANDIDATES][TDM_ICE_CANDIDATE_MAX];
    size_t n_cands;
    bool gathering_done;
    tdm_peer_state state;
    char reason[256];
    char pair[224];
    bool relay_only; /* offer only relayed candidates */
    void (*on_rtp)(void *user, uint8_t *buf, size_t len);
    void (*on_rtcp)(void *user, uint8_t *buf, size_t len);
    void (*on_pair)(void *user, const char *pair);
    void *media_user;
};

static void session_on_state(void *user, tdm_peer_state state, tdm_peer_fail fail,
                             const char *reason)
{
    tdm_client_session *s = user;
    (void)fail;
    s->state = state;
    snprintf(s->reason, sizeof s->reason, "%s", reason ? reason : "");
}

static void session_on_rtp(void *user, uint8_t *buf, size_t len)
{
    tdm_client_session *s = user;
    if (s->on_rtp)
        s->on_rtp(s->media_user, buf, len);
}

static void session_on_rtcp(void *user, uint8_t *buf, size_t len)
{
    tdm_client_session *s = user;
    if (s->on_rtcp)
        s->on_rtcp(s->media_user, buf, len);
}

/* The event names only the local transport; a pair's remote end is its
 * counterpart (RFC 6544: an active end connects to a passive one). */
static tdm_ice_transport peer_transport(tdm_ice_transport local)
{
    switch (local) {
    case TDM_ICE_TCP_ACTIVE: return TDM_ICE_TCP_PASSIVE;
    case TDM_ICE_TCP_PASSIVE: return TDM_ICE_TCP_ACTIVE;
    default: return local;
    }
}

static void session_on_ice_event(void *user, const tdm_ice_event *ev)
{
    tdm_client_session *s = user;
    switch (ev->type) {
    case TDM_ICE_EV_LOCAL_CANDIDATE:
        /* Candidates beyond the table are dropped: the listed addresses
         * give a handful, and the offer needs only one that works. */
        if (s->n_cands < MAX_LOCAL_CANDIDATES)
            snprintf(s->cands[s->n_cands++], TDM_ICE_CANDIDATE_MAX, "%s", ev->candidate);
        break;
    case TDM_ICE_EV_GATHERING_DONE: s->gathering_done = true; break;
    case TDM_ICE_EV_SELECTED_PAIR:
        snprintf(s->pair, sizeof s->pair, "local %s/%s %s remote %s/%s %s",
                 tdm_ice_candidate_type_name(ev->local_type),
                 tdm_ice_transport_name(ev->local_transport), ev->local_address,
                 tdm_ice_candidate_type_name(ev->remote_type),
                 tdm_ice_transport_name(peer_transport(ev->local_transport)),
                 ev->remote_address);
        if (s->on_pair)
            s->on_pair(s->media_user, s->pair);
        break;
    case TDM_ICE_EV_STATE: break;
    }
}

static gboolean wake_up(gpointer unused)
{
    (void)unused;
    return G_SOURCE_REMOVE;
}

void tdm_client_session_iterate(tdm_client_session *s, unsigned max_wait_ms)
{
    if (!s)
        return;
    /* A timeout source guarantees the blocking iteration returns in time
     * for the program's own timers even when no datagram arrives. */
    GSource *t = g_timeout_source_new(max_wait_ms);
    g_source_set_callback(t, wake_up, NULL, NULL);
    g_source_attach(t, s->ctx);
    g_main_context_iteration(s->ctx, TRUE);
    g_source_destroy(t);
    g_source_unref(t);
}

/* Runs the loop until *flag or the peer finished, or timeout_ms passed. */
static bool run_until(tdm_client_session *s, const bool *flag, tdm_peer_state want,
                      unsigned timeout_ms)
{
    uint64_t deadline = tdm_client_now_us() + (uint64_t)timeout_ms * 1000u;
    for (;;) {
        if (flag ? *flag : s->state == want)
            return true;
        if (s->state == TDM_PEER_FAILED || s->state == TDM_PEER_CLOSED)
            return false;
        int left = ms_left(deadline);
        if (left <= 0)
            return false;
        tdm_client_session_iterate(s, left < 50 ? (unsigned)left : 50);
    }
}

/* The a=candidate value ICE takes, from a parsed candidate. */
static void format_candidate(const tdm_sdp_candidate *c, char *out, size_t cap)
{
    static const char *const types[] = {"host", "srflx", "prflx", "relay"};
    static const char *const tcptypes[] = {"", "active", "passive", "so"};
    int n = snprintf(out, cap, "candidate:%s %u %s %u %s %u typ %s", c->foundation,
                     (unsigned)c->component, c->transport == TDM_SDP_TCP ? "TCP" : "UDP",
                     (unsigned)c->priority, c->address, (unsigned)c->port,
                     types[c->type <= TDM_SDP_CAND_RELAY ? c->type : 0]);
    if (n > 0 && (size_t)n < cap && c->has_raddr)
        n += snprintf(out + n, cap - (size_t)n, " raddr %s rport %u", c->raddr, (unsigned)c->rport);
    if (n > 0 && (size_t)n < cap && c->tcptype != TDM_SDP_TCPTYPE_NONE &&
        c->tcptype <= TDM_SDP_TCPTYPE_SO)
        snprintf(out + n, cap - (size_t)n, " tcptype %s", tcptypes[c->tcptype]);
}

/* Maps a refusal to a message naming the status and the relay's reason. */
static tdm_status refusal(const tdm_client_response *r, const tdm_client_url *url, tdm_error *err)
{
    char why[160];
    tdm_client_response_reason_text(r, why, sizeof why);
    if (!why[0])
        snprintf(why, sizeof why, "%s", r->reason[0] ? r->reason : "no reason given");
    if (r->status == 401 || r->status == 403)
        return tdm_fail(err, TDM_ERR_IO, "the relay refused the token (%d): %s", r->status, why);
    if (r->status == 404)
        return tdm_fail(err, TDM_ERR_IO, "the relay has no %s (404): %s", url->path, why);
    return tdm_fail(err, TDM_ERR_IO, "the relay answered %d: %s", r->status, why);
}

/* Finds the m-line that carries our media: the first accepted one. */
static tdm_status pick_media(const tdm_sdp_session *a, size_t *media, tdm_error *err)
{
    for (size_t i = 0; i < a->n_media; i++) {
        const tdm_sdp_media *m = &a->media[i];
        if (m->port != 0 && m->kind == TDM_SDP_MEDIA_VIDEO) {
            *media = i;
            return TDM_OK;
        }
    }
    return tdm_fail(err, TDM_ERR_FORMAT, "the relay's answer accepts no video m-line");
}

static tdm_status apply_answer(tdm_client_session *s, tdm_error *err)
{
    const tdm_sdp_media *m = &s->answer->media[s->media];
    if (!m->dtls.has_fingerprint)
        return tdm_fail(err, TDM_ERR_FORMAT, "the answer has no sha-256 fingerprint");
    /* We offered actpass; RFC 5763 5 lets the answerer pick, and the relay
     * picks passive (it never dials a client). active would make us the
     * DTLS server, which this client does not implement. */
    if (m->dtls.setup == TDM_SDP_SETUP_ACTIVE)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                        "the answer says a=setup:active (we would be the DTLS server); this "
                        "client only does a=setup:passive answers");
    if (m->dtls.setup != TDM_SDP_SETUP_PASSIVE)
        return tdm_fail(err, TDM_ERR_FORMAT, "the answer's a=setup is %s, want passive",
                        tdm_sdp_setup_name(m->dtls.setup));
    tdm_status st;
    st = tdm_peer_set_remote_dtls(s->peer, TDM_DTLS_CLIENT, m->dtls.fingerprint, err);
    if (st != TDM_OK)
        return st;
    tdm_ice *ice = tdm_peer_ice(s->peer);
    st = tdm_ice_set_remote_credentials(ice, m->ice.ufrag, m->ice.pwd, err);
    if (st != TDM_OK)
        return st;
    size_t added = 0;
    for (size_t i = 0; i < m->n_candidates; i++) {
        char line[TDM_ICE_CANDIDATE_MAX];
        format_candidate(&m->candidates[i], line, sizeof line);
        tdm_error cerr = {{0}};
        /* One candidate ICE cannot use (say an mDNS name) is no reason to
         * give up on the others. */
        if (tdm_ice_add_remote_candidate(ice, line, &cerr) == TDM_OK)
            added++;
    }
    if (added == 0)
        return tdm_fail(err, TDM_ERR_FORMAT,
                        "the answer has no usable ICE candidate "
                        "(%zu listed)",
                        m->n_candidates);
    tdm_ice_remote_gathering_done(ice);
    return TDM_OK;
}

static void delete_resource(tdm_client_session *s)
{
    if (!s->resource[0])
        return;
    tdm_client_reply reply;
    tdm_error err = {{0}};
    tdm_status st = tdm_client_http(&s->url, "DELETE", s->resource, s->token, NULL, NULL, 0,
                                    s->http_timeout_ms, &reply, &err);
    /* Only a warning: the relay drops a client that went silent anyway. */
    if (st != TDM_OK)
        fprintf(stderr, "warning: DELETE %s: %s\n", s->resource, err.msg);
    else if (reply.r.status / 100 != 2)
        fprintf(stderr, "warning: DELETE %s: the relay answered %d\n", s->resource, reply.r.status);
    tdm_client_reply_free(&reply);
    s->resource[0] = '\0';
}

/* "... typ relay ...": the candidate attribute's type field. */
static bool is_relay_candidate(const char *cand)
{
    return strstr(cand, " typ relay") != NULL;
}

static tdm_status post_offer(tdm_client_session *s, const tdm_client_session_config *cfg,
                             tdm_error *err)
{
    const char *ufrag, *pwd;
    tdm_ice_local_credentials(tdm_peer_ice(s->peer), &ufrag, &pwd);
    const char *cand_ptrs[MAX_LOCAL_CANDIDATES];
    size_t n_offered = 0;
    for (size_t i = 0; i < s->n_cands; i++)
        if (!s->relay_only || is_relay_candidate(s->cands[i]))
            cand_ptrs[n_offered++] = s->cands[i];
    if (n_offered == 0)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE,
                        "no relayed candidate: the TURN server gave no allocation (is it "
                        "reachable, are the credentials right?) and the policy is relay");
    tdm_client_offer_params p = {.ice_ufrag = ufrag,
                                 .ice_pwd = pwd,
                                 .fingerprint = tdm_dtls_identity_fingerprint(s->id),
                                 .candidates = cand_ptrs,
                                 .n_candidates = n_offered};
    size_t cap = TDM_SDP_MAX_BYTES, len = 0;
    char *offer = malloc(cap);
    if (!offer)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    tdm_status st = cfg->build_offer(cfg->offer_user, &p, offer, cap, &len, err);
    tdm_client_reply reply = {0};
    if (st == TDM_OK)
        st = tdm_client_http(&s->url, "POST", s->url.path, s->token, "application/sdp",
                             (const uint8_t *)offer, len, s->http_timeout_ms, &reply, err);
    free(offer);
    if (st != TDM_OK)
        return st;
    const tdm_client_response *r = &reply.r;
    if (r->status != 201 && r->status != 200) {
        st = refusal(r, &s->url, err);
    } else if (strncasecmp(r->content_type, "application/sdp", 15) != 0) {
        st = tdm_fail(err, TDM_ERR_FORMAT,
                      "the relay answered %d with Content-Type '%s', "
                      "not application/sdp",
                      r->status, r->content_type);
    } else {
        if (r->location[0])
            st = tdm_client_location_resolve(&s->url, r->location, s->resource, err);
        else
            st = tdm_fail(err, TDM_ERR_FORMAT, "the relay's 201 has no Location");
        if (st == TDM_OK) {
            tdm_error perr = {{0}};
            st = tdm_sdp_parse(r->body, r->body_len, s->answer, &perr);
            if (st != TDM_OK)
                st = tdm_fail(err, TDM_ERR_FORMAT, "the relay's answer: %s", perr.msg);
        }
        if (st == TDM_OK)
            st = pick_media(s->answer, &s->media, err);
    }
    tdm_client_reply_free(&reply);
    return st;
}

/* A TURN server that gave no allocation is no error while a direct path
 * may still work, but it is the first thing to know when none does. */
static void warn_without_relay(const tdm_client_session *s, const tdm_ice_config *ice)
{
    if (ice->n_turn == 0)
        return;
    for (size_t i = 0; i < s->n_cands; i++)
        if (is_relay_candidate(s->cands[i]))
            return;
    fprintf(stderr,
            "warning: no relayed candidate from the TURN server(s) (unreachable, or wrong "
            "--ice-username/--ice-credential?)\n");
}

/* The address family ICE gathers in: a name resolves to an address of
 * the same family, or the server would be unreachable from every local
 * candidate. */
static int local_family(const tdm_ice_config *ice)
{
    if (ice->n_local_addresses == 0)
        return AF_UNSPEC;
    return is_ipv6_literal(ice->local_addresses[0]) ? AF_INET6 : AF_INET;
}

/* Fills the STUN and TURN part of ice from opts (NULL: none), resolving
 * host names into the caller's copy `servers`, which must outlive the
 * agent's creation. */
static tdm_status apply_ice_servers(tdm_client_session *s, const tdm_client_ice_options *opts,
                                    tdm_client_ice_options *servers, tdm_ice_config *ice,
                                    tdm_error *err)
{
    memset(servers, 0, sizeof *servers);
    if (!opts)
        return TDM_OK;
    tdm_status st = tdm_client_ice_options_check(opts, err);
    if (st != TDM_OK)
        return st;
    *servers = *opts;
    s->relay_only = opts->relay_only;
    ice->ice_tcp = opts->tcp;
    ice->relay_only = opts->relay_only;
    for (size_t i = 0; i < servers->n_servers; i++) {
        tdm_client_ice_server *srv = &servers->servers[i];
        st = tdm_client_ice_server_resolve(srv, local_family(ice), err);
        if (st != TDM_OK)
            return st;
        if (srv->scheme == TDM_CLIENT_ICE_STUN) {
            ice->stun_host = srv->host;
            ice->stun_port = srv->port;
        } else if (ice->n_turn < TDM_ICE_MAX_TURN) {
            ice->turn[ice->n_turn++] = (tdm_ice_turn){.host = srv->host,
                                                      .port = srv->port,
                                                      .username = servers->username,
                                                      .password = servers->credential,
                                                      .transport = srv->transport};
        }
    }
    return TDM_OK;
}

tdm_status tdm_client_session_open(const tdm_client_session_config *cfg, tdm_client_session **out,
                                   tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "session: out is NULL");
    *out = NULL;
    if (!cfg || !cfg->url || !cfg->token || !cfg->build_offer)
        return tdm_fail(err, TDM_ERR_INVALID, "session: url, token and build_offer are required");
    if (cfg->n_local_addresses == 0)
        return tdm_fail(err, TDM_ERR_INVALID,
                        "at least one local address is required "
                        "(--local-address): gathering on every interface is not allowed");
    tdm_client_session *s = calloc(1, sizeof *s);
    if (!s)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    tdm_status st = tdm_client_url_parse(cfg->url, &s->url, err);
    if (st == TDM_OK && s->url.kind != cfg->kind)
        st = tdm_fail(err, TDM_ERR_INVALID, "URL: this program %s, so it needs a %s URL",
                      cfg->kind == TDM_CLIENT_PUBLISH ? "publishes" : "subscribes",
                      cfg->kind == TDM_CLIENT_PUBLISH ? "/whip/<session>" : "/whep/<session>");
    if (st != TDM_OK) {
        free(s);
        return st == TDM_ERR_FORMAT ? TDM_ERR_INVALID : st;
    }
    s->token = strdup(cfg->token);
    s->http_timeout_ms = cfg->http_timeout_ms ? cfg->http_timeout_ms : 5000;
    unsigned connect_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 10000;
    s->on_rtp = cfg->on_rtp;
    s->on_rtcp = cfg->on_rtcp;
    s->on_pair = cfg->on_pair;
    s->media_user = cfg->media_user;
    s->ctx = g_main_context_new();
    s->answer = tdm_sdp_new();
    if (!s->token || !s->answer) {
        tdm_client_session_close(s);
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    }

    /* ice points into servers (resolved copies of cfg->ice's) until
     * tdm_peer_new has handed them to libnice, which copies them. */
    tdm_ice_config ice;
    tdm_client_ice_options servers;
    tdm_ice_config_init(&ice, s->ctx, true); /* the offerer controls (RFC 8445 6.1.1) */
    for (size_t i = 0; i < cfg->n_local_addresses && i < TDM_ICE_MAX_LOCAL_ADDRESSES; i++)
        ice.local_addresses[ice.n_local_addresses++] = cfg->local_addresses[i];
    st = apply_ice_servers(s, cfg->ice, &servers, &ice, err);
    if (st == TDM_OK)
        st = tdm_dtls_identity_new(NULL, &s->id, err);
    if (st == TDM_OK) {
        tdm_peer_config pcfg;
        /* The relay's fingerprint is not known until the answer:
         * apply_answer sets it before ICE can come up. */
        static const uint8_t unknown_fp[TDM_DTLS_FINGERPRINT_LEN];
        tdm_peer_config_init(&pcfg, &ice, s->id, TDM_DTLS_CLIENT, unknown_fp);
        tdm_peer_callbacks cb = {.on_state = session_on_state,
                                 .on_rtp = session_on_rtp,
                                 .on_rtcp = session_on_rtcp,
                                 .on_ice_event = session_on_ice_event,
                                 .user = s};
        st = tdm_peer_new(&pcfg, &cb, &s->peer, err);
    }
    if (st == TDM_OK) {
        tdm_error gerr = {{0}};
        st = tdm_ice_gather(tdm_peer_ice(s->peer), &gerr);
        if (st != TDM_OK)
            st = tdm_fail(err, TDM_ERR_UNAVAILABLE,
                          "cannot gather ICE candidates on the "
                          "local address(es) given (is each configured on this machine?): %s",
                          gerr.msg);
    }
    if (st == TDM_OK && !run_until(s, &s->gathering_done, TDM_PEER_NEW, connect_ms))
        st = tdm_fail(err, TDM_ERR_IO, "ICE gathering did not finish within %u ms", connect_ms);
    if (st == TDM_OK)
        warn_without_relay(s, &ice);
    if (st == TDM_OK && s->n_cands == 0)
        st = tdm_fail(err, TDM_ERR_UNAVAILABLE,
                      "ICE gathered no candidate on the given local "
                      "address(es): is the address configured on this machine?");
    /* Media may arrive while we still wait for CONNECTED to be reported;
     * the callbacks can reach the session (its answer) through *out. */
    *out = s;
    if (st == TDM_OK)
        st = post_offer(s, cfg, err);
    if (st == TDM_OK)
        st = apply_answer(s, err);
    if (st == TDM_OK && !run_until(s, NULL, TDM_PEER_CONNECTED, connect_ms)) {
        if (s->state == TDM_PEER_FAILED || s->state == TDM_PEER_CLOSED)
            st = tdm_fail(err, TDM_ERR_IO, "the media connection to the relay %s: %s",
                          tdm_peer_state_name(s->state), s->reason);
        else
            st = tdm_fail(err, TDM_ERR_IO,
                          "the media connection to the relay did not come up "
                          "within %u ms (ICE/DTLS state: %s)",
                          connect_ms, tdm_peer_state_name(s->state));
    }
    if (st != TDM_OK) {
        *out = NULL;
        tdm_client_session_close(s);
        return st;
    }
    return TDM_OK;
}

void tdm_client_session_close(tdm_client_session *s)
{
    if (!s)
        return;
    /* DELETE first (RFC 9725 4.4: that is how a client leaves); the
     * relay then closes its side. Our close_notify after it is a courtesy
     * for a relay that did not hear the DELETE. */
    delete_resource(s);
    if (s->peer) {
        tdm_peer_close(s->peer);
        for (int i = 0; i < 10 && g_main_context_iteration(s->ctx, FALSE); i++)
            ;
    }
    tdm_peer_free(s->peer);
    if (s->ctx) {
        /* Sources libnice leaves behind on free are dispatched here. */
        for (int i = 0; i < 100 && g_main_context_iteration(s->ctx, FALSE); i++)
            ;
        g_main_context_unref(s->ctx);
    }
    tdm_dtls_identity_free(s->id);
    tdm_sdp_free(s->answer);
    free(s->token);
    free(s);
}

tdm_peer *tdm_client_session_peer(tdm_client_session *s)
{
    return s ? s->peer : NULL;
}

const tdm_sdp_session *tdm_client_session_answer(const tdm_client_session *s, size_t *media)
{
    if (media)
        *media = s->media;
    return s->answer;
}

const char *tdm_client_session_pair(const tdm_client_session *s)
{
    return s->pair[0] ? s->pair : "(no pair)";
}
