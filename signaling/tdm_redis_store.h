/* tdm_redis_store: the Redis backend of signaling's state, behind the same
 * functions as the SQLite one (tdm_sig_store.h dispatches to these when its
 * path is a redis:// URL). Several tandem-signal instances share it, so any
 * instance serves any request.
 *
 * Key layout (all under "tdm:"; API.md "Cluster"):
 *   user:{name} hash, user_id:{id} -> name, seq:user      accounts
 *   sess:{sid} hash; sess:{sid}:parts list (join order);
 *   sess:{sid}:codes set; sess:{sid}:invites set          sessions
 *   part:{pid} hash; part_secret:{hex digest} -> pid     participants
 *   code:{id} hash; code_digest:{hex} -> id; seq:code    join codes
 *   inv:{id} hash; inv_digest:{hex} -> id; inv_due zset  invites
 *   login:{hex} hash, expiring with the login            logins
 *   audit:{chain}:log list; audit:{chain}:head hash;
 *   audit:chains set                                      audit chains
 *   lock                                                  the write lock
 *
 * Transactions: begin takes a cluster-wide lease lock (SET NX PX) and
 * commit/rollback release it (compare-and-delete), so a check and the
 * writes it allows are not split by another instance, as BEGIN IMMEDIATE
 * does for SQLite writers. Writes apply at once: a rollback does not undo
 * them (the core checks before it writes, so a rollback follows only a
 * failed store call). Two guards do not rely on the lock, in case a lease
 * lapses under a stalled holder: using a join code or an invite is a Lua
 * compare-and-set (a second use fails), and an audit append is a Lua
 * compare-and-set on the chain head (expected previous seq and hash), retried
 * after re-reading the head, so a chain never forks.
 *
 * Errors: Redis unreachable is TDM_ERR_UNAVAILABLE with a message starting
 * with TDM_REDIS_DOWN_PREFIX (tdm_redis_conn.h). */
#ifndef TDM_REDIS_STORE_H
#define TDM_REDIS_STORE_H

#include "tdm_sig_store.h"

#define TDM_REDIS_LOCK_LEASE_MS 10000
#define TDM_REDIS_LOCK_WAIT_MS 5000

typedef struct tdm_sig_rstore tdm_sig_rstore;

/* Parses url (tdm_redis_conn.h) and connects; an unreachable Redis is an
 * error here (TDM_ERR_UNAVAILABLE) but not later: calls then fail until it
 * is back, and reconnect by themselves. */
tdm_status tdm_sig_rstore_open(const char *url, tdm_sig_rstore **out, tdm_error *err);
void tdm_sig_rstore_close(tdm_sig_rstore *s);
tdm_status tdm_sig_rstore_begin(tdm_sig_rstore *s, tdm_error *err);
tdm_status tdm_sig_rstore_commit(tdm_sig_rstore *s, tdm_error *err);
void tdm_sig_rstore_rollback(tdm_sig_rstore *s);
tdm_status tdm_sig_rstore_user_add(tdm_sig_rstore *s, const tdm_sig_user *u, int64_t now_s, int64_t *id, tdm_error *err);
tdm_status tdm_sig_rstore_user_get(tdm_sig_rstore *s, const char *name, tdm_sig_user *out, bool *found, tdm_error *err);
tdm_status tdm_sig_rstore_user_get_id(tdm_sig_rstore *s, int64_t id, tdm_sig_user *out, bool *found, tdm_error *err);
tdm_status tdm_sig_rstore_session_insert(tdm_sig_rstore *s, const tdm_sig_session_row *r, tdm_error *err);
tdm_status tdm_sig_rstore_session_get(tdm_sig_rstore *s, const char *id, tdm_sig_session_row *out, bool *found, tdm_error *err);
tdm_status tdm_sig_rstore_session_set_owner(tdm_sig_rstore *s, const char *id, const char *owner, tdm_error *err);
tdm_status tdm_sig_rstore_session_set_state(tdm_sig_rstore *s, const char *id, tdm_sig_state st, int64_t now_s, tdm_error *err);
tdm_status tdm_sig_rstore_session_set_control(tdm_sig_rstore *s, const char *id, bool customer, tdm_error *err);
tdm_status tdm_sig_rstore_participant_insert(tdm_sig_rstore *s, const tdm_sig_participant_row *r, tdm_error *err);
tdm_status tdm_sig_rstore_participant_get(tdm_sig_rstore *s, const char *id, tdm_sig_participant_row *out, bool *found, tdm_error *err);
tdm_status tdm_sig_rstore_participant_by_secret(tdm_sig_rstore *s, const uint8_t digest[TDM_SIG_DIGEST_LEN], tdm_sig_participant_row *out, bool *found, tdm_error *err);
tdm_status tdm_sig_rstore_participant_list(tdm_sig_rstore *s, const char *session_id, bool present_only, tdm_sig_participant_row *rows, size_t cap, size_t *n, tdm_error *err);
tdm_status tdm_sig_rstore_participant_set_profile(tdm_sig_rstore *s, const char *id, const char *profile, tdm_error *err);
tdm_status tdm_sig_rstore_participant_set_left(tdm_sig_rstore *s, const char *id, int64_t now_s, tdm_error *err);
tdm_status tdm_sig_rstore_code_insert(tdm_sig_rstore *s, const char *session_id, const uint8_t digest[TDM_SIG_DIGEST_LEN], int64_t expires_s, tdm_error *err);
tdm_status tdm_sig_rstore_code_find_live(tdm_sig_rstore *s, const uint8_t digest[TDM_SIG_DIGEST_LEN], int64_t now_s, char session_id[TDM_SIG_ID_CAP], int64_t *code_id, bool *found, tdm_error *err);
tdm_status tdm_sig_rstore_code_use(tdm_sig_rstore *s, int64_t code_id, int64_t now_s, tdm_error *err);
tdm_status tdm_sig_rstore_code_revoke_session(tdm_sig_rstore *s, const char *session_id, int64_t now_s, tdm_error *err);
tdm_status tdm_sig_rstore_invite_insert(tdm_sig_rstore *s, const tdm_sig_invite_row *r, tdm_error *err);
tdm_status tdm_sig_rstore_invite_get(tdm_sig_rstore *s, const char *id, tdm_sig_invite_row *out, bool *found, tdm_error *err);
tdm_status tdm_sig_rstore_invite_get_by_digest(tdm_sig_rstore *s, const uint8_t digest[TDM_SIG_DIGEST_LEN], tdm_sig_invite_row *out, bool *found, tdm_error *err);
tdm_status tdm_sig_rstore_invite_use(tdm_sig_rstore *s, const char *id, const char *used_by, int64_t now_s, tdm_error *err);
tdm_status tdm_sig_rstore_invite_revoke(tdm_sig_rstore *s, const char *id, int64_t now_s, tdm_error *err);
tdm_status tdm_sig_rstore_invite_revoke_session(tdm_sig_rstore *s, const char *session_id, int64_t now_s, int *n, tdm_error *err);
tdm_status tdm_sig_rstore_invite_due(tdm_sig_rstore *s, int64_t now_s, size_t limit, tdm_sig_invite_row *rows, size_t *n, tdm_error *err);
tdm_status tdm_sig_rstore_invite_mark_expired(tdm_sig_rstore *s, const char *id, int64_t now_s, tdm_error *err);
tdm_status tdm_sig_rstore_login_insert(tdm_sig_rstore *s, const uint8_t digest[TDM_SIG_DIGEST_LEN], int64_t user_id, int64_t now_s, int64_t expires_s, tdm_error *err);
tdm_status tdm_sig_rstore_login_find(tdm_sig_rstore *s, const uint8_t digest[TDM_SIG_DIGEST_LEN], int64_t now_s, int64_t *user_id, bool *found, tdm_error *err);
tdm_status tdm_sig_rstore_login_revoke(tdm_sig_rstore *s, const uint8_t digest[TDM_SIG_DIGEST_LEN], int64_t now_s, int *n, tdm_error *err);
tdm_status tdm_sig_rstore_audit_append(tdm_sig_rstore *s, const char *chain, int64_t ts_ms, const char *actor, const char *kind, const char *subject, const char *detail_json, int64_t *seq, tdm_error *err);
tdm_status tdm_sig_rstore_audit_list(tdm_sig_rstore *s, const char *chain, int64_t after_seq, size_t limit, void (*fn)(void *ctx, const tdm_sig_audit_entry *e), void *ctx, tdm_error *err);
tdm_status tdm_sig_rstore_audit_verify(tdm_sig_rstore *s, const char *chain, tdm_sig_audit_report *report, tdm_error *err);
#endif
