/* registry.c: the relay registry and session placement (tdm_sig_registry.h). */
#include "tdm_sig_registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define ASSIGN_BUCKETS 4096
#define SID_MAX 64

typedef struct assign {
    struct assign *next;
    char sid[SID_MAX + 1];
    char relay[TDM_HB_ID_MAX + 1];
} assign;

struct tdm_sig_registry {
    tdm_sig_registry_config cfg;
    tdm_sig_relay_entry e[TDM_SIG_REGISTRY_MAX];
    bool used[TDM_SIG_REGISTRY_MAX];
    assign *assigned[ASSIGN_BUCKETS];
    tdm_sig_registry_counters counters;
    /* Ids dropped since the last take_dropped, whichever call dropped them
     * (expiry runs lazily in every call), so the shell logs each drop. */
    char dropped_log[256];
    /* The shared backend, when set (remote.heartbeat non-NULL): the table
     * above then only holds static entries and the last listing. */
    tdm_sig_registry_remote remote;
    tdm_sig_relay_entry scratch;      /* what heartbeat/place return */
    tdm_sig_relay_entry listed[TDM_SIG_REGISTRY_MAX];
    tdm_sig_relay_entry statics[TDM_SIG_REGISTRY_MAX];
    size_t n_listed, n_statics;
    int64_t statics_pushed_ms;
};

static bool remote_on(const tdm_sig_registry *reg) { return reg && reg->remote.heartbeat; }

/* Pushes the static entries to the backend (they expire there like
 * heartbeats, so they are refreshed well within the TTL). */
static void push_statics(tdm_sig_registry *reg, int64_t now_ms)
{
    if (now_ms - reg->statics_pushed_ms < reg->cfg.ttl_ms / 3)
        return;
    reg->statics_pushed_ms = now_ms;
    for (size_t i = 0; i < reg->n_statics; i++) {
        tdm_sig_relay_entry out;
        reg->remote.heartbeat(reg->remote.ctx, &reg->statics[i].report, true, 0, now_ms,
                              reg->cfg.ttl_ms, reg->cfg.skew_ms, &out, NULL);
    }
}

void tdm_sig_registry_set_remote(tdm_sig_registry *reg, const tdm_sig_registry_remote *remote)
{
    if (!reg)
        return;
    memset(&reg->remote, 0, sizeof reg->remote);
    reg->n_statics = 0;
    if (!remote || !remote->heartbeat)
        return;
    reg->remote = *remote;
    for (size_t i = 0; i < TDM_SIG_REGISTRY_MAX; i++)
        if (reg->used[i] && reg->e[i].is_static)
            reg->statics[reg->n_statics++] = reg->e[i];
    reg->statics_pushed_ms = INT64_MIN / 2;
}

tdm_status tdm_sig_registry_new(const tdm_sig_registry_config *cfg, tdm_sig_registry **out,
                                tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "registry_new: NULL argument");
    tdm_sig_registry *r = calloc(1, sizeof *r);
    if (!r)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    if (cfg)
        r->cfg = *cfg;
    if (r->cfg.ttl_ms <= 0)
        r->cfg.ttl_ms = 3000;
    if (r->cfg.skew_ms <= 0)
        r->cfg.skew_ms = 30000;
    *out = r;
    return TDM_OK;
}

void tdm_sig_registry_free(tdm_sig_registry *reg)
{
    if (!reg)
        return;
    for (size_t b = 0; b < ASSIGN_BUCKETS; b++)
        for (assign *a = reg->assigned[b], *next; a; a = next) {
            next = a->next;
            free(a);
        }
    free(reg);
}

static unsigned bucket_of(const char *sid)
{
    unsigned h = 2166136261u;
    for (const char *s = sid; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % ASSIGN_BUCKETS;
}

static tdm_sig_relay_entry *find(tdm_sig_registry *reg, const char *id)
{
    for (size_t i = 0; i < TDM_SIG_REGISTRY_MAX; i++)
        if (reg->used[i] && strcmp(reg->e[i].report.id, id) == 0)
            return &reg->e[i];
    return NULL;
}

static tdm_sig_relay_entry *slot(tdm_sig_registry *reg)
{
    for (size_t i = 0; i < TDM_SIG_REGISTRY_MAX; i++)
        if (!reg->used[i]) {
            reg->used[i] = true;
            memset(&reg->e[i], 0, sizeof reg->e[i]);
            return &reg->e[i];
        }
    return NULL;
}

/* Placements on a dropped relay are forgotten: its sessions get a live
 * relay the next time their media is asked for. */
static void forget_placements(tdm_sig_registry *reg, const char *relay)
{
    for (size_t b = 0; b < ASSIGN_BUCKETS; b++)
        for (assign **pp = &reg->assigned[b]; *pp;) {
            assign *a = *pp;
            if (strcmp(a->relay, relay) == 0) {
                *pp = a->next;
                free(a);
            } else {
                pp = &a->next;
            }
        }
}

size_t tdm_sig_registry_expire(tdm_sig_registry *reg, int64_t now_ms, char *dropped, size_t cap)
{
    size_t n = 0, len = 0;
    if (dropped && cap)
        dropped[0] = '\0';
    if (remote_on(reg)) { /* the backend's TTL expires relays */
        push_statics(reg, now_ms);
        return 0;
    }
    for (size_t i = 0; reg && i < TDM_SIG_REGISTRY_MAX; i++) {
        if (!reg->used[i])
            continue;
        tdm_sig_relay_entry *e = &reg->e[i];
        if (e->live && !e->is_static && now_ms - e->last_seen_ms > reg->cfg.ttl_ms) {
            e->live = false;
            e->placed = 0;
            forget_placements(reg, e->report.id);
            reg->counters.dropped++;
            size_t dl = strlen(reg->dropped_log);
            if (dl + strlen(e->report.id) + 2 < sizeof reg->dropped_log)
                snprintf(reg->dropped_log + dl, sizeof reg->dropped_log - dl, "%s%s",
                         dl ? "," : "", e->report.id);
            if (dropped && len < cap) {
                int w = snprintf(dropped + len, cap - len, "%s%s", n ? "," : "", e->report.id);
                len = w < 0 ? cap : len + (size_t)w;
            }
            n++;
        }
        /* A tombstone is needed only while a heartbeat it has seen could
         * still pass the skew check. */
        if (!e->live && now_ms - e->last_ts_ms > reg->cfg.skew_ms &&
            now_ms - e->last_seen_ms > reg->cfg.skew_ms)
            reg->used[i] = false;
    }
    return n;
}

tdm_status tdm_sig_registry_add_static(tdm_sig_registry *reg, const char *id, const char *url,
                                       tdm_error *err)
{
    if (!reg || !tdm_hb_id_ok(id) || !tdm_hb_url_ok(url))
        return tdm_fail(err, TDM_ERR_INVALID, "registry: static relay needs an id and a URL");
    tdm_sig_relay_entry *e = find(reg, id);
    if (!e && !(e = slot(reg)))
        return tdm_fail(err, TDM_ERR_RANGE, "registry: more than %d relays",
                        TDM_SIG_REGISTRY_MAX);
    snprintf(e->report.id, sizeof e->report.id, "%s", id);
    snprintf(e->report.node, sizeof e->report.node, "%s", id);
    snprintf(e->report.url, sizeof e->report.url, "%s", url);
    size_t ul = strlen(e->report.url);
    while (ul && e->report.url[ul - 1] == '/')
        e->report.url[--ul] = '\0';
    e->is_static = true;
    e->live = true;
    return TDM_OK;
}

static tdm_status get_u64(json_t *o, const char *key, uint64_t *out, tdm_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return TDM_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: load.%s must be a non-negative integer",
                        key);
    *out = (uint64_t)json_integer_value(v);
    return TDM_OK;
}

static tdm_status get_real(json_t *o, const char *key, double *out, tdm_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return TDM_OK;
    if (!json_is_number(v) || json_number_value(v) < 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: load.%s must be a non-negative number",
                        key);
    *out = json_number_value(v);
    return TDM_OK;
}

static tdm_status parse_doc(json_t *doc, tdm_hb_report *out, tdm_error *err)
{
    if (!json_is_object(doc))
        return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: body is not a JSON object");
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *node = json_string_value(json_object_get(doc, "node"));
    const char *url = json_string_value(json_object_get(doc, "url"));
    if (!tdm_hb_id_ok(id))
        return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: id: 1..%d of [A-Za-z0-9._~:-]",
                        TDM_HB_ID_MAX);
    if (json_object_get(doc, "node") && !tdm_hb_id_ok(node))
        return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: node: 1..%d of [A-Za-z0-9._~:-]",
                        TDM_HB_ID_MAX);
    if (!tdm_hb_url_ok(url))
        return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: url: an http(s) URL");
    json_t *dr = json_object_get(doc, "draining");
    if (dr && !json_is_boolean(dr))
        return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: draining must be true or false");
    json_t *load = json_object_get(doc, "load");
    if (load && !json_is_object(load))
        return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: load must be an object");
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", id);
    snprintf(out->node, sizeof out->node, "%s", node ? node : id);
    snprintf(out->url, sizeof out->url, "%s", url);
    size_t ul = strlen(out->url);
    while (ul && out->url[ul - 1] == '/')
        out->url[--ul] = '\0';
    out->draining = dr && json_is_true(dr);
    tdm_hb_load *l = &out->load;
    uint64_t workers = 0;
    tdm_status st;
    if ((st = get_u64(load, "sessions", &l->sessions, err)) ||
        (st = get_u64(load, "endpoints", &l->endpoints, err)) ||
        (st = get_u64(load, "packets_in_total", &l->packets_in_total, err)) ||
        (st = get_u64(load, "packets_out_total", &l->packets_out_total, err)) ||
        (st = get_u64(load, "workers", &workers, err)) ||
        (st = get_real(load, "packets_per_s", &l->packets_per_s, err)) ||
        (st = get_real(load, "cpu_seconds_total", &l->cpu_seconds_total, err)) ||
        (st = get_real(load, "cpu_load", &l->cpu_load, err)))
        return st;
    l->workers = workers > UINT32_MAX ? UINT32_MAX : (uint32_t)workers;
    return TDM_OK;
}

tdm_status tdm_sig_registry_parse(const uint8_t *body, size_t len, tdm_hb_report *out,
                                  tdm_error *err)
{
    if (!body || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "registry_parse: NULL argument");
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return tdm_fail(err, TDM_ERR_FORMAT, "heartbeat: not JSON (%s)", jerr.text);
    tdm_status st = parse_doc(doc, out, err);
    json_decref(doc);
    return st;
}

tdm_status tdm_sig_registry_heartbeat(tdm_sig_registry *reg, const tdm_hb_report *rep,
                                      int64_t ts_ms, int64_t now_ms,
                                      const tdm_sig_relay_entry **entry, tdm_error *err)
{
    if (!reg || !rep)
        return tdm_fail(err, TDM_ERR_INVALID, "registry_heartbeat: NULL argument");
    tdm_sig_registry_expire(reg, now_ms, NULL, 0);
    int64_t skew = ts_ms - now_ms;
    if (skew > reg->cfg.skew_ms || -skew > reg->cfg.skew_ms) {
        reg->counters.refused_stale++;
        return tdm_fail(err, TDM_ERR_INVALID,
                        "heartbeat: timestamp %lld ms away from the server's clock (> %lld)",
                        (long long)skew, (long long)reg->cfg.skew_ms);
    }
    if (remote_on(reg)) {
        tdm_status st = reg->remote.heartbeat(reg->remote.ctx, rep, false, ts_ms, now_ms,
                                              reg->cfg.ttl_ms, reg->cfg.skew_ms, &reg->scratch,
                                              err);
        if (st == TDM_ERR_INVALID)
            reg->counters.refused_replay++;
        else if (st == TDM_OK)
            reg->counters.accepted++;
        if (st == TDM_OK && entry)
            *entry = &reg->scratch;
        return st;
    }
    tdm_sig_relay_entry *e = find(reg, rep->id);
    if (e && e->last_ts_ms && ts_ms <= e->last_ts_ms) {
        reg->counters.refused_replay++;
        return tdm_fail(err, TDM_ERR_INVALID,
                        "heartbeat: timestamp not newer than the last accepted (replay?)");
    }
    if (!e && !(e = slot(reg))) {
        reg->counters.refused_full++;
        return tdm_fail(err, TDM_ERR_RANGE, "registry: more than %d relays",
                        TDM_SIG_REGISTRY_MAX);
    }
    if (!e->live) { /* new, or back after being dropped */
        e->first_seen_ms = now_ms;
        e->heartbeats = 0;
        e->placed = 0;
    }
    e->report = *rep;
    e->live = true;
    e->last_seen_ms = now_ms;
    e->last_ts_ms = ts_ms;
    e->heartbeats++;
    reg->counters.accepted++;
    if (entry)
        *entry = e;
    return TDM_OK;
}

uint64_t tdm_sig_registry_note_refused_auth(tdm_sig_registry *reg)
{
    return reg ? ++reg->counters.refused_auth : 0;
}

uint64_t tdm_sig_registry_session_load(const tdm_sig_relay_entry *e)
{
    return e->report.load.sessions > e->placed ? e->report.load.sessions : e->placed;
}

/* Whether a is a better home for a new session than b. */
static bool better(const tdm_sig_relay_entry *a, const tdm_sig_relay_entry *b)
{
    uint64_t la = tdm_sig_registry_session_load(a), lb = tdm_sig_registry_session_load(b);
    if (la != lb)
        return la < lb;
    if (a->report.load.packets_per_s != b->report.load.packets_per_s)
        return a->report.load.packets_per_s < b->report.load.packets_per_s;
    if (a->report.load.cpu_load != b->report.load.cpu_load)
        return a->report.load.cpu_load < b->report.load.cpu_load;
    return strcmp(a->report.id, b->report.id) < 0;
}

tdm_status tdm_sig_registry_place(tdm_sig_registry *reg, const char *sid, int64_t now_ms,
                                  const tdm_sig_relay_entry **out, tdm_error *err)
{
    if (!reg || !sid || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "registry_place: NULL argument");
    if (!sid[0] || strlen(sid) > SID_MAX)
        return tdm_fail(err, TDM_ERR_INVALID, "registry_place: bad session id");
    tdm_sig_registry_expire(reg, now_ms, NULL, 0);
    if (remote_on(reg)) {
        bool is_new = false;
        tdm_status st = reg->remote.place(reg->remote.ctx, sid, reg->cfg.max_sessions, now_ms,
                                          &reg->scratch, &is_new, err);
        if (st == TDM_OK) {
            reg->counters.placements += is_new;
            *out = &reg->scratch;
        }
        return st;
    }
    unsigned b = bucket_of(sid);
    for (assign *a = reg->assigned[b]; a; a = a->next)
        if (strcmp(a->sid, sid) == 0) {
            /* expire() removes placements on dropped relays, so this one lives. */
            tdm_sig_relay_entry *e = find(reg, a->relay);
            if (e && e->live) {
                *out = e;
                return TDM_OK;
            }
            break;
        }
    tdm_sig_relay_entry *best = NULL;
    for (size_t i = 0; i < TDM_SIG_REGISTRY_MAX; i++) {
        tdm_sig_relay_entry *e = &reg->e[i];
        if (!reg->used[i] || !e->live || e->report.draining)
            continue;
        if (reg->cfg.max_sessions && tdm_sig_registry_session_load(e) >= reg->cfg.max_sessions)
            continue;
        if (!best || better(e, best))
            best = e;
    }
    if (!best)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE,
                        "no relay can take a new session (none live, or all draining or full)");
    tdm_sig_registry_release(reg, sid); /* a stale placement, if any */
    assign *a = calloc(1, sizeof *a);
    if (!a)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    snprintf(a->sid, sizeof a->sid, "%s", sid);
    snprintf(a->relay, sizeof a->relay, "%s", best->report.id);
    a->next = reg->assigned[b];
    reg->assigned[b] = a;
    best->placed++;
    reg->counters.placements++;
    *out = best;
    return TDM_OK;
}

void tdm_sig_registry_release(tdm_sig_registry *reg, const char *sid)
{
    if (!reg || !sid)
        return;
    if (remote_on(reg)) {
        reg->remote.release(reg->remote.ctx, sid);
        return;
    }
    for (assign **pp = &reg->assigned[bucket_of(sid)]; *pp; pp = &(*pp)->next) {
        assign *a = *pp;
        if (strcmp(a->sid, sid) == 0) {
            tdm_sig_relay_entry *e = find(reg, a->relay);
            if (e && e->placed)
                e->placed--;
            *pp = a->next;
            free(a);
            return;
        }
    }
}

size_t tdm_sig_registry_count(tdm_sig_registry *reg, int64_t now_ms)
{
    if (!reg)
        return 0;
    tdm_sig_registry_expire(reg, now_ms, NULL, 0);
    if (remote_on(reg)) {
        /* A backend that cannot be read lists nothing (the caller's answer
         * then says so by being empty; heartbeats get their 503). */
        if (reg->remote.list(reg->remote.ctx, now_ms, reg->listed, TDM_SIG_REGISTRY_MAX,
                             &reg->n_listed, NULL) != TDM_OK)
            reg->n_listed = 0;
        return reg->n_listed;
    }
    size_t n = 0;
    for (size_t i = 0; i < TDM_SIG_REGISTRY_MAX; i++)
        n += reg->used[i] && reg->e[i].live;
    return n;
}

const tdm_sig_relay_entry *tdm_sig_registry_at(const tdm_sig_registry *reg, size_t i)
{
    if (remote_on(reg))
        return i < reg->n_listed ? &reg->listed[i] : NULL;
    for (size_t k = 0; reg && k < TDM_SIG_REGISTRY_MAX; k++)
        if (reg->used[k] && reg->e[k].live && i-- == 0)
            return &reg->e[k];
    return NULL;
}

const tdm_sig_registry_counters *tdm_sig_registry_counters_get(const tdm_sig_registry *reg)
{
    return &reg->counters;
}

const tdm_sig_registry_config *tdm_sig_registry_config_get(const tdm_sig_registry *reg)
{
    return &reg->cfg;
}

bool tdm_sig_registry_take_dropped(tdm_sig_registry *reg, char *out, size_t cap)
{
    if (!reg || !reg->dropped_log[0])
        return false;
    if (out && cap)
        snprintf(out, cap, "%s", reg->dropped_log);
    reg->dropped_log[0] = '\0';
    return true;
}
