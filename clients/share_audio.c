/* share_audio.c: tone and WAV sources for tandem-share's voice channel
 * (share_audio.h). */
#include "share_audio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tdm_share_audio {
    int channels;
    /* tone */
    double phase;
    /* file: whole frames of interleaved samples, looping */
    int16_t *samples;
    size_t n_samples, pos;
};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

tdm_status tdm_wav_parse(const uint8_t *buf, size_t len, tdm_wav_info *out, tdm_error *err)
{
    if (!buf || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "wav: NULL argument");
    memset(out, 0, sizeof *out);
    if (len < 12 || memcmp(buf, "RIFF", 4) != 0 || memcmp(buf + 8, "WAVE", 4) != 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "not a WAV file (no RIFF/WAVE header)");
    bool have_fmt = false;
    size_t pos = 12;
    uint16_t format = 0, channels = 0, bits = 0;
    uint32_t rate = 0;
    while (pos + 8 <= len) {
        const uint8_t *chunk = buf + pos;
        uint32_t size = le32(chunk + 4);
        size_t body = pos + 8;
        if (memcmp(chunk, "fmt ", 4) == 0) {
            if (size < 16 || body + 16 > len)
                return tdm_fail(err, TDM_ERR_FORMAT, "wav: fmt chunk of %u bytes is too short",
                                (unsigned)size);
            format = le16(buf + body);
            channels = le16(buf + body + 2);
            rate = le32(buf + body + 4);
            bits = le16(buf + body + 14);
            /* WAVE_FORMAT_EXTENSIBLE carries the real format in its GUID's
             * first two bytes. */
            if (format == 0xfffe && size >= 26 && body + 26 <= len)
                format = le16(buf + body + 24);
            have_fmt = true;
        } else if (memcmp(chunk, "data", 4) == 0) {
            if (!have_fmt)
                return tdm_fail(err, TDM_ERR_FORMAT, "wav: data before the fmt chunk");
            if (format != 1 || bits != 16 || channels < 1 || channels > 2 || rate != 48000)
                return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                                "wav: %u-bit %s, %u channel(s) at %u Hz; tandem-share takes "
                                "16-bit PCM, 1 or 2 channels, at 48000 Hz",
                                (unsigned)bits, format == 1 ? "PCM" : "non-PCM",
                                (unsigned)channels, (unsigned)rate);
            size_t avail = len - body;
            size_t n = size < avail ? size : avail;
            size_t frame = (size_t)channels * 2;
            out->channels = channels;
            out->rate = (int)rate;
            out->data_offset = body;
            out->data_len = n / frame * frame;
            if (out->data_len == 0)
                return tdm_fail(err, TDM_ERR_FORMAT, "wav: no samples");
            return TDM_OK;
        }
        /* Chunks are padded to an even size. */
        uint64_t next = (uint64_t)body + size + (size & 1);
        if (next > len)
            break;
        pos = (size_t)next;
    }
    return tdm_fail(err, TDM_ERR_FORMAT, "wav: no %s chunk", have_fmt ? "data" : "fmt");
}

static tdm_status load_wav(tdm_share_audio *a, const char *path, tdm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tdm_fail(err, TDM_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    uint8_t *buf = malloc(TDM_SHARE_AUDIO_FILE_MAX);
    size_t len = buf ? fread(buf, 1, TDM_SHARE_AUDIO_FILE_MAX, f) : 0;
    bool read_error = ferror(f);
    fclose(f);
    if (!buf)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for %s", path);
    tdm_status st = TDM_OK;
    tdm_wav_info info;
    if (read_error)
        st = tdm_fail(err, TDM_ERR_IO, "reading %s failed", path);
    else if ((st = tdm_wav_parse(buf, len, &info, err)) == TDM_OK) {
        a->channels = info.channels;
        a->n_samples = info.data_len / 2;
        a->samples = malloc(info.data_len);
        if (!a->samples)
            st = tdm_fail(err, TDM_ERR_NOMEM, "out of memory for %s", path);
        else
            for (size_t i = 0; i < a->n_samples; i++)
                a->samples[i] = (int16_t)le16(buf + info.data_offset + 2 * i);
    } else {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        tdm_fail(err, st, "%s: %s", path, why);
    }
    free(buf);
    return st;
}

tdm_status tdm_share_audio_open(const char *spec, tdm_share_audio **out, tdm_error *err)
{
    *out = NULL;
    if (!spec || !*spec)
        return tdm_fail(err, TDM_ERR_INVALID, "--audio wants tone or a WAV file");
    tdm_share_audio *a = calloc(1, sizeof *a);
    if (!a)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory");
    a->channels = 1;
    if (strcmp(spec, "tone") != 0) {
        tdm_status st = load_wav(a, spec, err);
        if (st != TDM_OK) {
            tdm_share_audio_close(a);
            return st;
        }
    }
    *out = a;
    return TDM_OK;
}

void tdm_share_audio_close(tdm_share_audio *a)
{
    if (!a)
        return;
    free(a->samples);
    free(a);
}

int tdm_share_audio_channels(const tdm_share_audio *a) { return a->channels; }

void tdm_share_audio_next(tdm_share_audio *a, int16_t *pcm)
{
    size_t n = (size_t)TDM_AUDIO_FRAME_SAMPLES * (size_t)a->channels;
    if (!a->samples) {
        /* A third of full scale: clearly audible, far from clipping. */
        const double two_pi = 6.283185307179586;
        double step = two_pi * TDM_SHARE_AUDIO_TONE_HZ / TDM_AUDIO_RATE;
        for (size_t i = 0; i < n; i++) {
            pcm[i] = (int16_t)lround(10000.0 * sin(a->phase));
            a->phase += step;
            if (a->phase > two_pi)
                a->phase -= two_pi;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        pcm[i] = a->samples[a->pos++];
        if (a->pos == a->n_samples)
            a->pos = 0;
    }
}
