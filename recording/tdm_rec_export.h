/* tdm_rec_export: a verified recording remuxed to WebM, without re-encoding.
 *
 * Owns turning records back into media: VP8/VP9 RTP packets are assembled
 * into frames by codec/'s tdm_assembler fed with the recorded arrival
 * times (so a packet the relay never got is given up exactly as a live
 * receiver would, and the frames after it wait for a keyframe), Opus RTP
 * payloads are validated by tdm_opus_depacketize and are frames already.
 * Frames are written by libavformat's WebM muxer with their timestamps:
 * each stream's RTP clock, anchored at its first packet's arrival time
 * (relative to the recording's first record) so audio and video line up.
 * The muxer writes cues, so the file is seekable. Streams of other codecs,
 * and video streams that never got a keyframe, are left out (counted).
 *
 * Reading stops at the first fault: a recording that fails verification is
 * not exported (the caller says so); a truncated one exports up to its end. */
#ifndef TDM_REC_EXPORT_H
#define TDM_REC_EXPORT_H

#include "tdm_rec_reader.h"

typedef struct tdm_rec_export_stream {
    uint8_t id;
    tdm_codec codec;
    bool exported;
    int width, height;  /* video: from the first keyframe */
    uint64_t packets;   /* RTP packets read */
    uint64_t frames;    /* frames written */
    uint64_t frames_lost; /* video frames the assembler could not complete */
} tdm_rec_export_stream;

typedef struct tdm_rec_export_result {
    size_t nstreams;
    tdm_rec_export_stream streams[TDM_REC_MAX_STREAMS];
    uint64_t duration_us; /* last frame's time */
    tdm_status ending;    /* TDM_EOF (complete) or TDM_ERR_TRUNCATED */
    tdm_error ending_msg;
} tdm_rec_export_result;

/* Called now and then with the bytes of the recording read so far (of
 * total), twice over: once to find picture sizes, once to write. */
typedef void (*tdm_rec_export_progress)(void *ctx, int pass, uint64_t done, uint64_t total);

/* Exports r (rewound first) to a WebM file at out_path (overwritten).
 * Errors: TDM_ERR_FORMAT (the recording fails verification: err names the
 * fault), TDM_ERR_UNSUPPORTED (nothing exportable: no VP8/VP9/Opus stream
 * with frames), TDM_ERR_IO (libavformat could not write; err says why). */
tdm_status tdm_rec_export_webm(tdm_rec_reader *r, size_t file_size, const char *out_path,
                               tdm_rec_export_progress progress, void *progress_ctx,
                               tdm_rec_export_result *res, tdm_error *err);

#endif
