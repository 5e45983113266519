/* tdm_rec_seal: sealing and opening recording records, sans-IO.
 *
 * Owns the cryptography of a recording (the layout is tdm_rec_format's):
 *   - record key = HKDF-SHA256(ikm = the session's recording key,
 *     salt = "tandem-recording-v1", info = "records"), so the recording key
 *     itself never keys AES directly;
 *   - each record is AES-256-GCM with nonce "TREC" || seq (8 bytes, the
 *     record's index from 0): a removed or reordered record is opened with
 *     the wrong nonce and fails;
 *   - associated data = chain || seq || the record's length field, where
 *     chain starts as SHA-256("tandem-rec-chain" || header bytes) and after
 *     each record becomes SHA-256(chain || the record's bytes on disk). A
 *     changed header fails the first record; a changed, removed, reordered
 *     or spliced record fails itself or the next one.
 * The chain value after the last record is the file's hash (for the audit
 * log): anyone can recompute it from the file without the key.
 *
 * One writer per file ever: nonces are only unique because the record
 * index is. */
#ifndef TDM_REC_SEAL_H
#define TDM_REC_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "tdm_rec_format.h"

#define TDM_REC_HASH_LEN 32

typedef struct tdm_rec_chain tdm_rec_chain;

/* Derives the record key from rec_key and seeds the chain with the header
 * bytes. TDM_ERR_NOMEM, TDM_ERR_UNAVAILABLE (OpenSSL failed). */
tdm_status tdm_rec_chain_new(const uint8_t rec_key[TDM_REC_KEY_LEN], const uint8_t *header,
                             size_t header_len, tdm_rec_chain **out, tdm_error *err);
void tdm_rec_chain_free(tdm_rec_chain *c);

/* Index of the next record. */
uint64_t tdm_rec_chain_seq(const tdm_rec_chain *c);
/* The chain value so far (the file hash once the last record is in). */
const uint8_t *tdm_rec_chain_hash(const tdm_rec_chain *c);

/* Seals plain (1..TDM_REC_MAX_SEALED bytes) as the next record into out:
 * TDM_REC_LEN_FIELD + plain_len + TDM_REC_TAG_LEN bytes. Advances the chain.
 * TDM_ERR_INVALID, TDM_ERR_RANGE (cap short), TDM_ERR_UNAVAILABLE. */
tdm_status tdm_rec_seal(tdm_rec_chain *c, const uint8_t *plain, size_t plain_len, uint8_t *out,
                        size_t cap, size_t *out_len);

/* Opens the record rec (its length field included, rec_len bytes) as the
 * next one into plain (TDM_REC_MAX_SEALED bytes). Advances the chain only on
 * success. TDM_ERR_FORMAT when authentication fails. */
tdm_status tdm_rec_open(tdm_rec_chain *c, const uint8_t *rec, size_t rec_len, uint8_t *plain,
                        size_t *plain_len);

/* The length of the record starting at buf from its length field (avail
 * >= TDM_REC_LEN_FIELD), length field included. */
static inline size_t tdm_rec_record_size(const uint8_t *buf)
{
    return TDM_REC_LEN_FIELD + (size_t)tdm_rec_get32(buf);
}

#endif
