/* tandem-signal: the control plane's program.
 *
 * Commands: `serve` (the HTTP + WebSocket service over tdm_signal.h;
 * API in signaling/API.md), `user add` (accounts for reps, admins and
 * auditors) and `audit verify` (walks the audit hash chains).
 * Exit status: 0 success, 1 failure (including a broken audit chain),
 * 2 bad usage. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "tdm_sig_serve_config.h"
#include "tdm_sig_server.h"
#include "tdm_redis_conn.h"
#include "tdm_signal.h"

#ifndef TDM_SIG_SOURCE_WEB_ROOT
#define TDM_SIG_SOURCE_WEB_ROOT ""
#endif

static const char usage[] =
    "usage: tandem-signal COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  user add NAME --role rep|admin|auditor --db PATH|--redis URL\n"
    "           [--may-invite] [--invite-profiles NAME,NAME...]\n"
    "      Adds an account. The password is read from standard input (one\n"
    "      line), or prompted for twice without echo when standard input is a\n"
    "      terminal; it is never taken from the command line. --may-invite\n"
    "      lets a rep use Rep Invite with the listed profiles (built in:\n"
    "      view_only, pointer, control, full). The addition is audit-logged.\n"
    "  audit verify --db PATH|--redis URL [--session ID]\n"
    "      Walks the audit log's hash chains (one per session, plus 'system'\n"
    "      for accounts and logins), or only the given one. Exit 0 if intact;\n"
    "      exit 1 naming the first bad entry (edited, deleted or reordered).\n"
    "  serve --db PATH --config PATH [--listen ADDR:PORT] [--web-root DIR]\n"
    "  serve --redis URL --config PATH [--listen ADDR:PORT] [--web-root DIR]\n"
    "      Runs the HTTP + WebSocket service (signaling/API.md) until SIGINT or\n"
    "      SIGTERM. --listen defaults to 127.0.0.1:8443 (plain HTTP; an IPv6\n"
    "      address is written [::1]:8443; port 0 picks a free one, printed on\n"
    "      standard output as 'listening on ADDR:PORT'). --config is the JSON\n"
    "      file of relays, secrets (as file paths) and profiles (see\n"
    "      signaling/tdm_sig_serve_config.h). --web-root is the directory of\n"
    "      static pages; default: web/ next to the binary if it exists, else\n"
    "      the source tree's web/ (" TDM_SIG_SOURCE_WEB_ROOT ").\n"
    "      --redis redis://HOST[:PORT][/DB] (or \"redis\" in the config) runs\n"
    "      this instance as one of a cluster: accounts, sessions, invites,\n"
    "      the audit log and the relay registry live in that Redis, and\n"
    "      instances exchange session events over its pub/sub (API.md\n"
    "      \"Cluster\"). --db is then not used. 'user add' and 'audit verify'\n"
    "      take --redis URL to work on a cluster's store.\n"
    "  --help, help\n"
    "      This text.\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 bad usage.\n";

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tandem-signal: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'tandem-signal --help' for usage.\n");
    return 2;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one line without its newline; echo off when fd 0 is a terminal. */
static bool read_line(const char *prompt, bool tty, char *buf, size_t cap)
{
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "%s", prompt);
        tcgetattr(0, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(0, TCSAFLUSH, &quiet);
    }
    bool ok = fgets(buf, (int)cap, stdin) != NULL;
    if (tty) {
        tcsetattr(0, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (!ok)
        return false;
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (n == cap - 1 && !feof(stdin))
        return false; /* longer than the buffer: refuse rather than cut */
    if (n && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return true;
}

/* Every command takes --help (or -h) as well: people type it after the
 * command they want to know about. */
static bool is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static int help(void)
{
    fputs(usage, stdout);
    return 0;
}

static int cmd_user_add(int argc, char **argv)
{
    const char *name = NULL, *role = NULL, *db = NULL, *profiles = NULL;
    bool may_invite = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--role") == 0 || strcmp(a, "--db") == 0 || strcmp(a, "--redis") == 0 ||
            strcmp(a, "--invite-profiles") == 0) {
            if (i + 1 >= argc)
                return bad_usage("%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--role") == 0)
                role = v;
            else if (strcmp(a, "--db") == 0 || strcmp(a, "--redis") == 0)
                db = v; /* the store takes a redis:// URL as its path */
            else
                profiles = v;
        } else if (strcmp(a, "--may-invite") == 0) {
            may_invite = true;
        } else if (strcmp(a, "--password") == 0) {
            return bad_usage("%s: passwords are read from standard input, never from arguments", a);
        } else if (is_help(a)) {
            return help();
        } else if (a[0] == '-') {
            return bad_usage("unknown option '%s'", a);
        } else if (!name) {
            name = a;
        } else {
            return bad_usage("unexpected argument '%s'", a);
        }
    }
    if (!name)
        return bad_usage("%s", "user add needs a NAME");
    if (!role)
        return bad_usage("%s", "user add needs --role rep|admin|auditor");
    if (!db)
        return bad_usage("%s", "user add needs --db PATH or --redis URL");
    tdm_signal_new_user u = {.name = name, .may_invite = may_invite, .invite_profiles = profiles};
    if (!tdm_sig_role_parse(role, &u.role))
        return bad_usage("unknown role '%s' (rep, admin or auditor)", role);

    char pw[TDM_SIG_PASSWORD_MAX + 2], again[TDM_SIG_PASSWORD_MAX + 2];
    bool tty = isatty(0);
    if (!read_line("Password: ", tty, pw, sizeof pw)) {
        fprintf(stderr, "tandem-signal: no password on standard input (or longer than %d bytes)\n",
                TDM_SIG_PASSWORD_MAX);
        return 1;
    }
    if (tty) {
        if (!read_line("Again: ", tty, again, sizeof again) || strcmp(pw, again) != 0) {
            OPENSSL_cleanse(pw, sizeof pw);
            OPENSSL_cleanse(again, sizeof again);
            fprintf(stderr, "tandem-signal: the passwords differ\n");
            return 1;
        }
        OPENSSL_cleanse(again, sizeof again);
    }
    u.password = pw;
    u.password_len = strlen(pw);

    tdm_sig_store *store = NULL;
    tdm_error err = {{0}};
    if (tdm_sig_store_open(db, &store, &err) != TDM_OK) {
        OPENSSL_cleanse(pw, sizeof pw);
        fprintf(stderr, "tandem-signal: %s\n", err.msg);
        return 1;
    }
    tdm_signal_error serr;
    tdm_status st = tdm_signal_user_add(store, &u, now_ms(), &serr);
    OPENSSL_cleanse(pw, sizeof pw);
    tdm_sig_store_close(store);
    if (st != TDM_OK) {
        fprintf(stderr, "tandem-signal: user add: %s\n", serr.detail.msg);
        return 1;
    }
    printf("added %s '%s'%s%s\n", role, name, may_invite ? ", may invite with " : "",
           may_invite ? profiles : "");
    return 0;
}

static int cmd_audit_verify(int argc, char **argv)
{
    const char *db = NULL, *session = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--db") == 0 || strcmp(a, "--redis") == 0 || strcmp(a, "--session") == 0) {
            if (i + 1 >= argc)
                return bad_usage("%s needs a value", a);
            if (strcmp(a, "--db") == 0 || strcmp(a, "--redis") == 0)
                db = argv[++i];
            else
                session = argv[++i];
        } else if (is_help(a)) {
            return help();
        } else if (a[0] == '-') {
            return bad_usage("unknown option '%s'", a);
        } else {
            return bad_usage("unexpected argument '%s'", a);
        }
    }
    if (!db)
        return bad_usage("%s", "audit verify needs --db PATH or --redis URL");
    bool redis = strncmp(db, TDM_SIG_STORE_REDIS_SCHEME, sizeof TDM_SIG_STORE_REDIS_SCHEME - 1) == 0;
    /* Verifying must not create a database that was not there. */
    if (!redis && access(db, R_OK) != 0) {
        fprintf(stderr, "tandem-signal: cannot read %s: %s\n", db, strerror(errno));
        return 1;
    }
    tdm_sig_store *store = NULL;
    tdm_error err = {{0}};
    if (tdm_sig_store_open(db, &store, &err) != TDM_OK) {
        fprintf(stderr, "tandem-signal: %s\n", err.msg);
        return 1;
    }
    tdm_sig_audit_report rep;
    tdm_status st = tdm_sig_store_audit_verify(store, session, &rep, &err);
    tdm_sig_store_close(store);
    if (st != TDM_OK) {
        fprintf(stderr, "tandem-signal: audit verify: %s\n", err.msg);
        return 1;
    }
    if (!rep.intact) {
        printf("audit log BROKEN: %s\n", rep.problem);
        return 1;
    }
    printf("audit log intact: %zu chain%s, %zu entr%s\n", rep.chains, rep.chains == 1 ? "" : "s",
           rep.entries, rep.entries == 1 ? "y" : "ies");
    return 0;
}

static volatile sig_atomic_t stop_flag;
static tdm_sig_server *running;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
    tdm_sig_server_wake(running);
}

/* "127.0.0.1:8443" or "[::1]:8443" into an address and a port. */
static bool parse_listen(const char *text, char *addr, size_t cap, uint16_t *port)
{
    const char *colon;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':' || (size_t)(close - text - 1) >= cap)
            return false;
        memcpy(addr, text + 1, (size_t)(close - text - 1));
        addr[close - text - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon || (size_t)(colon - text) >= cap || colon == text)
            return false;
        memcpy(addr, text, (size_t)(colon - text));
        addr[colon - text] = '\0';
    }
    char *end;
    unsigned long v = strtoul(colon + 1, &end, 10);
    if (end == colon + 1 || *end || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* The default web root: web/ beside the binary (an installed layout), else
 * the source tree's. */
static const char *default_web_root(const char *argv0, char *buf, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int w = snprintf(buf, cap, "%s/web", exe);
            if (w > 0 && (size_t)w < cap && access(buf, R_OK | X_OK) == 0)
                return buf;
        }
    }
    (void)argv0;
    if (TDM_SIG_SOURCE_WEB_ROOT[0] && access(TDM_SIG_SOURCE_WEB_ROOT, R_OK | X_OK) == 0)
        return TDM_SIG_SOURCE_WEB_ROOT;
    return NULL;
}

static int cmd_serve(int argc, char **argv, const char *argv0)
{
    const char *listen = "127.0.0.1:8443", *db = NULL, *config = NULL, *web_root = NULL;
    const char *redis = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--listen") == 0 || strcmp(a, "--db") == 0 || strcmp(a, "--config") == 0 ||
            strcmp(a, "--web-root") == 0 || strcmp(a, "--redis") == 0) {
            if (i + 1 >= argc)
                return bad_usage("%s needs a value", a);
            const char *v = argv[++i];
            if (strcmp(a, "--listen") == 0)
                listen = v;
            else if (strcmp(a, "--db") == 0)
                db = v;
            else if (strcmp(a, "--config") == 0)
                config = v;
            else if (strcmp(a, "--redis") == 0)
                redis = v;
            else
                web_root = v;
        } else if (is_help(a)) {
            return help();
        } else if (a[0] == '-') {
            return bad_usage("unknown option '%s'", a);
        } else {
            return bad_usage("unexpected argument '%s'", a);
        }
    }
    /* Without --config there is no "redis" key either: --db or --redis. */
    if (!db && !redis && !config)
        return bad_usage("%s", "serve needs --db PATH (or --redis URL)");
    if (!config)
        return bad_usage("%s", "serve needs --config PATH");
    if (redis) {
        tdm_redis_addr ra;
        tdm_error uerr = {{0}};
        if (tdm_redis_url_parse(redis, &ra, &uerr) != TDM_OK)
            return bad_usage("--redis '%s': %s", redis, uerr.msg);
        if (strlen(redis) >= TDM_SIG_URL_MAX)
            return bad_usage("%s", "--redis: URL too long");
    }
    char addr[64];
    uint16_t port;
    if (!parse_listen(listen, addr, sizeof addr, &port))
        return bad_usage("--listen '%s': expected ADDR:PORT (e.g. 127.0.0.1:8443)", listen);
    char wr[PATH_MAX];
    if (!web_root)
        web_root = default_web_root(argv0, wr, sizeof wr);

    tdm_sig_serve_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        fprintf(stderr, "tandem-signal: out of memory\n");
        return 1;
    }
    tdm_error err = {{0}};
    if (tdm_sig_serve_config_load(config, cfg, &err) != TDM_OK) {
        fprintf(stderr, "tandem-signal: %s\n", err.msg);
        free(cfg);
        return 1;
    }
    if (redis)
        snprintf(cfg->redis_url, sizeof cfg->redis_url, "%s", redis);
    if (cfg->redis_url[0] && db) {
        tdm_sig_serve_config_wipe(cfg);
        free(cfg);
        return bad_usage("%s", "serve: --db and --redis exclude each other (a cluster's state "
                               "lives in Redis)");
    }
    if (!cfg->redis_url[0] && !db) {
        tdm_sig_serve_config_wipe(cfg);
        free(cfg);
        return bad_usage("%s", "serve needs --db PATH (or --redis URL)");
    }
    /* In a cluster the store is the Redis one (tdm_sig_store.h). */
    cfg->core.db_path = cfg->redis_url[0] ? cfg->redis_url : db;
    tdm_signal *sig = NULL;
    tdm_sig_server *srv = NULL;
    int rc = 1;
    if (tdm_signal_new(&cfg->core, &sig, &err) != TDM_OK) {
        fprintf(stderr, "tandem-signal: %s\n", err.msg);
        goto out;
    }
    tdm_sig_server_config scfg = {.address = addr, .port = port, .web_root = web_root};
    if (tdm_sig_server_new(&scfg, cfg, sig, &srv, &err) != TDM_OK) {
        fprintf(stderr, "tandem-signal: %s\n", err.msg);
        goto out;
    }
    running = srv;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    bool v6 = strchr(addr, ':') != NULL;
    printf("listening on %s%s%s:%u\n", v6 ? "[" : "", addr, v6 ? "]" : "",
           tdm_sig_server_port(srv));
    if (!web_root)
        printf("no web root: static pages are not served\n");
    fflush(stdout);
    if (tdm_sig_server_run(srv, &stop_flag, &err) != TDM_OK)
        fprintf(stderr, "tandem-signal: %s\n", err.msg);
    else
        rc = 0;
out:
    running = NULL;
    tdm_sig_server_free(srv);
    tdm_signal_free(sig);
    tdm_sig_serve_config_wipe(cfg);
    free(cfg);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return bad_usage("%s", "no command given");
    const char *cmd = argv[1];
    if (is_help(cmd) || strcmp(cmd, "help") == 0)
        return help();
    if ((strcmp(cmd, "user") == 0 || strcmp(cmd, "audit") == 0) && argc >= 3 && is_help(argv[2]))
        return help();
    if (strcmp(cmd, "user") == 0) {
        if (argc < 3 || strcmp(argv[2], "add") != 0)
            return bad_usage("unknown user command '%s' (user add)", argc < 3 ? "" : argv[2]);
        return cmd_user_add(argc - 3, argv + 3);
    }
    if (strcmp(cmd, "audit") == 0) {
        if (argc < 3 || strcmp(argv[2], "verify") != 0)
            return bad_usage("unknown audit command '%s' (audit verify)", argc < 3 ? "" : argv[2]);
        return cmd_audit_verify(argc - 3, argv + 3);
    }
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 2, argv + 2, argv[0]);
    return bad_usage("unknown command '%s'", cmd);
}
