/* share_remote.c: tandem-share's remote-control thread (share_remote.h). */
#define _GNU_SOURCE /* pipe2 */
#include "share_remote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "inject_plan.h"
#include "media_move.h"
#include "x11_inject.h"

enum {
    LINK_TIMEOUT_MS = 2000, /* short: the thread also serves the chord */
    RECONNECT_FIRST_MS = 500,
    RECONNECT_MAX_MS = 5000,
    RECONNECT_GIVE_UP_MS = 60000,
};

struct tdm_share_remote {
    tdm_share_remote_config cfg;
    tdm_link *link;
    tdm_link_ws *ws;             /* NULL while lost */
    uint64_t lost_at_us, retry_at_us;
    unsigned backoff_ms;
    tdm_x11_injector *inj; /* NULL without a display */
    tdm_inject_planner planner;
    int wake[2];           /* self-pipe: 't' toggle, 'q' quit */
    pthread_t thread;
    bool started;
    char line[128];        /* stdin command being read */
    size_t line_len;
    bool stdin_open;
    _Atomic uint64_t received, injected, refused;
    _Atomic bool customer_control;
    /* The latest "media moved" (relay failover, API.md): its media object
     * as JSON text, until the media loop takes it. */
    pthread_mutex_t move_mu;
    char *moved_media;
    _Atomic bool move_pending;
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void run_plan(tdm_share_remote *r, const tdm_inject_plan *plan)
{
    if (!r->inj || plan->n == 0)
        return;
    tdm_error err = {{0}};
    if (tdm_x11_injector_run(r->inj, plan, &err) != TDM_OK) {
        fprintf(stderr, "tandem-share: input: %s\n", err.msg);
        *r->cfg.stop = 1;
    }
}

static void set_control(tdm_share_remote *r, bool taken, const char *how)
{
    if (atomic_load(&r->customer_control) == taken)
        return;
    tdm_inject_plan release;
    tdm_inject_set_taken_back(&r->planner, taken, &release);
    run_plan(r, &release); /* nothing stays pressed for the customer */
    atomic_store(&r->customer_control, taken);
    /* The exact line scripts wait for; how it happened goes to stderr. */
    printf("control: %s\n", taken ? "customer" : "shared");
    fflush(stdout);
    fprintf(stderr, "tandem-share: control %s (%s)\n",
            taken ? "taken back by the customer" : "given to the session", how);
    if (r->ws) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "{\"type\":\"control\",\"state\":\"%s\"}",
                         taken ? "customer" : "shared");
        tdm_error err = {{0}};
        if (tdm_link_ws_send(r->ws, msg, (size_t)n, &err) != TDM_OK)
            fprintf(stderr, "tandem-share: telling the service about control: %s\n", err.msg);
    }
}

/* Messages that are not input events: the session's news. */
static void service_message(tdm_share_remote *r, const char *msg, size_t len)
{
    json_t *doc = json_loadb(msg, len, 0, NULL);
    const char *type = json_string_value(json_object_get(doc, "type"));
    if (type && strcmp(type, "session") == 0) {
        const char *event = json_string_value(json_object_get(doc, "event"));
        if (event && strcmp(event, "ended") == 0) {
            printf("share: the session ended\n");
            fflush(stdout);
            *r->cfg.stop = 1;
        }
    } else if (type && strcmp(type, "media") == 0) {
        tdm_media_move mv;
        if (tdm_media_move_parse(msg, len, &mv)) {
            fprintf(stderr, "tandem-share: the session moves off relay %s (%s)\n", mv.from,
                    mv.reason);
            pthread_mutex_lock(&r->move_mu);
            free(r->moved_media); /* only the latest move counts */
            r->moved_media = mv.media;
            atomic_store(&r->move_pending, true);
            pthread_mutex_unlock(&r->move_mu);
        } else {
            fprintf(stderr, "tandem-share: a media message without usable media ignored\n");
        }
    } else if (type && strcmp(type, "removed") == 0) {
        printf("share: removed from the session\n");
        fflush(stdout);
        *r->cfg.stop = 1;
    } else if (type && strcmp(type, "error") == 0) {
        fprintf(stderr, "tandem-share: the service says: %.*s\n", (int)len, msg);
    }
    json_decref(doc);
}

static void on_message(tdm_share_remote *r, const char *msg, size_t len)
{
    tdm_inject_plan plan;
    tdm_sig_input_kind kind;
    tdm_inject_result res =
        tdm_inject_plan_message(&r->planner, (const uint8_t *)msg, len, &plan, &kind);
    if (res == TDM_INJECT_NOT_INPUT) {
        service_message(r, msg, len);
        return;
    }
    atomic_fetch_add(&r->received, 1);
    if (res == TDM_INJECT_OK) {
        run_plan(r, &plan);
        atomic_fetch_add(&r->injected, 1);
    } else {
        atomic_fetch_add(&r->refused, 1);
    }
    if (r->cfg.input_log) {
        /* Stamped after the injection was flushed to the server. */
        fprintf(r->cfg.input_log, "%llu %s %s%s\n", (unsigned long long)mono_us(),
                tdm_sig_input_kind_name(kind), res == TDM_INJECT_OK ? "" : "refused:",
                tdm_inject_result_name(res));
        fflush(r->cfg.input_log);
    }
}

/* Connects and authenticates. TDM_ERR_UNAVAILABLE: the service refused
 * the secret (removed, session over): no point trying again. */
static tdm_status connect_ws(tdm_share_remote *r, tdm_error *err)
{
    tdm_status st = tdm_link_ws_connect(r->link, &r->ws, err);
    if (st == TDM_OK && (st = tdm_link_ws_auth(r->ws, r->cfg.secret, NULL, err)) != TDM_OK) {
        tdm_link_ws_close(r->ws);
        r->ws = NULL;
    }
    return st;
}

static void lost(tdm_share_remote *r, const char *why)
{
    tdm_link_ws_close(r->ws);
    r->ws = NULL;
    r->lost_at_us = mono_us();
    r->backoff_ms = RECONNECT_FIRST_MS;
    r->retry_at_us = r->lost_at_us + r->backoff_ms * 1000u;
    fprintf(stderr, "tandem-share: lost the service's WebSocket (%s); reconnecting\n", why);
}

static void reconnect(tdm_share_remote *r)
{
    tdm_error err = {{0}};
    tdm_status st = connect_ws(r, &err);
    uint64_t now = mono_us();
    if (st == TDM_OK) {
        /* The service forgot a take-back with our last socket; said before
         * the line below, so whoever waits for it finds the state restored. */
        if (atomic_load(&r->customer_control)) {
            static const char msg[] = "{\"type\":\"control\",\"state\":\"customer\"}";
            if (tdm_link_ws_send(r->ws, msg, sizeof msg - 1, &err) != TDM_OK) {
                lost(r, err.msg);
                return;
            }
        }
        printf("share: reconnected to the service\n");
        fflush(stdout);
        return;
    }
    if (st == TDM_ERR_UNAVAILABLE || now - r->lost_at_us > RECONNECT_GIVE_UP_MS * 1000ull) {
        fprintf(stderr, "tandem-share: giving up on the service: %s\n", err.msg);
        *r->cfg.stop = 1;
        r->retry_at_us = UINT64_MAX;
        return;
    }
    r->backoff_ms = r->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : r->backoff_ms * 2;
    r->retry_at_us = now + r->backoff_ms * 1000u;
}

static void read_ws(tdm_share_remote *r)
{
    for (;;) {
        const char *msg;
        size_t len;
        tdm_error err = {{0}};
        tdm_status st = tdm_link_ws_recv(r->ws, 0, &msg, &len, &err);
        if (st == TDM_OK) {
            on_message(r, msg, len);
            continue;
        }
        if (st == TDM_AGAIN)
            return;
        int code = st == TDM_EOF ? tdm_link_ws_close_code(r->ws) : 0;
        /* 1000 follows the session's end, 4003 a removal, 4001 a refused
         * secret: final. Anything else is worth another socket. */
        if (code == 1000 || code == 4001 || code == 4003) {
            printf("share: the service closed the WebSocket (code %d)\n", code);
            fflush(stdout);
            tdm_link_ws_close(r->ws);
            r->ws = NULL;
            r->retry_at_us = UINT64_MAX;
            *r->cfg.stop = 1;
        } else {
            char why[160];
            snprintf(why, sizeof why, "%.159s", st == TDM_EOF ? "closed" : err.msg);
            lost(r, why);
        }
        return;
    }
}

static void stdin_command(tdm_share_remote *r, const char *line)
{
    if (strcmp(line, "take") == 0)
        set_control(r, true, "command");
    else if (strcmp(line, "give") == 0)
        set_control(r, false, "command");
    else if (*line)
        fprintf(stderr, "tandem-share: unknown command '%s' (take or give)\n", line);
}

static void read_stdin(tdm_share_remote *r)
{
    char buf[256];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) {
        if (n == 0 || (errno != EINTR && errno != EAGAIN))
            r->stdin_open = false; /* EOF: no more commands */
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c == '\n') {
            r->line[r->line_len] = 0;
            while (r->line_len && (r->line[r->line_len - 1] == '\r' || r->line[r->line_len - 1] == ' '))
                r->line[--r->line_len] = 0;
            stdin_command(r, r->line);
            r->line_len = 0;
        } else if (r->line_len + 1 < sizeof r->line) {
            r->line[r->line_len++] = c;
        }
    }
}

static void *thread_main(void *arg)
{
    tdm_share_remote *r = arg;
    for (;;) {
        if (!r->ws && r->retry_at_us != UINT64_MAX && mono_us() >= r->retry_at_us)
            reconnect(r);
        struct pollfd p[4];
        int n = 0, iws = -1, iinj = -1, iin = -1;
        p[n++] = (struct pollfd){.fd = r->wake[0], .events = POLLIN};
        if (r->ws && tdm_link_ws_buffered(r->ws))
            read_ws(r); /* bytes already read do not wake poll; may lose ws */
        if (r->ws) {
            iws = n;
            p[n++] = (struct pollfd){.fd = tdm_link_ws_fd(r->ws), .events = POLLIN};
        }
        if (r->inj) {
            iinj = n;
            p[n++] = (struct pollfd){.fd = tdm_x11_injector_fd(r->inj), .events = POLLIN};
        }
        if (r->stdin_open) {
            iin = n;
            p[n++] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
        }
        int wait_ms = 1000;
        if (!r->ws && r->retry_at_us != UINT64_MAX) {
            uint64_t now = mono_us();
            wait_ms = r->retry_at_us > now ? (int)((r->retry_at_us - now) / 1000) + 1 : 0;
            if (wait_ms > 1000)
                wait_ms = 1000;
        }
        if (poll(p, (nfds_t)n, wait_ms) < 0 && errno != EINTR)
            break;
        if (p[0].revents & POLLIN) {
            char cmd[16];
            ssize_t k = read(r->wake[0], cmd, sizeof cmd);
            bool quit = false;
            for (ssize_t i = 0; i < k; i++) {
                if (cmd[i] == 'q')
                    quit = true;
                else if (cmd[i] == 't')
                    set_control(r, !atomic_load(&r->customer_control), "SIGUSR2");
            }
            if (quit)
                break;
        }
        if (iws >= 0 && p[iws].revents & (POLLIN | POLLHUP | POLLERR))
            read_ws(r);
        if (iinj >= 0 && p[iinj].revents & (POLLIN | POLLHUP | POLLERR)) {
            unsigned chords = 0;
            bool remapped = false;
            tdm_error err = {{0}};
            if (tdm_x11_injector_poll(r->inj, &chords, &remapped, &err) != TDM_OK) {
                fprintf(stderr, "tandem-share: input: %s\n", err.msg);
                *r->cfg.stop = 1;
                break;
            }
            if (remapped)
                tdm_inject_planner_set_keymap(&r->planner, tdm_x11_injector_keymap(r->inj));
            for (unsigned i = 0; i < chords; i++)
                set_control(r, !atomic_load(&r->customer_control), "Ctrl+Alt+Shift+T");
        }
        if (iin >= 0 && p[iin].revents & (POLLIN | POLLHUP | POLLERR))
            read_stdin(r);
    }
    return NULL;
}

tdm_status tdm_share_remote_start(const tdm_share_remote_config *cfg, tdm_share_remote **out,
                                  tdm_error *err)
{
    *out = NULL;
    tdm_share_remote *r = calloc(1, sizeof *r);
    if (!r)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    r->cfg = *cfg;
    r->wake[0] = r->wake[1] = -1;
    pthread_mutex_init(&r->move_mu, NULL);
    r->stdin_open = cfg->stdin_commands;
    r->retry_at_us = UINT64_MAX;
    tdm_status st = TDM_OK;
    if (cfg->signal_url) {
        if ((st = tdm_link_new(cfg->signal_url, LINK_TIMEOUT_MS, &r->link, err)) != TDM_OK ||
            (st = connect_ws(r, err)) != TDM_OK)
            goto fail;
    }
    if (cfg->display && (st = tdm_x11_injector_open(cfg->display, true, &r->inj, err)) != TDM_OK)
        goto fail;
    tdm_inject_planner_init(&r->planner, r->inj ? tdm_x11_injector_keymap(r->inj) : NULL,
                            cfg->area, cfg->allow);
    if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        st = tdm_fail(err, TDM_ERR_IO, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&r->thread, NULL, thread_main, r) != 0) {
        st = tdm_fail(err, TDM_ERR_NOMEM, "cannot start the input thread");
        goto fail;
    }
    r->started = true;
    *out = r;
    return TDM_OK;
fail:
    tdm_share_remote_stop(r);
    return st;
}

void tdm_share_remote_wake(tdm_share_remote *r)
{
    if (r && r->wake[1] >= 0) {
        char t = 't';
        ssize_t n = write(r->wake[1], &t, 1);
        (void)n; /* a full pipe already holds toggles */
    }
}

void tdm_share_remote_get_stats(tdm_share_remote *r, tdm_share_remote_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!r)
        return;
    out->received = atomic_load(&r->received);
    out->injected = atomic_load(&r->injected);
    out->refused = atomic_load(&r->refused);
    out->customer_control = atomic_load(&r->customer_control);
}

void tdm_share_remote_stop(tdm_share_remote *r)
{
    if (!r)
        return;
    if (r->started) {
        char q = 'q';
        ssize_t n = write(r->wake[1], &q, 1);
        (void)n;
        pthread_join(r->thread, NULL);
    }
    if (r->inj) {
        /* Leave nothing pressed behind. */
        tdm_inject_plan release;
        tdm_inject_set_taken_back(&r->planner, true, &release);
        tdm_error err = {{0}};
        if (release.n && tdm_x11_injector_run(r->inj, &release, &err) != TDM_OK)
            fprintf(stderr, "tandem-share: releasing held input: %s\n", err.msg);
    }
    tdm_x11_injector_close(r->inj);
    tdm_link_ws_close(r->ws);
    tdm_link_free(r->link);
    if (r->wake[0] >= 0)
        close(r->wake[0]);
    if (r->wake[1] >= 0)
        close(r->wake[1]);
    free(r->moved_media);
    pthread_mutex_destroy(&r->move_mu);
    free(r);
}

char *tdm_share_remote_take_move(tdm_share_remote *r)
{
    if (!r || !atomic_load(&r->move_pending))
        return NULL;
    pthread_mutex_lock(&r->move_mu);
    char *text = r->moved_media;
    r->moved_media = NULL;
    atomic_store(&r->move_pending, false);
    pthread_mutex_unlock(&r->move_mu);
    return text;
}
