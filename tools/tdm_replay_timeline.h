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
#include "tdm_status.h"

/* Reads r to its end and writes the timeline to *json (free()). The
 * recording's own faults are reported inside the JSON, not as errors;
 * *complete says whether the recording read to a verified END record.
 * @return TDM_OK; TDM_ERR_NOMEM. */
tdm_status tdm_replay_timeline_json(const char *path, size_t file_len, tdm_rec_reader *r,
                                    const char *db_path, const tdm_replay_audit *a, char **json,
                                    bool *complete, tdm_error *err);

#endif
