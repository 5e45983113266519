/* relay_heartbeat.c: the heartbeat body and its HMAC (tdm_relay_heartbeat.h). */
#include "tdm_relay_heartbeat.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

bool tdm_hb_id_ok(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    return n >= 1 && n <= TDM_HB_ID_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~:-") == n;
}

bool tdm_hb_url_ok(const char *s)
{
    if (!s || strlen(s) >= TDM_HB_URL_MAX)
        return false;
    const char *rest;
    if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else
        return false;
    if (!*rest)
        return false;
    /* Printable, and nothing that would need escaping in JSON. */
    for (const char *p = s; *p; p++)
        if (*p <= ' ' || *p > '~' || *p == '"' || *p == '\\')
            return false;
    return true;
}

void tdm_hb_load_rates(tdm_hb_load *cur, const tdm_hb_load *prev, double dt_s)
{
    cur->packets_per_s = 0;
    cur->cpu_load = 0;
    if (!prev || dt_s <= 0)
        return;
    if (cur->packets_in_total >= prev->packets_in_total &&
        cur->packets_out_total >= prev->packets_out_total)
        cur->packets_per_s = (double)((cur->packets_in_total - prev->packets_in_total) +
                                      (cur->packets_out_total - prev->packets_out_total)) /
                             dt_s;
    if (cur->cpu_seconds_total >= prev->cpu_seconds_total)
        cur->cpu_load = (cur->cpu_seconds_total - prev->cpu_seconds_total) / dt_s;
}

tdm_status tdm_hb_body_format(const tdm_hb_report *r, char *out, size_t cap, size_t *len,
                              tdm_error *err)
{
    if (!r || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "heartbeat: NULL argument");
    if (!tdm_hb_id_ok(r->id) || !tdm_hb_id_ok(r->node))
        return tdm_fail(err, TDM_ERR_INVALID,
                        "heartbeat: id and node need 1..%d characters of [A-Za-z0-9._~:-]",
                        TDM_HB_ID_MAX);
    if (!tdm_hb_url_ok(r->url))
        return tdm_fail(err, TDM_ERR_INVALID, "heartbeat: the public URL must be http(s)://...");
    const tdm_hb_load *l = &r->load;
    int n = snprintf(out, cap,
                     "{\"id\":\"%s\",\"node\":\"%s\",\"url\":\"%s\",\"draining\":%s,"
                     "\"load\":{\"sessions\":%" PRIu64 ",\"endpoints\":%" PRIu64
                     ",\"packets_in_total\":%" PRIu64 ",\"packets_out_total\":%" PRIu64
                     ",\"packets_per_s\":%.3f,\"cpu_seconds_total\":%.6f,\"cpu_load\":%.4f,"
                     "\"workers\":%" PRIu32 "}}",
                     r->id, r->node, r->url, r->draining ? "true" : "false", l->sessions,
                     l->endpoints, l->packets_in_total, l->packets_out_total, l->packets_per_s,
                     l->cpu_seconds_total, l->cpu_load, l->workers);
    if (n < 0 || (size_t)n >= cap)
        return tdm_fail(err, TDM_ERR_RANGE, "heartbeat: body over %zu bytes", cap);
    if (len)
        *len = (size_t)n;
    return TDM_OK;
}

static tdm_status mac(const uint8_t *secret, size_t secret_len, int64_t ts_ms,
                      const uint8_t *body, size_t body_len, uint8_t out[32], tdm_error *err)
{
    char prefix[32];
    int pn = snprintf(prefix, sizeof prefix, "%" PRId64 "\n", ts_ms);
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t outl = 0;
    bool ok = ctx && EVP_MAC_init(ctx, secret, secret_len, params) &&
              EVP_MAC_update(ctx, (const uint8_t *)prefix, (size_t)pn) &&
              (body_len == 0 || EVP_MAC_update(ctx, body, body_len)) &&
              EVP_MAC_final(ctx, out, &outl, 32) && outl == 32;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return ok ? TDM_OK : tdm_fail(err, TDM_ERR_UNAVAILABLE, "heartbeat: HMAC failed");
}

tdm_status tdm_hb_sign(const uint8_t *secret, size_t secret_len, int64_t ts_ms,
                       const uint8_t *body, size_t body_len, char out[TDM_HB_AUTH_CAP],
                       tdm_error *err)
{
    if (!secret || secret_len < TDM_HB_SECRET_MIN)
        return tdm_fail(err, TDM_ERR_INVALID, "heartbeat: the cluster secret needs >= %d bytes",
                        TDM_HB_SECRET_MIN);
    if (!out || (!body && body_len))
        return tdm_fail(err, TDM_ERR_INVALID, "heartbeat: NULL argument");
    uint8_t d[32];
    tdm_status st = mac(secret, secret_len, ts_ms, body, body_len, d, err);
    if (st != TDM_OK)
        return st;
    int n = snprintf(out, TDM_HB_AUTH_CAP, TDM_HB_SCHEME " ts=%" PRId64 ",sig=", ts_ms);
    for (int i = 0; i < 32; i++)
        n += snprintf(out + n, TDM_HB_AUTH_CAP - (size_t)n, "%02x", d[i]);
    return TDM_OK;
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

tdm_status tdm_hb_verify(const uint8_t *secret, size_t secret_len, const char *authorization,
                         const uint8_t *body, size_t body_len, int64_t *ts_ms, tdm_error *err)
{
    if (!secret || secret_len == 0 || !ts_ms || (!body && body_len))
        return tdm_fail(err, TDM_ERR_INVALID, "heartbeat: NULL argument");
    const char *p = authorization;
    size_t sl = strlen(TDM_HB_SCHEME);
    if (!p || strncmp(p, TDM_HB_SCHEME, sl) != 0 || p[sl] != ' ')
        return tdm_fail(err, TDM_ERR_FORMAT, "Authorization: " TDM_HB_SCHEME " ts=..,sig=.. required");
    p += sl + 1;
    while (*p == ' ')
        p++;
    if (strncmp(p, "ts=", 3) != 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: ts= missing");
    p += 3;
    int64_t ts = 0;
    const char *digits = p;
    while (*p >= '0' && *p <= '9' && p - digits < 16)
        ts = ts * 10 + (*p++ - '0');
    if (p == digits || *p != ',')
        return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: ts must be milliseconds");
    p++;
    while (*p == ' ')
        p++;
    if (strncmp(p, "sig=", 4) != 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: sig= missing");
    p += 4;
    uint8_t got[32];
    for (int i = 0; i < 32; i++) {
        int hi = hexval(p[2 * i]), lo = hi < 0 ? -1 : hexval(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: sig must be 64 hex digits");
        got[i] = (uint8_t)(hi << 4 | lo);
    }
    if (p[64] != '\0')
        return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: sig must be 64 hex digits");
    uint8_t want[32];
    tdm_status st = mac(secret, secret_len, ts, body, body_len, want, err);
    if (st != TDM_OK)
        return st;
    bool same = CRYPTO_memcmp(got, want, sizeof want) == 0;
    OPENSSL_cleanse(want, sizeof want);
    if (!same)
        return tdm_fail(err, TDM_ERR_INVALID, "heartbeat: bad signature");
    *ts_ms = ts;
    return TDM_OK;
}
