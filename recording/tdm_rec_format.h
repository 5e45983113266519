/* tdm_rec_format: the bytes of a Tandem recording file, sans-IO.
 *
 * Owns the file header and the plaintext layout of one record; sealing
 * (encryption and the hash chain) is tdm_rec_seal's, reading a whole file
 * is tdm_rec_reader's.
 *
 * File = header, then records until the end record (or until a crash cut
 * the file). All integers are big-endian.
 *
 * Header (authenticated by being the seed of the record chain, see
 * tdm_rec_seal.h; the wrapped key is also bound to the session id):
 *   8  magic "TDMREC\r\n" (\r\n catches text-mode mangling)
 *   2  version (2; 1 is still read)
 *   2  header length in bytes, magic included
 *   1  session id length n (1..64), n bytes of session id (printable ASCII)
 *   1  wrapped key length (TDM_SIG_WRAPPED_KEY_LEN), the wrapped key exactly
 *      as signaling makes it: tdm_sig_key_wrap(master, key, nonce, session id)
 *   8  start time, Unix microseconds
 *   1  stream count (0..TDM_REC_MAX_STREAMS), then per stream 11 bytes:
 *      id, codec (tdm_codec), RTP payload type, SSRC (4), clock rate (4)
 *
 * Record on disk (tdm_rec_seal.h): 4-byte length L of what follows, then L
 * bytes of AES-256-GCM ciphertext + 16-byte tag, the same in both
 * versions. What a record seals:
 *   version 1  one entry (at most TDM_REC_MAX_PLAIN bytes);
 *   version 2  one or more entries, each a 2-byte length E then E bytes of
 *              entry, at most TDM_REC_MAX_SEALED bytes in all; an END entry
 *              is the last of its record. A writer under load seals the
 *              packets it takes in one go as one record: the sealing's
 *              fixed costs (GCM set-up and tag, a chain step) are paid per
 *              record, not per packet. A fault is located to its record.
 * An entry is:
 *   1  type (tdm_rec_type)
 *   1  stream id (0 for records not about a stream)
 *   8  time, microseconds on the recorder's clock (arrival time for RTP)
 *   .. body by type:
 *      RTP           the RTP packet exactly as forwarded (1..TDM_REC_MAX_PACKET)
 *      DROP          8: packets lost here because the disk fell behind
 *                    (stream 0 when they may be of several streams)
 *      STREAM_START  nothing
 *      STREAM_STOP   nothing
 *      SYNC          8: RTP records so far, 8: packets dropped so far
 *                    (written at each fsync: the file is durable up to here)
 *      END           8: RTP records in total, 8: packets dropped in total
 */
#ifndef TDM_REC_FORMAT_H
#define TDM_REC_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_codec.h"
#include "tdm_sig_keys.h"
#include "tdm_status.h"

#define TDM_REC_MAGIC "TDMREC\r\n"
#define TDM_REC_MAGIC_LEN 8
#define TDM_REC_VERSION 2
#define TDM_REC_VERSION_V1 1 /* one entry per record; read, and written on request */
#define TDM_REC_MAX_STREAMS 8
#define TDM_REC_SESSION_ID_MAX 64
#define TDM_REC_KEY_LEN TDM_SIG_RECORDING_KEY_LEN
/* Largest RTP packet recorded; bigger ones are counted and not written. */
#define TDM_REC_MAX_PACKET 2048
#define TDM_REC_PLAIN_HEAD 10 /* type, stream, time */
/* The largest entry (one record's plaintext in version 1). */
#define TDM_REC_MAX_PLAIN (TDM_REC_PLAIN_HEAD + TDM_REC_MAX_PACKET)
/* Version 2: an entry's length prefix, and the most a record seals. */
#define TDM_REC_ENTRY_LEN 2
#define TDM_REC_MAX_SEALED 16384
#define TDM_REC_TAG_LEN 16
#define TDM_REC_LEN_FIELD 4
#define TDM_REC_MIN_RECORD (TDM_REC_LEN_FIELD + TDM_REC_PLAIN_HEAD + TDM_REC_TAG_LEN)
#define TDM_REC_MAX_RECORD_V1 (TDM_REC_LEN_FIELD + TDM_REC_MAX_PLAIN + TDM_REC_TAG_LEN)
#define TDM_REC_MAX_RECORD (TDM_REC_LEN_FIELD + TDM_REC_MAX_SEALED + TDM_REC_TAG_LEN)
#define TDM_REC_MAX_HEADER \
    (TDM_REC_MAGIC_LEN + 4 + 1 + TDM_REC_SESSION_ID_MAX + 1 + TDM_SIG_WRAPPED_KEY_LEN + 8 + 1 + \
     11 * TDM_REC_MAX_STREAMS)

typedef enum tdm_rec_type {
    TDM_REC_RTP = 1,
    TDM_REC_DROP = 2,
    TDM_REC_STREAM_START = 3,
    TDM_REC_STREAM_STOP = 4,
    TDM_REC_SYNC = 5,
    TDM_REC_END = 6,
} tdm_rec_type;

const char *tdm_rec_type_name(tdm_rec_type t);

typedef struct tdm_rec_stream {
    uint8_t id;
    tdm_codec codec;
    uint8_t payload_type;
    uint32_t ssrc;
    uint32_t clock_hz;
} tdm_rec_stream;

typedef struct tdm_rec_header {
    uint16_t version; /* 0: TDM_REC_VERSION; TDM_REC_VERSION_V1: the old layout */
    char session_id[TDM_REC_SESSION_ID_MAX + 1];
    uint8_t wrapped_key[TDM_SIG_WRAPPED_KEY_LEN];
    uint64_t start_unix_us;
    size_t nstreams;
    tdm_rec_stream streams[TDM_REC_MAX_STREAMS];
} tdm_rec_header;

/* One record's plaintext, parsed. data borrows from the parsed buffer. */
typedef struct tdm_rec_record {
    tdm_rec_type type;
    uint8_t stream;
    uint64_t time_us;
    const uint8_t *data; /* RTP: the packet */
    size_t len;
    uint64_t a, b; /* DROP: a = lost; SYNC/END: a = RTP records, b = dropped */
} tdm_rec_record;

/* Writes the header. TDM_ERR_INVALID for a bad session id (empty, too
 * long, not printable), too many streams or duplicate stream ids;
 * TDM_ERR_RANGE if cap is too small (TDM_REC_MAX_HEADER always fits). */
tdm_status tdm_rec_header_encode(const tdm_rec_header *h, uint8_t *buf, size_t cap, size_t *len,
                                 tdm_error *err);

/* Parses a header at the start of buf; *len is its size. TDM_ERR_FORMAT
 * when buf is not a Tandem recording or its header is malformed,
 * TDM_ERR_UNSUPPORTED for another version, TDM_ERR_TRUNCATED when buf ends
 * inside the header. */
tdm_status tdm_rec_header_parse(const uint8_t *buf, size_t len, tdm_rec_header *h, size_t *hlen,
                                tdm_error *err);

/* The stream with this id, or NULL. */
const tdm_rec_stream *tdm_rec_header_stream(const tdm_rec_header *h, uint8_t id);

/* Writes a record's plaintext into buf (at least TDM_REC_MAX_PLAIN bytes
 * for any record). TDM_ERR_INVALID for an unknown type or an RTP body that
 * is empty or over TDM_REC_MAX_PACKET; TDM_ERR_RANGE if cap is short. */
tdm_status tdm_rec_record_encode(const tdm_rec_record *r, uint8_t *buf, size_t cap, size_t *len);

/* Parses a record's plaintext. TDM_ERR_FORMAT for an unknown type or a
 * body of the wrong size. */
tdm_status tdm_rec_record_parse(const uint8_t *buf, size_t len, tdm_rec_record *r, tdm_error *err);

/* Big-endian helpers shared by the recording modules. */
static inline void tdm_rec_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}
static inline void tdm_rec_put64(uint8_t *p, uint64_t v)
{
    tdm_rec_put32(p, (uint32_t)(v >> 32));
    tdm_rec_put32(p + 4, (uint32_t)v);
}
static inline uint32_t tdm_rec_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t tdm_rec_get64(const uint8_t *p)
{
    return (uint64_t)tdm_rec_get32(p) << 32 | tdm_rec_get32(p + 4);
}

#endif
