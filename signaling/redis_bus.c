/* redis_bus.c: pub/sub between signaling instances on two threads
 * (tdm_redis_bus.h). */
#define _GNU_SOURCE /* pipe2 */
#include "tdm_redis_bus.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#define SID_CAP 72
#define BATCH 64

typedef struct follow_op {
    struct follow_op *next;
    bool on;
    char sid[SID_CAP];
} follow_op;

typedef struct bmsg {
    struct bmsg *next;
    int64_t t_ms; /* when queued (monotonic) */
    bool subscribed; /* no data: the SUBSCRIBE to sid's channel took effect */
    size_t len;
    char sid[SID_CAP];
    char data[];
} bmsg;

struct tdm_redis_bus {
    tdm_redis_addr addr;
    void (*wake)(void *ctx);
    void *wake_ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool mu_ok, cv_ok;
    pthread_t pub_th, sub_th;
    bool pub_started, sub_started;
    atomic_int stop;
    bmsg *out_head, *out_tail; /* to publish, oldest first */
    size_t out_bytes;
    bmsg *in_head, *in_tail; /* received, for the loop */
    /* Sessions followed (SUBSCRIBEd), as the loop wants them; the
     * subscriber applies changes queued in ops and, after a reconnect,
     * subscribes to the whole set again. Under mu. */
    char (*follow)[SID_CAP];
    size_t n_follow, cap_follow;
    struct follow_op *ops_head, *ops_tail;
    int wake_pipe[2]; /* loop -> subscriber: ops queued, or stop */
    tdm_redis_bus_stats stats;
    int64_t last_drop_log_ms;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits on cv for up to ms (mu held). */
static void wait_ms(tdm_redis_bus *b, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&b->cv, &b->mu, &ts);
}

static bmsg *msg_new(const char *sid, const char *data, size_t len)
{
    bmsg *m = malloc(sizeof *m + len + 1);
    if (!m)
        return NULL;
    m->next = NULL;
    m->subscribed = false;
    m->t_ms = mono_ms();
    m->len = len;
    snprintf(m->sid, sizeof m->sid, "%s", sid);
    memcpy(m->data, data, len);
    m->data[len] = '\0';
    return m;
}

static void free_list(bmsg *m)
{
    while (m) {
        bmsg *n = m->next;
        free(m);
        m = n;
    }
}

/* Drops queued messages too old to be worth delivering (mu held). */
static void drop_stale(tdm_redis_bus *b)
{
    int64_t now = mono_ms();
    uint64_t n = 0;
    while (b->out_head && now - b->out_head->t_ms > TDM_BUS_STALE_MS) {
        bmsg *m = b->out_head;
        b->out_head = m->next;
        if (!b->out_head)
            b->out_tail = NULL;
        b->out_bytes -= m->len;
        free(m);
        n++;
    }
    b->stats.dropped_stale += n;
    if (n && now - b->last_drop_log_ms > 5000) {
        b->last_drop_log_ms = now;
        fprintf(stderr,
                "tandem-signal: redis bus: %llu message(s) to other instances dropped: "
                "Redis unreachable for over %d ms (%llu so far)\n",
                (unsigned long long)n, TDM_BUS_STALE_MS,
                (unsigned long long)b->stats.dropped_stale);
    }
}

static void *publisher(void *arg)
{
    tdm_redis_bus *b = arg;
    tdm_redis_conn rc;
    tdm_redis_conn_init(&rc, &b->addr, 1000);
    pthread_mutex_lock(&b->mu);
    while (!atomic_load(&b->stop)) {
        drop_stale(b);
        if (!b->out_head) {
            wait_ms(b, 1000);
            continue;
        }
        bmsg *batch[BATCH];
        int n = 0;
        while (n < BATCH && b->out_head) {
            batch[n++] = b->out_head;
            b->out_head = b->out_head->next;
        }
        if (!b->out_head)
            b->out_tail = NULL;
        pthread_mutex_unlock(&b->mu);

        int done = 0;
        tdm_error err;
        if (tdm_redis_conn_ensure(&rc, &err) == TDM_OK) {
            for (int i = 0; i < n; i++) {
                char ch[SID_CAP + sizeof TDM_BUS_CHANNEL_PREFIX];
                snprintf(ch, sizeof ch, TDM_BUS_CHANNEL_PREFIX "%s", batch[i]->sid);
                const char *argv[3] = {"PUBLISH", ch, batch[i]->data};
                size_t lens[3] = {7, strlen(ch), batch[i]->len};
                redisAppendCommandArgv(rc.ctx, 3, argv, lens);
            }
            /* Replies come in order: the first `done` are published. */
            for (; done < n; done++) {
                void *reply = NULL;
                if (redisGetReply(rc.ctx, &reply) != REDIS_OK) {
                    tdm_redis_conn_drop(&rc);
                    break;
                }
                freeReplyObject(reply);
            }
        }
        pthread_mutex_lock(&b->mu);
        for (int i = 0; i < done; i++) {
            b->out_bytes -= batch[i]->len;
            free(batch[i]);
        }
        b->stats.published += (uint64_t)done;
        b->stats.pub_connected = rc.ctx != NULL;
        if (done < n) {
            /* Back at the head, in order, to retry once Redis answers. */
            for (int i = n - 1; i >= done; i--) {
                batch[i]->next = b->out_head;
                b->out_head = batch[i];
                if (!b->out_tail)
                    b->out_tail = batch[i];
            }
            wait_ms(b, TDM_REDIS_RETRY_MS);
        }
    }
    pthread_mutex_unlock(&b->mu);
    tdm_redis_conn_drop(&rc);
    return NULL;
}

static void deliver(tdm_redis_bus *b, const redisReply *r)
{
    /* ["message", channel, payload], or ["subscribe", channel, count]: the
     * loop re-reads what it must not miss; unsubscribe confirmations are
     * of no use. */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
        return;
    bool message = strcmp(r->element[0]->str, "message") == 0;
    bool subscribed = strcmp(r->element[0]->str, "subscribe") == 0;
    if ((!message || r->element[2]->type != REDIS_REPLY_STRING) && !subscribed)
        return;
    const char *ch = r->element[1]->str;
    size_t pl = sizeof TDM_BUS_CHANNEL_PREFIX - 1;
    if (strncmp(ch, TDM_BUS_CHANNEL_PREFIX, pl) != 0 || strlen(ch + pl) >= SID_CAP ||
        (message && r->element[2]->len > TDM_BUS_MESSAGE_MAX))
        return;
    bmsg *m = message ? msg_new(ch + pl, r->element[2]->str, r->element[2]->len)
                      : msg_new(ch + pl, "", 0);
    if (!m)
        return;
    m->subscribed = subscribed;
    pthread_mutex_lock(&b->mu);
    bool was_empty = !b->in_head;
    if (b->in_tail)
        b->in_tail->next = m;
    else
        b->in_head = m;
    b->in_tail = m;
    b->stats.received++;
    pthread_mutex_unlock(&b->mu);
    if (was_empty && b->wake)
        b->wake(b->wake_ctx);
}

/* Queues (UN)SUBSCRIBE for sid on c's output buffer. */
static void append_sub(redisContext *c, const char *sid, bool on)
{
    char ch[SID_CAP + sizeof TDM_BUS_CHANNEL_PREFIX];
    snprintf(ch, sizeof ch, TDM_BUS_CHANNEL_PREFIX "%s", sid);
    const char *argv[2] = {on ? "SUBSCRIBE" : "UNSUBSCRIBE", ch};
    size_t lens[2] = {strlen(argv[0]), strlen(ch)};
    redisAppendCommandArgv(c, 2, argv, lens);
}

/* Writes what is buffered on c; false when the connection failed. */
static bool flush(redisContext *c)
{
    int done = 0;
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return false;
    return true;
}

/* One connection's life: subscribe to every followed session, then apply
 * follow changes and hand messages over until the connection fails or the
 * bus stops. */
static void serve_connection(tdm_redis_bus *b, redisContext *c)
{
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; i < b->n_follow; i++)
        append_sub(c, b->follow[i], true);
    /* The whole set is subscribed: queued changes are in it already. */
    for (follow_op *o = b->ops_head, *n; o; o = n) {
        n = o->next;
        free(o);
    }
    b->ops_head = b->ops_tail = NULL;
    b->stats.sub_connected = true;
    b->stats.subscriptions++;
    pthread_mutex_unlock(&b->mu);
    if (!flush(c))
        return;
    struct pollfd pf[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = b->wake_pipe[0], .events = POLLIN}};
    while (!atomic_load(&b->stop)) {
        if (poll(pf, 2, 1000) < 0 && errno != EINTR)
            return;
        if (pf[1].revents & POLLIN) {
            char junk[64];
            while (read(b->wake_pipe[0], junk, sizeof junk) > 0) {
            }
            pthread_mutex_lock(&b->mu);
            follow_op *ops = b->ops_head;
            b->ops_head = b->ops_tail = NULL;
            pthread_mutex_unlock(&b->mu);
            for (follow_op *o = ops, *n; o; o = n) {
                n = o->next;
                append_sub(c, o->sid, o->on);
                free(o);
            }
            if (!flush(c))
                return;
        }
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (redisBufferRead(c) != REDIS_OK)
                return;
            void *reply = NULL;
            while (redisGetReplyFromReader(c, &reply) == REDIS_OK && reply) {
                /* A refused SUBSCRIBE (a Redis still loading its data): not
                 * subscribed, so start again on a new connection. */
                bool refused = ((redisReply *)reply)->type == REDIS_REPLY_ERROR;
                if (refused)
                    fprintf(stderr, "tandem-signal: redis bus: %.120s\n",
                            ((redisReply *)reply)->str ? ((redisReply *)reply)->str : "error");
                else
                    deliver(b, reply);
                freeReplyObject(reply);
                reply = NULL;
                if (refused) {
                    pthread_mutex_lock(&b->mu);
                    wait_ms(b, TDM_REDIS_RETRY_MS);
                    pthread_mutex_unlock(&b->mu);
                    return;
                }
            }
            if (c->err)
                return;
        }
    }
}

static void *subscriber(void *arg)
{
    tdm_redis_bus *b = arg;
    bool logged_down = false;
    while (!atomic_load(&b->stop)) {
        struct timeval tv = {1, 0};
        redisContext *c = redisConnectWithTimeout(b->addr.host, b->addr.port, tv);
        if (!c || c->err) {
            if (c)
                redisFree(c);
            if (!logged_down) {
                fprintf(stderr, "tandem-signal: redis bus: cannot subscribe at %s:%u; retrying\n",
                        b->addr.host, b->addr.port);
                logged_down = true;
            }
            pthread_mutex_lock(&b->mu);
            b->stats.sub_connected = false;
            if (!atomic_load(&b->stop))
                wait_ms(b, TDM_REDIS_RETRY_MS);
            pthread_mutex_unlock(&b->mu);
            continue;
        }
        /* Reads wait in poll, never in a blocking read; a dead peer is
         * noticed through keepalive. */
        redisEnableKeepAlive(c);
        if (logged_down)
            fprintf(stderr, "tandem-signal: redis bus: subscribed again at %s:%u\n", b->addr.host,
                    b->addr.port);
        logged_down = false;
        serve_connection(b, c);
        pthread_mutex_lock(&b->mu);
        b->stats.sub_connected = false;
        pthread_mutex_unlock(&b->mu);
        if (!atomic_load(&b->stop)) {
            fprintf(stderr, "tandem-signal: redis bus: subscription lost (%s); reconnecting\n",
                    c->errstr[0] ? c->errstr : "closed");
            logged_down = true;
        }
        redisFree(c);
    }
    return NULL;
}

void tdm_redis_bus_follow(tdm_redis_bus *b, const char *session_id, bool on)
{
    if (!b || !session_id || strlen(session_id) >= SID_CAP)
        return;
    follow_op *o = calloc(1, sizeof *o);
    pthread_mutex_lock(&b->mu);
    size_t i = 0;
    while (i < b->n_follow && strcmp(b->follow[i], session_id) != 0)
        i++;
    bool had = i < b->n_follow;
    if (on && !had) {
        if (b->n_follow == b->cap_follow) {
            size_t ncap = b->cap_follow ? 2 * b->cap_follow : 64;
            void *grown = realloc(b->follow, ncap * sizeof *b->follow);
            if (!grown) {
                pthread_mutex_unlock(&b->mu);
                free(o);
                return;
            }
            b->follow = grown;
            b->cap_follow = ncap;
        }
        snprintf(b->follow[b->n_follow++], SID_CAP, "%s", session_id);
    } else if (!on && had) {
        memcpy(b->follow[i], b->follow[--b->n_follow], SID_CAP);
    }
    bool changed = on != had;
    if (changed && o) {
        o->on = on;
        snprintf(o->sid, sizeof o->sid, "%s", session_id);
        if (b->ops_tail)
            b->ops_tail->next = o;
        else
            b->ops_head = o;
        b->ops_tail = o;
        o = NULL;
    }
    pthread_mutex_unlock(&b->mu);
    free(o);
    if (changed && write(b->wake_pipe[1], "f", 1) < 0) {
        /* Full pipe: a wake-up is pending already. */
    }
}

tdm_status tdm_redis_bus_new(const tdm_redis_addr *addr, void (*wake)(void *ctx), void *wake_ctx,
                             tdm_redis_bus **out, tdm_error *err)
{
    *out = NULL;
    tdm_redis_bus *b = calloc(1, sizeof *b);
    if (!b)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    b->addr = *addr;
    b->wake = wake;
    b->wake_ctx = wake_ctx;
    atomic_init(&b->stop, 0);
    b->wake_pipe[0] = b->wake_pipe[1] = -1;
    if (pipe2(b->wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        free(b);
        return tdm_fail(err, TDM_ERR_IO, "redis bus: pipe: %s", strerror(errno));
    }
    b->mu_ok = pthread_mutex_init(&b->mu, NULL) == 0;
    b->cv_ok = b->mu_ok && pthread_cond_init(&b->cv, NULL) == 0;
    if (b->cv_ok)
        b->pub_started = pthread_create(&b->pub_th, NULL, publisher, b) == 0;
    if (b->pub_started)
        b->sub_started = pthread_create(&b->sub_th, NULL, subscriber, b) == 0;
    if (!b->sub_started) {
        tdm_redis_bus_free(b);
        return tdm_fail(err, TDM_ERR_NOMEM, "redis bus: cannot start its threads");
    }
    *out = b;
    return TDM_OK;
}

void tdm_redis_bus_free(tdm_redis_bus *b)
{
    if (!b)
        return;
    atomic_store(&b->stop, 1);
    if (b->cv_ok) {
        pthread_mutex_lock(&b->mu);
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
    }
    if (b->wake_pipe[1] >= 0 && write(b->wake_pipe[1], "s", 1) < 0) {
        /* Full pipe: the subscriber wakes anyway. */
    }
    if (b->pub_started)
        pthread_join(b->pub_th, NULL);
    if (b->sub_started)
        pthread_join(b->sub_th, NULL);
    free_list(b->out_head);
    free_list(b->in_head);
    for (follow_op *o = b->ops_head, *n; o; o = n) {
        n = o->next;
        free(o);
    }
    free(b->follow);
    for (int i = 0; i < 2; i++)
        if (b->wake_pipe[i] >= 0)
            close(b->wake_pipe[i]);
    if (b->cv_ok)
        pthread_cond_destroy(&b->cv);
    if (b->mu_ok)
        pthread_mutex_destroy(&b->mu);
    free(b);
}

bool tdm_redis_bus_publish(tdm_redis_bus *b, const char *session_id, const char *msg, size_t len)
{
    if (!b || !session_id || strlen(session_id) >= SID_CAP || len > TDM_BUS_MESSAGE_MAX)
        return false;
    bmsg *m = msg_new(session_id, msg, len);
    if (!m)
        return false;
    pthread_mutex_lock(&b->mu);
    if (b->out_bytes + len > TDM_BUS_QUEUE_MAX) {
        b->stats.dropped_full++;
        pthread_mutex_unlock(&b->mu);
        free(m);
        return false;
    }
    bool was_empty = !b->out_head;
    if (b->out_tail)
        b->out_tail->next = m;
    else
        b->out_head = m;
    b->out_tail = m;
    b->out_bytes += len;
    if (was_empty)
        pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return true;
}

size_t tdm_redis_bus_take(tdm_redis_bus *b,
                          void (*fn)(void *ctx, const char *session_id, const char *msg,
                                     size_t len),
                          void *ctx)
{
    if (!b)
        return 0;
    pthread_mutex_lock(&b->mu);
    bmsg *list = b->in_head;
    b->in_head = b->in_tail = NULL;
    pthread_mutex_unlock(&b->mu);
    size_t n = 0;
    for (bmsg *m = list; m; m = m->next, n++)
        fn(ctx, m->sid, m->subscribed ? NULL : m->data, m->len);
    free_list(list);
    return n;
}

void tdm_redis_bus_stats_get(tdm_redis_bus *b, tdm_redis_bus_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    *out = b->stats;
    pthread_mutex_unlock(&b->mu);
}
