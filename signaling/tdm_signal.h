/* tdm_signal: the signaling core — sessions, rights, Rep Invite, input
 * filtering and session keys — as plain calls for the HTTP/WebSocket shell.
 *
 * Owns the rules of issue 5: who may open, join, invite, transfer, remove,
 * change profiles and end; which profile an input event is checked against;
 * which tokens and keys a participant gets. Every state change and its audit
 * entry are written in one SQLite transaction (tdm_sig_store.h) before the
 * call returns, so a returned TDM_OK is durable and recorded.
 *
 * Calling convention: single-threaded (one tdm_signal per event loop);
 * time is an argument (now_ms, milliseconds since the Unix epoch) — nothing
 * here reads a clock. Participant ids are unique across sessions, so calls
 * by a participant take only its id; the shell first establishes who is
 * calling — tdm_signal_authenticate for a rep's bearer token,
 * tdm_signal_participant_auth for the secret a participant got when it
 * joined — and never takes a participant id from a client as proof.
 * Results are written into caller structs; the only allocations handed out
 * are JSON strings (free()).
 *
 * Refusals (the request is understood and not allowed) return
 * TDM_ERR_INVALID with err->why naming the rule and an HTTP status for the
 * shell; failures of the machine (IO, memory) return their status with
 * err->why == TDM_SIG_REFUSE_NONE (an HTTP 500).
 *
 * Ownership rules chosen here (the issue leaves them open):
 * - the rep who opens a session owns it; an owner who leaves hands it to
 *   the longest-present rep; a rep joining an ownerless session owns it;
 * - so "no other rep owns the session" holds exactly when the last rep
 *   leaves: then every invitee is removed and every pending invite revoked
 *   (while another rep owns it, invitees stay under that rep's watch);
 * - an owner may give an invitee only a profile from the owner's own
 *   allowed invite profiles (an administrator's limit cannot be bypassed
 *   by a later profile change);
 * - ending a session revokes its join codes and invites and marks every
 *   participant left, so no new relay token or TURN credential is issued;
 *   relay tokens already issued are short-lived JWTs (relay_token_ttl_s),
 *   and telling relays to drop the session is the shell's job. */
#ifndef TDM_SIGNAL_H
#define TDM_SIGNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_sig_filter.h"
#include "tdm_sig_input.h"
#include "tdm_sig_keys.h"
#include "tdm_sig_profile.h"
#include "tdm_sig_store.h"
#include "tdm_status.h"
#include "tdm_token.h"

/* X(enum, stable name, HTTP status) */
#define TDM_SIG_REFUSAL_MAP(X)                                                                     \
    X(TDM_SIG_REFUSE_NONE, "none", 500)                                                            \
    X(TDM_SIG_REFUSE_BAD_REQUEST, "bad_request", 400)                                              \
    X(TDM_SIG_REFUSE_BAD_CREDENTIALS, "bad_credentials", 401)                                      \
    X(TDM_SIG_REFUSE_NOT_FOUND, "not_found", 404)                                                  \
    X(TDM_SIG_REFUSE_NOT_PRESENT, "not_present", 403)                                              \
    X(TDM_SIG_REFUSE_NOT_OWNER, "not_owner", 403)                                                  \
    X(TDM_SIG_REFUSE_NOT_A_REP, "not_a_rep", 403)                                                  \
    X(TDM_SIG_REFUSE_INVITE_NOT_ALLOWED, "invite_not_allowed", 403)                                \
    X(TDM_SIG_REFUSE_PROFILE_NOT_ALLOWED, "profile_not_allowed", 403)                              \
    X(TDM_SIG_REFUSE_UNKNOWN_PROFILE, "unknown_profile", 400)                                      \
    X(TDM_SIG_REFUSE_CODE_INVALID, "code_invalid", 404)                                            \
    X(TDM_SIG_REFUSE_INVITE_UNKNOWN, "invite_unknown", 404)                                        \
    X(TDM_SIG_REFUSE_INVITE_USED, "invite_used", 410)                                              \
    X(TDM_SIG_REFUSE_INVITE_EXPIRED, "invite_expired", 410)                                        \
    X(TDM_SIG_REFUSE_INVITE_REVOKED, "invite_revoked", 410)                                        \
    X(TDM_SIG_REFUSE_SESSION_ENDED, "session_ended", 410)                                          \
    X(TDM_SIG_REFUSE_UNAVAILABLE, "unavailable", 503)

typedef enum tdm_sig_refusal {
#define TDM_SIG_REFUSAL_ENUM(e, name, http) e,
    TDM_SIG_REFUSAL_MAP(TDM_SIG_REFUSAL_ENUM)
#undef TDM_SIG_REFUSAL_ENUM
        TDM_SIG_REFUSAL_COUNT
} tdm_sig_refusal;

const char *tdm_sig_refusal_name(tdm_sig_refusal r);
int tdm_sig_refusal_http_status(tdm_sig_refusal r);

typedef struct tdm_signal_error {
    tdm_sig_refusal why;
    tdm_error detail; /* text for logs; safe to show the caller */
} tdm_signal_error;

/* Fills buf with len random bytes; TDM_OK or an error. */
typedef tdm_status (*tdm_signal_random_fn)(void *ctx, uint8_t *buf, size_t len);

typedef struct tdm_signal_config {
    const char *db_path;
    /* Profiles known to the service; NULL means the four built-ins. */
    const tdm_sig_profiles *profiles;
    const char *rep_profile; /* reps' profile on joining; NULL = "control" */
    /* Shared with relays (>= TDM_TOKEN_SECRET_MIN bytes). */
    const uint8_t *token_secret;
    size_t token_secret_len;
    /* coturn's static-auth-secret; NULL disables TURN credentials. */
    const uint8_t *turn_secret;
    size_t turn_secret_len;
    /* Wraps recording keys (AES-256-GCM). */
    uint8_t master_key[TDM_SIG_MASTER_KEY_LEN];
    /* Keys the at-rest digests of join codes and invite tokens. */
    uint8_t digest_key[32];
    int64_t join_code_ttl_s;      /* 0 = 600 */
    int64_t invite_ttl_default_s; /* 0 = 7200 */
    int64_t invite_ttl_max_s;     /* 0 = 86400; requests above are capped */
    int64_t relay_token_ttl_s;    /* 0 = 300 */
    int64_t turn_ttl_s;           /* 0 = 3600 */
    int64_t login_ttl_s;          /* 0 = 12 h */
    tdm_signal_random_fn random;  /* NULL = OpenSSL RAND_bytes */
    void *random_ctx;
} tdm_signal_config;

typedef struct tdm_signal tdm_signal;

/* Opens the store and keeps a copy of cfg (secrets included; wiped on free).
 * @return TDM_OK; TDM_ERR_INVALID for a bad config (named in err); the
 *         store's errors. */
tdm_status tdm_signal_new(const tdm_signal_config *cfg, tdm_signal **out, tdm_error *err);
/* Writes pending input counts (best effort) and closes. NULL is a no-op. */
void tdm_signal_free(tdm_signal *sig);
/* The store underneath (audit reads, tests). Owned by sig. */
tdm_sig_store *tdm_signal_store(tdm_signal *sig);

/* --- accounts (work on a store alone, so the CLI needs no secrets) --- */

typedef struct tdm_signal_new_user {
    const char *name; /* 1..TDM_SIG_NAME_MAX of [A-Za-z0-9._@-] */
    tdm_sig_role role;
    bool may_invite;
    const char *invite_profiles; /* "a,b" of profile names; NULL = "" */
    const char *password;
    size_t password_len;
    const tdm_sig_scrypt_params *scrypt; /* NULL = default cost */
    const char *added_by;                /* the audit entry's actor; NULL = "cli" */
} tdm_signal_new_user;

/* Adds an account and audits it on the system chain. Refusals: bad_request
 * (name, profile list, password), and a name already taken. */
tdm_status tdm_signal_user_add(tdm_sig_store *store, const tdm_signal_new_user *u, int64_t now_ms,
                               tdm_signal_error *err);

typedef struct tdm_signal_login_result {
    tdm_sig_user user;
    char token[TDM_SIG_LINK_TOKEN_CAP]; /* bearer token for the rep console */
    int64_t expires_s;
} tdm_signal_login_result;

/* Checks a name and password and issues a bearer token (256 random bits,
 * stored as a keyed digest, valid login_ttl_s), audited on the system
 * chain. bad_credentials for an unknown name or a wrong password alike (and
 * the same scrypt work for both). Auditors may log in (to read the log). */
tdm_status tdm_signal_login(tdm_signal *sig, const char *name, const char *password,
                            size_t password_len, int64_t now_ms, tdm_signal_login_result *out,
                            tdm_signal_error *err);
/* The account behind a bearer token (bare or "Bearer ..."): bad_credentials
 * when unknown, expired or logged out. */
tdm_status tdm_signal_authenticate(tdm_signal *sig, const char *bearer, int64_t now_ms,
                                   tdm_sig_user *out, tdm_signal_error *err);
/* Revokes a bearer token (audited). bad_credentials if it was not live. */
tdm_status tdm_signal_logout(tdm_signal *sig, const char *bearer, int64_t now_ms,
                             tdm_signal_error *err);

/* --- sessions and participants --- */

typedef struct tdm_signal_opened {
    char session_id[TDM_SIG_ID_CAP];
    char participant_id[TDM_SIG_ID_CAP];   /* the owner rep */
    char secret[TDM_SIG_LINK_TOKEN_CAP];   /* the owner's credential (below) */
    char join_code[TDM_SIG_CODE_TEXT_CAP]; /* "123-456-789"; shown once */
    int64_t code_expires_s;
} tdm_signal_opened;

typedef struct tdm_signal_joined {
    char session_id[TDM_SIG_ID_CAP];
    char participant_id[TDM_SIG_ID_CAP];
    /* The participant's credential for its WebSocket and later calls: 256
     * random bits, given once, stored as a digest. Participant ids are not
     * secrets (they appear in participant lists and the audit log). */
    char secret[TDM_SIG_LINK_TOKEN_CAP];
    tdm_sig_kind kind;
    char profile[TDM_SIG_PROFILE_NAME_MAX + 1];
} tdm_signal_joined;

/* A rep (role rep or admin) opens a session and owns it. */
tdm_status tdm_signal_session_open(tdm_signal *sig, const char *rep_name, int64_t now_ms,
                                   tdm_signal_opened *out, tdm_signal_error *err);
/* The owner replaces the join code (the old one is revoked); out's
 * participant_id is the owner's. */
tdm_status tdm_signal_join_code_renew(tdm_signal *sig, const char *actor_pid, int64_t now_ms,
                                      tdm_signal_opened *out, tdm_signal_error *err);
/* The customer joins with the code as typed (spaces and dashes ignored).
 * Unknown, used, revoked and expired codes are one refusal, code_invalid. */
tdm_status tdm_signal_customer_join(tdm_signal *sig, const char *code, const char *display_name,
                                    int64_t now_ms, tdm_signal_joined *out, tdm_signal_error *err);
/* Another rep joins an open session (with the configured rep profile). */
tdm_status tdm_signal_rep_join(tdm_signal *sig, const char *session_id, const char *rep_name,
                               int64_t now_ms, tdm_signal_joined *out, tdm_signal_error *err);
/* A participant leaves (rules for owners and invitees above). */
tdm_status tdm_signal_leave(tdm_signal *sig, const char *pid, int64_t now_ms,
                            tdm_signal_error *err);
/* Owner only. */
tdm_status tdm_signal_remove(tdm_signal *sig, const char *actor_pid, const char *target_pid,
                             int64_t now_ms, tdm_signal_error *err);
tdm_status tdm_signal_transfer(tdm_signal *sig, const char *actor_pid, const char *to_pid,
                               int64_t now_ms, tdm_signal_error *err);
tdm_status tdm_signal_set_profile(tdm_signal *sig, const char *actor_pid, const char *target_pid,
                                  const char *profile, int64_t now_ms, tdm_signal_error *err);
tdm_status tdm_signal_end(tdm_signal *sig, const char *actor_pid, int64_t now_ms,
                          tdm_signal_error *err);

/* The present participant holding a credential from a join (the shell
 * authorizes a socket or request with it, then passes the participant id to
 * the calls here). bad_credentials for an unknown secret; not_present or
 * session_ended once it no longer grants anything. */
tdm_status tdm_signal_participant_auth(tdm_signal *sig, const char *secret, int64_t now_ms,
                                       tdm_sig_participant_row *out, tdm_signal_error *err);
/* A present participant's record by id. */
tdm_status tdm_signal_participant(tdm_signal *sig, const char *pid, tdm_sig_participant_row *out,
                                  tdm_signal_error *err);
/* {"session":..,"state":..,"owner":..,"participants":[{"id","kind","name",
 *  "profile","invited_by","owner"}...]} of present participants; free(). */
tdm_status tdm_signal_session_json(tdm_signal *sig, const char *session_id, char **json,
                                   tdm_signal_error *err);

/* --- Rep Invite --- */

typedef struct tdm_signal_invite {
    char invite_id[TDM_SIG_ID_CAP];
    char token[TDM_SIG_LINK_TOKEN_CAP]; /* goes in the link; shown once */
    char profile[TDM_SIG_PROFILE_NAME_MAX + 1];
    int64_t expires_s;
} tdm_signal_invite;

/* A present rep with may_invite creates an invite for a profile from their
 * allowed list; ttl_s 0 means the default, more than the maximum is capped. */
tdm_status tdm_signal_invite_create(tdm_signal *sig, const char *actor_pid, const char *profile,
                                    int64_t ttl_s, int64_t now_ms, tdm_signal_invite *out,
                                    tdm_signal_error *err);
/* The invite's creator or the owner revokes it. */
tdm_status tdm_signal_invite_revoke(tdm_signal *sig, const char *actor_pid, const char *invite_id,
                                    int64_t now_ms, tdm_signal_error *err);
/* The invited expert accepts with a display name. Refusals: invite_unknown
 * (forged or mistyped), invite_used, invite_expired, invite_revoked,
 * session_ended; each refusal of a real invite is audited. */
tdm_status tdm_signal_invite_accept(tdm_signal *sig, const char *token, const char *display_name,
                                    int64_t now_ms, tdm_signal_joined *out, tdm_signal_error *err);

/* --- input --- */

typedef struct tdm_signal_input_result {
    tdm_sig_verdict verdict; /* TDM_SIG_ALLOW: forward the message as it came */
    tdm_sig_input_event event;
} tdm_signal_input_result;

/* Parses and checks one input message from participant pid against its
 * current profile. TDM_OK means a verdict was reached (allowed or denied);
 * each denial is in the audit log before this returns (up to 20 a second
 * per participant, burst 50; denials beyond that are counted and written
 * per second as "input_denied_counted", so a flood of refused input cannot
 * become a flood of synchronous writes). Allowed events are counted and
 * written per participant per second ("input_allowed": as the next second's
 * first event arrives, on tdm_signal_tick, on leave and on end).
 * A message that does not parse returns the parser's status
 * (TDM_ERR_FORMAT malformed, TDM_ERR_UNSUPPORTED unknown type,
 * TDM_ERR_RANGE oversize or out of range) with err->why bad_request and the
 * parser's text in err->detail; nothing is audited and the participant
 * stays (the shell answers and keeps the connection). */
tdm_status tdm_signal_input(tdm_signal *sig, const char *pid, const uint8_t *msg, size_t len,
                            int64_t now_ms, tdm_signal_input_result *out, tdm_signal_error *err);
/* The timer: call about once a second. Writes the per-second input counts
 * of seconds before now_ms, and records invites that lapsed unused
 * ("invite_expired", each once; at most 64 per call). */
tdm_status tdm_signal_tick(tdm_signal *sig, int64_t now_ms, tdm_error *err);

/* --- session keys --- */

/* A relay access token (tdm_token.h) for a present participant: publish for
 * the customer, subscribe for everyone else, on relay node `node`. */
tdm_status tdm_signal_relay_token(tdm_signal *sig, const char *pid, const char *node,
                                  int64_t now_ms, char *out, size_t cap, tdm_signal_error *err);
/* coturn REST-API credentials for a present participant. */
tdm_status tdm_signal_turn_credentials(tdm_signal *sig, const char *pid, int64_t now_ms,
                                       char user[TDM_SIG_TURN_USER_CAP],
                                       char pass[TDM_SIG_TURN_PASS_CAP], tdm_signal_error *err);
/* The session's recording key, unwrapped, for the relay that records it. */
tdm_status tdm_signal_recording_key(tdm_signal *sig, const char *session_id,
                                    uint8_t key[TDM_SIG_RECORDING_KEY_LEN], tdm_signal_error *err);

/* A relay's recording of a session opened or closed (API.md "Relay
 * recording events"), audited on the session's chain as kind
 * "recording_started" or "recording_stopped", actor "relay:<relay_id>",
 * subject the file name, detail {"file","relay","relay_ts_ms"} and, when
 * stopped, "sha256", "packets", "dropped". Written even for an ended
 * session: a recording closes as its session ends. not_found for an
 * unknown session; bad_request for a hash that is not 64 hex digits. */
typedef struct tdm_signal_recording_event {
    const char *relay_id;
    const char *session_id;
    bool stopped; /* false: started */
    const char *file;
    const char *sha256; /* stopped only */
    uint64_t packets, dropped;
    int64_t relay_ts_ms; /* when the relay saw it (its clock) */
} tdm_signal_recording_event;

tdm_status tdm_signal_recording_event_audit(tdm_signal *sig, const tdm_signal_recording_event *ev,
                                            int64_t now_ms, tdm_signal_error *err);

/* --- audit reading (auditors) --- */

/* Entries of a session's chain after after_seq (at most limit, 0 = all) as
 * a JSON array of {"seq","ts_ms","actor","kind","subject","detail","hash"};
 * free(). */
tdm_status tdm_signal_audit_json(tdm_sig_store *store, const char *session_id, int64_t after_seq,
                                 size_t limit, char **json, tdm_error *err);

#endif
