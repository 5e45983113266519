/* audit.c: canonical form, chained hash and chain walk of audit entries
 * (tdm_sig_audit.h). */
#include "tdm_sig_audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static bool put_field(EVP_MD_CTX *c, const char *s, size_t n)
{
    char len[24];
    int k = snprintf(len, sizeof len, "%zu:", n);
    return EVP_DigestUpdate(c, len, (size_t)k) && EVP_DigestUpdate(c, s, n);
}

static bool put_str(EVP_MD_CTX *c, const char *s)
{
    return put_field(c, s ? s : "", s ? strlen(s) : 0);
}

static bool put_int(EVP_MD_CTX *c, int64_t v)
{
    char buf[24];
    int k = snprintf(buf, sizeof buf, "%" PRId64, v);
    return put_field(c, buf, (size_t)k);
}

tdm_status tdm_sig_audit_hash(const tdm_sig_audit_entry *e, uint8_t out[TDM_SIG_AUDIT_HASH_LEN],
                              tdm_error *err)
{
    static const char tag[] = "tandem-audit-v1";
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned len = 0;
    bool ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
              EVP_DigestUpdate(c, e->prev_hash, TDM_SIG_AUDIT_HASH_LEN) &&
              EVP_DigestUpdate(c, tag, sizeof tag - 1) && put_str(c, e->chain) &&
              put_int(c, e->seq) && put_int(c, e->ts_ms) && put_str(c, e->actor) &&
              put_str(c, e->kind) && put_str(c, e->subject) && put_str(c, e->detail) &&
              EVP_DigestFinal_ex(c, out, &len) && len == TDM_SIG_AUDIT_HASH_LEN;
    EVP_MD_CTX_free(c);
    return ok ? TDM_OK : tdm_fail(err, TDM_ERR_UNAVAILABLE, "audit: SHA-256 failed");
}

void tdm_sig_audit_walk_init(tdm_sig_audit_walk *w, const char *chain)
{
    memset(w, 0, sizeof *w);
    snprintf(w->chain, sizeof w->chain, "%s", chain ? chain : "");
    w->next_seq = 1;
}

static bool walk_fail(tdm_sig_audit_walk *w, int64_t seq, const char *what)
{
    w->bad = true;
    w->bad_seq = seq;
    snprintf(w->problem, sizeof w->problem, "chain %s entry %" PRId64 ": %s", w->chain, seq, what);
    return false;
}

bool tdm_sig_audit_walk_step(tdm_sig_audit_walk *w, const tdm_sig_audit_entry *e)
{
    if (w->bad)
        return false;
    if (e->seq != w->next_seq) {
        /* A gap names the first missing entry; a repeat or step back means
         * rows were renumbered. */
        if (e->seq > w->next_seq)
            return walk_fail(w, w->next_seq, "missing (deleted)");
        return walk_fail(w, e->seq, "out of sequence (reordered or inserted)");
    }
    if (CRYPTO_memcmp(e->prev_hash, w->prev_hash, TDM_SIG_AUDIT_HASH_LEN) != 0)
        return walk_fail(w, e->seq,
                         "does not follow the previous entry (reordered, inserted or "
                         "the previous one deleted)");
    uint8_t h[TDM_SIG_AUDIT_HASH_LEN];
    if (tdm_sig_audit_hash(e, h, NULL) != TDM_OK)
        return walk_fail(w, e->seq, "hash could not be computed");
    if (CRYPTO_memcmp(h, e->hash, TDM_SIG_AUDIT_HASH_LEN) != 0)
        return walk_fail(w, e->seq, "content does not match its hash (edited)");
    memcpy(w->prev_hash, h, sizeof h);
    w->next_seq++;
    return true;
}

bool tdm_sig_audit_walk_finish(tdm_sig_audit_walk *w, bool has_head, int64_t head_seq,
                               const uint8_t head_hash[TDM_SIG_AUDIT_HASH_LEN])
{
    if (w->bad)
        return false;
    int64_t last = w->next_seq - 1;
    if (!has_head)
        return last == 0 ? true : walk_fail(w, last, "chain has entries but no stored head");
    if (head_seq > last)
        return walk_fail(w, last + 1, "missing (entries after it deleted)");
    if (head_seq < last)
        return walk_fail(w, head_seq + 1, "after the stored head (appended outside the log)");
    if (CRYPTO_memcmp(head_hash, w->prev_hash, TDM_SIG_AUDIT_HASH_LEN) != 0)
        return walk_fail(w, last, "does not match the stored head (chain rewritten)");
    return true;
}
