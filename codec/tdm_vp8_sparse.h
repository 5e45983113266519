/* tdm_vp8_sparse: VP8 inter frames that Tandem writes itself when only a
 * few macroblocks of the screen need coding (typing, a blinking cursor, a
 * tile settling), and the tracking of the decoder state they depend on.
 *
 * Why: libvpx 1.12 spends about 2 ms on a 1080p frame however few
 * macroblocks its active map leaves on (source copy, per-macroblock mode
 * bookkeeping and prediction copies over all 8160 macroblocks); on a typing
 * screen that per-frame floor is ~0.3 of what encoding the whole frame
 * costs. A frame where everything but a handful of macroblocks is "same as
 * the last frame" is simple to write directly: every macroblock is
 * inter-predicted from the last frame with a zero motion vector, the chosen
 * ones carry a residual (forward DCT/WHT, quantiser, token coding with the
 * stream's current probabilities), the rest are skipped. The writer keeps
 * the decoder's reconstruction of the last frame (the caller's reference
 * planes) exactly, by applying the normative inverse transforms (RFC 6386
 * section 14) to what it coded; a test decodes its frames with libvpx and
 * compares every pixel.
 *
 * What such a frame must agree with is what a decoder carries from frame
 * to frame: the token probabilities (a keyframe resets them; a frame may
 * update them for itself or for good). tdm_vp8_stream follows that from the
 * headers of the frames libvpx makes; the written frames update nothing and
 * keep nothing (refresh_entropy_probs = 0), put every macroblock in one
 * segment at one quantiser, do without the loop filter, and refresh the last, golden and alt-ref frames, so that the
 * encoder that resumes after them can be given one picture for all three
 * references.
 *
 * Sans-IO: plain memory in, bytes out. */
#ifndef TDM_VP8_SPARSE_H
#define TDM_VP8_SPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_frame.h"
#include "tdm_status.h"
#include "vp8_tables.h"

/* What a VP8 decoder of the stream holds that a written frame depends on. */
typedef struct tdm_vp8_stream {
    bool valid;          /* a keyframe's header has been followed */
    int version;         /* bitstream version of the last frame seen */
    int width, height;   /* from the last keyframe */
    bool segmentation;   /* the last frame seen had segmentation on */
    /* ... and relied on the map or segment data of earlier frames. After a
     * written frame (which rewrites both) that would decode wrongly: the
     * encoder must then send a keyframe. */
    bool segments_partial;
    tdm_vp8_coef_probs coef_probs; /* persistent token probabilities */
} tdm_vp8_stream;

void tdm_vp8_stream_init(tdm_vp8_stream *s);

/* Follows one VP8 frame (as produced, before packetizing). Parses the frame
 * tag and the first partition's header up to the token probability updates.
 * A frame that cannot be parsed makes the state invalid until the next
 * keyframe (TDM_ERR_INVALID with the reason); nothing else changes. */
tdm_status tdm_vp8_stream_observe(tdm_vp8_stream *s, const uint8_t *frame, size_t len,
                                  tdm_error *err);

/* The decoder's picture: planes at the 16-aligned size
 * (mb_cols * 16 x mb_rows * 16, chroma half that), as libvpx keeps it. */
typedef struct tdm_vp8_picture {
    uint8_t *y, *u, *v;
    int stride_y, stride_uv;
} tdm_vp8_picture;

typedef struct tdm_vp8_sparse tdm_vp8_sparse;

tdm_status tdm_vp8_sparse_new(int width, int height, tdm_vp8_sparse **out, tdm_error *err);
void tdm_vp8_sparse_free(tdm_vp8_sparse *w);

typedef struct tdm_vp8_sparse_result {
    const uint8_t *data; /* borrowed until the next call or free */
    size_t len;
    unsigned coded_mbs;  /* macroblocks that carried a residual */
} tdm_vp8_sparse_result;

/* Writes one inter frame: macroblock i (raster order) is coded when
 * code[i] != 0 and its quantised residual is not all zero; all others are
 * left as they are in ref. q_index in [0, 127] is the quantiser. ref is the
 * decoder's current picture (the stream's last frame) and is updated to
 * what the decoder will show after this frame. stream must be valid.
 * Errors: TDM_ERR_INVALID (bad arguments, stream not
 * usable), TDM_ERR_NOMEM. */
tdm_status tdm_vp8_sparse_encode(tdm_vp8_sparse *w, const tdm_vp8_stream *stream,
                                 const tdm_i420 *src, const uint8_t *code, int q_index,
                                 tdm_vp8_picture *ref, tdm_vp8_sparse_result *out,
                                 tdm_error *err);

#endif
