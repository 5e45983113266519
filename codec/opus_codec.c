/* opus_codec.c: the libopus adapter behind tdm_audio (encoder and decoder,
 * FEC recovery and concealment). */
#include "tdm_audio.h"

#include <limits.h>
#include <stdlib.h>

#include <opus/opus.h>

struct tdm_audio_encoder {
    tdm_audio_encoder_config cfg;
    OpusEncoder *opus;
    uint8_t packet[TDM_AUDIO_MAX_PACKET];
};

struct tdm_audio_decoder {
    int channels;
    OpusDecoder *opus;
    int last_duration; /* samples per channel of the last packet decoded */
};

void tdm_audio_encoder_config_init(tdm_audio_encoder_config *cfg, int channels)
{
    /* Stereo is for a shared machine's own sound (music, video), so it is
     * tuned for general audio, and at 96 kbit/s: at 64 two tones in the
     * two channels bleed into each other at -10 dB, at 96 at -33 dB. */
    *cfg = (tdm_audio_encoder_config){
        .channels = channels,
        .bitrate_bps = channels == 2 ? 96000 : 32000,
        .complexity = 9,
        .voip = channels != 2,
        .fec = true,
        .packet_loss_pct = 10,
        .dtx = false,
    };
}

static tdm_status opus_fail(tdm_error *err, const char *what, int code)
{
    return tdm_fail(err, TDM_ERR_UNAVAILABLE, "opus %s: %s", what, opus_strerror(code));
}

tdm_status tdm_audio_encoder_set_bitrate(tdm_audio_encoder *enc, int bps, tdm_error *err)
{
    if (!enc)
        return tdm_fail(err, TDM_ERR_INVALID, "no encoder");
    if (bps < 6000 || bps > 510000)
        return tdm_fail(err, TDM_ERR_INVALID, "bitrate %d bit/s is outside [6000, 510000]", bps);
    int rc = opus_encoder_ctl(enc->opus, OPUS_SET_BITRATE(bps));
    if (rc != OPUS_OK)
        return opus_fail(err, "set bitrate", rc);
    enc->cfg.bitrate_bps = bps;
    return TDM_OK;
}

tdm_status tdm_audio_encoder_set_packet_loss(tdm_audio_encoder *enc, int pct, tdm_error *err)
{
    if (!enc)
        return tdm_fail(err, TDM_ERR_INVALID, "no encoder");
    if (pct < 0 || pct > 100)
        return tdm_fail(err, TDM_ERR_INVALID, "packet loss %d%% is outside [0, 100]", pct);
    int rc = opus_encoder_ctl(enc->opus, OPUS_SET_PACKET_LOSS_PERC(pct));
    if (rc != OPUS_OK)
        return opus_fail(err, "set packet loss", rc);
    enc->cfg.packet_loss_pct = pct;
    return TDM_OK;
}

tdm_status tdm_audio_encoder_new(const tdm_audio_encoder_config *cfg, tdm_audio_encoder **out,
                                 tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "no place for the encoder");
    *out = NULL;
    if (!cfg)
        return tdm_fail(err, TDM_ERR_INVALID, "no encoder configuration");
    if (cfg->channels != 1 && cfg->channels != 2)
        return tdm_fail(err, TDM_ERR_INVALID, "%d channels: Opus here is mono or stereo",
                        cfg->channels);
    if (cfg->bitrate_bps < 6000 || cfg->bitrate_bps > 510000)
        return tdm_fail(err, TDM_ERR_INVALID, "bitrate %d bit/s is outside [6000, 510000]",
                        cfg->bitrate_bps);
    if (cfg->complexity < 0 || cfg->complexity > 10)
        return tdm_fail(err, TDM_ERR_INVALID, "complexity %d is outside [0, 10]",
                        cfg->complexity);
    if (cfg->packet_loss_pct < 0 || cfg->packet_loss_pct > 100)
        return tdm_fail(err, TDM_ERR_INVALID, "packet loss %d%% is outside [0, 100]",
                        cfg->packet_loss_pct);
    tdm_audio_encoder *enc = calloc(1, sizeof *enc);
    if (!enc)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the encoder");
    enc->cfg = *cfg;
    int rc = OPUS_OK;
    enc->opus = opus_encoder_create(TDM_AUDIO_RATE, cfg->channels,
                                    cfg->voip ? OPUS_APPLICATION_VOIP : OPUS_APPLICATION_AUDIO,
                                    &rc);
    if (!enc->opus || rc != OPUS_OK) {
        free(enc);
        return rc == OPUS_ALLOC_FAIL ? tdm_fail(err, TDM_ERR_NOMEM, "out of memory for Opus")
                                     : opus_fail(err, "encoder create", rc);
    }
    /* VBR within fixed 20 ms frames, as WebRTC sends. */
    int rc_set[] = {
        opus_encoder_ctl(enc->opus, OPUS_SET_BITRATE(cfg->bitrate_bps)),
        opus_encoder_ctl(enc->opus, OPUS_SET_COMPLEXITY(cfg->complexity)),
        opus_encoder_ctl(enc->opus, OPUS_SET_INBAND_FEC(cfg->fec ? 1 : 0)),
        opus_encoder_ctl(enc->opus, OPUS_SET_PACKET_LOSS_PERC(cfg->packet_loss_pct)),
        opus_encoder_ctl(enc->opus, OPUS_SET_DTX(cfg->dtx ? 1 : 0)),
        opus_encoder_ctl(enc->opus, OPUS_SET_VBR(1)),
    };
    for (size_t i = 0; i < sizeof rc_set / sizeof rc_set[0]; i++) {
        if (rc_set[i] != OPUS_OK) {
            tdm_status st = opus_fail(err, "encoder setting", rc_set[i]);
            tdm_audio_encoder_free(enc);
            return st;
        }
    }
    *out = enc;
    return TDM_OK;
}

void tdm_audio_encoder_free(tdm_audio_encoder *enc)
{
    if (!enc)
        return;
    opus_encoder_destroy(enc->opus);
    free(enc);
}

tdm_status tdm_audio_encoder_encode(tdm_audio_encoder *enc, const int16_t *pcm, uint64_t pts_us,
                                    tdm_encoded_frame *out, bool *produced, tdm_error *err)
{
    if (produced)
        *produced = false;
    if (!enc || !pcm || !out || !produced)
        return tdm_fail(err, TDM_ERR_INVALID, "encode needs an encoder, samples and an output");
    int n = opus_encode(enc->opus, pcm, TDM_AUDIO_FRAME_SAMPLES, enc->packet,
                        (opus_int32)sizeof enc->packet);
    if (n < 0)
        return opus_fail(err, "encode", n);
    /* In DTX, 1-2 bytes is a TOC saying "still silent": not worth a packet. */
    if (enc->cfg.dtx && n <= 2)
        return TDM_OK;
    *out = (tdm_encoded_frame){
        .codec = TDM_CODEC_OPUS,
        .data = enc->packet,
        .len = (size_t)n,
        .rtp_timestamp = (uint32_t)(pts_us * 48 / 1000),
        .keyframe = false,
    };
    *produced = true;
    return TDM_OK;
}

tdm_status tdm_audio_decoder_new(const tdm_audio_decoder_config *cfg, tdm_audio_decoder **out,
                                 tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "no place for the decoder");
    *out = NULL;
    if (!cfg)
        return tdm_fail(err, TDM_ERR_INVALID, "no decoder configuration");
    if (cfg->channels != 1 && cfg->channels != 2)
        return tdm_fail(err, TDM_ERR_INVALID, "%d channels: Opus here is mono or stereo",
                        cfg->channels);
    tdm_audio_decoder *dec = calloc(1, sizeof *dec);
    if (!dec)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the decoder");
    dec->channels = cfg->channels;
    dec->last_duration = TDM_AUDIO_FRAME_SAMPLES;
    int rc = OPUS_OK;
    dec->opus = opus_decoder_create(TDM_AUDIO_RATE, cfg->channels, &rc);
    if (!dec->opus || rc != OPUS_OK) {
        free(dec);
        return rc == OPUS_ALLOC_FAIL ? tdm_fail(err, TDM_ERR_NOMEM, "out of memory for Opus")
                                     : opus_fail(err, "decoder create", rc);
    }
    *out = dec;
    return TDM_OK;
}

void tdm_audio_decoder_free(tdm_audio_decoder *dec)
{
    if (!dec)
        return;
    opus_decoder_destroy(dec->opus);
    free(dec);
}

static tdm_status check_out(const int16_t *pcm, size_t *samples, tdm_error *err)
{
    if (!pcm || !samples)
        return tdm_fail(err, TDM_ERR_INVALID, "decode needs a PCM buffer and a count");
    *samples = 0;
    return TDM_OK;
}

/* Runs opus_decode for exactly frame samples per channel (or as many as the
 * packet holds when frame is 0, up to capacity). */
static tdm_status run_decode(tdm_audio_decoder *dec, const uint8_t *buf, size_t len, int fec,
                             int frame, int16_t *pcm, size_t capacity, size_t *samples,
                             tdm_error *err)
{
    if (len > INT_MAX)
        return tdm_fail(err, TDM_ERR_INVALID, "packet of %zu bytes is too large", len);
    size_t want = frame ? (size_t)frame : capacity;
    if (want > TDM_AUDIO_MAX_FRAME_SAMPLES)
        want = TDM_AUDIO_MAX_FRAME_SAMPLES;
    if (capacity < want)
        return tdm_fail(err, TDM_ERR_INVALID, "room for %zu samples, %zu needed", capacity, want);
    int n = opus_decode(dec->opus, buf, (opus_int32)len, pcm, (int)want, fec);
    if (n < 0) {
        tdm_status st = n == OPUS_BUFFER_TOO_SMALL ? TDM_ERR_INVALID : TDM_ERR_FORMAT;
        return tdm_fail(err, st, "opus decode: %s", opus_strerror(n));
    }
    *samples = (size_t)n;
    return TDM_OK;
}

tdm_status tdm_audio_decoder_decode(tdm_audio_decoder *dec, const uint8_t *buf, size_t len,
                                    int16_t *pcm, size_t capacity, size_t *samples,
                                    tdm_error *err)
{
    if (!dec)
        return tdm_fail(err, TDM_ERR_INVALID, "no decoder");
    tdm_status st = check_out(pcm, samples, err);
    if (st != TDM_OK)
        return st;
    if (!buf || len == 0) /* lost: conceal as long as the last packet was */
        return run_decode(dec, NULL, 0, 0, dec->last_duration, pcm, capacity, samples, err);
    if (len > INT_MAX)
        return tdm_fail(err, TDM_ERR_INVALID, "packet of %zu bytes is too large", len);
    int dur = opus_packet_get_nb_samples(buf, (opus_int32)len, TDM_AUDIO_RATE);
    if (dur <= 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "opus packet: %s",
                        opus_strerror(dur < 0 ? dur : OPUS_INVALID_PACKET));
    st = run_decode(dec, buf, len, 0, dur, pcm, capacity, samples, err);
    if (st == TDM_OK)
        dec->last_duration = dur;
    return st;
}

tdm_status tdm_audio_decoder_recover(tdm_audio_decoder *dec, const uint8_t *next, size_t len,
                                     int16_t *pcm, size_t capacity, size_t *samples,
                                     tdm_error *err)
{
    if (!dec)
        return tdm_fail(err, TDM_ERR_INVALID, "no decoder");
    tdm_status st = check_out(pcm, samples, err);
    if (st != TDM_OK)
        return st;
    if (!next || len == 0)
        return tdm_fail(err, TDM_ERR_INVALID, "recovery needs the packet after the loss");
    if (len > INT_MAX)
        return tdm_fail(err, TDM_ERR_INVALID, "packet of %zu bytes is too large", len);
    int dur = opus_packet_get_nb_samples(next, (opus_int32)len, TDM_AUDIO_RATE);
    if (dur <= 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "opus packet: %s",
                        opus_strerror(dur < 0 ? dur : OPUS_INVALID_PACKET));
    /* FEC data describes a frame as long as next's; asking for that many
     * samples is what makes libopus use it. */
    return run_decode(dec, next, len, 1, dur, pcm, capacity, samples, err);
}
