/* encoder.c: header + sealed records into an output buffer (tdm_rec_encoder.h). */
#include "tdm_rec_encoder.h"

#include <stdlib.h>
#include <string.h>

struct tdm_rec_encoder {
    tdm_rec_chain *chain;
    uint8_t *buf;
    size_t cap, start, end; /* pending bytes are buf[start, end) */
    uint64_t last_flush_us, flush_interval_us;
    bool finished;
    unsigned version;
    size_t batch_max; /* version 2: seal once the open record holds this much; 0: every entry */
    size_t plen;      /* version 2: bytes of the open record's plaintext in plain */
    tdm_rec_encoder_stats stats;
    uint8_t plain[TDM_REC_MAX_SEALED];
};

tdm_status tdm_rec_encoder_new(const tdm_rec_header *hdr, const uint8_t rec_key[TDM_REC_KEY_LEN],
                               size_t buf_cap, uint64_t now_us, tdm_rec_encoder **out,
                               tdm_error *err)
{
    if (!hdr || !rec_key || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "rec encoder: NULL argument");
    if (buf_cap == 0)
        buf_cap = 1u << 20;
    if (buf_cap < TDM_REC_MAX_HEADER + 2 * TDM_REC_MAX_RECORD)
        return tdm_fail(err, TDM_ERR_INVALID, "rec encoder: buffer of %zu bytes is too small",
                        buf_cap);
    tdm_rec_encoder *e = calloc(1, sizeof *e);
    if (!e || !(e->buf = malloc(buf_cap))) {
        free(e);
        return tdm_fail(err, TDM_ERR_NOMEM, "rec encoder: out of memory");
    }
    e->cap = buf_cap;
    e->last_flush_us = now_us;
    e->flush_interval_us = 1000000;
    size_t hlen;
    tdm_status st = tdm_rec_header_encode(hdr, e->buf, e->cap, &hlen, err);
    if (st == TDM_OK)
        st = tdm_rec_chain_new(rec_key, e->buf, hlen, &e->chain, err);
    if (st != TDM_OK) {
        tdm_rec_encoder_free(e);
        return st;
    }
    e->version = hdr->version ? hdr->version : TDM_REC_VERSION;
    e->end = hlen;
    e->stats.bytes = hlen;
    *out = e;
    return TDM_OK;
}

void tdm_rec_encoder_free(tdm_rec_encoder *e)
{
    if (!e)
        return;
    tdm_rec_chain_free(e->chain);
    free(e->buf);
    free(e);
}

size_t tdm_rec_encoder_room(const tdm_rec_encoder *e) { return e->cap - (e->end - e->start); }

/* Makes room at the buffer's end for a record of need bytes. */
static tdm_status make_room(tdm_rec_encoder *e, size_t need)
{
    if (e->cap - e->end < need) {
        /* Compact: the drained prefix is free again. */
        memmove(e->buf, e->buf + e->start, e->end - e->start);
        e->end -= e->start;
        e->start = 0;
        if (e->cap - e->end < need)
            return TDM_ERR_RANGE;
    }
    return TDM_OK;
}

static tdm_status seal_into_buf(tdm_rec_encoder *e, const uint8_t *plain, size_t plen)
{
    tdm_status st = make_room(e, TDM_REC_LEN_FIELD + plen + TDM_REC_TAG_LEN);
    if (st != TDM_OK)
        return st;
    size_t n;
    st = tdm_rec_seal(e->chain, plain, plen, e->buf + e->end, e->cap - e->end, &n);
    if (st != TDM_OK)
        return st;
    e->end += n;
    e->stats.bytes += n;
    return TDM_OK;
}

static void count(tdm_rec_encoder *e, const tdm_rec_record *r)
{
    e->stats.records++;
    if (r->type == TDM_REC_RTP)
        e->stats.rtp_records++;
    else if (r->type == TDM_REC_DROP)
        e->stats.dropped += r->a;
    else if (r->type == TDM_REC_END)
        e->finished = true;
}

tdm_status tdm_rec_encoder_seal_batch(tdm_rec_encoder *e)
{
    if (!e)
        return TDM_ERR_INVALID;
    if (e->plen == 0)
        return TDM_OK;
    tdm_status st = seal_into_buf(e, e->plain, e->plen);
    if (st == TDM_OK)
        e->plen = 0;
    return st;
}

/* One entry: r (parsed) whose plaintext is at entry (elen bytes), or, when
 * entry is NULL, still to be encoded from r. */
static tdm_status add_entry(tdm_rec_encoder *e, const tdm_rec_record *r, const uint8_t *entry,
                            size_t elen)
{
    if (e->version == TDM_REC_VERSION_V1) {
        if (!entry) {
            tdm_status st = tdm_rec_record_encode(r, e->plain, sizeof e->plain, &elen);
            if (st != TDM_OK)
                return st;
            entry = e->plain;
        }
        tdm_status st = seal_into_buf(e, entry, elen);
        if (st == TDM_OK)
            count(e, r);
        return st;
    }
    /* Version 2: appended to the open record, which is sealed when full. */
    size_t avail = sizeof e->plain - e->plen;
    size_t space = avail > TDM_REC_ENTRY_LEN ? avail - TDM_REC_ENTRY_LEN : 0;
    uint8_t *dst = e->plain + (sizeof e->plain - space);
    tdm_status st = TDM_OK;
    if (entry) {
        if (elen > space)
            st = TDM_ERR_RANGE;
    } else {
        st = tdm_rec_record_encode(r, dst, space, &elen);
    }
    if (st == TDM_ERR_RANGE && e->plen > 0) {
        /* Full: seal what is open, then this entry starts the next record. */
        if ((st = tdm_rec_encoder_seal_batch(e)) != TDM_OK)
            return st;
        dst = e->plain + TDM_REC_ENTRY_LEN;
        space = sizeof e->plain - TDM_REC_ENTRY_LEN;
        st = entry ? TDM_OK : tdm_rec_record_encode(r, dst, space, &elen);
    }
    if (st != TDM_OK)
        return st == TDM_ERR_RANGE ? TDM_ERR_INVALID : st;
    size_t total = e->plen + TDM_REC_ENTRY_LEN + elen;
    bool seal_now = e->batch_max == 0 || total >= e->batch_max || r->type == TDM_REC_SYNC ||
                    r->type == TDM_REC_END;
    /* Check the room before taking the entry, so a full buffer takes nothing. */
    if (seal_now && (st = make_room(e, TDM_REC_LEN_FIELD + total + TDM_REC_TAG_LEN)) != TDM_OK)
        return st;
    if (entry)
        memcpy(dst, entry, elen);
    dst[-2] = (uint8_t)(elen >> 8);
    dst[-1] = (uint8_t)elen;
    e->plen = total;
    count(e, r);
    return seal_now ? tdm_rec_encoder_seal_batch(e) : TDM_OK;
}

tdm_status tdm_rec_encoder_add(tdm_rec_encoder *e, const tdm_rec_record *r)
{
    if (!e || !r || e->finished)
        return TDM_ERR_INVALID;
    return add_entry(e, r, NULL, 0);
}

tdm_status tdm_rec_encoder_add_plain(tdm_rec_encoder *e, const uint8_t *plain, size_t len)
{
    tdm_rec_record r;
    if (!e || !plain || e->finished || len > TDM_REC_MAX_PLAIN ||
        tdm_rec_record_parse(plain, len, &r, NULL) != TDM_OK)
        return TDM_ERR_INVALID;
    return add_entry(e, &r, plain, len);
}

void tdm_rec_encoder_set_batch(tdm_rec_encoder *e, size_t max_bytes)
{
    e->batch_max = max_bytes > TDM_REC_MAX_SEALED ? TDM_REC_MAX_SEALED : max_bytes;
}

tdm_status tdm_rec_encoder_add_rtp(tdm_rec_encoder *e, uint8_t stream, uint64_t time_us,
                                   const uint8_t *pkt, size_t len)
{
    tdm_rec_record r = {
        .type = TDM_REC_RTP, .stream = stream, .time_us = time_us, .data = pkt, .len = len};
    return tdm_rec_encoder_add(e, &r);
}

tdm_status tdm_rec_encoder_add_drop(tdm_rec_encoder *e, uint8_t stream, uint64_t time_us,
                                    uint64_t lost)
{
    tdm_rec_record r = {.type = TDM_REC_DROP, .stream = stream, .time_us = time_us, .a = lost};
    return tdm_rec_encoder_add(e, &r);
}

tdm_status tdm_rec_encoder_add_sync(tdm_rec_encoder *e, uint64_t time_us)
{
    tdm_rec_record r = {.type = TDM_REC_SYNC, .time_us = time_us, .a = e->stats.rtp_records,
                        .b = e->stats.dropped};
    return tdm_rec_encoder_add(e, &r);
}

tdm_status tdm_rec_encoder_finish(tdm_rec_encoder *e, uint64_t time_us)
{
    tdm_rec_record r = {.type = TDM_REC_END, .time_us = time_us, .a = e->stats.rtp_records,
                        .b = e->stats.dropped};
    return tdm_rec_encoder_add(e, &r);
}

const uint8_t *tdm_rec_encoder_pending(const tdm_rec_encoder *e, size_t *len)
{
    *len = e->end - e->start;
    return e->buf + e->start;
}

void tdm_rec_encoder_consume(tdm_rec_encoder *e, size_t n)
{
    if (n > e->end - e->start)
        n = e->end - e->start;
    e->start += n;
    if (e->start == e->end)
        e->start = e->end = 0;
}

bool tdm_rec_encoder_flush_due(const tdm_rec_encoder *e, uint64_t now_us)
{
    return now_us >= e->last_flush_us + e->flush_interval_us;
}

void tdm_rec_encoder_flushed(tdm_rec_encoder *e, uint64_t now_us) { e->last_flush_us = now_us; }

void tdm_rec_encoder_set_flush_interval(tdm_rec_encoder *e, uint64_t interval_us)
{
    e->flush_interval_us = interval_us;
}

const uint8_t *tdm_rec_encoder_hash(const tdm_rec_encoder *e)
{
    return tdm_rec_chain_hash(e->chain);
}
const tdm_rec_encoder_stats *tdm_rec_encoder_get_stats(const tdm_rec_encoder *e)
{
    return &e->stats;
}
