/* whip_routes_requests_test: the relay's WHIP/WHEP request handling
 * (relay/tdm_whip.h) against a fake backend that keeps endpoints in an array
 * and answers with the real SDP answerer. Every route; every way a token is
 * wrong (missing, malformed, expired, forged, wrong role, node, session or
 * participant) refused before anything is looked up and without naming the
 * session; bad SDP with its line; wrong Content-Type; oversized bodies;
 * trickle PATCH, ICE restart with a new ETag and 412 on a stale one; DELETE;
 * CORS preflight and exposed headers; /healthz and /metrics; backend errors
 * mapped to statuses without leaking internals; random resource ids.
 * POST /admin/revoke: 404 without an admin verifier, authentication, time
 * window and replay, body checks, the backend told to end the session or
 * participant, and later tokens refused with 403 "session ended" /
 * "participant removed" until the revocation TTL passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_whip.h"

static const uint8_t secret[] = "whip-test-secret-0123456789abcdef";
#define SECRET_LEN (sizeof secret - 1)
#define NOW 1700000000
#define NODE "relay-eu-1"
#define SESSION "sess-7f3a"
#define PARTICIPANT "customer-42"

/* A WHIP offer as a browser sends it, trimmed to one bundled VP8 m-line. */
static const char offer_publish[] =
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "a=msid-semantic: WMS\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:Qx9Z\r\n"
    "a=ice-pwd:3Fqz7u1XaH5Yb9Kc2Md4Ne6P\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 93:90:EF:32:AD:DF:32:BF:DE:A7:86:BC:1E:20:67:95:"
    "92:49:80:68:BC:BF:CD:35:7E:A1:0A:B6:4E:A3:5E:47\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=sendonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n";

static const char trickle_frag[] = "a=ice-ufrag:Qx9Z\r\n"
                                   "a=ice-pwd:3Fqz7u1XaH5Yb9Kc2Md4Ne6P\r\n"
                                   "m=video 9 UDP/TLS/RTP/SAVPF 0\r\n"
                                   "a=mid:0\r\n"
                                   "a=candidate:1 1 udp 2122260223 192.0.2.5 61764 typ host\r\n"
                                   "a=candidate:2 1 udp 2122194687 198.51.100.7 61765 typ host\r\n"
                                   "a=end-of-candidates\r\n";

static const char restart_frag[] = "a=ice-ufrag:NeW1\r\n"
                                   "a=ice-pwd:aNewPasswordOf24charsXYZ\r\n"
                                   "m=video 9 UDP/TLS/RTP/SAVPF 0\r\n"
                                   "a=mid:0\r\n"
                                   "a=candidate:3 1 udp 2122260223 192.0.2.9 50000 typ host\r\n";

/* ------------------------------------------------------------------ */
/* fake backend                                                        */

#define MAX_EP 8

typedef struct fake {
    tdm_whip_endpoint ep[MAX_EP];
    bool live[MAX_EP];
    int creates, patches, deletes, end_sessions;
    char ended_session[TDM_TOKEN_ID_MAX + 1], ended_participant[TDM_TOKEN_ID_MAX + 1];
    size_t last_frag_candidates;
    bool last_patch_restart;
    tdm_status create_result; /* forced when not TDM_OK */
    const char *create_msg;
    tdm_status patch_result;
    bool unhealthy;
    uint8_t next_random;
} fake;

static fake fb;

static int find(const char *rid)
{
    for (int i = 0; i < MAX_EP; i++)
        if (fb.live[i] && strcmp(fb.ep[i].resource_id, rid) == 0)
            return i;
    return -1;
}

static tdm_status fake_create(void *ctx, const tdm_whip_endpoint *ep,
                              const tdm_sdp_session *offer, char *answer, size_t cap,
                              size_t *answer_len, tdm_error *err)
{
    assert_ptr_equal(ctx, &fb);
    fb.creates++;
    if (fb.create_result != TDM_OK)
        return tdm_fail(err, fb.create_result, "%s", fb.create_msg ? fb.create_msg : "");
    int slot = -1;
    for (int i = 0; i < MAX_EP && slot < 0; i++)
        if (!fb.live[i])
            slot = i;
    if (slot < 0)
        return tdm_fail(err, TDM_ERR_RANGE, "relay is full");
    tdm_sdp_local local;
    memset(&local, 0, sizeof local);
    local.ice_ufrag = "RlyA";
    local.ice_pwd = "relayPasswordOf24charsAB";
    for (int i = 0; i < 32; i++)
        local.fingerprint[i] = (uint8_t)i;
    local.session_id = 42;
    local.codecs = TDM_SDP_CODECS_ALL;
    local.extensions = TDM_SDP_EXT_DEFAULT;
    tdm_sdp_role role =
        ep->role == TDM_TOKEN_ROLE_PUBLISH ? TDM_SDP_ROLE_PUBLISH : TDM_SDP_ROLE_SUBSCRIBE;
    tdm_status st = tdm_sdp_answer(offer, &local, role, answer, cap, answer_len, NULL, err);
    if (st != TDM_OK)
        return st;
    fb.ep[slot] = *ep;
    strcpy(fb.ep[slot].remote_ufrag, offer->media[0].ice.ufrag);
    strcpy(fb.ep[slot].remote_pwd, offer->media[0].ice.pwd);
    fb.live[slot] = true;
    return TDM_OK;
}

static bool fake_lookup(void *ctx, const char *rid, tdm_whip_endpoint *out)
{
    (void)ctx;
    int i = find(rid);
    if (i < 0)
        return false;
    *out = fb.ep[i];
    return true;
}

static tdm_status fake_patch(void *ctx, const char *rid, const tdm_sdp_frag *frag,
                             const char *new_etag, char *out, size_t cap, size_t *out_len,
                             tdm_error *err)
{
    (void)ctx;
    fb.patches++;
    fb.last_frag_candidates = frag->n_candidates;
    fb.last_patch_restart = new_etag != NULL;
    if (fb.patch_result != TDM_OK)
        return tdm_fail(err, fb.patch_result, "ICE restart not supported here");
    int i = find(rid);
    assert_true(i >= 0);
    if (!new_etag)
        return TDM_OK;
    strcpy(fb.ep[i].etag, new_etag);
    strcpy(fb.ep[i].remote_ufrag, frag->ice.ufrag);
    strcpy(fb.ep[i].remote_pwd, frag->ice.pwd);
    return tdm_sdp_frag_write("RlyB", "relayNewPasswordOf24chr", "video", "0", NULL, 0, false,
                              out, cap, out_len, err);
}

static tdm_status fake_delete(void *ctx, const char *rid)
{
    (void)ctx;
    fb.deletes++;
    int i = find(rid);
    if (i < 0)
        return TDM_EOF;
    fb.live[i] = false;
    return TDM_OK;
}

static tdm_status fake_end_session(void *ctx, const char *session, const char *participant,
                                   size_t *ended)
{
    (void)ctx;
    fb.end_sessions++;
    snprintf(fb.ended_session, sizeof fb.ended_session, "%s", session);
    snprintf(fb.ended_participant, sizeof fb.ended_participant, "%s",
             participant ? participant : "");
    size_t n = 0;
    for (int i = 0; i < MAX_EP; i++)
        if (fb.live[i] && strcmp(fb.ep[i].session, session) == 0 &&
            (!participant || strcmp(fb.ep[i].participant, participant) == 0)) {
            fb.live[i] = false;
            n++;
        }
    *ended = n;
    return TDM_OK;
}

static tdm_status fake_metrics(void *ctx, char *out, size_t cap, size_t *len)
{
    (void)ctx;
    int n = snprintf(out, cap, "# TYPE tandem_sessions gauge\ntandem_sessions 1\n");
    *len = (size_t)n;
    return TDM_OK;
}

static bool fake_healthy(void *ctx)
{
    (void)ctx;
    return !fb.unhealthy;
}

/* Deterministic "randomness": distinct bytes per call. */
static tdm_status counter_random(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(fb.next_random + i * 7);
    fb.next_random++;
    return TDM_OK;
}

static const tdm_whip_backend backend = {
    .ctx = &fb,
    .create_endpoint = fake_create,
    .lookup_endpoint = fake_lookup,
    .patch_endpoint = fake_patch,
    .delete_endpoint = fake_delete,
    .end_session = fake_end_session,
    .write_metrics = fake_metrics,
    .healthy = fake_healthy,
};

static const tdm_whip_ice_server ice_servers[] = {
    {"stun:stun.example.net:3478", NULL, NULL},
    {"turn:turn.example.net:3478?transport=udp", "1700000600:customer-42", "c2VjcmV0"},
};

static tdm_whip *new_whip(const char *cors, bool real_random)
{
    tdm_whip_config cfg = {
        .secret = secret,
        .secret_len = SECRET_LEN,
        .node_id = NODE,
        .cors_origin = cors,
        .ice_servers = ice_servers,
        .n_ice_servers = 2,
        .random = real_random ? NULL : counter_random,
    };
    tdm_whip *w = NULL;
    tdm_error e = {{0}};
    assert_int_equal(tdm_whip_new(&cfg, &backend, &w, &e), TDM_OK);
    assert_non_null(w);
    return w;
}

static int setup(void **state)
{
    memset(&fb, 0, sizeof fb);
    *state = new_whip("*", false);
    return 0;
}

static int teardown(void **state)
{
    tdm_whip_free(*state);
    return 0;
}

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static char bearer[TDM_TOKEN_MAX_LEN + 16];

static const char *token_for(tdm_token_role role, const char *node, const char *session,
                             const char *participant, int64_t exp, const uint8_t *key)
{
    tdm_token_claims c;
    memset(&c, 0, sizeof c);
    strcpy(c.sub, participant);
    strcpy(c.sid, session);
    strcpy(c.node, node);
    c.role = role;
    c.exp = exp;
    char tok[TDM_TOKEN_MAX_LEN];
    tdm_error e = {{0}};
    /* Minted in the past for expired tokens: mint refuses exp <= now. */
    int64_t minted = exp > NOW ? NOW : exp - 60;
    if (tdm_token_mint(key, SECRET_LEN, &c, minted, tok, sizeof tok, &e) != TDM_OK)
        fail_msg("mint: %s", e.msg);
    snprintf(bearer, sizeof bearer, "Bearer %s", tok);
    return bearer;
}

static const char *pub_token(void)
{
    return token_for(TDM_TOKEN_ROLE_PUBLISH, NODE, SESSION, PARTICIPANT, NOW + 600, secret);
}

static const char *sub_token(void)
{
    return token_for(TDM_TOKEN_ROLE_SUBSCRIBE, NODE, SESSION, "expert-9", NOW + 600, secret);
}

typedef struct reply {
    tdm_whip_response r;
    char body[TDM_WHIP_BODY_CAP + 1];
} reply;

static reply rep;

static const tdm_whip_response *call_at(tdm_whip *w, int64_t now, tdm_whip_method m,
                                        const char *path, const char *auth, const char *ctype,
                                        const char *if_match, const char *body);

static const tdm_whip_response *call(tdm_whip *w, tdm_whip_method m, const char *path,
                                     const char *auth, const char *ctype, const char *if_match,
                                     const char *body)
{
    return call_at(w, NOW, m, path, auth, ctype, if_match, body);
}

static const tdm_whip_response *call_at(tdm_whip *w, int64_t now, tdm_whip_method m,
                                        const char *path, const char *auth, const char *ctype,
                                        const char *if_match, const char *body)
{
    tdm_whip_request req = {
        .method = m,
        .path = path,
        .authorization = auth,
        .content_type = ctype,
        .if_match = if_match,
        .body = (const uint8_t *)body,
        .body_len = body ? strlen(body) : 0,
    };
    memset(&rep.r, 0x5a, sizeof rep.r);
    rep.r.body = rep.body;
    rep.r.body_cap = TDM_WHIP_BODY_CAP;
    assert_int_equal(tdm_whip_handle(w, &req, now, &rep.r), TDM_OK);
    assert_true(rep.r.body_len <= TDM_WHIP_BODY_CAP);
    rep.body[rep.r.body_len] = '\0';
    return &rep.r;
}

static const char *hdr(const tdm_whip_response *r, const char *name)
{
    return tdm_whip_response_header(r, name);
}

static size_t count_headers(const tdm_whip_response *r, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_headers; i++)
        n += strcasecmp(r->headers[i].name, name) == 0;
    return n;
}

/* POSTs the offer with a publish token; returns the Location in loc. */
static void publish(tdm_whip *w, char *loc, size_t cap, char *etag, size_t etag_cap)
{
    const tdm_whip_response *r = call(w, TDM_WHIP_POST, "/whip/" SESSION, pub_token(),
                                      "application/sdp", NULL, offer_publish);
    assert_int_equal(r->status, 201);
    snprintf(loc, cap, "%s", hdr(r, "Location"));
    if (etag)
        snprintf(etag, etag_cap, "%s", hdr(r, "ETag"));
}

static bool is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return s[n] == '\0';
}

/* ------------------------------------------------------------------ */
/* POST                                                                */

static void post_publish_creates_resource(void **state)
{
    tdm_whip *w = *state;
    const tdm_whip_response *r = call(w, TDM_WHIP_POST, "/whip/" SESSION, pub_token(),
                                      "application/sdp", NULL, offer_publish);
    assert_int_equal(r->status, 201);
    assert_string_equal(hdr(r, "Content-Type"), "application/sdp");
    const char *loc = hdr(r, "Location");
    assert_non_null(loc);
    assert_int_equal(strncmp(loc, "/whip/" SESSION "/", strlen("/whip/" SESSION "/")), 0);
    assert_true(is_hex(loc + strlen("/whip/" SESSION "/"), TDM_WHIP_RESOURCE_ID_LEN));
    const char *etag = hdr(r, "ETag");
    assert_non_null(etag);
    assert_int_equal(strlen(etag), TDM_WHIP_ETAG_LEN + 2);
    assert_true(etag[0] == '"' && etag[TDM_WHIP_ETAG_LEN + 1] == '"');
    assert_string_equal(hdr(r, "Accept-Patch"), "application/trickle-ice-sdpfrag");
    /* The answer is the backend's, byte for byte: a recvonly VP8 answer. */
    assert_non_null(strstr(rep.body, "v=0\r\n"));
    assert_non_null(strstr(rep.body, "a=recvonly\r\n"));
    assert_non_null(strstr(rep.body, "a=rtpmap:96 VP8/90000\r\n"));
    /* ICE servers as RFC 9725 4.6 Link headers, TURN with its credential. */
    assert_int_equal(count_headers(r, "Link"), 2);
    assert_string_equal(r->headers[0].name, "Access-Control-Allow-Origin");
    bool stun = false, turn = false;
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcmp(r->headers[i].name, "Link") != 0)
            continue;
        const char *v = r->headers[i].value;
        stun |= strcmp(v, "<stun:stun.example.net:3478>; rel=\"ice-server\"") == 0;
        turn |= strcmp(v, "<turn:turn.example.net:3478?transport=udp>; rel=\"ice-server\"; "
                          "username=\"1700000600:customer-42\"; credential=\"c2VjcmV0\"; "
                          "credential-type=\"password\"") == 0;
    }
    assert_true(stun && turn);

    /* What the backend was told: from the token and the path, ids from us. */
    assert_int_equal(fb.creates, 1);
    assert_int_equal(fb.ep[0].role, TDM_TOKEN_ROLE_PUBLISH);
    assert_string_equal(fb.ep[0].session, SESSION);
    assert_string_equal(fb.ep[0].participant, PARTICIPANT);
    assert_string_equal(fb.ep[0].resource_id, loc + strlen("/whip/" SESSION "/"));
    assert_memory_equal(fb.ep[0].etag, etag + 1, TDM_WHIP_ETAG_LEN);

    /* Content-Type parameters and case do not matter; a query is ignored. */
    r = call(w, TDM_WHIP_POST, "/whip/" SESSION "?x=1", pub_token(),
             "Application/SDP; charset=utf-8", NULL, offer_publish);
    assert_int_equal(r->status, 201);
}

static void post_whep_subscribes(void **state)
{
    tdm_whip *w = *state;
    char *offer = strdup(offer_publish);
    assert_non_null(offer);
    memcpy(strstr(offer, "a=sendonly"), "a=recvonly", 10);
    const tdm_whip_response *r = call(w, TDM_WHIP_POST, "/whep/" SESSION, sub_token(),
                                      "application/sdp", NULL, offer);
    free(offer);
    assert_int_equal(r->status, 201);
    assert_int_equal(strncmp(hdr(r, "Location"), "/whep/" SESSION "/", 15), 0);
    assert_non_null(strstr(rep.body, "a=sendonly\r\n"));
    assert_int_equal(fb.ep[0].role, TDM_TOKEN_ROLE_SUBSCRIBE);
    assert_string_equal(fb.ep[0].participant, "expert-9");
}

/* Refused with status, the token's reason only, and the right challenge. */
static void expect_refusal(tdm_whip *w, tdm_whip_method m, const char *path, const char *auth,
                           int status, tdm_token_failure why)
{
    const char *ctype = m == TDM_WHIP_PATCH ? "application/trickle-ice-sdpfrag" : "application/sdp";
    const char *body = m == TDM_WHIP_PATCH ? trickle_frag : offer_publish;
    int creates = fb.creates, patches = fb.patches, deletes = fb.deletes;
    const tdm_whip_response *r = call(w, m, path, auth, ctype, NULL, body);
    assert_int_equal(r->status, status);
    char want[128];
    snprintf(want, sizeof want, "%s\n", tdm_token_failure_text(why));
    assert_string_equal(rep.body, want);
    assert_string_equal(hdr(r, "Content-Type"), "text/plain; charset=utf-8");
    if (status == 401) {
        const char *challenge = hdr(r, "WWW-Authenticate");
        assert_non_null(challenge);
        assert_int_equal(strncmp(challenge, "Bearer ", 7), 0);
        assert_true((why == TDM_TOKEN_MISSING) == (strstr(challenge, "invalid_token") == NULL));
    } else {
        assert_null(hdr(r, "WWW-Authenticate"));
    }
    /* Nothing about the session or resource, and the backend never asked. */
    assert_null(strstr(rep.body, SESSION));
    assert_null(strstr(rep.body, PARTICIPANT));
    assert_null(strstr(rep.body, NODE));
    assert_null(hdr(r, "Location"));
    assert_null(hdr(r, "ETag"));
    assert_int_equal(fb.creates, creates);
    assert_int_equal(fb.patches, patches);
    assert_int_equal(fb.deletes, deletes);
}

static void every_token_case_on_post(void **state)
{
    tdm_whip *w = *state;
    static const uint8_t other[] = "another-secret-0123456789abcdefgh";
    const char *p = "/whip/" SESSION;
    expect_refusal(w, TDM_WHIP_POST, p, NULL, 401, TDM_TOKEN_MISSING);
    expect_refusal(w, TDM_WHIP_POST, p, "Bearer ", 401, TDM_TOKEN_MISSING);
    expect_refusal(w, TDM_WHIP_POST, p, "Bearer not-a-jwt", 401, TDM_TOKEN_MALFORMED);
    expect_refusal(w, TDM_WHIP_POST, p, "Basic dXNlcjpwYXNz", 401, TDM_TOKEN_MALFORMED);
    expect_refusal(w, TDM_WHIP_POST, p,
                   token_for(TDM_TOKEN_ROLE_PUBLISH, NODE, SESSION, PARTICIPANT, NOW - 1, secret),
                   401, TDM_TOKEN_EXPIRED);
    expect_refusal(w, TDM_WHIP_POST, p,
                   token_for(TDM_TOKEN_ROLE_PUBLISH, NODE, SESSION, PARTICIPANT, NOW + 600, other),
                   401, TDM_TOKEN_BAD_SIGNATURE);
    /* A signature from our key pasted onto another payload is forged too. */
    char tampered[sizeof bearer];
    strcpy(tampered, pub_token());
    char *dot = strchr(tampered, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    const tdm_whip_response *r = call(w, TDM_WHIP_POST, p, tampered, "application/sdp", NULL,
                                      offer_publish);
    assert_int_equal(r->status, 401);
    expect_refusal(w, TDM_WHIP_POST, p, sub_token(), 403, TDM_TOKEN_WRONG_ROLE);
    expect_refusal(w, TDM_WHIP_POST, "/whep/" SESSION, pub_token(), 403, TDM_TOKEN_WRONG_ROLE);
    expect_refusal(w, TDM_WHIP_POST, p,
                   token_for(TDM_TOKEN_ROLE_PUBLISH, "relay-us-2", SESSION, PARTICIPANT,
                             NOW + 600, secret),
                   403, TDM_TOKEN_WRONG_NODE);
    expect_refusal(w, TDM_WHIP_POST, "/whip/another-session", pub_token(), 403,
                   TDM_TOKEN_WRONG_SESSION);
    /* The token is checked before the body: no token and a bad body is 401. */
    r = call(w, TDM_WHIP_POST, p, NULL, "text/plain", NULL, "junk");
    assert_int_equal(r->status, 401);
    assert_int_equal(fb.creates, 0);
}

static void bad_bodies_are_refused(void **state)
{
    tdm_whip *w = *state;
    const char *p = "/whip/" SESSION;
    const tdm_whip_response *r = call(w, TDM_WHIP_POST, p, pub_token(), "text/plain", NULL,
                                      offer_publish);
    assert_int_equal(r->status, 415);
    r = call(w, TDM_WHIP_POST, p, pub_token(), NULL, NULL, offer_publish);
    assert_int_equal(r->status, 415);
    r = call(w, TDM_WHIP_POST, p, pub_token(), "application/sdpx", NULL, offer_publish);
    assert_int_equal(r->status, 415);

    /* The parser's own message, with the line that broke it. */
    char *bad = strdup(offer_publish);
    assert_non_null(bad);
    memcpy(strstr(bad, "a=rtpmap:96 VP8"), "a=rtpmap:xx VP8", 15);
    r = call(w, TDM_WHIP_POST, p, pub_token(), "application/sdp", NULL, bad);
    free(bad);
    assert_int_equal(r->status, 400);
    if (strncmp(rep.body, "line 17: ", 9) != 0)
        fail_msg("body: %s", rep.body);
    r = call(w, TDM_WHIP_POST, p, pub_token(), "application/sdp", NULL, "");
    assert_int_equal(r->status, 400);
    r = call(w, TDM_WHIP_POST, p, pub_token(), "application/sdp", NULL, "v=0\r\nm=video");
    assert_int_equal(r->status, 400);
    assert_int_equal(strncmp(rep.body, "line ", 5), 0);

    /* Over the limit: the shell's flag, or a body longer than the limit. */
    tdm_whip_request req = {.method = TDM_WHIP_POST,
                            .path = p,
                            .authorization = pub_token(),
                            .content_type = "application/sdp",
                            .body_too_large = true};
    rep.r.body = rep.body;
    rep.r.body_cap = TDM_WHIP_BODY_CAP;
    assert_int_equal(tdm_whip_handle(w, &req, NOW, &rep.r), TDM_OK);
    assert_int_equal(rep.r.status, 413);
    char *big = malloc(TDM_WHIP_MAX_BODY + 2);
    assert_non_null(big);
    memset(big, 'a', TDM_WHIP_MAX_BODY + 1);
    big[TDM_WHIP_MAX_BODY + 1] = '\0';
    r = call(w, TDM_WHIP_POST, p, pub_token(), "application/sdp", NULL, big);
    free(big);
    assert_int_equal(r->status, 413);
    assert_int_equal(fb.creates, 0);
}

static void backend_errors_map_to_statuses(void **state)
{
    tdm_whip *w = *state;
    const char *p = "/whip/" SESSION;
    static const struct {
        tdm_status st;
        const char *msg;
        int http;
        const char *body;
    } cases[] = {
        {TDM_ERR_UNAVAILABLE, "media plane not available", 503, "media plane not available\n"},
        {TDM_ERR_RANGE, "", 503, "service unavailable\n"},
        {TDM_ERR_INVALID, "session already has a publisher", 409,
         "session already has a publisher\n"},
        {TDM_ERR_UNSUPPORTED, "no acceptable media", 400, "no acceptable media\n"},
        /* Internals stay in the log. */
        {TDM_ERR_IO, "socket 17: EBADF", 500, "internal error\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fb.create_result = cases[i].st;
        fb.create_msg = cases[i].msg;
        const tdm_whip_response *r = call(w, TDM_WHIP_POST, p, pub_token(), "application/sdp",
                                          NULL, offer_publish);
        assert_int_equal(r->status, cases[i].http);
        assert_string_equal(rep.body, cases[i].body);
        assert_null(hdr(r, "Location"));
    }
    /* An offer with nothing the relay takes is the answerer's 400. */
    fb.create_result = TDM_OK;
    char *h264 = strdup(offer_publish);
    assert_non_null(h264);
    memcpy(strstr(h264, "VP8/90000"), "H26/90000", 9);
    const tdm_whip_response *r = call(w, TDM_WHIP_POST, p, pub_token(), "application/sdp", NULL,
                                      h264);
    free(h264);
    assert_int_equal(r->status, 400);
}

/* ------------------------------------------------------------------ */
/* PATCH and DELETE                                                    */

static void patch_trickles_candidates(void **state)
{
    tdm_whip *w = *state;
    char loc[128], etag[32];
    publish(w, loc, sizeof loc, etag, sizeof etag);
    const char *ct = "application/trickle-ice-sdpfrag";

    const tdm_whip_response *r = call(w, TDM_WHIP_PATCH, loc, pub_token(), ct, etag, trickle_frag);
    assert_int_equal(r->status, 204);
    assert_int_equal(r->body_len, 0);
    assert_int_equal(fb.last_frag_candidates, 2);
    assert_false(fb.last_patch_restart);
    /* Without If-Match, or with "*" or a list holding the tag: accepted. */
    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), ct, NULL, trickle_frag);
    assert_int_equal(r->status, 204);
    char list[64];
    snprintf(list, sizeof list, "\"0000000000000000\", %s", etag);
    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), ct, list, trickle_frag);
    assert_int_equal(r->status, 204);
    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), ct, "*", trickle_frag);
    assert_int_equal(r->status, 204);
    /* A stale or weak tag: 412, the backend untouched. */
    int patches = fb.patches;
    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), ct, "\"0123456789abcdef\"", trickle_frag);
    assert_int_equal(r->status, 412);
    char weak[40];
    snprintf(weak, sizeof weak, "W/%s", etag);
    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), ct, weak, trickle_frag);
    assert_int_equal(r->status, 412);
    assert_int_equal(fb.patches, patches);

    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), "application/sdp", etag, trickle_frag);
    assert_int_equal(r->status, 415);
    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), ct, etag,
             "m=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 1 10.0.0.1\r\n");
    assert_int_equal(r->status, 400);
    assert_int_equal(strncmp(rep.body, "line 3: ", 8), 0);
    assert_int_equal(fb.patches, patches);
}

static void patch_restarts_ice_with_new_etag(void **state)
{
    tdm_whip *w = *state;
    char loc[128], etag[32];
    publish(w, loc, sizeof loc, etag, sizeof etag);
    const char *ct = "application/trickle-ice-sdpfrag";

    /* A stale tag refuses a restart too. */
    const tdm_whip_response *r = call(w, TDM_WHIP_PATCH, loc, pub_token(), ct,
                                      "\"0123456789abcdef\"", restart_frag);
    assert_int_equal(r->status, 412);

    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), ct, "*", restart_frag);
    assert_int_equal(r->status, 200);
    assert_true(fb.last_patch_restart);
    assert_string_equal(hdr(r, "Content-Type"), ct);
    assert_non_null(strstr(rep.body, "a=ice-ufrag:RlyB\r\n"));
    assert_non_null(strstr(rep.body, "a=ice-pwd:relayNewPasswordOf24chr\r\n"));
    char etag2[32];
    snprintf(etag2, sizeof etag2, "%s", hdr(r, "ETag"));
    assert_int_equal(strlen(etag2), TDM_WHIP_ETAG_LEN + 2);
    assert_string_not_equal(etag2, etag);
    /* Browsers read the new tag from script: it must be exposed. */
    assert_non_null(strstr(hdr(r, "Access-Control-Expose-Headers"), "ETag"));

    /* Trickle for the old ICE session: 412; for the new one: 204. */
    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), ct, etag, restart_frag);
    assert_int_equal(r->status, 412);
    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), ct, etag2, restart_frag);
    assert_int_equal(r->status, 204);
    assert_false(fb.last_patch_restart);

    /* A backend that cannot restart: 422, its reason. */
    fb.patch_result = TDM_ERR_UNSUPPORTED;
    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), ct, "*", trickle_frag);
    assert_int_equal(r->status, 422);
    assert_string_equal(rep.body, "ICE restart not supported here\n");
}

static void delete_ends_the_resource(void **state)
{
    tdm_whip *w = *state;
    char loc[128];
    publish(w, loc, sizeof loc, NULL, 0);
    const tdm_whip_response *r = call(w, TDM_WHIP_DELETE, loc, pub_token(), NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(fb.deletes, 1);
    assert_false(fb.live[0]);
    r = call(w, TDM_WHIP_DELETE, loc, pub_token(), NULL, NULL, NULL);
    assert_int_equal(r->status, 404);
    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), "application/trickle-ice-sdpfrag", NULL,
             trickle_frag);
    assert_int_equal(r->status, 404);
    assert_int_equal(fb.deletes, 1);
}

static void resource_requests_check_token_then_owner(void **state)
{
    tdm_whip *w = *state;
    char loc[128];
    publish(w, loc, sizeof loc, NULL, 0);
    const char *rid = loc + strlen("/whip/" SESSION "/");

    for (int m = 0; m < 2; m++) {
        tdm_whip_method meth = m ? TDM_WHIP_DELETE : TDM_WHIP_PATCH;
        expect_refusal(w, meth, loc, NULL, 401, TDM_TOKEN_MISSING);
        expect_refusal(w, meth, loc, "Bearer x.y.z", 401, TDM_TOKEN_MALFORMED);
        expect_refusal(w, meth, loc,
                       token_for(TDM_TOKEN_ROLE_PUBLISH, NODE, SESSION, PARTICIPANT, NOW - 5,
                                 secret),
                       401, TDM_TOKEN_EXPIRED);
        expect_refusal(w, meth, loc, sub_token(), 403, TDM_TOKEN_WRONG_ROLE);
        expect_refusal(w, meth, loc,
                       token_for(TDM_TOKEN_ROLE_PUBLISH, "relay-x", SESSION, PARTICIPANT,
                                 NOW + 60, secret),
                       403, TDM_TOKEN_WRONG_NODE);
        char other[160];
        snprintf(other, sizeof other, "/whip/other-sess/%s", rid);
        expect_refusal(w, meth, other, pub_token(), 403, TDM_TOKEN_WRONG_SESSION);

        /* Authentic, but the resource is not theirs: as unknown as a
         * resource that never was. */
        const tdm_whip_response *r =
            call(w, meth, other,
                 token_for(TDM_TOKEN_ROLE_PUBLISH, NODE, "other-sess", PARTICIPANT, NOW + 60,
                           secret),
                 "application/trickle-ice-sdpfrag", NULL, trickle_frag);
        assert_int_equal(r->status, 404);
        r = call(w, meth, loc,
                 token_for(TDM_TOKEN_ROLE_PUBLISH, NODE, SESSION, "intruder", NOW + 60, secret),
                 "application/trickle-ice-sdpfrag", NULL, trickle_frag);
        assert_int_equal(r->status, 404);
        char whep[160];
        snprintf(whep, sizeof whep, "/whep/" SESSION "/%s", rid);
        r = call(w, meth, whep, sub_token(), "application/trickle-ice-sdpfrag", NULL,
                 trickle_frag);
        assert_int_equal(r->status, 404);
        r = call(w, meth, "/whip/" SESSION "/0123456789abcdef0123456789abcdef", pub_token(),
                 "application/trickle-ice-sdpfrag", NULL, trickle_frag);
        assert_int_equal(r->status, 404);
        assert_string_equal(rep.body, "not found\n");
    }
    assert_int_equal(fb.patches, 0);
    assert_int_equal(fb.deletes, 0);
    assert_true(fb.live[0]);
}

/* ------------------------------------------------------------------ */
/* routing, CORS, health, metrics                                      */

static void unknown_paths_and_methods(void **state)
{
    tdm_whip *w = *state;
    static const char *const not_found[] = {
        "/",
        "/whip",
        "/whip/",
        "/whipx/" SESSION,
        "/whip/bad$session",
        "/whip/" SESSION "/",
        "/whip/" SESSION "/0123",
        "/whip/" SESSION "/0123456789ABCDEF0123456789ABCDEF", /* upper case: not ours */
        "/whip/" SESSION "/0123456789abcdef0123456789abcdef/x",
        "/whip/%73ess",
        "/healthz/x",
        "/metricsx",
        "/whip/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
        "",
    };
    for (size_t i = 0; i < sizeof not_found / sizeof not_found[0]; i++) {
        const tdm_whip_response *r =
            call(w, TDM_WHIP_POST, not_found[i], pub_token(), "application/sdp", NULL, offer_publish);
        assert_int_equal(r->status, 404);
    }
    const tdm_whip_response *r = call(w, TDM_WHIP_GET, NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 404);

    r = call(w, TDM_WHIP_GET, "/whip/" SESSION, pub_token(), NULL, NULL, NULL);
    assert_int_equal(r->status, 405);
    assert_string_equal(hdr(r, "Allow"), "POST, OPTIONS");
    r = call(w, TDM_WHIP_DELETE, "/whep/" SESSION, pub_token(), NULL, NULL, NULL);
    assert_int_equal(r->status, 405);
    r = call(w, TDM_WHIP_PUT, "/whip/" SESSION "/0123456789abcdef0123456789abcdef", pub_token(),
             NULL, NULL, NULL);
    assert_int_equal(r->status, 405);
    assert_string_equal(hdr(r, "Allow"), "PATCH, DELETE, OPTIONS");
    r = call(w, TDM_WHIP_POST, "/healthz", NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 405);
    assert_string_equal(hdr(r, "Allow"), "GET, HEAD, OPTIONS");
    r = call(w, TDM_WHIP_OTHER, "/metrics", NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 405);
    assert_int_equal(fb.creates, 0);

    assert_int_equal(tdm_whip_method_parse("PATCH"), TDM_WHIP_PATCH);
    assert_int_equal(tdm_whip_method_parse("OPTIONS"), TDM_WHIP_OPTIONS);
    assert_int_equal(tdm_whip_method_parse("patch"), TDM_WHIP_OTHER);
    assert_int_equal(tdm_whip_method_parse(NULL), TDM_WHIP_OTHER);
}

static void cors_preflight_and_exposed_headers(void **state)
{
    tdm_whip *w = *state;
    /* A preflight carries no token; it still gets everything it needs. */
    const tdm_whip_response *r = call(w, TDM_WHIP_OPTIONS, "/whip/" SESSION, NULL, NULL, NULL,
                                      NULL);
    assert_int_equal(r->status, 204);
    assert_int_equal(r->body_len, 0);
    assert_string_equal(hdr(r, "Access-Control-Allow-Origin"), "*");
    assert_string_equal(hdr(r, "Access-Control-Allow-Methods"), "POST, OPTIONS");
    assert_string_equal(hdr(r, "Access-Control-Allow-Headers"),
                        "Authorization, Content-Type, If-Match");
    assert_string_equal(hdr(r, "Allow"), "POST, OPTIONS");
    assert_string_equal(hdr(r, "Accept-Post"), "application/sdp");
    assert_non_null(hdr(r, "Access-Control-Max-Age"));

    r = call(w, TDM_WHIP_OPTIONS, "/whep/" SESSION "/0123456789abcdef0123456789abcdef", NULL,
             NULL, NULL, NULL);
    assert_int_equal(r->status, 204);
    assert_string_equal(hdr(r, "Access-Control-Allow-Methods"), "PATCH, DELETE, OPTIONS");
    assert_string_equal(hdr(r, "Accept-Patch"), "application/trickle-ice-sdpfrag");
    assert_int_equal(fb.creates + fb.patches + fb.deletes, 0);

    /* Actual responses, errors included, let the page read them. */
    r = call(w, TDM_WHIP_POST, "/whip/" SESSION, pub_token(), "application/sdp", NULL,
             offer_publish);
    assert_int_equal(r->status, 201);
    assert_string_equal(hdr(r, "Access-Control-Allow-Origin"), "*");
    const char *expose = hdr(r, "Access-Control-Expose-Headers");
    assert_non_null(strstr(expose, "Location"));
    assert_non_null(strstr(expose, "ETag"));
    assert_non_null(strstr(expose, "Link"));
    r = call(w, TDM_WHIP_POST, "/whip/" SESSION, NULL, "application/sdp", NULL, offer_publish);
    assert_int_equal(r->status, 401);
    assert_string_equal(hdr(r, "Access-Control-Allow-Origin"), "*");

    /* One configured origin: that origin, and caches told it varies. */
    tdm_whip *one = new_whip("https://console.example.com", false);
    r = call(one, TDM_WHIP_OPTIONS, "/whip/" SESSION, NULL, NULL, NULL, NULL);
    assert_string_equal(hdr(r, "Access-Control-Allow-Origin"), "https://console.example.com");
    assert_string_equal(hdr(r, "Vary"), "Origin");
    tdm_whip_free(one);
    /* No CORS configured: plain OPTIONS, no Access-Control-* at all. */
    tdm_whip *none = new_whip(NULL, false);
    r = call(none, TDM_WHIP_OPTIONS, "/whip/" SESSION, NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 204);
    assert_string_equal(hdr(r, "Allow"), "POST, OPTIONS");
    for (size_t i = 0; i < r->n_headers; i++)
        assert_int_not_equal(strncmp(r->headers[i].name, "Access-Control-", 15), 0);
    tdm_whip_free(none);
}

static void healthz_and_metrics(void **state)
{
    tdm_whip *w = *state;
    const tdm_whip_response *r = call(w, TDM_WHIP_GET, "/healthz", NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(rep.body, "ok\n");
    r = call(w, TDM_WHIP_HEAD, "/healthz", NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 0);
    fb.unhealthy = true;
    r = call(w, TDM_WHIP_GET, "/healthz", NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 503);
    fb.unhealthy = false;

    char loc[128];
    publish(w, loc, sizeof loc, NULL, 0);
    call(w, TDM_WHIP_POST, "/whip/" SESSION, NULL, "application/sdp", NULL, offer_publish);
    call(w, TDM_WHIP_POST, "/whip/" SESSION,
         token_for(TDM_TOKEN_ROLE_PUBLISH, NODE, SESSION, PARTICIPANT, NOW - 1, secret),
         "application/sdp", NULL, offer_publish);
    call(w, TDM_WHIP_DELETE, loc, pub_token(), NULL, NULL, NULL);

    r = call(w, TDM_WHIP_GET, "/metrics", NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(hdr(r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    /* The backend's lines first, then ours. */
    assert_int_equal(strncmp(rep.body, "# TYPE tandem_sessions gauge\ntandem_sessions 1\n", 46), 0);
    assert_non_null(strstr(rep.body, "tandem_http_requests_total{code=\"201\"} 1\n"));
    assert_non_null(strstr(rep.body, "tandem_http_requests_total{code=\"401\"} 2\n"));
    assert_non_null(strstr(rep.body, "tandem_http_requests_total{code=\"503\"} 1\n"));
    assert_non_null(strstr(rep.body, "tandem_http_requests_total{code=\"200\"} 3\n"));
    assert_non_null(strstr(rep.body, "tandem_token_refusals_total{reason=\"missing\"} 1\n"));
    assert_non_null(strstr(rep.body, "tandem_token_refusals_total{reason=\"expired\"} 1\n"));
    assert_non_null(strstr(rep.body, "tandem_token_refusals_total{reason=\"wrong_role\"} 0\n"));
    assert_non_null(strstr(rep.body, "tandem_whip_endpoints_created_total{role=\"publish\"} 1\n"));
    assert_non_null(strstr(rep.body, "tandem_whip_endpoints_deleted_total{role=\"publish\"} 1\n"));
    assert_null(strstr(rep.body, SESSION));
    /* Every line is a comment or "name{labels} value". */
    for (const char *line = rep.body; *line;) {
        const char *nl = strchr(line, '\n');
        assert_non_null(nl);
        if (*line != '#')
            assert_non_null(memchr(line, ' ', (size_t)(nl - line)));
        line = nl + 1;
    }
}

/* ------------------------------------------------------------------ */
/* construction and ids                                                */

static void resource_ids_are_random_and_unrelated(void **state)
{
    (void)state;
    memset(&fb, 0, sizeof fb);
    tdm_whip *w = new_whip(NULL, true); /* OpenSSL's RAND_bytes */
    char seen[MAX_EP][TDM_WHIP_RESOURCE_ID_LEN + 1];
    for (int i = 0; i < MAX_EP; i++) {
        char loc[128];
        publish(w, loc, sizeof loc, NULL, 0);
        const char *rid = loc + strlen("/whip/" SESSION "/");
        assert_true(is_hex(rid, TDM_WHIP_RESOURCE_ID_LEN));
        for (int j = 0; j < i; j++)
            assert_string_not_equal(seen[j], rid);
        strcpy(seen[i], rid);
    }
    /* Full: the backend's 503, and its reason. */
    const tdm_whip_response *r = call(w, TDM_WHIP_POST, "/whip/" SESSION, pub_token(),
                                      "application/sdp", NULL, offer_publish);
    assert_int_equal(r->status, 503);
    assert_string_equal(rep.body, "relay is full\n");
    tdm_whip_free(w);
}

static tdm_status failing_random(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    (void)out;
    (void)n;
    return TDM_ERR_UNAVAILABLE;
}

static void construction_refuses_bad_config(void **state)
{
    (void)state;
    tdm_whip *w = NULL;
    tdm_error e = {{0}};
    tdm_whip_config cfg = {.secret = secret, .secret_len = SECRET_LEN, .node_id = NODE};
    assert_int_equal(tdm_whip_new(&cfg, &backend, &w, &e), TDM_OK);
    tdm_whip_free(w);
    tdm_whip_free(NULL);

    tdm_whip_config c = cfg;
    c.secret_len = TDM_TOKEN_SECRET_MIN - 1;
    assert_int_equal(tdm_whip_new(&c, &backend, &w, &e), TDM_ERR_INVALID);
    assert_null(w);
    c = cfg;
    c.node_id = "has space";
    assert_int_equal(tdm_whip_new(&c, &backend, &w, &e), TDM_ERR_INVALID);
    c.node_id = NULL;
    assert_int_equal(tdm_whip_new(&c, &backend, &w, &e), TDM_ERR_INVALID);
    c = cfg;
    tdm_whip_ice_server bad = {"stun:evil>; rel=\"x\"", NULL, NULL};
    c.ice_servers = &bad;
    c.n_ice_servers = 1;
    assert_int_equal(tdm_whip_new(&c, &backend, &w, &e), TDM_ERR_INVALID);
    tdm_whip_ice_server badcred = {"turn:t.example", "u", "a\"b"};
    c.ice_servers = &badcred;
    assert_int_equal(tdm_whip_new(&c, &backend, &w, &e), TDM_ERR_INVALID);
    c = cfg;
    c.cors_origin = "";
    assert_int_equal(tdm_whip_new(&c, &backend, &w, &e), TDM_ERR_INVALID);
    tdm_whip_backend nodel = backend;
    nodel.delete_endpoint = NULL;
    assert_int_equal(tdm_whip_new(&cfg, &nodel, &w, &e), TDM_ERR_INVALID);
    assert_int_equal(tdm_whip_new(NULL, &backend, &w, &e), TDM_ERR_INVALID);

    /* No PATCH in the backend: 405 for PATCH, and it is not advertised. */
    memset(&fb, 0, sizeof fb);
    tdm_whip_backend nopatch = backend;
    nopatch.patch_endpoint = NULL;
    assert_int_equal(tdm_whip_new(&cfg, &nopatch, &w, &e), TDM_OK);
    char loc[128];
    publish(w, loc, sizeof loc, NULL, 0);
    const tdm_whip_response *r = call(w, TDM_WHIP_POST, "/whip/" SESSION, pub_token(),
                                      "application/sdp", NULL, offer_publish);
    assert_null(hdr(r, "Accept-Patch"));
    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), "application/trickle-ice-sdpfrag", NULL,
             trickle_frag);
    assert_int_equal(r->status, 405);
    assert_string_equal(hdr(r, "Allow"), "DELETE, OPTIONS");
    tdm_whip_free(w);

    /* No randomness, no resource: 500, and nothing created. */
    memset(&fb, 0, sizeof fb);
    c = cfg;
    c.random = failing_random;
    assert_int_equal(tdm_whip_new(&c, &backend, &w, &e), TDM_OK);
    r = call(w, TDM_WHIP_POST, "/whip/" SESSION, pub_token(), "application/sdp", NULL,
             offer_publish);
    assert_int_equal(r->status, 500);
    assert_int_equal(fb.creates, 0);

    /* Bad calls are refused without touching the response. */
    tdm_whip_request req = {.method = TDM_WHIP_GET, .path = "/healthz"};
    tdm_whip_response small = {.body = rep.body, .body_cap = 16};
    assert_int_equal(tdm_whip_handle(w, &req, NOW, &small), TDM_ERR_INVALID);
    assert_int_equal(tdm_whip_handle(w, NULL, NOW, &rep.r), TDM_ERR_INVALID);
    assert_int_equal(tdm_whip_handle(NULL, &req, NOW, &rep.r), TDM_ERR_INVALID);
    tdm_whip_free(w);
}

/* ------------------------------------------------------------------ */
/* /admin/revoke                                                       */

/* A stand-in for the cluster-secret HMAC (tandem-relay uses tdm_hb_verify;
 * relay_revocations_test runs the real one): "TEST ts=<ms>" is authentic,
 * anything else is not. The route's own logic — window, replay, body,
 * revocation — is what is under test here. */
static tdm_status fake_admin_verify(void *ctx, const char *authorization, const uint8_t *body,
                                    size_t body_len, int64_t *ts_ms, tdm_error *err)
{
    (void)ctx;
    (void)body;
    (void)body_len;
    long long ts = 0;
    if (sscanf(authorization, "TEST ts=%lld", &ts) != 1)
        return tdm_fail(err, TDM_ERR_INVALID, "bad signature");
    *ts_ms = ts;
    return TDM_OK;
}

static tdm_whip *new_admin_whip(void)
{
    tdm_whip_config cfg = {
        .secret = secret,
        .secret_len = SECRET_LEN,
        .node_id = NODE,
        .random = counter_random,
        .admin_verify = fake_admin_verify,
        .revocation_ttl_s = 400,
    };
    tdm_whip *w = NULL;
    tdm_error e = {{0}};
    assert_int_equal(tdm_whip_new(&cfg, &backend, &w, &e), TDM_OK);
    return w;
}

static char admin_auth[64];
static const char *admin_at(int64_t ts_ms)
{
    snprintf(admin_auth, sizeof admin_auth, "TEST ts=%lld", (long long)ts_ms);
    return admin_auth;
}

static const tdm_whip_response *revoke(tdm_whip *w, int64_t ts_ms, const char *body)
{
    return call(w, TDM_WHIP_POST, "/admin/revoke", admin_at(ts_ms), "application/json", NULL,
                body);
}

static void admin_route_absent_without_verifier(void **state)
{
    tdm_whip *w = *state; /* setup: no admin_verify */
    const tdm_whip_response *r = revoke(w, NOW * 1000LL, "{\"session\":\"" SESSION "\"}");
    assert_int_equal(r->status, 404);
    assert_int_equal(fb.end_sessions, 0);
}

static void admin_revoke_authenticates(void **state)
{
    (void)state;
    memset(&fb, 0, sizeof fb);
    tdm_whip *w = new_admin_whip();
    const char *body = "{\"session\":\"" SESSION "\"}";
    const tdm_whip_response *r =
        call(w, TDM_WHIP_POST, "/admin/revoke", NULL, "application/json", NULL, body);
    assert_int_equal(r->status, 401);
    r = call(w, TDM_WHIP_POST, "/admin/revoke", "Bearer x", "application/json", NULL, body);
    assert_int_equal(r->status, 401);
    /* Outside the skew window, either way. */
    r = revoke(w, NOW * 1000LL - TDM_WHIP_ADMIN_SKEW_MS - 1, body);
    assert_int_equal(r->status, 401);
    r = revoke(w, NOW * 1000LL + TDM_WHIP_ADMIN_SKEW_MS + 1, body);
    assert_int_equal(r->status, 401);
    r = call(w, TDM_WHIP_GET, "/admin/revoke", admin_at(NOW * 1000LL), NULL, NULL, NULL);
    assert_int_equal(r->status, 405);
    assert_string_equal(hdr(r, "Allow"), "POST");
    /* Bad bodies: authentic but unusable. */
    const char *bad[] = {"", "[]", "{}", "{\"session\":7}", "{\"session\":\"has space\"}",
                         "{\"session\":\"s\",\"participant\":null}",
                         "{\"session\":\"s\",\"participant\":\"\"}", "not json"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = revoke(w, NOW * 1000LL + (int64_t)i, bad[i]);
        assert_int_equal(r->status, 400);
    }
    assert_int_equal(fb.end_sessions, 0);
    r = revoke(w, NOW * 1000LL + 100, body);
    assert_int_equal(r->status, 200);
    assert_int_equal(fb.end_sessions, 1);
    /* The same signed time again, or an older one: a replay. */
    r = revoke(w, NOW * 1000LL + 100, body);
    assert_int_equal(r->status, 401);
    r = revoke(w, NOW * 1000LL + 50, body);
    assert_int_equal(r->status, 401);
    assert_int_equal(fb.end_sessions, 1);
    tdm_whip_free(w);
}

static void admin_revoke_session_ends_media_and_refuses_tokens(void **state)
{
    (void)state;
    memset(&fb, 0, sizeof fb);
    tdm_whip *w = new_admin_whip();
    char loc[128];
    publish(w, loc, sizeof loc, NULL, 0);
    const tdm_whip_response *r = call(w, TDM_WHIP_POST, "/whep/" SESSION, sub_token(),
                                      "application/sdp", NULL, offer_publish);
    assert_int_equal(r->status, 201);
    /* Another session on the node is untouched. */
    const char *other_tok =
        token_for(TDM_TOKEN_ROLE_PUBLISH, NODE, "other-sess", PARTICIPANT, NOW + 600, secret);
    char other_auth[sizeof bearer];
    snprintf(other_auth, sizeof other_auth, "%s", other_tok);

    r = revoke(w, NOW * 1000LL, "{\"session\":\"" SESSION "\"}");
    assert_int_equal(r->status, 200);
    assert_string_equal(rep.body, "{\"ended\":2}");
    assert_string_equal(fb.ended_session, SESSION);
    assert_string_equal(fb.ended_participant, "");

    /* Old tokens, still valid by signature and time, are refused. */
    r = call(w, TDM_WHIP_POST, "/whep/" SESSION, sub_token(), "application/sdp", NULL,
             offer_publish);
    assert_int_equal(r->status, 403);
    assert_string_equal(rep.body, "session ended\n");
    r = call(w, TDM_WHIP_POST, "/whip/" SESSION, pub_token(), "application/sdp", NULL,
             offer_publish);
    assert_int_equal(r->status, 403);
    assert_string_equal(rep.body, "session ended\n");
    /* DELETE of the resource the revocation ended: gone, not forbidden. */
    r = call(w, TDM_WHIP_DELETE, loc, pub_token(), NULL, NULL, NULL);
    assert_int_equal(r->status, 404);
    int creates = fb.creates;
    r = call(w, TDM_WHIP_POST, "/whip/other-sess", other_auth, "application/sdp", NULL,
             offer_publish);
    assert_int_equal(r->status, 201);
    assert_int_equal(fb.creates, creates + 1);
    /* A forged token still gets 401, not the revocation (nothing learned). */
    static const uint8_t wrong[] = "some-other-secret-0123456789abcd";
    r = call(w, TDM_WHIP_POST, "/whep/" SESSION,
             token_for(TDM_TOKEN_ROLE_SUBSCRIBE, NODE, SESSION, "expert-9", NOW + 600, wrong),
             "application/sdp", NULL, offer_publish);
    assert_int_equal(r->status, 401);

    /* Still refused just before the TTL (400 s here); forgotten after. */
    const char *late = token_for(TDM_TOKEN_ROLE_SUBSCRIBE, NODE, SESSION, "expert-9",
                                 NOW + 3600, secret);
    r = call_at(w, NOW + 399, TDM_WHIP_POST, "/whep/" SESSION, late, "application/sdp", NULL,
                offer_publish);
    assert_int_equal(r->status, 403);
    r = call_at(w, NOW + 400, TDM_WHIP_POST, "/whep/" SESSION, late, "application/sdp", NULL,
                offer_publish);
    assert_int_equal(r->status, 201);

    r = call(w, TDM_WHIP_GET, "/metrics", NULL, NULL, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(rep.body, "tandem_relay_revocations_total{kind=\"session\"} 1\n"));
    assert_non_null(strstr(rep.body, "tandem_relay_revoked_endpoints_total 2\n"));
    assert_non_null(strstr(
        rep.body, "tandem_relay_revoked_token_refusals_total{reason=\"session_ended\"} 3\n"));
    tdm_whip_free(w);
}

static void admin_revoke_participant_only(void **state)
{
    (void)state;
    memset(&fb, 0, sizeof fb);
    tdm_whip *w = new_admin_whip();
    char loc[128];
    publish(w, loc, sizeof loc, NULL, 0);
    const tdm_whip_response *r = call(w, TDM_WHIP_POST, "/whep/" SESSION, sub_token(),
                                      "application/sdp", NULL, offer_publish);
    assert_int_equal(r->status, 201);
    r = revoke(w, NOW * 1000LL, "{\"session\":\"" SESSION "\",\"participant\":\"expert-9\"}");
    assert_int_equal(r->status, 200);
    assert_string_equal(rep.body, "{\"ended\":1}");
    assert_string_equal(fb.ended_participant, "expert-9");
    r = call(w, TDM_WHIP_POST, "/whep/" SESSION, sub_token(), "application/sdp", NULL,
             offer_publish);
    assert_int_equal(r->status, 403);
    assert_string_equal(rep.body, "participant removed\n");
    /* The publisher (another participant) keeps its resource and rights. */
    r = call(w, TDM_WHIP_PATCH, loc, pub_token(), "application/trickle-ice-sdpfrag", NULL,
             trickle_frag);
    assert_int_equal(r->status, 204);
    /* A later session revocation is the stronger reason. */
    r = revoke(w, NOW * 1000LL + 1, "{\"session\":\"" SESSION "\"}");
    assert_int_equal(r->status, 200);
    r = call(w, TDM_WHIP_POST, "/whep/" SESSION, sub_token(), "application/sdp", NULL,
             offer_publish);
    assert_string_equal(rep.body, "session ended\n");
    tdm_whip_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(post_publish_creates_resource, setup, teardown),
        cmocka_unit_test_setup_teardown(post_whep_subscribes, setup, teardown),
        cmocka_unit_test_setup_teardown(every_token_case_on_post, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_bodies_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(backend_errors_map_to_statuses, setup, teardown),
        cmocka_unit_test_setup_teardown(patch_trickles_candidates, setup, teardown),
        cmocka_unit_test_setup_teardown(patch_restarts_ice_with_new_etag, setup, teardown),
        cmocka_unit_test_setup_teardown(delete_ends_the_resource, setup, teardown),
        cmocka_unit_test_setup_teardown(resource_requests_check_token_then_owner, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unknown_paths_and_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(cors_preflight_and_exposed_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(healthz_and_metrics, setup, teardown),
        cmocka_unit_test(resource_ids_are_random_and_unrelated),
        cmocka_unit_test(construction_refuses_bad_config),
        cmocka_unit_test_setup_teardown(admin_route_absent_without_verifier, setup, teardown),
        cmocka_unit_test(admin_revoke_authenticates),
        cmocka_unit_test(admin_revoke_session_ends_media_and_refuses_tokens),
        cmocka_unit_test(admin_revoke_participant_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
