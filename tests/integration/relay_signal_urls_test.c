/* relay_signal_urls_test: a real tandem-relay given two --signal-url, of
 * two tandem-signal instances sharing a real redis-server (signaling/API.md
 * "Relay registry", "Cluster"), relay_ttl_s 3:
 *   - its heartbeats go to the first URL (instance A's own counter of
 *     accepted heartbeats grows, B's stays 0), and it is listed on both;
 *   - A is stopped (SIGTERM by PID): the relay moves on to B at once and
 *     stays registered: B accepts its heartbeats past the TTL and lists it,
 *     the relay logs the switch, and a new session opened on B is placed
 *     on it;
 *   - stopped with SIGINT, the relay tells B it is gone (B logs it).
 * Before repeatable --signal-url the relay sent everything to the last
 * URL given, so A never saw a heartbeat.
 * usage: relay_signal_urls_test /path/to/tandem-signal /path/to/tandem-relay */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "signal_serve_client.h"
#include "signal_test_proc.h"

#define CLUSTER_SECRET "cluster-secret-0123456789abcdef-0123456789"
#define RELAY_ID "relay-m"
#define DEADLINE_S 30.0

static const char *signal_prog, *relay_prog;
static char config[300], redis_url[64];
static pid_t redis_pid = -1, inst_pid[2] = {-1, -1}, relay_pid = -1;
static uint16_t redis_port, inst_port[2];
static pid_t main_pid;
static json_t *last;

static void cleanup(void)
{
    if (getpid() != main_pid)
        return;
    sigt_stop(&relay_pid, SIGKILL);
    sigt_stop(&inst_pid[0], SIGTERM);
    sigt_stop(&inst_pid[1], SIGTERM);
    sigt_stop(&redis_pid, SIGTERM);
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
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir",
               sigt_dir, "--save", "", "--appendonly", "no", (char *)NULL);
        _exit(127);
    }
}

/* Whether redis-server answers PING on its port (a plain RESP exchange). */
static bool redis_up(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(redis_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char reply[16] = "";
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              write(fd, "PING\r\n", 6) == 6 && read(fd, reply, sizeof reply - 1) > 0 &&
              strncmp(reply, "+PONG", 5) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void start_instance(int i)
{
    char log[32];
    snprintf(log, sizeof log, "signal-%c.log", 'a' + i);
    char *argv[] = {(char *)signal_prog, "serve", "--listen", "127.0.0.1:0", "--redis",
                    redis_url, "--config", config, NULL};
    inst_pid[i] = sigt_start(argv, log, &inst_port[i]);
}

static int api(int inst, const char *method, const char *path, const char *bearer,
               const char *body)
{
    char headers[1024];
    sc_auth_headers(headers, sizeof headers, bearer, NULL);
    return sc_http_json(inst_port[inst], method, path, headers, body, &last);
}

static char *login(int inst, const char *name, const char *pw)
{
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\"}", name, pw);
    CHECK(api(inst, "POST", "/api/v1/login", NULL, body) == 200, "login %s", name);
    return strdup(json_string_value(json_object_get(last, "token")));
}

/* GET /relays on inst: whether RELAY_ID is listed, and the instance's own
 * count of accepted heartbeats. */
static bool listing(int inst, const char *admin, json_int_t *accepted)
{
    int st = api(inst, "GET", "/api/v1/relays", admin, NULL);
    CHECK(st == 200, "GET relays on %c: %d", 'a' + inst, st);
    *accepted = json_integer_value(json_object_get(json_object_get(last, "counters"), "accepted"));
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(last, "relays"), i, e)
        if (strcmp(json_string_value(json_object_get(e, "id")) ?: "", RELAY_ID) == 0)
            return true;
    return false;
}

static bool log_has(const char *name, const char *text)
{
    char path[400];
    sigt_path(path, sizeof path, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s /path/to/tandem-signal /path/to/tandem-relay\n", argv[0]);
        return 2;
    }
    signal_prog = argv[1];
    relay_prog = argv[2];
    main_pid = getpid();
    signal(SIGPIPE, SIG_IGN);
    sigt_dir_make("relay_signal_urls_test");
    atexit(cleanup);
    sigt_path(config, sizeof config, "config.json");
    sigt_write_secrets(CLUSTER_SECRET);
    sigt_write_file("config.json", "{\"public_url\":\"http://127.0.0.1:1\","
                                   "\"relay_token_secret_file\":\"relay.secret\","
                                   "\"recording_master_key_file\":\"master.key\","
                                   "\"cluster_secret_file\":\"cluster.secret\","
                                   "\"relay_ttl_s\":3}");
    redis_port = sigt_free_port();
    snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%u", redis_port);
    start_redis();
    double until = sigt_now_s() + DEADLINE_S;
    while (!redis_up()) {
        CHECK(sigt_now_s() < until, "redis-server did not start on port %u", redis_port);
        usleep(50 * 1000);
    }
    sigt_user_add(signal_prog, "--redis", redis_url, "root", "admin", "root-pw", NULL);
    sigt_user_add(signal_prog, "--redis", redis_url, "alice", "rep", "alice-pw", NULL);
    start_instance(0);
    start_instance(1);
    char *admin = login(1, "root", "root-pw");
    char *alice = login(1, "alice", "alice-pw");

    /* The relay, given A then B. */
    uint16_t rport = sigt_free_port();
    char listen[64], public_url[64], url_a[64], url_b[64], secret[400], cluster[400];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", rport);
    snprintf(public_url, sizeof public_url, "http://127.0.0.1:%u", rport);
    snprintf(url_a, sizeof url_a, "http://127.0.0.1:%u", inst_port[0]);
    snprintf(url_b, sizeof url_b, "http://127.0.0.1:%u/", inst_port[1]); /* a trailing slash too */
    sigt_path(secret, sizeof secret, "relay.secret");
    sigt_path(cluster, sizeof cluster, "cluster.secret");
    char *rargv[] = {(char *)relay_prog, "serve", "--listen", listen, "--node-id", RELAY_ID,
                     "--secret-file", secret, "--local-address", "127.0.0.1", "--workers", "1",
                     "--signal-url", url_a, "--signal-url", url_b, "--cluster-secret-file",
                     cluster, "--public-url", public_url, "--heartbeat-interval", "1", NULL};
    relay_pid = sigt_start(rargv, RELAY_ID ".log", NULL);

    /* Heartbeats reach A, the first URL; B hears none but lists the relay
     * (the registry is Redis's). */
    json_int_t acc_a = 0, acc_b = 0;
    until = sigt_now_s() + DEADLINE_S;
    while (!listing(0, admin, &acc_a) || acc_a < 2) {
        CHECK(sigt_now_s() < until, "the relay's heartbeats never reached A (A accepted %lld)",
              (long long)acc_a);
        usleep(100 * 1000);
    }
    CHECK(listing(1, admin, &acc_b), "the relay is listed on B too");
    CHECK(acc_b == 0, "B accepted %lld heartbeats while A was up", (long long)acc_b);
    printf("ok   heartbeats go to the first --signal-url (A accepted %lld, B %lld)\n",
           (long long)acc_a, (long long)acc_b);

    /* A stops: the relay must go on with B by itself. */
    sigt_stop(&inst_pid[0], SIGTERM);
    json_int_t start_b = acc_b;
    until = sigt_now_s() + DEADLINE_S;
    /* Five accepted beats at 1 s span more than relay_ttl_s (3): had the
     * relay been silent since A left, it would have been dropped. */
    while (listing(1, admin, &acc_b), acc_b < start_b + 5) {
        CHECK(sigt_now_s() < until, "B accepted only %lld heartbeats after A stopped",
              (long long)(acc_b - start_b));
        usleep(200 * 1000);
    }
    CHECK(listing(1, admin, &acc_b), "the relay is still listed on B after A stopped");
    json_t *r = NULL;
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(last, "relays"), i, e)
        if (strcmp(json_string_value(json_object_get(e, "id")) ?: "", RELAY_ID) == 0)
            r = e;
    CHECK(r && !json_is_true(json_object_get(r, "draining")), "listed, not draining");
    printf("ok   A stopped: B accepted %lld heartbeats since, the relay is listed there "
           "(last seen %lld ms ago)\n",
           (long long)(acc_b - start_b),
           (long long)json_integer_value(json_object_get(r, "last_seen_ms_ago")));
    char want[128];
    snprintf(want, sizeof want, "now talking to tandem-signal at %s", url_b);
    CHECK(log_has(RELAY_ID ".log", want), "the relay did not log the switch to B");
    printf("ok   the relay logged '%s'\n", want);

    /* A new session, opened on B, is placed on the relay. */
    CHECK(api(1, "POST", "/api/v1/sessions", alice, "{}") == 201, "open session on B");
    const char *node = json_string_value(json_object_get(json_object_get(last, "media"), "node"));
    CHECK(node && strcmp(node, RELAY_ID) == 0, "new session's media node '%s'", node ?: "(null)");
    printf("ok   a new session on B is placed on %s\n", node);

    /* Leaving, the relay says so to B, the instance that answers. */
    sigt_stop(&relay_pid, SIGINT);
    until = sigt_now_s() + DEADLINE_S;
    while (!log_has("signal-b.log", "relay " RELAY_ID " is leaving")) {
        CHECK(sigt_now_s() < until, "B never heard 'gone'");
        usleep(100 * 1000);
    }
    CHECK(!log_has(RELAY_ID ".log", "this relay is gone"), "the relay could not say it is gone");
    printf("ok   SIGINT: the relay told B it is gone\n");

    free(admin);
    free(alice);
    json_decref(last);
    printf("relay_signal_urls_test: %d checks passed\n", sigt_checks);
    return 0;
}
