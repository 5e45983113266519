/* reader.c: walk and verify a recording in memory (tdm_rec_reader.h). */
#include "tdm_rec_reader.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct tdm_rec_reader {
    const uint8_t *buf;
    size_t len, hlen, off, last_off;
    tdm_rec_header hdr;
    uint8_t key[TDM_REC_KEY_LEN];
    tdm_rec_chain *chain;
    bool end_seen;
    tdm_status ended;    /* TDM_OK while walking, then the final status */
    tdm_error ended_err; /* repeated on every call after the end */
    size_t bpos, blen;   /* version 2: the opened record's entries not yet returned */
    uint8_t plain[TDM_REC_MAX_SEALED];
};

static tdm_status open_common(const uint8_t *buf, size_t len, const uint8_t *master,
                              const uint8_t *rec_key, tdm_rec_reader **out, tdm_error *err)
{
    if ((!buf && len) || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "rec reader: NULL argument");
    tdm_rec_reader *r = calloc(1, sizeof *r);
    if (!r)
        return tdm_fail(err, TDM_ERR_NOMEM, "rec reader: out of memory");
    r->buf = buf;
    r->len = len;
    tdm_status st = tdm_rec_header_parse(buf, len, &r->hdr, &r->hlen, err);
    if (st == TDM_OK && master) {
        tdm_error e2 = {{0}};
        if (tdm_sig_key_unwrap(master, r->hdr.wrapped_key, TDM_SIG_WRAPPED_KEY_LEN,
                               r->hdr.session_id, r->key, &e2) != TDM_OK)
            st = tdm_fail(err, TDM_ERR_INVALID,
                          "wrong key: the master key does not unwrap this recording's key "
                          "(session %s; or its key block was altered)",
                          r->hdr.session_id);
    } else if (st == TDM_OK) {
        memcpy(r->key, rec_key, TDM_REC_KEY_LEN);
    }
    if (st == TDM_OK)
        st = tdm_rec_chain_new(r->key, buf, r->hlen, &r->chain, err);
    if (st != TDM_OK) {
        tdm_rec_reader_free(r);
        return st;
    }
    r->off = r->hlen;
    *out = r;
    return TDM_OK;
}

tdm_status tdm_rec_reader_open(const uint8_t *buf, size_t len,
                               const uint8_t master[TDM_SIG_MASTER_KEY_LEN], tdm_rec_reader **out,
                               tdm_error *err)
{
    if (!master)
        return tdm_fail(err, TDM_ERR_INVALID, "rec reader: NULL key");
    return open_common(buf, len, master, NULL, out, err);
}

tdm_status tdm_rec_reader_open_key(const uint8_t *buf, size_t len,
                                   const uint8_t rec_key[TDM_REC_KEY_LEN], tdm_rec_reader **out,
                                   tdm_error *err)
{
    if (!rec_key)
        return tdm_fail(err, TDM_ERR_INVALID, "rec reader: NULL key");
    return open_common(buf, len, NULL, rec_key, out, err);
}

void tdm_rec_reader_free(tdm_rec_reader *r)
{
    if (!r)
        return;
    tdm_rec_chain_free(r->chain);
    OPENSSL_cleanse(r, sizeof *r);
    free(r);
}

tdm_status tdm_rec_reader_rewind(tdm_rec_reader *r, tdm_error *err)
{
    tdm_rec_chain_free(r->chain);
    r->chain = NULL;
    tdm_status st = tdm_rec_chain_new(r->key, r->buf, r->hlen, &r->chain, err);
    r->off = r->hlen;
    r->last_off = 0;
    r->bpos = r->blen = 0;
    r->end_seen = false;
    r->ended = TDM_OK;
    return st;
}

/* Records the ending so later calls repeat it. */
static tdm_status finish(tdm_rec_reader *r, tdm_error *err, tdm_status st, const tdm_error *e)
{
    r->ended = st;
    r->ended_err = *e;
    if (err)
        *err = *e;
    return st;
}

/* Version 2: the next entry of the record opened last (record idx at
 * r->last_off). An END entry must be its record's last. */
static tdm_status next_entry(tdm_rec_reader *r, tdm_rec_record *rec, tdm_error *err)
{
    tdm_error e = {{0}}, pe = {{0}};
    unsigned long long idx = (unsigned long long)tdm_rec_chain_seq(r->chain) - 1;
    size_t left = r->blen - r->bpos;
    size_t elen = left >= TDM_REC_ENTRY_LEN
                      ? (size_t)r->plain[r->bpos] << 8 | r->plain[r->bpos + 1]
                      : SIZE_MAX;
    if (left < TDM_REC_ENTRY_LEN || elen > left - TDM_REC_ENTRY_LEN || elen > TDM_REC_MAX_PLAIN) {
        tdm_fail(&e, TDM_ERR_FORMAT, "record %llu at byte %zu: a cut entry at %zu of its %zu bytes",
                 idx, r->last_off, r->bpos, r->blen);
        return finish(r, err, TDM_ERR_FORMAT, &e);
    }
    const uint8_t *p = r->plain + r->bpos + TDM_REC_ENTRY_LEN;
    if (tdm_rec_record_parse(p, elen, rec, &pe) != TDM_OK) {
        /* Authenticated but malformed: the writer was wrong, still a fault. */
        tdm_fail(&e, TDM_ERR_FORMAT, "record %llu at byte %zu: %s", idx, r->last_off, pe.msg);
        return finish(r, err, TDM_ERR_FORMAT, &e);
    }
    r->bpos += TDM_REC_ENTRY_LEN + elen;
    if (rec->type == TDM_REC_END) {
        if (r->bpos != r->blen) {
            tdm_fail(&e, TDM_ERR_FORMAT, "record %llu at byte %zu: entries after the end entry",
                     idx, r->last_off);
            return finish(r, err, TDM_ERR_FORMAT, &e);
        }
        r->end_seen = true;
    }
    return TDM_OK;
}

tdm_status tdm_rec_reader_next(tdm_rec_reader *r, tdm_rec_record *rec, tdm_error *err)
{
    if (!r || !rec)
        return tdm_fail(err, TDM_ERR_INVALID, "rec reader: NULL argument");
    if (r->ended != TDM_OK) {
        if (err)
            *err = r->ended_err;
        return r->ended;
    }
    if (r->bpos < r->blen)
        return next_entry(r, rec, err);
    tdm_error e = {{0}};
    uint64_t idx = tdm_rec_chain_seq(r->chain);
    size_t left = r->len - r->off;
    if (r->end_seen) {
        if (left == 0) {
            tdm_fail(&e, TDM_EOF,
                     "complete: %llu records, end record verified, file ends at byte %zu",
                     (unsigned long long)idx, r->off);
            return finish(r, err, TDM_EOF, &e);
        }
        tdm_fail(&e, TDM_ERR_FORMAT, "%zu bytes after the end record, at byte %zu (record %llu)",
                 left, r->off, (unsigned long long)idx);
        return finish(r, err, TDM_ERR_FORMAT, &e);
    }
    if (left == 0) {
        tdm_fail(&e, TDM_ERR_TRUNCATED,
                 "truncated: no end record; %llu records verified, the file ends at byte %zu on a "
                 "record boundary",
                 (unsigned long long)idx, r->off);
        return finish(r, err, TDM_ERR_TRUNCATED, &e);
    }
    if (left < TDM_REC_LEN_FIELD) {
        tdm_fail(
            &e, TDM_ERR_TRUNCATED,
            "truncated: no end record; %llu records verified up to byte %zu, then %zu bytes of "
            "an incomplete record",
            (unsigned long long)idx, r->off, left);
        return finish(r, err, TDM_ERR_TRUNCATED, &e);
    }
    size_t size = tdm_rec_record_size(r->buf + r->off);
    size_t max = r->hdr.version == TDM_REC_VERSION_V1 ? TDM_REC_MAX_RECORD_V1 : TDM_REC_MAX_RECORD;
    if (size < TDM_REC_MIN_RECORD || size > max) {
        tdm_fail(&e, TDM_ERR_FORMAT,
                 "record %llu at byte %zu: impossible length %zu (not a record)",
                 (unsigned long long)idx, r->off, size);
        return finish(r, err, TDM_ERR_FORMAT, &e);
    }
    if (size > left) {
        tdm_fail(&e, TDM_ERR_TRUNCATED,
                 "truncated: no end record; %llu records verified up to byte %zu, then %zu of the "
                 "%zu bytes of record %llu",
                 (unsigned long long)idx, r->off, left, size, (unsigned long long)idx);
        return finish(r, err, TDM_ERR_TRUNCATED, &e);
    }
    size_t plen;
    tdm_status st = tdm_rec_open(r->chain, r->buf + r->off, size, r->plain, &plen);
    if (st != TDM_OK) {
        tdm_fail(&e, TDM_ERR_FORMAT,
                 "record %llu at byte %zu fails verification (altered, removed, reordered or not "
                 "from this recording)",
                 (unsigned long long)idx, r->off);
        return finish(r, err, TDM_ERR_FORMAT, &e);
    }
    if (r->hdr.version != TDM_REC_VERSION_V1) {
        r->last_off = r->off;
        r->off += size;
        r->bpos = 0;
        r->blen = plen;
        return next_entry(r, rec, err);
    }
    tdm_error pe = {{0}};
    if (tdm_rec_record_parse(r->plain, plen, rec, &pe) != TDM_OK) {
        /* Authenticated but malformed: the writer was wrong, still a fault. */
        tdm_fail(&e, TDM_ERR_FORMAT, "record %llu at byte %zu: %s", (unsigned long long)idx, r->off,
                 pe.msg);
        return finish(r, err, TDM_ERR_FORMAT, &e);
    }
    r->last_off = r->off;
    r->off += size;
    if (rec->type == TDM_REC_END)
        r->end_seen = true;
    return TDM_OK;
}

const tdm_rec_header *tdm_rec_reader_header(const tdm_rec_reader *r) { return &r->hdr; }
size_t tdm_rec_reader_header_len(const tdm_rec_reader *r) { return r->hlen; }
uint64_t tdm_rec_reader_records(const tdm_rec_reader *r) { return tdm_rec_chain_seq(r->chain); }
uint64_t tdm_rec_reader_offset(const tdm_rec_reader *r) { return r->off; }
uint64_t tdm_rec_reader_last_offset(const tdm_rec_reader *r) { return r->last_off; }
const uint8_t *tdm_rec_reader_hash(const tdm_rec_reader *r) { return tdm_rec_chain_hash(r->chain); }
