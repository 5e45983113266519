/* tdm_redis_envelope: the messages tandem-signal instances exchange over
 * Redis pub/sub (tdm_redis_cluster.h), sans-IO.
 *
 * Owns their JSON form and its checks, so a message from the wire is
 * either well-formed or refused before any of it reaches the hub:
 *   {"i": instance id, "t": "input"|"chat"|"changed"|"presence", ...}
 *   input, chat: "d" the text for sockets (at most TDM_ENV_DATA_MAX bytes)
 *   changed:     "e" event (1..31 bytes of [a-z_]), "u" subject (an id or "")
 *   presence:    "p" participant id, "k" kind (1..3), "on" boolean
 * Instance and participant ids: 1..TDM_ENV_ID_MAX bytes of [A-Za-z0-9_]. */
#ifndef TDM_REDIS_ENVELOPE_H
#define TDM_REDIS_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "tdm_status.h"

#define TDM_ENV_ID_MAX 31
#define TDM_ENV_EVENT_MAX 31
#define TDM_ENV_DATA_MAX 20000 /* the largest WebSocket message the hub sends on */

typedef enum tdm_env_type {
    TDM_ENV_INPUT = 1,
    TDM_ENV_CHAT,
    TDM_ENV_CHANGED,
    TDM_ENV_PRESENCE,
} tdm_env_type;

typedef struct tdm_redis_envelope {
    tdm_env_type type;
    char inst[TDM_ENV_ID_MAX + 1];
    char event[TDM_ENV_EVENT_MAX + 1]; /* changed */
    char subject[TDM_ENV_ID_MAX + 1];  /* changed: "" or an id */
    char pid[TDM_ENV_ID_MAX + 1];      /* presence */
    int kind;                          /* presence: tdm_sig_kind */
    bool on;                           /* presence */
    char *data;                        /* input, chat: malloc'd, NUL-terminated */
    size_t data_len;
} tdm_redis_envelope;

/* Whether s is a valid id as above. */
bool tdm_redis_envelope_id_ok(const char *s);
/* Parses msg into *out (clear it with tdm_redis_envelope_clear, also after
 * a failure). TDM_ERR_FORMAT naming what is wrong; TDM_ERR_NOMEM. */
tdm_status tdm_redis_envelope_parse(const char *msg, size_t len, tdm_redis_envelope *out,
                                    tdm_error *err);
/* The JSON text of e (malloc'd) or NULL (invalid fields, out of memory). */
char *tdm_redis_envelope_format(const tdm_redis_envelope *e);
void tdm_redis_envelope_clear(tdm_redis_envelope *e);

#endif
