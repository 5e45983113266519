/* token_checks_test: relay access tokens minted by tdm_token_mint verify
 * with their claims intact, with or without "Bearer "; every way a token can
 * be wrong is refused with its own reason and HTTP status — expired, not yet
 * valid, wrong secret, tampered payload, alg "none" and other algorithms,
 * missing claims, garbage headers (401) and wrong role, node or session
 * (403) — and the refusal text never repeats the ids involved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jwt.h>

#include "tdm_token.h"

static const uint8_t secret[] = "tandem-test-secret-0123456789abcdef";
#define SECRET_LEN (sizeof secret - 1)
#define NOW 1700000000

static tdm_token_claims base_claims(void)
{
    tdm_token_claims c;
    memset(&c, 0, sizeof c);
    strcpy(c.sub, "customer-42");
    strcpy(c.sid, "sess-7f3a");
    strcpy(c.node, "relay-eu-1");
    c.role = TDM_TOKEN_ROLE_PUBLISH;
    c.exp = NOW + 600;
    return c;
}

static void mint(const tdm_token_claims *c, char *out, size_t cap)
{
    tdm_error e = {{0}};
    tdm_status st = tdm_token_mint(secret, SECRET_LEN, c, NOW, out, cap, &e);
    if (st != TDM_OK)
        fail_msg("mint: %s", e.msg);
}

/* Verifies for the base claims' role/node/session at time now. */
static tdm_token_failure check_at(const char *auth, int64_t now, tdm_token_claims *out)
{
    tdm_token_failure why = TDM_TOKEN_FAILURE_COUNT;
    tdm_error e = {{0}};
    tdm_status st = tdm_token_verify(secret, SECRET_LEN, auth, now, TDM_TOKEN_ROLE_PUBLISH,
                                     "relay-eu-1", "sess-7f3a", out, &why, &e);
    assert_true(why < TDM_TOKEN_FAILURE_COUNT);
    if (why == TDM_TOKEN_OK) {
        assert_int_equal(st, TDM_OK);
    } else {
        assert_int_equal(st, TDM_ERR_FORMAT);
        assert_string_equal(e.msg, tdm_token_failure_text(why));
        /* Nothing about the session in the text. */
        assert_null(strstr(e.msg, "sess-7f3a"));
        assert_null(strstr(e.msg, "relay-eu-1"));
        assert_null(strstr(e.msg, "customer-42"));
    }
    return why;
}

static tdm_token_failure check(const char *auth) { return check_at(auth, NOW, NULL); }

static void b64url(const uint8_t *in, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 8 | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = t[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        out[o++] = t[(acc << (6 - bits)) & 63];
    out[o] = '\0';
}

/* header.payload.sig from JSON texts and a signature segment as given. */
static void assemble(const char *header, const char *payload, const char *sig, char *out)
{
    char h[512], p[1024];
    b64url((const uint8_t *)header, strlen(header), h);
    b64url((const uint8_t *)payload, strlen(payload), p);
    sprintf(out, "%s.%s.%s", h, p, sig);
}

/* A token signed with our secret by libjwt directly, for claims mint would
 * never write. */
static char *libjwt_token(jwt_alg_t alg, const char *payload_json)
{
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    assert_int_equal(jwt_add_grants_json(j, payload_json), 0);
    assert_int_equal(jwt_set_alg(j, alg, alg == JWT_ALG_NONE ? NULL : secret,
                                 alg == JWT_ALG_NONE ? 0 : (int)SECRET_LEN),
                     0);
    char *s = jwt_encode_str(j);
    assert_non_null(s);
    jwt_free(j);
    return s;
}

/* ------------------------------------------------------------------ */

static void minted_token_verifies_with_its_claims(void **state)
{
    (void)state;
    tdm_token_claims c = base_claims();
    c.iat = 5; /* ignored: mint stamps now */
    c.has_nbf = true;
    c.nbf = NOW - 10;
    char tok[1024], hdr[1100];
    mint(&c, tok, sizeof tok);
    assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
                     strlen(tok));

    tdm_token_claims out;
    memset(&out, 0xff, sizeof out);
    snprintf(hdr, sizeof hdr, "Bearer %s", tok);
    assert_int_equal(check_at(hdr, NOW, &out), TDM_TOKEN_OK);
    assert_string_equal(out.sub, "customer-42");
    assert_string_equal(out.sid, "sess-7f3a");
    assert_string_equal(out.node, "relay-eu-1");
    assert_int_equal(out.role, TDM_TOKEN_ROLE_PUBLISH);
    assert_int_equal(out.exp, NOW + 600);
    assert_int_equal(out.iat, NOW);
    assert_true(out.has_nbf);
    assert_int_equal(out.nbf, NOW - 10);

    /* A subscribe token for the same session checks as subscribe only. */
    c = base_claims();
    c.role = TDM_TOKEN_ROLE_SUBSCRIBE;
    mint(&c, tok, sizeof tok);
    tdm_token_failure why;
    assert_int_equal(tdm_token_verify(secret, SECRET_LEN, tok, NOW, TDM_TOKEN_ROLE_SUBSCRIBE,
                                      "relay-eu-1", "sess-7f3a", &out, &why, NULL),
                     TDM_OK);
    assert_int_equal(why, TDM_TOKEN_OK);
    assert_false(out.has_nbf);
}

static void bearer_prefix_and_whitespace_are_handled(void **state)
{
    (void)state;
    tdm_token_claims c = base_claims();
    char tok[1024], hdr[1200];
    mint(&c, tok, sizeof tok);
    static const char *const forms[][2] = {{"Bearer ", ""},    {"bearer ", ""}, {"BEARER   ", ""},
                                           {"  Bearer\t", "  "}, {"", ""},        {" ", " "}};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(hdr, sizeof hdr, "%s%s%s", forms[i][0], tok, forms[i][1]);
        assert_int_equal(check(hdr), TDM_TOKEN_OK);
    }
    assert_int_equal(check(NULL), TDM_TOKEN_MISSING);
    assert_int_equal(check(""), TDM_TOKEN_MISSING);
    assert_int_equal(check("Bearer"), TDM_TOKEN_MISSING);
    assert_int_equal(check("Bearer    "), TDM_TOKEN_MISSING);
    assert_int_equal(tdm_token_failure_http_status(TDM_TOKEN_MISSING), 401);
    snprintf(hdr, sizeof hdr, "Basic %s", tok);
    assert_int_equal(check(hdr), TDM_TOKEN_MALFORMED);
    snprintf(hdr, sizeof hdr, "Bearer %s extra", tok);
    assert_int_equal(check(hdr), TDM_TOKEN_MALFORMED);
    snprintf(hdr, sizeof hdr, "Bearer%s", tok); /* no separator: not our scheme */
    assert_int_equal(check(hdr), TDM_TOKEN_MALFORMED);
}

static void garbage_is_malformed(void **state)
{
    (void)state;
    const char *junk[] = {"Bearer abc",         "Bearer a.b",       "Bearer a.b.c.d",
                          "Bearer ..",          "Bearer .b.c",      "Bearer a..c",
                          "Bearer !!!.???.***", "Bearer e30.e30.",  "Bearer eyJ9.e30.sig",
                          "Bearer W10.e30.c2ln", "Bearer dXNlcg==.e30.x"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        tdm_token_failure why = check(junk[i]);
        if (why != TDM_TOKEN_MALFORMED && why != TDM_TOKEN_BAD_ALG)
            fail_msg("'%s' gave %s", junk[i], tdm_token_failure_name(why));
        assert_int_equal(tdm_token_failure_http_status(why), 401);
    }
    /* Too long to read at all. */
    char *big = malloc(TDM_TOKEN_MAX_LEN + 64);
    assert_non_null(big);
    strcpy(big, "Bearer ");
    memset(big + 7, 'A', TDM_TOKEN_MAX_LEN + 10);
    big[7 + TDM_TOKEN_MAX_LEN + 10] = '\0';
    assert_int_equal(check(big), TDM_TOKEN_MALFORMED);
    free(big);
    /* A header that is valid JSON but not an object, and a payload that is
     * not JSON, both signed. */
    char t[2048];
    assemble("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "not json", "c2ln", t);
    assert_int_equal(check(t), TDM_TOKEN_MALFORMED);
    assemble("{\"alg\":\"HS256\",\"alg\":\"none\"}", "{}", "c2ln", t);
    assert_int_equal(check(t), TDM_TOKEN_MALFORMED);
}

static void expired_and_early_tokens_are_refused(void **state)
{
    (void)state;
    tdm_token_claims c = base_claims();
    char tok[1024];
    mint(&c, tok, sizeof tok);
    assert_int_equal(check_at(tok, NOW + 599, NULL), TDM_TOKEN_OK);
    assert_int_equal(check_at(tok, NOW + 600, NULL), TDM_TOKEN_EXPIRED);
    assert_int_equal(check_at(tok, NOW + 100000, NULL), TDM_TOKEN_EXPIRED);
    assert_int_equal(tdm_token_failure_http_status(TDM_TOKEN_EXPIRED), 401);
    /* Issued in the future (the verifier's clock is behind): within the
     * leeway it passes, beyond it it does not. */
    assert_int_equal(check_at(tok, NOW - TDM_TOKEN_LEEWAY_S, NULL), TDM_TOKEN_OK);
    assert_int_equal(check_at(tok, NOW - TDM_TOKEN_LEEWAY_S - 1, NULL), TDM_TOKEN_NOT_YET_VALID);

    c.has_nbf = true;
    c.nbf = NOW + 300;
    mint(&c, tok, sizeof tok);
    assert_int_equal(check_at(tok, NOW, NULL), TDM_TOKEN_NOT_YET_VALID);
    assert_int_equal(tdm_token_failure_http_status(TDM_TOKEN_NOT_YET_VALID), 401);
    assert_int_equal(check_at(tok, NOW + 300 - TDM_TOKEN_LEEWAY_S, NULL), TDM_TOKEN_OK);
    assert_int_equal(check_at(tok, NOW + 301, NULL), TDM_TOKEN_OK);

    /* Extreme times do not wrap into acceptance. */
    assert_int_equal(check_at(tok, INT64_MAX, NULL), TDM_TOKEN_EXPIRED);
    assert_int_equal(check_at(tok, INT64_MIN, NULL), TDM_TOKEN_NOT_YET_VALID);
}

static void forged_and_tampered_tokens_are_refused(void **state)
{
    (void)state;
    tdm_token_claims c = base_claims();
    char tok[1024];
    mint(&c, tok, sizeof tok);

    /* Signed with another secret. */
    static const uint8_t other[] = "not-the-relay-secret-at-all-0000";
    char forged[1024];
    tdm_error e = {{0}};
    assert_int_equal(tdm_token_mint(other, sizeof other - 1, &c, NOW, forged, sizeof forged, &e),
                     TDM_OK);
    assert_int_equal(check(forged), TDM_TOKEN_BAD_SIGNATURE);
    assert_int_equal(tdm_token_failure_http_status(TDM_TOKEN_BAD_SIGNATURE), 401);

    /* Our signature on someone else's payload: a subscriber promoting
     * itself to another session. */
    char *dot1 = strchr(tok, '.'), *dot2 = strchr(dot1 + 1, '.');
    char tampered[2048];
    char payload[512];
    snprintf(payload, sizeof payload,
             "{\"sub\":\"customer-42\",\"sid\":\"sess-OTHER\",\"node\":\"relay-eu-1\","
             "\"role\":\"publish\",\"exp\":1700000600,\"iat\":1700000000}");
    char hdr[256];
    memcpy(hdr, tok, (size_t)(dot1 - tok));
    hdr[dot1 - tok] = '\0';
    char p64[1024];
    b64url((const uint8_t *)payload, strlen(payload), p64);
    snprintf(tampered, sizeof tampered, "%s.%s%s", hdr, p64, dot2);
    assert_int_equal(check(tampered), TDM_TOKEN_BAD_SIGNATURE);

    /* One flipped character of the signature; the signature dropped. */
    strcpy(tampered, tok);
    char *last = tampered + strlen(tampered) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    assert_int_equal(check(tampered), TDM_TOKEN_BAD_SIGNATURE);
    strcpy(tampered, tok);
    strchr(strchr(tampered, '.') + 1, '.')[1] = '\0';
    assert_int_equal(check(tampered), TDM_TOKEN_BAD_SIGNATURE);
}

static void other_algorithms_are_refused(void **state)
{
    (void)state;
    char payload[512];
    snprintf(payload, sizeof payload,
             "{\"sub\":\"customer-42\",\"sid\":\"sess-7f3a\",\"node\":\"relay-eu-1\","
             "\"role\":\"publish\",\"exp\":1700000600,\"iat\":1700000000}");
    /* alg "none", unsigned, as libjwt itself writes it and by hand. */
    char *none = libjwt_token(JWT_ALG_NONE, payload);
    assert_int_equal(check(none), TDM_TOKEN_BAD_ALG);
    free(none);
    char t[2048];
    assemble("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, "", t);
    assert_int_equal(check(t), TDM_TOKEN_BAD_ALG);
    assemble("{\"alg\":\"None\"}", payload, "c2ln", t);
    assert_int_equal(check(t), TDM_TOKEN_BAD_ALG);
    assemble("{\"typ\":\"JWT\"}", payload, "c2ln", t);
    assert_int_equal(check(t), TDM_TOKEN_BAD_ALG);
    assemble("{\"alg\":\"RS256\"}", payload, "c2ln", t);
    assert_int_equal(check(t), TDM_TOKEN_BAD_ALG);
    assemble("{\"alg\":\"hs256\"}", payload, "c2ln", t);
    assert_int_equal(check(t), TDM_TOKEN_BAD_ALG);
    /* HS512 with the right secret is still not HS256. */
    char *hs512 = libjwt_token(JWT_ALG_HS512, payload);
    assert_int_equal(check(hs512), TDM_TOKEN_BAD_ALG);
    free(hs512);
    assert_int_equal(tdm_token_failure_http_status(TDM_TOKEN_BAD_ALG), 401);
    /* The same claims signed HS256 by libjwt are fine: the oracle above is
     * only the algorithm. */
    char *hs256 = libjwt_token(JWT_ALG_HS256, payload);
    assert_int_equal(check(hs256), TDM_TOKEN_OK);
    free(hs256);
}

static void authentic_tokens_with_bad_claims_are_refused(void **state)
{
    (void)state;
    const char *payloads[] = {
        "{\"sid\":\"sess-7f3a\",\"node\":\"relay-eu-1\",\"role\":\"publish\",\"exp\":1700000600,\"iat\":1700000000}",
        "{\"sub\":\"c\",\"sid\":\"sess-7f3a\",\"role\":\"publish\",\"exp\":1700000600,\"iat\":1700000000}",
        "{\"sub\":\"c\",\"sid\":\"sess-7f3a\",\"node\":\"relay-eu-1\",\"role\":\"admin\",\"exp\":1700000600,\"iat\":1700000000}",
        "{\"sub\":\"c\",\"sid\":\"sess-7f3a\",\"node\":\"relay-eu-1\",\"role\":\"publish\",\"exp\":\"1700000600\",\"iat\":1700000000}",
        "{\"sub\":\"c\",\"sid\":\"sess-7f3a\",\"node\":\"relay-eu-1\",\"role\":\"publish\",\"exp\":1700000600}",
        "{\"sub\":\"c d\",\"sid\":\"sess-7f3a\",\"node\":\"relay-eu-1\",\"role\":\"publish\",\"exp\":1700000600,\"iat\":1700000000}",
        "{\"sub\":\"c\",\"sid\":\"sess-7f3a\",\"node\":\"relay-eu-1\",\"role\":\"publish\",\"exp\":1700000600,\"iat\":1700000000,\"nbf\":1.5}",
        "{\"sub\":\"c\",\"sid\":5,\"node\":\"relay-eu-1\",\"role\":\"publish\",\"exp\":1700000600,\"iat\":1700000000}",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        char *tok = libjwt_token(JWT_ALG_HS256, payloads[i]);
        tdm_token_failure why = check(tok);
        if (why != TDM_TOKEN_BAD_CLAIMS)
            fail_msg("payload %zu gave %s", i, tdm_token_failure_name(why));
        free(tok);
    }
    assert_int_equal(tdm_token_failure_http_status(TDM_TOKEN_BAD_CLAIMS), 401);
}

static void wrong_role_node_or_session_is_forbidden(void **state)
{
    (void)state;
    tdm_token_claims c = base_claims();
    char tok[1024];
    mint(&c, tok, sizeof tok);
    tdm_token_failure why;
    tdm_error e = {{0}};
    tdm_token_claims out;
    memset(&out, 0, sizeof out);

    assert_int_equal(tdm_token_verify(secret, SECRET_LEN, tok, NOW, TDM_TOKEN_ROLE_SUBSCRIBE,
                                      "relay-eu-1", "sess-7f3a", &out, &why, &e),
                     TDM_ERR_FORMAT);
    assert_int_equal(why, TDM_TOKEN_WRONG_ROLE);
    assert_int_equal(tdm_token_failure_http_status(why), 403);
    assert_string_equal(out.sub, ""); /* nothing handed out on refusal */

    assert_int_equal(tdm_token_verify(secret, SECRET_LEN, tok, NOW, TDM_TOKEN_ROLE_PUBLISH,
                                      "relay-us-2", "sess-7f3a", &out, &why, &e),
                     TDM_ERR_FORMAT);
    assert_int_equal(why, TDM_TOKEN_WRONG_NODE);
    assert_int_equal(tdm_token_failure_http_status(why), 403);
    assert_null(strstr(e.msg, "relay-"));

    assert_int_equal(tdm_token_verify(secret, SECRET_LEN, tok, NOW, TDM_TOKEN_ROLE_PUBLISH,
                                      "relay-eu-1", "sess-other", &out, &why, &e),
                     TDM_ERR_FORMAT);
    assert_int_equal(why, TDM_TOKEN_WRONG_SESSION);
    assert_int_equal(tdm_token_failure_http_status(why), 403);
    assert_null(strstr(e.msg, "sess-"));
    assert_string_equal(tdm_token_failure_name(why), "wrong_session");

    /* Authentication comes first: a forged token for the wrong session is
     * 401, not 403, so a forger learns nothing about which ids exist. */
    static const uint8_t other[] = "not-the-relay-secret-at-all-0000";
    char forged[1024];
    assert_int_equal(tdm_token_mint(other, sizeof other - 1, &c, NOW, forged, sizeof forged, &e),
                     TDM_OK);
    assert_int_equal(tdm_token_verify(secret, SECRET_LEN, forged, NOW, TDM_TOKEN_ROLE_SUBSCRIBE,
                                      "x", "y", NULL, &why, &e),
                     TDM_ERR_FORMAT);
    assert_int_equal(why, TDM_TOKEN_BAD_SIGNATURE);
}

static void mint_refuses_bad_input(void **state)
{
    (void)state;
    tdm_token_claims c = base_claims();
    char tok[1024];
    tdm_error e = {{0}};
    assert_int_equal(tdm_token_mint(secret, 8, &c, NOW, tok, sizeof tok, &e), TDM_ERR_INVALID);
    assert_int_equal(tdm_token_mint(secret, SECRET_LEN, &c, NOW, tok, 20, &e), TDM_ERR_RANGE);
    c.exp = NOW;
    assert_int_equal(tdm_token_mint(secret, SECRET_LEN, &c, NOW, tok, sizeof tok, &e),
                     TDM_ERR_INVALID);
    c = base_claims();
    strcpy(c.sid, "a/b");
    assert_int_equal(tdm_token_mint(secret, SECRET_LEN, &c, NOW, tok, sizeof tok, &e),
                     TDM_ERR_INVALID);
    c = base_claims();
    c.sub[0] = '\0';
    assert_int_equal(tdm_token_mint(secret, SECRET_LEN, &c, NOW, tok, sizeof tok, &e),
                     TDM_ERR_INVALID);
    c = base_claims();
    c.role = (tdm_token_role)7;
    assert_int_equal(tdm_token_mint(secret, SECRET_LEN, &c, NOW, tok, sizeof tok, &e),
                     TDM_ERR_INVALID);
    tdm_token_failure why;
    assert_int_equal(tdm_token_verify(secret, 4, "x", NOW, TDM_TOKEN_ROLE_PUBLISH, "n", "s", NULL,
                                      &why, &e),
                     TDM_ERR_INVALID);

    /* Names and statuses are total. */
    for (int f = 0; f <= TDM_TOKEN_FAILURE_COUNT; f++) {
        assert_non_null(tdm_token_failure_name((tdm_token_failure)f));
        int http = tdm_token_failure_http_status((tdm_token_failure)f);
        assert_true(http == 200 || http == 401 || http == 403);
    }
    assert_int_equal(tdm_token_failure_http_status(TDM_TOKEN_WRONG_ROLE), 403);
    assert_int_equal(tdm_token_failure_http_status(TDM_TOKEN_WRONG_NODE), 403);
    assert_int_equal(tdm_token_failure_http_status(TDM_TOKEN_OK), 200);
    tdm_token_role r;
    assert_true(tdm_token_role_parse("subscribe", &r) && r == TDM_TOKEN_ROLE_SUBSCRIBE);
    assert_false(tdm_token_role_parse("Publish", &r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minted_token_verifies_with_its_claims),
        cmocka_unit_test(bearer_prefix_and_whitespace_are_handled),
        cmocka_unit_test(garbage_is_malformed),
        cmocka_unit_test(expired_and_early_tokens_are_refused),
        cmocka_unit_test(forged_and_tampered_tokens_are_refused),
        cmocka_unit_test(other_algorithms_are_refused),
        cmocka_unit_test(authentic_tokens_with_bad_claims_are_refused),
        cmocka_unit_test(wrong_role_node_or_session_is_forbidden),
        cmocka_unit_test(mint_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
