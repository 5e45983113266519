/* tdm_replay_segments: the recordings of a directory, read as segments of
 * sessions (tandem-replay and tandem-signal's auditor routes).
 *
 * Owns the IO around recording/'s sans-IO segment model
 * (tdm_rec_segments.h): finding the recordings in a directory (files that
 * start with the magic; names mean nothing), mapping them, opening each
 * with the master key and reading it through once (tdm_rec_segment_scan),
 * then sorting them into sessions. A file whose key does not unwrap is
 * still a segment (placed by its header's start time) whose ending says
 * so, so that a session with one wrongly keyed file says which one. */
#ifndef TDM_REPLAY_SEGMENTS_H
#define TDM_REPLAY_SEGMENTS_H

#include "tdm_rec_segments.h"

typedef struct tdm_replay_file {
    char *path;            /* dir/name */
    const char *name;      /* within path */
    const uint8_t *buf;    /* mapped */
    size_t len;
    tdm_rec_reader *reader; /* NULL when the header or the key failed */
} tdm_replay_file;

typedef struct tdm_replay_dir {
    tdm_replay_file *files; /* by name */
    size_t nfiles;
    tdm_rec_segment *segs;  /* sorted (session, start); tag = index into files */
    size_t nsegs;
    size_t skipped;         /* recordings whose header does not parse */
} tdm_replay_dir;

/* Loads the recordings of dir; with session_id, only that session's
 * (others are skipped after their header). The segments' ending is
 * TDM_ERR_INVALID (wrong key), TDM_EOF, TDM_ERR_TRUNCATED or
 * TDM_ERR_FORMAT. Errors: TDM_ERR_IO (the directory cannot be read),
 * TDM_ERR_NOMEM. */
tdm_status tdm_replay_dir_load(const char *dir, const char *session_id,
                               const uint8_t master[TDM_SIG_MASTER_KEY_LEN], tdm_replay_dir *out,
                               tdm_error *err);
void tdm_replay_dir_free(tdm_replay_dir *d);

/* Loads one file as a directory of one segment (its reader may be NULL
 * with the segment's ending saying why). Errors: TDM_ERR_IO (cannot read
 * the file), TDM_ERR_FORMAT / TDM_ERR_TRUNCATED / TDM_ERR_UNSUPPORTED (not
 * a recording, from tdm_rec_header_parse), TDM_ERR_NOMEM. */
tdm_status tdm_replay_file_load(const char *path, const uint8_t master[TDM_SIG_MASTER_KEY_LEN],
                                tdm_replay_dir *out, tdm_error *err);

/* The segments of session_id: *first and *count in d->segs. false if none. */
bool tdm_replay_dir_session(const tdm_replay_dir *d, const char *session_id, size_t *first,
                            size_t *count);

/* The file of a segment. */
static inline const tdm_replay_file *tdm_replay_seg_file(const tdm_replay_dir *d,
                                                         const tdm_rec_segment *s)
{
    return &d->files[s->tag];
}

#endif
