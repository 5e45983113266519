/* Fuzz target: the recording reader (recording/tdm_rec_reader.h) and the
 * format parsers under it. The input is taken as a whole recording file
 * and walked to its end under a fixed master key (the seeds are real
 * recordings made with that key, so mutations reach the records, not only
 * the header), again with the recording key given directly (past the
 * unwrap), and as one record's plaintext. Whatever the bytes, the reader
 * must end with TDM_EOF, TDM_ERR_TRUNCATED or TDM_ERR_FORMAT, never read
 * out of bounds, and keep its offset inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_rec_reader.h"

/* The master key of the seed corpus: bytes 0x00..0x1f (hex in
 * corpus/fuzz_recording_reader/master.key.txt). */
static uint8_t master[32];

static void walk(tdm_rec_reader *r, size_t size)
{
    tdm_rec_record rec;
    tdm_status st;
    int n = 0;
    while ((st = tdm_rec_reader_next(r, &rec, NULL)) == TDM_OK) {
        if (rec.type == TDM_REC_RTP && (rec.len == 0 || rec.len > TDM_REC_MAX_PACKET))
            abort();
        if (++n > 1000000)
            abort();
    }
    if (st != TDM_EOF && st != TDM_ERR_TRUNCATED && st != TDM_ERR_FORMAT)
        abort();
    if (tdm_rec_reader_offset(r) > size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int i = 0; i < 32; i++)
        master[i] = (uint8_t)i;
    tdm_rec_reader *r;
    if (tdm_rec_reader_open(data, size, master, &r, NULL) == TDM_OK) {
        walk(r, size);
        if (tdm_rec_reader_rewind(r, NULL) == TDM_OK)
            walk(r, size);
        tdm_rec_reader_free(r);
    }
    static const uint8_t rec_key[32] = {0};
    if (tdm_rec_reader_open_key(data, size, rec_key, &r, NULL) == TDM_OK) {
        walk(r, size);
        tdm_rec_reader_free(r);
    }
    tdm_rec_record rec;
    if (tdm_rec_record_parse(data, size, &rec, NULL) == TDM_OK && rec.len > size)
        abort();
    return 0;
}
