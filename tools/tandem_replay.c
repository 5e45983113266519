/* tandem-replay: the auditor's tool for recordings (recording/, issue 6).
 *
 * Owns the command line and the files: it maps a recording, hands the
 * bytes to tdm_rec_reader (verification) and tdm_rec_export (WebM), and
 * prints what they found. Exit status: 0 success, 1 the recording is not
 * intact or cannot be read (wrong key, truncated, not a recording, a
 * fault), 2 bad usage. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tdm_rec_export.h"
#include "tdm_rec_reader.h"
#include "tdm_rec_thumbs.h"
#include "tdm_replay_audit.h"
#include "tdm_replay_segments.h"
#include "tdm_replay_timeline.h"

static const char usage_text[] =
    "usage: tandem-replay COMMAND FILE|SESSION|DIR --key-file KEY [options]\n"
    "\n"
    "A session's recording can be several files (segments): its relay died or\n"
    "drained and the session went on on another relay, the relay restarted, or\n"
    "the customer published again. Where a command takes FILE it also takes a\n"
    "session id, SESSION or DIR/SESSION (or SESSION with --dir DIR): all the\n"
    "segments of that session in DIR (default: the current directory), ordered\n"
    "by the start time in their headers. Between two segments lies a gap\n"
    "(nothing recorded) or an overlap.\n"
    "\n"
    "Commands:\n"
    "  list DIR       every recording in DIR (files that are not recordings are\n"
    "                 skipped): session, start, duration, size, and whether it\n"
    "                 verifies (complete, truncated, FAULT, wrong key), then one\n"
    "                 line per session with its segment count and gaps; exit 0\n"
    "                 when every session is intact and complete (a segment cut\n"
    "                 short before another one of its session is where a relay\n"
    "                 died: allowed), 1 otherwise\n"
    "  info FILE [--db SIGNAL_DB]\n"
    "                 streams, duration, size, packets, drops, and where the file ends;\n"
    "                 with --db also the participants from the session's audit log\n"
    "                 (identity, kind, profiles, invited by, joined and left) and\n"
    "                 whether that log verifies\n"
    "  verify FILE    check every record's seal and the hash chain; exit 0 if the\n"
    "                 recording is intact and complete, 1 naming the first fault\n"
    "                 (record index and byte offset) or saying where a cut file ends.\n"
    "                 For a session: one line per segment, the gaps, and the first\n"
    "                 fault with its segment; segments before the last may be cut\n"
    "  export FILE --out OUT.webm\n"
    "                 remux VP8/VP9 video and Opus audio to WebM without re-encoding\n"
    "                 (seekable); a cut file exports up to its end, a file that fails\n"
    "                 verification is refused. Progress is shown on a terminal.\n"
    "                 A session's segments join into one file: a gap stays as real\n"
    "                 time (the player holds the last picture); each segment and\n"
    "                 each gap is a WebM chapter (\"gap: nothing recorded ...\");\n"
    "                 a later segment of another codec or picture size is refused\n"
    "  thumbs FILE --out SHEET.png [--every SECONDS] [--width PX] [--columns N]\n"
    "                 a contact sheet: the first video stream's picture every\n"
    "                 SECONDS (default 10), each PX wide (default 240), N to a row\n"
    "                 (default 6); for a session of several segments, one sheet\n"
    "                 per segment: SHEET-1.png, SHEET-2.png, ...\n"
    "  timeline FILE --db SIGNAL_DB\n"
    "                 the recording's time axis (start, end, stream start/stop,\n"
    "                 keyframes, gaps, drop markers) merged with the session's audit\n"
    "                 events (joins, leaves, profiles, input counts and denials,\n"
    "                 invites, ownership, end), in time order, as JSON on stdout.\n"
    "                 The database is opened read-only; the session's audit chain is\n"
    "                 verified and \"audit\".\"verified\" says so (a failing entry\n"
    "                 is named and marked). The JSON is written in any case; exit 0\n"
    "                 when the recording is complete and intact and the audit log\n"
    "                 verifies, 1 otherwise. For a session: one time axis from its\n"
    "                 first segment's start, a \"gap\" event per gap (details.what\n"
    "                 \"no recording\", start and end), \"segments\" and \"seams\"\n"
    "\n"
    "Options:\n"
    "  --key-file PATH     the recording master key (32 raw bytes or 64 hex digits),\n"
    "                      the one tandem-signal wraps session keys with; required\n"
    "  --allow-truncated   verify: a file cut short (crash, kill -9) whose every\n"
    "                      record verifies exits 0 instead of 1 (for a session:\n"
    "                      its last segment)\n"
    "  --out PATH          export, thumbs: the file to write (overwritten)\n"
    "  --db PATH           info, timeline: tandem-signal's SQLite database,\n"
    "                      or its Redis URL (redis://HOST[:PORT][/DB])\n"
    "  --dir DIR           where a SESSION's recordings are (default: the\n"
    "                      directory part of DIR/SESSION, else .)\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit status: 0 success, 1 the recording is not intact or cannot be read,\n"
    "2 bad usage.\n";

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "tandem-replay: %s%s\nTry 'tandem-replay --help'.\n", msg, arg ? arg : "");
    return 2;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 32;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 32 raw bytes or 64 hex digits (trailing whitespace allowed), as
 * tandem-signal reads its recording_master_key_file. */
static int read_key(const char *path, uint8_t key[32])
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "tandem-replay: cannot read key file %s: %s\n", path, strerror(errno));
        return -1;
    }
    uint8_t raw[130];
    size_t n = fread(raw, 1, sizeof raw, f);
    fclose(f);
    if (n == 32) {
        memcpy(key, raw, 32);
        return 0;
    }
    while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r' || raw[n - 1] == ' '))
        n--;
    if (n == 64) {
        for (size_t i = 0; i < 32; i++) {
            int hi = hexval(raw[2 * i]), lo = hexval(raw[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                fprintf(stderr, "tandem-replay: key file %s: bad hex\n", path);
                return -1;
            }
            key[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
    }
    fprintf(stderr, "tandem-replay: key file %s must hold 32 raw bytes or 64 hex digits\n", path);
    return -1;
}

typedef struct mapped {
    const uint8_t *buf;
    size_t len;
} mapped;

static int map_file(const char *path, mapped *m)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        fprintf(stderr, "tandem-replay: cannot open %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        fprintf(stderr, "tandem-replay: %s is not a regular file\n", path);
        close(fd);
        return -1;
    }
    m->len = (size_t)sb.st_size;
    m->buf = (const uint8_t *)"";
    if (m->len) {
        void *p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            fprintf(stderr, "tandem-replay: cannot map %s: %s\n", path, strerror(errno));
            close(fd);
            return -1;
        }
        m->buf = p;
    }
    close(fd);
    return 0;
}

static void unmap_file(mapped *m)
{
    if (m->len)
        munmap((void *)m->buf, m->len);
}

static int open_reader(const char *path, const mapped *m, const uint8_t key[32], tdm_rec_reader **r)
{
    tdm_error err = {{0}};
    tdm_status st = tdm_rec_reader_open(m->buf, m->len, key, r, &err);
    if (st == TDM_OK)
        return 0;
    fprintf(stderr, "tandem-replay: %s: %s\n", path, err.msg);
    return -1;
}

static const char *codec_name(tdm_codec c)
{
    return c == TDM_CODEC_VP8    ? "VP8"
           : c == TDM_CODEC_VP9  ? "VP9"
           : c == TDM_CODEC_OPUS ? "Opus"
                                 : "?";
}

static void print_hash(const char *label, const uint8_t *h)
{
    printf("%s", label);
    for (int i = 0; i < TDM_REC_HASH_LEN; i++)
        printf("%02x", h[i]);
    printf("\n");
}

typedef struct stream_info {
    uint64_t packets, bytes, first_us, last_us;
    bool seen;
} stream_info;

static int cmd_info_recording(const char *path, const mapped *m, tdm_rec_reader *r);
static void print_participants(const tdm_replay_audit *a);
static int load_audit(const char *db, tdm_rec_reader *r, tdm_replay_audit *a);

/* With db, the participants come after the recording's own lines; a db
 * that cannot be read (or lacks the session), or an audit log that does
 * not verify, makes info exit 1 as an incomplete recording does. */
static int cmd_info(const char *path, const mapped *m, tdm_rec_reader *r, const char *db)
{
    int rc = cmd_info_recording(path, m, r);
    if (!db)
        return rc;
    tdm_replay_audit a;
    if (load_audit(db, r, &a) != 0)
        return 1;
    print_participants(&a);
    bool verified = a.verified;
    tdm_replay_audit_free(&a);
    return verified ? rc : 1;
}

static int cmd_info_recording(const char *path, const mapped *m, tdm_rec_reader *r)
{
    const tdm_rec_header *h = tdm_rec_reader_header(r);
    stream_info si[TDM_REC_MAX_STREAMS] = {0};
    uint64_t drops = 0, drop_marks = 0, syncs = 0, t0 = 0, t1 = 0, other = 0;
    bool any = false;
    tdm_rec_record rec;
    tdm_error err = {{0}};
    tdm_status st;
    while ((st = tdm_rec_reader_next(r, &rec, &err)) == TDM_OK) {
        if (!any)
            t0 = rec.time_us, any = true;
        t1 = rec.time_us;
        if (rec.type == TDM_REC_RTP) {
            size_t i = 0;
            while (i < h->nstreams && h->streams[i].id != rec.stream)
                i++;
            if (i == h->nstreams) {
                other++;
                continue;
            }
            if (!si[i].seen)
                si[i].first_us = rec.time_us, si[i].seen = true;
            si[i].last_us = rec.time_us;
            si[i].packets++;
            si[i].bytes += rec.len;
        } else if (rec.type == TDM_REC_DROP) {
            drops += rec.a;
            drop_marks++;
        } else if (rec.type == TDM_REC_SYNC) {
            syncs++;
        }
    }
    time_t start = (time_t)(h->start_unix_us / 1000000u);
    struct tm tm;
    char when[32] = "?";
    if (gmtime_r(&start, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("file: %s\n", path);
    printf("size: %zu bytes\n", m->len);
    printf("session: %s\n", h->session_id);
    printf("started: %s\n", when);
    printf("duration: %.3f s\n", (double)(t1 - t0) / 1e6);
    printf("streams: %zu\n", h->nstreams);
    for (size_t i = 0; i < h->nstreams; i++) {
        const tdm_rec_stream *s = &h->streams[i];
        printf("  stream %u: %s, payload type %u, ssrc 0x%08x, %u Hz: %" PRIu64 " packets, %" PRIu64
               " bytes",
               s->id, codec_name(s->codec), s->payload_type, s->ssrc, s->clock_hz, si[i].packets,
               si[i].bytes);
        if (si[i].seen)
            printf(", %.3f s to %.3f s", (double)(si[i].first_us - t0) / 1e6,
                   (double)(si[i].last_us - t0) / 1e6);
        printf("\n");
    }
    printf("records: %" PRIu64 "\n", tdm_rec_reader_records(r));
    printf("dropped: %" PRIu64 " packets (%" PRIu64 " markers: the disk fell behind)\n", drops,
           drop_marks);
    if (other)
        printf("packets of undeclared streams: %" PRIu64 "\n", other);
    printf("sync points: %" PRIu64 "\n", syncs);
    if (st == TDM_EOF) {
        printf("ends: complete at byte %" PRIu64 " (end record verified)\n",
               tdm_rec_reader_offset(r));
        print_hash("hash: ", tdm_rec_reader_hash(r));
        return 0;
    }
    if (st == TDM_ERR_TRUNCATED) {
        printf("ends: %s\n", err.msg);
        print_hash("hash of the verified part: ", tdm_rec_reader_hash(r));
        return 1;
    }
    printf("ends: FAULT: %s\n", err.msg);
    fprintf(stderr, "tandem-replay: %s: %s\n", path, err.msg);
    return 1;
}

static int cmd_verify(const char *path, tdm_rec_reader *r, bool allow_truncated)
{
    tdm_rec_record rec;
    tdm_error err = {{0}};
    tdm_status st;
    while ((st = tdm_rec_reader_next(r, &rec, &err)) == TDM_OK) {
    }
    if (st == TDM_EOF) {
        printf("%s: OK: %" PRIu64 " records verified, complete (end record at byte %" PRIu64 ")\n",
               path, tdm_rec_reader_records(r), tdm_rec_reader_last_offset(r));
        print_hash("hash: ", tdm_rec_reader_hash(r));
        return 0;
    }
    if (st == TDM_ERR_TRUNCATED) {
        printf("%s: %s: %s\n", path, allow_truncated ? "OK (truncated)" : "INCOMPLETE", err.msg);
        print_hash("hash of the verified part: ", tdm_rec_reader_hash(r));
        return allow_truncated ? 0 : 1;
    }
    printf("%s: FAILED: %s\n", path, err.msg);
    return 1;
}

typedef struct progress_state {
    bool tty;
    int last_pct;
} progress_state;

static void on_progress(void *ctx, int pass, uint64_t done, uint64_t total)
{
    progress_state *p = ctx;
    if (!p->tty || total == 0)
        return;
    /* Pass 1 (finding sizes) is the first tenth of the bar. */
    int pct = pass == 1 ? (int)(10 * done / total) : 10 + (int)(90 * done / total);
    if (pct == p->last_pct)
        return;
    p->last_pct = pct;
    char bar[41];
    int fill = pct * 40 / 100;
    for (int i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[40] = 0;
    fprintf(stdout, "\rexport [%s] %3d%%", bar, pct);
    fflush(stdout);
}

static int cmd_export(const char *path, const mapped *m, tdm_rec_reader *r, const char *out)
{
    progress_state ps = {.tty = isatty(STDOUT_FILENO) == 1, .last_pct = -1};
    tdm_rec_export_result res;
    tdm_error err = {{0}};
    tdm_status st = tdm_rec_export_webm(r, m->len, out, on_progress, &ps, &res, &err);
    if (ps.tty)
        printf("\n");
    if (st != TDM_OK) {
        if (st == TDM_ERR_FORMAT)
            fprintf(stderr, "tandem-replay: %s fails verification, not exported: %s\n", path,
                    err.msg);
        else
            fprintf(stderr, "tandem-replay: %s: %s\n", path, err.msg);
        return 1;
    }
    printf("exported %s to %s: %.3f s\n", path, out, (double)res.duration_us / 1e6);
    for (size_t i = 0; i < res.nstreams; i++) {
        const tdm_rec_export_stream *s = &res.streams[i];
        printf("  stream %u: %s, %s", s->id, codec_name(s->codec),
               s->exported ? "exported" : "left out");
        if (s->width)
            printf(", %dx%d", s->width, s->height);
        printf(", %" PRIu64 " packets -> %" PRIu64 " frames", s->packets, s->frames);
        if (s->frames_lost)
            printf(" (%" PRIu64 " frames could not be completed)", s->frames_lost);
        printf("\n");
    }
    if (res.ending == TDM_ERR_TRUNCATED)
        printf("note: the recording is cut short; exported up to its end (%s)\n",
               res.ending_msg.msg);
    return 0;
}

static void utc_of(uint64_t unix_us, char when[32])
{
    time_t t = (time_t)(unix_us / 1000000u);
    struct tm tm;
    snprintf(when, 32, "?");
    if (gmtime_r(&t, &tm))
        strftime(when, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* With milliseconds: seams are often shorter than a second. */
static void utc_ms_of(uint64_t unix_us, char when[40])
{
    time_t t = (time_t)(unix_us / 1000000u);
    struct tm tm;
    char base[32] = "?";
    if (gmtime_r(&t, &tm))
        strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when, 40, "%s.%03uZ", base, (unsigned)(unix_us / 1000u % 1000u));
}

static const char *seg_state(const tdm_rec_segment *g)
{
    return g->ending == TDM_EOF             ? "complete"
           : g->ending == TDM_ERR_TRUNCATED ? "TRUNCATED"
           : g->ending == TDM_ERR_INVALID   ? "WRONG KEY"
                                            : "FAULT";
}

/* A session reads whole when every segment verifies, and only the last
 * must have its end record: one cut before another segment is where its
 * relay died and the session moved on (the gap after it says so). */
static bool session_ok(const tdm_rec_segment *g, size_t n, bool allow_truncated)
{
    for (size_t k = 0; k < n; k++) {
        if (g[k].ending == TDM_EOF)
            continue;
        if (g[k].ending == TDM_ERR_TRUNCATED && (k + 1 < n || allow_truncated))
            continue;
        return false;
    }
    return true;
}

/* The seams of a session, one line each. */
static void print_seams(const tdm_rec_segment *g, size_t n, const char *indent)
{
    for (size_t k = 0; k + 1 < n; k++) {
        tdm_rec_seam m = tdm_rec_segments_seam(&g[k], &g[k + 1]);
        if (!m.gap && !m.overlap)
            continue;
        char a[40], b[40];
        utc_ms_of(m.from_unix_us, a);
        utc_ms_of(m.to_unix_us, b);
        printf("%s%s between segment %zu and %zu: %.3f s, %s (+%.3f s) to %s (+%.3f s)\n", indent,
               m.gap ? "gap (nothing recorded)" : "overlap (recorded twice)", k + 1, k + 2,
               (double)(m.to_unix_us - m.from_unix_us) / 1e6, a,
               (double)(m.from_unix_us - g[0].start_unix_us) / 1e6, b,
               (double)(m.to_unix_us - g[0].start_unix_us) / 1e6);
    }
}

/* One line per recording, then one per session with its segments. */
static int cmd_list(const char *dir, const uint8_t key[32])
{
    tdm_replay_dir d;
    tdm_error err = {{0}};
    if (tdm_replay_dir_load(dir, NULL, key, &d, &err) != TDM_OK) {
        fprintf(stderr, "tandem-replay: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < d.nfiles; i++) {
        const tdm_rec_segment *g = NULL;
        for (size_t j = 0; j < d.nsegs && !g; j++)
            if (d.segs[j].tag == i)
                g = &d.segs[j];
        if (!g)
            continue;
        if (g->ending == TDM_ERR_INVALID) {
            printf("%s  WRONG KEY\n", d.files[i].name);
            continue;
        }
        char when[32];
        utc_of(g->start_unix_us, when);
        printf("%s  session %s  started %s  %.1f s  %zu bytes  %s\n", d.files[i].name,
               g->session_id, when, (double)(g->end_unix_us - g->start_unix_us) / 1e6,
               d.files[i].len, seg_state(g));
    }
    if (d.nsegs)
        printf("sessions:\n");
    for (size_t i = 0; i < d.nsegs;) {
        size_t n = tdm_rec_segments_run(d.segs, d.nsegs, i);
        const tdm_rec_segment *g = d.segs + i;
        size_t ngaps = 0, nover = 0;
        uint64_t gap_us = 0, end = g[0].end_unix_us;
        for (size_t k = 0; k + 1 < n; k++) {
            tdm_rec_seam m = tdm_rec_segments_seam(&g[k], &g[k + 1]);
            ngaps += m.gap, nover += m.overlap;
            if (m.gap)
                gap_us += m.to_unix_us - m.from_unix_us;
        }
        for (size_t k = 0; k < n; k++)
            if (g[k].end_unix_us > end)
                end = g[k].end_unix_us;
        bool ok = session_ok(g, n, false);
        char when[32];
        utc_of(g[0].start_unix_us, when);
        printf("  session %s  %zu segment%s  started %s  %.1f s  %zu gap%s (%.1f s)", g->session_id,
               n, n == 1 ? "" : "s", when, (double)(end - g[0].start_unix_us) / 1e6, ngaps,
               ngaps == 1 ? "" : "s", (double)gap_us / 1e6);
        if (nover)
            printf("  %zu overlap%s", nover, nover == 1 ? "" : "s");
        printf("  %s\n", ok ? "complete" : "NOT INTACT");
        rc |= !ok;
        i += n;
    }
    if (d.skipped) {
        printf("%zu file%s start like a recording but have no readable header\n", d.skipped,
               d.skipped == 1 ? "" : "s");
        rc = 1;
    }
    if (!d.nfiles)
        printf("no recordings in %s\n", dir);
    tdm_replay_dir_free(&d);
    return rc;
}

static int cmd_thumbs(const char *path, tdm_rec_reader *r, const char *out, double every_s,
                      int width, int columns)
{
    tdm_rec_thumbs_result res;
    tdm_error err = {{0}};
    tdm_status st =
        tdm_rec_thumbs_png(r, out, (uint64_t)(every_s * 1e6), width, columns, &res, &err);
    if (st != TDM_OK) {
        if (st == TDM_ERR_FORMAT)
            fprintf(stderr, "tandem-replay: %s fails verification: %s\n", path, err.msg);
        else
            fprintf(stderr, "tandem-replay: %s: %s\n", path, err.msg);
        return 1;
    }
    printf("%s: %zu pictures, one every %g s, sheet %dx%d\n", out, res.count, every_s,
           res.sheet_width, res.sheet_height);
    if (res.ending == TDM_ERR_TRUNCATED)
        printf("note: the recording is cut short; pictures up to its end\n");
    return 0;
}

static void print_utc_ms(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char when[32] = "?";
    if (gmtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    printf("%s.%03dZ", when, (int)(ms % 1000));
}

/* The participants part of info, from the session's audit log. */
static void print_participants(const tdm_replay_audit *a)
{
    printf("audit log: %zu entries, %s\n", a->n, a->verified ? "verified" : "NOT VERIFIED");
    if (!a->verified)
        printf("audit fault: %s\n", a->problem);
    printf("participants: %zu\n", a->nparts);
    for (size_t i = 0; i < a->nparts; i++) {
        const tdm_replay_participant *p = &a->parts[i];
        printf("  %s %s (%s), profiles %s", p->id, p->name, p->kind,
               *p->profiles ? p->profiles : "-");
        if (*p->invited_by) {
            const tdm_replay_participant *by = tdm_replay_audit_participant(a, p->invited_by);
            printf(", invited by %s%s%s%s", p->invited_by, by ? " (" : "", by ? by->name : "",
                   by ? ")" : "");
        }
        printf(", joined ");
        print_utc_ms(p->joined_ms);
        if (p->left_ms) {
            printf(", left ");
            print_utc_ms(p->left_ms);
            printf(" (%s)", p->left_how);
        } else {
            printf(", still present at the log's end");
        }
        printf("\n");
    }
}

/* Loads the audit trail of the recording's session; messages on failure. */
static int load_audit(const char *db, tdm_rec_reader *r, tdm_replay_audit *a)
{
    tdm_error err = {{0}};
    if (tdm_replay_audit_load(db, tdm_rec_reader_header(r)->session_id, a, &err) == TDM_OK)
        return 0;
    fprintf(stderr, "tandem-replay: %s\n", err.msg);
    return -1;
}

static int cmd_timeline(const char *path, const mapped *m, tdm_rec_reader *r, const char *db)
{
    tdm_replay_audit a;
    if (load_audit(db, r, &a) != 0)
        return 1;
    char *json = NULL;
    tdm_error err = {{0}};
    bool complete = false, verified = a.verified;
    tdm_status st = tdm_replay_timeline_json(path, m->len, r, db, &a, &json, &complete, &err);
    tdm_replay_audit_free(&a);
    if (st != TDM_OK) {
        fprintf(stderr, "tandem-replay: %s: %s\n", path, err.msg);
        return 1;
    }
    puts(json);
    free(json);
    /* The JSON is written either way (an auditor wants to see what there
     * is); the status lets a script notice that something did not verify. */
    if (!verified)
        fprintf(stderr, "tandem-replay: the session's audit log does not verify\n");
    if (!complete)
        fprintf(stderr, "tandem-replay: %s is not complete (see \"recording\".\"ends\")\n", path);
    return verified && complete ? 0 : 1;
}

/* ---- a session of segments ------------------------------------------- */

typedef struct session_target {
    tdm_replay_dir d;
    const tdm_rec_segment *g; /* its segments, in order */
    size_t n;
} session_target;

/* SESSION, DIR/SESSION or --dir DIR with SESSION. */
static int load_session(const char *arg, const char *dir_opt, const uint8_t key[32],
                        session_target *t)
{
    char dir[4096];
    const char *sid = arg, *slash = strrchr(arg, '/');
    if (dir_opt) {
        snprintf(dir, sizeof dir, "%s", dir_opt);
    } else if (slash) {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - arg), arg);
        sid = slash + 1;
        if (!*dir)
            snprintf(dir, sizeof dir, "/");
    } else {
        snprintf(dir, sizeof dir, ".");
    }
    tdm_error err = {{0}};
    if (tdm_replay_dir_load(dir, sid, key, &t->d, &err) != TDM_OK) {
        fprintf(stderr, "tandem-replay: %s\n", err.msg);
        return -1;
    }
    size_t first;
    if (!tdm_replay_dir_session(&t->d, sid, &first, &t->n)) {
        fprintf(stderr,
                "tandem-replay: cannot open %s: neither a file nor a session with recordings in "
                "%s\n",
                arg, dir);
        tdm_replay_dir_free(&t->d);
        return -1;
    }
    t->g = t->d.segs + first;
    return 0;
}

static const tdm_replay_file *seg_file(const session_target *t, size_t k)
{
    return tdm_replay_seg_file(&t->d, &t->g[k]);
}

/* The first segment that cannot be read on (wrong key, fault), or n. */
static size_t first_unreadable(const session_target *t)
{
    for (size_t k = 0; k < t->n; k++)
        if (t->g[k].ending != TDM_EOF && t->g[k].ending != TDM_ERR_TRUNCATED)
            return k;
    return t->n;
}

static int s_verify(const session_target *t, bool allow_truncated)
{
    printf("session %s: %zu segment%s\n", t->g[0].session_id, t->n, t->n == 1 ? "" : "s");
    for (size_t k = 0; k < t->n; k++) {
        const tdm_rec_segment *g = &t->g[k];
        const tdm_replay_file *f = seg_file(t, k);
        char when[32];
        utc_of(g->start_unix_us, when);
        printf("  segment %zu: %s, started %s (+%.3f s), %.3f s: ", k + 1, f->name, when,
               (double)(g->start_unix_us - t->g[0].start_unix_us) / 1e6,
               (double)(g->end_unix_us - g->start_unix_us) / 1e6);
        if (g->ending == TDM_EOF)
            printf("OK: %" PRIu64 " records verified, complete\n", g->records);
        else if (g->ending == TDM_ERR_TRUNCATED)
            printf("OK up to its cut (%s): %s\n",
                   k + 1 < t->n    ? "the session went on in the next segment"
                   : allow_truncated ? "allowed"
                                     : "the last segment has no end record",
                   g->ending_msg.msg);
        else if (g->ending == TDM_ERR_INVALID)
            printf("WRONG KEY: %s\n", g->ending_msg.msg);
        else
            printf("FAILED: %s\n", g->ending_msg.msg);
        if (f->reader)
            print_hash("    hash: ", tdm_rec_reader_hash(f->reader));
    }
    print_seams(t->g, t->n, "  ");
    bool ok = session_ok(t->g, t->n, allow_truncated);
    size_t bad = first_unreadable(t);
    if (ok)
        printf("session %s: OK: %zu segment%s verified\n", t->g[0].session_id, t->n,
               t->n == 1 ? "" : "s");
    else if (bad < t->n)
        printf("session %s: FAILED at segment %zu (%s): %s\n", t->g[0].session_id, bad + 1,
               seg_file(t, bad)->name, t->g[bad].ending_msg.msg);
    else
        printf("session %s: INCOMPLETE: the last segment (%s) is cut short: %s\n",
               t->g[0].session_id, seg_file(t, t->n - 1)->name, t->g[t->n - 1].ending_msg.msg);
    return ok ? 0 : 1;
}

static int s_info(const session_target *t, const char *db)
{
    uint64_t end = t->g[0].end_unix_us;
    for (size_t k = 0; k < t->n; k++)
        if (t->g[k].end_unix_us > end)
            end = t->g[k].end_unix_us;
    char when[32];
    utc_of(t->g[0].start_unix_us, when);
    printf("session: %s\nsegments: %zu\nstarted: %s\nspan: %.3f s (gaps included)\n",
           t->g[0].session_id, t->n, when, (double)(end - t->g[0].start_unix_us) / 1e6);
    print_seams(t->g, t->n, "");
    int rc = session_ok(t->g, t->n, false) ? 0 : 1;
    for (size_t k = 0; k < t->n; k++) {
        const tdm_replay_file *f = seg_file(t, k);
        printf("--- segment %zu (+%.3f s)\n", k + 1,
               (double)(t->g[k].start_unix_us - t->g[0].start_unix_us) / 1e6);
        if (!f->reader) {
            printf("file: %s\nends: WRONG KEY: %s\n", f->path, t->g[k].ending_msg.msg);
            continue;
        }
        tdm_error err = {{0}};
        tdm_rec_reader_rewind(f->reader, &err);
        mapped m = {f->buf, f->len};
        cmd_info_recording(f->path, &m, f->reader); /* its exit status is the session's */
    }
    if (!db)
        return rc;
    const tdm_replay_file *f0 = NULL;
    for (size_t k = 0; k < t->n && !f0; k++)
        if (seg_file(t, k)->reader)
            f0 = seg_file(t, k);
    if (!f0)
        return 1;
    tdm_replay_audit a;
    if (load_audit(db, f0->reader, &a) != 0)
        return 1;
    print_participants(&a);
    bool verified = a.verified;
    tdm_replay_audit_free(&a);
    return verified ? rc : 1;
}

static int s_export(const session_target *t, const char *out)
{
    size_t bad = first_unreadable(t);
    if (bad < t->n) {
        fprintf(stderr, "tandem-replay: session %s: segment %zu (%s) %s, not exported: %s\n",
                t->g[0].session_id, bad + 1, seg_file(t, bad)->name,
                t->g[bad].ending == TDM_ERR_INVALID ? "cannot be opened with this key"
                                                    : "fails verification",
                t->g[bad].ending_msg.msg);
        return 1;
    }
    if (t->n > TDM_REC_EXPORT_MAX_SEGMENTS) {
        fprintf(stderr, "tandem-replay: session %s has %zu segments; at most %d join into one file\n",
                t->g[0].session_id, t->n, TDM_REC_EXPORT_MAX_SEGMENTS);
        return 1;
    }
    tdm_rec_export_input in[TDM_REC_EXPORT_MAX_SEGMENTS];
    for (size_t k = 0; k < t->n; k++)
        in[k] = (tdm_rec_export_input){seg_file(t, k)->reader, seg_file(t, k)->len,
                                       seg_file(t, k)->name};
    progress_state ps = {.tty = isatty(STDOUT_FILENO) == 1, .last_pct = -1};
    static tdm_rec_export_result res; /* large: one per process */
    tdm_error err = {{0}};
    tdm_status st = tdm_rec_export_webm_segments(in, t->n, out, on_progress, &ps, &res, &err);
    if (ps.tty)
        printf("\n");
    if (st != TDM_OK) {
        if (st == TDM_ERR_FORMAT)
            fprintf(stderr, "tandem-replay: session %s: segment %zu (%s) fails verification, not "
                            "exported: %s\n",
                    t->g[0].session_id, res.fault_segment + 1,
                    seg_file(t, res.fault_segment)->name, err.msg);
        else
            fprintf(stderr, "tandem-replay: session %s: %s\n", t->g[0].session_id, err.msg);
        return 1;
    }
    printf("exported session %s (%zu segment%s) to %s: %.3f s\n", t->g[0].session_id, t->n,
           t->n == 1 ? "" : "s", out, (double)res.duration_us / 1e6);
    for (size_t k = 0; k < res.nsegments; k++) {
        const tdm_rec_export_segment *sg = &res.segments[k];
        printf("  segment %zu: %s at %.3f s to %.3f s, %" PRIu64 " frames", k + 1,
               seg_file(t, k)->name, (double)sg->offset_us / 1e6, (double)sg->end_us / 1e6,
               sg->frames);
        if (sg->frames_trimmed)
            printf(" (%" PRIu64 " left out: the next segment had started)", sg->frames_trimmed);
        if (sg->ending == TDM_ERR_TRUNCATED)
            printf(", cut short: exported up to its end");
        printf("\n");
    }
    print_seams(t->g, t->n, "  ");
    for (size_t i = 0; i < res.nstreams; i++) {
        const tdm_rec_export_stream *s = &res.streams[i];
        printf("  stream %u: %s, %s", s->id, codec_name(s->codec),
               s->exported ? "exported" : "left out");
        if (s->width)
            printf(", %dx%d", s->width, s->height);
        printf(", %" PRIu64 " packets -> %" PRIu64 " frames", s->packets, s->frames);
        if (s->frames_lost)
            printf(" (%" PRIu64 " frames could not be completed)", s->frames_lost);
        printf("\n");
    }
    if (t->n > 1)
        printf("chapters: one per segment, one per gap (\"gap: nothing recorded ...\")\n");
    return 0;
}

static int s_thumbs(const session_target *t, const char *out, double every_s, int width,
                    int columns)
{
    if (t->n == 1)
        return seg_file(t, 0)->reader
                   ? cmd_thumbs(seg_file(t, 0)->path, seg_file(t, 0)->reader, out, every_s, width,
                                columns)
                   : (fprintf(stderr, "tandem-replay: %s: %s\n", seg_file(t, 0)->path,
                              t->g[0].ending_msg.msg),
                      1);
    int rc = 0;
    const char *dot = strrchr(out, '.');
    size_t stem = dot && !strchr(dot, '/') ? (size_t)(dot - out) : strlen(out);
    for (size_t k = 0; k < t->n; k++) {
        const tdm_replay_file *f = seg_file(t, k);
        char path[4096];
        snprintf(path, sizeof path, "%.*s-%zu%s", (int)stem, out, k + 1, out + stem);
        printf("segment %zu (%s): ", k + 1, f->name);
        if (!f->reader) {
            printf("WRONG KEY: %s\n", t->g[k].ending_msg.msg);
            rc = 1;
            continue;
        }
        fflush(stdout);
        rc |= cmd_thumbs(f->path, f->reader, path, every_s, width, columns);
    }
    return rc;
}

static int s_timeline(const session_target *t, const char *db)
{
    const tdm_replay_file *f0 = NULL;
    for (size_t k = 0; k < t->n && !f0; k++)
        if (seg_file(t, k)->reader)
            f0 = seg_file(t, k);
    tdm_replay_audit a;
    if (!f0) {
        fprintf(stderr, "tandem-replay: no segment of session %s opens with this key\n",
                t->g[0].session_id);
        return 1;
    }
    if (load_audit(db, f0->reader, &a) != 0)
        return 1;
    char *json = NULL;
    tdm_error err = {{0}};
    bool complete = false, verified = a.verified;
    tdm_status st = tdm_replay_timeline_json_session(&t->d, (size_t)(t->g - t->d.segs), t->n, db,
                                                     &a, &json, &complete, &err);
    tdm_replay_audit_free(&a);
    if (st != TDM_OK) {
        fprintf(stderr, "tandem-replay: %s\n", err.msg);
        return 1;
    }
    puts(json);
    free(json);
    if (!verified)
        fprintf(stderr, "tandem-replay: the session's audit log does not verify\n");
    if (!complete)
        fprintf(stderr, "tandem-replay: session %s is not complete (see \"recording\".\"ends\")\n",
                t->g[0].session_id);
    return verified && complete ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key-file", required_argument, NULL, 'k'},
        {"out", required_argument, NULL, 'o'},
        {"allow-truncated", no_argument, NULL, 't'},
        {"every", required_argument, NULL, 'e'},
        {"width", required_argument, NULL, 'w'},
        {"columns", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, 'd'},
        {"dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *key_file = NULL, *out = NULL, *db = NULL, *dir_opt = NULL;
    bool allow_truncated = false, thumb_opts = false;
    double every_s = 10;
    int width = 240, columns = 6;
    char *end;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key_file = optarg; break;
        case 'o': out = optarg; break;
        case 'd': db = optarg; break;
        case 'D': dir_opt = optarg; break;
        case 't': allow_truncated = true; break;
        case 'e':
            every_s = strtod(optarg, &end);
            if (*end || !(every_s >= 0.001 && every_s <= 86400))
                return usage_error("--every wants seconds, 0.001 to 86400: ", optarg);
            thumb_opts = true;
            break;
        case 'w':
            width = (int)strtol(optarg, &end, 10);
            if (*end || width < 16 || width > 1920)
                return usage_error("--width wants 16 to 1920 pixels: ", optarg);
            thumb_opts = true;
            break;
        case 'c':
            columns = (int)strtol(optarg, &end, 10);
            if (*end || columns < 1 || columns > 64)
                return usage_error("--columns wants 1 to 64: ", optarg);
            thumb_opts = true;
            break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: return usage_error("bad option", NULL);
        }
    }
    if (optind >= argc)
        return usage_error("missing command (list, info, verify, export, thumbs, timeline)",
                           NULL);
    const char *cmd = argv[optind];
    bool is_info = !strcmp(cmd, "info"), is_verify = !strcmp(cmd, "verify"),
         is_export = !strcmp(cmd, "export");
    bool is_list = !strcmp(cmd, "list"), is_thumbs = !strcmp(cmd, "thumbs"),
         is_timeline = !strcmp(cmd, "timeline");
    if (!is_info && !is_verify && !is_export && !is_list && !is_thumbs && !is_timeline)
        return usage_error("unknown command: ", cmd);
    if (argc - optind != 2)
        return usage_error(is_list ? "one DIR expected after " : "one FILE expected after ", cmd);
    if (!key_file)
        return usage_error("--key-file is required (the recording master key)", NULL);
    if (is_export && !out)
        return usage_error("export needs --out FILE.webm", NULL);
    if (is_thumbs && !out)
        return usage_error("thumbs needs --out FILE.png", NULL);
    if (!is_export && !is_thumbs && out)
        return usage_error("--out is only for export and thumbs", NULL);
    if (!is_thumbs && thumb_opts)
        return usage_error("--every, --width and --columns are only for thumbs", NULL);
    if (is_timeline && !db)
        return usage_error("timeline needs --db SIGNAL_DB (tandem-signal's database)", NULL);
    if (db && !is_info && !is_timeline)
        return usage_error("--db is only for info and timeline", NULL);
    if (!is_verify && allow_truncated)
        return usage_error("--allow-truncated is only for verify", NULL);
    if (is_list && dir_opt)
        return usage_error("--dir is for a SESSION; list takes the directory itself", NULL);
    const char *path = argv[optind + 1];

    uint8_t key[32];
    if (read_key(key_file, key) != 0)
        return 1;
    if (is_list) {
        int lrc = cmd_list(path, key);
        memset(key, 0, sizeof key);
        return lrc;
    }
    struct stat sb;
    if (dir_opt || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        session_target t;
        int src = 1;
        if (load_session(path, dir_opt, key, &t) == 0) {
            if (is_info)
                src = s_info(&t, db);
            else if (is_timeline)
                src = s_timeline(&t, db);
            else if (is_verify)
                src = s_verify(&t, allow_truncated);
            else if (is_thumbs)
                src = s_thumbs(&t, out, every_s, width, columns);
            else
                src = s_export(&t, out);
            tdm_replay_dir_free(&t.d);
        }
        memset(key, 0, sizeof key);
        return src;
    }
    mapped m;
    if (map_file(path, &m) != 0)
        return 1;
    tdm_rec_reader *r;
    int rc = 1;
    if (open_reader(path, &m, key, &r) == 0) {
        if (is_info)
            rc = cmd_info(path, &m, r, db);
        else if (is_timeline)
            rc = cmd_timeline(path, &m, r, db);
        else if (is_verify)
            rc = cmd_verify(path, r, allow_truncated);
        else if (is_thumbs)
            rc = cmd_thumbs(path, r, out, every_s, width, columns);
        else
            rc = cmd_export(path, &m, r, out);
        tdm_rec_reader_free(r);
    }
    memset(key, 0, sizeof key);
    unmap_file(&m);
    return rc;
}
