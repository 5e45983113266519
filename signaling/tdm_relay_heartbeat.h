/* tdm_relay_heartbeat: the wire contract between tandem-relay and the
 * relay registry of tandem-signal (API.md, "Relay heartbeat"), sans-IO.
 *
 * Owns the heartbeat body (JSON written by the relay), its authentication
 * and the load rates a relay derives from its counters. Kept in a library
 * of its own (tdm_relay_heartbeat: OpenSSL only) so the relay links the
 * contract without the signaling core, and both sides cannot disagree.
 *
 * Authentication: HMAC-SHA256 under the cluster secret over
 * "<ts_ms>\n<body>", sent as
 *     Authorization: TDM-HMAC-SHA256 ts=<ts_ms>,sig=<64 hex digits>
 * Why HMAC and not a bearer secret: heartbeats go over plain HTTP on the
 * cluster network, so the secret itself never travels and a captured
 * heartbeat cannot be altered; the receiver rejects timestamps outside a
 * skew window and any timestamp not newer than the last one it accepted
 * from that relay, so a captured heartbeat cannot be replayed either
 * (tdm_sig_registry.h). Nothing here reads a clock: ts_ms is an argument. */
#ifndef TDM_RELAY_HEARTBEAT_H
#define TDM_RELAY_HEARTBEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

#define TDM_HB_SCHEME "TDM-HMAC-SHA256"
#define TDM_HB_AUTH_CAP 128 /* the Authorization value + NUL */
#define TDM_HB_SECRET_MIN 32
#define TDM_HB_ID_MAX 64   /* as relay token node ids (tdm_token.h) */
#define TDM_HB_URL_MAX 512
#define TDM_HB_BODY_CAP 2048

typedef struct tdm_hb_load {
    uint64_t sessions, endpoints; /* now */
    uint64_t packets_in_total, packets_out_total;
    double cpu_seconds_total; /* the media workers' CPU time */
    uint32_t workers;
    /* Rates over the last interval (tdm_hb_load_rates); 0 on the first. */
    double packets_per_s; /* in + out */
    double cpu_load;      /* CPU seconds per second: 1.0 is one core busy */
} tdm_hb_load;

typedef struct tdm_hb_report {
    char id[TDM_HB_ID_MAX + 1];   /* the registry key */
    char node[TDM_HB_ID_MAX + 1]; /* the node id relay tokens are bound to */
    char url[TDM_HB_URL_MAX];     /* public base: URL/whip/SID, URL/whep/SID */
    bool draining;
    tdm_hb_load load;
} tdm_hb_report;

/* Whether s is 1..TDM_HB_ID_MAX characters of [A-Za-z0-9._~:-]. */
bool tdm_hb_id_ok(const char *s);
/* Whether s is an http:// or https:// URL of printable ASCII without
 * quotes, backslashes or spaces, shorter than TDM_HB_URL_MAX. */
bool tdm_hb_url_ok(const char *s);

/* Fills cur's rates from prev (the previous interval's totals) over dt_s
 * seconds; rates are 0 when dt_s <= 0 or a counter went backwards. */
void tdm_hb_load_rates(tdm_hb_load *cur, const tdm_hb_load *prev, double dt_s);

/* Writes the JSON body:
 *   {"id":..,"node":..,"url":..,"draining":false,"load":{"sessions":N,
 *    "endpoints":N,"packets_in_total":N,"packets_out_total":N,
 *    "packets_per_s":X,"cpu_seconds_total":X,"cpu_load":X,"workers":N}}
 * TDM_ERR_INVALID for a bad id, node or URL; TDM_ERR_RANGE if cap is short. */
tdm_status tdm_hb_body_format(const tdm_hb_report *r, char *out, size_t cap, size_t *len,
                              tdm_error *err);

/* The Authorization value for body sent at ts_ms. TDM_ERR_INVALID for a
 * secret under TDM_HB_SECRET_MIN bytes. */
tdm_status tdm_hb_sign(const uint8_t *secret, size_t secret_len, int64_t ts_ms,
                       const uint8_t *body, size_t body_len, char out[TDM_HB_AUTH_CAP],
                       tdm_error *err);

/* Checks an Authorization value against body; *ts_ms gets the signed
 * timestamp (freshness and replay are the caller's: the registry's).
 * TDM_OK; TDM_ERR_FORMAT for a missing or malformed value; TDM_ERR_INVALID
 * for a wrong signature (compared in constant time). */
tdm_status tdm_hb_verify(const uint8_t *secret, size_t secret_len, const char *authorization,
                         const uint8_t *body, size_t body_len, int64_t *ts_ms, tdm_error *err);

#endif
