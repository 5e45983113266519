/* share_wav_test: the WAV header parser behind tandem-share --audio FILE
 * (clients/share_audio.h), on headers built here: mono and stereo 48 kHz
 * PCM, WAVE_FORMAT_EXTENSIBLE, an odd-sized chunk before the data (padding),
 * a data chunk longer than the file (clipped to whole frames); refused with
 * the reason: other rates, 8-bit and float samples, no data, not RIFF. The
 * tone source's frames are checked for its pitch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "share_audio.h"

static size_t put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
    return 4;
}

static size_t put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
    return 2;
}

/* RIFF/WAVE with fmt (format, channels, rate, bits), an optional odd LIST
 * chunk, and a data chunk declaring data_decl bytes of which data_have follow. */
static size_t build(uint8_t *buf, uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits,
                    bool list, uint32_t data_decl, uint32_t data_have)
{
    size_t n = 0;
    memcpy(buf, "RIFF", 4);
    n = 8;
    memcpy(buf + n, "WAVE", 4);
    n += 4;
    memcpy(buf + n, "fmt ", 4);
    n += 4;
    bool ext = format == 0xfffe;
    n += put32(buf + n, ext ? 40 : 16);
    n += put16(buf + n, format);
    n += put16(buf + n, channels);
    n += put32(buf + n, rate);
    n += put32(buf + n, rate * channels * bits / 8);
    n += put16(buf + n, (uint16_t)(channels * bits / 8));
    n += put16(buf + n, bits);
    if (ext) {
        n += put16(buf + n, 22);
        n += put16(buf + n, bits);
        n += put32(buf + n, 0);
        n += put16(buf + n, 1); /* KSDATAFORMAT_SUBTYPE_PCM's first bytes */
        memset(buf + n, 0, 14);
        n += 14;
    }
    if (list) {
        memcpy(buf + n, "LIST", 4);
        n += 4;
        n += put32(buf + n, 3);
        memcpy(buf + n, "abc\0", 4); /* 3 bytes and a pad byte */
        n += 4;
    }
    memcpy(buf + n, "data", 4);
    n += 4;
    n += put32(buf + n, data_decl);
    memset(buf + n, 0x11, data_have);
    n += data_have;
    put32(buf + 4, (uint32_t)n - 8);
    return n;
}

static uint8_t buf[4096];

static void accepts_pcm_48k(void **state)
{
    (void)state;
    tdm_wav_info w;
    tdm_error err = {{0}};
    size_t n = build(buf, 1, 1, 48000, 16, false, 200, 200);
    assert_int_equal(tdm_wav_parse(buf, n, &w, &err), TDM_OK);
    assert_int_equal(w.channels, 1);
    assert_int_equal(w.data_offset, 44);
    assert_int_equal(w.data_len, 200);

    n = build(buf, 1, 2, 48000, 16, true, 400, 400);
    assert_int_equal(tdm_wav_parse(buf, n, &w, &err), TDM_OK);
    assert_int_equal(w.channels, 2);
    assert_int_equal(w.data_offset, 44 + 12);

    n = build(buf, 0xfffe, 2, 48000, 16, false, 64, 64);
    assert_int_equal(tdm_wav_parse(buf, n, &w, &err), TDM_OK);
    assert_int_equal(w.data_offset, 12 + 8 + 40 + 8);

    /* A cut file: the declared size is clipped to whole frames present. */
    n = build(buf, 1, 2, 48000, 16, false, 1000, 10);
    assert_int_equal(tdm_wav_parse(buf, n, &w, &err), TDM_OK);
    assert_int_equal(w.data_len, 8);
}

static void refuses_what_it_cannot_play(void **state)
{
    (void)state;
    tdm_wav_info w;
    tdm_error err = {{0}};
    size_t n = build(buf, 1, 1, 44100, 16, false, 100, 100);
    assert_int_equal(tdm_wav_parse(buf, n, &w, &err), TDM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "44100 Hz"));
    n = build(buf, 1, 1, 48000, 8, false, 100, 100);
    assert_int_equal(tdm_wav_parse(buf, n, &w, &err), TDM_ERR_UNSUPPORTED);
    n = build(buf, 3, 1, 48000, 32, false, 100, 100); /* IEEE float */
    assert_int_equal(tdm_wav_parse(buf, n, &w, &err), TDM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "non-PCM"));
    n = build(buf, 1, 6, 48000, 16, false, 120, 120);
    assert_int_equal(tdm_wav_parse(buf, n, &w, &err), TDM_ERR_UNSUPPORTED);

    n = build(buf, 1, 1, 48000, 16, false, 100, 0);
    assert_int_equal(tdm_wav_parse(buf, n, &w, &err), TDM_ERR_FORMAT); /* no samples */
    assert_int_equal(tdm_wav_parse(buf, 36, &w, &err), TDM_ERR_FORMAT); /* no data chunk */
    assert_non_null(strstr(err.msg, "data"));
    memcpy(buf, "RIFX", 4);
    assert_int_equal(tdm_wav_parse(buf, n, &w, &err), TDM_ERR_FORMAT);
    assert_int_equal(tdm_wav_parse(buf, 5, &w, &err), TDM_ERR_FORMAT);
}

static void tone_is_440_hz(void **state)
{
    (void)state;
    tdm_share_audio *a = NULL;
    tdm_error err = {{0}};
    assert_int_equal(tdm_share_audio_open("tone", &a, &err), TDM_OK);
    assert_int_equal(tdm_share_audio_channels(a), 1);
    int16_t pcm[TDM_AUDIO_FRAME_SAMPLES];
    int crossings = 0, prev = 0;
    for (int f = 0; f < 50; f++) { /* one second */
        tdm_share_audio_next(a, pcm);
        for (int i = 0; i < TDM_AUDIO_FRAME_SAMPLES; i++) {
            if ((pcm[i] >= 0) != (prev >= 0))
                crossings++;
            prev = pcm[i];
        }
    }
    assert_true(crossings >= 878 && crossings <= 882); /* two per period */
    tdm_share_audio_close(a);
    assert_int_not_equal(tdm_share_audio_open("/nonexistent.wav", &a, &err), TDM_OK);
    assert_non_null(strstr(err.msg, "/nonexistent.wav"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_pcm_48k),
        cmocka_unit_test(refuses_what_it_cannot_play),
        cmocka_unit_test(tone_is_440_hz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
