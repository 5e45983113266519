/* video_decoder_rejects_corrupt_input_test: the decoder turns whatever it
 * is given into a status, never a crash, and never shows a picture it
 * knows to be broken.
 *
 * - A clean VP8/VP9 stream decodes; with 2 threads to the same pixels.
 * - Before the first keyframe, and after a failure until the next one,
 *   inter frames are set aside (TDM_OK, no picture) and
 *   tdm_video_decoder_needs_keyframe says so; the keyframe restores
 *   pictures identical to those of a decoder that saw no damage.
 * - Truncated frames, flipped bits and random bytes give TDM_OK,
 *   TDM_ERR_FORMAT or TDM_ERR_UNSUPPORTED, and any picture given out is
 *   sane.
 * - Frames declaring pictures over the limit are refused before libvpx
 *   allocates: a VP8 keyframe, a VP9 keyframe, a VP9 inter frame that
 *   changes size, and such a frame inside a VP9 superframe.
 * - Bad configurations and calls are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_incremental.h"
#include "tdm_synthetic.h"
#include "tdm_video_decoder.h"
#include "tdm_video_encoder.h"

#define W 320
#define H 240
#define FRAMES 12

/* A short encoded stream: frame 0 and frame 6 are keyframes. */
typedef struct stream {
    uint8_t *data[FRAMES];
    size_t len[FRAMES];
} stream;

static void make_stream(tdm_codec codec, stream *s)
{
    tdm_error err = {{0}};
    tdm_synthetic_config scfg = {
        .width = W, .height = H, .scenario = TDM_SCENARIO_SCROLL, .seed = 1, .fps = 30.0};
    tdm_source *src = NULL;
    assert_int_equal(tdm_synthetic_open(&scfg, &src, &err), TDM_OK);
    tdm_incremental *inc = NULL;
    assert_int_equal(tdm_incremental_new(W, H, TDM_MATRIX_BT601, &inc), TDM_OK);
    tdm_video_encoder_config cfg;
    tdm_video_encoder_config_init(&cfg, codec, W, H);
    cfg.bitrate_kbps = 400;
    tdm_video_encoder *enc = NULL;
    assert_int_equal(tdm_video_encoder_new(&cfg, &enc, &err), TDM_OK);
    for (int i = 0; i < FRAMES; i++) {
        uint64_t t = 1000 + 33333u * (uint64_t)i;
        tdm_frame f;
        const tdm_tilemap *changed;
        assert_int_equal(tdm_source_next(src, t, &f, &err), TDM_OK);
        assert_int_equal(tdm_incremental_convert(inc, &f, &changed), TDM_OK);
        if (i == FRAMES / 2)
            tdm_video_encoder_force_keyframe(enc);
        tdm_encoded_frame out;
        bool produced = false;
        assert_int_equal(tdm_video_encoder_encode(enc, tdm_incremental_image(inc), changed, t,
                                                  &out, &produced, &err),
                         TDM_OK);
        assert_true(produced);
        assert_int_equal(out.keyframe, i == 0 || i == FRAMES / 2);
        s->data[i] = malloc(out.len);
        assert_non_null(s->data[i]);
        memcpy(s->data[i], out.data, out.len);
        s->len[i] = out.len;
    }
    tdm_video_encoder_free(enc);
    tdm_incremental_free(inc);
    tdm_source_close(src);
}

static void free_stream(stream *s)
{
    for (int i = 0; i < FRAMES; i++)
        free(s->data[i]);
}

static tdm_video_decoder *open_decoder(tdm_codec codec, int threads)
{
    tdm_video_decoder_config cfg;
    tdm_video_decoder_config_init(&cfg, codec);
    cfg.threads = threads;
    cfg.max_pixels = 1920 * 1080; /* keeps what garbage makes libvpx allocate small */
    tdm_video_decoder *dec = NULL;
    tdm_error err = {{0}};
    if (tdm_video_decoder_new(&cfg, &dec, &err) != TDM_OK)
        fail_msg("decoder: %s", err.msg);
    return dec;
}

/* FNV-1a over the visible pixels of a picture. */
static uint64_t picture_hash(const tdm_i420 *p)
{
    uint64_t h = 14695981039346656037u;
    const uint8_t *planes[3] = {p->y, p->u, p->v};
    int strides[3] = {p->stride_y, p->stride_u, p->stride_v};
    for (int k = 0; k < 3; k++) {
        int w = k ? (p->width + 1) / 2 : p->width, rows = k ? (p->height + 1) / 2 : p->height;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < w; c++) {
                h ^= planes[k][(size_t)r * strides[k] + c];
                h *= 1099511628211u;
            }
        }
    }
    return h;
}

static void expect_picture(tdm_video_decoder *dec, const uint8_t *buf, size_t len, uint64_t *hash)
{
    tdm_i420 pic;
    bool produced = false;
    tdm_error err = {{0}};
    if (tdm_video_decoder_decode(dec, buf, len, &pic, &produced, &err) != TDM_OK)
        fail_msg("decode: %s", err.msg);
    assert_true(produced);
    assert_int_equal(pic.width, W);
    assert_int_equal(pic.height, H);
    assert_null(pic.owned);
    if (hash)
        *hash = picture_hash(&pic);
}

static void expect_set_aside(tdm_video_decoder *dec, const uint8_t *buf, size_t len)
{
    tdm_i420 pic;
    bool produced = true;
    tdm_error err = {{0}};
    assert_int_equal(tdm_video_decoder_decode(dec, buf, len, &pic, &produced, &err), TDM_OK);
    assert_false(produced);
    assert_true(tdm_video_decoder_needs_keyframe(dec));
}

/* ---- clean streams, threads, waiting for keyframes ---- */

static void clean_and_waiting(tdm_codec codec)
{
    stream s;
    make_stream(codec, &s);
    uint64_t want[FRAMES];
    tdm_video_decoder *ref = open_decoder(codec, 1);
    assert_true(tdm_video_decoder_needs_keyframe(ref));
    for (int i = 0; i < FRAMES; i++) {
        expect_picture(ref, s.data[i], s.len[i], &want[i]);
        assert_false(tdm_video_decoder_needs_keyframe(ref));
    }
    tdm_video_decoder_stats st;
    tdm_video_decoder_get_stats(ref, &st);
    assert_int_equal(st.frames_in, FRAMES);
    assert_int_equal(st.frames_out, FRAMES);
    assert_int_equal(st.keyframes, 2);
    assert_int_equal(st.errors, 0);
    tdm_video_decoder_free(ref);

    /* Two threads: the same pictures. */
    tdm_video_decoder *mt = open_decoder(codec, 2);
    for (int i = 0; i < FRAMES; i++) {
        uint64_t h;
        expect_picture(mt, s.data[i], s.len[i], &h);
        assert_true(h == want[i]);
    }
    tdm_video_decoder_free(mt);

    /* Joining late: inter frames wait for the keyframe at FRAMES / 2. */
    tdm_video_decoder *late = open_decoder(codec, 1);
    for (int i = 1; i < FRAMES / 2; i++)
        expect_set_aside(late, s.data[i], s.len[i]);
    for (int i = FRAMES / 2; i < FRAMES; i++) {
        uint64_t h;
        expect_picture(late, s.data[i], s.len[i], &h);
        assert_true(h == want[i]);
    }
    tdm_video_decoder_get_stats(late, &st);
    assert_int_equal(st.set_aside, FRAMES / 2 - 1);
    tdm_video_decoder_free(late);
    free_stream(&s);
}

static void test_clean_stream_and_late_join(void **state)
{
    (void)state;
    clean_and_waiting(TDM_CODEC_VP8);
    clean_and_waiting(TDM_CODEC_VP9);
}

/* A truncated frame fails; what follows waits for the next keyframe and
 * then matches the clean decode exactly. */
static void truncated(tdm_codec codec)
{
    stream s;
    make_stream(codec, &s);
    uint64_t want[FRAMES];
    tdm_video_decoder *ref = open_decoder(codec, 1);
    for (int i = 0; i < FRAMES; i++)
        expect_picture(ref, s.data[i], s.len[i], &want[i]);
    tdm_video_decoder_free(ref);

    const int cut_at[] = {0, 2};
    for (size_t k = 0; k < sizeof cut_at / sizeof cut_at[0]; k++) {
        tdm_video_decoder *dec = open_decoder(codec, 1);
        int c = cut_at[k];
        for (int i = 0; i < c; i++)
            expect_picture(dec, s.data[i], s.len[i], NULL);
        tdm_i420 pic;
        bool produced = true;
        tdm_error err = {{0}};
        tdm_status st = tdm_video_decoder_decode(dec, s.data[c], s.len[c] / 3, &pic, &produced,
                                                 &err);
        print_message("%s frame %d cut to a third: %s (%s)\n", tdm_codec_name(codec), c,
                      tdm_status_str(st), err.msg);
        assert_int_equal(st, TDM_ERR_FORMAT);
        assert_false(produced);
        assert_true(err.msg[0] != '\0');
        assert_true(tdm_video_decoder_needs_keyframe(dec));
        for (int i = c + 1; i < FRAMES / 2; i++)
            expect_set_aside(dec, s.data[i], s.len[i]);
        for (int i = FRAMES / 2; i < FRAMES; i++) {
            uint64_t h;
            expect_picture(dec, s.data[i], s.len[i], &h);
            assert_true(h == want[i]);
        }
        tdm_video_decoder_free(dec);
    }
    free_stream(&s);
}

static void test_truncated_frame_waits_for_keyframe(void **state)
{
    (void)state;
    truncated(TDM_CODEC_VP8);
    truncated(TDM_CODEC_VP9);
}

/* ---- garbage ---- */

static uint32_t rng = 12345;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void feed(tdm_video_decoder *dec, const uint8_t *buf, size_t len, int *outcomes)
{
    tdm_i420 pic;
    bool produced = false;
    tdm_error err = {{0}};
    tdm_status st = tdm_video_decoder_decode(dec, buf, len, &pic, &produced, &err);
    if (st != TDM_OK && st != TDM_ERR_FORMAT && st != TDM_ERR_UNSUPPORTED)
        fail_msg("status %s (%s)", tdm_status_str(st), err.msg);
    if (st != TDM_OK) {
        assert_false(produced);
        assert_true(err.msg[0] != '\0');
        assert_true(tdm_video_decoder_needs_keyframe(dec));
    }
    if (produced) {
        assert_true(pic.width >= 1 && pic.height >= 1);
        assert_true((uint64_t)pic.width * (uint64_t)pic.height <= 1920 * 1080);
        assert_true(pic.stride_y >= pic.width && pic.stride_u >= (pic.width + 1) / 2);
        /* Touch the last sample of each plane. */
        volatile uint8_t sink = pic.y[(size_t)(pic.height - 1) * pic.stride_y + pic.width - 1];
        sink ^= pic.v[(size_t)((pic.height + 1) / 2 - 1) * pic.stride_v + (pic.width + 1) / 2 - 1];
        (void)sink;
    }
    outcomes[st == TDM_OK ? (produced ? 0 : 1) : 2]++;
}

/* Flipped bits in every frame, frames cut anywhere, random bytes, with
 * the clean stream's keyframes in between so that damage also reaches the
 * decoder's inter-frame state. */
static void garbage(tdm_codec codec)
{
    stream s;
    make_stream(codec, &s);
    tdm_video_decoder *dec = open_decoder(codec, 1);
    uint8_t buf[8192];
    int outcomes[3] = {0, 0, 0};
    for (int round = 0; round < 400; round++) {
        int i = (int)(rnd() % FRAMES);
        if (round % 8 == 0)
            feed(dec, s.data[0], s.len[0], outcomes);
        size_t len = s.len[i] < sizeof buf ? s.len[i] : sizeof buf;
        memcpy(buf, s.data[i], len);
        switch (rnd() % 4) {
        case 0: /* a few flipped bits anywhere */
            for (int k = 1 + (int)(rnd() % 4); k > 0; k--)
                buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1: /* flipped bits in the headers */
            for (int k = 1 + (int)(rnd() % 3); k > 0; k--)
                buf[rnd() % (len < 16 ? len : 16)] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 2: /* cut anywhere */
            len = 1 + rnd() % len;
            break;
        default: /* random bytes */
            len = 1 + rnd() % sizeof buf;
            for (size_t k = 0; k < len; k++)
                buf[k] = (uint8_t)rnd();
            break;
        }
        feed(dec, buf, len, outcomes);
    }
    print_message("%s: damaged frames gave %d pictures, %d set aside or hidden, %d errors\n",
                  tdm_codec_name(codec), outcomes[0], outcomes[1], outcomes[2]);
    assert_true(outcomes[2] > 0);
    /* Still a working decoder. */
    expect_picture(dec, s.data[0], s.len[0], NULL);
    tdm_video_decoder_free(dec);
    free_stream(&s);
}

static void test_garbage_gives_status_not_crash(void **state)
{
    (void)state;
    garbage(TDM_CODEC_VP8);
    garbage(TDM_CODEC_VP9);
}

/* ---- sizes over the limit ---- */

static void put_bits(uint8_t *buf, size_t bit, int n, uint32_t v)
{
    for (int i = 0; i < n; i++, bit++) {
        uint8_t m = (uint8_t)(0x80 >> (bit % 8));
        if ((v >> (n - 1 - i)) & 1)
            buf[bit / 8] |= m;
        else
            buf[bit / 8] &= (uint8_t)~m;
    }
}

static void expect_too_large(tdm_video_decoder *dec, const uint8_t *buf, size_t len)
{
    tdm_i420 pic;
    bool produced = true;
    tdm_error err = {{0}};
    assert_int_equal(tdm_video_decoder_decode(dec, buf, len, &pic, &produced, &err),
                     TDM_ERR_FORMAT);
    assert_false(produced);
    if (!strstr(err.msg, "over the limit"))
        fail_msg("refused for another reason: %s", err.msg);
    assert_true(tdm_video_decoder_needs_keyframe(dec));
}

static void test_oversized_pictures_refused(void **state)
{
    (void)state;
    /* VP8: the keyframe header holds 14-bit width and height at bytes 6-9. */
    stream s;
    make_stream(TDM_CODEC_VP8, &s);
    tdm_video_decoder *dec = open_decoder(TDM_CODEC_VP8, 1);
    uint8_t *kf = malloc(s.len[0]);
    assert_non_null(kf);
    memcpy(kf, s.data[0], s.len[0]);
    kf[6] = 0x00; /* 4096 x 4096: over 1920x1080 */
    kf[7] = 0x10;
    kf[8] = 0x00;
    kf[9] = 0x10;
    expect_too_large(dec, kf, s.len[0]);
    expect_picture(dec, s.data[0], s.len[0], NULL); /* and still working */
    free(kf);
    tdm_video_decoder_free(dec);
    free_stream(&s);

    /* VP9 keyframe, profile 0: frame marker, profile, show_existing,
     * frame_type, show_frame, error_res (8 bits), sync code (24), colour
     * space and range (4), then width - 1 and height - 1 (16 each). */
    make_stream(TDM_CODEC_VP9, &s);
    dec = open_decoder(TDM_CODEC_VP9, 1);
    kf = malloc(s.len[0]);
    assert_non_null(kf);
    memcpy(kf, s.data[0], s.len[0]);
    put_bits(kf, 36, 16, 65535); /* 65536 wide */
    expect_too_large(dec, kf, s.len[0]);
    memcpy(kf, s.data[0], s.len[0]);
    put_bits(kf, 52, 16, 8191); /* 320 x 8192: over 1920x1080 in area only */
    expect_too_large(dec, kf, s.len[0]);
    expect_picture(dec, s.data[0], s.len[0], NULL);
    free(kf);

    /* A VP9 inter frame that takes no reference's size but declares its
     * own: header bits after the error_res bit: reset_frame_context (2),
     * refresh_frame_flags (8), three ref_frame_idx + sign bias (12), then
     * found_ref for each reference (3 bits, all 0), then the size. */
    uint8_t *inter = malloc(s.len[1] + 16);
    assert_non_null(inter);
    memcpy(inter, s.data[1], s.len[1]);
    assert_int_equal(inter[0] >> 6, 2);      /* frame marker */
    assert_int_equal((inter[0] >> 2) & 1, 1); /* frame_type: inter */
    put_bits(inter, 8 + 2 + 8 + 12, 3, 0);
    put_bits(inter, 8 + 2 + 8 + 12 + 3, 16, 8191); /* 8192 wide */
    put_bits(inter, 8 + 2 + 8 + 12 + 19, 16, 8191);
    expect_too_large(dec, inter, s.len[1]);
    expect_picture(dec, s.data[6], s.len[6], NULL);

    /* The same frame hidden behind a good one in a superframe: frames
     * back to back, then an index of their sizes (2 bytes each) between
     * two marker bytes 0b110 mm fff (mm = bytes per size - 1, fff =
     * frames - 1). */
    size_t a = s.len[7], b = s.len[1];
    uint8_t *super = malloc(a + b + 6);
    assert_non_null(super);
    assert_true(a < 65536 && b < 65536);
    memcpy(super, s.data[7], a);
    memcpy(super + a, inter, b);
    uint8_t marker = 0xc0 | (1 << 3) | 1;
    uint8_t index[6] = {marker, (uint8_t)a, (uint8_t)(a >> 8), (uint8_t)b, (uint8_t)(b >> 8),
                        marker};
    memcpy(super + a + b, index, sizeof index);
    expect_too_large(dec, super, a + b + sizeof index);
    free(super);
    free(inter);
    tdm_video_decoder_free(dec);
    free_stream(&s);
}

/* ---- refusals ---- */

static void test_bad_config_and_calls_rejected(void **state)
{
    (void)state;
    tdm_video_decoder_config cfg;
    tdm_video_decoder *dec = NULL;
    tdm_error err = {{0}};
    tdm_video_decoder_config_init(&cfg, TDM_CODEC_OPUS);
    assert_int_equal(tdm_video_decoder_new(&cfg, &dec, &err), TDM_ERR_INVALID);
    assert_null(dec);
    assert_true(err.msg[0] != '\0');
    tdm_video_decoder_config_init(&cfg, TDM_CODEC_VP8);
    cfg.threads = 0;
    assert_int_equal(tdm_video_decoder_new(&cfg, &dec, &err), TDM_ERR_INVALID);
    cfg.threads = 65;
    assert_int_equal(tdm_video_decoder_new(&cfg, &dec, &err), TDM_ERR_INVALID);
    tdm_video_decoder_config_init(&cfg, TDM_CODEC_VP9);
    cfg.max_pixels = 0;
    assert_int_equal(tdm_video_decoder_new(&cfg, &dec, &err), TDM_ERR_INVALID);
    assert_int_equal(tdm_video_decoder_new(NULL, &dec, &err), TDM_ERR_INVALID);
    tdm_video_decoder_free(NULL);

    dec = open_decoder(TDM_CODEC_VP9, 1);
    tdm_i420 pic;
    bool produced = true;
    uint8_t byte = 0x80;
    assert_int_equal(tdm_video_decoder_decode(dec, NULL, 0, &pic, &produced, &err),
                     TDM_ERR_INVALID);
    assert_false(produced);
    assert_int_equal(tdm_video_decoder_decode(dec, &byte, 0, &pic, &produced, &err),
                     TDM_ERR_INVALID);
    assert_int_equal(tdm_video_decoder_decode(dec, &byte, 1, NULL, &produced, &err),
                     TDM_ERR_INVALID);
    assert_int_equal(tdm_video_decoder_decode(dec, &byte, 1, &pic, NULL, &err), TDM_ERR_INVALID);
    tdm_video_decoder_free(dec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clean_stream_and_late_join),
        cmocka_unit_test(test_truncated_frame_waits_for_keyframe),
        cmocka_unit_test(test_garbage_gives_status_not_crash),
        cmocka_unit_test(test_oversized_pictures_refused),
        cmocka_unit_test(test_bad_config_and_calls_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
