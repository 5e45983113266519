/* fuzz_vp8_depacketizer: parses arbitrary bytes as a VP8 RTP payload and
 * checks the contract (a drop names a VP8 reason; an accepted payload's
 * descriptor and data tile the input; keyframe facts are consistent; the
 * descriptor writes back to a descriptor that parses the same). Then uses
 * the bytes as a frame: packetized for an MTU taken from the input, the
 * payloads must depacketize back to the frame. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_vp8_rtp.h"

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "fuzz_vp8_depacketizer: invariant failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                                \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

static void check_parse(const uint8_t *data, size_t size)
{
    tdm_vp8_payload v;
    tdm_rtp_drop why = TDM_RTP_DROP_COUNT;
    tdm_status st = tdm_vp8_depacketize(data, size, &v, &why);
    CHECK(st == TDM_OK || st == TDM_ERR_FORMAT);
    if (st != TDM_OK) {
        CHECK(why == TDM_RTP_DROP_VP8_TRUNCATED || why == TDM_RTP_DROP_VP8_EMPTY ||
              why == TDM_RTP_DROP_VP8_BAD_KEYFRAME);
        return;
    }
    CHECK(why == TDM_RTP_DROP_NONE);
    CHECK(v.desc.size >= 1 && v.desc.size <= TDM_VP8_DESCRIPTOR_MAX);
    CHECK(v.len >= 1 && v.desc.size + v.len == size && v.data == data + v.desc.size);
    CHECK(v.frame_start == (v.desc.start && v.desc.partition == 0));
    CHECK(!v.keyframe || v.frame_start);
    CHECK(!v.has_size || v.keyframe);
    if (v.has_size)
        CHECK(v.width >= 1 && v.width <= 16383 && v.height >= 1 && v.height <= 16383);
    CHECK(v.desc.picture_id <= (v.desc.long_picture_id ? 0x7fff : 0x7f));

    uint8_t buf[TDM_VP8_DESCRIPTOR_MAX + 1];
    size_t n = 0;
    CHECK(tdm_vp8_descriptor_write(&v.desc, buf, sizeof buf, &n) == TDM_OK);
    CHECK(n == v.desc.size);
    buf[n] = 0x01;
    tdm_vp8_payload w;
    CHECK(tdm_vp8_depacketize(buf, n + 1, &w, NULL) == TDM_OK);
    CHECK(w.desc.size == v.desc.size && w.desc.picture_id == v.desc.picture_id &&
          w.desc.tl0picidx == v.desc.tl0picidx && w.desc.tid == v.desc.tid &&
          w.desc.keyidx == v.desc.keyidx && w.desc.start == v.desc.start &&
          w.desc.partition == v.desc.partition && w.desc.non_reference == v.desc.non_reference);
}

static void check_roundtrip(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    size_t mtu = TDM_VP8_DESCRIPTOR_SIZE + 1 + data[0] % 200;
    const uint8_t *frame = data + 1;
    size_t len = size - 1;
    tdm_vp8_packetizer p;
    tdm_vp8_packetizer_init(&p, (uint16_t)(data[0] << 7), data[0]);
    tdm_encoded_frame f = {.codec = TDM_CODEC_VP8, .data = frame, .len = len};
    CHECK(tdm_vp8_packetizer_start(&p, &f, mtu) == TDM_OK);
    uint8_t *out = malloc(len);
    CHECK(out);
    size_t got = 0;
    bool last = false, first = true;
    while (!last) {
        uint8_t buf[256];
        size_t n = 0;
        CHECK(tdm_vp8_packetizer_next(&p, buf, sizeof buf, &n, &last) == TDM_OK);
        CHECK(n <= mtu);
        tdm_vp8_payload v;
        tdm_rtp_drop why;
        tdm_status st = tdm_vp8_depacketize(buf, n, &v, &why);
        if (st != TDM_OK) {
            /* Only a first packet that looks like a keyframe can be refused. */
            CHECK(first && why == TDM_RTP_DROP_VP8_BAD_KEYFRAME && (frame[0] & 1) == 0);
            free(out);
            return;
        }
        CHECK(v.frame_start == first);
        CHECK(got + v.len <= len);
        memcpy(out + got, v.data, v.len);
        got += v.len;
        first = false;
    }
    CHECK(got == len && memcmp(out, frame, len) == 0);
    CHECK(tdm_vp8_packetizer_remaining(&p) == 0);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse(data, size);
    check_roundtrip(data, size);
    return 0;
}
