/* rtp_header_roundtrip_test: RTP headers written by tdm_rtp_write parse
 * back to the same fields for every combination of CSRCs, extension and
 * padding; known bytes from the RFC 3550 layout parse as expected; every
 * kind of malformed header is dropped with its own reason; sequence numbers
 * and timestamps unwrap across their wrap points. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_rtp.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32);
}

static void parses_known_fixed_header(void **state)
{
    (void)state;
    /* V=2 P=0 X=0 CC=0 | M=0 PT=96 | seq 0x1234 | ts | SSRC, then "abc". */
    static const uint8_t pkt[] = {0x80, 0x60, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
                                  0x01, 0x02, 0x03, 0x04, 'a',  'b',  'c'};
    tdm_rtp_packet p;
    tdm_rtp_drop why = TDM_RTP_DROP_COUNT;
    assert_int_equal(tdm_rtp_parse(pkt, sizeof pkt, &p, &why), TDM_OK);
    assert_int_equal(why, TDM_RTP_DROP_NONE);
    assert_false(p.header.marker);
    assert_int_equal(p.header.payload_type, 96);
    assert_int_equal(p.header.seq, 0x1234);
    assert_int_equal(p.header.timestamp, 0xdeadbeef);
    assert_int_equal(p.header.ssrc, 0x01020304);
    assert_int_equal(p.header.csrc_count, 0);
    assert_false(p.header.has_extension);
    assert_int_equal(p.header_len, 12);
    assert_int_equal(p.payload_len, 3);
    assert_memory_equal(p.payload, "abc", 3);
    assert_int_equal(p.padding_len, 0);

    uint8_t out[64];
    size_t n = 0;
    assert_int_equal(tdm_rtp_write(&p.header, p.payload, p.payload_len, 0, out, sizeof out, &n),
                     TDM_OK);
    assert_int_equal(n, sizeof pkt);
    assert_memory_equal(out, pkt, sizeof pkt);
}

static void parses_known_full_header(void **state)
{
    (void)state;
    /* V=2 P=1 X=1 CC=2 | M=1 PT=111, two CSRCs, a one-word 0xBEDE
     * extension, 3 payload bytes and 4 bytes of padding. */
    static const uint8_t pkt[] = {
        0xb2, 0xef, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0xca, 0xfe, 0xba, 0xbe, /* fixed */
        0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22,                         /* CSRCs */
        0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0x00, 0x00,                         /* ext */
        'x',  'y',  'z',                                                        /* payload */
        0x00, 0x00, 0x00, 0x04,                                                 /* padding */
    };
    tdm_rtp_packet p;
    assert_int_equal(tdm_rtp_parse(pkt, sizeof pkt, &p, NULL), TDM_OK);
    assert_true(p.header.marker);
    assert_int_equal(p.header.payload_type, 111);
    assert_int_equal(p.header.seq, 0xffff);
    assert_int_equal(p.header.timestamp, 0xffffff00);
    assert_int_equal(p.header.ssrc, 0xcafebabe);
    assert_int_equal(p.header.csrc_count, 2);
    assert_int_equal(p.header.csrc[0], 0x11111111);
    assert_int_equal(p.header.csrc[1], 0x22222222);
    assert_true(p.header.has_extension);
    assert_int_equal(p.header.ext_profile, 0xbede);
    assert_int_equal(p.header.ext_len, 4);
    assert_ptr_equal(p.header.ext, pkt + 24);
    assert_int_equal(p.header_len, 28);
    assert_int_equal(p.payload_len, 3);
    assert_memory_equal(p.payload, "xyz", 3);
    assert_int_equal(p.padding_len, 4);

    uint8_t out[64];
    size_t n = 0;
    assert_int_equal(tdm_rtp_write(&p.header, p.payload, 3, 4, out, sizeof out, &n), TDM_OK);
    assert_int_equal(n, sizeof pkt);
    assert_memory_equal(out, pkt, sizeof pkt);
}

static void random_headers_roundtrip(void **state)
{
    (void)state;
    static uint8_t ext[4 * 64], payload[600], buf[2048];
    for (size_t i = 0; i < sizeof ext; i++)
        ext[i] = (uint8_t)rnd();
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)rnd();
    for (int iter = 0; iter < 20000; iter++) {
        tdm_rtp_header h = {
            .marker = rnd() & 1,
            .payload_type = rnd() & 0x7f,
            .seq = (uint16_t)rnd(),
            .timestamp = rnd(),
            .ssrc = rnd(),
            .csrc_count = (uint8_t)(rnd() % 16),
            .has_extension = rnd() & 1,
        };
        for (int c = 0; c < h.csrc_count; c++)
            h.csrc[c] = rnd();
        if (h.has_extension) {
            h.ext_profile = (uint16_t)rnd();
            h.ext_len = 4 * (rnd() % 65);
            h.ext = ext;
        }
        size_t plen = rnd() % (sizeof payload + 1);
        size_t pad = rnd() % 4 == 0 ? 1 + rnd() % 255 : 0;
        size_t n = 0;
        assert_int_equal(tdm_rtp_write(&h, payload, plen, pad, buf, sizeof buf, &n), TDM_OK);
        assert_int_equal(n, tdm_rtp_header_size(&h) + plen + pad);

        tdm_rtp_packet p;
        tdm_rtp_drop why;
        assert_int_equal(tdm_rtp_parse(buf, n, &p, &why), TDM_OK);
        assert_int_equal(p.header.marker, h.marker);
        assert_int_equal(p.header.payload_type, h.payload_type);
        assert_int_equal(p.header.seq, h.seq);
        assert_int_equal(p.header.timestamp, h.timestamp);
        assert_int_equal(p.header.ssrc, h.ssrc);
        assert_int_equal(p.header.csrc_count, h.csrc_count);
        assert_memory_equal(p.header.csrc, h.csrc, 4u * h.csrc_count);
        assert_int_equal(p.header.has_extension, h.has_extension);
        if (h.has_extension) {
            assert_int_equal(p.header.ext_profile, h.ext_profile);
            assert_int_equal(p.header.ext_len, h.ext_len);
            if (h.ext_len)
                assert_memory_equal(p.header.ext, ext, h.ext_len);
        }
        assert_int_equal(p.header_len, tdm_rtp_header_size(&h));
        assert_int_equal(p.payload_len, plen);
        if (plen)
            assert_memory_equal(p.payload, payload, plen);
        assert_int_equal(p.padding_len, pad);

        /* Header-only writing gives the same header bytes with P=0. */
        uint8_t hdr[1024];
        size_t hn = 0;
        assert_int_equal(tdm_rtp_write_header(&h, hdr, sizeof hdr, &hn), TDM_OK);
        assert_int_equal(hn, p.header_len);
        assert_int_equal(hdr[0], buf[0] & ~0x20);
        assert_memory_equal(hdr + 1, buf + 1, hn - 1);
    }
}

static void payload_may_be_built_in_place(void **state)
{
    (void)state;
    tdm_rtp_header h = {.payload_type = 96, .seq = 7, .csrc_count = 1, .csrc = {9}};
    uint8_t buf[64];
    size_t hl = tdm_rtp_header_size(&h);
    memcpy(buf + hl, "payload", 7);
    size_t n = 0;
    assert_int_equal(tdm_rtp_write(&h, buf + hl, 7, 0, buf, sizeof buf, &n), TDM_OK);
    tdm_rtp_packet p;
    assert_int_equal(tdm_rtp_parse(buf, n, &p, NULL), TDM_OK);
    assert_int_equal(p.payload_len, 7);
    assert_memory_equal(p.payload, "payload", 7);
}

static void expect_drop(const uint8_t *buf, size_t len, tdm_rtp_drop want)
{
    tdm_rtp_packet p;
    tdm_rtp_drop why = TDM_RTP_DROP_NONE;
    assert_int_equal(tdm_rtp_parse(buf, len, &p, &why), TDM_ERR_FORMAT);
    if (why != want)
        fail_msg("got %s, want %s", tdm_rtp_drop_name(why), tdm_rtp_drop_name(want));
}

static void malformed_headers_dropped_with_reason(void **state)
{
    (void)state;
    uint8_t b[64] = {0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
    for (size_t n = 0; n < 12; n++)
        expect_drop(b, n, TDM_RTP_DROP_TOO_SHORT);
    b[0] = 0x40; /* version 1 */
    expect_drop(b, 12, TDM_RTP_DROP_BAD_VERSION);
    b[0] = 0xc0; /* version 3 */
    expect_drop(b, 12, TDM_RTP_DROP_BAD_VERSION);
    b[0] = 0x00;
    expect_drop(b, 12, TDM_RTP_DROP_BAD_VERSION);

    b[0] = 0x83; /* three CSRCs, only two there */
    expect_drop(b, 12 + 8, TDM_RTP_DROP_BAD_CSRC);
    b[0] = 0x8f;
    expect_drop(b, 12, TDM_RTP_DROP_BAD_CSRC);

    b[0] = 0x90; /* extension header cut short */
    expect_drop(b, 12, TDM_RTP_DROP_BAD_EXTENSION);
    expect_drop(b, 15, TDM_RTP_DROP_BAD_EXTENSION);
    b[12] = 0xbe, b[13] = 0xde, b[14] = 0x00, b[15] = 0x02; /* two words claimed */
    expect_drop(b, 16 + 7, TDM_RTP_DROP_BAD_EXTENSION);
    tdm_rtp_packet p;
    assert_int_equal(tdm_rtp_parse(b, 16 + 8, &p, NULL), TDM_OK);
    assert_int_equal(p.payload_len, 0);

    memset(b, 0, sizeof b);
    b[0] = 0xa0; /* padding */
    b[19] = 0; /* count zero */
    expect_drop(b, 20, TDM_RTP_DROP_BAD_PADDING);
    b[19] = 9; /* more than the 8 bytes after the header */
    expect_drop(b, 20, TDM_RTP_DROP_BAD_PADDING);
    b[19] = 8; /* exactly all of them: a padding-only packet */
    assert_int_equal(tdm_rtp_parse(b, 20, &p, NULL), TDM_OK);
    assert_int_equal(p.payload_len, 0);
    assert_int_equal(p.padding_len, 8);
    b[0] = 0xa0;
    b[11] = 1; /* padding with no room at all after the header */
    expect_drop(b, 12, TDM_RTP_DROP_BAD_PADDING);

    assert_int_equal(tdm_rtp_parse(NULL, 12, &p, NULL), TDM_ERR_INVALID);
    assert_int_equal(tdm_rtp_parse(b, 12, NULL, NULL), TDM_ERR_INVALID);
}

static void writer_rejects_bad_fields(void **state)
{
    (void)state;
    uint8_t buf[64], ext[8] = {0};
    size_t n = 0;
    tdm_rtp_header h = {.payload_type = 128};
    assert_int_equal(tdm_rtp_write_header(&h, buf, sizeof buf, &n), TDM_ERR_INVALID);
    h = (tdm_rtp_header){.csrc_count = 16};
    assert_int_equal(tdm_rtp_write_header(&h, buf, sizeof buf, &n), TDM_ERR_INVALID);
    h = (tdm_rtp_header){.has_extension = true, .ext = ext, .ext_len = 6};
    assert_int_equal(tdm_rtp_write_header(&h, buf, sizeof buf, &n), TDM_ERR_INVALID);
    h = (tdm_rtp_header){.has_extension = true, .ext = NULL, .ext_len = 4};
    assert_int_equal(tdm_rtp_write_header(&h, buf, sizeof buf, &n), TDM_ERR_INVALID);
    h = (tdm_rtp_header){.payload_type = 96};
    assert_int_equal(tdm_rtp_write_header(&h, buf, 11, &n), TDM_ERR_RANGE);
    assert_int_equal(tdm_rtp_write(&h, buf, 10, 0, buf, 21, &n), TDM_ERR_RANGE);
    assert_int_equal(tdm_rtp_write(&h, ext, 4, 256, buf, sizeof buf, &n), TDM_ERR_INVALID);
    assert_int_equal(tdm_rtp_write(&h, ext, 4, 5, buf, 20, &n), TDM_ERR_RANGE);
    assert_int_equal(tdm_rtp_write(&h, ext, 4, 4, buf, 20, &n), TDM_OK);
    assert_int_equal(n, 20);
}

static void unwraps_across_wraps(void **state)
{
    (void)state;
    /* Walk a sequence from 65530 across 0 and back, like a stream would. */
    uint64_t ref = 0x10000u + 65530;
    for (int i = 1; i < 200000; i++) {
        uint64_t want = 0x10000u + 65530 + (uint64_t)i;
        uint64_t got = tdm_rtp_seq_unwrap(ref, (uint16_t)want);
        assert_int_equal(got, want);
        /* Reordered packets up to half the range behind unwrap backwards. */
        assert_int_equal(tdm_rtp_seq_unwrap(got, (uint16_t)(want - 100)), want - 100);
        assert_int_equal(tdm_rtp_seq_unwrap(got, (uint16_t)(want - 0x7fff)), want - 0x7fff);
        ref = got;
    }
    assert_int_equal(tdm_rtp_seq_unwrap(0x1ffff, 0), 0x20000);
    assert_int_equal(tdm_rtp_seq_unwrap(0x20000, 0xffff), 0x1ffff);
    assert_int_equal(tdm_rtp_seq_unwrap(0x20000, 0x8000), 0x28000); /* tie: forward */
    assert_int_equal(tdm_rtp_seq_unwrap(5, 0xfff0), 0xfff0);         /* never negative */

    uint64_t t = (1ull << 32) + 0xffffff00u;
    assert_int_equal(tdm_rtp_ts_unwrap(t, 0x00000100u), (2ull << 32) + 0x100);
    assert_int_equal(tdm_rtp_ts_unwrap((2ull << 32) + 0x100, 0xfffffff0u), (1ull << 32) + 0xfffffff0u);
    assert_int_equal(tdm_rtp_ts_unwrap(t, 0xffffff00u + 3000u), (1ull << 32) + 0xffffff00u + 3000u);
    assert_int_equal(tdm_rtp_ts_unwrap(7, 0xfffffff0u), 0xfffffff0u);
}

static void drop_reasons_have_names(void **state)
{
    (void)state;
    for (int i = 0; i < TDM_RTP_DROP_COUNT; i++) {
        const char *n = tdm_rtp_drop_name((tdm_rtp_drop)i);
        assert_non_null(n);
        assert_true(strlen(n) > 0);
        assert_true(strlen(tdm_rtp_drop_text((tdm_rtp_drop)i)) > 0);
        for (const char *c = n; *c; c++)
            assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_');
        for (int j = 0; j < i; j++)
            assert_string_not_equal(n, tdm_rtp_drop_name((tdm_rtp_drop)j));
    }
    assert_string_equal(tdm_rtp_drop_name(TDM_RTP_DROP_BAD_PADDING), "bad_padding");
    assert_string_equal(tdm_rtp_drop_name(TDM_RTP_DROP_COUNT), "unknown");

    tdm_rtp_drop_counts c = {{0}};
    tdm_rtp_drop_counts_add(&c, TDM_RTP_DROP_NONE);
    tdm_rtp_drop_counts_add(&c, TDM_RTP_DROP_TOO_SHORT);
    tdm_rtp_drop_counts_add(&c, TDM_RTP_DROP_TOO_SHORT);
    tdm_rtp_drop_counts_add(&c, TDM_RTP_DROP_DUPLICATE);
    tdm_rtp_drop_counts_add(&c, TDM_RTP_DROP_COUNT);
    assert_int_equal(c.n[TDM_RTP_DROP_TOO_SHORT], 2);
    assert_int_equal(c.n[TDM_RTP_DROP_NONE], 0);
    assert_int_equal(tdm_rtp_drop_counts_total(&c), 3);
}

static void splits_are_balanced(void **state)
{
    (void)state;
    for (size_t len = 1; len < 3000; len += 7) {
        for (size_t cap = 1; cap < 400; cap += 13) {
            for (size_t first = cap > 5 ? cap - 5 : 1; first <= cap; first++) {
                size_t n = tdm_rtp_split_count(len, first, cap);
                size_t rem = len, lo = SIZE_MAX, hi = 0;
                for (size_t i = 0; i < n; i++) {
                    size_t take = tdm_rtp_split_next(rem, n - i, i == 0 ? first : cap);
                    assert_true(take >= 1);
                    assert_true(take <= (i == 0 ? first : cap));
                    assert_true(take <= rem);
                    rem -= take;
                    if (i > 0) {
                        lo = take < lo ? take : lo;
                        hi = take > hi ? take : hi;
                    }
                }
                assert_int_equal(rem, 0);
                if (n > 2)
                    assert_true(hi - lo <= 1);
                /* n is the fewest that can hold len. */
                if (n > 1)
                    assert_true(first + (n - 2) * cap < len);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_known_fixed_header),
        cmocka_unit_test(parses_known_full_header),
        cmocka_unit_test(random_headers_roundtrip),
        cmocka_unit_test(payload_may_be_built_in_place),
        cmocka_unit_test(malformed_headers_dropped_with_reason),
        cmocka_unit_test(writer_rejects_bad_fields),
        cmocka_unit_test(unwraps_across_wraps),
        cmocka_unit_test(drop_reasons_have_names),
        cmocka_unit_test(splits_are_balanced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
