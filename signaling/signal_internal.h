/* signal_internal.h: what the parts of the signaling core share (not an
 * API: only signal*.c include it).
 *
 * The core is split by concern — signal.c (state, helpers, lifecycle),
 * signal_accounts.c, signal_session.c, signal_invite.c, signal_input.c,
 * signal_keys.c — and every operation has the same shape: begin a
 * transaction, read what the rule needs, refuse or write the change plus its
 * audit entry, commit. A refusal rolls back (nothing half-written), but some
 * refusals are themselves audited (denied input, refused invites): those
 * commit their audit entry alone. */
#ifndef TDM_SIGNAL_INTERNAL_H
#define TDM_SIGNAL_INTERNAL_H

#include <jansson.h>

#include "tdm_signal.h"

#define LIVE_BUCKETS 1024
/* Denied events are audited one by one up to this rate per participant;
 * beyond it they are counted per second instead, so a flood of refused
 * input cannot turn into a flood of synchronous database writes. */
#define DENIAL_LOG_RATE 20
#define DENIAL_LOG_BURST 50

typedef struct per_second {
    int64_t sec; /* the second the n events fell in */
    uint32_t n;
} per_second;

/* What the input path needs per participant, kept in memory so an event
 * costs no database read. Rebuilt from the store on a miss. */
typedef struct live {
    struct live *next;
    char pid[TDM_SIG_ID_CAP];
    char session_id[TDM_SIG_ID_CAP];
    tdm_sig_kind kind;
    const tdm_sig_profile *profile;
    tdm_sig_bucket bucket;      /* the profile's rate limit */
    tdm_sig_bucket denial_log;  /* DENIAL_LOG_RATE */
    per_second allowed;         /* allowed events, written per second */
    per_second denied_unlogged; /* denials over DENIAL_LOG_RATE */
} live;

struct tdm_signal {
    tdm_signal_config cfg;
    tdm_sig_profiles profiles;
    uint8_t token_secret[256];
    uint8_t turn_secret[256];
    char rep_profile[TDM_SIG_PROFILE_NAME_MAX + 1];
    tdm_sig_store *store;
    live *live[LIVE_BUCKETS];
};

/* Refusal: err->why = why, detail formatted; returns TDM_ERR_INVALID. */
tdm_status tdm_sig__refuse(tdm_signal_error *err, tdm_sig_refusal why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* err's tdm_error for machine failures (why stays NONE); NULL-safe. */
tdm_error *tdm_sig__detail(tdm_signal_error *err);
void tdm_sig__clear_err(tdm_signal_error *err);
/* Commits if st is TDM_OK, rolls back otherwise; returns the outcome. */
tdm_status tdm_sig__finish(tdm_signal *sig, tdm_status st, tdm_signal_error *err);

tdm_status tdm_sig__random_bytes(tdm_signal *sig, uint8_t *buf, size_t n, tdm_error *err);
/* prefix + '_' + 24 hex digits (96 random bits). */
tdm_status tdm_sig__new_id(tdm_signal *sig, char prefix, char out[TDM_SIG_ID_CAP], tdm_error *err);
bool tdm_sig__display_name_ok(const char *s);
bool tdm_sig__user_name_ok(const char *s);
bool tdm_sig__in_list(const char *list, const char *name);
bool tdm_sig__profile_list_ok(const char *list);
/* Appends an audit entry whose detail is detail_obj (stolen; NULL fails). */
tdm_status tdm_sig__audit(tdm_sig_store *store, const char *chain, int64_t now_ms,
                          const char *actor, const char *kind, const char *subject,
                          json_t *detail_obj, tdm_error *err);

live *tdm_sig__live_find(tdm_signal *sig, const char *pid);
/* Takes ownership of l (malloc'd, pid set). */
void tdm_sig__live_add(tdm_signal *sig, live *l);
void tdm_sig__live_drop(tdm_signal *sig, const char *pid);
/* Writes l's per-second counts for seconds before before_sec. */
tdm_status tdm_sig__live_write_count(tdm_signal *sig, live *l, int64_t before_sec, tdm_error *err);
/* Writes a participant's counts and forgets it (inside a transaction). */
tdm_status tdm_sig__live_forget(tdm_signal *sig, const char *pid, tdm_error *err);
/* Present participants in join order, malloc'd (free()). */
tdm_status tdm_sig__list_present(tdm_signal *sig, const char *session_id,
                                 tdm_sig_participant_row **rows, size_t *n, tdm_error *err);

/* A present participant of a session that has not ended. */
tdm_status tdm_sig__load_actor(tdm_signal *sig, const char *pid, tdm_sig_participant_row *p,
                               tdm_sig_session_row *s, tdm_signal_error *err);
/* load_actor, and the actor is a rep owning the session. */
tdm_status tdm_sig__load_owner(tdm_signal *sig, const char *pid, tdm_sig_participant_row *p,
                               tdm_sig_session_row *s, tdm_signal_error *err);
/* A present participant of session s. */
tdm_status tdm_sig__load_target(tdm_signal *sig, const tdm_sig_session_row *s, const char *pid,
                                tdm_sig_participant_row *t, tdm_signal_error *err);
/* An account that may take part in sessions (rep or admin). */
tdm_status tdm_sig__load_rep_user(tdm_signal *sig, const char *name, tdm_sig_user *u,
                                  tdm_signal_error *err);
/* Inserts p with a fresh credential (text into secret, digest into p). */
tdm_status tdm_sig__participant_insert(tdm_signal *sig, tdm_sig_participant_row *p,
                                       char secret[TDM_SIG_LINK_TOKEN_CAP], tdm_error *err);
void tdm_sig__fill_joined(const tdm_sig_participant_row *p, tdm_signal_joined *out);

#endif
