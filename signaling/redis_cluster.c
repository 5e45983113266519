/* redis_cluster.c: one tandem-signal instance's wiring into the cluster
 * (tdm_redis_cluster.h). */
#include "tdm_redis_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "signal_internal.h"
#include "tdm_redis_bus.h"
#include "tdm_redis_envelope.h"
#include "tdm_redis_registry.h"

#define BUCKETS 256
#define INST_CAP (TDM_ENV_ID_MAX + 1)

/* A participant with sockets somewhere: here (inst "") or on instance inst. */
typedef struct presence {
    struct presence *next;
    char sid[TDM_SIG_ID_CAP], pid[TDM_SIG_ID_CAP], inst[INST_CAP];
    tdm_sig_kind kind;
    int64_t expires_ms; /* remote entries */
} presence;

struct tdm_redis_cluster {
    tdm_signal *sig;
    tdm_sig_hub *hub;
    tdm_sig_registry *reg;
    tdm_redis_bus *bus;
    tdm_redis_registry *rreg;
    char inst[INST_CAP];
    presence *local[BUCKETS], *remote[BUCKETS];
    int64_t now_ms, last_refresh_ms;
    uint64_t subscriptions_seen;
    bool resync_pending;
};

static unsigned hash_sid(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

static void publish(tdm_redis_cluster *c, const char *sid, tdm_redis_envelope *e)
{
    snprintf(e->inst, sizeof e->inst, "%s", c->inst);
    char *text = tdm_redis_envelope_format(e);
    if (text)
        tdm_redis_bus_publish(c->bus, sid, text, strlen(text));
    free(text);
}

/* --- hub hooks --- */

static void publish_data(tdm_redis_cluster *c, tdm_env_type type, const char *sid,
                         const char *msg, size_t len)
{
    tdm_redis_envelope e = {.type = type, .data = (char *)msg, .data_len = len};
    publish(c, sid, &e);
}

static void h_input(void *ctx, const char *sid, const char *msg, size_t len)
{
    publish_data(ctx, TDM_ENV_INPUT, sid, msg, len);
}

static void h_chat(void *ctx, const char *sid, const char *msg, size_t len)
{
    publish_data(ctx, TDM_ENV_CHAT, sid, msg, len);
}

static void h_changed(void *ctx, const char *sid, const char *event, const char *subject)
{
    tdm_redis_envelope e = {.type = TDM_ENV_CHANGED};
    snprintf(e.event, sizeof e.event, "%s", event);
    snprintf(e.subject, sizeof e.subject, "%s", subject);
    publish(ctx, sid, &e);
}

static presence **find(presence **table, const char *sid, const char *pid, const char *inst)
{
    presence **pp = &table[hash_sid(sid)];
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->sid, sid) == 0 && strcmp((*pp)->pid, pid) == 0 &&
            strcmp((*pp)->inst, inst) == 0)
            break;
    return pp;
}

static void set_presence(presence **table, const char *sid, const char *pid, const char *inst,
                         tdm_sig_kind kind, bool on, int64_t expires_ms)
{
    presence **pp = find(table, sid, pid, inst);
    if (!on) {
        if (*pp) {
            presence *p = *pp;
            *pp = p->next;
            free(p);
        }
        return;
    }
    if (!*pp) {
        presence *p = calloc(1, sizeof *p);
        if (!p)
            return;
        snprintf(p->sid, sizeof p->sid, "%s", sid);
        snprintf(p->pid, sizeof p->pid, "%s", pid);
        snprintf(p->inst, sizeof p->inst, "%s", inst);
        *pp = p;
    }
    (*pp)->kind = kind;
    (*pp)->expires_ms = expires_ms;
}

static void announce(tdm_redis_cluster *c, const presence *p, bool on)
{
    tdm_redis_envelope e = {.type = TDM_ENV_PRESENCE, .kind = (int)p->kind, .on = on};
    snprintf(e.pid, sizeof e.pid, "%s", p->pid);
    publish(c, p->sid, &e);
}

static bool has_session(presence *const *table, const char *sid)
{
    for (const presence *p = table[hash_sid(sid)]; p; p = p->next)
        if (strcmp(p->sid, sid) == 0)
            return true;
    return false;
}

static void h_presence(void *ctx, const char *sid, const char *pid, tdm_sig_kind kind, bool on)
{
    tdm_redis_cluster *c = ctx;
    bool had = has_session(c->local, sid);
    set_presence(c->local, sid, pid, "", kind, on, 0);
    bool has = has_session(c->local, sid);
    /* Hear a session's channel while this instance has sockets of it. */
    if (has != had)
        tdm_redis_bus_follow(c->bus, sid, has);
    if (!has) /* what other instances said of it no longer matters here */
        for (presence **pp = &c->remote[hash_sid(sid)]; *pp;) {
            if (strcmp((*pp)->sid, sid) == 0) {
                presence *p = *pp;
                *pp = p->next;
                free(p);
            } else {
                pp = &(*pp)->next;
            }
        }
    presence p = {.kind = kind};
    snprintf(p.sid, sizeof p.sid, "%s", sid);
    snprintf(p.pid, sizeof p.pid, "%s", pid);
    announce(c, &p, on);
}

static bool h_online_elsewhere(void *ctx, const char *sid, const char *pid)
{
    tdm_redis_cluster *c = ctx;
    for (const presence *p = c->remote[hash_sid(sid)]; p; p = p->next)
        if (p->expires_ms > c->now_ms && strcmp(p->sid, sid) == 0 &&
            (pid ? strcmp(p->pid, pid) == 0 : p->kind == TDM_SIG_KIND_CUSTOMER))
            return true;
    return false;
}

/* --- messages from other instances --- */

/* A participant's filter state on this instance (its profile, cached on
 * its first input event) is stale once another instance changed it. */
static void forget_live(tdm_redis_cluster *c, const char *pid)
{
    if (!pid || !pid[0] || !tdm_sig__live_find(c->sig, pid))
        return;
    tdm_sig_store *store = tdm_signal_store(c->sig);
    tdm_error err = {{0}};
    tdm_status st = tdm_sig_store_begin(store, &err);
    if (st == TDM_OK)
        st = tdm_sig__live_forget(c->sig, pid, &err);
    if (st == TDM_OK)
        st = tdm_sig_store_commit(store, &err);
    if (st != TDM_OK) {
        tdm_sig_store_rollback(store);
        /* Drop it anyway: a filter on a stale profile is worse than a lost count. */
        tdm_sig__live_drop(c->sig, pid);
        fprintf(stderr, "tandem-signal: cluster: %s\n", err.msg);
    }
}

static void on_message(void *ctx, const char *sid, const char *msg, size_t len)
{
    tdm_redis_cluster *c = ctx;
    if (!msg) { /* subscribed: catch up with what was said before */
        if (strlen(sid) < TDM_SIG_ID_CAP) {
            tdm_sig_hub_remote_subscribed(c->hub, sid, c->now_ms);
            /* Presence announced before the subscription took effect, here
             * or on another instance, may have crossed nobody: say again who
             * is here; an instance that hears a newcomer answers with its
             * own (below), so both sides know each other whichever of the
             * two subscriptions came last (seen: a customer joining on B
             * while A's subscription was pending stayed offline at A). */
            for (const presence *p = c->local[hash_sid(sid)]; p; p = p->next)
                if (strcmp(p->sid, sid) == 0)
                    announce(c, p, true);
        }
        return;
    }
    tdm_redis_envelope e;
    tdm_error err = {{0}};
    /* Malformed or our own: ignored (every instance hears itself). */
    if (strlen(sid) >= TDM_SIG_ID_CAP || tdm_redis_envelope_parse(msg, len, &e, &err) != TDM_OK ||
        strcmp(e.inst, c->inst) == 0) {
        tdm_redis_envelope_clear(&e);
        return;
    }
    switch (e.type) {
    case TDM_ENV_INPUT:
        tdm_sig_hub_remote_input(c->hub, sid, e.data, e.data_len);
        break;
    case TDM_ENV_CHAT:
        tdm_sig_hub_remote_chat(c->hub, sid, e.data, e.data_len);
        break;
    case TDM_ENV_CHANGED:
        if (strcmp(e.event, "profile_changed") == 0 || strcmp(e.event, "left") == 0 ||
            strcmp(e.event, "removed") == 0)
            forget_live(c, e.subject);
        tdm_sig_hub_remote_changed(c->hub, sid, e.event, e.subject, c->now_ms);
        break;
    case TDM_ENV_PRESENCE: {
        bool known = *find(c->remote, sid, e.pid, e.inst) != NULL;
        set_presence(c->remote, sid, e.pid, e.inst, (tdm_sig_kind)e.kind, e.on,
                     c->now_ms + TDM_CLUSTER_PRESENCE_TTL_MS);
        /* A newcomer to the session learns who is here now, not at the
         * next refresh. */
        if (e.on && !known) {
            for (const presence *p = c->local[hash_sid(sid)]; p; p = p->next)
                if (strcmp(p->sid, sid) == 0)
                    announce(c, p, true);
            /* Sockets here see the newcomer online now: its own "online"
             * change may have been published before this instance heard
             * the channel (a second, identical state push is harmless). */
            tdm_sig_hub_remote_changed(c->hub, sid, "online", e.pid, c->now_ms);
        }
        break;
    }
    }
    tdm_redis_envelope_clear(&e);
}

void tdm_redis_cluster_service(tdm_redis_cluster *c, int64_t now_ms)
{
    if (!c)
        return;
    c->now_ms = now_ms;
    tdm_redis_bus_take(c->bus, on_message, c);
}

static bool store_answers(tdm_redis_cluster *c)
{
    tdm_sig_session_row row;
    bool found = false;
    return tdm_sig_store_session_get(tdm_signal_store(c->sig), "s_probe", &row, &found, NULL) ==
           TDM_OK;
}

/* After an outage: what other instances published meanwhile is lost, so
 * every local session gets its state afresh from the store (event
 * "resync"), once per session. The sessions are collected first: pushing
 * may close sockets, which changes the presence table. */
static void resync(tdm_redis_cluster *c, int64_t now_ms)
{
    size_t n = 0, cap = 0;
    char (*sids)[TDM_SIG_ID_CAP] = NULL;
    for (unsigned b = 0; b < BUCKETS; b++)
        for (const presence *p = c->local[b]; p; p = p->next) {
            bool seen = false;
            for (size_t i = 0; i < n && !seen; i++)
                seen = strcmp(sids[i], p->sid) == 0;
            if (seen)
                continue;
            if (n == cap) {
                size_t ncap = cap ? 2 * cap : 16;
                void *grown = realloc(sids, ncap * sizeof *sids);
                if (!grown)
                    goto push;
                sids = grown;
                cap = ncap;
            }
            snprintf(sids[n++], TDM_SIG_ID_CAP, "%s", p->sid);
        }
push:
    fprintf(stderr, "tandem-signal: cluster: Redis is back; resynchronising %zu session(s)\n", n);
    for (size_t i = 0; i < n; i++)
        tdm_sig_hub_remote_changed(c->hub, sids[i], "resync", "", now_ms);
    free(sids);
}

void tdm_redis_cluster_tick(tdm_redis_cluster *c, int64_t now_ms)
{
    if (!c)
        return;
    c->now_ms = now_ms;
    tdm_redis_bus_stats st;
    tdm_redis_bus_stats_get(c->bus, &st);
    /* Back from an outage: announce at once rather than within a refresh. */
    /* Subscribed again since the last tick (however short the outage):
     * what was published meanwhile is lost. */
    bool back = st.subscriptions > 1 && st.subscriptions != c->subscriptions_seen;
    c->subscriptions_seen = st.subscriptions;
    if (back || now_ms - c->last_refresh_ms >= TDM_CLUSTER_PRESENCE_REFRESH_MS) {
        c->last_refresh_ms = now_ms;
        for (unsigned b = 0; b < BUCKETS; b++)
            for (const presence *p = c->local[b]; p; p = p->next)
                announce(c, p, true);
    }
    if (back)
        c->resync_pending = true;
    /* The push reads the store: wait until it answers too (its connection
     * comes back on its own schedule). */
    if (c->resync_pending && store_answers(c)) {
        c->resync_pending = false;
        resync(c, now_ms);
    }
    for (unsigned b = 0; b < BUCKETS; b++)
        for (presence **pp = &c->remote[b]; *pp;) {
            if ((*pp)->expires_ms <= now_ms) {
                presence *p = *pp;
                *pp = p->next;
                free(p);
            } else {
                pp = &(*pp)->next;
            }
        }
    tdm_redis_cluster_service(c, now_ms);
}

const char *tdm_redis_cluster_instance(const tdm_redis_cluster *c) { return c ? c->inst : ""; }

bool tdm_redis_cluster_redis_up(tdm_redis_cluster *c)
{
    if (!c)
        return true;
    tdm_redis_bus_stats st;
    tdm_redis_bus_stats_get(c->bus, &st);
    return st.sub_connected;
}

tdm_status tdm_redis_cluster_new(const char *url, tdm_signal *sig, tdm_sig_hub *hub,
                                 tdm_sig_registry *reg, void (*wake)(void *ctx), void *wake_ctx,
                                 tdm_redis_cluster **out, tdm_error *err)
{
    *out = NULL;
    tdm_redis_addr addr;
    tdm_status st = tdm_redis_url_parse(url, &addr, err);
    if (st != TDM_OK)
        return st;
    tdm_redis_cluster *c = calloc(1, sizeof *c);
    if (!c)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    c->sig = sig;
    c->hub = hub;
    c->reg = reg;
    uint8_t rnd[8];
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        free(c);
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "cluster: no random bytes");
    }
    snprintf(c->inst, sizeof c->inst, "i_%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    if ((st = tdm_redis_registry_new(&addr, &c->rreg, err)) == TDM_OK)
        st = tdm_redis_bus_new(&addr, wake, wake_ctx, &c->bus, err);
    if (st != TDM_OK) {
        tdm_redis_cluster_free(c);
        return st;
    }
    tdm_sig_registry_remote rr;
    tdm_redis_registry_remote(c->rreg, &rr);
    tdm_sig_registry_set_remote(reg, &rr);
    tdm_sig_hub_cluster hc = {.input = h_input,
                              .chat = h_chat,
                              .changed = h_changed,
                              .presence = h_presence,
                              .online_elsewhere = h_online_elsewhere,
                              .ctx = c};
    tdm_sig_hub_set_cluster(hub, &hc);
    *out = c;
    return TDM_OK;
}

void tdm_redis_cluster_free(tdm_redis_cluster *c)
{
    if (!c)
        return;
    if (c->hub)
        tdm_sig_hub_set_cluster(c->hub, NULL);
    if (c->reg)
        tdm_sig_registry_set_remote(c->reg, NULL);
    tdm_redis_bus_free(c->bus);
    tdm_redis_registry_free(c->rreg);
    for (unsigned b = 0; b < BUCKETS; b++) {
        for (presence *p = c->local[b], *n; p; p = n) {
            n = p->next;
            free(p);
        }
        for (presence *p = c->remote[b], *n; p; p = n) {
            n = p->next;
            free(p);
        }
    }
    free(c);
}
