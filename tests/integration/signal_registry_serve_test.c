/* signal_registry_serve_test: the relay registry end to end — a real
 * tandem-signal and two real tandem-relay processes (media plane on
 * 127.0.0.1, one worker each) heartbeating to it every second, relay TTL
 * 5 s (generous, so a stalled machine does not drop a live relay):
 *   - both relays appear in GET /api/v1/relays (admin only);
 *   - new sessions spread over the two by load (3 and 2 of 5), and a
 *     session keeps its relay when its media is asked for again;
 *   - a relay told to drain (SIGUSR1) gets no new session; undrained, it
 *     takes sessions again;
 *   - a relay reporting a high session load (a signed heartbeat from the
 *     test) gets no new session;
 *   - a heartbeat signed with a wrong secret is refused with 401, counted
 *     in the registry and logged by the service; a replayed heartbeat is
 *     refused with 401 too;
 *   - one relay killed (SIGKILL: no farewell heartbeat) is dropped after
 *     the TTL, new sessions go to the other, and a session that was on the
 *     dead relay is moved to the live one;
 *   - a relay stopped with SIGTERM says "draining" on its way out.
 * Waiting uses generous deadlines; no timing is asserted.
 *
 * usage: signal_registry_serve_test /path/to/tandem-signal /path/to/tandem-relay */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "signal_serve_client.h"
#include "signal_test_proc.h"
#include "tdm_relay_heartbeat.h"

#define CLUSTER_SECRET "cluster-secret-0123456789abcdef-0123456789"
#define DEADLINE_S 30.0

static const char *signal_prog, *relay_prog;
static char db[300], config[300];
static pid_t server = -1, relays[2] = {-1, -1};
static uint16_t port, relay_port[2];
static const char *relay_id[2] = {"relay-a", "relay-b"};

static void cleanup(void)
{
    sigt_stop(&relays[0], SIGTERM);
    sigt_stop(&relays[1], SIGTERM);
    sigt_stop(&server, SIGTERM);
}

static void start_server(void)
{
    char *argv[] = {(char *)signal_prog, "serve", "--listen", "127.0.0.1:0", "--db", db,
                    "--config", config, NULL};
    server = sigt_start(argv, "signal.log", &port);
}

static void start_relay(int i)
{
    relays[i] = sigt_start_relay(relay_prog, relay_id[i], port, &relay_port[i]);
}

/* --- HTTP --- */

static json_t *last;

static int api_h(const char *method, const char *path, const char *headers, const char *body)
{
    return sc_http_json(port, method, path, headers, body, &last);
}

static int api(const char *method, const char *path, const char *bearer, const char *secret,
               const char *body)
{
    char headers[1024];
    sc_auth_headers(headers, sizeof headers, bearer, secret);
    return api_h(method, path, headers, body);
}

static char *login(const char *name, const char *pw)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\"}", name, pw);
    CHECK(api("POST", "/api/v1/login", NULL, NULL, body) == 200, "login %s", name);
    return strdup(json_string_value(json_object_get(last, "token")));
}

static char *admin, *rep;

/* The registry's entry for id, or NULL (borrowed from `last`). */
static json_t *registry_entry(const char *id)
{
    CHECK(api("GET", "/api/v1/relays", admin, NULL, NULL) == 200, "GET relays");
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(last, "relays"), i, e)
        if (strcmp(json_string_value(json_object_get(e, "id")) ?: "", id) == 0)
            return e;
    return NULL;
}

/* Waits (generously) until id is listed (want_listed) with the draining
 * flag `draining` (ignored when not listed), or is gone. */
static void wait_registry(const char *id, bool want_listed, bool draining, const char *what)
{
    double until = sigt_now_s() + DEADLINE_S;
    for (;;) {
        json_t *e = registry_entry(id);
        bool ok = want_listed ? e && json_is_true(json_object_get(e, "draining")) == draining
                              : e == NULL;
        if (ok)
            return;
        CHECK(sigt_now_s() < until, "%s: registry still %s", what, json_dumps(last, 0));
        usleep(100 * 1000);
    }
}

/* Opens a session; returns the relay node of its media ("" when none), and
 * the session id and owner secret. */
static void open_session(char node[80], char sid[80], char secret[80])
{
    CHECK(api("POST", "/api/v1/sessions", rep, NULL, "{}") == 201, "open session");
    snprintf(sid, 80, "%s", json_string_value(json_object_get(last, "session_id")));
    snprintf(secret, 80, "%s", json_string_value(json_object_get(last, "secret")));
    json_t *media = json_object_get(last, "media");
    const char *n = json_string_value(json_object_get(media, "node"));
    snprintf(node, 80, "%s", n ? n : "");
    if (n) {
        /* The URL is the relay's public URL: the session's WHEP there. */
        int i = strcmp(n, relay_id[0]) == 0 ? 0 : 1;
        char want[160];
        snprintf(want, sizeof want, "http://127.0.0.1:%u/whep/%s", relay_port[i], sid);
        CHECK(strcmp(json_string_value(json_object_get(media, "url")) ?: "", want) == 0,
              "media url %s, want %s", json_string_value(json_object_get(media, "url")), want);
    }
}

static void media_again(const char *sid, const char *secret, char node[80])
{
    char path[200];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/media", sid);
    CHECK(api("POST", path, NULL, secret, "{}") == 200, "media again");
    const char *n =
        json_string_value(json_object_get(json_object_get(last, "media"), "node"));
    snprintf(node, 80, "%s", n ? n : "");
}

/* Whether a line of log file `name` holds needle (and needle2, if given). */
static bool log_has2(const char *name, const char *needle, const char *needle2)
{
    char path[400];
    sigt_path(path, sizeof path, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL && (!needle2 || strstr(line, needle2) != NULL);
    fclose(f);
    return found;
}

static bool log_has(const char *name, const char *needle)
{
    return log_has2(name, needle, NULL);
}

/* POSTs a heartbeat for a made-up relay `id` signed with secret at ts_ms. */
static int fake_heartbeat_as(const char *id, const char *secret, int64_t ts_ms, bool draining,
                             uint64_t sessions)
{
    tdm_hb_report r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.node, sizeof r.node, "%s", id);
    snprintf(r.url, sizeof r.url, "http://127.0.0.1:1");
    r.draining = draining;
    r.load.sessions = sessions;
    char body[TDM_HB_BODY_CAP], auth[TDM_HB_AUTH_CAP], headers[300];
    size_t len = 0;
    CHECK(tdm_hb_body_format(&r, body, sizeof body, &len, NULL) == TDM_OK, "body");
    CHECK(tdm_hb_sign((const uint8_t *)secret, strlen(secret), ts_ms, (const uint8_t *)body, len,
                      auth, NULL) == TDM_OK,
          "sign");
    snprintf(headers, sizeof headers, "Authorization: %s\r\n", auth);
    return api_h("POST", "/api/v1/relays/heartbeat", headers, body);
}

/* relay-fake drains, so it never takes a session of this test. */
static int fake_heartbeat(const char *secret, int64_t ts_ms)
{
    return fake_heartbeat_as("relay-fake", secret, ts_ms, true, 0);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s /path/to/tandem-signal /path/to/tandem-relay\n", argv[0]);
        return 2;
    }
    signal_prog = argv[1];
    relay_prog = argv[2];
    signal(SIGPIPE, SIG_IGN);
    sigt_dir_make("signal_registry_serve_test");
    atexit(cleanup);
    sigt_path(db, sizeof db, "signal.db");
    sigt_path(config, sizeof config, "config.json");
    sigt_write_secrets(CLUSTER_SECRET);
    sigt_write_file("config.json", "{\"public_url\":\"http://127.0.0.1:1\","
                              "\"relay_token_secret_file\":\"relay.secret\","
                              "\"recording_master_key_file\":\"master.key\","
                              "\"cluster_secret_file\":\"cluster.secret\","
                              "\"relay_ttl_s\":5,\"relay_heartbeat_skew_s\":30}");
    sigt_user_add(signal_prog, "--db", db, "root", "admin", "root-pw", NULL);
    sigt_user_add(signal_prog, "--db", db, "alice", "rep", "alice-pw", NULL);
    start_server();
    printf("signal on port %u, dir %s\n", port, sigt_dir);
    admin = login("root", "root-pw");
    rep = login("alice", "alice-pw");

    /* No relay yet: media is null (join still works; ask again later). */
    char node[80], sid[80], secret[80];
    open_session(node, sid, secret);
    CHECK(node[0] == '\0', "no relay, yet media on %s", node);
    CHECK(api("GET", "/api/v1/relays", rep, NULL, NULL) == 403, "the registry is for admins");

    start_relay(0);
    start_relay(1);
    wait_registry(relay_id[0], true, false, "relay-a registers");
    wait_registry(relay_id[1], true, false, "relay-b registers");
    json_t *a = registry_entry(relay_id[0]);
    CHECK(json_integer_value(json_object_get(json_object_get(a, "load"), "workers")) == 1,
          "relay-a reports its worker: %s", json_dumps(a, 0));
    printf("ok both relays registered\n");

    /* Spread by load: the first session found no relay and is placed now,
     * then four more: 5 over 2 relays with equal reported load -> 3 and 2. */
    int on[2] = {0, 0};
    char sids[5][80], secrets[5][80], nodes[5][80];
    media_again(sid, secret, nodes[0]);
    snprintf(sids[0], 80, "%s", sid);
    snprintf(secrets[0], 80, "%s", secret);
    for (int i = 1; i < 5; i++)
        open_session(nodes[i], sids[i], secrets[i]);
    for (int i = 0; i < 5; i++) {
        CHECK(nodes[i][0], "session %d got no relay", i);
        on[strcmp(nodes[i], relay_id[0]) == 0 ? 0 : 1]++;
    }
    CHECK((on[0] == 3 && on[1] == 2) || (on[0] == 2 && on[1] == 3), "spread %d/%d", on[0], on[1]);
    for (int i = 0; i < 5; i++) {
        char again[80];
        media_again(sids[i], secrets[i], again);
        CHECK(strcmp(again, nodes[i]) == 0, "session %d moved from %s to %s", i, nodes[i], again);
    }
    printf("ok sessions spread %d/%d and keep their relay\n", on[0], on[1]);

    /* Draining: relay-a gets nothing new; its sessions stay. */
    kill(relays[0], SIGUSR1);
    wait_registry(relay_id[0], true, true, "relay-a drains");
    for (int i = 0; i < 4; i++) {
        open_session(node, sid, secret);
        CHECK(strcmp(node, relay_id[1]) == 0, "new session on draining %s", node);
    }
    for (int i = 0; i < 5; i++) {
        char again[80];
        media_again(sids[i], secrets[i], again);
        CHECK(strcmp(again, nodes[i]) == 0, "draining moved session %d", i);
    }
    kill(relays[0], SIGUSR1);
    wait_registry(relay_id[0], true, false, "relay-a undrains");
    open_session(node, sid, secret); /* b now holds more: a takes it */
    CHECK(strcmp(node, relay_id[0]) == 0, "undrained relay-a skipped: %s", node);
    CHECK(log_has("relay-a.log", "draining"), "relay-a logged draining");
    printf("ok a draining relay gets nothing new\n");

    /* Reported load counts: a relay reporting 1000 sessions gets none. */
    CHECK(fake_heartbeat_as("relay-busy", CLUSTER_SECRET, wall_ms(), false, 1000) == 200,
          "busy relay: %s", json_dumps(last, 0));
    for (int i = 0; i < 3; i++) {
        open_session(node, sid, secret);
        CHECK(node[0] && strcmp(node, "relay-busy") != 0, "session on the busy relay");
    }
    printf("ok a relay reporting a high load gets nothing new\n");

    /* Authentication: a wrong secret is 401, counted and logged; a replay is 401. */
    CHECK(fake_heartbeat("a-wrong-cluster-secret-0123456789abcdef", wall_ms()) == 401,
          "wrong secret accepted: %s", json_dumps(last, 0));
    CHECK(registry_entry("relay-fake") == NULL, "forged relay listed");
    json_t *counters = json_object_get(last, "counters");
    CHECK(json_integer_value(json_object_get(counters, "refused_auth")) == 1,
          "refusal not counted: %s", json_dumps(last, 0));
    CHECK(api_h("POST", "/api/v1/relays/heartbeat", NULL, "{}") == 401,
          "unsigned heartbeat");
    double until = sigt_now_s() + DEADLINE_S;
    while (!log_has("signal.log", "relay heartbeat refused")) {
        CHECK(sigt_now_s() < until, "refusal not logged");
        usleep(100 * 1000);
    }
    int64_t ts = wall_ms();
    CHECK(fake_heartbeat(CLUSTER_SECRET, ts) == 200, "signed fake: %s", json_dumps(last, 0));
    CHECK(fake_heartbeat(CLUSTER_SECRET, ts) == 401, "replay accepted");
    CHECK(fake_heartbeat(CLUSTER_SECRET, ts - 60000) == 401, "stale accepted");
    registry_entry("relay-fake");
    counters = json_object_get(last, "counters");
    CHECK(json_integer_value(json_object_get(counters, "refused_replay")) >= 1 &&
              json_integer_value(json_object_get(counters, "refused_stale")) >= 1,
          "replay/stale not counted: %s", json_dumps(last, 0));
    printf("ok wrong secret, unsigned, replayed and stale heartbeats refused\n");

    /* relay-b dies without a word: dropped after the TTL; sessions go to a. */
    sigt_stop(&relays[1], SIGKILL);
    wait_registry(relay_id[1], false, false, "relay-b dropped");
    for (int i = 0; i < 3; i++) {
        open_session(node, sid, secret);
        CHECK(strcmp(node, relay_id[0]) == 0, "new session on %s after b died", node);
    }
    for (int i = 0; i < 5; i++) {
        char again[80];
        media_again(sids[i], secrets[i], again);
        CHECK(strcmp(again, relay_id[0]) == 0, "session %d still on %s", i, again);
    }
    until = sigt_now_s() + DEADLINE_S;
    while (!log_has2("signal.log", "dropped from the registry", relay_id[1])) {
        CHECK(sigt_now_s() < until, "drop not logged");
        usleep(100 * 1000);
    }
    printf("ok a dead relay is dropped and its sessions move\n");

    /* SIGTERM: the last heartbeat says draining (if the entry is still
     * there when we look, it must be draining). */
    sigt_stop(&relays[0], SIGTERM);
    json_t *e = registry_entry(relay_id[0]);
    CHECK(!e || json_is_true(json_object_get(e, "draining")), "stopped relay not draining");
    CHECK(log_has("relay-a.log", "stopped"), "relay-a stopped cleanly");
    printf("ok a stopping relay drains\n");

    json_decref(last);
    last = NULL;
    printf("PASS\n");
    return 0;
}
