/* format.c: header and record plaintext layout (tdm_rec_format.h). */
#include "tdm_rec_format.h"

#include <string.h>

const char *tdm_rec_type_name(tdm_rec_type t)
{
    switch (t) {
    case TDM_REC_RTP: return "rtp";
    case TDM_REC_DROP: return "drop";
    case TDM_REC_STREAM_START: return "stream_start";
    case TDM_REC_STREAM_STOP: return "stream_stop";
    case TDM_REC_SYNC: return "sync";
    case TDM_REC_END: return "end";
    }
    return "unknown";
}

static bool session_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > TDM_REC_SESSION_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

tdm_status tdm_rec_header_encode(const tdm_rec_header *h, uint8_t *buf, size_t cap, size_t *len,
                                 tdm_error *err)
{
    if (!h || !buf || !len)
        return tdm_fail(err, TDM_ERR_INVALID, "rec header: NULL argument");
    unsigned version = h->version ? h->version : TDM_REC_VERSION;
    if (version != TDM_REC_VERSION && version != TDM_REC_VERSION_V1)
        return tdm_fail(err, TDM_ERR_INVALID, "rec header: no format version %u", version);
    size_t sid = strnlen(h->session_id, sizeof h->session_id);
    if (!session_id_ok(h->session_id, sid))
        return tdm_fail(err, TDM_ERR_INVALID,
                        "rec header: session id must be 1..%d printable characters",
                        TDM_REC_SESSION_ID_MAX);
    if (h->nstreams > TDM_REC_MAX_STREAMS)
        return tdm_fail(err, TDM_ERR_INVALID, "rec header: %zu streams (at most %d)", h->nstreams,
                        TDM_REC_MAX_STREAMS);
    for (size_t i = 0; i < h->nstreams; i++)
        for (size_t j = 0; j < i; j++)
            if (h->streams[i].id == h->streams[j].id)
                return tdm_fail(err, TDM_ERR_INVALID, "rec header: stream id %u twice",
                                h->streams[i].id);
    size_t n =
        TDM_REC_MAGIC_LEN + 4 + 1 + sid + 1 + TDM_SIG_WRAPPED_KEY_LEN + 8 + 1 + 11 * h->nstreams;
    if (cap < n)
        return tdm_fail(err, TDM_ERR_RANGE, "rec header: %zu bytes do not fit in %zu", n, cap);
    uint8_t *p = buf;
    memcpy(p, TDM_REC_MAGIC, TDM_REC_MAGIC_LEN), p += TDM_REC_MAGIC_LEN;
    *p++ = 0, *p++ = (uint8_t)version;
    *p++ = (uint8_t)(n >> 8), *p++ = (uint8_t)n;
    *p++ = (uint8_t)sid;
    memcpy(p, h->session_id, sid), p += sid;
    *p++ = TDM_SIG_WRAPPED_KEY_LEN;
    memcpy(p, h->wrapped_key, TDM_SIG_WRAPPED_KEY_LEN), p += TDM_SIG_WRAPPED_KEY_LEN;
    tdm_rec_put64(p, h->start_unix_us), p += 8;
    *p++ = (uint8_t)h->nstreams;
    for (size_t i = 0; i < h->nstreams; i++) {
        const tdm_rec_stream *s = &h->streams[i];
        *p++ = s->id;
        *p++ = (uint8_t)s->codec;
        *p++ = s->payload_type;
        tdm_rec_put32(p, s->ssrc), p += 4;
        tdm_rec_put32(p, s->clock_hz), p += 4;
    }
    *len = n;
    return TDM_OK;
}

tdm_status tdm_rec_header_parse(const uint8_t *buf, size_t len, tdm_rec_header *h, size_t *hlen,
                                tdm_error *err)
{
    if ((!buf && len) || !h || !hlen)
        return tdm_fail(err, TDM_ERR_INVALID, "rec header: NULL argument");
    size_t m = len < TDM_REC_MAGIC_LEN ? len : TDM_REC_MAGIC_LEN;
    if (memcmp(buf, TDM_REC_MAGIC, m) != 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "not a Tandem recording (no TDMREC magic)");
    if (len < TDM_REC_MAGIC_LEN + 4)
        return tdm_fail(err, TDM_ERR_TRUNCATED, "recording truncated inside its header (%zu bytes)",
                        len);
    unsigned version = (unsigned)buf[8] << 8 | buf[9];
    if (version != TDM_REC_VERSION && version != TDM_REC_VERSION_V1)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                        "recording format version %u (this tool reads %d and %d)", version,
                        TDM_REC_VERSION_V1, TDM_REC_VERSION);
    size_t n = (size_t)buf[10] << 8 | buf[11];
    if (n < TDM_REC_MAGIC_LEN + 4 + 1 + 1 + 1 + TDM_SIG_WRAPPED_KEY_LEN + 8 + 1 ||
        n > TDM_REC_MAX_HEADER)
        return tdm_fail(err, TDM_ERR_FORMAT, "recording header: bad length %zu", n);
    if (len < n)
        return tdm_fail(err, TDM_ERR_TRUNCATED,
                        "recording truncated inside its header (%zu of %zu bytes)", len, n);
    memset(h, 0, sizeof *h);
    h->version = version == TDM_REC_VERSION ? 0 : (uint16_t)version;
    const uint8_t *p = buf + 12, *end = buf + n;
    size_t sid = *p++;
    if (!session_id_ok((const char *)p, sid) || (size_t)(end - p) < sid + 1)
        return tdm_fail(err, TDM_ERR_FORMAT, "recording header: bad session id");
    memcpy(h->session_id, p, sid), p += sid;
    if (*p++ != TDM_SIG_WRAPPED_KEY_LEN || (size_t)(end - p) < TDM_SIG_WRAPPED_KEY_LEN + 8 + 1)
        return tdm_fail(err, TDM_ERR_FORMAT, "recording header: bad wrapped key");
    memcpy(h->wrapped_key, p, TDM_SIG_WRAPPED_KEY_LEN), p += TDM_SIG_WRAPPED_KEY_LEN;
    h->start_unix_us = tdm_rec_get64(p), p += 8;
    h->nstreams = *p++;
    if (h->nstreams > TDM_REC_MAX_STREAMS || (size_t)(end - p) != 11 * h->nstreams)
        return tdm_fail(err, TDM_ERR_FORMAT, "recording header: bad stream table");
    for (size_t i = 0; i < h->nstreams; i++) {
        tdm_rec_stream *s = &h->streams[i];
        s->id = *p++;
        s->codec = (tdm_codec)*p++;
        s->payload_type = *p++;
        s->ssrc = tdm_rec_get32(p), p += 4;
        s->clock_hz = tdm_rec_get32(p), p += 4;
        if (s->codec != TDM_CODEC_VP8 && s->codec != TDM_CODEC_VP9 && s->codec != TDM_CODEC_OPUS)
            return tdm_fail(err, TDM_ERR_FORMAT, "recording header: stream %u has unknown codec %d",
                            s->id, (int)s->codec);
        if (s->clock_hz == 0)
            return tdm_fail(err, TDM_ERR_FORMAT, "recording header: stream %u has clock rate 0",
                            s->id);
        for (size_t j = 0; j < i; j++)
            if (h->streams[j].id == s->id)
                return tdm_fail(err, TDM_ERR_FORMAT, "recording header: stream id %u twice", s->id);
    }
    *hlen = n;
    return TDM_OK;
}

const tdm_rec_stream *tdm_rec_header_stream(const tdm_rec_header *h, uint8_t id)
{
    for (size_t i = 0; i < h->nstreams; i++)
        if (h->streams[i].id == id)
            return &h->streams[i];
    return NULL;
}

static size_t body_size(tdm_rec_type t)
{
    switch (t) {
    case TDM_REC_DROP: return 8;
    case TDM_REC_STREAM_START:
    case TDM_REC_STREAM_STOP: return 0;
    case TDM_REC_SYNC:
    case TDM_REC_END: return 16;
    default: return SIZE_MAX;
    }
}

tdm_status tdm_rec_record_encode(const tdm_rec_record *r, uint8_t *buf, size_t cap, size_t *len)
{
    if (!r || !buf || !len)
        return TDM_ERR_INVALID;
    size_t body = r->type == TDM_REC_RTP ? r->len : body_size(r->type);
    if (body == SIZE_MAX ||
        (r->type == TDM_REC_RTP && (!r->data || r->len == 0 || r->len > TDM_REC_MAX_PACKET)))
        return TDM_ERR_INVALID;
    if (cap < TDM_REC_PLAIN_HEAD + body)
        return TDM_ERR_RANGE;
    buf[0] = (uint8_t)r->type;
    buf[1] = r->stream;
    tdm_rec_put64(buf + 2, r->time_us);
    uint8_t *p = buf + TDM_REC_PLAIN_HEAD;
    if (r->type == TDM_REC_RTP)
        memcpy(p, r->data, r->len);
    else if (body >= 8) {
        tdm_rec_put64(p, r->a);
        if (body == 16)
            tdm_rec_put64(p + 8, r->b);
    }
    *len = TDM_REC_PLAIN_HEAD + body;
    return TDM_OK;
}

tdm_status tdm_rec_record_parse(const uint8_t *buf, size_t len, tdm_rec_record *r, tdm_error *err)
{
    if ((!buf && len) || !r)
        return tdm_fail(err, TDM_ERR_INVALID, "rec record: NULL argument");
    if (len < TDM_REC_PLAIN_HEAD)
        return tdm_fail(err, TDM_ERR_FORMAT, "record of %zu bytes is shorter than its head", len);
    memset(r, 0, sizeof *r);
    r->type = (tdm_rec_type)buf[0];
    r->stream = buf[1];
    r->time_us = tdm_rec_get64(buf + 2);
    const uint8_t *p = buf + TDM_REC_PLAIN_HEAD;
    size_t body = len - TDM_REC_PLAIN_HEAD;
    if (r->type == TDM_REC_RTP) {
        if (body == 0 || body > TDM_REC_MAX_PACKET)
            return tdm_fail(err, TDM_ERR_FORMAT, "RTP record with %zu bytes of packet", body);
        r->data = p;
        r->len = body;
        return TDM_OK;
    }
    size_t want = body_size(r->type);
    if (want == SIZE_MAX)
        return tdm_fail(err, TDM_ERR_FORMAT, "unknown record type %u", buf[0]);
    if (body != want)
        return tdm_fail(err, TDM_ERR_FORMAT, "%s record with a %zu-byte body (want %zu)",
                        tdm_rec_type_name(r->type), body, want);
    if (want >= 8)
        r->a = tdm_rec_get64(p);
    if (want == 16)
        r->b = tdm_rec_get64(p + 8);
    r->data = p;
    r->len = body;
    return TDM_OK;
}
