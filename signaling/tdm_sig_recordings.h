/* tdm_sig_recordings: the auditor's recordings routes of tandem-signal
 * (API.md "Recordings"): /api/v1/recordings, /api/v1/recordings/{id} and
 * /api/v1/recordings/{id}/video.webm.
 *
 * Owns the catalogue of the recordings in the configured recordings_dir
 * (the relay's --record-dir: same machine or shared storage), the work done
 * on them — verification and the timeline (tools/replay_timeline.c, the
 * same code as `tandem-replay timeline`) and the WebM export
 * (recording/export.c) — and answering for them. The work runs on one
 * worker thread of its own: an hour of recording takes seconds to verify
 * and to remux, which the event loop must not wait for. Requests only look
 * at what the worker has published (answers say "pending" or 503 with
 * Retry-After meanwhile); each result is computed once per file version
 * (size, mtime), and the export is kept in a cache directory, so it is done
 * once, not per request or per restart.
 *
 * These routes live apart from tdm_sig_api because video.webm is not JSON:
 * it is a file served by range (206, Accept-Ranges) so that a <video>
 * element can seek, which only the shell can send. A <video> element cannot
 * send an Authorization header either, so the detail answer hands out a
 * short-lived ticket bound to the one recording (HMAC with a key drawn at
 * start), which video.webm accepts instead of the bearer token. */
#ifndef TDM_SIG_RECORDINGS_H
#define TDM_SIG_RECORDINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "tdm_sig_serve_config.h"
#include "tdm_signal.h"

typedef struct tdm_sig_recordings tdm_sig_recordings;

typedef struct tdm_sig_rec_request {
    const char *method;
    const char *path;          /* without the query */
    const char *query;         /* or NULL */
    const char *authorization; /* or NULL */
    const char *range;         /* Range header, or NULL */
} tdm_sig_rec_request;

typedef struct tdm_sig_rec_response {
    int status;
    const char *content_type; /* static string */
    char *body;               /* malloc'd JSON (free()), NULL when fd >= 0 */
    size_t body_len;
    int fd;                   /* >= 0: the body is length bytes of this file from
                                 offset; the caller closes it */
    uint64_t offset, length;
    char content_range[96];   /* "" or the Content-Range value */
    bool accept_ranges;       /* send Accept-Ranges: bytes */
    int retry_after_s;        /* > 0: send Retry-After */
} tdm_sig_rec_response;

/* sig and cfg are borrowed and must outlive r. Starts the worker thread. */
tdm_status tdm_sig_recordings_new(tdm_signal *sig, const tdm_sig_serve_config *cfg,
                                  tdm_sig_recordings **out, tdm_error *err);
/* Stops the worker (waits for a job in progress) and frees. NULL: no-op. */
void tdm_sig_recordings_free(tdm_sig_recordings *r);

/* Whether path is one of these routes (/api/v1/recordings[/...]). */
bool tdm_sig_recordings_owns(const char *path);

/* Answers one request (any status, errors included). TDM_ERR_NOMEM only. */
tdm_status tdm_sig_recordings_handle(tdm_sig_recordings *r, const tdm_sig_rec_request *req,
                                     int64_t now_ms, tdm_sig_rec_response *resp);

#endif
