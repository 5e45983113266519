/* rtp.c: RTP fixed header, CSRC list, header extension and padding (RFC
 * 3550 section 5.1 and 5.3.1); drop-reason names and counters; sequence
 * number and timestamp unwrapping. */
#include "tdm_rtp.h"

#include <string.h>

static const char *const drop_names[] = {
#define TDM_RTP_DROP_LABEL(name, label, text) label,
    TDM_RTP_DROP_MAP(TDM_RTP_DROP_LABEL)
#undef TDM_RTP_DROP_LABEL
};

static const char *const drop_texts[] = {
#define TDM_RTP_DROP_TEXT(name, label, text) text,
    TDM_RTP_DROP_MAP(TDM_RTP_DROP_TEXT)
#undef TDM_RTP_DROP_TEXT
};

const char *tdm_rtp_drop_name(tdm_rtp_drop why)
{
    if ((unsigned)why >= TDM_RTP_DROP_COUNT)
        return "unknown";
    return drop_names[why];
}

const char *tdm_rtp_drop_text(tdm_rtp_drop why)
{
    if ((unsigned)why >= TDM_RTP_DROP_COUNT)
        return "unknown drop reason";
    return drop_texts[why];
}

void tdm_rtp_drop_counts_add(tdm_rtp_drop_counts *c, tdm_rtp_drop why)
{
    if (why == TDM_RTP_DROP_NONE || (unsigned)why >= TDM_RTP_DROP_COUNT)
        return;
    c->n[why]++;
}

uint64_t tdm_rtp_drop_counts_total(const tdm_rtp_drop_counts *c)
{
    uint64_t sum = 0;
    for (int i = 0; i < TDM_RTP_DROP_COUNT; i++)
        sum += c->n[i];
    return sum;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static tdm_status drop(tdm_rtp_drop *why, tdm_rtp_drop reason)
{
    if (why)
        *why = reason;
    return TDM_ERR_FORMAT;
}

tdm_status tdm_rtp_parse(const uint8_t *buf, size_t len, tdm_rtp_packet *out, tdm_rtp_drop *why)
{
    if (why)
        *why = TDM_RTP_DROP_NONE;
    if (!out || (!buf && len > 0))
        return TDM_ERR_INVALID;
    if (len < TDM_RTP_FIXED_HEADER)
        return drop(why, TDM_RTP_DROP_TOO_SHORT);
    if (buf[0] >> 6 != 2)
        return drop(why, TDM_RTP_DROP_BAD_VERSION);

    tdm_rtp_header *h = &out->header;
    bool padding = buf[0] & 0x20;
    h->has_extension = buf[0] & 0x10;
    h->csrc_count = buf[0] & 0x0f;
    h->marker = buf[1] & 0x80;
    h->payload_type = buf[1] & 0x7f;
    h->seq = rd16(buf + 2);
    h->timestamp = rd32(buf + 4);
    h->ssrc = rd32(buf + 8);

    size_t pos = TDM_RTP_FIXED_HEADER;
    if (len - pos < 4u * h->csrc_count)
        return drop(why, TDM_RTP_DROP_BAD_CSRC);
    for (int i = 0; i < h->csrc_count; i++, pos += 4)
        h->csrc[i] = rd32(buf + pos);

    h->ext_profile = 0;
    h->ext = NULL;
    h->ext_len = 0;
    if (h->has_extension) {
        if (len - pos < 4)
            return drop(why, TDM_RTP_DROP_BAD_EXTENSION);
        h->ext_profile = rd16(buf + pos);
        size_t words = rd16(buf + pos + 2);
        pos += 4;
        if (len - pos < 4 * words)
            return drop(why, TDM_RTP_DROP_BAD_EXTENSION);
        h->ext = buf + pos;
        h->ext_len = 4 * words;
        pos += 4 * words;
    }

    size_t pad = 0;
    if (padding) {
        /* The count includes itself, so zero is never valid, and padding
         * cannot reach back into the header. */
        pad = buf[len - 1];
        if (pad == 0 || pad > len - pos)
            return drop(why, TDM_RTP_DROP_BAD_PADDING);
    }
    out->header_len = pos;
    out->payload = buf + pos;
    out->payload_len = len - pos - pad;
    out->padding_len = pad;
    return TDM_OK;
}

size_t tdm_rtp_header_size(const tdm_rtp_header *h)
{
    size_t n = TDM_RTP_FIXED_HEADER + 4u * (h->csrc_count > TDM_RTP_MAX_CSRC ? TDM_RTP_MAX_CSRC
                                                                              : h->csrc_count);
    if (h->has_extension)
        n += 4 + h->ext_len;
    return n;
}

static tdm_status check_header(const tdm_rtp_header *h)
{
    if (h->payload_type > 127 || h->csrc_count > TDM_RTP_MAX_CSRC)
        return TDM_ERR_INVALID;
    if (h->has_extension &&
        (h->ext_len % 4 != 0 || h->ext_len > 4u * 0xffff || (h->ext_len > 0 && !h->ext)))
        return TDM_ERR_INVALID;
    return TDM_OK;
}

/* Writes the header; the caller has checked the fields and the room. */
static size_t put_header(const tdm_rtp_header *h, bool padding, uint8_t *buf)
{
    buf[0] = (uint8_t)(2 << 6 | (padding ? 0x20 : 0) | (h->has_extension ? 0x10 : 0) |
                       h->csrc_count);
    buf[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->payload_type);
    wr16(buf + 2, h->seq);
    wr32(buf + 4, h->timestamp);
    wr32(buf + 8, h->ssrc);
    size_t pos = TDM_RTP_FIXED_HEADER;
    for (int i = 0; i < h->csrc_count; i++, pos += 4)
        wr32(buf + pos, h->csrc[i]);
    if (h->has_extension) {
        wr16(buf + pos, h->ext_profile);
        wr16(buf + pos + 2, (uint16_t)(h->ext_len / 4));
        pos += 4;
        if (h->ext_len)
            memmove(buf + pos, h->ext, h->ext_len);
        pos += h->ext_len;
    }
    return pos;
}

tdm_status tdm_rtp_write_header(const tdm_rtp_header *h, uint8_t *buf, size_t cap,
                                size_t *written)
{
    if (!h || !buf || !written)
        return TDM_ERR_INVALID;
    tdm_status st = check_header(h);
    if (st != TDM_OK)
        return st;
    size_t need = tdm_rtp_header_size(h);
    if (cap < need)
        return TDM_ERR_RANGE;
    *written = put_header(h, false, buf);
    return TDM_OK;
}

tdm_status tdm_rtp_write(const tdm_rtp_header *h, const uint8_t *payload, size_t payload_len,
                         size_t padding_len, uint8_t *buf, size_t cap, size_t *written)
{
    if (!h || !buf || !written || (!payload && payload_len > 0) || padding_len > 255)
        return TDM_ERR_INVALID;
    tdm_status st = check_header(h);
    if (st != TDM_OK)
        return st;
    size_t hlen = tdm_rtp_header_size(h);
    if (cap < hlen || cap - hlen < payload_len || cap - hlen - payload_len < padding_len)
        return TDM_ERR_RANGE;
    /* The payload goes first: it may sit where the header is about to be
     * written (a caller that built it in place at buf + hlen). */
    if (payload_len)
        memmove(buf + hlen, payload, payload_len);
    put_header(h, padding_len > 0, buf);
    if (padding_len) {
        memset(buf + hlen + payload_len, 0, padding_len - 1);
        buf[hlen + payload_len + padding_len - 1] = (uint8_t)padding_len;
    }
    *written = hlen + payload_len + padding_len;
    return TDM_OK;
}

uint64_t tdm_rtp_seq_unwrap(uint64_t ref, uint16_t seq)
{
    uint16_t fwd = (uint16_t)(seq - (uint16_t)ref);
    if (fwd <= 0x8000)
        return ref + fwd;
    uint64_t back = 0x10000u - fwd;
    return ref >= back ? ref - back : ref + fwd;
}

uint64_t tdm_rtp_ts_unwrap(uint64_t ref, uint32_t ts)
{
    uint32_t fwd = ts - (uint32_t)ref;
    if (fwd <= 0x80000000u)
        return ref + fwd;
    uint64_t back = 0x100000000u - (uint64_t)fwd;
    return ref >= back ? ref - back : ref + fwd;
}

size_t tdm_rtp_split_count(size_t len, size_t first_cap, size_t cap)
{
    if (len <= first_cap)
        return 1;
    return 1 + (len - first_cap + cap - 1) / cap;
}

size_t tdm_rtp_split_next(size_t remaining, size_t packets_left, size_t cap)
{
    if (packets_left == 0)
        return 0;
    size_t n = remaining / packets_left + (remaining % packets_left != 0);
    return n < cap ? n : cap;
}
