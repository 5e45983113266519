/* opus_rtp.c: Opus packet validation (RFC 6716 section 3) for the RTP
 * payload format (RFC 7587). */
#include "tdm_opus_rtp.h"

#include <string.h>

static tdm_status drop(tdm_rtp_drop *why, tdm_rtp_drop reason)
{
    if (why)
        *why = reason;
    return TDM_ERR_FORMAT;
}

/* Decodes a frame length (one byte below 252, else two: 4 * second +
 * first); returns the bytes it took, 0 if they are not there. */
static size_t read_length(const uint8_t *p, size_t avail, size_t *size)
{
    if (avail < 1)
        return 0;
    if (p[0] < 252) {
        *size = p[0];
        return 1;
    }
    if (avail < 2)
        return 0;
    *size = 4u * p[1] + p[0];
    return 2;
}

static void describe_toc(uint8_t toc, tdm_opus_payload *out)
{
    static const int silk_samples[] = {480, 960, 1920, 2880};
    static const int celt_samples[] = {120, 240, 480, 960};
    static const int silk_bw[] = {4000, 6000, 8000};
    static const int celt_bw[] = {4000, 8000, 12000, 20000};
    int c = toc >> 3;
    out->config = (uint8_t)c;
    out->stereo = toc & 0x04;
    out->code = toc & 0x03;
    if (c < 12) {
        out->mode = TDM_OPUS_MODE_SILK;
        out->bandwidth_hz = silk_bw[c / 4];
        out->frame_samples = silk_samples[c % 4];
    } else if (c < 16) {
        out->mode = TDM_OPUS_MODE_HYBRID;
        out->bandwidth_hz = c < 14 ? 12000 : 20000;
        out->frame_samples = c % 2 ? 960 : 480;
    } else {
        out->mode = TDM_OPUS_MODE_CELT;
        out->bandwidth_hz = celt_bw[(c - 16) / 4];
        out->frame_samples = celt_samples[c % 4];
    }
}

tdm_status tdm_opus_depacketize(const uint8_t *buf, size_t len, tdm_opus_payload *out,
                                tdm_rtp_drop *why)
{
    if (why)
        *why = TDM_RTP_DROP_NONE;
    if (!out || (!buf && len > 0))
        return TDM_ERR_INVALID;
    memset(out, 0, sizeof *out);
    if (len == 0)
        return drop(why, TDM_RTP_DROP_OPUS_EMPTY); /* R1 */
    describe_toc(buf[0], out);
    out->data = buf;
    out->len = len;
    size_t rem = len - 1, pos = 1, size = 0, n;

    switch (out->code) {
    case 0:
        if (rem > TDM_OPUS_MAX_FRAME_BYTES) /* R2 */
            return drop(why, TDM_RTP_DROP_OPUS_BAD_LENGTH);
        out->frame_count = 1;
        out->frame_len[0] = (uint16_t)rem;
        break;
    case 1:
        if (rem % 2 != 0 || rem / 2 > TDM_OPUS_MAX_FRAME_BYTES) /* R3, R2 */
            return drop(why, TDM_RTP_DROP_OPUS_BAD_LENGTH);
        out->frame_count = 2;
        out->frame_len[0] = out->frame_len[1] = (uint16_t)(rem / 2);
        break;
    case 2:
        n = read_length(buf + pos, rem, &size);
        if (n == 0 || size > rem - n || rem - n - size > TDM_OPUS_MAX_FRAME_BYTES) /* R4, R2 */
            return drop(why, TDM_RTP_DROP_OPUS_BAD_LENGTH);
        out->vbr = true;
        out->frame_count = 2;
        out->frame_len[0] = (uint16_t)size;
        out->frame_len[1] = (uint16_t)(rem - n - size);
        break;
    default: {
        if (rem < 1)
            return drop(why, TDM_RTP_DROP_OPUS_BAD_FRAME_COUNT);
        uint8_t fc = buf[pos++];
        rem--;
        int count = fc & 0x3f;
        /* R5: at least one frame and at most 120 ms (5760 samples). */
        if (count == 0 || count * out->frame_samples > 5760)
            return drop(why, TDM_RTP_DROP_OPUS_BAD_FRAME_COUNT);
        out->frame_count = count;
        out->vbr = fc & 0x80;
        if (fc & 0x40) {
            /* Padding length bytes: 255 means 254 more and another byte. */
            uint8_t b;
            do {
                if (rem < 1)
                    return drop(why, TDM_RTP_DROP_OPUS_BAD_PADDING);
                b = buf[pos++];
                rem--;
                size_t add = b == 255 ? 254 : b;
                if (add > rem)
                    return drop(why, TDM_RTP_DROP_OPUS_BAD_PADDING);
                rem -= add; /* the padding sits at the end */
                out->padding += add;
            } while (b == 255);
        }
        if (out->vbr) { /* R7 */
            for (int i = 0; i < count - 1; i++) {
                n = read_length(buf + pos, rem, &size);
                if (n == 0 || size > rem - n)
                    return drop(why, TDM_RTP_DROP_OPUS_BAD_LENGTH);
                pos += n;
                rem -= n + size;
                out->frame_len[i] = (uint16_t)size;
            }
            if (rem > TDM_OPUS_MAX_FRAME_BYTES)
                return drop(why, TDM_RTP_DROP_OPUS_BAD_LENGTH);
            out->frame_len[count - 1] = (uint16_t)rem;
        } else { /* R6 */
            if (rem % (size_t)count != 0 || rem / (size_t)count > TDM_OPUS_MAX_FRAME_BYTES)
                return drop(why, TDM_RTP_DROP_OPUS_BAD_LENGTH);
            for (int i = 0; i < count; i++)
                out->frame_len[i] = (uint16_t)(rem / (size_t)count);
        }
        break;
    }
    }
    out->samples = out->frame_count * out->frame_samples;
    return TDM_OK;
}

tdm_status tdm_opus_packetize(const tdm_encoded_frame *frame, uint8_t *buf, size_t cap,
                              size_t *len, int *samples, tdm_rtp_drop *why)
{
    if (why)
        *why = TDM_RTP_DROP_NONE;
    if (!frame || frame->codec != TDM_CODEC_OPUS || !buf || !len ||
        (!frame->data && frame->len > 0))
        return TDM_ERR_INVALID;
    tdm_opus_payload info;
    tdm_status st = tdm_opus_depacketize(frame->data, frame->len, &info, why);
    if (st != TDM_OK)
        return st;
    if (cap < frame->len)
        return TDM_ERR_RANGE;
    memcpy(buf, frame->data, frame->len);
    *len = frame->len;
    if (samples)
        *samples = info.samples;
    return TDM_OK;
}
