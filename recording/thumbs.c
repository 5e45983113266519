/* thumbs.c: contact sheet of a recording (tdm_rec_thumbs.h). */
#include "tdm_rec_thumbs.h"

#include <stdlib.h>
#include <string.h>

#include "tdm_assembler.h"
#include "tdm_convert.h"
#include "tdm_png.h"
#include "tdm_rtp.h"
#include "tdm_video_decoder.h"

typedef struct sheet {
    uint8_t *rgb[TDM_REC_THUMBS_MAX]; /* tiles, RGB24, tile_w x tile_h */
    size_t count;
    int tile_w, tile_h;
} sheet;

/* Nearest-sample downscale of pic into a tile, then to RGB. */
static tdm_status take_tile(sheet *s, const tdm_i420 *pic)
{
    if (s->count == TDM_REC_THUMBS_MAX)
        return TDM_OK;
    if (!s->tile_h) {
        s->tile_h = (int)((int64_t)s->tile_w * pic->height / pic->width);
        s->tile_h += s->tile_h & 1;
        if (s->tile_h < 2)
            s->tile_h = 2;
    }
    tdm_i420 t;
    if (tdm_i420_alloc(&t, s->tile_w, s->tile_h) != TDM_OK)
        return TDM_ERR_NOMEM;
    for (int y = 0; y < s->tile_h; y++) {
        int sy = (int)((int64_t)y * pic->height / s->tile_h);
        for (int x = 0; x < s->tile_w; x++)
            t.y[(size_t)y * t.stride_y + x] =
                pic->y[(size_t)sy * pic->stride_y + (size_t)((int64_t)x * pic->width / s->tile_w)];
    }
    int cw = (pic->width + 1) / 2, ch = (pic->height + 1) / 2, tcw = (s->tile_w + 1) / 2,
        tch = (s->tile_h + 1) / 2;
    for (int y = 0; y < tch; y++) {
        int sy = (int)((int64_t)y * ch / tch);
        for (int x = 0; x < tcw; x++) {
            int sx = (int)((int64_t)x * cw / tcw);
            t.u[(size_t)y * t.stride_u + x] = pic->u[(size_t)sy * pic->stride_u + sx];
            t.v[(size_t)y * t.stride_v + x] = pic->v[(size_t)sy * pic->stride_v + sx];
        }
    }
    uint8_t *rgb = malloc((size_t)s->tile_w * 3 * s->tile_h);
    tdm_status st =
        rgb ? tdm_convert_i420_to_rgb24(&t, rgb, s->tile_w * 3, TDM_MATRIX_BT601) : TDM_ERR_NOMEM;
    tdm_i420_free(&t);
    if (st != TDM_OK) {
        free(rgb);
        return st;
    }
    s->rgb[s->count++] = rgb;
    return TDM_OK;
}

static tdm_status write_sheet(const sheet *s, int columns, const char *path,
                              tdm_rec_thumbs_result *res, tdm_error *err)
{
    int cols = (int)s->count < columns ? (int)s->count : columns;
    int rows = (int)((s->count + (size_t)cols - 1) / (size_t)cols);
    const int gap = 4;
    int w = cols * s->tile_w + (cols + 1) * gap, h = rows * s->tile_h + (rows + 1) * gap;
    uint8_t *px = malloc((size_t)w * 4 * h);
    if (!px)
        return tdm_fail(err, TDM_ERR_NOMEM, "thumbs: out of memory");
    memset(px, 0x30, (size_t)w * 4 * h); /* dark grey between tiles */
    for (size_t i = 0; i < s->count; i++) {
        int x0 = gap + (int)(i % (size_t)cols) * (s->tile_w + gap);
        int y0 = gap + (int)(i / (size_t)cols) * (s->tile_h + gap);
        for (int y = 0; y < s->tile_h; y++)
            for (int x = 0; x < s->tile_w; x++) {
                const uint8_t *p = s->rgb[i] + (size_t)y * s->tile_w * 3 + (size_t)x * 3;
                uint8_t *q = px + (size_t)(y0 + y) * w * 4 + (size_t)(x0 + x) * 4;
                q[0] = p[2], q[1] = p[1], q[2] = p[0], q[3] = 255;
            }
    }
    tdm_bgra img = {.data = px, .width = w, .height = h, .stride = w * 4};
    tdm_status st = tdm_png_write_bgra(path, &img, err);
    free(px);
    res->sheet_width = w;
    res->sheet_height = h;
    return st == TDM_OK ? TDM_OK : TDM_ERR_IO;
}

tdm_status tdm_rec_thumbs_png(tdm_rec_reader *r, const char *out_path, uint64_t every_us,
                              int tile_width, int columns, tdm_rec_thumbs_result *res,
                              tdm_error *err)
{
    if (!r || !out_path || !res || every_us == 0 || tile_width < 16 || tile_width > 1920 ||
        columns < 1)
        return tdm_fail(err, TDM_ERR_INVALID, "thumbs: bad arguments");
    memset(res, 0, sizeof *res);
    const tdm_rec_header *h = tdm_rec_reader_header(r);
    const tdm_rec_stream *vs = NULL;
    for (size_t i = 0; i < h->nstreams && !vs; i++)
        if (h->streams[i].codec == TDM_CODEC_VP8 || h->streams[i].codec == TDM_CODEC_VP9)
            vs = &h->streams[i];
    if (!vs)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED, "thumbs: the recording has no video stream");
    tdm_status st = tdm_rec_reader_rewind(r, err);
    if (st != TDM_OK)
        return st;
    tdm_assembler_config acfg;
    tdm_assembler_config_default(&acfg, vs->codec);
    acfg.payload_type = vs->payload_type;
    acfg.ring_slots = 4096;
    tdm_video_decoder_config dcfg;
    tdm_video_decoder_config_init(&dcfg, vs->codec);
    tdm_assembler *a = NULL;
    tdm_video_decoder *dec = NULL;
    sheet *s = calloc(1, sizeof *s);
    if (!s || tdm_assembler_new(&acfg, &a) != TDM_OK ||
        tdm_video_decoder_new(&dcfg, &dec, err) != TDM_OK) {
        st = tdm_fail(err, TDM_ERR_NOMEM, "thumbs: cannot set up the decoder");
        goto out;
    }
    s->tile_w = tile_width & ~1;
    bool seen = false;
    uint64_t first_ts = 0, ref = 0, next_due = 0;
    tdm_rec_record rec;
    tdm_error e = {{0}};
    while (st == TDM_OK && (st = tdm_rec_reader_next(r, &rec, &e)) == TDM_OK) {
        if (rec.type != TDM_REC_RTP || rec.stream != vs->id)
            continue;
        if (tdm_assembler_poll_timeout(a) <= rec.time_us)
            tdm_assembler_handle_timeout(a, rec.time_us);
        tdm_assembler_push(a, rec.time_us, rec.data, rec.len, NULL);
        tdm_encoded_frame f;
        while (st == TDM_OK && tdm_assembler_poll_frame(a, &f, NULL) == TDM_OK) {
            uint64_t ts =
                tdm_rtp_ts_unwrap(seen ? ref : (1ull << 32) + f.rtp_timestamp, f.rtp_timestamp);
            if (!seen)
                first_ts = ts, seen = true;
            ref = ts;
            tdm_i420 pic;
            bool produced = false;
            if (tdm_video_decoder_decode(dec, f.data, f.len, &pic, &produced, NULL) != TDM_OK ||
                !produced)
                continue;
            uint64_t t_us = ts > first_ts ? (ts - first_ts) * 1000000u / vs->clock_hz : 0;
            if (t_us < next_due)
                continue;
            st = take_tile(s, &pic);
            while (next_due <= t_us)
                next_due += every_us;
        }
        tdm_assembler_event ev;
        while (tdm_assembler_poll_event(a, &ev) == TDM_OK) {
        }
        uint16_t seqs[64];
        size_t n;
        while (tdm_assembler_poll_nack(a, seqs, 64, &n) == TDM_OK) {
        }
    }
    if (st == TDM_ERR_FORMAT) {
        if (err)
            *err = e;
        goto out;
    }
    if (st != TDM_EOF && st != TDM_ERR_TRUNCATED)
        goto out;
    res->ending = st;
    if (s->count == 0) {
        st = tdm_fail(err, TDM_ERR_UNSUPPORTED, "thumbs: no picture could be decoded");
        goto out;
    }
    res->count = s->count;
    st = write_sheet(s, columns, out_path, res, err);
out:
    if (s)
        for (size_t i = 0; i < s->count; i++)
            free(s->rgb[i]);
    free(s);
    tdm_video_decoder_free(dec);
    tdm_assembler_free(a);
    return st;
}
