/* export.c: recording -> WebM remux (tdm_rec_export.h). */
#include "tdm_rec_export.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mem.h>

#include "tdm_assembler.h"
#include "tdm_opus_rtp.h"
#include "tdm_rtp.h"

/* One output track: a stream of the first segment, fed by the stream of
 * the same codec in each segment. */
typedef struct xstream {
    const tdm_rec_stream *desc;     /* the first segment's: the track */
    const tdm_rec_stream *seg_desc; /* the current segment's stream, or NULL */
    tdm_rec_export_stream *out;
    tdm_assembler *asm_;
    AVStream *av;
    bool stereo, seen;
    uint64_t first_ts;       /* unwrapped RTP timestamp of the segment's first packet */
    uint64_t last_ts;        /* for unwrapping */
    uint64_t frame_ref;      /* the last frame's unwrapped timestamp */
    uint64_t anchor_us;      /* its arrival, on the export's clock */
    int64_t last_pts_us;
    int seg_width, seg_height; /* pass 1: the current segment's first keyframe */
    uint64_t seg_frames;
} xstream;

typedef struct exporter {
    const tdm_rec_export_input *in;
    size_t nin, seg;          /* segments, and the one being read */
    uint64_t seg_offset_us;   /* its start on the export's clock */
    uint64_t seg_limit_us;    /* the next one's start (frames from there on are trimmed) */
    uint64_t bytes_before, bytes_total;
    tdm_rec_reader *r;        /* the current segment's */
    size_t nx;
    xstream xs[TDM_REC_MAX_STREAMS];
    AVFormatContext *oc;
    AVPacket *pkt;
    bool have_t0;
    uint64_t t0_us; /* time of the segment's first record */
    uint64_t duration_us;
    tdm_rec_export_result *res;
    tdm_error *err;
    tdm_status st;
} exporter;

static xstream *find(exporter *x, uint8_t id)
{
    for (size_t i = 0; i < x->nx; i++)
        if (x->xs[i].seg_desc && x->xs[i].seg_desc->id == id)
            return &x->xs[i];
    return NULL;
}

static uint64_t pts_of(const xstream *s, uint64_t ts)
{
    if (ts < s->first_ts) /* reordered ahead of the first packet seen */
        ts = s->first_ts;
    return s->anchor_us + (ts - s->first_ts) * 1000000u / s->seg_desc->clock_hz;
}

static void write_frame(exporter *x, xstream *s, const uint8_t *data, size_t len, uint64_t ts,
                        bool key)
{
    if (x->st != TDM_OK || !s->av)
        return;
    int64_t pts = (int64_t)pts_of(s, ts);
    /* The next segment has started: it carries the session from here. */
    if ((uint64_t)pts >= x->seg_limit_us) {
        x->res->segments[x->seg].frames_trimmed++;
        return;
    }
    /* The muxer wants strictly increasing times per stream, in WebM's 1 ms
     * units; a sender's clock may repeat one (a frame split by a keyframe
     * request), and two frames less than 1 ms apart would round equal. */
    if (s->out->frames && pts < s->last_pts_us + 1000)
        pts = s->last_pts_us + 1000;
    s->last_pts_us = pts;
    AVPacket *p = x->pkt;
    av_packet_unref(p);
    if (av_new_packet(p, (int)len) < 0) {
        x->st = tdm_fail(x->err, TDM_ERR_NOMEM, "export: out of memory");
        return;
    }
    memcpy(p->data, data, len);
    p->stream_index = s->av->index;
    p->pts = p->dts = pts;
    p->flags = key ? AV_PKT_FLAG_KEY : 0;
    av_packet_rescale_ts(p, (AVRational){1, 1000000}, s->av->time_base);
    int rc = av_interleaved_write_frame(x->oc, p);
    if (rc < 0) {
        char e[128];
        av_strerror(rc, e, sizeof e);
        x->st = tdm_fail(x->err, TDM_ERR_IO, "export: writing a frame failed: %s", e);
        return;
    }
    s->out->frames++;
    x->res->segments[x->seg].frames++;
    if ((uint64_t)pts > x->duration_us)
        x->duration_us = (uint64_t)pts;
}

static const char *codec_text(tdm_codec c)
{
    return c == TDM_CODEC_VP8 ? "VP8" : c == TDM_CODEC_VP9 ? "VP9" : c == TDM_CODEC_OPUS ? "Opus"
                                                                                        : "?";
}

/* Pass 1: the first keyframe of each segment gives its picture size; the
 * first segment's is the track's, and a later one must match. */
static void learn_size(exporter *x, xstream *s, int w, int h)
{
    if (s->seg_width)
        return;
    s->seg_width = w, s->seg_height = h;
    if (!s->out->width) {
        s->out->width = w;
        s->out->height = h;
    } else if (s->out->width != w || s->out->height != h) {
        x->st = tdm_fail(x->err, TDM_ERR_UNSUPPORTED,
                         "export: segment %zu's %s picture is %dx%d, the first segment's %dx%d: "
                         "a WebM track has one picture size; export the segments one by one",
                         x->seg + 1, codec_text(s->desc->codec), w, h, s->out->width,
                         s->out->height);
    }
}

/* Drains the assembler; in pass 1 only learns the picture size. */
static void poll_frames(exporter *x, xstream *s, int pass)
{
    tdm_encoded_frame f;
    tdm_assembler_frame_info info;
    while (tdm_assembler_poll_frame(s->asm_, &f, &info) == TDM_OK) {
        if (pass == 1 && f.keyframe && f.width > 0)
            learn_size(x, s, f.width, f.height);
        /* Unwrapped again on our own base: the assembler's restarts when
         * the sender's stream does. */
        uint64_t ts = tdm_rtp_ts_unwrap(s->frame_ref ? s->frame_ref : s->first_ts, f.rtp_timestamp);
        s->frame_ref = ts;
        if (pass == 2) {
            write_frame(x, s, f.data, f.len, ts, f.keyframe);
        } else {
            s->out->frames++; /* counted now, written in pass 2 */
            s->seg_frames++;
        }
    }
    tdm_assembler_event ev;
    while (tdm_assembler_poll_event(s->asm_, &ev) == TDM_OK) {
    }
    uint16_t seqs[64];
    size_t n;
    while (tdm_assembler_poll_nack(s->asm_, seqs, 64, &n) == TDM_OK) {
    }
}

static void on_rtp(exporter *x, xstream *s, const tdm_rec_record *rec, int pass)
{
    s->out->packets += pass == 2;
    tdm_rtp_packet rp;
    if (tdm_rtp_parse(rec->data, rec->len, &rp, NULL) != TDM_OK)
        return;
    uint64_t ts = s->seen ? tdm_rtp_ts_unwrap(s->last_ts, rp.header.timestamp)
                          : (uint64_t)rp.header.timestamp + (1ull << 32);
    if (!s->seen) {
        s->seen = true;
        s->first_ts = ts;
        s->anchor_us = x->seg_offset_us + (rec->time_us - x->t0_us);
    }
    if (ts > s->last_ts)
        s->last_ts = ts;
    if (s->desc->codec == TDM_CODEC_OPUS) {
        tdm_opus_payload op;
        if (rp.payload_len == 0 ||
            tdm_opus_depacketize(rp.payload, rp.payload_len, &op, NULL) != TDM_OK)
            return;
        if (pass == 1) {
            s->out->frames++; /* counted now, written in pass 2 */
            s->seg_frames++;
            s->stereo = s->stereo || op.stereo;
        } else if (ts >= s->first_ts) {
            write_frame(x, s, rp.payload, rp.payload_len, ts, true);
        }
        return;
    }
    if (tdm_assembler_poll_timeout(s->asm_) <= rec->time_us)
        tdm_assembler_handle_timeout(s->asm_, rec->time_us);
    tdm_assembler_push(s->asm_, rec->time_us, rec->data, rec->len, NULL);
    poll_frames(x, s, pass);
}

/* Pass 1 has what the WebM header needs from this segment once each of its
 * video streams has had a keyframe (its size) and each Opus stream a
 * packet (mono or stereo). */
static bool learned_enough(const exporter *x)
{
    for (size_t i = 0; i < x->nx; i++) {
        const xstream *s = &x->xs[i];
        if (!s->seg_desc)
            continue;
        if (s->desc->codec == TDM_CODEC_OPUS ? !s->seg_frames : !s->seg_width)
            return false;
    }
    return true;
}

/* Maps the segment's streams onto the tracks by codec and gives each video
 * track a fresh assembler for the segment's payload type: a new publisher
 * has a new SSRC, sequence and clock, and starts with a keyframe. */
static tdm_status begin_segment(exporter *x, size_t k)
{
    x->seg = k;
    x->r = x->in[k].reader;
    const tdm_rec_header *h0 = tdm_rec_reader_header(x->in[0].reader);
    const tdm_rec_header *h = tdm_rec_reader_header(x->r);
    x->seg_offset_us = h->start_unix_us - h0->start_unix_us;
    x->seg_limit_us = UINT64_MAX;
    if (k + 1 < x->nin)
        x->seg_limit_us = tdm_rec_reader_header(x->in[k + 1].reader)->start_unix_us -
                          h0->start_unix_us;
    x->res->segments[k].offset_us = x->seg_offset_us;
    x->have_t0 = false;
    for (size_t i = 0; i < x->nx; i++) {
        xstream *s = &x->xs[i];
        s->seg_desc = NULL;
        s->seen = false;
        s->last_ts = 0;
        s->frame_ref = 0;
        s->seg_width = s->seg_height = 0;
        s->seg_frames = 0;
    }
    for (size_t j = 0; j < h->nstreams; j++) {
        const tdm_rec_stream *d = &h->streams[j];
        xstream *s = NULL;
        for (size_t i = 0; i < x->nx && !s; i++)
            if (x->xs[i].desc->codec == d->codec && !x->xs[i].seg_desc)
                s = &x->xs[i];
        if (!s) {
            if (d->codec != TDM_CODEC_VP8 && d->codec != TDM_CODEC_VP9 &&
                d->codec != TDM_CODEC_OPUS)
                continue; /* left out, as in a single file */
            return tdm_fail(x->err, TDM_ERR_UNSUPPORTED,
                            "export: segment %zu has a %s stream the first segment has not: a "
                            "WebM file keeps the tracks it starts with; export the segments one "
                            "by one",
                            k + 1, codec_text(d->codec));
        }
        s->seg_desc = d;
        if (d->codec != TDM_CODEC_VP8 && d->codec != TDM_CODEC_VP9)
            continue;
        tdm_assembler_free(s->asm_);
        s->asm_ = NULL;
        tdm_assembler_config cfg;
        tdm_assembler_config_default(&cfg, d->codec);
        cfg.payload_type = d->payload_type;
        cfg.ring_slots = 4096; /* a large screen keyframe with room to spare */
        if (tdm_assembler_new(&cfg, &s->asm_) != TDM_OK)
            return tdm_fail(x->err, TDM_ERR_NOMEM, "export: out of memory");
    }
    return tdm_rec_reader_rewind(x->r, x->err);
}

/* One segment of a pass. Pass 1 learns picture sizes (stopping as soon as
 * it has them); pass 2 writes. */
static tdm_status run_segment(exporter *x, int pass, tdm_rec_export_progress progress, void *pctx)
{
    tdm_rec_record rec;
    tdm_error e = {{0}};
    uint64_t last_time = 0, n = 0;
    tdm_status st;
    while ((st = tdm_rec_reader_next(x->r, &rec, &e)) == TDM_OK && x->st == TDM_OK) {
        if (!x->have_t0) {
            x->have_t0 = true;
            x->t0_us = rec.time_us;
        }
        last_time = rec.time_us;
        xstream *s = rec.type == TDM_REC_RTP ? find(x, rec.stream) : NULL;
        if (s)
            on_rtp(x, s, &rec, pass);
        if (progress && (++n & 1023) == 0)
            progress(pctx, pass, x->bytes_before + tdm_rec_reader_offset(x->r), x->bytes_total);
        if (pass == 1 && s && (n & 63) == 0 && learned_enough(x))
            break; /* pass 2 verifies the rest: no need to decrypt it twice */
    }
    if (x->st != TDM_OK)
        return x->st;
    if (pass == 1 && st == TDM_OK)
        return TDM_OK;
    if (st == TDM_ERR_FORMAT) {
        *x->err = e;
        x->res->fault_segment = x->seg;
        return TDM_ERR_FORMAT;
    }
    if (pass == 2) {
        tdm_rec_export_segment *sr = &x->res->segments[x->seg];
        sr->ending = st;
        sr->ending_msg = e;
        sr->end_us = x->seg_offset_us + (x->have_t0 ? last_time - x->t0_us : 0);
        if (st == TDM_ERR_TRUNCATED || x->res->ending == 0) {
            x->res->ending = st;
            x->res->ending_msg = e;
        }
    }
    /* Let the assemblers give up what never came, and emit what is left. */
    for (size_t i = 0; i < x->nx; i++) {
        xstream *s = &x->xs[i];
        if (!s->asm_ || !s->seg_desc)
            continue;
        tdm_assembler_handle_timeout(s->asm_, last_time + 10000000u);
        poll_frames(x, s, pass);
        if (pass == 2)
            s->out->frames_lost += tdm_assembler_get_stats(s->asm_)->frames_lost;
    }
    return x->st;
}

static tdm_status run_pass(exporter *x, int pass, tdm_rec_export_progress progress, void *pctx)
{
    x->bytes_before = 0;
    for (size_t i = 0; i < x->nx; i++) {
        x->xs[i].last_pts_us = 0;
        if (pass == 2)
            x->xs[i].out->frames = 0;
    }
    for (size_t k = 0; k < x->nin; k++) {
        tdm_status st = begin_segment(x, k);
        if (st == TDM_OK)
            st = run_segment(x, pass, progress, pctx);
        if (st != TDM_OK)
            return st;
        x->bytes_before += x->in[k].file_size;
    }
    if (progress)
        progress(pctx, pass, x->bytes_total, x->bytes_total);
    return TDM_OK;
}

/* One chapter per segment and per gap between segments, so a player's
 * chapter list shows where the recording has nothing. */
static tdm_status add_chapter(exporter *x, uint64_t from_us, uint64_t to_us, const char *title)
{
    AVChapter *c = av_mallocz(sizeof *c);
    AVChapter **grown =
        c ? av_realloc_array(x->oc->chapters, x->oc->nb_chapters + 1, sizeof *grown) : NULL;
    if (!grown) {
        av_free(c);
        return tdm_fail(x->err, TDM_ERR_NOMEM, "export: out of memory");
    }
    x->oc->chapters = grown;
    c->id = x->oc->nb_chapters + 1;
    c->time_base = (AVRational){1, 1000000};
    c->start = (int64_t)from_us;
    c->end = (int64_t)(to_us > from_us ? to_us : from_us + 1);
    grown[x->oc->nb_chapters++] = c;
    if (av_dict_set(&c->metadata, "title", title, 0) < 0)
        return tdm_fail(x->err, TDM_ERR_NOMEM, "export: out of memory");
    return TDM_OK;
}

static tdm_status add_chapters(exporter *x)
{
    if (x->nin < 2)
        return TDM_OK; /* one file: nothing to tell apart */
    for (size_t k = 0; k < x->nin; k++) {
        const tdm_rec_export_segment *sg = &x->res->segments[k];
        uint64_t end = sg->end_us;
        if (k + 1 < x->nin && end > x->res->segments[k + 1].offset_us)
            end = x->res->segments[k + 1].offset_us; /* overlap: the next one carries it */
        char title[160];
        snprintf(title, sizeof title, "segment %zu%s%s", k + 1, x->in[k].label ? ": " : "",
                 x->in[k].label ? x->in[k].label : "");
        tdm_status st = add_chapter(x, sg->offset_us, end, title);
        if (st == TDM_OK && k + 1 < x->nin && x->res->segments[k + 1].offset_us > sg->end_us) {
            uint64_t to = x->res->segments[k + 1].offset_us;
            snprintf(title, sizeof title, "gap: nothing recorded for %.3f s",
                     (double)(to - sg->end_us) / 1e6);
            st = add_chapter(x, sg->end_us, to, title);
        }
        if (st != TDM_OK)
            return st;
    }
    return TDM_OK;
}

static tdm_status open_output(exporter *x, const char *path)
{
    int rc = avformat_alloc_output_context2(&x->oc, NULL, "webm", path);
    if (rc < 0 || !x->oc)
        return tdm_fail(x->err, TDM_ERR_UNAVAILABLE, "export: libavformat has no WebM muxer");
    size_t exported = 0;
    for (size_t i = 0; i < x->nx; i++) {
        xstream *s = &x->xs[i];
        bool video = s->desc->codec != TDM_CODEC_OPUS;
        if ((video && !s->out->width) || !s->out->frames)
            continue; /* no keyframe, or nothing at all: nothing to play */
        AVStream *st = avformat_new_stream(x->oc, NULL);
        if (!st)
            return tdm_fail(x->err, TDM_ERR_NOMEM, "export: out of memory");
        AVCodecParameters *par = st->codecpar;
        if (video) {
            par->codec_type = AVMEDIA_TYPE_VIDEO;
            par->codec_id = s->desc->codec == TDM_CODEC_VP8 ? AV_CODEC_ID_VP8 : AV_CODEC_ID_VP9;
            par->width = s->out->width;
            par->height = s->out->height;
        } else {
            par->codec_type = AVMEDIA_TYPE_AUDIO;
            par->codec_id = AV_CODEC_ID_OPUS;
            par->sample_rate = 48000;
            int ch = s->stereo ? 2 : 1;
            av_channel_layout_default(&par->ch_layout, ch);
            /* OpusHead (RFC 7845 5.1): WebM's CodecPrivate for Opus. */
            par->extradata = av_mallocz(19 + AV_INPUT_BUFFER_PADDING_SIZE);
            if (!par->extradata)
                return tdm_fail(x->err, TDM_ERR_NOMEM, "export: out of memory");
            uint8_t *h = par->extradata;
            memcpy(h, "OpusHead", 8);
            h[8] = 1, h[9] = (uint8_t)ch;
            h[10] = 0x38, h[11] = 0x01; /* pre-skip 312, little-endian */
            h[12] = 0x80, h[13] = 0xbb, h[14] = 0, h[15] = 0; /* 48000 */
            par->extradata_size = 19;
            par->initial_padding = 312;
        }
        st->time_base = (AVRational){1, 1000};
        s->av = st;
        s->out->exported = true;
        exported++;
    }
    if (!exported)
        return tdm_fail(x->err, TDM_ERR_UNSUPPORTED,
                        "export: nothing to export (no VP8/VP9 stream with a keyframe, no Opus)");
    if ((rc = avio_open(&x->oc->pb, path, AVIO_FLAG_WRITE)) < 0) {
        char e[128];
        av_strerror(rc, e, sizeof e);
        return tdm_fail(x->err, TDM_ERR_IO, "export: cannot create %s: %s", path, e);
    }
    if ((rc = avformat_write_header(x->oc, NULL)) < 0) {
        char e[128];
        av_strerror(rc, e, sizeof e);
        return tdm_fail(x->err, TDM_ERR_IO, "export: WebM header: %s", e);
    }
    return TDM_OK;
}

tdm_status tdm_rec_export_webm_segments(const tdm_rec_export_input *in, size_t n,
                                        const char *out_path, tdm_rec_export_progress progress,
                                        void *progress_ctx, tdm_rec_export_result *res,
                                        tdm_error *err)
{
    if (!in || !out_path || !res)
        return tdm_fail(err, TDM_ERR_INVALID, "export: NULL argument");
    tdm_error local = {{0}};
    if (!err)
        err = &local;
    memset(res, 0, sizeof *res);
    if (n == 0 || n > TDM_REC_EXPORT_MAX_SEGMENTS)
        return tdm_fail(err, TDM_ERR_INVALID, "export: %zu segments (1 to %d can be joined)", n,
                        TDM_REC_EXPORT_MAX_SEGMENTS);
    const tdm_rec_header *h = tdm_rec_reader_header(in[0].reader);
    exporter x = {.in = in, .nin = n, .res = res, .err = err, .st = TDM_OK};
    for (size_t k = 0; k < n; k++) {
        const tdm_rec_header *hk = tdm_rec_reader_header(in[k].reader);
        if (strcmp(hk->session_id, h->session_id) != 0)
            return tdm_fail(err, TDM_ERR_INVALID,
                            "export: segment %zu is of session %s, the first of %s", k + 1,
                            hk->session_id, h->session_id);
        if (k && hk->start_unix_us < tdm_rec_reader_header(in[k - 1].reader)->start_unix_us)
            return tdm_fail(err, TDM_ERR_INVALID, "export: segment %zu starts before segment %zu",
                            k + 1, k);
        x.bytes_total += in[k].file_size;
    }
    res->nsegments = n;
    tdm_status st = TDM_OK;
    for (size_t i = 0; i < h->nstreams; i++) {
        const tdm_rec_stream *d = &h->streams[i];
        tdm_rec_export_stream *o = &res->streams[res->nstreams++];
        o->id = d->id;
        o->codec = d->codec;
        xstream *s = &x.xs[x.nx++];
        s->desc = d;
        s->out = o;
    }
    if (!(x.pkt = av_packet_alloc()))
        st = tdm_fail(err, TDM_ERR_NOMEM, "export: out of memory");
    if (st == TDM_OK)
        st = run_pass(&x, 1, progress, progress_ctx);
    if (st == TDM_OK)
        st = open_output(&x, out_path);
    if (st == TDM_OK)
        st = run_pass(&x, 2, progress, progress_ctx);
    if (st == TDM_OK)
        st = add_chapters(&x); /* the muxer writes chapters added by the trailer */
    if (x.oc && x.oc->pb) {
        if (st == TDM_OK) {
            int rc = av_interleaved_write_frame(x.oc, NULL);
            if (rc >= 0)
                rc = av_write_trailer(x.oc);
            if (rc < 0)
                st = tdm_fail(err, TDM_ERR_IO, "export: finishing the WebM file failed");
        }
        avio_closep(&x.oc->pb);
        /* Written by us and not finished: a half file would play as if whole. */
        if (st != TDM_OK)
            unlink(out_path);
    }
    avformat_free_context(x.oc);
    av_packet_free(&x.pkt);
    for (size_t i = 0; i < x.nx; i++)
        tdm_assembler_free(x.xs[i].asm_);
    res->duration_us = x.duration_us;
    return st;
}

tdm_status tdm_rec_export_webm(tdm_rec_reader *r, size_t file_size, const char *out_path,
                               tdm_rec_export_progress progress, void *progress_ctx,
                               tdm_rec_export_result *res, tdm_error *err)
{
    if (!r)
        return tdm_fail(err, TDM_ERR_INVALID, "export: NULL argument");
    tdm_rec_export_input in = {.reader = r, .file_size = file_size};
    return tdm_rec_export_webm_segments(&in, 1, out_path, progress, progress_ctx, res, err);
}
