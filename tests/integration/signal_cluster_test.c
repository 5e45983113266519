/* signal_cluster_test: tandem-signal as a cluster (signaling/API.md
 * "Cluster") — a real redis-server started here on a free loopback port
 * (append-only file, fsync always, in a private directory) and real
 * tandem-signal processes started with --redis:
 *   - relays heartbeat to either instance (signed as tandem-relay signs);
 *     a heartbeat accepted by one instance is a replay to the other;
 *     sessions opened on both instances spread over three relays, each
 *     instance hands out the same relay for a session, a draining relay
 *     gets nothing new, relay_max_sessions caps a relay across instances,
 *     and ending a session on the other instance frees its place;
 *   - a rep connected to instance A controls a customer connected to B:
 *     allowed input arrives at the customer byte for byte and in order,
 *     denied input (a blocked chord; an invitee's view_only events) never
 *     does and is answered input_denied; chat crosses instances; a profile
 *     changed through B applies to the invitee's next event on A;
 *   - the customer on B takes control back: the rep and the invitee on A
 *     see control_taken_back, their input is refused customer_has_control
 *     (audited) and never reaches the customer; a third instance C started
 *     afterwards welcomes the rep's new socket with "control":"customer"
 *     and refuses its input too; given back, input flows again;
 *   - an invite minted on A is accepted once: two accepts racing on A and
 *     B give one 201 and one 410 invite_used;
 *   - instance A killed with SIGKILL: the rep's login token and secret
 *     work on B, its socket reconnects there and its input goes on;
 *   - Redis killed under load (heartbeats and input flowing): instances
 *     stay up, answer 503 unavailable for what needs state, /healthz 503
 *     {"ok":false,"redis":"unavailable"}, and keep their sockets (a chat
 *     refused meanwhile closes nothing);
 *     Redis restarted on the same port: /healthz 200 again, heartbeats register again, new
 *     sessions get relays, sockets get a "resync" push, pub/sub delivers
 *     again across instances;
 *   - `tandem-signal audit verify --redis` passes, and fails after one
 *     audit entry is altered in Redis.
 * Waiting uses generous deadlines; no timing is asserted.
 *
 *   - a real tandem-relay heartbeating to B is listed on A, and its own
 *     drain (SIGUSR1) shows there;
 *
 * usage: signal_cluster_test /path/to/tandem-signal [/path/to/tandem-relay] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
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
#define N_INPUT 60

static const char *signal_prog, *relay_prog;
static char config[300], redis_url[64];
static pid_t redis_pid = -1, inst_pid[3] = {-1, -1, -1}, beater = -1, real_relay = -1;
static uint16_t redis_port, inst_port[3];

static pid_t main_pid;

static void cleanup(void)
{
    if (getpid() != main_pid) /* a helper child failing must not stop the cluster */
        return;
    sigt_stop(&beater, SIGKILL);
    sigt_stop(&real_relay, SIGKILL);
    sigt_stop(&inst_pid[0], SIGTERM);
    sigt_stop(&inst_pid[1], SIGTERM);
    sigt_stop(&inst_pid[2], SIGTERM);
    sigt_stop(&redis_pid, SIGTERM);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- a minimal RESP client, for readiness and tampering only --- */

/* Sends one command; returns the first reply line (static buffer) or NULL. */
static const char *redis_cmd(int argc, const char **argv)
{
    static char line[512];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(redis_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return NULL;
    }
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    bool ok = write(fd, buf, (size_t)n) == n;
    ssize_t r = ok ? read(fd, line, sizeof line - 1) : -1;
    close(fd);
    if (r <= 0)
        return NULL;
    line[r] = '\0';
    return line;
}

static bool redis_up(void)
{
    const char *argv[] = {"PING"};
    const char *r = redis_cmd(1, argv);
    return r && strncmp(r, "+PONG", 5) == 0;
}

static void start_redis(void)
{
    redis_pid = fork();
    CHECK(redis_pid >= 0, "fork");
    if (redis_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char port[16], log[400];
        snprintf(port, sizeof port, "%u", redis_port);
        sigt_path(log, sizeof log, "redis.log");
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        /* Append-only with fsync on every write: a SIGKILL loses nothing
         * acknowledged, so the restart below is a restart, not a wipe. */
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", sigt_dir,
               "--save", "", "--appendonly", "yes", "--appendfsync", "always",
               "--appenddirname", "aof", "--loglevel", "verbose", (char *)NULL);
        _exit(127);
    }
    double until = sigt_now_s() + DEADLINE_S;
    while (!redis_up()) {
        CHECK(sigt_now_s() < until, "redis-server did not start on port %u", redis_port);
        usleep(50 * 1000);
    }
}

/* --- processes --- */

static void user_add(const char *name, const char *role, const char *password, bool may_invite)
{
    sigt_user_add(signal_prog, "--redis", redis_url, name, role, password,
                  may_invite ? "view_only,pointer" : NULL);
}

static void start_instance(int i)
{
    char log[32];
    snprintf(log, sizeof log, "signal-%c.log", 'a' + i);
    char *argv[] = {(char *)signal_prog, "serve", "--listen", "127.0.0.1:0", "--redis",
                    redis_url, "--config", config, NULL};
    inst_pid[i] = sigt_start(argv, log, &inst_port[i]);
}

static bool alive(pid_t pid)
{
    int st;
    return pid > 0 && waitpid(pid, &st, WNOHANG) == 0;
}

/* --- HTTP --- */

static json_t *last;

static int api_h(int inst, const char *method, const char *path, const char *headers,
                 const char *body)
{
    return sc_http_json(inst_port[inst], method, path, headers, body, &last);
}

static int api(int inst, const char *method, const char *path, const char *bearer,
               const char *secret, const char *body)
{
    char headers[1024];
    sc_auth_headers(headers, sizeof headers, bearer, secret);
    return api_h(inst, method, path, headers, body);
}

static const char *str(const char *key) { return json_string_value(json_object_get(last, key)); }

static char *login(int inst, const char *name, const char *pw)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\"}", name, pw);
    CHECK(api(inst, "POST", "/api/v1/login", NULL, NULL, body) == 200, "login %s", name);
    return strdup(str("token"));
}

/* --- relays (heartbeats signed as tandem-relay signs them) --- */

static const char *relay_id[3] = {"relay-a", "relay-b", "relay-c"};

static int heartbeat_raw(int inst, const char *body, size_t len, int64_t ts)
{
    char auth[TDM_HB_AUTH_CAP], headers[300];
    CHECK(tdm_hb_sign((const uint8_t *)CLUSTER_SECRET, strlen(CLUSTER_SECRET), ts,
                      (const uint8_t *)body, len, auth, NULL) == TDM_OK,
          "sign");
    snprintf(headers, sizeof headers, "Authorization: %s\r\n", auth);
    return api_h(inst, "POST", "/api/v1/relays/heartbeat", headers, body);
}

static size_t hb_body(int r, bool draining, char *body, size_t cap)
{
    tdm_hb_report rep;
    memset(&rep, 0, sizeof rep);
    snprintf(rep.id, sizeof rep.id, "%s", relay_id[r]);
    snprintf(rep.node, sizeof rep.node, "%s", relay_id[r]);
    snprintf(rep.url, sizeof rep.url, "http://127.0.0.1:%u", 9000 + r);
    rep.draining = draining;
    rep.load.workers = 1;
    size_t len = 0;
    CHECK(tdm_hb_body_format(&rep, body, cap, &len, NULL) == TDM_OK, "body");
    return len;
}

static int64_t next_ts(void)
{
    static int64_t last_ts;
    int64_t t = wall_ms();
    last_ts = t > last_ts ? t : last_ts + 1;
    return last_ts;
}

static int beat(int inst, int r, bool draining)
{
    char body[TDM_HB_BODY_CAP];
    size_t len = hb_body(r, draining, body, sizeof body);
    return heartbeat_raw(inst, body, len, next_ts());
}

/* A child that heartbeats the three relays, alternating instances, until
 * killed; failures (Redis away) are expected and ignored. */
static void start_beater(void)
{
    beater = fork();
    CHECK(beater >= 0, "fork");
    if (beater == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (unsigned k = 0;; k++) {
            for (int r = 0; r < 3; r++)
                beat((int)((k + (unsigned)r) % 2), r, false);
            usleep(300 * 1000);
        }
    }
}

static json_t *relay_listing(int inst, const char *admin, const char *id)
{
    int st = api(inst, "GET", "/api/v1/relays", admin, NULL, NULL);
    CHECK(st == 200, "GET relays on %c: %d %s", 'a' + inst, st, json_dumps(last, 0));
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(last, "relays"), i, e)
        if (strcmp(json_string_value(json_object_get(e, "id")) ?: "", id) == 0)
            return e;
    return NULL;
}

/* A real tandem-relay heartbeating to instance inst. */
static void start_real_relay(int inst, const char *id)
{
    uint16_t rport;
    real_relay = sigt_start_relay(relay_prog, id, inst_port[inst], &rport);
}

/* --- sessions --- */

typedef struct sess {
    char sid[80], secret[80], code[40], node[80];
} sess;

static void open_session(int inst, const char *token, sess *s)
{
    CHECK(api(inst, "POST", "/api/v1/sessions", token, NULL, "{}") == 201, "open session: %s",
          json_dumps(last, 0));
    snprintf(s->sid, sizeof s->sid, "%s", str("session_id"));
    snprintf(s->secret, sizeof s->secret, "%s", str("secret"));
    snprintf(s->code, sizeof s->code, "%s", str("join_code"));
    const char *n = json_string_value(json_object_get(json_object_get(last, "media"), "node"));
    snprintf(s->node, sizeof s->node, "%s", n ? n : "");
}

static void media_node(int inst, const sess *s, char node[80])
{
    char path[200];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/media", s->sid);
    CHECK(api(inst, "POST", path, NULL, s->secret, "{}") == 200, "media");
    const char *n = json_string_value(json_object_get(json_object_get(last, "media"), "node"));
    snprintf(node, 80, "%s", n ? n : "");
}

static void end_session(int inst, const sess *s)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/end", s->sid);
    CHECK(api(inst, "POST", path, NULL, s->secret, "{}") == 200, "end session");
}

/* --- WebSocket --- */

/* The next message, parsed, and its text in *raw (valid until the next
 * receive); NULL on timeout or close. */
static json_t *ws_next_any(sc_ws *ws, int timeout_ms, const char **raw)
{
    const char *m;
    long n = sc_ws_recv(ws, timeout_ms, &m, NULL);
    if (n < 0)
        return NULL;
    if (raw)
        *raw = m;
    return json_loads(m, 0, NULL);
}

static const char *type_of(json_t *j) { return json_string_value(json_object_get(j, "type")) ?: ""; }

/* The next message that is not a session push. */
static json_t *ws_next(sc_ws *ws, int timeout_ms, const char **raw)
{
    double until = sigt_now_s() + timeout_ms / 1000.0;
    for (;;) {
        int left = (int)((until - sigt_now_s()) * 1000);
        json_t *j = ws_next_any(ws, left > 0 ? left : 0, raw);
        if (!j || strcmp(type_of(j), "session") != 0)
            return j;
        json_decref(j);
    }
}

/* A socket authenticated on instance inst; its welcome in *welcome when
 * asked for (json_decref it). */
static sc_ws *ws_auth_welcome(int inst, const char *secret, json_t **welcome)
{
    sc_ws *ws = sc_ws_connect(inst_port[inst], "/api/v1/ws");
    CHECK(ws, "websocket connect to %c", 'a' + inst);
    char msg[256];
    snprintf(msg, sizeof msg, "{\"type\":\"auth\",\"secret\":\"%s\"}", secret);
    CHECK(sc_ws_send(ws, msg, strlen(msg)), "send auth");
    json_t *w = ws_next(ws, 5000, NULL);
    CHECK(w && strcmp(type_of(w), "welcome") == 0, "no welcome on %c", 'a' + inst);
    if (welcome)
        *welcome = w;
    else
        json_decref(w);
    return ws;
}

static sc_ws *ws_auth(int inst, const char *secret) { return ws_auth_welcome(inst, secret, NULL); }

static const char *control_of(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "state"), "control")) ?: "";
}

/* Reads ws until the session push `event` arrives; checks its "control". */
static void wait_event(sc_ws *ws, const char *event, const char *control)
{
    double until = sigt_now_s() + DEADLINE_S;
    for (;;) {
        CHECK(sigt_now_s() < until, "no %s push", event);
        json_t *j = ws_next_any(ws, 1000, NULL);
        bool hit = j && strcmp(type_of(j), "session") == 0 &&
                   strcmp(json_string_value(json_object_get(j, "event")) ?: "", event) == 0;
        if (hit)
            CHECK(strcmp(control_of(j), control) == 0, "%s with control '%s'", event,
                  control_of(j));
        json_decref(j);
        if (hit)
            return;
    }
}

static void ws_send(sc_ws *ws, const char *text)
{
    CHECK(sc_ws_send(ws, text, strlen(text)), "send");
}

/* Reads session pushes on ws until participant pid shows online (as seen
 * by that socket's instance). */
static void wait_online(sc_ws *ws, const char *pid)
{
    double until = sigt_now_s() + DEADLINE_S;
    for (;;) {
        CHECK(sigt_now_s() < until, "participant %s never shown online", pid);
        json_t *j = ws_next_any(ws, 1000, NULL);
        if (!j)
            continue;
        size_t i;
        json_t *p;
        bool on = false;
        json_array_foreach (json_object_get(json_object_get(j, "state"), "participants"), i, p)
            if (strcmp(json_string_value(json_object_get(p, "id")) ?: "", pid) == 0)
                on = json_is_true(json_object_get(p, "online"));
        json_decref(j);
        if (on)
            return;
    }
}

static void expect_denied(sc_ws *ws, const char *reason)
{
    json_t *e = ws_next(ws, 10000, NULL);
    CHECK(e && strcmp(type_of(e), "error") == 0 &&
              strcmp(json_string_value(json_object_get(e, "error")) ?: "", "input_denied") == 0 &&
              strcmp(json_string_value(json_object_get(e, "reason")) ?: "", reason) == 0,
          "expected input_denied/%s, got %s", reason, e ? json_dumps(e, 0) : "nothing");
    json_decref(e);
}

/* Sends n pointer moves tagged with base and checks that `to` receives
 * them byte for byte and in order (and nothing else that is input). A
 * blocked chord is sent in the middle: the sender gets input_denied and
 * the customer never sees it. */
static void input_in_order(sc_ws *from, sc_ws *to, int n, int base)
{
    char sent[N_INPUT][96];
    for (int i = 0; i < n; i++) {
        snprintf(sent[i], sizeof sent[i], "{\"type\":\"pointer_move\",\"x\":0.%04d,\"y\":0.5}",
                 base + i);
        ws_send(from, sent[i]);
        if (i == n / 2) {
            ws_send(from, "{\"type\":\"key_down\",\"key\":\"Delete\",\"mods\":[\"ctrl\",\"alt\"]}");
            expect_denied(from, "key_chord_blocked");
        }
    }
    for (int i = 0; i < n; i++) {
        const char *raw = NULL;
        json_t *j = ws_next(to, 10000, &raw);
        CHECK(j, "customer got %d of %d events", i, n);
        CHECK(strcmp(raw, sent[i]) == 0, "event %d: got %s, want %s", i, raw, sent[i]);
        json_decref(j);
    }
}

/* Sends chat text on from until `to` receives it (pub/sub may still be
 * resubscribing after an outage: each try waits a second). */
static void chat_reaches(sc_ws *from, sc_ws *to, const char *tag)
{
    double until = sigt_now_s() + DEADLINE_S;
    for (int k = 0;; k++) {
        CHECK(sigt_now_s() < until, "chat %s never crossed instances", tag);
        char msg[160], text[80];
        snprintf(text, sizeof text, "%s-%d", tag, k);
        snprintf(msg, sizeof msg, "{\"type\":\"chat\",\"text\":\"%s\"}", text);
        ws_send(from, msg);
        double t_end = sigt_now_s() + 1.0;
        while (sigt_now_s() < t_end) {
            json_t *j = ws_next(to, 200, NULL);
            if (!j)
                continue;
            bool hit = strcmp(type_of(j), "chat") == 0 &&
                       strcmp(json_string_value(json_object_get(j, "text")) ?: "", text) == 0;
            json_decref(j);
            if (hit)
                return;
        }
    }
}

/* Drains what a socket has pending (chat echoes, pushes). */
static void drain(sc_ws *ws)
{
    json_t *j;
    while ((j = ws_next_any(ws, 300, NULL)))
        json_decref(j);
}

/* Two accepts of one invite racing on both instances, from two processes. */
static void race_accept(const char *token, int *n201, int *n410, char secret_out[80])
{
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        kids[i] = fork();
        CHECK(kids[i] >= 0, "fork");
        if (kids[i] == 0) {
            char body[400];
            snprintf(body, sizeof body, "{\"token\":\"%s\",\"display_name\":\"Dana %d\"}", token,
                     i);
            int st = api(i, "POST", "/api/v1/invites/accept", NULL, NULL, body);
            char name[400];
            snprintf(name, sizeof name, "accept-%d.json", i);
            char *text = json_dumps(last, 0);
            sigt_write_file(name, text ? text : "{}");
            _exit(st == 201 ? 0 : st == 410 ? 1 : 2);
        }
    }
    *n201 = *n410 = 0;
    for (int i = 0; i < 2; i++) {
        int st;
        waitpid(kids[i], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) <= 1, "accept %d: unexpected status", i);
        if (WEXITSTATUS(st) == 0) {
            (*n201)++;
            char path[400];
            snprintf(path, sizeof path, "%s/accept-%d.json", sigt_dir, i);
            json_t *j = json_load_file(path, 0, NULL);
            snprintf(secret_out, 80, "%s", json_string_value(json_object_get(j, "secret")) ?: "");
            json_decref(j);
        } else {
            (*n410)++;
        }
    }
}

static int run_verify(void)
{
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(signal_prog, signal_prog, "audit", "verify", "--redis", redis_url, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s /path/to/tandem-signal [/path/to/tandem-relay]\n", argv[0]);
        return 2;
    }
    signal_prog = argv[1];
    relay_prog = argc == 3 ? argv[2] : NULL;
    main_pid = getpid();
    signal(SIGPIPE, SIG_IGN);
    sigt_dir_make("signal_cluster_test");
    atexit(cleanup);
    sigt_path(config, sizeof config, "config.json");
    sigt_write_secrets(CLUSTER_SECRET);
    sigt_write_file("config.json", "{\"public_url\":\"http://127.0.0.1:1\","
                              "\"relay_token_secret_file\":\"relay.secret\","
                              "\"recording_master_key_file\":\"master.key\","
                              "\"cluster_secret_file\":\"cluster.secret\","
                              "\"relay_ttl_s\":30,\"relay_heartbeat_skew_s\":30,"
                              "\"relay_max_sessions\":3}");
    redis_port = sigt_free_port();
    snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%u", redis_port);
    start_redis();
    user_add("root", "admin", "root-pw", false);
    user_add("alice", "rep", "alice-pw", true);
    start_instance(0);
    start_instance(1);
    char *admin = login(1, "root", "root-pw");
    char *alice = login(0, "alice", "alice-pw");
    /* A login minted on A is good on B. */
    CHECK(api(1, "GET", "/api/v1/me", alice, NULL, NULL) == 200, "login token across instances");

    /* --- placement over three relays, shared by both instances --- */
    for (int r = 0; r < 3; r++)
        CHECK(beat(r % 2, r, false) == 200, "heartbeat %s: %s", relay_id[r], json_dumps(last, 0));
    {
        char body[TDM_HB_BODY_CAP];
        size_t len = hb_body(0, false, body, sizeof body);
        int64_t ts = next_ts();
        CHECK(heartbeat_raw(0, body, len, ts) == 200, "heartbeat on A");
        CHECK(heartbeat_raw(1, body, len, ts) == 401, "the same heartbeat replayed on B: %s",
              json_dumps(last, 0));
    }
    for (int r = 0; r < 3; r++)
        CHECK(relay_listing(r % 2 ? 0 : 1, admin, relay_id[r]), "%s listed on the other instance",
              relay_id[r]);
    sess s[9];
    int per_relay[3] = {0};
    for (int i = 0; i < 6; i++) {
        open_session(i % 2, alice, &s[i]);
        char other[80];
        media_node(1 - i % 2, &s[i], other);
        CHECK(strcmp(other, s[i].node) == 0, "session %d: %s on one instance, %s on the other", i,
              s[i].node, other);
        for (int r = 0; r < 3; r++)
            per_relay[r] += strcmp(s[i].node, relay_id[r]) == 0;
    }
    printf("placement of 6 sessions: %s %d, %s %d, %s %d\n", relay_id[0], per_relay[0],
           relay_id[1], per_relay[1], relay_id[2], per_relay[2]);
    CHECK(per_relay[0] == 2 && per_relay[1] == 2 && per_relay[2] == 2, "sessions not spread");
    CHECK(beat(1, 2, true) == 200, "relay-c draining");
    for (int i = 6; i < 8; i++) {
        open_session(i % 2, alice, &s[i]);
        CHECK(s[i].node[0] && strcmp(s[i].node, "relay-c") != 0,
              "session %d went to '%s' (relay-c drains)", i, s[i].node);
    }
    /* relay-a and relay-b hold 3 each (the cap), relay-c drains: no room. */
    open_session(0, alice, &s[8]);
    CHECK(!s[8].node[0], "a 10th session got %s past the cap", s[8].node);
    end_session(1, &s[0]); /* opened on A, ended on B: its place is freed */
    char node[80];
    media_node(0, &s[8], node);
    CHECK(strcmp(node, s[0].node) == 0, "freed place on %s not reused (got '%s')", s[0].node, node);
    for (int i = 1; i < 9; i++)
        end_session(i % 2, &s[i]);
    printf("placement: spread, shared, drain, cap and release across instances ok\n");

    /* --- rep on A, customer on B --- */
    sess S;
    open_session(0, alice, &S);
    char body[300];
    snprintf(body, sizeof body, "{\"code\":\"%s\",\"display_name\":\"Bob\"}", S.code);
    CHECK(api(1, "POST", "/api/v1/join", NULL, NULL, body) == 201, "join on B");
    char cust_secret[80], cust_pid[80];
    snprintf(cust_secret, sizeof cust_secret, "%s", str("secret"));
    snprintf(cust_pid, sizeof cust_pid, "%s", str("participant_id"));
    sc_ws *rep_ws = ws_auth(0, S.secret);
    sc_ws *cust_ws = ws_auth(1, cust_secret);
    wait_online(rep_ws, cust_pid);
    drain(cust_ws);
    input_in_order(rep_ws, cust_ws, N_INPUT, 0);
    printf("input: %d events A -> B in order, blocked chord denied\n", N_INPUT);

    /* Invite minted on A, accepted once across instances. */
    char path[200];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/invites", S.sid);
    CHECK(api(0, "POST", path, NULL, S.secret, "{\"profile\":\"view_only\"}") == 201,
          "invite on A: %s", json_dumps(last, 0));
    char token[200];
    snprintf(token, sizeof token, "%s", str("token"));
    int n201, n410;
    char inv_secret[80];
    race_accept(token, &n201, &n410, inv_secret);
    CHECK(n201 == 1 && n410 == 1, "racing accepts: %d x 201, %d x 410", n201, n410);
    snprintf(body, sizeof body, "{\"token\":\"%s\",\"display_name\":\"Eve\"}", token);
    CHECK(api(1, "POST", "/api/v1/invites/accept", NULL, NULL, body) == 410 &&
              strcmp(str("error") ?: "", "invite_used") == 0,
          "third accept: %s", json_dumps(last, 0));
    printf("invite: one of two racing accepts (A, B) won; later accepts refused\n");

    /* The invitee (view_only) on A: denied there; its profile changed
     * through B applies to its next event on A. */
    sc_ws *inv_ws = ws_auth(0, inv_secret);
    ws_send(inv_ws, "{\"type\":\"pointer_move\",\"x\":0.1,\"y\":0.1}");
    expect_denied(inv_ws, "kind_not_allowed");
    json_t *me = NULL;
    snprintf(path, sizeof path, "/api/v1/sessions/%s", S.sid);
    CHECK(api(1, "GET", path, NULL, S.secret, NULL) == 200, "state on B");
    const char *inv_pid = NULL;
    size_t pi;
    json_array_foreach (json_object_get(last, "participants"), pi, me)
        if (strcmp(json_string_value(json_object_get(me, "kind")) ?: "", "invited") == 0)
            inv_pid = json_string_value(json_object_get(me, "id"));
    CHECK(inv_pid, "invitee listed");
    char inv_pid_s[80];
    snprintf(inv_pid_s, sizeof inv_pid_s, "%s", inv_pid);
    snprintf(path, sizeof path, "/api/v1/sessions/%s/participants/%s/profile", S.sid, inv_pid_s);
    CHECK(api(1, "PUT", path, NULL, S.secret, "{\"profile\":\"pointer\"}") == 200,
          "profile change on B");
    const char *want = "{\"type\":\"pointer_move\",\"x\":0.2,\"y\":0.2}";
    double until = sigt_now_s() + DEADLINE_S;
    for (bool got = false; !got;) {
        CHECK(sigt_now_s() < until, "profile change on B never applied on A");
        ws_send(inv_ws, want);
        json_t *j = ws_next(cust_ws, 1000, NULL);
        got = j && strcmp(type_of(j), "pointer_move") == 0;
        json_decref(j);
        drain(inv_ws);
    }
    printf("profile changed on B applies to the invitee's input on A\n");
    drain(rep_ws);
    drain(cust_ws);
    chat_reaches(cust_ws, rep_ws, "chat-b-to-a");
    drain(rep_ws);
    drain(cust_ws);

    /* --- the customer on B takes control back; the rep is on A --- */
    drain(inv_ws);
    ws_send(cust_ws, "{\"type\":\"control\",\"state\":\"customer\"}");
    wait_event(rep_ws, "control_taken_back", "customer");
    wait_event(inv_ws, "control_taken_back", "customer");
    ws_send(rep_ws, "{\"type\":\"pointer_move\",\"x\":0.3,\"y\":0.3}");
    expect_denied(rep_ws, "customer_has_control");
    ws_send(rep_ws, "{\"type\":\"key_down\",\"key\":\"a\",\"mods\":[]}");
    expect_denied(rep_ws, "customer_has_control");
    ws_send(inv_ws, "{\"type\":\"pointer_move\",\"x\":0.4,\"y\":0.4}");
    expect_denied(inv_ws, "customer_has_control");
    /* An instance that had no socket of the session when it changed. */
    start_instance(2);
    json_t *welcome = NULL;
    sc_ws *late_ws = ws_auth_welcome(2, S.secret, &welcome);
    CHECK(strcmp(control_of(welcome), "customer") == 0, "welcome on C: control '%s'",
          control_of(welcome));
    json_decref(welcome);
    ws_send(late_ws, "{\"type\":\"pointer_move\",\"x\":0.35,\"y\":0.35}");
    expect_denied(late_ws, "customer_has_control");
    printf("take-back on B: rep and invitee on A refused, a socket on a later instance C too\n");
    /* Given back: the next input the customer sees is the first sent after. */
    ws_send(cust_ws, "{\"type\":\"control\",\"state\":\"shared\"}");
    wait_event(rep_ws, "control_returned", "shared");
    wait_event(late_ws, "control_returned", "shared");
    input_in_order(rep_ws, cust_ws, 10, 300);
    const char *after_c = "{\"type\":\"pointer_move\",\"x\":0.45,\"y\":0.45}";
    ws_send(late_ws, after_c);
    {
        const char *raw = NULL;
        json_t *j = ws_next(cust_ws, 10000, &raw);
        CHECK(j && strcmp(raw, after_c) == 0, "input from C after give-back: %s",
              raw ? raw : "nothing");
        json_decref(j);
    }
    snprintf(path, sizeof path, "/api/v1/sessions/%s/audit", S.sid);
    CHECK(api(1, "GET", path, admin, NULL, NULL) == 200, "audit on B");
    int n_taken = 0, n_returned = 0, n_denied = 0;
    json_array_foreach (json_object_get(last, "entries"), pi, me) {
        const char *kind = json_string_value(json_object_get(me, "kind")) ?: "";
        const char *reason =
            json_string_value(json_object_get(json_object_get(me, "detail"), "reason")) ?: "";
        n_taken += strcmp(kind, "control_taken_back") == 0;
        n_returned += strcmp(kind, "control_returned") == 0;
        n_denied += strcmp(kind, "input_denied") == 0 && strcmp(reason, "customer_has_control") == 0;
    }
    CHECK(n_taken == 1 && n_returned == 1 && n_denied == 4,
          "audit: %d taken back, %d returned, %d customer_has_control denials", n_taken,
          n_returned, n_denied);
    sc_ws_close(late_ws);
    sigt_stop(&inst_pid[2], SIGTERM);
    drain(rep_ws);
    drain(cust_ws);
    drain(inv_ws);
    printf("given back: input from A and C flows again; 1 + 1 changes and 4 denials audited\n");

    /* --- instance A dies: the rep resumes on B --- */
    sigt_stop(&inst_pid[0], SIGKILL);
    sc_ws_close(rep_ws);
    sc_ws_close(inv_ws);
    CHECK(api(1, "GET", "/api/v1/me", alice, NULL, NULL) == 200, "login token on B after A died");
    rep_ws = ws_auth(1, S.secret);
    drain(cust_ws);
    input_in_order(rep_ws, cust_ws, 20, 100);
    printf("instance A killed: the rep reconnected to B and controls on\n");

    /* A fresh instance A; the customer moves there. */
    start_instance(0);
    sc_ws_close(cust_ws);
    cust_ws = ws_auth(0, cust_secret);
    drain(rep_ws);
    chat_reaches(rep_ws, cust_ws, "chat-b-to-new-a");
    drain(cust_ws);
    drain(rep_ws);

    /* --- Redis killed under load, then restarted on the same port --- */
    start_beater();
    usleep(500 * 1000);
    sigt_stop(&redis_pid, SIGKILL);
    for (int i = 0; i < 20; i++) /* input keeps flowing while Redis is away */
        ws_send(rep_ws, "{\"type\":\"pointer_move\",\"x\":0.9,\"y\":0.9}");
    /* A chat needs the store: refused, and the socket stays (used below). */
    ws_send(cust_ws, "{\"type\":\"chat\",\"text\":\"while redis is down\"}");
    int st = api(1, "POST", "/api/v1/sessions", alice, NULL, "{}");
    CHECK(st == 503 && strcmp(str("error") ?: "", "unavailable") == 0,
          "open without Redis: %d %s", st, json_dumps(last, 0));
    CHECK(beat(0, 0, false) == 503, "heartbeat without Redis: %s", json_dumps(last, 0));
    /* A load balancer must stop sending traffic here: /healthz says so. */
    for (int i = 0; i < 2; i++) {
        until = sigt_now_s() + DEADLINE_S;
        while (api(i, "GET", "/healthz", NULL, NULL, NULL) != 503) {
            CHECK(sigt_now_s() < until, "healthz %c still 200 without Redis", 'a' + i);
            usleep(100 * 1000);
        }
        CHECK(json_is_false(json_object_get(last, "ok")) &&
                  strcmp(str("redis") ?: "", "unavailable") == 0,
              "healthz %c without Redis: %s", 'a' + i, json_dumps(last, 0));
    }
    CHECK(alive(inst_pid[0]) && alive(inst_pid[1]), "an instance died without Redis");
    printf("Redis down: 503 unavailable, instances up\n");
    start_redis();
    until = sigt_now_s() + DEADLINE_S;
    for (;;) {
        CHECK(sigt_now_s() < until, "no session with a relay after Redis came back: %s",
              json_dumps(last, 0));
        /* Each instance may answer 503 once more (its connection to the
         * old Redis breaks on first use); recovered = both serve again. */
        if (api(1, "POST", "/api/v1/sessions", alice, NULL, "{}") == 201 &&
            json_object_get(json_object_get(last, "media"), "node") &&
            api(0, "GET", "/api/v1/me", alice, NULL, NULL) == 200)
            break;
        usleep(200 * 1000);
    }
    for (int i = 0; i < 2; i++) {
        until = sigt_now_s() + DEADLINE_S;
        while (api(i, "GET", "/healthz", NULL, NULL, NULL) != 200) {
            CHECK(sigt_now_s() < until, "healthz %c not 200 after Redis came back", 'a' + i);
            usleep(100 * 1000);
        }
        CHECK(json_is_true(json_object_get(last, "ok")), "healthz %c: %s", 'a' + i,
              json_dumps(last, 0));
    }
    /* What was published during the outage is lost: sockets get their
     * session's state afresh once the bus is back. */
    until = sigt_now_s() + DEADLINE_S;
    for (bool resynced = false; !resynced;) {
        CHECK(sigt_now_s() < until, "no resync push after Redis came back");
        json_t *j = ws_next_any(rep_ws, 1000, NULL);
        resynced = j && strcmp(type_of(j), "session") == 0 &&
                   strcmp(json_string_value(json_object_get(j, "event")) ?: "", "resync") == 0;
        json_decref(j);
    }
    json_t *e = relay_listing(0, admin, "relay-b");
    CHECK(e && json_integer_value(json_object_get(e, "last_seen_ms_ago")) < 30000,
          "relay-b not heartbeating again: %s", json_dumps(last, 0));
    drain(cust_ws);
    drain(rep_ws);
    chat_reaches(rep_ws, cust_ws, "chat-after-redis");
    drain(cust_ws);
    drain(rep_ws);
    input_in_order(rep_ws, cust_ws, 20, 200);
    CHECK(alive(inst_pid[0]) && alive(inst_pid[1]), "an instance died");
    sigt_stop(&beater, SIGKILL);
    printf("Redis restarted: heartbeats, placement and pub/sub recovered\n");

    /* --- a real tandem-relay heartbeating to B, seen and drained on A --- */
    if (relay_prog) {
        start_real_relay(1, "relay-real");
        until = sigt_now_s() + DEADLINE_S;
        json_t *r;
        while (!(r = relay_listing(0, admin, "relay-real")) ||
               json_integer_value(json_object_get(r, "heartbeats")) < 2) {
            CHECK(sigt_now_s() < until, "the real relay never showed on A");
            usleep(200 * 1000);
        }
        CHECK(!json_is_true(json_object_get(r, "draining")), "real relay draining at start");
        kill(real_relay, SIGUSR1); /* the relay's own drain toggle */
        until = sigt_now_s() + DEADLINE_S;
        while (!(r = relay_listing(0, admin, "relay-real")) ||
               !json_is_true(json_object_get(r, "draining"))) {
            CHECK(sigt_now_s() < until, "the real relay's draining never showed on A");
            usleep(200 * 1000);
        }
        sigt_stop(&real_relay, SIGTERM);
        printf("a real tandem-relay heartbeating to B is listed on A, and its drain shows there\n");
    }

    /* --- the audit log in Redis --- */
    CHECK(run_verify() == 0, "audit verify on an intact log");
    char key[160];
    snprintf(key, sizeof key, "tdm:audit:%s:log", S.sid);
    const char *lset[] = {"LSET", key, "1", "{\"seq\":2,\"kind\":\"forged\"}"};
    const char *r = redis_cmd(4, lset);
    CHECK(r && strncmp(r, "+OK", 3) == 0, "tamper: %s", r ? r : "no answer");
    CHECK(run_verify() == 1, "audit verify missed an altered entry");
    printf("audit verify --redis: intact log passes, altered entry caught\n");

    sc_ws_close(rep_ws);
    sc_ws_close(cust_ws);
    json_decref(last);
    last = NULL;
    free(admin);
    free(alice);
    printf("PASS signal_cluster_test\n");
    return 0;
}
