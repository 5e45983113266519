/* A session's recordings as segments (tdm_rec_segments.h), with plain
 * calls: a scan says where a segment ends on the wall clock (complete, cut
 * short at its last whole record, or at a fault); segments sort by session
 * and header start time whatever order they come in, ties kept in the
 * caller's order; runs per session; seams are gaps, overlaps (also one
 * segment inside another) or nothing at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "recording_test_util.h"
#include "tdm_rec_segments.h"

#define N 40
#define T0 1790000000000000ull /* test_header's start */

static tdm_status scan_buf(const uint8_t *buf, size_t len, tdm_rec_segment *g)
{
    tdm_rec_reader *r;
    tdm_status st = tdm_rec_reader_open(buf, len, test_master, &r, NULL);
    if (st != TDM_OK)
        return st;
    st = tdm_rec_segment_scan(r, 7, g, NULL);
    tdm_rec_reader_free(r);
    return st;
}

static void scan_complete(void **state)
{
    (void)state;
    size_t len, offs[N + 16], nrec;
    uint8_t *buf = test_recording(N, &len, offs, &nrec);
    tdm_rec_segment g;
    assert_int_equal(scan_buf(buf, len, &g), TDM_OK);
    assert_string_equal(g.session_id, "sess-0123");
    assert_int_equal(g.ending, TDM_EOF);
    assert_int_equal(g.tag, 7);
    assert_int_equal(g.records, nrec);
    assert_int_equal(g.start_unix_us, T0);
    /* First record at 0 us, the end record at N ms on the recorder's clock. */
    assert_int_equal(g.end_unix_us, T0 + 1000u * N);
    free(buf);
}

static void scan_cut_ends_at_last_whole_record(void **state)
{
    (void)state;
    size_t len, offs[N + 16], nrec;
    uint8_t *buf = test_recording(N, &len, offs, &nrec);
    /* Cut inside the record at index 20: records 0..19 remain. */
    tdm_rec_segment g;
    assert_int_equal(scan_buf(buf, offs[20] + 5, &g), TDM_OK);
    assert_int_equal(g.ending, TDM_ERR_TRUNCATED);
    assert_int_equal(g.records, 20);
    assert_non_null(strstr(g.ending_msg.msg, "truncated"));
    /* Record 19 is RTP packet 16 (records: start, 0..4, drop, 5..9, sync,
     * 10..16): stamped 16 ms. */
    assert_int_equal(g.end_unix_us, T0 + 16000u);
    free(buf);
}

static void scan_fault_ends_at_the_fault(void **state)
{
    (void)state;
    size_t len, offs[N + 16], nrec;
    uint8_t *buf = test_recording(N, &len, offs, &nrec);
    buf[offs[20] + 12] ^= 1;
    tdm_rec_segment g;
    assert_int_equal(scan_buf(buf, len, &g), TDM_OK);
    assert_int_equal(g.ending, TDM_ERR_FORMAT);
    assert_int_equal(g.records, 20);
    assert_non_null(strstr(g.ending_msg.msg, "record 20"));
    free(buf);
}

static tdm_rec_segment seg(const char *sid, uint64_t start, uint64_t end, size_t tag)
{
    tdm_rec_segment g = {.start_unix_us = start, .end_unix_us = end, .tag = tag};
    snprintf(g.session_id, sizeof g.session_id, "%s", sid);
    return g;
}

static void sorts_by_session_then_start_then_tag(void **state)
{
    (void)state;
    tdm_rec_segment v[] = {
        seg("s-b", 500, 600, 0), seg("s-a", 300, 400, 1), seg("s-a", 100, 200, 2),
        seg("s-b", 100, 200, 3), seg("s-a", 300, 350, 0),
    };
    size_t n = sizeof v / sizeof *v;
    tdm_rec_segments_sort(v, n);
    const char *want_sid[] = {"s-a", "s-a", "s-a", "s-b", "s-b"};
    const uint64_t want_start[] = {100, 300, 300, 100, 500};
    const size_t want_tag[] = {2, 0, 1, 3, 0};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(v[i].session_id, want_sid[i]);
        assert_int_equal(v[i].start_unix_us, want_start[i]);
        assert_int_equal(v[i].tag, want_tag[i]);
    }
    assert_int_equal(tdm_rec_segments_run(v, n, 0), 3);
    assert_int_equal(tdm_rec_segments_run(v, n, 3), 2);
    assert_int_equal(tdm_rec_segments_run(v, n, 4), 1);
    assert_int_equal(tdm_rec_segments_run(v, n, 5), 0);
    assert_int_equal(tdm_rec_segments_run(NULL, 0, 0), 0);
}

static void seams(void **state)
{
    (void)state;
    tdm_rec_segment a = seg("s", 1000, 4000, 0);
    tdm_rec_segment gap = seg("s", 6000, 9000, 1), touch = seg("s", 4000, 5000, 1),
                    over = seg("s", 3000, 8000, 1), inside = seg("s", 2000, 2500, 1);
    tdm_rec_seam m = tdm_rec_segments_seam(&a, &gap);
    assert_true(m.gap);
    assert_false(m.overlap);
    assert_int_equal(m.from_unix_us, 4000);
    assert_int_equal(m.to_unix_us, 6000);
    m = tdm_rec_segments_seam(&a, &touch);
    assert_false(m.gap);
    assert_false(m.overlap);
    assert_int_equal(m.from_unix_us, 4000);
    m = tdm_rec_segments_seam(&a, &over);
    assert_true(m.overlap);
    assert_int_equal(m.from_unix_us, 3000);
    assert_int_equal(m.to_unix_us, 4000);
    m = tdm_rec_segments_seam(&a, &inside);
    assert_true(m.overlap);
    assert_int_equal(m.from_unix_us, 2000);
    assert_int_equal(m.to_unix_us, 2500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scan_complete),
        cmocka_unit_test(scan_cut_ends_at_last_whole_record),
        cmocka_unit_test(scan_fault_ends_at_the_fault),
        cmocka_unit_test(sorts_by_session_then_start_then_tag),
        cmocka_unit_test(seams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
