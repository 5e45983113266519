/* replay_timeline.c: recording + audit trail on one time axis (tdm_replay_timeline.h). */
#include "tdm_replay_timeline.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "tdm_rtp.h"
#include "tdm_vp8_rtp.h"
#include "tdm_vp9_rtp.h"

/* A stream silent this long (with no sequence gap) is worth a marker: the
 * sharer paused or the network stalled. */
#define SILENCE_US 1000000u

typedef struct tl_event {
    int64_t unix_us;
    uint64_t order; /* ties keep reading order: the recording first, then the log's seq */
    json_t *obj;
} tl_event;

typedef struct tl_list {
    tl_event *ev;
    size_t n, cap;
    bool nomem;
} tl_list;

typedef struct stream_state {
    bool seen;
    uint16_t last_seq;
    uint64_t last_us;
} stream_state;

typedef struct rec_scan {
    const tdm_rec_header *h;
    uint64_t t0;
    bool any;
    uint64_t last_us;
    uint64_t keyframes, drops, dropped, gaps, packets;
    stream_state ss[TDM_REC_MAX_STREAMS];
} rec_scan;

/* order breaks ties between events at the same microsecond. */
static void tl_add_at(tl_list *l, int64_t unix_us, uint64_t order, json_t *obj)
{
    if (!obj) {
        l->nomem = true;
        return;
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        tl_event *g = realloc(l->ev, nc * sizeof *g);
        if (!g) {
            json_decref(obj);
            l->nomem = true;
            return;
        }
        l->ev = g;
        l->cap = nc;
    }
    l->ev[l->n++] = (tl_event){unix_us, order, obj};
}

/* Recording events in reading order; 0 is kept for the recording's start. */
static void tl_add(tl_list *l, int64_t unix_us, json_t *obj)
{
    tl_add_at(l, unix_us, l->n + 1, obj);
}

static const char *codec_name(tdm_codec c)
{
    return c == TDM_CODEC_VP8    ? "VP8"
           : c == TDM_CODEC_VP9  ? "VP9"
           : c == TDM_CODEC_OPUS ? "Opus"
                                 : "?";
}

static int stream_index(const tdm_rec_header *h, uint8_t id)
{
    for (size_t i = 0; i < h->nstreams; i++)
        if (h->streams[i].id == id)
            return (int)i;
    return -1;
}

static int64_t rec_unix_us(const rec_scan *s, uint64_t time_us)
{
    return (int64_t)s->h->start_unix_us + (int64_t)(time_us - s->t0);
}

static json_t *rec_event(const char *kind, json_t *details)
{
    return json_pack("{s:s,s:s,s:n,s:o}", "source", "recording", "kind", kind, "who", "details",
                     details ? details : json_object());
}

static bool rtp_keyframe(tdm_codec c, const tdm_rtp_packet *p, int *w, int *h)
{
    if (c == TDM_CODEC_VP8) {
        tdm_vp8_payload v;
        if (tdm_vp8_depacketize(p->payload, p->payload_len, &v, NULL) != TDM_OK || !v.keyframe)
            return false;
        *w = v.has_size ? v.width : 0, *h = v.has_size ? v.height : 0;
        return true;
    }
    if (c == TDM_CODEC_VP9) {
        tdm_vp9_payload v;
        if (tdm_vp9_depacketize(p->payload, p->payload_len, &v, NULL) != TDM_OK || !v.keyframe ||
            !v.frame_start)
            return false;
        *w = v.has_size ? v.width : 0, *h = v.has_size ? v.height : 0;
        return true;
    }
    return false;
}

/* Sequence gaps (packets the relay never got) and long silences, then
 * keyframes: what an auditor needs to know about where the picture is
 * reliable and where seeking lands. */
static void on_rtp(rec_scan *s, tl_list *l, const tdm_rec_record *rec)
{
    int i = stream_index(s->h, rec->stream);
    tdm_rtp_packet p;
    if (i < 0 || tdm_rtp_parse(rec->data, rec->len, &p, NULL) != TDM_OK)
        return;
    s->packets++;
    stream_state *st = &s->ss[i];
    uint16_t seq = p.header.seq;
    if (st->seen) {
        uint16_t missing = (uint16_t)(seq - st->last_seq - 1);
        if (missing > 0 && missing < 0x8000) {
            s->gaps++;
            tl_add(l, rec_unix_us(s, st->last_us),
                   rec_event("gap", json_pack("{s:i,s:i,s:f}", "stream", rec->stream,
                                              "missing_packets", missing, "until_offset_s",
                                              (double)(rec->time_us - s->t0) / 1e6)));
        } else if (rec->time_us > st->last_us && rec->time_us - st->last_us >= SILENCE_US) {
            tl_add(l, rec_unix_us(s, st->last_us),
                   rec_event("silence", json_pack("{s:i,s:f}", "stream", rec->stream, "seconds",
                                                  (double)(rec->time_us - st->last_us) / 1e6)));
        }
    }
    st->seen = true;
    st->last_seq = seq;
    st->last_us = rec->time_us;
    int w = 0, h = 0;
    if (rtp_keyframe(s->h->streams[i].codec, &p, &w, &h)) {
        s->keyframes++;
        tl_add(l, rec_unix_us(s, rec->time_us),
               rec_event("keyframe", json_pack("{s:i,s:i,s:i}", "stream", rec->stream, "width", w,
                                               "height", h)));
    }
}

static void on_record(rec_scan *s, tl_list *l, const tdm_rec_record *rec)
{
    if (!s->any)
        s->t0 = rec->time_us, s->any = true;
    s->last_us = rec->time_us;
    int64_t t = rec_unix_us(s, rec->time_us);
    int i = stream_index(s->h, rec->stream);
    const char *codec = i >= 0 ? codec_name(s->h->streams[i].codec) : "?";
    switch (rec->type) {
    case TDM_REC_RTP: on_rtp(s, l, rec); break;
    case TDM_REC_DROP:
        s->drops++;
        s->dropped += rec->a;
        tl_add(l, t,
               rec_event("drop", json_pack("{s:i,s:I,s:s}", "stream", rec->stream, "packets",
                                           (json_int_t)rec->a, "why", "the disk fell behind")));
        break;
    case TDM_REC_STREAM_START:
    case TDM_REC_STREAM_STOP:
        tl_add(l, t,
               rec_event(rec->type == TDM_REC_STREAM_START ? "stream_start" : "stream_stop",
                         json_pack("{s:i,s:s}", "stream", rec->stream, "codec", codec)));
        break;
    case TDM_REC_END:
        tl_add(l, t,
               rec_event("recording_end",
                         json_pack("{s:b,s:I,s:I}", "complete", 1, "packets", (json_int_t)rec->a,
                                   "dropped", (json_int_t)rec->b)));
        break;
    default: break; /* SYNC: bookkeeping, not an event */
    }
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void utc_text(int64_t unix_us, char out[40])
{
    time_t s = (time_t)(unix_us >= 0 ? unix_us / 1000000 : (unix_us - 999999) / 1000000);
    int64_t frac = unix_us - (int64_t)s * 1000000;
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        snprintf(out, 40, "?");
        return;
    }
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%03dZ", base, (int)(frac / 1000));
}

static json_t *streams_json(const tdm_rec_header *h)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < h->nstreams; i++)
        json_array_append_new(a, json_pack("{s:i,s:s,s:i,s:i}", "id", h->streams[i].id, "codec",
                                           codec_name(h->streams[i].codec), "payload_type",
                                           h->streams[i].payload_type, "clock_hz",
                                           (int)h->streams[i].clock_hz));
    return a;
}

/* Reads the whole recording into l; returns its "recording" object. */
static json_t *scan_recording(const char *path, size_t file_len, tdm_rec_reader *r, tl_list *l,
                              bool *complete)
{
    rec_scan s = {.h = tdm_rec_reader_header(r)};
    tdm_rec_record rec;
    tdm_error err = {{0}};
    tdm_status st;
    while ((st = tdm_rec_reader_next(r, &rec, &err)) == TDM_OK)
        on_record(&s, l, &rec);
    int64_t start = (int64_t)s.h->start_unix_us, end = s.any ? rec_unix_us(&s, s.last_us) : start;
    tl_add(l, start,
           rec_event("recording_start", json_pack("{s:o}", "streams", streams_json(s.h))));
    l->ev[l->n - 1].order = 0; /* before anything else at the same instant */
    *complete = st == TDM_EOF;
    const char *ends = st == TDM_EOF ? "complete" : st == TDM_ERR_TRUNCATED ? "truncated" : "fault";
    if (st != TDM_EOF)
        tl_add(l, end,
               rec_event(st == TDM_ERR_TRUNCATED ? "recording_cut" : "recording_fault",
                         json_pack("{s:s}", "problem", err.msg)));
    char h[2 * TDM_REC_HASH_LEN + 1], su[40], eu[40];
    hex(tdm_rec_reader_hash(r), TDM_REC_HASH_LEN, h);
    utc_text(start, su);
    utc_text(end, eu);
    return json_pack("{s:s,s:I,s:s,s:f,s:s,s:f,s:s,s:f,s:o,s:I,s:I,s:I,s:I,s:I,s:s,s:b,s:s?,s:s}",
                     "file", path, "size", (json_int_t)file_len, "session", s.h->session_id,
                     "start_unix_s", (double)start / 1e6, "start_utc", su, "end_unix_s",
                     (double)end / 1e6, "end_utc", eu, "duration_s", (double)(end - start) / 1e6,
                     "streams", streams_json(s.h), "packets", (json_int_t)s.packets, "keyframes",
                     (json_int_t)s.keyframes, "gaps", (json_int_t)s.gaps, "drop_markers",
                     (json_int_t)s.drops, "dropped_packets", (json_int_t)s.dropped, "ends", ends,
                     "verified", st == TDM_EOF || st == TDM_ERR_TRUNCATED, "problem",
                     st == TDM_EOF ? NULL : err.msg, "hash", h);
}

/* {"id","name","kind"} for a participant id; {"id"} for "system", a user
 * name or "anonymous". */
static json_t *who_json(const tdm_replay_audit *a, const char *id)
{
    const tdm_replay_participant *p = tdm_replay_audit_participant(a, id);
    if (!p)
        return json_pack("{s:s}", "id", id);
    return json_pack("{s:s,s:s,s:s}", "id", id, "name", p->name, "kind", p->kind);
}

static void add_audit_events(const tdm_replay_audit *a, tl_list *l)
{
    for (size_t i = 0; i < a->n; i++) {
        const tdm_replay_audit_entry *e = &a->entries[i];
        json_t *d = json_loads(e->detail, 0, NULL);
        if (!d)
            d = json_pack("{s:s}", "unparsed", e->detail);
        json_t *o = json_pack("{s:s,s:s,s:I,s:o,s:o,s:o}", "source", "audit", "kind", e->kind,
                              "seq", (json_int_t)e->seq, "who", who_json(a, e->actor), "subject",
                              *e->subject ? who_json(a, e->subject) : json_null(), "details", d);
        if (o && e->seq == a->bad_seq && !a->verified)
            json_object_set_new(o, "fault", json_string(a->problem));
        /* After recording events at the same instant, and in seq order. */
        tl_add_at(l, e->ts_ms * 1000, (uint64_t)1 << 40 | i, o);
    }
}

static json_t *participants_json(const tdm_replay_audit *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < a->nparts; i++) {
        const tdm_replay_participant *p = &a->parts[i];
        json_t *profiles = json_array();
        char buf[sizeof p->profiles];
        snprintf(buf, sizeof buf, "%s", p->profiles);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(profiles, json_string(t));
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:o,s:s?,s:f,s:o,s:s?}", "id", p->id, "name", p->name,
                           "kind", p->kind, "profiles", profiles, "invited_by",
                           *p->invited_by ? p->invited_by : NULL, "joined_unix_s",
                           (double)p->joined_ms / 1e3, "left_unix_s",
                           p->left_ms ? json_real((double)p->left_ms / 1e3) : json_null(),
                           "left_how", *p->left_how ? p->left_how : NULL));
    }
    return arr;
}

static int by_time(const void *x, const void *y)
{
    const tl_event *a = x, *b = y;
    if (a->unix_us != b->unix_us)
        return a->unix_us < b->unix_us ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Sorted, each stamped with its offset from the recording's start and its
 * Unix time; events before the start (a join before recording began) get
 * negative offsets. */
static json_t *events_json(tl_list *l, int64_t start_us)
{
    qsort(l->ev, l->n, sizeof *l->ev, by_time);
    json_t *arr = json_array();
    for (size_t i = 0; i < l->n; i++) {
        char u[40];
        utc_text(l->ev[i].unix_us, u);
        json_t *o = l->ev[i].obj;
        json_object_set_new(o, "offset_s", json_real((double)(l->ev[i].unix_us - start_us) / 1e6));
        json_object_set_new(o, "unix_s", json_real((double)l->ev[i].unix_us / 1e6));
        json_object_set_new(o, "utc", json_string(u));
        json_array_append_new(arr, o);
        l->ev[i].obj = NULL;
    }
    return arr;
}

static json_t *audit_json(const char *db_path, const tdm_replay_audit *a)
{
    return json_pack("{s:s,s:s,s:I,s:b,s:s?,s:o,s:o}", "db", db_path, "session", a->session_id,
                     "entries", (json_int_t)a->n, "verified", a->verified, "problem",
                     a->verified ? NULL : a->problem, "bad_seq",
                     a->verified ? json_null() : json_integer(a->bad_seq), "participants",
                     participants_json(a));
}

tdm_status tdm_replay_timeline_json(const char *path, size_t file_len, tdm_rec_reader *r,
                                    const char *db_path, const tdm_replay_audit *a, char **json,
                                    bool *complete, tdm_error *err)
{
    tl_list l = {0};
    json_t *rec = scan_recording(path, file_len, r, &l, complete);
    add_audit_events(a, &l);
    int64_t start = (int64_t)tdm_rec_reader_header(r)->start_unix_us;
    json_t *doc = rec && !l.nomem
                      ? json_pack("{s:o,s:o,s:o}", "recording", rec, "audit",
                                  audit_json(db_path, a), "events", events_json(&l, start))
                      : NULL;
    if (!doc && rec && l.nomem)
        json_decref(rec);
    for (size_t i = 0; i < l.n; i++)
        json_decref(l.ev[i].obj);
    free(l.ev);
    *json = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    return *json ? TDM_OK : tdm_fail(err, TDM_ERR_NOMEM, "timeline: out of memory");
}

static void set_segment(tl_list *l, size_t from, size_t k)
{
    for (size_t i = from; i < l->n; i++) {
        json_t *d = json_object_get(l->ev[i].obj, "details");
        if (d)
            json_object_set_new(d, "segment", json_integer((json_int_t)k + 1));
    }
}

static json_t *seam_json(const char *kind, size_t k, const tdm_rec_seam *m, int64_t start_us)
{
    return json_pack("{s:s,s:s,s:i,s:i,s:f,s:f,s:f,s:f,s:f}", "kind", kind, "what",
                     !strcmp(kind, "gap") ? "no recording" : "recorded twice", "after_segment",
                     (int)k + 1, "before_segment", (int)k + 2, "start_unix_s",
                     (double)m->from_unix_us / 1e6, "end_unix_s", (double)m->to_unix_us / 1e6,
                     "start_offset_s", (double)((int64_t)m->from_unix_us - start_us) / 1e6,
                     "end_offset_s", (double)((int64_t)m->to_unix_us - start_us) / 1e6,
                     "duration_s", (double)(m->to_unix_us - m->from_unix_us) / 1e6);
}

static json_int_t int_of(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

tdm_status tdm_replay_timeline_json_session(const tdm_replay_dir *d, size_t first, size_t count,
                                            const char *db_path, const tdm_replay_audit *a,
                                            char **json, bool *complete, tdm_error *err)
{
    *json = NULL;
    *complete = false;
    if (!d || count == 0 || first + count > d->nsegs)
        return tdm_fail(err, TDM_ERR_INVALID, "timeline: no segments");
    const tdm_rec_segment *segs = d->segs + first;
    int64_t start = (int64_t)segs[0].start_unix_us;
    tl_list l = {0};
    json_t *seg_arr = json_array(), *seams = json_array(), *files = json_array();
    json_int_t packets = 0, keyframes = 0, gaps = 0, drops = 0, dropped = 0;
    uint64_t recorded = 0, end = segs[0].end_unix_us;
    bool all_ok = true, last_complete = false;
    const char *problem = NULL;
    char problem_buf[sizeof(tdm_error) + 64];
    for (size_t k = 0; k < count; k++) {
        const tdm_rec_segment *sg = &segs[k];
        const tdm_replay_file *f = tdm_replay_seg_file(d, sg);
        size_t from = l.n;
        json_t *obj;
        bool seg_complete = false;
        if (f->reader) {
            tdm_error e = {{0}};
            if (tdm_rec_reader_rewind(f->reader, &e) != TDM_OK)
                l.nomem = true;
            obj = scan_recording(f->name, f->len, f->reader, &l, &seg_complete);
        } else {
            char su[40];
            utc_text((int64_t)sg->start_unix_us, su);
            obj = json_pack("{s:s,s:I,s:s,s:f,s:s,s:s,s:b,s:s}", "file", f->name, "size",
                            (json_int_t)f->len, "session", sg->session_id, "start_unix_s",
                            (double)sg->start_unix_us / 1e6, "start_utc", su, "ends",
                            "wrong key", "verified", 0, "problem", sg->ending_msg.msg);
            tl_add(&l, (int64_t)sg->start_unix_us,
                   rec_event("recording_fault", json_pack("{s:s}", "problem", sg->ending_msg.msg)));
        }
        set_segment(&l, from, k);
        if (!obj) {
            l.nomem = true;
            break;
        }
        json_object_set_new(obj, "segment", json_integer((json_int_t)k + 1));
        json_object_set_new(obj, "offset_s",
                            json_real((double)((int64_t)sg->start_unix_us - start) / 1e6));
        packets += int_of(obj, "packets");
        keyframes += int_of(obj, "keyframes");
        gaps += int_of(obj, "gaps");
        drops += int_of(obj, "drop_markers");
        dropped += int_of(obj, "dropped_packets");
        recorded += sg->end_unix_us - sg->start_unix_us;
        if (sg->end_unix_us > end)
            end = sg->end_unix_us;
        bool verified = sg->ending == TDM_EOF || sg->ending == TDM_ERR_TRUNCATED;
        if (!verified && all_ok) {
            snprintf(problem_buf, sizeof problem_buf, "segment %zu (%s): %s", k + 1, f->name,
                     sg->ending_msg.msg);
            problem = problem_buf;
        }
        all_ok = all_ok && verified;
        last_complete = seg_complete;
        json_array_append_new(files, json_string(f->name));
        json_array_append_new(seg_arr, obj);
        if (k + 1 < count) {
            tdm_rec_seam m = tdm_rec_segments_seam(sg, &segs[k + 1]);
            if (m.gap || m.overlap) {
                const char *kind = m.gap ? "gap" : "overlap";
                json_array_append_new(seams, seam_json(kind, k, &m, start));
                json_t *det = seam_json(kind, k, &m, start);
                json_object_del(det, "kind");
                tl_add(&l, (int64_t)m.from_unix_us, rec_event(kind, det));
            }
        }
    }
    add_audit_events(a, &l);
    *complete = all_ok && last_complete;
    const char *ends = !all_ok ? "fault" : last_complete ? "complete" : "truncated";
    char su[40], eu[40];
    utc_text(start, su);
    utc_text((int64_t)end, eu);
    const tdm_rec_header *h0 = NULL;
    const tdm_replay_file *f0 = tdm_replay_seg_file(d, &segs[0]);
    if (f0->reader)
        h0 = tdm_rec_reader_header(f0->reader);
    json_t *rec = json_pack(
        "{s:s,s:i,s:o,s:f,s:s,s:f,s:s,s:f,s:f,s:o,s:I,s:I,s:I,s:I,s:I,s:s,s:b,s:s?}", "session",
        segs[0].session_id, "segments", (int)count, "files", files, "start_unix_s",
        (double)start / 1e6, "start_utc", su, "end_unix_s", (double)end / 1e6, "end_utc", eu,
        "duration_s", (double)((int64_t)end - start) / 1e6, "recorded_s", (double)recorded / 1e6,
        "streams", h0 ? streams_json(h0) : json_array(), "packets", packets, "keyframes",
        keyframes, "gaps", gaps, "drop_markers", drops, "dropped_packets", dropped, "ends", ends,
        "verified", all_ok, "problem", problem);
    json_t *doc = rec && !l.nomem
                      ? json_pack("{s:o,s:o,s:o,s:o,s:o}", "recording", rec, "segments", seg_arr,
                                  "seams", seams, "audit", audit_json(db_path, a), "events",
                                  events_json(&l, start))
                      : NULL;
    if (!doc) {
        json_decref(rec);
        json_decref(seg_arr);
        json_decref(seams);
    }
    for (size_t i = 0; i < l.n; i++)
        json_decref(l.ev[i].obj);
    free(l.ev);
    *json = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    return *json ? TDM_OK : tdm_fail(err, TDM_ERR_NOMEM, "timeline: out of memory");
}
