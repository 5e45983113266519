/* tdm_stamp: a frame number and capture time drawn into the image itself.
 *
 * The stamp is a TDM_STAMP_WIDTH x TDM_STAMP_HEIGHT block of black and white
 * cells, TDM_STAMP_CELL pixels square, aligned to the 8x8/16x16 block grid of
 * VP8/VP9 so that lossy coding smears no cell into its neighbour. It carries
 * a magic byte, the low 32 bits of the frame number, 56 bits of capture time
 * in microseconds and a CRC-16 over both, so a misread is detected rather
 * than returned. After decoding, the reader samples the centre of each cell
 * and thresholds it, which survives the quantisation of any usable bitrate.
 * It is written at (x, y) chosen by the caller; sources put it at (0, 0). */
#ifndef TDM_STAMP_H
#define TDM_STAMP_H

#include <stdint.h>

#include "tdm_frame.h"

#define TDM_STAMP_CELL 8
#define TDM_STAMP_COLS 16
#define TDM_STAMP_ROWS 7
#define TDM_STAMP_WIDTH (TDM_STAMP_COLS * TDM_STAMP_CELL)  /* 128 */
#define TDM_STAMP_HEIGHT (TDM_STAMP_ROWS * TDM_STAMP_CELL) /* 56 */

typedef struct tdm_stamp {
    uint32_t frame_number;
    uint64_t capture_us; /* low 56 bits of the capture time */
} tdm_stamp;

/* Draws the stamp into BGRA pixels at (x, y): cells exactly (0,0,0) or
 * (255,255,255), X bytes 255, nothing outside the block touched. The caller
 * guarantees the block fits: TDM_ERR_RANGE otherwise (TDM_ERR_INVALID for
 * NULL pixels or a stride below 4 * width). */
tdm_status tdm_stamp_write_bgra(uint8_t *bgra, int stride, int width, int height, int x, int y,
                                tdm_stamp stamp);

/* Reads a stamp back from a luma plane (e.g. a decoded I420 frame, full or
 * limited range) or from BGRA pixels. Each cell's centre 4x4 is averaged and
 * thresholded halfway between the darkest and brightest cell. TDM_ERR_FORMAT
 * when no valid stamp is there (magic or CRC mismatch, or no contrast),
 * TDM_ERR_RANGE when the block does not fit, TDM_ERR_INVALID for NULL
 * pixels or a short stride. out may be NULL to only validate. */
tdm_status tdm_stamp_read_luma(const uint8_t *y, int stride, int width, int height, int x, int y0,
                               tdm_stamp *out);
tdm_status tdm_stamp_read_bgra(const uint8_t *bgra, int stride, int width, int height, int x,
                               int y, tdm_stamp *out);

#endif
