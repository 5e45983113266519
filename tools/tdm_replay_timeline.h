/* tdm_replay_timeline: a recording's time axis merged with its session's
 * audit trail, as JSON (tandem-replay timeline).
 *
 * Owns reading the recording's events (start, stream start/stop,
 * keyframes, gaps in RTP sequence numbers, drop markers, end or cut) and
 * putting them and the audit entries on one clock: the recording's header
 * start time (Unix us) is its first record; record times are offsets on the
 * recorder's monotonic clock from there; audit entries carry Unix ms. */
#ifndef TDM_REPLAY_TIMELINE_H
#define TDM_REPLAY_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "tdm_rec_reader.h"
#include "tdm_replay_audit.h"
#include "tdm_replay_segments.h"
#include "tdm_status.h"

/* Reads r to its end and writes the timeline to *json (free()). The
 * recording's own faults are reported inside the JSON, not as errors;
 * *complete says whether the recording read to a verified END record.
 * @return TDM_OK; TDM_ERR_NOMEM. */
tdm_status tdm_replay_timeline_json(const char *path, size_t file_len, tdm_rec_reader *r,
                                    const char *db_path, const tdm_replay_audit *a, char **json,
                                    bool *complete, tdm_error *err);

/* The same for a session of several segments (d->segs[first..first+count),
 * in start order): one time axis from the first segment's start, each
 * recording event's details carrying its "segment" (1-based), a "gap"
 * event (details: what "no recording", after_segment, before_segment,
 * start/end as Unix and offset seconds, duration_s) or an "overlap" event
 * between neighbours, "recording" summing up the session (segments, files,
 * start, end, duration_s with gaps, recorded_s without) and "segments"
 * (each one's own "recording" object) and "seams" beside it. *complete:
 * every segment verifies, only the last one may not be cut short unless
 * allowed: a cut before another segment is where a relay died and the
 * session moved on (the gap says so). */
tdm_status tdm_replay_timeline_json_session(const tdm_replay_dir *d, size_t first, size_t count,
                                            const char *db_path, const tdm_replay_audit *a,
                                            char **json, bool *complete, tdm_error *err);

#endif
