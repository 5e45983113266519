/* tdm_sig_audit: the audit log's hash chain, sans-IO.
 *
 * Owns the canonical form of an audit entry, its chained SHA-256 and the
 * walk that checks a chain. Storage is the store's (tdm_sig_store.h); this
 * module never touches it, so a Redis backend chains entries the same way.
 *
 * Layout: one chain per session (chain id = session id, "s_...") and one
 * "system" chain for events outside sessions (accounts, logins). Per-session chains because with
 * many signaling instances writing through Redis the chain head is the one
 * thing writers must serialize on: one head per session means writers of
 * different sessions never contend, the head update is a single-key
 * compare-and-set, and an auditor verifies and exports one session alone.
 *
 * Entry n of a chain (seq n, counting from 1):
 *     hash_n = SHA-256(hash_{n-1} || canon(entry_n)),   hash_0 = 32 zero bytes
 *     canon  = "tandem-audit-v1" then chain, seq, ts_ms, actor, kind,
 *              subject, detail, each as <decimal length>:<bytes>,
 * so no field's content can be moved into another. detail is the JSON text
 * exactly as stored (written compact with sorted keys), hashed as bytes. The
 * head (last seq and hash) is kept beside the chain so that dropping the
 * last entries is noticed too. What the chain cannot catch is a rewrite of
 * the whole chain and head by someone with write access to the database; an
 * external anchor for heads (published or signed) is the remedy. */
#ifndef TDM_SIG_AUDIT_H
#define TDM_SIG_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "tdm_status.h"

#define TDM_SIG_AUDIT_HASH_LEN 32
#define TDM_SIG_AUDIT_SYSTEM_CHAIN "system"

typedef struct tdm_sig_audit_entry {
    const char *chain;
    int64_t seq;
    int64_t ts_ms;
    const char *actor;   /* participant id, user name, or "system" */
    const char *kind;    /* "session_opened", "input_denied", ... */
    const char *subject; /* what it is about (participant, invite), may be "" */
    const char *detail;  /* JSON object text */
    uint8_t prev_hash[TDM_SIG_AUDIT_HASH_LEN];
    uint8_t hash[TDM_SIG_AUDIT_HASH_LEN];
} tdm_sig_audit_entry;

/* Computes SHA-256(e->prev_hash || canon(e)) into out. */
tdm_status tdm_sig_audit_hash(const tdm_sig_audit_entry *e, uint8_t out[TDM_SIG_AUDIT_HASH_LEN],
                              tdm_error *err);

/* Walks one chain in seq order. Feed every stored entry to _step, then call
 * _finish with the stored head. The first fault stops the walk and is
 * described in problem (chain and seq named). */
typedef struct tdm_sig_audit_walk {
    char chain[80];
    int64_t next_seq;
    uint8_t prev_hash[TDM_SIG_AUDIT_HASH_LEN];
    bool bad;
    char problem[256];
    int64_t bad_seq; /* the entry named in problem; 0 if none */
} tdm_sig_audit_walk;

void tdm_sig_audit_walk_init(tdm_sig_audit_walk *w, const char *chain);
/* false once the chain is known bad. */
bool tdm_sig_audit_walk_step(tdm_sig_audit_walk *w, const tdm_sig_audit_entry *e);
/* has_head false means no head was stored for a chain that has entries. */
bool tdm_sig_audit_walk_finish(tdm_sig_audit_walk *w, bool has_head, int64_t head_seq,
                               const uint8_t head_hash[TDM_SIG_AUDIT_HASH_LEN]);

#endif
