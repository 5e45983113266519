/* tandem-relay: the media plane's process. `serve` runs the WHIP/WHEP HTTP
 * API (relay/tdm_whip.h over relay/tdm_http.h) on the main thread, the
 * media plane (relay/tdm_relay.h: ICE, DTLS-SRTP, forwarding rooms) on its
 * own threads and, with --signal-url, the heartbeat to tandem-signal's relay
 * registry (signaling/tdm_relay_heartbeat.h) on a thread of its own, so a
 * slow or absent signaling service never stalls the HTTP loop (several
 * --signal-url: the first instance that answers, tools/tdm_hb_targets.h); `token`
 * mints an access token from the shared secret (for tests and tools). With
 * --no-media only the API runs and creating an endpoint answers 503. With
 * --cluster-secret-file (with or without --signal-url) the API also has
 * POST /admin/revoke, signed like heartbeats, through which signaling ends
 * sessions and removes participants (relay/tdm_whip.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tdm_http.h"
#include "tdm_relay.h"
#include "tdm_hb_targets.h"
#include "tdm_relay_heartbeat.h"
#include "tdm_token.h"
#include "tdm_whip.h"

#define DEFAULT_ADDRESS "127.0.0.1"
#define DEFAULT_PORT 8080
#define DEFAULT_TTL 600
#define MAX_TTL (7 * 24 * 3600)
#define SECRET_FILE_MAX 4096
#define DEFAULT_HB_INTERVAL 1 /* with signaling's relay_ttl_s 3: a lost relay is seen in 3-4 s */
#define DEFAULT_DRAIN_DEADLINE 30
#define REC_FLUSH_BUDGET_MS 3000 /* at shutdown, for the last recording events */

static void usage_main(FILE *out)
{
    fprintf(out,
            "usage: tandem-relay COMMAND [options]\n"
            "The Tandem relay node (media plane).\n"
            "\n"
            "Commands:\n"
            "  serve   run the WHIP/WHEP HTTP API, /healthz and /metrics\n"
            "  token   mint an access token for one session, participant and role\n"
            "\n"
            "'tandem-relay COMMAND --help' describes each command.\n"
            "Exit status: 0 on success, 1 on a runtime error, 2 on bad usage.\n");
}

static void usage_serve(FILE *out)
{
    fprintf(out,
            "usage: tandem-relay serve --node-id ID --secret-file PATH\n"
            "                          (--local-address ADDR... | --no-media) [options]\n"
            "Serves the relay's HTTP API over plain HTTP (no TLS: keep it on loopback or\n"
            "behind a TLS-terminating proxy):\n"
            "  POST /whip/SESSION, POST /whep/SESSION  publish / subscribe (SDP offer)\n"
            "  PATCH, DELETE /whip|whep/SESSION/ID     trickle ICE, ICE restart, leave\n"
            "  GET /healthz, GET /metrics              health and Prometheus metrics\n"
            "Every WHIP/WHEP request needs 'Authorization: Bearer TOKEN' (see 'token').\n"
            "\n"
            "  -l, --listen ADDR:PORT   address to listen on; [v6]:PORT for IPv6;\n"
            "                           port 0 picks a free one       [" DEFAULT_ADDRESS
            ":%d]\n"
            "  -n, --node-id ID         this node's id, as tokens name it (required)\n"
            "  -s, --secret-file PATH   the token secret shared with signaling: the file's\n"
            "                           bytes, trailing newlines removed, at least %d\n"
            "                           (required)\n"
            "  -a, --local-address ADDR numeric address ICE gathers candidates on\n"
            "                           (repeatable, at most %d; required with the media\n"
            "                           plane: ICE must not gather on every interface)\n"
            "      --no-media           run without the media plane: POST answers 503\n"
            "                           \"media plane not available\"\n"
            "      --cors-origin ORIGIN Access-Control-Allow-Origin for browser pages [*]\n"
            "      --no-cors            send no CORS headers\n"
            "      --ice-server URL     advertise a STUN/TURN server to clients in Link\n"
            "                           headers (repeatable, at most %d)\n"
            "      --workers N          media worker threads; a session lives on one\n"
            "                           (1..%d)                     [one per CPU]\n"
            "      --ice-tcp            also offer ICE-TCP candidates (passive), for\n"
            "                           clients whose network blocks UDP\n"
            "      --consent-timeout S  drop a client that leaves ICE consent checks\n"
            "                           unanswered this long; libnice runs 10 s or 50 s,\n"
            "                           and up to 10 gets the 10 s mode     [50]\n"
            "      --record-dir DIR     record every published session, as forwarded, to\n"
            "                           DIR/SESSION-TIME-ID.tdmrec (tandem-replay reads it)\n"
            "      --recording-key-file PATH  the recording master key shared with\n"
            "                           signaling and auditors: 32 raw bytes or 64 hex\n"
            "                           digits (required with --record-dir)\n"
            "\n"
            "Relay registry (tandem-signal, signaling/API.md \"Relay registry\"):\n"
            "      --signal-url URL     send heartbeats to tandem-signal at this http://\n"
            "                           base URL (POST URL/api/v1/relays/heartbeat).\n"
            "                           Repeatable (at most %d), for instances sharing\n"
            "                           one registry (tandem-signal --redis): heartbeats,\n"
            "                           recording events and 'gone' go to the one that\n"
            "                           last answered; no answer or a 5xx moves them on\n"
            "                           to the next URL at once; the earlier URLs are\n"
            "                           tried first again every %d s\n"
            "      --cluster-secret-file PATH  the cluster secret heartbeats are signed\n"
            "                           with (HMAC-SHA256; same file rules, at least %d\n"
            "                           bytes; required with --signal-url). Also enables\n"
            "                           POST /admin/revoke (signaling ends a session or\n"
            "                           removes a participant; signed the same way), also\n"
            "                           without --signal-url (a relay in signaling's\n"
            "                           static config); without it that route is 404\n"
            "      --revocation-ttl S   how long a revoked session/participant stays\n"
            "                           refused; at least signaling's relay_token_ttl_s\n"
            "                           plus 30 s                                 [%d]\n"
            "      --public-url URL     the base URL clients reach this relay's WHIP/WHEP\n"
            "                           at (required with --signal-url)\n"
            "      --heartbeat-interval S  seconds between heartbeats (1..300)     [%d]\n"
            "      --drain              start draining: signaling places no new session\n"
            "                           here (existing ones go on)\n"
            "      --drain-deadline S   with --signal-url: after SIGTERM, wait at most S\n"
            "                           seconds (0..86400) for the last session   [%d]\n"
            "  -h, --help               this text\n"
            "\n"
            "Prints 'listening on http://ADDR:PORT' once ready. SIGINT stops it. With\n"
            "--signal-url SIGTERM drains: no new session is placed here (the heartbeat\n"
            "says draining at once) and the relay exits when its last session ends or\n"
            "--drain-deadline passes; SIGTERM again or SIGINT exits at once. Leaving, it\n"
            "tells signaling (POST /api/v1/relays/gone), which moves the sessions still\n"
            "here to another relay. Without --signal-url SIGTERM stops it at once.\n"
            "With --signal-url, SIGUSR1 toggles draining (sent at once); heartbeat\n"
            "failures are logged once per change of state and never stop the relay.\n"
            "Draining only steers signaling: the relay still serves sessions placed on it.\n"
            "Exit status: 0 after a signal, 1 on a runtime error (secret file, listen),\n"
            "2 on bad usage.\n",
            DEFAULT_PORT, TDM_TOKEN_SECRET_MIN, TDM_ICE_MAX_LOCAL_ADDRESSES,
            TDM_WHIP_MAX_ICE_SERVERS, TDM_RELAY_MAX_WORKERS, TDM_HB_TARGETS_MAX,
            TDM_HB_TARGETS_RETRY_MS / 1000, TDM_HB_SECRET_MIN,
            TDM_WHIP_REVOCATION_TTL_S,
            DEFAULT_HB_INTERVAL, DEFAULT_DRAIN_DEADLINE);
}

static void usage_token(FILE *out)
{
    fprintf(out,
            "usage: tandem-relay token --secret-file PATH --session S --participant P\n"
            "                          --role publish|subscribe --node ID [--ttl SECONDS]\n"
            "Prints a relay access token (JWT, HS256) that lets participant P publish to\n"
            "(WHIP) or subscribe from (WHEP) session S on relay node ID. Ids are 1..%d\n"
            "characters of [A-Za-z0-9._~:-].\n"
            "\n"
            "  -s, --secret-file PATH   the secret the relay serves with (same rules)\n"
            "      --session S          session id\n"
            "      --participant P      participant id (the token's subject)\n"
            "      --role ROLE          publish or subscribe\n"
            "      --node ID            relay node id\n"
            "      --ttl SECONDS        lifetime, 1..%d                       [%d]\n"
            "  -h, --help               this text\n"
            "\n"
            "Exit status: 0 on success, 1 when the secret file is missing or short,\n"
            "2 on bad usage.\n",
            TDM_TOKEN_ID_MAX, MAX_TTL, DEFAULT_TTL);
}

__attribute__((format(printf, 2, 3))) static int bad_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tandem-relay: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'tandem-relay %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    va_end(ap);
    return 2;
}

/* Reads the shared secret. Trailing CR/LF go, so `openssl rand -hex 32 >
 * file` and an editor's final newline give the same secret signaling reads.
 * Returns 0, or 1 after printing why. */
static int read_secret_min(const char *path, uint8_t *out, size_t *out_len, size_t min)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "tandem-relay: cannot read secret file '%s': %s\n", path,
                strerror(errno));
        return 1;
    }
    size_t n = fread(out, 1, SECRET_FILE_MAX + 1, f);
    bool err = ferror(f);
    fclose(f);
    if (err) {
        fprintf(stderr, "tandem-relay: cannot read secret file '%s'\n", path);
        return 1;
    }
    if (n > SECRET_FILE_MAX) {
        fprintf(stderr, "tandem-relay: secret file '%s' is over %d bytes\n", path,
                SECRET_FILE_MAX);
        return 1;
    }
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        n--;
    if (n < min) {
        fprintf(stderr,
                "tandem-relay: secret in '%s' is %zu bytes; at least %zu are needed "
                "(e.g. openssl rand -hex 32 > '%s')\n",
                path, n, min, path);
        return 1;
    }
    *out_len = n;
    return 0;
}

/* The recording master key: 32 raw bytes, or 64 hex digits (with trailing
 * whitespace), as tandem-replay and tandem-signal read it. 0, or 1 after
 * printing why. */
static int read_recording_key(const char *path, uint8_t key[32])
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "tandem-relay: cannot read recording key file '%s': %s\n", path,
                strerror(errno));
        return 1;
    }
    uint8_t raw[160];
    size_t n = fread(raw, 1, sizeof raw, f);
    fclose(f);
    size_t text = n;
    while (text > 0 && (raw[text - 1] == '\n' || raw[text - 1] == '\r' || raw[text - 1] == ' '))
        text--;
    int rc = 1;
    if (n == 32) {
        memcpy(key, raw, 32);
        rc = 0;
    } else if (text == 64) {
        rc = 0;
        for (size_t i = 0; i < 32 && rc == 0; i++) {
            unsigned v;
            char pair[3] = {(char)raw[2 * i], (char)raw[2 * i + 1], 0};
            if (!isxdigit((unsigned char)pair[0]) || !isxdigit((unsigned char)pair[1]) ||
                sscanf(pair, "%2x", &v) != 1)
                rc = 1;
            else
                key[i] = (uint8_t)v;
        }
    }
    memset(raw, 0, sizeof raw);
    if (rc)
        fprintf(stderr, "tandem-relay: recording key file '%s' must hold 32 raw bytes or 64 hex "
                        "digits\n",
                path);
    return rc;
}

static int read_secret(const char *path, uint8_t *out, size_t *out_len)
{
    return read_secret_min(path, out, out_len, TDM_TOKEN_SECRET_MIN);
}

/* --- token --- */

static int cmd_token(int argc, char **argv)
{
    enum { O_SESSION = 256, O_PARTICIPANT, O_ROLE, O_NODE, O_TTL };
    static const struct option opts[] = {
        {"secret-file", required_argument, NULL, 's'},
        {"session", required_argument, NULL, O_SESSION},
        {"participant", required_argument, NULL, O_PARTICIPANT},
        {"role", required_argument, NULL, O_ROLE},
        {"node", required_argument, NULL, O_NODE},
        {"ttl", required_argument, NULL, O_TTL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *secret_file = NULL, *session = NULL, *participant = NULL, *node = NULL;
    const char *role_name = NULL;
    long ttl = DEFAULT_TTL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            secret_file = optarg;
            break;
        case O_SESSION:
            session = optarg;
            break;
        case O_PARTICIPANT:
            participant = optarg;
            break;
        case O_ROLE:
            role_name = optarg;
            break;
        case O_NODE:
            node = optarg;
            break;
        case O_TTL: {
            char *end;
            errno = 0;
            ttl = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || ttl < 1 || ttl > MAX_TTL)
                return bad_usage("token", "--ttl wants seconds from 1 to %d, got '%s'", MAX_TTL,
                                 optarg);
            break;
        }
        case 'h':
            usage_token(stdout);
            return 0;
        case ':':
            return bad_usage("token", "option '%s' needs a value", argv[optind - 1]);
        default:
            return bad_usage("token", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage("token", "unexpected argument '%s'", argv[optind]);
    const char *missing = !secret_file   ? "--secret-file"
                          : !session     ? "--session"
                          : !participant ? "--participant"
                          : !role_name   ? "--role"
                          : !node        ? "--node"
                                         : NULL;
    if (missing)
        return bad_usage("token", "%s is required", missing);
    tdm_token_claims claims;
    memset(&claims, 0, sizeof claims);
    if (!tdm_token_role_parse(role_name, &claims.role))
        return bad_usage("token", "--role wants publish or subscribe, got '%s'", role_name);
    struct {
        const char *flag, *value;
        char *dst;
    } ids[] = {{"--session", session, claims.sid},
               {"--participant", participant, claims.sub},
               {"--node", node, claims.node}};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(ids[i].value);
        if (n == 0 || n > TDM_TOKEN_ID_MAX ||
            strspn(ids[i].value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789._~:-") != n)
            return bad_usage("token", "%s wants 1..%d characters of [A-Za-z0-9._~:-], got '%s'",
                             ids[i].flag, TDM_TOKEN_ID_MAX, ids[i].value);
        memcpy(ids[i].dst, ids[i].value, n + 1);
    }

    uint8_t secret[SECRET_FILE_MAX + 1];
    size_t secret_len = 0;
    if (read_secret(secret_file, secret, &secret_len))
        return 1;
    int64_t now = (int64_t)time(NULL);
    claims.exp = now + ttl;
    char tok[TDM_TOKEN_MAX_LEN + 1];
    tdm_error e = {{0}};
    tdm_status st = tdm_token_mint(secret, secret_len, &claims, now, tok, sizeof tok, &e);
    memset(secret, 0, sizeof secret);
    if (st != TDM_OK) {
        fprintf(stderr, "tandem-relay: cannot mint token: %s\n", e.msg);
        return 1;
    }
    printf("%s\n", tok);
    return 0;
}

/* --- serve --- */

/* The backend while the media plane is not built in: no endpoint ever
 * exists, creating one is 503, and /metrics says the media plane is down. */
static tdm_status nomedia_create(void *ctx, const tdm_whip_endpoint *ep,
                                 const tdm_sdp_session *offer, char *answer, size_t cap,
                                 size_t *answer_len, tdm_error *err)
{
    (void)ctx, (void)ep, (void)offer, (void)answer, (void)cap, (void)answer_len;
    return tdm_fail(err, TDM_ERR_UNAVAILABLE, "media plane not available");
}

static bool nomedia_lookup(void *ctx, const char *rid, tdm_whip_endpoint *out)
{
    (void)ctx, (void)rid, (void)out;
    return false;
}

static tdm_status nomedia_patch(void *ctx, const char *rid, const tdm_sdp_frag *frag,
                                const char *new_etag, char *out, size_t cap, size_t *out_len,
                                tdm_error *err)
{
    (void)ctx, (void)rid, (void)frag, (void)new_etag, (void)out, (void)cap, (void)out_len;
    return tdm_fail(err, TDM_EOF, "not found");
}

static tdm_status nomedia_delete(void *ctx, const char *rid)
{
    (void)ctx, (void)rid;
    return TDM_EOF;
}

static tdm_status nomedia_metrics(void *ctx, char *out, size_t cap, size_t *out_len)
{
    (void)ctx;
    int n = snprintf(out, cap,
                     "# HELP tandem_relay_media_plane_up Whether this relay runs its media "
                     "plane.\n"
                     "# TYPE tandem_relay_media_plane_up gauge\n"
                     "tandem_relay_media_plane_up 0\n");
    if (n < 0 || (size_t)n >= cap)
        return TDM_ERR_RANGE;
    *out_len = (size_t)n;
    return TDM_OK;
}

/* --- /admin/revoke authentication --- */

/* The cluster secret for admin requests: read once, kept by main for the
 * life of the tdm_whip that calls admin_verify. */
typedef struct admin_auth {
    uint8_t secret[SECRET_FILE_MAX + 1];
    size_t secret_len;
} admin_auth;

/* tdm_whip_admin_verify_fn: the heartbeat HMAC (tdm_relay_heartbeat.h);
 * tdm_whip checks the time window and replay. */
static tdm_status admin_verify(void *ctx, const char *authorization, const uint8_t *body,
                               size_t body_len, int64_t *ts_ms, tdm_error *err)
{
    const admin_auth *a = ctx;
    return tdm_hb_verify(a->secret, a->secret_len, authorization, body, body_len, ts_ms, err);
}

/* --- heartbeat to the relay registry --- */

/* One tandem-signal instance the heartbeat may talk to (--signal-url). */
typedef struct signal_target {
    char host[256], port[8], path[512];
    char url[TDM_HB_URL_MAX];
    /* Logging once per change of state: this URL's last heartbeat outcome. */
    char last_state[300];
} signal_target;

/* The heartbeat thread's state. The main thread owns start/stop; draining
 * is flipped by the main thread (SIGUSR1) and read by the heartbeat. */
typedef struct heartbeat {
    signal_target targets[TDM_HB_TARGETS_MAX]; /* in the order given */
    tdm_hb_targets sel;                        /* which one is tried first */
    tdm_hb_report report; /* id, node, url; load filled each beat */
    uint8_t secret[SECRET_FILE_MAX + 1];
    size_t secret_len;
    unsigned interval_s;
    tdm_relay *relay; /* NULL with --no-media */
    atomic_bool draining;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, wake; /* under mu */
    /* Every signature's timestamp, whatever the route, is newer than the
     * last: each attempt is signed afresh, so a request moved on to
     * another instance (or an instance sharing Redis with the one that
     * may have taken it) never meets signaling's replay check. */
    int64_t sig_last_ts;
    /* Recording events taken from the relay and not yet delivered (oldest
     * first): kept across beats so an outage of signaling delays the audit
     * entries instead of losing them; bounded, the oldest dropped first. */
    tdm_relay_rec_event pending[TDM_RELAY_REC_EVENTS_MAX];
    size_t n_pending;
    uint64_t rec_dropped; /* total, logged as it grows */
    int64_t rec_deadline_ms; /* 0, or (shutdown) no event POST starts or lasts past it */
} heartbeat;

/* "http://HOST[:PORT][/PATH]" into host, port (default 80) and path (no
 * trailing slash). Plain HTTP only: heartbeats carry no secret (they are
 * signed), and the cluster network is where they travel. */
static bool parse_signal_url(const char *url, signal_target *hb)
{
    if (strlen(url) >= sizeof hb->url || strncmp(url, "http://", 7) != 0)
        return false;
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= sizeof hb->host)
        return false;
    char hostport[256];
    memcpy(hostport, h, hl);
    hostport[hl] = '\0';
    char *colon = hostport[0] == '[' ? strstr(hostport, "]:") : strrchr(hostport, ':');
    if (colon && hostport[0] == '[')
        colon++;
    if (colon) {
        *colon = '\0';
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || end == colon + 1 || p < 1 || p > 65535)
            return false;
        snprintf(hb->port, sizeof hb->port, "%ld", p);
    } else {
        snprintf(hb->port, sizeof hb->port, "80");
    }
    const char *host = hostport;
    size_t n = strlen(host);
    if (host[0] == '[') { /* [v6] */
        if (n < 3 || host[n - 1] != ']')
            return false;
        host++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof hb->host)
        return false;
    memcpy(hb->host, host, n);
    hb->host[n] = '\0';
    snprintf(hb->path, sizeof hb->path, "%s", slash ? slash : "");
    size_t pl = strlen(hb->path);
    while (pl && hb->path[pl - 1] == '/')
        hb->path[--pl] = '\0';
    snprintf(hb->url, sizeof hb->url, "%s", url);
    return true;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for events until deadline (monotonic ms). */
static bool wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return true;
        if (n < 0 && errno != EINTR)
            return false;
    }
}

/* One POST with Connection: close, all within timeout_ms. Returns the HTTP
 * status, or 0 with why filled for a transport failure. body_out gets the
 * start of the response body (for messages). */
static int http_post(const signal_target *hb, const char *route, const char *auth, const char *body,
                     size_t body_len, unsigned timeout_ms, char *why, size_t why_cap, char *body_out,
                     size_t body_cap)
{
    int64_t deadline = mono_ms() + timeout_ms;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int g = getaddrinfo(hb->host, hb->port, &hints, &ai);
    if (g != 0) {
        snprintf(why, why_cap, "cannot resolve %s: %s", hb->host, gai_strerror(g));
        return 0;
    }
    int fd = -1, status = 0;
    snprintf(why, why_cap, "cannot connect to %s:%s", hb->host, hb->port);
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 &&
            (errno != EINPROGRESS || !wait_fd(fd, POLLOUT, deadline))) {
            snprintf(why, why_cap, "cannot connect to %s:%s: %s", hb->host, hb->port,
                     errno == EINPROGRESS ? "timed out" : strerror(errno));
            close(fd);
            fd = -1;
            continue;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr) {
            snprintf(why, why_cap, "cannot connect to %s:%s: %s", hb->host, hb->port,
                     strerror(soerr));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return 0;
    char head[1024];
    int hn = snprintf(head, sizeof head,
                      "POST %s%s HTTP/1.1\r\nHost: %s:%s\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Authorization: %s\r\nConnection: close\r\n\r\n",
                      hb->path, route, hb->host, hb->port, body_len, auth);
    struct {
        const char *p;
        size_t n;
    } parts[2] = {{head, (size_t)hn}, {body, body_len}};
    for (int i = 0; i < 2; i++) {
        size_t off = 0;
        while (off < parts[i].n) {
            ssize_t w = send(fd, parts[i].p + off, parts[i].n - off, MSG_NOSIGNAL);
            if (w > 0) {
                off += (size_t)w;
            } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (!wait_fd(fd, POLLOUT, deadline)) {
                    snprintf(why, why_cap, "sending to %s:%s timed out", hb->host, hb->port);
                    goto out;
                }
            } else {
                snprintf(why, why_cap, "sending to %s:%s: %s", hb->host, hb->port,
                         strerror(errno));
                goto out;
            }
        }
    }
    char resp[4096];
    size_t got = 0;
    for (;;) {
        if (got == sizeof resp - 1)
            break; /* the status line and the start of the body are enough */
        ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (r > 0) {
            got += (size_t)r;
        } else if (r == 0) {
            break;
        } else if (errno == EAGAIN || errno == EINTR) {
            if (!wait_fd(fd, POLLIN, deadline)) {
                snprintf(why, why_cap, "no answer from %s:%s in time", hb->host, hb->port);
                goto out;
            }
        } else {
            snprintf(why, why_cap, "reading from %s:%s: %s", hb->host, hb->port,
                     strerror(errno));
            goto out;
        }
    }
    resp[got] = '\0';
    int code = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1 || code < 100 || code > 599) {
        snprintf(why, why_cap, "%s:%s did not answer HTTP", hb->host, hb->port);
        goto out;
    }
    status = code;
    const char *b = strstr(resp, "\r\n\r\n");
    snprintf(body_out, body_cap, "%s", b ? b + 4 : "");
out:
    close(fd);
    return status;
}

/* Logs a heartbeat outcome at URL i only when it differs from the last
 * one there, so a signaling outage is one line (and its end another), not
 * one per beat. */
static void hb_state(heartbeat *hb, size_t i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void hb_state(heartbeat *hb, size_t i, const char *fmt, ...)
{
    signal_target *t = &hb->targets[i];
    char text[sizeof t->last_state];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (strcmp(text, t->last_state) == 0)
        return;
    snprintf(t->last_state, sizeof t->last_state, "%s", text);
    fprintf(stderr, "tandem-relay: heartbeat to %s: %s\n", t->url, text);
}

/* A signature for body with a timestamp newer than every earlier one. */
static tdm_status hb_sign_fresh(heartbeat *hb, const char *body, size_t len,
                                char auth[TDM_HB_AUTH_CAP], tdm_error *e)
{
    int64_t ts = wall_ms();
    if (ts <= hb->sig_last_ts)
        ts = hb->sig_last_ts + 1;
    tdm_status st = tdm_hb_sign(hb->secret, hb->secret_len, ts, (const uint8_t *)body, len, auth, e);
    if (st == TDM_OK)
        hb->sig_last_ts = ts;
    return st;
}

/* POSTs body to route at the first tandem-signal instance that answers
 * (tdm_hb_targets.h: a transport failure or 5xx moves on to the next URL
 * at once), each attempt signed afresh, all within budget_ms. Returns the
 * last attempt's HTTP status (0: no instance answered; why says what the
 * last one did) and its reply; *which gets the URL that gave it. With
 * beat, each attempt's outcome is logged per URL (hb_state). Signing
 * fails only on a bug (a body the relay built itself): status -1. */
static int hb_post(heartbeat *hb, const char *route, const char *body, size_t len,
                   unsigned budget_ms, bool beat, char *why, size_t why_cap, char *reply,
                   size_t reply_cap, size_t *which)
{
    int64_t start = mono_ms(), deadline = start + budget_ms;
    size_t order[TDM_HB_TARGETS_MAX];
    size_t n = tdm_hb_targets_order(&hb->sel, start, order);
    int status = 0;
    char failed[400] = ""; /* the attempt before the one that answered */
    snprintf(why, why_cap, "no time left");
    *which = order[0];
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        unsigned ms = tdm_hb_targets_attempt_ms(deadline - mono_ms(), n - k);
        if (ms == 0)
            break;
        char auth[TDM_HB_AUTH_CAP];
        tdm_error e = {{0}};
        if (hb_sign_fresh(hb, body, len, auth, &e) != TDM_OK) {
            snprintf(why, why_cap, "cannot sign: %s", e.msg);
            return -1;
        }
        why[0] = reply[0] = '\0';
        status = http_post(&hb->targets[i], route, auth, body, len, ms, why, why_cap, reply,
                           reply_cap);
        *which = i;
        if (beat) {
            if (status == 200)
                hb_state(hb, i, "ok, registered as %s%s", hb->report.id,
                         hb->report.draining ? " (draining)" : "");
            else if (status)
                hb_state(hb, i, "refused with HTTP %d %s", status, reply);
            else
                hb_state(hb, i, "failed: %s", why);
        }
        if (!tdm_hb_targets_move_on(status)) {
            if (tdm_hb_targets_answered(&hb->sel, i, mono_ms()) && hb->sel.n > 1)
                fprintf(stderr, "tandem-relay: now talking to tandem-signal at %s%s%s%s\n",
                        hb->targets[i].url, failed[0] ? " (" : "", failed,
                        failed[0] ? ")" : "");
            return status;
        }
        if (status)
            snprintf(failed, sizeof failed, "%.300s answered HTTP %d", hb->targets[i].url, status);
        else
            snprintf(failed, sizeof failed, "%.200s: %.190s", hb->targets[i].url, why);
    }
    return status;
}

/* One heartbeat: load, body, signature, POST. Never fatal. */
static void hb_beat(heartbeat *hb, tdm_hb_load *prev, int64_t *prev_ms, bool draining,
                    unsigned timeout_ms)
{
    tdm_hb_load load = {0};
    if (hb->relay) {
        tdm_relay_load_info li;
        if (tdm_relay_load(hb->relay, &li) == TDM_OK) {
            load.sessions = li.sessions;
            load.endpoints = li.endpoints;
            load.packets_in_total = li.packets_in;
            load.packets_out_total = li.packets_out;
            load.cpu_seconds_total = li.cpu_seconds;
        }
        load.workers = (uint32_t)li.workers;
    }
    int64_t now = mono_ms();
    tdm_hb_load_rates(&load, *prev_ms ? prev : NULL, (double)(now - *prev_ms) / 1000.0);
    *prev = load;
    *prev_ms = now;
    hb->report.load = load;
    hb->report.draining = draining;
    char body[TDM_HB_BODY_CAP];
    size_t len = 0;
    tdm_error e = {{0}};
    if (tdm_hb_body_format(&hb->report, body, sizeof body, &len, &e) != TDM_OK) {
        hb_state(hb, hb->sel.current, "cannot build: %s", e.msg);
        return;
    }
    char why[300] = "", reply[200] = "";
    size_t which;
    if (hb_post(hb, "/api/v1/relays/heartbeat", body, len, timeout_ms, true, why, sizeof why,
                reply, sizeof reply, &which) < 0)
        hb_state(hb, which, "%s", why);
}

/* Delivers the relay's recording events to signaling's audit log
 * (API.md "Relay recording events"), signed like heartbeats, one POST
 * each, oldest first, to the first instance that answers (hb_post). No
 * answer from any, 401 (a skewed clock) or 5xx keeps the event and the
 * rest for the next beat; any other refusal (an
 * unknown session: 404) is final for that event and logged. */
static void hb_recording_events(heartbeat *hb, unsigned timeout_ms)
{
    if (!hb->relay)
        return;
    tdm_relay_rec_event fresh[TDM_RELAY_REC_EVENTS_MAX];
    uint64_t lost = 0;
    size_t n = tdm_relay_take_recording_events(hb->relay, fresh, TDM_RELAY_REC_EVENTS_MAX, &lost);
    for (size_t i = 0; i < n; i++) {
        if (hb->n_pending == TDM_RELAY_REC_EVENTS_MAX) {
            memmove(hb->pending, hb->pending + 1, (hb->n_pending - 1) * sizeof hb->pending[0]);
            hb->n_pending--;
            lost++;
        }
        hb->pending[hb->n_pending++] = fresh[i];
    }
    if (lost) {
        hb->rec_dropped += lost;
        fprintf(stderr,
                "tandem-relay: %" PRIu64 " recording event(s) dropped undelivered (queue full, "
                "%" PRIu64 " so far): the audit log misses them\n",
                lost, hb->rec_dropped);
    }
    size_t done = 0;
    for (; done < hb->n_pending; done++) {
        unsigned post_ms = timeout_ms;
        if (hb->rec_deadline_ms) {
            int64_t left = hb->rec_deadline_ms - mono_ms();
            if (left <= 0)
                break;
            if (left < (int64_t)post_ms)
                post_ms = (unsigned)left;
        }
        const tdm_relay_rec_event *ev = &hb->pending[done];
        bool stopped = ev->kind == TDM_RELAY_REC_STOPPED;
        char body[1024];
        int bn = snprintf(body, sizeof body,
                          "{\"relay\":\"%s\",\"session\":\"%s\",\"event\":\"%s\","
                          "\"file\":\"%s\",\"hash\":%s%s%s,\"packets\":%" PRIu64
                          ",\"dropped\":%" PRIu64 ",\"ts\":%" PRId64 "}",
                          hb->report.id, ev->session, stopped ? "stopped" : "started", ev->file,
                          stopped ? "\"" : "", stopped ? ev->sha256 : "null", stopped ? "\"" : "",
                          ev->packets, ev->dropped, ev->ts_ms);
        char why[300] = "", reply[200] = "";
        size_t which;
        int status = bn < 0 || (size_t)bn >= sizeof body
                         ? -1
                         : hb_post(hb, "/api/v1/relays/recording", body, (size_t)bn, post_ms,
                                   false, why, sizeof why, reply, sizeof reply, &which);
        if (status < 0) {
            /* Session ids and file names are the relay's own [A-Za-z0-9_.-]
             * text, so this is a bug, not a condition to retry. */
            fprintf(stderr, "tandem-relay: recording event for %s not sent: %s\n", ev->session,
                    bn >= 0 && (size_t)bn < sizeof body ? why : "body too long");
            continue;
        }
        if (status == 200)
            continue;
        if (status == 0 || status == 401 || status >= 500) {
            fprintf(stderr,
                    "tandem-relay: recording event %s of %s not delivered (%s), retried "
                    "with the next beat\n",
                    stopped ? "stopped" : "started", ev->session, status ? reply : why);
            break;
        }
        fprintf(stderr, "tandem-relay: recording event %s of %s refused with HTTP %d %s\n",
                stopped ? "stopped" : "started", ev->session, status, reply);
    }
    memmove(hb->pending, hb->pending + done, (hb->n_pending - done) * sizeof hb->pending[0]);
    hb->n_pending -= done;
}

/* POST /api/v1/relays/gone, signed like a heartbeat: signaling moves
 * the sessions still placed here to another relay now, instead of after
 * the registry's TTL. Best effort. */
static void hb_gone(heartbeat *hb, unsigned timeout_ms)
{
    char body[TDM_HB_ID_MAX + 16];
    int n = snprintf(body, sizeof body, "{\"id\":\"%s\"}", hb->report.id);
    if (n < 0 || (size_t)n >= sizeof body)
        return;
    char why[300] = "", reply[200] = "";
    size_t which;
    int status = hb_post(hb, "/api/v1/relays/gone", body, (size_t)n, timeout_ms, false, why,
                         sizeof why, reply, sizeof reply, &which);
    if (status != 200)
        fprintf(stderr, "tandem-relay: telling %s this relay is gone: %s%s\n",
                hb->targets[which].url, status > 0 ? "refused: " : "", status > 0 ? reply : why);
}

static void *hb_thread(void *arg)
{
    heartbeat *hb = arg;
    tdm_hb_load prev = {0};
    int64_t prev_ms = 0;
    /* A beat never outlasts the interval, so a dead signaling service
     * cannot pile beats up. */
    unsigned timeout_ms = hb->interval_s * 1000 < 5000 ? hb->interval_s * 1000 : 5000;
    pthread_mutex_lock(&hb->mu);
    while (!hb->stop) {
        pthread_mutex_unlock(&hb->mu);
        hb_beat(hb, &prev, &prev_ms, atomic_load(&hb->draining), timeout_ms);
        hb_recording_events(hb, timeout_ms);
        pthread_mutex_lock(&hb->mu);
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += hb->interval_s;
        while (!hb->stop && !hb->wake)
            if (pthread_cond_timedwait(&hb->cv, &hb->mu, &until) == ETIMEDOUT)
                break;
        hb->wake = false;
    }
    pthread_mutex_unlock(&hb->mu);
    /* Leaving: say so at once, so no session is placed here in the TTL
     * before the registry would notice the silence. Best effort. */
    hb_beat(hb, &prev, &prev_ms, true, 1000);
    hb_recording_events(hb, 1000);
    hb_gone(hb, 1000);
    return NULL;
}

/* Shutdown, on the main thread once the heartbeat thread has been joined
 * and the relay stopped (which closed every open recording and queued its
 * stop event with the file's final hash): delivers what is pending within
 * budget_ms in all, retrying transient failures, so that stopping the
 * relay does not cost the audit log its recording_stopped entries, and a
 * dead signaling service delays the exit by at most the budget. */
static void hb_flush_recording_events(heartbeat *hb, unsigned budget_ms)
{
    hb->rec_deadline_ms = mono_ms() + budget_ms;
    for (;;) {
        hb_recording_events(hb, 1000);
        int64_t left = hb->rec_deadline_ms - mono_ms();
        if (hb->n_pending == 0 || left <= 0)
            break;
        struct timespec pause = {.tv_nsec = (left < 200 ? left : 200) * 1000000L};
        nanosleep(&pause, NULL);
    }
    if (hb->n_pending)
        fprintf(stderr, "tandem-relay: %zu recording event(s) not delivered before stopping: the "
                        "audit log misses them\n",
                hb->n_pending);
}

static tdm_status hb_start(heartbeat *hb)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hb->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&hb->mu, NULL);
    /* Stop and drain signals must land on the main thread (its poll()). */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    int rc = pthread_create(&hb->thread, NULL, hb_thread, hb);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&hb->cv);
        pthread_mutex_destroy(&hb->mu);
        return TDM_ERR_UNAVAILABLE;
    }
    return TDM_OK;
}

static void hb_wake(heartbeat *hb, bool stop)
{
    pthread_mutex_lock(&hb->mu);
    hb->wake = true;
    if (stop)
        hb->stop = true;
    pthread_cond_signal(&hb->cv);
    pthread_mutex_unlock(&hb->mu);
}

static void hb_stop(heartbeat *hb)
{
    hb_wake(hb, true);
    pthread_join(hb->thread, NULL);
    pthread_cond_destroy(&hb->cv);
    pthread_mutex_destroy(&hb->mu);
}

static void free_hb(heartbeat *hb)
{
    if (hb) {
        memset(hb->secret, 0, sizeof hb->secret);
        free(hb);
    }
}

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t drain_toggle_requested;
static volatile sig_atomic_t term_requested; /* SIGTERM: drain, then leave */

static void on_stop_signal(int sig)
{
    /* The first SIGTERM drains; a second one, or SIGINT, stops now. */
    if (sig == SIGTERM && !term_requested)
        term_requested = 1;
    else
        stop_requested = 1;
}

static void on_drain_signal(int sig)
{
    (void)sig;
    drain_toggle_requested = 1;
}

/* "ADDR:PORT" or "[V6]:PORT" into addr (brackets removed) and port. */
/* While draining after SIGTERM the main loop must look at its sessions and
 * deadline often, but lws's wait ends only on traffic or a signal: this
 * thread wakes it five times a second until told to stop. */
typedef struct drain_waker {
    tdm_http_server *http;
    atomic_bool stop;
    pthread_t thread;
    bool started;
} drain_waker;

static void *drain_waker_main(void *arg)
{
    drain_waker *w = arg;
    while (!atomic_load(&w->stop)) {
        struct timespec pause = {.tv_nsec = 200 * 1000000L};
        nanosleep(&pause, NULL);
        tdm_http_cancel(w->http);
    }
    return NULL;
}

static void drain_waker_start(drain_waker *w, tdm_http_server *http)
{
    w->http = http;
    atomic_init(&w->stop, false);
    sigset_t set, old;
    sigfillset(&set); /* signals stay with the main thread */
    pthread_sigmask(SIG_BLOCK, &set, &old);
    w->started = pthread_create(&w->thread, NULL, drain_waker_main, w) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void drain_waker_stop(drain_waker *w)
{
    if (!w->started)
        return;
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    w->started = false;
}

static bool parse_listen(const char *s, char *addr, size_t cap, uint16_t *port)
{
    const char *colon;
    const char *a = s;
    size_t alen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return false;
        a = s + 1;
        alen = (size_t)(close - a);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return false;
        alen = (size_t)(colon - s);
    }
    if (alen == 0 || alen >= cap)
        return false;
    memcpy(addr, a, alen);
    addr[alen] = '\0';
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535)
        return false;
    *port = (uint16_t)p;
    return true;
}

static int cmd_serve(int argc, char **argv)
{
    enum {
        O_NO_MEDIA = 256,
        O_CORS,
        O_NO_CORS,
        O_ICE,
        O_WORKERS,
        O_ICE_TCP,
        O_CONSENT,
        O_SIGNAL_URL,
        O_CLUSTER_SECRET,
        O_PUBLIC_URL,
        O_HB_INTERVAL,
        O_DRAIN,
        O_RECORD_DIR,
        O_REC_KEY,
        O_REVOKE_TTL,
        O_DRAIN_DEADLINE
    };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"node-id", required_argument, NULL, 'n'},
        {"secret-file", required_argument, NULL, 's'},
        {"no-media", no_argument, NULL, O_NO_MEDIA},
        {"local-address", required_argument, NULL, 'a'},
        {"cors-origin", required_argument, NULL, O_CORS},
        {"no-cors", no_argument, NULL, O_NO_CORS},
        {"ice-server", required_argument, NULL, O_ICE},
        {"workers", required_argument, NULL, O_WORKERS},
        {"ice-tcp", no_argument, NULL, O_ICE_TCP},
        {"consent-timeout", required_argument, NULL, O_CONSENT},
        {"signal-url", required_argument, NULL, O_SIGNAL_URL},
        {"cluster-secret-file", required_argument, NULL, O_CLUSTER_SECRET},
        {"public-url", required_argument, NULL, O_PUBLIC_URL},
        {"heartbeat-interval", required_argument, NULL, O_HB_INTERVAL},
        {"drain", no_argument, NULL, O_DRAIN},
        {"drain-deadline", required_argument, NULL, O_DRAIN_DEADLINE},
        {"record-dir", required_argument, NULL, O_RECORD_DIR},
        {"recording-key-file", required_argument, NULL, O_REC_KEY},
        {"revocation-ttl", required_argument, NULL, O_REVOKE_TTL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char addr[64] = DEFAULT_ADDRESS;
    uint16_t port = DEFAULT_PORT;
    const char *node = NULL, *secret_file = NULL, *cors = "*";
    bool no_media = false, drain = false;
    const char *signal_urls[TDM_HB_TARGETS_MAX];
    size_t n_signal_urls = 0;
    const char *cluster_secret_file = NULL, *public_url = NULL;
    const char *record_dir = NULL, *rec_key_file = NULL;
    unsigned hb_interval = DEFAULT_HB_INTERVAL;
    unsigned drain_deadline = DEFAULT_DRAIN_DEADLINE;
    int64_t revocation_ttl = 0; /* 0: TDM_WHIP_REVOCATION_TTL_S */
    tdm_relay_config rcfg;
    memset(&rcfg, 0, sizeof rcfg);
    tdm_whip_ice_server ice[TDM_WHIP_MAX_ICE_SERVERS];
    size_t n_ice = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":l:n:s:a:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (!parse_listen(optarg, addr, sizeof addr, &port))
                return bad_usage("serve", "--listen wants ADDR:PORT or [ADDR]:PORT, got '%s'",
                                 optarg);
            break;
        case 'n':
            node = optarg;
            break;
        case 's':
            secret_file = optarg;
            break;
        case O_NO_MEDIA:
            no_media = true;
            break;
        case 'a':
            if (rcfg.n_local_addresses == TDM_ICE_MAX_LOCAL_ADDRESSES)
                return bad_usage("serve", "at most %d --local-address options",
                                 TDM_ICE_MAX_LOCAL_ADDRESSES);
            rcfg.local_addresses[rcfg.n_local_addresses++] = optarg;
            break;
        case O_CORS:
            cors = optarg;
            break;
        case O_NO_CORS:
            cors = NULL;
            break;
        case O_ICE:
            if (n_ice == TDM_WHIP_MAX_ICE_SERVERS)
                return bad_usage("serve", "at most %d --ice-server options",
                                 TDM_WHIP_MAX_ICE_SERVERS);
            if (strncmp(optarg, "stun:", 5) != 0 && strncmp(optarg, "stuns:", 6) != 0 &&
                strncmp(optarg, "turn:", 5) != 0 && strncmp(optarg, "turns:", 6) != 0)
                return bad_usage("serve", "--ice-server wants a stun:, stuns:, turn: or turns: "
                                          "URL, got '%s'",
                                 optarg);
            ice[n_ice++] = (tdm_whip_ice_server){optarg, NULL, NULL};
            break;
        case O_WORKERS: {
            char *end = NULL;
            errno = 0;
            unsigned long n = strtoul(optarg, &end, 10);
            if (errno || !end || *end || optarg[0] == '-' || n < 1 || n > TDM_RELAY_MAX_WORKERS)
                return bad_usage("serve", "--workers wants a number from 1 to %d, got '%s'",
                                 TDM_RELAY_MAX_WORKERS, optarg);
            rcfg.workers = (size_t)n;
            break;
        }
        case O_CONSENT: {
            char *end = NULL;
            errno = 0;
            unsigned long secs = strtoul(optarg, &end, 10);
            if (errno || !end || *end || optarg[0] == '-' || secs < 1 || secs > 3600)
                return bad_usage("serve", "--consent-timeout wants seconds from 1 to 3600, got '%s'",
                                 optarg);
            rcfg.consent_timeout_ms = (uint32_t)(secs * 1000u);
            break;
        }
        case O_ICE_TCP:
            rcfg.ice_tcp = true;
            break;
        case O_SIGNAL_URL:
            if (n_signal_urls == TDM_HB_TARGETS_MAX)
                return bad_usage("serve", "at most %d --signal-url options", TDM_HB_TARGETS_MAX);
            signal_urls[n_signal_urls++] = optarg;
            break;
        case O_CLUSTER_SECRET:
            cluster_secret_file = optarg;
            break;
        case O_PUBLIC_URL:
            public_url = optarg;
            break;
        case O_DRAIN:
            drain = true;
            break;
        case O_RECORD_DIR:
            record_dir = optarg;
            break;
        case O_REC_KEY:
            rec_key_file = optarg;
            break;
        case O_REVOKE_TTL: {
            char *end = NULL;
            errno = 0;
            unsigned long secs = strtoul(optarg, &end, 10);
            if (errno || !end || *end || optarg[0] == '-' || secs < 1 || secs > 86400)
                return bad_usage("serve",
                                 "--revocation-ttl wants seconds from 1 to 86400, got '%s'",
                                 optarg);
            revocation_ttl = (int64_t)secs;
            break;
        }
        case O_DRAIN_DEADLINE: {
            char *end = NULL;
            errno = 0;
            unsigned long secs = strtoul(optarg, &end, 10);
            if (errno || !end || *end || optarg[0] == '-' || secs > 86400)
                return bad_usage("serve", "--drain-deadline wants seconds from 0 to 86400, got '%s'",
                                 optarg);
            drain_deadline = (unsigned)secs;
            break;
        }
        case O_HB_INTERVAL: {
            char *end = NULL;
            errno = 0;
            unsigned long secs = strtoul(optarg, &end, 10);
            if (errno || !end || *end || optarg[0] == '-' || secs < 1 || secs > 300)
                return bad_usage("serve",
                                 "--heartbeat-interval wants seconds from 1 to 300, got '%s'",
                                 optarg);
            hb_interval = (unsigned)secs;
            break;
        }
        case 'h':
            usage_serve(stdout);
            return 0;
        case ':':
            return bad_usage("serve", "option '%s' needs a value", argv[optind - 1]);
        default:
            return bad_usage("serve", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage("serve", "unexpected argument '%s'", argv[optind]);
    if (!node)
        return bad_usage("serve", "--node-id is required");
    if (!secret_file)
        return bad_usage("serve", "--secret-file is required");
    if (!no_media && rcfg.n_local_addresses == 0)
        return bad_usage("serve", "the media plane needs --local-address: ICE must not "
                                  "gather on every interface, so name the address(es) "
                                  "clients reach this relay on (or run with --no-media)");
    if (no_media && rcfg.n_local_addresses > 0)
        return bad_usage("serve", "--local-address and --no-media exclude each other");
    heartbeat *hb = NULL;
    if (n_signal_urls) {
        if (!cluster_secret_file)
            return bad_usage("serve", "--signal-url needs --cluster-secret-file");
        if (!public_url)
            return bad_usage("serve", "--signal-url needs --public-url (the base URL clients "
                                      "reach this relay at)");
        if (!tdm_hb_url_ok(public_url))
            return bad_usage("serve", "--public-url wants an http:// or https:// URL, got '%s'",
                             public_url);
        if (!tdm_hb_id_ok(node))
            return bad_usage("serve", "--node-id wants 1..%d characters of [A-Za-z0-9._~:-]",
                             TDM_HB_ID_MAX);
        hb = calloc(1, sizeof *hb);
        if (!hb) {
            fprintf(stderr, "tandem-relay: out of memory\n");
            return 1;
        }
        for (size_t i = 0; i < n_signal_urls; i++) {
            if (!parse_signal_url(signal_urls[i], &hb->targets[i])) {
                free(hb);
                return bad_usage("serve",
                                 "--signal-url wants http://HOST[:PORT][/PATH], got '%s'",
                                 signal_urls[i]);
            }
        }
        tdm_hb_targets_init(&hb->sel, n_signal_urls);
        snprintf(hb->report.id, sizeof hb->report.id, "%s", node);
        snprintf(hb->report.node, sizeof hb->report.node, "%s", node);
        snprintf(hb->report.url, sizeof hb->report.url, "%s", public_url);
        hb->interval_s = hb_interval;
        atomic_init(&hb->draining, drain);
        if (read_secret_min(cluster_secret_file, hb->secret, &hb->secret_len,
                            TDM_HB_SECRET_MIN)) {
            free(hb);
            return 1;
        }
    } else if (public_url || drain) {
        return bad_usage("serve", "--public-url and --drain go with --signal-url");
    }
    /* The admin route's copy of the cluster secret (the heartbeat keeps its
     * own: it lives on another thread and may be absent). */
    static admin_auth admin;
    bool admin_on = false;
    if (cluster_secret_file) {
        if (read_secret_min(cluster_secret_file, admin.secret, &admin.secret_len,
                            TDM_HB_SECRET_MIN)) {
            free_hb(hb);
            return 1;
        }
        admin_on = true;
    }

    if (!record_dir != !rec_key_file) {
        free_hb(hb);
        return bad_usage("serve", record_dir ? "--record-dir needs --recording-key-file"
                                             : "--recording-key-file goes with --record-dir");
    }
    if (record_dir && no_media) {
        free_hb(hb);
        return bad_usage("serve", "--record-dir needs the media plane (not --no-media)");
    }
    if (record_dir) {
        struct stat st;
        if (stat(record_dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(record_dir, W_OK) != 0) {
            fprintf(stderr, "tandem-relay: --record-dir '%s' is not a writable directory\n",
                    record_dir);
            free_hb(hb);
            return 1;
        }
        if (read_recording_key(rec_key_file, rcfg.recording_master_key)) {
            free_hb(hb);
            return 1;
        }
        rcfg.record_dir = record_dir;
    }

    uint8_t secret[SECRET_FILE_MAX + 1];
    size_t secret_len = 0;
    if (read_secret(secret_file, secret, &secret_len)) {
        free_hb(hb);
        return 1;
    }
    tdm_whip_config wcfg = {
        .secret = secret,
        .secret_len = secret_len,
        .node_id = node,
        .cors_origin = cors,
        .ice_servers = ice,
        .n_ice_servers = n_ice,
        .admin_verify = admin_on ? admin_verify : NULL,
        .revocation_ttl_s = revocation_ttl,
        .admin_ctx = admin_on ? &admin : NULL,
    };
    tdm_whip_backend backend = {
        .create_endpoint = nomedia_create,
        .lookup_endpoint = nomedia_lookup,
        .patch_endpoint = nomedia_patch,
        .delete_endpoint = nomedia_delete,
        .write_metrics = nomedia_metrics,
    };
    tdm_error e = {{0}};
    tdm_status st;
    tdm_relay *relay = NULL;
    if (!no_media) {
        st = tdm_relay_new(&rcfg, &relay, &e);
        if (st != TDM_OK) {
            memset(secret, 0, sizeof secret);
            free_hb(hb);
            if (st == TDM_ERR_INVALID)
                return bad_usage("serve", "%s", e.msg);
            fprintf(stderr, "tandem-relay: %s\n", e.msg);
            return 1;
        }
        tdm_relay_backend(relay, &backend);
    }
    tdm_whip *whip = NULL;
    st = tdm_whip_new(&wcfg, &backend, &whip, &e);
    memset(secret, 0, sizeof secret); /* tdm_whip keeps its own copy */
    if (st != TDM_OK) {
        /* Bad node id, origin or ICE URL: what the user typed. */
        tdm_relay_free(relay);
        free_hb(hb);
        if (st == TDM_ERR_INVALID)
            return bad_usage("serve", "%s", e.msg);
        fprintf(stderr, "tandem-relay: %s\n", e.msg);
        return 1;
    }

    /* Without SA_RESTART, a signal ends lws's poll() with EINTR, so the
     * loop below sees the flag at once. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_drain_signal;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up is a write error, not a death */

    if (relay) {
        /* The media thread inherits a mask without SIGINT/SIGTERM, so the
         * signals land on this thread and interrupt lws's poll(). */
        sigset_t stop_set, old_set;
        sigemptyset(&stop_set);
        sigaddset(&stop_set, SIGINT);
        sigaddset(&stop_set, SIGTERM);
        sigaddset(&stop_set, SIGUSR1);
        pthread_sigmask(SIG_BLOCK, &stop_set, &old_set);
        st = tdm_relay_start(relay, &e);
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);
        if (st != TDM_OK) {
            fprintf(stderr, "tandem-relay: %s\n", e.msg);
            tdm_whip_free(whip);
            tdm_relay_free(relay);
            free_hb(hb);
            return 1;
        }
    }

    tdm_http_config hcfg = {.address = addr, .port = port};
    tdm_http_server *http = NULL;
    st = tdm_http_new(&hcfg, whip, &http, &e);
    if (st != TDM_OK) {
        fprintf(stderr, "tandem-relay: %s\n", e.msg);
        tdm_whip_free(whip);
        tdm_relay_free(relay);
        free_hb(hb);
        return st == TDM_ERR_INVALID ? 2 : 1;
    }
    bool v6 = strchr(addr, ':') != NULL;
    printf("tandem-relay: node %s listening on http://%s%s%s:%u%s\n", node, v6 ? "[" : "", addr,
           v6 ? "]" : "", tdm_http_port(http), no_media ? " (no media plane)" : "");
    fflush(stdout);

    /* Heartbeats start once the API listens: a relay is announced only when
     * clients can reach it. */
    if (hb) {
        hb->relay = relay;
        if (hb_start(hb) != TDM_OK) {
            fprintf(stderr, "tandem-relay: cannot start the heartbeat thread\n");
            tdm_http_free(http);
            tdm_whip_free(whip);
            tdm_relay_free(relay);
            free_hb(hb);
            return 1;
        }
    }

    int rc = 0;
    int64_t leave_at_ms = 0; /* draining after SIGTERM: exit by then */
    drain_waker waker = {0};
    while (!stop_requested) {
        if (term_requested && !hb)
            break; /* no signaling to steer: nothing to drain for */
        if (term_requested && !leave_at_ms) {
            leave_at_ms = mono_ms() + (int64_t)drain_deadline * 1000;
            drain_waker_start(&waker, http);
            fprintf(stderr,
                    "tandem-relay: SIGTERM: draining; exiting when the last session ends or in "
                    "%u s (SIGTERM again or SIGINT: now)\n",
                    drain_deadline);
            if (hb) {
                atomic_store(&hb->draining, true);
                hb_wake(hb, false);
            }
        }
        if (leave_at_ms) {
            tdm_relay_load_info li = {0};
            if (!relay || (tdm_relay_load(relay, &li) == TDM_OK && li.sessions == 0)) {
                fprintf(stderr, "tandem-relay: drained: no session left\n");
                break;
            }
            if (mono_ms() >= leave_at_ms) {
                fprintf(stderr, "tandem-relay: drain deadline passed with %llu session(s) left: "
                                "leaving (signaling moves them)\n",
                        (unsigned long long)li.sessions);
                break;
            }
        }
        if (drain_toggle_requested) {
            drain_toggle_requested = 0;
            if (hb) {
                bool d = !atomic_load(&hb->draining);
                atomic_store(&hb->draining, d);
                fprintf(stderr, "tandem-relay: %s (SIGUSR1)\n",
                        d ? "draining: no new sessions" : "draining ended");
                hb_wake(hb, false); /* tell signaling now, not at the next beat */
            }
        }
        if (tdm_http_service(http, leave_at_ms ? 200 : 1000) != TDM_OK) {
            fprintf(stderr, "tandem-relay: HTTP loop failed\n");
            rc = 1;
            break;
        }
    }
    drain_waker_stop(&waker);
    if (hb) {
        hb_stop(hb); /* before the relay stops: the heartbeat reads its load */
        /* Stopping the relay ends every session, which closes its
         * recording (drain, END, fsync) and queues recording_stopped with
         * the final hash; then those events go out before we exit. */
        tdm_relay_stop(relay);
        hb_flush_recording_events(hb, REC_FLUSH_BUDGET_MS);
        free_hb(hb);
    }
    tdm_http_free(http);
    tdm_whip_free(whip);
    memset(admin.secret, 0, sizeof admin.secret);
    tdm_relay_free(relay); /* closes every peer, then stops the media thread */
    if (stop_requested || term_requested) {
        fprintf(stderr, "tandem-relay: stopped\n");
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return bad_usage(NULL, "a command is needed (serve or token)");
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage_main(stdout);
        return 0;
    }
    /* getopt sees the command's own arguments, with the command as argv[0]. */
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "token") == 0)
        return cmd_token(argc - 1, argv + 1);
    return bad_usage(NULL, "unknown command '%s' (serve or token)", cmd);
}
