/* fuzz_y4m: drives the Y4M header and FRAME parsers and the stream reader
 * over arbitrary bytes, and aborts when an invariant of their contracts
 * breaks (what was consumed, the geometry of a frame, error messages). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_y4m.h"

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "fuzz_y4m: invariant failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                   \
            abort();                                                             \
        }                                                                        \
    } while (0)

static void check_status(tdm_status st, const tdm_error *err)
{
    CHECK(st == TDM_OK || st == TDM_AGAIN || st == TDM_EOF || st == TDM_ERR_FORMAT ||
          st == TDM_ERR_RANGE || st == TDM_ERR_UNSUPPORTED || st == TDM_ERR_TRUNCATED ||
          st == TDM_ERR_NOMEM);
    if (st < 0) {
        CHECK(err->msg[0] != '\0');
        /* Messages quote file bytes only in printable form. */
        for (const char *p = err->msg; *p; p++)
            CHECK(*p != '\n');
    }
}

static void check_info(const tdm_y4m_info *info)
{
    CHECK(info->width >= 1 && info->width <= TDM_MAX_DIMENSION);
    CHECK(info->height >= 1 && info->height <= TDM_MAX_DIMENSION);
    CHECK((info->fps_num == 0 && info->fps_den == 0) ||
          (info->fps_num > 0 && info->fps_den > 0));
    CHECK(info->par_num >= 0 && info->par_den >= 0);
    CHECK(memchr(info->colorspace, '\0', sizeof info->colorspace) != NULL);
    CHECK(strchr("ptbm?", info->interlace) && info->interlace != '\0');
    CHECK(tdm_y4m_frame_size(info->width, info->height) >=
          (size_t)info->width * (size_t)info->height);
}

/* Sums every pixel of the frame, so a view that points outside its buffer
 * is caught by ASan. */
static unsigned touch(const tdm_i420 *img)
{
    unsigned sum = 0;
    int cw = (img->width + 1) / 2, ch = (img->height + 1) / 2;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            sum += img->y[(size_t)y * img->stride_y + x];
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++)
            sum += img->u[(size_t)y * img->stride_u + x] + img->v[(size_t)y * img->stride_v + x];
    return sum;
}

static void parse_bytes(const uint8_t *data, size_t size)
{
    tdm_y4m_info info;
    size_t consumed = 0;
    tdm_error err = {{0}};
    tdm_status st = tdm_y4m_parse_header(data, size, &info, &consumed, &err);
    check_status(st, &err);
    if (st == TDM_AGAIN)
        CHECK(size < TDM_Y4M_MAX_LINE);
    if (st != TDM_OK)
        return;
    CHECK(consumed >= 1 && consumed <= size && consumed <= TDM_Y4M_MAX_LINE);
    CHECK(data[consumed - 1] == '\n');
    CHECK(memchr(data, '\n', consumed - 1) == NULL);
    check_info(&info);
    /* A prefix of a good line is never a good line. */
    tdm_y4m_info shorter;
    size_t c2 = 0;
    CHECK(tdm_y4m_parse_header(data, consumed - 1, &shorter, &c2, &err) != TDM_OK);

    /* Walk the frames in memory with the sans-IO parser. */
    size_t frame_size = tdm_y4m_frame_size(info.width, info.height);
    size_t pos = consumed;
    while (pos < size) {
        st = tdm_y4m_parse_frame_header(data + pos, size - pos, &consumed, &err);
        check_status(st, &err);
        if (st != TDM_OK)
            break;
        CHECK(consumed >= 6 && consumed <= size - pos && data[pos + consumed - 1] == '\n');
        pos += consumed;
        if (size - pos < frame_size)
            break;
        pos += frame_size;
    }
}

static void read_stream(const uint8_t *data, size_t size)
{
    if (size == 0)
        return; /* fmemopen refuses an empty buffer on older glibc */
    FILE *f = fmemopen((void *)(uintptr_t)data, size, "rb");
    if (!f)
        return;
    tdm_error err = {{0}};
    tdm_y4m_reader *r = NULL;
    tdm_status st = tdm_y4m_reader_open_stream(f, &r, &err);
    check_status(st, &err);
    CHECK((st == TDM_OK) == (r != NULL));
    if (st == TDM_OK) {
        const tdm_y4m_info info = *tdm_y4m_reader_info(r);
        check_info(&info);
        size_t frame_size = tdm_y4m_frame_size(info.width, info.height);
        size_t frames = 0;
        tdm_i420 img;
        unsigned sum = 0;
        while ((st = tdm_y4m_reader_next(r, &img, &err)) == TDM_OK) {
            CHECK(img.width == info.width && img.height == info.height);
            CHECK(tdm_i420_check(&img, NULL) == TDM_OK);
            sum += touch(&img);
            frames++;
            /* Each frame needs its marker and its pixels from the input. */
            CHECK(frames * (6 + frame_size) <= size);
        }
        (void)sum;
        check_status(st, &err);
        CHECK(st != TDM_AGAIN);
        /* Terminal statuses repeat. */
        tdm_error again = {{0}};
        CHECK(tdm_y4m_reader_next(r, &img, &again) == st);
        if (st < 0)
            CHECK(strcmp(again.msg, err.msg) == 0);
        tdm_y4m_reader_close(r);
    }
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse_bytes(data, size);
    read_stream(data, size);
    return 0;
}
