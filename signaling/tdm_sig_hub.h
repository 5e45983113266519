/* tdm_sig_hub: the WebSocket message router of tandem-signal, sans-IO.
 *
 * Owns the live sockets' side of a session: which connection belongs to
 * which participant (after it authenticated with its secret), routing each
 * incoming message — input events through tdm_signal_input to the
 * customer's connections, chat to everyone, ping — and pushing session
 * events (joins, leaves, online/offline, profile and owner changes, end) to
 * every connection of a session. Message formats: signaling/API.md.
 *
 * No sockets here: the shell gives each connection an id, feeds complete
 * messages in and gets sends and closes out through the tdm_sig_hub_io
 * callbacks, in the order they must reach the wire. A close callback means
 * "send a close frame with this code"; the hub already forgot the
 * connection's membership, and the shell reports the socket's end with
 * tdm_sig_hub_closed as for any other close. Time is an argument.
 *
 * Single-threaded, like tdm_signal. */
#ifndef TDM_SIG_HUB_H
#define TDM_SIG_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_signal.h"

/* Largest message accepted: the largest input event (a clipboard); the
 * shell stops collecting a message past this and passes too_large. */
#define TDM_SIG_WS_MESSAGE_MAX TDM_SIG_INPUT_MAX
#define TDM_SIG_CHAT_MAX 4000
/* A socket that has not authenticated by then is closed. */
#define TDM_SIG_WS_AUTH_TIMEOUT_MS 10000

/* WebSocket close codes the hub uses. */
enum {
    TDM_SIG_CLOSE_NORMAL = 1000,
    TDM_SIG_CLOSE_AUTH = 4001,    /* bad or missing credentials */
    TDM_SIG_CLOSE_REMOVED = 4003, /* the participant left or was removed */
};

typedef struct tdm_sig_hub_io {
    /* Queue data (a complete text message) to connection conn. */
    void (*send)(void *ctx, uint64_t conn, const char *data, size_t len);
    /* Close conn with code after what was queued. */
    void (*close)(void *ctx, uint64_t conn, int code);
    void *ctx;
} tdm_sig_hub_io;

typedef struct tdm_sig_hub tdm_sig_hub;

/* sig is borrowed and must outlive the hub. */
tdm_status tdm_sig_hub_new(tdm_signal *sig, const tdm_sig_hub_io *io, tdm_sig_hub **out,
                           tdm_error *err);
void tdm_sig_hub_free(tdm_sig_hub *h);

/* A new socket (not yet authenticated). TDM_ERR_INVALID if the id is in use. */
tdm_status tdm_sig_hub_open(tdm_sig_hub *h, uint64_t conn, int64_t now_ms, tdm_error *err);
/* The socket is gone (whoever closed it). Unknown ids are ignored. */
void tdm_sig_hub_closed(tdm_sig_hub *h, uint64_t conn, int64_t now_ms);
/* One complete text message; too_large when the shell dropped a message
 * longer than TDM_SIG_WS_MESSAGE_MAX (msg is then ignored). */
void tdm_sig_hub_message(tdm_sig_hub *h, uint64_t conn, const uint8_t *msg, size_t len,
                         bool too_large, int64_t now_ms);
/* The session changed through the HTTP API: connections of participants no
 * longer present get {"type":"removed"} and are closed, then everyone gets
 * {"type":"session","event":event,"subject":subject,"state":...}; for an
 * ended session that is event "ended" and every connection is closed. */
void tdm_sig_hub_session_changed(tdm_sig_hub *h, const char *session_id, const char *event,
                                 const char *subject, int64_t now_ms);
/* Other tandem-signal instances (--redis; tdm_redis_cluster.h). With a
 * cluster set, the hub tells it what the other instances must see and
 * takes what they send through the tdm_sig_hub_remote_* calls below. */
typedef struct tdm_sig_hub_cluster {
    /* An allowed input event, byte for byte, for the customer's sockets elsewhere. */
    void (*input)(void *ctx, const char *session_id, const char *msg, size_t len);
    /* A chat message as sent to sockets, for the session's sockets elsewhere. */
    void (*chat)(void *ctx, const char *session_id, const char *msg, size_t len);
    /* A session change (tdm_sig_hub_session_changed) for the other instances. */
    void (*changed)(void *ctx, const char *session_id, const char *event, const char *subject);
    /* pid's first socket here opened (online true) or its last one went. */
    void (*presence)(void *ctx, const char *session_id, const char *pid, tdm_sig_kind kind,
                     bool online);
    /* Whether pid (NULL: any customer of the session) has a socket on
     * another instance. */
    bool (*online_elsewhere)(void *ctx, const char *session_id, const char *pid);
    void *ctx;
} tdm_sig_hub_cluster;

/* Copies cluster (NULL: none). */
void tdm_sig_hub_set_cluster(tdm_sig_hub *h, const tdm_sig_hub_cluster *cluster);
/* From another instance: an input event for this instance's customer
 * sockets of the session; a chat message for all its sockets; a session
 * change, applied here as tdm_sig_hub_session_changed does but not sent on. */
void tdm_sig_hub_remote_input(tdm_sig_hub *h, const char *session_id, const char *msg,
                              size_t len);
void tdm_sig_hub_remote_chat(tdm_sig_hub *h, const char *session_id, const char *msg, size_t len);
void tdm_sig_hub_remote_changed(tdm_sig_hub *h, const char *session_id, const char *event,
                                const char *subject, int64_t now_ms);
/* This instance's SUBSCRIBE to the session's channel took effect: from now
 * on nothing published there is missed, so what changed before is read
 * from the store (the customer's take-back: pushed if the copy here was
 * stale). */
void tdm_sig_hub_remote_subscribed(tdm_sig_hub *h, const char *session_id, int64_t now_ms);

/* Closes sockets that did not authenticate in time. Call about once a second. */
void tdm_sig_hub_tick(tdm_sig_hub *h, int64_t now_ms);

/* The session's state as in GET /sessions/{sid}: the core's JSON plus
 * "online" per participant; free(). */
tdm_status tdm_sig_hub_state_json(tdm_sig_hub *h, const char *session_id, char **json,
                                  tdm_signal_error *err);
/* Called when a socket of session_id authenticates (relay failover learns
 * which sessions have clients here: tdm_sig_failover.h). NULL: none. */
typedef void (*tdm_sig_hub_auth_hook)(void *ctx, const char *session_id);
void tdm_sig_hub_set_auth_hook(tdm_sig_hub *h, tdm_sig_hub_auth_hook fn, void *ctx);
/* Sends text to every authenticated socket of participant pid of the
 * session here (relay failover's "moved"); returns how many. */
size_t tdm_sig_hub_send_participant(tdm_sig_hub *h, const char *session_id, const char *pid,
                                    const char *text, size_t len);
/* Whether the participant has an authenticated socket. */
bool tdm_sig_hub_online(const tdm_sig_hub *h, const char *pid);
/* Live (open) connections, authenticated or not. */
size_t tdm_sig_hub_connections(const tdm_sig_hub *h);

#endif
