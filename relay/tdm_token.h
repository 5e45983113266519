/* tdm_token: relay access tokens, sans-IO.
 *
 * Owns minting and checking the JWTs (HS256, RFC 7519/7518) that let a
 * client publish to or subscribe from one session on one relay node. The
 * signing secret is shared between signaling and relays, so a relay checks a
 * token without calling anyone. Time is a parameter: nothing here reads a
 * clock.
 *
 * Claims: sub (participant id), sid (session id), role ("publish" or
 * "subscribe"), node (relay node id), exp and iat (seconds since the epoch),
 * optionally nbf. Ids are 1..TDM_TOKEN_ID_MAX characters of
 * [A-Za-z0-9._~:-], so they can appear in URLs and logs as they are.
 *
 * A refusal is a tdm_token_failure: a stable name for logs and metrics and
 * an HTTP status (401 when the bearer is not authenticated, 403 when an
 * authentic token does not grant this request). Error texts give the reason
 * only, never the token's or the expected ids. */
#ifndef TDM_TOKEN_H
#define TDM_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

#define TDM_TOKEN_ID_MAX 64
/* Tokens longer than this are refused unread (a bound on work per request). */
#define TDM_TOKEN_MAX_LEN 4096
/* HS256 with a short secret can be brute-forced offline from one token. */
#define TDM_TOKEN_SECRET_MIN 16
/* Allowance for clocks of signaling and relay that disagree: applied to nbf
 * and iat (a token from a server slightly ahead is not refused), never to
 * exp (an expired token stays expired). */
#define TDM_TOKEN_LEEWAY_S 30

typedef enum tdm_token_role {
    TDM_TOKEN_ROLE_PUBLISH = 1,
    TDM_TOKEN_ROLE_SUBSCRIBE = 2,
} tdm_token_role;

typedef struct tdm_token_claims {
    char sub[TDM_TOKEN_ID_MAX + 1];
    char sid[TDM_TOKEN_ID_MAX + 1];
    char node[TDM_TOKEN_ID_MAX + 1];
    tdm_token_role role;
    int64_t exp;
    int64_t iat; /* set by mint to now_s */
    bool has_nbf;
    int64_t nbf;
} tdm_token_claims;

/* X(name, http status, reason) */
#define TDM_TOKEN_FAILURE_MAP(X)                                                   \
    X(TDM_TOKEN_OK, 200, "ok")                                                      \
    X(TDM_TOKEN_MISSING, 401, "no bearer token")                                    \
    X(TDM_TOKEN_MALFORMED, 401, "malformed token")                                  \
    X(TDM_TOKEN_BAD_ALG, 401, "token algorithm not allowed")                        \
    X(TDM_TOKEN_BAD_SIGNATURE, 401, "token signature invalid")                      \
    X(TDM_TOKEN_BAD_CLAIMS, 401, "token claims missing or invalid")                 \
    X(TDM_TOKEN_EXPIRED, 401, "token expired")                                      \
    X(TDM_TOKEN_NOT_YET_VALID, 401, "token not yet valid")                          \
    X(TDM_TOKEN_WRONG_ROLE, 403, "token does not grant this role")                  \
    X(TDM_TOKEN_WRONG_NODE, 403, "token is for another relay node")                 \
    X(TDM_TOKEN_WRONG_SESSION, 403, "token is for another session")

typedef enum tdm_token_failure {
#define TDM_TOKEN_FAILURE_ENUM(name, status, text) name,
    TDM_TOKEN_FAILURE_MAP(TDM_TOKEN_FAILURE_ENUM)
#undef TDM_TOKEN_FAILURE_ENUM
        TDM_TOKEN_FAILURE_COUNT
} tdm_token_failure;

/* Stable lower-case name ("expired", "wrong_role", ...); never NULL. */
const char *tdm_token_failure_name(tdm_token_failure f);
/* The reason as a client may see it; never NULL. */
const char *tdm_token_failure_text(tdm_token_failure f);
/* 200 for TDM_TOKEN_OK, 401 or 403 otherwise. */
int tdm_token_failure_http_status(tdm_token_failure f);

const char *tdm_token_role_name(tdm_token_role r);
bool tdm_token_role_parse(const char *name, tdm_token_role *out);

/* Writes a compact JWS (header.payload.signature, NUL-terminated) into out.
 * iat is now_s whatever claims->iat says; exp must be after now_s.
 * @return TDM_OK; TDM_ERR_INVALID for bad claims or a secret shorter than
 *         TDM_TOKEN_SECRET_MIN; TDM_ERR_RANGE when cap is too small;
 *         TDM_ERR_NOMEM when libjwt cannot allocate. */
tdm_status tdm_token_mint(const uint8_t *secret, size_t secret_len,
                          const tdm_token_claims *claims, int64_t now_s, char *out, size_t cap,
                          tdm_error *err);

/* Checks a token given as an Authorization header value ("Bearer <jwt>",
 * scheme case-insensitive) or as the bare token. In order: form, algorithm
 * (exactly HS256: "none" and every other alg are refused before any
 * signature work), signature, claims, time, then role, node and session. On
 * success *out holds the claims (out may be NULL).
 * @return TDM_OK with *why = TDM_TOKEN_OK; TDM_ERR_FORMAT with *why saying
 *         which check failed (err holds its text only); TDM_ERR_INVALID for
 *         NULL arguments or a short secret; TDM_ERR_NOMEM. why may be NULL. */
tdm_status tdm_token_verify(const uint8_t *secret, size_t secret_len, const char *authorization,
                            int64_t now_s, tdm_token_role expected_role,
                            const char *expected_node, const char *expected_session,
                            tdm_token_claims *out, tdm_token_failure *why, tdm_error *err);

#endif
