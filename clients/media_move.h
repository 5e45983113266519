/* media_move: the service's "your relay went away, go there" message, as
 * the native clients read it, sans-IO.
 *
 * Owns recognising {"type":"media","event":"moved","from":..,"reason":..,
 * "media":{...}} (signaling/API.md "Relay failover and drain") among the
 * session's WebSocket messages and taking out what a client needs to
 * publish or subscribe again: the media object as JSON text, with its url
 * and token checked present. Shared by tandem-share (share_remote.c) and
 * tandem-view, and fuzzed (tests/fuzz/fuzz_failover_messages.c). */
#ifndef TDM_MEDIA_MOVE_H
#define TDM_MEDIA_MOVE_H

#include <stdbool.h>
#include <stddef.h>

#define TDM_MEDIA_MOVE_ID_CAP 65

typedef struct tdm_media_move {
    char *media;                       /* the media object, JSON text (free()) */
    char from[TDM_MEDIA_MOVE_ID_CAP];  /* the relay left ("?" if not said) */
    char reason[16];                   /* lost | gone | drained ("?" if not said) */
} tdm_media_move;

/* true when msg (len bytes, any bytes) is a move whose media has a string
 * url and token: *out filled (free out->media). false for anything else:
 * another message, not JSON, a move without usable media. */
bool tdm_media_move_parse(const char *msg, size_t len, tdm_media_move *out);

#endif
