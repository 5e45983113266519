/* tdm_audio: Opus encoding and decoding (libopus) for the voice channel.
 *
 * Fixed at 48 kHz and 20 ms frames (TDM_AUDIO_FRAME_SAMPLES per channel),
 * interleaved 16-bit PCM, mono or stereo: what WebRTC peers use. Loss is
 * handled the two ways Opus offers: in-band FEC (each packet carries a
 * coarse copy of the previous one, decoded from the packet after a loss)
 * and packet-loss concealment (no packet at all). With DTX the encoder
 * stops sending during silence except for a comfort-noise update every
 * 400 ms; the 1-2 byte "still silent" packets it makes in between are not
 * handed out (as in WebRTC: a receiver conceals the gap).
 *
 * Encoded bytes are borrowed until the next encode or free; decoded PCM
 * goes into the caller's buffer. */
#ifndef TDM_AUDIO_H
#define TDM_AUDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_codec.h"

#define TDM_AUDIO_RATE 48000
#define TDM_AUDIO_FRAME_SAMPLES 960 /* per channel: 20 ms at 48 kHz */
#define TDM_AUDIO_MAX_FRAME_SAMPLES 5760 /* per channel: 120 ms, Opus's longest packet */
#define TDM_AUDIO_MAX_PACKET 1500

typedef struct tdm_audio_encoder tdm_audio_encoder;
typedef struct tdm_audio_decoder tdm_audio_decoder;

typedef struct tdm_audio_encoder_config {
    int channels;        /* 1 or 2 */
    int bitrate_bps;     /* [6000, 510000] */
    int complexity;      /* [0, 10] */
    bool voip;           /* tune for speech (else for general audio) */
    bool fec;            /* in-band FEC (needs packet_loss_pct > 0 to be used) */
    int packet_loss_pct; /* expected loss, [0, 100]: how much FEC to spend */
    bool dtx;            /* stop sending during silence */
} tdm_audio_encoder_config;

/* Defaults: mono 32 kbit/s tuned for speech; stereo 96 kbit/s tuned for
 * general audio (a shared machine's sound); complexity 9, FEC on for 10 %
 * loss, DTX off. */
void tdm_audio_encoder_config_init(tdm_audio_encoder_config *cfg, int channels);

/* TDM_ERR_INVALID (a field out of range; err says which), TDM_ERR_NOMEM,
 * TDM_ERR_UNAVAILABLE (libopus refused; err has its text). */
tdm_status tdm_audio_encoder_new(const tdm_audio_encoder_config *cfg, tdm_audio_encoder **out,
                                 tdm_error *err);
void tdm_audio_encoder_free(tdm_audio_encoder *enc);

/* Runtime changes, from the next frame on (e.g. from RTCP receiver
 * reports). Same ranges as the config. */
tdm_status tdm_audio_encoder_set_bitrate(tdm_audio_encoder *enc, int bps, tdm_error *err);
tdm_status tdm_audio_encoder_set_packet_loss(tdm_audio_encoder *enc, int pct, tdm_error *err);

/* Encodes one 20 ms frame: TDM_AUDIO_FRAME_SAMPLES x channels interleaved
 * samples, captured at pts_us. On TDM_OK, *produced says whether out holds
 * a packet (false for a DTX silence frame, which is not to be sent);
 * rtp_timestamp is pts_us at 48 kHz (mod 2^32), keyframe always false.
 * TDM_ERR_INVALID for NULL arguments, TDM_ERR_UNAVAILABLE if libopus fails. */
tdm_status tdm_audio_encoder_encode(tdm_audio_encoder *enc, const int16_t *pcm, uint64_t pts_us,
                                    tdm_encoded_frame *out, bool *produced, tdm_error *err);

typedef struct tdm_audio_decoder_config {
    int channels; /* 1 or 2; the decoder mixes or duplicates what the stream has */
} tdm_audio_decoder_config;

tdm_status tdm_audio_decoder_new(const tdm_audio_decoder_config *cfg, tdm_audio_decoder **out,
                                 tdm_error *err);
void tdm_audio_decoder_free(tdm_audio_decoder *dec);

/* Decodes a packet into pcm (room for capacity samples per channel,
 * interleaved); *samples gets the count per channel. buf NULL (len 0)
 * means the packet was lost: conceal one frame of the last packet's
 * duration (20 ms before any packet).
 * TDM_ERR_INVALID (NULL pcm or samples, capacity too small),
 * TDM_ERR_FORMAT (corrupt packet). */
tdm_status tdm_audio_decoder_decode(tdm_audio_decoder *dec, const uint8_t *buf, size_t len,
                                    int16_t *pcm, size_t capacity, size_t *samples,
                                    tdm_error *err);

/* Recovers the lost packet that came just before next, from the FEC data
 * in next (next itself is decoded afterwards with _decode, as usual). When
 * next carries no FEC data, libopus conceals instead. Produces one frame
 * of next's duration. Errors as for _decode. */
tdm_status tdm_audio_decoder_recover(tdm_audio_decoder *dec, const uint8_t *next, size_t len,
                                     int16_t *pcm, size_t capacity, size_t *samples,
                                     tdm_error *err);

#endif
