/* tdm_sig_store: signaling's durable state, SQLite backend.
 *
 * Owns the database file: schema (with a schema_version table), WAL mode,
 * foreign keys, synchronous=FULL (an entry acknowledged is on disk), and one
 * prepared statement per query. Records are plain structs; rules about who
 * may do what are not here but in signal.c, which groups a check and its
 * writes, audit entry included, in one transaction (begin/commit), so the
 * operation and its record land together or not at all.
 *
 * Two backends behind these functions: SQLite (a file path; the default)
 * and Redis (a path "redis://HOST[:PORT][/DB]": redis_store.c,
 * tdm_redis_store.h, shared by several tandem-signal instances). Every call
 * below goes to the backend chosen at open; the Redis one keeps the
 * semantics (one-time codes and invites, append-only hash chains) with the
 * differences its header states (a write lock instead of BEGIN IMMEDIATE;
 * no undo on rollback).
 *
 * Not-found is not an error: lookups report it through *found. Text fields
 * are bounded by the caps below; longer values are refused on insert. */
#ifndef TDM_SIG_STORE_H
#define TDM_SIG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_sig_audit.h"
#include "tdm_sig_keys.h"
#include "tdm_sig_password.h"
#include "tdm_sig_profile.h"
#include "tdm_status.h"

#define TDM_SIG_SCHEMA_VERSION 2 /* 2: sessions.control */
#define TDM_SIG_ID_CAP 32   /* "s_" / "p_" / "i_" + 24 hex + NUL */
#define TDM_SIG_NAME_MAX 64 /* user names and display names, bytes */
#define TDM_SIG_PROFILE_LIST_CAP 512

typedef enum tdm_sig_role {
    TDM_SIG_ROLE_REP = 1,
    TDM_SIG_ROLE_ADMIN,
    TDM_SIG_ROLE_AUDITOR
} tdm_sig_role;
typedef enum tdm_sig_kind {
    TDM_SIG_KIND_REP = 1,
    TDM_SIG_KIND_CUSTOMER,
    TDM_SIG_KIND_INVITED,
} tdm_sig_kind;
typedef enum tdm_sig_state {
    TDM_SIG_STATE_WAITING = 1, /* opened, customer not yet joined */
    TDM_SIG_STATE_ACTIVE,
    TDM_SIG_STATE_ENDED,
} tdm_sig_state;

const char *tdm_sig_role_name(tdm_sig_role r);
bool tdm_sig_role_parse(const char *s, tdm_sig_role *out);
const char *tdm_sig_kind_name(tdm_sig_kind k);
const char *tdm_sig_state_name(tdm_sig_state s);

typedef struct tdm_sig_user {
    int64_t id;
    char name[TDM_SIG_NAME_MAX + 1];
    char password_hash[TDM_SIG_PASSWORD_HASH_CAP];
    tdm_sig_role role;
    bool may_invite;
    char invite_profiles[TDM_SIG_PROFILE_LIST_CAP]; /* "a,b,c" */
} tdm_sig_user;

typedef struct tdm_sig_session_row {
    char id[TDM_SIG_ID_CAP];
    char owner[TDM_SIG_ID_CAP]; /* participant id; "" when no rep owns it */
    tdm_sig_state state;
    int64_t created_s, ended_s; /* ended_s 0 while not ended */
    uint8_t wrapped_key[TDM_SIG_WRAPPED_KEY_LEN];
    /* The customer took control back (tdm_sig_control.h); false = shared.
     * Kept with the session so every instance of a cluster sees one state. */
    bool customer_control;
} tdm_sig_session_row;

typedef struct tdm_sig_participant_row {
    char id[TDM_SIG_ID_CAP];
    char session_id[TDM_SIG_ID_CAP];
    tdm_sig_kind kind;
    int64_t user_id; /* reps; 0 otherwise */
    char display_name[TDM_SIG_NAME_MAX + 1];
    char profile[TDM_SIG_PROFILE_NAME_MAX + 1];
    char invited_by[TDM_SIG_ID_CAP];           /* invitees: the inviting rep's participant id */
    uint8_t secret_digest[TDM_SIG_DIGEST_LEN]; /* of its socket credential; not read back */
    int64_t joined_s, left_s;                  /* left_s 0 while present */
} tdm_sig_participant_row;

typedef struct tdm_sig_invite_row {
    char id[TDM_SIG_ID_CAP];
    char session_id[TDM_SIG_ID_CAP];
    uint8_t token_digest[TDM_SIG_DIGEST_LEN];
    char profile[TDM_SIG_PROFILE_NAME_MAX + 1];
    char created_by[TDM_SIG_ID_CAP];
    int64_t created_s, expires_s, used_s, revoked_s; /* 0 = not (yet) */
    int64_t expired_s;                               /* when the lapse was audited; 0 = not yet */
    char used_by[TDM_SIG_ID_CAP];
} tdm_sig_invite_row;

typedef struct tdm_sig_store tdm_sig_store;

#define TDM_SIG_STORE_REDIS_SCHEME "redis://"

/* Opens (creating if needed) the database at path and brings the schema to
 * TDM_SIG_SCHEMA_VERSION. A newer schema than this code knows is refused.
 * A path starting with redis:// opens the Redis backend instead
 * (TDM_ERR_UNAVAILABLE when it cannot be reached).
 * @return TDM_OK; TDM_ERR_IO naming path and SQLite's reason;
 *         TDM_ERR_UNSUPPORTED for an unknown schema version. */
tdm_status tdm_sig_store_open(const char *path, tdm_sig_store **out, tdm_error *err);
void tdm_sig_store_close(tdm_sig_store *s);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Rollback is best effort and safe to
 * call when no transaction is open. */
tdm_status tdm_sig_store_begin(tdm_sig_store *s, tdm_error *err);
tdm_status tdm_sig_store_commit(tdm_sig_store *s, tdm_error *err);
void tdm_sig_store_rollback(tdm_sig_store *s);

/* --- users --- */
/* TDM_ERR_INVALID if the name is taken. */
tdm_status tdm_sig_store_user_add(tdm_sig_store *s, const tdm_sig_user *u, int64_t now_s,
                                  int64_t *id, tdm_error *err);
tdm_status tdm_sig_store_user_get(tdm_sig_store *s, const char *name, tdm_sig_user *out,
                                  bool *found, tdm_error *err);
tdm_status tdm_sig_store_user_get_id(tdm_sig_store *s, int64_t id, tdm_sig_user *out, bool *found,
                                     tdm_error *err);

/* --- sessions --- */
tdm_status tdm_sig_store_session_insert(tdm_sig_store *s, const tdm_sig_session_row *r,
                                        tdm_error *err);
tdm_status tdm_sig_store_session_get(tdm_sig_store *s, const char *id, tdm_sig_session_row *out,
                                     bool *found, tdm_error *err);
/* owner "" clears it. */
tdm_status tdm_sig_store_session_set_owner(tdm_sig_store *s, const char *id, const char *owner,
                                           tdm_error *err);
tdm_status tdm_sig_store_session_set_state(tdm_sig_store *s, const char *id, tdm_sig_state st,
                                           int64_t now_s, tdm_error *err);
/* Who drives the customer's screen: customer true = taken back. */
tdm_status tdm_sig_store_session_set_control(tdm_sig_store *s, const char *id, bool customer,
                                             tdm_error *err);

/* --- participants --- */
tdm_status tdm_sig_store_participant_insert(tdm_sig_store *s, const tdm_sig_participant_row *r,
                                            tdm_error *err);
tdm_status tdm_sig_store_participant_get(tdm_sig_store *s, const char *id,
                                         tdm_sig_participant_row *out, bool *found, tdm_error *err);
/* The participant whose credential has this digest. */
tdm_status tdm_sig_store_participant_by_secret(tdm_sig_store *s,
                                               const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                               tdm_sig_participant_row *out, bool *found,
                                               tdm_error *err);
/* Participants of a session in join order; present_only skips those who
 * left. *n receives the count (at most cap rows are written). */
tdm_status tdm_sig_store_participant_list(tdm_sig_store *s, const char *session_id,
                                          bool present_only, tdm_sig_participant_row *rows,
                                          size_t cap, size_t *n, tdm_error *err);
tdm_status tdm_sig_store_participant_set_profile(tdm_sig_store *s, const char *id,
                                                 const char *profile, tdm_error *err);
tdm_status tdm_sig_store_participant_set_left(tdm_sig_store *s, const char *id, int64_t now_s,
                                              tdm_error *err);

/* --- customer join codes --- */
tdm_status tdm_sig_store_code_insert(tdm_sig_store *s, const char *session_id,
                                     const uint8_t digest[TDM_SIG_DIGEST_LEN], int64_t expires_s,
                                     tdm_error *err);
/* A code that is unused, unrevoked and unexpired at now_s; *found false
 * otherwise. *code_id identifies it for _use. */
tdm_status tdm_sig_store_code_find_live(tdm_sig_store *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                        int64_t now_s, char session_id[TDM_SIG_ID_CAP],
                                        int64_t *code_id, bool *found, tdm_error *err);
tdm_status tdm_sig_store_code_use(tdm_sig_store *s, int64_t code_id, int64_t now_s, tdm_error *err);
/* Revokes every unused code of the session. */
tdm_status tdm_sig_store_code_revoke_session(tdm_sig_store *s, const char *session_id,
                                             int64_t now_s, tdm_error *err);

/* --- invites --- */
tdm_status tdm_sig_store_invite_insert(tdm_sig_store *s, const tdm_sig_invite_row *r,
                                       tdm_error *err);
tdm_status tdm_sig_store_invite_get(tdm_sig_store *s, const char *id, tdm_sig_invite_row *out,
                                    bool *found, tdm_error *err);
tdm_status tdm_sig_store_invite_get_by_digest(tdm_sig_store *s,
                                              const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                              tdm_sig_invite_row *out, bool *found, tdm_error *err);
tdm_status tdm_sig_store_invite_use(tdm_sig_store *s, const char *id, const char *used_by,
                                    int64_t now_s, tdm_error *err);
tdm_status tdm_sig_store_invite_revoke(tdm_sig_store *s, const char *id, int64_t now_s,
                                       tdm_error *err);
/* Revokes every unused, unrevoked invite of the session; *n how many. */
tdm_status tdm_sig_store_invite_revoke_session(tdm_sig_store *s, const char *session_id,
                                               int64_t now_s, int *n, tdm_error *err);

/* Up to limit invites (id, session_id, profile filled) whose expiry passed
 * at now_s and was not yet recorded, oldest first. */
tdm_status tdm_sig_store_invite_due(tdm_sig_store *s, int64_t now_s, size_t limit,
                                    tdm_sig_invite_row *rows, size_t *n, tdm_error *err);
/* Notes that the invite's expiry is in the audit log. */
tdm_status tdm_sig_store_invite_mark_expired(tdm_sig_store *s, const char *id, int64_t now_s,
                                             tdm_error *err);

/* --- reps' logins (bearer tokens, stored as digests) --- */
tdm_status tdm_sig_store_login_insert(tdm_sig_store *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                      int64_t user_id, int64_t now_s, int64_t expires_s,
                                      tdm_error *err);
/* A login that is unrevoked and unexpired at now_s. */
tdm_status tdm_sig_store_login_find(tdm_sig_store *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                    int64_t now_s, int64_t *user_id, bool *found, tdm_error *err);
tdm_status tdm_sig_store_login_revoke(tdm_sig_store *s, const uint8_t digest[TDM_SIG_DIGEST_LEN],
                                      int64_t now_s, int *n, tdm_error *err);

/* --- audit log --- */
/* Appends to chain (a session id or TDM_SIG_AUDIT_SYSTEM_CHAIN): reads the
 * head, chains, inserts and moves the head. Call inside a transaction. */
tdm_status tdm_sig_store_audit_append(tdm_sig_store *s, const char *chain, int64_t ts_ms,
                                      const char *actor, const char *kind, const char *subject,
                                      const char *detail_json, int64_t *seq, tdm_error *err);

/* Entries of chain with seq > after_seq, in order, at most limit (0 = all);
 * fn's entry is valid during the call only. */
tdm_status tdm_sig_store_audit_list(tdm_sig_store *s, const char *chain, int64_t after_seq,
                                    size_t limit,
                                    void (*fn)(void *ctx, const tdm_sig_audit_entry *e), void *ctx,
                                    tdm_error *err);

typedef struct tdm_sig_audit_report {
    bool intact;
    size_t chains, entries;
    char problem[256]; /* when not intact: chain, entry and what is wrong */
    char bad_chain[80];
    int64_t bad_seq;
} tdm_sig_audit_report;

/* Verifies one chain (chain non-NULL), or every chain in the database. A
 * chain named but absent from both log and heads is TDM_ERR_INVALID.
 * @return TDM_OK with report filled (intact or not); errors only for IO. */
tdm_status tdm_sig_store_audit_verify(tdm_sig_store *s, const char *chain,
                                      tdm_sig_audit_report *report, tdm_error *err);

#endif
