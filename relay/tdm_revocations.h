/* tdm_revocations: the relay's memory of sessions that ended and
 * participants that were removed, sans-IO.
 *
 * Owns a small bounded table of (session, participant-or-none, expiry)
 * entries. Signaling tells the relay (POST /admin/revoke, tdm_whip.h) when a
 * session ends or a participant leaves; the relay ends the media at once, but
 * relay tokens already handed out stay cryptographically valid until they
 * expire, so the relay must refuse them itself for as long as one could
 * still be valid: an entry lives for ttl_s (at least the longest relay token
 * lifetime signaling mints plus the token leeway) and is then forgotten, when
 * the token's own exp check takes over. Time is a parameter: nothing here
 * reads a clock.
 *
 * Bounded on purpose (an admin route must not grow memory without limit):
 * when every slot holds a live entry, add refuses (TDM_ERR_RANGE) rather
 * than forget a revocation that is still needed; the caller answers 503 and
 * signaling retries. Not thread-safe: one tdm_whip (one thread) owns it. */
#ifndef TDM_REVOCATIONS_H
#define TDM_REVOCATIONS_H

#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"
#include "tdm_token.h"

/* Default capacity: far above the sessions and participants one relay ends
 * within a token lifetime (TDM_RELAY_MAX_SESSIONS per worker). */
#define TDM_REVOCATIONS_DEFAULT_CAP 4096

typedef enum tdm_revoked {
    TDM_REVOKED_NONE = 0,
    TDM_REVOKED_SESSION,     /* "session ended" */
    TDM_REVOKED_PARTICIPANT, /* "participant removed" */
} tdm_revoked;

typedef struct tdm_revocations tdm_revocations;

/* cap entries (0: TDM_REVOCATIONS_DEFAULT_CAP). TDM_ERR_NOMEM. */
tdm_status tdm_revocations_new(size_t cap, tdm_revocations **out);
void tdm_revocations_free(tdm_revocations *t);

/* Remembers that session (participant NULL) or one participant of it was
 * revoked at now_s, until now_s + ttl_s. Adding what is already there
 * extends its expiry. Ids as tdm_token.h (1..TDM_TOKEN_ID_MAX characters).
 * TDM_OK; TDM_ERR_INVALID for a bad id or ttl_s <= 0; TDM_ERR_RANGE when
 * the table holds cap live entries. */
tdm_status tdm_revocations_add(tdm_revocations *t, const char *session, const char *participant,
                               int64_t now_s, int64_t ttl_s, tdm_error *err);

/* Whether a token for (session, participant) is revoked at now_s: the
 * session first, then the participant. Expired entries count as absent. */
tdm_revoked tdm_revocations_check(const tdm_revocations *t, const char *session,
                                  const char *participant, int64_t now_s);

/* Live entries at now_s (for /metrics and tests). */
size_t tdm_revocations_live(const tdm_revocations *t, int64_t now_s);

/* The text a refused client sees: "session ended", "participant removed". */
const char *tdm_revoked_text(tdm_revoked r);

#endif
