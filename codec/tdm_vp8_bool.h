/* tdm_vp8_bool: VP8's boolean entropy coder (RFC 6386 section 7), both
 * directions. The writer grows its buffer as needed; the reader never reads
 * past its input (missing bytes read as zero) and counts how far it ran
 * over, so a parser can tell a truncated header from a good one. */
#ifndef TDM_VP8_BOOL_H
#define TDM_VP8_BOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tdm_vp8_bool_writer {
    uint8_t *buf;
    size_t cap, pos;
    uint32_t range, bottom;
    int bit_count;
    bool nomem; /* a growth failed: the output is unusable */
} tdm_vp8_bool_writer;

/* Starts an empty stream; keeps buf (if any) for reuse. */
void tdm_vp8_bool_writer_reset(tdm_vp8_bool_writer *w);
void tdm_vp8_bool_writer_free(tdm_vp8_bool_writer *w);
void tdm_vp8_bool_write(tdm_vp8_bool_writer *w, int bit, int prob);
/* n bits, most significant first, each at probability 128 (L(n)). */
void tdm_vp8_bool_write_literal(tdm_vp8_bool_writer *w, uint32_t value, int n);
/* Pushes out what is pending; the stream is then complete in buf[0, pos). */
void tdm_vp8_bool_writer_flush(tdm_vp8_bool_writer *w);

typedef struct tdm_vp8_bool_reader {
    const uint8_t *p, *end;
    uint32_t value, range;
    int bit_count;
    size_t overrun; /* bytes taken past the end (read as 0) */
} tdm_vp8_bool_reader;

void tdm_vp8_bool_reader_init(tdm_vp8_bool_reader *r, const uint8_t *buf, size_t len);
int tdm_vp8_bool_read(tdm_vp8_bool_reader *r, int prob);
uint32_t tdm_vp8_bool_read_literal(tdm_vp8_bool_reader *r, int n);

#endif
