/* tdm_video_decoder: VP8/VP9 decoding (libvpx) into borrowed I420 views.
 *
 * Input is one whole frame as the encoder produced it (a VP8 frame or a VP9
 * frame or superframe), e.g. from frame assembly. The decoder never hands
 * out a picture it knows to be wrong: until its first keyframe, and again
 * after any frame fails to decode, it sets frames aside unseen until a
 * keyframe arrives, and says so (tdm_video_decoder_needs_keyframe), so the
 * caller can ask the sender for one (PLI). A frame that declares a picture
 * larger than the configured limit is refused before libvpx allocates for
 * it (VP8 declares sizes in keyframes; VP9 in keyframes, intra-only frames
 * and inter frames that change size, which are read here for that). */
#ifndef TDM_VIDEO_DECODER_H
#define TDM_VIDEO_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_codec.h"
#include "tdm_frame.h"

typedef struct tdm_video_decoder tdm_video_decoder;

typedef struct tdm_video_decoder_config {
    tdm_codec codec;     /* TDM_CODEC_VP8 or TDM_CODEC_VP9 */
    int threads;         /* [1, 64]; VP9 decodes tiles and rows in parallel */
    uint64_t max_pixels; /* largest picture accepted, [1, TDM_MAX_DIMENSION^2];
                            each side is also at most TDM_MAX_DIMENSION */
} tdm_video_decoder_config;

/* Defaults: 1 thread, pictures up to 7680x4320 (8K) pixels. */
void tdm_video_decoder_config_init(tdm_video_decoder_config *cfg, tdm_codec codec);

/* TDM_ERR_INVALID (bad config; err says which field), TDM_ERR_NOMEM,
 * TDM_ERR_UNAVAILABLE (libvpx init failed; err has its detail). */
tdm_status tdm_video_decoder_new(const tdm_video_decoder_config *cfg, tdm_video_decoder **out,
                                 tdm_error *err);
void tdm_video_decoder_free(tdm_video_decoder *dec);

/* Decodes one frame. On TDM_OK, *produced says whether *out holds a
 * picture: a view into the decoder's buffers (out->owned is NULL), valid
 * until the next decode or free. It is false for a frame set aside while
 * waiting for a keyframe, and for a frame that is not shown.
 * Errors: TDM_ERR_INVALID (NULL arguments, empty or over-large input),
 * TDM_ERR_FORMAT (corrupt or undecodable input, a picture over the size
 * limit; the decoder then waits for a keyframe), TDM_ERR_UNSUPPORTED (a
 * valid stream in a format other than 8-bit 4:2:0; likewise). */
tdm_status tdm_video_decoder_decode(tdm_video_decoder *dec, const uint8_t *buf, size_t len,
                                    tdm_i420 *out, bool *produced, tdm_error *err);

/* True before the first keyframe and after an error until the next one. */
bool tdm_video_decoder_needs_keyframe(const tdm_video_decoder *dec);

typedef struct tdm_video_decoder_stats {
    uint64_t frames_in;      /* calls to decode with a non-empty frame */
    uint64_t frames_out;     /* pictures produced */
    uint64_t errors;         /* frames refused as corrupt or unsupported */
    uint64_t set_aside;      /* inter frames skipped while waiting for a keyframe */
    uint64_t keyframes;      /* keyframes decoded */
} tdm_video_decoder_stats;

void tdm_video_decoder_get_stats(const tdm_video_decoder *dec, tdm_video_decoder_stats *out);

#endif
