/* tdm_rec_segments: the recordings of one session as a sequence of
 * segments, sans-IO.
 *
 * A session can leave several files: its relay dies or drains and the
 * session goes on on another relay (a new file there), the relay restarts,
 * or the customer publishes again on the same relay. Each file is a
 * segment. Owns what holds them together: which files belong to which
 * session (the header's session id, never the file name), their order
 * (the header's start time: the relay's wall clock when it opened the
 * file), where each one ends (start + the span of its verified records,
 * which is where the reader says it ends, so a file cut by kill -9 is a
 * segment ending at its last complete record), and what lies between two
 * neighbours: a gap (nothing recorded) or an overlap (both recorded, e.g.
 * a drained relay still forwarding while the new one has started).
 *
 * Record times inside a file are the recorder's monotonic clock, which
 * means nothing on another relay: only start_unix_us places a segment
 * against the others. The caller reads the files (tools/replay_segments.c). */
#ifndef TDM_REC_SEGMENTS_H
#define TDM_REC_SEGMENTS_H

#include "tdm_rec_reader.h"

typedef struct tdm_rec_segment {
    char session_id[TDM_REC_SESSION_ID_MAX + 1];
    uint64_t start_unix_us; /* the header's start time */
    uint64_t end_unix_us;   /* start + (last verified record's time - first's) */
    uint64_t first_time_us; /* first record's time on the recorder's clock */
    uint64_t records;       /* records verified */
    tdm_status ending;      /* TDM_EOF complete, TDM_ERR_TRUNCATED cut, TDM_ERR_FORMAT fault */
    tdm_error ending_msg;   /* the reader's words for it */
    size_t tag;             /* the caller's: which file this is */
} tdm_rec_segment;

/* What lies between two neighbouring segments of a session, a ending
 * before b starts (a gap) or b starting before a has ended (an overlap). */
typedef struct tdm_rec_seam {
    bool gap, overlap;      /* neither: b starts exactly where a ends */
    uint64_t from_unix_us;  /* gap: a's end; overlap: b's start */
    uint64_t to_unix_us;    /* gap: b's start; overlap: a's end (or b's, if sooner) */
} tdm_rec_seam;

/* Reads r from its first record to its end (verifying) and fills *out;
 * the reader is left at its end (rewind to read it again). A fault is not
 * an error here: out->ending says so. TDM_ERR_INVALID for NULL. */
tdm_status tdm_rec_segment_scan(tdm_rec_reader *r, size_t tag, tdm_rec_segment *out,
                                tdm_error *err);

/* Sorts by session id, then start time, then tag (two files opened in the
 * same microsecond keep the caller's order). */
void tdm_rec_segments_sort(tdm_rec_segment *s, size_t n);

/* In a sorted array: how many segments from index `from` on share its
 * session id (0 if from >= n). */
size_t tdm_rec_segments_run(const tdm_rec_segment *s, size_t n, size_t from);

/* The seam between a and the next segment b of the same session. */
tdm_rec_seam tdm_rec_segments_seam(const tdm_rec_segment *a, const tdm_rec_segment *b);

#endif
