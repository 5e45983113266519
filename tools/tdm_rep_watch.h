/* tdm_rep_watch: the lines `tandem-rep watch` prints for the messages of a
 * session socket, sans-IO. Owns what a person watching may see: the
 * session's events in words, and never a bearer token or secret — a
 * failover's media message carries the relay token meant for this
 * participant's own client, and a terminal or a log is the wrong place for
 * it. With --json the messages are printed as received except that every
 * such field's value is replaced by "<redacted>". */
#ifndef TDM_REP_WATCH_H
#define TDM_REP_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "tdm_status.h"

/* Whether a JSON object key names a secret (token, secret, password,
 * credential, and *_token / *_secret). */
bool tdm_rep_watch_secret_key(const char *key);

/* The text to print for one message msg[0..len) (one or more lines, each
 * ending in '\n', each readable line starting with ts); json: the message
 * as compact JSON with secrets redacted. *out is malloc'd (free()).
 * @return TDM_OK; TDM_ERR_NOMEM. */
tdm_status tdm_rep_watch_format(const char *msg, size_t len, bool json, const char *ts,
                                char **out, tdm_error *err);

#endif
