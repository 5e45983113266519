/* tdm_vp9_sparse: VP9 inter frames that Tandem writes itself when only a
 * few blocks of the screen need coding, the VP9 counterpart of
 * tdm_vp8_sparse.h (read that first for the why).
 *
 * VP9 carries much more state from frame to frame than VP8 (four saved
 * probability contexts adapted after every frame from what it coded, the
 * previous frame's motion vectors, eight reference slots), so a written
 * frame does not follow that state: it is error resilient, which makes
 * every decoder reset all of it to the format's defaults, and the frame is
 * coded against those defaults. The encoder that resumes afterwards must
 * then code its next frame error resilient as well (libvpx: one frame with
 * g_error_resilient), so that it too starts from the defaults.
 *
 * The frame codes the chosen blocks losslessly (VP9's lossless mode:
 * quantiser index 0, 4x4 Walsh-Hadamard transform), so a coded block shows
 * exactly the source; every other block repeats the last frame (nearest
 * motion vector, which is zero in such a frame; no residual). It refreshes
 * all eight reference slots.
 *
 * Sans-IO: plain memory in, bytes out. */
#ifndef TDM_VP9_SPARSE_H
#define TDM_VP9_SPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_frame.h"
#include "tdm_status.h"
#include "tdm_vp8_sparse.h" /* tdm_vp8_picture: the same picture layout */

/* What a written frame needs to know of the stream: which reference slot
 * holds the last shown picture. */
typedef struct tdm_vp9_stream {
    bool valid;        /* a keyframe has been followed, and every frame since */
    int width, height; /* from the last keyframe */
    int last_slot;     /* a slot the last frame was stored in */
} tdm_vp9_stream;

void tdm_vp9_stream_init(tdm_vp9_stream *s);

/* Follows one VP9 frame as produced (profile 0; a superframe, a hidden or
 * intra-only frame, or a frame that stores nothing leave the state invalid
 * until the next keyframe). Reads the uncompressed header only.
 * TDM_ERR_INVALID with the reason when the frame cannot be followed. */
tdm_status tdm_vp9_stream_observe(tdm_vp9_stream *s, const uint8_t *frame, size_t len,
                                  tdm_error *err);

typedef struct tdm_vp9_sparse tdm_vp9_sparse;

tdm_status tdm_vp9_sparse_new(int width, int height, tdm_vp9_sparse **out, tdm_error *err);
void tdm_vp9_sparse_free(tdm_vp9_sparse *w);

typedef struct tdm_vp9_sparse_result {
    const uint8_t *data; /* borrowed until the next call or free */
    size_t len;
    unsigned coded_blocks; /* 8x8 units that carried a residual */
} tdm_vp9_sparse_result;

/* Writes one inter frame: the 16x16 area i (raster order, as in
 * tdm_vp8_sparse) is coded when code[i] != 0 and differs from ref. ref is
 * the decoder's last picture at the 8-aligned size (a 16-aligned buffer
 * is fine) and is updated to what the decoder shows after this frame.
 * Errors: TDM_ERR_INVALID (bad arguments, stream not usable),
 * TDM_ERR_NOMEM. */
tdm_status tdm_vp9_sparse_encode(tdm_vp9_sparse *w, const tdm_vp9_stream *stream,
                                 const tdm_i420 *src, const uint8_t *code,
                                 tdm_vp8_picture *ref, tdm_vp9_sparse_result *out,
                                 tdm_error *err);

#endif
