/* y4m.c: YUV4MPEG2 (8-bit 4:2:0) files: the sans-IO header and frame-marker
 * parsers, a reader and a writer over stdio, and the tdm_source adapter. */
#include "tdm_y4m.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char MAGIC[] = "YUV4MPEG2";
static const char MARKER[] = "FRAME";
#define MAGIC_LEN (sizeof MAGIC - 1)
#define MARKER_LEN (sizeof MARKER - 1)

/* Copies untrusted bytes into dst for an error message: short, and with
 * control and non-ASCII bytes shown as '?', so a message never carries a
 * newline or a NUL from the file. */
static const char *printable(char *dst, size_t cap, const uint8_t *s, size_t n)
{
    size_t room = cap - 4; /* keeps space for "..." and the NUL */
    size_t i = 0;
    for (; i < n && i < room; i++)
        dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
    if (i < n) {
        memcpy(dst + i, "...", 3);
        i += 3;
    }
    dst[i] = '\0';
    return dst;
}

#define SHOW_CAP 40

/* Digits only, no sign: the Y4M spec has no '+' and we want "W 10" or "W1e3"
 * rejected rather than half-read. */
static bool all_digits(const uint8_t *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Parses digits into *out; false if the value does not fit in an int. */
static bool digits_to_int(const uint8_t *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = s[i] - '0';
        if (v > (INT_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static tdm_status parse_dimension(const uint8_t *s, size_t n, char tag, const char *name,
                                  int *out, tdm_error *err)
{
    char show[SHOW_CAP];
    if (n == 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "%s tag %c has no value", name, tag);
    if (s[0] == '-' && all_digits(s + 1, n - 1))
        return tdm_fail(err, TDM_ERR_RANGE, "%s %c%s is negative", name, tag,
                        printable(show, sizeof show, s, n));
    if (!all_digits(s, n))
        return tdm_fail(err, TDM_ERR_FORMAT, "%s %c%s is not a number", name, tag,
                        printable(show, sizeof show, s, n));
    int v;
    if (!digits_to_int(s, n, &v))
        return tdm_fail(err, TDM_ERR_RANGE, "%s %c%s overflows an int", name, tag,
                        printable(show, sizeof show, s, n));
    if (v == 0)
        return tdm_fail(err, TDM_ERR_RANGE, "%s %c0 is zero", name, tag);
    if (v > TDM_MAX_DIMENSION)
        return tdm_fail(err, TDM_ERR_RANGE, "%s %c%d exceeds the limit of %d", name, tag, v,
                        TDM_MAX_DIMENSION);
    *out = v;
    return TDM_OK;
}

/* "num:den", both non-negative ints; the caller judges zeros. */
static tdm_status parse_ratio(const uint8_t *s, size_t n, char tag, const char *name,
                              int *num, int *den, tdm_error *err)
{
    char show[SHOW_CAP];
    const uint8_t *colon = memchr(s, ':', n);
    if (!colon)
        return tdm_fail(err, TDM_ERR_FORMAT, "%s %c%s is not of the form num:den", name, tag,
                        printable(show, sizeof show, s, n));
    size_t nn = (size_t)(colon - s), dn = n - nn - 1;
    if (!all_digits(s, nn) || !all_digits(colon + 1, dn))
        return tdm_fail(err, TDM_ERR_FORMAT, "%s %c%s is not of the form num:den", name, tag,
                        printable(show, sizeof show, s, n));
    if (!digits_to_int(s, nn, num) || !digits_to_int(colon + 1, dn, den))
        return tdm_fail(err, TDM_ERR_RANGE, "%s %c%s overflows an int", name, tag,
                        printable(show, sizeof show, s, n));
    return TDM_OK;
}

static bool supported_colorspace(const uint8_t *s, size_t n)
{
    static const char *const ok[] = {"420", "420jpeg", "420paldv", "420mpeg2"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strlen(ok[i]) == n && memcmp(ok[i], s, n) == 0)
            return true;
    return false;
}

/* Finds the end of a line that starts with `magic` followed by ' ' or '\n'.
 * Checks the magic on whatever prefix is present first, so garbage is named
 * as garbage rather than as "too long" or "need more". On TDM_OK, *line_len
 * includes the '\n'. */
static tdm_status find_line(const uint8_t *buf, size_t len, const char *magic,
                            size_t magic_len, bool stream_header, size_t *line_len,
                            tdm_error *err)
{
    char show[SHOW_CAP];
    size_t have = len < magic_len ? len : magic_len;
    bool magic_ok = memcmp(buf, magic, have) == 0;
    if (magic_ok && len > magic_len && buf[magic_len] != ' ' && buf[magic_len] != '\n')
        magic_ok = false;
    if (!magic_ok) {
        size_t show_len = len < 16 ? len : 16;
        const uint8_t *nl = memchr(buf, '\n', show_len);
        if (nl)
            show_len = (size_t)(nl - buf);
        if (stream_header)
            return tdm_fail(err, TDM_ERR_FORMAT,
                            "missing %s signature: the file starts with '%s'", magic,
                            printable(show, sizeof show, buf, show_len));
        return tdm_fail(err, TDM_ERR_FORMAT, "expected a %s marker, found '%s'", magic,
                        printable(show, sizeof show, buf, show_len));
    }
    size_t scan = len < TDM_Y4M_MAX_LINE ? len : TDM_Y4M_MAX_LINE;
    const uint8_t *nl = memchr(buf, '\n', scan);
    if (!nl) {
        if (len >= TDM_Y4M_MAX_LINE)
            return tdm_fail(err, TDM_ERR_FORMAT, "%s line is longer than %d bytes",
                            stream_header ? "stream header" : "FRAME", TDM_Y4M_MAX_LINE);
        return TDM_AGAIN;
    }
    *line_len = (size_t)(nl - buf) + 1;
    return TDM_OK;
}

tdm_status tdm_y4m_parse_header(const uint8_t *buf, size_t len, tdm_y4m_info *info,
                                size_t *consumed, tdm_error *err)
{
    if (!info || !consumed || (!buf && len > 0))
        return tdm_fail(err, TDM_ERR_INVALID, "tdm_y4m_parse_header: NULL argument");
    if (len == 0)
        return TDM_AGAIN;
    size_t line_len;
    tdm_status st = find_line(buf, len, MAGIC, MAGIC_LEN, true, &line_len, err);
    if (st != TDM_OK)
        return st;

    tdm_y4m_info in = {.interlace = '?'};
    strcpy(in.colorspace, "420jpeg");
    bool have_w = false, have_h = false;
    char show[SHOW_CAP];
    size_t end = line_len - 1, pos = MAGIC_LEN;
    while (pos < end) {
        /* Tags are separated by single spaces; tolerate runs of them. */
        if (buf[pos] == ' ') {
            pos++;
            continue;
        }
        size_t start = pos;
        while (pos < end && buf[pos] != ' ')
            pos++;
        const uint8_t *tok = buf + start;
        size_t n = pos - start;
        const uint8_t *val = tok + 1;
        size_t vn = n - 1;
        switch (tok[0]) {
        case 'W':
            st = parse_dimension(val, vn, 'W', "width", &in.width, err);
            if (st != TDM_OK)
                return st;
            have_w = true;
            break;
        case 'H':
            st = parse_dimension(val, vn, 'H', "height", &in.height, err);
            if (st != TDM_OK)
                return st;
            have_h = true;
            break;
        case 'F':
            st = parse_ratio(val, vn, 'F', "frame rate", &in.fps_num, &in.fps_den, err);
            if (st != TDM_OK)
                return st;
            if (in.fps_den == 0)
                return tdm_fail(err, TDM_ERR_RANGE,
                                "frame rate F%d:%d has a zero denominator", in.fps_num,
                                in.fps_den);
            if (in.fps_num == 0)
                return tdm_fail(err, TDM_ERR_RANGE, "frame rate F0:%d is zero", in.fps_den);
            break;
        case 'A':
            st = parse_ratio(val, vn, 'A', "pixel aspect", &in.par_num, &in.par_den, err);
            if (st != TDM_OK)
                return st;
            /* A0:0 is the spec's "unknown", the same as no tag. */
            break;
        case 'I':
            if (vn != 1 || !memchr("ptbm?", val[0], 5))
                return tdm_fail(err, TDM_ERR_FORMAT,
                                "interlace I%s is not one of Ip, It, Ib, Im, I?",
                                printable(show, sizeof show, val, vn));
            in.interlace = (char)val[0];
            break;
        case 'C':
            if (!supported_colorspace(val, vn))
                return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                                "colour space C%s is not supported (only 8-bit 4:2:0: "
                                "C420, C420jpeg, C420paldv, C420mpeg2)",
                                printable(show, sizeof show, val, vn));
            memcpy(in.colorspace, val, vn);
            in.colorspace[vn] = '\0';
            break;
        default:
            /* X tags are application extensions; unknown letters are ignored
             * too, as the spec asks of readers. */
            break;
        }
    }
    if (!have_w)
        return tdm_fail(err, TDM_ERR_FORMAT, "stream header has no width (W tag)");
    if (!have_h)
        return tdm_fail(err, TDM_ERR_FORMAT, "stream header has no height (H tag)");
    *info = in;
    *consumed = line_len;
    return TDM_OK;
}

tdm_status tdm_y4m_parse_frame_header(const uint8_t *buf, size_t len, size_t *consumed,
                                      tdm_error *err)
{
    if (!consumed || (!buf && len > 0))
        return tdm_fail(err, TDM_ERR_INVALID, "tdm_y4m_parse_frame_header: NULL argument");
    if (len == 0)
        return TDM_AGAIN;
    /* Per-frame parameters are ignored: none of them changes the pixel layout
     * of 4:2:0 progressive content. */
    return find_line(buf, len, MARKER, MARKER_LEN, false, consumed, err);
}

size_t tdm_y4m_frame_size(int width, int height)
{
    if (width < 1 || height < 1 || width > TDM_MAX_DIMENSION || height > TDM_MAX_DIMENSION)
        return 0;
    size_t w = (size_t)width, h = (size_t)height;
    return w * h + 2 * ((w + 1) / 2) * ((h + 1) / 2);
}

/* ---- reader ---- */

struct tdm_y4m_reader {
    FILE *f;
    bool owns_file;
    char *path;         /* for messages; NULL when reading a caller's stream */
    tdm_y4m_info info;
    size_t frame_size;
    uint8_t *pixels;    /* one frame, allocated at the first frame, reused */
    uint64_t frame_no;  /* number of the next frame */
    uint64_t offset;    /* byte offset of the next unread byte, for messages */
    tdm_status done;    /* TDM_OK while reading; else EOF or the error, replayed */
    tdm_error done_err;
};

/* Records a terminal status so later calls repeat it instead of reading
 * from a stream in an unknown position. */
__attribute__((format(printf, 4, 5))) static tdm_status
reader_stop(tdm_y4m_reader *r, tdm_error *err, tdm_status st, const char *fmt, ...)
{
    char *msg = r->done_err.msg;
    size_t cap = sizeof r->done_err.msg;
    /* The path is cut short rather than the detail after it. */
    int n = r->path ? snprintf(msg, cap, "%.120s: ", r->path) : 0;
    if (n < 0 || (size_t)n >= cap)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    r->done = st;
    if (err)
        *err = r->done_err;
    return st;
}

/* Reads up to and including '\n', at most cap bytes. *eof is set when the
 * stream ended (or failed) before a '\n'. */
static size_t read_line(FILE *f, uint8_t *buf, size_t cap, bool *eof)
{
    size_t n = 0;
    *eof = false;
    while (n < cap) {
        int c = getc(f);
        if (c == EOF) {
            *eof = true;
            break;
        }
        buf[n++] = (uint8_t)c;
        if (c == '\n')
            break;
    }
    return n;
}

tdm_status tdm_y4m_reader_open_stream(FILE *f, tdm_y4m_reader **out, tdm_error *err)
{
    if (!f || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "tdm_y4m_reader_open_stream: NULL argument");
    *out = NULL;
    uint8_t line[TDM_Y4M_MAX_LINE];
    bool eof;
    size_t n = read_line(f, line, sizeof line, &eof);
    if (eof && ferror(f))
        return tdm_fail(err, TDM_ERR_IO, "reading the Y4M stream header: %s", strerror(errno));
    tdm_y4m_info info;
    size_t consumed = 0;
    tdm_status st = tdm_y4m_parse_header(line, n, &info, &consumed, err);
    if (st == TDM_AGAIN) {
        if (n == 0)
            return tdm_fail(err, TDM_ERR_TRUNCATED, "file is empty: no %s header", MAGIC);
        return tdm_fail(err, TDM_ERR_TRUNCATED,
                        "truncated: file ends inside the stream header after %zu bytes", n);
    }
    if (st != TDM_OK)
        return st;

    tdm_y4m_reader *r = calloc(1, sizeof *r);
    if (!r)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the Y4M reader");
    r->f = f;
    r->info = info;
    r->frame_size = tdm_y4m_frame_size(info.width, info.height);
    r->offset = consumed;
    r->done = TDM_OK;
    *out = r;
    return TDM_OK;
}

tdm_status tdm_y4m_reader_open(const char *path, tdm_y4m_reader **out, tdm_error *err)
{
    if (!path || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "tdm_y4m_reader_open: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tdm_fail(err, TDM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    tdm_error inner = {{0}};
    tdm_status st = tdm_y4m_reader_open_stream(f, out, &inner);
    if (st != TDM_OK) {
        fclose(f);
        return tdm_fail(err, st, "%.120s: %s", path, inner.msg);
    }
    (*out)->owns_file = true;
    (*out)->path = strdup(path);
    if (!(*out)->path) {
        tdm_y4m_reader_close(*out);
        *out = NULL;
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the Y4M reader");
    }
    return TDM_OK;
}

const tdm_y4m_info *tdm_y4m_reader_info(const tdm_y4m_reader *r)
{
    return r ? &r->info : NULL;
}

tdm_status tdm_y4m_reader_next(tdm_y4m_reader *r, tdm_i420 *frame, tdm_error *err)
{
    if (!r || !frame)
        return tdm_fail(err, TDM_ERR_INVALID, "tdm_y4m_reader_next: NULL argument");
    if (r->done != TDM_OK) {
        if (err && r->done != TDM_EOF)
            *err = r->done_err;
        return r->done;
    }

    uint8_t line[TDM_Y4M_MAX_LINE];
    bool eof;
    size_t n = read_line(r->f, line, sizeof line, &eof);
    if (eof && ferror(r->f))
        return reader_stop(r, err, TDM_ERR_IO, "frame %" PRIu64 " at byte %" PRIu64 ": %s",
                           r->frame_no, r->offset, strerror(errno));
    if (n == 0 && eof) {
        r->done = TDM_EOF;
        return TDM_EOF;
    }
    tdm_error inner = {{0}};
    size_t consumed = 0;
    tdm_status st = tdm_y4m_parse_frame_header(line, n, &consumed, &inner);
    if (st == TDM_AGAIN)
        return reader_stop(r, err, TDM_ERR_TRUNCATED,
                           "frame %" PRIu64 " at byte %" PRIu64
                           ": truncated: file ends inside the FRAME marker after %zu bytes",
                           r->frame_no, r->offset, n);
    if (st != TDM_OK)
        return reader_stop(r, err, st, "frame %" PRIu64 " at byte %" PRIu64 ": %s",
                           r->frame_no, r->offset, inner.msg);
    r->offset += consumed;

    if (!r->pixels) {
        /* 64 spare bytes, as tdm_i420_alloc leaves, so vector kernels may read
         * past the last pixel. */
        r->pixels = malloc(r->frame_size + 64);
        if (!r->pixels)
            return reader_stop(r, err, TDM_ERR_NOMEM,
                               "out of memory for a %dx%d frame (%zu bytes)", r->info.width,
                               r->info.height, r->frame_size);
        memset(r->pixels + r->frame_size, 0, 64);
    }
    size_t got = fread(r->pixels, 1, r->frame_size, r->f);
    if (got < r->frame_size) {
        if (ferror(r->f))
            return reader_stop(r, err, TDM_ERR_IO,
                               "frame %" PRIu64 " at byte %" PRIu64 ": %s", r->frame_no,
                               r->offset, strerror(errno));
        return reader_stop(r, err, TDM_ERR_TRUNCATED,
                           "frame %" PRIu64 " at byte %" PRIu64
                           ": truncated: file ends inside the frame: expected %zu bytes, got %zu",
                           r->frame_no, r->offset, r->frame_size, got);
    }
    r->offset += got;

    int w = r->info.width, h = r->info.height, cw = (w + 1) / 2;
    size_t ysize = (size_t)w * (size_t)h, csize = (size_t)cw * (size_t)((h + 1) / 2);
    *frame = (tdm_i420){
        .y = r->pixels,
        .u = r->pixels + ysize,
        .v = r->pixels + ysize + csize,
        .stride_y = w,
        .stride_u = cw,
        .stride_v = cw,
        .width = w,
        .height = h,
        .owned = NULL,
    };
    r->frame_no++;
    return TDM_OK;
}

void tdm_y4m_reader_close(tdm_y4m_reader *r)
{
    if (!r)
        return;
    if (r->owns_file)
        fclose(r->f);
    free(r->pixels);
    free(r->path);
    free(r);
}

/* ---- writer ---- */

struct tdm_y4m_writer {
    FILE *f;
    char *path;
    int width, height;
    uint64_t frame_no;
    tdm_status failed; /* first write error, reported again by close */
    tdm_error failed_err;
};

static tdm_status writer_io_error(tdm_y4m_writer *w, tdm_error *err, const char *doing)
{
    int e = errno;
    w->failed = TDM_ERR_IO;
    tdm_fail(&w->failed_err, TDM_ERR_IO, "%s '%s': %s", doing, w->path,
             e ? strerror(e) : "write error");
    if (err)
        *err = w->failed_err;
    return TDM_ERR_IO;
}

tdm_status tdm_y4m_writer_open(const char *path, int width, int height, int fps_num,
                               int fps_den, tdm_y4m_writer **out, tdm_error *err)
{
    if (!path || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "tdm_y4m_writer_open: NULL argument");
    *out = NULL;
    tdm_status st = tdm_check_dimensions(width, height, err);
    if (st != TDM_OK)
        return st;
    if (fps_num <= 0 || fps_den <= 0)
        return tdm_fail(err, TDM_ERR_RANGE, "frame rate %d/%d must be positive", fps_num,
                        fps_den);
    tdm_y4m_writer *w = calloc(1, sizeof *w);
    char *p = strdup(path);
    if (!w || !p) {
        free(w);
        free(p);
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the Y4M writer");
    }
    w->path = p;
    w->width = width;
    w->height = height;
    w->failed = TDM_OK;
    w->f = fopen(path, "wb");
    if (!w->f) {
        tdm_fail(err, TDM_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
        free(w->path);
        free(w);
        return TDM_ERR_IO;
    }
    errno = 0;
    if (fprintf(w->f, "%s W%d H%d F%d:%d Ip A1:1 C420jpeg\n", MAGIC, width, height, fps_num,
                fps_den) < 0) {
        st = writer_io_error(w, err, "writing the header to");
        fclose(w->f);
        free(w->path);
        free(w);
        return st;
    }
    *out = w;
    return TDM_OK;
}

static bool write_plane(FILE *f, const uint8_t *p, int stride, int w, int h)
{
    for (int row = 0; row < h; row++)
        if (fwrite(p + (size_t)row * (size_t)stride, 1, (size_t)w, f) != (size_t)w)
            return false;
    return true;
}

tdm_status tdm_y4m_writer_write(tdm_y4m_writer *w, const tdm_i420 *frame, tdm_error *err)
{
    if (!w || !frame)
        return tdm_fail(err, TDM_ERR_INVALID, "tdm_y4m_writer_write: NULL argument");
    if (w->failed != TDM_OK) {
        if (err)
            *err = w->failed_err;
        return w->failed;
    }
    tdm_status st = tdm_i420_check(frame, err);
    if (st != TDM_OK)
        return st;
    if (frame->width != w->width || frame->height != w->height)
        return tdm_fail(err, TDM_ERR_INVALID, "frame %" PRIu64 " is %dx%d but '%s' is %dx%d",
                        w->frame_no, frame->width, frame->height, w->path, w->width,
                        w->height);
    int cw = (frame->width + 1) / 2, ch = (frame->height + 1) / 2;
    errno = 0;
    if (fwrite("FRAME\n", 1, 6, w->f) != 6 ||
        !write_plane(w->f, frame->y, frame->stride_y, frame->width, frame->height) ||
        !write_plane(w->f, frame->u, frame->stride_u, cw, ch) ||
        !write_plane(w->f, frame->v, frame->stride_v, cw, ch)) {
        char doing[64];
        snprintf(doing, sizeof doing, "writing frame %" PRIu64 " to", w->frame_no);
        return writer_io_error(w, err, doing);
    }
    w->frame_no++;
    return TDM_OK;
}

tdm_status tdm_y4m_writer_close(tdm_y4m_writer *w, tdm_error *err)
{
    if (!w)
        return TDM_OK;
    tdm_status st = w->failed;
    if (st != TDM_OK && err)
        *err = w->failed_err;
    /* Buffered data reaches the disk only here, so a full disk often shows up
     * first in fflush or fclose. */
    errno = 0;
    if (fflush(w->f) != 0 && st == TDM_OK)
        st = writer_io_error(w, err, "flushing");
    errno = 0;
    if (fclose(w->f) != 0 && st == TDM_OK)
        st = writer_io_error(w, err, "closing");
    free(w->path);
    free(w);
    return st;
}

/* ---- tdm_source adapter ---- */

typedef struct y4m_source {
    tdm_source base; /* first, so a tdm_source * is a y4m_source * */
    tdm_y4m_reader *reader;
    uint64_t number;
} y4m_source;

static tdm_status source_next(tdm_source *src, uint64_t now_us, tdm_frame *out,
                              tdm_error *err)
{
    y4m_source *s = (y4m_source *)src;
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "y4m source: NULL frame");
    tdm_i420 img;
    tdm_status st = tdm_y4m_reader_next(s->reader, &img, err);
    if (st != TDM_OK)
        return st;
    *out = (tdm_frame){
        .format = TDM_PIXFMT_I420,
        .i420 = img,
        .number = s->number++,
        .capture_us = now_us,
        .damage_known = false,
    };
    return TDM_OK;
}

static void source_close(tdm_source *src)
{
    y4m_source *s = (y4m_source *)src;
    tdm_y4m_reader_close(s->reader);
    free(s);
}

static const tdm_source_ops y4m_source_ops = {
    .kind = "y4m",
    .next = source_next,
    .close = source_close,
};

tdm_status tdm_y4m_source_open(const char *path, tdm_source **out, tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "tdm_y4m_source_open: NULL argument");
    *out = NULL;
    tdm_y4m_reader *r;
    tdm_status st = tdm_y4m_reader_open(path, &r, err);
    if (st != TDM_OK)
        return st;
    y4m_source *s = calloc(1, sizeof *s);
    if (!s) {
        tdm_y4m_reader_close(r);
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the Y4M source");
    }
    const tdm_y4m_info *info = tdm_y4m_reader_info(r);
    s->base.ops = &y4m_source_ops;
    s->base.width = info->width;
    s->base.height = info->height;
    s->base.format = TDM_PIXFMT_I420;
    s->base.fps = info->fps_den > 0 ? (double)info->fps_num / info->fps_den : 0.0;
    s->reader = r;
    *out = &s->base;
    return TDM_OK;
}
