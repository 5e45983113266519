/* store.c: signaling's state (tdm_sig_store.h): the SQLite backend, and the
 * dispatch to the Redis one (tdm_redis_store.h) for a redis:// path. */
#include "tdm_sig_store.h"
#include "tdm_redis_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

static const char schema_v1[] =
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  password_hash TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('rep','admin','auditor')),"
    "  may_invite INTEGER NOT NULL DEFAULT 0,"
    "  invite_profiles TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE sessions ("
    "  id TEXT PRIMARY KEY,"
    "  owner TEXT NOT NULL DEFAULT '',"
    "  state TEXT NOT NULL CHECK (state IN ('waiting','active','ended')),"
    "  created_at INTEGER NOT NULL,"
    "  ended_at INTEGER,"
    "  recording_key BLOB NOT NULL);"
    "CREATE TABLE participants ("
    "  id TEXT PRIMARY KEY,"
    "  session_id TEXT NOT NULL REFERENCES sessions(id),"
    "  kind TEXT NOT NULL CHECK (kind IN ('rep','customer','invited')),"
    "  user_id INTEGER REFERENCES users(id),"
    "  display_name TEXT NOT NULL,"
    "  profile TEXT NOT NULL,"
    "  invited_by TEXT REFERENCES participants(id),"
    "  secret_digest BLOB NOT NULL UNIQUE,"
    "  joined_at INTEGER NOT NULL,"
    "  left_at INTEGER);"
    "CREATE INDEX participants_session ON participants(session_id);"
    "CREATE TABLE join_codes ("
    "  id INTEGER PRIMARY KEY,"
    "  session_id TEXT NOT NULL REFERENCES sessions(id),"
    "  code_digest BLOB NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  used_at INTEGER,"
    "  revoked_at INTEGER);"
    "CREATE INDEX join_codes_digest ON join_codes(code_digest);"
    "CREATE TABLE invites ("
    "  id TEXT PRIMARY KEY,"
    "  session_id TEXT NOT NULL REFERENCES sessions(id),"
    "  token_digest BLOB NOT NULL UNIQUE,"
    "  profile TEXT NOT NULL,"
    "  created_by TEXT NOT NULL REFERENCES participants(id),"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  used_at INTEGER,"
    "  used_by TEXT REFERENCES participants(id),"
    "  revoked_at INTEGER,"
    "  expired_at INTEGER);" /* when its expiry was recorded in the audit log */
    "CREATE INDEX invites_expiry ON invites(expires_at) WHERE used_at IS NULL AND "
    "  revoked_at IS NULL AND expired_at IS NULL;"
    "CREATE TABLE logins ("
    "  token_digest BLOB PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id),"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  revoked_at INTEGER);"
    "CREATE TABLE audit_log ("
    "  chain TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  ts_ms INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  detail TEXT NOT NULL,"
    "  prev_hash BLOB NOT NULL,"
    "  hash BLOB NOT NULL,"
    "  PRIMARY KEY (chain, seq));"
    "CREATE TABLE audit_heads ("
    "  chain TEXT PRIMARY KEY,"
    "  seq INTEGER NOT NULL,"
    "  hash BLOB NOT NULL);"
    /* Guards against mistakes, not attackers (who can drop them): the hash
     * chain is what detects a changed row. */
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    "  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
    "INSERT INTO schema_version VALUES (1);";

/* 2: the customer's take-back is kept with the session (tdm_sig_control.h). */
static const char schema_v2[] =
    "ALTER TABLE sessions ADD COLUMN control INTEGER NOT NULL DEFAULT 0;"
    "INSERT INTO schema_version VALUES (2);";

enum stmt_id {
    Q_USER_ADD,
    Q_USER_GET,
    Q_USER_GET_ID,
    Q_SESSION_INSERT,
    Q_SESSION_GET,
    Q_SESSION_SET_OWNER,
    Q_SESSION_SET_STATE,
    Q_SESSION_SET_CONTROL,
    Q_PART_INSERT,
    Q_PART_GET,
    Q_PART_BY_SECRET,
    Q_PART_LIST,
    Q_PART_LIST_PRESENT,
    Q_PART_SET_PROFILE,
    Q_PART_SET_LEFT,
    Q_CODE_INSERT,
    Q_CODE_FIND,
    Q_CODE_USE,
    Q_CODE_REVOKE_SESSION,
    Q_INVITE_INSERT,
    Q_INVITE_GET,
    Q_INVITE_GET_DIGEST,
    Q_INVITE_USE,
    Q_INVITE_REVOKE,
    Q_INVITE_REVOKE_SESSION,
    Q_INVITE_DUE,
    Q_INVITE_MARK_EXPIRED,
    Q_LOGIN_INSERT,
    Q_LOGIN_FIND,
    Q_LOGIN_REVOKE,
    Q_AUDIT_HEAD,
    Q_AUDIT_INSERT,
    Q_AUDIT_SET_HEAD,
    Q_AUDIT_LIST,
    Q_AUDIT_CHAINS,
    Q_COUNT
};

#define PART_COLS                                                                                  \
    "id, session_id, kind, coalesce(user_id, 0), display_name, profile, "                          \
    "coalesce(invited_by, ''), joined_at, coalesce(left_at, 0)"
#define INVITE_COLS                                                                                \
    "id, session_id, token_digest, profile, created_by, created_at, expires_at, "                  \
    "coalesce(used_at, 0), coalesce(revoked_at, 0), coalesce(used_by, ''), coalesce(expired_at, "  \
    "0)"

static const char *const sql[Q_COUNT] = {
    [Q_USER_ADD] = "INSERT INTO users (name, password_hash, role, may_invite, invite_profiles, "
                   "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_USER_GET] = "SELECT id, name, password_hash, role, may_invite, invite_profiles FROM users "
                   "WHERE name = ?1",
    [Q_USER_GET_ID] = "SELECT id, name, password_hash, role, may_invite, invite_profiles FROM "
                      "users WHERE id = ?1",
    [Q_SESSION_INSERT] = "INSERT INTO sessions (id, owner, state, created_at, recording_key) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_SESSION_GET] = "SELECT id, owner, state, created_at, coalesce(ended_at, 0), recording_key, "
                      "control FROM sessions WHERE id = ?1",
    [Q_SESSION_SET_OWNER] = "UPDATE sessions SET owner = ?2 WHERE id = ?1",
    [Q_SESSION_SET_CONTROL] = "UPDATE sessions SET control = ?2 WHERE id = ?1",
    [Q_SESSION_SET_STATE] = "UPDATE sessions SET state = ?2, ended_at = CASE WHEN ?2 = 'ended' "
                            "THEN ?3 ELSE ended_at END WHERE id = ?1",
    [Q_PART_INSERT] = "INSERT INTO participants (id, session_id, kind, user_id, display_name, "
                      "profile, invited_by, joined_at, secret_digest) VALUES (?1, ?2, ?3, "
                      "nullif(?4, 0), ?5, ?6, nullif(?7, ''), ?8, ?9)",
    [Q_PART_BY_SECRET] = "SELECT " PART_COLS " FROM participants WHERE secret_digest = ?1",
    [Q_PART_GET] = "SELECT " PART_COLS " FROM participants WHERE id = ?1",
    [Q_PART_LIST] = "SELECT " PART_COLS " FROM participants WHERE session_id = ?1 "
                    "ORDER BY joined_at, rowid",
    [Q_PART_LIST_PRESENT] = "SELECT " PART_COLS " FROM participants WHERE session_id = ?1 AND "
                            "left_at IS NULL ORDER BY joined_at, rowid",
    [Q_PART_SET_PROFILE] = "UPDATE participants SET profile = ?2 WHERE id = ?1",
    [Q_PART_SET_LEFT] = "UPDATE participants SET left_at = ?2 WHERE id = ?1 AND left_at IS NULL",
    [Q_CODE_INSERT] = "INSERT INTO join_codes (session_id, code_digest, expires_at) "
                      "VALUES (?1, ?2, ?3)",
    [Q_CODE_FIND] = "SELECT id, session_id FROM join_codes WHERE code_digest = ?1 AND "
                    "used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2",
    [Q_CODE_USE] = "UPDATE join_codes SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL",
    [Q_CODE_REVOKE_SESSION] = "UPDATE join_codes SET revoked_at = ?2 WHERE session_id = ?1 AND "
                              "used_at IS NULL AND revoked_at IS NULL",
    [Q_INVITE_INSERT] = "INSERT INTO invites (id, session_id, token_digest, profile, created_by, "
                        "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_INVITE_GET] = "SELECT " INVITE_COLS " FROM invites WHERE id = ?1",
    [Q_INVITE_GET_DIGEST] = "SELECT " INVITE_COLS " FROM invites WHERE token_digest = ?1",
    [Q_INVITE_USE] = "UPDATE invites SET used_at = ?3, used_by = ?2 WHERE id = ?1 AND "
                     "used_at IS NULL",
    [Q_INVITE_REVOKE] = "UPDATE invites SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    [Q_INVITE_REVOKE_SESSION] = "UPDATE invites SET revoked_at = ?2 WHERE session_id = ?1 AND "
                                "used_at IS NULL AND revoked_at IS NULL",
    [Q_INVITE_DUE] = "SELECT id, session_id, profile FROM invites WHERE expires_at <= ?1 AND "
                     "used_at IS NULL AND revoked_at IS NULL AND expired_at IS NULL "
                     "ORDER BY expires_at LIMIT ?2",
    [Q_INVITE_MARK_EXPIRED] =
        "UPDATE invites SET expired_at = ?2 WHERE id = ?1 AND expired_at IS NULL",
    [Q_LOGIN_INSERT] = "INSERT INTO logins (token_digest, user_id, created_at, expires_at) "
                       "VALUES (?1, ?2, ?3, ?4)",
    [Q_LOGIN_FIND] = "SELECT user_id FROM logins WHERE token_digest = ?1 AND revoked_at IS NULL "
                     "AND expires_at > ?2",
    [Q_LOGIN_REVOKE] = "UPDATE logins SET revoked_at = ?2 WHERE token_digest = ?1 AND "
                       "revoked_at IS NULL",
    [Q_AUDIT_HEAD] = "SELECT seq, hash FROM audit_heads WHERE chain = ?1",
    [Q_AUDIT_INSERT] = "INSERT INTO audit_log (chain, seq, ts_ms, actor, kind, subject, detail, "
                       "prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [Q_AUDIT_SET_HEAD] =
        "INSERT INTO audit_heads (chain, seq, hash) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    [Q_AUDIT_LIST] = "SELECT chain, seq, ts_ms, actor, kind, subject, detail, prev_hash, hash "
                     "FROM audit_log WHERE chain = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    [Q_AUDIT_CHAINS] = "SELECT chain FROM audit_log UNION SELECT chain FROM audit_heads "
                       "ORDER BY 1",
};

struct tdm_sig_store {
    tdm_sig_rstore *r; /* non-NULL: the Redis backend serves every call */
    sqlite3 *db;
    sqlite3_stmt *stmt[Q_COUNT];
    char path[256];
};

static tdm_status db_fail(tdm_sig_store *s, tdm_error *err, const char *what)
{
    int code = sqlite3_extended_errcode(s->db);
    /* A UNIQUE/CHECK/FK violation is a refused request, not a broken disk. */
    tdm_status st = (code & 0xff) == SQLITE_CONSTRAINT ? TDM_ERR_INVALID : TDM_ERR_IO;
    return tdm_fail(err, st, "store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* The prepared statement for id, reset and unbound, prepared on first use. */
static sqlite3_stmt *q(tdm_sig_store *s, enum stmt_id id, tdm_error *err)
{
    if (!s->stmt[id]) {
        if (sqlite3_prepare_v3(s->db, sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id], NULL) !=
            SQLITE_OK) {
            db_fail(s, err, "prepare");
            return NULL;
        }
    } else {
        sqlite3_reset(s->stmt[id]);
        sqlite3_clear_bindings(s->stmt[id]);
    }
    return s->stmt[id];
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

static void bind_blob(sqlite3_stmt *st, int i, const uint8_t *v, size_t n)
{
    sqlite3_bind_blob(st, i, v, (int)n, SQLITE_TRANSIENT);
}

static void copy_col(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", v ? v : "");
}

static void copy_blob(sqlite3_stmt *st, int col, uint8_t *dst, size_t n)
{
    memset(dst, 0, n);
    const void *v = sqlite3_column_blob(st, col);
    if (v && (size_t)sqlite3_column_bytes(st, col) == n)
        memcpy(dst, v, n);
}

/* Runs a statement that returns no rows. */
static tdm_status run(tdm_sig_store *s, sqlite3_stmt *st, const char *what, tdm_error *err)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return db_fail(s, err, what);
    return TDM_OK;
}

/* Steps a lookup: TDM_OK with *found set, or an error. */
static tdm_status step_row(tdm_sig_store *s, sqlite3_stmt *st, bool *found, const char *what,
                           tdm_error *err)
{
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, err, what);
    return TDM_OK;
}

static tdm_status exec(tdm_sig_store *s, const char *text, tdm_error *err)
{
    if (sqlite3_exec(s->db, text, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(s, err, "exec");
    return TDM_OK;
}

static tdm_status migrate(tdm_sig_store *s, tdm_error *err)
{
    sqlite3_stmt *st = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT count(*) FROM sqlite_master WHERE name = 'schema_version'", -1,
                           &st, NULL) != SQLITE_OK)
        return db_fail(s, err, "schema check");
    bool has = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    if (has) {
        if (sqlite3_prepare_v2(s->db, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
            SQLITE_OK)
            return db_fail(s, err, "schema version");
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (version == TDM_SIG_SCHEMA_VERSION)
        return TDM_OK;
    if (version > TDM_SIG_SCHEMA_VERSION || (has && version == 0))
        return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                        "store %s: schema version %d, this program knows %d", s->path, version,
                        TDM_SIG_SCHEMA_VERSION);
    /* Later versions add steps here, each in the same transaction as its
     * schema_version row. */
    tdm_status r = exec(s, "BEGIN IMMEDIATE", err);
    if (r != TDM_OK)
        return r;
    if ((version < 1 && (r = exec(s, schema_v1, err)) != TDM_OK) ||
        (version < 2 && (r = exec(s, schema_v2, err)) != TDM_OK)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
    }
    return exec(s, "COMMIT", err);
}

tdm_status tdm_sig_store_open(const char *path, tdm_sig_store **out, tdm_error *err)
{
    if (!path || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "store_open: NULL argument");
    *out = NULL;
    tdm_sig_store *s = calloc(1, sizeof *s);
    if (!s)
        return tdm_fail(err, TDM_ERR_NOMEM, "store_open: out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    if (strncmp(path, TDM_SIG_STORE_REDIS_SCHEME, sizeof TDM_SIG_STORE_REDIS_SCHEME - 1) == 0) {
        tdm_status rst = tdm_sig_rstore_open(path, &s->r, err);
        if (rst != TDM_OK) {
            free(s);
            return rst;
        }
        *out = s;
        return TDM_OK;
    }
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        tdm_status st = tdm_fail(err, TDM_ERR_IO, "store %s: %s", path,
                                 s->db ? sqlite3_errmsg(s->db) : "cannot open");
        tdm_sig_store_close(s);
        return st;
    }
    /* A second process (the CLI beside the server) waits rather than fails. */
    sqlite3_busy_timeout(s->db, 5000);
    tdm_status st = exec(s, "PRAGMA journal_mode = WAL", err);
    if (st == TDM_OK)
        st = exec(s, "PRAGMA foreign_keys = ON", err);
    /* FULL: a commit is on disk before the caller acknowledges it. */
    if (st == TDM_OK)
        st = exec(s, "PRAGMA synchronous = FULL", err);
    if (st == TDM_OK)
        st = migrate(s, err);
    if (st != TDM_OK) {
        tdm_sig_store_close(s);
        return st;
    }
    *out = s;
    return TDM_OK;
}

void tdm_sig_store_close(tdm_sig_store *s)
{
    if (!s)
        return;
    tdm_sig_rstore_close(s->r);
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    free(s);
}

tdm_status tdm_sig_store_begin(tdm_sig_store *s, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_begin(s->r, err);
    /* IMMEDIATE takes the write lock now, so a check and the write it
     * allows cannot be split by another writer. */
    return exec(s, "BEGIN IMMEDIATE", err);
}

tdm_status tdm_sig_store_commit(tdm_sig_store *s, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_commit(s->r, err);
    return exec(s, "COMMIT", err);
}

void tdm_sig_store_rollback(tdm_sig_store *s)
{
    if (s && s->r) {
        tdm_sig_rstore_rollback(s->r);
        return;
    }
    if (s && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* --- names --- */

const char *tdm_sig_role_name(tdm_sig_role r)
{
    switch (r) {
    case TDM_SIG_ROLE_REP:
        return "rep";
    case TDM_SIG_ROLE_ADMIN:
        return "admin";
    case TDM_SIG_ROLE_AUDITOR:
        return "auditor";
    }
    return "unknown";
}

bool tdm_sig_role_parse(const char *s, tdm_sig_role *out)
{
    for (tdm_sig_role r = TDM_SIG_ROLE_REP; r <= TDM_SIG_ROLE_AUDITOR; r++)
        if (s && strcmp(s, tdm_sig_role_name(r)) == 0) {
            *out = r;
            return true;
        }
    return false;
}

const char *tdm_sig_kind_name(tdm_sig_kind k)
{
    switch (k) {
    case TDM_SIG_KIND_REP:
        return "rep";
    case TDM_SIG_KIND_CUSTOMER:
        return "customer";
    case TDM_SIG_KIND_INVITED:
        return "invited";
    }
    return "unknown";
}

static tdm_sig_kind kind_parse(const char *s)
{
    for (tdm_sig_kind k = TDM_SIG_KIND_REP; k <= TDM_SIG_KIND_INVITED; k++)
        if (s && strcmp(s, tdm_sig_kind_name(k)) == 0)
            return k;
    return TDM_SIG_KIND_CUSTOMER;
}

const char *tdm_sig_state_name(tdm_sig_state s)
{
    switch (s) {
    case TDM_SIG_STATE_WAITING:
        return "waiting";
    case TDM_SIG_STATE_ACTIVE:
        return "active";
    case TDM_SIG_STATE_ENDED:
        return "ended";
    }
    return "unknown";
}

static tdm_sig_state state_parse(const char *s)
{
    for (tdm_sig_state k = TDM_SIG_STATE_WAITING; k <= TDM_SIG_STATE_ENDED; k++)
        if (s && strcmp(s, tdm_sig_state_name(k)) == 0)
            return k;
    return TDM_SIG_STATE_ENDED;
}

/* --- users --- */

tdm_status tdm_sig_store_user_add(tdm_sig_store *s, const tdm_sig_user *u, int64_t now_s,
                                  int64_t *id, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_user_add(s->r, u, now_s, id, err);
    sqlite3_stmt *st = q(s, Q_USER_ADD, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, u->name);
    bind_text(st, 2, u->password_hash);
    bind_text(st, 3, tdm_sig_role_name(u->role));
    sqlite3_bind_int(st, 4, u->may_invite);
    bind_text(st, 5, u->invite_profiles);
    sqlite3_bind_int64(st, 6, now_s);
    tdm_status r = run(s, st, "add user", err);
    if (r == TDM_ERR_INVALID)
        return tdm_fail(err, TDM_ERR_INVALID, "user '%s' already exists", u->name);
    if (r == TDM_OK && id)
        *id = sqlite3_last_insert_rowid(s->db);
    return r;
}

static tdm_status user_get(tdm_sig_store *s, sqlite3_stmt *st, tdm_sig_user *out, bool *found,
                           tdm_error *err)
{
    tdm_status r = step_row(s, st, found, "get user", err);
    if (r == TDM_OK && *found) {
        memset(out, 0, sizeof *out);
        out->id = sqlite3_column_int64(st, 0);
        copy_col(st, 1, out->name, sizeof out->name);
        copy_col(st, 2, out->password_hash, sizeof out->password_hash);
        if (!tdm_sig_role_parse((const char *)sqlite3_column_text(st, 3), &out->role))
            out->role = TDM_SIG_ROLE_REP;
        out->may_invite = sqlite3_column_int(st, 4) != 0;
        copy_col(st, 5, out->invite_profiles, sizeof out->invite_profiles);
    }
    sqlite3_reset(st);
    return r;
}

tdm_status tdm_sig_store_user_get(tdm_sig_store *s, const char *name, tdm_sig_user *out,
                                  bool *found, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_user_get(s->r, name, out, found, err);
    sqlite3_stmt *st = q(s, Q_USER_GET, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, name);
    return user_get(s, st, out, found, err);
}

tdm_status tdm_sig_store_user_get_id(tdm_sig_store *s, int64_t id, tdm_sig_user *out, bool *found,
                                     tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_user_get_id(s->r, id, out, found, err);
    sqlite3_stmt *st = q(s, Q_USER_GET_ID, err);
    if (!st)
        return TDM_ERR_IO;
    sqlite3_bind_int64(st, 1, id);
    return user_get(s, st, out, found, err);
}

/* --- sessions --- */

tdm_status tdm_sig_store_session_insert(tdm_sig_store *s, const tdm_sig_session_row *r,
                                        tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_session_insert(s->r, r, err);
    sqlite3_stmt *st = q(s, Q_SESSION_INSERT, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, r->id);
    bind_text(st, 2, r->owner);
    bind_text(st, 3, tdm_sig_state_name(r->state));
    sqlite3_bind_int64(st, 4, r->created_s);
    bind_blob(st, 5, r->wrapped_key, sizeof r->wrapped_key);
    return run(s, st, "insert session", err);
}

tdm_status tdm_sig_store_session_get(tdm_sig_store *s, const char *id, tdm_sig_session_row *out,
                                     bool *found, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_session_get(s->r, id, out, found, err);
    sqlite3_stmt *st = q(s, Q_SESSION_GET, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, id);
    tdm_status r = step_row(s, st, found, "get session", err);
    if (r == TDM_OK && *found) {
        memset(out, 0, sizeof *out);
        copy_col(st, 0, out->id, sizeof out->id);
        copy_col(st, 1, out->owner, sizeof out->owner);
        out->state = state_parse((const char *)sqlite3_column_text(st, 2));
        out->created_s = sqlite3_column_int64(st, 3);
        out->ended_s = sqlite3_column_int64(st, 4);
        copy_blob(st, 5, out->wrapped_key, sizeof out->wrapped_key);
        out->customer_control = sqlite3_column_int(st, 6) != 0;
    }
    sqlite3_reset(st);
    return r;
}

tdm_status tdm_sig_store_session_set_owner(tdm_sig_store *s, const char *id, const char *owner,
                                           tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_session_set_owner(s->r, id, owner, err);
    sqlite3_stmt *st = q(s, Q_SESSION_SET_OWNER, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, id);
    bind_text(st, 2, owner);
    return run(s, st, "set owner", err);
}

tdm_status tdm_sig_store_session_set_state(tdm_sig_store *s, const char *id, tdm_sig_state state,
                                           int64_t now_s, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_session_set_state(s->r, id, state, now_s, err);
    sqlite3_stmt *st = q(s, Q_SESSION_SET_STATE, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, id);
    bind_text(st, 2, tdm_sig_state_name(state));
    sqlite3_bind_int64(st, 3, now_s);
    return run(s, st, "set session state", err);
}

tdm_status tdm_sig_store_session_set_control(tdm_sig_store *s, const char *id, bool customer,
                                             tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_session_set_control(s->r, id, customer, err);
    sqlite3_stmt *st = q(s, Q_SESSION_SET_CONTROL, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, id);
    sqlite3_bind_int(st, 2, customer ? 1 : 0);
    return run(s, st, "set session control", err);
}

/* --- participants --- */

tdm_status tdm_sig_store_participant_insert(tdm_sig_store *s, const tdm_sig_participant_row *r,
                                            tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_participant_insert(s->r, r, err);
    sqlite3_stmt *st = q(s, Q_PART_INSERT, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, r->id);
    bind_text(st, 2, r->session_id);
    bind_text(st, 3, tdm_sig_kind_name(r->kind));
    sqlite3_bind_int64(st, 4, r->user_id);
    bind_text(st, 5, r->display_name);
    bind_text(st, 6, r->profile);
    bind_text(st, 7, r->invited_by);
    sqlite3_bind_int64(st, 8, r->joined_s);
    bind_blob(st, 9, r->secret_digest, sizeof r->secret_digest);
    return run(s, st, "insert participant", err);
}

static void participant_from(sqlite3_stmt *st, tdm_sig_participant_row *out)
{
    memset(out, 0, sizeof *out);
    copy_col(st, 0, out->id, sizeof out->id);
    copy_col(st, 1, out->session_id, sizeof out->session_id);
    out->kind = kind_parse((const char *)sqlite3_column_text(st, 2));
    out->user_id = sqlite3_column_int64(st, 3);
    copy_col(st, 4, out->display_name, sizeof out->display_name);
    copy_col(st, 5, out->profile, sizeof out->profile);
    copy_col(st, 6, out->invited_by, sizeof out->invited_by);
    out->joined_s = sqlite3_column_int64(st, 7);
    out->left_s = sqlite3_column_int64(st, 8);
}

tdm_status tdm_sig_store_participant_get(tdm_sig_store *s, const char *id,
                                         tdm_sig_participant_row *out, bool *found, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_participant_get(s->r, id, out, found, err);
    sqlite3_stmt *st = q(s, Q_PART_GET, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, id);
    tdm_status r = step_row(s, st, found, "get participant", err);
    if (r == TDM_OK && *found)
        participant_from(st, out);
    sqlite3_reset(st);
    return r;
}

tdm_status tdm_sig_store_participant_by_secret(tdm_sig_store *s,
                                               const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                               tdm_sig_participant_row *out, bool *found,
                                               tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_participant_by_secret(s->r, digest, out, found, err);
    sqlite3_stmt *st = q(s, Q_PART_BY_SECRET, err);
    if (!st)
        return TDM_ERR_IO;
    bind_blob(st, 1, digest, TDM_SIG_DIGEST_LEN);
    tdm_status r = step_row(s, st, found, "find participant", err);
    if (r == TDM_OK && *found)
        participant_from(st, out);
    sqlite3_reset(st);
    return r;
}

tdm_status tdm_sig_store_participant_list(tdm_sig_store *s, const char *session_id,
                                          bool present_only, tdm_sig_participant_row *rows,
                                          size_t cap, size_t *n, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_participant_list(s->r, session_id, present_only, rows, cap, n, err);
    sqlite3_stmt *st = q(s, present_only ? Q_PART_LIST_PRESENT : Q_PART_LIST, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, session_id);
    *n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n < cap)
            participant_from(st, &rows[*n]);
        (*n)++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? TDM_OK : db_fail(s, err, "list participants");
}

tdm_status tdm_sig_store_participant_set_profile(tdm_sig_store *s, const char *id,
                                                 const char *profile, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_participant_set_profile(s->r, id, profile, err);
    sqlite3_stmt *st = q(s, Q_PART_SET_PROFILE, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, id);
    bind_text(st, 2, profile);
    return run(s, st, "set profile", err);
}

tdm_status tdm_sig_store_participant_set_left(tdm_sig_store *s, const char *id, int64_t now_s,
                                              tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_participant_set_left(s->r, id, now_s, err);
    sqlite3_stmt *st = q(s, Q_PART_SET_LEFT, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now_s);
    return run(s, st, "set left", err);
}

/* --- join codes --- */

tdm_status tdm_sig_store_code_insert(tdm_sig_store *s, const char *session_id,
                                     const uint8_t digest[TDM_SIG_DIGEST_LEN], int64_t expires_s,
                                     tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_code_insert(s->r, session_id, digest, expires_s, err);
    sqlite3_stmt *st = q(s, Q_CODE_INSERT, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, session_id);
    bind_blob(st, 2, digest, TDM_SIG_DIGEST_LEN);
    sqlite3_bind_int64(st, 3, expires_s);
    return run(s, st, "insert join code", err);
}

tdm_status tdm_sig_store_code_find_live(tdm_sig_store *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                        int64_t now_s, char session_id[TDM_SIG_ID_CAP],
                                        int64_t *code_id, bool *found, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_code_find_live(s->r, digest, now_s, session_id, code_id, found, err);
    sqlite3_stmt *st = q(s, Q_CODE_FIND, err);
    if (!st)
        return TDM_ERR_IO;
    bind_blob(st, 1, digest, TDM_SIG_DIGEST_LEN);
    sqlite3_bind_int64(st, 2, now_s);
    tdm_status r = step_row(s, st, found, "find join code", err);
    if (r == TDM_OK && *found) {
        *code_id = sqlite3_column_int64(st, 0);
        copy_col(st, 1, session_id, TDM_SIG_ID_CAP);
    }
    sqlite3_reset(st);
    return r;
}

tdm_status tdm_sig_store_code_use(tdm_sig_store *s, int64_t code_id, int64_t now_s, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_code_use(s->r, code_id, now_s, err);
    sqlite3_stmt *st = q(s, Q_CODE_USE, err);
    if (!st)
        return TDM_ERR_IO;
    sqlite3_bind_int64(st, 1, code_id);
    sqlite3_bind_int64(st, 2, now_s);
    return run(s, st, "use join code", err);
}

tdm_status tdm_sig_store_code_revoke_session(tdm_sig_store *s, const char *session_id,
                                             int64_t now_s, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_code_revoke_session(s->r, session_id, now_s, err);
    sqlite3_stmt *st = q(s, Q_CODE_REVOKE_SESSION, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, session_id);
    sqlite3_bind_int64(st, 2, now_s);
    return run(s, st, "revoke join codes", err);
}

/* --- invites --- */

tdm_status tdm_sig_store_invite_insert(tdm_sig_store *s, const tdm_sig_invite_row *r,
                                       tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_invite_insert(s->r, r, err);
    sqlite3_stmt *st = q(s, Q_INVITE_INSERT, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, r->id);
    bind_text(st, 2, r->session_id);
    bind_blob(st, 3, r->token_digest, TDM_SIG_DIGEST_LEN);
    bind_text(st, 4, r->profile);
    bind_text(st, 5, r->created_by);
    sqlite3_bind_int64(st, 6, r->created_s);
    sqlite3_bind_int64(st, 7, r->expires_s);
    return run(s, st, "insert invite", err);
}

static tdm_status invite_get(tdm_sig_store *s, sqlite3_stmt *st, tdm_sig_invite_row *out,
                             bool *found, tdm_error *err)
{
    tdm_status r = step_row(s, st, found, "get invite", err);
    if (r == TDM_OK && *found) {
        memset(out, 0, sizeof *out);
        copy_col(st, 0, out->id, sizeof out->id);
        copy_col(st, 1, out->session_id, sizeof out->session_id);
        copy_blob(st, 2, out->token_digest, TDM_SIG_DIGEST_LEN);
        copy_col(st, 3, out->profile, sizeof out->profile);
        copy_col(st, 4, out->created_by, sizeof out->created_by);
        out->created_s = sqlite3_column_int64(st, 5);
        out->expires_s = sqlite3_column_int64(st, 6);
        out->used_s = sqlite3_column_int64(st, 7);
        out->revoked_s = sqlite3_column_int64(st, 8);
        copy_col(st, 9, out->used_by, sizeof out->used_by);
        out->expired_s = sqlite3_column_int64(st, 10);
    }
    sqlite3_reset(st);
    return r;
}

tdm_status tdm_sig_store_invite_get(tdm_sig_store *s, const char *id, tdm_sig_invite_row *out,
                                    bool *found, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_invite_get(s->r, id, out, found, err);
    sqlite3_stmt *st = q(s, Q_INVITE_GET, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, id);
    return invite_get(s, st, out, found, err);
}

tdm_status tdm_sig_store_invite_get_by_digest(tdm_sig_store *s,
                                              const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                              tdm_sig_invite_row *out, bool *found, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_invite_get_by_digest(s->r, digest, out, found, err);
    sqlite3_stmt *st = q(s, Q_INVITE_GET_DIGEST, err);
    if (!st)
        return TDM_ERR_IO;
    bind_blob(st, 1, digest, TDM_SIG_DIGEST_LEN);
    return invite_get(s, st, out, found, err);
}

tdm_status tdm_sig_store_invite_use(tdm_sig_store *s, const char *id, const char *used_by,
                                    int64_t now_s, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_invite_use(s->r, id, used_by, now_s, err);
    sqlite3_stmt *st = q(s, Q_INVITE_USE, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, id);
    bind_text(st, 2, used_by);
    sqlite3_bind_int64(st, 3, now_s);
    return run(s, st, "use invite", err);
}

tdm_status tdm_sig_store_invite_revoke(tdm_sig_store *s, const char *id, int64_t now_s,
                                       tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_invite_revoke(s->r, id, now_s, err);
    sqlite3_stmt *st = q(s, Q_INVITE_REVOKE, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now_s);
    return run(s, st, "revoke invite", err);
}

tdm_status tdm_sig_store_invite_revoke_session(tdm_sig_store *s, const char *session_id,
                                               int64_t now_s, int *n, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_invite_revoke_session(s->r, session_id, now_s, n, err);
    sqlite3_stmt *st = q(s, Q_INVITE_REVOKE_SESSION, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, session_id);
    sqlite3_bind_int64(st, 2, now_s);
    tdm_status r = run(s, st, "revoke invites", err);
    if (n)
        *n = r == TDM_OK ? sqlite3_changes(s->db) : 0;
    return r;
}

tdm_status tdm_sig_store_invite_due(tdm_sig_store *s, int64_t now_s, size_t limit,
                                    tdm_sig_invite_row *rows, size_t *n, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_invite_due(s->r, now_s, limit, rows, n, err);
    sqlite3_stmt *st = q(s, Q_INVITE_DUE, err);
    if (!st)
        return TDM_ERR_IO;
    sqlite3_bind_int64(st, 1, now_s);
    sqlite3_bind_int64(st, 2, (int64_t)limit);
    *n = 0;
    int rc;
    while (*n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        tdm_sig_invite_row *r = &rows[(*n)++];
        memset(r, 0, sizeof *r);
        copy_col(st, 0, r->id, sizeof r->id);
        copy_col(st, 1, r->session_id, sizeof r->session_id);
        copy_col(st, 2, r->profile, sizeof r->profile);
    }
    sqlite3_reset(st);
    return *n < limit && rc != SQLITE_DONE ? db_fail(s, err, "list due invites") : TDM_OK;
}

tdm_status tdm_sig_store_invite_mark_expired(tdm_sig_store *s, const char *id, int64_t now_s,
                                             tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_invite_mark_expired(s->r, id, now_s, err);
    sqlite3_stmt *st = q(s, Q_INVITE_MARK_EXPIRED, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now_s);
    return run(s, st, "mark invite expired", err);
}

/* --- logins --- */

tdm_status tdm_sig_store_login_insert(tdm_sig_store *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                      int64_t user_id, int64_t now_s, int64_t expires_s,
                                      tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_login_insert(s->r, digest, user_id, now_s, expires_s, err);
    sqlite3_stmt *st = q(s, Q_LOGIN_INSERT, err);
    if (!st)
        return TDM_ERR_IO;
    bind_blob(st, 1, digest, TDM_SIG_DIGEST_LEN);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_int64(st, 3, now_s);
    sqlite3_bind_int64(st, 4, expires_s);
    return run(s, st, "insert login", err);
}

tdm_status tdm_sig_store_login_find(tdm_sig_store *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                    int64_t now_s, int64_t *user_id, bool *found, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_login_find(s->r, digest, now_s, user_id, found, err);
    sqlite3_stmt *st = q(s, Q_LOGIN_FIND, err);
    if (!st)
        return TDM_ERR_IO;
    bind_blob(st, 1, digest, TDM_SIG_DIGEST_LEN);
    sqlite3_bind_int64(st, 2, now_s);
    tdm_status r = step_row(s, st, found, "find login", err);
    if (r == TDM_OK && *found)
        *user_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return r;
}

tdm_status tdm_sig_store_login_revoke(tdm_sig_store *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                      int64_t now_s, int *n, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_login_revoke(s->r, digest, now_s, n, err);
    sqlite3_stmt *st = q(s, Q_LOGIN_REVOKE, err);
    if (!st)
        return TDM_ERR_IO;
    bind_blob(st, 1, digest, TDM_SIG_DIGEST_LEN);
    sqlite3_bind_int64(st, 2, now_s);
    tdm_status r = run(s, st, "revoke login", err);
    if (n)
        *n = r == TDM_OK ? sqlite3_changes(s->db) : 0;
    return r;
}

/* --- audit log --- */

tdm_status tdm_sig_store_audit_append(tdm_sig_store *s, const char *chain, int64_t ts_ms,
                                      const char *actor, const char *kind, const char *subject,
                                      const char *detail_json, int64_t *seq, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_audit_append(s->r, chain, ts_ms, actor, kind, subject, detail_json, seq, err);
    tdm_sig_audit_entry e;
    memset(&e, 0, sizeof e);
    e.chain = chain;
    e.ts_ms = ts_ms;
    e.actor = actor ? actor : "";
    e.kind = kind;
    e.subject = subject ? subject : "";
    e.detail = detail_json ? detail_json : "{}";
    sqlite3_stmt *st = q(s, Q_AUDIT_HEAD, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, chain);
    bool found = false;
    tdm_status r = step_row(s, st, &found, "read audit head", err);
    if (r != TDM_OK)
        return r;
    e.seq = found ? sqlite3_column_int64(st, 0) + 1 : 1;
    if (found)
        copy_blob(st, 1, e.prev_hash, sizeof e.prev_hash);
    sqlite3_reset(st);
    if ((r = tdm_sig_audit_hash(&e, e.hash, err)) != TDM_OK)
        return r;

    if (!(st = q(s, Q_AUDIT_INSERT, err)))
        return TDM_ERR_IO;
    bind_text(st, 1, e.chain);
    sqlite3_bind_int64(st, 2, e.seq);
    sqlite3_bind_int64(st, 3, e.ts_ms);
    bind_text(st, 4, e.actor);
    bind_text(st, 5, e.kind);
    bind_text(st, 6, e.subject);
    bind_text(st, 7, e.detail);
    bind_blob(st, 8, e.prev_hash, sizeof e.prev_hash);
    bind_blob(st, 9, e.hash, sizeof e.hash);
    if ((r = run(s, st, "append audit entry", err)) != TDM_OK)
        return r;
    if (!(st = q(s, Q_AUDIT_SET_HEAD, err)))
        return TDM_ERR_IO;
    bind_text(st, 1, e.chain);
    sqlite3_bind_int64(st, 2, e.seq);
    bind_blob(st, 3, e.hash, sizeof e.hash);
    if ((r = run(s, st, "move audit head", err)) != TDM_OK)
        return r;
    if (seq)
        *seq = e.seq;
    return TDM_OK;
}

static void entry_from(sqlite3_stmt *st, tdm_sig_audit_entry *e)
{
    memset(e, 0, sizeof *e);
    e->chain = (const char *)sqlite3_column_text(st, 0);
    e->seq = sqlite3_column_int64(st, 1);
    e->ts_ms = sqlite3_column_int64(st, 2);
    e->actor = (const char *)sqlite3_column_text(st, 3);
    e->kind = (const char *)sqlite3_column_text(st, 4);
    e->subject = (const char *)sqlite3_column_text(st, 5);
    e->detail = (const char *)sqlite3_column_text(st, 6);
    /* A hash column of the wrong size reads as zeros, which cannot match. */
    copy_blob(st, 7, e->prev_hash, sizeof e->prev_hash);
    copy_blob(st, 8, e->hash, sizeof e->hash);
}

tdm_status tdm_sig_store_audit_list(tdm_sig_store *s, const char *chain, int64_t after_seq,
                                    size_t limit,
                                    void (*fn)(void *ctx, const tdm_sig_audit_entry *e), void *ctx,
                                    tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_audit_list(s->r, chain, after_seq, limit, fn, ctx, err);
    sqlite3_stmt *st = q(s, Q_AUDIT_LIST, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, chain);
    sqlite3_bind_int64(st, 2, after_seq);
    sqlite3_bind_int64(st, 3, limit ? (int64_t)limit : -1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        tdm_sig_audit_entry e;
        entry_from(st, &e);
        fn(ctx, &e);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? TDM_OK : db_fail(s, err, "list audit entries");
}

static tdm_status verify_chain(tdm_sig_store *s, const char *chain, tdm_sig_audit_report *rep,
                               tdm_error *err)
{
    tdm_sig_audit_walk w;
    tdm_sig_audit_walk_init(&w, chain);
    sqlite3_stmt *st = q(s, Q_AUDIT_LIST, err);
    if (!st)
        return TDM_ERR_IO;
    bind_text(st, 1, chain);
    sqlite3_bind_int64(st, 2, INT64_MIN);
    sqlite3_bind_int64(st, 3, -1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        tdm_sig_audit_entry e;
        entry_from(st, &e);
        rep->entries++;
        if (!tdm_sig_audit_walk_step(&w, &e))
            break;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, err, "read audit log");
    if (!w.bad) {
        if (!(st = q(s, Q_AUDIT_HEAD, err)))
            return TDM_ERR_IO;
        bind_text(st, 1, chain);
        bool found = false;
        tdm_status r = step_row(s, st, &found, "read audit head", err);
        if (r != TDM_OK)
            return r;
        uint8_t head[TDM_SIG_AUDIT_HASH_LEN] = {0};
        int64_t head_seq = 0;
        if (found) {
            head_seq = sqlite3_column_int64(st, 0);
            copy_blob(st, 1, head, sizeof head);
        }
        sqlite3_reset(st);
        tdm_sig_audit_walk_finish(&w, found, head_seq, head);
    }
    rep->chains++;
    if (w.bad && rep->intact) {
        rep->intact = false;
        snprintf(rep->problem, sizeof rep->problem, "%s", w.problem);
        snprintf(rep->bad_chain, sizeof rep->bad_chain, "%s", chain);
        rep->bad_seq = w.bad_seq;
    }
    return TDM_OK;
}

static tdm_status audit_verify_sqlite(tdm_sig_store *s, const char *chain,
                                      tdm_sig_audit_report *report, tdm_error *err);

tdm_status tdm_sig_store_audit_verify(tdm_sig_store *s, const char *chain,
                                      tdm_sig_audit_report *report, tdm_error *err)
{
    if (s->r)
        return tdm_sig_rstore_audit_verify(s->r, chain, report, err);
    /* One read transaction: the entries and the chain heads must come from
     * the same snapshot, or an entry a live service appends between the two
     * reads looks like entries deleted after the last one read. */
    bool own_txn = sqlite3_get_autocommit(s->db) != 0;
    if (own_txn && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(s, err, "audit verify: begin");
    tdm_status r = audit_verify_sqlite(s, chain, report, err);
    if (own_txn)
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return r;
}

static tdm_status audit_verify_sqlite(tdm_sig_store *s, const char *chain,
                                      tdm_sig_audit_report *report, tdm_error *err)
{
    memset(report, 0, sizeof *report);
    report->intact = true;
    sqlite3_stmt *st = q(s, Q_AUDIT_CHAINS, err);
    if (!st)
        return TDM_ERR_IO;
    /* Collect chain names first: verify_chain reuses statements. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc;
    tdm_status r = TDM_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        if (chain && strcmp(c ? c : "", chain) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(names, cap * sizeof *names);
            if (!grown) {
                r = tdm_fail(err, TDM_ERR_NOMEM, "audit verify: out of memory");
                break;
            }
            names = grown;
        }
        names[n] = strdup(c ? c : "");
        if (!names[n]) {
            r = tdm_fail(err, TDM_ERR_NOMEM, "audit verify: out of memory");
            break;
        }
        n++;
    }
    sqlite3_reset(st);
    if (r == TDM_OK && rc != SQLITE_DONE)
        r = db_fail(s, err, "list audit chains");
    if (r == TDM_OK && chain && n == 0)
        r = tdm_fail(err, TDM_ERR_INVALID, "no audit log for session '%s'", chain);
    for (size_t i = 0; r == TDM_OK && i < n; i++)
        r = verify_chain(s, names[i], report, err);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return r;
}
