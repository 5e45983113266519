/* hub.c: the WebSocket message router (tdm_sig_hub.h). */
#include "tdm_sig_hub.h"

#include "tdm_sig_control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define CONN_BUCKETS 1024
#define SESSION_BUCKETS 256

typedef struct hub_session hub_session;

typedef struct hub_conn {
    uint64_t id;
    struct hub_conn *next_by_id;
    struct hub_conn *prev_in, *next_in; /* the session's list */
    hub_session *session;               /* NULL until authenticated */
    int64_t opened_ms;
    tdm_sig_kind kind;
    bool closing; /* close requested: what still arrives is ignored */
    char pid[TDM_SIG_ID_CAP];
} hub_conn;

struct hub_session {
    hub_session *next;
    char id[TDM_SIG_ID_CAP];
    hub_conn *conns;
    /* The customer took control back: reps' and invitees' input is denied
     * (customer_has_control) until the customer gives it again or its last
     * socket goes (a reconnecting tandem-share announces its state again).
     * A copy of the store's state (tdm_sig_control.h), so the per-event
     * check costs no round trip: refreshed on every read of the session
     * (welcome, each change made here or heard from another instance,
     * resync) and when this instance's SUBSCRIBE to the session takes
     * effect (tdm_sig_hub_remote_subscribed). */
    bool customer_control;
};

struct tdm_sig_hub {
    tdm_signal *sig;
    tdm_sig_hub_io io;
    hub_conn *conns[CONN_BUCKETS];
    hub_session *sessions[SESSION_BUCKETS];
    size_t n_conns;
    tdm_sig_hub_cluster cluster; /* other instances (--redis); zeroed: none */
    tdm_sig_hub_auth_hook auth_hook; /* relay failover; NULL: none */
    void *auth_ctx;
};

static unsigned str_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static hub_conn *conn_find(const tdm_sig_hub *h, uint64_t id)
{
    for (hub_conn *c = h->conns[id % CONN_BUCKETS]; c; c = c->next_by_id)
        if (c->id == id)
            return c;
    return NULL;
}

static hub_session *session_find(const tdm_sig_hub *h, const char *id)
{
    for (hub_session *s = h->sessions[str_hash(id) % SESSION_BUCKETS]; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

static hub_session *session_get(tdm_sig_hub *h, const char *id)
{
    hub_session *s = session_find(h, id);
    if (s)
        return s;
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    snprintf(s->id, sizeof s->id, "%s", id);
    unsigned b = str_hash(id) % SESSION_BUCKETS;
    s->next = h->sessions[b];
    h->sessions[b] = s;
    return s;
}

static bool pid_online(const hub_session *s, const char *pid);
static void control_reset(tdm_sig_hub *h, const char *sid, const char *pid, const char *reason,
                          int64_t now_ms);

/* Takes c out of its session; frees the session record when it empties. */
static void detach(tdm_sig_hub *h, hub_conn *c)
{
    hub_session *s = c->session;
    if (!s)
        return;
    if (c->prev_in)
        c->prev_in->next_in = c->next_in;
    else
        s->conns = c->next_in;
    if (c->next_in)
        c->next_in->prev_in = c->prev_in;
    c->prev_in = c->next_in = NULL;
    c->session = NULL;
    if (c->pid[0] && h->cluster.presence && !pid_online(s, c->pid))
        h->cluster.presence(h->cluster.ctx, s->id, c->pid, c->kind, false);
    if (s->conns)
        return;
    hub_session **pp = &h->sessions[str_hash(s->id) % SESSION_BUCKETS];
    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (*pp)
        *pp = s->next;
    free(s);
}

static void attach(hub_session *s, hub_conn *c)
{
    /* Appended, so pushes reach a session's sockets in the order they joined. */
    c->session = s;
    c->next_in = NULL;
    hub_conn **pp = &s->conns;
    hub_conn *prev = NULL;
    while (*pp) {
        prev = *pp;
        pp = &(*pp)->next_in;
    }
    c->prev_in = prev;
    *pp = c;
}

static void send_text(tdm_sig_hub *h, uint64_t conn, const char *text)
{
    h->io.send(h->io.ctx, conn, text, strlen(text));
}

/* Serializes obj (stolen) and sends it. */
static void send_json(tdm_sig_hub *h, uint64_t conn, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (text) {
        send_text(h, conn, text);
        free(text);
    }
}

static void send_error(tdm_sig_hub *h, uint64_t conn, const char *code, const char *detail)
{
    send_json(h, conn,
              json_pack("{s:s,s:s,s:s}", "type", "error", "error", code, "detail", detail));
}

static void close_conn(tdm_sig_hub *h, hub_conn *c, int code)
{
    detach(h, c);
    c->closing = true;
    h->io.close(h->io.ctx, c->id, code);
}

static bool pid_online(const hub_session *s, const char *pid)
{
    for (const hub_conn *c = s ? s->conns : NULL; c; c = c->next_in)
        if (strcmp(c->pid, pid) == 0)
            return true;
    return false;
}

static json_t *state_obj(tdm_sig_hub *h, const char *session_id, tdm_signal_error *err)
{
    char *text = NULL;
    if (tdm_signal_session_json(h->sig, session_id, &text, err) != TDM_OK)
        return NULL;
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    if (!doc) {
        tdm_fail(&err->detail, TDM_ERR_NOMEM, "session state: cannot parse");
        return NULL;
    }
    hub_session *s = session_find(h, session_id);
    size_t i;
    json_t *p;
    json_array_foreach (json_object_get(doc, "participants"), i, p) {
        const char *pid = json_string_value(json_object_get(p, "id"));
        bool on = pid && (pid_online(s, pid) ||
                          (h->cluster.online_elsewhere &&
                           h->cluster.online_elsewhere(h->cluster.ctx, session_id, pid)));
        json_object_set_new(p, "online", json_boolean(on));
    }
    /* The shared state; the copy stands in while the store cannot answer. */
    bool customer = s && s->customer_control;
    tdm_error cerr = {{0}};
    if (tdm_signal_control_get(h->sig, session_id, &customer, &cerr) == TDM_OK && s)
        s->customer_control = customer;
    json_object_set_new(doc, "control", json_string(customer ? "customer" : "shared"));
    return doc;
}

tdm_status tdm_sig_hub_state_json(tdm_sig_hub *h, const char *session_id, char **json,
                                  tdm_signal_error *err)
{
    memset(err, 0, sizeof *err);
    json_t *doc = state_obj(h, session_id, err);
    if (!doc)
        return err->why != TDM_SIG_REFUSE_NONE ? TDM_ERR_INVALID : TDM_ERR_NOMEM;
    *json = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return *json ? TDM_OK : tdm_fail(&err->detail, TDM_ERR_NOMEM, "out of memory");
}

/* Sends {"type":"session",...} to every connection of s. */
static void push_state(tdm_sig_hub *h, const char *session_id, const char *event,
                       const char *subject, json_t *state)
{
    hub_session *s = session_find(h, session_id);
    if (!s)
        return;
    json_t *msg = json_pack("{s:s,s:s,s:s,s:O}", "type", "session", "event", event, "subject",
                            subject ? subject : "", "state", state);
    char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!text)
        return;
    for (hub_conn *c = s->conns; c; c = c->next_in)
        send_text(h, c->id, text);
    free(text);
}

static void changed_here(tdm_sig_hub *h, const char *session_id, const char *event,
                         const char *subject, int64_t now_ms);

void tdm_sig_hub_session_changed(tdm_sig_hub *h, const char *session_id, const char *event,
                                 const char *subject, int64_t now_ms)
{
    if (h && session_id && h->cluster.changed)
        h->cluster.changed(h->cluster.ctx, session_id, event, subject ? subject : "");
    changed_here(h, session_id, event, subject, now_ms);
}

void tdm_sig_hub_remote_changed(tdm_sig_hub *h, const char *session_id, const char *event,
                                const char *subject, int64_t now_ms)
{
    /* The take-back included: the push re-reads it from the store. */
    changed_here(h, session_id, event, subject, now_ms);
}

void tdm_sig_hub_remote_subscribed(tdm_sig_hub *h, const char *session_id, int64_t now_ms)
{
    hub_session *s = h && session_id ? session_find(h, session_id) : NULL;
    bool customer = false;
    tdm_error err = {{0}};
    if (!s || tdm_signal_control_get(h->sig, session_id, &customer, &err) != TDM_OK ||
        customer == s->customer_control)
        return;
    /* Changed after this instance read it and before its SUBSCRIBE took
     * effect: that announcement was not heard here. */
    changed_here(h, session_id, customer ? "control_taken_back" : "control_returned", "",
                 now_ms);
}

void tdm_sig_hub_remote_input(tdm_sig_hub *h, const char *session_id, const char *msg, size_t len)
{
    hub_session *s = h && session_id ? session_find(h, session_id) : NULL;
    for (hub_conn *o = s ? s->conns : NULL; o; o = o->next_in)
        if (o->kind == TDM_SIG_KIND_CUSTOMER)
            h->io.send(h->io.ctx, o->id, msg, len);
}

void tdm_sig_hub_remote_chat(tdm_sig_hub *h, const char *session_id, const char *msg, size_t len)
{
    hub_session *s = h && session_id ? session_find(h, session_id) : NULL;
    for (hub_conn *o = s ? s->conns : NULL; o; o = o->next_in)
        h->io.send(h->io.ctx, o->id, msg, len);
}

void tdm_sig_hub_set_cluster(tdm_sig_hub *h, const tdm_sig_hub_cluster *cluster)
{
    if (!h)
        return;
    memset(&h->cluster, 0, sizeof h->cluster);
    if (cluster)
        h->cluster = *cluster;
}

static void changed_here(tdm_sig_hub *h, const char *session_id, const char *event,
                         const char *subject, int64_t now_ms)
{
    (void)now_ms;
    if (!h || !session_id)
        return;
    hub_session *s = session_find(h, session_id);
    if (!s)
        return;
    tdm_signal_error err;
    json_t *state = state_obj(h, session_id, &err);
    bool ended = state && strcmp(json_string_value(json_object_get(state, "state")) ?: "",
                                 "ended") == 0;
    if (ended) {
        push_state(h, session_id, "ended", subject, state);
        while ((s = session_find(h, session_id)) && s->conns)
            close_conn(h, s->conns, TDM_SIG_CLOSE_NORMAL);
        json_decref(state);
        return;
    }
    /* Sockets of participants who are no longer present go first, so the
     * state everyone receives next has them offline. */
    for (hub_conn *c = s->conns, *next; c; c = next) {
        next = c->next_in;
        tdm_sig_participant_row row;
        /* Only a refusal (left, removed, gone) removes: a store that cannot
         * answer (Redis away, API.md "Cluster") says nothing about presence. */
        if (tdm_signal_participant(h->sig, c->pid, &row, &err) != TDM_OK &&
            err.why != TDM_SIG_REFUSE_NONE) {
            send_text(h, c->id, "{\"type\":\"removed\"}");
            bool last = !next && c == s->conns;
            close_conn(h, c, TDM_SIG_CLOSE_REMOVED);
            if (last)
                break; /* s was freed with its last connection */
        }
    }
    if (session_find(h, session_id)) {
        json_decref(state);
        state = state_obj(h, session_id, &err);
        if (state)
            push_state(h, session_id, event, subject, state);
    }
    json_decref(state);
}

tdm_status tdm_sig_hub_new(tdm_signal *sig, const tdm_sig_hub_io *io, tdm_sig_hub **out,
                           tdm_error *err)
{
    if (!sig || !io || !io->send || !io->close || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "hub_new: NULL argument");
    tdm_sig_hub *h = calloc(1, sizeof *h);
    if (!h)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    h->sig = sig;
    h->io = *io;
    *out = h;
    return TDM_OK;
}

void tdm_sig_hub_free(tdm_sig_hub *h)
{
    if (!h)
        return;
    for (unsigned b = 0; b < CONN_BUCKETS; b++)
        for (hub_conn *c = h->conns[b], *n; c; c = n) {
            n = c->next_by_id;
            detach(h, c);
            free(c);
        }
    free(h);
}

tdm_status tdm_sig_hub_open(tdm_sig_hub *h, uint64_t conn, int64_t now_ms, tdm_error *err)
{
    if (!h)
        return tdm_fail(err, TDM_ERR_INVALID, "hub_open: NULL argument");
    if (conn_find(h, conn))
        return tdm_fail(err, TDM_ERR_INVALID, "hub_open: connection %llu exists",
                        (unsigned long long)conn);
    hub_conn *c = calloc(1, sizeof *c);
    if (!c)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    c->id = conn;
    c->opened_ms = now_ms;
    c->next_by_id = h->conns[conn % CONN_BUCKETS];
    h->conns[conn % CONN_BUCKETS] = c;
    h->n_conns++;
    return TDM_OK;
}

void tdm_sig_hub_closed(tdm_sig_hub *h, uint64_t conn, int64_t now_ms)
{
    if (!h)
        return;
    hub_conn **pp = &h->conns[conn % CONN_BUCKETS];
    while (*pp && (*pp)->id != conn)
        pp = &(*pp)->next_by_id;
    hub_conn *c = *pp;
    if (!c)
        return;
    *pp = c->next_by_id;
    h->n_conns--;
    char sid[TDM_SIG_ID_CAP] = "", pid[TDM_SIG_ID_CAP];
    if (c->session) {
        snprintf(sid, sizeof sid, "%s", c->session->id);
        snprintf(pid, sizeof pid, "%s", c->pid);
    }
    bool customer = c->kind == TDM_SIG_KIND_CUSTOMER;
    detach(h, c);
    free(c);
    hub_session *s = sid[0] ? session_find(h, sid) : NULL;
    if (sid[0] && customer && !pid_online(s, pid))
        control_reset(h, sid, pid, "customer_offline", now_ms);
    if (sid[0] && !pid_online(s, pid))
        tdm_sig_hub_session_changed(h, sid, "offline", pid, now_ms);
}

/* The customer pid has no socket here; if none elsewhere either, the
 * take-back ends with it (the "offline" or "online" push that follows
 * carries the state). A store that cannot answer leaves it as it is. */
static void control_reset(tdm_sig_hub *h, const char *sid, const char *pid, const char *reason,
                          int64_t now_ms)
{
    if (h->cluster.online_elsewhere && h->cluster.online_elsewhere(h->cluster.ctx, sid, pid))
        return;
    bool changed = false;
    tdm_error err = {{0}};
    if (tdm_signal_control_reset(h->sig, sid, pid, reason, now_ms, &changed, &err) != TDM_OK)
        return;
    hub_session *s = session_find(h, sid);
    if (changed && s)
        s->customer_control = false;
}

static void authenticate(tdm_sig_hub *h, hub_conn *c, const uint8_t *msg, size_t len,
                         int64_t now_ms)
{
    json_t *doc = json_loadb((const char *)msg, len, JSON_REJECT_DUPLICATES, NULL);
    const char *type = json_string_value(json_object_get(doc, "type"));
    const char *secret = json_string_value(json_object_get(doc, "secret"));
    if (!type || strcmp(type, "auth") != 0 || !secret) {
        json_decref(doc);
        send_error(h, c->id, doc ? "not_authenticated" : "bad_request",
                   "the first message must be {\"type\":\"auth\",\"secret\":...}");
        return;
    }
    tdm_sig_participant_row row;
    tdm_signal_error err;
    tdm_status st = tdm_signal_participant_auth(h->sig, secret, now_ms, &row, &err);
    json_decref(doc);
    if (st != TDM_OK) {
        send_error(h, c->id,
                   err.why != TDM_SIG_REFUSE_NONE ? tdm_sig_refusal_name(err.why) : "internal",
                   err.detail.msg);
        close_conn(h, c, TDM_SIG_CLOSE_AUTH);
        return;
    }
    hub_session *s = session_get(h, row.session_id);
    if (!s) {
        send_error(h, c->id, "internal", "out of memory");
        close_conn(h, c, TDM_SIG_CLOSE_AUTH);
        return;
    }
    bool was_online = pid_online(s, row.id);
    /* A take-back stored while the customer had no socket anywhere was
     * left by an instance that stopped before resetting it. */
    if (!was_online && row.kind == TDM_SIG_KIND_CUSTOMER)
        control_reset(h, row.session_id, row.id, "instance_lost", now_ms);
    snprintf(c->pid, sizeof c->pid, "%s", row.id);
    c->kind = row.kind;
    attach(s, c);
    if (h->auth_hook)
        h->auth_hook(h->auth_ctx, row.session_id);
    /* Before the "online" change below, so other instances know by then. */
    if (!was_online && h->cluster.presence)
        h->cluster.presence(h->cluster.ctx, row.session_id, row.id, row.kind, true);
    json_t *state = state_obj(h, row.session_id, &err);
    send_json(h, c->id,
              json_pack("{s:s,s:{s:s,s:s,s:s,s:s},s:O}", "type", "welcome", "participant", "id",
                        row.id, "kind", tdm_sig_kind_name(row.kind), "name", row.display_name,
                        "profile", row.profile, "state", state ? state : json_null()));
    json_decref(state);
    if (!was_online)
        tdm_sig_hub_session_changed(h, row.session_id, "online", row.id, now_ms);
}

static void chat(tdm_sig_hub *h, hub_conn *c, json_t *doc, int64_t now_ms)
{
    json_t *text = json_object_get(doc, "text");
    size_t n = json_is_string(text) ? json_string_length(text) : 0;
    if (n == 0 || n > TDM_SIG_CHAT_MAX || json_object_size(doc) != 2) {
        send_error(h, c->id, "bad_request", "chat: {\"type\":\"chat\",\"text\":1..4000 bytes}");
        return;
    }
    tdm_sig_participant_row row;
    tdm_signal_error err;
    if (tdm_signal_participant(h->sig, c->pid, &row, &err) != TDM_OK) {
        if (err.why == TDM_SIG_REFUSE_NONE) /* the store failed: not a departure */
            send_error(h, c->id, "internal", err.detail.msg);
        else
            tdm_sig_hub_session_changed(h, c->session->id, "left", c->pid, now_ms);
        return;
    }
    json_t *msg = json_pack("{s:s,s:s,s:s,s:O,s:I}", "type", "chat", "from", c->pid, "name",
                            row.display_name, "text", text, "ts_ms", (json_int_t)now_ms);
    char *out = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    if (!out)
        return;
    for (hub_conn *o = c->session->conns; o; o = o->next_in)
        send_text(h, o->id, out);
    if (h->cluster.chat)
        h->cluster.chat(h->cluster.ctx, c->session->id, out, strlen(out));
    free(out);
}

/* {"type":"control","state":"customer"|"shared"} from the customer: who
 * drives the customer's screen. A change is audited and broadcast as
 * control_taken_back / control_returned; a repeat changes nothing. */
static void control(tdm_sig_hub *h, hub_conn *c, json_t *doc, int64_t now_ms)
{
    const char *state = json_string_value(json_object_get(doc, "state"));
    if (c->kind != TDM_SIG_KIND_CUSTOMER) {
        send_error(h, c->id, "not_allowed", "only the customer takes control back");
        return;
    }
    bool taken = state && strcmp(state, "customer") == 0;
    if (!state || (!taken && strcmp(state, "shared") != 0) || json_object_size(doc) != 2) {
        send_error(h, c->id, "bad_request",
                   "control: {\"type\":\"control\",\"state\":\"customer\"|\"shared\"}");
        return;
    }
    hub_session *s = c->session;
    tdm_error err = {{0}};
    bool changed = false;
    /* Compared with the store's state, not the copy: another instance may
     * have changed it (the customer's other socket). */
    if (tdm_signal_control_set(h->sig, s->id, c->pid, taken, now_ms, &changed, &err) != TDM_OK) {
        send_error(h, c->id, "internal", err.msg);
        return;
    }
    s->customer_control = taken;
    if (!changed)
        return;
    char sid[TDM_SIG_ID_CAP];
    snprintf(sid, sizeof sid, "%s", s->id);
    tdm_sig_hub_session_changed(h, sid, taken ? "control_taken_back" : "control_returned", c->pid,
                                now_ms);
}

/* Messages that are not input events: chat, ping; anything else is an error. */
static void other_message(tdm_sig_hub *h, hub_conn *c, const uint8_t *msg, size_t len,
                          int64_t now_ms)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)msg, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc)) {
        json_decref(doc);
        send_error(h, c->id, "bad_request", doc ? "not a JSON object" : jerr.text);
        return;
    }
    const char *type = json_string_value(json_object_get(doc, "type"));
    tdm_sig_input_kind kind;
    if (!type)
        send_error(h, c->id, "bad_request", "no \"type\"");
    else if (strcmp(type, "chat") == 0)
        chat(h, c, doc, now_ms);
    else if (strcmp(type, "ping") == 0)
        send_text(h, c->id, "{\"type\":\"pong\"}");
    else if (strcmp(type, "control") == 0)
        control(h, c, doc, now_ms);
    else if (strcmp(type, "auth") == 0)
        send_error(h, c->id, "bad_request", "already authenticated");
    else if (tdm_sig_input_kind_parse(type, &kind))
        send_error(h, c->id, "not_allowed", "the customer sends no remote input");
    else
        send_error(h, c->id, "bad_request", "unknown message type");
    json_decref(doc);
}

static void input(tdm_sig_hub *h, hub_conn *c, const uint8_t *msg, size_t len, int64_t now_ms)
{
    tdm_signal_input_result res;
    tdm_signal_error err;
    tdm_status st = tdm_signal_input(h->sig, c->pid, msg, len, now_ms, &res, &err);
    if (st == TDM_ERR_UNSUPPORTED) {
        other_message(h, c, msg, len, now_ms); /* not an input type: chat, ping */
        return;
    }
    if (st != TDM_OK) {
        if (err.why == TDM_SIG_REFUSE_NOT_PRESENT || err.why == TDM_SIG_REFUSE_SESSION_ENDED ||
            err.why == TDM_SIG_REFUSE_NOT_FOUND) {
            /* Gone since the socket authenticated: reconcile the session. */
            tdm_sig_hub_session_changed(h, c->session->id, "left", c->pid, now_ms);
            return;
        }
        send_error(h, c->id, err.why == TDM_SIG_REFUSE_BAD_REQUEST ? "bad_request" : "internal",
                   err.detail.msg);
        return;
    }
    const char *event = tdm_sig_input_kind_name(res.event.kind);
    if (res.verdict != TDM_SIG_ALLOW) {
        send_json(h, c->id,
                  json_pack("{s:s,s:s,s:s,s:s}", "type", "error", "error", "input_denied",
                            "reason", tdm_sig_verdict_name(res.verdict), "event", event));
        return;
    }
    if (c->session->customer_control) {
        /* Allowed by the profile, refused by the customer's take-back. */
        tdm_error aerr = {{0}};
        if (tdm_signal_control_denial_audit(h->sig, c->session->id, c->pid, event, now_ms, &aerr) !=
            TDM_OK) {
            send_error(h, c->id, "internal", aerr.msg);
            return;
        }
        send_json(h, c->id,
                  json_pack("{s:s,s:s,s:s,s:s}", "type", "error", "error", "input_denied",
                            "reason", "customer_has_control", "event", event));
        return;
    }
    bool delivered = false;
    for (hub_conn *o = c->session->conns; o; o = o->next_in)
        if (o->kind == TDM_SIG_KIND_CUSTOMER) {
            h->io.send(h->io.ctx, o->id, (const char *)msg, len);
            delivered = true;
        }
    /* Filtered here, delivered wherever the customer is (in order: one
     * publisher per instance). */
    if (h->cluster.input) {
        h->cluster.input(h->cluster.ctx, c->session->id, (const char *)msg, len);
        if (!delivered && h->cluster.online_elsewhere)
            delivered = h->cluster.online_elsewhere(h->cluster.ctx, c->session->id, NULL);
    }
    if (!delivered)
        send_json(h, c->id,
                  json_pack("{s:s,s:s,s:s}", "type", "error", "error", "customer_offline",
                            "event", event));
}

void tdm_sig_hub_message(tdm_sig_hub *h, uint64_t conn, const uint8_t *msg, size_t len,
                         bool too_large, int64_t now_ms)
{
    hub_conn *c = h ? conn_find(h, conn) : NULL;
    if (!c || c->closing)
        return;
    if (too_large) {
        char detail[80];
        snprintf(detail, sizeof detail, "message over %d bytes dropped", TDM_SIG_WS_MESSAGE_MAX);
        send_error(h, c->id, "too_large", detail);
        return;
    }
    if (!c->session) {
        authenticate(h, c, msg, len, now_ms);
        return;
    }
    if (c->kind == TDM_SIG_KIND_CUSTOMER)
        other_message(h, c, msg, len, now_ms);
    else
        input(h, c, msg, len, now_ms);
}

void tdm_sig_hub_tick(tdm_sig_hub *h, int64_t now_ms)
{
    if (!h)
        return;
    for (unsigned b = 0; b < CONN_BUCKETS; b++)
        for (hub_conn *c = h->conns[b]; c; c = c->next_by_id)
            if (!c->session && !c->closing &&
                now_ms - c->opened_ms > TDM_SIG_WS_AUTH_TIMEOUT_MS) {
                send_error(h, c->id, "not_authenticated", "no auth message in time");
                close_conn(h, c, TDM_SIG_CLOSE_AUTH);
            }
}

bool tdm_sig_hub_online(const tdm_sig_hub *h, const char *pid)
{
    if (!h || !pid)
        return false;
    for (unsigned b = 0; b < CONN_BUCKETS; b++)
        for (const hub_conn *c = h->conns[b]; c; c = c->next_by_id)
            if (c->session && strcmp(c->pid, pid) == 0)
                return true;
    return false;
}

size_t tdm_sig_hub_connections(const tdm_sig_hub *h) { return h ? h->n_conns : 0; }

size_t tdm_sig_hub_send_participant(tdm_sig_hub *h, const char *session_id, const char *pid,
                                    const char *text, size_t len)
{
    hub_session *s = h && session_id && pid ? session_find(h, session_id) : NULL;
    size_t n = 0;
    for (hub_conn *c = s ? s->conns : NULL; c; c = c->next_in)
        if (strcmp(c->pid, pid) == 0) {
            h->io.send(h->io.ctx, c->id, text, len);
            n++;
        }
    return n;
}

void tdm_sig_hub_set_auth_hook(tdm_sig_hub *h, tdm_sig_hub_auth_hook fn, void *ctx)
{
    if (h) {
        h->auth_hook = fn;
        h->auth_ctx = ctx;
    }
}
