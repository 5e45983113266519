/* fuzz_vp9_frame_header: follows arbitrary bytes as a sequence of VP9
 * frames (records of a 2-byte little-endian length and that many bytes)
 * with tdm_vp9_stream, the header follower behind Tandem's own VP9 frames.
 * Contract: never reads out of bounds, accepts an inter frame only after a
 * keyframe, a refused frame leaves the state invalid, and the slot it
 * names is a real one. When the state is valid at a small size, a sparse
 * frame is written over pictures derived from the input; it must be a
 * shown inter frame that the follower accepts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_vp9_sparse.h"

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "fuzz_vp9_frame_header: invariant failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                              \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

static void write_sparse(const tdm_vp9_stream *s, const uint8_t *data, size_t size)
{
    int w = s->width, h = s->height;
    if (w < 1 || h < 1 || w > 136 || h > 136)
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
    tdm_vp9_sparse *wr;
    CHECK(tdm_vp9_sparse_new(w, h, &wr, NULL) == TDM_OK);
    tdm_vp9_sparse_result res;
    CHECK(tdm_vp9_sparse_encode(wr, s, &img, code, &p, &res, NULL) == TDM_OK);
    CHECK(res.len > 3 && (res.data[0] >> 6) == 2); /* frame marker */
    tdm_vp9_stream after = *s;
    CHECK(tdm_vp9_stream_observe(&after, res.data, res.len, NULL) == TDM_OK);
    CHECK(after.valid && after.width == w && after.height == h);
    /* Lossless: the chosen areas now hold the source. */
    for (int i = 0; i < mbc * mbr; i++) {
        if (!code[i])
            continue;
        int x = (i % mbc) * 16, y = (i / mbc) * 16;
        CHECK(p.y[(size_t)y * aw + x] == img.y[(size_t)y * img.stride_y + x]);
    }
    tdm_vp9_sparse_free(wr);
    free(pic);
    free(code);
    tdm_i420_free(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tdm_vp9_stream s;
    tdm_vp9_stream_init(&s);
    size_t off = 0;
    while (size - off >= 2) {
        size_t n = (size_t)data[off] | (size_t)data[off + 1] << 8;
        off += 2;
        if (n > size - off)
            n = size - off;
        uint8_t *frame = malloc(n ? n : 1);
        CHECK(frame);
        memcpy(frame, data + off, n);
        bool was_valid = s.valid;
        tdm_status st = tdm_vp9_stream_observe(&s, frame, n, NULL);
        CHECK(st == TDM_OK || st == TDM_ERR_INVALID);
        if (st == TDM_OK)
            CHECK(s.valid && s.last_slot >= 0 && s.last_slot < 8 &&
                  (was_valid || (frame[0] & 0x04) == 0 /* a keyframe */ || s.valid));
        else
            CHECK(!s.valid);
        free(frame);
        off += n;
        if (s.valid)
            write_sparse(&s, data + off, size - off);
    }
    return 0;
}
