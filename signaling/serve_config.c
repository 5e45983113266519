/* serve_config.c: the configuration file of tandem-signal serve
 * (tdm_sig_serve_config.h). */
#include "tdm_sig_serve_config.h"
#include "tdm_redis_conn.h"

#include "tdm_relay_heartbeat.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Reads a whole small file (secrets, the config) into a malloc'd buffer. */
static tdm_status read_file(const char *path, size_t max, char **out, size_t *len, tdm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tdm_fail(err, TDM_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *buf = malloc(max + 1);
    if (!buf) {
        fclose(f);
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, max + 1, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad || n > max) {
        OPENSSL_cleanse(buf, n);
        free(buf);
        return tdm_fail(err, bad ? TDM_ERR_IO : TDM_ERR_RANGE, "%s: %s", path,
                        bad ? "read error" : "file too large");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return TDM_OK;
}

static void resolve(const char *base_dir, const char *p, char *out, size_t cap)
{
    if (p[0] == '/' || !base_dir || !base_dir[0])
        snprintf(out, cap, "%s", p);
    else
        snprintf(out, cap, "%s/%s", base_dir, p);
}

/* A secret file's bytes, a trailing newline dropped (editors add one). */
static tdm_status read_secret(const char *base_dir, const char *p, uint8_t *out, size_t cap,
                              size_t *len, tdm_error *err)
{
    char path[1024];
    resolve(base_dir, p, path, sizeof path);
    char *buf;
    size_t n;
    tdm_status st = read_file(path, cap, &buf, &n, err);
    if (st != TDM_OK)
        return st;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    memcpy(out, buf, n);
    OPENSSL_cleanse(buf, n);
    free(buf);
    *len = n;
    return TDM_OK;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static tdm_status get_int(json_t *doc, const char *key, int64_t *out, tdm_error *err)
{
    json_t *v = json_object_get(doc, key);
    if (!v)
        return TDM_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "config: %s must be a non-negative integer", key);
    *out = json_integer_value(v);
    return TDM_OK;
}

static tdm_status parse(json_t *doc, const char *base_dir, tdm_sig_serve_config *c,
                        tdm_error *err)
{
    tdm_status st;
    if (!json_is_object(doc))
        return tdm_fail(err, TDM_ERR_FORMAT, "config: expected a JSON object");
    json_t *v = json_object_get(doc, "public_url");
    if (v && (!json_is_string(v) || json_string_length(v) >= sizeof c->public_url))
        return tdm_fail(err, TDM_ERR_FORMAT, "config: public_url must be a URL string");
    snprintf(c->public_url, sizeof c->public_url, "%s", v ? json_string_value(v) : "");
    size_t pl = strlen(c->public_url);
    while (pl && c->public_url[pl - 1] == '/')
        c->public_url[--pl] = '\0';

    json_t *relays = json_object_get(doc, "relays");
    if (relays && !json_is_array(relays))
        return tdm_fail(err, TDM_ERR_FORMAT, "config: relays must be an array");
    size_t i;
    json_array_foreach (relays, i, v) {
        if (c->n_relays == TDM_SIG_RELAYS_MAX)
            return tdm_fail(err, TDM_ERR_RANGE, "config: more than %d relays", TDM_SIG_RELAYS_MAX);
        const char *id = json_string_value(json_object_get(v, "id"));
        const char *url = json_string_value(json_object_get(v, "url"));
        if (!tdm_hb_id_ok(id) || !tdm_hb_url_ok(url) || strlen(url) >= TDM_SIG_URL_MAX)
            return tdm_fail(err, TDM_ERR_FORMAT,
                            "config: relays[%zu] needs an id (1..%d of [A-Za-z0-9._~:-]) and "
                            "an http(s) url",
                            i, TDM_HB_ID_MAX);
        tdm_sig_relay *r = &c->relays[c->n_relays++];
        snprintf(r->id, sizeof r->id, "%s", id);
        snprintf(r->url, sizeof r->url, "%s", url);
        size_t ul = strlen(r->url);
        while (ul && r->url[ul - 1] == '/')
            r->url[--ul] = '\0';
    }

    const char *tsf = json_string_value(json_object_get(doc, "relay_token_secret_file"));
    if (!tsf)
        return tdm_fail(err, TDM_ERR_FORMAT, "config: relay_token_secret_file is required");
    size_t n = 0;
    if ((st = read_secret(base_dir, tsf, c->token_secret, sizeof c->token_secret, &n, err)) !=
        TDM_OK)
        return st;
    if (n < 32)
        return tdm_fail(err, TDM_ERR_FORMAT, "config: the relay token secret needs >= 32 bytes");
    c->core.token_secret = c->token_secret;
    c->core.token_secret_len = n;

    json_t *turn = json_object_get(doc, "turn");
    if (turn) {
        const char *sf = json_string_value(json_object_get(turn, "secret_file"));
        json_t *urls = json_object_get(turn, "urls");
        if (!json_is_object(turn) || !sf || !json_is_array(urls))
            return tdm_fail(err, TDM_ERR_FORMAT, "config: turn needs secret_file and urls");
        if ((st = read_secret(base_dir, sf, c->turn_secret, sizeof c->turn_secret, &n, err)) !=
            TDM_OK)
            return st;
        if (n == 0)
            return tdm_fail(err, TDM_ERR_FORMAT, "config: the TURN secret is empty");
        c->core.turn_secret = c->turn_secret;
        c->core.turn_secret_len = n;
        json_array_foreach (urls, i, v) {
            if (c->n_turn_urls == TDM_SIG_TURN_URLS_MAX || !json_is_string(v) ||
                json_string_length(v) >= TDM_SIG_URL_MAX)
                return tdm_fail(err, TDM_ERR_FORMAT, "config: turn.urls[%zu] bad", i);
            snprintf(c->turn_urls[c->n_turn_urls++], TDM_SIG_URL_MAX, "%s", json_string_value(v));
        }
    }

    v = json_object_get(doc, "cluster_secret_file");
    if (v) {
        if (!json_is_string(v))
            return tdm_fail(err, TDM_ERR_FORMAT, "config: cluster_secret_file must be a path");
        if ((st = read_secret(base_dir, json_string_value(v), c->cluster_secret,
                              sizeof c->cluster_secret, &n, err)) != TDM_OK)
            return st;
        if (n < TDM_HB_SECRET_MIN)
            return tdm_fail(err, TDM_ERR_FORMAT, "config: the cluster secret needs >= %d bytes",
                            TDM_HB_SECRET_MIN);
        c->cluster_secret_len = n;
    }
    if ((st = get_int(doc, "relay_ttl_s", &c->relay_ttl_s, err)) ||
        (st = get_int(doc, "relay_heartbeat_skew_s", &c->relay_skew_s, err)) ||
        (st = get_int(doc, "relay_max_sessions", &c->relay_max_sessions, err)))
        return st;
    if (c->relay_ttl_s > 86400 || c->relay_skew_s > 86400 || c->relay_max_sessions > 1000000)
        return tdm_fail(err, TDM_ERR_RANGE,
                        "config: relay_ttl_s, relay_heartbeat_skew_s <= 86400, "
                        "relay_max_sessions <= 1000000");

    /* The cluster's Redis (tdm_redis_cluster.h); `serve --redis` overrides. */
    v = json_object_get(doc, "redis");
    if (v) {
        tdm_redis_addr ra;
        if (!json_is_string(v) || json_string_length(v) >= sizeof c->redis_url ||
            tdm_redis_url_parse(json_string_value(v), &ra, err) != TDM_OK)
            return tdm_fail(err, TDM_ERR_FORMAT,
                            "config: redis must be a URL redis://HOST[:PORT][/DB]");
        snprintf(c->redis_url, sizeof c->redis_url, "%s", json_string_value(v));
    }

    /* The relays' --record-dir, for the auditor's recordings routes
     * (tdm_sig_recordings.h), and where their WebM exports are kept. */
    static const char *const rec_keys[] = {"recordings_dir", "recordings_cache_dir"};
    char *const rec_out[] = {c->recordings_dir, c->recordings_cache_dir};
    for (size_t k = 0; k < 2; k++) {
        v = json_object_get(doc, rec_keys[k]);
        if (!v)
            continue;
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) >= sizeof c->recordings_dir - 256)
            return tdm_fail(err, TDM_ERR_FORMAT, "config: %s must be a path", rec_keys[k]);
        resolve(base_dir, json_string_value(v), rec_out[k], sizeof c->recordings_dir);
    }

    const char *mkf = json_string_value(json_object_get(doc, "recording_master_key_file"));
    if (!mkf)
        return tdm_fail(err, TDM_ERR_FORMAT, "config: recording_master_key_file is required");
    uint8_t raw[128];
    if ((st = read_secret(base_dir, mkf, raw, sizeof raw, &n, err)) != TDM_OK)
        return st;
    if (n == 2 * TDM_SIG_MASTER_KEY_LEN) {
        for (size_t k = 0; k < TDM_SIG_MASTER_KEY_LEN; k++) {
            int hi = hexval(raw[2 * k]), lo = hexval(raw[2 * k + 1]);
            if (hi < 0 || lo < 0) {
                OPENSSL_cleanse(raw, sizeof raw);
                return tdm_fail(err, TDM_ERR_FORMAT, "config: master key: bad hex");
            }
            c->core.master_key[k] = (uint8_t)(hi << 4 | lo);
        }
    } else if (n == TDM_SIG_MASTER_KEY_LEN) {
        memcpy(c->core.master_key, raw, n);
    } else {
        OPENSSL_cleanse(raw, sizeof raw);
        return tdm_fail(err, TDM_ERR_FORMAT,
                        "config: the master key must be 32 raw bytes or 64 hex digits");
    }
    OPENSSL_cleanse(raw, sizeof raw);
    static const char label[] = "tandem-signal at-rest digest key v1";
    unsigned int dl = 0;
    if (!HMAC(EVP_sha256(), c->core.master_key, TDM_SIG_MASTER_KEY_LEN,
              (const unsigned char *)label, sizeof label - 1, c->core.digest_key, &dl) ||
        dl != sizeof c->core.digest_key)
        return tdm_fail(err, TDM_ERR_IO, "config: cannot derive the digest key");

    if ((st = get_int(doc, "invite_ttl_default_s", &c->core.invite_ttl_default_s, err)) ||
        (st = get_int(doc, "invite_ttl_max_s", &c->core.invite_ttl_max_s, err)) ||
        (st = get_int(doc, "join_code_ttl_s", &c->core.join_code_ttl_s, err)) ||
        (st = get_int(doc, "login_ttl_s", &c->core.login_ttl_s, err)) ||
        (st = get_int(doc, "relay_token_ttl_s", &c->core.relay_token_ttl_s, err)) ||
        (st = get_int(doc, "turn_ttl_s", &c->core.turn_ttl_s, err)))
        return st;

    tdm_sig_profiles_builtin(&c->profiles);
    json_t *profiles = json_object_get(doc, "profiles");
    if (profiles) {
        /* The profile loader takes a {"profiles": ...} document. */
        json_t *wrap = json_pack("{s:O}", "profiles", profiles);
        char *text = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
        json_decref(wrap);
        if (!text)
            return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
        st = tdm_sig_profiles_load_json(&c->profiles, text, strlen(text), err);
        free(text);
        if (st != TDM_OK)
            return st;
    }
    c->core.profiles = &c->profiles;
    v = json_object_get(doc, "rep_profile");
    if (v) {
        if (!json_is_string(v) || !tdm_sig_profiles_find(&c->profiles, json_string_value(v)))
            return tdm_fail(err, TDM_ERR_FORMAT, "config: rep_profile names no profile");
        snprintf(c->rep_profile, sizeof c->rep_profile, "%s", json_string_value(v));
        c->core.rep_profile = c->rep_profile;
    }
    return TDM_OK;
}

tdm_status tdm_sig_serve_config_parse(const char *json, size_t len, const char *base_dir,
                                      tdm_sig_serve_config *out, tdm_error *err)
{
    if (!json || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "serve_config_parse: NULL argument");
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return tdm_fail(err, TDM_ERR_FORMAT, "config: not JSON (%s, line %d)", jerr.text,
                        jerr.line);
    tdm_status st = parse(doc, base_dir, out, err);
    json_decref(doc);
    if (st != TDM_OK)
        tdm_sig_serve_config_wipe(out);
    return st;
}

tdm_status tdm_sig_serve_config_load(const char *path, tdm_sig_serve_config *out, tdm_error *err)
{
    if (!path || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "serve_config_load: NULL argument");
    char *text;
    size_t len;
    tdm_status st = read_file(path, 1 << 20, &text, &len, err);
    if (st != TDM_OK)
        return st;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    st = tdm_sig_serve_config_parse(text, len, dir, out, err);
    free(text);
    return st;
}

void tdm_sig_serve_config_wipe(tdm_sig_serve_config *c)
{
    if (c)
        OPENSSL_cleanse(c, sizeof *c);
}
