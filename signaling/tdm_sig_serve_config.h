/* tdm_sig_serve_config: the configuration file of `tandem-signal serve`.
 *
 * Owns reading the JSON file and the secret files it names into a
 * tdm_signal_config plus what the HTTP shell needs (relays, TURN URLs, the
 * public URL for invite links). Relative paths are resolved against the
 * configuration file's directory, so a config and its secrets move
 * together. Secrets are read from files, never from the JSON itself, so the
 * config can be shown and versioned.
 *
 *   {"public_url": "http://127.0.0.1:8443",
 *    "relays": [{"id": "relay-1", "url": "http://127.0.0.1:8080"}],
 *    "relay_token_secret_file": "relay.secret",      >= 32 bytes
 *    "turn": {"secret_file": "turn.secret", "urls": ["turn:host:3478"]},  optional
 *    "recording_master_key_file": "master.key",      32 raw bytes or 64 hex digits
 *    "invite_ttl_default_s": 7200, "invite_ttl_max_s": 86400,
 *    "join_code_ttl_s": 600, "login_ttl_s": 43200, "relay_token_ttl_s": 300,
 *    "turn_ttl_s": 3600, "rep_profile": "control",
 *    "profiles": {NAME: {...}},                       see tdm_sig_profile.h
 *    "cluster_secret_file": "cluster.secret",        >= 32 bytes; enables relay
 *                                                     heartbeats (optional)
 *    "relay_ttl_s": 3, "relay_heartbeat_skew_s": 30, "relay_max_sessions": 0,
 *    "recordings_dir": "/var/lib/tandem/recordings",  optional (auditor pages)
 *    "recordings_cache_dir": "/var/cache/tandem"}      optional (WebM exports)
 *
 * "relays" are static entries of the relay registry (tdm_sig_registry.h):
 * they never expire and need no heartbeat; relays that heartbeat join the
 * registry by themselves. relay_ttl_s: a relay silent this long is dropped;
 * relay_heartbeat_skew_s: how far a heartbeat's signed time may be from the
 * server's; relay_max_sessions: sessions per relay (0: no cap).
 * "redis": "redis://HOST[:PORT][/DB]" (optional; `serve --redis` overrides)
 * makes this instance one of a cluster sharing state and relays through
 * Redis (API.md "Cluster"; tdm_redis_cluster.h).
 *
 * The key that digests join codes, invite tokens and login tokens at rest is
 * derived from the master key (HMAC-SHA256 with a fixed label), so tokens
 * survive a restart without a third secret file. */
#ifndef TDM_SIG_SERVE_CONFIG_H
#define TDM_SIG_SERVE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "tdm_signal.h"

#define TDM_SIG_RELAYS_MAX 16
#define TDM_SIG_URL_MAX 512
#define TDM_SIG_TURN_URLS_MAX 8

typedef struct tdm_sig_relay {
    char id[TDM_TOKEN_ID_MAX + 1];
    char url[TDM_SIG_URL_MAX]; /* base URL without trailing slash */
} tdm_sig_relay;

typedef struct tdm_sig_serve_config {
    tdm_signal_config core; /* pointers below point into this struct */
    tdm_sig_profiles profiles;
    char rep_profile[TDM_SIG_PROFILE_NAME_MAX + 1];
    uint8_t token_secret[256];
    uint8_t turn_secret[256];
    char public_url[TDM_SIG_URL_MAX];
    tdm_sig_relay relays[TDM_SIG_RELAYS_MAX];
    unsigned n_relays;
    char turn_urls[TDM_SIG_TURN_URLS_MAX][TDM_SIG_URL_MAX];
    unsigned n_turn_urls;
    /* Authenticates relay heartbeats (tdm_relay_heartbeat.h); length 0:
     * heartbeats are refused with 503 (not configured). */
    uint8_t cluster_secret[256];
    size_t cluster_secret_len;
    int64_t relay_ttl_s;        /* 0 = 3 */
    int64_t relay_skew_s;       /* 0 = 30 */
    int64_t relay_max_sessions; /* 0 = no cap */
    /* "redis": "redis://HOST[:PORT][/DB]" (or serve --redis): the cluster's
     * state and pub/sub (tdm_redis_cluster.h); "" = one machine. */
    char redis_url[TDM_SIG_URL_MAX];
    /* "recordings_dir": the relays' --record-dir (auditor pages, "" = off);
     * "recordings_cache_dir": their WebM exports ("" = next to the db). */
    char recordings_dir[1024];
    char recordings_cache_dir[1024];
} tdm_sig_serve_config;

/* Loads path into *out (db_path is left NULL for the caller to set). The
 * struct holds secrets: wipe it with tdm_sig_serve_config_wipe.
 * @return TDM_OK; TDM_ERR_IO for an unreadable file; TDM_ERR_FORMAT naming
 *         the field at fault. */
tdm_status tdm_sig_serve_config_load(const char *path, tdm_sig_serve_config *out, tdm_error *err);
/* Same from text; base_dir resolves relative secret paths. */
tdm_status tdm_sig_serve_config_parse(const char *json, size_t len, const char *base_dir,
                                      tdm_sig_serve_config *out, tdm_error *err);
void tdm_sig_serve_config_wipe(tdm_sig_serve_config *c);

#endif
