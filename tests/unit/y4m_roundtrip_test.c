/* y4m_roundtrip_test: frames written by the Y4M writer come back from the
 * reader and the tdm_source adapter byte for byte; header tags are parsed. */
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

static void temp_path(char *path, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, cap, "%s/y4m_roundtrip_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
}

/* A pattern that differs per frame, plane, row and column, so a swapped
 * plane, a dropped row or a stride mistake all change some byte. */
static void fill(tdm_i420 *img, int frame)
{
    int cw = (img->width + 1) / 2, ch = (img->height + 1) / 2;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            img->y[(size_t)y * img->stride_y + x] = (uint8_t)(x * 7 + y * 13 + frame * 31);
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++) {
            img->u[(size_t)y * img->stride_u + x] = (uint8_t)(x * 3 + y * 5 + frame * 11 + 1);
            img->v[(size_t)y * img->stride_v + x] = (uint8_t)(x * 17 + y * 2 + frame * 19 + 2);
        }
}

static void assert_same_pixels(const tdm_i420 *a, const tdm_i420 *b)
{
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
    int cw = (a->width + 1) / 2, ch = (a->height + 1) / 2;
    for (int y = 0; y < a->height; y++)
        assert_memory_equal(a->y + (size_t)y * a->stride_y, b->y + (size_t)y * b->stride_y,
                            (size_t)a->width);
    for (int y = 0; y < ch; y++) {
        assert_memory_equal(a->u + (size_t)y * a->stride_u, b->u + (size_t)y * b->stride_u,
                            (size_t)cw);
        assert_memory_equal(a->v + (size_t)y * a->stride_v, b->v + (size_t)y * b->stride_v,
                            (size_t)cw);
    }
}

static void write_file(const char *path, int w, int h, int fps_num, int fps_den, int frames)
{
    tdm_error err = {{0}};
    tdm_y4m_writer *wr = NULL;
    assert_int_equal(tdm_y4m_writer_open(path, w, h, fps_num, fps_den, &wr, &err), TDM_OK);
    tdm_i420 img;
    assert_int_equal(tdm_i420_alloc(&img, w, h), TDM_OK);
    for (int i = 0; i < frames; i++) {
        fill(&img, i);
        assert_int_equal(tdm_y4m_writer_write(wr, &img, &err), TDM_OK);
    }
    tdm_i420_free(&img);
    assert_int_equal(tdm_y4m_writer_close(wr, &err), TDM_OK);
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void roundtrip(int w, int h, int frames)
{
    char path[512];
    temp_path(path, sizeof path);
    write_file(path, w, h, 30, 1, frames);

    char header[128];
    int hlen = snprintf(header, sizeof header, "YUV4MPEG2 W%d H%d F30:1 Ip A1:1 C420jpeg\n", w, h);
    assert_int_equal(file_size(path),
                     hlen + (long)frames * (6 + (long)tdm_y4m_frame_size(w, h)));

    tdm_error err = {{0}};
    tdm_y4m_reader *r = NULL;
    assert_int_equal(tdm_y4m_reader_open(path, &r, &err), TDM_OK);
    const tdm_y4m_info *info = tdm_y4m_reader_info(r);
    assert_int_equal(info->width, w);
    assert_int_equal(info->height, h);
    assert_int_equal(info->fps_num, 30);
    assert_int_equal(info->fps_den, 1);
    assert_int_equal(info->par_num, 1);
    assert_int_equal(info->par_den, 1);
    assert_int_equal(info->interlace, 'p');
    assert_string_equal(info->colorspace, "420jpeg");

    tdm_i420 want;
    assert_int_equal(tdm_i420_alloc(&want, w, h), TDM_OK);
    for (int i = 0; i < frames; i++) {
        tdm_i420 got;
        assert_int_equal(tdm_y4m_reader_next(r, &got, &err), TDM_OK);
        assert_int_equal(tdm_i420_check(&got, &err), TDM_OK);
        assert_null(got.owned);
        fill(&want, i);
        assert_same_pixels(&want, &got);
    }
    tdm_i420 got;
    assert_int_equal(tdm_y4m_reader_next(r, &got, &err), TDM_EOF);
    /* EOF is sticky rather than a fresh read of a finished stream. */
    assert_int_equal(tdm_y4m_reader_next(r, &got, &err), TDM_EOF);
    tdm_i420_free(&want);
    tdm_y4m_reader_close(r);
    unlink(path);
}

static void roundtrip_even_sizes(void **state)
{
    (void)state;
    roundtrip(2, 2, 1);
    roundtrip(64, 48, 3);
    roundtrip(320, 240, 2);
}

static void roundtrip_odd_sizes(void **state)
{
    (void)state;
    roundtrip(1, 1, 3);
    roundtrip(33, 17, 3);
    roundtrip(17, 33, 2);
    roundtrip(3, 5, 1);
    roundtrip(1, 64, 2);
}

static void roundtrip_zero_frames(void **state)
{
    (void)state;
    roundtrip(33, 17, 0);
}

static void frame_size_formula(void **state)
{
    (void)state;
    assert_int_equal(tdm_y4m_frame_size(1, 1), 3);
    assert_int_equal(tdm_y4m_frame_size(2, 2), 6);
    assert_int_equal(tdm_y4m_frame_size(3, 3), 9 + 2 * 4);
    assert_int_equal(tdm_y4m_frame_size(33, 17), 33 * 17 + 2 * 17 * 9);
    assert_int_equal(tdm_y4m_frame_size(1920, 1080), 1920 * 1080 * 3 / 2);
    assert_int_equal(tdm_y4m_frame_size(TDM_MAX_DIMENSION, TDM_MAX_DIMENSION),
                     (size_t)TDM_MAX_DIMENSION * TDM_MAX_DIMENSION * 3 / 2);
    assert_int_equal(tdm_y4m_frame_size(0, 10), 0);
    assert_int_equal(tdm_y4m_frame_size(10, -1), 0);
    assert_int_equal(tdm_y4m_frame_size(TDM_MAX_DIMENSION + 1, 1), 0);
}

static tdm_y4m_info parse_ok(const char *text)
{
    tdm_y4m_info info;
    size_t consumed = 0;
    tdm_error err = {{0}};
    tdm_status st = tdm_y4m_parse_header((const uint8_t *)text, strlen(text), &info,
                                         &consumed, &err);
    if (st != TDM_OK)
        fail_msg("'%s' -> %s: %s", text, tdm_status_str(st), err.msg);
    assert_int_equal(consumed, strchr(text, '\n') - text + 1);
    return info;
}

static void header_defaults_when_tags_absent(void **state)
{
    (void)state;
    tdm_y4m_info info = parse_ok("YUV4MPEG2 W10 H20\n");
    assert_int_equal(info.width, 10);
    assert_int_equal(info.height, 20);
    assert_int_equal(info.fps_num, 0);
    assert_int_equal(info.fps_den, 0);
    assert_int_equal(info.par_num, 0);
    assert_int_equal(info.par_den, 0);
    assert_int_equal(info.interlace, '?');
    assert_string_equal(info.colorspace, "420jpeg");
}

static void header_tags_parsed(void **state)
{
    (void)state;
    tdm_y4m_info info = parse_ok("YUV4MPEG2 C420mpeg2 H1080 F30000:1001 It A128:117 W1920\n");
    assert_int_equal(info.width, 1920);
    assert_int_equal(info.height, 1080);
    assert_int_equal(info.fps_num, 30000);
    assert_int_equal(info.fps_den, 1001);
    assert_int_equal(info.par_num, 128);
    assert_int_equal(info.par_den, 117);
    assert_int_equal(info.interlace, 't');
    assert_string_equal(info.colorspace, "420mpeg2");

    assert_string_equal(parse_ok("YUV4MPEG2 W2 H2 C420\n").colorspace, "420");
    assert_string_equal(parse_ok("YUV4MPEG2 W2 H2 C420jpeg\n").colorspace, "420jpeg");
    assert_string_equal(parse_ok("YUV4MPEG2 W2 H2 C420paldv\n").colorspace, "420paldv");
    assert_int_equal(parse_ok("YUV4MPEG2 W2 H2 Ip\n").interlace, 'p');
    assert_int_equal(parse_ok("YUV4MPEG2 W2 H2 Ib\n").interlace, 'b');
    assert_int_equal(parse_ok("YUV4MPEG2 W2 H2 Im\n").interlace, 'm');
    assert_int_equal(parse_ok("YUV4MPEG2 W2 H2 I?\n").interlace, '?');
    info = parse_ok("YUV4MPEG2 W2 H2 A0:0\n");
    assert_int_equal(info.par_num, 0);
    assert_int_equal(info.par_den, 0);
    info = parse_ok("YUV4MPEG2 W2 H2 F25:1\n");
    assert_int_equal(info.fps_num, 25);
    assert_int_equal(info.fps_den, 1);
    /* Leading zeros are still decimal, not octal. */
    assert_int_equal(parse_ok("YUV4MPEG2 W010 H2\n").width, 10);
    assert_int_equal(parse_ok("YUV4MPEG2 W16384 H16384\n").height, 16384);
}

static void header_x_params_and_unknown_tags_ignored(void **state)
{
    (void)state;
    tdm_y4m_info info =
        parse_ok("YUV4MPEG2 W33 XYSCSS=420JPEG H17 XCOLORRANGE=FULL Zfuture F1:1 X\n");
    assert_int_equal(info.width, 33);
    assert_int_equal(info.height, 17);
    assert_int_equal(info.fps_num, 1);
    /* Doubled spaces are tolerated. */
    info = parse_ok("YUV4MPEG2  W4  H6 \n");
    assert_int_equal(info.width, 4);
    assert_int_equal(info.height, 6);
}

static void header_incremental(void **state)
{
    (void)state;
    const char *text = "YUV4MPEG2 W33 H17 F30:1\nFRAME\n";
    size_t line = strlen("YUV4MPEG2 W33 H17 F30:1\n");
    tdm_y4m_info info;
    size_t consumed;
    tdm_error err = {{0}};
    for (size_t n = 0; n < line; n++)
        assert_int_equal(
            tdm_y4m_parse_header((const uint8_t *)text, n, &info, &consumed, &err),
            TDM_AGAIN);
    /* Bytes after the line belong to the caller and are not consumed. */
    assert_int_equal(tdm_y4m_parse_header((const uint8_t *)text, strlen(text), &info,
                                          &consumed, &err),
                     TDM_OK);
    assert_int_equal(consumed, line);
    assert_int_equal(info.width, 33);
}

static void frame_header_parsed(void **state)
{
    (void)state;
    size_t consumed = 0;
    tdm_error err = {{0}};
    const char *plain = "FRAME\nxyz";
    assert_int_equal(tdm_y4m_parse_frame_header((const uint8_t *)plain, strlen(plain),
                                                &consumed, &err),
                     TDM_OK);
    assert_int_equal(consumed, 6);
    const char *params = "FRAME Ib XFOO=1\n";
    assert_int_equal(tdm_y4m_parse_frame_header((const uint8_t *)params, strlen(params),
                                                &consumed, &err),
                     TDM_OK);
    assert_int_equal(consumed, strlen(params));
    for (size_t n = 0; n < 6; n++)
        assert_int_equal(
            tdm_y4m_parse_frame_header((const uint8_t *)plain, n, &consumed, &err),
            TDM_AGAIN);
}

/* A file written by hand, with tags the writer never emits and per-frame
 * parameters, read through open_stream. */
static void reader_accepts_foreign_tags(void **state)
{
    (void)state;
    const char header[] = "YUV4MPEG2 W3 H3 F25:1 Ib A0:0 C420paldv XYSCSS=420PALDV\n";
    uint8_t buf[256];
    size_t n = 0;
    memcpy(buf + n, header, sizeof header - 1);
    n += sizeof header - 1;
    for (int f = 0; f < 2; f++) {
        const char *marker = f == 0 ? "FRAME\n" : "FRAME Ip XFOO=bar\n";
        memcpy(buf + n, marker, strlen(marker));
        n += strlen(marker);
        for (int i = 0; i < 17; i++)
            buf[n++] = (uint8_t)(f * 100 + i);
    }
    FILE *f = fmemopen(buf, n, "rb");
    assert_non_null(f);
    tdm_error err = {{0}};
    tdm_y4m_reader *r = NULL;
    assert_int_equal(tdm_y4m_reader_open_stream(f, &r, &err), TDM_OK);
    assert_string_equal(tdm_y4m_reader_info(r)->colorspace, "420paldv");
    assert_int_equal(tdm_y4m_reader_info(r)->interlace, 'b');
    for (int fr = 0; fr < 2; fr++) {
        tdm_i420 img;
        assert_int_equal(tdm_y4m_reader_next(r, &img, &err), TDM_OK);
        assert_int_equal(img.width, 3);
        assert_int_equal(img.height, 3);
        for (int i = 0; i < 9; i++)
            assert_int_equal(img.y[(i / 3) * img.stride_y + i % 3], fr * 100 + i);
        for (int i = 0; i < 4; i++) {
            assert_int_equal(img.u[(i / 2) * img.stride_u + i % 2], fr * 100 + 9 + i);
            assert_int_equal(img.v[(i / 2) * img.stride_v + i % 2], fr * 100 + 13 + i);
        }
    }
    tdm_i420 img;
    assert_int_equal(tdm_y4m_reader_next(r, &img, &err), TDM_EOF);
    tdm_y4m_reader_close(r);
    /* The reader leaves a stream it did not open to its owner. */
    assert_int_equal(ftell(f), (long)n);
    fclose(f);
}

/* The reader hands back the same buffer every frame: no per-frame allocation. */
static void reader_reuses_its_frame(void **state)
{
    (void)state;
    char path[512];
    temp_path(path, sizeof path);
    write_file(path, 33, 17, 30, 1, 3);
    tdm_error err = {{0}};
    tdm_y4m_reader *r = NULL;
    assert_int_equal(tdm_y4m_reader_open(path, &r, &err), TDM_OK);
    tdm_i420 a, b;
    assert_int_equal(tdm_y4m_reader_next(r, &a, &err), TDM_OK);
    assert_int_equal(tdm_y4m_reader_next(r, &b, &err), TDM_OK);
    assert_ptr_equal(a.y, b.y);
    assert_ptr_equal(a.u, b.u);
    assert_ptr_equal(a.v, b.v);
    tdm_y4m_reader_close(r);
    unlink(path);
}

static void source_yields_frames_then_eof(void **state)
{
    (void)state;
    char path[512];
    temp_path(path, sizeof path);
    write_file(path, 33, 17, 30000, 1001, 3);

    tdm_error err = {{0}};
    tdm_source *src = NULL;
    assert_int_equal(tdm_y4m_source_open(path, &src, &err), TDM_OK);
    assert_string_equal(src->ops->kind, "y4m");
    assert_int_equal(src->width, 33);
    assert_int_equal(src->height, 17);
    assert_int_equal(src->format, TDM_PIXFMT_I420);
    assert_true(src->fps > 29.97 - 1e-3 && src->fps < 29.97 + 1e-3);

    tdm_i420 want;
    assert_int_equal(tdm_i420_alloc(&want, 33, 17), TDM_OK);
    for (int i = 0; i < 3; i++) {
        tdm_frame fr;
        uint64_t now = 1000000u + (uint64_t)i * 33367u;
        assert_int_equal(tdm_source_next(src, now, &fr, &err), TDM_OK);
        assert_int_equal(fr.format, TDM_PIXFMT_I420);
        assert_int_equal(fr.number, (uint64_t)i);
        assert_int_equal(fr.capture_us, now);
        assert_false(fr.damage_known);
        assert_int_equal(fr.damage_count, 0);
        fill(&want, i);
        assert_same_pixels(&want, &fr.i420);
    }
    tdm_frame fr;
    assert_int_equal(tdm_source_next(src, 5000000, &fr, &err), TDM_EOF);
    assert_int_equal(tdm_source_next(src, 5000001, &fr, &err), TDM_EOF);
    tdm_i420_free(&want);
    tdm_source_close(src);
    unlink(path);
}

static void source_without_rate_has_fps_zero(void **state)
{
    (void)state;
    char path[512];
    temp_path(path, sizeof path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("YUV4MPEG2 W2 H2\nFRAME\n", f);
    fwrite("\1\2\3\4\5\6", 1, 6, f);
    fclose(f);
    tdm_error err = {{0}};
    tdm_source *src = NULL;
    assert_int_equal(tdm_y4m_source_open(path, &src, &err), TDM_OK);
    assert_true(src->fps == 0.0);
    tdm_frame fr;
    assert_int_equal(tdm_source_next(src, 7, &fr, &err), TDM_OK);
    assert_int_equal(fr.number, 0);
    assert_int_equal(fr.i420.y[0], 1);
    assert_int_equal(fr.i420.v[0], 6);
    assert_int_equal(tdm_source_next(src, 8, &fr, &err), TDM_EOF);
    tdm_source_close(src);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip_even_sizes),
        cmocka_unit_test(roundtrip_odd_sizes),
        cmocka_unit_test(roundtrip_zero_frames),
        cmocka_unit_test(frame_size_formula),
        cmocka_unit_test(header_defaults_when_tags_absent),
        cmocka_unit_test(header_tags_parsed),
        cmocka_unit_test(header_x_params_and_unknown_tags_ignored),
        cmocka_unit_test(header_incremental),
        cmocka_unit_test(frame_header_parsed),
        cmocka_unit_test(reader_accepts_foreign_tags),
        cmocka_unit_test(reader_reuses_its_frame),
        cmocka_unit_test(source_yields_frames_then_eof),
        cmocka_unit_test(source_without_rate_has_fps_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
