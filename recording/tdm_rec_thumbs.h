/* tdm_rec_thumbs: a contact sheet of a recording, one picture every N
 * seconds, as a PNG (tandem-replay thumbs).
 *
 * Owns decoding for pictures: the first VP8/VP9 stream's RTP is assembled
 * (tdm_assembler, recorded arrival times) and decoded (codec/'s decoder);
 * the first picture at or after each multiple of every_us (stream time
 * from its first packet) is scaled down (nearest sample) to tile_width and
 * placed left to right, top to bottom, `columns` to a row. Reading stops
 * at the first fault, as for export. */
#ifndef TDM_REC_THUMBS_H
#define TDM_REC_THUMBS_H

#include "tdm_rec_reader.h"

#define TDM_REC_THUMBS_MAX 1024

typedef struct tdm_rec_thumbs_result {
    size_t count;             /* tiles on the sheet */
    int sheet_width, sheet_height;
    tdm_status ending;        /* TDM_EOF or TDM_ERR_TRUNCATED */
} tdm_rec_thumbs_result;

/* TDM_ERR_INVALID (bad sizes), TDM_ERR_FORMAT (fails verification; err
 * names the fault), TDM_ERR_UNSUPPORTED (no video stream, or no picture
 * decoded), TDM_ERR_IO (the PNG could not be written). At most
 * TDM_REC_THUMBS_MAX tiles. */
tdm_status tdm_rec_thumbs_png(tdm_rec_reader *r, const char *out_path, uint64_t every_us,
                              int tile_width, int columns, tdm_rec_thumbs_result *res,
                              tdm_error *err);

#endif
