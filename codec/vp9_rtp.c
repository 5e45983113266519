/* vp9_rtp.c: VP9 payload descriptor and scalability structure (RFC 9628
 * section 4.2), the start of the VP9 uncompressed header (VP9 bitstream
 * specification section 6.2), the packetizer and the depacketizer. */
#include "tdm_vp9_rtp.h"

#include <string.h>

static tdm_status drop(tdm_rtp_drop *why, tdm_rtp_drop reason)
{
    if (why)
        *why = reason;
    return TDM_ERR_FORMAT;
}

/* MSB-first bit reader over the uncompressed header. */
typedef struct bits {
    const uint8_t *buf;
    size_t len, pos; /* pos in bits */
} bits;

static bool read_bits(bits *b, int n, unsigned *out)
{
    if (b->len * 8 - b->pos < (size_t)n)
        return false;
    unsigned v = 0;
    for (int i = 0; i < n; i++, b->pos++)
        v = v << 1 | ((b->buf[b->pos / 8] >> (7 - b->pos % 8)) & 1);
    *out = v;
    return true;
}

tdm_status tdm_vp9_parse_frame_header(const uint8_t *buf, size_t len, tdm_vp9_frame_header *out)
{
    if (!out || (!buf && len > 0))
        return TDM_ERR_INVALID;
    memset(out, 0, sizeof *out);
    bits b = {buf, len, 0};
    unsigned v, lo, hi;
    if (!read_bits(&b, 2, &v))
        return TDM_ERR_TRUNCATED;
    if (v != 2)
        return TDM_ERR_FORMAT;
    if (!read_bits(&b, 1, &lo) || !read_bits(&b, 1, &hi))
        return TDM_ERR_TRUNCATED;
    out->profile = (int)(hi << 1 | lo);
    if (out->profile == 3 && !read_bits(&b, 1, &v)) /* reserved_zero */
        return TDM_ERR_TRUNCATED;
    if (!read_bits(&b, 1, &v))
        return TDM_ERR_TRUNCATED;
    if (v) {
        /* show_existing_frame: a repeat of a decoded frame, no new data. */
        out->show_existing_frame = true;
        return TDM_OK;
    }
    unsigned frame_type, show, error_res;
    if (!read_bits(&b, 1, &frame_type) || !read_bits(&b, 1, &show) ||
        !read_bits(&b, 1, &error_res))
        return TDM_ERR_TRUNCATED;
    out->keyframe = frame_type == 0;
    out->show_frame = show;
    if (!out->keyframe)
        return TDM_OK;
    unsigned sync;
    if (!read_bits(&b, 24, &sync))
        return TDM_ERR_TRUNCATED;
    if (sync != 0x498342)
        return TDM_ERR_FORMAT;
    /* color_config(), then frame_size(). Running out here only means the
     * size is not known from this packet. */
    if (out->profile >= 2 && !read_bits(&b, 1, &v)) /* ten_or_twelve_bit */
        return TDM_OK;
    unsigned color_space;
    if (!read_bits(&b, 3, &color_space))
        return TDM_OK;
    bool sub_fields = out->profile == 1 || out->profile == 3;
    if (color_space != 7) { /* not CS_RGB */
        if (!read_bits(&b, 1, &v)) /* color_range */
            return TDM_OK;
        if (sub_fields && !read_bits(&b, 3, &v)) /* subsampling_x, _y, reserved_zero */
            return TDM_OK;
    } else if (sub_fields && !read_bits(&b, 1, &v)) { /* reserved_zero */
        return TDM_OK;
    }
    unsigned w, h;
    if (!read_bits(&b, 16, &w) || !read_bits(&b, 16, &h))
        return TDM_OK;
    out->width = (int)w + 1;
    out->height = (int)h + 1;
    out->has_size = true;
    return TDM_OK;
}

/* Parses the SS at buf; returns its size, or 0 if it runs past len. */
static size_t parse_ss(const uint8_t *buf, size_t len, tdm_vp9_ss *ss)
{
    size_t pos = 0;
    if (len < 1)
        return 0;
    uint8_t b = buf[pos++];
    ss->spatial_layers = (uint8_t)((b >> 5) + 1);
    ss->has_resolution = b & 0x10;
    ss->has_group = b & 0x08;
    if (ss->has_resolution) {
        for (int i = 0; i < ss->spatial_layers; i++) {
            if (len - pos < 4)
                return 0;
            ss->width[i] = (uint16_t)(buf[pos] << 8 | buf[pos + 1]);
            ss->height[i] = (uint16_t)(buf[pos + 2] << 8 | buf[pos + 3]);
            pos += 4;
        }
    }
    if (ss->has_group) {
        if (pos >= len)
            return 0;
        ss->group_size = buf[pos++];
        for (int i = 0; i < ss->group_size; i++) {
            if (pos >= len)
                return 0;
            b = buf[pos++];
            tdm_vp9_group_entry e = {
                .tid = b >> 5,
                .switch_up = b & 0x10,
                .ref_count = (b >> 2) & 0x03,
            };
            if (len - pos < e.ref_count)
                return 0;
            for (int r = 0; r < e.ref_count; r++)
                e.p_diff[r] = buf[pos++];
            if (i < TDM_VP9_MAX_GROUP)
                ss->group[i] = e;
        }
    }
    return pos;
}

tdm_status tdm_vp9_depacketize(const uint8_t *buf, size_t len, tdm_vp9_payload *out,
                               tdm_rtp_drop *why)
{
    if (why)
        *why = TDM_RTP_DROP_NONE;
    if (!out || (!buf && len > 0))
        return TDM_ERR_INVALID;
    memset(out, 0, sizeof *out);
    tdm_vp9_descriptor *d = &out->desc;
    size_t pos = 0;
    if (len < 1)
        return drop(why, TDM_RTP_DROP_VP9_TRUNCATED);
    uint8_t b = buf[pos++];
    d->has_picture_id = b & 0x80;
    d->inter_predicted = b & 0x40;
    d->has_layers = b & 0x20;
    d->flexible = b & 0x10;
    d->begin = b & 0x08;
    d->end = b & 0x04;
    d->has_ss = b & 0x02;
    d->not_upper_ref = b & 0x01;
    if (d->has_picture_id) {
        if (pos >= len)
            return drop(why, TDM_RTP_DROP_VP9_TRUNCATED);
        d->long_picture_id = buf[pos] & 0x80;
        if (d->long_picture_id) {
            if (len - pos < 2)
                return drop(why, TDM_RTP_DROP_VP9_TRUNCATED);
            d->picture_id = (uint16_t)((buf[pos] & 0x7f) << 8 | buf[pos + 1]);
            pos += 2;
        } else {
            d->picture_id = buf[pos++] & 0x7f;
        }
    }
    if (d->has_layers) {
        if (pos >= len)
            return drop(why, TDM_RTP_DROP_VP9_TRUNCATED);
        b = buf[pos++];
        d->tid = b >> 5;
        d->switch_up = b & 0x10;
        d->sid = (b >> 1) & 0x07;
        d->inter_layer_dep = b & 0x01;
        if (!d->flexible) {
            if (pos >= len)
                return drop(why, TDM_RTP_DROP_VP9_TRUNCATED);
            d->has_tl0picidx = true;
            d->tl0picidx = buf[pos++];
        }
    }
    if (d->flexible && d->inter_predicted) {
        /* P_DIFF octets, each with N=1 when another follows. */
        bool more = true;
        while (more) {
            if (pos >= len)
                return drop(why, TDM_RTP_DROP_VP9_TRUNCATED);
            b = buf[pos++];
            if (d->ref_count == TDM_VP9_MAX_REFS || (b >> 1) == 0)
                return drop(why, TDM_RTP_DROP_VP9_BAD_REFS);
            d->p_diff[d->ref_count++] = b >> 1;
            more = b & 0x01;
        }
    }
    if (d->has_ss) {
        size_t n = parse_ss(buf + pos, len - pos, &d->ss);
        if (n == 0)
            return drop(why, TDM_RTP_DROP_VP9_BAD_SS);
        pos += n;
    }
    d->size = pos;
    if (pos == len)
        return drop(why, TDM_RTP_DROP_VP9_EMPTY);
    out->data = buf + pos;
    out->len = len - pos;
    out->frame_start = d->begin;
    out->frame_end = d->end;

    if (!d->begin)
        return TDM_OK;
    bool base_layer = !d->has_layers || d->sid == 0;
    tdm_vp9_frame_header fh;
    tdm_status st = tdm_vp9_parse_frame_header(out->data, out->len, &fh);
    if (st == TDM_ERR_FORMAT)
        return drop(why, TDM_RTP_DROP_VP9_BAD_HEADER);
    if (st == TDM_OK)
        out->keyframe = !d->inter_predicted && base_layer && fh.keyframe;
    else /* the header is split across packets: trust the descriptor */
        out->keyframe = !d->inter_predicted && base_layer && d->has_ss;
    if (out->keyframe) {
        if (st == TDM_OK && fh.has_size) {
            out->width = fh.width;
            out->height = fh.height;
            out->has_size = true;
        } else if (d->has_ss && d->ss.has_resolution && d->sid < d->ss.spatial_layers) {
            out->width = d->ss.width[d->sid];
            out->height = d->ss.height[d->sid];
            out->has_size = out->width > 0 && out->height > 0;
        }
    }
    return TDM_OK;
}

static tdm_status check_descriptor(const tdm_vp9_descriptor *d)
{
    if (d->picture_id > (d->long_picture_id ? 0x7fff : 0x7f) || d->tid > 7 || d->sid > 7)
        return TDM_ERR_INVALID;
    if (d->flexible && d->inter_predicted) {
        if (d->ref_count < 1 || d->ref_count > TDM_VP9_MAX_REFS)
            return TDM_ERR_INVALID;
        for (int i = 0; i < d->ref_count; i++)
            if (d->p_diff[i] < 1 || d->p_diff[i] > 127)
                return TDM_ERR_INVALID;
    }
    if (d->has_ss) {
        const tdm_vp9_ss *ss = &d->ss;
        if (ss->spatial_layers < 1 || ss->spatial_layers > TDM_VP9_MAX_SPATIAL)
            return TDM_ERR_INVALID;
        if (ss->has_group) {
            if (ss->group_size > TDM_VP9_MAX_GROUP)
                return TDM_ERR_INVALID;
            for (int i = 0; i < ss->group_size; i++)
                if (ss->group[i].tid > 7 || ss->group[i].ref_count > TDM_VP9_MAX_REFS)
                    return TDM_ERR_INVALID;
        }
    }
    return TDM_OK;
}

static size_t descriptor_size(const tdm_vp9_descriptor *d)
{
    size_t n = 1;
    if (d->has_picture_id)
        n += d->long_picture_id ? 2 : 1;
    if (d->has_layers)
        n += d->flexible ? 1 : 2;
    if (d->flexible && d->inter_predicted)
        n += d->ref_count;
    if (d->has_ss) {
        const tdm_vp9_ss *ss = &d->ss;
        n += 1;
        if (ss->has_resolution)
            n += 4u * ss->spatial_layers;
        if (ss->has_group) {
            n += 1;
            for (int i = 0; i < ss->group_size; i++)
                n += 1u + ss->group[i].ref_count;
        }
    }
    return n;
}

tdm_status tdm_vp9_descriptor_write(const tdm_vp9_descriptor *d, uint8_t *buf, size_t cap,
                                    size_t *written)
{
    if (!d || !buf || !written)
        return TDM_ERR_INVALID;
    tdm_status st = check_descriptor(d);
    if (st != TDM_OK)
        return st;
    if (cap < descriptor_size(d))
        return TDM_ERR_RANGE;
    size_t pos = 0;
    buf[pos++] = (uint8_t)((d->has_picture_id ? 0x80 : 0) | (d->inter_predicted ? 0x40 : 0) |
                           (d->has_layers ? 0x20 : 0) | (d->flexible ? 0x10 : 0) |
                           (d->begin ? 0x08 : 0) | (d->end ? 0x04 : 0) | (d->has_ss ? 0x02 : 0) |
                           (d->not_upper_ref ? 0x01 : 0));
    if (d->has_picture_id) {
        if (d->long_picture_id) {
            buf[pos++] = (uint8_t)(0x80 | d->picture_id >> 8);
            buf[pos++] = (uint8_t)d->picture_id;
        } else {
            buf[pos++] = (uint8_t)d->picture_id;
        }
    }
    if (d->has_layers) {
        buf[pos++] = (uint8_t)(d->tid << 5 | (d->switch_up ? 0x10 : 0) | d->sid << 1 |
                               (d->inter_layer_dep ? 0x01 : 0));
        if (!d->flexible)
            buf[pos++] = d->tl0picidx;
    }
    if (d->flexible && d->inter_predicted)
        for (int i = 0; i < d->ref_count; i++)
            buf[pos++] = (uint8_t)(d->p_diff[i] << 1 | (i + 1 < d->ref_count ? 1 : 0));
    if (d->has_ss) {
        const tdm_vp9_ss *ss = &d->ss;
        buf[pos++] = (uint8_t)((ss->spatial_layers - 1) << 5 | (ss->has_resolution ? 0x10 : 0) |
                               (ss->has_group ? 0x08 : 0));
        if (ss->has_resolution) {
            for (int i = 0; i < ss->spatial_layers; i++) {
                buf[pos++] = (uint8_t)(ss->width[i] >> 8);
                buf[pos++] = (uint8_t)ss->width[i];
                buf[pos++] = (uint8_t)(ss->height[i] >> 8);
                buf[pos++] = (uint8_t)ss->height[i];
            }
        }
        if (ss->has_group) {
            buf[pos++] = ss->group_size;
            for (int i = 0; i < ss->group_size; i++) {
                const tdm_vp9_group_entry *e = &ss->group[i];
                buf[pos++] = (uint8_t)(e->tid << 5 | (e->switch_up ? 0x10 : 0) | e->ref_count << 2);
                for (int r = 0; r < e->ref_count; r++)
                    buf[pos++] = e->p_diff[r];
            }
        }
    }
    *written = pos;
    return TDM_OK;
}

void tdm_vp9_packetizer_init(tdm_vp9_packetizer *p, uint16_t picture_id, uint8_t tl0picidx,
                             bool ss_group)
{
    memset(p, 0, sizeof *p);
    p->next_picture_id = picture_id & 0x7fff;
    p->next_tl0picidx = tl0picidx;
    p->ss_group = ss_group;
}

/* The SS the packetizer sends on a keyframe: Y=1 only with a known size. */
static size_t ss_size(const tdm_vp9_packetizer *p)
{
    return 1 + (p->width > 0 ? 4 : 0) + (p->ss_group ? 3 : 0);
}

tdm_status tdm_vp9_packetizer_start(tdm_vp9_packetizer *p, const tdm_encoded_frame *frame,
                                    size_t max_payload)
{
    if (!p || !frame || frame->codec != TDM_CODEC_VP9 || !frame->data || frame->len == 0)
        return TDM_ERR_INVALID;
    int w = 0, h = 0;
    if (frame->keyframe) {
        if (frame->width > 0 && frame->height > 0 && frame->width <= 0xffff &&
            frame->height <= 0xffff) {
            w = frame->width;
            h = frame->height;
        } else {
            tdm_vp9_frame_header fh;
            if (tdm_vp9_parse_frame_header(frame->data, frame->len, &fh) == TDM_OK &&
                fh.has_size && fh.width <= 0xffff && fh.height <= 0xffff) {
                w = fh.width;
                h = fh.height;
            }
        }
    }
    tdm_vp9_packetizer probe = *p;
    probe.width = w;
    size_t first_overhead = TDM_VP9_DESCRIPTOR_SIZE + (frame->keyframe ? ss_size(&probe) : 0);
    if (max_payload < first_overhead + 1)
        return TDM_ERR_RANGE;
    p->keyframe = frame->keyframe;
    p->width = w;
    p->height = h;
    p->max_payload = max_payload;
    p->data = frame->data;
    p->remaining = frame->len;
    p->packets_left = tdm_rtp_split_count(frame->len, max_payload - first_overhead,
                                          max_payload - TDM_VP9_DESCRIPTOR_SIZE);
    p->first = true;
    p->picture_id = p->next_picture_id;
    p->tl0picidx = p->next_tl0picidx;
    p->next_picture_id = (p->next_picture_id + 1) & 0x7fff;
    p->next_tl0picidx++;
    return TDM_OK;
}

tdm_status tdm_vp9_packetizer_next(tdm_vp9_packetizer *p, uint8_t *buf, size_t cap, size_t *len,
                                   bool *last)
{
    if (!p || !buf || !len || !last)
        return TDM_ERR_INVALID;
    if (p->packets_left == 0)
        return TDM_AGAIN;
    tdm_vp9_descriptor d = {
        .has_picture_id = true,
        .inter_predicted = !p->keyframe,
        .has_layers = true,
        .begin = p->first,
        .end = p->packets_left == 1,
        .has_ss = p->first && p->keyframe,
        .long_picture_id = true,
        .picture_id = p->picture_id,
        .tl0picidx = p->tl0picidx,
    };
    if (d.has_ss) {
        d.ss.spatial_layers = 1;
        d.ss.has_resolution = p->width > 0;
        d.ss.width[0] = (uint16_t)p->width;
        d.ss.height[0] = (uint16_t)p->height;
        if (p->ss_group) {
            d.ss.has_group = true;
            d.ss.group_size = 1;
            d.ss.group[0] = (tdm_vp9_group_entry){.ref_count = 1, .p_diff = {1}};
        }
    }
    size_t overhead = descriptor_size(&d);
    size_t take = tdm_rtp_split_next(p->remaining, p->packets_left, p->max_payload - overhead);
    if (cap < overhead + take)
        return TDM_ERR_RANGE;
    size_t n = 0;
    tdm_vp9_descriptor_write(&d, buf, cap, &n);
    memcpy(buf + n, p->data, take);
    p->data += take;
    p->remaining -= take;
    p->packets_left--;
    p->first = false;
    *len = n + take;
    *last = p->packets_left == 0;
    if (*last)
        p->data = NULL;
    return TDM_OK;
}

size_t tdm_vp9_packetizer_remaining(const tdm_vp9_packetizer *p)
{
    return p->packets_left;
}
