/* recording_test_util.h: a header and keys for the recording unit tests,
 * and a small in-memory recording made with tdm_rec_encoder. */
#ifndef RECORDING_TEST_UTIL_H
#define RECORDING_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "tdm_rec_encoder.h"
#include "tdm_rec_reader.h"
#include "tdm_sig_keys.h"

static const uint8_t test_master[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t test_rec_key[32] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                         0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
                                         0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
                                         0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};

static inline void test_header(tdm_rec_header *h)
{
    memset(h, 0, sizeof *h);
    strcpy(h->session_id, "sess-0123");
    static const uint8_t nonce[12] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
    tdm_sig_key_wrap(test_master, test_rec_key, nonce, h->session_id, h->wrapped_key, NULL);
    h->start_unix_us = 1790000000000000ull;
    h->nstreams = 2;
    h->streams[0] = (tdm_rec_stream){.id = 1, .codec = TDM_CODEC_VP8, .payload_type = 96,
                                     .ssrc = 0x11111111, .clock_hz = 90000};
    h->streams[1] = (tdm_rec_stream){.id = 2, .codec = TDM_CODEC_OPUS, .payload_type = 111,
                                     .ssrc = 0x22222222, .clock_hz = 48000};
}

/* A fake RTP packet whose bytes encode i. */
static inline size_t test_packet(int i, uint8_t *buf)
{
    size_t len = 20 + (size_t)(i * 37 % 900);
    memset(buf, 0, len);
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(i >> 8);
    buf[3] = (uint8_t)i;
    for (size_t k = 12; k < len; k++)
        buf[k] = (uint8_t)(i * 7 + k);
    return len;
}

/* start, n RTP packets (a drop of 3 after the 5th, a sync every 10), stop,
 * end. Record offsets go to offs (n + 16 entries at least), their count to
 * *nrec. Returns a malloc'd buffer of *len bytes. */
static inline uint8_t *test_recording(int n, size_t *len, size_t *offs, size_t *nrec)
{
    tdm_rec_header h;
    test_header(&h);
    tdm_rec_encoder *e;
    if (tdm_rec_encoder_new(&h, test_rec_key, 4u << 20, 0, &e, NULL) != TDM_OK)
        return NULL;
    size_t k = 0, plen;
    const uint8_t *p = tdm_rec_encoder_pending(e, &plen);
    size_t hlen = plen;
#define MARK() (offs[k++] = tdm_rec_encoder_get_stats(e)->bytes)
    tdm_rec_record st = {.type = TDM_REC_STREAM_START, .stream = 1, .time_us = 0};
    MARK();
    tdm_rec_encoder_add(e, &st);
    uint8_t pkt[1000];
    for (int i = 0; i < n; i++) {
        if (i == 5) {
            MARK();
            tdm_rec_encoder_add_drop(e, 1, 1000u * (uint64_t)i, 3);
        }
        if (i > 0 && i % 10 == 0) {
            MARK();
            tdm_rec_encoder_add_sync(e, 1000u * (uint64_t)i);
        }
        size_t pl = test_packet(i, pkt);
        MARK();
        tdm_rec_encoder_add_rtp(e, 1, 1000u * (uint64_t)i, pkt, pl);
    }
    st.type = TDM_REC_STREAM_STOP;
    st.time_us = 1000u * (uint64_t)n;
    MARK();
    tdm_rec_encoder_add(e, &st);
    MARK();
    tdm_rec_encoder_finish(e, 1000u * (uint64_t)n);
#undef MARK
    (void)hlen;
    p = tdm_rec_encoder_pending(e, &plen);
    uint8_t *out = malloc(plen + 64);
    memcpy(out, p, plen);
    *len = plen;
    *nrec = k;
    tdm_rec_encoder_free(e);
    return out;
}

#endif
