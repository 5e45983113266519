/* fuzz_vp9_depacketizer: parses arbitrary bytes as a VP9 RTP payload (and
 * as the start of a VP9 frame header) and checks the contract: a drop
 * names a VP9 reason; an accepted payload's descriptor and data tile the
 * input; keyframe facts are consistent; the descriptor writes back to one
 * that parses the same. Then uses the bytes as a frame, key or not: the
 * packetized payloads must depacketize back to it with B on the first, E on
 * the last. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_vp9_rtp.h"

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "fuzz_vp9_depacketizer: invariant failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                                \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

static void check_parse(const uint8_t *data, size_t size)
{
    tdm_vp9_frame_header fh;
    tdm_status hs = tdm_vp9_parse_frame_header(data, size, &fh);
    CHECK(hs == TDM_OK || hs == TDM_ERR_FORMAT || hs == TDM_ERR_TRUNCATED);
    if (hs == TDM_OK) {
        CHECK(fh.profile >= 0 && fh.profile <= 3);
        CHECK(!fh.has_size || (fh.keyframe && fh.width >= 1 && fh.width <= 65536 &&
                               fh.height >= 1 && fh.height <= 65536));
        CHECK(!(fh.show_existing_frame && fh.keyframe));
    }

    tdm_vp9_payload v;
    tdm_rtp_drop why = TDM_RTP_DROP_COUNT;
    tdm_status st = tdm_vp9_depacketize(data, size, &v, &why);
    CHECK(st == TDM_OK || st == TDM_ERR_FORMAT);
    if (st != TDM_OK) {
        CHECK(why >= TDM_RTP_DROP_VP9_TRUNCATED && why <= TDM_RTP_DROP_VP9_BAD_HEADER);
        return;
    }
    CHECK(why == TDM_RTP_DROP_NONE);
    CHECK(v.len >= 1 && v.desc.size + v.len == size && v.data == data + v.desc.size);
    CHECK(v.frame_start == v.desc.begin && v.frame_end == v.desc.end);
    CHECK(!v.keyframe || (v.frame_start && !v.desc.inter_predicted));
    CHECK(!v.has_size || v.keyframe);
    if (v.has_size)
        CHECK(v.width >= 1 && v.height >= 1);
    CHECK(v.desc.ref_count <= TDM_VP9_MAX_REFS);
    if (v.desc.has_ss)
        CHECK(v.desc.ss.spatial_layers >= 1 && v.desc.ss.spatial_layers <= 8);

    /* Write back what fits the writer's limits (a group it keeps whole). */
    if (v.desc.has_ss && v.desc.ss.has_group && v.desc.ss.group_size > TDM_VP9_MAX_GROUP)
        return;
    uint8_t *buf = malloc(v.desc.size + 1);
    CHECK(buf);
    size_t n = 0;
    CHECK(tdm_vp9_descriptor_write(&v.desc, buf, v.desc.size, &n) == TDM_OK);
    CHECK(n == v.desc.size);
    buf[n] = 0x86;
    tdm_vp9_payload w;
    tdm_vp9_descriptor d = v.desc;
    d.begin = false; /* keep the frame header check out of the comparison */
    CHECK(tdm_vp9_descriptor_write(&d, buf, n, &n) == TDM_OK);
    CHECK(tdm_vp9_depacketize(buf, n + 1, &w, NULL) == TDM_OK);
    CHECK(w.desc.size == v.desc.size && w.desc.picture_id == v.desc.picture_id &&
          w.desc.tl0picidx == v.desc.tl0picidx && w.desc.sid == v.desc.sid &&
          w.desc.ref_count == v.desc.ref_count && w.desc.has_ss == v.desc.has_ss);
    free(buf);
}

static void check_roundtrip(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    bool key = data[0] & 1;
    size_t mtu = TDM_VP9_DESCRIPTOR_SIZE + TDM_VP9_SS_GROUP_SIZE + 1 + data[0] % 200;
    const uint8_t *frame = data + 1;
    size_t len = size - 1;
    tdm_vp9_packetizer p;
    tdm_vp9_packetizer_init(&p, (uint16_t)(data[0] * 131), data[0], data[0] & 2);
    tdm_encoded_frame f = {.codec = TDM_CODEC_VP9, .data = frame, .len = len, .keyframe = key,
                           .width = data[0] & 4 ? 0 : 320, .height = data[0] & 4 ? 0 : 200};
    CHECK(tdm_vp9_packetizer_start(&p, &f, mtu) == TDM_OK);
    uint8_t *out = malloc(len);
    CHECK(out);
    size_t got = 0;
    bool last = false, first = true;
    while (!last) {
        uint8_t buf[256];
        size_t n = 0;
        CHECK(tdm_vp9_packetizer_next(&p, buf, sizeof buf, &n, &last) == TDM_OK);
        CHECK(n <= mtu);
        tdm_vp9_payload v;
        tdm_rtp_drop why;
        tdm_status st = tdm_vp9_depacketize(buf, n, &v, &why);
        if (st != TDM_OK) {
            /* Only a first packet whose bytes are not a VP9 frame start. */
            CHECK(first && why == TDM_RTP_DROP_VP9_BAD_HEADER);
            free(out);
            return;
        }
        CHECK(v.frame_start == first && v.frame_end == last);
        CHECK(v.desc.has_ss == (first && key));
        CHECK(v.desc.inter_predicted == !key);
        CHECK(got + v.len <= len);
        memcpy(out + got, v.data, v.len);
        got += v.len;
        first = false;
    }
    CHECK(got == len && memcmp(out, frame, len) == 0);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_parse(data, size);
    check_roundtrip(data, size);
    return 0;
}
