/* fuzz_whip: WHIP/WHEP request handling with arbitrary methods, paths,
 * headers and bodies, against a backend that accepts everything (so routes
 * past the token check are reached too: half the inputs carry a valid
 * token for the session their path names). Invariants: a response is
 * always produced, its status is a real HTTP status, the body fits its
 * buffer, and without a valid token nothing reaches the backend. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_token.h"
#include "tdm_whip.h"

static const uint8_t secret[] = "fuzz-whip-secret-0123456789abcdef";
static int backend_calls;

static tdm_status be_create(void *ctx, const tdm_whip_endpoint *ep, const tdm_sdp_session *offer,
                            char *answer, size_t cap, size_t *len, tdm_error *err)
{
    (void)ctx, (void)ep, (void)offer, (void)err;
    backend_calls++;
    *len = (size_t)snprintf(answer, cap, "v=0\r\n");
    return TDM_OK;
}

static bool be_lookup(void *ctx, const char *rid, tdm_whip_endpoint *out)
{
    (void)ctx;
    backend_calls++;
    /* Every resource exists, owned by "p" in session "s". */
    memset(out, 0, sizeof *out);
    snprintf(out->resource_id, sizeof out->resource_id, "%s", rid);
    snprintf(out->etag, sizeof out->etag, "e");
    snprintf(out->session, sizeof out->session, "s");
    snprintf(out->participant, sizeof out->participant, "p");
    out->role = TDM_TOKEN_ROLE_PUBLISH;
    return true;
}

static tdm_status be_patch(void *ctx, const char *rid, const tdm_sdp_frag *frag,
                           const char *new_etag, char *out, size_t cap, size_t *len,
                           tdm_error *err)
{
    (void)ctx, (void)rid, (void)frag, (void)new_etag, (void)err;
    backend_calls++;
    *len = (size_t)snprintf(out, cap, "a=ice-ufrag:abcd\r\n");
    return TDM_OK;
}

static tdm_status be_delete(void *ctx, const char *rid)
{
    (void)ctx, (void)rid;
    backend_calls++;
    return TDM_OK;
}

static tdm_whip *whip;
static char token_header[2048];

static void setup(void)
{
    if (whip)
        return;
    static const tdm_whip_backend be = {.create_endpoint = be_create,
                                        .lookup_endpoint = be_lookup,
                                        .patch_endpoint = be_patch,
                                        .delete_endpoint = be_delete};
    tdm_whip_config cfg = {.secret = secret, .secret_len = sizeof secret - 1, .node_id = "n",
                           .cors_origin = "*"};
    tdm_error err;
    if (tdm_whip_new(&cfg, &be, &whip, &err) != TDM_OK)
        abort();
    tdm_token_claims c = {.role = TDM_TOKEN_ROLE_PUBLISH, .exp = 4000000000};
    snprintf(c.sid, sizeof c.sid, "s");
    snprintf(c.sub, sizeof c.sub, "p");
    snprintf(c.node, sizeof c.node, "n");
    char tok[1800];
    if (tdm_token_mint(secret, sizeof secret - 1, &c, 1000, tok, sizeof tok, &err) != TDM_OK)
        abort();
    snprintf(token_header, sizeof token_header, "Bearer %s", tok);
}

/* Splits the input at NUL bytes into: method, path, authorization choice,
 * content type, if-match, body. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *fields[5] = {"POST", "/whip/s", "", "application/sdp", ""};
    size_t off = 0;
    for (int i = 0; i < 5 && off < size; i++) {
        fields[i] = copy + off;
        off += strlen(copy + off) + 1;
    }
    const uint8_t *body = off < size ? data + off : NULL;
    size_t body_len = off < size ? size - off : 0;

    bool with_token = fields[2][0] == 'T';
    tdm_whip_request req = {.method = tdm_whip_method_parse(fields[0]),
                            .path = fields[1],
                            .authorization = with_token ? token_header : fields[2],
                            .content_type = fields[3],
                            .if_match = fields[4][0] ? fields[4] : NULL,
                            .body = body,
                            .body_len = body_len,
                            .body_too_large = size % 7 == 0};
    char out[8192];
    tdm_whip_response resp = {.body = out, .body_cap = sizeof out};
    backend_calls = 0;
    tdm_whip_handle(whip, &req, 2000, &resp);
    if (resp.status < 100 || resp.status > 599)
        abort();
    if (resp.body_len > resp.body_cap || resp.n_headers > TDM_WHIP_MAX_HEADERS)
        abort();
    /* A forged or missing token never gets past the check, except to the
     * routes that need none (OPTIONS, /healthz, /metrics). */
    if (!with_token && backend_calls > 0 && req.method != TDM_WHIP_GET &&
        req.method != TDM_WHIP_OPTIONS && req.method != TDM_WHIP_HEAD) {
        tdm_token_claims claims;
        tdm_token_failure why;
        if (tdm_token_verify(secret, sizeof secret - 1, fields[2], 2000, TDM_TOKEN_ROLE_PUBLISH,
                             "n", "s", &claims, &why, NULL) != TDM_OK &&
            tdm_token_verify(secret, sizeof secret - 1, fields[2], 2000,
                             TDM_TOKEN_ROLE_SUBSCRIBE, "n", "s", &claims, &why, NULL) != TDM_OK)
            abort();
    }
    free(copy);
    return 0;
}
