/* tdm_sig_failover: moving a live session off a relay that went away.
 *
 * Owns which relay each session's media was last handed out for (noted
 * each time the api mints a media object), deciding which sessions must
 * move (their relay left the registry — heartbeats stopped for the TTL —
 * or said it is going: POST /api/v1/relays/gone), and the move itself:
 * a new placement (least-loaded relay that is not draining, the
 * registry's rule), an audit entry `relay_failover` {from, to, reason} on
 * the session's chain, and to every socket of each participant online
 * here {"type":"media","event":"moved","from":..,"reason":..,"media":{..}}
 * with fresh media for that participant's role (the join answers' media
 * object). Also owns the admin drain marks (POST /relays/{id}/drain):
 * heartbeats of a marked relay are taken as draining, and once the drain
 * deadline passes its remaining sessions are moved as from a gone relay.
 *
 * The decision part (tdm_sig_failover_note/_due/_gone) is sans-IO and
 * tested with plain calls; tdm_sig_failover_run acts through the api
 * (media), the registry, the core (audit, participants) and the hub.
 * Time is an argument. Single-threaded, like the api.
 *
 * With --redis each instance moves the sessions it handed media for and
 * tells its own sockets (placement is shared, so all land on one relay);
 * the instance whose placement call placed the session anew audits. */
#ifndef TDM_SIG_FAILOVER_H
#define TDM_SIG_FAILOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_relay_heartbeat.h"
#include "tdm_status.h"

#define TDM_SIG_FAILOVER_SESSIONS 4096 /* tracked; the least recently noted goes */
#define TDM_SIG_FAILOVER_RELAYS 64     /* gone / admin-drained marks */

typedef struct tdm_sig_failover tdm_sig_failover;

typedef enum tdm_sig_move_reason {
    TDM_SIG_MOVE_LOST = 1, /* no heartbeat within the TTL (killed, cut off) */
    TDM_SIG_MOVE_GONE,     /* the relay said it is leaving (drain deadline, stop) */
    TDM_SIG_MOVE_DRAINED,  /* an admin drained it and the drain deadline passed */
    /* On a draining relay: to check whether another instance (--redis)
     * moved it (the session's placement is elsewhere); nothing otherwise. */
    TDM_SIG_MOVE_ELSEWHERE,
} tdm_sig_move_reason;

const char *tdm_sig_move_reason_name(tdm_sig_move_reason r);

typedef struct tdm_sig_move {
    char sid[TDM_HB_ID_MAX + 1];
    char from[TDM_HB_ID_MAX + 1];
    tdm_sig_move_reason reason;
    bool pending; /* placed elsewhere already by this instance (a media request) */
} tdm_sig_move;

struct tdm_signal;
struct tdm_sig_hub;
struct tdm_sig_api;
struct tdm_sig_serve_config;
struct tdm_sig_api_request;
struct tdm_sig_api_response;

/* sig, hub and cfg are borrowed (NULL for the decision part alone). */
tdm_status tdm_sig_failover_new(struct tdm_signal *sig, struct tdm_sig_hub *hub,
                                const struct tdm_sig_serve_config *cfg, tdm_sig_failover **out,
                                tdm_error *err);
void tdm_sig_failover_free(tdm_sig_failover *fo);

/* Media for session sid was handed out on relay_id. A session tracked on
 * another relay changed relay without a move here (its relay was lost and
 * a client asked for media first): it stays due from the old relay until
 * settled, so the move is audited and the other participants are told. */
void tdm_sig_failover_note(tdm_sig_failover *fo, const char *sid, const char *relay_id,
                           int64_t now_ms);
/* sid was moved to relay_id: tracked there, nothing pending. */
void tdm_sig_failover_settle(tdm_sig_failover *fo, const char *sid, const char *relay_id,
                             int64_t now_ms);
/* A client of sid connected here (the hub's auth hook; ctx is the
 * failover). An untracked session is tracked from then on; with --redis
 * its relay is read from the shared placement at the next run, so an
 * instance moves the clients it holds even when another instance (since
 * dead) handed out their media. */
void tdm_sig_failover_hub_auth(void *ctx, const char *sid);
/* Stops tracking sid (ended). */
void tdm_sig_failover_forget(tdm_sig_failover *fo, const char *sid);
/* Which relay sid is tracked on ("" when not tracked). */
const char *tdm_sig_failover_relay_of(const tdm_sig_failover *fo, const char *sid);
/* relay_id said it is leaving: its sessions move at the next due(). The
 * mark lasts until the relay heartbeats as not draining, or 10 minutes. */
void tdm_sig_failover_gone(tdm_sig_failover *fo, const char *relay_id, int64_t now_ms);
bool tdm_sig_failover_is_gone(const tdm_sig_failover *fo, const char *relay_id, int64_t now_ms);

/* Sessions to move: those tracked on a relay that is not among live_ids
 * (n_live ids of the registry's live relays), is marked gone, or was
 * drained by an admin whose deadline passed; and, to be checked
 * (TDM_SIG_MOVE_ELSEWHERE), those on a relay draining[k] says drains
 * (draining may be NULL). Fills up to max moves; returns how many. */
size_t tdm_sig_failover_due(tdm_sig_failover *fo, const char *const *live_ids,
                            const bool *draining, size_t n_live, int64_t now_ms,
                            tdm_sig_move *out, size_t max);

/* Admin drain marks (POST/DELETE /api/v1/relays/{id}/drain): heartbeats
 * of a marked relay count as draining; its sessions are moved off once
 * deadline_s (<= 0: 30) passed from now_ms. */
void tdm_sig_failover_set_drain(tdm_sig_failover *fo, const char *relay_id, bool drain,
                                int deadline_s, int64_t now_ms);
/* Whether relay_id is marked drained by an admin; *deadline_s its deadline. */
bool tdm_sig_failover_drain_mark(const tdm_sig_failover *fo, const char *relay_id,
                                 int *deadline_s);

/* The bodies of the routes below (outside bytes; fuzzed): POST
 * /relays/gone {"id": relay id} into id; POST /relays/{id}/drain
 * {"deadline_s": 1..86400} (optional; empty body or absent: 30) into
 * *deadline_s. TDM_ERR_FORMAT saying what is wanted. */
tdm_status tdm_sig_failover_parse_gone(const uint8_t *body, size_t len,
                                      char id[TDM_HB_ID_MAX + 1], tdm_error *err);
tdm_status tdm_sig_failover_parse_drain(const uint8_t *body, size_t len, int *deadline_s,
                                       tdm_error *err);

/* --- acting (the api's tick and routes) --- */

/* Moves every due session (against the registry's live relays): new
 * placement, audit, "moved" to the sockets online here. A session whose
 * move found no relay stays due and is tried again at the next run. Writes
 * one line per move (or failure) into log ("" for none). */
void tdm_sig_failover_run(tdm_sig_failover *fo, struct tdm_sig_api *api, int64_t now_ms, char *log,
                          size_t cap);

/* A heartbeat about to be recorded: an admin-drained relay is taken as
 * draining; a relay heartbeating as not draining is no longer gone. */
void tdm_sig_failover_on_heartbeat(tdm_sig_failover *fo, tdm_hb_report *rep, int64_t now_ms);

/* Whether the route is one of this module's: POST /relays/gone,
 * POST|DELETE /relays/{id}/drain (segments after /api/v1/). */
bool tdm_sig_failover_owns(const char *const *seg, size_t n_seg);
/* Answers it (status, JSON body, log line) into resp, whose body is NULL. */
void tdm_sig_failover_route(tdm_sig_failover *fo, struct tdm_sig_api *api,
                            const struct tdm_sig_api_request *req, const char *const *seg,
                            size_t n_seg, int64_t now_ms, struct tdm_sig_api_response *resp);

#endif
