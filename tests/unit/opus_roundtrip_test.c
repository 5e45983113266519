/* opus_roundtrip_test: tdm_audio keeps a tone a tone, keeps stereo
 * channels apart, recovers a lost packet from the next one's FEC better
 * than concealment guesses it, goes quiet on silence with DTX, and refuses
 * bad settings and bad packets.
 *
 * Measured here (libopus 1.3.1, default settings: mono 32 kbit/s voip,
 * stereo 96 kbit/s audio), from 100 ms on:
 * - mono 1 kHz: 100 % of the power at 1 kHz, level -0.04 dB, waveform SNR
 *   28.0 dB;
 * - stereo, 1 kHz left and 2.5 kHz right: each channel -0.08 dB purity,
 *   -0.2 dB level, SNR 17 dB, the other channel's tone 33-34 dB down;
 * - 7 frames lost from a pitch-jumping voice-like signal (20 % loss
 *   configured), measured against a decoder that lost nothing: SNR -1.1 dB
 *   concealed, 16.4 dB recovered from FEC;
 * - 3 s of silence: 16 packets with DTX, 150 without.
 * The asserts hold these with a margin. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_audio.h"

#define N TDM_AUDIO_FRAME_SAMPLES
#define FRAME_US 20000u
#define PI 3.14159265358979323846

/* Opus's algorithmic delay at 48 kHz: 2.5 ms of lookahead plus 4 ms of
 * delay compensation. The waveform comparison searches a few samples
 * around it (the decoder's phase may differ a little). */
#define DELAY 312
#define DELAY_SEARCH 24

/* Power of x[0..n) at frequency f, normalised so that a sine of amplitude
 * A gives A^2 / 2 (Goertzel). */
static double tone_power(const double *x, size_t n, double f)
{
    double w = 2 * PI * f / TDM_AUDIO_RATE, c = 2 * cos(w), s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double s0 = x[i] + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    double re = s1 - s2 * cos(w), im = s2 * sin(w);
    return 2 * (re * re + im * im) / ((double)n * (double)n);
}

static double mean_power(const double *x, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += x[i] * x[i];
    return e / (double)n;
}

static double db(double ratio)
{
    return 10 * log10(ratio);
}

/* ---- a tone through mono and stereo ---- */

#define TONE_FRAMES 50 /* 1 s */

/* Channel c of frame i at sample k: a sine of freq[c]. */
static int16_t tone_sample(const double *freq, int c, size_t n)
{
    return (int16_t)lrint(12000 * sin(2 * PI * freq[c] * (double)n / TDM_AUDIO_RATE));
}

/* Encodes TONE_FRAMES of the tones, decodes them and returns, per channel,
 * the decoded signal (delay removed) and the input, as doubles. */
static void code_tones(int channels, const double *freq, double *in[2], double *out[2],
                       size_t *len)
{
    tdm_audio_encoder_config cfg;
    tdm_audio_encoder_config_init(&cfg, channels);
    tdm_audio_encoder *enc = NULL;
    tdm_audio_decoder *dec = NULL;
    tdm_error err = {{0}};
    assert_int_equal(tdm_audio_encoder_new(&cfg, &enc, &err), TDM_OK);
    tdm_audio_decoder_config dcfg = {channels};
    assert_int_equal(tdm_audio_decoder_new(&dcfg, &dec, &err), TDM_OK);
    size_t total = (size_t)TONE_FRAMES * N;
    double *dec_all[2] = {calloc(total, sizeof(double)), calloc(total, sizeof(double))};
    for (int c = 0; c < 2; c++) {
        in[c] = calloc(total, sizeof(double));
        assert_non_null(in[c]);
        assert_non_null(dec_all[c]);
    }
    int16_t pcm[N * 2], pcm_out[TDM_AUDIO_MAX_FRAME_SAMPLES * 2];
    size_t bytes = 0;
    for (int i = 0; i < TONE_FRAMES; i++) {
        for (size_t k = 0; k < N; k++) {
            for (int c = 0; c < channels; c++) {
                size_t n = (size_t)i * N + k;
                pcm[k * (size_t)channels + (size_t)c] = tone_sample(freq, c, n);
                in[c][n] = pcm[k * (size_t)channels + (size_t)c];
            }
        }
        tdm_encoded_frame f;
        bool produced = false;
        uint64_t t = 1000000 + (uint64_t)i * FRAME_US;
        assert_int_equal(tdm_audio_encoder_encode(enc, pcm, t, &f, &produced, &err), TDM_OK);
        assert_true(produced);
        assert_int_equal(f.codec, TDM_CODEC_OPUS);
        assert_int_equal(f.rtp_timestamp, (uint32_t)(t * 48 / 1000));
        bytes += f.len;
        size_t got = 0;
        assert_int_equal(tdm_audio_decoder_decode(dec, f.data, f.len, pcm_out,
                                                  TDM_AUDIO_MAX_FRAME_SAMPLES, &got, &err),
                         TDM_OK);
        assert_int_equal(got, N);
        for (size_t k = 0; k < N; k++)
            for (int c = 0; c < channels; c++)
                dec_all[c][(size_t)i * N + k] = pcm_out[k * (size_t)channels + (size_t)c];
    }
    print_message("%d channel(s): %.1f kbit/s\n", channels,
                  (double)bytes * 8 / (TONE_FRAMES * 0.02) / 1000);
    *len = total;
    for (int c = 0; c < 2; c++)
        out[c] = dec_all[c];
    tdm_audio_encoder_free(enc);
    tdm_audio_decoder_free(dec);
}

/* From 100 ms on (past the encoder's start-up), per channel: the power at
 * the channel's own frequency against all its power (purity), the level
 * against the input's, the waveform SNR against the input (at the best
 * alignment near DELAY), and the power at the other channel's frequency
 * against its own (separation). */
typedef struct tone_result {
    double purity_db, level_db, snr_db, separation_db;
} tone_result;

static tone_result measure(const double *in, const double *out, size_t len, double f,
                           double other)
{
    size_t start = 4800, n = len - start - DELAY - DELAY_SEARCH;
    const double *x = in + start;
    double best_snr = -1e9;
    for (int d = DELAY - DELAY_SEARCH; d <= DELAY + DELAY_SEARCH; d++) {
        const double *o = out + start + d;
        double e = 0;
        for (size_t i = 0; i < n; i++)
            e += (o[i] - x[i]) * (o[i] - x[i]);
        double snr = db(mean_power(x, n) * (double)n / e);
        if (snr > best_snr)
            best_snr = snr;
    }
    const double *o = out + start + DELAY;
    double p_all = mean_power(o, n), p_tone = tone_power(o, n, f);
    tone_result r = {
        .purity_db = db(p_tone / p_all),
        .level_db = db(p_tone / tone_power(x, n, f)),
        .snr_db = best_snr,
        .separation_db = other > 0 ? db(p_tone / (tone_power(o, n, other) + 1e-9)) : 0,
    };
    return r;
}

static void test_mono_tone_survives(void **state)
{
    (void)state;
    double freq[2] = {1000, 0};
    double *in[2], *out[2];
    size_t len;
    code_tones(1, freq, in, out, &len);
    tone_result r = measure(in[0], out[0], len, 1000, 0);
    print_message("mono 1 kHz: purity %.2f dB, level %+.2f dB, SNR %.1f dB\n", r.purity_db,
                  r.level_db, r.snr_db);
    assert_true(r.purity_db > -0.5);                  /* 99 % of the power at 1 kHz */
    assert_true(fabs(r.level_db) < 1.0);              /* the same loudness */
    assert_true(r.snr_db > 20.0);                     /* and the same waveform (28.0) */
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(out[c]);
    }
}

static void test_stereo_channels_stay_apart(void **state)
{
    (void)state;
    double freq[2] = {1000, 2500};
    double *in[2], *out[2];
    size_t len;
    code_tones(2, freq, in, out, &len);
    tone_result l = measure(in[0], out[0], len, 1000, 2500);
    tone_result r = measure(in[1], out[1], len, 2500, 1000);
    print_message("stereo left 1 kHz: purity %.2f dB, level %+.2f dB, SNR %.1f dB, "
                  "separation %.1f dB\n",
                  l.purity_db, l.level_db, l.snr_db, l.separation_db);
    print_message("stereo right 2.5 kHz: purity %.2f dB, level %+.2f dB, SNR %.1f dB, "
                  "separation %.1f dB\n",
                  r.purity_db, r.level_db, r.snr_db, r.separation_db);
    tone_result both[2] = {l, r};
    for (int c = 0; c < 2; c++) {
        assert_true(both[c].purity_db > -0.5);
        assert_true(fabs(both[c].level_db) < 1.0);
        assert_true(both[c].snr_db > 12.0);        /* measured 16.8 and 17.1 */
        assert_true(both[c].separation_db > 25.0); /* the other tone 25 dB down (33, 34) */
    }
    for (int c = 0; c < 2; c++) {
        free(in[c]);
        free(out[c]);
    }
}

/* ---- loss: FEC against concealment ---- */

#define SPEECH_FRAMES 60

/* Voiced-speech-like: five harmonics of a pitch that jumps every frame,
 * under a syllable-rate envelope, so a lost frame is not predictable from
 * the one before it. */
static void speech(int16_t *pcm, int frames)
{
    uint32_t seed = 7;
    double phase = 0;
    for (int i = 0; i < frames; i++) {
        seed = seed * 1664525u + 1013904223u;
        double f0 = 110 + (double)(seed >> 24) / 255.0 * 140;
        for (size_t k = 0; k < N; k++) {
            size_t n = (size_t)i * N + k;
            double env = 0.55 + 0.45 * sin(2 * PI * 3.7 * (double)n / TDM_AUDIO_RATE);
            phase += 2 * PI * f0 / TDM_AUDIO_RATE;
            double v = 0;
            for (int h = 1; h <= 5; h++)
                v += sin(h * phase) / h;
            pcm[n] = (int16_t)lrint(7000 * env * v);
        }
    }
}

static void test_fec_recovers_better_than_concealment(void **state)
{
    (void)state;
    static int16_t pcm[SPEECH_FRAMES * N];
    speech(pcm, SPEECH_FRAMES);
    tdm_audio_encoder_config cfg;
    tdm_audio_encoder_config_init(&cfg, 1);
    cfg.packet_loss_pct = 20;
    tdm_audio_encoder *enc = NULL;
    tdm_error err = {{0}};
    assert_int_equal(tdm_audio_encoder_new(&cfg, &enc, &err), TDM_OK);
    static uint8_t packets[SPEECH_FRAMES][TDM_AUDIO_MAX_PACKET];
    size_t lens[SPEECH_FRAMES];
    for (int i = 0; i < SPEECH_FRAMES; i++) {
        tdm_encoded_frame f;
        bool produced = false;
        assert_int_equal(tdm_audio_encoder_encode(enc, pcm + (size_t)i * N,
                                                  (uint64_t)i * FRAME_US, &f, &produced, &err),
                         TDM_OK);
        assert_true(produced);
        memcpy(packets[i], f.data, f.len);
        lens[i] = f.len;
    }
    tdm_audio_encoder_free(enc);

    /* Three decoders over the same stream: one sees every packet (the
     * reference), one conceals the lost ones, one recovers them by FEC. */
    static const int lost[] = {10, 17, 24, 31, 38, 45, 52};
    tdm_audio_decoder_config dcfg = {1};
    tdm_audio_decoder *ref = NULL, *plc = NULL, *fec = NULL;
    assert_int_equal(tdm_audio_decoder_new(&dcfg, &ref, &err), TDM_OK);
    assert_int_equal(tdm_audio_decoder_new(&dcfg, &plc, &err), TDM_OK);
    assert_int_equal(tdm_audio_decoder_new(&dcfg, &fec, &err), TDM_OK);
    double e_sig = 0, e_plc = 0, e_fec = 0;
    size_t li = 0;
    for (int i = 0; i < SPEECH_FRAMES; i++) {
        int16_t want[N], a[N], b[N];
        size_t n = 0;
        assert_int_equal(tdm_audio_decoder_decode(ref, packets[i], lens[i], want, N, &n, &err),
                         TDM_OK);
        assert_int_equal(n, N);
        bool is_lost = li < sizeof lost / sizeof lost[0] && lost[li] == i;
        if (!is_lost) {
            assert_int_equal(tdm_audio_decoder_decode(plc, packets[i], lens[i], a, N, &n, &err),
                             TDM_OK);
            assert_int_equal(tdm_audio_decoder_decode(fec, packets[i], lens[i], b, N, &n, &err),
                             TDM_OK);
            continue;
        }
        li++;
        assert_int_equal(tdm_audio_decoder_decode(plc, NULL, 0, a, N, &n, &err), TDM_OK);
        assert_int_equal(n, N);
        assert_int_equal(
            tdm_audio_decoder_recover(fec, packets[i + 1], lens[i + 1], b, N, &n, &err), TDM_OK);
        assert_int_equal(n, N);
        for (size_t k = 0; k < N; k++) {
            e_sig += (double)want[k] * want[k];
            e_plc += ((double)a[k] - want[k]) * ((double)a[k] - want[k]);
            e_fec += ((double)b[k] - want[k]) * ((double)b[k] - want[k]);
        }
    }
    double snr_plc = db(e_sig / e_plc), snr_fec = db(e_sig / e_fec);
    print_message("%zu lost frames against the lossless decode: concealment SNR %.1f dB, "
                  "FEC SNR %.1f dB\n",
                  sizeof lost / sizeof lost[0], snr_plc, snr_fec);
    assert_true(snr_fec > snr_plc + 10.0); /* FEC far better (16.4 against -1.1) */
    assert_true(snr_fec > 10.0);           /* and close to the real thing */
    tdm_audio_decoder_free(ref);
    tdm_audio_decoder_free(plc);
    tdm_audio_decoder_free(fec);
}

/* ---- DTX ---- */

/* Half a second of tone, then three seconds of silence: with DTX, only the
 * first silent frames and a comfort-noise update every 400 ms are sent;
 * without, every frame. The receiver conceals the gaps quietly. */
static int silent_packets(bool dtx, size_t *largest, double *gap_level)
{
    tdm_audio_encoder_config cfg;
    tdm_audio_encoder_config_init(&cfg, 1);
    cfg.dtx = dtx;
    tdm_audio_encoder *enc = NULL;
    tdm_audio_decoder *dec = NULL;
    tdm_error err = {{0}};
    assert_int_equal(tdm_audio_encoder_new(&cfg, &enc, &err), TDM_OK);
    tdm_audio_decoder_config dcfg = {1};
    assert_int_equal(tdm_audio_decoder_new(&dcfg, &dec, &err), TDM_OK);
    double freq[1] = {1000};
    int16_t pcm[N], out[N];
    int sent = 0;
    double gap_power = 0;
    size_t gap_samples = 0;
    *largest = 0;
    for (int i = 0; i < 25 + 150; i++) {
        bool silent = i >= 25;
        for (size_t k = 0; k < N; k++)
            pcm[k] = silent ? 0 : tone_sample(freq, 0, (size_t)i * N + k);
        tdm_encoded_frame f;
        bool produced = false;
        assert_int_equal(tdm_audio_encoder_encode(enc, pcm, (uint64_t)i * FRAME_US, &f,
                                                  &produced, &err),
                         TDM_OK);
        size_t n = 0;
        if (produced)
            assert_int_equal(tdm_audio_decoder_decode(dec, f.data, f.len, out, N, &n, &err),
                             TDM_OK);
        else
            assert_int_equal(tdm_audio_decoder_decode(dec, NULL, 0, out, N, &n, &err), TDM_OK);
        assert_int_equal(n, N);
        if (!silent)
            continue;
        if (produced) {
            sent++;
            if (i >= 25 + 25 && f.len > *largest) /* after the first half second */
                *largest = f.len;
        }
        if (i >= 25 + 25) {
            for (size_t k = 0; k < N; k++)
                gap_power += (double)out[k] * out[k];
            gap_samples += N;
        }
    }
    *gap_level = gap_power / (double)gap_samples;
    tdm_audio_encoder_free(enc);
    tdm_audio_decoder_free(dec);
    return sent;
}

static void test_dtx_goes_quiet_on_silence(void **state)
{
    (void)state;
    size_t largest_on, largest_off;
    double level_on, level_off;
    int on = silent_packets(true, &largest_on, &level_on);
    int off = silent_packets(false, &largest_off, &level_off);
    double tone_level = 12000.0 * 12000.0 / 2;
    print_message("3 s of silence: %d packets with DTX (largest %zu bytes after 0.5 s), %d "
                  "without (largest %zu); decoded level %.1f / %.1f dB under the tone\n",
                  on, largest_on, off, largest_off, db(tone_level / (level_on + 1e-9)),
                  db(tone_level / (level_off + 1e-9)));
    assert_int_equal(off, 150);
    assert_true(on <= 150 / 20 + 15); /* one per 400 ms, plus the way in (16) */
    assert_true(largest_on <= 32); /* comfort-noise updates only */
    assert_true(db(tone_level / (level_on + 1e-9)) > 60.0);
}

/* ---- refusals ---- */

static void test_bad_settings_and_packets_rejected(void **state)
{
    (void)state;
    tdm_audio_encoder_config cfg;
    tdm_audio_encoder *enc = NULL;
    tdm_error err = {{0}};
#define BAD(field, value)                                                            \
    do {                                                                             \
        tdm_audio_encoder_config_init(&cfg, 1);                                      \
        cfg.field = value;                                                           \
        err.msg[0] = '\0';                                                           \
        assert_int_equal(tdm_audio_encoder_new(&cfg, &enc, &err), TDM_ERR_INVALID); \
        assert_null(enc);                                                            \
        assert_true(err.msg[0] != '\0');                                             \
    } while (0)
    BAD(channels, 0);
    BAD(channels, 3);
    BAD(bitrate_bps, 5999);
    BAD(bitrate_bps, 510001);
    BAD(complexity, -1);
    BAD(complexity, 11);
    BAD(packet_loss_pct, -1);
    BAD(packet_loss_pct, 101);
#undef BAD
    assert_int_equal(tdm_audio_encoder_new(NULL, &enc, &err), TDM_ERR_INVALID);
    tdm_audio_encoder_config_init(&cfg, 2);
    assert_int_equal(tdm_audio_encoder_new(&cfg, &enc, &err), TDM_OK);
    assert_int_equal(tdm_audio_encoder_set_bitrate(enc, 100, &err), TDM_ERR_INVALID);
    assert_int_equal(tdm_audio_encoder_set_bitrate(enc, 24000, &err), TDM_OK);
    assert_int_equal(tdm_audio_encoder_set_packet_loss(enc, 200, &err), TDM_ERR_INVALID);
    assert_int_equal(tdm_audio_encoder_set_packet_loss(enc, 5, &err), TDM_OK);
    tdm_encoded_frame f;
    bool produced = true;
    assert_int_equal(tdm_audio_encoder_encode(enc, NULL, 0, &f, &produced, &err),
                     TDM_ERR_INVALID);
    assert_false(produced);
    tdm_audio_encoder_free(enc);
    tdm_audio_encoder_free(NULL);

    tdm_audio_decoder_config dcfg = {5};
    tdm_audio_decoder *dec = NULL;
    assert_int_equal(tdm_audio_decoder_new(&dcfg, &dec, &err), TDM_ERR_INVALID);
    assert_null(dec);
    dcfg.channels = 1;
    assert_int_equal(tdm_audio_decoder_new(&dcfg, &dec, &err), TDM_OK);
    int16_t pcm[TDM_AUDIO_MAX_FRAME_SAMPLES];
    size_t n = 99;
    /* Concealment before any packet: 20 ms. */
    assert_int_equal(tdm_audio_decoder_decode(dec, NULL, 0, pcm, N, &n, &err), TDM_OK);
    assert_int_equal(n, N);
    /* A TOC byte promising more frames than there are bytes. */
    const uint8_t broken[] = {0x03 | (18 << 3), 0x85, 0x01};
    err.msg[0] = '\0';
    assert_int_equal(tdm_audio_decoder_decode(dec, broken, sizeof broken, pcm,
                                              TDM_AUDIO_MAX_FRAME_SAMPLES, &n, &err),
                     TDM_ERR_FORMAT);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(tdm_audio_decoder_recover(dec, broken, sizeof broken, pcm,
                                               TDM_AUDIO_MAX_FRAME_SAMPLES, &n, &err),
                     TDM_ERR_FORMAT);
    /* A good 20 ms packet into room for 10 ms. */
    tdm_audio_encoder_config_init(&cfg, 1);
    assert_int_equal(tdm_audio_encoder_new(&cfg, &enc, &err), TDM_OK);
    memset(pcm, 0, sizeof pcm);
    assert_int_equal(tdm_audio_encoder_encode(enc, pcm, 0, &f, &produced, &err), TDM_OK);
    assert_true(produced);
    assert_int_equal(tdm_audio_decoder_decode(dec, f.data, f.len, pcm, N / 2, &n, &err),
                     TDM_ERR_INVALID);
    assert_int_equal(tdm_audio_decoder_decode(dec, f.data, f.len, NULL, N, &n, &err),
                     TDM_ERR_INVALID);
    assert_int_equal(tdm_audio_decoder_recover(dec, NULL, 0, pcm, N, &n, &err), TDM_ERR_INVALID);
    /* Random bytes: a status, never a crash. */
    uint32_t seed = 1;
    uint8_t junk[300];
    for (int round = 0; round < 500; round++) {
        size_t len = 1 + (size_t)(round % 300);
        for (size_t k = 0; k < len; k++) {
            seed = seed * 1664525u + 1013904223u;
            junk[k] = (uint8_t)(seed >> 24);
        }
        tdm_status st = tdm_audio_decoder_decode(dec, junk, len, pcm,
                                                 TDM_AUDIO_MAX_FRAME_SAMPLES, &n, &err);
        assert_true(st == TDM_OK || st == TDM_ERR_FORMAT);
        if (st == TDM_OK)
            assert_true(n <= TDM_AUDIO_MAX_FRAME_SAMPLES);
    }
    tdm_audio_encoder_free(enc);
    tdm_audio_decoder_free(dec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mono_tone_survives),
        cmocka_unit_test(test_stereo_channels_stay_apart),
        cmocka_unit_test(test_fec_recovers_better_than_concealment),
        cmocka_unit_test(test_dtx_goes_quiet_on_silence),
        cmocka_unit_test(test_bad_settings_and_packets_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
