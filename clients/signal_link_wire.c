/* signal_link_wire.c: URL, HTTP head, chunked body and WebSocket frame
 * parsing for signal_link (see the header). */
#include "signal_link_wire.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#define HEAD_MAX 16384

/* ---- base URL ---------------------------------------------------------- */

tdm_status tdm_link_url_parse(const char *url, tdm_link_url *out, tdm_error *err)
{
    memset(out, 0, sizeof *out);
    if (!url)
        return tdm_fail(err, TDM_ERR_INVALID, "no URL given");
    static const char scheme[] = "http://";
    if (strncasecmp(url, scheme, sizeof scheme - 1) != 0) {
        if (strncasecmp(url, "https://", 8) == 0)
            return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                            "'%s': https is not supported; use the service's http:// address",
                            url);
        return tdm_fail(err, TDM_ERR_INVALID, "'%s': expected http://HOST:PORT", url);
    }
    const char *p = url + sizeof scheme - 1;
    size_t auth_len = strcspn(p, "/?#");
    const char *rest = p + auth_len;
    if (*rest == '?' || *rest == '#' || strpbrk(rest, "?#"))
        return tdm_fail(err, TDM_ERR_INVALID, "'%s': a base URL has no query or fragment", url);
    if (memchr(p, '@', auth_len))
        return tdm_fail(err, TDM_ERR_INVALID, "'%s': user names in URLs are not supported",
                        url);
    const char *host = p, *host_end, *port_s = NULL;
    if (*p == '[') {
        const char *close = memchr(p, ']', auth_len);
        if (!close)
            return tdm_fail(err, TDM_ERR_INVALID, "'%s': unclosed '[' in host", url);
        host = p + 1;
        host_end = close;
        out->ipv6_literal = true;
        if (close + 1 < rest) {
            if (close[1] != ':')
                return tdm_fail(err, TDM_ERR_INVALID, "'%s': junk after ']'", url);
            port_s = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', auth_len);
        host_end = colon ? colon : rest;
        if (colon)
            port_s = colon + 1;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0)
        return tdm_fail(err, TDM_ERR_INVALID, "'%s': no host", url);
    if (hlen >= sizeof out->host)
        return tdm_fail(err, TDM_ERR_RANGE, "'%s': host name too long", url);
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)host[i];
        bool ok = isalnum(c) || c == '-' || c == '.' || c == '_' ||
                  (out->ipv6_literal && (c == ':' || c == '%'));
        if (!ok)
            return tdm_fail(err, TDM_ERR_INVALID, "'%s': bad character in host", url);
    }
    memcpy(out->host, host, hlen);
    out->port = 80;
    if (port_s) {
        size_t plen = (size_t)(rest - port_s);
        if (plen == 0 || plen > 5)
            return tdm_fail(err, TDM_ERR_INVALID, "'%s': bad port", url);
        unsigned v = 0;
        for (size_t i = 0; i < plen; i++) {
            if (!isdigit((unsigned char)port_s[i]))
                return tdm_fail(err, TDM_ERR_INVALID, "'%s': bad port", url);
            v = v * 10 + (unsigned)(port_s[i] - '0');
        }
        if (v == 0 || v > 65535)
            return tdm_fail(err, TDM_ERR_RANGE, "'%s': port out of range", url);
        out->port = (uint16_t)v;
    }
    size_t rlen = strlen(rest);
    while (rlen && rest[rlen - 1] == '/')
        rlen--;
    if (rlen >= sizeof out->prefix)
        return tdm_fail(err, TDM_ERR_RANGE, "'%s': path too long", url);
    for (size_t i = 0; i < rlen; i++) {
        unsigned char c = (unsigned char)rest[i];
        if (c <= 0x20 || c >= 0x7f)
            return tdm_fail(err, TDM_ERR_INVALID, "'%s': bad character in path", url);
    }
    memcpy(out->prefix, rest, rlen);
    return TDM_OK;
}

/* ---- HTTP response head ------------------------------------------------ */

static const char *find_crlfcrlf(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return (const char *)buf + i;
    return NULL;
}

static bool token_in_list(const char *v, size_t vlen, const char *tok)
{
    size_t tlen = strlen(tok);
    size_t i = 0;
    while (i < vlen) {
        while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < vlen && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tlen && strncasecmp(v + s, tok, tlen) == 0)
            return true;
    }
    return false;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t vlen)
{
    if (vlen >= cap)
        vlen = cap - 1;
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
}

tdm_status tdm_http_head_parse(const uint8_t *buf, size_t len, tdm_http_head *out,
                               tdm_error *err)
{
    memset(out, 0, sizeof *out);
    out->content_length = -1;
    size_t scan = len < HEAD_MAX ? len : HEAD_MAX;
    const char *end = find_crlfcrlf(buf, scan);
    if (!end) {
        if (len >= HEAD_MAX)
            return tdm_fail(err, TDM_ERR_FORMAT, "response head over %d bytes", HEAD_MAX);
        /* A peer that is not HTTP at all is told apart early. */
        size_t n = len < 5 ? len : 5;
        if (memcmp(buf, "HTTP/", n) != 0)
            return tdm_fail(err, TDM_ERR_FORMAT, "not an HTTP response");
        return TDM_AGAIN;
    }
    const char *s = (const char *)buf;
    out->head_len = (size_t)(end - s) + 4;
    const char *line_end = memchr(s, '\r', (size_t)(end - s) + 1);
    size_t l = (size_t)(line_end - s);
    /* "HTTP/1.x SSS[ reason]" */
    if (l < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ' ||
        !isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) ||
        !isdigit((unsigned char)s[11]) || (l > 12 && s[12] != ' '))
        return tdm_fail(err, TDM_ERR_FORMAT, "bad HTTP status line");
    out->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    if (out->status < 100 || out->status > 599)
        return tdm_fail(err, TDM_ERR_FORMAT, "HTTP status %d out of range", out->status);
    const char *p = line_end + 2;
    while (p < end + 2) {
        const char *e = memchr(p, '\r', (size_t)(end + 2 - p));
        if (!e || e[1] != '\n')
            return tdm_fail(err, TDM_ERR_FORMAT, "header line without CRLF");
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (!colon || colon == p)
            return tdm_fail(err, TDM_ERR_FORMAT, "header line without a name");
        for (const char *q = p; q < colon; q++)
            if (*q <= 0x20 || *q >= 0x7f)
                return tdm_fail(err, TDM_ERR_FORMAT, "bad header name");
        size_t nlen = (size_t)(colon - p);
        const char *v = colon + 1;
        while (v < e && (*v == ' ' || *v == '\t'))
            v++;
        const char *ve = e;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vlen = (size_t)(ve - v);
#define IS(name) (nlen == sizeof(name) - 1 && strncasecmp(p, name, nlen) == 0)
        if (IS("Content-Length")) {
            if (vlen == 0 || vlen > 15)
                return tdm_fail(err, TDM_ERR_FORMAT, "bad Content-Length");
            long long cl = 0;
            for (size_t i = 0; i < vlen; i++) {
                if (!isdigit((unsigned char)v[i]))
                    return tdm_fail(err, TDM_ERR_FORMAT, "bad Content-Length");
                cl = cl * 10 + (v[i] - '0');
            }
            if (out->content_length >= 0 && out->content_length != cl)
                return tdm_fail(err, TDM_ERR_FORMAT, "conflicting Content-Length headers");
            out->content_length = cl;
        } else if (IS("Transfer-Encoding")) {
            if (vlen == 7 && strncasecmp(v, "chunked", 7) == 0)
                out->chunked = true;
            else if (!(vlen == 8 && strncasecmp(v, "identity", 8) == 0))
                return tdm_fail(err, TDM_ERR_FORMAT, "unsupported Transfer-Encoding");
        } else if (IS("Upgrade")) {
            out->upgrade_websocket = token_in_list(v, vlen, "websocket");
        } else if (IS("Connection")) {
            if (token_in_list(v, vlen, "upgrade"))
                out->connection_upgrade = true;
        } else if (IS("Sec-WebSocket-Accept")) {
            copy_value(out->ws_accept, sizeof out->ws_accept, v, vlen);
        } else if (IS("Sec-WebSocket-Protocol")) {
            copy_value(out->ws_protocol, sizeof out->ws_protocol, v, vlen);
        }
#undef IS
        p = e + 2;
    }
    if (out->chunked)
        out->content_length = -1; /* RFC 9112 6.3: chunked wins */
    return TDM_OK;
}

/* One pass over the chunks; with write false it only checks, so a TDM_AGAIN
 * leaves buf untouched for the next call with more bytes. */
static tdm_status dechunk_pass(uint8_t *buf, size_t len, size_t max_body, size_t *out_len,
                               tdm_error *err, bool write)
{
    size_t rd = 0, wr = 0;
    for (;;) {
        /* chunk-size [; ext] CRLF */
        size_t i = rd;
        uint64_t size = 0;
        int digits = 0;
        while (i < len && isxdigit(buf[i])) {
            if (++digits > 15)
                return tdm_fail(err, TDM_ERR_FORMAT, "chunk size too long");
            int c = buf[i];
            size = size * 16 + (uint64_t)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
            i++;
        }
        if (i == len)
            return TDM_AGAIN;
        if (digits == 0)
            return tdm_fail(err, TDM_ERR_FORMAT, "bad chunk size");
        while (i < len && buf[i] != '\r') {
            if (buf[i] == '\n')
                return tdm_fail(err, TDM_ERR_FORMAT, "bare LF in chunk header");
            i++;
        }
        if (i + 1 >= len)
            return TDM_AGAIN;
        if (buf[i + 1] != '\n')
            return tdm_fail(err, TDM_ERR_FORMAT, "chunk header without CRLF");
        i += 2;
        if (size == 0) {
            /* trailers, ending with an empty line */
            for (;;) {
                if (i + 1 >= len)
                    return TDM_AGAIN;
                if (buf[i] == '\r' && buf[i + 1] == '\n') {
                    *out_len = wr;
                    return TDM_OK;
                }
                const uint8_t *nl = memchr(buf + i, '\n', len - i);
                if (!nl)
                    return TDM_AGAIN;
                i = (size_t)(nl - buf) + 1;
            }
        }
        if (size > max_body || wr + size > max_body)
            return tdm_fail(err, TDM_ERR_RANGE, "chunked body over %zu bytes", max_body);
        if (len - i < size + 2)
            return TDM_AGAIN;
        if (buf[i + size] != '\r' || buf[i + size + 1] != '\n')
            return tdm_fail(err, TDM_ERR_FORMAT, "chunk data without CRLF");
        if (write) /* down only: wr <= i */
            memmove(buf + wr, buf + i, (size_t)size);
        wr += (size_t)size;
        rd = i + (size_t)size + 2;
    }
}

tdm_status tdm_http_dechunk(uint8_t *buf, size_t len, size_t max_body, size_t *out_len,
                            tdm_error *err)
{
    size_t n = 0;
    tdm_status st = dechunk_pass(buf, len, max_body, &n, err, false);
    if (st != TDM_OK)
        return st;
    return dechunk_pass(buf, len, max_body, out_len, err, true);
}

/* ---- WebSocket --------------------------------------------------------- */

void tdm_ws_accept_for(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[SHA_DIGEST_LENGTH];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int dlen = 0;
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, key, strlen(key)) != 1 ||
        EVP_DigestUpdate(ctx, guid, sizeof guid - 1) != 1 ||
        EVP_DigestFinal_ex(ctx, digest, &dlen) != 1) {
        /* No SHA-1 means no handshake can match: an empty value fails it. */
        out[0] = '\0';
        EVP_MD_CTX_free(ctx);
        return;
    }
    EVP_MD_CTX_free(ctx);
    EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
    out[28] = '\0';
}

tdm_status tdm_ws_frame_parse(const uint8_t *buf, size_t len, uint64_t max_payload,
                              tdm_ws_frame *out, tdm_error *err)
{
    memset(out, 0, sizeof *out);
    if (len < 2)
        return TDM_AGAIN;
    if (buf[0] & 0x70)
        return tdm_fail(err, TDM_ERR_FORMAT, "WebSocket frame with reserved bits set");
    out->fin = (buf[0] & 0x80) != 0;
    out->opcode = buf[0] & 0x0f;
    switch (out->opcode) {
    case TDM_WS_OP_CONT:
    case TDM_WS_OP_TEXT:
    case TDM_WS_OP_BINARY:
    case TDM_WS_OP_CLOSE:
    case TDM_WS_OP_PING:
    case TDM_WS_OP_PONG:
        break;
    default:
        return tdm_fail(err, TDM_ERR_FORMAT, "WebSocket frame with unknown opcode %u",
                        out->opcode);
    }
    if (buf[1] & 0x80)
        return tdm_fail(err, TDM_ERR_FORMAT, "masked WebSocket frame from the server");
    uint64_t plen = buf[1] & 0x7f;
    size_t hlen = 2;
    if (plen == 126) {
        if (len < 4)
            return TDM_AGAIN;
        plen = ((uint64_t)buf[2] << 8) | buf[3];
        hlen = 4;
        if (plen < 126)
            return tdm_fail(err, TDM_ERR_FORMAT, "non-minimal WebSocket length");
    } else if (plen == 127) {
        if (len < 10)
            return TDM_AGAIN;
        if (buf[2] & 0x80)
            return tdm_fail(err, TDM_ERR_FORMAT, "WebSocket length with the top bit set");
        plen = 0;
        for (int i = 0; i < 8; i++)
            plen = (plen << 8) | buf[2 + i];
        hlen = 10;
        if (plen <= 0xffff)
            return tdm_fail(err, TDM_ERR_FORMAT, "non-minimal WebSocket length");
    }
    if (out->opcode >= 0x8 && (!out->fin || plen > 125))
        return tdm_fail(err, TDM_ERR_FORMAT, "fragmented or oversized control frame");
    out->header_len = hlen;
    out->payload_len = plen;
    if (plen > max_payload)
        return tdm_fail(err, TDM_ERR_RANGE, "WebSocket frame of %llu bytes over the %llu limit",
                        (unsigned long long)plen, (unsigned long long)max_payload);
    return TDM_OK;
}

size_t tdm_ws_frame_header(uint8_t *out, uint8_t opcode, uint64_t payload_len,
                           const uint8_t key[4])
{
    size_t n = 0;
    out[n++] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (payload_len < 126) {
        out[n++] = (uint8_t)(0x80 | payload_len);
    } else if (payload_len <= 0xffff) {
        out[n++] = 0x80 | 126;
        out[n++] = (uint8_t)(payload_len >> 8);
        out[n++] = (uint8_t)payload_len;
    } else {
        out[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)(payload_len >> (8 * i));
    }
    memcpy(out + n, key, 4);
    return n + 4;
}

void tdm_ws_mask(uint8_t *data, size_t len, const uint8_t key[4], size_t offset)
{
    for (size_t i = 0; i < len; i++)
        data[i] ^= key[(offset + i) & 3];
}

bool tdm_ws_close_code(const uint8_t *payload, size_t len, int *code)
{
    if (len == 0) {
        *code = 1005;
        return true;
    }
    if (len == 1) {
        *code = 1002;
        return false;
    }
    int c = (payload[0] << 8) | payload[1];
    *code = c;
    /* 1004-1006 and 1015 are never sent; 1000-2999 are IANA's, 3000-4999 apps'. */
    if (c < 1000 || c >= 5000 || c == 1004 || c == 1005 || c == 1006 || c == 1015 ||
        (c > 1014 && c < 3000))
        return false;
    return true;
}
