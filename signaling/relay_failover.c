/* relay_failover.c: moving live sessions off lost relays (tdm_sig_failover.h). */
#define _GNU_SOURCE /* asprintf */
#include "tdm_sig_failover.h"

#include "signal_internal.h"
#include "tdm_sig_api.h"
#include "tdm_sig_hub.h"
#include "tdm_sig_registry.h"
#include "tdm_sig_serve_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define GONE_KEEP_MS (10 * 60 * 1000)
#define DRAIN_DEADLINE_DEFAULT_S 30
#define DRAIN_DEADLINE_MAX_S 86400
#define MOVES_PER_RUN 64

typedef struct tracked {
    uint64_t used_seq; /* 0: free */
    char sid[TDM_HB_ID_MAX + 1];
    char relay[TDM_HB_ID_MAX + 1];
    /* Media was handed out on another relay than before without a move
     * here (a client asked for media between the relay's loss and the
     * next run): the relay it was on, so the move still happens (audit,
     * the other participants told). "" otherwise. */
    char moved_from[TDM_HB_ID_MAX + 1];
    bool stuck; /* a move found no relay: said once in the log, retried quietly */
} tracked;

typedef struct mark {
    char id[TDM_HB_ID_MAX + 1]; /* "": free */
    int64_t gone_ms;            /* 0: not gone */
    bool drain;                 /* admin drain */
    int drain_deadline_s;
    int64_t drain_until_ms; /* then its sessions are moved off */
    int64_t last_gone_ts; /* replay check of POST /relays/gone */
} mark;

struct tdm_sig_failover {
    tdm_signal *sig;
    tdm_sig_hub *hub;
    const tdm_sig_serve_config *cfg;
    tracked *t; /* TDM_SIG_FAILOVER_SESSIONS */
    uint64_t seq;
    mark marks[TDM_SIG_FAILOVER_RELAYS];
};

const char *tdm_sig_move_reason_name(tdm_sig_move_reason r)
{
    switch (r) {
    case TDM_SIG_MOVE_GONE: return "gone";
    case TDM_SIG_MOVE_DRAINED: return "drained";
    case TDM_SIG_MOVE_ELSEWHERE: return "moved";
    default: return "lost";
    }
}

tdm_status tdm_sig_failover_new(tdm_signal *sig, tdm_sig_hub *hub, const tdm_sig_serve_config *cfg,
                                tdm_sig_failover **out, tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "failover_new: NULL argument");
    tdm_sig_failover *fo = calloc(1, sizeof *fo);
    if (fo)
        fo->t = calloc(TDM_SIG_FAILOVER_SESSIONS, sizeof *fo->t);
    if (!fo || !fo->t) {
        free(fo);
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    }
    fo->sig = sig;
    fo->hub = hub;
    fo->cfg = cfg;
    *out = fo;
    return TDM_OK;
}

void tdm_sig_failover_free(tdm_sig_failover *fo)
{
    if (!fo)
        return;
    free(fo->t);
    free(fo);
}

static tracked *find(const tdm_sig_failover *fo, const char *sid)
{
    for (size_t i = 0; fo && sid && i < TDM_SIG_FAILOVER_SESSIONS; i++)
        if (fo->t[i].used_seq && strcmp(fo->t[i].sid, sid) == 0)
            return &fo->t[i];
    return NULL;
}

void tdm_sig_failover_note(tdm_sig_failover *fo, const char *sid, const char *relay_id,
                           int64_t now_ms)
{
    (void)now_ms;
    if (!fo || !sid || !relay_id || strlen(sid) > TDM_HB_ID_MAX || strlen(relay_id) > TDM_HB_ID_MAX)
        return;
    tracked *e = find(fo, sid);
    if (e && !e->relay[0]) {
        memset(e->moved_from, 0, sizeof e->moved_from); /* the relay learned */
    } else if (!e) {
        e = &fo->t[0];
        for (size_t i = 0; i < TDM_SIG_FAILOVER_SESSIONS; i++) {
            if (!fo->t[i].used_seq) {
                e = &fo->t[i];
                break;
            }
            if (fo->t[i].used_seq < e->used_seq)
                e = &fo->t[i];
        }
        memset(e, 0, sizeof *e);
        snprintf(e->sid, sizeof e->sid, "%s", sid);
    } else if (relay_id[0] && strcmp(e->relay, relay_id) != 0 && !e->moved_from[0]) {
        /* A session changes relay only when its relay went away. */
        snprintf(e->moved_from, sizeof e->moved_from, "%s", e->relay);
    }
    snprintf(e->relay, sizeof e->relay, "%s", relay_id);
    e->used_seq = ++fo->seq;
}

void tdm_sig_failover_settle(tdm_sig_failover *fo, const char *sid, const char *relay_id,
                             int64_t now_ms)
{
    tdm_sig_failover_note(fo, sid, relay_id, now_ms);
    tracked *e = find(fo, sid);
    if (e) {
        e->moved_from[0] = '\0';
        e->stuck = false;
    }
}

void tdm_sig_failover_hub_auth(void *ctx, const char *sid)
{
    tdm_sig_failover *fo = ctx;
    if (!fo || !sid || find(fo, sid) || !fo->cfg || !fo->cfg->redis_url[0])
        return; /* one machine: the media handed out here is all there is */
    tdm_sig_failover_note(fo, sid, "", 0); /* relay unknown: resolved by run() */
}

void tdm_sig_failover_forget(tdm_sig_failover *fo, const char *sid)
{
    tracked *e = find(fo, sid);
    if (e)
        memset(e, 0, sizeof *e);
}

const char *tdm_sig_failover_relay_of(const tdm_sig_failover *fo, const char *sid)
{
    const tracked *e = find(fo, sid);
    return e ? e->relay : "";
}

static mark *mark_find(const tdm_sig_failover *fo, const char *id)
{
    for (size_t i = 0; fo && id && i < TDM_SIG_FAILOVER_RELAYS; i++)
        if (fo->marks[i].id[0] && strcmp(fo->marks[i].id, id) == 0)
            return (mark *)&fo->marks[i];
    return NULL;
}

static bool mark_idle(const mark *m, int64_t now_ms)
{
    return !m->drain && (!m->gone_ms || now_ms - m->gone_ms > GONE_KEEP_MS) &&
           !m->last_gone_ts;
}

/* The relay's mark, made if needed (an idle one is reused when full). */
static mark *mark_get(tdm_sig_failover *fo, const char *id, int64_t now_ms)
{
    mark *m = mark_find(fo, id);
    if (m || !id || strlen(id) > TDM_HB_ID_MAX)
        return m;
    for (size_t i = 0; i < TDM_SIG_FAILOVER_RELAYS && !m; i++)
        if (!fo->marks[i].id[0])
            m = &fo->marks[i];
    for (size_t i = 0; i < TDM_SIG_FAILOVER_RELAYS && !m; i++)
        if (mark_idle(&fo->marks[i], now_ms))
            m = &fo->marks[i];
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "%s", id);
    return m;
}

void tdm_sig_failover_gone(tdm_sig_failover *fo, const char *relay_id, int64_t now_ms)
{
    mark *m = mark_get(fo, relay_id, now_ms);
    if (m)
        m->gone_ms = now_ms ? now_ms : 1;
}

bool tdm_sig_failover_is_gone(const tdm_sig_failover *fo, const char *relay_id, int64_t now_ms)
{
    const mark *m = mark_find(fo, relay_id);
    return m && m->gone_ms && now_ms - m->gone_ms <= GONE_KEEP_MS;
}

size_t tdm_sig_failover_due(tdm_sig_failover *fo, const char *const *live_ids,
                            const bool *draining, size_t n_live, int64_t now_ms,
                            tdm_sig_move *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; fo && i < TDM_SIG_FAILOVER_SESSIONS && n < max; i++) {
        const tracked *e = &fo->t[i];
        if (!e->used_seq || !e->relay[0]) /* relay not known yet */
            continue;
        const char *from = e->moved_from[0] ? e->moved_from : e->relay;
        bool alive = false, drains = false;
        for (size_t k = 0; k < n_live && !alive; k++)
            if (live_ids[k] && strcmp(live_ids[k], from) == 0) {
                alive = true;
                drains = draining && draining[k];
            }
        bool gone = alive && tdm_sig_failover_is_gone(fo, from, now_ms);
        const mark *m = alive && !gone ? mark_find(fo, from) : NULL;
        bool drained = m && m->drain && now_ms >= m->drain_until_ms;
        if (alive && !gone && !drained && !e->moved_from[0] && !drains)
            continue;
        tdm_sig_move *mv = &out[n++];
        snprintf(mv->sid, sizeof mv->sid, "%s", e->sid);
        snprintf(mv->from, sizeof mv->from, "%s", from);
        mv->pending = e->moved_from[0] != '\0';
        mv->reason = gone                 ? TDM_SIG_MOVE_GONE
                     : drained            ? TDM_SIG_MOVE_DRAINED
                     : alive && !mv->pending ? TDM_SIG_MOVE_ELSEWHERE
                                          : TDM_SIG_MOVE_LOST;
    }
    return n;
}

void tdm_sig_failover_set_drain(tdm_sig_failover *fo, const char *relay_id, bool drain,
                                int deadline_s, int64_t now_ms)
{
    mark *m = drain ? mark_get(fo, relay_id, now_ms) : mark_find(fo, relay_id);
    if (!m)
        return;
    m->drain = drain;
    m->drain_deadline_s = deadline_s > 0 ? deadline_s : DRAIN_DEADLINE_DEFAULT_S;
    m->drain_until_ms = now_ms + (int64_t)m->drain_deadline_s * 1000;
}

bool tdm_sig_failover_drain_mark(const tdm_sig_failover *fo, const char *relay_id,
                                 int *deadline_s)
{
    const mark *m = mark_find(fo, relay_id);
    if (!m || !m->drain)
        return false;
    if (deadline_s)
        *deadline_s = m->drain_deadline_s;
    return true;
}

void tdm_sig_failover_on_heartbeat(tdm_sig_failover *fo, tdm_hb_report *rep, int64_t now_ms)
{
    (void)now_ms;
    mark *m = fo && rep ? mark_find(fo, rep->id) : NULL;
    if (!m)
        return;
    if (m->drain)
        rep->draining = true; /* before the relay itself hears of it */
    else if (!rep->draining)
        m->gone_ms = 0; /* back (restarted under the same id) */
}

/* --- acting --- */

static void log_add(char *log, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void log_add(char *log, size_t cap, const char *fmt, ...)
{
    if (!log || !cap)
        return;
    size_t used = strlen(log);
    if (used + 2 >= cap)
        return;
    if (used)
        log[used++] = ';', log[used++] = ' ', log[used] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(log + used, cap - used, fmt, ap);
    va_end(ap);
}

static tdm_status audit_move(tdm_sig_failover *fo, const char *sid, const char *from,
                             const char *to, tdm_sig_move_reason why, int64_t now_ms,
                             tdm_error *err)
{
    json_t *detail = json_pack("{s:s,s:s,s:s}", "from", from, "to", to, "reason",
                               tdm_sig_move_reason_name(why));
    tdm_status st = tdm_sig_store_begin(fo->sig->store, err);
    if (st != TDM_OK) {
        json_decref(detail);
        return st;
    }
    char actor[TDM_HB_ID_MAX + 8];
    snprintf(actor, sizeof actor, "relay:%s", from);
    st = tdm_sig__audit(fo->sig->store, sid, now_ms, actor, "relay_failover", to, detail, err);
    if (st == TDM_OK)
        st = tdm_sig_store_commit(fo->sig->store, err);
    if (st != TDM_OK)
        tdm_sig_store_rollback(fo->sig->store);
    return st;
}

/* Present participants of sid as a JSON array of ids (NULL: unreadable);
 * *ended when the session is over or unknown. */
static json_t *present(tdm_sig_failover *fo, const char *sid, bool *ended)
{
    char *text = NULL;
    tdm_signal_error err;
    *ended = false;
    if (tdm_signal_session_json(fo->sig, sid, &text, &err) != TDM_OK) {
        *ended = err.why != TDM_SIG_REFUSE_NONE; /* refused: unknown session */
        return NULL;
    }
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    const char *state = json_string_value(json_object_get(doc, "state"));
    *ended = state && strcmp(state, "ended") == 0;
    json_t *ids = json_array();
    json_t *p;
    size_t i;
    json_array_foreach (json_object_get(doc, "participants"), i, p) {
        const char *id = json_string_value(json_object_get(p, "id"));
        if (id)
            json_array_append_new(ids, json_string(id));
    }
    json_decref(doc);
    return ids;
}

/* One move; false when it must be tried again later. */
static bool move_one(tdm_sig_failover *fo, tdm_sig_api *api, const tdm_sig_move *mv,
                     int64_t now_ms, char *log, size_t cap)
{
    tdm_sig_registry *reg = tdm_sig_api_registry(api);
    bool ended = false;
    json_t *ids = present(fo, mv->sid, &ended);
    if (ended) {
        tdm_sig_failover_forget(fo, mv->sid);
        tdm_sig_registry_release(reg, mv->sid);
        json_decref(ids);
        return true;
    }
    if (!ids)
        return false; /* the store cannot answer now */
    const tdm_sig_relay_entry *e = NULL;
    tdm_error err = {{0}};
    /* Whether this call places the session anew (the counter counts new
     * placements only): if not, someone placed it already — another
     * instance with --redis, which audited the move — and only this
     * instance's sockets are left to tell. */
    uint64_t placements = tdm_sig_registry_counters_get(reg)->placements;
    tdm_status st = tdm_sig_registry_place(reg, mv->sid, now_ms, &e, &err);
    /* On a draining relay: moved only if another instance moved it. */
    if (mv->reason == TDM_SIG_MOVE_ELSEWHERE && (st != TDM_OK || strcmp(e->report.id, mv->from) == 0)) {
        json_decref(ids);
        return true;
    }
    /* A gone or drained relay is still in the registry (draining) and
     * keeps its sessions: its placement must be let go for place() to
     * choose another — unless it was already moved (another instance
     * with --redis, or a client's media request). */
    if (st == TDM_OK && strcmp(e->report.id, mv->from) == 0) {
        tdm_sig_registry_release(reg, mv->sid);
        st = tdm_sig_registry_place(reg, mv->sid, now_ms, &e, &err);
    }
    if (st != TDM_OK || strcmp(e->report.id, mv->from) == 0) {
        tracked *t = find(fo, mv->sid);
        if (t && !t->stuck)
            log_add(log, cap, "session %s on relay %s (%s): no relay to move it to (tried again "
                              "every second): %s",
                    mv->sid, mv->from, tdm_sig_move_reason_name(mv->reason),
                    err.msg[0] ? err.msg : "only the relay it leaves");
        if (t)
            t->stuck = true;
        json_decref(ids);
        return false;
    }
    char to[TDM_HB_ID_MAX + 1];
    snprintf(to, sizeof to, "%s", e->report.id);
    bool placed_here = tdm_sig_registry_counters_get(reg)->placements > placements;
    if ((placed_here || mv->pending) &&
        audit_move(fo, mv->sid, mv->from, to, mv->reason, now_ms, &err) != TDM_OK) {
        log_add(log, cap, "session %s: relay_failover not audited: %s", mv->sid, err.msg);
        json_decref(ids);
        return false;
    }
    tdm_sig_failover_settle(fo, mv->sid, to, now_ms);
    size_t told = 0;
    json_t *v;
    size_t i;
    json_array_foreach (ids, i, v) {
        const char *pid = json_string_value(v);
        tdm_sig_participant_row row;
        tdm_signal_error serr;
        if (!tdm_sig_hub_online(fo->hub, pid) ||
            tdm_signal_participant(fo->sig, pid, &row, &serr) != TDM_OK)
            continue;
        char *media = NULL;
        tdm_error merr = {{0}};
        if (tdm_sig_api_media_object(api, pid, mv->sid, row.kind, now_ms, &media, &merr) !=
            TDM_OK) {
            log_add(log, cap, "session %s: no media for %s: %s", mv->sid, pid, merr.msg);
            continue;
        }
        char *msg = NULL;
        if (asprintf(&msg,
                     "{\"type\":\"media\",\"event\":\"moved\",\"from\":\"%s\",\"reason\":\"%s\","
                     "\"media\":%s}",
                     mv->from, tdm_sig_move_reason_name(mv->reason), media) > 0) {
            told += tdm_sig_hub_send_participant(fo->hub, mv->sid, pid, msg, strlen(msg));
            free(msg);
        }
        free(media);
    }
    json_decref(ids);
    log_add(log, cap, "session %s moved from relay %s (%s) to %s, %zu socket(s) told", mv->sid,
            mv->from, tdm_sig_move_reason_name(mv->reason), to, told);
    return true;
}

/* Sessions with clients here whose relay is not known (tdm_sig_failover_hub_auth):
 * the shared placement says, a few per run. */
static void resolve_unknown(tdm_sig_failover *fo, tdm_sig_registry *reg, int64_t now_ms)
{
    size_t done = 0;
    for (size_t i = 0; i < TDM_SIG_FAILOVER_SESSIONS && done < 16; i++) {
        tracked *e = &fo->t[i];
        if (!e->used_seq || e->relay[0])
            continue;
        done++;
        const tdm_sig_relay_entry *r = NULL;
        if (tdm_sig_registry_place(reg, e->sid, now_ms, &r, NULL) == TDM_OK)
            snprintf(e->relay, sizeof e->relay, "%s", r->report.id);
    }
}

void tdm_sig_failover_run(tdm_sig_failover *fo, tdm_sig_api *api, int64_t now_ms, char *log,
                          size_t cap)
{
    if (log && cap)
        log[0] = '\0';
    if (!fo || !api || !fo->sig || !fo->hub)
        return;
    tdm_sig_registry *reg = tdm_sig_api_registry(api);
    const char *live_ids[TDM_SIG_REGISTRY_MAX];
    bool draining[TDM_SIG_REGISTRY_MAX];
    char ids[TDM_SIG_REGISTRY_MAX][TDM_HB_ID_MAX + 1];
    size_t n_live = tdm_sig_registry_count(reg, now_ms);
    if (n_live > TDM_SIG_REGISTRY_MAX)
        n_live = TDM_SIG_REGISTRY_MAX;
    for (size_t i = 0; i < n_live; i++) {
        const tdm_sig_relay_entry *e = tdm_sig_registry_at(reg, i);
        snprintf(ids[i], sizeof ids[i], "%s", e ? e->report.id : "");
        live_ids[i] = ids[i];
        draining[i] = e && e->report.draining;
    }
    resolve_unknown(fo, reg, now_ms);
    tdm_sig_move moves[MOVES_PER_RUN];
    size_t n = tdm_sig_failover_due(fo, live_ids, draining, n_live, now_ms, moves, MOVES_PER_RUN);
    for (size_t i = 0; i < n; i++)
        move_one(fo, api, &moves[i], now_ms, log, cap);
}

/* --- routes --- */

static void answer(tdm_sig_api_response *resp, int status, json_t *obj)
{
    resp->status = status;
    resp->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
}

static void answer_error(tdm_sig_api_response *resp, int status, const char *code,
                         const char *detail)
{
    answer(resp, status, json_pack("{s:s,s:s}", "error", code, "detail", detail));
}

bool tdm_sig_failover_owns(const char *const *seg, size_t n_seg)
{
    if (n_seg == 2 && strcmp(seg[0], "relays") == 0 && strcmp(seg[1], "gone") == 0)
        return true;
    return n_seg == 3 && strcmp(seg[0], "relays") == 0 && strcmp(seg[2], "drain") == 0;
}

tdm_status tdm_sig_failover_parse_gone(const uint8_t *body, size_t len,
                                      char id[TDM_HB_ID_MAX + 1], tdm_error *err)
{
    json_t *doc = body ? json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    const char *v = json_string_value(json_object_get(doc, "id"));
    bool ok = json_is_object(doc) && v && tdm_hb_id_ok(v);
    if (ok)
        snprintf(id, TDM_HB_ID_MAX + 1, "%s", v);
    json_decref(doc);
    return ok ? TDM_OK : tdm_fail(err, TDM_ERR_FORMAT, "want {\"id\": relay id}");
}

tdm_status tdm_sig_failover_parse_drain(const uint8_t *body, size_t len, int *deadline_s,
                                       tdm_error *err)
{
    *deadline_s = DRAIN_DEADLINE_DEFAULT_S;
    if (!body || len == 0)
        return TDM_OK;
    json_t *doc = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *d = json_object_get(doc, "deadline_s");
    bool ok = json_is_object(doc) &&
              (!d || (json_is_integer(d) && json_integer_value(d) >= 1 &&
                      json_integer_value(d) <= DRAIN_DEADLINE_MAX_S));
    if (ok && d)
        *deadline_s = (int)json_integer_value(d);
    json_decref(doc);
    return ok ? TDM_OK
              : tdm_fail(err, TDM_ERR_FORMAT, "body: {\"deadline_s\": 1..86400} (optional)");
}

/* POST /relays/gone: a relay leaving now, signed like its heartbeats,
 * replay-checked on a state of its own (per relay id). */
static void r_gone(tdm_sig_failover *fo, tdm_sig_api *api, const tdm_sig_api_request *req,
                   int64_t now_ms, tdm_sig_api_response *resp)
{
    if (!fo->cfg || fo->cfg->cluster_secret_len == 0) {
        answer_error(resp, 503, "unavailable", "relays are not configured (cluster_secret_file)");
        return;
    }
    int64_t ts = 0;
    tdm_error err = {{0}};
    if (tdm_hb_verify(fo->cfg->cluster_secret, fo->cfg->cluster_secret_len, req->authorization,
                      req->body, req->body_len, &ts, &err) != TDM_OK) {
        snprintf(resp->log, sizeof resp->log, "relay gone refused: %.200s", err.msg);
        answer_error(resp, 401, "bad_credentials", err.msg);
        return;
    }
    char rid[TDM_HB_ID_MAX + 1];
    if (tdm_sig_failover_parse_gone(req->body, req->body_len, rid, &err) != TDM_OK) {
        answer_error(resp, 400, "bad_request", err.msg);
        return;
    }
    int64_t skew = tdm_sig_registry_config_get(tdm_sig_api_registry(api))->skew_ms;
    mark *m = mark_get(fo, rid, now_ms);
    if (ts - now_ms > skew || now_ms - ts > skew || (m && ts <= m->last_gone_ts)) {
        snprintf(resp->log, sizeof resp->log, "relay gone from %s refused: stale or replayed",
                 rid);
        answer_error(resp, 401, "bad_credentials", "stale or replayed signature");
        return;
    }
    if (m)
        m->last_gone_ts = ts;
    tdm_sig_failover_gone(fo, rid, now_ms);
    char log[400];
    tdm_sig_failover_run(fo, api, now_ms, log, sizeof log);
    snprintf(resp->log, sizeof resp->log, "relay %.64s is leaving%s%.399s", rid,
             log[0] ? ": " : "", log);
    answer(resp, 200, json_pack("{s:s}", "id", rid));
}

/* Placement must skip the relay from now, not from its next heartbeat:
 * its last report is recorded again with draining set (signed time one
 * millisecond after the last accepted, so the relay's next real beat
 * still passes the replay check). */
static void drain_now(tdm_sig_api *api, const char *id, int64_t now_ms)
{
    tdm_sig_registry *reg = tdm_sig_api_registry(api);
    for (size_t i = 0, n = tdm_sig_registry_count(reg, now_ms); i < n; i++) {
        const tdm_sig_relay_entry *e = tdm_sig_registry_at(reg, i);
        if (!e || strcmp(e->report.id, id) != 0 || e->report.draining)
            continue;
        tdm_hb_report rep = e->report;
        rep.draining = true;
        if (e->is_static && !e->heartbeats)
            return; /* a configured relay that never beat: nothing to re-record */
        tdm_sig_registry_heartbeat(reg, &rep, e->last_ts_ms + 1, e->last_seen_ms, NULL, NULL);
        return;
    }
}

/* POST|DELETE /relays/{id}/drain, admin: no new session there from now;
 * its sessions go on until they end or deadline_s passes, then they are
 * moved off. The relay process keeps running (ops stop it when idle). */
static void r_drain(tdm_sig_failover *fo, tdm_sig_api *api, const tdm_sig_api_request *req,
                    const char *id, int64_t now_ms, tdm_sig_api_response *resp)
{
    (void)api;
    bool del = strcmp(req->method, "DELETE") == 0;
    if (!del && strcmp(req->method, "POST") != 0) {
        answer_error(resp, 405, "method_not_allowed", "POST or DELETE");
        return;
    }
    if (!req->authorization) {
        answer_error(resp, 401, "bad_credentials", "Authorization: Bearer <login token> required");
        return;
    }
    tdm_sig_user u;
    tdm_signal_error err;
    if (tdm_signal_authenticate(fo->sig, req->authorization, now_ms, &u, &err) != TDM_OK) {
        if (err.why != TDM_SIG_REFUSE_NONE)
            answer_error(resp, tdm_sig_refusal_http_status(err.why), tdm_sig_refusal_name(err.why),
                         err.detail.msg);
        else
            answer_error(resp, 500, "internal", err.detail.msg);
        return;
    }
    if (u.role != TDM_SIG_ROLE_ADMIN) {
        answer_error(resp, 403, "forbidden", "draining relays is for admins");
        return;
    }
    if (!tdm_hb_id_ok(id)) {
        answer_error(resp, 404, "not_found", "no such relay");
        return;
    }
    int deadline = 0;
    tdm_error perr = {{0}};
    if (tdm_sig_failover_parse_drain(req->body, req->body_len, &deadline, &perr) != TDM_OK) {
        answer_error(resp, 400, "bad_request", perr.msg);
        return;
    }
    if (!del && !mark_get(fo, id, now_ms)) {
        answer_error(resp, 503, "unavailable", "too many marked relays");
        return;
    }
    tdm_sig_failover_set_drain(fo, id, !del, deadline, now_ms);
    if (!del)
        drain_now(api, id, now_ms);
    snprintf(resp->log, sizeof resp->log, "relay %s %s by %s", id,
             del ? "no longer drained" : "drained", u.name);
    answer(resp, 200, json_pack("{s:s,s:b,s:i}", "id", id, "draining", !del, "deadline_s",
                                deadline));
}

void tdm_sig_failover_route(tdm_sig_failover *fo, tdm_sig_api *api,
                            const tdm_sig_api_request *req, const char *const *seg, size_t n_seg,
                            int64_t now_ms, tdm_sig_api_response *resp)
{
    if (n_seg == 2) {
        if (strcmp(req->method, "POST") != 0)
            answer_error(resp, 405, "method_not_allowed", "POST");
        else
            r_gone(fo, api, req, now_ms, resp);
    } else {
        r_drain(fo, api, req, seg[1], now_ms, resp);
    }
}
