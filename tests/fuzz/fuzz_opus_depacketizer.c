/* fuzz_opus_depacketizer: validates arbitrary bytes as an Opus RTP payload
 * and checks the result against libopus's own packet parser: the same
 * packets are accepted, with the same frame count, frame sizes and
 * duration; a refusal names an Opus reason. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opus/opus.h>

#include "tdm_opus_rtp.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_opus_depacketizer: invariant failed: %s (line %d)\n", #cond, \
                    __LINE__);                                                                 \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 100000)
        return 0;
    tdm_opus_payload o;
    tdm_rtp_drop why = TDM_RTP_DROP_COUNT;
    tdm_status st = tdm_opus_depacketize(data, size, &o, &why);
    CHECK(st == TDM_OK || st == TDM_ERR_FORMAT);

    unsigned char toc;
    const unsigned char *frames[48];
    opus_int16 sizes[48];
    int offset = 0;
    int n = opus_packet_parse(data, (opus_int32)size, &toc, frames, sizes, &offset);
    CHECK((n > 0) == (st == TDM_OK));
    if (st != TDM_OK) {
        CHECK(why >= TDM_RTP_DROP_OPUS_EMPTY && why <= TDM_RTP_DROP_OPUS_BAD_PADDING);
        return 0;
    }
    CHECK(why == TDM_RTP_DROP_NONE);
    CHECK(o.frame_count == n && o.frame_count >= 1 && o.frame_count <= TDM_OPUS_MAX_FRAMES);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        CHECK(o.frame_len[i] == sizes[i] && o.frame_len[i] <= TDM_OPUS_MAX_FRAME_BYTES);
        total += o.frame_len[i];
    }
    CHECK(1 + total + o.padding <= size);
    CHECK(o.samples == opus_packet_get_nb_samples(data, (opus_int32)size, 48000));
    CHECK(o.samples >= 120 && o.samples <= 5760);
    CHECK(o.data == data && o.len == size);

    uint8_t *out = malloc(size);
    CHECK(out);
    tdm_encoded_frame f = {.codec = TDM_CODEC_OPUS, .data = data, .len = size};
    size_t len = 0;
    int samples = 0;
    CHECK(tdm_opus_packetize(&f, out, size, &len, &samples, NULL) == TDM_OK);
    CHECK(len == size && samples == o.samples && memcmp(out, data, size) == 0);
    free(out);
    return 0;
}
