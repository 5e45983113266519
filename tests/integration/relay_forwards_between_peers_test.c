/* relay_forwards_between_peers_test: the real tandem-relay process (path in
 * argv[1]) on 127.0.0.1 with ICE gathering on 127.0.0.1 only, and three
 * WebRTC clients in this process (tdm_peer, gathering on 127.0.0.1 only):
 * one publishes over WHIP, two subscribe over WHEP, each with an SDP offer
 * from tdm_sdp_offer and a minimal blocking HTTP/1.1 client. The publisher
 * sends VP8 keyframe-start packets across the sequence-number wrap; both
 * subscribers get every one with continuous sequence numbers of their own;
 * a subscriber's NACK is answered with the same packet again (seen by its
 * SRTP replay check, see retransmitted()); a subscriber's PLI reaches the
 * publisher as a PLI; the lowest viewer REMB reaches the publisher; a
 * second publisher is refused with 409; DELETE ends the session. The relay
 * is stopped with SIGTERM and must exit 0, also when a check failed. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../unit/loopback_loop.h"
#include "relay_test_http.h"
#include "tdm_dtls.h"
#include "tdm_peer.h"
#include "tdm_rtcp.h"
#include "tdm_rtp.h"
#include "tdm_sdp.h"
#include "tdm_sdp_offer.h"
#include "tdm_token.h"

#define NODE "node-1"
#define SESSION "sess-1"
#define PACKETS 200
#define FIRST_SEQ 65450 /* the publisher's numbers cross the wrap */
#define PUB_SSRC 0x5eed0001u
#define PT 96
#define BUF_CAP 1600
#define HTTP_MAX TDM_TEST_HTTP_MAX
#define MAX_CANDS 16

static const char *relay_path;
static pid_t relay_pid = -1;
static uint16_t relay_port;
static char secret_path[64];
static const uint8_t secret[] = "integration-test-secret-0123456789abcdef";

/* --- the relay process --------------------------------------------------- */

/* SIGTERM, then wait (bounded) for a clean exit. 0 when the relay exited
 * with status 0; -1 otherwise (it is killed if it ignored the signal). */
static int stop_relay(void)
{
    if (relay_pid <= 0)
        return 0;
    kill(relay_pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100; i++) {
        if (waitpid(relay_pid, &status, WNOHANG) == relay_pid) {
            relay_pid = -1;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "relay exited with status %d\n", status);
                return -1;
            }
            return 0;
        }
        usleep(50000);
    }
    kill(relay_pid, SIGKILL);
    waitpid(relay_pid, &status, 0);
    relay_pid = -1;
    fprintf(stderr, "relay did not stop on SIGTERM\n");
    return -1;
}

static int start_relay(void **state)
{
    (void)state;
    snprintf(secret_path, sizeof secret_path, "/tmp/tdm-relay-secret-XXXXXX");
    int fd = mkstemp(secret_path);
    if (fd < 0)
        return -1;
    if (write(fd, secret, sizeof secret - 1) != (ssize_t)(sizeof secret - 1)) {
        close(fd);
        return -1;
    }
    close(fd);
    int out[2];
    if (pipe(out) != 0)
        return -1;
    relay_pid = fork();
    if (relay_pid < 0)
        return -1;
    if (relay_pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        execl(relay_path, relay_path, "serve", "--listen", "127.0.0.1:0", "--node-id", NODE,
              "--secret-file", secret_path, "--local-address", "127.0.0.1", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    relay_port = test_read_listen_port(out[0]);
    close(out[0]);
    return relay_port ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = stop_relay();
    unlink(secret_path);
    return rc;
}

/* --- a minimal blocking HTTP/1.1 client ---------------------------------- */



static void mint(const char *participant, tdm_token_role role, char *out, size_t cap)
{
    test_mint(secret, sizeof secret - 1, NODE, SESSION, participant, role, 300, out, cap);
}

static void http_ex(const char *method, const char *path, const char *token, const char *ctype,
                    const char *if_match, const char *body, http_reply *rep)
{
    test_http(relay_port, method, path, token, ctype, if_match, body, rep);
}

static void http(const char *method, const char *path, const char *token, const char *ctype,
                 const char *body, http_reply *rep)
{
    test_http(relay_port, method, path, token, ctype, NULL, body, rep);
}


/* --- clients ------------------------------------------------------------- */

typedef struct client {
    const char *name;
    bool publish;
    tdm_dtls_identity *id;
    tdm_peer *peer;
    bool gathered;
    size_t n_cands;
    char *cands[MAX_CANDS];
    tdm_peer_state state;
    char location[256];
    uint32_t relay_ssrc; /* subscriber: the SSRC the answer announced */
    /* Subscriber: what arrived. */
    int received, gaps, retransmitted, foreign_ssrc;
    bool have_seq;
    uint16_t last_seq;
    int index_of_seq[65536]; /* packet index seen under each seq, -1 if none */
    /* Publisher: PLIs received for its SSRC, the last REMB for it. */
    int plis;
    uint64_t remb_bps;
} client;

static void on_state(void *user, tdm_peer_state st, tdm_peer_fail fail, const char *reason)
{
    client *c = user;
    c->state = st;
    if (st == TDM_PEER_FAILED)
        print_error("%s failed (%s): %s\n", c->name, tdm_peer_fail_name(fail), reason);
}

static void on_rtp(void *user, uint8_t *buf, size_t len)
{
    client *c = user;
    tdm_rtp_packet p;
    if (tdm_rtp_parse(buf, len, &p, NULL) != TDM_OK || p.header.ssrc != c->relay_ssrc) {
        c->foreign_ssrc++;
        return;
    }
    /* The payload's last two bytes carry the publisher's packet index. */
    int index = p.payload[p.payload_len - 2] << 8 | p.payload[p.payload_len - 1];
    uint16_t seq = p.header.seq;
    if (c->index_of_seq[seq] >= 0) {
        if (c->index_of_seq[seq] != index)
            fail_msg("%s: seq %u came as packet %d, then %d", c->name, seq,
                     c->index_of_seq[seq], index);
        c->retransmitted++;
        return;
    }
    c->index_of_seq[seq] = index;
    if (c->have_seq && seq != (uint16_t)(c->last_seq + 1))
        c->gaps++;
    c->have_seq = true;
    c->last_seq = seq;
    c->received++;
}

static void on_rtcp(void *user, uint8_t *buf, size_t len)
{
    client *c = user;
    tdm_rtcp_iter it;
    tdm_rtcp_drop why;
    if (tdm_rtcp_iter_init(&it, buf, len, &why) != TDM_OK)
        return;
    tdm_rtcp_item item;
    while (tdm_rtcp_iter_next(&it, &item) == TDM_OK)
        if (item.type == TDM_RTCP_PLI && item.u.pli.media_ssrc == PUB_SSRC)
            c->plis++;
        else if (item.type == TDM_RTCP_REMB && item.u.remb.ssrc_count == 1 &&
                 tdm_rtcp_remb_ssrc(&item.u.remb, 0) == PUB_SSRC)
            c->remb_bps = item.u.remb.bitrate_bps;
}

static void on_ice_event(void *user, const tdm_ice_event *ev)
{
    client *c = user;
    if (ev->type == TDM_ICE_EV_GATHERING_DONE)
        c->gathered = true;
    else if (ev->type == TDM_ICE_EV_LOCAL_CANDIDATE && c->n_cands < MAX_CANDS) {
        if (!loopback_candidate_address_is(ev->candidate, "127.0.0.1"))
            fail_msg("%s: candidate off loopback: %s", c->name, ev->candidate);
        c->cands[c->n_cands++] = strdup(ev->candidate);
    } else if (ev->type == TDM_ICE_EV_SELECTED_PAIR) {
        assert_int_equal(strncmp(ev->remote_address, "127.0.0.1:", 10), 0);
    }
}

static bool gathered(void *arg)
{
    return ((client *)arg)->gathered;
}

/* The relay's certificate fingerprint, from the answer to a throwaway offer
 * (tdm_peer needs it before it can make the offer the real answer is to). */
static void probe_fingerprint(uint8_t fp[TDM_DTLS_FINGERPRINT_LEN])
{
    tdm_sdp_offer_config oc = {.role = TDM_SDP_ROLE_SUBSCRIBE, .ice_ufrag = "prob",
                               .ice_pwd = "probeprobeprobeprobeprobe", .session_id = 1,
                               .video_pt = PT};
    char offer[4096], token[TDM_TOKEN_MAX_LEN + 1];
    size_t olen;
    tdm_error err = {{0}};
    assert_int_equal(tdm_sdp_offer_write(&oc, offer, sizeof offer, &olen, &err), TDM_OK);
    mint("probe", TDM_TOKEN_ROLE_SUBSCRIBE, token, sizeof token);
    static http_reply rep;
    http("POST", "/whep/" SESSION, token, "application/sdp", offer, &rep);
    if (rep.status != 201)
        fail_msg("probe: POST answered %d: %.*s", rep.status, (int)rep.body_len, rep.body);
    tdm_sdp_session *ans = tdm_sdp_new();
    assert_int_equal(tdm_sdp_parse((const uint8_t *)rep.body, rep.body_len, ans, &err), TDM_OK);
    assert_true(ans->media[0].dtls.has_fingerprint);
    memcpy(fp, ans->media[0].dtls.fingerprint, TDM_DTLS_FINGERPRINT_LEN);
    tdm_sdp_free(ans);
    char loc[256];
    snprintf(loc, sizeof loc, "%s", rep.location);
    http("DELETE", loc, token, NULL, NULL, &rep);
    assert_int_equal(rep.status, 200);
}

static void client_connect(client *c, GMainContext *ctx, const uint8_t relay_fp[32])
{
    tdm_error err = {{0}};
    memset(c->index_of_seq, 0xff, sizeof c->index_of_seq);
    assert_int_equal(tdm_dtls_identity_new(NULL, &c->id, &err), TDM_OK);
    tdm_ice_config ice;
    tdm_ice_config_init(&ice, ctx, true);
    ice.local_addresses[0] = "127.0.0.1";
    ice.n_local_addresses = 1;
    tdm_peer_config pc;
    /* We offer actpass; the relay answers passive, so we are the DTLS client. */
    tdm_peer_config_init(&pc, &ice, c->id, TDM_DTLS_CLIENT, relay_fp);
    tdm_peer_callbacks cb = {.on_state = on_state, .on_rtp = on_rtp, .on_rtcp = on_rtcp,
                             .on_ice_event = on_ice_event, .user = c};
    if (tdm_peer_new(&pc, &cb, &c->peer, &err) != TDM_OK)
        fail_msg("%s: %s", c->name, err.msg);
    tdm_ice *ia = tdm_peer_ice(c->peer);
    assert_int_equal(tdm_ice_gather(ia, &err), TDM_OK);
    assert_true(loopback_run_until(ctx, gathered, c, 5000));
    assert_true(c->n_cands > 0);

    const char *ufrag, *pwd;
    tdm_ice_local_credentials(ia, &ufrag, &pwd);
    tdm_sdp_offer_config oc = {
        .role = c->publish ? TDM_SDP_ROLE_PUBLISH : TDM_SDP_ROLE_SUBSCRIBE,
        .ice_ufrag = ufrag, .ice_pwd = pwd, .session_id = 42, .video_pt = PT,
        .video_ssrc = c->publish ? PUB_SSRC : 0, .cname = c->name,
        .candidates = (const char *const *)c->cands, .n_candidates = c->n_cands,
        .candidates_complete = true};
    memcpy(oc.fingerprint, tdm_dtls_identity_fingerprint(c->id), sizeof oc.fingerprint);
    static char offer[8192];
    size_t olen;
    assert_int_equal(tdm_sdp_offer_write(&oc, offer, sizeof offer, &olen, &err), TDM_OK);

    char token[TDM_TOKEN_MAX_LEN + 1];
    mint(c->name, c->publish ? TDM_TOKEN_ROLE_PUBLISH : TDM_TOKEN_ROLE_SUBSCRIBE, token,
         sizeof token);
    static http_reply rep;
    http("POST", c->publish ? "/whip/" SESSION : "/whep/" SESSION, token, "application/sdp",
         offer, &rep);
    if (rep.status != 201)
        fail_msg("%s: POST answered %d: %.*s", c->name, rep.status, (int)rep.body_len, rep.body);
    snprintf(c->location, sizeof c->location, "%s", rep.location);

    tdm_sdp_session *ans = tdm_sdp_new();
    if (tdm_sdp_parse((const uint8_t *)rep.body, rep.body_len, ans, &err) != TDM_OK)
        fail_msg("%s: answer: %s", c->name, err.msg);
    const tdm_sdp_media *m = &ans->media[0];
    assert_int_equal(m->port != 0, 1);
    assert_int_equal(m->dtls.setup, TDM_SDP_SETUP_PASSIVE);
    assert_memory_equal(m->dtls.fingerprint, relay_fp, TDM_DTLS_FINGERPRINT_LEN);
    assert_int_equal(m->direction, c->publish ? TDM_SDP_RECVONLY : TDM_SDP_SENDONLY);
    if (!c->publish) {
        assert_true(m->n_ssrcs >= 1);
        c->relay_ssrc = m->ssrcs[0].ssrc;
    }
    assert_int_equal(tdm_ice_set_remote_credentials(ia, m->ice.ufrag, m->ice.pwd, &err), TDM_OK);
    assert_true(m->n_candidates > 0);
    for (size_t i = 0; i < m->n_candidates; i++) {
        const tdm_sdp_candidate *k = &m->candidates[i];
        assert_string_equal(k->address, "127.0.0.1");
        char text[256];
        snprintf(text, sizeof text, "candidate:%s %u %s %u %s %u typ host", k->foundation,
                 (unsigned)k->component, k->transport == TDM_SDP_TCP ? "TCP" : "UDP",
                 (unsigned)k->priority, k->address, (unsigned)k->port);
        assert_int_equal(tdm_ice_add_remote_candidate(ia, text, &err), TDM_OK);
    }
    tdm_ice_remote_gathering_done(ia);
    tdm_sdp_free(ans);
}

typedef struct trio {
    client *c[3];
    int want;
} trio;

static bool all_connected(void *arg)
{
    trio *t = arg;
    for (int i = 0; i < 3; i++)
        if (t->c[i]->state != TDM_PEER_CONNECTED)
            return false;
    return true;
}

static bool subs_received(void *arg)
{
    trio *t = arg;
    return t->c[1]->received >= t->want && t->c[2]->received >= t->want;
}

/* The relay resends a NACKed packet under the same SSRC and sequence
 * number (no RTX stream yet). This client did receive the original, so its
 * SRTP replay check drops the copy: that drop is how the test sees the
 * retransmission arrive intact enough to name the same packet index. A
 * client that really lost the original takes it (on_rtp then counts it in
 * retransmitted, which must match the index first seen). */
static uint64_t replays(const client *c)
{
    return tdm_peer_get_stats(c->peer)->srtp_in_fail[TDM_SRTP_FAIL_REPLAY];
}

static bool retransmitted(void *arg)
{
    const client *c = arg;
    return c->retransmitted > 0 || replays(c) > 0;
}

/* What the publisher waits for: more PLIs than `value`, or a REMB of it. */
typedef struct pub_wait {
    client *pub;
    int64_t value;
} pub_wait;

static bool remb_is(void *arg)
{
    const pub_wait *w = arg;
    return (int64_t)w->pub->remb_bps == w->value;
}

static bool pli_arrived(void *arg)
{
    pub_wait *w = arg;
    return w->pub->plis > w->value;
}

/* A VP8 payload that starts a 640x360 keyframe (RFC 7741 descriptor with
 * S=1, then the frame tag with P=0, the start code and the sizes), padded
 * with bytes and ending in the packet's index. */
static size_t vp8_keyframe_payload(uint8_t *buf, int index)
{
    static const uint8_t head[] = {0x10,                   /* descriptor: S=1, PID 0 */
                                   0x50, 0x2d, 0x00,       /* tag: key, show, size */
                                   0x9d, 0x01, 0x2a,       /* start code */
                                   0x80, 0x02, 0x68, 0x01}; /* 640 x 360 */
    memcpy(buf, head, sizeof head);
    size_t n = sizeof head;
    for (int i = 0; i < 100; i++)
        buf[n++] = (uint8_t)(index + i);
    buf[n++] = (uint8_t)(index >> 8);
    buf[n++] = (uint8_t)index;
    return n;
}

static void relay_forwards_between_peers(void **state)
{
    (void)state;
    GMainContext *ctx = g_main_context_new();
    uint8_t relay_fp[TDM_DTLS_FINGERPRINT_LEN];
    probe_fingerprint(relay_fp);

    static client pub, sub1, sub2;
    pub.name = "publisher";
    pub.publish = true;
    sub1.name = "viewer-1";
    sub2.name = "viewer-2";
    client_connect(&sub1, ctx, relay_fp);
    client_connect(&pub, ctx, relay_fp);
    client_connect(&sub2, ctx, relay_fp);
    trio t = {{&pub, &sub1, &sub2}, PACKETS};
    if (!loopback_run_until(ctx, all_connected, &t, 10000))
        fail_msg("not connected: %s %s %s", tdm_peer_state_name(pub.state),
                 tdm_peer_state_name(sub1.state), tdm_peer_state_name(sub2.state));

    /* A second publisher in the same session is refused. */
    {
        char token[TDM_TOKEN_MAX_LEN + 1];
        mint("intruder", TDM_TOKEN_ROLE_PUBLISH, token, sizeof token);
        tdm_sdp_offer_config oc = {.role = TDM_SDP_ROLE_PUBLISH, .ice_ufrag = "intr",
                                   .ice_pwd = "intruderintruderintruder", .session_id = 7,
                                   .video_pt = PT, .video_ssrc = 77};
        char offer[4096];
        size_t olen;
        tdm_error err = {{0}};
        assert_int_equal(tdm_sdp_offer_write(&oc, offer, sizeof offer, &olen, &err), TDM_OK);
        static http_reply rep;
        http("POST", "/whip/" SESSION, token, "application/sdp", offer, &rep);
        assert_int_equal(rep.status, 409);
    }

    /* The publisher sends, a few packets per loop turn, as a paced sender would. */
    for (int i = 0; i < PACKETS; i++) {
        uint8_t payload[256], pkt[BUF_CAP];
        size_t plen = vp8_keyframe_payload(payload, i), len;
        tdm_rtp_header h = {.marker = true, .payload_type = PT,
                            .seq = (uint16_t)(FIRST_SEQ + i),
                            .timestamp = 1000u + 3000u * (uint32_t)i, .ssrc = PUB_SSRC};
        assert_int_equal(tdm_rtp_write(&h, payload, plen, 0, pkt, sizeof pkt - 32, &len), TDM_OK);
        assert_int_equal(tdm_peer_send_rtp(pub.peer, pkt, len, sizeof pkt), TDM_OK);
        if (i % 10 == 9)
            loopback_drain(ctx);
    }
    if (!loopback_run_until(ctx, subs_received, &t, 10000))
        fail_msg("received %d and %d of %d", sub1.received, sub2.received, PACKETS);
    print_message("viewers received %d and %d packets\n", sub1.received, sub2.received);
    assert_int_equal(sub1.gaps, 0);
    assert_int_equal(sub2.gaps, 0);
    assert_int_equal(sub1.foreign_ssrc, 0);
    assert_int_equal(sub2.foreign_ssrc, 0);
    assert_int_not_equal(sub1.relay_ssrc, sub2.relay_ssrc);

    /* A NACK for one of viewer-1's own sequence numbers brings that packet again. */
    uint8_t rtcp[256];
    size_t rlen;
    uint16_t lost = (uint16_t)(sub1.last_seq - 7);
    assert_int_equal(tdm_rtcp_write_nack(0x0b5e0001u, sub1.relay_ssrc, &lost, 1, rtcp,
                                         sizeof rtcp - 32, &rlen),
                     TDM_OK);
    assert_int_equal(tdm_peer_send_rtcp(sub1.peer, rtcp, rlen, sizeof rtcp), TDM_OK);
    if (!loopback_run_until(ctx, retransmitted, &sub1, 5000)) {
        static http_reply m;
        http("GET", "/metrics", NULL, NULL, NULL, &m);
        fail_msg("no retransmission; relay metrics:\n%.*s", (int)m.body_len, m.body);
    }
    assert_int_equal(sub1.retransmitted + (int)replays(&sub1), 1);
    assert_int_equal(replays(&sub2), 0); /* the other viewer is not bothered */
    assert_int_equal(sub2.retransmitted, 0);

    /* A PLI from viewer-2 reaches the publisher as a PLI for its own SSRC
     * (the throttle may hold it for up to its interval). */
    pub_wait w = {&pub, pub.plis};
    assert_int_equal(tdm_rtcp_write_pli(0x0b5e0002u, sub2.relay_ssrc, rtcp, sizeof rtcp - 32,
                                        &rlen),
                     TDM_OK);
    assert_int_equal(tdm_peer_send_rtcp(sub2.peer, rtcp, rlen, sizeof rtcp), TDM_OK);
    assert_true(loopback_run_until(ctx, pli_arrived, &w, 5000));

    /* Each viewer's REMB; the lowest reaches the publisher, for its SSRC. */
    uint32_t ssrc;
    ssrc = sub1.relay_ssrc;
    assert_int_equal(tdm_rtcp_write_remb(0x0b5e0001u, 800000, &ssrc, 1, rtcp, sizeof rtcp - 32,
                                         &rlen),
                     TDM_OK);
    assert_int_equal(tdm_peer_send_rtcp(sub1.peer, rtcp, rlen, sizeof rtcp), TDM_OK);
    pub_wait rw = {&pub, 800000};
    assert_true(loopback_run_until(ctx, remb_is, &rw, 5000));
    ssrc = sub2.relay_ssrc;
    assert_int_equal(tdm_rtcp_write_remb(0x0b5e0002u, 300000, &ssrc, 1, rtcp, sizeof rtcp - 32,
                                         &rlen),
                     TDM_OK);
    assert_int_equal(tdm_peer_send_rtcp(sub2.peer, rtcp, rlen, sizeof rtcp), TDM_OK);
    rw.value = 300000;
    assert_true(loopback_run_until(ctx, remb_is, &rw, 5000));
    /* An estimate below the relay's floor is passed on as the floor, so one
     * viewer cannot starve the others' picture. */
    assert_int_equal(tdm_rtcp_write_remb(0x0b5e0002u, 20000, &ssrc, 1, rtcp, sizeof rtcp - 32,
                                         &rlen),
                     TDM_OK);
    assert_int_equal(tdm_peer_send_rtcp(sub2.peer, rtcp, rlen, sizeof rtcp), TDM_OK);
    rw.value = 150000;
    assert_true(loopback_run_until(ctx, remb_is, &rw, 5000));

    /* The relay counted it all. */
    static http_reply rep;
    http("GET", "/metrics", NULL, NULL, NULL, &rep);
    assert_int_equal(rep.status, 200);
    rep.body[rep.body_len] = '\0';
    assert_non_null(strstr(rep.body, "tandem_relay_endpoints 3\n"));
    assert_non_null(strstr(rep.body, "tandem_relay_retransmissions_total 1\n"));
    assert_null(strstr(rep.body, "tandem_relay_packets_in_total 0\n"));

    /* Trickle: one more candidate for viewer-1 (204); an ICE restart for
     * viewer-2 answers 200 with the relay's new credentials and candidates. */
    {
        char token[TDM_TOKEN_MAX_LEN + 1];
        mint(sub1.name, TDM_TOKEN_ROLE_SUBSCRIBE, token, sizeof token);
        http_ex("PATCH", sub1.location, token, "application/trickle-ice-sdpfrag", NULL,
                "m=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n"
                "a=candidate:9 1 UDP 1 127.0.0.1 9 typ host\r\n",
                &rep);
        assert_int_equal(rep.status, 204);
        mint(sub2.name, TDM_TOKEN_ROLE_SUBSCRIBE, token, sizeof token);
        http_ex("PATCH", sub2.location, token, "application/trickle-ice-sdpfrag", "*",
                "a=ice-ufrag:rest\r\na=ice-pwd:restartrestartrestartrestart\r\n"
                "m=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n",
                &rep);
        if (rep.status != 200)
            fail_msg("restart answered %d: %.*s", rep.status, (int)rep.body_len, rep.body);
        rep.body[rep.body_len] = '\0';
        assert_non_null(strstr(rep.body, "a=ice-ufrag:"));
        assert_non_null(strstr(rep.body, "a=candidate:"));
        assert_non_null(strstr(rep.body, "127.0.0.1"));
    }

    /* Leaving: DELETE each endpoint, then the session is gone. */
    client *all[3] = {&sub1, &sub2, &pub};
    for (int i = 0; i < 3; i++) {
        char token[TDM_TOKEN_MAX_LEN + 1];
        mint(all[i]->name, all[i]->publish ? TDM_TOKEN_ROLE_PUBLISH : TDM_TOKEN_ROLE_SUBSCRIBE,
             token, sizeof token);
        http("DELETE", all[i]->location, token, NULL, NULL, &rep);
        assert_int_equal(rep.status, 200);
    }
    http("GET", "/metrics", NULL, NULL, NULL, &rep);
    rep.body[rep.body_len] = '\0';
    assert_non_null(strstr(rep.body, "tandem_relay_sessions 0\n"));

    for (int i = 0; i < 3; i++) {
        tdm_peer_free(all[i]->peer);
        tdm_dtls_identity_free(all[i]->id);
        for (size_t k = 0; k < all[i]->n_cands; k++)
            free(all[i]->cands[k]);
    }
    loopback_drain(ctx);
    g_main_context_unref(ctx);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-tandem-relay\n", argv[0]);
        return 2;
    }
    relay_path = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(relay_forwards_between_peers),
    };
    return cmocka_run_group_tests(tests, start_relay, teardown);
}
