/* Fuzz target: the export and contact-sheet paths (recording/export.c,
 * thumbs.c) over a recording whose records are outside bytes.
 *
 * A recording's records are sealed, so mutating a file only reaches the
 * reader (fuzz_recording_reader). But what the records hold is what a
 * publisher sent: the relay records every RTP packet as forwarded, so
 * export and thumbs parse attacker-chosen packets inside a file that
 * verifies. This target therefore builds a valid recording from the input
 * (tdm_rec_encoder, a fixed key) and runs tdm_rec_export_webm and
 * tdm_rec_thumbs_png on it. Whatever the packets, both must return a
 * status (never crash, hang or read out of bounds), a recording without END
 * must export as truncated, and every stream's counters must be sane.
 *
 * Input: byte 0 = flags (bit 0: the video stream is VP9, else VP8; bit 1:
 * an Opus stream too; bit 2: the recording ends with END, else it is cut),
 * then operations until the input runs out:
 *   op&3 == 0  RTP built here: dt_ms(1) seq_delta(1) ts_delta(2, BE)
 *              marker(1) len(2, BE) payload(len); on stream 2 (Opus)
 *              if op&4 and there is one, else on stream 1 (video)
 *   op&3 == 1  a raw RTP packet: stream(1) len(2, BE) bytes(len)
 *   op&3 == 2  DROP: lost(1)
 *   op&3 == 3  STREAM_START (op&8: STREAM_STOP) of stream 1 or (op&4) 2
 * Seeds (corpus/fuzz_recording_export) are real VP8 and VP9 frames
 * packetized as the share does, with Opus packets. */
#include <libavutil/log.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tdm_rec_encoder.h"
#include "tdm_rec_export.h"
#include "tdm_rec_reader.h"
#include "tdm_rec_thumbs.h"

static char dir[64], webm[96], png[96];

/* A directory of our own for the two outputs, made and removed around each
 * input, so nothing is left behind however the fuzzer exits. */
static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/fuzz-rec-export-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(webm, sizeof webm, "%s/out.webm", dir);
    snprintf(png, sizeof png, "%s/out.png", dir);
}

static void remove_dir(void)
{
    unlink(webm);
    unlink(png);
    rmdir(dir);
}

typedef struct file_buf {
    uint8_t *p;
    size_t n, cap;
} file_buf;

static void take(tdm_rec_encoder *e, file_buf *f)
{
    size_t n;
    const uint8_t *p = tdm_rec_encoder_pending(e, &n);
    if (f->n + n > f->cap) {
        f->cap = (f->n + n) * 2;
        f->p = realloc(f->p, f->cap);
        if (!f->p)
            abort();
    }
    memcpy(f->p + f->n, p, n);
    f->n += n;
    tdm_rec_encoder_consume(e, n);
}

static void add(tdm_rec_encoder *e, file_buf *f, const tdm_rec_record *r)
{
    if (tdm_rec_encoder_room(e) < TDM_REC_MAX_RECORD)
        take(e, f);
    if (tdm_rec_encoder_add(e, r) != TDM_OK)
        abort(); /* every record made here is valid */
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    av_log_set_level(AV_LOG_QUIET);
    uint8_t flags = data[0];
    bool vp9 = flags & 1, opus = flags & 2, finish = flags & 4;
    static const uint8_t rec_key[TDM_REC_KEY_LEN] = {7};
    tdm_rec_header h = {.start_unix_us = 1700000000000000ull};
    snprintf(h.session_id, sizeof h.session_id, "fuzz");
    static const uint8_t master[TDM_SIG_MASTER_KEY_LEN] = {1}, nonce[12] = {2};
    if (tdm_sig_key_wrap(master, rec_key, nonce, h.session_id, h.wrapped_key, NULL) != TDM_OK)
        abort();
    h.streams[h.nstreams++] = (tdm_rec_stream){.id = 1,
                                               .codec = vp9 ? TDM_CODEC_VP9 : TDM_CODEC_VP8,
                                               .payload_type = 96, .ssrc = 0x1111,
                                               .clock_hz = 90000};
    if (opus)
        h.streams[h.nstreams++] = (tdm_rec_stream){.id = 2, .codec = TDM_CODEC_OPUS,
                                                   .payload_type = 111, .ssrc = 0x2222,
                                                   .clock_hz = 48000};
    tdm_rec_encoder *e;
    if (tdm_rec_encoder_new(&h, rec_key, 0, 0, &e, NULL) != TDM_OK)
        abort();
    file_buf f = {0};
    uint64_t t = 0;
    uint16_t seq[3] = {0, 100, 200};
    uint32_t ts[3] = {0, 1000, 2000};
    size_t i = 1;
    while (i < size) {
        uint8_t op = data[i++];
        tdm_rec_record r = {.time_us = t};
        uint8_t pkt[TDM_REC_MAX_PACKET];
        switch (op & 3) {
        case 0: {
            if (i + 7 > size)
                goto done;
            uint8_t s = (op & 4) && opus ? 2 : 1;
            t += (uint64_t)data[i] * 1000;
            seq[s] = (uint16_t)(seq[s] + data[i + 1]);
            ts[s] += be16(data + i + 2);
            bool marker = data[i + 4] & 1;
            size_t len = be16(data + i + 5);
            i += 7;
            if (len > size - i)
                len = size - i;
            if (len > TDM_REC_MAX_PACKET - 12)
                len = TDM_REC_MAX_PACKET - 12;
            uint32_t ssrc = h.streams[s - 1].ssrc;
            pkt[0] = 0x80;
            pkt[1] = (uint8_t)((marker ? 0x80 : 0) | h.streams[s - 1].payload_type);
            pkt[2] = (uint8_t)(seq[s] >> 8), pkt[3] = (uint8_t)seq[s];
            pkt[4] = (uint8_t)(ts[s] >> 24), pkt[5] = (uint8_t)(ts[s] >> 16);
            pkt[6] = (uint8_t)(ts[s] >> 8), pkt[7] = (uint8_t)ts[s];
            pkt[8] = (uint8_t)(ssrc >> 24), pkt[9] = (uint8_t)(ssrc >> 16);
            pkt[10] = (uint8_t)(ssrc >> 8), pkt[11] = (uint8_t)ssrc;
            memcpy(pkt + 12, data + i, len);
            i += len;
            r.type = TDM_REC_RTP;
            r.stream = s;
            r.time_us = t;
            r.data = pkt;
            r.len = 12 + len;
            break;
        }
        case 1: {
            if (i + 3 > size)
                goto done;
            uint8_t s = data[i];
            size_t len = be16(data + i + 1);
            i += 3;
            if (len > size - i)
                len = size - i;
            if (len == 0 || len > TDM_REC_MAX_PACKET)
                continue;
            memcpy(pkt, data + i, len);
            i += len;
            r.type = TDM_REC_RTP;
            r.stream = s;
            r.data = pkt;
            r.len = len;
            break;
        }
        case 2:
            if (i + 1 > size)
                goto done;
            r.type = TDM_REC_DROP;
            r.a = data[i++];
            break;
        default:
            r.type = op & 8 ? TDM_REC_STREAM_STOP : TDM_REC_STREAM_START;
            r.stream = (op & 4) && opus ? 2 : 1;
            break;
        }
        add(e, &f, &r);
    }
done:
    if (finish) {
        if (tdm_rec_encoder_room(e) < TDM_REC_MAX_RECORD)
            take(e, &f);
        if (tdm_rec_encoder_finish(e, t) != TDM_OK)
            abort();
    }
    take(e, &f);
    tdm_rec_encoder_free(e);

    tdm_rec_reader *r;
    if (tdm_rec_reader_open_key(f.p, f.n, rec_key, &r, NULL) != TDM_OK)
        abort(); /* a file made by the encoder must open */
    make_dir();
    tdm_rec_export_result res;
    tdm_status st = tdm_rec_export_webm(r, f.n, webm, NULL, NULL, &res, NULL);
    if (st == TDM_OK) {
        if (res.ending != (finish ? TDM_EOF : TDM_ERR_TRUNCATED))
            abort();
        if (res.nstreams > TDM_REC_MAX_STREAMS)
            abort();
        for (size_t k = 0; k < res.nstreams; k++)
            if (res.streams[k].frames > res.streams[k].packets)
                abort(); /* a frame takes at least one packet */
    } else if (st != TDM_ERR_UNSUPPORTED && st != TDM_ERR_IO && st != TDM_ERR_FORMAT) {
        abort();
    }
    if (tdm_rec_reader_rewind(r, NULL) != TDM_OK)
        abort();
    tdm_rec_thumbs_result tr;
    st = tdm_rec_thumbs_png(r, png, 1000000, 64, 4, &tr, NULL);
    if (st == TDM_OK && (tr.count == 0 || tr.count > TDM_REC_THUMBS_MAX))
        abort();
    remove_dir();
    tdm_rec_reader_free(r);
    free(f.p);
    return 0;
}
