/* opus_payload_test: the Opus depacketizer reads the TOC byte and frame
 * layout of every code (RFC 6716 section 3) with known answers, drops each
 * kind of invalid packet with its own reason, accepts exactly the packets
 * libopus's own parser accepts (with the same frame sizes) over many random
 * packets, and passes what the real encoder produces with its duration. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <opus/opus.h>

#include "tdm_opus_rtp.h"

static uint64_t rng_state = 0x0123456789abcdefu;

static uint32_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32);
}

static void parse_ok(const uint8_t *buf, size_t len, tdm_opus_payload *out)
{
    tdm_rtp_drop why = TDM_RTP_DROP_COUNT;
    tdm_status st = tdm_opus_depacketize(buf, len, out, &why);
    if (st != TDM_OK)
        fail_msg("depacketize: %s (%s)", tdm_status_str(st), tdm_rtp_drop_name(why));
    assert_int_equal(why, TDM_RTP_DROP_NONE);
}

static void reads_every_code(void **state)
{
    (void)state;
    static uint8_t p[2000];
    tdm_opus_payload o;

    /* Code 0, config 31 (CELT fullband 20 ms), stereo, 10 bytes. */
    p[0] = 31 << 3 | 0x04 | 0;
    parse_ok(p, 11, &o);
    assert_int_equal(o.config, 31);
    assert_int_equal(o.mode, TDM_OPUS_MODE_CELT);
    assert_int_equal(o.bandwidth_hz, 20000);
    assert_true(o.stereo);
    assert_int_equal(o.code, 0);
    assert_int_equal(o.frame_count, 1);
    assert_int_equal(o.frame_len[0], 10);
    assert_int_equal(o.frame_samples, 960);
    assert_int_equal(o.samples, 960);
    assert_ptr_equal(o.data, p);
    assert_int_equal(o.len, 11);
    /* A TOC byte alone is a valid (DTX) packet. */
    parse_ok(p, 1, &o);
    assert_int_equal(o.frame_len[0], 0);

    /* Code 1, config 3 (SILK narrowband 60 ms): two 10-byte frames. */
    p[0] = 3 << 3 | 1;
    parse_ok(p, 21, &o);
    assert_int_equal(o.mode, TDM_OPUS_MODE_SILK);
    assert_int_equal(o.bandwidth_hz, 4000);
    assert_int_equal(o.frame_count, 2);
    assert_int_equal(o.frame_len[1], 10);
    assert_int_equal(o.samples, 5760);

    /* Code 2, config 12 (hybrid superwideband 10 ms): a 300-byte frame
     * (length bytes 252, 12) and a 5-byte one. */
    p[0] = 12 << 3 | 2;
    p[1] = 252;
    p[2] = 12;
    parse_ok(p, 3 + 300 + 5, &o);
    assert_int_equal(o.mode, TDM_OPUS_MODE_HYBRID);
    assert_int_equal(o.bandwidth_hz, 12000);
    assert_true(o.vbr);
    assert_int_equal(o.frame_len[0], 300);
    assert_int_equal(o.frame_len[1], 5);
    assert_int_equal(o.samples, 960);

    /* Code 3 CBR, config 16 (CELT narrowband 2.5 ms), padded: four 5-byte
     * frames and 254 + 3 bytes of padding. */
    p[0] = 16 << 3 | 3;
    p[1] = 0x40 | 4;
    p[2] = 255;
    p[3] = 3;
    parse_ok(p, 4 + 20 + 257, &o);
    assert_false(o.vbr);
    assert_int_equal(o.frame_count, 4);
    assert_int_equal(o.padding, 257);
    assert_int_equal(o.frame_len[3], 5);
    assert_int_equal(o.frame_samples, 120);
    assert_int_equal(o.samples, 480);

    /* Code 3 VBR, config 20 (CELT wideband 2.5 ms): frames of 1, 300 and
     * the rest (7). */
    p[0] = 20 << 3 | 3;
    p[1] = 0x80 | 3;
    p[2] = 1;
    p[3] = 252;
    p[4] = 12;
    parse_ok(p, 5 + 1 + 300 + 7, &o);
    assert_true(o.vbr);
    assert_int_equal(o.bandwidth_hz, 8000);
    assert_int_equal(o.frame_len[0], 1);
    assert_int_equal(o.frame_len[1], 300);
    assert_int_equal(o.frame_len[2], 7);

    /* 48 frames of 2.5 ms is the 120 ms limit. */
    p[0] = 16 << 3 | 3;
    p[1] = 48;
    parse_ok(p, 2, &o);
    assert_int_equal(o.frame_count, 48);
    assert_int_equal(o.samples, 5760);
}

static void expect_drop(const uint8_t *buf, size_t len, tdm_rtp_drop want)
{
    tdm_opus_payload o;
    tdm_rtp_drop why = TDM_RTP_DROP_NONE;
    assert_int_equal(tdm_opus_depacketize(buf, len, &o, &why), TDM_ERR_FORMAT);
    if (why != want)
        fail_msg("got %s, want %s", tdm_rtp_drop_name(why), tdm_rtp_drop_name(want));
}

static void invalid_packets_dropped_with_reason(void **state)
{
    (void)state;
    static uint8_t p[3000];
    expect_drop(NULL, 0, TDM_RTP_DROP_OPUS_EMPTY);               /* R1 */
    p[0] = 0;
    expect_drop(p, 1 + 1276, TDM_RTP_DROP_OPUS_BAD_LENGTH);      /* R2 */
    p[0] = 1;
    expect_drop(p, 1 + 5, TDM_RTP_DROP_OPUS_BAD_LENGTH);         /* R3: odd */
    expect_drop(p, 1 + 2 * 1276, TDM_RTP_DROP_OPUS_BAD_LENGTH);  /* R2 */
    p[0] = 2;
    expect_drop(p, 1, TDM_RTP_DROP_OPUS_BAD_LENGTH);             /* no length */
    p[1] = 252;
    expect_drop(p, 2, TDM_RTP_DROP_OPUS_BAD_LENGTH);             /* half a length */
    p[1] = 10;
    expect_drop(p, 2 + 9, TDM_RTP_DROP_OPUS_BAD_LENGTH);         /* R4 */
    expect_drop(p, 2 + 10 + 1276, TDM_RTP_DROP_OPUS_BAD_LENGTH); /* R2, second frame */
    p[0] = 3;
    expect_drop(p, 1, TDM_RTP_DROP_OPUS_BAD_FRAME_COUNT);        /* no count byte */
    p[1] = 0;
    expect_drop(p, 2, TDM_RTP_DROP_OPUS_BAD_FRAME_COUNT);        /* R5: zero */
    p[0] = 3 << 3 | 3;                                           /* 60 ms frames */
    p[1] = 3;
    expect_drop(p, 2, TDM_RTP_DROP_OPUS_BAD_FRAME_COUNT);        /* R5: 180 ms */
    p[0] = 16 << 3 | 3;
    p[1] = 49;
    expect_drop(p, 2, TDM_RTP_DROP_OPUS_BAD_FRAME_COUNT);        /* R5: 122.5 ms */
    p[1] = 0x40 | 1;
    expect_drop(p, 2, TDM_RTP_DROP_OPUS_BAD_PADDING);            /* no padding byte */
    p[2] = 5;
    expect_drop(p, 3 + 4, TDM_RTP_DROP_OPUS_BAD_PADDING);        /* R6: padding past end */
    p[2] = 255;
    expect_drop(p, 3, TDM_RTP_DROP_OPUS_BAD_PADDING);            /* 255 needs another byte */
    p[1] = 3;
    expect_drop(p, 2 + 7, TDM_RTP_DROP_OPUS_BAD_LENGTH);         /* R6: 7 not a multiple of 3 */
    p[1] = 1;
    expect_drop(p, 2 + 1276, TDM_RTP_DROP_OPUS_BAD_LENGTH);      /* R6: frame too long */
    p[1] = 0x80 | 2;
    expect_drop(p, 2, TDM_RTP_DROP_OPUS_BAD_LENGTH);             /* R7: no length */
    p[2] = 20;
    expect_drop(p, 3 + 19, TDM_RTP_DROP_OPUS_BAD_LENGTH);        /* R7: past end */
    p[2] = 0;
    expect_drop(p, 3 + 1276, TDM_RTP_DROP_OPUS_BAD_LENGTH);      /* R7: last too long */

    tdm_opus_payload o;
    assert_int_equal(tdm_opus_depacketize(p, 3, NULL, NULL), TDM_ERR_INVALID);
    assert_int_equal(tdm_opus_depacketize(NULL, 3, &o, NULL), TDM_ERR_INVALID);
}

/* Builds a random packet that is often valid and often nearly so. */
static size_t random_packet(uint8_t *p, size_t cap)
{
    size_t len;
    switch (rnd() % 4) {
    case 0: /* pure noise */
        len = rnd() % 64;
        for (size_t i = 0; i < len; i++)
            p[i] = (uint8_t)rnd();
        return len;
    case 1: /* noise of any length with a chosen code */
        len = 1 + rnd() % (cap - 1);
        for (size_t i = 0; i < len; i++)
            p[i] = (uint8_t)rnd();
        return len;
    default: { /* structured code 3 */
        int count = 1 + (int)(rnd() % 50);
        p[0] = (uint8_t)((rnd() % 32) << 3 | (rnd() & 4) | 3);
        p[1] = (uint8_t)((rnd() & 0xc0) | (unsigned)count);
        size_t pos = 2;
        if (p[1] & 0x40) {
            int n = (int)(rnd() % 3);
            for (int i = 0; i < n; i++)
                p[pos++] = 255;
            p[pos++] = (uint8_t)(rnd() % 40);
        }
        if (p[1] & 0x80) {
            for (int i = 0; i < count - 1 && pos + 2 < cap; i++) {
                if (rnd() % 8 == 0) {
                    p[pos++] = (uint8_t)(252 + rnd() % 4);
                    p[pos++] = (uint8_t)(rnd() % 8);
                } else {
                    p[pos++] = (uint8_t)(rnd() % 30);
                }
            }
        }
        len = pos + rnd() % 600;
        if (len > cap)
            len = cap;
        for (size_t i = pos; i < len; i++)
            p[i] = (uint8_t)rnd();
        return len;
    }
    }
}

static void agrees_with_libopus_parser(void **state)
{
    (void)state;
    static uint8_t p[4000];
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = random_packet(p, sizeof p);
        unsigned char toc;
        const unsigned char *frames[48];
        opus_int16 sizes[48];
        int offset = 0;
        int n = opus_packet_parse(p, (opus_int32)len, &toc, frames, sizes, &offset);
        tdm_opus_payload o;
        tdm_rtp_drop why;
        tdm_status st = tdm_opus_depacketize(len ? p : NULL, len, &o, &why);
        if ((n > 0) != (st == TDM_OK))
            fail_msg("packet of %zu bytes (toc %02x, %02x): libopus %d, ours %s (%s)", len,
                     len ? p[0] : 0, len > 1 ? p[1] : 0, n, tdm_status_str(st),
                     tdm_rtp_drop_name(why));
        if (n > 0) {
            accepted++;
            assert_int_equal(o.frame_count, n);
            for (int i = 0; i < n; i++)
                assert_int_equal(o.frame_len[i], sizes[i]);
            assert_int_equal(o.samples, opus_packet_get_nb_samples(p, (opus_int32)len, 48000));
        } else {
            rejected++;
            assert_int_equal(st, TDM_ERR_FORMAT);
            assert_int_not_equal(why, TDM_RTP_DROP_NONE);
        }
    }
    /* Both sides of the line were exercised. */
    assert_true(accepted > 20000);
    assert_true(rejected > 20000);
}

static void real_encoder_output_passes(void **state)
{
    (void)state;
    int err = 0;
    OpusEncoder *enc = opus_encoder_create(48000, 2, OPUS_APPLICATION_VOIP, &err);
    assert_int_equal(err, OPUS_OK);
    static const int frame_sizes[] = {120, 240, 480, 960, 1920, 2880};
    opus_int16 pcm[2880 * 2];
    uint8_t packet[1500], out[1500];
    double phase = 0;
    for (size_t fi = 0; fi < sizeof frame_sizes / sizeof frame_sizes[0]; fi++) {
        for (int k = 0; k < 10; k++) {
            int fs = frame_sizes[fi];
            for (int i = 0; i < fs; i++, phase += 0.05)
                pcm[2 * i] = pcm[2 * i + 1] = (opus_int16)(8000 * sin(phase));
            int n = opus_encode(enc, pcm, fs, packet, sizeof packet);
            assert_true(n > 0);
            tdm_encoded_frame f = {.codec = TDM_CODEC_OPUS, .data = packet, .len = (size_t)n};
            size_t len = 0;
            int samples = 0;
            assert_int_equal(tdm_opus_packetize(&f, out, sizeof out, &len, &samples, NULL), TDM_OK);
            assert_int_equal(len, (size_t)n);
            assert_memory_equal(out, packet, len);
            assert_int_equal(samples, fs);
            assert_int_equal(tdm_opus_packetize(&f, out, len - 1, &len, &samples, NULL),
                             TDM_ERR_RANGE);
        }
    }
    opus_encoder_destroy(enc);

    uint8_t bad[] = {0x03};
    tdm_encoded_frame f = {.codec = TDM_CODEC_OPUS, .data = bad, .len = 1};
    size_t len;
    tdm_rtp_drop why;
    assert_int_equal(tdm_opus_packetize(&f, out, sizeof out, &len, NULL, &why), TDM_ERR_FORMAT);
    assert_int_equal(why, TDM_RTP_DROP_OPUS_BAD_FRAME_COUNT);
    f.codec = TDM_CODEC_VP8;
    assert_int_equal(tdm_opus_packetize(&f, out, sizeof out, &len, NULL, &why), TDM_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_every_code),
        cmocka_unit_test(invalid_packets_dropped_with_reason),
        cmocka_unit_test(agrees_with_libopus_parser),
        cmocka_unit_test(real_encoder_output_passes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
