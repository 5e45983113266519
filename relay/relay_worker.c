/* relay_worker.c: one media worker (relay_worker.h): its sessions and
 * endpoints, the WHIP/WHEP operations over tdm_peer, and the forwarding
 * path that ties peers to the room, NACK cache and keyframe throttle. */
#include "relay_worker.h"

#include <glib.h>
#include <inttypes.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "tdm_assembler.h"
#include "tdm_dtls.h"
#include "tdm_keyframe_throttle.h"
#include "tdm_nack_cache.h"
#include "tdm_peer.h"
#include "tdm_room.h"
#include "tdm_rtcp.h"
#include "tdm_rtp.h"
#include "tdm_rtp_stats.h"
#include "tdm_sdp.h"
#include "tdm_vp8_rtp.h"
#include "tdm_vp9_rtp.h"
#include "tdm_relay.h"
#include "tdm_rec_writer.h"
#include "tdm_sig_keys.h"

#define GATHER_TIMEOUT_MS 2000
#define MAX_SUBS_DEFAULT 16
/* A session holds its publisher and its subscribers. */
#define MAX_SESSION_EPS (TDM_RELAY_MAX_ENDPOINTS)
#define MAX_PT_CODECS 16
#define PKT_CAP (1500 + TDM_ROOM_MAX_EXT_ELEMENTS + 4 + TDM_ROOM_TRAILER_ROOM)
#define THROTTLE_TICK_MS 50
#define REPORT_INTERVAL_US 1000000u

typedef struct session session;

typedef struct endpoint {
    bool used;
    bool dead; /* the peer failed or closed; reaped outside its callbacks */
    tdm_relay_worker *relay;
    session *sess;
    tdm_whip_endpoint info;
    tdm_peer *peer;
    bool gathered;
    /* Being created: gathering runs the worker's loop inside the create
     * call, where a failing peer would otherwise be reaped (freed) under
     * it. The reaper leaves it alone; create checks dead itself. */
    bool creating;
    int sub_id; /* room subscriber id, -1 for the publisher */
    uint32_t ssrc_video, ssrc_audio; /* subscriber: what the relay sends with */
    /* Publisher: the offer's payload types, to latch a stream's codec. */
    size_t n_pts;
    struct {
        uint8_t pt;
        tdm_codec codec;
        uint32_t ssrc; /* the m-line's first a=ssrc; 0 when it declares none */
    } pts[MAX_PT_CODECS];
    /* The header extensions negotiated with this client (the offer's ids
     * of those the answer kept): the room forwards these and strips the
     * rest. */
    size_t n_exts;
    tdm_room_extension exts[TDM_ROOM_MAX_EXTENSIONS];
    char ext_uris[TDM_ROOM_MAX_EXTENSIONS][128];
    char mid[TDM_SDP_MID_MAX + 1];
    char kind_name[16];
    uint64_t remb_bps; /* subscriber's last REMB, 0 if none */
    /* Subscriber: what the relay sent on each of its streams (0 video,
     * 1 audio), for its sender reports. */
    struct {
        bool any;
        uint32_t packets, octets, last_ts;
        uint64_t last_us;
    } tx[2];
} endpoint;

struct session {
    bool used;
    tdm_relay_worker *worker;
    char id[TDM_TOKEN_ID_MAX + 1];
    tdm_room *room;
    endpoint *publisher;
    size_t n_streams;
    tdm_room_stream streams[TDM_ROOM_MAX_STREAMS];
    tdm_nack_cache *cache[TDM_ROOM_MAX_STREAMS];
    /* Ingest side of each video stream: finds what the publisher -> relay
     * leg lost and asks the publisher again (NACK), or for a keyframe when a
     * frame cannot be saved. It reuses the frame assembler for its NACK
     * logic (one copy of each packet into its ring; the frames it completes
     * are dropped): the relay forwards packets as they come, never waiting
     * for a frame. */
    tdm_assembler *ingest[TDM_ROOM_MAX_STREAMS];
    tdm_keyframe_throttle *throttle;
    /* Receiver statistics of each publisher stream, for the receiver
     * reports the relay sends the publisher. */
    tdm_rtp_recv_stats rx[TDM_ROOM_MAX_STREAMS];
    uint64_t next_report_us;
    /* The session's recording while it has a publisher (NULL: not
     * recording), and the recording's stream id for each codec (0: none). */
    tdm_rec_writer *rec;
    uint8_t rec_stream[TDM_CODEC_OPUS + 1];
    char rec_path[512];
    uint32_t relay_ssrc; /* sender SSRC of the RTCP the relay writes */
    uint64_t remb_sent_bps;
    size_t n_eps;
    endpoint *eps[MAX_SESSION_EPS];
};

typedef struct relay_metrics {
    uint64_t packets_in, bytes_in, packets_out, bytes_out;
    uint64_t drops_unlatched, drops_room, drops_send, drops_rtcp;
    uint64_t nacks_in, retransmissions, retransmission_misses;
    uint64_t plis_in, firs_in, plis_out, rembs_out;
    uint64_t nacks_out; /* sequence numbers asked of publishers */
    uint64_t ingest_keyframe_events; /* frames the ingest tracker could not complete */
    uint64_t srs_out, rrs_out;
    uint64_t recordings_started, recordings_failed;
    /* Totals of recordings already closed. */
    uint64_t rec_bytes_gone, rec_drops_gone, rec_io_errors_gone;
    uint64_t endpoints_created;
    uint64_t endpoints_failed[TDM_PEER_FAIL_SRTP + 1];
    uint64_t selected[4][4][2];
    /* Counters of peers already freed, so totals survive them. */
    uint64_t srtp_fail_gone[TDM_SRTP_FAIL_COUNT];
    uint64_t unknown_gone, early_gone;
} relay_metrics;

struct tdm_relay_worker {
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    gint running; /* atomic */
    GMutex hop_mutex;
    GCond hop_cond;
    GSource *tick;
    GSource *reaper;
    int index;
    const tdm_dtls_identity *identity; /* the node's */
    char local_addr[TDM_ICE_MAX_LOCAL_ADDRESSES][64];
    size_t n_local;
    bool ice_tcp;
    uint32_t consent_timeout_ms;
    char record_dir[256]; /* "" when not recording */
    uint8_t rec_master[TDM_SIG_MASTER_KEY_LEN];
    tdm_relay *node; /* where recording events go for the audit trail */
    size_t max_subscribers;
    size_t max_sessions;
    gint n_sessions; /* atomic: read by the node for placement */
    session sessions[TDM_RELAY_MAX_SESSIONS];
    endpoint eps[TDM_RELAY_MAX_ENDPOINTS];
    relay_metrics m;
};

static uint64_t now_us(void)
{
    return (uint64_t)g_get_monotonic_time();
}

static uint32_t random_u32(void)
{
    uint32_t v = 0;
    while (v == 0)
        if (RAND_bytes((uint8_t *)&v, sizeof v) != 1)
            v = g_random_int();
    return v;
}

/* --- hopping onto the media thread -------------------------------------- */

typedef struct hop {
    tdm_relay_worker *r;
    void (*run)(void *arg);
    void *arg;
    bool done;
} hop;

static gboolean hop_dispatch(gpointer p)
{
    hop *h = p;
    h->run(h->arg);
    g_mutex_lock(&h->r->hop_mutex);
    h->done = true;
    g_cond_broadcast(&h->r->hop_cond);
    g_mutex_unlock(&h->r->hop_mutex);
    return G_SOURCE_REMOVE;
}

/* Runs run(arg) on the media thread and waits for it. false when the media
 * thread is not running (nothing ran). */
static bool run_on_media(tdm_relay_worker *r, void (*run)(void *), void *arg)
{
    if (!g_atomic_int_get(&r->running))
        return false;
    hop h = {.r = r, .run = run, .arg = arg};
    g_main_context_invoke(r->ctx, hop_dispatch, &h);
    g_mutex_lock(&r->hop_mutex);
    while (!h.done)
        g_cond_wait(&r->hop_cond, &r->hop_mutex);
    g_mutex_unlock(&r->hop_mutex);
    return true;
}

/* --- tables ------------------------------------------------------------- */

static session *session_find(tdm_relay_worker *r, const char *id)
{
    for (size_t i = 0; i < TDM_RELAY_MAX_SESSIONS; i++)
        if (r->sessions[i].used && strcmp(r->sessions[i].id, id) == 0)
            return &r->sessions[i];
    return NULL;
}

static void session_free(session *s)
{
    if (s->used)
        g_atomic_int_add(&s->worker->n_sessions, -1);
    tdm_room_free(s->room);
    for (size_t i = 0; i < TDM_ROOM_MAX_STREAMS; i++) {
        tdm_nack_cache_free(s->cache[i]);
        tdm_assembler_free(s->ingest[i]);
    }
    tdm_keyframe_throttle_free(s->throttle);
    memset(s, 0, sizeof *s);
}

static tdm_status session_get(tdm_relay_worker *r, const char *id, session **out, tdm_error *err)
{
    session *s = session_find(r, id);
    if (s) {
        *out = s;
        return TDM_OK;
    }
    for (size_t i = 0; i < r->max_sessions; i++) {
        if (r->sessions[i].used)
            continue;
        s = &r->sessions[i];
        s->worker = r;
        tdm_room_config rc;
        tdm_room_config_default(&rc);
        rc.max_subscribers = r->max_subscribers;
        if (tdm_room_new(&rc, &s->room) != TDM_OK ||
            tdm_keyframe_throttle_new(NULL, &s->throttle) != TDM_OK) {
            session_free(s);
            return tdm_fail(err, TDM_ERR_NOMEM, "relay is out of memory");
        }
        s->used = true;
        g_atomic_int_inc(&r->n_sessions);
        snprintf(s->id, sizeof s->id, "%s", id);
        s->relay_ssrc = random_u32();
        *out = s;
        return TDM_OK;
    }
    return tdm_fail(err, TDM_ERR_UNAVAILABLE, "relay is full");
}

static endpoint *endpoint_find(tdm_relay_worker *r, const char *rid)
{
    for (size_t i = 0; i < TDM_RELAY_MAX_ENDPOINTS; i++)
        if (r->eps[i].used && !r->eps[i].dead && strcmp(r->eps[i].info.resource_id, rid) == 0)
            return &r->eps[i];
    return NULL;
}

static endpoint *session_subscriber(session *s, int sub_id)
{
    for (size_t i = 0; i < s->n_eps; i++)
        if (s->eps[i]->sub_id == sub_id && s->eps[i] != s->publisher)
            return s->eps[i];
    return NULL;
}

/* --- recording ----------------------------------------------------------- */

/* Hands a recording start or stop to the node for the audit trail: one
 * short locked copy per publisher, never per packet. The file goes by its
 * base name: where record_dir lies is the relay's business. */
static void recording_note(tdm_relay_worker *r, const session *s, tdm_relay_rec_kind kind,
                           uint64_t packets, uint64_t dropped, const char *hex)
{
    if (!r->node)
        return;
    tdm_relay_rec_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    snprintf(ev.session, sizeof ev.session, "%s", s->id);
    const char *slash = strrchr(s->rec_path, '/');
    snprintf(ev.file, sizeof ev.file, "%s", slash ? slash + 1 : s->rec_path);
    ev.packets = packets;
    ev.dropped = dropped;
    if (hex)
        snprintf(ev.sha256, sizeof ev.sha256, "%s", hex);
    ev.ts_ms = g_get_real_time() / 1000;
    tdm_relay_note_recording_event(r->node, &ev);
}

/* Opens the session's recording when its publisher arrives: one stream per
 * codec the publisher offered, with the SSRC its offer declared (a=ssrc;
 * 0 when it declared none: records carry whole packets, so the SSRC is in
 * each of them anyway), a fresh random key wrapped under the master key with the
 * session id bound in, as signaling wraps keys (tdm_sig_keys.h): the file
 * holds only the wrapped key, so it reveals nothing without the master
 * key. A failure to open is logged and counted; forwarding goes on. */
static void recording_start(tdm_relay_worker *r, session *s, const endpoint *ep)
{
    if (!r->record_dir[0] || s->rec)
        return;
    tdm_rec_header h;
    memset(&h, 0, sizeof h);
    snprintf(h.session_id, sizeof h.session_id, "%s", s->id);
    h.start_unix_us = (uint64_t)g_get_real_time();
    memset(s->rec_stream, 0, sizeof s->rec_stream);
    for (size_t i = 0; i < ep->n_pts && h.nstreams < TDM_REC_MAX_STREAMS; i++) {
        tdm_codec c = ep->pts[i].codec;
        if ((unsigned)c > TDM_CODEC_OPUS || s->rec_stream[c])
            continue;
        uint8_t id = (uint8_t)(h.nstreams + 1);
        h.streams[h.nstreams++] = (tdm_rec_stream){
            .id = id, .codec = c, .payload_type = ep->pts[i].pt, .ssrc = ep->pts[i].ssrc,
            .clock_hz = c == TDM_CODEC_OPUS ? 48000u : 90000u};
        s->rec_stream[c] = id;
    }
    uint8_t key[TDM_SIG_RECORDING_KEY_LEN], nonce[12];
    tdm_error err = {{0}};
    GDateTime *t = g_date_time_new_now_utc();
    gchar *stamp = g_date_time_format(t, "%Y%m%dT%H%M%SZ");
    snprintf(s->rec_path, sizeof s->rec_path, "%s/%s-%s-%s.tdmrec", r->record_dir, s->id, stamp,
             ep->info.resource_id);
    g_free(stamp);
    g_date_time_unref(t);
    tdm_status st = TDM_ERR_UNAVAILABLE;
    if (RAND_bytes(key, sizeof key) == 1 && RAND_bytes(nonce, sizeof nonce) == 1)
        st = tdm_sig_key_wrap(r->rec_master, key, nonce, s->id, h.wrapped_key, &err);
    else
        tdm_fail(&err, st, "no random bytes for the recording key");
    if (st == TDM_OK) {
        tdm_rec_writer_config wc = {.header = &h, .rec_key = key};
        st = tdm_rec_writer_open(s->rec_path, &wc, &s->rec, &err);
    }
    OPENSSL_cleanse(key, sizeof key);
    if (st != TDM_OK) {
        s->rec = NULL;
        r->m.recordings_failed++;
        fprintf(stderr, "tandem-relay: cannot record session %s: %s\n", s->id, err.msg);
        return;
    }
    r->m.recordings_started++;
    fprintf(stderr, "tandem-relay: recording session %s to %s\n", s->id, s->rec_path);
    recording_note(r, s, TDM_RELAY_REC_STARTED, 0, 0, NULL);
}

/* Closes the recording (drains its queue, writes the end, fsyncs) and says
 * where it is and its hash, for ops and the audit trail. */
static void recording_stop(tdm_relay_worker *r, session *s)
{
    if (!s->rec)
        return;
    tdm_rec_writer_stats ws;
    tdm_rec_writer_get_stats(s->rec, &ws);
    uint8_t hash[TDM_REC_HASH_LEN];
    tdm_error err = {{0}};
    tdm_status st = tdm_rec_writer_close(s->rec, now_us(), hash, &err);
    s->rec = NULL;
    r->m.rec_bytes_gone += ws.bytes_written;
    r->m.rec_drops_gone += ws.dropped_full + ws.dropped_too_big;
    r->m.rec_io_errors_gone += ws.io_errors;
    if (st != TDM_OK) {
        fprintf(stderr, "tandem-relay: recording %s ended with an error: %s\n", s->rec_path,
                err.msg);
        return;
    }
    char hex[2 * TDM_REC_HASH_LEN + 1];
    for (size_t i = 0; i < TDM_REC_HASH_LEN; i++)
        snprintf(hex + 2 * i, 3, "%02x", hash[i]);
    fprintf(stderr, "tandem-relay: recording %s closed: %" PRIu64 " packets, %" PRIu64
                    " dropped, sha256 %s\n",
            s->rec_path, ws.pushed, ws.dropped_full + ws.dropped_too_big, hex);
    recording_note(r, s, TDM_RELAY_REC_STOPPED, ws.pushed, ws.dropped_full + ws.dropped_too_big,
                   hex);
}

/* Ends an endpoint: tells the peer (close_notify), takes it out of its
 * session, frees the session once empty. Never from a peer callback. */
static void endpoint_end(tdm_relay_worker *r, endpoint *ep)
{
    session *s = ep->sess;
    if (ep->peer) {
        const tdm_peer_stats *ps = tdm_peer_get_stats(ep->peer);
        for (size_t k = 0; k < TDM_SRTP_FAIL_COUNT; k++)
            r->m.srtp_fail_gone[k] += ps->srtp_in_fail[k];
        r->m.unknown_gone += ps->unknown_dropped;
        r->m.early_gone += ps->early_dropped;
        tdm_peer_close(ep->peer);
        tdm_peer_free(ep->peer);
    }
    if (s) {
        if (s->publisher == ep) {
            recording_stop(r, s);
            s->publisher = NULL;
            s->n_streams = 0;
            s->remb_sent_bps = 0; /* a new publisher must hear the estimate again */
            tdm_room_set_publisher(s->room, NULL);
            for (size_t i = 0; i < TDM_ROOM_MAX_STREAMS; i++) {
                tdm_nack_cache_free(s->cache[i]);
                s->cache[i] = NULL;
                tdm_assembler_free(s->ingest[i]);
                s->ingest[i] = NULL;
            }
            memset(s->rx, 0, sizeof s->rx);
        } else if (ep->sub_id >= 0) {
            tdm_room_remove_subscriber(s->room, ep->sub_id);
        }
        for (size_t i = 0; i < s->n_eps; i++)
            if (s->eps[i] == ep) {
                s->eps[i] = s->eps[--s->n_eps];
                break;
            }
        if (s->n_eps == 0)
            session_free(s);
    }
    memset(ep, 0, sizeof *ep);
}

static gboolean reap(gpointer p)
{
    tdm_relay_worker *r = p;
    for (size_t i = 0; i < TDM_RELAY_MAX_ENDPOINTS; i++)
        if (r->eps[i].used && r->eps[i].dead && !r->eps[i].creating)
            endpoint_end(r, &r->eps[i]);
    g_source_unref(r->reaper);
    r->reaper = NULL;
    return G_SOURCE_REMOVE;
}

/* --- keyframe requests and feedback towards the publisher --------------- */

static void send_pli(tdm_relay_worker *r, session *s, uint32_t media_ssrc)
{
    if (!s->publisher || !s->publisher->peer)
        return;
    uint8_t buf[64];
    size_t len;
    if (tdm_rtcp_write_pli(s->relay_ssrc, media_ssrc, buf, sizeof buf - TDM_PEER_MAX_SRTP_OVERHEAD,
                           &len) != TDM_OK)
        return;
    if (tdm_peer_send_rtcp(s->publisher->peer, buf, len, sizeof buf) == TDM_OK)
        r->m.plis_out++;
}

static uint32_t first_video_ssrc(const session *s)
{
    for (size_t i = 0; i < s->n_streams; i++)
        if (s->streams[i].codec != TDM_CODEC_OPUS)
            return s->streams[i].ssrc;
    return 0;
}

/* Room events -> throttle -> PLI. One throttle per session: a publisher
 * sends one video stream today; per-stream throttles come with simulcast. */
static void drain_events(tdm_relay_worker *r, session *s)
{
    tdm_room_event ev;
    while (tdm_room_poll_event(s->room, &ev) == TDM_OK) {
        if (ev.type != TDM_ROOM_EVENT_KEYFRAME_WANTED)
            continue;
        tdm_keyframe_trigger t = ev.reason == TDM_ROOM_KEYFRAME_JOIN ? TDM_KEYFRAME_TRIGGER_JOIN
                                                                     : TDM_KEYFRAME_TRIGGER_PLI;
        if (tdm_keyframe_throttle_request(s->throttle, t, now_us()))
            send_pli(r, s, ev.publisher_ssrc ? ev.publisher_ssrc : first_video_ssrc(s));
    }
}

/* The ingest tracker's output: NACKs and keyframe requests to the
 * publisher; completed frames are not needed here. */
static void drain_ingest(tdm_relay_worker *r, session *s, size_t k, uint64_t now)
{
    tdm_assembler *a = s->ingest[k];
    if (!a || !s->publisher || !s->publisher->peer)
        return;
    if (tdm_assembler_poll_timeout(a) <= now)
        tdm_assembler_handle_timeout(a, now);
    tdm_encoded_frame f;
    tdm_assembler_frame_info info;
    while (tdm_assembler_poll_frame(a, &f, &info) == TDM_OK)
        ;
    uint16_t seqs[128];
    size_t n;
    while (tdm_assembler_poll_nack(a, seqs, 128, &n) == TDM_OK && n > 0) {
        uint8_t buf[600];
        size_t len;
        if (tdm_rtcp_write_nack(s->relay_ssrc, s->streams[k].ssrc, seqs, n, buf,
                                sizeof buf - TDM_PEER_MAX_SRTP_OVERHEAD, &len) == TDM_OK &&
            tdm_peer_send_rtcp(s->publisher->peer, buf, len, sizeof buf) == TDM_OK)
            r->m.nacks_out += n;
    }
    /* Its keyframe-needed events are not passed on: the relay forwards what
     * it has, and a subscriber that cannot complete a frame asks for the
     * keyframe itself (measured: passing these on made the publisher send
     * keyframes that overtook frames still being repaired at the views). */
    tdm_assembler_event ev;
    while (tdm_assembler_poll_event(a, &ev) == TDM_OK)
        r->m.ingest_keyframe_events++;
}

/* Once a second: a receiver report to the publisher (loss, jitter, LSR)
 * and to each subscriber a sender report per stream it gets (its own
 * packet and octet counts; the RTP time extrapolated from the last packet
 * sent, at the relay's wall clock, so the subscriber can line audio and
 * video up and measure its round trip). */
static void send_reports(tdm_relay_worker *r, session *s, uint64_t now)
{
    uint8_t buf[1024];
    size_t len;
    if (s->publisher && s->publisher->peer && s->n_streams) {
        tdm_rtcp_report_block blocks[TDM_ROOM_MAX_STREAMS];
        size_t n = 0;
        for (size_t k = 0; k < s->n_streams; k++)
            if (tdm_rtp_recv_stats_report(&s->rx[k], s->streams[k].ssrc, now, &blocks[n]))
                n++;
        if (n && tdm_rtcp_write_rr(s->relay_ssrc, blocks, n, buf,
                                   sizeof buf - TDM_PEER_MAX_SRTP_OVERHEAD, &len) == TDM_OK &&
            tdm_peer_send_rtcp(s->publisher->peer, buf, len, sizeof buf) == TDM_OK)
            r->m.rrs_out++;
    }
    uint64_t ntp = tdm_rtp_ntp_from_unix_us((uint64_t)g_get_real_time());
    for (size_t i = 0; i < s->n_eps; i++) {
        endpoint *sub = s->eps[i];
        if (sub == s->publisher || !sub->peer)
            continue;
        for (int kind = 0; kind < 2; kind++) {
            if (!sub->tx[kind].any)
                continue;
            uint32_t rate = kind == 0 ? 90000 : 48000;
            tdm_rtcp_sender_info si = {
                .ntp = ntp,
                .rtp_timestamp = sub->tx[kind].last_ts +
                                 (uint32_t)((now - sub->tx[kind].last_us) * rate / 1000000u),
                .packet_count = sub->tx[kind].packets,
                .octet_count = sub->tx[kind].octets,
            };
            uint32_t ssrc = kind == 0 ? sub->ssrc_video : sub->ssrc_audio;
            if (tdm_rtcp_write_sr(ssrc, &si, NULL, 0, buf, sizeof buf - TDM_PEER_MAX_SRTP_OVERHEAD,
                                  &len) == TDM_OK &&
                tdm_peer_send_rtcp(sub->peer, buf, len, sizeof buf) == TDM_OK)
                r->m.srs_out++;
        }
    }
}

static gboolean tick(gpointer p)
{
    tdm_relay_worker *r = p;
    uint64_t now = now_us();
    for (size_t i = 0; i < r->max_sessions; i++) {
        session *s = &r->sessions[i];
        if (!s->used)
            continue;
        drain_events(r, s); /* the room repeats KEYFRAME_WANTED for waiting subscribers */
        for (size_t k = 0; k < s->n_streams; k++)
            drain_ingest(r, s, k, now);
        if (tdm_keyframe_throttle_poll_timeout(s->throttle) <= now &&
            tdm_keyframe_throttle_handle_timeout(s->throttle, now))
            send_pli(r, s, first_video_ssrc(s));
        if (now >= s->next_report_us) {
            send_reports(r, s, now);
            s->next_report_us = now + REPORT_INTERVAL_US;
        }
    }
    return G_SOURCE_CONTINUE;
}

/* The lowest REMB of the session's subscribers, passed on when it changed. */
#define REMB_FLOOR_BPS 150000u

static void forward_remb(tdm_relay_worker *r, session *s)
{
    uint64_t low = 0;
    for (size_t i = 0; i < s->n_eps; i++) {
        uint64_t b = s->eps[i]->remb_bps;
        if (s->eps[i] != s->publisher && b && (!low || b < low))
            low = b;
    }
    /* A floor, so that one viewer's estimate (a bad link, or a lie) cannot
     * starve everyone's picture: below it a screen is unreadable anyway. */
    if (low && low < REMB_FLOOR_BPS)
        low = REMB_FLOOR_BPS;
    if (!low || low == s->remb_sent_bps || !s->publisher || !s->n_streams)
        return;
    uint32_t ssrcs[TDM_ROOM_MAX_STREAMS];
    for (size_t i = 0; i < s->n_streams; i++)
        ssrcs[i] = s->streams[i].ssrc;
    uint8_t buf[128];
    size_t len;
    if (tdm_rtcp_write_remb(s->relay_ssrc, low, ssrcs, s->n_streams, buf,
                            sizeof buf - TDM_PEER_MAX_SRTP_OVERHEAD, &len) != TDM_OK)
        return;
    if (tdm_peer_send_rtcp(s->publisher->peer, buf, len, sizeof buf) == TDM_OK) {
        s->remb_sent_bps = low;
        r->m.rembs_out++;
    }
}

/* --- the media path ----------------------------------------------------- */

/* The first packet of an SSRC not yet known names a new publisher stream;
 * its codec is what the offer's rtpmap gave its payload type. */
static int latch_stream(tdm_relay_worker *r, endpoint *ep, uint32_t ssrc, uint8_t pt)
{
    session *s = ep->sess;
    for (size_t i = 0; i < s->n_streams; i++)
        if (s->streams[i].ssrc == ssrc)
            return (int)i;
    if (s->n_streams == TDM_ROOM_MAX_STREAMS)
        return -1;
    for (size_t i = 0; i < ep->n_pts; i++) {
        if (ep->pts[i].pt != pt)
            continue;
        /* One stream per codec: subscribers have one SSRC per kind, and two
         * latched VP8 streams would interleave in it. A publisher that
         * restarts its encoder with a new SSRC reconnects. */
        for (size_t j = 0; j < s->n_streams; j++)
            if (s->streams[j].codec == ep->pts[i].codec)
                return -1;
        size_t k = s->n_streams;
        s->streams[k] = (tdm_room_stream){.codec = ep->pts[i].codec, .ssrc = ssrc,
                                          .payload_type = pt};
        tdm_rtp_recv_stats_init(&s->rx[k], ep->pts[i].codec == TDM_CODEC_OPUS ? 48000 : 90000);
        if (s->rec)
            tdm_rec_writer_push_event(s->rec, TDM_REC_STREAM_START,
                                      s->rec_stream[ep->pts[i].codec], now_us());
        tdm_room_publisher_config pc = {.streams = s->streams, .stream_count = k + 1,
                                        .extensions = ep->exts, .extension_count = ep->n_exts};
        if (tdm_room_set_publisher(s->room, &pc) != TDM_OK)
            return -1;
        if (!s->cache[k] && tdm_nack_cache_new(NULL, &s->cache[k]) != TDM_OK)
            return -1;
        if (ep->pts[i].codec != TDM_CODEC_OPUS && !s->ingest[k]) {
            tdm_assembler_config ac;
            tdm_assembler_config_default(&ac, ep->pts[i].codec);
            ac.payload_type = pt;
            ac.lock_ssrc = true;
            ac.ssrc = ssrc;
            if (tdm_assembler_new(&ac, &s->ingest[k]) != TDM_OK)
                return -1;
        }
        s->n_streams = k + 1;
        (void)r;
        return (int)k;
    }
    return -1;
}

/* Whether a publisher packet starts a keyframe, for the throttle. */
static bool starts_keyframe(tdm_codec codec, const tdm_rtp_packet *pkt)
{
    tdm_rtp_drop why;
    if (codec == TDM_CODEC_VP8) {
        tdm_vp8_payload p;
        return tdm_vp8_depacketize(pkt->payload, pkt->payload_len, &p, &why) == TDM_OK &&
               p.keyframe;
    }
    if (codec == TDM_CODEC_VP9) {
        tdm_vp9_payload p;
        return tdm_vp9_depacketize(pkt->payload, pkt->payload_len, &p, &why) == TDM_OK &&
               p.keyframe && p.frame_start;
    }
    return false;
}

static uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Counts a copy for the subscriber's sender report (before encryption:
 * the header is still plain). Octets are the payload's, as RFC 3550 wants. */
static void note_sent(endpoint *sub, uint32_t ssrc, uint32_t ts, size_t payload_len, uint64_t now)
{
    int kind = ssrc == sub->ssrc_video ? 0 : 1;
    sub->tx[kind].packets++;
    sub->tx[kind].octets += (uint32_t)payload_len;
    /* The RTP time is tied to the wall clock when a frame's first packet
     * goes out; its later packets (a paced keyframe) carry the same
     * timestamp and would drag the tie late. */
    if (!sub->tx[kind].any || ts != sub->tx[kind].last_ts) {
        sub->tx[kind].last_ts = ts;
        sub->tx[kind].last_us = now;
    }
    sub->tx[kind].any = true;
}

static void publisher_rtp(endpoint *ep, uint8_t *buf, size_t len)
{
    tdm_relay_worker *r = ep->relay;
    session *s = ep->sess;
    r->m.packets_in++;
    r->m.bytes_in += len;
    tdm_rtp_packet pkt;
    if (tdm_rtp_parse(buf, len, &pkt, NULL) != TDM_OK) {
        r->m.drops_room++;
        return;
    }
    int k = latch_stream(r, ep, pkt.header.ssrc, pkt.header.payload_type);
    if (k < 0) {
        r->m.drops_unlatched++;
        return;
    }
    tdm_nack_cache_put(s->cache[k], pkt.header.seq, buf, len);
    uint64_t now = now_us();
    tdm_rtp_recv_stats_packet(&s->rx[k], pkt.header.seq, pkt.header.timestamp, now);
    if (s->rec) /* a copy into the writer's ring; never blocks (drops are counted) */
        tdm_rec_writer_push_rtp(s->rec, s->rec_stream[s->streams[k].codec], now, buf, len);
    if (s->ingest[k]) {
        /* Malformed packets are counted by the room below; the tracker's own
         * verdict adds nothing, so it is not asked for. */
        tdm_assembler_push(s->ingest[k], now, buf, len, NULL);
        drain_ingest(r, s, (size_t)k, now);
    }
    if (starts_keyframe(s->streams[k].codec, &pkt))
        tdm_keyframe_throttle_on_keyframe(s->throttle, now); /* answers deferred requests */
    tdm_room_output out;
    if (tdm_room_forward(s->room, now, buf, len, &out) != TDM_OK) {
        r->m.drops_room++;
        return;
    }
    if (out.drop)
        r->m.drops_room++;
    for (size_t i = 0; i < out.count; i++) {
        const tdm_room_packet *p = &out.packets[i];
        endpoint *sub = session_subscriber(s, p->subscriber);
        if (!sub || !sub->peer)
            continue;
        size_t plen = p->len;
        /* Read before the send encrypts the packet in place. */
        uint32_t ts = read_be32(p->data + 4), ssrc = read_be32(p->data + 8);
        if (tdm_peer_send_rtp(sub->peer, p->data, plen, p->cap) == TDM_OK) {
            note_sent(sub, ssrc, ts, pkt.payload_len, now);
            r->m.packets_out++;
            r->m.bytes_out += plen;
        } else {
            r->m.drops_send++;
        }
    }
    drain_events(r, s);
}

static void answer_nack(tdm_relay_worker *r, endpoint *ep, const tdm_rtcp_nack *nack)
{
    session *s = ep->sess;
    uint16_t seqs[512];
    /* At most 64 retransmissions per NACK: one small RTCP packet must not
     * make the relay send hundreds of times its size (a NACK may name the
     * same packets over and over). */
    size_t n = tdm_rtcp_nack_seqs(nack, seqs, 512);
    if (n > 64)
        n = 64;
    for (size_t i = 0; i < n; i++) {
        r->m.nacks_in++;
        uint32_t pub_ssrc;
        uint16_t pub_seq;
        if (tdm_room_map_nack(s->room, ep->sub_id, nack->media_ssrc, seqs[i], &pub_ssrc,
                              &pub_seq) != TDM_OK) {
            r->m.retransmission_misses++;
            continue;
        }
        tdm_nack_cache *cache = NULL;
        for (size_t k = 0; k < s->n_streams; k++)
            if (s->streams[k].ssrc == pub_ssrc)
                cache = s->cache[k];
        const uint8_t *pkt;
        size_t plen;
        tdm_nack_miss miss = TDM_NACK_MISS_NOT_SEEN;
        if (!cache || tdm_nack_cache_get(cache, pub_seq, &pkt, &plen, &miss) != TDM_OK) {
            r->m.retransmission_misses++;
            /* Not seen yet is usually a packet the publisher -> relay leg
             * lost, which the ingest tracker is already asking for: the
             * subscriber asks again and gets it then. A keyframe now would
             * overtake the frames being repaired (measured: views skipped
             * frames). Only a packet too old to ever be had needs one. */
            if (miss == TDM_NACK_MISS_TOO_OLD)
                tdm_room_request_keyframe(s->room, ep->sub_id, nack->media_ssrc,
                                          TDM_ROOM_KEYFRAME_LOSS);
            continue;
        }
        uint8_t out[PKT_CAP];
        size_t olen;
        if (tdm_room_write_retransmission(s->room, ep->sub_id, nack->media_ssrc, seqs[i], pkt,
                                          plen, out, sizeof out - TDM_ROOM_TRAILER_ROOM,
                                          &olen) != TDM_OK) {
            r->m.retransmission_misses++;
            continue;
        }
        if (tdm_peer_send_rtp(ep->peer, out, olen, sizeof out) == TDM_OK) {
            r->m.retransmissions++;
            r->m.packets_out++;
            r->m.bytes_out += olen;
        }
    }
}

static void subscriber_rtcp(endpoint *ep, const uint8_t *buf, size_t len)
{
    tdm_relay_worker *r = ep->relay;
    session *s = ep->sess;
    tdm_rtcp_iter it;
    tdm_rtcp_drop why;
    if (tdm_rtcp_iter_init(&it, buf, len, &why) != TDM_OK) {
        r->m.drops_rtcp++;
        return;
    }
    tdm_rtcp_item item;
    bool remb = false;
    while (tdm_rtcp_iter_next(&it, &item) == TDM_OK) {
        switch (item.type) {
        case TDM_RTCP_NACK:
            answer_nack(r, ep, &item.u.nack);
            break;
        case TDM_RTCP_PLI:
            r->m.plis_in++;
            tdm_room_request_keyframe(s->room, ep->sub_id, item.u.pli.media_ssrc,
                                      TDM_ROOM_KEYFRAME_PLI);
            break;
        case TDM_RTCP_FIR:
            r->m.firs_in++;
            for (size_t i = 0; i < item.u.fir.entry_count; i++)
                tdm_room_request_keyframe(s->room, ep->sub_id,
                                          tdm_rtcp_fir_entry_at(&item.u.fir, i).ssrc,
                                          TDM_ROOM_KEYFRAME_PLI);
            break;
        case TDM_RTCP_REMB:
            ep->remb_bps = item.u.remb.bitrate_bps;
            remb = true;
            break;
        default:
            break; /* SR/RR/SDES/BYE: the relay writes no reports of its own yet */
        }
    }
    drain_events(r, s);
    if (remb)
        forward_remb(r, s);
}

/* The publisher's sender reports feed the LSR/DLSR of the relay's receiver
 * reports (so the publisher can measure its round trip to the relay). */
static void publisher_rtcp(endpoint *ep, const uint8_t *buf, size_t len)
{
    session *s = ep->sess;
    tdm_rtcp_iter it;
    if (tdm_rtcp_iter_init(&it, buf, len, NULL) != TDM_OK) {
        ep->relay->m.drops_rtcp++;
        return;
    }
    tdm_rtcp_item item;
    uint64_t now = now_us();
    while (tdm_rtcp_iter_next(&it, &item) == TDM_OK) {
        if (item.type != TDM_RTCP_SR || !item.u.report.has_sender_info)
            continue;
        for (size_t k = 0; k < s->n_streams; k++)
            if (s->streams[k].ssrc == item.u.report.ssrc)
                tdm_rtp_recv_stats_sender_report(&s->rx[k], item.u.report.sender.ntp, now);
    }
}

/* --- peer callbacks ----------------------------------------------------- */

static void on_state(void *user, tdm_peer_state state, tdm_peer_fail fail, const char *reason)
{
    endpoint *ep = user;
    (void)reason;
    if (state != TDM_PEER_FAILED && state != TDM_PEER_CLOSED)
        return;
    if (state == TDM_PEER_FAILED && (size_t)fail <= TDM_PEER_FAIL_SRTP)
        ep->relay->m.endpoints_failed[fail]++;
    ep->dead = true;
    /* Freeing the peer inside its own callback is not allowed: reap later. */
    tdm_relay_worker *r = ep->relay;
    if (!r->reaper) {
        r->reaper = g_idle_source_new();
        g_source_set_callback(r->reaper, reap, r, NULL);
        g_source_attach(r->reaper, r->ctx);
    }
}

static void on_rtp(void *user, uint8_t *buf, size_t len)
{
    endpoint *ep = user;
    if (ep->dead || !ep->sess)
        return;
    if (ep->sess->publisher == ep)
        publisher_rtp(ep, buf, len);
}

static void on_rtcp(void *user, uint8_t *buf, size_t len)
{
    endpoint *ep = user;
    if (ep->dead || !ep->sess)
        return;
    if (ep->sess->publisher != ep)
        subscriber_rtcp(ep, buf, len);
    else
        publisher_rtcp(ep, buf, len);
}

static void on_ice_event(void *user, const tdm_ice_event *ev)
{
    endpoint *ep = user;
    if (ev->type == TDM_ICE_EV_GATHERING_DONE)
        ep->gathered = true;
    if (ev->type == TDM_ICE_EV_SELECTED_PAIR && (unsigned)ev->local_type < 4 &&
        (unsigned)ev->remote_type < 4)
        ep->relay->m.selected[ev->local_type][ev->remote_type]
                             [ev->local_transport == TDM_ICE_UDP ? 0 : 1]++;
}

/* --- candidates between text and struct --------------------------------- */

static void candidate_text(const tdm_sdp_candidate *c, char *out, size_t cap)
{
    int n = snprintf(out, cap, "candidate:%s %u %s %" PRIu32 " %s %u typ %s", c->foundation,
                     (unsigned)c->component, c->transport == TDM_SDP_TCP ? "TCP" : "UDP",
                     c->priority, c->address, (unsigned)c->port, tdm_sdp_cand_type_name(c->type));
    if (n > 0 && (size_t)n < cap && c->has_raddr)
        n += snprintf(out + n, cap - (size_t)n, " raddr %s rport %u", c->raddr,
                      (unsigned)c->rport);
    if (n > 0 && (size_t)n < cap && c->transport == TDM_SDP_TCP) {
        static const char *const tt[] = {"", "active", "passive", "so"};
        if (c->tcptype != TDM_SDP_TCPTYPE_NONE)
            snprintf(out + n, cap - (size_t)n, " tcptype %s", tt[c->tcptype]);
    }
}

typedef struct cand_list {
    tdm_sdp_candidate c[TDM_SDP_MAX_CANDIDATES];
    size_t n;
} cand_list;

/* Reads libnice's "candidate:F C TRANSPORT PRIO ADDR PORT typ TYPE ..." */
static void collect_candidate(void *user, const char *text)
{
    cand_list *l = user;
    if (l->n == TDM_SDP_MAX_CANDIDATES)
        return;
    tdm_sdp_candidate *c = &l->c[l->n];
    memset(c, 0, sizeof *c);
    char transport[8], type[8];
    unsigned comp, port;
    uint32_t prio;
    if (strncmp(text, "candidate:", 10) != 0 ||
        sscanf(text + 10, "%32s %u %7s %" SCNu32 " %63s %u typ %7s", c->foundation, &comp,
               transport, &prio, c->address, &port, type) != 7)
        return;
    c->component = (uint16_t)comp;
    c->port = (uint16_t)port;
    c->priority = prio;
    c->transport = g_ascii_strcasecmp(transport, "TCP") == 0 ? TDM_SDP_TCP : TDM_SDP_UDP;
    c->type = strcmp(type, "srflx") == 0   ? TDM_SDP_CAND_SRFLX
              : strcmp(type, "prflx") == 0 ? TDM_SDP_CAND_PRFLX
              : strcmp(type, "relay") == 0 ? TDM_SDP_CAND_RELAY
                                           : TDM_SDP_CAND_HOST;
    const char *ra = strstr(text, " raddr ");
    unsigned rport;
    if (ra && sscanf(ra, " raddr %63s rport %u", c->raddr, &rport) == 2) {
        c->has_raddr = true;
        c->rport = (uint16_t)rport;
    }
    if (c->transport == TDM_SDP_TCP) {
        if (strstr(text, "tcptype active"))
            c->tcptype = TDM_SDP_TCPTYPE_ACTIVE;
        else if (strstr(text, "tcptype passive"))
            c->tcptype = TDM_SDP_TCPTYPE_PASSIVE;
        else if (strstr(text, "tcptype so"))
            c->tcptype = TDM_SDP_TCPTYPE_SO;
    }
    l->n++;
}

/* --- backend: create ---------------------------------------------------- */

/* rtpmap encoding names are case-insensitive (RFC 4855 3); tdm_codec_parse
 * takes only our own spelling. */
static bool codec_from_encoding(const char *enc, tdm_codec *out)
{
    static const struct {
        const char *name;
        tdm_codec codec;
    } map[] = {{"VP8", TDM_CODEC_VP8}, {"VP9", TDM_CODEC_VP9}, {"opus", TDM_CODEC_OPUS}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (g_ascii_strcasecmp(enc, map[i].name) == 0) {
            *out = map[i].codec;
            return true;
        }
    return false;
}

/* Keeps the extmaps of an accepted m-line that the answer kept (those in
 * TDM_SDP_EXT_DEFAULT), once per id: BUNDLEd m-lines share one id space. */
static void note_extensions(endpoint *ep, const tdm_sdp_media *m)
{
    for (size_t j = 0; j < m->n_extmaps; j++) {
        const tdm_sdp_extmap *x = &m->extmaps[j];
        if (!(x->known & TDM_SDP_EXT_DEFAULT) || x->id == 0 || x->id > 255)
            continue;
        bool have = false;
        for (size_t k = 0; k < ep->n_exts; k++)
            have |= ep->exts[k].id == x->id;
        if (have || ep->n_exts == TDM_ROOM_MAX_EXTENSIONS)
            continue;
        snprintf(ep->ext_uris[ep->n_exts], sizeof ep->ext_uris[0], "%s", x->uri);
        ep->exts[ep->n_exts] = (tdm_room_extension){.id = (uint8_t)x->id,
                                                    .uri = ep->ext_uris[ep->n_exts]};
        ep->n_exts++;
    }
}

/* Only there so the blocking iteration below wakes at the deadline. */
static gboolean wake_cb(gpointer unused)
{
    (void)unused;
    return G_SOURCE_CONTINUE;
}

/* Iterates the relay's context (we are on its thread, inside a dispatch)
 * until gathering is done or the bound passes. */
static bool gather_sync(tdm_relay_worker *r, endpoint *ep)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)GATHER_TIMEOUT_MS * 1000;
    GSource *t = g_timeout_source_new(GATHER_TIMEOUT_MS);
    g_source_set_callback(t, wake_cb, NULL, NULL);
    g_source_attach(t, r->ctx);
    while (!ep->gathered && g_get_monotonic_time() < deadline)
        g_main_context_iteration(r->ctx, TRUE);
    g_source_destroy(t);
    g_source_unref(t);
    return ep->gathered;
}

/* The m-line whose transport the client uses: the first in use. */
static const tdm_sdp_media *transport_media(const tdm_sdp_session *offer)
{
    for (size_t i = 0; i < offer->n_media; i++) {
        const tdm_sdp_media *m = &offer->media[i];
        if ((m->port != 0 || m->bundle_only) && m->ice.ufrag[0] &&
            (m->kind == TDM_SDP_MEDIA_VIDEO || m->kind == TDM_SDP_MEDIA_AUDIO))
            return m;
    }
    return NULL;
}

typedef struct create_args {
    tdm_relay_worker *r;
    const tdm_whip_endpoint *ep;
    const tdm_sdp_session *offer;
    char *answer;
    size_t cap;
    size_t *answer_len;
    tdm_error *err;
    tdm_status st;
} create_args;

static tdm_status create_on_media(tdm_relay_worker *r, const tdm_whip_endpoint *wep,
                                  const tdm_sdp_session *offer, char *answer, size_t cap,
                                  size_t *answer_len, tdm_error *err)
{
    const tdm_sdp_media *m = transport_media(offer);
    if (!m || !m->dtls.has_fingerprint)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED, "offer has no usable audio or video m-line");
    tdm_sdp_setup setup = tdm_sdp_answer_setup(m->dtls.setup);
    if (setup == TDM_SDP_SETUP_NONE)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED, "offer's a=setup cannot be answered");
    bool publish = wep->role == TDM_TOKEN_ROLE_PUBLISH;
    session *existing = session_find(r, wep->session);
    if (publish && existing && existing->publisher)
        return tdm_fail(err, TDM_ERR_INVALID, "this session already has a publisher");

    endpoint *ep = NULL;
    for (size_t i = 0; i < TDM_RELAY_MAX_ENDPOINTS && !ep; i++)
        if (!r->eps[i].used)
            ep = &r->eps[i];
    if (!ep)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "relay is full");
    memset(ep, 0, sizeof *ep);
    ep->used = true;
    ep->creating = true;
    ep->relay = r;
    ep->info = *wep;
    ep->sub_id = -1;
    snprintf(ep->info.remote_ufrag, sizeof ep->info.remote_ufrag, "%s", m->ice.ufrag);
    snprintf(ep->info.remote_pwd, sizeof ep->info.remote_pwd, "%s", m->ice.pwd);
    snprintf(ep->mid, sizeof ep->mid, "%s", m->mid);
    snprintf(ep->kind_name, sizeof ep->kind_name, "%s", m->kind_name);

    tdm_ice_config ice;
    tdm_ice_config_init(&ice, r->ctx, false);
    for (size_t i = 0; i < r->n_local; i++)
        ice.local_addresses[i] = r->local_addr[i];
    ice.n_local_addresses = r->n_local;
    ice.ice_tcp = r->ice_tcp;
    ice.consent_timeout_ms = r->consent_timeout_ms;
    tdm_peer_config pc;
    tdm_peer_config_init(&pc, &ice, r->identity,
                         setup == TDM_SDP_SETUP_ACTIVE ? TDM_DTLS_CLIENT : TDM_DTLS_SERVER,
                         m->dtls.fingerprint);
    tdm_peer_callbacks cb = {.on_state = on_state, .on_rtp = on_rtp, .on_rtcp = on_rtcp,
                             .on_ice_event = on_ice_event, .user = ep};
    tdm_status st = tdm_peer_new(&pc, &cb, &ep->peer, err);
    if (st != TDM_OK)
        goto fail_unavailable;
    tdm_ice *ia = tdm_peer_ice(ep->peer);
    st = tdm_ice_gather(ia, err);
    if (st != TDM_OK)
        goto fail_unavailable;
    if (!gather_sync(r, ep) && !tdm_ice_foreach_local_candidate(ia, NULL, NULL)) {
        tdm_fail(err, TDM_ERR_UNAVAILABLE, "relay could not gather ICE candidates");
        goto fail_unavailable;
    }
    if (ep->dead) {
        tdm_fail(err, TDM_ERR_UNAVAILABLE, "the connection failed while it was being set up");
        goto fail_unavailable;
    }
    st = tdm_ice_set_remote_credentials(ia, m->ice.ufrag, m->ice.pwd, err);
    if (st != TDM_OK) {
        st = TDM_ERR_FORMAT;
        goto fail;
    }
    for (size_t i = 0; i < m->n_candidates; i++) {
        char text[TDM_ICE_CANDIDATE_MAX];
        candidate_text(&m->candidates[i], text, sizeof text);
        tdm_error ignored;
        tdm_ice_add_remote_candidate(ia, text, &ignored); /* mDNS names are skipped */
    }
    if (m->end_of_candidates)
        tdm_ice_remote_gathering_done(ia);

    cand_list *cands = g_new0(cand_list, 1);
    tdm_ice_foreach_local_candidate(ia, collect_candidate, cands);
    const char *ufrag, *pwd;
    tdm_ice_local_credentials(ia, &ufrag, &pwd);
    tdm_sdp_local local = {
        .ice_ufrag = ufrag,
        .ice_pwd = pwd,
        .session_id = ((uint64_t)random_u32() << 32) | random_u32(),
        .codecs = TDM_SDP_CODECS_ALL,
        .extensions = TDM_SDP_EXT_DEFAULT,
        .candidates = cands->c,
        .n_candidates = cands->n,
        .candidates_complete = true,
    };
    memcpy(local.fingerprint, tdm_dtls_identity_fingerprint(r->identity), TDM_SDP_FINGERPRINT_LEN);
    if (!publish) {
        ep->ssrc_video = random_u32();
        ep->ssrc_audio = random_u32();
        local.ssrc_video = ep->ssrc_video;
        local.ssrc_audio = ep->ssrc_audio;
        local.cname = "tandem-relay";
        local.msid_stream = "tandem";
    }
    tdm_sdp_answer_info info;
    st = tdm_sdp_answer(offer, &local, publish ? TDM_SDP_ROLE_PUBLISH : TDM_SDP_ROLE_SUBSCRIBE,
                        answer, cap, answer_len, &info, err);
    g_free(cands);
    if (st != TDM_OK)
        goto fail;

    /* The codecs of the accepted m-lines, by the offerer's payload types. */
    tdm_room_subscriber_stream subs[TDM_ROOM_MAX_STREAMS];
    size_t n_subs = 0;
    for (size_t i = 0; i < offer->n_media; i++) {
        if (!info.accepted[i])
            continue;
        const tdm_sdp_media *am = &offer->media[i];
        note_extensions(ep, am);
        for (size_t k = 0; k < am->n_codecs; k++) {
            tdm_codec codec;
            if (!am->codecs[k].has_rtpmap || !codec_from_encoding(am->codecs[k].encoding, &codec))
                continue;
            if (publish && ep->n_pts < MAX_PT_CODECS) {
                ep->pts[ep->n_pts].pt = am->codecs[k].pt;
                ep->pts[ep->n_pts].codec = codec;
                /* The first is the media SSRC (an FID group lists RTX after it). */
                ep->pts[ep->n_pts].ssrc = am->n_ssrcs ? am->ssrcs[0].ssrc : 0;
                ep->n_pts++;
            }
            bool have = false;
            for (size_t j = 0; j < n_subs; j++)
                have |= subs[j].codec == codec;
            if (!publish && !have && n_subs < TDM_ROOM_MAX_STREAMS)
                subs[n_subs++] = (tdm_room_subscriber_stream){
                    .codec = codec, .payload_type = am->codecs[k].pt,
                    .ssrc = codec == TDM_CODEC_OPUS ? ep->ssrc_audio : ep->ssrc_video,
                    .first_seq = (uint16_t)random_u32()};
        }
    }

    /* Nothing below runs the loop, so no callback can kill it from here. */
    if (ep->dead) { /* failed already: the reaper may have passed it by */
        tdm_fail(err, TDM_ERR_UNAVAILABLE, "the connection failed while it was being set up");
        goto fail_unavailable;
    }
    session *s = NULL;
    st = session_get(r, wep->session, &s, err);
    if (st != TDM_OK)
        goto fail;
    if (publish) {
        s->publisher = ep;
        recording_start(r, s, ep);
    } else {
        tdm_room_subscriber_config sc = {.streams = subs, .stream_count = n_subs,
                                         .extensions = ep->exts, .extension_count = ep->n_exts};
        st = n_subs ? tdm_room_add_subscriber(s->room, &sc, &ep->sub_id) : TDM_ERR_UNSUPPORTED;
        if (st != TDM_OK) {
            if (s->n_eps == 0)
                session_free(s);
            if (st == TDM_ERR_UNSUPPORTED)
                tdm_fail(err, st, "no codec the relay forwards");
            else
                tdm_fail(err, TDM_ERR_UNAVAILABLE, "session is full");
            st = st == TDM_ERR_UNSUPPORTED ? st : TDM_ERR_UNAVAILABLE;
            goto fail;
        }
    }
    ep->creating = false;
    s->eps[s->n_eps++] = ep;
    ep->sess = s;
    r->m.endpoints_created++;
    if (!publish)
        drain_events(r, s); /* the join asks the publisher for a keyframe */
    return TDM_OK;

fail_unavailable:
    st = TDM_ERR_UNAVAILABLE;
fail:
    tdm_peer_free(ep->peer);
    memset(ep, 0, sizeof *ep);
    return st;
}

static void create_run(void *p)
{
    create_args *a = p;
    a->st = create_on_media(a->r, a->ep, a->offer, a->answer, a->cap, a->answer_len, a->err);
}

/* --- backend: lookup, patch, delete ------------------------------------- */

typedef struct lookup_args {
    tdm_relay_worker *r;
    const char *rid;
    tdm_whip_endpoint *out;
    bool found;
} lookup_args;

static void lookup_run(void *p)
{
    lookup_args *a = p;
    endpoint *ep = endpoint_find(a->r, a->rid);
    if (ep) {
        *a->out = ep->info;
        a->found = true;
    }
}


typedef struct patch_args {
    tdm_relay_worker *r;
    const char *rid;
    const tdm_sdp_frag *frag;
    const char *new_etag;
    char *out;
    size_t cap;
    size_t *out_len;
    tdm_error *err;
    tdm_status st;
} patch_args;

static tdm_status patch_on_media(patch_args *a)
{
    endpoint *ep = endpoint_find(a->r, a->rid);
    if (!ep)
        return tdm_fail(a->err, TDM_EOF, "not found");
    tdm_ice *ia = tdm_peer_ice(ep->peer);
    tdm_status st;
    if (a->new_etag) {
        st = tdm_ice_restart(ia, a->err);
        if (st != TDM_OK)
            return tdm_fail(a->err, TDM_ERR_UNSUPPORTED, "ICE restart refused");
        st = tdm_ice_set_remote_credentials(ia, a->frag->ice.ufrag, a->frag->ice.pwd, a->err);
        if (st != TDM_OK)
            return tdm_fail(a->err, TDM_ERR_FORMAT, "bad ICE credentials");
        snprintf(ep->info.etag, sizeof ep->info.etag, "%s", a->new_etag);
        snprintf(ep->info.remote_ufrag, sizeof ep->info.remote_ufrag, "%s", a->frag->ice.ufrag);
        snprintf(ep->info.remote_pwd, sizeof ep->info.remote_pwd, "%s", a->frag->ice.pwd);
    }
    for (size_t i = 0; i < a->frag->n_candidates; i++) {
        char text[TDM_ICE_CANDIDATE_MAX];
        candidate_text(&a->frag->candidates[i].c, text, sizeof text);
        tdm_error ignored;
        tdm_ice_add_remote_candidate(ia, text, &ignored);
    }
    if (a->frag->end_of_candidates)
        tdm_ice_remote_gathering_done(ia);
    if (!a->new_etag)
        return TDM_OK;
    cand_list *cands = g_new0(cand_list, 1);
    tdm_ice_foreach_local_candidate(ia, collect_candidate, cands);
    const char *ufrag, *pwd;
    tdm_ice_local_credentials(ia, &ufrag, &pwd);
    st = tdm_sdp_frag_write(ufrag, pwd, ep->kind_name, ep->mid, cands->c, cands->n, true, a->out,
                            a->cap, a->out_len, a->err);
    g_free(cands);
    return st;
}

static void patch_run(void *p)
{
    patch_args *a = p;
    a->st = patch_on_media(a);
}


typedef struct delete_args {
    tdm_relay_worker *r;
    const char *rid;
    tdm_status st;
} delete_args;

static void delete_run(void *p)
{
    delete_args *a = p;
    endpoint *ep = endpoint_find(a->r, a->rid);
    if (!ep) {
        a->st = TDM_EOF;
        return;
    }
    endpoint_end(a->r, ep);
    a->st = TDM_OK;
}


typedef struct end_session_args {
    tdm_relay_worker *r;
    const char *session;
    const char *participant; /* NULL: every endpoint of the session */
    size_t ended;
} end_session_args;

/* Ends, like delete, every endpoint of a session (or of one participant in
 * it): what signaling's revocation asks for when a session ends. Endpoints
 * still being created are left to fail their token check on the next
 * request: ending one under its create call would free it there. */
static void end_session_run(void *p)
{
    end_session_args *a = p;
    for (size_t i = 0; i < TDM_RELAY_MAX_ENDPOINTS; i++) {
        endpoint *ep = &a->r->eps[i];
        if (!ep->used || ep->creating || strcmp(ep->info.session, a->session) != 0)
            continue;
        if (a->participant && strcmp(ep->info.participant, a->participant) != 0)
            continue;
        endpoint_end(a->r, ep);
        a->ended++;
    }
}

/* --- the worker API (called on the HTTP thread; each call hops) --------- */

tdm_status tdm_relay_worker_create(tdm_relay_worker *w, const tdm_whip_endpoint *ep,
                                   const tdm_sdp_session *offer, char *answer, size_t cap,
                                   size_t *answer_len, tdm_error *err)
{
    create_args a = {w, ep, offer, answer, cap, answer_len, err, TDM_ERR_UNAVAILABLE};
    if (!run_on_media(w, create_run, &a))
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "media plane not running");
    return a.st;
}

bool tdm_relay_worker_lookup(tdm_relay_worker *w, const char *rid, tdm_whip_endpoint *out)
{
    lookup_args a = {w, rid, out, false};
    run_on_media(w, lookup_run, &a);
    return a.found;
}

tdm_status tdm_relay_worker_patch(tdm_relay_worker *w, const char *rid, const tdm_sdp_frag *frag,
                                  const char *new_etag, char *out, size_t cap, size_t *out_len,
                                  tdm_error *err)
{
    patch_args a = {w, rid, frag, new_etag, out, cap, out_len, err, TDM_EOF};
    if (!run_on_media(w, patch_run, &a))
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "media plane not running");
    return a.st;
}

tdm_status tdm_relay_worker_delete(tdm_relay_worker *w, const char *rid)
{
    delete_args a = {w, rid, TDM_EOF};
    run_on_media(w, delete_run, &a);
    return a.st;
}

size_t tdm_relay_worker_end_session(tdm_relay_worker *w, const char *session_id,
                                    const char *participant)
{
    end_session_args a = {w, session_id, participant, 0};
    run_on_media(w, end_session_run, &a);
    return a.ended;
}

typedef struct has_args {
    tdm_relay_worker *w;
    const char *id;
    bool found;
} has_args;

static void has_run(void *p)
{
    has_args *a = p;
    a->found = session_find(a->w, a->id) != NULL;
}

bool tdm_relay_worker_has_session(tdm_relay_worker *w, const char *session_id)
{
    has_args a = {w, session_id, false};
    run_on_media(w, has_run, &a);
    return a.found;
}

size_t tdm_relay_worker_session_count(const tdm_relay_worker *w)
{
    return (size_t)g_atomic_int_get(&w->n_sessions);
}

typedef struct metrics_args {
    tdm_relay_worker *w;
    tdm_relay_worker_metrics *out;
} metrics_args;

static void metrics_run(void *p)
{
    metrics_args *a = p;
    tdm_relay_worker *r = a->w;
    tdm_relay_worker_metrics *o = a->out;
    const relay_metrics *m = &r->m;
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < r->max_sessions; i++)
        o->sessions += r->sessions[i].used;
    memcpy(o->srtp_in_fail, m->srtp_fail_gone, sizeof o->srtp_in_fail);
    o->unknown_dropped = m->unknown_gone;
    o->early_dropped = m->early_gone;
    for (size_t i = 0; i < TDM_RELAY_MAX_ENDPOINTS; i++) {
        if (!r->eps[i].used || !r->eps[i].peer)
            continue;
        o->endpoints++;
        const tdm_peer_stats *ps = tdm_peer_get_stats(r->eps[i].peer);
        for (size_t k = 0; k < TDM_SRTP_FAIL_COUNT; k++)
            o->srtp_in_fail[k] += ps->srtp_in_fail[k];
        o->unknown_dropped += ps->unknown_dropped;
        o->early_dropped += ps->early_dropped;
    }
    o->packets_in = m->packets_in;
    o->bytes_in = m->bytes_in;
    o->packets_out = m->packets_out;
    o->bytes_out = m->bytes_out;
    o->drops_unlatched = m->drops_unlatched;
    o->drops_room = m->drops_room;
    o->drops_send = m->drops_send;
    o->drops_rtcp = m->drops_rtcp;
    o->nacks_in = m->nacks_in;
    o->retransmissions = m->retransmissions;
    o->retransmission_misses = m->retransmission_misses;
    o->plis_in = m->plis_in;
    o->firs_in = m->firs_in;
    o->plis_out = m->plis_out;
    o->rembs_out = m->rembs_out;
    o->nacks_out = m->nacks_out;
    o->ingest_keyframe_events = m->ingest_keyframe_events;
    o->srs_out = m->srs_out;
    o->recordings_started = m->recordings_started;
    o->recordings_failed = m->recordings_failed;
    o->recording_bytes = m->rec_bytes_gone;
    o->recording_drops = m->rec_drops_gone;
    o->recording_io_errors = m->rec_io_errors_gone;
    for (size_t i = 0; i < r->max_sessions; i++) {
        if (!r->sessions[i].used || !r->sessions[i].rec)
            continue;
        tdm_rec_writer_stats ws;
        tdm_rec_writer_get_stats(r->sessions[i].rec, &ws);
        o->recordings_open++;
        o->recording_bytes += ws.bytes_written;
        o->recording_drops += ws.dropped_full + ws.dropped_too_big;
        o->recording_io_errors += ws.io_errors;
    }
    o->rrs_out = m->rrs_out;
    o->endpoints_created = m->endpoints_created;
    memcpy(o->endpoints_failed, m->endpoints_failed, sizeof o->endpoints_failed);
    memcpy(o->selected, m->selected, sizeof o->selected);
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) /* we run on the worker's thread */
        o->cpu_seconds = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool tdm_relay_worker_metrics_get(tdm_relay_worker *w, tdm_relay_worker_metrics *out)
{
    metrics_args a = {w, out};
    return run_on_media(w, metrics_run, &a);
}

/* --- lifecycle ---------------------------------------------------------- */

tdm_status tdm_relay_worker_new(const tdm_relay_worker_config *cfg, tdm_relay_worker **out,
                                tdm_error *err)
{
    if (!cfg || !out || !cfg->identity || cfg->n_local_addresses == 0 ||
        cfg->n_local_addresses > TDM_ICE_MAX_LOCAL_ADDRESSES)
        return tdm_fail(err, TDM_ERR_INVALID, "relay worker: bad configuration");
    tdm_relay_worker *r = calloc(1, sizeof *r);
    if (!r)
        return tdm_fail(err, TDM_ERR_NOMEM, "relay: out of memory");
    for (size_t i = 0; i < cfg->n_local_addresses; i++)
        snprintf(r->local_addr[i], sizeof r->local_addr[i], "%s", cfg->local_addresses[i]);
    r->n_local = cfg->n_local_addresses;
    r->index = cfg->index;
    r->identity = cfg->identity;
    r->ice_tcp = cfg->ice_tcp;
    r->consent_timeout_ms = cfg->consent_timeout_ms;
    if (cfg->record_dir && cfg->recording_master_key) {
        snprintf(r->record_dir, sizeof r->record_dir, "%s", cfg->record_dir);
        memcpy(r->rec_master, cfg->recording_master_key, sizeof r->rec_master);
    }
    r->node = cfg->node;
    r->max_subscribers = cfg->max_subscribers ? cfg->max_subscribers : MAX_SUBS_DEFAULT;
    r->max_sessions = cfg->max_sessions && cfg->max_sessions < TDM_RELAY_MAX_SESSIONS
                          ? cfg->max_sessions
                          : TDM_RELAY_MAX_SESSIONS;
    r->ctx = g_main_context_new();
    r->loop = g_main_loop_new(r->ctx, FALSE);
    g_mutex_init(&r->hop_mutex);
    g_cond_init(&r->hop_cond);
    r->tick = g_timeout_source_new(THROTTLE_TICK_MS);
    g_source_set_callback(r->tick, tick, r, NULL);
    g_source_attach(r->tick, r->ctx);
    *out = r;
    return TDM_OK;
}

static gpointer media_thread(gpointer p)
{
    tdm_relay_worker *r = p;
    g_main_context_push_thread_default(r->ctx);
    g_main_loop_run(r->loop);
    g_main_context_pop_thread_default(r->ctx);
    return NULL;
}

tdm_status tdm_relay_worker_start(tdm_relay_worker *r, tdm_error *err)
{
    if (!r || r->thread)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "relay already runs");
    char name[16];
    snprintf(name, sizeof name, "tdm-media-%d", r->index);
    GError *gerr = NULL;
    r->thread = g_thread_try_new(name, media_thread, r, &gerr);
    if (!r->thread) {
        tdm_fail(err, TDM_ERR_UNAVAILABLE, "cannot start media thread %d: %s", r->index,
                 gerr ? gerr->message : "?");
        g_clear_error(&gerr);
        return TDM_ERR_UNAVAILABLE;
    }
    g_atomic_int_set(&r->running, 1);
    return TDM_OK;
}

static void end_all(void *p)
{
    tdm_relay_worker *r = p;
    for (size_t i = 0; i < TDM_RELAY_MAX_ENDPOINTS; i++)
        if (r->eps[i].used)
            endpoint_end(r, &r->eps[i]);
}

void tdm_relay_worker_stop(tdm_relay_worker *r)
{
    if (!r || !r->thread)
        return;
    run_on_media(r, end_all, r);
    g_atomic_int_set(&r->running, 0);
    g_main_loop_quit(r->loop);
    g_thread_join(r->thread);
    r->thread = NULL;
}

void tdm_relay_worker_free(tdm_relay_worker *r)
{
    if (!r)
        return;
    tdm_relay_worker_stop(r);
    end_all(r); /* never started: the tables are ours now */
    if (r->reaper) {
        g_source_destroy(r->reaper);
        g_source_unref(r->reaper);
    }
    g_source_destroy(r->tick);
    g_source_unref(r->tick);
    /* Let libnice release what it left on the context. */
    for (int i = 0; i < 100 && g_main_context_iteration(r->ctx, FALSE); i++)
        ;
    g_main_loop_unref(r->loop);
    g_main_context_unref(r->ctx);
    g_mutex_clear(&r->hop_mutex);
    g_cond_clear(&r->hop_cond);
    free(r);
}
