/* The recording format end to end in memory: the header and record
 * layouts round-trip; a recording reads back record for record; one
 * flipped byte, a removed record, two swapped records, appended garbage or
 * a changed header fail verification naming the first bad record (index
 * and byte offset); a truncated file reads up to its last complete record
 * and says where it ends; a wrong master key is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "recording_test_util.h"

#define N 40

static tdm_status read_all(const uint8_t *buf, size_t len, uint64_t *records, tdm_error *err)
{
    tdm_rec_reader *r;
    tdm_status st = tdm_rec_reader_open(buf, len, test_master, &r, err);
    if (st != TDM_OK)
        return st;
    tdm_rec_record rec;
    while ((st = tdm_rec_reader_next(r, &rec, err)) == TDM_OK) {
    }
    *records = tdm_rec_reader_records(r);
    tdm_rec_reader_free(r);
    return st;
}

static void header_round_trip(void **state)
{
    (void)state;
    tdm_rec_header h, back;
    test_header(&h);
    uint8_t buf[TDM_REC_MAX_HEADER];
    size_t len, blen;
    assert_int_equal(tdm_rec_header_encode(&h, buf, sizeof buf, &len, NULL), TDM_OK);
    assert_int_equal(tdm_rec_header_parse(buf, len, &back, &blen, NULL), TDM_OK);
    assert_int_equal(blen, len);
    assert_memory_equal(&h, &back, sizeof h);
    tdm_error err;
    assert_int_equal(tdm_rec_header_parse(buf, len - 1, &back, &blen, &err), TDM_ERR_TRUNCATED);
    assert_int_equal(tdm_rec_header_parse((const uint8_t *)"RIFF....WEBM", 12, &back, &blen, &err),
                     TDM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "not a Tandem recording"));
    buf[9] = 3;
    assert_int_equal(tdm_rec_header_parse(buf, len, &back, &blen, &err), TDM_ERR_UNSUPPORTED);
    strcpy(h.session_id, "has space");
    assert_int_equal(tdm_rec_header_encode(&h, buf, sizeof buf, &len, NULL), TDM_ERR_INVALID);
}

static void record_round_trip(void **state)
{
    (void)state;
    uint8_t pkt[1000], buf[TDM_REC_MAX_PLAIN];
    size_t pl = test_packet(3, pkt), len;
    tdm_rec_record r = {.type = TDM_REC_RTP,
                        .stream = 4,
                        .time_us = 123456789,
                        .data = pkt,
                        .len = pl},
                   b;
    assert_int_equal(tdm_rec_record_encode(&r, buf, sizeof buf, &len), TDM_OK);
    assert_int_equal(tdm_rec_record_parse(buf, len, &b, NULL), TDM_OK);
    assert_int_equal(b.type, TDM_REC_RTP);
    assert_int_equal(b.stream, 4);
    assert_int_equal(b.time_us, 123456789);
    assert_int_equal(b.len, pl);
    assert_memory_equal(b.data, pkt, pl);
    r = (tdm_rec_record){.type = TDM_REC_DROP, .stream = 1, .time_us = 5, .a = 77};
    assert_int_equal(tdm_rec_record_encode(&r, buf, sizeof buf, &len), TDM_OK);
    assert_int_equal(tdm_rec_record_parse(buf, len, &b, NULL), TDM_OK);
    assert_int_equal(b.a, 77);
    assert_int_equal(tdm_rec_record_parse(buf, len - 1, &b, NULL), TDM_ERR_FORMAT);
    buf[0] = 99;
    assert_int_equal(tdm_rec_record_parse(buf, len, &b, NULL), TDM_ERR_FORMAT);
    r = (tdm_rec_record){.type = TDM_REC_RTP, .data = pkt, .len = TDM_REC_MAX_PACKET + 1};
    assert_int_equal(tdm_rec_record_encode(&r, buf, sizeof buf, &len), TDM_ERR_INVALID);
}

static void round_trip(void **state)
{
    (void)state;
    size_t len, offs[N + 16], nrec;
    uint8_t *buf = test_recording(N, &len, offs, &nrec);
    assert_non_null(buf);
    tdm_rec_reader *r;
    assert_int_equal(tdm_rec_reader_open(buf, len, test_master, &r, NULL), TDM_OK);
    assert_string_equal(tdm_rec_reader_header(r)->session_id, "sess-0123");
    assert_int_equal(tdm_rec_reader_header(r)->nstreams, 2);
    tdm_rec_record rec;
    int rtp = 0, drops = 0, syncs = 0, starts = 0, stops = 0, ends = 0;
    uint8_t pkt[1000];
    size_t k = 0;
    tdm_error err;
    tdm_status st;
    while ((st = tdm_rec_reader_next(r, &rec, &err)) == TDM_OK) {
        assert_int_equal(tdm_rec_reader_last_offset(r), offs[k++]);
        switch (rec.type) {
        case TDM_REC_RTP: {
            size_t pl = test_packet(rtp, pkt);
            assert_int_equal(rec.len, pl);
            assert_memory_equal(rec.data, pkt, pl);
            assert_int_equal(rec.time_us, 1000u * (uint64_t)rtp);
            assert_int_equal(rec.stream, 1);
            rtp++;
            break;
        }
        case TDM_REC_DROP: drops++, assert_int_equal(rec.a, 3); assert_int_equal(rtp, 5); break;
        case TDM_REC_SYNC: syncs++, assert_int_equal(rec.a, (uint64_t)rtp); break;
        case TDM_REC_STREAM_START: starts++; break;
        case TDM_REC_STREAM_STOP: stops++; break;
        case TDM_REC_END: ends++, assert_int_equal(rec.a, N), assert_int_equal(rec.b, 3); break;
        }
    }
    assert_int_equal(st, TDM_EOF);
    assert_int_equal(k, nrec);
    assert_int_equal(rtp, N);
    assert_int_equal(drops, 1);
    assert_int_equal(syncs, (N - 1) / 10);
    assert_int_equal(starts, 1);
    assert_int_equal(stops, 1);
    assert_int_equal(ends, 1);
    assert_int_equal(tdm_rec_reader_offset(r), len);
    /* The reader repeats its ending. */
    assert_int_equal(tdm_rec_reader_next(r, &rec, NULL), TDM_EOF);
    /* The same with the recording key directly. */
    tdm_rec_reader *r2;
    assert_int_equal(tdm_rec_reader_open_key(buf, len, test_rec_key, &r2, NULL), TDM_OK);
    while ((st = tdm_rec_reader_next(r2, &rec, NULL)) == TDM_OK) {
    }
    assert_int_equal(st, TDM_EOF);
    assert_memory_equal(tdm_rec_reader_hash(r), tdm_rec_reader_hash(r2), TDM_REC_HASH_LEN);
    tdm_rec_reader_free(r2);
    tdm_rec_reader_free(r);
    free(buf);
}

/* Expects verification to fail at record idx, starting at byte off. */
static void expect_fault(const uint8_t *buf, size_t len, uint64_t idx, size_t off)
{
    uint64_t records;
    tdm_error err = {{0}};
    assert_int_equal(read_all(buf, len, &records, &err), TDM_ERR_FORMAT);
    assert_int_equal(records, idx);
    char want[64];
    snprintf(want, sizeof want, "record %llu at byte %zu", (unsigned long long)idx, off);
    if (!strstr(err.msg, want))
        fail_msg("fault message '%s' does not name '%s'", err.msg, want);
}

static void flipped_byte_fails_at_its_record(void **state)
{
    (void)state;
    size_t len, offs[N + 16], nrec;
    uint8_t *buf = test_recording(N, &len, offs, &nrec);
    /* A byte in each of a few records' ciphertext, tag, and length field. */
    size_t picks[] = {0, 3, 17, nrec - 1};
    for (size_t i = 0; i < sizeof picks / sizeof *picks; i++) {
        size_t k = picks[i];
        size_t at[] = {offs[k] + 4, offs[k] + 9, (k + 1 < nrec ? offs[k + 1] : len) - 1};
        for (size_t j = 0; j < 3; j++) {
            buf[at[j]] ^= 0x20;
            expect_fault(buf, len, k, offs[k]);
            buf[at[j]] ^= 0x20;
        }
    }
    /* A changed length field is an impossible length or a failed record. */
    buf[offs[7] + 3] ^= 1;
    expect_fault(buf, len, 7, offs[7]);
    buf[offs[7] + 3] ^= 1;
    /* A changed header byte (start time) fails the first record. */
    tdm_rec_reader *r;
    size_t hlen;
    tdm_rec_header h;
    assert_int_equal(tdm_rec_header_parse(buf, len, &h, &hlen, NULL), TDM_OK);
    buf[hlen - 2 * 11 - 2] ^= 1;
    expect_fault(buf, len, 0, offs[0]);
    buf[hlen - 2 * 11 - 2] ^= 1;
    uint64_t records;
    assert_int_equal(read_all(buf, len, &records, NULL), TDM_EOF);
    (void)r;
    free(buf);
}

static void removed_record_fails_where_it_was(void **state)
{
    (void)state;
    size_t len, offs[N + 16], nrec;
    uint8_t *buf = test_recording(N, &len, offs, &nrec);
    size_t ks[] = {0, 12, nrec - 2};
    for (size_t i = 0; i < 3; i++) {
        size_t k = ks[i];
        size_t rl = offs[k + 1] - offs[k];
        uint8_t *cut = malloc(len);
        memcpy(cut, buf, offs[k]);
        memcpy(cut + offs[k], buf + offs[k + 1], len - offs[k + 1]);
        expect_fault(cut, len - rl, k, offs[k]);
        free(cut);
    }
    /* Removing the END record leaves a file that is cut, not complete. */
    uint64_t records;
    tdm_error err;
    assert_int_equal(read_all(buf, offs[nrec - 1], &records, &err), TDM_ERR_TRUNCATED);
    assert_int_equal(records, nrec - 1);
    free(buf);
}

static void swapped_records_fail_at_the_first(void **state)
{
    (void)state;
    size_t len, offs[N + 16], nrec;
    uint8_t *buf = test_recording(N, &len, offs, &nrec);
    size_t k = 20;
    size_t a = offs[k + 1] - offs[k], b = offs[k + 2] - offs[k + 1];
    uint8_t *sw = malloc(len);
    memcpy(sw, buf, len);
    memcpy(sw + offs[k], buf + offs[k + 1], b);
    memcpy(sw + offs[k] + b, buf + offs[k], a);
    expect_fault(sw, len, k, offs[k]);
    free(sw);
    free(buf);
}

static void appended_bytes_fail_after_the_end(void **state)
{
    (void)state;
    size_t len, offs[N + 16], nrec;
    uint8_t *buf = test_recording(N, &len, offs, &nrec);
    memcpy(buf + len, "garbage!", 8);
    uint64_t records;
    tdm_error err;
    assert_int_equal(read_all(buf, len + 8, &records, &err), TDM_ERR_FORMAT);
    assert_int_equal(records, nrec);
    char want[64];
    snprintf(want, sizeof want, "8 bytes after the end record, at byte %zu", len);
    assert_non_null(strstr(err.msg, want));
    /* A whole record appended (the first one again) fails the same way. */
    uint8_t *dup = malloc(len + 2000);
    memcpy(dup, buf, len);
    memcpy(dup + len, buf + offs[0], offs[1] - offs[0]);
    assert_int_equal(read_all(dup, len + offs[1] - offs[0], &records, &err), TDM_ERR_FORMAT);
    free(dup);
    free(buf);
}

static void truncated_file_reads_to_last_complete_record(void **state)
{
    (void)state;
    size_t len, offs[N + 16], nrec;
    uint8_t *buf = test_recording(N, &len, offs, &nrec);
    for (size_t cut = offs[0]; cut < len; cut += 7) {
        /* Complete records before the cut. */
        size_t complete = 0;
        while (complete < nrec && (complete + 1 < nrec ? offs[complete + 1] : len) <= cut)
            complete++;
        uint64_t records;
        tdm_error err;
        assert_int_equal(read_all(buf, cut, &records, &err), TDM_ERR_TRUNCATED);
        assert_int_equal(records, complete);
        assert_non_null(strstr(err.msg, "truncated"));
        char want[64];
        snprintf(want, sizeof want, "byte %zu", offs[complete]);
        if (!strstr(err.msg, want))
            fail_msg("'%s' does not say where it ends (%s)", err.msg, want);
    }
    /* Cut inside the header. */
    tdm_rec_reader *r;
    tdm_error err;
    assert_int_equal(tdm_rec_reader_open(buf, offs[0] - 1, test_master, &r, &err),
                     TDM_ERR_TRUNCATED);
    free(buf);
}

static void wrong_key_is_refused(void **state)
{
    (void)state;
    size_t len, offs[N + 16], nrec;
    uint8_t *buf = test_recording(N, &len, offs, &nrec);
    uint8_t wrong[32];
    memcpy(wrong, test_master, 32);
    wrong[31] ^= 1;
    tdm_rec_reader *r;
    tdm_error err;
    assert_int_equal(tdm_rec_reader_open(buf, len, wrong, &r, &err), TDM_ERR_INVALID);
    assert_non_null(strstr(err.msg, "wrong key"));
    /* The right master, but the session id in the header changed: the key
     * was wrapped for another session and does not unwrap. */
    buf[TDM_REC_MAGIC_LEN + 4 + 1] ^= 1;
    assert_int_equal(tdm_rec_reader_open(buf, len, test_master, &r, &err), TDM_ERR_INVALID);
    buf[TDM_REC_MAGIC_LEN + 4 + 1] ^= 1;
    /* A wrong recording key opens the header but fails the first record. */
    uint8_t wrong_rec[32];
    memcpy(wrong_rec, test_rec_key, 32);
    wrong_rec[0] ^= 1;
    assert_int_equal(tdm_rec_reader_open_key(buf, len, wrong_rec, &r, NULL), TDM_OK);
    tdm_rec_record rec;
    assert_int_equal(tdm_rec_reader_next(r, &rec, &err), TDM_ERR_FORMAT);
    tdm_rec_reader_free(r);
    free(buf);
}

/* Version 1 files (one entry per sealed record, written before batching)
 * still read back packet for packet, verify, and locate a flipped byte. */
static void version1_file_reads_and_verifies(void **state)
{
    (void)state;
    tdm_rec_header h;
    test_header(&h);
    h.version = TDM_REC_VERSION_V1;
    tdm_rec_encoder *e;
    assert_int_equal(tdm_rec_encoder_new(&h, test_rec_key, 4u << 20, 0, &e, NULL), TDM_OK);
    uint8_t pkt[1000];
    size_t offs[N];
    for (int i = 0; i < N; i++) {
        offs[i] = (size_t)tdm_rec_encoder_get_stats(e)->bytes;
        size_t pl = test_packet(i, pkt);
        assert_int_equal(tdm_rec_encoder_add_rtp(e, 1, 1000u * (uint64_t)i, pkt, pl), TDM_OK);
    }
    assert_int_equal(tdm_rec_encoder_finish(e, 1000u * N), TDM_OK);
    size_t len;
    const uint8_t *p = tdm_rec_encoder_pending(e, &len);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    memcpy(buf, p, len);
    tdm_rec_encoder_free(e);

    tdm_rec_reader *r;
    assert_int_equal(tdm_rec_reader_open(buf, len, test_master, &r, NULL), TDM_OK);
    assert_int_equal(tdm_rec_reader_header(r)->version, TDM_REC_VERSION_V1);
    tdm_rec_record rec;
    tdm_status st;
    int rtp = 0;
    while ((st = tdm_rec_reader_next(r, &rec, NULL)) == TDM_OK) {
        if (rec.type != TDM_REC_RTP)
            continue;
        size_t pl = test_packet(rtp, pkt);
        assert_int_equal(rec.len, pl);
        assert_memory_equal(rec.data, pkt, pl);
        rtp++;
    }
    assert_int_equal(st, TDM_EOF);
    assert_int_equal(rtp, N);
    /* one record per packet in v1: one entry per record */
    assert_int_equal(tdm_rec_reader_records(r), (uint64_t)N + 1);
    tdm_rec_reader_free(r);

    buf[offs[7] + 20] ^= 0x01;
    expect_fault(buf, len, 7, offs[7]);
    free(buf);
}

static void encoder_buffer_full_is_reported(void **state)
{
    (void)state;
    tdm_rec_header h;
    test_header(&h);
    tdm_rec_encoder *e;
    size_t cap = TDM_REC_MAX_HEADER + 2 * TDM_REC_MAX_RECORD;
    assert_int_equal(tdm_rec_encoder_new(&h, test_rec_key, cap, 0, &e, NULL), TDM_OK);
    uint8_t pkt[TDM_REC_MAX_PACKET] = {0x80};
    int added = 0;
    while (tdm_rec_encoder_add_rtp(e, 1, 0, pkt, sizeof pkt) == TDM_OK)
        added++;
    assert_true(added >= 2);
    size_t n;
    tdm_rec_encoder_pending(e, &n);
    tdm_rec_encoder_consume(e, n);
    assert_int_equal(tdm_rec_encoder_add_rtp(e, 1, 0, pkt, sizeof pkt), TDM_OK);
    assert_false(tdm_rec_encoder_flush_due(e, 999999));
    assert_true(tdm_rec_encoder_flush_due(e, 1000000));
    tdm_rec_encoder_flushed(e, 1000000);
    assert_false(tdm_rec_encoder_flush_due(e, 1500000));
    assert_int_equal(tdm_rec_encoder_finish(e, 5), TDM_OK);
    assert_int_equal(tdm_rec_encoder_add_rtp(e, 1, 0, pkt, 10), TDM_ERR_INVALID);
    tdm_rec_encoder_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_round_trip),
        cmocka_unit_test(record_round_trip),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(flipped_byte_fails_at_its_record),
        cmocka_unit_test(removed_record_fails_where_it_was),
        cmocka_unit_test(swapped_records_fail_at_the_first),
        cmocka_unit_test(appended_bytes_fail_after_the_end),
        cmocka_unit_test(truncated_file_reads_to_last_complete_record),
        cmocka_unit_test(wrong_key_is_refused),
        cmocka_unit_test(encoder_buffer_full_is_reported),
        cmocka_unit_test(version1_file_reads_and_verifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
