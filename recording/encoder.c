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
    tdm_rec_encoder_stats stats;
    uint8_t plain[TDM_REC_MAX_PLAIN];
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

tdm_status tdm_rec_encoder_add(tdm_rec_encoder *e, const tdm_rec_record *r)
{
    if (!e || !r || e->finished)
        return TDM_ERR_INVALID;
    size_t plen;
    tdm_status st = tdm_rec_record_encode(r, e->plain, sizeof e->plain, &plen);
    if (st != TDM_OK)
        return st;
    size_t need = TDM_REC_LEN_FIELD + plen + TDM_REC_TAG_LEN;
    if (e->cap - e->end < need) {
        /* Compact: the drained prefix is free again. */
        memmove(e->buf, e->buf + e->start, e->end - e->start);
        e->end -= e->start;
        e->start = 0;
        if (e->cap - e->end < need)
            return TDM_ERR_RANGE;
    }
    size_t n;
    st = tdm_rec_seal(e->chain, e->plain, plen, e->buf + e->end, e->cap - e->end, &n);
    if (st != TDM_OK)
        return st;
    e->end += n;
    e->stats.records++;
    e->stats.bytes += n;
    if (r->type == TDM_REC_RTP)
        e->stats.rtp_records++;
    else if (r->type == TDM_REC_DROP)
        e->stats.dropped += r->a;
    else if (r->type == TDM_REC_END)
        e->finished = true;
    return TDM_OK;
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
