/* revocations.c: the bounded revocation table (tdm_revocations.h). A linear
 * scan: the table is a few thousand entries at most and is read once per
 * WHIP/WHEP request, which already costs an HMAC. */
#include "tdm_revocations.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    int64_t until_s; /* 0: free slot */
    bool whole_session;
    char session[TDM_TOKEN_ID_MAX + 1];
    char participant[TDM_TOKEN_ID_MAX + 1];
} entry;

struct tdm_revocations {
    size_t cap;
    entry *e;
};

tdm_status tdm_revocations_new(size_t cap, tdm_revocations **out)
{
    if (!out)
        return TDM_ERR_INVALID;
    tdm_revocations *t = calloc(1, sizeof *t);
    if (!t)
        return TDM_ERR_NOMEM;
    t->cap = cap ? cap : TDM_REVOCATIONS_DEFAULT_CAP;
    t->e = calloc(t->cap, sizeof *t->e);
    if (!t->e) {
        free(t);
        return TDM_ERR_NOMEM;
    }
    *out = t;
    return TDM_OK;
}

void tdm_revocations_free(tdm_revocations *t)
{
    if (!t)
        return;
    free(t->e);
    free(t);
}

static bool id_ok(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    return n >= 1 && n <= TDM_TOKEN_ID_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~:-") == n;
}

static bool live(const entry *e, int64_t now_s)
{
    return e->until_s != 0 && now_s < e->until_s;
}

tdm_status tdm_revocations_add(tdm_revocations *t, const char *session, const char *participant,
                               int64_t now_s, int64_t ttl_s, tdm_error *err)
{
    if (!t || !id_ok(session) || (participant && !id_ok(participant)))
        return tdm_fail(err, TDM_ERR_INVALID,
                        "revocation: ids need 1..%d characters of [A-Za-z0-9._~:-]",
                        TDM_TOKEN_ID_MAX);
    if (ttl_s <= 0)
        return tdm_fail(err, TDM_ERR_INVALID, "revocation: ttl must be positive");
    int64_t until = now_s + ttl_s;
    entry *slot = NULL;
    for (size_t i = 0; i < t->cap; i++) {
        entry *e = &t->e[i];
        if (!live(e, now_s)) {
            if (!slot)
                slot = e;
            continue;
        }
        if (e->whole_session == !participant && strcmp(e->session, session) == 0 &&
            (!participant || strcmp(e->participant, participant) == 0)) {
            if (until > e->until_s)
                e->until_s = until;
            return TDM_OK;
        }
    }
    if (!slot)
        return tdm_fail(err, TDM_ERR_RANGE, "revocation table full");
    memset(slot, 0, sizeof *slot);
    slot->until_s = until;
    slot->whole_session = !participant;
    strcpy(slot->session, session);
    if (participant)
        strcpy(slot->participant, participant);
    return TDM_OK;
}

tdm_revoked tdm_revocations_check(const tdm_revocations *t, const char *session,
                                  const char *participant, int64_t now_s)
{
    if (!t || !session)
        return TDM_REVOKED_NONE;
    tdm_revoked found = TDM_REVOKED_NONE;
    for (size_t i = 0; i < t->cap; i++) {
        const entry *e = &t->e[i];
        if (!live(e, now_s) || strcmp(e->session, session) != 0)
            continue;
        if (e->whole_session)
            return TDM_REVOKED_SESSION; /* the stronger reason wins */
        if (participant && strcmp(e->participant, participant) == 0)
            found = TDM_REVOKED_PARTICIPANT;
    }
    return found;
}

size_t tdm_revocations_live(const tdm_revocations *t, int64_t now_s)
{
    size_t n = 0;
    for (size_t i = 0; t && i < t->cap; i++)
        n += live(&t->e[i], now_s);
    return n;
}

const char *tdm_revoked_text(tdm_revoked r)
{
    switch (r) {
    case TDM_REVOKED_SESSION:
        return "session ended";
    case TDM_REVOKED_PARTICIPANT:
        return "participant removed";
    default:
        return "ok";
    }
}
