/* rtcp_parse_build_roundtrip_test: known bytes laid out as RFC 3550, 4585,
 * 5104 and the REMB draft say parse to the expected fields and are what the
 * writers produce; compound packets iterate in order; each kind of
 * malformed packet is dropped with its own reason and rejects the whole
 * compound; NACK lists of many shapes (runs, gaps, across 65535 -> 0,
 * unsorted, duplicates) compress to pairs that expand to exactly the same
 * set, as few as possible when ascending; RTP and RTCP demultiplex by
 * payload type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_rtcp.h"

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint32_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32);
}

/* ---- known packets ---- */

/* SR, one report block (RFC 3550 6.4.1). */
static const uint8_t known_sr[] = {
    0x81, 0xc8, 0x00, 0x0c,                         /* V=2 RC=1 PT=200 length 12 */
    0x11, 0x22, 0x33, 0x44,                         /* SSRC of sender */
    0xe6, 0x5a, 0x1b, 0x2c, 0x80, 0x00, 0x00, 0x00, /* NTP timestamp */
    0x00, 0x01, 0x5f, 0x90,                         /* RTP timestamp 90000 */
    0x00, 0x00, 0x00, 0x64,                         /* packet count 100 */
    0x00, 0x01, 0x86, 0xa0,                         /* octet count 100000 */
    0xaa, 0xbb, 0xcc, 0xdd,                         /* SSRC_1 */
    0x40, 0x00, 0x00, 0x07,                         /* fraction 64/256, cumulative 7 */
    0x00, 0x01, 0x00, 0x05,                         /* extended highest seq 65541 */
    0x00, 0x00, 0x00, 0x20,                         /* jitter 32 */
    0x5a, 0x1b, 0x2c, 0x80,                         /* LSR */
    0x00, 0x01, 0x00, 0x00,                         /* DLSR 1 s */
};

/* RR, two report blocks, the second with a negative cumulative loss
 * (duplicates outnumber losses, RFC 3550 6.4.1). */
static const uint8_t known_rr[] = {
    0x82, 0xc9, 0x00, 0x0d, 0x01, 0x02, 0x03, 0x04,                         /* RC=2 */
    0x0a, 0x0b, 0x0c, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, /* block 1 */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x0e, 0x0f, 0x10, 0x11, 0xff, 0xff, 0xff, 0xfd, 0x00, 0x02, 0x00, 0x00, /* block 2 */
    0x00, 0x00, 0x01, 0x00, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x80, 0x00,
};

/* SDES, one chunk with a CNAME, terminator and padding (RFC 3550 6.5). */
static const uint8_t known_sdes[] = {
    0x81, 0xca, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44,
    0x01, 0x04, 'a',  'b',  'c',  'd',  0x00, 0x00,
};

/* BYE with a reason (RFC 3550 6.6). */
static const uint8_t known_bye[] = {
    0x81, 0xcb, 0x00, 0x03, 0x11, 0x22, 0x33, 0x44,
    0x05, 'l',  'e',  'a',  'v',  'e',  0x00, 0x00,
};

/* Generic NACK: PID 0x1234, BLP bits 0 and 2 (RFC 4585 6.2.1). */
static const uint8_t known_nack[] = {
    0x81, 0xcd, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x02, 0x12, 0x34, 0x00, 0x05,
};

/* PLI (RFC 4585 6.3.1). */
static const uint8_t known_pli[] = {
    0x81, 0xce, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
};

/* FIR, one entry with command sequence number 7 (RFC 5104 4.3.1). */
static const uint8_t known_fir[] = {
    0x84, 0xce, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x07, 0x00, 0x00, 0x00,
};

/* REMB, 1 Mbit/s = 250000 << 2 for one SSRC (draft-alvestrand-rmcat-remb 2.2). */
static const uint8_t known_remb[] = {
    0x8f, 0xce, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    'R',  'E',  'M',  'B',  0x01, 0x0b, 0xd0, 0x90, 0x00, 0x00, 0x00, 0x02,
};

/* Parses buf, which must hold exactly one packet. */
static tdm_rtcp_item parse_single(const uint8_t *buf, size_t len)
{
    tdm_rtcp_iter it;
    tdm_rtcp_drop why = TDM_RTCP_DROP_COUNT;
    assert_int_equal(tdm_rtcp_iter_init(&it, buf, len, &why), TDM_OK);
    assert_int_equal(why, TDM_RTCP_DROP_NONE);
    tdm_rtcp_item item;
    assert_int_equal(tdm_rtcp_iter_next(&it, &item), TDM_OK);
    assert_ptr_equal(item.raw, buf);
    assert_int_equal(item.raw_len, len);
    tdm_rtcp_item after;
    assert_int_equal(tdm_rtcp_iter_next(&it, &after), TDM_EOF);
    return item;
}

static void parses_and_writes_known_sr(void **state)
{
    (void)state;
    tdm_rtcp_item item = parse_single(known_sr, sizeof known_sr);
    assert_int_equal(item.type, TDM_RTCP_SR);
    const tdm_rtcp_report *r = &item.u.report;
    assert_int_equal(r->ssrc, 0x11223344);
    assert_true(r->has_sender_info);
    assert_true(r->sender.ntp == 0xe65a1b2c80000000u);
    assert_int_equal(r->sender.rtp_timestamp, 90000);
    assert_int_equal(r->sender.packet_count, 100);
    assert_int_equal(r->sender.octet_count, 100000);
    assert_int_equal(r->block_count, 1);
    assert_int_equal(r->ext_len, 0);
    tdm_rtcp_report_block b = tdm_rtcp_report_block_at(r, 0);
    assert_int_equal(b.ssrc, 0xaabbccdd);
    assert_int_equal(b.fraction_lost, 64);
    assert_int_equal(b.cumulative_lost, 7);
    assert_int_equal(b.highest_seq, 65541);
    assert_int_equal(b.jitter, 32);
    assert_int_equal(b.lsr, 0x5a1b2c80);
    assert_int_equal(b.dlsr, 65536);

    uint8_t out[128];
    size_t n = 0;
    assert_int_equal(tdm_rtcp_write_sr(r->ssrc, &r->sender, &b, 1, out, sizeof out, &n), TDM_OK);
    assert_int_equal(n, sizeof known_sr);
    assert_memory_equal(out, known_sr, n);
}

static void parses_and_writes_known_rr(void **state)
{
    (void)state;
    tdm_rtcp_item item = parse_single(known_rr, sizeof known_rr);
    assert_int_equal(item.type, TDM_RTCP_RR);
    const tdm_rtcp_report *r = &item.u.report;
    assert_int_equal(r->ssrc, 0x01020304);
    assert_false(r->has_sender_info);
    assert_int_equal(r->block_count, 2);
    tdm_rtcp_report_block b[2] = {tdm_rtcp_report_block_at(r, 0), tdm_rtcp_report_block_at(r, 1)};
    assert_int_equal(b[0].ssrc, 0x0a0b0c0d);
    assert_int_equal(b[0].cumulative_lost, 0);
    assert_int_equal(b[0].highest_seq, 0xffff);
    assert_int_equal(b[0].jitter, 1);
    assert_int_equal(b[1].ssrc, 0x0e0f1011);
    assert_int_equal(b[1].fraction_lost, 0xff);
    assert_int_equal(b[1].cumulative_lost, -3);
    assert_int_equal(b[1].highest_seq, 0x20000);
    assert_int_equal(b[1].jitter, 256);
    assert_int_equal(b[1].lsr, 0x12345678);
    assert_int_equal(b[1].dlsr, 0x8000);

    uint8_t out[128];
    size_t n = 0;
    assert_int_equal(tdm_rtcp_write_rr(r->ssrc, b, 2, out, sizeof out, &n), TDM_OK);
    assert_int_equal(n, sizeof known_rr);
    assert_memory_equal(out, known_rr, n);
}

static void parses_known_sdes_and_bye(void **state)
{
    (void)state;
    tdm_rtcp_item item = parse_single(known_sdes, sizeof known_sdes);
    assert_int_equal(item.type, TDM_RTCP_SDES);
    assert_int_equal(item.u.sdes.chunk_count, 1);

    item = parse_single(known_bye, sizeof known_bye);
    assert_int_equal(item.type, TDM_RTCP_BYE);
    assert_int_equal(item.u.bye.ssrc_count, 1);
    assert_int_equal(tdm_rtcp_bye_ssrc(&item.u.bye, 0), 0x11223344);
    assert_int_equal(item.u.bye.reason_len, 5);
    assert_memory_equal(item.u.bye.reason, "leave", 5);

    /* A BYE without a reason. */
    static const uint8_t bare[] = {0x81, 0xcb, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef};
    item = parse_single(bare, sizeof bare);
    assert_null(item.u.bye.reason);
    assert_int_equal(tdm_rtcp_bye_ssrc(&item.u.bye, 0), 0xdeadbeef);
}

static void parses_and_writes_known_feedback(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t n = 0;

    tdm_rtcp_item item = parse_single(known_nack, sizeof known_nack);
    assert_int_equal(item.type, TDM_RTCP_NACK);
    assert_int_equal(item.u.nack.sender_ssrc, 1);
    assert_int_equal(item.u.nack.media_ssrc, 2);
    assert_int_equal(item.u.nack.pair_count, 1);
    uint16_t seqs[17];
    assert_int_equal(tdm_rtcp_nack_seqs(&item.u.nack, seqs, 17), 3);
    assert_int_equal(seqs[0], 0x1234);
    assert_int_equal(seqs[1], 0x1235);
    assert_int_equal(seqs[2], 0x1237);
    /* A short array still learns the total. */
    assert_int_equal(tdm_rtcp_nack_seqs(&item.u.nack, seqs, 1), 3);
    assert_int_equal(tdm_rtcp_write_nack(1, 2, (const uint16_t[]){0x1234, 0x1235, 0x1237}, 3, out,
                                         sizeof out, &n),
                     TDM_OK);
    assert_int_equal(n, sizeof known_nack);
    assert_memory_equal(out, known_nack, n);

    item = parse_single(known_pli, sizeof known_pli);
    assert_int_equal(item.type, TDM_RTCP_PLI);
    assert_int_equal(item.u.pli.sender_ssrc, 1);
    assert_int_equal(item.u.pli.media_ssrc, 2);
    assert_int_equal(tdm_rtcp_write_pli(1, 2, out, sizeof out, &n), TDM_OK);
    assert_int_equal(n, sizeof known_pli);
    assert_memory_equal(out, known_pli, n);

    item = parse_single(known_fir, sizeof known_fir);
    assert_int_equal(item.type, TDM_RTCP_FIR);
    assert_int_equal(item.u.fir.sender_ssrc, 1);
    assert_int_equal(item.u.fir.entry_count, 1);
    tdm_rtcp_fir_entry e = tdm_rtcp_fir_entry_at(&item.u.fir, 0);
    assert_int_equal(e.ssrc, 2);
    assert_int_equal(e.seq, 7);
    assert_int_equal(tdm_rtcp_write_fir(1, &e, 1, out, sizeof out, &n), TDM_OK);
    assert_int_equal(n, sizeof known_fir);
    assert_memory_equal(out, known_fir, n);

    item = parse_single(known_remb, sizeof known_remb);
    assert_int_equal(item.type, TDM_RTCP_REMB);
    assert_int_equal(item.u.remb.sender_ssrc, 1);
    assert_true(item.u.remb.bitrate_bps == 1000000);
    assert_int_equal(item.u.remb.ssrc_count, 1);
    assert_int_equal(tdm_rtcp_remb_ssrc(&item.u.remb, 0), 2);
    assert_int_equal(tdm_rtcp_write_remb(1, 1000000, (const uint32_t[]){2}, 1, out, sizeof out, &n),
                     TDM_OK);
    assert_int_equal(n, sizeof known_remb);
    assert_memory_equal(out, known_remb, n);
}

static void unknown_packets_pass_through_as_other(void **state)
{
    (void)state;
    /* APP (PT 204), transport-wide CC (RTPFB FMT 15), AFB that is not REMB,
     * and a padded XR (PT 207) with 4 bytes of padding. */
    static const uint8_t app[] = {0x80, 0xcc, 0x00, 0x02, 0, 0, 0, 1, 'n', 'a', 'm', 'e'};
    static const uint8_t twcc[] = {0x8f, 0xcd, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 1, 2, 3, 4};
    static const uint8_t afb[] = {0x8f, 0xce, 0x00, 0x03, 0,   0,   0,   1,
                                  0,    0,    0,    0,    'G', 'O', 'O', 'G'};
    static const uint8_t xr[] = {0xa0, 0xcf, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 4};
    const struct {
        const uint8_t *p;
        size_t n, body;
        uint8_t pt, count;
    } cases[] = {{app, sizeof app, 8, 204, 0},
                 {twcc, sizeof twcc, 12, 205, 15},
                 {afb, sizeof afb, 12, 206, 15},
                 {xr, sizeof xr, 4, 207, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tdm_rtcp_item item = parse_single(cases[i].p, cases[i].n);
        assert_int_equal(item.type, TDM_RTCP_OTHER);
        assert_int_equal(item.u.other.packet_type, cases[i].pt);
        assert_int_equal(item.u.other.count, cases[i].count);
        assert_ptr_equal(item.u.other.body, cases[i].p + 4);
        assert_int_equal(item.u.other.body_len, cases[i].body);
    }
}

static void compound_iterates_in_order(void **state)
{
    (void)state;
    const tdm_rtcp_part parts[] = {
        {known_sr, sizeof known_sr},     {known_sdes, sizeof known_sdes},
        {known_remb, sizeof known_remb}, {known_nack, sizeof known_nack},
        {known_pli, sizeof known_pli},   {known_fir, sizeof known_fir},
        {known_bye, sizeof known_bye},
    };
    const tdm_rtcp_type types[] = {TDM_RTCP_SR,  TDM_RTCP_SDES, TDM_RTCP_REMB, TDM_RTCP_NACK,
                                   TDM_RTCP_PLI, TDM_RTCP_FIR,  TDM_RTCP_BYE};
    size_t total = 0;
    for (size_t i = 0; i < 7; i++)
        total += parts[i].len;
    uint8_t buf[512];
    size_t n = 0;
    assert_int_equal(tdm_rtcp_write_compound(parts, 7, buf, total - 1, &n), TDM_ERR_RANGE);
    assert_int_equal(tdm_rtcp_write_compound(parts, 7, buf, sizeof buf, &n), TDM_OK);
    assert_int_equal(n, total);

    tdm_rtcp_iter it;
    assert_int_equal(tdm_rtcp_iter_init(&it, buf, n, NULL), TDM_OK);
    tdm_rtcp_item item;
    size_t off = 0;
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(tdm_rtcp_iter_next(&it, &item), TDM_OK);
        assert_int_equal(item.type, types[i]);
        assert_ptr_equal(item.raw, buf + off);
        assert_int_equal(item.raw_len, parts[i].len);
        off += parts[i].len;
    }
    assert_int_equal(tdm_rtcp_iter_next(&it, &item), TDM_EOF);
    assert_int_equal(tdm_rtcp_iter_next(&it, &item), TDM_EOF);

    /* A part that is not one whole RTCP packet is refused. */
    const tdm_rtcp_part bad[] = {{known_sr, sizeof known_sr - 4}};
    assert_int_equal(tdm_rtcp_write_compound(bad, 1, buf, sizeof buf, &n), TDM_ERR_INVALID);
}

typedef struct bad_case {
    const char *what;
    uint8_t bytes[40];
    size_t len;
    tdm_rtcp_drop why;
} bad_case;

static void malformed_packets_dropped_with_reason(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"empty", {0}, 0, TDM_RTCP_DROP_TOO_SHORT},
        {"three bytes", {0x80, 0xc9, 0x00}, 3, TDM_RTCP_DROP_TOO_SHORT},
        {"version 1", {0x40, 0xc9, 0x00, 0x01, 1, 2, 3, 4}, 8, TDM_RTCP_DROP_BAD_VERSION},
        {"length past end", {0x80, 0xc9, 0x00, 0x02, 1, 2, 3, 4}, 8, TDM_RTCP_DROP_BAD_LENGTH},
        {"zero padding", {0xa0, 0xc9, 0x00, 0x01, 1, 2, 3, 0}, 8, TDM_RTCP_DROP_BAD_PADDING},
        {"padding over body", {0xa0, 0xc9, 0x00, 0x01, 1, 2, 3, 5}, 8, TDM_RTCP_DROP_BAD_PADDING},
        {"RR without its block", {0x81, 0xc9, 0x00, 0x01, 1, 2, 3, 4}, 8, TDM_RTCP_DROP_BAD_REPORT},
        {"SR without sender info", {0x80, 0xc8, 0x00, 0x01, 1, 2, 3, 4}, 8,
         TDM_RTCP_DROP_BAD_REPORT},
        {"SDES item past end", {0x81, 0xca, 0x00, 0x02, 1, 2, 3, 4, 1, 9, 'a', 'b'}, 12,
         TDM_RTCP_DROP_BAD_SDES},
        {"SDES without terminator", {0x81, 0xca, 0x00, 0x02, 1, 2, 3, 4, 1, 2, 'a', 'b'}, 12,
         TDM_RTCP_DROP_BAD_SDES},
        {"SDES chunk missing", {0x82, 0xca, 0x00, 0x02, 1, 2, 3, 4, 0, 0, 0, 0}, 12,
         TDM_RTCP_DROP_BAD_SDES},
        {"BYE SSRCs past end", {0x82, 0xcb, 0x00, 0x01, 1, 2, 3, 4}, 8, TDM_RTCP_DROP_BAD_BYE},
        {"BYE reason past end", {0x81, 0xcb, 0x00, 0x02, 1, 2, 3, 4, 9, 'x', 0, 0}, 12,
         TDM_RTCP_DROP_BAD_BYE},
        {"feedback too short", {0x81, 0xce, 0x00, 0x01, 1, 2, 3, 4}, 8, TDM_RTCP_DROP_BAD_FEEDBACK},
        {"NACK without pairs", {0x81, 0xcd, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2}, 12,
         TDM_RTCP_DROP_BAD_NACK},
        {"PLI with FCI", {0x81, 0xce, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0}, 16,
         TDM_RTCP_DROP_BAD_PLI},
        {"FIR half entry", {0x84, 0xce, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2}, 16,
         TDM_RTCP_DROP_BAD_FIR},
        {"REMB SSRCs past end",
         {0x8f, 0xce, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 0, 'R', 'E', 'M', 'B', 2, 0, 0, 1}, 20,
         TDM_RTCP_DROP_BAD_REMB},
        {"REMB cut short", {0x8f, 0xce, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 0, 'R', 'E', 'M', 'B'}, 16,
         TDM_RTCP_DROP_BAD_REMB},
    };
    tdm_rtcp_drop_counts counts;
    memset(&counts, 0, sizeof counts);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const bad_case *c = &cases[i];
        tdm_rtcp_iter it;
        tdm_rtcp_drop why = TDM_RTCP_DROP_NONE;
        tdm_status st = tdm_rtcp_iter_init(&it, c->bytes, c->len, &why);
        if (st != TDM_ERR_FORMAT || why != c->why)
            fail_msg("%s: status %d reason %s, want %s", c->what, st, tdm_rtcp_drop_name(why),
                     tdm_rtcp_drop_name(c->why));
        tdm_rtcp_item item;
        assert_int_equal(tdm_rtcp_iter_next(&it, &item), TDM_EOF);
        tdm_rtcp_drop_counts_add(&counts, why);

        /* A good packet in front does not save a bad tail: the whole
         * compound goes. */
        if (c->len == 0)
            continue;
        uint8_t buf[64];
        memcpy(buf, known_pli, sizeof known_pli);
        memcpy(buf + sizeof known_pli, c->bytes, c->len);
        why = TDM_RTCP_DROP_NONE;
        assert_int_equal(tdm_rtcp_iter_init(&it, buf, sizeof known_pli + c->len, &why),
                         TDM_ERR_FORMAT);
        assert_int_equal(why, c->why);
        assert_int_equal(tdm_rtcp_iter_next(&it, &item), TDM_EOF);
    }
    assert_int_equal(tdm_rtcp_drop_counts_total(&counts), sizeof cases / sizeof cases[0]);
    tdm_rtcp_drop_counts_add(&counts, TDM_RTCP_DROP_NONE);
    assert_int_equal(tdm_rtcp_drop_counts_total(&counts), sizeof cases / sizeof cases[0]);

    /* Every reason has its own label. */
    for (int a = 0; a < TDM_RTCP_DROP_COUNT; a++) {
        assert_string_not_equal(tdm_rtcp_drop_name((tdm_rtcp_drop)a), "unknown");
        for (int b = a + 1; b < TDM_RTCP_DROP_COUNT; b++)
            assert_string_not_equal(tdm_rtcp_drop_name((tdm_rtcp_drop)a),
                                    tdm_rtcp_drop_name((tdm_rtcp_drop)b));
    }
    assert_string_equal(tdm_rtcp_drop_name(TDM_RTCP_DROP_COUNT), "unknown");
}

/* ---- NACK compression ---- */

static uint8_t want[65536 / 8], got[65536 / 8];

static void set_bit(uint8_t *map, uint16_t s)
{
    map[s >> 3] |= (uint8_t)(1u << (s & 7));
}

/* Fewest pairs for an ascending (mod 2^16) list: a new pair opens at each
 * number more than 16 past the current PID. */
static size_t fewest_pairs(const uint16_t *seqs, size_t n)
{
    size_t pairs = 0;
    uint16_t pid = 0;
    for (size_t i = 0; i < n; i++) {
        if (pairs == 0 || (uint16_t)(seqs[i] - pid) > 16) {
            pid = seqs[i];
            pairs++;
        }
    }
    return pairs;
}

/* Writes a NACK for seqs, parses it back and checks that it names exactly
 * that set; checks the pair count when the list is ascending. */
static void check_nack(const uint16_t *seqs, size_t n, bool ascending)
{
    static uint8_t buf[65536];
    static uint16_t back[65536];
    size_t len = 0;
    assert_int_equal(tdm_rtcp_write_nack(7, 9, seqs, n, buf, sizeof buf, &len), TDM_OK);
    tdm_rtcp_item item = parse_single(buf, len);
    assert_int_equal(item.type, TDM_RTCP_NACK);
    assert_int_equal(item.u.nack.sender_ssrc, 7);
    assert_int_equal(item.u.nack.media_ssrc, 9);
    if (ascending)
        assert_int_equal(item.u.nack.pair_count, fewest_pairs(seqs, n));
    size_t m = tdm_rtcp_nack_seqs(&item.u.nack, back, 65536);
    assert_true(m <= 65536);
    memset(want, 0, sizeof want);
    memset(got, 0, sizeof got);
    for (size_t i = 0; i < n; i++)
        set_bit(want, seqs[i]);
    for (size_t i = 0; i < m; i++) {
        /* Each number once: no pair repeats another's. */
        assert_false(got[back[i] >> 3] & (1u << (back[i] & 7)));
        set_bit(got, back[i]);
    }
    assert_memory_equal(want, got, sizeof want);

    /* One byte short: refused. */
    assert_int_equal(tdm_rtcp_write_nack(7, 9, seqs, n, buf, len - 1, &len), TDM_ERR_RANGE);
}

static void nack_compresses_many_patterns(void **state)
{
    (void)state;
    static uint16_t seqs[4096];
    size_t n;

    /* A single loss; 17 in a row (one pair); 18 in a row (two). */
    check_nack((const uint16_t[]){100}, 1, true);
    for (n = 0; n < 17; n++)
        seqs[n] = (uint16_t)(200 + n);
    check_nack(seqs, 17, true);
    seqs[17] = 217;
    check_nack(seqs, 18, true);

    /* Gaps of exactly 16 and 17 between losses. */
    for (n = 0; n < 10; n++)
        seqs[n] = (uint16_t)(1000 + 16 * n);
    check_nack(seqs, 10, true);
    for (n = 0; n < 10; n++)
        seqs[n] = (uint16_t)(1000 + 17 * n);
    check_nack(seqs, 10, true);

    /* Every other packet. */
    for (n = 0; n < 100; n++)
        seqs[n] = (uint16_t)(5000 + 2 * n);
    check_nack(seqs, 100, true);

    /* Across the wrap: 65530 .. 65535, 0 .. 10, and a pair whose PID is
     * 65535 covering 0 .. 15. */
    for (n = 0; n < 17; n++)
        seqs[n] = (uint16_t)(65530 + n);
    check_nack(seqs, 17, true);
    seqs[0] = 65535;
    seqs[1] = 0;
    seqs[2] = 15;
    seqs[3] = 16;
    check_nack(seqs, 4, true);
    {
        uint8_t buf[64];
        size_t len = 0;
        assert_int_equal(tdm_rtcp_write_nack(1, 2, seqs, 3, buf, sizeof buf, &len), TDM_OK);
        /* One pair: PID 65535, BLP bits 0 (seq 0) and 15 (seq 15). */
        assert_int_equal(len, 16);
        assert_memory_equal(buf + 12, ((const uint8_t[]){0xff, 0xff, 0x80, 0x01}), 4);
    }

    /* Random ascending lists with random gaps, starting near the wrap. */
    for (int round = 0; round < 200; round++) {
        uint16_t s = (uint16_t)(65535 - rnd() % 300);
        n = 1 + rnd() % 300;
        for (size_t i = 0; i < n; i++) {
            seqs[i] = s;
            s = (uint16_t)(s + 1 + rnd() % (round % 3 == 0 ? 40 : 5));
        }
        check_nack(seqs, n, true);
    }

    /* Unsorted with duplicates: still exactly the set. */
    for (int round = 0; round < 100; round++) {
        n = 1 + rnd() % 500;
        uint16_t base = (uint16_t)rnd();
        for (size_t i = 0; i < n; i++)
            seqs[i] = (uint16_t)(base + rnd() % 400);
        check_nack(seqs, n, false);
    }

    /* A long run of losses across the wrap. */
    for (n = 0; n < 4096; n++)
        seqs[n] = (uint16_t)(63000 + n);
    check_nack(seqs, 4096, true);
}

/* ---- writers' limits, REMB rounding, demux ---- */

static void writers_refuse_without_writing(void **state)
{
    (void)state;
    uint8_t buf[1024];
    size_t n = 12345;
    tdm_rtcp_sender_info si = {0};
    tdm_rtcp_report_block blocks[32];
    memset(blocks, 0, sizeof blocks);
    memset(buf, 0xee, sizeof buf);

    assert_int_equal(tdm_rtcp_write_sr(1, &si, blocks, 1, buf, 51, &n), TDM_ERR_RANGE);
    assert_int_equal(tdm_rtcp_write_rr(1, blocks, 32, buf, sizeof buf, &n), TDM_ERR_INVALID);
    assert_int_equal(tdm_rtcp_write_sr(1, NULL, NULL, 0, buf, sizeof buf, &n), TDM_ERR_INVALID);
    assert_int_equal(tdm_rtcp_write_pli(1, 2, buf, 11, &n), TDM_ERR_RANGE);
    tdm_rtcp_fir_entry e = {3, 4};
    assert_int_equal(tdm_rtcp_write_fir(1, &e, 1, buf, 19, &n), TDM_ERR_RANGE);
    assert_int_equal(tdm_rtcp_write_fir(1, &e, 0, buf, sizeof buf, &n), TDM_ERR_INVALID);
    assert_int_equal(tdm_rtcp_write_remb(1, 5, (const uint32_t[]){1}, 1, buf, 23, &n),
                     TDM_ERR_RANGE);
    assert_int_equal(tdm_rtcp_write_remb(1, 5, NULL, 1, buf, sizeof buf, &n), TDM_ERR_INVALID);
    assert_int_equal(tdm_rtcp_write_nack(1, 2, NULL, 0, buf, sizeof buf, &n), TDM_ERR_INVALID);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xee);
    assert_int_equal(n, 12345);

    /* 31 blocks fit; cumulative loss beyond 24 bits is clamped. */
    blocks[0].cumulative_lost = 1 << 30;
    blocks[1].cumulative_lost = -(1 << 30);
    assert_int_equal(tdm_rtcp_write_rr(1, blocks, 31, buf, sizeof buf, &n), TDM_OK);
    tdm_rtcp_item item = parse_single(buf, n);
    assert_int_equal(item.u.report.block_count, 31);
    assert_int_equal(tdm_rtcp_report_block_at(&item.u.report, 0).cumulative_lost, 0x7fffff);
    assert_int_equal(tdm_rtcp_report_block_at(&item.u.report, 1).cumulative_lost, -0x800000);
}

static void remb_bitrate_rounds_down(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n;
    const uint64_t rates[] = {0,           1,          262143,       262144,     262145,
                              1000000,     2500000,    123456789,    10000000000u,
                              UINT64_MAX};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        assert_int_equal(tdm_rtcp_write_remb(9, rates[i], NULL, 0, buf, sizeof buf, &n), TDM_OK);
        tdm_rtcp_item item = parse_single(buf, n);
        assert_int_equal(item.type, TDM_RTCP_REMB);
        uint64_t got_bps = item.u.remb.bitrate_bps;
        assert_true(got_bps <= rates[i]);
        /* Within one part in 2^17 of the truth. */
        assert_true(rates[i] - got_bps <= rates[i] >> 17);
        if (rates[i] <= 262143)
            assert_true(got_bps == rates[i]);
    }
    /* An exponent that overflows 64 bits saturates. */
    static const uint8_t huge[] = {0x8f, 0xce, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 0,
                                   'R',  'E',  'M',  'B',  0, 0xff, 0xff, 0xff};
    tdm_rtcp_item item = parse_single(huge, sizeof huge);
    assert_true(item.u.remb.bitrate_bps == UINT64_MAX);
}

static void demux_tells_rtcp_from_rtp(void **state)
{
    (void)state;
    assert_true(tdm_rtcp_is_rtcp(known_sr, sizeof known_sr));
    assert_true(tdm_rtcp_is_rtcp((const uint8_t[]){0x80, 192}, 2));
    assert_true(tdm_rtcp_is_rtcp((const uint8_t[]){0x80, 223}, 2));
    assert_false(tdm_rtcp_is_rtcp((const uint8_t[]){0x80, 191}, 2));
    assert_false(tdm_rtcp_is_rtcp((const uint8_t[]){0x80, 224}, 2));
    /* VP8 at PT 96 with and without the marker bit. */
    assert_false(tdm_rtcp_is_rtcp((const uint8_t[]){0x80, 96}, 2));
    assert_false(tdm_rtcp_is_rtcp((const uint8_t[]){0x80, 0x80 | 96}, 2));
    assert_false(tdm_rtcp_is_rtcp((const uint8_t[]){0x80}, 1));
    assert_false(tdm_rtcp_is_rtcp(NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_and_writes_known_sr),
        cmocka_unit_test(parses_and_writes_known_rr),
        cmocka_unit_test(parses_known_sdes_and_bye),
        cmocka_unit_test(parses_and_writes_known_feedback),
        cmocka_unit_test(unknown_packets_pass_through_as_other),
        cmocka_unit_test(compound_iterates_in_order),
        cmocka_unit_test(malformed_packets_dropped_with_reason),
        cmocka_unit_test(nack_compresses_many_patterns),
        cmocka_unit_test(writers_refuse_without_writing),
        cmocka_unit_test(remb_bitrate_rounds_down),
        cmocka_unit_test(demux_tells_rtcp_from_rtp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
