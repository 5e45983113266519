/* CPU detection and the status vocabulary: scalar is always there, levels
 * are ordered, TDM_SIMD caps the chosen path (and never raises it), names
 * round-trip, every status has text. Run once per cap by ctest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_cpu.h"
#include "tdm_status.h"

static void scalar_is_always_supported_and_levels_nest(void **state)
{
    (void)state;
    assert_true(tdm_cpu_supports(TDM_SIMD_SCALAR));
    /* A CPU with a level has every level below it (our levels are nested). */
    for (int l = 1; l < TDM_SIMD_COUNT; l++)
        if (tdm_cpu_supports((tdm_simd)l))
            assert_true(tdm_cpu_supports((tdm_simd)(l - 1)));
    assert_false(tdm_cpu_supports((tdm_simd)TDM_SIMD_COUNT));
    assert_false(tdm_cpu_supports((tdm_simd)-1));
}

static void best_honours_the_environment_cap(void **state)
{
    (void)state;
    tdm_simd best = tdm_cpu_best();
    assert_true(tdm_cpu_supports(best));
    const char *cap = getenv("TDM_SIMD");
    tdm_simd capped;
    if (cap && tdm_simd_parse(cap, &capped)) {
        assert_true(best <= capped);
        if (tdm_cpu_supports(capped))
            assert_int_equal(best, capped);
    } else {
        /* No cap: the highest supported level. */
        for (int l = best + 1; l < TDM_SIMD_COUNT; l++)
            assert_false(tdm_cpu_supports((tdm_simd)l));
    }
}

static void names_round_trip(void **state)
{
    (void)state;
    for (int l = 0; l < TDM_SIMD_COUNT; l++) {
        tdm_simd back;
        assert_true(tdm_simd_parse(tdm_simd_name((tdm_simd)l), &back));
        assert_int_equal(back, l);
    }
    tdm_simd ignored;
    assert_false(tdm_simd_parse("avx9000", &ignored));
    assert_string_equal(tdm_simd_name((tdm_simd)99), "unknown");
}

static void every_status_has_text(void **state)
{
    (void)state;
    const tdm_status all[] = {TDM_OK, TDM_AGAIN, TDM_EOF, TDM_ERR_INVALID, TDM_ERR_NOMEM,
                              TDM_ERR_IO, TDM_ERR_FORMAT, TDM_ERR_TRUNCATED,
                              TDM_ERR_UNSUPPORTED, TDM_ERR_RANGE, TDM_ERR_UNAVAILABLE};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        assert_non_null(tdm_status_str(all[i]));
        assert_string_not_equal(tdm_status_str(all[i]), "unknown status");
    }
    assert_string_equal(tdm_status_str((tdm_status)-999), "unknown status");
    tdm_error err;
    assert_int_equal(tdm_fail(&err, TDM_ERR_RANGE, "width %d", 7), TDM_ERR_RANGE);
    assert_string_equal(err.msg, "width 7");
    assert_int_equal(tdm_fail(NULL, TDM_ERR_IO, "x"), TDM_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scalar_is_always_supported_and_levels_nest),
        cmocka_unit_test(best_honours_the_environment_cap),
        cmocka_unit_test(names_round_trip),
        cmocka_unit_test(every_status_has_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
