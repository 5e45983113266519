/* vpx_test_frames.h: libvpx plumbing shared by the tests that check
 * Tandem's own VP8/VP9 frames against libvpx: wrapping planes as a
 * vpx_image_t, encoding one frame with libvpx into a buffer. Include after
 * cmocka.h. */
#ifndef TDM_VPX_TEST_FRAMES_H
#define TDM_VPX_TEST_FRAMES_H

#include <string.h>

#include <vpx/vpx_encoder.h>

#include "tdm_frame.h"

/* I420 planes of width x height (chroma strides given) as a vpx image. */
static inline vpx_image_t vpx_test_wrap_planes(uint8_t *y, uint8_t *u, uint8_t *v, int sy,
                                               int suv_u, int suv_v, int width, int height)
{
    vpx_image_t vi;
    memset(&vi, 0, sizeof vi);
    vi.fmt = VPX_IMG_FMT_I420;
    vi.w = vi.d_w = (unsigned)width;
    vi.h = vi.d_h = (unsigned)height;
    vi.x_chroma_shift = vi.y_chroma_shift = 1;
    vi.bps = 12;
    vi.planes[0] = y;
    vi.planes[1] = u;
    vi.planes[2] = v;
    vi.stride[0] = sy;
    vi.stride[1] = suv_u;
    vi.stride[2] = suv_v;
    return vi;
}

static inline vpx_image_t vpx_test_wrap(const tdm_i420 *img)
{
    return vpx_test_wrap_planes(img->y, img->u, img->v, img->stride_y, img->stride_u,
                                img->stride_v, img->width, img->height);
}

/* Encodes img with libvpx; the frame is copied into buf, its size returned. */
static inline size_t vpx_test_encode(vpx_codec_ctx_t *enc, const tdm_i420 *img, int pts,
                                     vpx_enc_frame_flags_t flags, uint8_t *buf, size_t cap)
{
    vpx_image_t vi = vpx_test_wrap(img);
    assert_int_equal(vpx_codec_encode(enc, &vi, pts, 1, flags, VPX_DL_REALTIME), VPX_CODEC_OK);
    const vpx_codec_cx_pkt_t *pkt;
    vpx_codec_iter_t it = NULL;
    size_t n = 0;
    while ((pkt = vpx_codec_get_cx_data(enc, &it)) != NULL) {
        if (pkt->kind != VPX_CODEC_CX_FRAME_PKT)
            continue;
        assert_true(pkt->data.frame.sz <= cap);
        memcpy(buf, pkt->data.frame.buf, pkt->data.frame.sz);
        n = pkt->data.frame.sz;
    }
    assert_true(n > 0);
    return n;
}

#endif
