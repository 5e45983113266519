/* api.c: the HTTP API routes of tandem-signal (tdm_sig_api.h, API.md). */
#include "tdm_sig_api.h"
#include "tdm_sig_failover.h"
#include "tdm_redis_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define API_PREFIX "/api/v1/"
#define MAX_SEGS 6
#define AUDIT_LIMIT_DEFAULT 1000
#define AUDIT_LIMIT_MAX 10000

/* Which relays relay tokens of a session were minted for: where a
 * revocation must go. Bounded: the least recently used entry goes when
 * full, and a session without an entry is revoked on every live relay. */
#define ISSUED_MAX 1024
#define ISSUED_RELAYS 4
typedef struct issued {
    uint64_t used_seq; /* 0: free */
    char sid[TDM_HB_ID_MAX + 1];
    char relay[ISSUED_RELAYS][TDM_HB_ID_MAX + 1];
} issued;

struct tdm_sig_api {
    tdm_signal *sig;
    tdm_sig_hub *hub;
    const tdm_sig_serve_config *cfg;
    tdm_sig_registry *relays;
    tdm_sig_failover *failover; /* relay_failover.c: moves off lost relays, drain marks */
    issued *issued; /* ISSUED_MAX */
    uint64_t issued_seq;
    tdm_sig_revocation outbox[TDM_SIG_API_REVOKE_QUEUE];
    size_t n_outbox;
    uint64_t outbox_dropped;
    /* Replay state of POST /api/v1/relays/recording, apart from the
     * registry's heartbeat one: the relay signs both from one thread with
     * its wall clock, and sharing one "newer than the last" order would
     * refuse an event signed in the same millisecond as a beat. Per relay
     * id, the last accepted signed time; the relay keeps its event times
     * strictly increasing. */
    struct {
        char id[TDM_HB_ID_MAX + 1];
        int64_t last_ts_ms;
    } rec_replay[TDM_SIG_API_REC_RELAYS];
    uint64_t rec_refused;
};

/* One request in flight: what the route handlers share. */
typedef struct call {
    tdm_sig_api *api;
    const tdm_sig_api_request *req;
    int64_t now_ms;
    tdm_sig_api_response *resp;
    const char *seg[MAX_SEGS];
    size_t n_seg;
    json_t *body; /* the parsed body; {} when there was none */
} call;

bool tdm_sig_api_owns(const char *path)
{
    return path && (strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0 ||
                    strcmp(path, "/healthz") == 0);
}

/* Sets the response to obj (stolen). */
static void reply(call *c, int status, json_t *obj)
{
    c->resp->status = status;
    free(c->resp->body);
    c->resp->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
}

static void fail(call *c, int status, const char *code, const char *detail)
{
    /* A cluster whose Redis is away is unavailable, not broken (API.md "Cluster"). */
    if (status == 500 && detail &&
        strncmp(detail, TDM_REDIS_DOWN_PREFIX, sizeof TDM_REDIS_DOWN_PREFIX - 1) == 0) {
        status = 503;
        code = "unavailable";
    }
    reply(c, status, json_pack("{s:s,s:s}", "error", code, "detail", detail ? detail : ""));
}

/* A failed core call: a refusal's own status and name, else 500. */
static void fail_core(call *c, const tdm_signal_error *err)
{
    if (err->why != TDM_SIG_REFUSE_NONE)
        fail(c, tdm_sig_refusal_http_status(err->why), tdm_sig_refusal_name(err->why),
             err->detail.msg);
    else
        fail(c, 500, "internal", err->detail.msg);
}

static void ok_empty(call *c) { reply(c, 200, json_object()); }

static const char *body_str(call *c, const char *key)
{
    return json_string_value(json_object_get(c->body, key));
}

/* --- credentials --- */

static bool need_user(call *c, tdm_sig_user *u)
{
    if (!c->req->authorization) {
        fail(c, 401, "bad_credentials", "Authorization: Bearer <login token> required");
        return false;
    }
    tdm_signal_error err;
    if (tdm_signal_authenticate(c->api->sig, c->req->authorization, c->now_ms, u, &err) != TDM_OK) {
        fail_core(c, &err);
        return false;
    }
    return true;
}

/* The participant behind X-Tandem-Secret, who must be in session sid. */
static bool need_participant(call *c, const char *sid, tdm_sig_participant_row *p)
{
    if (!c->req->secret) {
        fail(c, 401, "bad_credentials", "X-Tandem-Secret: <participant secret> required");
        return false;
    }
    tdm_signal_error err;
    if (tdm_signal_participant_auth(c->api->sig, c->req->secret, c->now_ms, p, &err) != TDM_OK) {
        fail_core(c, &err);
        return false;
    }
    if (strcmp(p->session_id, sid) != 0) {
        fail(c, 403, "forbidden", "this secret belongs to another session");
        return false;
    }
    return true;
}

/* --- JSON pieces --- */

static json_t *list_json(const char *csv)
{
    json_t *a = json_array();
    const char *p = csv;
    while (a && p && *p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n)
            json_array_append_new(a, json_stringn(p, n));
        p = e ? e + 1 : NULL;
    }
    return a;
}

static json_t *user_json(const tdm_sig_user *u)
{
    return json_pack("{s:s,s:s,s:b,s:o}", "name", u->name, "role", tdm_sig_role_name(u->role),
                     "may_invite", u->may_invite, "invite_profiles",
                     list_json(u->invite_profiles));
}

static json_t *rights_json(const tdm_sig_profile *p)
{
    json_t *events = json_array(), *chords = json_array();
    for (int k = 0; k < TDM_SIG_IN_KIND_COUNT; k++)
        if (p->kinds & (1u << k))
            json_array_append_new(events, json_string(tdm_sig_input_kind_name(k)));
    for (unsigned i = 0; i < p->n_chords; i++) {
        char text[96];
        unsigned m = p->chords[i].mods;
        snprintf(text, sizeof text, "%s%s%s%s%s", m & TDM_SIG_MOD_CTRL ? "Ctrl+" : "",
                 m & TDM_SIG_MOD_ALT ? "Alt+" : "", m & TDM_SIG_MOD_SHIFT ? "Shift+" : "",
                 m & TDM_SIG_MOD_META ? "Meta+" : "", p->chords[i].key);
        json_array_append_new(chords, json_string(text));
    }
    return json_pack("{s:s,s:o,s:o,s:{s:i,s:i}}", "name", p->name, "events", events,
                     "blocked_chords", chords, "rate", "per_second", (int)p->rate_per_s, "burst",
                     (int)p->burst);
}

/* --- revocations (tdm_sig_api.h) --- */

static issued *issued_find(tdm_sig_api *api, const char *sid)
{
    for (size_t i = 0; i < ISSUED_MAX; i++)
        if (api->issued[i].used_seq && strcmp(api->issued[i].sid, sid) == 0)
            return &api->issued[i];
    return NULL;
}

/* Notes that a relay token for sid was minted for relay_id. */
static void issued_note(tdm_sig_api *api, const char *sid, const char *relay_id)
{
    if (strlen(sid) > TDM_HB_ID_MAX)
        return; /* cannot be in a token either */
    issued *e = issued_find(api, sid);
    if (!e) {
        e = &api->issued[0];
        for (size_t i = 0; i < ISSUED_MAX; i++) {
            if (!api->issued[i].used_seq) {
                e = &api->issued[i];
                break;
            }
            if (api->issued[i].used_seq < e->used_seq)
                e = &api->issued[i];
        }
        memset(e, 0, sizeof *e);
        snprintf(e->sid, sizeof e->sid, "%s", sid);
    }
    e->used_seq = ++api->issued_seq;
    size_t k = 0;
    for (; k < ISSUED_RELAYS && e->relay[k][0]; k++)
        if (strcmp(e->relay[k], relay_id) == 0)
            return;
    if (k == ISSUED_RELAYS) { /* re-placed often: keep the newest */
        memmove(e->relay[0], e->relay[1], sizeof e->relay[0] * (ISSUED_RELAYS - 1));
        k = ISSUED_RELAYS - 1;
    }
    snprintf(e->relay[k], sizeof e->relay[k], "%s", relay_id);
}

static void outbox_push(tdm_sig_api *api, const tdm_sig_relay_entry *r, const char *sid,
                        const char *pid)
{
    if (api->n_outbox == TDM_SIG_API_REVOKE_QUEUE) {
        api->outbox_dropped++;
        return;
    }
    tdm_sig_revocation *v = &api->outbox[api->n_outbox++];
    memset(v, 0, sizeof *v);
    snprintf(v->url, sizeof v->url, "%s", r->report.url);
    snprintf(v->relay_id, sizeof v->relay_id, "%s", r->report.id);
    snprintf(v->session, sizeof v->session, "%s", sid);
    if (pid)
        snprintf(v->participant, sizeof v->participant, "%s", pid);
}

/* Queues the revocation of session sid (pid NULL) or of one participant of
 * it for every relay concerned. The session's entry is forgotten when the
 * whole session is revoked. */
static void queue_revoke(call *c, const char *sid, const char *pid)
{
    tdm_sig_api *api = c->api;
    if (strlen(sid) > TDM_HB_ID_MAX || (pid && strlen(pid) > TDM_HB_ID_MAX))
        return; /* no token could name it */
    issued *e = issued_find(api, sid);
    size_t n = tdm_sig_registry_count(api->relays, c->now_ms);
    for (size_t i = 0; i < n; i++) {
        const tdm_sig_relay_entry *r = tdm_sig_registry_at(api->relays, i);
        bool wanted = !e;
        for (size_t k = 0; e && k < ISSUED_RELAYS && e->relay[k][0]; k++)
            wanted = wanted || strcmp(e->relay[k], r->report.id) == 0;
        if (wanted)
            outbox_push(api, r, sid, pid);
    }
    if (e && !pid)
        memset(e, 0, sizeof *e);
}

/* Present participant ids of sid (a JSON array, new reference; NULL when
 * the session cannot be read) and whether it has ended. */
static json_t *present_ids(call *c, const char *sid, bool *ended)
{
    char *text = NULL;
    tdm_signal_error err;
    *ended = false;
    if (tdm_signal_session_json(c->api->sig, sid, &text, &err) != TDM_OK)
        return NULL;
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    if (!doc)
        return NULL;
    const char *state = json_string_value(json_object_get(doc, "state"));
    *ended = state && strcmp(state, "ended") == 0;
    json_t *ids = json_array();
    json_t *p;
    size_t i;
    json_array_foreach(json_object_get(doc, "participants"), i, p)
    {
        const char *id = json_string_value(json_object_get(p, "id"));
        if (id)
            json_array_append_new(ids, json_string(id));
    }
    json_decref(doc);
    return ids;
}

static bool ids_have(const json_t *ids, const char *id)
{
    json_t *v;
    size_t i;
    json_array_foreach(ids, i, v)
    {
        if (strcmp(json_string_value(v), id) == 0)
            return true;
    }
    return false;
}

/* After a change of who is in sid: revokes the whole session when it has
 * ended, else each participant of before that is no longer present (the
 * one who left or was removed, and invitees removed with the last rep). */
static void revoke_departed(call *c, const char *sid, json_t *before)
{
    bool ended = false;
    json_t *after = present_ids(c, sid, &ended);
    if (ended) {
        queue_revoke(c, sid, NULL);
    } else if (before && after) {
        json_t *v;
        size_t i;
        json_array_foreach(before, i, v)
        {
            if (!ids_have(after, json_string_value(v)))
                queue_revoke(c, sid, json_string_value(v));
        }
    }
    json_decref(after);
}

size_t tdm_sig_api_take_revocations(tdm_sig_api *api, tdm_sig_revocation *out, size_t max,
                                    uint64_t *dropped)
{
    if (!api)
        return 0;
    size_t n = api->n_outbox < max ? api->n_outbox : max;
    if (out && n) {
        memcpy(out, api->outbox, n * sizeof *out);
        memmove(api->outbox, api->outbox + n, (api->n_outbox - n) * sizeof *out);
    }
    api->n_outbox -= n;
    if (dropped)
        *dropped = api->outbox_dropped;
    api->outbox_dropped = 0;
    return n;
}

/* The media object of API.md for participant pid, or json null when no
 * relay is configured. false (response set) when the core refused. */
static bool media_json(call *c, const char *pid, const char *sid, tdm_sig_kind kind,
                       json_t **out)
{
    const tdm_sig_serve_config *cfg = c->api->cfg;
    const tdm_sig_relay_entry *e = NULL;
    tdm_error perr = {{0}};
    tdm_status pst = tdm_sig_registry_place(c->api->relays, sid, c->now_ms, &e, &perr);
    if (pst == TDM_ERR_UNAVAILABLE) { /* no relay can take it: ask again later */
        *out = json_null();
        return true;
    }
    if (pst != TDM_OK) {
        fail(c, 500, "internal", perr.msg);
        return false;
    }
    const tdm_hb_report *r = &e->report;
    char token[TDM_TOKEN_MAX_LEN];
    tdm_signal_error err;
    if (tdm_signal_relay_token(c->api->sig, pid, r->node, c->now_ms, token, sizeof token, &err) !=
        TDM_OK) {
        fail_core(c, &err);
        return false;
    }
    issued_note(c->api, sid, r->id);
    tdm_sig_failover_note(c->api->failover, sid, r->id, c->now_ms);
    const char *mk = kind == TDM_SIG_KIND_CUSTOMER ? "whip" : "whep";
    char url[TDM_HB_URL_MAX + 96];
    snprintf(url, sizeof url, "%s/%s/%s", r->url, mk, sid);
    json_t *turn = json_null();
    if (cfg->n_turn_urls > 0 && cfg->core.turn_secret) {
        char user[TDM_SIG_TURN_USER_CAP], pass[TDM_SIG_TURN_PASS_CAP];
        if (tdm_signal_turn_credentials(c->api->sig, pid, c->now_ms, user, pass, &err) != TDM_OK) {
            fail_core(c, &err);
            return false;
        }
        json_t *urls = json_array();
        for (unsigned i = 0; i < cfg->n_turn_urls; i++)
            json_array_append_new(urls, json_string(cfg->turn_urls[i]));
        turn = json_pack("{s:o,s:s,s:s}", "urls", urls, "username", user, "credential", pass);
    }
    *out = json_pack("{s:s,s:s,s:s,s:s,s:o}", "node", r->node, "url", url, "kind", mk, "token",
                     token, "turn", turn);
    return *out != NULL;
}

/* 201 for a join of any kind (customer, rep, invitee). */
static void reply_joined(call *c, const tdm_signal_joined *j)
{
    json_t *media;
    if (!media_json(c, j->participant_id, j->session_id, j->kind, &media))
        return;
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "session_id", j->session_id,
                          "participant_id", j->participant_id, "secret", j->secret, "kind",
                          tdm_sig_kind_name(j->kind), "profile", j->profile, "media", media);
    const tdm_sig_profile *p = tdm_sig_profiles_find(&c->api->cfg->profiles, j->profile);
    if (o && p)
        json_object_set_new(o, "rights", rights_json(p));
    reply(c, 201, o);
    tdm_sig_hub_session_changed(c->api->hub, j->session_id, "joined", j->participant_id,
                                c->now_ms);
}

/* --- routes --- */

static void r_login(call *c)
{
    const char *name = body_str(c, "name"), *pw = body_str(c, "password");
    if (!name || !pw) {
        fail(c, 400, "bad_request", "body: {\"name\":..,\"password\":..}");
        return;
    }
    tdm_signal_login_result res;
    tdm_signal_error err;
    if (tdm_signal_login(c->api->sig, name, pw, strlen(pw), c->now_ms, &res, &err) != TDM_OK) {
        fail_core(c, &err);
        return;
    }
    reply(c, 200,
          json_pack("{s:s,s:I,s:o}", "token", res.token, "expires_s", (json_int_t)res.expires_s,
                    "user", user_json(&res.user)));
}

static void r_logout(call *c)
{
    tdm_signal_error err;
    if (!c->req->authorization) {
        fail(c, 401, "bad_credentials", "Authorization: Bearer <login token> required");
        return;
    }
    if (tdm_signal_logout(c->api->sig, c->req->authorization, c->now_ms, &err) != TDM_OK)
        fail_core(c, &err);
    else
        ok_empty(c);
}

static void r_me(call *c)
{
    tdm_sig_user u;
    if (need_user(c, &u))
        reply(c, 200, json_pack("{s:o}", "user", user_json(&u)));
}

static void r_profiles(call *c)
{
    tdm_sig_user u;
    if (!need_user(c, &u))
        return;
    json_t *a = json_array();
    for (unsigned i = 0; i < c->api->cfg->profiles.count; i++)
        json_array_append_new(a, rights_json(&c->api->cfg->profiles.items[i]));
    reply(c, 200, json_pack("{s:o}", "profiles", a));
}

static void r_open(call *c)
{
    tdm_sig_user u;
    if (!need_user(c, &u))
        return;
    tdm_signal_opened o;
    tdm_signal_error err;
    if (tdm_signal_session_open(c->api->sig, u.name, c->now_ms, &o, &err) != TDM_OK) {
        fail_core(c, &err);
        return;
    }
    tdm_sig_participant_row p;
    if (tdm_signal_participant(c->api->sig, o.participant_id, &p, &err) != TDM_OK) {
        fail_core(c, &err);
        return;
    }
    json_t *media;
    if (!media_json(c, o.participant_id, o.session_id, TDM_SIG_KIND_REP, &media))
        return;
    reply(c, 201,
          json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:o}", "session_id", o.session_id,
                    "participant_id", o.participant_id, "secret", o.secret, "join_code",
                    o.join_code, "code_expires_s", (json_int_t)o.code_expires_s, "profile",
                    p.profile, "media", media));
}

static void r_join(call *c)
{
    const char *code = body_str(c, "code"), *name = body_str(c, "display_name");
    if (!code || !name) {
        fail(c, 400, "bad_request", "body: {\"code\":..,\"display_name\":..}");
        return;
    }
    tdm_signal_joined j;
    tdm_signal_error err;
    if (tdm_signal_customer_join(c->api->sig, code, name, c->now_ms, &j, &err) != TDM_OK)
        fail_core(c, &err);
    else
        reply_joined(c, &j);
}

static void r_accept(call *c)
{
    const char *token = body_str(c, "token"), *name = body_str(c, "display_name");
    if (!token || !name) {
        fail(c, 400, "bad_request", "body: {\"token\":..,\"display_name\":..}");
        return;
    }
    tdm_signal_joined j;
    tdm_signal_error err;
    if (tdm_signal_invite_accept(c->api->sig, token, name, c->now_ms, &j, &err) != TDM_OK)
        fail_core(c, &err);
    else
        reply_joined(c, &j);
}

static void r_rep_join(call *c, const char *sid)
{
    tdm_sig_user u;
    if (!need_user(c, &u))
        return;
    tdm_signal_joined j;
    tdm_signal_error err;
    if (tdm_signal_rep_join(c->api->sig, sid, u.name, c->now_ms, &j, &err) != TDM_OK)
        fail_core(c, &err);
    else
        reply_joined(c, &j);
}

static void r_state(call *c, const char *sid)
{
    tdm_signal_error err;
    if (c->req->secret || !c->req->authorization) {
        tdm_sig_participant_row p;
        if (!need_participant(c, sid, &p))
            return;
    } else {
        tdm_sig_user u;
        if (!need_user(c, &u))
            return;
        if (u.role != TDM_SIG_ROLE_ADMIN && u.role != TDM_SIG_ROLE_AUDITOR) {
            fail(c, 403, "forbidden", "reps see a session through their participant secret");
            return;
        }
    }
    char *text = NULL;
    if (tdm_sig_hub_state_json(c->api->hub, sid, &text, &err) != TDM_OK) {
        fail_core(c, &err);
        return;
    }
    reply(c, 200, json_loads(text, 0, NULL));
    free(text);
}

static void r_join_code(call *c, const char *sid)
{
    tdm_sig_participant_row p;
    if (!need_participant(c, sid, &p))
        return;
    tdm_signal_opened o;
    tdm_signal_error err;
    if (tdm_signal_join_code_renew(c->api->sig, p.id, c->now_ms, &o, &err) != TDM_OK)
        fail_core(c, &err);
    else
        reply(c, 200, json_pack("{s:s,s:I}", "join_code", o.join_code, "code_expires_s",
                                (json_int_t)o.code_expires_s));
}

static void r_media(call *c, const char *sid)
{
    tdm_sig_participant_row p;
    if (!need_participant(c, sid, &p))
        return;
    json_t *media;
    if (media_json(c, p.id, sid, p.kind, &media))
        reply(c, 200, json_pack("{s:o}", "media", media));
}

/* The owner-or-self actions that change who is in the session. */
static void r_leave(call *c, const char *sid)
{
    tdm_sig_participant_row p;
    if (!need_participant(c, sid, &p))
        return;
    bool ended;
    json_t *before = present_ids(c, sid, &ended);
    tdm_signal_error err;
    if (tdm_signal_leave(c->api->sig, p.id, c->now_ms, &err) != TDM_OK) {
        json_decref(before);
        fail_core(c, &err);
        return;
    }
    revoke_departed(c, sid, before);
    json_decref(before);
    ok_empty(c);
    tdm_sig_hub_session_changed(c->api->hub, sid, "left", p.id, c->now_ms);
}

static void r_transfer(call *c, const char *sid)
{
    tdm_sig_participant_row p;
    if (!need_participant(c, sid, &p))
        return;
    const char *to = body_str(c, "to");
    if (!to) {
        fail(c, 400, "bad_request", "body: {\"to\": participant id}");
        return;
    }
    tdm_signal_error err;
    if (tdm_signal_transfer(c->api->sig, p.id, to, c->now_ms, &err) != TDM_OK) {
        fail_core(c, &err);
        return;
    }
    ok_empty(c);
    tdm_sig_hub_session_changed(c->api->hub, sid, "owner_changed", to, c->now_ms);
}

static void r_remove(call *c, const char *sid, const char *target)
{
    tdm_sig_participant_row p;
    if (!need_participant(c, sid, &p))
        return;
    bool ended;
    json_t *before = present_ids(c, sid, &ended);
    tdm_signal_error err;
    if (tdm_signal_remove(c->api->sig, p.id, target, c->now_ms, &err) != TDM_OK) {
        json_decref(before);
        fail_core(c, &err);
        return;
    }
    revoke_departed(c, sid, before);
    json_decref(before);
    ok_empty(c);
    tdm_sig_hub_session_changed(c->api->hub, sid, "removed", target, c->now_ms);
}

static void r_set_profile(call *c, const char *sid, const char *target)
{
    tdm_sig_participant_row p;
    if (!need_participant(c, sid, &p))
        return;
    const char *profile = body_str(c, "profile");
    if (!profile) {
        fail(c, 400, "bad_request", "body: {\"profile\": name}");
        return;
    }
    tdm_signal_error err;
    if (tdm_signal_set_profile(c->api->sig, p.id, target, profile, c->now_ms, &err) != TDM_OK) {
        fail_core(c, &err);
        return;
    }
    ok_empty(c);
    tdm_sig_hub_session_changed(c->api->hub, sid, "profile_changed", target, c->now_ms);
}

static void r_end(call *c, const char *sid)
{
    tdm_sig_participant_row p;
    if (!need_participant(c, sid, &p))
        return;
    tdm_signal_error err;
    if (tdm_signal_end(c->api->sig, p.id, c->now_ms, &err) != TDM_OK) {
        fail_core(c, &err);
        return;
    }
    queue_revoke(c, sid, NULL); /* before release: the placement is still known */
    tdm_sig_registry_release(c->api->relays, sid);
    ok_empty(c);
    tdm_sig_hub_session_changed(c->api->hub, sid, "ended", p.id, c->now_ms);
}

static void r_invite(call *c, const char *sid)
{
    tdm_sig_participant_row p;
    if (!need_participant(c, sid, &p))
        return;
    const char *profile = body_str(c, "profile");
    json_t *ttl = json_object_get(c->body, "ttl_s");
    if (!profile || (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 0))) {
        fail(c, 400, "bad_request", "body: {\"profile\": name, \"ttl_s\": seconds (optional)}");
        return;
    }
    tdm_signal_invite inv;
    tdm_signal_error err;
    if (tdm_signal_invite_create(c->api->sig, p.id, profile, ttl ? json_integer_value(ttl) : 0,
                                 c->now_ms, &inv, &err) != TDM_OK) {
        fail_core(c, &err);
        return;
    }
    char link[TDM_SIG_URL_MAX + 96];
    snprintf(link, sizeof link, "%s/invite.html#token=%s", c->api->cfg->public_url, inv.token);
    reply(c, 201,
          json_pack("{s:s,s:s,s:s,s:s,s:I}", "invite_id", inv.invite_id, "token", inv.token,
                    "link", link, "profile", inv.profile, "expires_s",
                    (json_int_t)inv.expires_s));
}

static void r_revoke(call *c, const char *sid, const char *iid)
{
    tdm_sig_participant_row p;
    if (!need_participant(c, sid, &p))
        return;
    tdm_signal_error err;
    if (tdm_signal_invite_revoke(c->api->sig, p.id, iid, c->now_ms, &err) != TDM_OK)
        fail_core(c, &err);
    else
        ok_empty(c);
}

static bool query_int(const char *query, const char *key, int64_t *out)
{
    size_t kl = strlen(key);
    for (const char *p = query; p && *p;) {
        if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
            char *end;
            long long v = strtoll(p + kl + 1, &end, 10);
            if (end == p + kl + 1 || (*end && *end != '&') || v < 0)
                return false;
            *out = v;
            return true;
        }
        p = strchr(p, '&');
        p = p ? p + 1 : NULL;
    }
    return true;
}

static void r_audit(call *c, const char *sid)
{
    tdm_sig_user u;
    if (!need_user(c, &u))
        return;
    if (u.role != TDM_SIG_ROLE_AUDITOR && u.role != TDM_SIG_ROLE_ADMIN) {
        fail(c, 403, "forbidden", "the audit log is for auditors and admins");
        return;
    }
    int64_t after = 0, limit = AUDIT_LIMIT_DEFAULT;
    if (!query_int(c->req->query, "after", &after) || !query_int(c->req->query, "limit", &limit) ||
        limit == 0) {
        fail(c, 400, "bad_request", "query: after=<seq>&limit=<n>");
        return;
    }
    if (limit > AUDIT_LIMIT_MAX)
        limit = AUDIT_LIMIT_MAX;
    tdm_sig_session_row s;
    bool found = false;
    tdm_error err = {{0}};
    if (tdm_sig_store_session_get(tdm_signal_store(c->api->sig), sid, &s, &found, &err) !=
        TDM_OK) {
        fail(c, 500, "internal", err.msg);
        return;
    }
    if (!found) {
        fail(c, 404, "not_found", "no such session");
        return;
    }
    char *text = NULL;
    if (tdm_signal_audit_json(tdm_signal_store(c->api->sig), sid, after, (size_t)limit, &text,
                              &err) != TDM_OK) {
        fail(c, 500, "internal", err.msg);
        return;
    }
    json_t *entries = json_loads(text, 0, NULL);
    free(text);
    reply(c, 200, json_pack("{s:s,s:o}", "session", sid, "entries", entries ? entries : json_array()));
}

/* --- relays --- */

/* A relay's heartbeat (API.md "Relay heartbeat"). Every refusal is counted
 * in the registry and logged: a relay with the wrong secret or a skewed
 * clock must be visible to ops, not just silently absent. */
static void r_heartbeat(call *c)
{
    const tdm_sig_serve_config *cfg = c->api->cfg;
    tdm_sig_registry *reg = c->api->relays;
    if (cfg->cluster_secret_len == 0) {
        fail(c, 503, "unavailable", "relay heartbeats are not configured (cluster_secret_file)");
        return;
    }
    int64_t ts = 0;
    tdm_error err = {{0}};
    tdm_status st = tdm_hb_verify(cfg->cluster_secret, cfg->cluster_secret_len,
                                  c->req->authorization, c->req->body, c->req->body_len, &ts, &err);
    if (st != TDM_OK) {
        uint64_t n = tdm_sig_registry_note_refused_auth(reg);
        snprintf(c->resp->log, sizeof c->resp->log,
                 "relay heartbeat refused: %.180s (%llu refused so far)", err.msg,
                 (unsigned long long)n);
        fail(c, 401, "bad_credentials", err.msg);
        return;
    }
    tdm_hb_report rep;
    if (tdm_sig_registry_parse(c->req->body, c->req->body_len, &rep, &err) != TDM_OK) {
        fail(c, 400, "bad_request", err.msg);
        return;
    }
    tdm_sig_failover_on_heartbeat(c->api->failover, &rep, c->now_ms);
    const tdm_sig_relay_entry *e = NULL;
    bool was_live = false;
    for (size_t i = 0, n = tdm_sig_registry_count(reg, c->now_ms); i < n; i++)
        if (strcmp(tdm_sig_registry_at(reg, i)->report.id, rep.id) == 0)
            was_live = true;
    st = tdm_sig_registry_heartbeat(reg, &rep, ts, c->now_ms, &e, &err);
    if (st == TDM_ERR_INVALID) { /* stale or replayed: as good as no credentials */
        snprintf(c->resp->log, sizeof c->resp->log, "relay heartbeat from %s refused: %.150s",
                 rep.id, err.msg);
        fail(c, 401, "bad_credentials", err.msg);
        return;
    }
    if (st != TDM_OK) {
        fail(c, 503, "unavailable", err.msg);
        return;
    }
    if (!was_live)
        snprintf(c->resp->log, sizeof c->resp->log, "relay %s joined the registry at %.160s%s",
                 rep.id, rep.url, rep.draining ? " (draining)" : "");
    const tdm_sig_registry_config *rc = tdm_sig_registry_config_get(reg);
    reply(c, 200,
          json_pack("{s:s,s:I,s:I}", "id", e->report.id, "ttl_ms", (json_int_t)rc->ttl_ms,
                    "placed", (json_int_t)e->placed));
}

/* A relay's recording opened or closed (API.md "Relay recording events"):
 * signed like a heartbeat, checked for skew like one, replay-checked on a
 * state of its own (rec_replay), then audited on the session's chain. */
static void r_recording_event(call *c)
{
    const tdm_sig_serve_config *cfg = c->api->cfg;
    tdm_sig_api *a = c->api;
    if (cfg->cluster_secret_len == 0) {
        fail(c, 503, "unavailable", "relay events are not configured (cluster_secret_file)");
        return;
    }
    int64_t ts = 0;
    tdm_error err = {{0}};
    tdm_status st = tdm_hb_verify(cfg->cluster_secret, cfg->cluster_secret_len,
                                  c->req->authorization, c->req->body, c->req->body_len, &ts, &err);
    if (st != TDM_OK) {
        a->rec_refused++;
        snprintf(c->resp->log, sizeof c->resp->log,
                 "relay recording event refused: %.180s (%llu refused so far)", err.msg,
                 (unsigned long long)a->rec_refused);
        fail(c, 401, "bad_credentials", err.msg);
        return;
    }
    const char *relay = NULL, *sid = NULL, *event = NULL, *file = NULL, *hash = NULL;
    json_int_t packets = 0, dropped = 0, rts = 0;
    /* hash is null for "started": read apart, as json_unpack's "s" refuses null. */
    json_t *jh = json_object_get(c->body, "hash");
    if (json_is_string(jh))
        hash = json_string_value(jh);
    if (json_unpack(c->body, "{s:s,s:s,s:s,s:s,s?I,s?I,s:I}", "relay", &relay, "session", &sid,
                    "event", &event, "file", &file, "packets", &packets, "dropped", &dropped, "ts",
                    &rts) != 0 ||
        (jh && !json_is_string(jh) && !json_is_null(jh)) ||
        !tdm_hb_id_ok(relay) || (strcmp(event, "started") != 0 && strcmp(event, "stopped") != 0) ||
        !file[0] || strlen(file) > 511 || strchr(file, '/') || packets < 0 || dropped < 0) {
        fail(c, 400, "bad_request",
             "want {relay, session, event: started|stopped, file, hash, packets, dropped, ts}");
        return;
    }
    int64_t skew = tdm_sig_registry_config_get(a->relays)->skew_ms;
    if (ts - c->now_ms > skew || c->now_ms - ts > skew) {
        a->rec_refused++;
        snprintf(c->resp->log, sizeof c->resp->log,
                 "relay recording event from %s refused: signed %lld ms off our clock", relay,
                 (long long)(ts - c->now_ms));
        fail(c, 401, "bad_credentials", "signed time outside the allowed skew");
        return;
    }
    size_t slot = TDM_SIG_API_REC_RELAYS, oldest = 0;
    for (size_t i = 0; i < TDM_SIG_API_REC_RELAYS; i++) {
        if (strcmp(a->rec_replay[i].id, relay) == 0) {
            slot = i;
            break;
        }
        if (a->rec_replay[i].last_ts_ms < a->rec_replay[oldest].last_ts_ms)
            oldest = i;
    }
    if (slot < TDM_SIG_API_REC_RELAYS && ts <= a->rec_replay[slot].last_ts_ms) {
        a->rec_refused++;
        snprintf(c->resp->log, sizeof c->resp->log,
                 "relay recording event from %s refused: replayed or reordered (ts %lld)", relay,
                 (long long)ts);
        fail(c, 401, "bad_credentials", "timestamp not newer than the last accepted one");
        return;
    }
    tdm_signal_recording_event ev = {.relay_id = relay, .session_id = sid,
                                     .stopped = strcmp(event, "stopped") == 0, .file = file,
                                     .sha256 = hash, .packets = (uint64_t)packets,
                                     .dropped = (uint64_t)dropped, .relay_ts_ms = rts};
    tdm_signal_error serr;
    st = tdm_signal_recording_event_audit(a->sig, &ev, c->now_ms, &serr);
    if (st == TDM_OK || serr.why != TDM_SIG_REFUSE_NONE) {
        /* Accepted signatures are spent even when refused on content, so
         * the same request cannot be tried again. An evicted slot (more
         * relays than slots) falls back on the skew window alone. */
        if (slot == TDM_SIG_API_REC_RELAYS) {
            slot = oldest;
            snprintf(a->rec_replay[slot].id, sizeof a->rec_replay[slot].id, "%s", relay);
        }
        a->rec_replay[slot].last_ts_ms = ts;
    }
    if (st != TDM_OK) {
        snprintf(c->resp->log, sizeof c->resp->log,
                 "relay recording event %s of %.70s from %s refused: %.100s", event, sid, relay,
                 serr.detail.msg);
        fail_core(c, &serr);
        return;
    }
    snprintf(c->resp->log, sizeof c->resp->log, "recording %s of session %.70s on relay %s: %.150s",
             event, sid, relay, file);
    reply(c, 200, json_pack("{s:s,s:s}", "session", sid, "event", event));
}

static json_t *relay_json(const tdm_sig_relay_entry *e, int64_t now_ms)
{
    const tdm_hb_load *l = &e->report.load;
    return json_pack("{s:s,s:s,s:s,s:b,s:b,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:I}}",
                     "id", e->report.id, "node", e->report.node, "url", e->report.url,
                     "draining", e->report.draining, "static", e->is_static, "placed",
                     (json_int_t)e->placed, "session_load",
                     (json_int_t)tdm_sig_registry_session_load(e), "heartbeats",
                     (json_int_t)e->heartbeats, "last_seen_ms_ago",
                     (json_int_t)(e->is_static && !e->heartbeats ? -1
                                                                 : now_ms - e->last_seen_ms),
                     "load", "sessions", (json_int_t)l->sessions, "endpoints",
                     (json_int_t)l->endpoints, "packets_in_total",
                     (json_int_t)l->packets_in_total, "packets_out_total",
                     (json_int_t)l->packets_out_total, "packets_per_s", l->packets_per_s,
                     "cpu_seconds_total", l->cpu_seconds_total, "cpu_load", l->cpu_load,
                     "workers", (json_int_t)l->workers);
}

static void r_relays(call *c)
{
    tdm_sig_user u;
    if (!need_user(c, &u))
        return;
    if (u.role != TDM_SIG_ROLE_ADMIN) {
        fail(c, 403, "forbidden", "the relay registry is for admins");
        return;
    }
    tdm_sig_registry *reg = c->api->relays;
    json_t *a = json_array();
    for (size_t i = 0, n = tdm_sig_registry_count(reg, c->now_ms); i < n; i++)
        json_array_append_new(a, relay_json(tdm_sig_registry_at(reg, i), c->now_ms));
    const tdm_sig_registry_counters *k = tdm_sig_registry_counters_get(reg);
    const tdm_sig_registry_config *rc = tdm_sig_registry_config_get(reg);
    reply(c, 200,
          json_pack("{s:o,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I}}", "relays", a, "ttl_ms",
                    (json_int_t)rc->ttl_ms, "skew_ms", (json_int_t)rc->skew_ms,
                    "max_sessions", (json_int_t)rc->max_sessions, "counters", "accepted",
                    (json_int_t)k->accepted, "refused_auth", (json_int_t)k->refused_auth,
                    "refused_stale", (json_int_t)k->refused_stale, "refused_replay",
                    (json_int_t)k->refused_replay, "refused_full", (json_int_t)k->refused_full,
                    "dropped", (json_int_t)k->dropped, "placements",
                    (json_int_t)k->placements));
}

/* Method check: true if it matches; else answers 405. */
static bool method(call *c, const char *m)
{
    if (strcmp(c->req->method, m) == 0)
        return true;
    fail(c, 405, "method_not_allowed", m);
    return false;
}

static void route(call *c)
{
    const char **s = c->seg;
    size_t n = c->n_seg;
#define IS(i, text) (n > (i) && strcmp(s[i], text) == 0)
    if (n == 1 && IS(0, "login")) {
        if (method(c, "POST"))
            r_login(c);
    } else if (n == 1 && IS(0, "logout")) {
        if (method(c, "POST"))
            r_logout(c);
    } else if (n == 1 && IS(0, "me")) {
        if (method(c, "GET"))
            r_me(c);
    } else if (n == 1 && IS(0, "profiles")) {
        if (method(c, "GET"))
            r_profiles(c);
    } else if (n == 2 && IS(0, "relays") && IS(1, "heartbeat")) {
        if (method(c, "POST"))
            r_heartbeat(c);
    } else if (n == 2 && IS(0, "relays") && IS(1, "recording")) {
        if (method(c, "POST"))
            r_recording_event(c);
    } else if (tdm_sig_failover_owns(s, n)) {
        tdm_sig_failover_route(c->api->failover, c->api, c->req, s, n, c->now_ms, c->resp);
    } else if (n == 1 && IS(0, "relays")) {
        if (method(c, "GET"))
            r_relays(c);
    } else if (n == 1 && IS(0, "join")) {
        if (method(c, "POST"))
            r_join(c);
    } else if (n == 2 && IS(0, "invites") && IS(1, "accept")) {
        if (method(c, "POST"))
            r_accept(c);
    } else if (n == 1 && IS(0, "sessions")) {
        if (method(c, "POST"))
            r_open(c);
    } else if (n >= 2 && IS(0, "sessions")) {
        const char *sid = s[1];
        if (n == 2) {
            if (method(c, "GET"))
                r_state(c, sid);
        } else if (n == 3 && IS(2, "join-code")) {
            if (method(c, "POST"))
                r_join_code(c, sid);
        } else if (n == 3 && IS(2, "reps")) {
            if (method(c, "POST"))
                r_rep_join(c, sid);
        } else if (n == 3 && IS(2, "media")) {
            if (method(c, "POST"))
                r_media(c, sid);
        } else if (n == 3 && IS(2, "leave")) {
            if (method(c, "POST"))
                r_leave(c, sid);
        } else if (n == 3 && IS(2, "transfer")) {
            if (method(c, "POST"))
                r_transfer(c, sid);
        } else if (n == 3 && IS(2, "end")) {
            if (method(c, "POST"))
                r_end(c, sid);
        } else if (n == 3 && IS(2, "audit")) {
            if (method(c, "GET"))
                r_audit(c, sid);
        } else if (n == 3 && IS(2, "invites")) {
            if (method(c, "POST"))
                r_invite(c, sid);
        } else if (n == 4 && IS(2, "invites")) {
            if (method(c, "DELETE"))
                r_revoke(c, sid, s[3]);
        } else if (n == 4 && IS(2, "participants")) {
            if (method(c, "DELETE"))
                r_remove(c, sid, s[3]);
        } else if (n == 5 && IS(2, "participants") && IS(4, "profile")) {
            if (method(c, "PUT"))
                r_set_profile(c, sid, s[3]);
        } else {
            fail(c, 404, "not_found", "no such route");
        }
    } else {
        fail(c, 404, "not_found", "no such route");
    }
#undef IS
}

tdm_status tdm_sig_api_handle(tdm_sig_api *api, const tdm_sig_api_request *req, int64_t now_ms,
                              tdm_sig_api_response *resp)
{
    if (!api || !req || !resp || !req->method || !req->path)
        return TDM_ERR_INVALID;
    memset(resp, 0, sizeof *resp);
    call c = {.api = api, .req = req, .now_ms = now_ms, .resp = resp};
    char path[1024];
    if (strcmp(req->path, "/healthz") == 0) {
        reply(&c, 200, json_pack("{s:b}", "ok", 1));
    } else if (strlen(req->path) >= sizeof path ||
               strncmp(req->path, API_PREFIX, strlen(API_PREFIX)) != 0) {
        fail(&c, 404, "not_found", "no such route");
    } else if (req->body_too_large) {
        fail(&c, 413, "too_large", "request body over 64 KiB");
    } else {
        /* Segments split in a copy; empty ones (a//b, trailing /) are refused. */
        snprintf(path, sizeof path, "%s", req->path + strlen(API_PREFIX));
        bool bad = false;
        for (char *p = path, *save = NULL;; p = NULL) {
            char *t = strtok_r(p, "/", &save);
            if (!t)
                break;
            if (c.n_seg == MAX_SEGS) {
                bad = true;
                break;
            }
            c.seg[c.n_seg++] = t;
        }
        if (bad || c.n_seg == 0 || strstr(req->path, "//")) {
            fail(&c, 404, "not_found", "no such route");
        } else {
            json_error_t jerr;
            c.body = req->body_len ? json_loadb((const char *)req->body, req->body_len,
                                                JSON_REJECT_DUPLICATES, &jerr)
                                   : json_object();
            if (!json_is_object(c.body)) {
                char detail[200];
                snprintf(detail, sizeof detail, "body is not a JSON object%s%s",
                         c.body ? "" : ": ", c.body ? "" : jerr.text);
                fail(&c, 400, "bad_request", detail);
            } else {
                route(&c);
            }
            json_decref(c.body);
        }
    }
    if (!resp->body) {
        resp->status = 500;
        return TDM_ERR_NOMEM;
    }
    return TDM_OK;
}

tdm_status tdm_sig_api_new(tdm_signal *sig, tdm_sig_hub *hub, const tdm_sig_serve_config *cfg,
                           tdm_sig_api **out, tdm_error *err)
{
    if (!sig || !hub || !cfg || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "api_new: NULL argument");
    tdm_sig_api *a = calloc(1, sizeof *a);
    if (!a)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    a->sig = sig;
    a->hub = hub;
    a->cfg = cfg;
    a->issued = calloc(ISSUED_MAX, sizeof *a->issued);
    if (!a->issued) {
        free(a);
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    }
    tdm_sig_registry_config rc = {
        .ttl_ms = cfg->relay_ttl_s * 1000,
        .skew_ms = cfg->relay_skew_s * 1000,
        .max_sessions = (uint32_t)cfg->relay_max_sessions,
    };
    tdm_status st = tdm_sig_registry_new(&rc, &a->relays, err);
    if (st == TDM_OK)
        st = tdm_sig_failover_new(sig, hub, cfg, &a->failover, err);
    if (st == TDM_OK)
        tdm_sig_hub_set_auth_hook(hub, tdm_sig_failover_hub_auth, a->failover);
    for (unsigned i = 0; st == TDM_OK && i < cfg->n_relays; i++)
        st = tdm_sig_registry_add_static(a->relays, cfg->relays[i].id, cfg->relays[i].url, err);
    if (st != TDM_OK) {
        tdm_sig_api_free(a);
        return st;
    }
    *out = a;
    return TDM_OK;
}

void tdm_sig_api_free(tdm_sig_api *api)
{
    if (!api)
        return;
    tdm_sig_registry_free(api->relays);
    tdm_sig_failover_free(api->failover);
    free(api->issued);
    free(api);
}

void tdm_sig_api_tick(tdm_sig_api *api, int64_t now_ms, char *log, size_t cap)
{
    if (log && cap)
        log[0] = '\0';
    if (!api)
        return;
    tdm_sig_registry_expire(api->relays, now_ms, NULL, 0);
    char ids[256];
    if (tdm_sig_registry_take_dropped(api->relays, ids, sizeof ids) && log && cap)
        snprintf(log, cap, "relay(s) dropped from the registry (no heartbeat for %lld ms): %s",
                 (long long)tdm_sig_registry_config_get(api->relays)->ttl_ms, ids);
    char moved[1024]; /* sessions on relays gone: moved (relay_failover.c) */
    tdm_sig_failover_run(api->failover, api, now_ms, moved, sizeof moved);
    if (moved[0] && log && cap) {
        size_t used = strlen(log);
        snprintf(log + used, cap - used, "%s%s", used ? "; " : "", moved);
    }
}

tdm_status tdm_sig_api_media_object(tdm_sig_api *api, const char *pid, const char *sid,
                                    tdm_sig_kind kind, int64_t now_ms, char **json,
                                    tdm_error *err)
{
    tdm_sig_api_request req = {.method = "POST", .path = ""};
    tdm_sig_api_response resp = {0};
    call c = {.api = api, .req = &req, .now_ms = now_ms, .resp = &resp};
    json_t *media = NULL;
    *json = NULL;
    if (media_json(&c, pid, sid, kind, &media))
        *json = json_dumps(media, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(media);
    if (!*json)
        tdm_fail(err, TDM_ERR_UNAVAILABLE, "media: %.200s", resp.body ? resp.body : "out of memory");
    free(resp.body);
    return *json ? TDM_OK : TDM_ERR_UNAVAILABLE;
}

tdm_sig_registry *tdm_sig_api_registry(tdm_sig_api *api) { return api ? api->relays : NULL; }
