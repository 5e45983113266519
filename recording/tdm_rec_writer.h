/* tdm_rec_writer: the IO shell that writes one session's recording file.
 *
 * Owns a file, a writer thread and a bounded single-producer queue in
 * front of it. The producer (the relay worker thread that owns the
 * session; exactly one thread) pushes packets and stream events; a push
 * never blocks, never allocates, takes no lock and makes no system call:
 * it copies the packet into a preallocated ring slot. When the ring is full
 * (the disk fell behind) the packet is dropped and counted; the next packet
 * that gets in carries the count, and the writer thread writes a DROP
 * record ("N packets lost here", stream 0: they may be of any stream) in
 * front of it, so a gap in the file is never silent.
 *
 * The writer thread seals what it takes from the queue in one go as one
 * record (tdm_rec_encoder's batching), hands the kernel whole 128 KiB-
 * aligned stretches of the file whenever the queue runs empty or its
 * buffer fills, and at least once a second writes a SYNC record, writes
 * everything and fsyncs, so after a crash the file reads back at least up
 * to the last second. tdm_rec_writer_close drains the queue, writes the
 * END record, fsyncs and returns the file hash (for the audit log).
 *
 * Times are the producer's clock (microseconds, e.g. arrival time); the
 * fsync cadence uses CLOCK_MONOTONIC in the writer thread. */
#ifndef TDM_REC_WRITER_H
#define TDM_REC_WRITER_H

#include <stdbool.h>

#include "tdm_rec_format.h"
#include "tdm_rec_seal.h"

typedef struct tdm_rec_writer tdm_rec_writer;

typedef struct tdm_rec_writer_config {
    const tdm_rec_header *header;          /* streams, session id, wrapped key */
    const uint8_t *rec_key;                /* TDM_REC_KEY_LEN bytes, the unwrapped key */
    uint32_t queue_slots;   /* power of two >= 2; default (0) 1024 */
    size_t max_packet;      /* slot payload size, <= TDM_REC_MAX_PACKET; default (0) 1500 */
    uint64_t sync_interval_us; /* fsync at least this often; default (0) 1 s */
} tdm_rec_writer_config;

typedef struct tdm_rec_writer_stats {
    uint64_t pushed;           /* packets and events accepted into the queue */
    uint64_t dropped_full;     /* refused: queue full (the disk fell behind) */
    uint64_t dropped_too_big;  /* refused: packet over max_packet */
    uint64_t records;          /* records written (sealed) */
    uint64_t bytes_written;
    uint64_t syncs;            /* fsyncs done */
    uint64_t io_errors;        /* failed writes; after one the file is abandoned */
} tdm_rec_writer_stats;

/* Creates path (it must not exist: O_EXCL), writes the header and starts
 * the writer thread. TDM_ERR_INVALID, TDM_ERR_IO (err names the file),
 * TDM_ERR_NOMEM. */
tdm_status tdm_rec_writer_open(const char *path, const tdm_rec_writer_config *cfg,
                               tdm_rec_writer **out, tdm_error *err);
/* The same on an open descriptor (owned by the writer from now on); for
 * pipes (tests) fsync failing with EINVAL is ignored. */
tdm_status tdm_rec_writer_open_fd(int fd, const tdm_rec_writer_config *cfg, tdm_rec_writer **out,
                                  tdm_error *err);

/* Producer side (one thread). Each returns true if queued, false if
 * dropped (counted; marked in the file). */
bool tdm_rec_writer_push_rtp(tdm_rec_writer *w, uint8_t stream, uint64_t now_us, const uint8_t *pkt,
                             size_t len);
bool tdm_rec_writer_push_event(tdm_rec_writer *w, tdm_rec_type type, uint8_t stream,
                               uint64_t now_us);

/* Safe from any thread (relaxed atomics, for /metrics). */
void tdm_rec_writer_get_stats(const tdm_rec_writer *w, tdm_rec_writer_stats *out);

/* On the producer thread (it reads the producer's pending drop count):
 * drains, writes END at now_us, fsyncs, joins the thread, closes the file,
 * frees w. hash (may be NULL) receives the file hash. TDM_ERR_IO if any
 * write or sync failed (the file then holds what got through). */
tdm_status tdm_rec_writer_close(tdm_rec_writer *w, uint64_t now_us, uint8_t hash[TDM_REC_HASH_LEN],
                                tdm_error *err);

#endif
