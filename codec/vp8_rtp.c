/* vp8_rtp.c: VP8 payload descriptor and payload header (RFC 7741 sections
 * 4.2 and 4.3), the packetizer and the depacketizer. */
#include "tdm_vp8_rtp.h"

#include <string.h>

static tdm_status drop(tdm_rtp_drop *why, tdm_rtp_drop reason)
{
    if (why)
        *why = reason;
    return TDM_ERR_FORMAT;
}

/* Parses the descriptor; returns false if it runs past len. */
static bool parse_descriptor(const uint8_t *buf, size_t len, tdm_vp8_descriptor *d)
{
    memset(d, 0, sizeof *d);
    size_t pos = 0;
    if (len < 1)
        return false;
    uint8_t b = buf[pos++];
    d->extended = b & 0x80;
    d->non_reference = b & 0x20;
    d->start = b & 0x10;
    d->partition = b & 0x07;
    if (d->extended) {
        if (pos >= len)
            return false;
        b = buf[pos++];
        d->has_picture_id = b & 0x80;
        d->has_tl0picidx = b & 0x40;
        d->has_tid = b & 0x20;
        d->has_keyidx = b & 0x10;
        if (d->has_picture_id) {
            if (pos >= len)
                return false;
            d->long_picture_id = buf[pos] & 0x80;
            if (d->long_picture_id) {
                if (len - pos < 2)
                    return false;
                d->picture_id = (uint16_t)((buf[pos] & 0x7f) << 8 | buf[pos + 1]);
                pos += 2;
            } else {
                d->picture_id = buf[pos] & 0x7f;
                pos += 1;
            }
        }
        if (d->has_tl0picidx) {
            if (pos >= len)
                return false;
            d->tl0picidx = buf[pos++];
        }
        /* One octet carries TID/Y and KEYIDX; it is there if either is. */
        if (d->has_tid || d->has_keyidx) {
            if (pos >= len)
                return false;
            b = buf[pos++];
            if (d->has_tid) {
                d->tid = b >> 6;
                d->layer_sync = b & 0x20;
            }
            if (d->has_keyidx)
                d->keyidx = b & 0x1f;
        }
    }
    d->size = pos;
    return true;
}

tdm_status tdm_vp8_depacketize(const uint8_t *buf, size_t len, tdm_vp8_payload *out,
                               tdm_rtp_drop *why)
{
    if (why)
        *why = TDM_RTP_DROP_NONE;
    if (!out || (!buf && len > 0))
        return TDM_ERR_INVALID;
    if (!parse_descriptor(buf, len, &out->desc))
        return drop(why, TDM_RTP_DROP_VP8_TRUNCATED);
    if (out->desc.size == len)
        return drop(why, TDM_RTP_DROP_VP8_EMPTY);
    out->data = buf + out->desc.size;
    out->len = len - out->desc.size;
    out->frame_start = out->desc.start && out->desc.partition == 0;
    /* The payload header (the VP8 frame tag) is only in the first packet:
     * bit 0 of its first byte is the inverse key frame flag. */
    out->keyframe = out->frame_start && (out->data[0] & 0x01) == 0;
    out->has_size = false;
    out->width = out->height = 0;
    if (out->keyframe) {
        const uint8_t *d = out->data;
        /* Frame tag (3 bytes), start code (3), then 16-bit little-endian
         * width and height whose top two bits are scaling. A packet cut
         * before the start code cannot be checked; one cut inside the
         * sizes cannot give them. */
        if (out->len >= 6 && !(d[3] == 0x9d && d[4] == 0x01 && d[5] == 0x2a))
            return drop(why, TDM_RTP_DROP_VP8_BAD_KEYFRAME);
        if (out->len >= 10) {
            out->width = (d[6] | d[7] << 8) & 0x3fff;
            out->height = (d[8] | d[9] << 8) & 0x3fff;
            if (out->width == 0 || out->height == 0)
                return drop(why, TDM_RTP_DROP_VP8_BAD_KEYFRAME);
            out->has_size = true;
        }
    }
    return TDM_OK;
}

static size_t descriptor_size(const tdm_vp8_descriptor *d)
{
    size_t n = 1;
    if (d->extended) {
        n++;
        if (d->has_picture_id)
            n += d->long_picture_id ? 2 : 1;
        if (d->has_tl0picidx)
            n++;
        if (d->has_tid || d->has_keyidx)
            n++;
    }
    return n;
}

tdm_status tdm_vp8_descriptor_write(const tdm_vp8_descriptor *d, uint8_t *buf, size_t cap,
                                    size_t *written)
{
    if (!d || !buf || !written)
        return TDM_ERR_INVALID;
    if (d->partition > 7 || d->tid > 3 || d->keyidx > 31 ||
        d->picture_id > (d->long_picture_id ? 0x7fff : 0x7f))
        return TDM_ERR_INVALID;
    size_t n = descriptor_size(d);
    if (cap < n)
        return TDM_ERR_RANGE;
    size_t pos = 0;
    buf[pos++] = (uint8_t)((d->extended ? 0x80 : 0) | (d->non_reference ? 0x20 : 0) |
                           (d->start ? 0x10 : 0) | d->partition);
    if (d->extended) {
        buf[pos++] = (uint8_t)((d->has_picture_id ? 0x80 : 0) | (d->has_tl0picidx ? 0x40 : 0) |
                               (d->has_tid ? 0x20 : 0) | (d->has_keyidx ? 0x10 : 0));
        if (d->has_picture_id) {
            if (d->long_picture_id) {
                buf[pos++] = (uint8_t)(0x80 | d->picture_id >> 8);
                buf[pos++] = (uint8_t)d->picture_id;
            } else {
                buf[pos++] = (uint8_t)d->picture_id;
            }
        }
        if (d->has_tl0picidx)
            buf[pos++] = d->tl0picidx;
        if (d->has_tid || d->has_keyidx)
            buf[pos++] = (uint8_t)((d->has_tid ? d->tid << 6 | (d->layer_sync ? 0x20 : 0) : 0) |
                                   (d->has_keyidx ? d->keyidx : 0));
    }
    *written = pos;
    return TDM_OK;
}

void tdm_vp8_packetizer_init(tdm_vp8_packetizer *p, uint16_t picture_id, uint8_t tl0picidx)
{
    memset(p, 0, sizeof *p);
    p->next_picture_id = picture_id & 0x7fff;
    p->next_tl0picidx = tl0picidx;
}

tdm_status tdm_vp8_packetizer_start(tdm_vp8_packetizer *p, const tdm_encoded_frame *frame,
                                    size_t max_payload)
{
    if (!p || !frame || frame->codec != TDM_CODEC_VP8 || !frame->data || frame->len == 0)
        return TDM_ERR_INVALID;
    if (max_payload < TDM_VP8_DESCRIPTOR_SIZE + 1)
        return TDM_ERR_RANGE;
    p->max_data = max_payload - TDM_VP8_DESCRIPTOR_SIZE;
    p->data = frame->data;
    p->remaining = frame->len;
    p->packets_left = tdm_rtp_split_count(frame->len, p->max_data, p->max_data);
    p->first = true;
    p->picture_id = p->next_picture_id;
    p->tl0picidx = p->next_tl0picidx;
    p->next_picture_id = (p->next_picture_id + 1) & 0x7fff;
    p->next_tl0picidx++;
    return TDM_OK;
}

tdm_status tdm_vp8_packetizer_next(tdm_vp8_packetizer *p, uint8_t *buf, size_t cap, size_t *len,
                                   bool *last)
{
    if (!p || !buf || !len || !last)
        return TDM_ERR_INVALID;
    if (p->packets_left == 0)
        return TDM_AGAIN;
    size_t take = tdm_rtp_split_next(p->remaining, p->packets_left, p->max_data);
    if (cap < TDM_VP8_DESCRIPTOR_SIZE + take)
        return TDM_ERR_RANGE;
    tdm_vp8_descriptor d = {
        .extended = true,
        .start = p->first,
        .has_picture_id = true,
        .long_picture_id = true,
        .picture_id = p->picture_id,
        .has_tl0picidx = true,
        .tl0picidx = p->tl0picidx,
        .has_tid = true,
    };
    size_t n = 0;
    tdm_vp8_descriptor_write(&d, buf, cap, &n);
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

size_t tdm_vp8_packetizer_remaining(const tdm_vp8_packetizer *p)
{
    return p->packets_left;
}
