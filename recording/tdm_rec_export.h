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
 * not exported (the caller says so); a truncated one exports up to its end.
 *
 * Segments (tdm_rec_segments.h): the files of one session, in start order,
 * join into one WebM without re-encoding. Each segment's frames are placed
 * at its header start time minus the first segment's, so a gap between
 * segments stays as real time (a player holds the last picture across it,
 * and the time line keeps matching the audit log's wall clock); where a
 * segment overlaps the next, its frames from the next one's start on are
 * left out (counted). Every segment's RTP is assembled afresh (a new
 * publisher: new SSRC, sequence and clock), so its video starts at its
 * first keyframe and the joined file decodes across the seam. Tracks are
 * the first segment's streams; a later segment with a codec the first has
 * not, or a picture size other than the first's, is refused (a WebM track
 * has one configuration). Each segment and each gap is a WebM chapter
 * ("segment N: ...", "gap: nothing recorded ..."). */
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

#define TDM_REC_EXPORT_MAX_SEGMENTS 64

typedef struct tdm_rec_export_segment {
    uint64_t offset_us;      /* its start in the export: header start - the first's */
    uint64_t end_us;         /* its last record, on the export's clock */
    uint64_t frames;         /* frames written from it, all tracks */
    uint64_t frames_trimmed; /* left out: the next segment had started */
    tdm_status ending;       /* TDM_EOF or TDM_ERR_TRUNCATED */
    tdm_error ending_msg;
} tdm_rec_export_segment;

typedef struct tdm_rec_export_result {
    size_t nstreams;
    tdm_rec_export_stream streams[TDM_REC_MAX_STREAMS];
    uint64_t duration_us; /* last frame's time */
    tdm_status ending;    /* TDM_EOF (all complete) or TDM_ERR_TRUNCATED (one was cut) */
    tdm_error ending_msg; /* the (last) cut one's */
    size_t nsegments;
    tdm_rec_export_segment segments[TDM_REC_EXPORT_MAX_SEGMENTS];
    size_t fault_segment; /* TDM_ERR_FORMAT: which segment (0-based) fails */
} tdm_rec_export_result;

/* One input of a joined export: a segment's reader and its file's size. */
typedef struct tdm_rec_export_input {
    tdm_rec_reader *reader;
    size_t file_size;
    const char *label; /* for its chapter title (a file name), or NULL */
} tdm_rec_export_input;

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

/* The segments of one session (in start order: tdm_rec_segments_sort),
 * joined. The same errors, and TDM_ERR_UNSUPPORTED also for a segment
 * whose codecs or picture size differ from the first's (err names it),
 * TDM_ERR_INVALID for none or more than TDM_REC_EXPORT_MAX_SEGMENTS, or
 * segments out of order or of different sessions. Progress counts the
 * bytes of all segments. */
tdm_status tdm_rec_export_webm_segments(const tdm_rec_export_input *in, size_t n,
                                        const char *out_path, tdm_rec_export_progress progress,
                                        void *progress_ctx, tdm_rec_export_result *res,
                                        tdm_error *err);

#endif
