/* fuzz_rtp_header: parses arbitrary bytes as an RTP packet and checks the
 * parser's contract: a drop always names a reason; an accepted packet's
 * parts tile the input exactly, point inside it, and write back to the same
 * bytes (header and payload) and parse again to the same fields. Also checks
 * the unwrap helpers against their definition. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_rtp.h"

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz_rtp_header: invariant failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                          \
            abort();                                                                    \
        }                                                                               \
    } while (0)

static unsigned touch(const uint8_t *p, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += p[i];
    return sum;
}

static void check_unwrap(const uint8_t *data, size_t size)
{
    if (size < 14)
        return;
    uint64_t ref = 0;
    memcpy(&ref, data, 8);
    ref >>= 8; /* keep clear of overflow at the top */
    uint16_t seq = (uint16_t)(data[8] | data[9] << 8);
    uint64_t s = tdm_rtp_seq_unwrap(ref, seq);
    CHECK((uint16_t)s == seq);
    if (s >= ref)
        CHECK(s - ref <= 0x8000 || ref < 0x8000);
    else
        CHECK(ref - s < 0x8000);
    uint32_t ts;
    memcpy(&ts, data + 10, 4);
    uint64_t t = tdm_rtp_ts_unwrap(ref, ts);
    CHECK((uint32_t)t == ts);
    if (t >= ref)
        CHECK(t - ref <= 0x80000000u || ref < 0x80000000u);
    else
        CHECK(ref - t < 0x80000000u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_unwrap(data, size);

    tdm_rtp_packet p;
    tdm_rtp_drop why = TDM_RTP_DROP_COUNT;
    tdm_status st = tdm_rtp_parse(data, size, &p, &why);
    CHECK(st == TDM_OK || st == TDM_ERR_FORMAT);
    if (st != TDM_OK) {
        CHECK(why > TDM_RTP_DROP_NONE && why <= TDM_RTP_DROP_BAD_PADDING);
        CHECK(strcmp(tdm_rtp_drop_name(why), "unknown") != 0);
        return 0;
    }
    CHECK(why == TDM_RTP_DROP_NONE);
    CHECK(p.header_len >= TDM_RTP_FIXED_HEADER);
    CHECK(p.header_len + p.payload_len + p.padding_len == size);
    CHECK(p.payload == data + p.header_len);
    CHECK(p.header_len == tdm_rtp_header_size(&p.header));
    CHECK(p.header.payload_type <= 127 && p.header.csrc_count <= TDM_RTP_MAX_CSRC);
    CHECK(p.padding_len <= 255);
    CHECK(p.header.ext_len % 4 == 0);
    if (p.header.has_extension)
        CHECK(p.header.ext >= data && p.header.ext + p.header.ext_len <= data + p.header_len);
    unsigned sum = touch(p.payload, p.payload_len) + touch(p.header.ext, p.header.ext_len);
    (void)sum;

    uint8_t *out = malloc(size);
    CHECK(out);
    size_t n = 0;
    CHECK(tdm_rtp_write(&p.header, p.payload, p.payload_len, p.padding_len, out, size, &n) ==
          TDM_OK);
    CHECK(n == size);
    CHECK(memcmp(out, data, p.header_len + p.payload_len) == 0);
    if (p.padding_len)
        CHECK(out[size - 1] == data[size - 1]);
    /* One byte less room is refused without writing past it. */
    if (size > 0)
        CHECK(tdm_rtp_write(&p.header, p.payload, p.payload_len, p.padding_len, out, size - 1,
                            &n) == TDM_ERR_RANGE);

    tdm_rtp_packet q;
    CHECK(tdm_rtp_parse(data, size, &q, NULL) == TDM_OK);
    CHECK(q.header.seq == p.header.seq && q.header.timestamp == p.header.timestamp &&
          q.header.ssrc == p.header.ssrc && q.header.marker == p.header.marker &&
          q.payload_len == p.payload_len && q.padding_len == p.padding_len);
    free(out);
    return 0;
}
