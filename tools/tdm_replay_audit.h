/* tdm_replay_audit: one session's audit trail, read for tandem-replay.
 *
 * Owns reading a session's chain from tandem-signal's SQLite database
 * (read-only, one read transaction so the entries and the chain head are
 * one snapshot even while the service writes), verifying it with the
 * signaling's own sans-IO walk (tdm_sig_audit.h), and deriving the
 * participants from the entries. The participants come from the log, not
 * from the mutable participants table, because the log is what the hash
 * chain protects: an auditor's view should rest on what verifies.
 *
 * The SQL lives here rather than in signaling/store.c because tdm_sig_store
 * opens databases read-write and creates schemas; a read-only
 * "tdm_sig_store_open_readonly" there would be the cleaner seam. */
#ifndef TDM_REPLAY_AUDIT_H
#define TDM_REPLAY_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_sig_store.h"
#include "tdm_status.h"

typedef struct tdm_replay_audit_entry {
    int64_t seq, ts_ms;
    char *actor, *kind, *subject, *detail; /* detail: JSON text as stored */
} tdm_replay_audit_entry;

typedef struct tdm_replay_participant {
    char id[TDM_SIG_ID_CAP];
    char kind[16]; /* rep, customer, invited */
    char name[TDM_SIG_NAME_MAX + 1];
    char invited_by[TDM_SIG_ID_CAP];
    char profiles[TDM_SIG_PROFILE_LIST_CAP]; /* in the order held: "control,view_only" */
    int64_t joined_ms, left_ms;              /* left_ms 0: still present at the log's end */
    char left_how[40];                       /* participant_left, participant_removed, ... */
} tdm_replay_participant;

typedef struct tdm_replay_audit {
    char session_id[TDM_SIG_ID_CAP];
    tdm_replay_audit_entry *entries;
    size_t n;
    tdm_replay_participant *parts;
    size_t nparts;
    bool verified;
    char problem[256]; /* when not verified: the entry (seq) and what is wrong */
    int64_t bad_seq;
} tdm_replay_audit;

/* Reads and verifies session_id's chain from the database at db_path.
 * @return TDM_OK (verified or not: see out->verified); TDM_ERR_IO when the
 *         database cannot be opened or read or is not tandem-signal's;
 *         TDM_ERR_INVALID when the database has no such session. A db_path
 *         starting with redis:// reads the chain from that Redis store. */
tdm_status tdm_replay_audit_load(const char *db_path, const char *session_id,
                                 tdm_replay_audit *out, tdm_error *err);
/* The same from an open store (SQLite or Redis), through its audit
 * interface: list the entries, then the store's own verification. */
tdm_status tdm_replay_audit_load_store(tdm_sig_store *s, const char *session_id,
                                       tdm_replay_audit *out, tdm_error *err);
void tdm_replay_audit_free(tdm_replay_audit *a);

/* The participant with that id, or NULL. */
const tdm_replay_participant *tdm_replay_audit_participant(const tdm_replay_audit *a,
                                                           const char *id);

#endif
