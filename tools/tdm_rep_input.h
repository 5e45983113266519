/* tdm_rep_input: the event lines of `tandem-rep input` — "move X Y",
 * "click X Y [B]", "down|up X Y [B]", "scroll DX DY", "key CHORD",
 * "type TEXT", "clipboard TEXT", "wait MS" — turned into the input messages
 * of signaling/API.md, sans-IO. Lines come from people and scripts, so the
 * parser is strict: every message it returns is one tandem-signal's own
 * parser accepts (tests/unit/rep_input_test.c and fuzz_rep_input check that
 * against signaling/tdm_sig_input.h), and a bad line is refused whole with a
 * reason rather than half sent. */
#ifndef TDM_REP_INPUT_H
#define TDM_REP_INPUT_H

#include <jansson.h>

#include "tdm_status.h"

/* Limits of the service (signaling/tdm_sig_input.h), restated so the tool
 * needs no signaling code: a key value's bytes, clipboard text, a message. */
#define TDM_REP_KEY_MAX 32
#define TDM_REP_CLIPBOARD_MAX 16384
#define TDM_REP_MESSAGE_MAX 20000

/* Parses one line. Blank lines and lines starting with '#' give nothing.
 * On TDM_OK the line's messages are appended to events (a JSON array) and
 * *wait_ms is the pause a "wait" line asks for (else 0). On an error events
 * is left as it was and err says what is wrong with the line. */
tdm_status tdm_rep_input_parse(const char *line, json_t *events, long *wait_ms, tdm_error *err);

#endif
