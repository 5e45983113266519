/* tandem-relay: the media plane's process. `serve` runs the WHIP/WHEP HTTP
 * API (relay/tdm_whip.h over relay/tdm_http.h) on the main thread and the
 * media plane (relay/tdm_relay.h: ICE, DTLS-SRTP, forwarding rooms) on its
 * own thread; `token` mints an access token from the shared secret,
 * standing in for the signaling service until it exists. With --no-media
 * only the API runs and creating an endpoint answers 503. */
#include <errno.h>
#include <getopt.h>
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
#include "tdm_token.h"
#include "tdm_whip.h"

#define DEFAULT_ADDRESS "127.0.0.1"
#define DEFAULT_PORT 8080
#define DEFAULT_TTL 600
#define MAX_TTL (7 * 24 * 3600)
#define SECRET_FILE_MAX 4096

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
            "  -h, --help               this text\n"
            "\n"
            "Prints 'listening on http://ADDR:PORT' once ready; SIGINT or SIGTERM stop it.\n"
            "Exit status: 0 after a signal, 1 on a runtime error (secret file, listen),\n"
            "2 on bad usage.\n",
            DEFAULT_PORT, TDM_TOKEN_SECRET_MIN, TDM_ICE_MAX_LOCAL_ADDRESSES,
            TDM_WHIP_MAX_ICE_SERVERS, TDM_RELAY_MAX_WORKERS);
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
static int read_secret(const char *path, uint8_t *out, size_t *out_len)
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
    if (n < TDM_TOKEN_SECRET_MIN) {
        fprintf(stderr,
                "tandem-relay: secret in '%s' is %zu bytes; at least %d are needed "
                "(e.g. openssl rand -hex 32 > '%s')\n",
                path, n, TDM_TOKEN_SECRET_MIN, path);
        return 1;
    }
    *out_len = n;
    return 0;
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

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* "ADDR:PORT" or "[V6]:PORT" into addr (brackets removed) and port. */
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
    enum { O_NO_MEDIA = 256, O_CORS, O_NO_CORS, O_ICE, O_WORKERS, O_ICE_TCP, O_CONSENT };
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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char addr[64] = DEFAULT_ADDRESS;
    uint16_t port = DEFAULT_PORT;
    const char *node = NULL, *secret_file = NULL, *cors = "*";
    bool no_media = false;
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

    uint8_t secret[SECRET_FILE_MAX + 1];
    size_t secret_len = 0;
    if (read_secret(secret_file, secret, &secret_len))
        return 1;
    tdm_whip_config wcfg = {
        .secret = secret,
        .secret_len = secret_len,
        .node_id = node,
        .cors_origin = cors,
        .ice_servers = ice,
        .n_ice_servers = n_ice,
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
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up is a write error, not a death */

    if (relay) {
        /* The media thread inherits a mask without SIGINT/SIGTERM, so the
         * signals land on this thread and interrupt lws's poll(). */
        sigset_t stop_set, old_set;
        sigemptyset(&stop_set);
        sigaddset(&stop_set, SIGINT);
        sigaddset(&stop_set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_set, &old_set);
        st = tdm_relay_start(relay, &e);
        pthread_sigmask(SIG_SETMASK, &old_set, NULL);
        if (st != TDM_OK) {
            fprintf(stderr, "tandem-relay: %s\n", e.msg);
            tdm_whip_free(whip);
            tdm_relay_free(relay);
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
        return st == TDM_ERR_INVALID ? 2 : 1;
    }
    bool v6 = strchr(addr, ':') != NULL;
    printf("tandem-relay: node %s listening on http://%s%s%s:%u%s\n", node, v6 ? "[" : "", addr,
           v6 ? "]" : "", tdm_http_port(http), no_media ? " (no media plane)" : "");
    fflush(stdout);

    int rc = 0;
    while (!stop_requested) {
        if (tdm_http_service(http, 1000) != TDM_OK) {
            fprintf(stderr, "tandem-relay: HTTP loop failed\n");
            rc = 1;
            break;
        }
    }
    tdm_http_free(http);
    tdm_whip_free(whip);
    tdm_relay_free(relay); /* closes every peer, then stops the media thread */
    if (stop_requested) {
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
