/* synthetic_scenarios_test: the synthetic source's promises, scenario by
 * scenario and at several sizes (including odd ones and the minimum):
 * frames are deterministic apart from the stamp's time, the damage list
 * covers every pixel that changed, each scenario changes what it claims
 * (idle nothing, typing and drag a small area, full nearly everything), and
 * bad configs are refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_stamp.h"
#include "tdm_synthetic.h"

#define FRAMES 30

typedef struct size2 {
    int w, h;
} size2;

static const size2 sizes[] = {{640, 480}, {1280, 720}, {641, 483}, {320, 240}};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* What one run of a scenario measured, over frames 1..FRAMES-1. */
typedef struct run_stats {
    long min_changed; /* fewest pixels changed outside the stamp in a frame */
    long max_changed; /* most pixels changed outside the stamp in a frame */
    long max_damage;  /* largest damaged area outside the stamp in a frame */
    long pixels;      /* width x height */
} run_stats;

/* Fails with the measured numbers, so a changed bound is easy to restate. */
#define EXPECT(cond, sc, sz, rs)                                                               \
    do {                                                                                       \
        if (!(cond))                                                                           \
            fail_msg("%s %dx%d: %s fails (changed %ld..%ld, damage up to %ld of %ld pixels)",  \
                     tdm_synthetic_scenario_name(sc), (sz).w, (sz).h, #cond, (rs).min_changed, \
                     (rs).max_changed, (rs).max_damage, (rs).pixels);                          \
    } while (0)

static bool in_stamp(int x, int y)
{
    return x < TDM_STAMP_WIDTH && y < TDM_STAMP_HEIGHT;
}

static tdm_source *open_or_fail(tdm_synthetic_scenario sc, int w, int h, uint32_t seed)
{
    tdm_synthetic_config cfg = {.width = w, .height = h, .scenario = sc, .seed = seed, .fps = 30.0};
    tdm_source *src = NULL;
    tdm_error err = {{0}};
    tdm_status st = tdm_synthetic_open(&cfg, &src, &err);
    if (st != TDM_OK)
        fail_msg("open %s %dx%d: %s (%s)", tdm_synthetic_scenario_name(sc), w, h,
                 tdm_status_str(st), err.msg);
    assert_non_null(src);
    return src;
}

static void next_or_fail(tdm_source *src, uint64_t now, tdm_frame *f)
{
    tdm_error err = {{0}};
    tdm_status st = tdm_source_next(src, now, f, &err);
    if (st != TDM_OK)
        fail_msg("next: %s (%s)", tdm_status_str(st), err.msg);
}

/* Damage area outside the stamp block (overlapping rects count twice, so
 * this is an upper bound of the union). */
static long damage_outside_stamp(const tdm_frame *f)
{
    long sum = 0;
    tdm_rect stamp = {0, 0, TDM_STAMP_WIDTH, TDM_STAMP_HEIGHT};
    for (size_t i = 0; i < f->damage_count; i++) {
        tdm_rect r = f->damage[i];
        tdm_rect in = tdm_rect_clip(r, stamp.w, stamp.h);
        sum += (long)r.w * r.h - (long)in.w * in.h;
    }
    return sum;
}

/* Runs scenario sc at w x h for `frames` frames on two sources with the
 * same config and different clocks, checking every frame, and returns what
 * it measured. */
static run_stats run(tdm_synthetic_scenario sc, int w, int h, int frames)
{
    tdm_source *a = open_or_fail(sc, w, h, 7), *b = open_or_fail(sc, w, h, 7);
    assert_int_equal(a->width, w);
    assert_int_equal(a->height, h);
    assert_int_equal(a->format, TDM_PIXFMT_BGRA);
    int stride = (4 * w + 63) / 64 * 64;
    uint8_t *prev = malloc((size_t)stride * (size_t)h);
    uint8_t *mask = malloc((size_t)w * (size_t)h);
    assert_non_null(prev);
    assert_non_null(mask);
    run_stats rs = {-1, 0, 0, (long)w * h};

    for (int i = 0; i < frames; i++) {
        tdm_frame fa, fb;
        uint64_t ta = 1000000u + 33333u * (uint64_t)i, tb = 5u + 40000u * (uint64_t)i;
        next_or_fail(a, ta, &fa);
        next_or_fail(b, tb, &fb);

        assert_int_equal(fa.format, TDM_PIXFMT_BGRA);
        assert_int_equal(fa.number, (uint64_t)i);
        assert_int_equal(fa.capture_us, ta);
        assert_int_equal(fa.bgra.width, w);
        assert_int_equal(fa.bgra.height, h);
        assert_int_equal(fa.bgra.stride, stride);
        assert_int_equal((uintptr_t)fa.bgra.data % 64, 0);
        assert_true(fa.damage_known);
        assert_true(fa.damage_count > 0);

        /* The stamp carries this frame's number and time. */
        tdm_stamp st;
        assert_int_equal(tdm_stamp_read_bgra(fa.bgra.data, stride, w, h, 0, 0, &st), TDM_OK);
        assert_int_equal(st.frame_number, (uint32_t)i);
        assert_int_equal(st.capture_us, ta);

        /* Same config, same pixels, same damage: only the stamp differs. */
        assert_int_equal(fa.damage_count, fb.damage_count);
        assert_memory_equal(fa.damage, fb.damage, fa.damage_count * sizeof(tdm_rect));
        for (int y = 0; y < h; y++) {
            size_t skip = y < TDM_STAMP_HEIGHT ? TDM_STAMP_WIDTH * 4 : 0;
            const uint8_t *ra = fa.bgra.data + (size_t)y * (size_t)stride + skip;
            const uint8_t *rb = fb.bgra.data + (size_t)y * (size_t)stride + skip;
            if (memcmp(ra, rb, (size_t)w * 4 - skip) != 0)
                fail_msg("%s %dx%d frame %d: row %d differs between two sources",
                         tdm_synthetic_scenario_name(sc), w, h, i, y);
        }

        /* Opaque pixels: the X byte is 255 everywhere. */
        for (int y = 0; y < h; y++) {
            const uint8_t *r = fa.bgra.data + (size_t)y * (size_t)stride;
            for (int x = 0; x < w; x++)
                if (r[4 * x + 3] != 255)
                    fail_msg("X byte at (%d,%d) is %d", x, y, r[4 * x + 3]);
        }

        memset(mask, 0, (size_t)w * (size_t)h);
        for (size_t k = 0; k < fa.damage_count; k++) {
            tdm_rect r = fa.damage[k];
            assert_true(r.w > 0 && r.h > 0);
            assert_true(r.x >= 0 && r.y >= 0 && r.x + r.w <= w && r.y + r.h <= h);
            for (int y = r.y; y < r.y + r.h; y++)
                memset(mask + (size_t)y * (size_t)w + r.x, 1, (size_t)r.w);
        }
        if (i == 0) {
            assert_int_equal(fa.damage_count, 1);
            assert_int_equal(fa.damage[0].x, 0);
            assert_int_equal(fa.damage[0].y, 0);
            assert_int_equal(fa.damage[0].w, w);
            assert_int_equal(fa.damage[0].h, h);
        } else {
            /* Honest damage: every changed pixel lies in some rect. */
            long changed = 0;
            for (int y = 0; y < h; y++) {
                const uint32_t *pa =
                    (const uint32_t *)(const void *)(fa.bgra.data + (size_t)y * (size_t)stride);
                const uint32_t *pp =
                    (const uint32_t *)(const void *)(prev + (size_t)y * (size_t)stride);
                for (int x = 0; x < w; x++) {
                    if (pa[x] == pp[x])
                        continue;
                    if (!mask[(size_t)y * (size_t)w + x])
                        fail_msg("%s %dx%d frame %d: pixel (%d,%d) changed outside the damage",
                                 tdm_synthetic_scenario_name(sc), w, h, i, x, y);
                    if (!in_stamp(x, y))
                        changed++;
                }
            }
            if (rs.min_changed < 0 || changed < rs.min_changed)
                rs.min_changed = changed;
            if (changed > rs.max_changed)
                rs.max_changed = changed;
            long d = damage_outside_stamp(&fa);
            if (d > rs.max_damage)
                rs.max_damage = d;
        }
        memcpy(prev, fa.bgra.data, (size_t)stride * (size_t)h);
    }
    free(prev);
    free(mask);
    tdm_source_close(a);
    tdm_source_close(b);
    return rs;
}

static void test_idle(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSIZES; i++) {
        run_stats rs = run(TDM_SCENARIO_IDLE, sizes[i].w, sizes[i].h, FRAMES);
        assert_int_equal(rs.max_changed, 0);
        assert_int_equal(rs.max_damage, 0); /* only the stamp is damaged */
    }
}

/* Typing redraws one text cell and the caret (or, on Enter, the caret and
 * a line number). Measured outside the stamp (seed 7, first 30 frames):
 * 120 pixels on a typed glyph (the 7x15 cell and the caret column), at most
 * 615 (41x15) on Enter, whatever the frame size: 0.2% of 640x480, 0.8% of
 * 320x240. The editor starts two-fifths full, so no frame here scrolls it.
 * Bound asserted: 640 pixels. */
static void test_typing(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSIZES; i++) {
        run_stats rs = run(TDM_SCENARIO_TYPING, sizes[i].w, sizes[i].h, FRAMES);
        EXPECT(rs.min_changed > 0, TDM_SCENARIO_TYPING, sizes[i], rs);
        EXPECT(rs.max_damage <= 640, TDM_SCENARIO_TYPING, sizes[i], rs);
        EXPECT(rs.max_changed <= rs.max_damage, TDM_SCENARIO_TYPING, sizes[i], rs);
    }
}

static void test_scroll(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSIZES; i++) {
        run_stats rs = run(TDM_SCENARIO_SCROLL, sizes[i].w, sizes[i].h, FRAMES);
        EXPECT(rs.min_changed > 0, TDM_SCENARIO_SCROLL, sizes[i], rs);
        /* A text window, not the whole screen. */
        EXPECT(rs.max_damage * 2 < rs.pixels, TDM_SCENARIO_SCROLL, sizes[i], rs);
    }
}

/* Drag moves a window of 36% x 42% of the desktop by a few pixels: the
 * window plus the strips it uncovers. Measured: 14.3% (320x240) to 14.9%
 * (1920x1080) of the frame per frame. Bound asserted: 20%. */
static void test_drag(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSIZES; i++) {
        run_stats rs = run(TDM_SCENARIO_DRAG, sizes[i].w, sizes[i].h, FRAMES);
        EXPECT(rs.min_changed > 0, TDM_SCENARIO_DRAG, sizes[i], rs);
        EXPECT(rs.max_damage * 100 <= rs.pixels * 20, TDM_SCENARIO_DRAG, sizes[i], rs);
    }
}

static void test_video(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSIZES; i++) {
        run_stats rs = run(TDM_SCENARIO_VIDEO, sizes[i].w, sizes[i].h, FRAMES);
        EXPECT(rs.min_changed > 0, TDM_SCENARIO_VIDEO, sizes[i], rs);
        /* The video region is at most 640x360 and changes nearly all over. */
        EXPECT(rs.max_damage <= 640L * 360L, TDM_SCENARIO_VIDEO, sizes[i], rs);
        EXPECT(rs.min_changed * 10 >= rs.max_damage * 5, TDM_SCENARIO_VIDEO, sizes[i], rs);
    }
}

static void test_full(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSIZES; i++) {
        run_stats rs = run(TDM_SCENARIO_FULL, sizes[i].w, sizes[i].h, FRAMES);
        long outside = rs.pixels - (long)TDM_STAMP_WIDTH * TDM_STAMP_HEIGHT;
        /* Measured: over 99% of the pixels outside the stamp change. */
        EXPECT(rs.min_changed * 100 >= outside * 95, TDM_SCENARIO_FULL, sizes[i], rs);
    }
}

/* Long runs at the minimum size reach the rare events: the editor filling
 * up and scrolling, soft wraps, the dragged window bouncing off every edge,
 * the reader scrolling through many lines. Damage must stay honest. */
static void test_long_runs_stay_honest(void **state)
{
    (void)state;
    run(TDM_SCENARIO_TYPING, 320, 240, 1200);
    run(TDM_SCENARIO_DRAG, 320, 240, 400);
    run(TDM_SCENARIO_SCROLL, 320, 240, 300);
    run(TDM_SCENARIO_VIDEO, 333, 251, 200);
}

static void test_seed_changes_content(void **state)
{
    (void)state;
    tdm_source *a = open_or_fail(TDM_SCENARIO_IDLE, 640, 480, 1);
    tdm_source *b = open_or_fail(TDM_SCENARIO_IDLE, 640, 480, 2);
    tdm_frame fa, fb;
    next_or_fail(a, 0, &fa);
    next_or_fail(b, 0, &fb);
    assert_true(memcmp(fa.bgra.data, fb.bgra.data, (size_t)fa.bgra.stride * 480) != 0);
    tdm_source_close(a);
    tdm_source_close(b);
}

static void expect_rejected(tdm_synthetic_config cfg, tdm_status want, const char *needle)
{
    tdm_source *src = (tdm_source *)(uintptr_t)1; /* must be reset to NULL */
    tdm_error err = {{0}};
    tdm_status st = tdm_synthetic_open(&cfg, &src, &err);
    assert_int_equal(st, want);
    assert_null(src);
    assert_true(err.msg[0] != '\0');
    if (!strstr(err.msg, needle))
        fail_msg("message '%s' does not mention '%s'", err.msg, needle);
}

static void test_bad_configs_rejected(void **state)
{
    (void)state;
    tdm_synthetic_config ok = {.width = 640, .height = 480, .scenario = TDM_SCENARIO_IDLE, .fps = 30.0}, c;
    c = ok, c.width = 319;
    expect_rejected(c, TDM_ERR_RANGE, "319x480");
    c = ok, c.height = 239;
    expect_rejected(c, TDM_ERR_RANGE, "minimum");
    c = ok, c.width = -5;
    expect_rejected(c, TDM_ERR_RANGE, "-5");
    c = ok, c.width = TDM_MAX_DIMENSION + 1;
    expect_rejected(c, TDM_ERR_RANGE, "limit");
    c = ok, c.height = 100000;
    expect_rejected(c, TDM_ERR_RANGE, "100000");
    c = ok, c.scenario = TDM_SCENARIO_COUNT;
    expect_rejected(c, TDM_ERR_INVALID, "unknown scenario");
    c = ok, c.scenario = (tdm_synthetic_scenario)-1;
    expect_rejected(c, TDM_ERR_INVALID, "unknown scenario");
    c = ok, c.fps = -1;
    expect_rejected(c, TDM_ERR_RANGE, "frame rate");

    tdm_source *src = NULL;
    tdm_error err = {{0}};
    assert_int_equal(tdm_synthetic_open(NULL, &src, &err), TDM_ERR_INVALID);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(tdm_synthetic_open(&ok, NULL, NULL), TDM_ERR_INVALID);

    /* The smallest accepted size opens, and fps 0 means the default. */
    c = ok, c.width = TDM_SYNTHETIC_MIN_WIDTH, c.height = TDM_SYNTHETIC_MIN_HEIGHT, c.fps = 0;
    assert_int_equal(tdm_synthetic_open(&c, &src, &err), TDM_OK);
    assert_true(src->fps == 30.0);
    assert_string_equal(src->ops->kind, "synthetic");
    tdm_source_close(src);
}

static void test_scenario_names(void **state)
{
    (void)state;
    for (int i = 0; i < TDM_SCENARIO_COUNT; i++) {
        tdm_synthetic_scenario s = TDM_SCENARIO_COUNT;
        const char *name = tdm_synthetic_scenario_name((tdm_synthetic_scenario)i);
        assert_true(tdm_synthetic_scenario_parse(name, &s));
        assert_int_equal(s, i);
    }
    assert_string_equal(tdm_synthetic_scenario_name(TDM_SCENARIO_TYPING), "typing");
    assert_string_equal(tdm_synthetic_scenario_name(TDM_SCENARIO_COUNT), "unknown");
    tdm_synthetic_scenario s;
    assert_false(tdm_synthetic_scenario_parse("Idle", &s));
    assert_false(tdm_synthetic_scenario_parse("", &s));
    assert_false(tdm_synthetic_scenario_parse(NULL, &s));
}

/* With the stamp frozen, an idle desktop reports no damage and does not
 * change at all after frame 0; typing still changes only its glyphs. */
static void test_frozen_stamp_makes_idle_idle(void **state)
{
    (void)state;
    tdm_synthetic_config cfg = {.width = 640, .height = 480, .scenario = TDM_SCENARIO_IDLE,
                                .frozen_stamp = true};
    tdm_source *src;
    tdm_error err;
    assert_int_equal(tdm_synthetic_open(&cfg, &src, &err), TDM_OK);
    tdm_frame f;
    assert_int_equal(tdm_source_next(src, 1, &f, &err), TDM_OK);
    size_t size = (size_t)f.bgra.stride * f.bgra.height;
    uint8_t *first = malloc(size);
    assert_non_null(first);
    memcpy(first, f.bgra.data, size);
    for (int n = 1; n < 20; n++) {
        assert_int_equal(tdm_source_next(src, 1000 + (uint64_t)n * 33333, &f, &err), TDM_OK);
        assert_true(f.damage_known);
        assert_int_equal(f.damage_count, 0);
        assert_memory_equal(f.bgra.data, first, size);
    }
    tdm_source_close(src);
    cfg.scenario = TDM_SCENARIO_TYPING;
    assert_int_equal(tdm_synthetic_open(&cfg, &src, &err), TDM_OK);
    assert_int_equal(tdm_source_next(src, 1, &f, &err), TDM_OK);
    for (int n = 1; n < 20; n++) {
        assert_int_equal(tdm_source_next(src, 1000 + (uint64_t)n * 33333, &f, &err), TDM_OK);
        for (size_t i = 0; i < f.damage_count; i++)
            assert_true(f.damage[i].y >= TDM_STAMP_HEIGHT || f.damage[i].x >= TDM_STAMP_WIDTH);
        assert_true(f.damage_count > 0);
    }
    tdm_source_close(src);
    free(first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle),
        cmocka_unit_test(test_typing),
        cmocka_unit_test(test_scroll),
        cmocka_unit_test(test_drag),
        cmocka_unit_test(test_video),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_long_runs_stay_honest),
        cmocka_unit_test(test_seed_changes_content),
        cmocka_unit_test(test_bad_configs_rejected),
        cmocka_unit_test(test_scenario_names),
        cmocka_unit_test(test_frozen_stamp_makes_idle_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
