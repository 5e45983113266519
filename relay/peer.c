/* peer.c: one peer connection (tdm_peer.h): ICE carrying DTLS-SRTP. It
 * owns the demultiplexer (RFC 7983), the wiring between the ICE agent and
 * the DTLS endpoint, the peer's state machine and its counters. Protocol
 * work is done by tdm_dtls and tdm_srtp; IO and the timer by tdm_ice. No
 * GLib here, and nothing is allocated per packet. */
#include "tdm_peer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_rtcp.h"

/* Room for one outgoing DTLS datagram: the endpoint keeps to its MTU,
 * which tdm_dtls_config_init sets to 1200. */
#define DTLS_DATAGRAM_MAX 1500

struct tdm_peer {
    tdm_peer_callbacks cb;
    tdm_dtls_config dtls_cfg;
    tdm_ice *ice;
    tdm_dtls_endpoint *dtls;
    tdm_srtp_session *srtp_in, *srtp_out;
    tdm_srtp_profile profile;
    tdm_peer_state state;
    tdm_peer_fail fail;
    bool ice_was_up;
    tdm_peer_stats stats;
    char reason[256];
    uint8_t scratch[DTLS_DATAGRAM_MAX]; /* one outgoing DTLS datagram */
};

const char *tdm_peer_state_name(tdm_peer_state s)
{
    switch (s) {
    case TDM_PEER_NEW: return "new";
    case TDM_PEER_CONNECTING: return "connecting";
    case TDM_PEER_CONNECTED: return "connected";
    case TDM_PEER_FAILED: return "failed";
    case TDM_PEER_CLOSED: return "closed";
    }
    return "unknown";
}

const char *tdm_peer_fail_name(tdm_peer_fail f)
{
    switch (f) {
    case TDM_PEER_FAIL_NONE: return "none";
    case TDM_PEER_FAIL_ICE: return "ice";
    case TDM_PEER_FAIL_CONSENT: return "consent";
    case TDM_PEER_FAIL_DTLS: return "dtls";
    case TDM_PEER_FAIL_SRTP: return "srtp";
    }
    return "unknown";
}

void tdm_peer_config_init(tdm_peer_config *cfg, const tdm_ice_config *ice,
                          const tdm_dtls_identity *identity, tdm_dtls_role role,
                          const uint8_t peer_fp[TDM_DTLS_FINGERPRINT_LEN])
{
    memset(cfg, 0, sizeof *cfg);
    if (ice)
        cfg->ice = *ice;
    cfg->identity = identity;
    cfg->role = role;
    if (peer_fp)
        memcpy(cfg->peer_fingerprint, peer_fp, TDM_DTLS_FINGERPRINT_LEN);
    cfg->only_profile = TDM_SRTP_PROFILE_NONE;
}

static bool finished(const tdm_peer *p)
{
    return p->state == TDM_PEER_FAILED || p->state == TDM_PEER_CLOSED;
}

static void set_state(tdm_peer *p, tdm_peer_state s)
{
    p->state = s;
    if (p->cb.on_state)
        p->cb.on_state(p->cb.user, s, p->fail, p->reason);
}

static void fail(tdm_peer *p, tdm_peer_fail why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(tdm_peer *p, tdm_peer_fail why, const char *fmt, ...)
{
    if (finished(p))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->reason, sizeof p->reason, fmt, ap);
    va_end(ap);
    p->fail = why;
    tdm_ice_cancel_timer(p->ice);
    set_state(p, TDM_PEER_FAILED);
}

static void transmit(tdm_peer *p, const uint8_t *buf, size_t len, tdm_status *st)
{
    *st = tdm_ice_send(p->ice, buf, len);
    if (*st == TDM_OK) {
        p->stats.datagrams_out++;
        p->stats.bytes_out += len;
    } else {
        p->stats.send_failed++;
    }
}

/* Sends what the DTLS endpoint queued. Until ICE is up the datagrams stay
 * in the endpoint's queue, so a server answering a ClientHello that beat
 * our own ICE state to "connected" loses nothing. */
static void pump_dtls(tdm_peer *p)
{
    if (!p->dtls || !tdm_ice_can_send(p->ice))
        return;
    size_t len;
    while (tdm_dtls_poll_datagram(p->dtls, p->scratch, sizeof p->scratch, &len) == TDM_OK) {
        tdm_status st;
        transmit(p, p->scratch, len, &st);
        if (st == TDM_OK)
            p->stats.dtls_out++;
    }
}

static void arm_timer(tdm_peer *p)
{
    int64_t ms = (p->dtls && !finished(p)) ? tdm_dtls_timeout_ms(p->dtls) : -1;
    if (ms < 0)
        tdm_ice_cancel_timer(p->ice);
    else
        tdm_ice_set_timer(p->ice, ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms);
}

static void make_srtp(tdm_peer *p)
{
    tdm_srtp_keys keys;
    tdm_error err = {{0}};
    if (tdm_dtls_srtp_keys(p->dtls, &keys) != TDM_OK) {
        fail(p, TDM_PEER_FAIL_SRTP, "DTLS completed without SRTP keys");
        return;
    }
    tdm_srtp_config in, out;
    tdm_srtp_config_init(&in, TDM_SRTP_INBOUND);
    tdm_srtp_config_init(&out, TDM_SRTP_OUTBOUND);
    tdm_status st = tdm_srtp_new(&keys, &in, &p->srtp_in, &err);
    if (st == TDM_OK)
        st = tdm_srtp_new(&keys, &out, &p->srtp_out, &err);
    p->profile = keys.profile;
    tdm_srtp_keys_wipe(&keys);
    if (st != TDM_OK) {
        fail(p, TDM_PEER_FAIL_SRTP, "SRTP setup failed: %s", err.msg);
        return;
    }
    p->reason[0] = '\0';
    set_state(p, TDM_PEER_CONNECTED);
}

/* After anything that may have moved the DTLS endpoint: send, follow its
 * phase, re-arm the timer. */
static void after_dtls(tdm_peer *p)
{
    pump_dtls(p);
    const char *why = "";
    switch (tdm_dtls_state(p->dtls, &why)) {
    case TDM_DTLS_HANDSHAKING: break;
    case TDM_DTLS_CONNECTED:
        if (p->state == TDM_PEER_NEW || p->state == TDM_PEER_CONNECTING)
            make_srtp(p);
        break;
    case TDM_DTLS_FAILED: fail(p, TDM_PEER_FAIL_DTLS, "DTLS failed: %s", why); break;
    case TDM_DTLS_CLOSED:
        if (!finished(p)) {
            snprintf(p->reason, sizeof p->reason, "closed by the peer: %s", why);
            set_state(p, TDM_PEER_CLOSED);
        }
        break;
    }
    arm_timer(p);
}

static tdm_status start_dtls(tdm_peer *p, tdm_error *err)
{
    if (p->dtls)
        return TDM_OK;
    return tdm_dtls_new(&p->dtls_cfg, &p->dtls, err);
}

/* --- receive path -------------------------------------------------------- */

static void handle_dtls(tdm_peer *p, uint8_t *buf, size_t len)
{
    p->stats.dtls_in++;
    if (!p->dtls || finished(p)) {
        /* A client's endpoint starts with ICE; a server never speaks first. */
        p->stats.early_dropped++;
        return;
    }
    tdm_dtls_handle_datagram(p->dtls, buf, len);
    after_dtls(p);
}

static void handle_srtp(tdm_peer *p, uint8_t *buf, size_t len)
{
    if (p->state != TDM_PEER_CONNECTED) {
        p->stats.early_dropped++;
        return;
    }
    size_t plain = 0;
    tdm_srtp_fail why = TDM_SRTP_FAIL_NONE;
    if (tdm_rtcp_is_rtcp(buf, len)) {
        if (tdm_srtp_unprotect_rtcp(p->srtp_in, buf, len, &plain, &why) != TDM_OK) {
            p->stats.srtp_in_fail[why]++;
            return;
        }
        p->stats.rtcp_in++;
        if (p->cb.on_rtcp)
            p->cb.on_rtcp(p->cb.user, buf, plain);
    } else {
        if (tdm_srtp_unprotect_rtp(p->srtp_in, buf, len, &plain, &why) != TDM_OK) {
            p->stats.srtp_in_fail[why]++;
            return;
        }
        p->stats.rtp_in++;
        if (p->cb.on_rtp)
            p->cb.on_rtp(p->cb.user, buf, plain);
    }
}

void tdm_peer_handle_datagram(tdm_peer *p, uint8_t *buf, size_t len)
{
    if (!p)
        return;
    p->stats.datagrams_in++;
    p->stats.bytes_in += len;
    if (!buf || len == 0) {
        p->stats.unknown_dropped++;
        return;
    }
    /* RFC 7983 section 7: 20..63 DTLS, 128..191 RTP/RTCP. STUN (0..3) and
     * TURN channel data (64..79) never get here: libnice consumes them. */
    if (tdm_dtls_is_dtls(buf, len))
        handle_dtls(p, buf, len);
    else if (buf[0] >= 128 && buf[0] <= 191)
        handle_srtp(p, buf, len);
    else
        p->stats.unknown_dropped++;
}

/* --- ICE callbacks ------------------------------------------------------- */

static void on_ice_datagram(void *user, uint8_t *buf, size_t len)
{
    tdm_peer_handle_datagram(user, buf, len);
}

static void on_ice_state(tdm_peer *p, tdm_ice_state s)
{
    if (finished(p))
        return;
    if (tdm_ice_state_is_up(s)) {
        p->ice_was_up = true;
        tdm_error err = {{0}};
        if (start_dtls(p, &err) != TDM_OK) {
            fail(p, TDM_PEER_FAIL_DTLS, "DTLS could not start: %s", err.msg);
            return;
        }
        if (p->state == TDM_PEER_NEW)
            set_state(p, TDM_PEER_CONNECTING);
        if (!finished(p))
            after_dtls(p); /* the ClientHello, or what waited for ICE */
    } else if (s == TDM_ICE_FAILED) {
        if (p->ice_was_up)
            fail(p, TDM_PEER_FAIL_CONSENT, "ICE consent lost: the peer stopped answering");
        else
            fail(p, TDM_PEER_FAIL_ICE, "ICE failed: no candidate pair worked");
    }
}

static void on_ice_event(void *user, const tdm_ice_event *ev)
{
    tdm_peer *p = user;
    if (ev->type == TDM_ICE_EV_STATE)
        on_ice_state(p, ev->state);
    else if (ev->type == TDM_ICE_EV_SELECTED_PAIR && p->dtls && !finished(p))
        after_dtls(p); /* a pair to send what waited for one */
    if (p->cb.on_ice_event)
        p->cb.on_ice_event(p->cb.user, ev);
}

static void on_ice_timer(void *user)
{
    tdm_peer *p = user;
    if (!p->dtls || finished(p))
        return;
    tdm_dtls_handle_timeout(p->dtls);
    after_dtls(p);
}

/* --- lifetime and send path -------------------------------------------- */

tdm_status tdm_peer_new(const tdm_peer_config *cfg, const tdm_peer_callbacks *cb, tdm_peer **out,
                        tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "peer: out is NULL");
    *out = NULL;
    if (!cfg || !cb || !cfg->identity || !cb->on_state)
        return tdm_fail(err, TDM_ERR_INVALID, "peer: identity and on_state are required");
    tdm_peer *p = calloc(1, sizeof *p);
    if (!p)
        return tdm_fail(err, TDM_ERR_NOMEM, "peer: out of memory");
    p->cb = *cb;
    p->state = TDM_PEER_NEW;
    tdm_dtls_config_init(&p->dtls_cfg, cfg->identity, cfg->role, cfg->peer_fingerprint);
    p->dtls_cfg.only_profile = cfg->only_profile;

    tdm_ice_callbacks icb = {
        .on_datagram = on_ice_datagram, .on_event = on_ice_event, .on_timer = on_ice_timer,
        .user = p};
    tdm_status st = tdm_ice_new(&cfg->ice, &icb, &p->ice, err);
    /* The server waits for the ClientHello, which may come before our ICE
     * agent calls itself connected; the client starts with ICE. */
    if (st == TDM_OK && cfg->role == TDM_DTLS_SERVER)
        st = start_dtls(p, err);
    if (st != TDM_OK) {
        tdm_peer_free(p);
        return st;
    }
    *out = p;
    return TDM_OK;
}

void tdm_peer_free(tdm_peer *p)
{
    if (!p)
        return;
    tdm_ice_free(p->ice); /* first: no callback may reach the rest */
    tdm_srtp_free(p->srtp_in);
    tdm_srtp_free(p->srtp_out);
    tdm_dtls_free(p->dtls);
    free(p);
}

tdm_ice *tdm_peer_ice(tdm_peer *p)
{
    return p ? p->ice : NULL;
}

tdm_status tdm_peer_set_remote_dtls(tdm_peer *p, tdm_dtls_role role,
                                    const uint8_t fp[TDM_DTLS_FINGERPRINT_LEN], tdm_error *err)
{
    if (!p || !fp)
        return tdm_fail(err, TDM_ERR_INVALID, "peer: NULL argument");
    if (p->state != TDM_PEER_NEW || p->ice_was_up ||
        (p->dtls && tdm_dtls_get_stats(p->dtls)->datagrams_in > 0))
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "peer: DTLS already started");
    tdm_dtls_free(p->dtls); /* a server endpoint that has heard nothing yet */
    p->dtls = NULL;
    p->dtls_cfg.role = role;
    memcpy(p->dtls_cfg.peer_fingerprint, fp, TDM_DTLS_FINGERPRINT_LEN);
    return role == TDM_DTLS_SERVER ? start_dtls(p, err) : TDM_OK;
}

static tdm_status protect(tdm_peer *p, uint8_t *buf, size_t len, size_t cap, bool rtcp,
                          size_t *wire)
{
    if (!p || !buf || !wire)
        return TDM_ERR_INVALID;
    if (p->state != TDM_PEER_CONNECTED)
        return TDM_ERR_UNAVAILABLE;
    tdm_srtp_fail why = TDM_SRTP_FAIL_NONE;
    tdm_status st = rtcp ? tdm_srtp_protect_rtcp(p->srtp_out, buf, len, cap, wire, &why)
                         : tdm_srtp_protect_rtp(p->srtp_out, buf, len, cap, wire, &why);
    if (st != TDM_OK && st != TDM_ERR_INVALID)
        p->stats.srtp_out_fail[why]++;
    return st;
}

static tdm_status send_protected(tdm_peer *p, uint8_t *buf, size_t len, size_t cap, bool rtcp)
{
    size_t wire = 0;
    tdm_status st = protect(p, buf, len, cap, rtcp, &wire);
    if (st != TDM_OK)
        return st;
    transmit(p, buf, wire, &st);
    if (st == TDM_OK) {
        if (rtcp)
            p->stats.rtcp_out++;
        else
            p->stats.rtp_out++;
    }
    return st;
}

tdm_status tdm_peer_protect_rtp(tdm_peer *p, uint8_t *buf, size_t len, size_t cap,
                                size_t *wire_len)
{
    return protect(p, buf, len, cap, false, wire_len);
}

tdm_status tdm_peer_protect_rtcp(tdm_peer *p, uint8_t *buf, size_t len, size_t cap,
                                 size_t *wire_len)
{
    return protect(p, buf, len, cap, true, wire_len);
}

tdm_status tdm_peer_send_rtp(tdm_peer *p, uint8_t *buf, size_t len, size_t cap)
{
    return send_protected(p, buf, len, cap, false);
}

tdm_status tdm_peer_send_rtcp(tdm_peer *p, uint8_t *buf, size_t len, size_t cap)
{
    return send_protected(p, buf, len, cap, true);
}

void tdm_peer_close(tdm_peer *p)
{
    if (!p || finished(p))
        return;
    if (p->dtls) {
        tdm_dtls_close(p->dtls);
        pump_dtls(p);
    }
    tdm_ice_cancel_timer(p->ice);
    snprintf(p->reason, sizeof p->reason, "closed locally");
    p->state = TDM_PEER_CLOSED;
}

tdm_peer_state tdm_peer_get_state(const tdm_peer *p, tdm_peer_fail *why, const char **reason)
{
    if (why)
        *why = p->fail;
    if (reason)
        *reason = p->reason;
    return p->state;
}

tdm_srtp_profile tdm_peer_srtp_profile(const tdm_peer *p)
{
    return p && p->state == TDM_PEER_CONNECTED ? p->profile : TDM_SRTP_PROFILE_NONE;
}

const tdm_peer_stats *tdm_peer_get_stats(const tdm_peer *p)
{
    return &p->stats;
}
