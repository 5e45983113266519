/* sdp.c: parses WebRTC SDP offers and trickle fragments, writes the relay's
 * answers (see tdm_sdp.h for the contract). Pure functions over caller
 * memory: no allocation except tdm_sdp_new, no IO, no clock. */
#include "tdm_sdp.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* small string helpers                                                */

typedef struct span {
    const char *p;
    size_t n;
} span;

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* Next whitespace-separated token; n == 0 at the end. */
static span next_tok(const char **s)
{
    const char *p = *s;
    while (is_space(*p))
        p++;
    span t = {p, 0};
    while (*p && !is_space(*p))
        p++;
    t.n = (size_t)(p - t.p);
    *s = p;
    return t;
}

static bool rest_empty(const char *s)
{
    while (is_space(*s))
        s++;
    return *s == '\0';
}

static bool span_eq(span t, const char *lit)
{
    size_t n = strlen(lit);
    return t.n == n && memcmp(t.p, lit, n) == 0;
}

static bool span_ieq(span t, const char *lit)
{
    size_t n = strlen(lit);
    return t.n == n && strncasecmp(t.p, lit, n) == 0;
}

/* Copies t into dst (NUL-terminated); false when it does not fit. */
static bool span_copy(span t, char *dst, size_t cap)
{
    if (t.n >= cap)
        return false;
    memcpy(dst, t.p, t.n);
    dst[t.n] = '\0';
    return true;
}

/* Decimal without sign or leading junk; at most max. */
static bool span_u64(span t, uint64_t max, uint64_t *out)
{
    if (t.n == 0 || t.n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (t.p[i] < '0' || t.p[i] > '9')
            return false;
        unsigned d = (unsigned)(t.p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static bool span_u32(span t, uint32_t max, uint32_t *out)
{
    uint64_t v;
    if (!span_u64(t, max, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/". */
static bool ice_chars(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    }
    return true;
}

/* RFC 8866 token characters (what mids, media names and protos are made of). */
static bool token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`{|}~/", c) != NULL);
}

static bool token_chars(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!token_char(p[i]))
            return false;
    return true;
}

/* Characters of a candidate address: IPv4/IPv6 literals (with zone) and
 * host names such as mDNS "<uuid>.local". */
static bool addr_chars(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == ':' || c == '-' || c == '_' || c == '%'))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* lines                                                               */

typedef struct lines {
    const uint8_t *buf;
    size_t len, pos;
    unsigned lineno;
    char text[TDM_SDP_MAX_LINE + 1];
    size_t n;
} lines;

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF) and no
 * control characters but tab: SDP is UTF-8 text (RFC 8866 5), and a NUL or a
 * lone CR inside a line would let two readers see different lines. */
static bool line_text_ok(const uint8_t *p, size_t n, const char **why)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                *why = "control character";
                return false;
            }
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07u;
        } else {
            *why = "invalid UTF-8";
            return false;
        }
        if (n - i <= need) {
            *why = "invalid UTF-8";
            return false;
        }
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                *why = "invalid UTF-8";
                return false;
            }
            cp = cp << 6 | (p[i + k] & 0x3fu);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
            *why = "invalid UTF-8";
            return false;
        }
        i += need + 1;
    }
    return true;
}

/* TDM_OK with the line in l->text, TDM_EOF at the end, or an error. Empty
 * lines are skipped (a stray blank line at the end is common in hand-made
 * bodies and carries nothing). */
static tdm_status next_line(lines *l, tdm_error *err)
{
    for (;;) {
        if (l->pos >= l->len)
            return TDM_EOF;
        l->lineno++;
        const uint8_t *start = l->buf + l->pos;
        size_t avail = l->len - l->pos;
        const uint8_t *nl = memchr(start, '\n', avail);
        size_t n = nl ? (size_t)(nl - start) : avail;
        if (n > TDM_SDP_MAX_LINE + 1)
            return tdm_fail(err, TDM_ERR_RANGE, "line %u: longer than %d bytes", l->lineno,
                            TDM_SDP_MAX_LINE);
        if (!nl)
            return tdm_fail(err, TDM_ERR_FORMAT, "line %u: not terminated (truncated SDP?)",
                            l->lineno);
        l->pos += n + 1;
        if (n > 0 && start[n - 1] == '\r')
            n--;
        if (n > TDM_SDP_MAX_LINE)
            return tdm_fail(err, TDM_ERR_RANGE, "line %u: longer than %d bytes", l->lineno,
                            TDM_SDP_MAX_LINE);
        if (n == 0)
            continue;
        const char *why = NULL;
        if (!line_text_ok(start, n, &why))
            return tdm_fail(err, TDM_ERR_FORMAT, "line %u: %s", l->lineno, why);
        memcpy(l->text, start, n);
        l->text[n] = '\0';
        l->n = n;
        if (n < 2 || l->text[1] != '=' || l->text[0] < 'a' || l->text[0] > 'z')
            return tdm_fail(err, TDM_ERR_FORMAT, "line %u: not of the form <letter>=<value>",
                            l->lineno);
        return TDM_OK;
    }
}

/* ------------------------------------------------------------------ */
/* attribute parsers shared by offers and fragments                    */

typedef struct ctx {
    unsigned line;
    tdm_error *err;
} ctx;

static tdm_status bad(const ctx *c, tdm_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static tdm_status bad(const ctx *c, tdm_status st, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return tdm_fail(c->err, st, "line %u: %s", c->line, what);
}

static tdm_status parse_ice_str(const ctx *c, const char *v, bool pwd, char *dst)
{
    const char *s = v;
    span t = next_tok(&s);
    size_t min = pwd ? 22 : 4;
    const char *name = pwd ? "ice-pwd" : "ice-ufrag";
    if (!rest_empty(s) || t.n < min || t.n > TDM_SDP_ICE_STR_MAX || !ice_chars(t.p, t.n))
        return bad(c, TDM_ERR_FORMAT, "%s must be %zu..%d ICE characters", name, min,
                   TDM_SDP_ICE_STR_MAX);
    if (dst[0] != '\0')
        return bad(c, TDM_ERR_FORMAT, "%s given twice", name);
    span_copy(t, dst, TDM_SDP_ICE_STR_MAX + 1);
    return TDM_OK;
}

static void parse_ice_options(const char *v, tdm_sdp_ice *ice)
{
    const char *s = v;
    for (span t = next_tok(&s); t.n; t = next_tok(&s))
        if (span_eq(t, "trickle"))
            ice->trickle = true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* RFC 8122 5: "sha-256 AB:CD:..." — only sha-256 is kept; other hash
 * functions are legal and skipped (the DTLS adapter checks sha-256). */
static tdm_status parse_fingerprint(const ctx *c, const char *v, tdm_sdp_dtls *d)
{
    const char *s = v;
    span hash = next_tok(&s);
    span fp = next_tok(&s);
    if (hash.n == 0 || fp.n == 0 || !rest_empty(s))
        return bad(c, TDM_ERR_FORMAT, "fingerprint needs '<hash> <hex:hex:...>'");
    if (!span_ieq(hash, "sha-256"))
        return TDM_OK;
    if (fp.n != TDM_SDP_FINGERPRINT_LEN * 3 - 1)
        return bad(c, TDM_ERR_FORMAT, "sha-256 fingerprint must be 32 hex pairs with colons");
    uint8_t bytes[TDM_SDP_FINGERPRINT_LEN];
    for (size_t i = 0; i < TDM_SDP_FINGERPRINT_LEN; i++) {
        int hi = hexval(fp.p[3 * i]), lo = hexval(fp.p[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i + 1 < TDM_SDP_FINGERPRINT_LEN && fp.p[3 * i + 2] != ':'))
            return bad(c, TDM_ERR_FORMAT, "sha-256 fingerprint must be 32 hex pairs with colons");
        bytes[i] = (uint8_t)(hi << 4 | lo);
    }
    if (d->has_fingerprint)
        return bad(c, TDM_ERR_FORMAT, "sha-256 fingerprint given twice");
    memcpy(d->fingerprint, bytes, sizeof bytes);
    d->has_fingerprint = true;
    return TDM_OK;
}

static tdm_status parse_setup(const ctx *c, const char *v, tdm_sdp_dtls *d)
{
    const char *s = v;
    span t = next_tok(&s);
    tdm_sdp_setup r;
    if (span_eq(t, "actpass"))
        r = TDM_SDP_SETUP_ACTPASS;
    else if (span_eq(t, "active"))
        r = TDM_SDP_SETUP_ACTIVE;
    else if (span_eq(t, "passive"))
        r = TDM_SDP_SETUP_PASSIVE;
    else if (span_eq(t, "holdconn"))
        r = TDM_SDP_SETUP_HOLDCONN;
    else
        return bad(c, TDM_ERR_FORMAT, "setup must be actpass, active, passive or holdconn");
    if (!rest_empty(s))
        return bad(c, TDM_ERR_FORMAT, "setup takes one value");
    if (d->setup != TDM_SDP_SETUP_NONE)
        return bad(c, TDM_ERR_FORMAT, "setup given twice");
    d->setup = r;
    return TDM_OK;
}

/* RFC 8839 5.1:
 *   candidate:<foundation> <component> <transport> <priority> <address>
 *             <port> typ <type> [raddr <a>] [rport <p>] *(<ext-name> <ext-value>)
 * TDM_AGAIN: well-formed but of a transport or type we cannot use (RFC 8839
 * says to ignore those), so the caller skips it. */
static tdm_status parse_candidate(const ctx *c, const char *v, tdm_sdp_candidate *out)
{
    memset(out, 0, sizeof *out);
    const char *s = v;
    span f = next_tok(&s), comp = next_tok(&s), tr = next_tok(&s), prio = next_tok(&s),
         addr = next_tok(&s), port = next_tok(&s), typ = next_tok(&s), type = next_tok(&s);
    uint32_t u;
    if (type.n == 0)
        return bad(c, TDM_ERR_FORMAT, "candidate has too few fields");
    if (f.n > 32 || !ice_chars(f.p, f.n))
        return bad(c, TDM_ERR_FORMAT, "candidate foundation must be 1..32 ICE characters");
    span_copy(f, out->foundation, sizeof out->foundation);
    if (!span_u32(comp, 256, &u) || u == 0)
        return bad(c, TDM_ERR_FORMAT, "candidate component must be 1..256");
    out->component = (uint16_t)u;
    if (!span_u32(prio, 0xffffffffu, &out->priority) || prio.n > 10)
        return bad(c, TDM_ERR_FORMAT, "candidate priority must be a 32-bit number");
    if (addr.n >= sizeof out->address || !addr_chars(addr.p, addr.n))
        return bad(c, TDM_ERR_FORMAT, "candidate address is not an IP address or host name");
    span_copy(addr, out->address, sizeof out->address);
    if (!span_u32(port, 65535, &u))
        return bad(c, TDM_ERR_FORMAT, "candidate port must be 0..65535");
    out->port = (uint16_t)u;
    if (!span_eq(typ, "typ"))
        return bad(c, TDM_ERR_FORMAT, "candidate lacks 'typ'");
    bool usable = true;
    unsigned seen = 0;
    if (span_ieq(tr, "udp"))
        out->transport = TDM_SDP_UDP;
    else if (span_ieq(tr, "tcp"))
        out->transport = TDM_SDP_TCP;
    else
        usable = false;
    if (span_eq(type, "host"))
        out->type = TDM_SDP_CAND_HOST;
    else if (span_eq(type, "srflx"))
        out->type = TDM_SDP_CAND_SRFLX;
    else if (span_eq(type, "prflx"))
        out->type = TDM_SDP_CAND_PRFLX;
    else if (span_eq(type, "relay"))
        out->type = TDM_SDP_CAND_RELAY;
    else
        usable = false;
    for (;;) {
        span name = next_tok(&s);
        if (name.n == 0)
            break;
        span val = next_tok(&s);
        if (val.n == 0)
            return bad(c, TDM_ERR_FORMAT, "candidate extension '%.*s' lacks a value",
                       (int)(name.n > 32 ? 32 : name.n), name.p);
        if (span_eq(name, "raddr") || span_eq(name, "rport") || span_eq(name, "tcptype")) {
            unsigned bit = span_eq(name, "raddr") ? 1u : span_eq(name, "rport") ? 2u : 4u;
            if (seen & bit)
                return bad(c, TDM_ERR_FORMAT, "candidate repeats '%.*s'", (int)name.n, name.p);
            seen |= bit;
        }
        if (span_eq(name, "raddr")) {
            if (val.n >= sizeof out->raddr || !addr_chars(val.p, val.n))
                return bad(c, TDM_ERR_FORMAT, "candidate raddr is not an address");
            span_copy(val, out->raddr, sizeof out->raddr);
            out->has_raddr = true;
        } else if (span_eq(name, "rport")) {
            if (!span_u32(val, 65535, &u))
                return bad(c, TDM_ERR_FORMAT, "candidate rport must be 0..65535");
            out->rport = (uint16_t)u;
        } else if (span_eq(name, "tcptype")) {
            if (span_eq(val, "active"))
                out->tcptype = TDM_SDP_TCPTYPE_ACTIVE;
            else if (span_eq(val, "passive"))
                out->tcptype = TDM_SDP_TCPTYPE_PASSIVE;
            else if (span_eq(val, "so"))
                out->tcptype = TDM_SDP_TCPTYPE_SO;
            else
                return bad(c, TDM_ERR_FORMAT, "candidate tcptype must be active, passive or so");
        }
        /* generation, ufrag, network-id, network-cost, ...: not needed. */
    }
    if (out->transport == TDM_SDP_TCP && out->tcptype == TDM_SDP_TCPTYPE_NONE && usable)
        return bad(c, TDM_ERR_FORMAT, "tcp candidate lacks tcptype");
    /* rport means nothing without raddr, tcptype nothing on UDP: drop them
     * so a candidate reads the same however it was written. */
    if (!out->has_raddr)
        out->rport = 0;
    if (out->transport != TDM_SDP_TCP)
        out->tcptype = TDM_SDP_TCPTYPE_NONE;
    return usable ? TDM_OK : TDM_AGAIN;
}

/* Splits "name[:value]" in place of an a= line. */
static void split_attr(char *text, char **name, char **value)
{
    *name = text + 2;
    char *colon = strchr(*name, ':');
    if (colon) {
        *colon = '\0';
        *value = colon + 1;
    } else {
        *value = text + strlen(text); /* "" */
    }
}

/* ------------------------------------------------------------------ */
/* offer parser                                                        */

typedef struct parser {
    ctx c;
    tdm_sdp_session *s;
    tdm_sdp_media *m; /* current m-line, NULL at session level */
    unsigned wildcard_fb[TDM_SDP_MAX_MEDIA];
    bool direction_set[TDM_SDP_MAX_MEDIA];
    bool session_direction_set;
    tdm_sdp_direction session_direction;
    bool session_eoc;
    unsigned bundle_line;
    bool seen_bundle;
} parser;

static tdm_sdp_codec *find_codec(tdm_sdp_media *m, uint32_t pt)
{
    for (size_t i = 0; i < m->n_codecs; i++)
        if (m->codecs[i].pt == pt)
            return &m->codecs[i];
    return NULL;
}

static bool is_rtp_proto(const char *proto) { return strstr(proto, "RTP/") != NULL; }

static bool is_dtls_proto(const char *proto)
{
    return strstr(proto, "DTLS") != NULL || strstr(proto, "TLS") != NULL;
}

static tdm_status parse_m_line(parser *p, const char *v)
{
    tdm_sdp_session *s = p->s;
    if (s->n_media >= TDM_SDP_MAX_MEDIA)
        return bad(&p->c, TDM_ERR_RANGE, "more than %d m-lines", TDM_SDP_MAX_MEDIA);
    tdm_sdp_media *m = &s->media[s->n_media];
    memset(m, 0, sizeof *m);
    m->line = p->c.line;
    const char *r = v;
    span kind = next_tok(&r), port = next_tok(&r), proto = next_tok(&r);
    if (proto.n == 0)
        return bad(&p->c, TDM_ERR_FORMAT, "m-line needs '<media> <port> <proto> <fmt>...'");
    if (!token_chars(kind.p, kind.n) || !span_copy(kind, m->kind_name, sizeof m->kind_name))
        return bad(&p->c, TDM_ERR_FORMAT, "m-line media name is not a short token");
    if (span_eq(kind, "audio"))
        m->kind = TDM_SDP_MEDIA_AUDIO;
    else if (span_eq(kind, "video"))
        m->kind = TDM_SDP_MEDIA_VIDEO;
    else
        m->kind = TDM_SDP_MEDIA_OTHER;
    /* <port>[/<number of ports>]: the count is legacy and ignored. */
    const char *slash = memchr(port.p, '/', port.n);
    span port_num = {port.p, slash ? (size_t)(slash - port.p) : port.n};
    uint32_t u;
    if (!span_u32(port_num, 65535, &u))
        return bad(&p->c, TDM_ERR_FORMAT, "m-line port must be 0..65535");
    m->port = (uint16_t)u;
    if (!token_chars(proto.p, proto.n) || !span_copy(proto, m->proto, sizeof m->proto))
        return bad(&p->c, TDM_ERR_FORMAT, "m-line proto is not a short token");
    bool rtp = is_rtp_proto(m->proto);
    size_t nfmt = 0;
    for (span f = next_tok(&r); f.n; f = next_tok(&r), nfmt++) {
        if (!token_chars(f.p, f.n))
            return bad(&p->c, TDM_ERR_FORMAT, "m-line format is not a token");
        if (nfmt == 0) {
            span first = {f.p, f.n < sizeof m->first_fmt ? f.n : sizeof m->first_fmt - 1};
            span_copy(first, m->first_fmt, sizeof m->first_fmt);
        }
        if (!rtp)
            continue;
        if (!span_u32(f, 127, &u))
            return bad(&p->c, TDM_ERR_FORMAT, "RTP payload type must be 0..127");
        if (find_codec(m, u))
            return bad(&p->c, TDM_ERR_FORMAT, "payload type %u listed twice", u);
        if (m->n_codecs >= TDM_SDP_MAX_CODECS)
            return bad(&p->c, TDM_ERR_RANGE, "more than %d payload types", TDM_SDP_MAX_CODECS);
        tdm_sdp_codec *cd = &m->codecs[m->n_codecs++];
        cd->pt = (uint8_t)u;
        cd->vp9_profile = -1;
        cd->rtx_apt = -1;
    }
    if (nfmt == 0)
        return bad(&p->c, TDM_ERR_FORMAT, "m-line lists no formats");
    s->n_media++;
    p->m = m;
    return TDM_OK;
}

static tdm_status parse_rtpmap(parser *p, const char *v)
{
    const char *r = v;
    span pt = next_tok(&r), enc = next_tok(&r);
    uint32_t u;
    if (!span_u32(pt, 127, &u) || enc.n == 0 || !rest_empty(r))
        return bad(&p->c, TDM_ERR_FORMAT, "rtpmap needs '<pt> <name>/<clock>[/<channels>]'");
    tdm_sdp_codec *cd = find_codec(p->m, u);
    if (!cd)
        return TDM_OK; /* describes a payload type the m-line does not list */
    if (cd->has_rtpmap)
        return bad(&p->c, TDM_ERR_FORMAT, "second rtpmap for payload type %u", u);
    const char *s1 = memchr(enc.p, '/', enc.n);
    if (!s1)
        return bad(&p->c, TDM_ERR_FORMAT, "rtpmap lacks a clock rate");
    span name = {enc.p, (size_t)(s1 - enc.p)};
    span rest = {s1 + 1, enc.n - name.n - 1};
    const char *s2 = memchr(rest.p, '/', rest.n);
    span clock = {rest.p, s2 ? (size_t)(s2 - rest.p) : rest.n};
    if (name.n == 0 || !token_chars(name.p, name.n) ||
        !span_copy(name, cd->encoding, sizeof cd->encoding))
        return bad(&p->c, TDM_ERR_FORMAT, "rtpmap encoding name is not a short token");
    if (!span_u32(clock, 10000000, &cd->clock_hz) || cd->clock_hz == 0)
        return bad(&p->c, TDM_ERR_FORMAT, "rtpmap clock rate is not a number");
    if (s2) {
        span ch = {s2 + 1, rest.n - clock.n - 1};
        if (!span_u32(ch, 255, &u) || u == 0)
            return bad(&p->c, TDM_ERR_FORMAT, "rtpmap channel count must be 1..255");
        cd->channels = (uint8_t)u;
    }
    cd->has_rtpmap = true;
    return TDM_OK;
}

static tdm_status parse_fmtp(parser *p, const char *v)
{
    const char *r = v;
    span pt = next_tok(&r);
    uint32_t u;
    if (!span_u32(pt, 127, &u))
        return bad(&p->c, TDM_ERR_FORMAT, "fmtp needs '<pt> <parameters>'");
    tdm_sdp_codec *cd = find_codec(p->m, u);
    if (!cd)
        return TDM_OK;
    if (cd->has_fmtp)
        return bad(&p->c, TDM_ERR_FORMAT, "second fmtp for payload type %u", u);
    while (is_space(*r))
        r++;
    size_t len = strlen(r);
    while (len > 0 && is_space(r[len - 1]))
        len--;
    cd->has_fmtp = true;
    cd->fmtp_truncated = len > TDM_SDP_FMTP_MAX;
    span raw = {r, cd->fmtp_truncated ? TDM_SDP_FMTP_MAX : len};
    span_copy(raw, cd->fmtp, sizeof cd->fmtp);
    /* key=value pairs separated by ';' (RFC 8866 6.15 leaves the syntax to
     * each format; every one we read uses this form). */
    const char *q = r, *end = r + len;
    while (q < end) {
        const char *semi = memchr(q, ';', (size_t)(end - q));
        const char *pe = semi ? semi : end;
        while (q < pe && is_space(*q))
            q++;
        const char *eq = memchr(q, '=', (size_t)(pe - q));
        if (eq) {
            span key = {q, (size_t)(eq - q)};
            span val = {eq + 1, (size_t)(pe - eq - 1)};
            while (key.n && is_space(key.p[key.n - 1]))
                key.n--;
            while (val.n && is_space(val.p[val.n - 1]))
                val.n--;
            while (val.n && is_space(val.p[0])) {
                val.p++;
                val.n--;
            }
            /* Lenient: a strange value for some codec we do not support
             * must not sink the whole offer; an unreadable VP9 profile reads
             * as 255, which no one supports. */
            if (span_eq(key, "profile-id")) {
                cd->vp9_profile = span_u32(val, 255, &u) ? (int)u : 255;
            } else if (span_eq(key, "useinbandfec")) {
                cd->opus_inband_fec = span_eq(val, "1");
            } else if (span_eq(key, "stereo")) {
                cd->opus_stereo = span_eq(val, "1");
            } else if (span_eq(key, "apt") && span_u32(val, 127, &u)) {
                cd->rtx_apt = (int)u;
            }
        }
        q = semi ? semi + 1 : end;
    }
    return TDM_OK;
}

static tdm_status parse_rtcp_fb(parser *p, const char *v)
{
    const char *r = v;
    span pt = next_tok(&r), type = next_tok(&r), param = next_tok(&r);
    if (type.n == 0)
        return bad(&p->c, TDM_ERR_FORMAT, "rtcp-fb needs '<pt|*> <type> [<param>]'");
    unsigned bit = 0;
    if (span_eq(type, "nack") && param.n == 0)
        bit = TDM_SDP_FB_NACK;
    else if (span_eq(type, "nack") && span_eq(param, "pli"))
        bit = TDM_SDP_FB_NACK_PLI;
    else if (span_eq(type, "ccm") && span_eq(param, "fir"))
        bit = TDM_SDP_FB_CCM_FIR;
    else if (span_eq(type, "goog-remb") && param.n == 0)
        bit = TDM_SDP_FB_GOOG_REMB;
    else if (span_eq(type, "transport-cc") && param.n == 0)
        bit = TDM_SDP_FB_TRANSPORT_CC;
    uint32_t u;
    if (span_eq(pt, "*")) {
        p->wildcard_fb[p->s->n_media - 1] |= bit;
        return TDM_OK;
    }
    if (!span_u32(pt, 127, &u))
        return bad(&p->c, TDM_ERR_FORMAT, "rtcp-fb payload type must be 0..127 or *");
    tdm_sdp_codec *cd = find_codec(p->m, u);
    if (cd)
        cd->feedback |= bit;
    return TDM_OK;
}

static tdm_sdp_ext ext_from_uri(const char *uri)
{
    static const struct {
        const char *uri;
        tdm_sdp_ext ext;
    } known[] = {
        {"http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", TDM_SDP_EXT_ABS_SEND_TIME},
        {"urn:ietf:params:rtp-hdrext:sdes:mid", TDM_SDP_EXT_SDES_MID},
        {"urn:ietf:params:rtp-hdrext:ssrc-audio-level", TDM_SDP_EXT_AUDIO_LEVEL},
        {"http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
         TDM_SDP_EXT_TRANSPORT_CC},
        {"urn:ietf:params:rtp-hdrext:toffset", TDM_SDP_EXT_TOFFSET},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(uri, known[i].uri) == 0)
            return known[i].ext;
    return TDM_SDP_EXT_UNKNOWN;
}

static const char *ext_uri(tdm_sdp_ext e)
{
    switch (e) {
    case TDM_SDP_EXT_ABS_SEND_TIME:
        return "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
    case TDM_SDP_EXT_SDES_MID:
        return "urn:ietf:params:rtp-hdrext:sdes:mid";
    case TDM_SDP_EXT_AUDIO_LEVEL:
        return "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
    case TDM_SDP_EXT_TRANSPORT_CC:
        return "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
    case TDM_SDP_EXT_TOFFSET:
        return "urn:ietf:params:rtp-hdrext:toffset";
    case TDM_SDP_EXT_UNKNOWN:
        break;
    }
    return "";
}

static bool parse_direction_word(span t, tdm_sdp_direction *d)
{
    if (span_eq(t, "sendrecv"))
        *d = TDM_SDP_SENDRECV;
    else if (span_eq(t, "sendonly"))
        *d = TDM_SDP_SENDONLY;
    else if (span_eq(t, "recvonly"))
        *d = TDM_SDP_RECVONLY;
    else if (span_eq(t, "inactive"))
        *d = TDM_SDP_INACTIVE;
    else
        return false;
    return true;
}

/* RFC 8285 7: extmap:<id>[/<direction>] <uri> [<attributes>] */
static tdm_status parse_extmap(parser *p, const char *v)
{
    tdm_sdp_media *m = p->m;
    const char *r = v;
    span idd = next_tok(&r), uri = next_tok(&r);
    if (uri.n == 0)
        return bad(&p->c, TDM_ERR_FORMAT, "extmap needs '<id>[/<direction>] <uri>'");
    const char *slash = memchr(idd.p, '/', idd.n);
    span id = {idd.p, slash ? (size_t)(slash - idd.p) : idd.n};
    uint32_t u;
    if (!span_u32(id, 255, &u) || u == 0)
        return bad(&p->c, TDM_ERR_FORMAT, "extmap id must be 1..255");
    tdm_sdp_direction dir = TDM_SDP_SENDRECV;
    if (slash) {
        span d = {slash + 1, idd.n - id.n - 1};
        if (!parse_direction_word(d, &dir))
            return bad(&p->c, TDM_ERR_FORMAT, "extmap direction is not a direction");
    }
    for (size_t i = 0; i < m->n_extmaps; i++)
        if (m->extmaps[i].id == u)
            return bad(&p->c, TDM_ERR_FORMAT, "extmap id %u used twice", u);
    if (m->n_extmaps >= TDM_SDP_MAX_EXTMAPS)
        return bad(&p->c, TDM_ERR_RANGE, "more than %d extmaps", TDM_SDP_MAX_EXTMAPS);
    tdm_sdp_extmap *e = &m->extmaps[m->n_extmaps];
    if (!span_copy(uri, e->uri, sizeof e->uri))
        return bad(&p->c, TDM_ERR_FORMAT, "extmap URI longer than %zu bytes", sizeof e->uri - 1);
    e->id = (uint16_t)u;
    e->direction = dir;
    e->known = ext_from_uri(e->uri);
    m->n_extmaps++;
    return TDM_OK;
}

static tdm_status parse_ssrc(parser *p, const char *v)
{
    tdm_sdp_media *m = p->m;
    const char *r = v;
    span id = next_tok(&r);
    uint32_t u;
    if (!span_u32(id, 0xffffffffu, &u) || id.n > 10)
        return bad(&p->c, TDM_ERR_FORMAT, "ssrc must be a 32-bit number");
    while (is_space(*r))
        r++;
    tdm_sdp_ssrc *e = NULL;
    for (size_t i = 0; i < m->n_ssrcs; i++)
        if (m->ssrcs[i].ssrc == u)
            e = &m->ssrcs[i];
    if (!e) {
        if (m->n_ssrcs >= TDM_SDP_MAX_SSRCS) {
            m->ssrcs_dropped++;
            return TDM_OK;
        }
        e = &m->ssrcs[m->n_ssrcs++];
        e->ssrc = u;
    }
    if (strncmp(r, "cname:", 6) == 0) {
        const char *cn = r + 6;
        span t = next_tok(&cn);
        if (!span_copy(t, e->cname, sizeof e->cname) || !token_chars(t.p, t.n))
            return bad(&p->c, TDM_ERR_FORMAT, "ssrc cname must be a token of up to %zu bytes",
                       sizeof e->cname - 1);
    }
    return TDM_OK;
}

static tdm_status parse_group(parser *p, const char *v)
{
    const char *r = v;
    span sem = next_tok(&r);
    if (!span_eq(sem, "BUNDLE") || p->seen_bundle)
        return TDM_OK; /* LS, FID, ... or a second BUNDLE: one transport only */
    p->seen_bundle = true;
    p->bundle_line = p->c.line;
    tdm_sdp_session *s = p->s;
    for (span t = next_tok(&r); t.n; t = next_tok(&r)) {
        if (s->n_bundle >= TDM_SDP_MAX_BUNDLE)
            return bad(&p->c, TDM_ERR_RANGE, "BUNDLE group names more than %d mids",
                       TDM_SDP_MAX_BUNDLE);
        if (!token_chars(t.p, t.n) || !span_copy(t, s->bundle[s->n_bundle], TDM_SDP_MID_MAX + 1))
            return bad(&p->c, TDM_ERR_FORMAT, "BUNDLE mid must be a token of 1..%d bytes",
                       TDM_SDP_MID_MAX);
        for (size_t i = 0; i < s->n_bundle; i++)
            if (strcmp(s->bundle[i], s->bundle[s->n_bundle]) == 0)
                return bad(&p->c, TDM_ERR_FORMAT, "BUNDLE names mid '%s' twice", s->bundle[i]);
        s->n_bundle++;
    }
    return TDM_OK;
}

static tdm_status parse_mid(parser *p, const char *v)
{
    const char *r = v;
    span t = next_tok(&r);
    if (!rest_empty(r) || t.n > TDM_SDP_MID_MAX || !token_chars(t.p, t.n))
        return bad(&p->c, TDM_ERR_FORMAT, "mid must be a token of 1..%d bytes", TDM_SDP_MID_MAX);
    if (p->m->mid[0])
        return bad(&p->c, TDM_ERR_FORMAT, "second mid for one m-line");
    for (size_t i = 0; i + 1 < p->s->n_media; i++)
        if (span_eq(t, p->s->media[i].mid))
            return bad(&p->c, TDM_ERR_FORMAT, "mid '%.*s' used twice", (int)t.n, t.p);
    span_copy(t, p->m->mid, sizeof p->m->mid);
    return TDM_OK;
}

static tdm_status parse_attribute(parser *p, char *text)
{
    char *name, *value;
    split_attr(text, &name, &value);
    tdm_sdp_media *m = p->m;
    tdm_sdp_session *s = p->s;
    tdm_sdp_ice *ice = m ? &m->ice : &s->ice;
    tdm_sdp_dtls *dtls = m ? &m->dtls : &s->dtls;
    span nm = {name, strlen(name)};
    tdm_sdp_direction d;

    if (strcmp(name, "ice-ufrag") == 0)
        return parse_ice_str(&p->c, value, false, ice->ufrag);
    if (strcmp(name, "ice-pwd") == 0)
        return parse_ice_str(&p->c, value, true, ice->pwd);
    if (strcmp(name, "ice-options") == 0) {
        parse_ice_options(value, ice);
        return TDM_OK;
    }
    if (strcmp(name, "fingerprint") == 0)
        return parse_fingerprint(&p->c, value, dtls);
    if (strcmp(name, "setup") == 0)
        return parse_setup(&p->c, value, dtls);
    if (parse_direction_word(nm, &d)) {
        if (m) {
            if (p->direction_set[s->n_media - 1])
                return bad(&p->c, TDM_ERR_FORMAT, "second direction attribute");
            m->direction = d;
            p->direction_set[s->n_media - 1] = true;
        } else {
            p->session_direction = d;
            p->session_direction_set = true;
        }
        return TDM_OK;
    }
    if (strcmp(name, "end-of-candidates") == 0) {
        if (m)
            m->end_of_candidates = true;
        else
            p->session_eoc = true;
        return TDM_OK;
    }
    if (!m) {
        if (strcmp(name, "group") == 0)
            return parse_group(p, value);
        if (strcmp(name, "ice-lite") == 0)
            s->ice_lite = true;
        return TDM_OK;
    }
    if (strcmp(name, "mid") == 0)
        return parse_mid(p, value);
    if (strcmp(name, "rtcp-mux") == 0) {
        m->rtcp_mux = true;
        return TDM_OK;
    }
    if (strcmp(name, "rtcp-rsize") == 0) {
        m->rtcp_rsize = true;
        return TDM_OK;
    }
    if (strcmp(name, "bundle-only") == 0) {
        m->bundle_only = true;
        return TDM_OK;
    }
    if (strcmp(name, "rtpmap") == 0)
        return parse_rtpmap(p, value);
    if (strcmp(name, "fmtp") == 0)
        return parse_fmtp(p, value);
    if (strcmp(name, "rtcp-fb") == 0)
        return parse_rtcp_fb(p, value);
    if (strcmp(name, "extmap") == 0)
        return parse_extmap(p, value);
    if (strcmp(name, "ssrc") == 0)
        return parse_ssrc(p, value);
    if (strcmp(name, "candidate") == 0) {
        tdm_sdp_candidate cand;
        tdm_status st = parse_candidate(&p->c, value, &cand);
        if (st == TDM_AGAIN)
            return TDM_OK;
        if (st != TDM_OK)
            return st;
        if (m->n_candidates >= TDM_SDP_MAX_CANDIDATES)
            m->candidates_dropped++;
        else
            m->candidates[m->n_candidates++] = cand;
        return TDM_OK;
    }
    return TDM_OK; /* unknown attributes are ignored (RFC 8866 5.13) */
}

/* After the last line: session-level defaults flow into each m-line, then
 * the checks that need the whole description. */
static tdm_status finish_offer(parser *p)
{
    tdm_sdp_session *s = p->s;
    for (size_t i = 0; i < s->n_media; i++) {
        tdm_sdp_media *m = &s->media[i];
        for (size_t k = 0; k < m->n_codecs; k++)
            m->codecs[k].feedback |= p->wildcard_fb[i];
        if (!m->ice.ufrag[0])
            memcpy(m->ice.ufrag, s->ice.ufrag, sizeof m->ice.ufrag);
        if (!m->ice.pwd[0])
            memcpy(m->ice.pwd, s->ice.pwd, sizeof m->ice.pwd);
        m->ice.trickle = m->ice.trickle || s->ice.trickle;
        if (!m->dtls.has_fingerprint && s->dtls.has_fingerprint) {
            m->dtls.has_fingerprint = true;
            memcpy(m->dtls.fingerprint, s->dtls.fingerprint, sizeof m->dtls.fingerprint);
        }
        if (m->dtls.setup == TDM_SDP_SETUP_NONE)
            m->dtls.setup = s->dtls.setup;
        if (!p->direction_set[i] && p->session_direction_set)
            m->direction = p->session_direction;
        if (p->session_eoc)
            m->end_of_candidates = true;

        if ((m->port == 0 && !m->bundle_only) || !is_dtls_proto(m->proto))
            continue;
        p->c.line = m->line;
        if (!m->ice.ufrag[0])
            return bad(&p->c, TDM_ERR_FORMAT, "m-line has no a=ice-ufrag (media or session)");
        if (!m->ice.pwd[0])
            return bad(&p->c, TDM_ERR_FORMAT, "m-line has no a=ice-pwd (media or session)");
        if (!m->dtls.has_fingerprint)
            return bad(&p->c, TDM_ERR_FORMAT, "m-line has no sha-256 a=fingerprint");
    }
    for (size_t b = 0; b < s->n_bundle; b++) {
        bool found = false;
        for (size_t i = 0; i < s->n_media && !found; i++)
            found = strcmp(s->media[i].mid, s->bundle[b]) == 0;
        if (!found) {
            p->c.line = p->bundle_line;
            return bad(&p->c, TDM_ERR_FORMAT, "BUNDLE names mid '%s' that no m-line has",
                       s->bundle[b]);
        }
    }
    return TDM_OK;
}

tdm_sdp_session *tdm_sdp_new(void) { return calloc(1, sizeof(tdm_sdp_session)); }

void tdm_sdp_free(tdm_sdp_session *s) { free(s); }

tdm_status tdm_sdp_parse(const uint8_t *sdp, size_t len, tdm_sdp_session *out, tdm_error *err)
{
    if (!sdp || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_parse: NULL argument");
    memset(out, 0, sizeof *out);
    if (len > TDM_SDP_MAX_BYTES)
        return tdm_fail(err, TDM_ERR_RANGE, "SDP of %zu bytes exceeds %d", len,
                        TDM_SDP_MAX_BYTES);
    /* ~4 KiB of line buffer: static storage would not be thread-safe, and
     * the workers' stacks have room for it. */
    lines l = {.buf = sdp, .len = len};
    parser p = {.c = {.err = err}, .s = out};
    bool first = true;
    tdm_status st;
    while ((st = next_line(&l, err)) == TDM_OK) {
        p.c.line = l.lineno;
        char type = l.text[0];
        const char *v = l.text + 2;
        if (first) {
            if (type != 'v' || strcmp(v, "0") != 0)
                return bad(&p.c, TDM_ERR_FORMAT, "SDP must start with v=0");
            first = false;
            continue;
        }
        switch (type) {
        case 'v':
            return bad(&p.c, TDM_ERR_FORMAT, "second v= line");
        case 'o': {
            if (p.m)
                return bad(&p.c, TDM_ERR_FORMAT, "o= inside a media section");
            const char *r = v;
            span t[6];
            for (int i = 0; i < 6; i++)
                t[i] = next_tok(&r);
            if (t[5].n == 0 || !rest_empty(r) || !span_u64(t[1], UINT64_MAX, &out->origin_session_id))
                return bad(&p.c, TDM_ERR_FORMAT,
                           "o= needs '<user> <sess-id> <version> <nettype> <addrtype> <address>'");
            break;
        }
        case 'm':
            st = parse_m_line(&p, v);
            if (st != TDM_OK)
                return st;
            break;
        case 'a':
            st = parse_attribute(&p, l.text);
            if (st != TDM_OK)
                return st;
            break;
        default:
            break; /* s, i, u, e, p, c, b, t, r, z, k: nothing the relay uses */
        }
    }
    if (st != TDM_EOF)
        return st;
    if (first)
        return tdm_fail(err, TDM_ERR_FORMAT, "line 1: empty SDP");
    return finish_offer(&p);
}

/* ------------------------------------------------------------------ */
/* writer                                                              */

typedef struct writer {
    char *buf;
    size_t cap, len;
    bool overflow;
} writer;

static void w_fmt(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void w_fmt(writer *w, const char *fmt, ...)
{
    if (w->overflow)
        return;
    size_t room = w->cap - w->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->buf + w->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        w->overflow = true;
        return;
    }
    w->len += (size_t)n;
}

static const char *const cand_type_names[] = {"host", "srflx", "prflx", "relay"};
static const char *const tcptype_names[] = {"", "active", "passive", "so"};

static void w_candidate(writer *w, const tdm_sdp_candidate *c)
{
    w_fmt(w, "a=candidate:%s %u %s %u %s %u typ %s", c->foundation, c->component,
          c->transport == TDM_SDP_TCP ? "tcp" : "udp", c->priority, c->address, c->port,
          cand_type_names[c->type]);
    if (c->has_raddr)
        w_fmt(w, " raddr %s rport %u", c->raddr, c->rport);
    if (c->transport == TDM_SDP_TCP && c->tcptype != TDM_SDP_TCPTYPE_NONE)
        w_fmt(w, " tcptype %s", tcptype_names[c->tcptype]);
    w_fmt(w, "\r\n");
}

static bool candidate_ok(const tdm_sdp_candidate *c)
{
    size_t fl = strnlen(c->foundation, sizeof c->foundation);
    size_t al = strnlen(c->address, sizeof c->address);
    size_t rl = strnlen(c->raddr, sizeof c->raddr);
    return fl > 0 && fl < sizeof c->foundation && ice_chars(c->foundation, fl) &&
           al < sizeof c->address && addr_chars(c->address, al) && c->component >= 1 &&
           c->component <= 256 && (unsigned)c->type <= TDM_SDP_CAND_RELAY &&
           (unsigned)c->transport <= TDM_SDP_TCP && (unsigned)c->tcptype <= TDM_SDP_TCPTYPE_SO &&
           (!c->has_raddr || (rl < sizeof c->raddr && addr_chars(c->raddr, rl)));
}

static tdm_status w_finish(writer *w, size_t *out_len, tdm_error *err)
{
    if (w->overflow || w->len >= w->cap)
        return tdm_fail(err, TDM_ERR_RANGE, "output buffer of %zu bytes is too small", w->cap);
    w->buf[w->len] = '\0';
    if (out_len)
        *out_len = w->len;
    return TDM_OK;
}

/* ------------------------------------------------------------------ */
/* answer                                                              */

tdm_sdp_setup tdm_sdp_answer_setup(tdm_sdp_setup offered)
{
    switch (offered) {
    case TDM_SDP_SETUP_NONE: /* RFC 4145 4: absent means active */
    case TDM_SDP_SETUP_ACTPASS:
    case TDM_SDP_SETUP_ACTIVE:
        return TDM_SDP_SETUP_PASSIVE;
    case TDM_SDP_SETUP_PASSIVE:
        return TDM_SDP_SETUP_ACTIVE;
    case TDM_SDP_SETUP_HOLDCONN:
        break;
    }
    return TDM_SDP_SETUP_NONE;
}

/* Which of our codecs a payload type is, if any. */
static bool codec_of(const tdm_sdp_media *m, const tdm_sdp_codec *c, unsigned allowed,
                     tdm_codec *which)
{
    if (!c->has_rtpmap)
        return false;
    tdm_codec k;
    if (m->kind == TDM_SDP_MEDIA_AUDIO && strcasecmp(c->encoding, "opus") == 0 &&
        c->clock_hz == TDM_OPUS_CLOCK_HZ && c->channels == 2)
        k = TDM_CODEC_OPUS; /* RFC 7587 7: always written opus/48000/2 */
    else if (m->kind == TDM_SDP_MEDIA_VIDEO && strcasecmp(c->encoding, "VP8") == 0 &&
             c->clock_hz == TDM_VIDEO_CLOCK_HZ)
        k = TDM_CODEC_VP8;
    else if (m->kind == TDM_SDP_MEDIA_VIDEO && strcasecmp(c->encoding, "VP9") == 0 &&
             c->clock_hz == TDM_VIDEO_CLOCK_HZ && c->vp9_profile <= 0)
        k = TDM_CODEC_VP9; /* profile 0 only: 8-bit 4:2:0, what the encoder makes */
    else
        return false;
    if (!(allowed & TDM_SDP_CODEC_BIT(k)))
        return false;
    *which = k;
    return true;
}

static bool proto_supported(const char *proto)
{
    return strcmp(proto, "UDP/TLS/RTP/SAVPF") == 0 || strcmp(proto, "TCP/DTLS/RTP/SAVPF") == 0;
}

static bool media_acceptable(const tdm_sdp_media *m, unsigned codecs)
{
    if (m->kind == TDM_SDP_MEDIA_OTHER || !proto_supported(m->proto) || !m->rtcp_mux)
        return false;
    if (m->port == 0 && !m->bundle_only)
        return false; /* the offerer itself disabled it */
    if (!m->ice.ufrag[0] || !m->ice.pwd[0] || !m->dtls.has_fingerprint)
        return false;
    for (size_t k = 0; k < m->n_codecs; k++) {
        tdm_codec which;
        if (codec_of(m, &m->codecs[k], codecs, &which))
            return true;
    }
    return false;
}

static size_t bundle_index(const tdm_sdp_session *s, const char *mid)
{
    for (size_t b = 0; b < s->n_bundle; b++)
        if (mid[0] && strcmp(s->bundle[b], mid) == 0)
            return b;
    return SIZE_MAX;
}

static tdm_sdp_direction answer_direction(tdm_sdp_direction offered, tdm_sdp_role role)
{
    if (role == TDM_SDP_ROLE_PUBLISH)
        return offered == TDM_SDP_SENDRECV || offered == TDM_SDP_SENDONLY ? TDM_SDP_RECVONLY
                                                                          : TDM_SDP_INACTIVE;
    return offered == TDM_SDP_SENDRECV || offered == TDM_SDP_RECVONLY ? TDM_SDP_SENDONLY
                                                                      : TDM_SDP_INACTIVE;
}

static bool cstr_ok(const char *s, size_t min, size_t max, bool ice)
{
    if (!s)
        return false;
    size_t n = strnlen(s, max + 1);
    if (n < min || n > max)
        return false;
    return ice ? ice_chars(s, n) : token_chars(s, n);
}

static void w_accepted(writer *w, const tdm_sdp_media *m, const tdm_sdp_local *local,
                       tdm_sdp_role role, tdm_sdp_direction dir, tdm_sdp_setup setup,
                       bool transport)
{
    w_fmt(w, "m=%s 9 %s", m->kind_name, m->proto);
    for (size_t k = 0; k < m->n_codecs; k++) {
        tdm_codec which;
        if (codec_of(m, &m->codecs[k], local->codecs, &which))
            w_fmt(w, " %u", m->codecs[k].pt);
    }
    w_fmt(w, "\r\nc=IN IP4 0.0.0.0\r\n");
    if (m->mid[0])
        w_fmt(w, "a=mid:%s\r\n", m->mid);
    w_fmt(w, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 ", local->ice_ufrag,
          local->ice_pwd);
    for (size_t i = 0; i < TDM_SDP_FINGERPRINT_LEN; i++)
        w_fmt(w, "%02X%s", local->fingerprint[i], i + 1 < TDM_SDP_FINGERPRINT_LEN ? ":" : "");
    w_fmt(w, "\r\na=setup:%s\r\na=%s\r\na=rtcp-mux\r\n", tdm_sdp_setup_name(setup),
          tdm_sdp_direction_name(dir));
    for (size_t i = 0; i < m->n_extmaps; i++) {
        const tdm_sdp_extmap *e = &m->extmaps[i];
        if (!(e->known & local->extensions))
            continue;
        /* A direction on an extmap is the offerer's; the answer mirrors it. */
        const char *d = e->direction == TDM_SDP_SENDONLY   ? "/recvonly"
                        : e->direction == TDM_SDP_RECVONLY ? "/sendonly"
                        : e->direction == TDM_SDP_INACTIVE ? "/inactive"
                                                           : "";
        w_fmt(w, "a=extmap:%u%s %s\r\n", e->id, d, ext_uri(e->known));
    }
    for (size_t k = 0; k < m->n_codecs; k++) {
        const tdm_sdp_codec *c = &m->codecs[k];
        tdm_codec which;
        if (!codec_of(m, c, local->codecs, &which))
            continue;
        if (which == TDM_CODEC_OPUS)
            w_fmt(w, "a=rtpmap:%u %s/%u/2\r\n", c->pt, c->encoding, c->clock_hz);
        else
            w_fmt(w, "a=rtpmap:%u %s/%u\r\n", c->pt, c->encoding, c->clock_hz);
        unsigned fb = c->feedback & TDM_SDP_FB_SUPPORTED;
        if (fb & TDM_SDP_FB_GOOG_REMB)
            w_fmt(w, "a=rtcp-fb:%u goog-remb\r\n", c->pt);
        if (fb & TDM_SDP_FB_CCM_FIR)
            w_fmt(w, "a=rtcp-fb:%u ccm fir\r\n", c->pt);
        if (fb & TDM_SDP_FB_NACK)
            w_fmt(w, "a=rtcp-fb:%u nack\r\n", c->pt);
        if (fb & TDM_SDP_FB_NACK_PLI)
            w_fmt(w, "a=rtcp-fb:%u nack pli\r\n", c->pt);
        if (which == TDM_CODEC_VP9 && c->vp9_profile == 0)
            w_fmt(w, "a=fmtp:%u profile-id=0\r\n", c->pt);
        if (which == TDM_CODEC_OPUS && (c->opus_inband_fec || c->opus_stereo))
            w_fmt(w, "a=fmtp:%u minptime=10%s%s\r\n", c->pt,
                  c->opus_inband_fec ? ";useinbandfec=1" : "", c->opus_stereo ? ";stereo=1" : "");
    }
    uint32_t ssrc = m->kind == TDM_SDP_MEDIA_AUDIO ? local->ssrc_audio : local->ssrc_video;
    if (role == TDM_SDP_ROLE_SUBSCRIBE && dir == TDM_SDP_SENDONLY && ssrc != 0) {
        const char *cname = local->cname ? local->cname : "tandem";
        if (local->msid_stream)
            w_fmt(w, "a=msid:%s %s\r\n", local->msid_stream, m->kind_name);
        w_fmt(w, "a=ssrc:%u cname:%s\r\n", ssrc, cname);
    }
    if (transport) {
        for (size_t i = 0; i < local->n_candidates; i++)
            w_candidate(w, &local->candidates[i]);
        if (local->candidates_complete)
            w_fmt(w, "a=end-of-candidates\r\n");
    }
}

tdm_status tdm_sdp_answer(const tdm_sdp_session *offer, const tdm_sdp_local *local,
                          tdm_sdp_role role, char *out, size_t cap, size_t *out_len,
                          tdm_sdp_answer_info *info, tdm_error *err)
{
    if (!offer || !local || !out || cap == 0)
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_answer: NULL argument");
    if (role != TDM_SDP_ROLE_PUBLISH && role != TDM_SDP_ROLE_SUBSCRIBE)
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_answer: unknown role");
    if (!cstr_ok(local->ice_ufrag, 4, TDM_SDP_ICE_STR_MAX, true) ||
        !cstr_ok(local->ice_pwd, 22, TDM_SDP_ICE_STR_MAX, true))
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_answer: local ICE credentials malformed");
    if ((local->cname && !cstr_ok(local->cname, 1, 63, false)) ||
        (local->msid_stream && !cstr_ok(local->msid_stream, 1, 64, false)))
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_answer: cname or msid is not a token");
    if (local->n_candidates && !local->candidates)
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_answer: candidates missing");
    for (size_t i = 0; i < local->n_candidates; i++)
        if (!candidate_ok(&local->candidates[i]))
            return tdm_fail(err, TDM_ERR_INVALID, "sdp_answer: local candidate %zu malformed", i);
    if (offer->n_media > TDM_SDP_MAX_MEDIA || offer->n_bundle > TDM_SDP_MAX_BUNDLE)
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_answer: offer struct is corrupt");

    tdm_sdp_answer_info inf;
    memset(&inf, 0, sizeof inf);
    inf.transport_media = -1;
    size_t best_bundle = SIZE_MAX;
    for (size_t i = 0; i < offer->n_media; i++) {
        const tdm_sdp_media *m = &offer->media[i];
        bool ok = media_acceptable(m, local->codecs);
        if (ok && offer->n_bundle) {
            size_t b = bundle_index(offer, m->mid);
            ok = b != SIZE_MAX;
            /* The answerer-tagged m-line is the first accepted mid in the
             * group's order (RFC 8843 7.3.1). */
            if (ok && b < best_bundle) {
                best_bundle = b;
                inf.transport_media = (int)i;
            }
        } else if (ok && inf.n_accepted > 0) {
            ok = false; /* no BUNDLE: one transport, so one m-line */
        } else if (ok) {
            inf.transport_media = (int)i;
        }
        inf.accepted[i] = ok;
        if (ok) {
            inf.n_accepted++;
            inf.direction[i] = answer_direction(m->direction, role);
        } else {
            inf.direction[i] = TDM_SDP_INACTIVE;
        }
    }
    if (inf.n_accepted == 0)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                        "offer has no usable media (need audio or video over UDP/TLS/RTP/SAVPF "
                        "with rtcp-mux and VP8, VP9 or Opus)");
    const tdm_sdp_media *tm = &offer->media[inf.transport_media];
    inf.setup = tdm_sdp_answer_setup(tm->dtls.setup);
    if (inf.setup == TDM_SDP_SETUP_NONE)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED, "offer asks for setup:holdconn");

    writer w = {.buf = out, .cap = cap};
    w_fmt(&w, "v=0\r\no=- %llu 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",
          (unsigned long long)(local->session_id & INT64_MAX));
    if (offer->n_bundle) {
        w_fmt(&w, "a=group:BUNDLE");
        for (size_t b = 0; b < offer->n_bundle; b++)
            for (size_t i = 0; i < offer->n_media; i++)
                if (inf.accepted[i] && strcmp(offer->media[i].mid, offer->bundle[b]) == 0)
                    w_fmt(&w, " %s", offer->media[i].mid);
        w_fmt(&w, "\r\n");
    }
    for (size_t i = 0; i < offer->n_media; i++) {
        const tdm_sdp_media *m = &offer->media[i];
        if (inf.accepted[i]) {
            w_accepted(&w, m, local, role, inf.direction[i], inf.setup,
                       (int)i == inf.transport_media);
            continue;
        }
        /* JSEP 5.3.1: a rejected m-line keeps media, proto and a format,
         * with port 0, and its mid so the offerer can match it. */
        w_fmt(&w, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\n", m->kind_name, m->proto,
              m->first_fmt[0] ? m->first_fmt : "0");
        if (m->mid[0])
            w_fmt(&w, "a=mid:%s\r\n", m->mid);
        w_fmt(&w, "a=inactive\r\n");
    }
    tdm_status st = w_finish(&w, out_len, err);
    if (st == TDM_OK && info)
        *info = inf;
    return st;
}

/* ------------------------------------------------------------------ */
/* trickle fragments                                                   */

tdm_status tdm_sdp_frag_parse(const uint8_t *sdp, size_t len, tdm_sdp_frag *out, tdm_error *err)
{
    if (!sdp || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_frag_parse: NULL argument");
    memset(out, 0, sizeof *out);
    if (len > TDM_SDP_MAX_BYTES)
        return tdm_fail(err, TDM_ERR_RANGE, "fragment of %zu bytes exceeds %d", len,
                        TDM_SDP_MAX_BYTES);
    lines l = {.buf = sdp, .len = len};
    ctx c = {.err = err};
    bool in_media = false;
    tdm_status st;
    while ((st = next_line(&l, err)) == TDM_OK) {
        c.line = l.lineno;
        if (l.text[0] == 'm') {
            if (out->n_mids >= TDM_SDP_MAX_MEDIA)
                return bad(&c, TDM_ERR_RANGE, "more than %d m-lines", TDM_SDP_MAX_MEDIA);
            const char *r = l.text + 2;
            span kind = next_tok(&r), port = next_tok(&r), proto = next_tok(&r);
            if (kind.n == 0 || port.n == 0 || proto.n == 0)
                return bad(&c, TDM_ERR_FORMAT, "m-line needs '<media> <port> <proto> <fmt>'");
            out->mids[out->n_mids++][0] = '\0';
            in_media = true;
            continue;
        }
        if (l.text[0] != 'a')
            continue;
        char *name, *value;
        split_attr(l.text, &name, &value);
        if (strcmp(name, "ice-ufrag") == 0 || strcmp(name, "ice-pwd") == 0) {
            bool pwd = name[4] == 'p';
            char tmp[TDM_SDP_ICE_STR_MAX + 1] = "";
            st = parse_ice_str(&c, value, pwd, tmp);
            if (st != TDM_OK)
                return st;
            /* With BUNDLE each m-line repeats the same credentials. */
            char *dst = pwd ? out->ice.pwd : out->ice.ufrag;
            if (dst[0] && strcmp(dst, tmp) != 0)
                return bad(&c, TDM_ERR_FORMAT, "conflicting %s", name);
            memcpy(dst, tmp, sizeof tmp);
        } else if (strcmp(name, "ice-options") == 0) {
            parse_ice_options(value, &out->ice);
        } else if (strcmp(name, "end-of-candidates") == 0) {
            out->end_of_candidates = true;
        } else if (strcmp(name, "mid") == 0 && in_media) {
            const char *r = value;
            span t = next_tok(&r);
            char *dst = out->mids[out->n_mids - 1];
            if (!rest_empty(r) || t.n > TDM_SDP_MID_MAX || !token_chars(t.p, t.n))
                return bad(&c, TDM_ERR_FORMAT, "mid must be a token of 1..%d bytes",
                           TDM_SDP_MID_MAX);
            span_copy(t, dst, TDM_SDP_MID_MAX + 1);
        } else if (strcmp(name, "candidate") == 0) {
            if (!in_media)
                return bad(&c, TDM_ERR_FORMAT, "candidate before any m= line");
            tdm_sdp_candidate cand;
            st = parse_candidate(&c, value, &cand);
            if (st == TDM_AGAIN)
                continue;
            if (st != TDM_OK)
                return st;
            if (out->n_candidates >= TDM_SDP_FRAG_MAX_CANDIDATES) {
                out->candidates_dropped++;
                continue;
            }
            out->candidates[out->n_candidates].media = out->n_mids - 1;
            out->candidates[out->n_candidates].c = cand;
            out->n_candidates++;
        }
    }
    return st == TDM_EOF ? TDM_OK : st;
}

bool tdm_sdp_frag_is_restart(const tdm_sdp_frag *frag, const char *current_ufrag,
                             const char *current_pwd)
{
    if (!frag || !frag->ice.ufrag[0])
        return false;
    if (!current_ufrag || strcmp(frag->ice.ufrag, current_ufrag) != 0)
        return true;
    return frag->ice.pwd[0] && (!current_pwd || strcmp(frag->ice.pwd, current_pwd) != 0);
}

tdm_status tdm_sdp_frag_write(const char *ufrag, const char *pwd, const char *kind_name,
                              const char *mid, const tdm_sdp_candidate *cands, size_t n,
                              bool complete, char *out, size_t cap, size_t *out_len,
                              tdm_error *err)
{
    if (!out || cap == 0 || (n && !cands) || !cstr_ok(kind_name, 1, 15, false) ||
        !cstr_ok(mid, 1, TDM_SDP_MID_MAX, false))
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_frag_write: bad argument");
    if ((ufrag && ufrag[0] && !cstr_ok(ufrag, 4, TDM_SDP_ICE_STR_MAX, true)) ||
        (pwd && pwd[0] && !cstr_ok(pwd, 22, TDM_SDP_ICE_STR_MAX, true)))
        return tdm_fail(err, TDM_ERR_INVALID, "sdp_frag_write: ICE credentials malformed");
    for (size_t i = 0; i < n; i++)
        if (!candidate_ok(&cands[i]))
            return tdm_fail(err, TDM_ERR_INVALID, "sdp_frag_write: candidate %zu malformed", i);
    writer w = {.buf = out, .cap = cap};
    if (ufrag && ufrag[0])
        w_fmt(&w, "a=ice-ufrag:%s\r\n", ufrag);
    if (pwd && pwd[0])
        w_fmt(&w, "a=ice-pwd:%s\r\n", pwd);
    w_fmt(&w, "m=%s 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:%s\r\n", kind_name, mid);
    for (size_t i = 0; i < n; i++)
        w_candidate(&w, &cands[i]);
    if (complete)
        w_fmt(&w, "a=end-of-candidates\r\n");
    return w_finish(&w, out_len, err);
}

/* ------------------------------------------------------------------ */

const char *tdm_sdp_direction_name(tdm_sdp_direction d)
{
    switch (d) {
    case TDM_SDP_SENDRECV:
        return "sendrecv";
    case TDM_SDP_SENDONLY:
        return "sendonly";
    case TDM_SDP_RECVONLY:
        return "recvonly";
    case TDM_SDP_INACTIVE:
        return "inactive";
    }
    return "unknown";
}

const char *tdm_sdp_setup_name(tdm_sdp_setup s)
{
    switch (s) {
    case TDM_SDP_SETUP_NONE:
        return "none";
    case TDM_SDP_SETUP_ACTPASS:
        return "actpass";
    case TDM_SDP_SETUP_ACTIVE:
        return "active";
    case TDM_SDP_SETUP_PASSIVE:
        return "passive";
    case TDM_SDP_SETUP_HOLDCONN:
        return "holdconn";
    }
    return "unknown";
}

const char *tdm_sdp_cand_type_name(tdm_sdp_cand_type t)
{
    return (unsigned)t <= TDM_SDP_CAND_RELAY ? cand_type_names[t] : "unknown";
}
