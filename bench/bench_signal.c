/* bench_signal: tandem-signal's input path and joins, end to end.
 *
 * Starts the real `tandem-signal serve` (built beside this benchmark) on
 * 127.0.0.1 with a fresh SQLite file, opens a session with a customer and a
 * rep socket, and measures:
 *   - signaling.input.rate: pointer_move events per second from the rep's
 *     socket through parse + profile filter + forwarding to the customer's
 *     socket (a sender thread writes, the main thread reads);
 *   - signaling.input.p50 / .p99: one event at a time, time from the rep's
 *     send to the customer's receive (both ends in this process, one clock);
 *   - signaling.join.rate: rep joins per second over HTTP (each is a SQLite
 *     transaction with its audit entry, synchronous=FULL).
 * Anchors, measured in the same run on the same machine: a plain
 * libwebsockets forwarder in this process (every message from one socket
 * copied to another; no JSON, no filter, no audit) with the same client
 * and method, and GET /healthz requests per second on the service for the
 * join rate (HTTP without the database).
 * The bench profile has a rate limit far above what is sent, so no event
 * is refused: this measures the allowed path. */
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "../tests/integration/signal_serve_client.h"
#include "bench_util.h"

#ifndef TDM_SIGNAL_PATH
#define TDM_SIGNAL_PATH "tandem-signal"
#endif

#define RATE_EVENTS 100000
#define LAT_EVENTS 5000
#define JOINS 300

static char dir[128];
static pid_t server = -1;

static void die(const char *what)
{
    fprintf(stderr, "bench_signal: %s\n", what);
    if (server > 0)
        kill(server, SIGTERM);
    exit(1);
}

static void cleanup(void)
{
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
    }
    if (dir[0]) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_signal: could not remove %s\n", dir);
    }
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write a file");
    fputs(text, f);
    fclose(f);
}

/* --- the two forwarders' common measurements --- */

typedef struct sender_arg {
    sc_ws *ws;
    int n;
} sender_arg;

static void *sender(void *p)
{
    sender_arg *a = p;
    char m[96];
    for (int i = 0; i < a->n; i++) {
        int len = snprintf(m, sizeof m, "{\"type\":\"pointer_move\",\"x\":0.%06d,\"y\":0.5}",
                           i % 1000000);
        if (!sc_ws_send(a->ws, m, (size_t)len))
            die("send failed");
    }
    return NULL;
}

/* The next message at the receiver that is an input event (skips pushes). */
static long next_input(sc_ws *rx, const char **m)
{
    for (;;) {
        long n = sc_ws_recv(rx, 10000, m, NULL);
        if (n < 0 || strncmp(*m, "{\"type\":\"pointer_move\"", 22) == 0)
            return n;
    }
}

static double measure_rate(sc_ws *tx, sc_ws *rx, int n)
{
    sender_arg a = {.ws = tx, .n = n};
    pthread_t t;
    uint64_t t0 = tdm_bench_now_ns();
    if (pthread_create(&t, NULL, sender, &a) != 0)
        die("thread");
    const char *m;
    for (int i = 0; i < n; i++)
        if (next_input(rx, &m) < 0) {
            fprintf(stderr, "bench_signal: %d of %d events arrived\n", i, n);
            die("an event did not arrive");
        }
    uint64_t t1 = tdm_bench_now_ns();
    pthread_join(t, NULL);
    return n / ((double)(t1 - t0) / 1e9);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void measure_latency(sc_ws *tx, sc_ws *rx, int n, double *p50, double *p99)
{
    double *v = malloc(sizeof *v * (size_t)n);
    char m[96];
    const char *got;
    for (int i = 0; i < n; i++) {
        int len = snprintf(m, sizeof m, "{\"type\":\"pointer_move\",\"x\":0.%06d,\"y\":0.25}", i);
        uint64_t t0 = tdm_bench_now_ns();
        if (!sc_ws_send(tx, m, (size_t)len) || next_input(rx, &got) < 0)
            die("latency event lost");
        v[i] = (double)(tdm_bench_now_ns() - t0) / 1e6;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *p50 = v[n / 2];
    *p99 = v[(size_t)((double)n * 0.99)];
    free(v);
}

/* --- anchor: a plain libwebsockets forwarder --- */

typedef struct fwd_msg {
    struct fwd_msg *next;
    size_t len;
    unsigned char buf[];
} fwd_msg;

static struct lws *fwd_sink; /* the first connection receives everything */
static fwd_msg *fwd_head, *fwd_tail;
static volatile int fwd_stop;
static int fwd_port;

/* Per connection: the message being collected (lws may hand one message
 * over in pieces, as it does to the service). */
typedef struct fwd_pss {
    size_t len;
    unsigned char buf[4096];
} fwd_pss;

static int fwd_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    fwd_pss *ps = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        if (!fwd_sink)
            fwd_sink = wsi;
        break;
    case LWS_CALLBACK_RECEIVE: {
        if (wsi == fwd_sink || !fwd_sink || !ps)
            break;
        if (len > sizeof ps->buf - ps->len)
            return -1;
        memcpy(ps->buf + ps->len, in, len);
        ps->len += len;
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
            break;
        fwd_msg *m = malloc(sizeof *m + LWS_PRE + ps->len);
        m->next = NULL;
        m->len = ps->len;
        memcpy(m->buf + LWS_PRE, ps->buf, ps->len);
        ps->len = 0;
        if (fwd_tail)
            fwd_tail->next = m;
        else
            fwd_head = m;
        fwd_tail = m;
        lws_callback_on_writable(fwd_sink);
        break;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        fwd_msg *m = fwd_head;
        if (wsi != fwd_sink || !m)
            break;
        if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
            return -1;
        fwd_head = m->next;
        if (!fwd_head)
            fwd_tail = NULL;
        free(m);
        if (fwd_head)
            lws_callback_on_writable(wsi);
        break;
    }
    case LWS_CALLBACK_CLOSED:
        if (wsi == fwd_sink)
            fwd_sink = NULL;
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols fwd_protocols[] = {
    {"fwd", fwd_cb, sizeof(fwd_pss), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *fwd_thread(void *p)
{
    struct lws_context *ctx = p;
    while (!fwd_stop)
        lws_service(ctx, 100);
    return NULL;
}

/* --- the real service --- */

static uint16_t start_server(const char *prog)
{
    int p[2];
    if (pipe(p) != 0)
        die("pipe");
    server = fork();
    if (server < 0)
        die("fork");
    char db[200], cfg[200];
    snprintf(db, sizeof db, "%s/signal.db", dir);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    if (server == 0) {
        dup2(p[1], 1);
        close(p[0]);
        execl(prog, prog, "serve", "--listen", "127.0.0.1:0", "--db", db, "--config", cfg,
              (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char line[256];
    unsigned port = 0;
    if (!fgets(line, sizeof line, f) || sscanf(line, "listening on 127.0.0.1:%u", &port) != 1)
        die("the service did not start");
    fclose(f);
    return (uint16_t)port;
}

static void user_add(const char *prog, const char *name)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "echo pw | '%s' user add %s --role rep --db '%s/signal.db' >/dev/null",
             prog, name, dir);
    if (system(cmd) != 0)
        die("user add failed");
}

static json_t *post(uint16_t port, const char *path, const char *hdr, const char *body,
                    int want)
{
    char *resp = NULL;
    int st = sc_http(port, "POST", path, hdr, body, &resp);
    json_t *j = resp ? json_loads(resp, 0, NULL) : NULL;
    if (st != want) {
        fprintf(stderr, "POST %s: %d %s\n", path, st, resp ? resp : "");
        die("request failed");
    }
    free(resp);
    return j;
}

static sc_ws *ws_auth(uint16_t port, const char *secret)
{
    sc_ws *ws = sc_ws_connect(port, "/api/v1/ws");
    char m[200];
    snprintf(m, sizeof m, "{\"type\":\"auth\",\"secret\":\"%s\"}", secret);
    const char *r;
    if (!ws || !sc_ws_send(ws, m, strlen(m)) || sc_ws_recv(ws, 5000, &r, NULL) < 0 ||
        !strstr(r, "welcome"))
        die("websocket auth failed");
    return ws;
}

int main(void)
{
    const char *prog = TDM_SIGNAL_PATH;
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/bench_signal.XXXXXX");
    if (!mkdtemp(dir))
        die("mkdtemp");
    atexit(cleanup);
    write_file("relay.secret", "bench-relay-secret-bench-relay-secret-0123\n");
    write_file("master.key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
    write_file("config.json",
               "{\"relays\":[{\"id\":\"r1\",\"url\":\"http://127.0.0.1:1\"}],"
               "\"relay_token_secret_file\":\"relay.secret\","
               "\"recording_master_key_file\":\"master.key\",\"rep_profile\":\"bench\","
               "\"profiles\":{\"bench\":{\"events\":[\"pointer_move\",\"pointer_button\","
               "\"key_down\",\"key_up\"],\"clipboard\":\"none\","
               "\"rate\":{\"per_second\":100000,\"burst\":100000}}}}");
    user_add(prog, "alice");
    uint16_t port = start_server(prog);

    json_t *j = post(port, "/api/v1/login", NULL, "{\"name\":\"alice\",\"password\":\"pw\"}", 200);
    char auth[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n",
             json_string_value(json_object_get(j, "token")));
    json_decref(j);
    json_t *s = post(port, "/api/v1/sessions", auth, "{}", 201);
    char body[256], sid[64];
    snprintf(sid, sizeof sid, "%s", json_string_value(json_object_get(s, "session_id")));
    snprintf(body, sizeof body, "{\"code\":\"%s\",\"display_name\":\"cust\"}",
             json_string_value(json_object_get(s, "join_code")));
    json_t *c = post(port, "/api/v1/join", NULL, body, 201);
    sc_ws *cust = ws_auth(port, json_string_value(json_object_get(c, "secret")));
    sc_ws *rep = ws_auth(port, json_string_value(json_object_get(s, "secret")));
    json_decref(c);
    json_decref(s);

    /* Anchor forwarder, in this process, on its own thread. */
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = 0;
    info.iface = "127.0.0.1";
    info.protocols = fwd_protocols;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx)
        die("anchor forwarder");
    fwd_port = lws_get_vhost_listen_port(lws_get_vhost_by_name(ctx, "default"));
    pthread_t ft;
    pthread_create(&ft, NULL, fwd_thread, ctx);
    sc_ws *a_rx = sc_ws_connect((uint16_t)fwd_port, "/");
    usleep(100 * 1000); /* the sink must be registered first */
    sc_ws *a_tx = sc_ws_connect((uint16_t)fwd_port, "/");
    if (!a_rx || !a_tx)
        die("anchor connect");

    /* Warm up both paths, then measure, anchor first. */
    fprintf(stderr, "bench_signal: input rate and latency...\n");
    measure_rate(a_tx, a_rx, 5000);
    measure_rate(rep, cust, 5000);
    double a_rate = measure_rate(a_tx, a_rx, RATE_EVENTS);
    double rate = measure_rate(rep, cust, RATE_EVENTS);
    double a_p50, a_p99, p50, p99;
    measure_latency(a_tx, a_rx, LAT_EVENTS, &a_p50, &a_p99);
    measure_latency(rep, cust, LAT_EVENTS, &p50, &p99);
    fwd_stop = 1;
    lws_cancel_service(ctx); /* lws_service's own wait can be long */
    pthread_join(ft, NULL);
    sc_ws_close(a_tx);
    sc_ws_close(a_rx);
    lws_context_destroy(ctx);

    /* Joins per second (rep joins), anchor: /healthz round trips. */
    fprintf(stderr, "bench_signal: joins...\n");
    uint64_t t0 = tdm_bench_now_ns();
    for (int i = 0; i < JOINS; i++) {
        char *r = NULL;
        if (sc_http(port, "GET", "/healthz", NULL, NULL, &r) != 200)
            die("healthz");
        free(r);
    }
    double health_rate = JOINS / ((double)(tdm_bench_now_ns() - t0) / 1e9);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/reps", sid);
    t0 = tdm_bench_now_ns();
    for (int i = 0; i < JOINS; i++)
        json_decref(post(port, path, auth, "{}", 201));
    double join_rate = JOINS / ((double)(tdm_bench_now_ns() - t0) / 1e9);
    sc_ws_close(rep);
    sc_ws_close(cust);

    printf("tandem-signal input path, loopback, %d events (rate), %d (latency), %d joins\n",
           RATE_EVENTS, LAT_EVENTS, JOINS);
    printf("  %-34s %12s %12s\n", "", "signal", "lws forward");
    printf("  %-34s %12.0f %12.0f\n", "events/s", rate, a_rate);
    printf("  %-34s %12.3f %12.3f\n", "latency p50 (ms)", p50, a_p50);
    printf("  %-34s %12.3f %12.3f\n", "latency p99 (ms)", p99, a_p99);
    printf("  %-34s %12.0f %12.0f (healthz)\n", "rep joins/s", join_rate, health_rate);
    tdm_bench_line("signaling.input.rate", rate, "events/s", "lws_forward", a_rate);
    tdm_bench_line("signaling.input.p50", p50, "ms", "lws_forward", a_p50);
    tdm_bench_line("signaling.input.p99", p99, "ms", "lws_forward", a_p99);
    tdm_bench_line("signaling.join.rate", join_rate, "joins/s", "healthz", health_rate);
    return 0;
}
