/* tdm_png: snapshots of frames as PNG files (libpng), for people to look at:
 * the demo's snapshot, and later the auditor's thumbnails. */
#ifndef TDM_PNG_H
#define TDM_PNG_H

#include "tdm_convert.h"

/* Writes img, converted back to RGB with matrix m, as an 8-bit RGB PNG. */
tdm_status tdm_png_write_i420(const char *path, const tdm_i420 *img, tdm_matrix m,
                              tdm_error *err);

/* Writes BGRA pixels as an 8-bit RGB PNG (the X/alpha byte is dropped). */
tdm_status tdm_png_write_bgra(const char *path, const tdm_bgra *img, tdm_error *err);

#endif
