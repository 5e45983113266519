/* fuzz_vp8_frame_header: follows arbitrary bytes as a sequence of VP8
 * frames (records of a 2-byte little-endian length and that many bytes)
 * with tdm_vp8_stream, the header follower behind Tandem's own VP8 frames.
 * Contract: never reads out of bounds, accepts an inter frame only after a
 * keyframe, and a refused frame leaves the state invalid. When the state is
 * valid at a small size, a sparse frame is written over a picture derived
 * from the input and must come out as a well-formed inter frame that the
 * follower itself accepts (the writer's own output is a VP8 frame). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_vp8_sparse.h"

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "fuzz_vp8_frame_header: invariant failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                              \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

static void write_sparse(const tdm_vp8_stream *s, const uint8_t *data, size_t size)
{
    int w = s->width, h = s->height;
    if (w < 1 || h < 1 || w > 96 || h > 96)
        return;
    int mbc = (w + 15) / 16, mbr = (h + 15) / 16;
    int aw = mbc * 16, ah = mbr * 16;
    tdm_i420 img;
    if (tdm_i420_alloc(&img, w, h) != TDM_OK)
        return;
    uint8_t *pic = calloc((size_t)aw * ah * 3 / 2, 1);
    uint8_t *code = calloc((size_t)mbc * mbr, 1);
    CHECK(pic && code);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            img.y[(size_t)y * img.stride_y + x] = size ? data[(size_t)(y * w + x) % size] : 0;
    for (int i = 0; i < mbc * mbr; i++)
        code[i] = size ? data[(size_t)i % size] & 1 : 1;
    tdm_vp8_picture p = {pic, pic + (size_t)aw * ah, pic + (size_t)aw * ah + (aw / 2) * (ah / 2),
                         aw, aw / 2};
    tdm_vp8_sparse *wr;
    CHECK(tdm_vp8_sparse_new(w, h, &wr, NULL) == TDM_OK);
    tdm_vp8_sparse_result res;
    int q = size ? data[0] & 127 : 0;
    CHECK(tdm_vp8_sparse_encode(wr, s, &img, code, q, &p, &res, NULL) == TDM_OK);
    CHECK(res.len > 3 && (res.data[0] & 1) == 1); /* an inter frame */
    tdm_vp8_stream after = *s;
    CHECK(tdm_vp8_stream_observe(&after, res.data, res.len, NULL) == TDM_OK);
    /* It keeps nothing: the persistent probabilities are unchanged. */
    CHECK(memcmp(after.coef_probs, s->coef_probs, sizeof after.coef_probs) == 0);
    tdm_vp8_sparse_free(wr);
    free(pic);
    free(code);
    tdm_i420_free(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tdm_vp8_stream s;
    tdm_vp8_stream_init(&s);
    size_t off = 0;
    while (size - off >= 2) {
        size_t n = (size_t)data[off] | (size_t)data[off + 1] << 8;
        off += 2;
        if (n > size - off)
            n = size - off;
        /* A private copy: reads past n show up under ASan. */
        uint8_t *frame = malloc(n ? n : 1);
        CHECK(frame);
        memcpy(frame, data + off, n);
        bool was_valid = s.valid;
        bool key = n >= 1 && !(frame[0] & 1);
        tdm_status st = tdm_vp8_stream_observe(&s, frame, n, NULL);
        CHECK(st == TDM_OK || st == TDM_ERR_INVALID);
        if (st == TDM_OK)
            CHECK(s.valid && (key || was_valid));
        else
            CHECK(!s.valid);
        free(frame);
        off += n;
        if (s.valid)
            write_sparse(&s, data + off, size - off);
    }
    return 0;
}
