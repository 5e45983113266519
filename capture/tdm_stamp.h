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

/* Draws the stamp into BGRA pixels at (x, y). The caller guarantees the
 * block fits: TDM_ERR_RANGE otherwise. */
tdm_status tdm_stamp_write_bgra(uint8_t *bgra, int stride, int width, int height, int x, int y,
                                tdm_stamp stamp);

/* Reads a stamp back from a luma plane (e.g. a decoded I420 frame) or from
 * BGRA pixels. TDM_ERR_FORMAT when no valid stamp is there (magic or CRC
 * mismatch), TDM_ERR_RANGE when the block does not fit. */
tdm_status tdm_stamp_read_luma(const uint8_t *y, int stride, int width, int height, int x, int y0,
                               tdm_stamp *out);
tdm_status tdm_stamp_read_bgra(const uint8_t *bgra, int stride, int width, int height, int x,
                               int y, tdm_stamp *out);

#endif
