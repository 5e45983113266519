/* tdm_rec_encoder: the writing side of a recording, sans-IO.
 *
 * Owns the order of what goes into a file: the header first, then sealed
 * records appended into one output buffer that the caller drains to disk
 * (pending/consume), a SYNC record at each durability point, an END record
 * at the close. Also decides when a flush is due: at least once per
 * flush_interval_us of the caller's clock. It never reads a clock and
 * never touches a file; recording/writer.c is the IO shell around it.
 *
 * Memory: everything is allocated by tdm_rec_encoder_new; nothing per
 * record. */
#ifndef TDM_REC_ENCODER_H
#define TDM_REC_ENCODER_H

#include <stdbool.h>

#include "tdm_rec_format.h"
#include "tdm_rec_seal.h"

typedef struct tdm_rec_encoder tdm_rec_encoder;

typedef struct tdm_rec_encoder_stats {
    uint64_t records;     /* every entry taken, SYNC and END included */
    uint64_t rtp_records;
    uint64_t dropped;     /* packets reported lost in DROP records */
    uint64_t bytes;       /* header + records produced */
} tdm_rec_encoder_stats;

/* The file's version is hdr->version (0: TDM_REC_VERSION; TDM_REC_VERSION_V1
 * writes the old layout, one entry per record). buf_cap: output buffer size (>= TDM_REC_MAX_HEADER + 2 * TDM_REC_MAX_RECORD;
 * 0 picks 1 MiB). now_us starts the flush clock. The header is in the
 * buffer on return. TDM_ERR_INVALID for a bad header (see
 * tdm_rec_header_encode), TDM_ERR_NOMEM, TDM_ERR_UNAVAILABLE. */
tdm_status tdm_rec_encoder_new(const tdm_rec_header *hdr, const uint8_t rec_key[TDM_REC_KEY_LEN],
                               size_t buf_cap, uint64_t now_us, tdm_rec_encoder **out,
                               tdm_error *err);
void tdm_rec_encoder_free(tdm_rec_encoder *e);

/* Bytes of buffer still free; a record needs at most TDM_REC_MAX_RECORD. */
size_t tdm_rec_encoder_room(const tdm_rec_encoder *e);

/* Appends one record (an entry, see tdm_rec_format.h). Unless batching
 * (below) it is sealed at once. TDM_ERR_RANGE when the buffer lacks room
 * (drain it first; nothing was consumed), TDM_ERR_INVALID for a bad record
 * (RTP over TDM_REC_MAX_PACKET or empty; an unknown type) or after END. */
tdm_status tdm_rec_encoder_add(tdm_rec_encoder *e, const tdm_rec_record *r);
/* The same for a record whose plaintext the caller laid out already
 * (tdm_rec_record_encode's layout): sealed straight from plain, no copy.
 * The writer's ring slots hold packets so. TDM_ERR_INVALID also when plain
 * does not parse as a record. */
tdm_status tdm_rec_encoder_add_plain(tdm_rec_encoder *e, const uint8_t *plain, size_t len);
tdm_status tdm_rec_encoder_add_rtp(tdm_rec_encoder *e, uint8_t stream, uint64_t time_us,
                                   const uint8_t *pkt, size_t len);
tdm_status tdm_rec_encoder_add_drop(tdm_rec_encoder *e, uint8_t stream, uint64_t time_us,
                                    uint64_t lost);
tdm_status tdm_rec_encoder_add_sync(tdm_rec_encoder *e, uint64_t time_us);
/* Appends END; no record may follow. */
tdm_status tdm_rec_encoder_finish(tdm_rec_encoder *e, uint64_t time_us);

/* Version 2 batching: entries gather in one open record until it holds
 * max_bytes (at most TDM_REC_MAX_SEALED), a SYNC or END entry arrives, or
 * tdm_rec_encoder_seal_batch is called; 0 (the default) seals each entry
 * on its own. The open record is not pending (nor in the hash) until it is
 * sealed: seal it before draining at a durability point. No effect on a
 * version 1 file. */
void tdm_rec_encoder_set_batch(tdm_rec_encoder *e, size_t max_bytes);
/* Seals the open record, if any. TDM_ERR_RANGE when the buffer lacks room
 * (drain and call again), TDM_ERR_UNAVAILABLE. */
tdm_status tdm_rec_encoder_seal_batch(tdm_rec_encoder *e);

/* Sealed bytes waiting for the disk, and marking n of them written. */
const uint8_t *tdm_rec_encoder_pending(const tdm_rec_encoder *e, size_t *len);
void tdm_rec_encoder_consume(tdm_rec_encoder *e, size_t n);

/* True when now_us is flush_interval_us (default 1 s) past the last
 * tdm_rec_encoder_flushed: add a SYNC, drain, fsync, then call flushed. */
bool tdm_rec_encoder_flush_due(const tdm_rec_encoder *e, uint64_t now_us);
void tdm_rec_encoder_flushed(tdm_rec_encoder *e, uint64_t now_us);
void tdm_rec_encoder_set_flush_interval(tdm_rec_encoder *e, uint64_t interval_us);

/* The chain value over everything so far: the file hash after finish. */
const uint8_t *tdm_rec_encoder_hash(const tdm_rec_encoder *e);
const tdm_rec_encoder_stats *tdm_rec_encoder_get_stats(const tdm_rec_encoder *e);

#endif
