/* tandem-rep: a support rep's (and an invited expert's) side of Tandem from a
 * terminal or a script — log in, open a session, invite, accept an invite,
 * fetch media tokens for tandem-view, send input, watch the session, end it.
 * The browser console (web/) is the reps' main interface; this is the same
 * API (signaling/API.md) for shells, tests and `make demo`, over
 * clients/signal_link.h.
 *
 * Output is "key value" lines, one per field, so a script picks a field with
 * awk and a saved file (--save) is read back with --session-file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "signal_link.h"
#include "tdm_rep_input.h"
#include "tdm_rep_watch.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_DENIED = 3 };

static const char usage_text[] =
    "usage: tandem-rep [--signal URL] [--timeout MS] COMMAND [options]\n"
    "\n"
    "A rep's side of a Tandem session from a terminal or a script (the browser\n"
    "console at the service's / is the main rep interface). Talks to\n"
    "tandem-signal's API (signaling/API.md).\n"
    "\n"
    "Commands:\n"
    "  login --user NAME [--password-file F] [--save FILE]\n"
    "      Logs in; the password is read from F, else from standard input (one\n"
    "      line; prompted for without echo on a terminal), never from the\n"
    "      command line. Prints the login token, or with --save writes it to\n"
    "      FILE (mode 0600) and prints where.\n"
    "  session new [LOGIN] [--save FILE]\n"
    "      Opens a session owned by the logged-in rep. Prints session_id,\n"
    "      participant_id, secret, join_code (give it to the customer),\n"
    "      code_expires_s, profile, media_url, media_token. --save writes these\n"
    "      lines to FILE (mode 0600; read back with --session-file) and prints\n"
    "      them without the secret.\n"
    "  invite [SESSION] --profile P [--ttl S]\n"
    "      A one-time Rep Invite bound to profile P (e.g. view_only). Prints\n"
    "      link, token, invite_id, profile, expires_s.\n"
    "  accept-invite TOKEN|LINK --name NAME [--save FILE]\n"
    "      The invited expert's side: accepts the invite (no account needed).\n"
    "      Prints session_id, participant_id, secret, profile, media_url,\n"
    "      media_token; --save as for session new.\n"
    "  view-token [SESSION]\n"
    "      A fresh relay token for watching (tokens live 5 minutes): prints\n"
    "      media_url and media_token, for tandem-view --url URL --token TOKEN.\n"
    "  input [SESSION] [EVENT...]\n"
    "      Sends input to the customer: each argument is one event line, or,\n"
    "      without arguments, each line of standard input. Event lines:\n"
    "        move X Y            pointer to X,Y (fractions 0..1 of the screen)\n"
    "        click X Y [B]       press and release button B (0 left, 1 middle,\n"
    "                            2 right; default 0) at X,Y\n"
    "        down X Y [B], up X Y [B]\n"
    "        scroll DX DY        wheel steps (DY < 0 scrolls up)\n"
    "        key CHORD           e.g. Enter, a, ctrl+c, ctrl+alt+Delete, F5\n"
    "        type TEXT           each character as a key press (quote TEXT:\n"
    "                            type \"hello world\")\n"
    "        clipboard TEXT      put TEXT on the customer's clipboard\n"
    "        wait MS             pause\n"
    "      Blank lines and lines starting with # are skipped. Prints 'ok LINE'\n"
    "      when the service forwarded every event of the line, else a line per\n"
    "      kind of refusal: 'denied LINE: REASON (EVENT[ xCOUNT])' (REASON:\n"
    "      kind_not_allowed, key_chord_blocked, rate_limited,\n"
    "      customer_has_control: the customer took control back) or\n"
    "      'undelivered LINE: customer_offline (EVENT[ xCOUNT])' (nobody is\n"
    "      sharing).\n"
    "  watch [SESSION] [--duration S] [--json]\n"
    "      Prints the session's events (joins, leaves, profile changes, chat,\n"
    "      media moved to another relay, the end) as they happen, one line\n"
    "      each (--json: the messages as received, tokens and secrets\n"
    "      replaced by \"<redacted>\"). Ends when the session ends or after S\n"
    "      seconds.\n"
    "  end [SESSION]\n"
    "      Ends the session (owner only): everyone is disconnected, codes and\n"
    "      invites are revoked.\n"
    "\n"
    "Credentials:\n"
    "  LOGIN    --token T | --token-file F   (or $TANDEM_TOKEN): from login\n"
    "  SESSION  --session-file F             (a file written by --save), or\n"
    "           --session SID with --secret S | --secret-file F\n"
    "           (or $TANDEM_SESSION and $TANDEM_SECRET)\n"
    "\n"
    "Options:\n"
    "  --signal URL   the service, http://HOST:PORT (default $TANDEM_SIGNAL, else\n"
    "                 http://127.0.0.1:8443)\n"
    "  --timeout MS   per request and for connecting (default 10000)\n"
    "  -h, --help     this text\n"
    "\n"
    "Exit status: 0 success; 1 the service refused or could not be reached (the\n"
    "reason is printed); 2 bad usage; 3 input: some event was denied or not\n"
    "delivered; watch: this participant was removed.\n";

static const char *signal_url;
static int timeout_ms = 10000;
static tdm_link *link_;

/* Options every command may take; which are used depends on the command. */
static struct {
    const char *token, *token_file, *session, *secret, *secret_file, *session_file;
    const char *user, *password_file, *save, *profile, *name;
    long ttl;
    double duration;
    bool json;
} opt;

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tandem-rep: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(tandem-rep --help describes the commands)\n");
    va_end(ap);
    return EXIT_USAGE;
}

/* ---- small helpers ---- */

static char *read_file_line(const char *path, const char *what)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "tandem-rep: cannot read %s file %s: %s\n", what, path, strerror(errno));
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    if (n <= 0) {
        free(line);
        fprintf(stderr, "tandem-rep: %s file %s is empty\n", what, path);
        return NULL;
    }
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

/* Writes text to path with mode 0600 (it holds a credential). */
static bool write_private(const char *path, const char *text)
{
    FILE *f = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0 && fchmod(fd, 0600) == 0)
        f = fdopen(fd, "w");
    if (!f) {
        fprintf(stderr, "tandem-rep: cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    bool ok = fputs(text, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok)
        fprintf(stderr, "tandem-rep: writing %s failed\n", path);
    return ok;
}

/* One API call; on a transport failure or an error status prints why and
 * returns NULL. want: the success status. */
static json_t *api(const char *method, const char *path, const char *bearer, const char *secret,
                   json_t *body, int want)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    tdm_link_response r;
    tdm_error err = {{0}};
    tdm_status st = tdm_link_http(
        link_,
        &(tdm_link_request){.method = method, .path = path, .bearer = bearer, .secret = secret,
                            .body = text},
        &r, &err);
    free(text);
    if (st != TDM_OK) {
        fprintf(stderr, "tandem-rep: %s\n", err.msg);
        tdm_link_response_free(&r);
        return NULL;
    }
    if (r.status != want) {
        char et[300];
        fprintf(stderr, "tandem-rep: %s %s refused: %s\n", method, path,
                tdm_link_error_text(&r, et, sizeof et));
        tdm_link_response_free(&r);
        return NULL;
    }
    json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
    if (!j || !json_is_object(j)) {
        fprintf(stderr, "tandem-rep: %s %s: the answer is not a JSON object\n", method, path);
        json_decref(j);
        j = NULL;
    }
    tdm_link_response_free(&r);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* Appends "key value\n" for each field to a growing string. */
typedef struct fields {
    char *text;
    size_t len;
    bool hide_secret; /* what goes to stdout when the secret went to a file */
} fields;

static void out_add(fields *o, const char *key, const char *value)
{
    char *n = NULL;
    if (asprintf(&n, "%s%s %s\n", o->text ? o->text : "", key, value ? value : "") < 0)
        return;
    free(o->text);
    o->text = n;
}

static void out_add_int(fields *o, const char *key, json_int_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)v);
    out_add(o, key, b);
}

static void out_add_media(fields *o, json_t *media)
{
    if (!json_is_object(media)) {
        /* No relay could take the session now; view-token asks again. */
        out_add(o, "media_url", "none");
        out_add(o, "media_token", "none");
        return;
    }
    out_add(o, "media_url", jstr(media, "url"));
    out_add(o, "media_token", jstr(media, "token"));
    out_add(o, "media_kind", jstr(media, "kind"));
}

/* Prints the fields, or saves them and prints all but the secret. */
static int out_finish(fields *o)
{
    int rc = EXIT_OK;
    if (opt.save) {
        if (!write_private(opt.save, o->text ? o->text : ""))
            rc = EXIT_FAIL;
        else {
            /* stdout gets every line but the secret */
            char *save = o->text ? strdup(o->text) : NULL;
            for (char *line = save ? strtok(save, "\n") : NULL; line; line = strtok(NULL, "\n"))
                if (strncmp(line, "secret ", 7) != 0)
                    printf("%s\n", line);
            free(save);
            printf("saved %s\n", opt.save);
        }
    } else if (o->text) {
        fputs(o->text, stdout);
    }
    free(o->text);
    return rc;
}

/* ---- credentials ---- */

static char *login_token(void)
{
    if (opt.token)
        return strdup(opt.token);
    if (opt.token_file)
        return read_file_line(opt.token_file, "token");
    const char *e = getenv("TANDEM_TOKEN");
    if (e && *e)
        return strdup(e);
    fprintf(stderr, "tandem-rep: no login token: give --token-file F (from 'tandem-rep login "
                    "--save F'), --token T or $TANDEM_TOKEN\n");
    return NULL;
}

typedef struct creds {
    char sid[4096];
    char secret[4096];
} creds;

static bool session_creds(creds *c)
{
    memset(c, 0, sizeof *c);
    if (opt.session_file) {
        FILE *f = fopen(opt.session_file, "r");
        if (!f) {
            fprintf(stderr, "tandem-rep: cannot read session file %s: %s\n", opt.session_file,
                    strerror(errno));
            return false;
        }
        char line[4096];
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (strncmp(line, "session_id ", 11) == 0)
                snprintf(c->sid, sizeof c->sid, "%s", line + 11);
            else if (strncmp(line, "secret ", 7) == 0)
                snprintf(c->secret, sizeof c->secret, "%s", line + 7);
        }
        fclose(f);
        if (!c->sid[0] || !c->secret[0]) {
            fprintf(stderr, "tandem-rep: %s holds no session_id and secret lines\n",
                    opt.session_file);
            return false;
        }
        return true;
    }
    const char *sid = opt.session ? opt.session : getenv("TANDEM_SESSION");
    char *secret = NULL;
    if (opt.secret)
        secret = strdup(opt.secret);
    else if (opt.secret_file)
        secret = read_file_line(opt.secret_file, "secret");
    else if (getenv("TANDEM_SECRET"))
        secret = strdup(getenv("TANDEM_SECRET"));
    if (!sid || !*sid || !secret || !*secret) {
        if (!opt.secret_file || secret)
            fprintf(stderr, "tandem-rep: which session? give --session-file F (from 'session "
                            "new --save F'), or --session SID with --secret S\n");
        free(secret);
        return false;
    }
    snprintf(c->sid, sizeof c->sid, "%s", sid);
    snprintf(c->secret, sizeof c->secret, "%s", secret);
    free(secret);
    /* Session ids go into paths: keep them to the service's alphabet. */
    if (strspn(c->sid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
        strlen(c->sid)) {
        fprintf(stderr, "tandem-rep: '%s' is not a session id\n", c->sid);
        return false;
    }
    return true;
}

/* ---- commands ---- */

static char *read_password(void)
{
    if (opt.password_file)
        return read_file_line(opt.password_file, "password");
    bool tty = isatty(0);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "password for %s: ", opt.user);
        if (tcgetattr(0, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(0, TCSAFLUSH, &quiet);
        } else {
            tty = false;
        }
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (tty) {
        tcsetattr(0, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (n <= 0) {
        free(line);
        fprintf(stderr, "tandem-rep: no password on standard input\n");
        return NULL;
    }
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

static int cmd_login(void)
{
    if (!opt.user)
        return usage_error("login needs --user NAME");
    char *pw = read_password();
    if (!pw)
        return EXIT_FAIL;
    json_t *body = json_pack("{s:s, s:s}", "name", opt.user, "password", pw);
    explicit_bzero(pw, strlen(pw));
    free(pw);
    json_t *r = api("POST", "/api/v1/login", NULL, NULL, body, 200);
    json_decref(body);
    if (!r)
        return EXIT_FAIL;
    const char *token = jstr(r, "token");
    int rc = EXIT_OK;
    if (opt.save) {
        char *line = NULL;
        if (asprintf(&line, "%s\n", token) < 0 || !write_private(opt.save, line))
            rc = EXIT_FAIL;
        else
            printf("token saved to %s (role %s, expires %lld)\n", opt.save,
                   jstr(json_object_get(r, "user"), "role"),
                   (long long)json_integer_value(json_object_get(r, "expires_s")));
        free(line);
    } else {
        printf("%s\n", token);
    }
    json_decref(r);
    return rc;
}

static int cmd_session_new(void)
{
    char *token = login_token();
    if (!token)
        return EXIT_FAIL;
    json_t *body = json_object();
    json_t *r = api("POST", "/api/v1/sessions", token, NULL, body, 201);
    json_decref(body);
    free(token);
    if (!r)
        return EXIT_FAIL;
    fields o = {0};
    out_add(&o, "session_id", jstr(r, "session_id"));
    out_add(&o, "participant_id", jstr(r, "participant_id"));
    out_add(&o, "secret", jstr(r, "secret"));
    out_add(&o, "join_code", jstr(r, "join_code"));
    out_add_int(&o, "code_expires_s", json_integer_value(json_object_get(r, "code_expires_s")));
    out_add(&o, "profile", jstr(r, "profile"));
    out_add_media(&o, json_object_get(r, "media"));
    json_decref(r);
    return out_finish(&o);
}

static int cmd_invite(void)
{
    if (!opt.profile)
        return usage_error("invite needs --profile P (e.g. view_only)");
    creds c;
    if (!session_creds(&c))
        return EXIT_FAIL;
    char path[4200];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/invites", c.sid);
    json_t *body = json_pack("{s:s}", "profile", opt.profile);
    if (opt.ttl > 0)
        json_object_set_new(body, "ttl_s", json_integer(opt.ttl));
    json_t *r = api("POST", path, NULL, c.secret, body, 201);
    json_decref(body);
    if (!r)
        return EXIT_FAIL;
    const char *link = jstr(r, "link");
    char *abs = NULL;
    /* Without a public_url the service answers a relative link; the base
     * we reached it at is the best guess at one the expert can open. */
    if (link[0] == '/') {
        const char *base = signal_url;
        size_t bl = strlen(base);
        while (bl && base[bl - 1] == '/')
            bl--;
        if (asprintf(&abs, "%.*s%s", (int)bl, base, link) < 0)
            abs = NULL;
    }
    fields o = {0};
    out_add(&o, "link", abs ? abs : link);
    out_add(&o, "token", jstr(r, "token"));
    out_add(&o, "invite_id", jstr(r, "invite_id"));
    out_add(&o, "profile", jstr(r, "profile"));
    out_add_int(&o, "expires_s", json_integer_value(json_object_get(r, "expires_s")));
    free(abs);
    json_decref(r);
    opt.save = NULL;
    return out_finish(&o);
}

static int cmd_accept_invite(const char *token_or_link)
{
    if (!opt.name)
        return usage_error("accept-invite needs --name NAME (shown to the others)");
    /* A whole link works too: the token is in its fragment. */
    const char *t = strstr(token_or_link, "#token=");
    t = t ? t + 7 : token_or_link;
    json_t *body = json_pack("{s:s, s:s}", "token", t, "display_name", opt.name);
    json_t *r = api("POST", "/api/v1/invites/accept", NULL, NULL, body, 201);
    json_decref(body);
    if (!r)
        return EXIT_FAIL;
    fields o = {0};
    out_add(&o, "session_id", jstr(r, "session_id"));
    out_add(&o, "participant_id", jstr(r, "participant_id"));
    out_add(&o, "secret", jstr(r, "secret"));
    out_add(&o, "kind", jstr(r, "kind"));
    out_add(&o, "profile", jstr(r, "profile"));
    json_t *events = json_object_get(json_object_get(r, "rights"), "events");
    char *ev = json_dumps(events ? events : json_array(), JSON_COMPACT);
    out_add(&o, "events", ev);
    free(ev);
    out_add_media(&o, json_object_get(r, "media"));
    json_decref(r);
    return out_finish(&o);
}

static int cmd_view_token(void)
{
    creds c;
    if (!session_creds(&c))
        return EXIT_FAIL;
    char path[4200];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/media", c.sid);
    json_t *body = json_object();
    json_t *r = api("POST", path, NULL, c.secret, body, 200);
    json_decref(body);
    if (!r)
        return EXIT_FAIL;
    json_t *media = json_object_get(r, "media");
    if (!json_is_object(media)) {
        json_decref(r);
        fprintf(stderr, "tandem-rep: no relay can take the session now (none configured or "
                        "heartbeating, or all draining or full); try again later\n");
        return EXIT_FAIL;
    }
    fields o = {0};
    out_add_media(&o, media);
    json_decref(r);
    opt.save = NULL;
    return out_finish(&o);
}

static int cmd_end(void)
{
    creds c;
    if (!session_creds(&c))
        return EXIT_FAIL;
    char path[4200];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/end", c.sid);
    json_t *body = json_object();
    json_t *r = api("POST", path, NULL, c.secret, body, 200);
    json_decref(body);
    if (!r)
        return EXIT_FAIL;
    json_decref(r);
    printf("ended %s\n", c.sid);
    return EXIT_OK;
}

static tdm_link_ws *open_ws(const creds *c, char **welcome)
{
    tdm_link_ws *ws;
    tdm_error err = {{0}};
    if (tdm_link_ws_connect(link_, &ws, &err) != TDM_OK) {
        fprintf(stderr, "tandem-rep: %s\n", err.msg);
        return NULL;
    }
    if (tdm_link_ws_auth(ws, c->secret, welcome, &err) != TDM_OK) {
        fprintf(stderr, "tandem-rep: %s\n", err.msg);
        tdm_link_ws_close(ws);
        return NULL;
    }
    return ws;
}

/* ---- input ---- */

/* Sends one line's events, then a ping: the service answers in order, so
 * every refusal of these events arrives before the pong. Returns the number
 * of refusals printed, or -1 when the link failed. */
static int send_line(tdm_link_ws *ws, const char *line, json_t *evs)
{
    tdm_error err = {{0}};
    size_t i;
    json_t *ev;
    json_array_foreach (evs, i, ev) {
        char *t = json_dumps(ev, JSON_COMPACT);
        tdm_status st = t ? tdm_link_ws_send(ws, t, strlen(t), &err) : TDM_ERR_NOMEM;
        free(t);
        if (st != TDM_OK) {
            fprintf(stderr, "tandem-rep: %s\n", st == TDM_ERR_NOMEM ? "out of memory" : err.msg);
            return -1;
        }
    }
    const char ping[] = "{\"type\":\"ping\"}";
    if (tdm_link_ws_send(ws, ping, sizeof ping - 1, &err) != TDM_OK) {
        fprintf(stderr, "tandem-rep: %s\n", err.msg);
        return -1;
    }
    /* One output line per distinct refusal (verdict, reason, event kind),
     * with a count: typing a word is many key events. */
    struct {
        char verdict[16], reason[64], event[32];
        int count;
    } seen[16];
    int n_seen = 0, refused = 0;
    for (;;) {
        const char *m;
        size_t len;
        tdm_status st = tdm_link_ws_recv(ws, timeout_ms, &m, &len, &err);
        if (st == TDM_AGAIN) {
            fprintf(stderr, "tandem-rep: no answer from the service within %d ms\n", timeout_ms);
            return -1;
        }
        if (st == TDM_EOF) {
            fprintf(stderr, "tandem-rep: the service closed the connection (code %d%s)\n",
                    tdm_link_ws_close_code(ws),
                    tdm_link_ws_close_code(ws) == 1000 ? ": the session ended"
                    : tdm_link_ws_close_code(ws) == 4003 ? ": removed from the session"
                                                          : "");
            return -1;
        }
        if (st != TDM_OK) {
            fprintf(stderr, "tandem-rep: %s\n", err.msg);
            return -1;
        }
        json_t *j = json_loadb(m, len, 0, NULL);
        const char *type = jstr(j, "type");
        if (strcmp(type, "pong") == 0) {
            json_decref(j);
            break;
        }
        if (strcmp(type, "error") == 0) {
            const char *code = jstr(j, "error");
            const char *verdict = strcmp(code, "input_denied") == 0       ? "denied"
                                  : strcmp(code, "customer_offline") == 0 ? "undelivered"
                                                                          : "error";
            const char *reason = strcmp(code, "input_denied") == 0 ? jstr(j, "reason") : code;
            const char *event = jstr(j, "event");
            int k = 0;
            while (k < n_seen && !(strcmp(seen[k].verdict, verdict) == 0 &&
                                   strcmp(seen[k].reason, reason) == 0 &&
                                   strcmp(seen[k].event, event) == 0))
                k++;
            if (k == n_seen && n_seen < 16) {
                snprintf(seen[k].verdict, sizeof seen[k].verdict, "%s", verdict);
                snprintf(seen[k].reason, sizeof seen[k].reason, "%s", reason);
                snprintf(seen[k].event, sizeof seen[k].event, "%s", event);
                seen[k].count = 0;
                n_seen++;
            }
            if (k < n_seen)
                seen[k].count++;
            refused++;
        }
        /* session events and chat while sending are not this command's */
        json_decref(j);
    }
    for (int k = 0; k < n_seen; k++) {
        if (seen[k].count > 1)
            printf("%s %s: %s (%s x%d)\n", seen[k].verdict, line, seen[k].reason,
                   seen[k].event[0] ? seen[k].event : "?", seen[k].count);
        else
            printf("%s %s: %s (%s)\n", seen[k].verdict, line, seen[k].reason,
                   seen[k].event[0] ? seen[k].event : "?");
    }
    if (!refused)
        printf("ok %s\n", line);
    fflush(stdout);
    return refused;
}

static int cmd_input(int argc, char **argv)
{
    creds c;
    if (!session_creds(&c))
        return EXIT_FAIL;
    tdm_link_ws *ws = open_ws(&c, NULL);
    if (!ws)
        return EXIT_FAIL;
    int rc = EXIT_OK;
    char *line = NULL;
    size_t cap = 0;
    for (int i = 0;; i++) {
        const char *l;
        if (argc > 0) {
            if (i >= argc)
                break;
            l = argv[i];
        } else {
            ssize_t n = getline(&line, &cap, stdin);
            if (n < 0)
                break;
            line[strcspn(line, "\r\n")] = '\0';
            l = line;
        }
        const char *s = l + strspn(l, " \t");
        if (!*s || *s == '#')
            continue;
        json_t *evs = json_array();
        long wait_ms = 0;
        tdm_error perr = {{0}};
        if (tdm_rep_input_parse(s, evs, &wait_ms, &perr) != TDM_OK) {
            json_decref(evs);
            fprintf(stderr, "tandem-rep: bad event line '%s': %s\n", s, perr.msg);
            rc = EXIT_USAGE;
            break;
        }
        if (wait_ms) {
            json_decref(evs);
            struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
                ;
            printf("ok %s\n", s);
            fflush(stdout);
            continue;
        }
        int r = send_line(ws, s, evs);
        json_decref(evs);
        if (r < 0) {
            rc = EXIT_FAIL;
            break;
        }
        if (r > 0)
            rc = EXIT_DENIED;
    }
    free(line);
    tdm_link_ws_close(ws);
    return rc;
}

/* ---- watch ---- */

static volatile sig_atomic_t stop_watch;
static void on_signal(int sig)
{
    (void)sig;
    stop_watch = 1;
}

static void stamp(char *b, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(b, cap, "%02d:%02d:%02d.%03ldZ", tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000000);
}

static void print_event(const char *m, size_t len)
{
    char ts[32];
    stamp(ts, sizeof ts);
    char *text = NULL;
    tdm_error err = {{0}};
    if (tdm_rep_watch_format(m, len, opt.json, ts, &text, &err) != TDM_OK) {
        fprintf(stderr, "tandem-rep: %s\n", err.msg);
        return;
    }
    fputs(text, stdout);
    free(text);
}

static int cmd_watch(void)
{
    creds c;
    if (!session_creds(&c))
        return EXIT_FAIL;
    char *welcome = NULL;
    tdm_link_ws *ws = open_ws(&c, &welcome);
    if (!ws)
        return EXIT_FAIL;
    print_event(welcome, strlen(welcome));
    free(welcome);
    fflush(stdout);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = EXIT_OK;
    while (!stop_watch) {
        int wait = 500;
        if (opt.duration > 0) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            double left = opt.duration - ((double)(t.tv_sec - t0.tv_sec) +
                                          (double)(t.tv_nsec - t0.tv_nsec) / 1e9);
            if (left <= 0)
                break;
            if (left * 1000 < wait)
                wait = (int)(left * 1000) + 1;
        }
        const char *m;
        size_t len;
        tdm_error err = {{0}};
        tdm_status st = tdm_link_ws_recv(ws, wait, &m, &len, &err);
        if (st == TDM_AGAIN)
            continue;
        if (st == TDM_EOF) {
            int code = tdm_link_ws_close_code(ws);
            char ts[32];
            stamp(ts, sizeof ts);
            if (code == 1000)
                printf("%s closed: the session ended\n", ts);
            else if (code == 4003) {
                printf("%s closed: removed from the session\n", ts);
                rc = EXIT_DENIED;
            } else {
                printf("%s closed by the service (code %d)\n", ts, code);
                rc = EXIT_FAIL;
            }
            break;
        }
        if (st != TDM_OK) {
            fprintf(stderr, "tandem-rep: %s\n", err.msg);
            rc = EXIT_FAIL;
            break;
        }
        print_event(m, len);
        fflush(stdout);
    }
    fflush(stdout);
    tdm_link_ws_close(ws);
    return rc;
}

/* ---- main ---- */

enum {
    O_SIGNAL = 256, O_TIMEOUT, O_TOKEN, O_TOKEN_FILE, O_SESSION, O_SECRET, O_SECRET_FILE,
    O_SESSION_FILE, O_USER, O_PASSWORD_FILE, O_SAVE, O_PROFILE, O_TTL, O_NAME, O_DURATION,
    O_JSON
};

static const struct option longs[] = {
    {"signal", required_argument, NULL, O_SIGNAL},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"token", required_argument, NULL, O_TOKEN},
    {"token-file", required_argument, NULL, O_TOKEN_FILE},
    {"session", required_argument, NULL, O_SESSION},
    {"secret", required_argument, NULL, O_SECRET},
    {"secret-file", required_argument, NULL, O_SECRET_FILE},
    {"session-file", required_argument, NULL, O_SESSION_FILE},
    {"user", required_argument, NULL, O_USER},
    {"password-file", required_argument, NULL, O_PASSWORD_FILE},
    {"save", required_argument, NULL, O_SAVE},
    {"profile", required_argument, NULL, O_PROFILE},
    {"ttl", required_argument, NULL, O_TTL},
    {"name", required_argument, NULL, O_NAME},
    {"duration", required_argument, NULL, O_DURATION},
    {"json", no_argument, NULL, O_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Applies one parsed option: -1 to go on, else the exit status. */
static int take_option(int c)
{
    char *end;
    switch (c) {
    case O_SIGNAL: signal_url = optarg; break;
    case O_TIMEOUT:
        timeout_ms = (int)strtol(optarg, &end, 10);
        if (*end || timeout_ms <= 0 || timeout_ms > 3600000)
            return usage_error("--timeout wants milliseconds, 1..3600000, not '%s'", optarg);
        break;
    case O_TOKEN: opt.token = optarg; break;
    case O_TOKEN_FILE: opt.token_file = optarg; break;
    case O_SESSION: opt.session = optarg; break;
    case O_SECRET: opt.secret = optarg; break;
    case O_SECRET_FILE: opt.secret_file = optarg; break;
    case O_SESSION_FILE: opt.session_file = optarg; break;
    case O_USER: opt.user = optarg; break;
    case O_PASSWORD_FILE: opt.password_file = optarg; break;
    case O_SAVE: opt.save = optarg; break;
    case O_PROFILE: opt.profile = optarg; break;
    case O_NAME: opt.name = optarg; break;
    case O_TTL:
        opt.ttl = strtol(optarg, &end, 10);
        if (*end || opt.ttl <= 0 || opt.ttl > 100000000)
            return usage_error("--ttl wants seconds, not '%s'", optarg);
        break;
    case O_DURATION:
        opt.duration = strtod(optarg, &end);
        if (*end || !(opt.duration > 0))
            return usage_error("--duration wants seconds, not '%s'", optarg);
        break;
    case O_JSON: opt.json = true; break;
    case 'h': fputs(usage_text, stdout); return EXIT_OK;
    default: return usage_error("bad option (see above)");
    }
    return -1;
}

#define MAX_OPERANDS 1024

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    signal_url = getenv("TANDEM_SIGNAL");
    if (!signal_url || !*signal_url)
        signal_url = "http://127.0.0.1:8443";
    /* Options go before or after the command; "+" stops at the command. */
    int c, r;
    while ((c = getopt_long(argc, argv, "+h", longs, NULL)) != -1)
        if ((r = take_option(c)) >= 0)
            return r;
    if (optind >= argc)
        return usage_error("no command given");
    const char *cmd = argv[optind++];
    if (strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    bool session_new = strcmp(cmd, "session") == 0;
    if (session_new) {
        if (optind >= argc || strcmp(argv[optind], "new") != 0)
            return usage_error("'session' takes 'new'");
        optind++;
    }
    bool is_input = strcmp(cmd, "input") == 0;
    bool is_accept = strcmp(cmd, "accept-invite") == 0;
    static char *operands[MAX_OPERANDS];
    int n_ops = 0;
    while (optind < argc) {
        /* From input's first event line on, every argument is an event line
         * (one may start with '-' in a later word: "scroll 0 -3"). */
        if (is_input && n_ops > 0) {
            if (n_ops == MAX_OPERANDS)
                return usage_error("too many arguments");
            operands[n_ops++] = argv[optind++];
            continue;
        }
        /* An invite token is base64url and may start with '-' ("-2Fq..."):
         * as accept-invite's operand it is not an option (the only short
         * option is -h, and tokens are far longer). */
        if (is_accept && n_ops == 0 && argv[optind][0] == '-' && argv[optind][1] != '-' &&
            strlen(argv[optind]) > 2) {
            operands[n_ops++] = argv[optind++];
            continue;
        }
        c = getopt_long(argc, argv, "+h", longs, NULL);
        if (c == -1) {
            if (optind < argc) {
                if (n_ops == MAX_OPERANDS)
                    return usage_error("too many arguments");
                operands[n_ops++] = argv[optind++];
            }
            continue;
        }
        if ((r = take_option(c)) >= 0)
            return r;
    }

    tdm_error err = {{0}};
    if (tdm_link_new(signal_url, timeout_ms, &link_, &err) != TDM_OK) {
        fprintf(stderr, "tandem-rep: --signal: %s\n", err.msg);
        return EXIT_USAGE;
    }
    static const struct {
        const char *name;
        int operands; /* -1: any */
    } cmds[] = {{"login", 0},      {"session", 0}, {"invite", 0}, {"accept-invite", 1},
                {"view-token", 0}, {"input", -1},  {"watch", 0},  {"end", 0}};
    int rc = -1;
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        if (strcmp(cmd, cmds[i].name) != 0)
            continue;
        if (cmds[i].operands >= 0 && n_ops != cmds[i].operands) {
            rc = usage_error(cmds[i].operands ? "'%s' takes one operand (see --help)"
                                              : "'%s' takes no operands (see --help)",
                             cmd);
            break;
        }
        switch (i) {
        case 0: rc = cmd_login(); break;
        case 1: rc = cmd_session_new(); break;
        case 2: rc = cmd_invite(); break;
        case 3: rc = cmd_accept_invite(operands[0]); break;
        case 4: rc = cmd_view_token(); break;
        case 5: rc = cmd_input(n_ops, operands); break;
        case 6: rc = cmd_watch(); break;
        case 7: rc = cmd_end(); break;
        }
        break;
    }
    if (rc < 0)
        rc = usage_error("unknown command '%s'", cmd);
    tdm_link_free(link_);
    return rc;
}
