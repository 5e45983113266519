/* token.c: mints and verifies relay access tokens (tdm_token.h). libjwt
 * computes and checks the HS256 signature; the header's algorithm and the
 * claims are read here with jansson, so that what is accepted does not hang
 * on one library's defaults (alg "none" above all). */
#include "tdm_token.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <jwt.h>

static const struct {
    int http;
    const char *text;
} failures[] = {
#define TDM_TOKEN_FAILURE_ROW(name, status, text) {status, text},
    TDM_TOKEN_FAILURE_MAP(TDM_TOKEN_FAILURE_ROW)
#undef TDM_TOKEN_FAILURE_ROW
};

const char *tdm_token_failure_name(tdm_token_failure f)
{
    /* "TDM_TOKEN_WRONG_ROLE" -> "wrong_role" once, into a table. */
    static const char *const names[TDM_TOKEN_FAILURE_COUNT] = {
        "ok",        "missing",       "malformed",  "bad_alg",    "bad_signature", "bad_claims",
        "expired",   "not_yet_valid", "wrong_role", "wrong_node", "wrong_session",
    };
    _Static_assert(sizeof names / sizeof names[0] == sizeof failures / sizeof failures[0],
                   "failure names and map differ");
    return (unsigned)f < TDM_TOKEN_FAILURE_COUNT ? names[f] : "unknown";
}

const char *tdm_token_failure_text(tdm_token_failure f)
{
    return (unsigned)f < TDM_TOKEN_FAILURE_COUNT ? failures[f].text : "unknown";
}

int tdm_token_failure_http_status(tdm_token_failure f)
{
    return (unsigned)f < TDM_TOKEN_FAILURE_COUNT ? failures[f].http : 401;
}

const char *tdm_token_role_name(tdm_token_role r)
{
    switch (r) {
    case TDM_TOKEN_ROLE_PUBLISH:
        return "publish";
    case TDM_TOKEN_ROLE_SUBSCRIBE:
        return "subscribe";
    }
    return "unknown";
}

bool tdm_token_role_parse(const char *name, tdm_token_role *out)
{
    if (name && strcmp(name, "publish") == 0)
        *out = TDM_TOKEN_ROLE_PUBLISH;
    else if (name && strcmp(name, "subscribe") == 0)
        *out = TDM_TOKEN_ROLE_SUBSCRIBE;
    else
        return false;
    return true;
}

static bool id_ok(const char *s)
{
    if (!s)
        return false;
    size_t n = strnlen(s, TDM_TOKEN_ID_MAX + 1);
    if (n == 0 || n > TDM_TOKEN_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '~' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

static tdm_status from_errno(int e, tdm_error *err, const char *what)
{
    return tdm_fail(err, e == ENOMEM ? TDM_ERR_NOMEM : TDM_ERR_INVALID, "token: %s failed (%s)",
                    what, strerror(e));
}

tdm_status tdm_token_mint(const uint8_t *secret, size_t secret_len,
                          const tdm_token_claims *claims, int64_t now_s, char *out, size_t cap,
                          tdm_error *err)
{
    if (!secret || !claims || !out || cap == 0)
        return tdm_fail(err, TDM_ERR_INVALID, "token_mint: NULL argument");
    if (secret_len < TDM_TOKEN_SECRET_MIN || secret_len > INT_MAX)
        return tdm_fail(err, TDM_ERR_INVALID, "token_mint: secret must be at least %d bytes",
                        TDM_TOKEN_SECRET_MIN);
    if (!id_ok(claims->sub) || !id_ok(claims->sid) || !id_ok(claims->node))
        return tdm_fail(err, TDM_ERR_INVALID,
                        "token_mint: sub, sid and node must be 1..%d of [A-Za-z0-9._~:-]",
                        TDM_TOKEN_ID_MAX);
    if (claims->role != TDM_TOKEN_ROLE_PUBLISH && claims->role != TDM_TOKEN_ROLE_SUBSCRIBE)
        return tdm_fail(err, TDM_ERR_INVALID, "token_mint: unknown role");
    if (claims->exp <= now_s)
        return tdm_fail(err, TDM_ERR_INVALID, "token_mint: exp is not in the future");

    jwt_t *jwt = NULL;
    int e = jwt_new(&jwt);
    if (e)
        return from_errno(e, err, "jwt_new");
    tdm_status st = TDM_OK;
    if ((e = jwt_add_grant(jwt, "sub", claims->sub)) || (e = jwt_add_grant(jwt, "sid", claims->sid)) ||
        (e = jwt_add_grant(jwt, "node", claims->node)) ||
        (e = jwt_add_grant(jwt, "role", tdm_token_role_name(claims->role))) ||
        (e = jwt_add_grant_int(jwt, "exp", (long)claims->exp)) ||
        (e = jwt_add_grant_int(jwt, "iat", (long)now_s)) ||
        (claims->has_nbf && (e = jwt_add_grant_int(jwt, "nbf", (long)claims->nbf))) ||
        (e = jwt_set_alg(jwt, JWT_ALG_HS256, secret, (int)secret_len))) {
        st = from_errno(e, err, "building the JWT");
        goto out;
    }
    char *tok = jwt_encode_str(jwt);
    if (!tok) {
        st = tdm_fail(err, TDM_ERR_NOMEM, "token: encoding the JWT failed");
        goto out;
    }
    size_t n = strlen(tok);
    if (n >= cap) {
        st = tdm_fail(err, TDM_ERR_RANGE, "token of %zu bytes does not fit in %zu", n, cap);
    } else {
        memcpy(out, tok, n + 1);
    }
    /* The token is a credential: do not leave it in freed heap memory. */
    memset(tok, 0, n);
    free(tok);
out:
    jwt_free(jwt);
    return st;
}

/* --- verification ----------------------------------------------------- */

static int b64url_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Unpadded base64url (RFC 7515 2). Refuses a length of 1 mod 4 and stray
 * bits in the last character, so one text has one decoding. */
static bool b64url_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    if (n % 4 == 1)
        return false;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_val(s[i]);
        if (v < 0)
            return false;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return false;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return false;
    *out_len = o;
    return true;
}

/* Decodes one segment to a JSON object, duplicates refused (two "alg" keys
 * must not mean one thing to us and another to libjwt). */
static json_t *segment_json(const char *s, size_t n)
{
    uint8_t buf[TDM_TOKEN_MAX_LEN];
    size_t len = 0;
    if (!b64url_decode(s, n, buf, sizeof buf, &len))
        return NULL;
    json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool claim_id(json_t *payload, const char *key, char *dst)
{
    json_t *v = json_object_get(payload, key);
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    /* json_string_length catches an embedded NUL that strlen would hide. */
    if (!s || strlen(s) != json_string_length(v) || !id_ok(s))
        return false;
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

static bool claim_time(json_t *payload, const char *key, int64_t *dst)
{
    json_t *v = json_object_get(payload, key);
    if (!json_is_integer(v))
        return false;
    *dst = (int64_t)json_integer_value(v);
    return true;
}

static tdm_status refuse(tdm_token_failure f, tdm_token_failure *why, tdm_error *err)
{
    if (why)
        *why = f;
    return tdm_fail(err, TDM_ERR_FORMAT, "%s", tdm_token_failure_text(f));
}

tdm_status tdm_token_verify(const uint8_t *secret, size_t secret_len, const char *authorization,
                            int64_t now_s, tdm_token_role expected_role,
                            const char *expected_node, const char *expected_session,
                            tdm_token_claims *out, tdm_token_failure *why, tdm_error *err)
{
    if (why)
        *why = TDM_TOKEN_MALFORMED;
    if (!secret || !expected_node || !expected_session)
        return tdm_fail(err, TDM_ERR_INVALID, "token_verify: NULL argument");
    if (secret_len < TDM_TOKEN_SECRET_MIN || secret_len > INT_MAX)
        return tdm_fail(err, TDM_ERR_INVALID, "token_verify: secret must be at least %d bytes",
                        TDM_TOKEN_SECRET_MIN);

    /* Authorization: Bearer <token> (RFC 6750 2.1), or the token alone. */
    const char *p = authorization ? authorization : "";
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "bearer", 6) == 0 && (p[6] == ' ' || p[6] == '\t' || p[6] == '\0')) {
        p += 6;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    size_t n = strnlen(p, TDM_TOKEN_MAX_LEN + 1);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0)
        return refuse(TDM_TOKEN_MISSING, why, err);
    if (n > TDM_TOKEN_MAX_LEN)
        return refuse(TDM_TOKEN_MALFORMED, why, err);

    /* header.payload.signature, base64url only: any other scheme ("Basic
     * ...") or stray byte ends here. */
    const char *dot1 = NULL, *dot2 = NULL;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '.') {
            if (!dot1)
                dot1 = p + i;
            else if (!dot2)
                dot2 = p + i;
            else
                return refuse(TDM_TOKEN_MALFORMED, why, err);
        } else if (b64url_val(p[i]) < 0) {
            return refuse(TDM_TOKEN_MALFORMED, why, err);
        }
    }
    if (!dot2 || dot1 == p || dot2 == dot1 + 1)
        return refuse(TDM_TOKEN_MALFORMED, why, err);

    json_t *header = segment_json(p, (size_t)(dot1 - p));
    if (!header)
        return refuse(TDM_TOKEN_MALFORMED, why, err);
    json_t *alg = json_object_get(header, "alg");
    bool hs256 = json_is_string(alg) && strcmp(json_string_value(alg), "HS256") == 0 &&
                 json_string_length(alg) == 5;
    bool crit = json_object_get(header, "crit") != NULL;
    json_decref(header);
    if (!hs256)
        return refuse(TDM_TOKEN_BAD_ALG, why, err);
    if (crit) /* RFC 7515 4.1.11: we understand no extension, so refuse */
        return refuse(TDM_TOKEN_MALFORMED, why, err);
    json_t *payload = segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!payload)
        return refuse(TDM_TOKEN_MALFORMED, why, err);

    char tok[TDM_TOKEN_MAX_LEN + 1];
    memcpy(tok, p, n);
    tok[n] = '\0';
    tdm_status st = TDM_OK;
    jwt_t *jwt = NULL;
    int e = (dot2 + 1 == p + n) ? EINVAL : jwt_decode(&jwt, tok, secret, (int)secret_len);
    if (e == ENOMEM) {
        st = tdm_fail(err, TDM_ERR_NOMEM, "token: out of memory");
        goto done;
    }
    if (e || !jwt || jwt_get_alg(jwt) != JWT_ALG_HS256) {
        st = refuse(TDM_TOKEN_BAD_SIGNATURE, why, err);
        goto done;
    }

    /* Authentic from here on: the claims say what it grants. */
    tdm_token_claims c;
    memset(&c, 0, sizeof c);
    json_t *role = json_object_get(payload, "role");
    if (!claim_id(payload, "sub", c.sub) || !claim_id(payload, "sid", c.sid) ||
        !claim_id(payload, "node", c.node) || !json_is_string(role) ||
        !tdm_token_role_parse(json_string_value(role), &c.role) ||
        !claim_time(payload, "exp", &c.exp) || !claim_time(payload, "iat", &c.iat)) {
        st = refuse(TDM_TOKEN_BAD_CLAIMS, why, err);
        goto done;
    }
    if (json_object_get(payload, "nbf")) {
        if (!claim_time(payload, "nbf", &c.nbf)) {
            st = refuse(TDM_TOKEN_BAD_CLAIMS, why, err);
            goto done;
        }
        c.has_nbf = true;
    }
    /* Compare without adding to now_s: a huge now_s or exp must not wrap. */
    if (c.exp <= now_s) {
        st = refuse(TDM_TOKEN_EXPIRED, why, err);
        goto done;
    }
    if ((c.has_nbf && c.nbf > INT64_MIN + TDM_TOKEN_LEEWAY_S && c.nbf - TDM_TOKEN_LEEWAY_S > now_s) ||
        (c.iat > INT64_MIN + TDM_TOKEN_LEEWAY_S && c.iat - TDM_TOKEN_LEEWAY_S > now_s)) {
        st = refuse(TDM_TOKEN_NOT_YET_VALID, why, err);
        goto done;
    }
    if (c.role != expected_role) {
        st = refuse(TDM_TOKEN_WRONG_ROLE, why, err);
        goto done;
    }
    if (strcmp(c.node, expected_node) != 0) {
        st = refuse(TDM_TOKEN_WRONG_NODE, why, err);
        goto done;
    }
    if (strcmp(c.sid, expected_session) != 0) {
        st = refuse(TDM_TOKEN_WRONG_SESSION, why, err);
        goto done;
    }
    if (out)
        *out = c;
    if (why)
        *why = TDM_TOKEN_OK;
done:
    if (jwt)
        jwt_free(jwt);
    json_decref(payload);
    memset(tok, 0, sizeof tok);
    return st;
}
