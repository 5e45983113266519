/* fuzz_token: verifies arbitrary strings as bearer tokens against a fixed
 * secret and holds the verifier to its contract: nothing is accepted unless
 * its header says HS256 and its signature segment is exactly the base64url
 * HMAC-SHA256 of header.payload under the secret (checked here with OpenSSL,
 * independently of libjwt), and an accepted token's claims are the expected
 * ones and unexpired; every refusal has a reason with a 401/403 status. The
 * same bytes also become claims that are minted and must verify back to
 * themselves. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tdm_token.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "fuzz_token: invariant failed: %s (line %d)\n", #cond,   \
                    __LINE__);                                                       \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* The seed corpus holds tokens minted with these (see corpus/fuzz_token). */
static const uint8_t secret[] = "fuzz-secret-0123456789abcdef";
#define SECRET_LEN (sizeof secret - 1)
#define NOW 1700000000
#define NODE "relay-1"
#define SESSION "sess-1"

static void b64url(const uint8_t *in, size_t n, char *o)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 8 | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            *o++ = t[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        *o++ = t[(acc << (6 - bits)) & 63];
    *o = '\0';
}

/* The oracle: is `tok` (the bare token) HS256-signed with our secret? */
static bool genuinely_signed(const char *tok)
{
    const char *d1 = strchr(tok, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2)
        return false;
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    CHECK(HMAC(EVP_sha256(), secret, (int)SECRET_LEN, (const uint8_t *)tok, (size_t)(d2 - tok),
               mac, &mac_len));
    char sig[64];
    b64url(mac, mac_len, sig);
    return strcmp(sig, d2 + 1) == 0;
}

static void check_verify(const char *text)
{
    static const tdm_token_role roles[] = {TDM_TOKEN_ROLE_PUBLISH, TDM_TOKEN_ROLE_SUBSCRIBE};
    for (size_t r = 0; r < 2; r++) {
        tdm_token_claims c;
        tdm_token_failure why = TDM_TOKEN_FAILURE_COUNT;
        tdm_error e;
        tdm_status st = tdm_token_verify(secret, SECRET_LEN, text, NOW, roles[r], NODE, SESSION,
                                         &c, &why, &e);
        CHECK(why < TDM_TOKEN_FAILURE_COUNT);
        int http = tdm_token_failure_http_status(why);
        if (st != TDM_OK) {
            CHECK(st == TDM_ERR_FORMAT && why != TDM_TOKEN_OK && (http == 401 || http == 403));
            CHECK(strcmp(e.msg, tdm_token_failure_text(why)) == 0);
            continue;
        }
        CHECK(why == TDM_TOKEN_OK && http == 200);
        /* Recover the bare token the way the header grammar allows. */
        const char *p = text;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "bearer", 6) == 0 && (p[6] == ' ' || p[6] == '\t'))
            for (p += 6; *p == ' ' || *p == '\t';)
                p++;
        char tok[TDM_TOKEN_MAX_LEN + 1];
        size_t n = strlen(p);
        CHECK(n <= TDM_TOKEN_MAX_LEN);
        memcpy(tok, p, n + 1);
        while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
            tok[--n] = '\0';
        CHECK(genuinely_signed(tok));
        CHECK(c.role == roles[r] && strcmp(c.node, NODE) == 0 && strcmp(c.sid, SESSION) == 0);
        CHECK(c.exp > NOW);
    }
}

/* Claims from the input bytes: whatever they are, a minted token carrying
 * them verifies to the same claims, or minting refuses them up front. */
static void check_mint(const uint8_t *data, size_t size)
{
    tdm_token_claims c;
    memset(&c, 0, sizeof c);
    static const char ok[] = "abcXYZ019._~:-";
    size_t k = 0;
    for (; k < size && k < 16; k++)
        c.sub[k] = ok[data[k] % (sizeof ok - 1)];
    strcpy(c.sid, SESSION);
    strcpy(c.node, NODE);
    c.role = size > 16 && (data[16] & 1) ? TDM_TOKEN_ROLE_SUBSCRIBE : TDM_TOKEN_ROLE_PUBLISH;
    int64_t delta = size > 17 ? (int64_t)data[17] * 1000 - 2000 : 600;
    c.exp = NOW + delta;
    c.has_nbf = size > 18 && (data[18] & 1);
    c.nbf = NOW - 5;
    char tok[2048];
    tdm_error e;
    tdm_status st = tdm_token_mint(secret, SECRET_LEN, &c, NOW, tok, sizeof tok, &e);
    if (k == 0 || c.exp <= NOW) {
        CHECK(st == TDM_ERR_INVALID);
        return;
    }
    CHECK(st == TDM_OK);
    CHECK(genuinely_signed(tok));
    tdm_token_claims back;
    tdm_token_failure why;
    CHECK(tdm_token_verify(secret, SECRET_LEN, tok, NOW, c.role, NODE, SESSION, &back, &why,
                           &e) == TDM_OK);
    CHECK(strcmp(back.sub, c.sub) == 0 && back.exp == c.exp && back.iat == NOW &&
          back.has_nbf == c.has_nbf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    CHECK(text);
    memcpy(text, data, size);
    text[size] = '\0'; /* an embedded NUL just ends the header early */
    check_verify(text);
    free(text);
    check_mint(data, size);
    return 0;
}
