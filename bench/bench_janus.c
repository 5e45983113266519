/* bench_janus: Tandem's relay side by side with Janus 1.1.2 (Debian's janus,
 * video room plugin), fed the same RTP stream and the same viewers.
 *
 *   janus.fwd.1x<N>            packets the viewers received per CPU-second of
 *                              the server process (utime+stime, all threads,
 *                              /proc/<pid>/stat): Tandem's, anchor Janus's
 *   janus.cpu_per_viewer.1x<N> server CPU (% of one core) per viewer:
 *                              Tandem's, anchor Janus's (lower is better)
 *
 * Both servers run inside a network namespace this process creates for
 * itself (unshare; it disappears with the last process in it), with a veth
 * pair because Janus gathers no candidates on loopback alone. Both gather
 * ICE on the same veth address only, the peers too, so both see the same
 * path. HTTP control APIs listen on the namespace's 127.0.0.1.
 *
 * Peers are real WebRTC endpoints (tdm_peer: libnice ICE, DTLS, SRTP), all
 * on this process's one thread (bench_peers.h). Tandem: WHIP publish and
 * WHEP subscribe. Janus: its HTTP API (/janus: create, attach
 * janus.plugin.videoroom, join as publisher + publish with our JSEP offer,
 * join as subscriber to the publisher's feed and start with our JSEP answer
 * to Janus's offer; events by long poll).
 *
 * Per N, for each server in turn (fresh process each): the viewers and the
 * publisher connect, keyframe starts go out until every viewer has one, then
 * the publisher sends --seconds (default 5) of 1200-byte VP8 RTP packets at fwd_rate/N
 * per second (the same for both servers: the same total forwarded load),
 * each carrying its send time; viewers count packets sent within the window.
 * Default load 8000 forwarded packets/s (~77 Mbit/s) in total.
 *
 * --smoke: N=2, 1 s, 2000 pkts/s; exits 1 unless every viewer of both
 * servers got packets in the window. Exit 77 (ctest skip) when janus is not
 * installed or the namespace cannot be made (not root). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <glib.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_peers.h"
#include "bench_util.h"
#include "tdm_sdp_offer.h"

#ifndef TDM_RELAY_PATH
#define TDM_RELAY_PATH "tandem-relay"
#endif
#define JANUS_DEFAULT "/usr/bin/janus"
#define JANUS_LIBDIR "/usr/lib/x86_64-linux-gnu/janus"

#define SKIP 77
#define ADDR "10.98.0.1"  /* server and peers: ICE only here */
#define ADDR_B "10.98.0.2" /* the veth's other end, unused but up */
#define HTTP_HOST "127.0.0.1"
#define JANUS_PORT 8088 /* in our private namespace: cannot clash */
#define ROOM 1234
#define PUB_SSRC 0x5eed0001u
#define PT 96
#define MAGIC 0x7a4e5553u
#define MAX_VIEWERS 64
#define DEADLINE_S 300

static const char *relay_path = TDM_RELAY_PATH, *janus_path = JANUS_DEFAULT;
static pid_t server_pid = -1; /* for the alarm handler */
static tdm_bp_tandem *current_relay; /* to stop it and remove its secret on the way out */
static char cfg_dir[64];

static void rm_cfg_dir(void)
{
    if (!cfg_dir[0])
        return;
    DIR *d = opendir(cfg_dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') {
                snprintf(p, sizeof p, "%s/%s", cfg_dir, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(cfg_dir);
    cfg_dir[0] = '\0';
}

__attribute__((format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_janus: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (current_relay)
        tdm_bp_tandem_stop(current_relay);
    else
        tdm_bp_stop(server_pid);
    if (cfg_dir[0])
        fprintf(stderr, "bench_janus: janus log kept in %s/janus.log\n", cfg_dir);
    exit(1);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "bench_janus: deadline passed, stopping\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    if (server_pid > 0)
        kill(server_pid, SIGKILL);
    if (current_relay)
        unlink(current_relay->secret_path);
    _exit(1);
}

/* --- the stream and the viewers -------------------------------------------- */

typedef struct viewer {
    tdm_bp_peer p;
    uint64_t received, in_window;
} viewer;

static uint64_t win_start = UINT64_MAX, win_end = UINT64_MAX;

static void viewer_rtp(void *user, uint8_t *buf, size_t len)
{
    viewer *v = user;
    uint64_t sent;
    if (!tdm_bp_stream_read(buf, len, MAGIC, NULL, &sent))
        return;
    v->received++;
    if (sent >= win_start && sent < win_end)
        v->in_window++;
}

typedef struct group {
    tdm_bp_peer *pub;
    viewer *v;
    int n;
} group;

static bool group_connected(void *arg)
{
    group *g = arg;
    if (g->pub->state != TDM_PEER_CONNECTED)
        return false;
    for (int i = 0; i < g->n; i++)
        if (g->v[i].p.state != TDM_PEER_CONNECTED)
            return false;
    return true;
}

static bool group_started(void *arg)
{
    group *g = arg;
    for (int i = 0; i < g->n; i++)
        if (g->v[i].received == 0)
            return false;
    return true;
}

typedef struct result {
    double sent_rate;     /* publisher packets/s */
    double fwd_wall;      /* viewer packets/s */
    double cpu_util;      /* server CPU / wall (1.0 = one core) */
    double fwd_per_core;  /* viewer packets per server CPU second */
    double cpu_per_viewer; /* % of one core */
    double loss;
    uint64_t min_viewer;  /* fewest packets one viewer got in the window */
    long long rcvbuf;     /* kernel UDP receive-buffer drops in the window (our netns) */
    const char *profile;
} result;

/* Keyframes until every viewer started, then `seconds` of paced packets. */
static result measure(GMainContext *ctx, group *g, pid_t pid, double pub_rate, double seconds)
{
    result r = {0};
    tdm_error err = {{0}};
    tdm_bp_stream s = {.pub = g->pub->peer, .ssrc = PUB_SSRC, .pt = PT, .magic = MAGIC};
    if (!tdm_bp_stream_start(&s, ctx, group_started, g, 500, 20, &err))
        die("1x%d: %s", g->n, err.msg);
    r.profile = tdm_srtp_profile_name(tdm_peer_srtp_profile(g->pub->peer));

    double cpu0 = tdm_bp_proc_cpu_s(pid);
    r.rcvbuf = -tdm_bp_udp_rcvbuf_errors();
    uint64_t t0 = tdm_bench_now_ns(), t_end = t0 + (uint64_t)(seconds * 1e9);
    win_start = t0;
    win_end = t_end;
    if (tdm_bp_stream_paced(&s, ctx, pub_rate, t0, t_end, 150000000u, &err) != TDM_OK)
        die("%s", err.msg);
    uint64_t sent = s.sent;
    uint64_t t1 = tdm_bench_now_ns();
    double cpu1 = tdm_bp_proc_cpu_s(pid);
    r.rcvbuf += tdm_bp_udp_rcvbuf_errors();
    win_start = win_end = UINT64_MAX;
    if (cpu0 < 0 || cpu1 < 0)
        die("server process gone during the run");

    uint64_t got = 0;
    r.min_viewer = UINT64_MAX;
    for (int i = 0; i < g->n; i++) {
        got += g->v[i].in_window;
        if (g->v[i].in_window < r.min_viewer)
            r.min_viewer = g->v[i].in_window;
    }
    double wall = (double)(t1 - t0) / 1e9, cpu = cpu1 - cpu0;
    r.sent_rate = (double)sent / seconds;
    r.fwd_wall = (double)got / seconds;
    r.cpu_util = cpu / wall;
    r.fwd_per_core = cpu > 0 ? (double)got / cpu : 0;
    r.cpu_per_viewer = 100.0 * r.cpu_util / g->n;
    r.loss = sent ? 1.0 - (double)got / ((double)sent * g->n) : 0;
    return r;
}

static void group_init(group *g, tdm_bp_peer *pub, viewer *v, int n)
{
    memset(pub, 0, sizeof *pub);
    memset(v, 0, sizeof *v * (size_t)n);
    snprintf(pub->name, sizeof pub->name, "publisher");
    for (int i = 0; i < n; i++) {
        snprintf(v[i].p.name, sizeof v[i].p.name, "viewer-%d", i + 1);
        v[i].p.on_rtp = viewer_rtp;
        v[i].p.user = &v[i];
    }
    g->pub = pub;
    g->v = v;
    g->n = n;
}

static void group_free(GMainContext *ctx, group *g)
{
    tdm_bp_peer_free(g->pub);
    for (int i = 0; i < g->n; i++)
        tdm_bp_peer_free(&g->v[i].p);
    for (int i = 0; i < 200 && g_main_context_iteration(ctx, FALSE); i++)
        ;
}

/* --- Tandem ---------------------------------------------------------------- */

static result tandem_run(int n, double fwd_rate, double seconds)
{
    tdm_error err = {{0}};
    tdm_bp_tandem t;
    if (tdm_bp_tandem_start(&t, relay_path, HTTP_HOST, ADDR, NULL, &err) != TDM_OK)
        die("tandem: %s", err.msg);
    server_pid = t.pid;
    current_relay = &t;
    GMainContext *ctx = g_main_context_new();
    static tdm_bp_peer pub;
    static viewer v[MAX_VIEWERS];
    group g;
    group_init(&g, &pub, v, n);
    char session[32];
    snprintf(session, sizeof session, "janus-side-1x%d", n);
    for (int i = 0; i < n; i++)
        if (tdm_bp_peer_start(&v[i].p, ctx, ADDR, true, TDM_DTLS_CLIENT, NULL, &err) != TDM_OK ||
            tdm_bp_tandem_connect(&t, &v[i].p, session, false, 0, PT, NULL, &err) != TDM_OK)
            die("tandem: %s", err.msg);
    if (tdm_bp_peer_start(&pub, ctx, ADDR, true, TDM_DTLS_CLIENT, NULL, &err) != TDM_OK ||
        tdm_bp_tandem_connect(&t, &pub, session, true, PUB_SSRC, PT, NULL, &err) != TDM_OK)
        die("tandem: %s", err.msg);
    if (!tdm_bp_run_until(ctx, group_connected, &g, 15000))
        die("tandem 1x%d: not every peer connected", n);
    result r = measure(ctx, &g, t.pid, fwd_rate / n, seconds);
    group_free(ctx, &g);
    g_main_context_unref(ctx);
    tdm_bp_tandem_stop(&t);
    server_pid = -1;
    current_relay = NULL;
    return r;
}

/* --- Janus ----------------------------------------------------------------- */

static void write_file(const char *name, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", cfg_dir, name);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        die("write %s", p);
}

/* Every .so in dir but `keep`, comma-separated: Janus's disable list. */
static void disable_list(const char *dir, const char *keep, char *out, size_t cap)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 3, ".so") != 0 || (keep && strcmp(e->d_name, keep) == 0))
            continue;
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s%s", used ? "," : "", e->d_name);
    }
    closedir(d);
}

/* A private config: HTTP transport only on 127.0.0.1, the video room only,
 * ICE on ADDR only, no STUN/TURN, no session timeout (we do not poll while
 * measuring), one VP8 room without a bitrate cap. */
static void janus_config(void)
{
    snprintf(cfg_dir, sizeof cfg_dir, "/tmp/tdm-bench-janus-XXXXXX");
    if (!mkdtemp(cfg_dir))
        die("mkdtemp: %s", strerror(errno));
    char plugins[2048], transports[1024], loggers[512], events[1024], main_cfg[8192];
    disable_list(JANUS_LIBDIR "/plugins", "libjanus_videoroom.so", plugins, sizeof plugins);
    disable_list(JANUS_LIBDIR "/transports", "libjanus_http.so", transports, sizeof transports);
    disable_list(JANUS_LIBDIR "/loggers", NULL, loggers, sizeof loggers);
    disable_list(JANUS_LIBDIR "/events", NULL, events, sizeof events);
    snprintf(main_cfg, sizeof main_cfg,
             "general: {\n"
             "  configs_folder = \"%s\"\n"
             "  plugins_folder = \"" JANUS_LIBDIR "/plugins\"\n"
             "  transports_folder = \"" JANUS_LIBDIR "/transports\"\n"
             "  events_folder = \"" JANUS_LIBDIR "/events\"\n"
             "  loggers_folder = \"" JANUS_LIBDIR "/loggers\"\n"
             "  debug_level = 3\n"
             "  session_timeout = 0\n"
             "}\n"
             "certificates: {}\n"
             "media: {\n  ipv6 = false\n}\n"
             "nat: {\n  ice_enforce_list = \"" ADDR "\"\n  ignore_mdns = true\n}\n"
             "plugins: {\n  disable = \"%s\"\n}\n"
             "transports: {\n  disable = \"%s\"\n}\n"
             "loggers: {\n  disable = \"%s\"\n}\n"
             "events: {\n  broadcast = false\n  disable = \"%s\"\n}\n",
             cfg_dir, plugins, transports, loggers, events);
    write_file("janus.jcfg", main_cfg);
    char http_cfg[512];
    snprintf(http_cfg, sizeof http_cfg,
             "general: {\n  json = \"compact\"\n  base_path = \"/janus\"\n  http = true\n"
             "  port = %d\n  ip = \"" HTTP_HOST "\"\n  https = false\n}\n"
             "admin: {\n  admin_http = false\n  admin_https = false\n}\n",
             JANUS_PORT);
    write_file("janus.transport.http.jcfg", http_cfg);
    char room_cfg[512];
    snprintf(room_cfg, sizeof room_cfg,
             "general: {\n}\n"
             "room-%d: {\n  description = \"bench\"\n  publishers = 1\n  bitrate = 0\n"
             "  fir_freq = 0\n  videocodec = \"vp8\"\n  audiocodec = \"opus\"\n"
             "  record = false\n}\n",
             ROOM);
    write_file("janus.plugin.videoroom.jcfg", room_cfg);
}

static json_t *janus_call(const char *path, json_t *body, const char *method)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    static tdm_bp_http_reply rep;
    tdm_error err = {{0}};
    tdm_status st = tdm_bp_http(HTTP_HOST, JANUS_PORT, method, path, NULL,
                                text ? "application/json" : NULL, text, &rep, &err);
    free(text);
    if (st != TDM_OK)
        die("janus %s %s: %s", method, path, err.msg);
    if (rep.status != 200)
        die("janus %s %s: HTTP %d", method, path, rep.status);
    json_error_t je;
    json_t *j = json_loads(rep.body, 0, &je);
    if (!j)
        die("janus %s: bad JSON: %s", path, je.text);
    const char *kind = json_string_value(json_object_get(j, "janus"));
    if (kind && strcmp(kind, "error") == 0)
        die("janus %s: error: %s", path, rep.body);
    return j;
}

static unsigned long long tx_counter;

static json_t *janus_msg(const char *kind)
{
    char tx[32];
    snprintf(tx, sizeof tx, "t%llu", ++tx_counter);
    return json_pack("{s:s, s:s}", "janus", kind, "transaction", tx);
}

static unsigned long long janus_id(json_t *reply)
{
    json_t *id = json_object_get(json_object_get(reply, "data"), "id");
    if (!json_is_integer(id))
        die("janus: reply without data.id");
    return (unsigned long long)json_integer_value(id);
}

/* Long-polls the session's events until one from handle carries the
 * videoroom event `want` (and a JSEP if need_jsep); returns it (owned). */
static json_t *janus_wait(unsigned long long sid, unsigned long long handle, const char *want,
                          bool need_jsep)
{
    char path[96];
    snprintf(path, sizeof path, "/janus/%llu?maxev=1", sid);
    for (int i = 0; i < 50; i++) {
        json_t *ev = janus_call(path, NULL, "GET");
        json_t *pd = json_object_get(json_object_get(ev, "plugindata"), "data");
        const char *vr = json_string_value(json_object_get(pd, "videoroom"));
        json_t *sender = json_object_get(ev, "sender");
        if (json_object_get(pd, "error"))
            die("janus videoroom error: %s", json_string_value(json_object_get(pd, "error")));
        if (json_is_integer(sender) && (unsigned long long)json_integer_value(sender) == handle &&
            vr && strcmp(vr, want) == 0 && (!need_jsep || json_object_get(ev, "jsep")))
            return ev;
        json_decref(ev);
    }
    die("janus: no '%s' event", want);
    return NULL;
}

static unsigned long long janus_attach(unsigned long long sid)
{
    char path[64];
    snprintf(path, sizeof path, "/janus/%llu", sid);
    json_t *m = janus_msg("attach");
    json_object_set_new(m, "plugin", json_string("janus.plugin.videoroom"));
    json_t *r = janus_call(path, m, "POST");
    unsigned long long h = janus_id(r);
    json_decref(r);
    return h;
}

static void janus_send(unsigned long long sid, unsigned long long h, json_t *body, json_t *jsep)
{
    char path[96];
    snprintf(path, sizeof path, "/janus/%llu/%llu", sid, h);
    json_t *m = janus_msg("message");
    json_object_set_new(m, "body", body);
    if (jsep)
        json_object_set_new(m, "jsep", jsep);
    json_decref(janus_call(path, m, "POST"));
}

static tdm_sdp_session *parse_jsep(json_t *ev)
{
    const char *sdp = json_string_value(json_object_get(json_object_get(ev, "jsep"), "sdp"));
    if (!sdp)
        die("janus: event without jsep.sdp");
    tdm_sdp_session *s = tdm_sdp_new();
    tdm_error err = {{0}};
    if (!s || tdm_sdp_parse((const uint8_t *)sdp, strlen(sdp), s, &err) != TDM_OK)
        die("janus SDP: %s\n%s", err.msg, sdp);
    if (s->n_media < 1)
        die("janus SDP without media");
    return s;
}

/* The publisher: join, publish with our offer, apply Janus's answer. */
static unsigned long long janus_publish(unsigned long long sid, tdm_bp_peer *p, GMainContext *ctx)
{
    tdm_error err = {{0}};
    if (tdm_bp_peer_start(p, ctx, ADDR, true, TDM_DTLS_CLIENT, NULL, &err) != TDM_OK)
        die("janus publisher: %s", err.msg);
    unsigned long long h = janus_attach(sid);
    janus_send(sid, h, json_pack("{s:s, s:s, s:i, s:s}", "request", "join", "ptype", "publisher",
                                 "room", ROOM, "display", "bench"),
               NULL);
    json_t *joined = janus_wait(sid, h, "joined", false);
    json_t *idj = json_object_get(json_object_get(json_object_get(joined, "plugindata"), "data"),
                                  "id");
    if (!json_is_integer(idj))
        die("janus: joined without id");
    unsigned long long feed = (unsigned long long)json_integer_value(idj);
    json_decref(joined);

    const char *ufrag, *pwd;
    tdm_ice_local_credentials(tdm_peer_ice(p->peer), &ufrag, &pwd);
    tdm_sdp_offer_config oc = {.role = TDM_SDP_ROLE_PUBLISH, .ice_ufrag = ufrag, .ice_pwd = pwd,
                               .session_id = 7, .video_pt = PT, .video_ssrc = PUB_SSRC,
                               .cname = p->name, .candidates = (const char *const *)p->cands,
                               .n_candidates = p->n_cands, .candidates_complete = true};
    memcpy(oc.fingerprint, tdm_dtls_identity_fingerprint(p->id), sizeof oc.fingerprint);
    char offer[8192];
    size_t olen;
    if (tdm_sdp_offer_write(&oc, offer, sizeof offer, &olen, &err) != TDM_OK)
        die("offer: %s", err.msg);
    janus_send(sid, h, json_pack("{s:s, s:b, s:b}", "request", "publish", "audio", 0, "video", 1),
               json_pack("{s:s, s:s}", "type", "offer", "sdp", offer));
    json_t *ev = janus_wait(sid, h, "event", true);
    tdm_sdp_session *ans = parse_jsep(ev);
    json_decref(ev);
    tdm_dtls_role role;
    const tdm_sdp_media *m = &ans->media[0];
    if (tdm_bp_answer_role(m, &role, &err) != TDM_OK ||
        tdm_peer_set_remote_dtls(p->peer, role, m->dtls.fingerprint, &err) != TDM_OK ||
        tdm_bp_peer_remote(p, m, &err) != TDM_OK)
        die("janus publisher: %s", err.msg);
    tdm_sdp_free(ans);
    return feed;
}

/* "candidate:F C UDP PRIO ADDR PORT typ host" -> struct, for the answer. */
static void parse_candidate(const char *text, tdm_sdp_candidate *c)
{
    memset(c, 0, sizeof *c);
    char transport[8] = "";
    unsigned comp = 0, prio = 0, port = 0;
    if (sscanf(text, "candidate:%32s %u %7s %u %63s %u", c->foundation, &comp, transport, &prio,
               c->address, &port) != 6)
        die("candidate '%s'", text);
    c->component = (uint16_t)comp;
    c->priority = prio;
    c->port = (uint16_t)port;
    c->transport = TDM_SDP_UDP;
    c->type = TDM_SDP_CAND_HOST;
}

/* A viewer: join the feed, answer Janus's offer (recvonly), start. */
static void janus_subscribe(unsigned long long sid, unsigned long long feed, viewer *v,
                            GMainContext *ctx)
{
    tdm_error err = {{0}};
    unsigned long long h = janus_attach(sid);
    janus_send(sid, h,
               json_pack("{s:s, s:s, s:i, s:[{s:I}]}", "request", "join", "ptype", "subscriber",
                         "room", ROOM, "streams", "feed", (json_int_t)feed),
               NULL);
    json_t *ev = janus_wait(sid, h, "attached", true);
    tdm_sdp_session *offer = parse_jsep(ev);
    json_decref(ev);
    const tdm_sdp_media *m = &offer->media[0];
    if (!m->dtls.has_fingerprint)
        die("janus offer without fingerprint");
    /* Our answer says passive to Janus's actpass (tdm_sdp_answer_setup):
     * we are the DTLS server; Janus offered, so it controls ICE. */
    tdm_dtls_role role = tdm_sdp_answer_setup(m->dtls.setup) == TDM_SDP_SETUP_ACTIVE
                             ? TDM_DTLS_CLIENT
                             : TDM_DTLS_SERVER;
    if (tdm_bp_peer_start(&v->p, ctx, ADDR, false, role, m->dtls.fingerprint, &err) != TDM_OK)
        die("janus %s: %s", v->p.name, err.msg);
    tdm_sdp_candidate cands[TDM_BP_MAX_CANDS];
    for (size_t i = 0; i < v->p.n_cands; i++)
        parse_candidate(v->p.cands[i], &cands[i]);
    const char *ufrag, *pwd;
    tdm_ice_local_credentials(tdm_peer_ice(v->p.peer), &ufrag, &pwd);
    tdm_sdp_local local = {.ice_ufrag = ufrag, .ice_pwd = pwd, .session_id = 9,
                           .codecs = TDM_SDP_CODEC_BIT(TDM_CODEC_VP8), .extensions = 0,
                           .candidates = cands, .n_candidates = v->p.n_cands,
                           .candidates_complete = true};
    memcpy(local.fingerprint, tdm_dtls_identity_fingerprint(v->p.id), sizeof local.fingerprint);
    static char answer[16384];
    size_t alen;
    tdm_sdp_answer_info info;
    /* ROLE_PUBLISH: the offerer sends and we answer recvonly. */
    if (tdm_sdp_answer(offer, &local, TDM_SDP_ROLE_PUBLISH, answer, sizeof answer, &alen, &info,
                       &err) != TDM_OK)
        die("answer to janus: %s", err.msg);
    if (tdm_bp_peer_remote(&v->p, m, &err) != TDM_OK)
        die("janus %s: %s", v->p.name, err.msg);
    tdm_sdp_free(offer);
    janus_send(sid, h, json_pack("{s:s}", "request", "start"),
               json_pack("{s:s, s:s}", "type", "answer", "sdp", answer));
    json_decref(janus_wait(sid, h, "event", false)); /* "started": ok */
}

static bool janus_up(void)
{
    static tdm_bp_http_reply rep;
    tdm_error err = {{0}};
    return tdm_bp_http(HTTP_HOST, JANUS_PORT, "GET", "/janus/info", NULL, NULL, NULL, &rep,
                       &err) == TDM_OK &&
           rep.status == 200;
}

static bool pub_connected(void *arg)
{
    return ((tdm_bp_peer *)arg)->state == TDM_PEER_CONNECTED;
}

static result janus_run(int n, double fwd_rate, double seconds)
{
    char cfg[128], log[128];
    snprintf(cfg, sizeof cfg, "%s/janus.jcfg", cfg_dir);
    snprintf(log, sizeof log, "%s/janus.log", cfg_dir);
    char *argv[] = {(char *)janus_path, "-C", cfg, "-F", cfg_dir, "-N", "-L", log, "-o", NULL};
    tdm_error err = {{0}};
    pid_t pid;
    if (tdm_bp_spawn(argv, NULL, NULL, &pid, &err) != TDM_OK)
        die("janus: %s", err.msg);
    server_pid = pid;
    for (int i = 0; i < 200 && !janus_up(); i++)
        usleep(50000);
    if (!janus_up())
        die("janus did not come up (see %s)", log);

    json_t *r = janus_call("/janus", janus_msg("create"), "POST");
    unsigned long long sid = janus_id(r);
    json_decref(r);
    GMainContext *ctx = g_main_context_new();
    static tdm_bp_peer pub;
    static viewer v[MAX_VIEWERS];
    group g;
    group_init(&g, &pub, v, n);
    unsigned long long feed = janus_publish(sid, &pub, ctx);
    /* Janus lists a feed only once its PeerConnection is up. */
    if (!tdm_bp_run_until(ctx, pub_connected, &pub, 15000))
        die("janus: the publisher did not connect (see %s)", log);
    for (int i = 0; i < n; i++)
        janus_subscribe(sid, feed, &v[i], ctx);
    if (!tdm_bp_run_until(ctx, group_connected, &g, 15000))
        die("janus 1x%d: not every peer connected (see %s)", n, log);
    result res = measure(ctx, &g, pid, fwd_rate / n, seconds);
    group_free(ctx, &g);
    g_main_context_unref(ctx);
    tdm_bp_stop(pid);
    server_pid = -1;
    return res;
}

/* --- main ------------------------------------------------------------------ */

/* The machine's 1-minute load average: the servers share it with everyone. */
static double load_avg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--smoke] [--fwd-rate PKTS_PER_S] [--seconds S] [--fanout N]...\n"
            "          [--janus PATH] [PATH-TO-tandem-relay]\n"
            "  --fwd-rate: forwarded packets/s in total, offered to both servers [8000]\n"
            "  --seconds: measured window per server and fan-out [5]\n"
            "  --fanout: viewers per run, repeatable [1 4 16]\n"
            "  --smoke: quick check (1x2, 1 s, 2000 pkts/s): exit 1 unless every viewer of\n"
            "           both servers received packets\n",
            argv0);
}

int main(int argc, char **argv)
{
    double fwd_rate = 8000, seconds = 5;
    int fanouts[8], n_fan = 0;
    bool smoke = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fwd-rate") == 0 && i + 1 < argc)
            fwd_rate = atof(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--fanout") == 0 && i + 1 < argc && n_fan < 8)
            fanouts[n_fan++] = atoi(argv[++i]);
        else if (strcmp(argv[i], "--janus") == 0 && i + 1 < argc)
            janus_path = argv[++i];
        else if (strcmp(argv[i], "--smoke") == 0)
            smoke = true;
        else if (argv[i][0] != '-')
            relay_path = argv[i];
        else {
            usage(argv[0]);
            return 2;
        }
    }
    if (smoke) {
        fwd_rate = 2000;
        seconds = 1;
        fanouts[0] = 2;
        n_fan = 1;
    }
    if (n_fan == 0) {
        fanouts[0] = 1, fanouts[1] = 4, fanouts[2] = 16;
        n_fan = 3;
    }
    for (int i = 0; i < n_fan; i++)
        if (fanouts[i] < 1 || fanouts[i] > MAX_VIEWERS) {
            usage(argv[0]);
            return 2;
        }
    if (fwd_rate <= 0 || seconds <= 0) {
        usage(argv[0]);
        return 2;
    }
    if (access(janus_path, X_OK) != 0) {
        printf("bench_janus: SKIP: no janus at %s (scripts/install-deps installs it)\n",
               janus_path);
        return SKIP;
    }
    if (access(relay_path, X_OK) != 0) {
        fprintf(stderr, "bench_janus: no relay at %s\n", relay_path);
        return 1;
    }
    tdm_error err = {{0}};
    /* Before any thread exists: unshare(CLONE_NEWNET) applies to this thread only. */
    if (tdm_bp_netns_enter(ADDR, ADDR_B, &err) != TDM_OK) {
        printf("bench_janus: SKIP: cannot make a network namespace: %s\n", err.msg);
        return SKIP;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm(DEADLINE_S);
    prctl(PR_SET_TIMERSLACK, 1000UL);
    janus_config();

    result tr[8], jr[8];
    double load0 = load_avg();
    for (int i = 0; i < n_fan; i++) {
        tr[i] = tandem_run(fanouts[i], fwd_rate, seconds);
        jr[i] = janus_run(fanouts[i], fwd_rate, seconds);
    }
    printf("Tandem vs Janus 1.1.2 video room, same stream, same viewers, in a private netns\n"
           "(ICE on %s only); %.0f forwarded pkts/s offered in total (publisher sends that / N),\n"
           "%.1f s per server and N; fwd/core = packets the viewers got / server CPU seconds\n"
           "(utime+stime, all threads); CPU/viewer in %% of one core; rcvbuf = datagrams the\n"
           "kernel dropped on a full UDP receive buffer (server's or a peer's) in the window;\n"
           "load average %.1f before, %.1f after (%ld CPUs)\n",
           ADDR, fwd_rate, seconds, load0, load_avg(), sysconf(_SC_NPROCESSORS_ONLN));
    printf("  %-6s %-7s %9s %9s %9s %8s %7s %11s %10s  %s\n", "fanout", "server", "pub pkt/s",
           "fwd pkt/s", "CPU", "loss", "rcvbuf", "fwd/core", "CPU/viewer", "SRTP");
    for (int i = 0; i < n_fan; i++) {
        for (int s = 0; s < 2; s++) {
            const result *r = s ? &jr[i] : &tr[i];
            printf("  1x%-4d %-7s %9.0f %9.0f %8.1f%% %7.2f%% %7lld %11.0f %9.2f%%  %s\n",
                   fanouts[i], s ? "janus" : "tandem", r->sent_rate, r->fwd_wall,
                   100 * r->cpu_util, 100 * r->loss, r->rcvbuf, r->fwd_per_core,
                   r->cpu_per_viewer, r->profile);
        }
        printf("  1x%-4d tandem/janus fwd/core ratio %.2f (target >= 2)\n", fanouts[i],
               jr[i].fwd_per_core > 0 ? tr[i].fwd_per_core / jr[i].fwd_per_core : 0);
    }
    fflush(stdout);
    int rc = 0;
    if (smoke) {
        for (int i = 0; i < n_fan; i++)
            if (tr[i].min_viewer == 0 || jr[i].min_viewer == 0) {
                fprintf(stderr, "bench_janus: smoke: a viewer got nothing (tandem %llu, janus %llu)\n",
                        (unsigned long long)tr[i].min_viewer,
                        (unsigned long long)jr[i].min_viewer);
                rc = 1;
            }
        if (rc == 0)
            printf("smoke: every viewer of both servers received packets\n");
    } else {
        for (int i = 0; i < n_fan; i++) {
            char name[64];
            snprintf(name, sizeof name, "janus.fwd.1x%d", fanouts[i]);
            tdm_bench_line(name, tr[i].fwd_per_core, "pkts/s", "janus", jr[i].fwd_per_core);
        }
        for (int i = 0; i < n_fan; i++) {
            char name[64];
            snprintf(name, sizeof name, "janus.cpu_per_viewer.1x%d", fanouts[i]);
            tdm_bench_line(name, tr[i].cpu_per_viewer, "%core", "janus", jr[i].cpu_per_viewer);
        }
    }
    rm_cfg_dir();
    return rc;
}
