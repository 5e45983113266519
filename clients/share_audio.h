/* share_audio: the customer's voice channel for tandem-share — a sound
 * source cut into 20 ms frames for the Opus encoder (codec/tdm_audio.h).
 *
 * Owns: the test tone (440 Hz sine, mono), reading a WAV file (PCM 16-bit,
 * 48 kHz, mono or stereo; it loops), and the WAV header parser, which reads
 * outside bytes and is sans-IO and fuzzed (fuzz_share_wav). Frames come
 * from memory: the file is read once at open (at most 64 MiB, about 5.8
 * minutes of 48 kHz stereo), so producing a frame allocates nothing. */
#ifndef TDM_SHARE_AUDIO_H
#define TDM_SHARE_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "tdm_audio.h"
#include "tdm_status.h"

#define TDM_SHARE_AUDIO_TONE_HZ 440
#define TDM_SHARE_AUDIO_FILE_MAX (64u << 20)

typedef struct tdm_wav_info {
    int channels;        /* 1 or 2 */
    int rate;            /* 48000 */
    size_t data_offset;  /* first sample byte */
    size_t data_len;     /* bytes of whole frames (channels * 2 each) */
} tdm_wav_info;

/* Parses a RIFF/WAVE header from the file's first len bytes (the whole
 * file, or at least through the data chunk's header). TDM_ERR_FORMAT for
 * anything that is not RIFF/WAVE with a fmt and a data chunk;
 * TDM_ERR_UNSUPPORTED for a format other than 16-bit PCM, 1 or 2 channels
 * at 48 kHz (err says what the file has). data_len is clipped to the bytes
 * present. */
tdm_status tdm_wav_parse(const uint8_t *buf, size_t len, tdm_wav_info *out, tdm_error *err);

typedef struct tdm_share_audio tdm_share_audio;

/* spec: "tone" or a WAV file's path. */
tdm_status tdm_share_audio_open(const char *spec, tdm_share_audio **out, tdm_error *err);
void tdm_share_audio_close(tdm_share_audio *a);
int tdm_share_audio_channels(const tdm_share_audio *a);
/* The next 20 ms: TDM_AUDIO_FRAME_SAMPLES x channels interleaved samples. */
void tdm_share_audio_next(tdm_share_audio *a, int16_t *pcm);

#endif
