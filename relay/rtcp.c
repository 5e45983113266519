/* rtcp.c: RTCP compound packets: validation, typed iteration, accessors,
 * writers for SR, RR, generic NACK, PLI, FIR, REMB, compound joining, and
 * the RFC 5761 RTP/RTCP demultiplexer. */
#include "tdm_rtcp.h"

#include <string.h>

static const char *const drop_names[] = {
#define TDM_RTCP_DROP_LABEL(name, label, text) label,
    TDM_RTCP_DROP_MAP(TDM_RTCP_DROP_LABEL)
#undef TDM_RTCP_DROP_LABEL
};

static const char *const drop_texts[] = {
#define TDM_RTCP_DROP_TEXT(name, label, text) text,
    TDM_RTCP_DROP_MAP(TDM_RTCP_DROP_TEXT)
#undef TDM_RTCP_DROP_TEXT
};

const char *tdm_rtcp_drop_name(tdm_rtcp_drop why)
{
    if ((unsigned)why >= TDM_RTCP_DROP_COUNT)
        return "unknown";
    return drop_names[why];
}

const char *tdm_rtcp_drop_text(tdm_rtcp_drop why)
{
    if ((unsigned)why >= TDM_RTCP_DROP_COUNT)
        return "unknown drop reason";
    return drop_texts[why];
}

void tdm_rtcp_drop_counts_add(tdm_rtcp_drop_counts *c, tdm_rtcp_drop why)
{
    if (why == TDM_RTCP_DROP_NONE || (unsigned)why >= TDM_RTCP_DROP_COUNT)
        return;
    c->n[why]++;
}

uint64_t tdm_rtcp_drop_counts_total(const tdm_rtcp_drop_counts *c)
{
    uint64_t sum = 0;
    for (int i = 0; i < TDM_RTCP_DROP_COUNT; i++)
        sum += c->n[i];
    return sum;
}

bool tdm_rtcp_is_rtcp(const uint8_t *buf, size_t len)
{
    return buf && len >= 2 && buf[1] >= 192 && buf[1] <= 223;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
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

static void wr24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- parsing ---- */

static tdm_status drop(tdm_rtcp_drop *why, tdm_rtcp_drop reason)
{
    *why = reason;
    return TDM_ERR_FORMAT;
}

static tdm_status parse_report(const uint8_t *p, size_t n, bool sr, tdm_rtcp_item *item,
                               tdm_rtcp_drop *why)
{
    size_t count = p[0] & 0x1f;
    size_t fixed = 8 + (sr ? 20 : 0);
    if (n < fixed + count * TDM_RTCP_REPORT_BLOCK_SIZE)
        return drop(why, TDM_RTCP_DROP_BAD_REPORT);
    tdm_rtcp_report *r = &item->u.report;
    item->type = sr ? TDM_RTCP_SR : TDM_RTCP_RR;
    r->ssrc = rd32(p + 4);
    r->has_sender_info = sr;
    memset(&r->sender, 0, sizeof r->sender);
    if (sr) {
        r->sender.ntp = (uint64_t)rd32(p + 8) << 32 | rd32(p + 12);
        r->sender.rtp_timestamp = rd32(p + 16);
        r->sender.packet_count = rd32(p + 20);
        r->sender.octet_count = rd32(p + 24);
    }
    r->block_count = (uint8_t)count;
    r->blocks = p + fixed;
    r->ext = p + fixed + count * TDM_RTCP_REPORT_BLOCK_SIZE;
    r->ext_len = n - fixed - count * TDM_RTCP_REPORT_BLOCK_SIZE;
    return TDM_OK;
}

/* Chunks are an SSRC, then items (type, length, text) up to a zero type
 * byte, then zeros to the next 32-bit boundary (RFC 3550 6.5). Only the
 * shape is checked: the relay does not use CNAMEs. */
static tdm_status parse_sdes(const uint8_t *p, size_t n, tdm_rtcp_item *item, tdm_rtcp_drop *why)
{
    size_t count = p[0] & 0x1f;
    size_t off = 4;
    for (size_t c = 0; c < count; c++) {
        if (n - off < 4)
            return drop(why, TDM_RTCP_DROP_BAD_SDES);
        off += 4;
        for (;;) {
            if (off >= n)
                return drop(why, TDM_RTCP_DROP_BAD_SDES);
            if (p[off] == 0)
                break;
            if (n - off < 2 || n - off - 2 < p[off + 1])
                return drop(why, TDM_RTCP_DROP_BAD_SDES);
            off += 2 + (size_t)p[off + 1];
        }
        /* The terminating zero plus padding to the boundary. */
        off = (off + 4) & ~(size_t)3;
        if (off > n)
            return drop(why, TDM_RTCP_DROP_BAD_SDES);
    }
    item->type = TDM_RTCP_SDES;
    item->u.sdes.chunk_count = (uint8_t)count;
    return TDM_OK;
}

static tdm_status parse_bye(const uint8_t *p, size_t n, tdm_rtcp_item *item, tdm_rtcp_drop *why)
{
    size_t count = p[0] & 0x1f;
    if (n < 4 + 4 * count)
        return drop(why, TDM_RTCP_DROP_BAD_BYE);
    tdm_rtcp_bye *b = &item->u.bye;
    item->type = TDM_RTCP_BYE;
    b->ssrc_count = (uint8_t)count;
    b->ssrcs = p + 4;
    b->reason = NULL;
    b->reason_len = 0;
    size_t off = 4 + 4 * count;
    if (off < n) {
        size_t rlen = p[off];
        if (n - off - 1 < rlen)
            return drop(why, TDM_RTCP_DROP_BAD_BYE);
        b->reason = p + off + 1;
        b->reason_len = rlen;
    }
    return TDM_OK;
}

static void as_other(const uint8_t *p, size_t n, tdm_rtcp_item *item)
{
    item->type = TDM_RTCP_OTHER;
    item->u.other.packet_type = p[1];
    item->u.other.count = p[0] & 0x1f;
    item->u.other.body = p + 4;
    item->u.other.body_len = n - 4;
}

static tdm_status parse_rtpfb(const uint8_t *p, size_t n, tdm_rtcp_item *item, tdm_rtcp_drop *why)
{
    if ((p[0] & 0x1f) != TDM_RTCP_FMT_NACK) {
        as_other(p, n, item);
        return TDM_OK;
    }
    size_t fci = n - 12;
    if (fci == 0 || fci % 4 != 0)
        return drop(why, TDM_RTCP_DROP_BAD_NACK);
    item->type = TDM_RTCP_NACK;
    item->u.nack.sender_ssrc = rd32(p + 4);
    item->u.nack.media_ssrc = rd32(p + 8);
    item->u.nack.pair_count = fci / 4;
    item->u.nack.pairs = p + 12;
    return TDM_OK;
}

static uint64_t remb_bitrate(uint32_t mantissa, unsigned exp)
{
    /* An 18-bit mantissa shifted by up to 63 can exceed 64 bits; no real
     * estimate does, so saturate instead of wrapping to a small number. */
    if (mantissa != 0 && exp > 46 && (mantissa >> (64 - exp)) != 0)
        return UINT64_MAX;
    return (uint64_t)mantissa << exp;
}

static tdm_status parse_psfb(const uint8_t *p, size_t n, tdm_rtcp_item *item, tdm_rtcp_drop *why)
{
    size_t fci = n - 12;
    const uint8_t *f = p + 12;
    switch (p[0] & 0x1f) {
    case TDM_RTCP_FMT_PLI:
        if (fci != 0)
            return drop(why, TDM_RTCP_DROP_BAD_PLI);
        item->type = TDM_RTCP_PLI;
        item->u.pli.sender_ssrc = rd32(p + 4);
        item->u.pli.media_ssrc = rd32(p + 8);
        return TDM_OK;
    case TDM_RTCP_FMT_FIR:
        if (fci == 0 || fci % 8 != 0)
            return drop(why, TDM_RTCP_DROP_BAD_FIR);
        item->type = TDM_RTCP_FIR;
        item->u.fir.sender_ssrc = rd32(p + 4);
        item->u.fir.media_ssrc = rd32(p + 8);
        item->u.fir.entry_count = fci / 8;
        item->u.fir.entries = f;
        return TDM_OK;
    case TDM_RTCP_FMT_AFB:
        /* Application layer feedback is REMB only when it says so. */
        if (fci < 4 || memcmp(f, "REMB", 4) != 0)
            break;
        if (fci < 8 || fci != 8 + 4 * (size_t)f[4])
            return drop(why, TDM_RTCP_DROP_BAD_REMB);
        item->type = TDM_RTCP_REMB;
        item->u.remb.sender_ssrc = rd32(p + 4);
        item->u.remb.bitrate_bps = remb_bitrate(rd24(f + 5) & 0x3ffff, f[5] >> 2);
        item->u.remb.ssrc_count = f[4];
        item->u.remb.ssrcs = f + 8;
        return TDM_OK;
    default:
        break;
    }
    as_other(p, n, item);
    return TDM_OK;
}

/* Parses the RTCP packet at the start of buf (len bytes left in the
 * compound). On TDM_OK, *size is its length on the wire. */
static tdm_status parse_one(const uint8_t *buf, size_t len, tdm_rtcp_item *item, size_t *size,
                            tdm_rtcp_drop *why)
{
    if (len < 4)
        return drop(why, TDM_RTCP_DROP_TOO_SHORT);
    if (buf[0] >> 6 != 2)
        return drop(why, TDM_RTCP_DROP_BAD_VERSION);
    size_t total = ((size_t)rd16(buf + 2) + 1) * 4;
    if (total > len)
        return drop(why, TDM_RTCP_DROP_BAD_LENGTH);
    /* Padding may sit on any packet: RFC 3550 puts it on the last, but an
     * SRTCP sender is free to pad elsewhere and the length field still
     * frames each packet, so accepting costs nothing. */
    size_t n = total;
    if (buf[0] & 0x20) {
        uint8_t pad = buf[total - 1];
        if (pad == 0 || pad > total - 4)
            return drop(why, TDM_RTCP_DROP_BAD_PADDING);
        n = total - pad;
    }
    item->raw = buf;
    item->raw_len = total;
    *size = total;
    switch (buf[1]) {
    case TDM_RTCP_PT_SR:
        return parse_report(buf, n, true, item, why);
    case TDM_RTCP_PT_RR:
        return parse_report(buf, n, false, item, why);
    case TDM_RTCP_PT_SDES:
        return parse_sdes(buf, n, item, why);
    case TDM_RTCP_PT_BYE:
        return parse_bye(buf, n, item, why);
    case TDM_RTCP_PT_RTPFB:
    case TDM_RTCP_PT_PSFB:
        if (n < 12)
            return drop(why, TDM_RTCP_DROP_BAD_FEEDBACK);
        return buf[1] == TDM_RTCP_PT_RTPFB ? parse_rtpfb(buf, n, item, why)
                                           : parse_psfb(buf, n, item, why);
    default:
        as_other(buf, n, item);
        return TDM_OK;
    }
}

tdm_status tdm_rtcp_iter_init(tdm_rtcp_iter *it, const uint8_t *buf, size_t len,
                              tdm_rtcp_drop *why)
{
    tdm_rtcp_drop local;
    if (!why)
        why = &local;
    if (!it || (!buf && len > 0))
        return TDM_ERR_INVALID;
    it->buf = buf;
    it->len = 0;
    it->off = 0;
    if (len == 0)
        return drop(why, TDM_RTCP_DROP_TOO_SHORT);
    /* Check everything first so that a caller never acts on the head of a
     * compound packet whose tail is broken. */
    for (size_t off = 0; off < len;) {
        tdm_rtcp_item item;
        size_t size = 0;
        tdm_status st = parse_one(buf + off, len - off, &item, &size, why);
        if (st != TDM_OK)
            return st;
        off += size;
    }
    it->len = len;
    *why = TDM_RTCP_DROP_NONE;
    return TDM_OK;
}

tdm_status tdm_rtcp_iter_next(tdm_rtcp_iter *it, tdm_rtcp_item *item)
{
    if (!it || !item)
        return TDM_ERR_INVALID;
    if (it->off >= it->len)
        return TDM_EOF;
    size_t size = 0;
    tdm_rtcp_drop why;
    if (parse_one(it->buf + it->off, it->len - it->off, item, &size, &why) != TDM_OK) {
        it->off = it->len; /* not reached after a successful init */
        return TDM_EOF;
    }
    it->off += size;
    return TDM_OK;
}

tdm_rtcp_report_block tdm_rtcp_report_block_at(const tdm_rtcp_report *r, size_t i)
{
    const uint8_t *b = r->blocks + i * TDM_RTCP_REPORT_BLOCK_SIZE;
    tdm_rtcp_report_block rb;
    rb.ssrc = rd32(b);
    rb.fraction_lost = b[4];
    uint32_t lost = rd24(b + 5);
    /* Sign-extend the 24-bit two's complement count. */
    rb.cumulative_lost = (int32_t)(lost & 0x800000 ? lost | 0xff000000u : lost);
    rb.highest_seq = rd32(b + 8);
    rb.jitter = rd32(b + 12);
    rb.lsr = rd32(b + 16);
    rb.dlsr = rd32(b + 20);
    return rb;
}

uint32_t tdm_rtcp_bye_ssrc(const tdm_rtcp_bye *b, size_t i)
{
    return rd32(b->ssrcs + 4 * i);
}

tdm_rtcp_fir_entry tdm_rtcp_fir_entry_at(const tdm_rtcp_fir *f, size_t i)
{
    tdm_rtcp_fir_entry e = {.ssrc = rd32(f->entries + 8 * i), .seq = f->entries[8 * i + 4]};
    return e;
}

uint32_t tdm_rtcp_remb_ssrc(const tdm_rtcp_remb *r, size_t i)
{
    return rd32(r->ssrcs + 4 * i);
}

void tdm_rtcp_nack_pair(const tdm_rtcp_nack *n, size_t i, uint16_t *pid, uint16_t *blp)
{
    *pid = rd16(n->pairs + 4 * i);
    *blp = rd16(n->pairs + 4 * i + 2);
}

size_t tdm_rtcp_nack_seqs(const tdm_rtcp_nack *n, uint16_t *seqs, size_t cap)
{
    size_t total = 0;
    for (size_t i = 0; i < n->pair_count; i++) {
        uint16_t pid, blp;
        tdm_rtcp_nack_pair(n, i, &pid, &blp);
        for (unsigned bit = 0; bit <= 16; bit++) {
            if (bit > 0 && !(blp & (1u << (bit - 1))))
                continue;
            if (total < cap)
                seqs[total] = (uint16_t)(pid + bit);
            total++;
        }
    }
    return total;
}

/* ---- writing ---- */

/* The common header: V=2, P=0, count/FMT, PT, length in words minus one. */
static void write_header(uint8_t *p, unsigned count, uint8_t pt, size_t size)
{
    p[0] = (uint8_t)(0x80 | count);
    p[1] = pt;
    wr16(p + 2, (uint16_t)(size / 4 - 1));
}

static tdm_status check_room(size_t size, size_t cap, size_t *written)
{
    if (!written)
        return TDM_ERR_INVALID;
    /* The 16-bit length field caps a packet at 65536 words. */
    if (size > 65536 * 4)
        return TDM_ERR_INVALID;
    if (size > cap)
        return TDM_ERR_RANGE;
    return TDM_OK;
}

static void write_block(uint8_t *b, const tdm_rtcp_report_block *rb)
{
    int32_t lost = rb->cumulative_lost;
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000;
    wr32(b, rb->ssrc);
    b[4] = rb->fraction_lost;
    wr24(b + 5, (uint32_t)lost & 0xffffff);
    wr32(b + 8, rb->highest_seq);
    wr32(b + 12, rb->jitter);
    wr32(b + 16, rb->lsr);
    wr32(b + 20, rb->dlsr);
}

static tdm_status write_report(uint32_t ssrc, const tdm_rtcp_sender_info *info,
                               const tdm_rtcp_report_block *blocks, size_t n, uint8_t *buf,
                               size_t cap, size_t *written)
{
    if (n > TDM_RTCP_MAX_BLOCKS || (n > 0 && !blocks) || (cap > 0 && !buf))
        return TDM_ERR_INVALID;
    size_t fixed = 8 + (info ? 20 : 0);
    size_t size = fixed + n * TDM_RTCP_REPORT_BLOCK_SIZE;
    tdm_status st = check_room(size, cap, written);
    if (st != TDM_OK)
        return st;
    write_header(buf, (unsigned)n, info ? TDM_RTCP_PT_SR : TDM_RTCP_PT_RR, size);
    wr32(buf + 4, ssrc);
    if (info) {
        wr32(buf + 8, (uint32_t)(info->ntp >> 32));
        wr32(buf + 12, (uint32_t)info->ntp);
        wr32(buf + 16, info->rtp_timestamp);
        wr32(buf + 20, info->packet_count);
        wr32(buf + 24, info->octet_count);
    }
    for (size_t i = 0; i < n; i++)
        write_block(buf + fixed + i * TDM_RTCP_REPORT_BLOCK_SIZE, &blocks[i]);
    *written = size;
    return TDM_OK;
}

tdm_status tdm_rtcp_write_sr(uint32_t ssrc, const tdm_rtcp_sender_info *info,
                             const tdm_rtcp_report_block *blocks, size_t n, uint8_t *buf,
                             size_t cap, size_t *written)
{
    if (!info)
        return TDM_ERR_INVALID;
    return write_report(ssrc, info, blocks, n, buf, cap, written);
}

tdm_status tdm_rtcp_write_rr(uint32_t ssrc, const tdm_rtcp_report_block *blocks, size_t n,
                             uint8_t *buf, size_t cap, size_t *written)
{
    return write_report(ssrc, NULL, blocks, n, buf, cap, written);
}

static void write_fb_header(uint8_t *buf, unsigned fmt, uint8_t pt, size_t size, uint32_t sender,
                            uint32_t media)
{
    write_header(buf, fmt, pt, size);
    wr32(buf + 4, sender);
    wr32(buf + 8, media);
}

tdm_status tdm_rtcp_write_nack(uint32_t sender_ssrc, uint32_t media_ssrc, const uint16_t *seqs,
                               size_t n, uint8_t *buf, size_t cap, size_t *written)
{
    if (n == 0 || !seqs || !written || (cap > 0 && !buf))
        return TDM_ERR_INVALID;
    /* Pairs are built in place after the header. Each sequence number
     * lands in the first pair whose PID..PID+16 covers it, else opens a new
     * pair; pairs only ever append, so a duplicate finds the same pair
     * again and no number is named twice. */
    size_t pairs = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t s = seqs[i];
        size_t j = 0;
        for (; j < pairs; j++) {
            uint16_t pid = rd16(buf + 12 + 4 * j);
            uint16_t d = (uint16_t)(s - pid);
            if (d <= 16) {
                if (d > 0) {
                    uint16_t blp = rd16(buf + 12 + 4 * j + 2);
                    wr16(buf + 12 + 4 * j + 2, (uint16_t)(blp | 1u << (d - 1)));
                }
                break;
            }
        }
        if (j < pairs)
            continue;
        size_t size = 12 + 4 * (pairs + 1);
        tdm_status st = check_room(size, cap, written);
        if (st != TDM_OK)
            return st;
        wr16(buf + 12 + 4 * pairs, s);
        wr16(buf + 12 + 4 * pairs + 2, 0);
        pairs++;
    }
    size_t size = 12 + 4 * pairs;
    write_fb_header(buf, TDM_RTCP_FMT_NACK, TDM_RTCP_PT_RTPFB, size, sender_ssrc, media_ssrc);
    *written = size;
    return TDM_OK;
}

tdm_status tdm_rtcp_write_pli(uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *buf, size_t cap,
                              size_t *written)
{
    if (cap > 0 && !buf)
        return TDM_ERR_INVALID;
    tdm_status st = check_room(12, cap, written);
    if (st != TDM_OK)
        return st;
    write_fb_header(buf, TDM_RTCP_FMT_PLI, TDM_RTCP_PT_PSFB, 12, sender_ssrc, media_ssrc);
    *written = 12;
    return TDM_OK;
}

tdm_status tdm_rtcp_write_fir(uint32_t sender_ssrc, const tdm_rtcp_fir_entry *entries, size_t n,
                              uint8_t *buf, size_t cap, size_t *written)
{
    if (n == 0 || !entries || (cap > 0 && !buf))
        return TDM_ERR_INVALID;
    if (n > 65535 / 2)
        return TDM_ERR_INVALID;
    size_t size = 12 + 8 * n;
    tdm_status st = check_room(size, cap, written);
    if (st != TDM_OK)
        return st;
    write_fb_header(buf, TDM_RTCP_FMT_FIR, TDM_RTCP_PT_PSFB, size, sender_ssrc, 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = buf + 12 + 8 * i;
        wr32(e, entries[i].ssrc);
        e[4] = entries[i].seq;
        wr24(e + 5, 0);
    }
    *written = size;
    return TDM_OK;
}

tdm_status tdm_rtcp_write_remb(uint32_t sender_ssrc, uint64_t bitrate_bps, const uint32_t *ssrcs,
                               size_t n, uint8_t *buf, size_t cap, size_t *written)
{
    if (n > TDM_RTCP_MAX_REMB_SSRCS || (n > 0 && !ssrcs) || (cap > 0 && !buf))
        return TDM_ERR_INVALID;
    size_t size = 20 + 4 * n;
    tdm_status st = check_room(size, cap, written);
    if (st != TDM_OK)
        return st;
    unsigned exp = 0;
    while ((bitrate_bps >> exp) > 0x3ffff)
        exp++;
    uint32_t mantissa = (uint32_t)(bitrate_bps >> exp);
    write_fb_header(buf, TDM_RTCP_FMT_AFB, TDM_RTCP_PT_PSFB, size, sender_ssrc, 0);
    memcpy(buf + 12, "REMB", 4);
    buf[16] = (uint8_t)n;
    wr24(buf + 17, (uint32_t)exp << 18 | mantissa);
    for (size_t i = 0; i < n; i++)
        wr32(buf + 20 + 4 * i, ssrcs[i]);
    *written = size;
    return TDM_OK;
}

tdm_status tdm_rtcp_write_compound(const tdm_rtcp_part *parts, size_t n, uint8_t *buf, size_t cap,
                                   size_t *written)
{
    if ((n > 0 && !parts) || !written || (cap > 0 && !buf))
        return TDM_ERR_INVALID;
    size_t size = 0;
    for (size_t i = 0; i < n; i++) {
        const tdm_rtcp_part *pt = &parts[i];
        if (!pt->data || pt->len < 4 || pt->data[0] >> 6 != 2 ||
            ((size_t)rd16(pt->data + 2) + 1) * 4 != pt->len)
            return TDM_ERR_INVALID;
        size += pt->len;
    }
    if (size > cap)
        return TDM_ERR_RANGE;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + off, parts[i].data, parts[i].len);
        off += parts[i].len;
    }
    *written = size;
    return TDM_OK;
}
