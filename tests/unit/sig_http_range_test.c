/* sig_http_range_test: the Range header of tandem-signal's video route
 * (signaling/tdm_sig_http_range.h) with plain calls: what Chromium sends
 * when it plays and seeks, suffixes, the edges of the resource, and the
 * headers that must be answered with the whole resource instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tdm_sig_http_range.h"

static tdm_sig_range_kind parse(const char *h, uint64_t size, uint64_t *start, uint64_t *len)
{
    return tdm_sig_http_range_parse(h, size, start, len);
}

static void chromium_ranges(void **state)
{
    (void)state;
    uint64_t s, l;
    assert_int_equal(parse("bytes=0-", 1000, &s, &l), TDM_SIG_RANGE_PARTIAL);
    assert_int_equal(s, 0);
    assert_int_equal(l, 1000);
    assert_int_equal(parse("bytes=640-", 1000, &s, &l), TDM_SIG_RANGE_PARTIAL);
    assert_int_equal(s, 640);
    assert_int_equal(l, 360);
    assert_int_equal(parse("bytes=999-", 1000, &s, &l), TDM_SIG_RANGE_PARTIAL);
    assert_int_equal(l, 1);
}

static void closed_and_suffix(void **state)
{
    (void)state;
    uint64_t s, l;
    assert_int_equal(parse("bytes=100-199", 1000, &s, &l), TDM_SIG_RANGE_PARTIAL);
    assert_int_equal(s, 100);
    assert_int_equal(l, 100);
    /* A last byte past the end is clipped to the end (RFC 9110). */
    assert_int_equal(parse("bytes=900-5000", 1000, &s, &l), TDM_SIG_RANGE_PARTIAL);
    assert_int_equal(l, 100);
    assert_int_equal(parse("bytes=-50", 1000, &s, &l), TDM_SIG_RANGE_PARTIAL);
    assert_int_equal(s, 950);
    assert_int_equal(l, 50);
    assert_int_equal(parse("bytes=-5000", 1000, &s, &l), TDM_SIG_RANGE_PARTIAL);
    assert_int_equal(s, 0);
    assert_int_equal(l, 1000);
    assert_int_equal(parse(" bytes= 10-19 ", 1000, &s, &l), TDM_SIG_RANGE_PARTIAL);
    assert_int_equal(s, 10);
    assert_int_equal(l, 10);
}

static void unsatisfiable(void **state)
{
    (void)state;
    uint64_t s, l;
    assert_int_equal(parse("bytes=1000-", 1000, &s, &l), TDM_SIG_RANGE_UNSATISFIABLE);
    assert_int_equal(parse("bytes=5000-6000", 1000, &s, &l), TDM_SIG_RANGE_UNSATISFIABLE);
    assert_int_equal(parse("bytes=-0", 1000, &s, &l), TDM_SIG_RANGE_UNSATISFIABLE);
    assert_int_equal(parse("bytes=0-", 0, &s, &l), TDM_SIG_RANGE_UNSATISFIABLE);
}

/* Answered with everything (200), as RFC 9110 lets a server ignore Range. */
static void ignored(void **state)
{
    (void)state;
    static const char *const h[] = {
        "bytes=0-1,5-9", "items=0-1", "bytes=9-5", "bytes=-", "bytes=", "bytes=a-b",
        "bytes=1-2x", "bytes=99999999999999999999999-", "", "bytes 0-1",
    };
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        uint64_t s = 7, l = 7;
        assert_int_equal(parse(h[i], 1000, &s, &l), TDM_SIG_RANGE_NONE);
        assert_int_equal(s, 0);
        assert_int_equal(l, 1000);
    }
    uint64_t s, l;
    assert_int_equal(parse(NULL, 1000, &s, &l), TDM_SIG_RANGE_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chromium_ranges),
        cmocka_unit_test(closed_and_suffix),
        cmocka_unit_test(unsatisfiable),
        cmocka_unit_test(ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
