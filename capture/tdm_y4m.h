/* tdm_y4m: YUV4MPEG2 files, 8-bit 4:2:0 (C420, C420jpeg, C420paldv,
 * C420mpeg2; no C tag means 420jpeg).
 *
 * The parser is sans-IO: tdm_y4m_parse_header and tdm_y4m_parse_frame_header
 * work on bytes in memory. The reader and writer wrap a FILE. A header that
 * lies (sizes beyond TDM_MAX_DIMENSION, a zero rate, unknown colour space),
 * a frame marker that is not "FRAME", and a file that ends inside a frame all
 * give a clear error naming what and where, never a crash. */
#ifndef TDM_Y4M_H
#define TDM_Y4M_H

#include <stdio.h>

#include "tdm_source.h"

/* Longest stream header or FRAME line accepted, including its '\n'. */
#define TDM_Y4M_MAX_LINE 1024

typedef struct tdm_y4m_info {
    int width, height;
    int fps_num, fps_den;     /* F tag; 0/0 if absent */
    int par_num, par_den;     /* A tag; 0/0 if absent */
    char interlace;           /* I tag: 'p', 't', 'b', 'm', or '?' if absent */
    char colorspace[16];      /* C tag as written, "420jpeg" if absent */
} tdm_y4m_info;

/* Parses the stream header line at buf. On TDM_OK, *consumed is the length of
 * the line including its '\n'. TDM_AGAIN if buf holds no complete line yet
 * (and len is below the TDM_Y4M_MAX_LINE cap). Errors: TDM_ERR_FORMAT (no
 * signature, W/H missing or not a number, malformed tag, line too long),
 * TDM_ERR_RANGE (W/H zero, negative, over TDM_MAX_DIMENSION or overflowing;
 * F with a zero numerator or denominator), TDM_ERR_UNSUPPORTED (C tag other
 * than the 8-bit 4:2:0 ones). X and unknown tags are ignored. */
tdm_status tdm_y4m_parse_header(const uint8_t *buf, size_t len, tdm_y4m_info *info,
                                size_t *consumed, tdm_error *err);

/* Parses a "FRAME[ params]\n" line; same contract as the header parser. */
tdm_status tdm_y4m_parse_frame_header(const uint8_t *buf, size_t len, size_t *consumed,
                                      tdm_error *err);

/* Bytes of one frame's pixels: w*h + 2*ceil(w/2)*ceil(h/2); 0 when the size
 * is outside [1, TDM_MAX_DIMENSION]. */
size_t tdm_y4m_frame_size(int width, int height);

typedef struct tdm_y4m_reader tdm_y4m_reader;

tdm_status tdm_y4m_reader_open(const char *path, tdm_y4m_reader **out, tdm_error *err);
/* Reads from an open stream (not closed by the reader). */
tdm_status tdm_y4m_reader_open_stream(FILE *f, tdm_y4m_reader **out, tdm_error *err);
const tdm_y4m_info *tdm_y4m_reader_info(const tdm_y4m_reader *r);
/* Reads the next frame into a view owned by the reader (valid until the next
 * call; planes are packed, strides equal to the plane widths). TDM_EOF at a
 * clean end; TDM_ERR_TRUNCATED naming the frame number and byte counts when
 * the file ends inside a frame. After EOF or an error, later calls return
 * the same status (and message) again. */
tdm_status tdm_y4m_reader_next(tdm_y4m_reader *r, tdm_i420 *frame, tdm_error *err);
void tdm_y4m_reader_close(tdm_y4m_reader *r);

typedef struct tdm_y4m_writer tdm_y4m_writer;

/* fps_num/fps_den must be positive. Writes C420jpeg, progressive, 1:1. */
tdm_status tdm_y4m_writer_open(const char *path, int width, int height, int fps_num,
                               int fps_den, tdm_y4m_writer **out, tdm_error *err);
tdm_status tdm_y4m_writer_write(tdm_y4m_writer *w, const tdm_i420 *frame, tdm_error *err);
/* Flushes and closes; reports a write error that happened at any point. */
tdm_status tdm_y4m_writer_close(tdm_y4m_writer *w, tdm_error *err);

/* A tdm_source over a Y4M file, yielding TDM_PIXFMT_I420 frames with
 * damage_known false, numbered from 0, and TDM_EOF at the end. */
tdm_status tdm_y4m_source_open(const char *path, tdm_source **out, tdm_error *err);

#endif
