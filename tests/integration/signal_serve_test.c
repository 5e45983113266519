/* signal_serve_test: tandem-signal serve end to end, with the real program,
 * a real SQLite file in a temporary directory and WebSocket clients on
 * loopback (issue 5's test list):
 *   - a reused, expired, revoked or forged invite is refused;
 *   - a view_only participant's input never reaches the customer's socket
 *     and is in the audit log as input_denied;
 *   - a blocked key chord from control is dropped, an allowed key passes
 *     byte for byte;
 *   - the rate limit holds (after a mid-session profile change);
 *   - a rep without invite rights cannot invite; an invitee can neither
 *     invite nor end the session;
 *   - malformed JSON, an unknown type and an oversize message get an error
 *     and the socket and the service stay up;
 *   - static pages: content type, no path traversal;
 *   - after a restart the session and the audit log are there and
 *     `audit verify` passes; after one audit row is edited it fails.
 * "Never reaches" is checked by ordering: after the refused event, an
 * allowed marker event is sent; the customer's next input message must be
 * the marker. No timing is asserted (the rate-limit bound is computed from
 * the measured sending time).
 *
 * usage: signal_serve_test /path/to/tandem-signal */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "signal_serve_client.h"
#include "signal_test_proc.h"

static const char *prog;
static char db[300], config[300], webroot[300];
static pid_t server = -1;
static uint16_t port;

static void stop_server(void)
{
    sigt_stop(&server, SIGTERM);
}

static void cleanup(void)
{
    stop_server();
}

static void user_add(const char *name, const char *role, const char *password, const char *invite)
{
    sigt_user_add(prog, "--db", db, name, role, password, invite);
}

static int audit_verify(void)
{
    char *argv[] = {(char *)prog, "audit", "verify", "--db", db, NULL};
    return sigt_run(NULL, argv);
}

static void start_server(void)
{
    char *argv[] = {(char *)prog, "serve", "--listen", "127.0.0.1:0", "--db", db, "--config",
                    config, "--web-root", webroot, NULL};
    server = sigt_start(argv, NULL, &port);
}

/* --- HTTP --- */

static json_t *last;

static int api(const char *method, const char *path, const char *bearer, const char *secret,
               const char *body)
{
    char headers[1024];
    sc_auth_headers(headers, sizeof headers, bearer, secret);
    return sc_http_json(port, method, path, headers, body, &last);
}

static const char *str(const char *key)
{
    const char *v = json_string_value(json_object_get(last, key));
    return v ? v : "";
}

static char *dup_str(const char *key) { return strdup(str(key)); }

static char *login(const char *name, const char *pw)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\"}", name, pw);
    CHECK(api("POST", "/api/v1/login", NULL, NULL, body) == 200, "login %s", name);
    return dup_str("token");
}

/* --- WebSocket --- */

/* The next message that is not a presence push, parsed; NULL on timeout. */
static json_t *ws_next(sc_ws *ws, int timeout_ms, const char **raw)
{
    for (;;) {
        const char *m;
        long n = sc_ws_recv(ws, timeout_ms, &m, NULL);
        if (n < 0)
            return NULL;
        json_t *j = json_loads(m, 0, NULL);
        const char *type = json_string_value(json_object_get(j, "type"));
        if (type && strcmp(type, "session") == 0) {
            json_decref(j);
            continue;
        }
        if (raw)
            *raw = m;
        return j;
    }
}

static sc_ws *ws_auth(const char *secret)
{
    sc_ws *ws = sc_ws_connect(port, "/api/v1/ws");
    CHECK(ws, "websocket connect");
    char msg[256];
    snprintf(msg, sizeof msg, "{\"type\":\"auth\",\"secret\":\"%s\"}", secret);
    CHECK(sc_ws_send(ws, msg, strlen(msg)), "send auth");
    json_t *w = ws_next(ws, 5000, NULL);
    CHECK(w && strcmp(json_string_value(json_object_get(w, "type")) ?: "", "welcome") == 0,
          "no welcome");
    json_decref(w);
    return ws;
}

static void ws_send(sc_ws *ws, const char *text) { CHECK(sc_ws_send(ws, text, strlen(text)), "send"); }

/* Expects an error message with this code (and reason, if given). */
static void expect_error(sc_ws *ws, const char *code, const char *reason)
{
    json_t *e = ws_next(ws, 5000, NULL);
    CHECK(e, "no answer, expected error %s", code);
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *got = json_string_value(json_object_get(e, "error"));
    CHECK(type && strcmp(type, "error") == 0 && got && strcmp(got, code) == 0,
          "expected error %s, got %s", code, json_dumps(e, 0));
    if (reason) {
        const char *r = json_string_value(json_object_get(e, "reason"));
        CHECK(r && strcmp(r, reason) == 0, "expected reason %s, got %s", reason, r ? r : "none");
    }
    json_decref(e);
}

/* The customer's next input message must be exactly text (nothing before). */
static void expect_customer_gets(sc_ws *cust, const char *text)
{
    const char *raw = NULL;
    json_t *m = ws_next(cust, 5000, &raw);
    CHECK(m, "customer got nothing, expected %s", text);
    CHECK(strcmp(raw, text) == 0, "customer got %s, expected %s", raw, text);
    json_decref(m);
}

static int marker_n;
/* Sends a fresh allowed marker from the rep and checks it is the customer's
 * next message: whatever was refused before it never arrived. */
static void marker(sc_ws *rep, sc_ws *cust)
{
    char m[128];
    snprintf(m, sizeof m, "{\"type\":\"pointer_move\",\"x\":0.%03d,\"y\":0.5}", ++marker_n);
    ws_send(rep, m);
    expect_customer_gets(cust, m);
}

static int count_audit(const char *auditor, const char *sid, const char *kind, const char *actor)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/audit?limit=10000", sid);
    CHECK(api("GET", path, auditor, NULL, NULL) == 200, "audit read");
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(last, "entries"), i, e) {
        const char *k = json_string_value(json_object_get(e, "kind"));
        const char *a = json_string_value(json_object_get(e, "actor"));
        if (k && strcmp(k, kind) == 0 && (!actor || (a && strcmp(a, actor) == 0)))
            n++;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s /path/to/tandem-signal\n", argv[0]);
        return 2;
    }
    prog = argv[1];
    signal(SIGPIPE, SIG_IGN);
    sigt_dir_make("signal_serve_test");
    atexit(cleanup);
    sigt_path(db, sizeof db, "signal.db");
    sigt_path(config, sizeof config, "config.json");
    sigt_path(webroot, sizeof webroot, "web");
    sigt_write_secrets(NULL);
    sigt_write_file("turn.secret", "turn-static-auth-secret\n");
    sigt_write_file("config.json",
               "{\"public_url\":\"http://127.0.0.1:1\","
               "\"relays\":[{\"id\":\"relay-1\",\"url\":\"http://127.0.0.1:2\"}],"
               "\"relay_token_secret_file\":\"relay.secret\","
               "\"recording_master_key_file\":\"master.key\","
               "\"turn\":{\"secret_file\":\"turn.secret\",\"urls\":[\"turn:127.0.0.1:3\"]},"
               "\"profiles\":{\"slow\":{\"events\":[\"pointer_move\"],\"clipboard\":\"none\","
               "\"rate\":{\"per_second\":1,\"burst\":3}}}}");
    CHECK(mkdir(webroot, 0755) == 0, "mkdir web");
    sigt_write_file("web/index.html", "<!doctype html><title>console</title>\n");
    sigt_write_file("web/app.js", "console.log('x');\n");
    sigt_write_file("secret.txt", "outside the web root\n");
    CHECK(symlink("../secret.txt", strcat(strcpy((char[400]){0}, webroot), "/leak.txt")) == 0,
          "symlink");

    user_add("alice", "rep", "alice-pw", "view_only,pointer,control,slow");
    user_add("bob", "rep", "bob-pw", NULL);
    user_add("audi", "auditor", "audi-pw", NULL);
    start_server();
    printf("server on port %u, dir %s\n", port, sigt_dir);

    /* --- static pages --- */
    char *resp = NULL;
    CHECK(sc_http(port, "GET", "/", NULL, NULL, &resp) == 200 && strstr(resp, "console"), "GET /");
    free(resp);
    CHECK(sc_http(port, "GET", "/app.js", NULL, NULL, &resp) == 200, "GET /app.js");
    free(resp);
    CHECK(sc_http(port, "GET", "/../secret.txt", NULL, NULL, &resp) == 404 ||
              (resp && !strstr(resp, "outside")),
          "traversal ..");
    free(resp);
    CHECK(sc_http(port, "GET", "/%2e%2e/secret.txt", NULL, NULL, &resp) != 200 ||
              !strstr(resp, "outside"),
          "traversal %%2e%%2e");
    free(resp);
    CHECK(sc_http(port, "GET", "/leak.txt", NULL, NULL, &resp) == 404, "symlink out of root");
    free(resp);
    printf("ok static pages\n");

    /* --- accounts and a session --- */
    char *alice = login("alice", "alice-pw");
    char *bob = login("bob", "bob-pw");
    char *audi = login("audi", "audi-pw");
    CHECK(api("POST", "/api/v1/login", NULL, NULL, "{\"name\":\"alice\",\"password\":\"no\"}") ==
              401,
          "wrong password");
    CHECK(api("POST", "/api/v1/sessions", alice, NULL, "{}") == 201, "open");
    char *sid = dup_str("session_id"), *a_secret = dup_str("secret"), *a_pid =
                                                                          dup_str("participant_id");
    char *code = dup_str("join_code");
    char path[512], body[1024];

    snprintf(body, sizeof body, "{\"code\":\"%s\",\"display_name\":\"Carol\"}", code);
    CHECK(api("POST", "/api/v1/join", NULL, NULL, body) == 201, "customer join");
    char *c_secret = dup_str("secret");
    CHECK(strcmp(json_string_value(json_object_get(json_object_get(last, "media"), "kind")) ?: "",
                 "whip") == 0,
          "customer gets a WHIP publish token");
    CHECK(api("POST", "/api/v1/join", NULL, NULL, body) == 404 &&
              strcmp(str("error"), "code_invalid") == 0,
          "a join code works once");

    sc_ws *cust = ws_auth(c_secret);
    sc_ws *rep = ws_auth(a_secret);

    /* The smaller routes: me, profiles, media, join-code renewal, errors. */
    CHECK(api("GET", "/api/v1/me", alice, NULL, NULL) == 200 &&
              json_is_true(json_object_get(json_object_get(last, "user"), "may_invite")),
          "me");
    CHECK(api("GET", "/api/v1/profiles", alice, NULL, NULL) == 200 &&
              json_array_size(json_object_get(last, "profiles")) == 5,
          "profiles: built-ins and slow");
    snprintf(path, sizeof path, "/api/v1/sessions/%s/media", sid);
    CHECK(api("POST", path, NULL, a_secret, NULL) == 200 &&
              strstr(json_string_value(json_object_get(json_object_get(last, "media"), "url")) ?: "",
                     "/whep/"),
          "media for the rep");
    snprintf(path, sizeof path, "/api/v1/sessions/%s/join-code", sid);
    CHECK(api("POST", path, NULL, c_secret, NULL) == 403, "customer renews the code");
    CHECK(api("POST", path, NULL, a_secret, NULL) == 200 && strlen(str("join_code")) == 11,
          "owner renews the code");
    snprintf(path, sizeof path, "/api/v1/sessions/%s", sid);
    CHECK(api("GET", path, NULL, "not-a-secret", NULL) == 401, "forged participant secret");
    CHECK(api("GET", path, NULL, NULL, NULL) == 401, "no credentials");
    CHECK(api("GET", "/api/v1/nowhere", NULL, NULL, NULL) == 404, "unknown route");
    CHECK(api("GET", "/api/v1/login", NULL, NULL, NULL) == 405, "wrong method");
    char *spare = login("alice", "alice-pw");
    CHECK(api("POST", "/api/v1/logout", spare, NULL, NULL) == 200, "logout");
    CHECK(api("GET", "/api/v1/me", spare, NULL, NULL) == 401, "token dead after logout");
    free(spare);
    printf("ok session, customer and rep sockets, small routes\n");

    /* --- invites: forged, reused, revoked, expired --- */
    snprintf(path, sizeof path, "/api/v1/sessions/%s/invites", sid);
    CHECK(api("POST", "/api/v1/invites/accept", NULL, NULL,
              "{\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"display_name\":\"x\"}") ==
                  404 &&
              strcmp(str("error"), "invite_unknown") == 0,
          "forged invite");
    CHECK(api("POST", path, NULL, a_secret, "{\"profile\":\"view_only\"}") == 201, "invite");
    char *tok = dup_str("token");
    CHECK(strstr(str("link"), "/invite.html#token="), "invite link");
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"display_name\":\"Dana\"}", tok);
    CHECK(api("POST", "/api/v1/invites/accept", NULL, NULL, body) == 201, "accept");
    char *v_secret = dup_str("secret"), *v_pid = dup_str("participant_id");
    CHECK(strcmp(str("profile"), "view_only") == 0, "invitee profile");
    CHECK(api("POST", "/api/v1/invites/accept", NULL, NULL, body) == 410 &&
              strcmp(str("error"), "invite_used") == 0,
          "reused invite");

    CHECK(api("POST", path, NULL, a_secret, "{\"profile\":\"pointer\"}") == 201, "invite 2");
    char *tok2 = dup_str("token"), *iid2 = dup_str("invite_id");
    char rpath[512];
    snprintf(rpath, sizeof rpath, "/api/v1/sessions/%s/invites/%s", sid, iid2);
    CHECK(api("DELETE", rpath, NULL, a_secret, NULL) == 200, "revoke");
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"display_name\":\"Eve\"}", tok2);
    CHECK(api("POST", "/api/v1/invites/accept", NULL, NULL, body) == 410 &&
              strcmp(str("error"), "invite_revoked") == 0,
          "revoked invite");

    CHECK(api("POST", path, NULL, a_secret, "{\"profile\":\"pointer\",\"ttl_s\":1}") == 201,
          "invite 3");
    char *tok3 = dup_str("token");
    int64_t exp3 = json_integer_value(json_object_get(last, "expires_s"));
    while ((int64_t)time(NULL) <= exp3)
        usleep(100 * 1000);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"display_name\":\"Fay\"}", tok3);
    CHECK(api("POST", "/api/v1/invites/accept", NULL, NULL, body) == 410 &&
              strcmp(str("error"), "invite_expired") == 0,
          "expired invite: %s", str("error"));
    printf("ok invites: forged, reused, revoked, expired refused\n");

    /* --- who may invite and end --- */
    snprintf(path, sizeof path, "/api/v1/sessions/%s/reps", sid);
    CHECK(api("POST", path, bob, NULL, "{}") == 201, "bob joins");
    char *b_secret = dup_str("secret"), *b_pid = dup_str("participant_id");
    snprintf(path, sizeof path, "/api/v1/sessions/%s/invites", sid);
    CHECK(api("POST", path, NULL, b_secret, "{\"profile\":\"view_only\"}") == 403 &&
              strcmp(str("error"), "invite_not_allowed") == 0,
          "rep without invite rights: %s", str("error"));
    CHECK(api("POST", path, NULL, v_secret, "{\"profile\":\"view_only\"}") == 403,
          "invitee invites: %s", str("error"));
    snprintf(path, sizeof path, "/api/v1/sessions/%s/end", sid);
    CHECK(api("POST", path, NULL, v_secret, NULL) == 403, "invitee ends: %s", str("error"));
    CHECK(api("POST", path, NULL, b_secret, NULL) == 403, "non-owner rep ends");
    snprintf(path, sizeof path, "/api/v1/sessions/%s", sid);
    CHECK(api("GET", path, NULL, b_secret, NULL) == 200 &&
              strcmp(str("state"), "active") == 0,
          "state");
    printf("ok rights: no invite without rights, invitee cannot invite or end\n");

    /* --- view_only input never reaches the customer --- */
    sc_ws *viewer = ws_auth(v_secret);
    ws_send(viewer, "{\"type\":\"pointer_move\",\"x\":0.1,\"y\":0.1}");
    expect_error(viewer, "input_denied", "kind_not_allowed");
    ws_send(viewer, "{\"type\":\"key_down\",\"key\":\"a\",\"mods\":[]}");
    expect_error(viewer, "input_denied", "kind_not_allowed");
    marker(rep, cust);
    CHECK(count_audit(audi, sid, "input_denied", v_pid) == 2, "denials audited");
    snprintf(path, sizeof path, "/api/v1/sessions/%s/audit?after=1&limit=2", sid);
    CHECK(api("GET", path, audi, NULL, NULL) == 200 &&
              json_array_size(json_object_get(last, "entries")) == 2 &&
              json_integer_value(json_object_get(
                  json_array_get(json_object_get(last, "entries"), 0), "seq")) == 2,
          "audit paging");
    CHECK(api("GET", "/api/v1/sessions/x/audit", alice, NULL, NULL) == 403,
          "reps cannot read the audit log");
    printf("ok view_only input dropped and audited\n");

    /* --- blocked chord from control; allowed keys pass as sent --- */
    ws_send(rep, "{\"type\":\"key_down\",\"key\":\"Delete\",\"mods\":[\"ctrl\",\"alt\"]}");
    expect_error(rep, "input_denied", "key_chord_blocked");
    marker(rep, cust);
    const char *key = "{\"type\":\"key_down\",\"key\":\"Delete\",\"mods\":[\"ctrl\"]}";
    ws_send(rep, key);
    expect_customer_gets(cust, key);
    CHECK(count_audit(audi, sid, "input_denied", a_pid) == 1, "chord denial audited");
    printf("ok blocked chord dropped\n");

    /* --- rate limit (profile changed mid-session to "slow": 1/s, burst 3) --- */
    snprintf(path, sizeof path, "/api/v1/sessions/%s/participants/%s/profile", sid, v_pid);
    CHECK(api("PUT", path, NULL, a_secret, "{\"profile\":\"slow\"}") == 200, "set profile: %s",
          str("error"));
    int sent = 30, allowed = 0, limited = 0;
    double t0 = sigt_now_s();
    for (int i = 0; i < sent; i++) {
        char m[96];
        snprintf(m, sizeof m, "{\"type\":\"pointer_move\",\"x\":0.9,\"y\":0.%02d}", i);
        ws_send(viewer, m);
    }
    double elapsed = sigt_now_s() - t0;
    /* Everything the customer got before the marker came from the viewer. */
    char mk[128];
    snprintf(mk, sizeof mk, "{\"type\":\"pointer_move\",\"x\":0.%03d,\"y\":0.5}", ++marker_n);
    /* Wait for the viewer's answers first so the marker is sent after all. */
    for (int i = 0; i < sent; i++) {
        json_t *e = ws_next(viewer, 200, NULL);
        if (!e)
            break;
        const char *r = json_string_value(json_object_get(e, "reason"));
        if (r && strcmp(r, "rate_limited") == 0)
            limited++;
        json_decref(e);
    }
    ws_send(rep, mk);
    for (;;) {
        const char *raw;
        json_t *m = ws_next(cust, 5000, &raw);
        CHECK(m, "marker never came");
        bool is_marker = strcmp(raw, mk) == 0;
        json_decref(m);
        if (is_marker)
            break;
        allowed++;
    }
    double bound = 3 + 1 * (elapsed + 2.0); /* burst + rate * time, generous */
    CHECK(allowed >= 1 && allowed <= (int)bound, "allowed %d of %d (bound %.1f)", allowed, sent,
          bound);
    CHECK(allowed + limited == sent, "allowed %d + limited %d != %d", allowed, limited, sent);
    printf("ok rate limit: %d of %d passed, %d refused\n", allowed, sent, limited);

    /* --- bad messages: error back, socket and service stay --- */
    ws_send(rep, "{not json");
    expect_error(rep, "bad_request", NULL);
    ws_send(rep, "[1,2]");
    expect_error(rep, "bad_request", NULL);
    ws_send(rep, "{\"type\":\"teleport\"}");
    expect_error(rep, "bad_request", NULL);
    ws_send(rep, "{\"type\":\"pointer_move\",\"x\":7,\"y\":0}");
    expect_error(rep, "bad_request", NULL);
    size_t big_n = 100000;
    char *big = malloc(big_n + 1);
    memset(big, 'a', big_n);
    memcpy(big, "{\"type\":\"chat\",\"text\":\"", 23);
    memcpy(big + big_n - 2, "\"}", 2);
    big[big_n] = '\0';
    CHECK(sc_ws_send(rep, big, big_n), "send oversize");
    expect_error(rep, "too_large", NULL);
    CHECK(sc_ws_send_fragmented(rep, big, big_n, 7), "send oversize fragmented");
    expect_error(rep, "too_large", NULL);
    free(big);
    ws_send(cust, "{\"type\":\"key_down\",\"key\":\"a\"}");
    expect_error(cust, "not_allowed", NULL);
    ws_send(rep, "{\"type\":\"ping\"}");
    json_t *pong = ws_next(rep, 5000, NULL);
    CHECK(pong && strcmp(json_string_value(json_object_get(pong, "type")) ?: "", "pong") == 0,
          "socket still up");
    json_decref(pong);
    marker(rep, cust);
    const char *frag = "{\"type\":\"pointer_move\",\"x\":0.25,\"y\":0.75}";
    CHECK(sc_ws_send_fragmented(rep, frag, strlen(frag), 3), "fragmented");
    expect_customer_gets(cust, frag);
    CHECK(api("POST", "/api/v1/join", NULL, NULL, "{\"code\":") == 400, "malformed HTTP body");
    CHECK(api("GET", "/healthz", NULL, NULL, NULL) == 200, "service still up");
    printf("ok malformed and oversize messages answered, connections stay\n");

    /* --- chat reaches everyone --- */
    ws_send(rep, "{\"type\":\"chat\",\"text\":\"hello\"}");
    json_t *ch = ws_next(cust, 5000, NULL);
    CHECK(ch && strcmp(json_string_value(json_object_get(ch, "text")) ?: "", "hello") == 0 &&
              strcmp(json_string_value(json_object_get(ch, "from")) ?: "", a_pid) == 0,
          "chat to customer");
    json_decref(ch);
    ch = ws_next(viewer, 5000, NULL);
    CHECK(ch && strcmp(json_string_value(json_object_get(ch, "type")) ?: "", "chat") == 0,
          "chat to invitee");
    json_decref(ch);
    printf("ok chat\n");

    /* --- ownership transfer and removal --- */
    snprintf(path, sizeof path, "/api/v1/sessions/%s/transfer", sid);
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", b_pid);
    CHECK(api("POST", path, NULL, a_secret, body) == 200, "transfer to bob: %s", str("error"));
    CHECK(api("POST", path, NULL, a_secret, body) == 403 && strcmp(str("error"), "not_owner") == 0,
          "former owner cannot transfer");
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", a_pid);
    CHECK(api("POST", path, NULL, b_secret, body) == 200, "transfer back");
    snprintf(path, sizeof path, "/api/v1/sessions/%s/participants/%s", sid, v_pid);
    CHECK(api("DELETE", path, NULL, b_secret, NULL) == 403, "non-owner removes");
    CHECK(api("DELETE", path, NULL, a_secret, NULL) == 200, "owner removes the invitee");
    json_t *rm = ws_next(viewer, 5000, NULL);
    CHECK(rm && strcmp(json_string_value(json_object_get(rm, "type")) ?: "", "removed") == 0,
          "removed participant told");
    json_decref(rm);
    int rm_code = 0;
    const char *rest;
    while (sc_ws_recv(viewer, 5000, &rest, &rm_code) >= 0)
        ;
    CHECK(rm_code == 4003, "removed participant's socket closed with 4003, got %d", rm_code);
    snprintf(path, sizeof path, "/api/v1/sessions/%s", sid);
    CHECK(api("GET", path, NULL, v_secret, NULL) == 403, "removed secret grants nothing");
    printf("ok transfer and removal\n");

    /* --- restart: session and audit log survive --- */
    int entries_before = 0;
    snprintf(path, sizeof path, "/api/v1/sessions/%s/audit", sid);
    CHECK(api("GET", path, audi, NULL, NULL) == 200, "audit");
    entries_before = (int)json_array_size(json_object_get(last, "entries"));
    sc_ws_close(cust);
    sc_ws_close(rep);
    sc_ws_close(viewer);
    stop_server();
    CHECK(audit_verify() == 0, "audit verify after stop");
    start_server();
    snprintf(path, sizeof path, "/api/v1/sessions/%s", sid);
    CHECK(api("GET", path, NULL, a_secret, NULL) == 200 && strcmp(str("state"), "active") == 0,
          "session survives a restart");
    snprintf(path, sizeof path, "/api/v1/sessions/%s/audit", sid);
    CHECK(api("GET", path, audi, NULL, NULL) == 200 &&
              (int)json_array_size(json_object_get(last, "entries")) >= entries_before,
          "audit log survives a restart");
    cust = ws_auth(c_secret);
    rep = ws_auth(a_secret);
    marker(rep, cust);
    printf("ok restart: session, secrets and audit log kept\n");

    /* --- end: invitee cannot, owner can; sockets hear it --- */
    snprintf(path, sizeof path, "/api/v1/sessions/%s/end", sid);
    CHECK(api("POST", path, NULL, v_secret, NULL) == 403, "invitee ends after restart");
    CHECK(api("POST", path, NULL, a_secret, NULL) == 200, "owner ends");
    int code_close = 0;
    const char *m;
    bool saw_end = false;
    for (;;) {
        long n = sc_ws_recv(cust, 5000, &m, &code_close);
        if (n < 0)
            break;
        if (strstr(m, "\"ended\""))
            saw_end = true;
    }
    CHECK(saw_end && code_close == 1000, "customer told of the end (close %d)", code_close);
    sc_ws_close(cust);
    sc_ws_close(rep);
    stop_server();
    CHECK(audit_verify() == 0, "audit verify after end");
    printf("ok end; audit verify passes\n");

    /* --- tampering with one row is detected --- */
    sqlite3 *h;
    CHECK(sqlite3_open(db, &h) == SQLITE_OK, "open db");
    char sql[512];
    snprintf(sql, sizeof sql,
             "DROP TRIGGER IF EXISTS audit_log_no_update;"
             "UPDATE audit_log SET detail = '{\"reason\":\"edited\"}' "
             "WHERE chain = '%s' AND kind = 'input_denied' AND seq = (SELECT min(seq) FROM "
             "audit_log WHERE chain = '%s' AND kind = 'input_denied');",
             sid, sid);
    char *emsg = NULL;
    CHECK(sqlite3_exec(h, sql, NULL, NULL, &emsg) == SQLITE_OK && sqlite3_changes(h) == 1,
          "edit: %s", emsg ? emsg : "no row changed");
    sqlite3_close(h);
    CHECK(audit_verify() == 1, "audit verify must fail after an edit");
    printf("ok edited row detected\n");

    free(alice);
    free(bob);
    free(audi);
    json_decref(last);
    printf("PASS signal_serve_test\n");
    return 0;
}
