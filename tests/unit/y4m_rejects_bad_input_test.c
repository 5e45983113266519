/* y4m_rejects_bad_input_test: every kind of bad Y4M input gives the right
 * status and a message naming the problem; truncation keeps the complete
 * frames before it; write errors (a full disk) are reported; garbage never
 * crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tdm_y4m.h"

static void assert_mentions(const char *msg, const char *needle)
{
    if (!strstr(msg, needle))
        fail_msg("message '%s' does not mention '%s'", msg, needle);
}

static void temp_path(char *path, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, cap, "%s/y4m_rejects_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
}

/* Parses text (a whole header line) and checks status and message. */
static void header_rejected(const char *text, tdm_status want, const char *needle)
{
    tdm_y4m_info info;
    size_t consumed = 0;
    tdm_error err = {{0}};
    tdm_status st = tdm_y4m_parse_header((const uint8_t *)text, strlen(text), &info,
                                         &consumed, &err);
    if (st != want)
        fail_msg("'%s': got %s (%s), want %s", text, tdm_status_str(st), err.msg,
                 tdm_status_str(want));
    assert_mentions(err.msg, needle);
}

static void rejects_missing_magic(void **state)
{
    (void)state;
    header_rejected("YUV4MPEG W10 H10\n", TDM_ERR_FORMAT, "YUV4MPEG2");
    header_rejected("YUV4MPEG2X W10 H10\n", TDM_ERR_FORMAT, "YUV4MPEG2");
    header_rejected("RIFF\x10\0\0\0WAVE", TDM_ERR_FORMAT, "signature");
    header_rejected("\n", TDM_ERR_FORMAT, "YUV4MPEG2");
    /* Garbage is named as soon as it is seen, before any newline. */
    header_rejected("yuv", TDM_ERR_FORMAT, "'yuv'");
}

static void rejects_bad_width_and_height(void **state)
{
    (void)state;
    header_rejected("YUV4MPEG2 H10\n", TDM_ERR_FORMAT, "no width");
    header_rejected("YUV4MPEG2 W10\n", TDM_ERR_FORMAT, "no height");
    header_rejected("YUV4MPEG2\n", TDM_ERR_FORMAT, "W tag");
    header_rejected("YUV4MPEG2 W0 H10\n", TDM_ERR_RANGE, "width W0 is zero");
    header_rejected("YUV4MPEG2 W10 H0\n", TDM_ERR_RANGE, "height H0 is zero");
    header_rejected("YUV4MPEG2 W-5 H10\n", TDM_ERR_RANGE, "width W-5 is negative");
    header_rejected("YUV4MPEG2 W10 H-1\n", TDM_ERR_RANGE, "negative");
    header_rejected("YUV4MPEG2 W16385 H10\n", TDM_ERR_RANGE, "exceeds the limit of 16384");
    header_rejected("YUV4MPEG2 W10 H100000\n", TDM_ERR_RANGE, "height H100000 exceeds");
    header_rejected("YUV4MPEG2 Wabc H10\n", TDM_ERR_FORMAT, "width Wabc is not a number");
    header_rejected("YUV4MPEG2 W12x H10\n", TDM_ERR_FORMAT, "not a number");
    header_rejected("YUV4MPEG2 W+12 H10\n", TDM_ERR_FORMAT, "not a number");
    header_rejected("YUV4MPEG2 W H10\n", TDM_ERR_FORMAT, "no value");
    header_rejected("YUV4MPEG2 W10 H\n", TDM_ERR_FORMAT, "height tag H has no value");
    header_rejected("YUV4MPEG2 W99999999999999999999 H10\n", TDM_ERR_RANGE, "overflows");
    header_rejected("YUV4MPEG2 W2147483648 H10\n", TDM_ERR_RANGE, "overflows");
    header_rejected("YUV4MPEG2 W10 H4294967306\n", TDM_ERR_RANGE, "height");
}

static void rejects_bad_rate_aspect_interlace(void **state)
{
    (void)state;
    header_rejected("YUV4MPEG2 W10 H10 F30:0\n", TDM_ERR_RANGE, "zero denominator");
    header_rejected("YUV4MPEG2 W10 H10 F0:0\n", TDM_ERR_RANGE, "zero denominator");
    header_rejected("YUV4MPEG2 W10 H10 F0:1\n", TDM_ERR_RANGE, "frame rate F0:1 is zero");
    header_rejected("YUV4MPEG2 W10 H10 F30\n", TDM_ERR_FORMAT, "num:den");
    header_rejected("YUV4MPEG2 W10 H10 F30:x\n", TDM_ERR_FORMAT, "frame rate F30:x");
    header_rejected("YUV4MPEG2 W10 H10 F-30:1\n", TDM_ERR_FORMAT, "frame rate");
    header_rejected("YUV4MPEG2 W10 H10 F99999999999:1\n", TDM_ERR_RANGE, "overflows");
    header_rejected("YUV4MPEG2 W10 H10 A1\n", TDM_ERR_FORMAT, "pixel aspect A1");
    header_rejected("YUV4MPEG2 W10 H10 Ix\n", TDM_ERR_FORMAT, "interlace Ix");
    header_rejected("YUV4MPEG2 W10 H10 Ipp\n", TDM_ERR_FORMAT, "interlace");
    header_rejected("YUV4MPEG2 W10 H10 I\n", TDM_ERR_FORMAT, "interlace");
}

static void rejects_unsupported_colorspace(void **state)
{
    (void)state;
    header_rejected("YUV4MPEG2 W10 H10 C444\n", TDM_ERR_UNSUPPORTED, "C444");
    header_rejected("YUV4MPEG2 W10 H10 C420p10\n", TDM_ERR_UNSUPPORTED, "C420p10");
    header_rejected("YUV4MPEG2 W10 H10 C422\n", TDM_ERR_UNSUPPORTED, "C422");
    header_rejected("YUV4MPEG2 W10 H10 Cmono\n", TDM_ERR_UNSUPPORTED, "Cmono");
    header_rejected("YUV4MPEG2 W10 H10 C444alpha\n", TDM_ERR_UNSUPPORTED, "not supported");
    header_rejected("YUV4MPEG2 W10 H10 C\n", TDM_ERR_UNSUPPORTED, "colour space");
    /* A long tag is cut short in the message, not copied whole. */
    char line[600];
    snprintf(line, sizeof line, "YUV4MPEG2 W10 H10 C420%0500d\n", 0);
    header_rejected(line, TDM_ERR_UNSUPPORTED, "...");
}

static void rejects_header_line_too_long(void **state)
{
    (void)state;
    char line[TDM_Y4M_MAX_LINE + 200];
    memset(line, 'X', sizeof line);
    memcpy(line, "YUV4MPEG2 W10 H10 ", 18);
    line[sizeof line - 1] = '\0';
    /* No newline within the cap. */
    header_rejected(line, TDM_ERR_FORMAT, "longer than 1024");
    /* A newline that comes too late is still too long. */
    line[sizeof line - 2] = '\n';
    header_rejected(line, TDM_ERR_FORMAT, "longer than 1024");
    /* Exactly at the cap is fine. */
    line[TDM_Y4M_MAX_LINE - 1] = '\n';
    line[TDM_Y4M_MAX_LINE] = '\0';
    tdm_y4m_info info;
    size_t consumed;
    tdm_error err = {{0}};
    assert_int_equal(tdm_y4m_parse_header((const uint8_t *)line, TDM_Y4M_MAX_LINE, &info,
                                          &consumed, &err),
                     TDM_OK);
    assert_int_equal(consumed, TDM_Y4M_MAX_LINE);
}

static void rejects_bad_frame_marker(void **state)
{
    (void)state;
    size_t consumed;
    tdm_error err = {{0}};
    const char *cases[] = {"FRAMX\n", "FRAMEX\n", "frame\n", "\n", "GARBAGE"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err.msg[0] = '\0';
        assert_int_equal(tdm_y4m_parse_frame_header((const uint8_t *)cases[i],
                                                    strlen(cases[i]), &consumed, &err),
                         TDM_ERR_FORMAT);
        assert_mentions(err.msg, "FRAME");
    }
    char line[TDM_Y4M_MAX_LINE + 10];
    memset(line, 'x', sizeof line);
    memcpy(line, "FRAME ", 6);
    assert_int_equal(
        tdm_y4m_parse_frame_header((const uint8_t *)line, sizeof line, &consumed, &err),
        TDM_ERR_FORMAT);
    assert_mentions(err.msg, "longer than 1024");
}

static void rejects_null_arguments(void **state)
{
    (void)state;
    tdm_y4m_info info;
    size_t consumed;
    tdm_error err = {{0}};
    assert_int_equal(tdm_y4m_parse_header(NULL, 5, &info, &consumed, &err), TDM_ERR_INVALID);
    assert_int_equal(tdm_y4m_parse_header((const uint8_t *)"Y", 1, NULL, &consumed, &err),
                     TDM_ERR_INVALID);
    assert_int_equal(tdm_y4m_parse_frame_header(NULL, 3, &consumed, &err), TDM_ERR_INVALID);
    assert_int_equal(tdm_y4m_reader_open(NULL, NULL, &err), TDM_ERR_INVALID);
    tdm_i420 img;
    assert_int_equal(tdm_y4m_reader_next(NULL, &img, &err), TDM_ERR_INVALID);
    /* Closing nothing is allowed, as with free(). */
    tdm_y4m_reader_close(NULL);
    assert_int_equal(tdm_y4m_writer_close(NULL, &err), TDM_OK);
}

/* Builds a valid 3x3 file with `frames` frames in buf; returns its length
 * and, in *frame_start, where each frame's marker begins. */
static size_t build_file(uint8_t *buf, size_t cap, int frames, size_t *frame_start)
{
    const char header[] = "YUV4MPEG2 W3 H3 F30:1\n";
    size_t n = sizeof header - 1;
    memcpy(buf, header, n);
    for (int f = 0; f < frames; f++) {
        frame_start[f] = n;
        assert_true(n + 6 + 17 <= cap);
        memcpy(buf + n, "FRAME\n", 6);
        n += 6;
        for (int i = 0; i < 17; i++)
            buf[n++] = (uint8_t)(f * 17 + i);
    }
    return n;
}

static tdm_y4m_reader *open_mem(uint8_t *buf, size_t len, FILE **f, tdm_status want,
                                tdm_error *err)
{
    /* fmemopen of zero bytes is refused by older glibc; /dev/null is empty too. */
    *f = len ? fmemopen(buf, len, "rb") : fopen("/dev/null", "rb");
    assert_non_null(*f);
    tdm_y4m_reader *r = NULL;
    tdm_status st = tdm_y4m_reader_open_stream(*f, &r, err);
    if (st != want)
        fail_msg("open of %zu bytes: got %s (%s), want %s", len, tdm_status_str(st), err->msg,
                 tdm_status_str(want));
    return r;
}

static void truncated_mid_frame_keeps_earlier_frames(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t starts[3];
    size_t len = build_file(buf, sizeof buf, 3, starts);
    size_t cut = starts[2] + 6 + 10; /* 10 of frame 2's 17 pixel bytes */
    assert_true(cut < len);

    FILE *f;
    tdm_error err = {{0}};
    tdm_y4m_reader *r = open_mem(buf, cut, &f, TDM_OK, &err);
    tdm_i420 img;
    assert_int_equal(tdm_y4m_reader_next(r, &img, &err), TDM_OK);
    assert_int_equal(img.y[0], 0);
    assert_int_equal(tdm_y4m_reader_next(r, &img, &err), TDM_OK);
    assert_int_equal(img.y[0], 17);
    assert_int_equal(tdm_y4m_reader_next(r, &img, &err), TDM_ERR_TRUNCATED);
    assert_mentions(err.msg, "frame 2");
    assert_mentions(err.msg, "expected 17 bytes");
    assert_mentions(err.msg, "got 10");
    /* The error repeats, message and all, rather than reading on. */
    tdm_error again = {{0}};
    assert_int_equal(tdm_y4m_reader_next(r, &img, &again), TDM_ERR_TRUNCATED);
    assert_string_equal(again.msg, err.msg);
    tdm_y4m_reader_close(r);
    fclose(f);
}

/* Every cut of a 2-frame file: the header cut gives TRUNCATED at open, a
 * cut at a frame boundary gives clean EOF, any other cut gives the complete
 * frames and then TRUNCATED. */
static void every_truncation_point(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t starts[2];
    size_t len = build_file(buf, sizeof buf, 2, starts);
    for (size_t cut = 0; cut <= len; cut++) {
        FILE *f;
        tdm_error err = {{0}};
        if (cut < starts[0]) {
            tdm_y4m_reader *r = open_mem(buf, cut, &f, TDM_ERR_TRUNCATED, &err);
            assert_null(r);
            assert_mentions(err.msg, cut == 0 ? "empty" : "stream header");
            fclose(f);
            continue;
        }
        tdm_y4m_reader *r = open_mem(buf, cut, &f, TDM_OK, &err);
        int complete = cut == len ? 2 : cut >= starts[1] ? 1 : 0;
        tdm_i420 img;
        for (int i = 0; i < complete; i++)
            assert_int_equal(tdm_y4m_reader_next(r, &img, &err), TDM_OK);
        bool boundary = cut == starts[0] || cut == starts[1] || cut == len;
        tdm_status st = tdm_y4m_reader_next(r, &img, &err);
        if (boundary) {
            assert_int_equal(st, TDM_EOF);
        } else {
            if (st != TDM_ERR_TRUNCATED)
                fail_msg("cut %zu: got %s (%s)", cut, tdm_status_str(st), err.msg);
            char want[32];
            snprintf(want, sizeof want, "frame %d", complete);
            assert_mentions(err.msg, want);
        }
        tdm_y4m_reader_close(r);
        fclose(f);
    }
}

static void bad_marker_names_the_frame(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t starts[3];
    size_t len = build_file(buf, sizeof buf, 3, starts);
    memcpy(buf + starts[2], "FRAMX\n", 6);
    FILE *f;
    tdm_error err = {{0}};
    tdm_y4m_reader *r = open_mem(buf, len, &f, TDM_OK, &err);
    tdm_i420 img;
    assert_int_equal(tdm_y4m_reader_next(r, &img, &err), TDM_OK);
    assert_int_equal(tdm_y4m_reader_next(r, &img, &err), TDM_OK);
    assert_int_equal(tdm_y4m_reader_next(r, &img, &err), TDM_ERR_FORMAT);
    assert_mentions(err.msg, "frame 2");
    assert_mentions(err.msg, "FRAMX");
    char at[32];
    snprintf(at, sizeof at, "byte %zu", starts[2]);
    assert_mentions(err.msg, at);
    tdm_y4m_reader_close(r);
    fclose(f);

    /* Trailing junk after the last frame is a bad marker, not a clean end. */
    uint8_t junk[256];
    len = build_file(junk, sizeof junk - 4, 1, starts);
    memcpy(junk + len, "abc", 3);
    r = open_mem(junk, len + 3, &f, TDM_OK, &err);
    assert_int_equal(tdm_y4m_reader_next(r, &img, &err), TDM_OK);
    assert_int_equal(tdm_y4m_reader_next(r, &img, &err), TDM_ERR_FORMAT);
    assert_mentions(err.msg, "frame 1");
    tdm_y4m_reader_close(r);
    fclose(f);

    /* A marker cut short at the end of the file. */
    len = build_file(junk, sizeof junk - 4, 1, starts);
    memcpy(junk + len, "FRA", 3);
    r = open_mem(junk, len + 3, &f, TDM_OK, &err);
    assert_int_equal(tdm_y4m_reader_next(r, &img, &err), TDM_OK);
    assert_int_equal(tdm_y4m_reader_next(r, &img, &err), TDM_ERR_TRUNCATED);
    assert_mentions(err.msg, "frame 1");
    assert_mentions(err.msg, "FRAME marker");
    tdm_y4m_reader_close(r);
    fclose(f);
}

static void reader_header_errors(void **state)
{
    (void)state;
    FILE *f;
    tdm_error err = {{0}};
    char c444[] = "YUV4MPEG2 W4 H4 C444\nFRAME\n";
    assert_null(open_mem((uint8_t *)c444, strlen(c444), &f, TDM_ERR_UNSUPPORTED, &err));
    assert_mentions(err.msg, "C444");
    fclose(f);

    /* A long header line with no newline: the reader stops at the cap
     * instead of reading the whole file looking for one. */
    static uint8_t big[4096];
    memset(big, 'X', sizeof big);
    memcpy(big, "YUV4MPEG2 W4 H4 ", 16);
    assert_null(open_mem(big, sizeof big, &f, TDM_ERR_FORMAT, &err));
    assert_mentions(err.msg, "longer than 1024");
    assert_int_equal(ftell(f), TDM_Y4M_MAX_LINE);
    fclose(f);

    /* A file path is named in the message. */
    char path[512];
    temp_path(path, sizeof path);
    FILE *w = fopen(path, "wb");
    assert_non_null(w);
    fputs("YUV4MPEG2 W0 H4\n", w);
    fclose(w);
    tdm_y4m_reader *r = NULL;
    assert_int_equal(tdm_y4m_reader_open(path, &r, &err), TDM_ERR_RANGE);
    assert_null(r);
    assert_mentions(err.msg, path);
    assert_mentions(err.msg, "W0");
    tdm_source *src = NULL;
    assert_int_equal(tdm_y4m_source_open(path, &src, &err), TDM_ERR_RANGE);
    assert_null(src);
    unlink(path);

    assert_int_equal(tdm_y4m_reader_open("/nonexistent/dir/x.y4m", &r, &err), TDM_ERR_IO);
    assert_mentions(err.msg, "/nonexistent/dir/x.y4m");
}

static void source_reports_truncation(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t starts[2];
    size_t len = build_file(buf, sizeof buf, 2, starts);
    char path[512];
    temp_path(path, sizeof path);
    FILE *w = fopen(path, "wb");
    assert_non_null(w);
    assert_int_equal(fwrite(buf, 1, len - 1, w), len - 1);
    fclose(w);
    tdm_error err = {{0}};
    tdm_source *src = NULL;
    assert_int_equal(tdm_y4m_source_open(path, &src, &err), TDM_OK);
    tdm_frame fr;
    assert_int_equal(tdm_source_next(src, 1, &fr, &err), TDM_OK);
    assert_int_equal(fr.number, 0);
    assert_int_equal(tdm_source_next(src, 2, &fr, &err), TDM_ERR_TRUNCATED);
    assert_mentions(err.msg, path);
    assert_mentions(err.msg, "frame 1");
    assert_mentions(err.msg, "expected 17 bytes, got 16");
    tdm_source_close(src);
    unlink(path);
}

static void writer_rejects_bad_arguments(void **state)
{
    (void)state;
    char path[512];
    temp_path(path, sizeof path);
    tdm_error err = {{0}};
    tdm_y4m_writer *w = NULL;
    assert_int_equal(tdm_y4m_writer_open(path, 0, 10, 30, 1, &w, &err), TDM_ERR_RANGE);
    assert_int_equal(tdm_y4m_writer_open(path, 10, TDM_MAX_DIMENSION + 1, 30, 1, &w, &err),
                     TDM_ERR_RANGE);
    assert_int_equal(tdm_y4m_writer_open(path, 10, 10, 30, 0, &w, &err), TDM_ERR_RANGE);
    assert_mentions(err.msg, "frame rate");
    assert_int_equal(tdm_y4m_writer_open(path, 10, 10, -1, 1, &w, &err), TDM_ERR_RANGE);
    assert_null(w);
    assert_int_equal(tdm_y4m_writer_open("/nonexistent/dir/out.y4m", 10, 10, 30, 1, &w, &err),
                     TDM_ERR_IO);
    assert_mentions(err.msg, "/nonexistent/dir/out.y4m");

    assert_int_equal(tdm_y4m_writer_open(path, 10, 10, 30, 1, &w, &err), TDM_OK);
    tdm_i420 img;
    assert_int_equal(tdm_i420_alloc(&img, 12, 10), TDM_OK);
    assert_int_equal(tdm_y4m_writer_write(w, &img, &err), TDM_ERR_INVALID);
    assert_mentions(err.msg, "12x10");
    tdm_i420 none = {0};
    assert_int_equal(tdm_y4m_writer_write(w, &none, &err), TDM_ERR_INVALID);
    tdm_i420_free(&img);
    /* A rejected frame does not poison the file. */
    assert_int_equal(tdm_i420_alloc(&img, 10, 10), TDM_OK);
    assert_int_equal(tdm_y4m_writer_write(w, &img, &err), TDM_OK);
    tdm_i420_free(&img);
    assert_int_equal(tdm_y4m_writer_close(w, &err), TDM_OK);
    unlink(path);
}

/* /dev/full accepts open and fails every write with ENOSPC: a full disk. */
static void writer_reports_disk_full(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    tdm_error err = {{0}};
    tdm_y4m_writer *w = NULL;
    /* Big frames: the first write overflows the stdio buffer. */
    assert_int_equal(tdm_y4m_writer_open("/dev/full", 256, 256, 30, 1, &w, &err), TDM_OK);
    tdm_i420 img;
    assert_int_equal(tdm_i420_alloc(&img, 256, 256), TDM_OK);
    assert_int_equal(tdm_y4m_writer_write(w, &img, &err), TDM_ERR_IO);
    assert_mentions(err.msg, "frame 0");
    assert_mentions(err.msg, "/dev/full");
    assert_mentions(err.msg, "No space");
    /* Later writes and close repeat the first error. */
    assert_int_equal(tdm_y4m_writer_write(w, &img, &err), TDM_ERR_IO);
    err.msg[0] = '\0';
    assert_int_equal(tdm_y4m_writer_close(w, &err), TDM_ERR_IO);
    assert_mentions(err.msg, "frame 0");
    tdm_i420_free(&img);

    /* Small frames: everything fits in the buffer, so only close can tell. */
    assert_int_equal(tdm_y4m_writer_open("/dev/full", 2, 2, 30, 1, &w, &err), TDM_OK);
    assert_int_equal(tdm_i420_alloc(&img, 2, 2), TDM_OK);
    assert_int_equal(tdm_y4m_writer_write(w, &img, &err), TDM_OK);
    tdm_i420_free(&img);
    err.msg[0] = '\0';
    assert_int_equal(tdm_y4m_writer_close(w, &err), TDM_ERR_IO);
    assert_mentions(err.msg, "/dev/full");
    assert_mentions(err.msg, "No space");
}

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static bool is_known_status(tdm_status st)
{
    return st == TDM_OK || st == TDM_AGAIN || st == TDM_EOF || st == TDM_ERR_FORMAT ||
           st == TDM_ERR_RANGE || st == TDM_ERR_UNSUPPORTED || st == TDM_ERR_TRUNCATED ||
           st == TDM_ERR_NOMEM;
}

/* Feeds bytes to the parsers and the reader; every outcome must be a known
 * status, and every error must come with a message. */
static int drive(uint8_t *buf, size_t len)
{
    tdm_y4m_info info;
    size_t consumed = 0;
    tdm_error err = {{0}};
    tdm_status st = tdm_y4m_parse_header(buf, len, &info, &consumed, &err);
    assert_true(is_known_status(st));
    if (st < 0)
        assert_true(err.msg[0] != '\0');
    if (st == TDM_OK)
        assert_true(consumed <= len && buf[consumed - 1] == '\n');
    st = tdm_y4m_parse_frame_header(buf, len, &consumed, &err);
    assert_true(is_known_status(st));

    if (len == 0)
        return 0;
    FILE *f = fmemopen(buf, len, "rb");
    assert_non_null(f);
    tdm_y4m_reader *r = NULL;
    err.msg[0] = '\0';
    st = tdm_y4m_reader_open_stream(f, &r, &err);
    assert_true(is_known_status(st));
    int frames = 0;
    if (st == TDM_OK) {
        tdm_i420 img;
        while ((st = tdm_y4m_reader_next(r, &img, &err)) == TDM_OK) {
            assert_int_equal(img.width, tdm_y4m_reader_info(r)->width);
            frames++;
        }
        assert_true(is_known_status(st));
        tdm_y4m_reader_close(r);
    }
    if (st < 0)
        assert_true(err.msg[0] != '\0');
    fclose(f);
    return frames;
}

static void garbage_never_crashes(void **state)
{
    (void)state;
    uint32_t seed = 0x9e3779b9u;
    uint8_t buf[2048];
    /* Pure noise, noise after a valid signature, and noise made of the
     * characters headers are made of. */
    static const char alphabet[] = "YUV4MPEG2 WHFAICX0123456789:-\nFRAMEp?";
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = xorshift(&seed) % sizeof buf;
        int mode = iter % 3;
        for (size_t i = 0; i < len; i++) {
            uint32_t x = xorshift(&seed);
            buf[i] = mode == 2 ? (uint8_t)alphabet[x % (sizeof alphabet - 1)] : (uint8_t)x;
        }
        if (mode == 1 && len > 10)
            memcpy(buf, "YUV4MPEG2 ", 10);
        drive(buf, len);
    }
}

static void mutated_valid_files_never_crash(void **state)
{
    (void)state;
    uint32_t seed = 12345;
    uint8_t base[256], buf[256];
    size_t starts[3];
    size_t len = build_file(base, sizeof base, 3, starts);
    assert_int_equal(drive(base, len), 3);
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, base, len);
        int flips = 1 + (int)(xorshift(&seed) % 4);
        for (int i = 0; i < flips; i++)
            buf[xorshift(&seed) % len] = (uint8_t)xorshift(&seed);
        size_t n = len - xorshift(&seed) % 8;
        assert_true(drive(buf, n) <= 3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rejects_missing_magic),
        cmocka_unit_test(rejects_bad_width_and_height),
        cmocka_unit_test(rejects_bad_rate_aspect_interlace),
        cmocka_unit_test(rejects_unsupported_colorspace),
        cmocka_unit_test(rejects_header_line_too_long),
        cmocka_unit_test(rejects_bad_frame_marker),
        cmocka_unit_test(rejects_null_arguments),
        cmocka_unit_test(truncated_mid_frame_keeps_earlier_frames),
        cmocka_unit_test(every_truncation_point),
        cmocka_unit_test(bad_marker_names_the_frame),
        cmocka_unit_test(reader_header_errors),
        cmocka_unit_test(source_reports_truncation),
        cmocka_unit_test(writer_rejects_bad_arguments),
        cmocka_unit_test(writer_reports_disk_full),
        cmocka_unit_test(garbage_never_crashes),
        cmocka_unit_test(mutated_valid_files_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
