/* replay_audit.c: a session's audit chain for tandem-replay (tdm_replay_audit.h). */
#include "tdm_replay_audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "tdm_sig_audit.h"

static tdm_status db_fail(sqlite3 *db, tdm_error *err, const char *what, const char *path)
{
    return tdm_fail(err, TDM_ERR_IO, "signaling database %s: %s: %s", path, what,
                    db ? sqlite3_errmsg(db) : "out of memory");
}

/* Read-only, and never created: a mistyped path must not leave an empty
 * database behind. */
static tdm_status open_ro(const char *path, sqlite3 **db, tdm_error *err)
{
    int rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        tdm_status st = db_fail(*db, err, "cannot open", path);
        sqlite3_close(*db);
        *db = NULL;
        return st;
    }
    sqlite3_busy_timeout(*db, 5000); /* the service may hold a write lock briefly */
    return TDM_OK;
}

static tdm_status check_schema(sqlite3 *db, const char *path, tdm_error *err)
{
    sqlite3_stmt *st;
    /* A migration adds a row per version: the highest is the schema's. */
    if (sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
        SQLITE_OK)
        return tdm_fail(err, TDM_ERR_IO, "%s is not a tandem-signal database (%s)", path,
                        sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    /* Older schemas hold the same audit log (later versions add beside it). */
    if (v < 1 || v > TDM_SIG_SCHEMA_VERSION)
        return tdm_fail(err, TDM_ERR_IO, "%s: schema version %lld, this tool reads 1 to %d", path,
                        (long long)v, TDM_SIG_SCHEMA_VERSION);
    return TDM_OK;
}

static int64_t count_of(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

static char *dup_col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

static void blob_col(sqlite3_stmt *st, int i, uint8_t out[TDM_SIG_AUDIT_HASH_LEN])
{
    memset(out, 0, TDM_SIG_AUDIT_HASH_LEN);
    int n = sqlite3_column_bytes(st, i);
    const void *b = sqlite3_column_blob(st, i);
    if (b && n == TDM_SIG_AUDIT_HASH_LEN)
        memcpy(out, b, TDM_SIG_AUDIT_HASH_LEN);
}

static tdm_status push_entry(tdm_replay_audit *a, sqlite3_stmt *st, size_t *cap, tdm_error *err)
{
    if (a->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        tdm_replay_audit_entry *g = realloc(a->entries, nc * sizeof *g);
        if (!g)
            return tdm_fail(err, TDM_ERR_NOMEM, "audit: out of memory");
        a->entries = g;
        *cap = nc;
    }
    tdm_replay_audit_entry *e = &a->entries[a->n];
    e->seq = sqlite3_column_int64(st, 0);
    e->ts_ms = sqlite3_column_int64(st, 1);
    e->actor = dup_col(st, 2);
    e->kind = dup_col(st, 3);
    e->subject = dup_col(st, 4);
    e->detail = dup_col(st, 5);
    a->n++;
    if (!e->actor || !e->kind || !e->subject || !e->detail)
        return tdm_fail(err, TDM_ERR_NOMEM, "audit: out of memory");
    return TDM_OK;
}

/* Every entry of the chain, each fed to the walk as it is read: the walk
 * stops judging at the first fault, the entries are kept all the same so
 * the auditor still sees what the log says. */
static tdm_status read_chain(sqlite3 *db, const char *path, tdm_replay_audit *a,
                             tdm_sig_audit_walk *w, tdm_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, ts_ms, actor, kind, subject, detail, prev_hash, hash "
                           "FROM audit_log WHERE chain = ?1 ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "read audit log", path);
    sqlite3_bind_text(st, 1, a->session_id, -1, SQLITE_STATIC);
    size_t cap = 0;
    int rc;
    tdm_status r = TDM_OK;
    while (r == TDM_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((r = push_entry(a, st, &cap, err)) != TDM_OK)
            break;
        const tdm_replay_audit_entry *k = &a->entries[a->n - 1];
        tdm_sig_audit_entry e = {.chain = a->session_id,
                                 .seq = k->seq,
                                 .ts_ms = k->ts_ms,
                                 .actor = k->actor,
                                 .kind = k->kind,
                                 .subject = k->subject,
                                 .detail = k->detail};
        blob_col(st, 6, e.prev_hash);
        blob_col(st, 7, e.hash);
        tdm_sig_audit_walk_step(w, &e);
    }
    if (r == TDM_OK && rc != SQLITE_DONE)
        r = db_fail(db, err, "read audit log", path);
    sqlite3_finalize(st);
    return r;
}

static tdm_status read_head(sqlite3 *db, const char *path, const char *chain, tdm_sig_audit_walk *w,
                            tdm_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit_heads WHERE chain = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return db_fail(db, err, "read audit head", path);
    sqlite3_bind_text(st, 1, chain, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    uint8_t head[TDM_SIG_AUDIT_HASH_LEN] = {0};
    int64_t seq = 0;
    if (rc == SQLITE_ROW) {
        seq = sqlite3_column_int64(st, 0);
        blob_col(st, 1, head);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(db, err, "read audit head", path);
    tdm_sig_audit_walk_finish(w, rc == SQLITE_ROW, seq, head);
    return TDM_OK;
}

const tdm_replay_participant *tdm_replay_audit_participant(const tdm_replay_audit *a,
                                                           const char *id)
{
    for (size_t i = 0; id && i < a->nparts; i++)
        if (strcmp(a->parts[i].id, id) == 0)
            return &a->parts[i];
    return NULL;
}

static void add_profile(tdm_replay_participant *p, const char *profile)
{
    if (!profile || !*profile)
        return;
    size_t len = strlen(p->profiles);
    snprintf(p->profiles + len, sizeof p->profiles - len, "%s%s", len ? "," : "", profile);
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static tdm_status on_joined(tdm_replay_audit *a, const tdm_replay_audit_entry *e, json_t *d,
                            size_t *cap, tdm_error *err)
{
    if (a->nparts == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        tdm_replay_participant *g = realloc(a->parts, nc * sizeof *g);
        if (!g)
            return tdm_fail(err, TDM_ERR_NOMEM, "audit: out of memory");
        a->parts = g;
        *cap = nc;
    }
    tdm_replay_participant *p = &a->parts[a->nparts++];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", e->subject);
    snprintf(p->kind, sizeof p->kind, "%s", jstr(d, "kind"));
    snprintf(p->name, sizeof p->name, "%s", jstr(d, "name"));
    snprintf(p->invited_by, sizeof p->invited_by, "%s", jstr(d, "invited_by"));
    add_profile(p, jstr(d, "profile"));
    p->joined_ms = e->ts_ms;
    return TDM_OK;
}

/* Who took part, as the log tells it: joins open a participant, profile
 * changes append to its profiles, a leave or removal closes it, and the
 * session's end closes whoever was still there. */
static tdm_status derive_participants(tdm_replay_audit *a, tdm_error *err)
{
    size_t cap = 0;
    for (size_t i = 0; i < a->n; i++) {
        const tdm_replay_audit_entry *e = &a->entries[i];
        json_t *d = json_loads(e->detail, 0, NULL);
        tdm_replay_participant *p =
            (tdm_replay_participant *)tdm_replay_audit_participant(a, e->subject);
        tdm_status r = TDM_OK;
        if (!strcmp(e->kind, "participant_joined"))
            r = on_joined(a, e, d, &cap, err);
        else if (p && !strcmp(e->kind, "profile_changed"))
            add_profile(p, jstr(d, "to"));
        else if (p && !p->left_ms &&
                 (!strcmp(e->kind, "participant_left") ||
                  !strcmp(e->kind, "participant_removed"))) {
            p->left_ms = e->ts_ms;
            snprintf(p->left_how, sizeof p->left_how, "%s", e->kind);
        } else if (!strcmp(e->kind, "session_ended")) {
            for (size_t k = 0; k < a->nparts; k++)
                if (!a->parts[k].left_ms) {
                    a->parts[k].left_ms = e->ts_ms;
                    snprintf(a->parts[k].left_how, sizeof a->parts[k].left_how, "session_ended");
                }
        }
        json_decref(d);
        if (r != TDM_OK)
            return r;
    }
    return TDM_OK;
}

static tdm_status load_in_txn(sqlite3 *db, const char *path, tdm_replay_audit *a, tdm_error *err)
{
    tdm_status r = check_schema(db, path, err);
    if (r != TDM_OK)
        return r;
    int64_t sessions = count_of(db, "SELECT count(*) FROM sessions WHERE id = ?1", a->session_id);
    int64_t entries =
        count_of(db, "SELECT count(*) FROM audit_log WHERE chain = ?1", a->session_id);
    if (sessions < 0 || entries < 0)
        return db_fail(db, err, "look up the session", path);
    /* A session whose row is gone but whose entries remain is still shown:
     * the log is what matters to an auditor. */
    if (sessions == 0 && entries == 0)
        return tdm_fail(err, TDM_ERR_INVALID, "no session '%s' in the signaling database %s",
                        a->session_id, path);
    tdm_sig_audit_walk w;
    tdm_sig_audit_walk_init(&w, a->session_id);
    if ((r = read_chain(db, path, a, &w, err)) != TDM_OK ||
        (r = read_head(db, path, a->session_id, &w, err)) != TDM_OK)
        return r;
    a->verified = !w.bad;
    a->bad_seq = w.bad ? w.bad_seq : 0;
    snprintf(a->problem, sizeof a->problem, "%s", w.bad ? w.problem : "");
    return derive_participants(a, err);
}

typedef struct list_ctx {
    tdm_replay_audit *a;
    size_t cap;
    tdm_status st;
    tdm_error *err;
} list_ctx;

static void on_listed(void *ctx, const tdm_sig_audit_entry *e)
{
    list_ctx *c = ctx;
    tdm_replay_audit *a = c->a;
    if (c->st != TDM_OK)
        return;
    if (a->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 64;
        tdm_replay_audit_entry *g = realloc(a->entries, nc * sizeof *g);
        if (!g) {
            c->st = tdm_fail(c->err, TDM_ERR_NOMEM, "audit: out of memory");
            return;
        }
        a->entries = g;
        c->cap = nc;
    }
    tdm_replay_audit_entry *k = &a->entries[a->n++];
    k->seq = e->seq;
    k->ts_ms = e->ts_ms;
    k->actor = strdup(e->actor ? e->actor : "");
    k->kind = strdup(e->kind ? e->kind : "");
    k->subject = strdup(e->subject ? e->subject : "");
    k->detail = strdup(e->detail ? e->detail : "");
    if (!k->actor || !k->kind || !k->subject || !k->detail)
        c->st = tdm_fail(c->err, TDM_ERR_NOMEM, "audit: out of memory");
}

tdm_status tdm_replay_audit_load_store(tdm_sig_store *s, const char *session_id,
                                       tdm_replay_audit *out, tdm_error *err)
{
    memset(out, 0, sizeof *out);
    if (strlen(session_id) >= sizeof out->session_id)
        return tdm_fail(err, TDM_ERR_INVALID, "session id '%s' is too long for a session",
                        session_id);
    snprintf(out->session_id, sizeof out->session_id, "%s", session_id);
    list_ctx c = {out, 0, TDM_OK, err};
    tdm_status r = tdm_sig_store_audit_list(s, session_id, 0, 0, on_listed, &c, err);
    if (r == TDM_OK)
        r = c.st;
    /* The store's own verification: the list and this are two reads, so an
     * entry appended between them is judged too; it never makes an intact
     * chain look broken (the head moves with the entries). */
    tdm_sig_audit_report rep;
    if (r == TDM_OK && (r = tdm_sig_store_audit_verify(s, session_id, &rep, err)) == TDM_OK) {
        out->verified = rep.intact;
        out->bad_seq = rep.intact ? 0 : rep.bad_seq;
        snprintf(out->problem, sizeof out->problem, "%s", rep.intact ? "" : rep.problem);
        r = derive_participants(out, err);
    } else if (r == TDM_ERR_INVALID && out->n == 0) {
        r = tdm_fail(err, TDM_ERR_INVALID, "no session '%s' in the signaling store",
                     session_id);
    }
    if (r != TDM_OK)
        tdm_replay_audit_free(out);
    return r;
}

tdm_status tdm_replay_audit_load(const char *db_path, const char *session_id, tdm_replay_audit *out,
                                 tdm_error *err)
{
    memset(out, 0, sizeof *out);
    if (strncmp(db_path, TDM_SIG_STORE_REDIS_SCHEME, sizeof TDM_SIG_STORE_REDIS_SCHEME - 1) == 0) {
        /* Redis has no read-only mode to ask for; the store only reads here. */
        tdm_sig_store *s = NULL;
        tdm_status r = tdm_sig_store_open(db_path, &s, err);
        if (r == TDM_OK)
            r = tdm_replay_audit_load_store(s, session_id, out, err);
        tdm_sig_store_close(s);
        return r;
    }
    if (strlen(session_id) >= sizeof out->session_id)
        return tdm_fail(err, TDM_ERR_INVALID, "session id '%s' is too long for a session",
                        session_id);
    snprintf(out->session_id, sizeof out->session_id, "%s", session_id);
    sqlite3 *db;
    tdm_status r = open_ro(db_path, &db, err);
    if (r != TDM_OK)
        return r;
    /* One read transaction: the chain and its head from the same snapshot,
     * or a write landing between the two reads would look like tampering. */
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        r = db_fail(db, err, "begin a read", db_path);
    else {
        r = load_in_txn(db, db_path, out, err);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    }
    sqlite3_close(db);
    if (r != TDM_OK)
        tdm_replay_audit_free(out);
    return r;
}

void tdm_replay_audit_free(tdm_replay_audit *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->entries[i].actor);
        free(a->entries[i].kind);
        free(a->entries[i].subject);
        free(a->entries[i].detail);
    }
    free(a->entries);
    free(a->parts);
    a->entries = NULL;
    a->parts = NULL;
    a->n = a->nparts = 0;
}
