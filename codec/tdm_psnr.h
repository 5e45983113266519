/* tdm_psnr: peak signal-to-noise ratio between two I420 images, for tests
 * and benchmarks of lossy coding.
 *
 * PSNR = 10 log10(255^2 / MSE) over 8-bit samples. The combined YUV figure
 * pools the squared errors of all three planes over all their samples
 * (4:2:0, so luma weighs 4 of every 6), as libvpx's and ffmpeg's "overall"
 * PSNR do. Identical planes give TDM_PSNR_MAX rather than infinity, so that
 * averages over a sequence stay finite. */
#ifndef TDM_PSNR_H
#define TDM_PSNR_H

#include <stdint.h>

#include "tdm_frame.h"

#define TDM_PSNR_MAX 100.0

typedef struct tdm_psnr {
    double y, u, v; /* per plane, dB */
    double yuv;     /* all samples pooled, dB */
    uint64_t sse_y, sse_u, sse_v;
} tdm_psnr;

/* Compares a and b (same width and height; views are fine).
 * TDM_ERR_INVALID for NULL or unusable images or different sizes. */
tdm_status tdm_psnr_compute(const tdm_i420 *a, const tdm_i420 *b, tdm_psnr *out, tdm_error *err);

/* PSNR for a sum of squared errors over n samples (TDM_PSNR_MAX when sse
 * is 0 or n is 0). */
double tdm_psnr_from_sse(uint64_t sse, uint64_t n);

#endif
