/* relay.c: the relay node (tdm_relay.h) — the DTLS identity, the worker
 * threads, which worker holds which session, and /metrics summed over
 * the workers. No media passes through here. */
#include "tdm_relay.h"

#include <glib.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay_worker.h"
#include "tdm_dtls.h"

struct tdm_relay {
    tdm_dtls_identity *identity;
    size_t n_workers;
    tdm_relay_worker *workers[TDM_RELAY_MAX_WORKERS];
    bool running;
    /* Recording events for the heartbeat thread: a ring under its own
     * mutex, touched only when a recording opens or closes and when the
     * heartbeat thread takes them, so forwarding never waits on it. */
    GMutex rec_mu;
    tdm_relay_rec_event rec_q[TDM_RELAY_REC_EVENTS_MAX];
    size_t rec_head, rec_n;
    uint64_t rec_dropped;
};

void tdm_relay_note_recording_event(tdm_relay *r, const tdm_relay_rec_event *ev)
{
    if (!r || !ev)
        return;
    g_mutex_lock(&r->rec_mu);
    if (r->rec_n == TDM_RELAY_REC_EVENTS_MAX) {
        /* Signaling unreachable for long: keep the newest, count the loss
         * (the heartbeat thread logs it) rather than block a worker. */
        r->rec_head = (r->rec_head + 1) % TDM_RELAY_REC_EVENTS_MAX;
        r->rec_n--;
        r->rec_dropped++;
    }
    r->rec_q[(r->rec_head + r->rec_n) % TDM_RELAY_REC_EVENTS_MAX] = *ev;
    r->rec_n++;
    g_mutex_unlock(&r->rec_mu);
}

size_t tdm_relay_take_recording_events(tdm_relay *r, tdm_relay_rec_event *out, size_t cap,
                                       uint64_t *dropped)
{
    if (dropped)
        *dropped = 0;
    if (!r || !out)
        return 0;
    g_mutex_lock(&r->rec_mu);
    size_t n = r->rec_n < cap ? r->rec_n : cap;
    for (size_t i = 0; i < n; i++)
        out[i] = r->rec_q[(r->rec_head + i) % TDM_RELAY_REC_EVENTS_MAX];
    r->rec_head = (r->rec_head + n) % TDM_RELAY_REC_EVENTS_MAX;
    r->rec_n -= n;
    if (dropped)
        *dropped = r->rec_dropped;
    r->rec_dropped = 0;
    g_mutex_unlock(&r->rec_mu);
    return n;
}

size_t tdm_relay_workers(const tdm_relay *r)
{
    return r ? r->n_workers : 0;
}

/* --- placement ---------------------------------------------------------- */

/* The worker that holds the session, or the one with the fewest sessions
 * for a new one. Only the HTTP thread creates endpoints, so no other
 * creation can slip in between this choice and the create that follows.
 * Asking each worker costs a hop per worker per WHIP/WHEP request, which
 * is control-path work; a shared session map would put a lock on the
 * workers' path instead (they free sessions). */
static tdm_relay_worker *worker_for_session(tdm_relay *r, const char *session)
{
    tdm_relay_worker *least = NULL;
    size_t least_n = SIZE_MAX;
    for (size_t i = 0; i < r->n_workers; i++) {
        if (tdm_relay_worker_has_session(r->workers[i], session))
            return r->workers[i];
        size_t n = tdm_relay_worker_session_count(r->workers[i]);
        if (n < least_n) {
            least_n = n;
            least = r->workers[i];
        }
    }
    return least;
}

/* --- backend ------------------------------------------------------------ */

static tdm_status be_create(void *ctx, const tdm_whip_endpoint *ep, const tdm_sdp_session *offer,
                            char *answer, size_t cap, size_t *answer_len, tdm_error *err)
{
    tdm_relay *r = ctx;
    if (!r->running)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "media plane not running");
    tdm_relay_worker *w = worker_for_session(r, ep->session);
    return tdm_relay_worker_create(w, ep, offer, answer, cap, answer_len, err);
}

static bool be_lookup(void *ctx, const char *rid, tdm_whip_endpoint *out)
{
    tdm_relay *r = ctx;
    for (size_t i = 0; i < r->n_workers; i++)
        if (tdm_relay_worker_lookup(r->workers[i], rid, out))
            return true;
    return false;
}

static tdm_status be_patch(void *ctx, const char *rid, const tdm_sdp_frag *frag,
                           const char *new_etag, char *out, size_t cap, size_t *out_len,
                           tdm_error *err)
{
    tdm_relay *r = ctx;
    tdm_status st = tdm_fail(err, TDM_EOF, "not found");
    for (size_t i = 0; i < r->n_workers && st == TDM_EOF; i++)
        st = tdm_relay_worker_patch(r->workers[i], rid, frag, new_etag, out, cap, out_len, err);
    return st;
}

static tdm_status be_delete(void *ctx, const char *rid)
{
    tdm_relay *r = ctx;
    for (size_t i = 0; i < r->n_workers; i++)
        if (tdm_relay_worker_delete(r->workers[i], rid) == TDM_OK)
            return TDM_OK;
    return TDM_EOF;
}

/* Every worker is asked: a session lives on one, but asking all costs a
 * hop each and needs no has_session check that could race a create. */
static tdm_status be_end_session(void *ctx, const char *session, const char *participant,
                                 size_t *ended)
{
    tdm_relay *r = ctx;
    size_t n = 0;
    if (r->running)
        for (size_t i = 0; i < r->n_workers; i++)
            n += tdm_relay_worker_end_session(r->workers[i], session, participant);
    if (ended)
        *ended = n;
    return TDM_OK;
}

/* --- metrics ------------------------------------------------------------ */

typedef struct text_out {
    char *buf;
    size_t cap, len;
    bool overflow;
} text_out;

static void put(text_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_out *o, const char *fmt, ...)
{
    if (o->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len)
        o->overflow = true;
    else
        o->len += (size_t)n;
}

static void counter(text_out *o, const char *name, uint64_t v)
{
    put(o, "# TYPE %s counter\n%s %" PRIu64 "\n", name, name, v);
}

static void gauge(text_out *o, const char *name, uint64_t v)
{
    put(o, "# TYPE %s gauge\n%s %" PRIu64 "\n", name, name, v);
}

/* add_metrics walks the counters as an array: they must be the leading
 * uint64_t fields, with cpu_seconds the first of any other type. */
_Static_assert(offsetof(tdm_relay_worker_metrics, cpu_seconds) % sizeof(uint64_t) == 0 &&
                   offsetof(tdm_relay_worker_metrics, sessions) == 0,
               "tdm_relay_worker_metrics: counters first, all uint64_t");

static void add_metrics(tdm_relay_worker_metrics *sum, const tdm_relay_worker_metrics *m)
{
    /* Every field but cpu_seconds is a uint64_t. */
    uint64_t *s = (uint64_t *)sum;
    const uint64_t *a = (const uint64_t *)m;
    size_t n = offsetof(tdm_relay_worker_metrics, cpu_seconds) / sizeof(uint64_t);
    for (size_t i = 0; i < n; i++)
        s[i] += a[i];
    sum->cpu_seconds += m->cpu_seconds;
}

static tdm_status be_metrics(void *ctx, char *buf, size_t cap, size_t *out_len)
{
    tdm_relay *r = ctx;
    text_out o = {buf, cap, 0, false};
    tdm_relay_worker_metrics per[TDM_RELAY_MAX_WORKERS];
    tdm_relay_worker_metrics m = {0};
    bool up = r->running;
    for (size_t i = 0; up && i < r->n_workers; i++) {
        up = tdm_relay_worker_metrics_get(r->workers[i], &per[i]);
        if (up)
            add_metrics(&m, &per[i]);
    }
    gauge(&o, "tandem_relay_media_plane_up", up ? 1 : 0);
    if (!up)
        goto done;
    gauge(&o, "tandem_relay_workers", r->n_workers);
    gauge(&o, "tandem_relay_sessions", m.sessions);
    gauge(&o, "tandem_relay_endpoints", m.endpoints);
    counter(&o, "tandem_relay_endpoints_created_total", m.endpoints_created);
    uint64_t failed = 0;
    for (size_t k = TDM_PEER_FAIL_ICE; k <= TDM_PEER_FAIL_SRTP; k++)
        failed += m.endpoints_failed[k];
    counter(&o, "tandem_relay_endpoints_failed_total", failed);
    put(&o, "# TYPE tandem_relay_endpoint_failures_total counter\n");
    for (size_t k = TDM_PEER_FAIL_ICE; k <= TDM_PEER_FAIL_SRTP; k++)
        put(&o, "tandem_relay_endpoint_failures_total{reason=\"%s\"} %" PRIu64 "\n",
            tdm_peer_fail_name((tdm_peer_fail)k), m.endpoints_failed[k]);
    counter(&o, "tandem_relay_packets_in_total", m.packets_in);
    counter(&o, "tandem_relay_bytes_in_total", m.bytes_in);
    counter(&o, "tandem_relay_packets_out_total", m.packets_out);
    counter(&o, "tandem_relay_bytes_out_total", m.bytes_out);
    put(&o,
        "# TYPE tandem_relay_drops_total counter\n"
        "tandem_relay_drops_total{reason=\"unknown_stream\"} %" PRIu64 "\n"
        "tandem_relay_drops_total{reason=\"room\"} %" PRIu64 "\n"
        "tandem_relay_drops_total{reason=\"send\"} %" PRIu64 "\n"
        "tandem_relay_drops_total{reason=\"not_dtls_or_rtp\"} %" PRIu64 "\n"
        "tandem_relay_drops_total{reason=\"before_keys_or_after_end\"} %" PRIu64 "\n"
        "tandem_relay_drops_total{reason=\"malformed_rtcp\"} %" PRIu64 "\n",
        m.drops_unlatched, m.drops_room, m.drops_send, m.unknown_dropped, m.early_dropped,
        m.drops_rtcp);
    counter(&o, "tandem_relay_nacks_total", m.nacks_in);
    counter(&o, "tandem_relay_retransmissions_total", m.retransmissions);
    counter(&o, "tandem_relay_retransmission_misses_total", m.retransmission_misses);
    counter(&o, "tandem_relay_plis_in_total", m.plis_in);
    counter(&o, "tandem_relay_firs_in_total", m.firs_in);
    counter(&o, "tandem_relay_plis_out_total", m.plis_out);
    counter(&o, "tandem_relay_rembs_out_total", m.rembs_out);
    counter(&o, "tandem_relay_nacks_out_total", m.nacks_out);
    counter(&o, "tandem_relay_sender_reports_out_total", m.srs_out);
    counter(&o, "tandem_relay_receiver_reports_out_total", m.rrs_out);
    counter(&o, "tandem_relay_ingest_broken_frames_total", m.ingest_keyframe_events);
    gauge(&o, "tandem_relay_recordings", m.recordings_open);
    counter(&o, "tandem_relay_recordings_started_total", m.recordings_started);
    counter(&o, "tandem_relay_recordings_failed_total", m.recordings_failed);
    counter(&o, "tandem_relay_recording_bytes_total", m.recording_bytes);
    /* Packets the disk could not take in time: each gap is marked in the
     * file, never silent. */
    counter(&o, "tandem_relay_recording_drops_total", m.recording_drops);
    counter(&o, "tandem_relay_recording_io_errors_total", m.recording_io_errors);
    uint64_t srtp = 0;
    for (size_t k = 1; k < TDM_SRTP_FAIL_COUNT; k++)
        srtp += m.srtp_in_fail[k];
    counter(&o, "tandem_relay_srtp_failures_total", srtp);
    put(&o, "# TYPE tandem_relay_srtp_failures_by_reason_total counter\n");
    for (size_t k = 1; k < TDM_SRTP_FAIL_COUNT; k++)
        put(&o, "tandem_relay_srtp_failures_by_reason_total{reason=\"%s\"} %" PRIu64 "\n",
            tdm_srtp_fail_name((tdm_srtp_fail)k), m.srtp_in_fail[k]);
    put(&o, "# TYPE tandem_relay_selected_pairs_total counter\n");
    for (int l = 0; l < 4; l++)
        for (int rt = 0; rt < 4; rt++)
            for (int t = 0; t < 2; t++)
                if (m.selected[l][rt][t])
                    put(&o,
                        "tandem_relay_selected_pairs_total{local=\"%s\",remote=\"%s\","
                        "transport=\"%s\"} %" PRIu64 "\n",
                        tdm_ice_candidate_type_name((tdm_ice_candidate_type)l),
                        tdm_ice_candidate_type_name((tdm_ice_candidate_type)rt),
                        t ? "tcp" : "udp", m.selected[l][rt][t]);
    /* Per-worker load: how evenly sessions and packets spread. */
    put(&o, "# TYPE tandem_relay_worker_sessions gauge\n");
    for (size_t i = 0; i < r->n_workers; i++)
        put(&o, "tandem_relay_worker_sessions{worker=\"%zu\"} %" PRIu64 "\n", i, per[i].sessions);
    put(&o, "# TYPE tandem_relay_worker_packets_in_total counter\n");
    for (size_t i = 0; i < r->n_workers; i++)
        put(&o, "tandem_relay_worker_packets_in_total{worker=\"%zu\"} %" PRIu64 "\n", i,
            per[i].packets_in);
    put(&o, "# TYPE tandem_relay_worker_packets_out_total counter\n");
    for (size_t i = 0; i < r->n_workers; i++)
        put(&o, "tandem_relay_worker_packets_out_total{worker=\"%zu\"} %" PRIu64 "\n", i,
            per[i].packets_out);
    put(&o, "# TYPE tandem_relay_worker_cpu_seconds_total counter\n");
    for (size_t i = 0; i < r->n_workers; i++)
        put(&o, "tandem_relay_worker_cpu_seconds_total{worker=\"%zu\"} %.6f\n", i,
            per[i].cpu_seconds);
done:
    if (o.overflow)
        return TDM_ERR_RANGE;
    *out_len = o.len;
    return TDM_OK;
}

tdm_status tdm_relay_load(tdm_relay *r, tdm_relay_load_info *out)
{
    if (!r || !out)
        return TDM_ERR_INVALID;
    memset(out, 0, sizeof *out);
    out->workers = r->n_workers;
    /* Not r->running: this may run on another thread than the control
     * thread; each worker's own running flag is atomic. */
    for (size_t i = 0; i < r->n_workers; i++) {
        tdm_relay_worker_metrics m;
        if (!tdm_relay_worker_metrics_get(r->workers[i], &m))
            return TDM_ERR_UNAVAILABLE;
        out->sessions += m.sessions;
        out->endpoints += m.endpoints;
        out->packets_in += m.packets_in;
        out->packets_out += m.packets_out;
        out->bytes_in += m.bytes_in;
        out->bytes_out += m.bytes_out;
        out->cpu_seconds += m.cpu_seconds;
    }
    return TDM_OK;
}

static bool be_healthy(void *ctx)
{
    tdm_relay *r = ctx;
    return r->running;
}

void tdm_relay_backend(tdm_relay *r, tdm_whip_backend *out)
{
    *out = (tdm_whip_backend){
        .ctx = r,
        .create_endpoint = be_create,
        .lookup_endpoint = be_lookup,
        .patch_endpoint = be_patch,
        .delete_endpoint = be_delete,
        .end_session = be_end_session,
        .write_metrics = be_metrics,
        .healthy = be_healthy,
    };
}

/* --- lifecycle ---------------------------------------------------------- */

tdm_status tdm_relay_new(const tdm_relay_config *cfg, tdm_relay **out, tdm_error *err)
{
    if (!cfg || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "relay: NULL argument");
    if (cfg->n_local_addresses == 0)
        return tdm_fail(err, TDM_ERR_INVALID,
                        "at least one local address is needed: ICE must not gather on every "
                        "interface");
    if (cfg->n_local_addresses > TDM_ICE_MAX_LOCAL_ADDRESSES)
        return tdm_fail(err, TDM_ERR_INVALID, "at most %d local addresses",
                        TDM_ICE_MAX_LOCAL_ADDRESSES);
    for (size_t i = 0; i < cfg->n_local_addresses; i++) {
        const char *a = cfg->local_addresses[i];
        if (!a || !g_hostname_is_ip_address(a) || strlen(a) >= 64)
            return tdm_fail(err, TDM_ERR_INVALID, "local address '%s' is not a numeric address",
                            a ? a : "(null)");
    }
    if (cfg->workers > TDM_RELAY_MAX_WORKERS)
        return tdm_fail(err, TDM_ERR_INVALID, "at most %d workers", TDM_RELAY_MAX_WORKERS);
    size_t n = cfg->workers ? cfg->workers : (size_t)g_get_num_processors();
    if (n == 0)
        n = 1;
    if (n > TDM_RELAY_MAX_WORKERS)
        n = TDM_RELAY_MAX_WORKERS;
    tdm_relay *r = calloc(1, sizeof *r);
    if (!r)
        return tdm_fail(err, TDM_ERR_NOMEM, "relay: out of memory");
    g_mutex_init(&r->rec_mu);
    tdm_status st = tdm_dtls_identity_new(NULL, &r->identity, err);
    if (st != TDM_OK) {
        g_mutex_clear(&r->rec_mu);
        free(r);
        return st;
    }
    for (size_t i = 0; i < n; i++) {
        tdm_relay_worker_config wc = {
            .index = (int)i,
            .identity = r->identity,
            .local_addresses = cfg->local_addresses,
            .n_local_addresses = cfg->n_local_addresses,
            .ice_tcp = cfg->ice_tcp,
            .consent_timeout_ms = cfg->consent_timeout_ms,
            .record_dir = cfg->record_dir,
            .recording_master_key = cfg->recording_master_key,
            .max_subscribers = cfg->max_subscribers,
            .node = r,
        };
        st = tdm_relay_worker_new(&wc, &r->workers[i], err);
        if (st != TDM_OK) {
            tdm_relay_free(r);
            return st;
        }
        r->n_workers = i + 1;
    }
    *out = r;
    return TDM_OK;
}

tdm_status tdm_relay_start(tdm_relay *r, tdm_error *err)
{
    if (!r || r->running)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "relay already runs");
    for (size_t i = 0; i < r->n_workers; i++) {
        tdm_status st = tdm_relay_worker_start(r->workers[i], err);
        if (st != TDM_OK) {
            for (size_t k = 0; k < i; k++)
                tdm_relay_worker_stop(r->workers[k]);
            return st;
        }
    }
    r->running = true;
    return TDM_OK;
}

void tdm_relay_stop(tdm_relay *r)
{
    if (!r || !r->running)
        return;
    r->running = false;
    for (size_t i = 0; i < r->n_workers; i++)
        tdm_relay_worker_stop(r->workers[i]);
}

void tdm_relay_free(tdm_relay *r)
{
    if (!r)
        return;
    tdm_relay_stop(r);
    for (size_t i = 0; i < r->n_workers; i++)
        tdm_relay_worker_free(r->workers[i]);
    tdm_dtls_identity_free(r->identity);
    g_mutex_clear(&r->rec_mu);
    free(r);
}
