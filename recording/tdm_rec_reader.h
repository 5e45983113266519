/* tdm_rec_reader: reading and verifying a recording held in memory, sans-IO.
 *
 * Owns the walk over a file's bytes (the caller maps or reads the file):
 * parse the header, unwrap the session's recording key with the master key
 * (tdm_sig_key_unwrap, the session id as associated data), then open the
 * records one by one in chain order and hand out their entries (one per
 * record in a version 1 file, one or more in version 2; see
 * tdm_rec_format.h). Record indexes and offsets below are the sealed
 * records', so a fault is named by the record that holds it. The walk stops at the first fault and
 * names it by record index and byte offset; a file that simply ends (a
 * crash, or a copy still being written) is told apart from one that was
 * altered:
 *   TDM_EOF            the END record verified and nothing follows it;
 *   TDM_ERR_TRUNCATED  no END record: the file ends at a record boundary or
 *                      inside a record whose length field fits the file's
 *                      remaining size limits (what a crash leaves);
 *                      everything before verified;
 *   TDM_ERR_FORMAT     a fault: a record that fails authentication
 *                      (changed, removed, reordered, from elsewhere), an
 *                      impossible length field, bytes after END.
 * A crash can only leave a prefix of what the writer wrote, so a tail that
 * looks like a cut record is reported as truncation, not as a fault; bytes
 * appended to a cut file that happen to look like a cut record are
 * indistinguishable from one (the audit log's final hash settles it). */
#ifndef TDM_REC_READER_H
#define TDM_REC_READER_H

#include "tdm_rec_format.h"
#include "tdm_rec_seal.h"

typedef struct tdm_rec_reader tdm_rec_reader;

/* Parses the header and unwraps the key. Errors: TDM_ERR_FORMAT (not a
 * recording, malformed header), TDM_ERR_UNSUPPORTED (other version),
 * TDM_ERR_TRUNCATED (ends inside the header), TDM_ERR_INVALID (the master
 * key does not unwrap this file's key: wrong key, or the key block or
 * session id was altered), TDM_ERR_NOMEM. buf must outlive the reader. */
tdm_status tdm_rec_reader_open(const uint8_t *buf, size_t len,
                               const uint8_t master[TDM_SIG_MASTER_KEY_LEN], tdm_rec_reader **out,
                               tdm_error *err);
/* The same with the session's recording key itself (as the relay holds it). */
tdm_status tdm_rec_reader_open_key(const uint8_t *buf, size_t len,
                                   const uint8_t rec_key[TDM_REC_KEY_LEN], tdm_rec_reader **out,
                                   tdm_error *err);
void tdm_rec_reader_free(tdm_rec_reader *r);

/* The next record (data borrowed from the reader, valid until the next
 * call). TDM_OK, or one of the endings above with err saying where; once
 * ended, every call returns the same. */
tdm_status tdm_rec_reader_next(tdm_rec_reader *r, tdm_rec_record *rec, tdm_error *err);

/* Starts again at the first record. */
tdm_status tdm_rec_reader_rewind(tdm_rec_reader *r, tdm_error *err);

const tdm_rec_header *tdm_rec_reader_header(const tdm_rec_reader *r);
size_t tdm_rec_reader_header_len(const tdm_rec_reader *r);
/* Records verified so far (= the index of the next one). */
uint64_t tdm_rec_reader_records(const tdm_rec_reader *r);
/* Byte offset where the verified part ends (= where the next record starts). */
uint64_t tdm_rec_reader_offset(const tdm_rec_reader *r);
/* Offset of the last record verified (its start), or 0 if none yet. */
uint64_t tdm_rec_reader_last_offset(const tdm_rec_reader *r);
/* The chain value over the verified part (the file hash after TDM_EOF). */
const uint8_t *tdm_rec_reader_hash(const tdm_rec_reader *r);

#endif
