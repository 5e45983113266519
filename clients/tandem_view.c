/* tandem-view: subscribes to a session on a relay over WHEP, decodes it and
 * checks it.
 *
 * Owns the subscriber's media loop: decrypted RTP -> tdm_assembler (whose
 * NACKs and keyframe requests go back to the relay as RTCP NACK and PLI)
 * -> VP8/VP9 decoder -> the stamp tandem-share draws into every frame
 * (frame number, CLOCK_MONOTONIC microseconds). From the stamps it counts
 * frames out of order and missing and measures latency (meaningful only
 * when share and view run on one machine, which shares that clock). It can
 * write the decoded pictures to a Y4M file. The last line it prints is the
 * summary tests parse:
 *   frames N first F last L out_of_order O missing M
 *
 * Two ways in: --url/--token (a WHEP URL and token from elsewhere), or
 * --signal with a participant's secret (--session-file from `tandem-rep
 * ... --save`, or --secret): it opens the session's WebSocket, asks for
 * media (POST /api/v1/sessions/{sid}/media) and subscribes; when the
 * service moves the session to another relay ({"type":"media","event":
 * "moved"}, signaling/API.md "Relay failover") it subscribes there. The
 * frame-number check spans the move: frames lost in the gap count as
 * missing, and the gap (time between the last picture decoded before and
 * the first after, by this machine's clock, stamped source or not; with
 * stamps, the frames lost) is printed as "view: gap ...". */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <jansson.h>

#include "media_move.h"
#include "signal_link.h"
#include "tdm_assembler.h"
#include "tdm_png.h"
#include "tdm_rtcp.h"
#include "tdm_rtp.h"
#include "tdm_sdp_offer.h"
#include "tdm_stamp.h"
#include "tdm_video_decoder.h"
#include "tdm_y4m.h"
#include "whip_client.h"

#define PROG "tandem-view"
#define PAYLOAD_TYPE 96
#define RTCP_MAX 1200
#define STAMP_CLOCK_MASK ((UINT64_C(1) << 56) - 1) /* the stamp keeps 56 bits */

static volatile sig_atomic_t stop_requested;

/* SIGUSR1: write the latest decoded picture to --snapshot's file. */
static volatile sig_atomic_t snapshot_requested;

static void on_usr1(int sig)
{
    (void)sig;
    snapshot_requested = 1;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct view {
    /* options */
    const char *url, *token, *y4m_path, *snapshot_path;
    const char *signal_url, *session_file, *secret_opt;
    const char *local[TDM_ICE_MAX_LOCAL_ADDRESSES];
    size_t n_local;
    tdm_client_ice_options ice; /* --ice-server etc. */
    double duration_s;
    long expect_frames; /* 0: none */
    tdm_codec offer_codec;

    tdm_client_session *sess;
    tdm_peer *peer;
    uint32_t ssrc; /* ours, as the sender of RTCP */
    tdm_assembler *asm_;
    tdm_video_decoder *dec;
    tdm_codec codec;
    uint32_t media_ssrc;
    bool stream_failed; /* a packet type we cannot decode: reported once */
    tdm_y4m_writer *y4m;
    bool y4m_failed;
    tdm_i420 latest; /* --snapshot: a copy of the last decoded picture */
    uint64_t latest_frame;

    uint64_t frames, out_of_order, missing, unreadable, decode_errors, plis;
    int64_t first, last;
    uint64_t rtp_packets, rtp_bytes;
    uint64_t sec_frames, sec_bytes, sec_latency_n;
    double sec_latency_sum, sec_latency_max;
    uint64_t last_pli_us;

    /* --signal: the session's WebSocket and the media it was given */
    tdm_link *link;
    tdm_link_ws *ws;
    char sid[64], secret[512];
    json_t *media; /* url, token, TURN strings live here */
    tdm_client_ice_options ice_cli;
    uint64_t ws_retry_us;
    /* moves and the gaps they cost */
    uint64_t moves;
    uint64_t last_pic_us;   /* when the last picture was decoded */
    bool gap_open;          /* moved; no picture from the new relay yet */
    uint64_t gap_from_us;   /* the last picture before the move */
    int64_t gap_from_frame; /* its number (stamped sources) */
    double gap_pending_ms;  /* a closed gap whose line is not printed yet; < 0: none */
    double gap_max_ms;
} view;

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " --url URL --token TOKEN --local-address ADDR [options]\n"
               "       " PROG " --signal URL (--session-file F | --secret S) --local-address ADDR\n"
               "                   [options]\n"
               "\n"
               "Subscribes to a Tandem session over WHEP, decodes the video and reads the\n"
               "stamp tandem-share draws into each frame (frame number and CLOCK_MONOTONIC\n"
               "microseconds), so it can tell frames out of order or missing, and the\n"
               "latency when both programs run on one machine.\n"
               "\n"
               "  --url URL            http://HOST:PORT/whep/SESSION (HOST numeric or localhost)\n"
               "  --token TOKEN        bearer token with the subscribe role for SESSION\n"
               "  --signal URL         instead of --url/--token: tandem-signal's base URL; the\n"
               "                       media comes from the service, and when it moves the\n"
               "                       session to another relay (its relay went away) the\n"
               "                       view subscribes there and prints the gap\n"
               "  --session-file F     with --signal: a file of `tandem-rep ... --save`\n"
               "                       (session_id and secret lines)\n"
               "  --secret S           with --signal: a participant secret\n"
               "  --local-address ADDR numeric address ICE gathers on; required, repeatable\n"
               "                       (ICE never enumerates this machine's interfaces)\n"
               TDM_CLIENT_ICE_USAGE
               "  --codec vp8|vp9      codec to offer (default vp8; must match the sharer's)\n"
               "  --y4m FILE           write the decoded frames to FILE (YUV4MPEG2, 30 fps tag)\n"
               "  --snapshot FILE      on SIGUSR1 (and at exit), write the latest decoded\n"
               "                       picture to FILE as PNG (replaced atomically) and print\n"
               "                       \"view: snapshot FILE frame N\"\n"
               "  --duration S         stop after S seconds (default: run until SIGINT)\n"
               "  --expect-frames N    succeed only if at least N frames were decoded; stops as\n"
               "                       soon as N have been\n"
               "  --help               this text\n"
               "\n"
               "Prints stats every second (fps, kbit/s, packets lost and recovered, frames out\n"
               "of order, latency: 'latency_ms n/a' in a second without a stamp read), then\n"
               "a summary line:\n"
               "  frames N first F last L out_of_order O missing M\n"
               "With --signal, each move to another relay prints\n"
               "  view: moved from relay R to URL in N ms, then at the first picture after it\n"
               "  view: gap N ms frames A..B (K missing) move M   (stamped source)\n"
               "  view: gap N ms move M (no stamp: frame numbers unknown)   (e.g. --display)\n"
               "(N: from the last picture decoded before the move to the first after) and at\n"
               "the end  view: moves N gap_max_ms N; a failed media connection is\n"
               "waited out (60 s) for a move, and the end of the session stops the view.\n"
               "Exits 0 if at least one frame (with --expect-frames, N) was decoded and none\n"
               "came out of order; 1 otherwise, or if the relay cannot be reached, refuses the\n"
               "token or the media connection fails; 2 for bad options.\n");
}


/* Every pair ICE selects, on stderr, so that a test (or a user puzzled by
 * a NAT) can see how media flows: directly (host, srflx) or via TURN. */
static void on_pair(void *user, const char *pair)
{
    (void)user;
    fprintf(stderr, "ice: selected %s\n", pair);
}

static int parse_options(view *v, int argc, char **argv)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"token", required_argument, NULL, 't'},
                                         {"local-address", required_argument, NULL, 'l'},
                                         {"codec", required_argument, NULL, 'c'},
                                         {"y4m", required_argument, NULL, 'y'},
                                         {"snapshot", required_argument, NULL, 'n'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"expect-frames", required_argument, NULL, 'e'},
                                         {"signal", required_argument, NULL, 'S'},
                                         {"session-file", required_argument, NULL, 'F'},
                                         {"secret", required_argument, NULL, 'K'},
                                         TDM_CLIENT_ICE_LONG_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    double d;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'u': v->url = optarg; break;
        case 't': v->token = optarg; break;
        case 'l':
            if (v->n_local == TDM_ICE_MAX_LOCAL_ADDRESSES) {
                fprintf(stderr, PROG ": at most %d --local-address\n", TDM_ICE_MAX_LOCAL_ADDRESSES);
                return 2;
            }
            v->local[v->n_local++] = optarg;
            break;
        case 'c':
            if (strcmp(optarg, "vp8") == 0)
                v->offer_codec = TDM_CODEC_VP8;
            else if (strcmp(optarg, "vp9") == 0)
                v->offer_codec = TDM_CODEC_VP9;
            else {
                fprintf(stderr, PROG ": bad --codec '%s' (vp8 or vp9)\n", optarg);
                return 2;
            }
            break;
        case 'S': v->signal_url = optarg; break;
        case 'F': v->session_file = optarg; break;
        case 'K': v->secret_opt = optarg; break;
        case 'y': v->y4m_path = optarg; break;
        case 'n': v->snapshot_path = optarg; break;
        case 'd':
            if (!tdm_client_parse_number(optarg, 0.001, 1e7, &v->duration_s)) {
                fprintf(stderr, PROG ": bad --duration '%s' (seconds, > 0)\n", optarg);
                return 2;
            }
            break;
        case 'e':
            if (!tdm_client_parse_number(optarg, 1, 1e9, &d) || d != (long)d) {
                fprintf(stderr, PROG ": bad --expect-frames '%s' (a whole number >= 1)\n", optarg);
                return 2;
            }
            v->expect_frames = (long)d;
            break;
        case 'h': usage(stdout); return 1;
        default:
            if (tdm_client_is_ice_option(c)) {
                tdm_error ierr = {{0}};
                if (tdm_client_ice_option(&v->ice, c, optarg, &ierr) == TDM_OK)
                    break;
                fprintf(stderr, PROG ": %s\n", ierr.msg);
                return 2;
            }
            fprintf(stderr, PROG ": unknown or incomplete option '%s' (see --help)\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROG ": unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    if (v->signal_url) {
        if (v->url || v->token || (!v->session_file == !v->secret_opt) || v->n_local == 0) {
            fprintf(stderr, PROG ": --signal wants one of --session-file and --secret, "
                            "--local-address, and no --url/--token (see --help)\n");
            return 2;
        }
    } else if (!v->url || !v->token || v->n_local == 0) {
        fprintf(stderr, PROG ": --url, --token and --local-address are required (see --help)\n");
        return 2;
    }
    tdm_error err = {{0}};
    if (tdm_client_ice_options_check(&v->ice, &err) != TDM_OK) {
        fprintf(stderr, PROG ": %s (see --help)\n", err.msg);
        return 2;
    }
    return 0;
}

static tdm_status build_offer(void *user, const tdm_client_offer_params *p, char *out, size_t cap,
                              size_t *len, tdm_error *err)
{
    view *v = user;
    tdm_sdp_offer_config oc = {.role = TDM_SDP_ROLE_SUBSCRIBE,
                               .ice_ufrag = p->ice_ufrag,
                               .ice_pwd = p->ice_pwd,
                               .session_id = ((uint64_t)tdm_client_random_u32() << 32 | tdm_client_random_u32()) >> 1,
                               .video_codec = v->offer_codec,
                               .video_pt = PAYLOAD_TYPE,
                               .candidates = p->candidates,
                               .n_candidates = p->n_candidates,
                               .candidates_complete = true};
    memcpy(oc.fingerprint, p->fingerprint, sizeof oc.fingerprint);
    tdm_status st = tdm_sdp_offer_write(&oc, out, cap, len, err);
    return st;
}

/* The codec the answer gives payload type pt, if we decode it. */
static bool codec_for_pt(view *v, uint8_t pt, tdm_codec *out)
{
    size_t mi;
    const tdm_sdp_session *a = tdm_client_session_answer(v->sess, &mi);
    const tdm_sdp_media *m = &a->media[mi];
    for (size_t i = 0; i < m->n_codecs; i++) {
        if (m->codecs[i].pt != pt)
            continue;
        if (strcasecmp(m->codecs[i].encoding, "VP8") == 0)
            *out = TDM_CODEC_VP8;
        else if (strcasecmp(m->codecs[i].encoding, "VP9") == 0)
            *out = TDM_CODEC_VP9;
        else
            return false;
        return true;
    }
    return false;
}

static bool start_stream(view *v, uint8_t pt, uint32_t ssrc)
{
    tdm_codec codec;
    if (!codec_for_pt(v, pt, &codec)) {
        if (!v->stream_failed)
            fprintf(stderr,
                    PROG ": RTP with payload type %u, which the answer does not map to "
                         "VP8 or VP9; ignored\n",
                    pt);
        v->stream_failed = true;
        return false;
    }
    tdm_assembler_config acfg;
    tdm_assembler_config_default(&acfg, codec);
    acfg.payload_type = pt;
    tdm_video_decoder_config dcfg;
    tdm_video_decoder_config_init(&dcfg, codec);
    tdm_error err = {{0}};
    if (tdm_assembler_new(&acfg, &v->asm_) != TDM_OK ||
        tdm_video_decoder_new(&dcfg, &v->dec, &err) != TDM_OK) {
        fprintf(stderr, PROG ": cannot set up decoding: %s\n",
                err.msg[0] ? err.msg : "out of memory");
        tdm_assembler_free(v->asm_);
        v->asm_ = NULL;
        v->stream_failed = true;
        return false;
    }
    v->codec = codec;
    v->media_ssrc = ssrc;
    return true;
}

static void on_rtp(void *user, uint8_t *buf, size_t len)
{
    view *v = user;
    tdm_rtp_packet pkt;
    if (tdm_rtp_parse(buf, len, &pkt, NULL) != TDM_OK)
        return;
    v->rtp_packets++;
    v->rtp_bytes += len;
    v->sec_bytes += len;
    if (!v->asm_ &&
        (v->stream_failed || !start_stream(v, pkt.header.payload_type, pkt.header.ssrc)))
        return;
    tdm_assembler_push(v->asm_, tdm_client_now_us(), buf, len, NULL);
}

static void send_rtcp(view *v, uint8_t *buf, size_t len)
{
    uint8_t wire[RTCP_MAX + TDM_PEER_MAX_SRTP_OVERHEAD];
    memcpy(wire, buf, len);
    /* Lost: the assembler asks again. */
    tdm_peer_send_rtcp(tdm_client_session_peer(v->sess), wire, len, sizeof wire);
}

static void send_pli(view *v, uint64_t now)
{
    uint8_t rtcp[RTCP_MAX];
    size_t len;
    if (tdm_rtcp_write_pli(v->ssrc, v->media_ssrc, rtcp, sizeof rtcp, &len) == TDM_OK) {
        send_rtcp(v, rtcp, len);
        v->plis++;
        v->last_pli_us = now;
    }
}

/* The first picture after a move closes its gap, stamped or not (a real
 * display carries no stamp): the time from the last picture before the
 * move, by this machine's clock. Frame numbers are added when stamps are
 * read; a stamped stream whose first picture after the move is unreadable
 * gets its line at the next readable one (gap_pending_ms). */
static void close_gap(view *v, uint64_t now)
{
    if (!v->gap_open)
        return;
    double ms = (double)(now - v->gap_from_us) / 1000.0;
    if (ms > v->gap_max_ms)
        v->gap_max_ms = ms;
    v->gap_open = false;
    v->gap_pending_ms = ms;
}

/* number: the stamp of the picture at hand, < 0 when unreadable; final:
 * print now even without frame numbers (another move is starting). */
static void print_gap(view *v, int64_t number, bool final)
{
    if (v->gap_pending_ms < 0)
        return;
    if (number >= 0 && v->gap_from_frame >= 0)
        printf("view: gap %.0f ms frames %lld..%lld (%lld missing) move %llu\n", v->gap_pending_ms,
               (long long)v->gap_from_frame, (long long)number,
               (long long)(number - v->gap_from_frame - 1), (unsigned long long)v->moves);
    else if (final || number >= 0 || v->last < 0) /* no stamp before the move, or none at all */
        printf("view: gap %.0f ms move %llu (no stamp: frame numbers unknown)\n",
               v->gap_pending_ms, (unsigned long long)v->moves);
    else
        return; /* a stamped source: wait for a readable stamp to name the frames */
    fflush(stdout);
    v->gap_pending_ms = -1;
}

static void take_picture(view *v, const tdm_i420 *pic, uint64_t now)
{
    tdm_stamp st;
    v->frames++;
    v->sec_frames++;
    close_gap(v, now);
    v->last_pic_us = now;
    if (tdm_stamp_read_luma(pic->y, pic->stride_y, pic->width, pic->height, 0, 0, &st) != TDM_OK) {
        v->unreadable++;
        print_gap(v, -1, false);
    } else {
        int64_t number = st.frame_number;
        print_gap(v, number, false);
        if (v->last >= 0 && number <= v->last) {
            v->out_of_order++;
        } else {
            if (v->last >= 0)
                v->missing += (uint64_t)(number - v->last - 1);
            if (v->first < 0)
                v->first = number;
            v->last = number;
        }
        uint64_t sent = st.capture_us, got = now & STAMP_CLOCK_MASK;
        if (got >= sent) { /* else the stamp came from another machine's clock */
            double ms = (double)(got - sent) / 1000.0;
            v->sec_latency_sum += ms;
            v->sec_latency_n++;
            if (ms > v->sec_latency_max)
                v->sec_latency_max = ms;
        }
    }
    if (v->snapshot_path) {
        if (v->latest.owned &&
            (v->latest.width != pic->width || v->latest.height != pic->height))
            tdm_i420_free(&v->latest);
        if (v->latest.owned || tdm_i420_alloc(&v->latest, pic->width, pic->height) == TDM_OK) {
            int cw = (pic->width + 1) / 2, ch = (pic->height + 1) / 2;
            for (int r = 0; r < pic->height; r++)
                memcpy(v->latest.y + (size_t)r * v->latest.stride_y,
                       pic->y + (size_t)r * pic->stride_y, (size_t)pic->width);
            for (int r = 0; r < ch; r++) {
                memcpy(v->latest.u + (size_t)r * v->latest.stride_u,
                       pic->u + (size_t)r * pic->stride_u, (size_t)cw);
                memcpy(v->latest.v + (size_t)r * v->latest.stride_v,
                       pic->v + (size_t)r * pic->stride_v, (size_t)cw);
            }
            v->latest_frame = v->frames;
        }
    }
    if (v->y4m_path && !v->y4m_failed) {
        tdm_error err = {{0}};
        if (!v->y4m && tdm_y4m_writer_open(v->y4m_path, pic->width, pic->height, 30, 1, &v->y4m,
                                           &err) != TDM_OK) {
            fprintf(stderr, PROG ": cannot write %s: %s\n", v->y4m_path, err.msg);
            v->y4m_failed = true;
        } else if (tdm_y4m_writer_write(v->y4m, pic, &err) != TDM_OK) {
            fprintf(stderr, PROG ": writing %s: %s\n", v->y4m_path, err.msg);
            v->y4m_failed = true;
        }
    }
}

/* Drives the assembler after the loop ran: timers, NACKs, keyframe
 * requests, frames out. */
static void pump(view *v)
{
    if (!v->asm_)
        return;
    uint64_t now = tdm_client_now_us();
    if (tdm_assembler_poll_timeout(v->asm_) <= now)
        tdm_assembler_handle_timeout(v->asm_, now);
    uint16_t seqs[128];
    size_t count;
    uint8_t rtcp[RTCP_MAX];
    size_t len;
    while (tdm_assembler_poll_nack(v->asm_, seqs, 128, &count) == TDM_OK && count > 0)
        if (tdm_rtcp_write_nack(v->ssrc, v->media_ssrc, seqs, count, rtcp, sizeof rtcp, &len) ==
            TDM_OK)
            send_rtcp(v, rtcp, len);
    tdm_assembler_event ev;
    while (tdm_assembler_poll_event(v->asm_, &ev) == TDM_OK)
        send_pli(v, now);
    tdm_encoded_frame f;
    while (tdm_assembler_poll_frame(v->asm_, &f, NULL) == TDM_OK) {
        tdm_i420 pic;
        bool produced = false;
        tdm_error err = {{0}};
        if (tdm_video_decoder_decode(v->dec, f.data, f.len, &pic, &produced, &err) != TDM_OK) {
            v->decode_errors++;
            /* The decoder now waits for a keyframe; ask unless we just did. */
            if (now - v->last_pli_us > 200000u)
                send_pli(v, now);
            continue;
        }
        if (produced)
            take_picture(v, &pic, now);
    }
}

/* PNG to FILE.tmp, then renamed: a reader never sees half a file. */
static void write_snapshot(view *v)
{
    if (!v->snapshot_path || !v->latest.owned)
        return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", v->snapshot_path);
    tdm_error err = {{0}};
    if (tdm_png_write_i420(tmp, &v->latest, TDM_MATRIX_BT601, &err) != TDM_OK) {
        fprintf(stderr, PROG ": snapshot: %s\n", err.msg);
        return;
    }
    if (rename(tmp, v->snapshot_path) != 0) {
        fprintf(stderr, PROG ": snapshot: rename to %s: %s\n", v->snapshot_path, strerror(errno));
        return;
    }
    printf("view: snapshot %s frame %llu\n", v->snapshot_path, (unsigned long long)v->latest_frame);
    fflush(stdout);
}

/* --- --signal: media from the service, and its moves ------------------- */

static tdm_status open_media(view *v, tdm_client_session **out, tdm_error *err)
{
    tdm_client_session_config cfg = {.url = v->url,
                                     .token = v->token,
                                     .kind = TDM_CLIENT_SUBSCRIBE,
                                     .build_offer = build_offer,
                                     .offer_user = v,
                                     .ice = &v->ice,
                                     .on_rtp = on_rtp,
                                     .on_pair = on_pair,
                                     .media_user = v};
    for (size_t i = 0; i < v->n_local; i++)
        cfg.local_addresses[cfg.n_local_addresses++] = v->local[i];
    return tdm_client_session_open(&cfg, out, err);
}

/* Takes media (a media object, stolen) as the one to subscribe with:
 * url, token and the service's TURN on top of the command line's. */
static bool use_media(view *v, json_t *media)
{
    const char *url = json_string_value(json_object_get(media, "url"));
    const char *token = json_string_value(json_object_get(media, "token"));
    if (!url || !token) {
        fprintf(stderr, PROG ": the service gave no media (no relay can take the session now)\n");
        json_decref(media);
        return false;
    }
    v->ice = v->ice_cli;
    json_t *turn = json_object_get(media, "turn");
    if (json_is_object(turn)) {
        size_t i;
        json_t *u;
        json_array_foreach (json_object_get(turn, "urls"), i, u) {
            tdm_error ierr = {{0}};
            if (json_string_value(u) &&
                tdm_client_ice_options_add_server(&v->ice, json_string_value(u), &ierr) != TDM_OK)
                fprintf(stderr, PROG ": TURN server %s not used: %s\n", json_string_value(u),
                        ierr.msg);
        }
        v->ice.username = json_string_value(json_object_get(turn, "username"));
        v->ice.credential = json_string_value(json_object_get(turn, "credential"));
    }
    json_decref(v->media);
    v->media = media;
    v->url = url;
    v->token = token;
    return true;
}

static bool read_session_file(view *v)
{
    FILE *f = fopen(v->session_file, "r");
    if (!f) {
        fprintf(stderr, PROG ": cannot read %s: %s\n", v->session_file, strerror(errno));
        return false;
    }
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "session_id ", 11) == 0)
            snprintf(v->sid, sizeof v->sid, "%.63s", line + 11);
        else if (strncmp(line, "secret ", 7) == 0)
            snprintf(v->secret, sizeof v->secret, "%.511s", line + 7);
    }
    fclose(f);
    if (!v->secret[0]) {
        fprintf(stderr, PROG ": %s holds no secret line (write it with tandem-rep --save)\n",
                v->session_file);
        return false;
    }
    return true;
}

/* Opens the WebSocket and authenticates; learns the session id from the
 * welcome. TDM_ERR_UNAVAILABLE when the service refused the secret. */
static tdm_status signal_connect(view *v, tdm_error *err)
{
    tdm_link_ws *ws = NULL;
    char *welcome = NULL;
    tdm_status st = tdm_link_ws_connect(v->link, &ws, err);
    if (st == TDM_OK)
        st = tdm_link_ws_auth(ws, v->secret, &welcome, err);
    if (st != TDM_OK) {
        tdm_link_ws_close(ws);
        return st;
    }
    json_t *doc = json_loads(welcome, 0, NULL);
    free(welcome);
    const char *sid = json_string_value(json_object_get(json_object_get(doc, "state"), "session"));
    if (!v->sid[0] && sid)
        snprintf(v->sid, sizeof v->sid, "%s", sid);
    json_decref(doc);
    v->ws = ws;
    return TDM_OK;
}

/* POST /api/v1/sessions/{sid}/media: a fresh relay token. */
static bool fetch_media(view *v)
{
    char path[160];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/media", v->sid);
    tdm_link_request rq = {.method = "POST", .path = path, .secret = v->secret, .body = "{}"};
    tdm_link_response resp = {0};
    tdm_error err = {{0}};
    if (tdm_link_http(v->link, &rq, &resp, &err) != TDM_OK) {
        fprintf(stderr, PROG ": asking %s for media: %s\n", v->signal_url, err.msg);
        tdm_link_response_free(&resp);
        return false;
    }
    if (resp.status != 200) {
        char text[256];
        fprintf(stderr, PROG ": the service refused media: %s\n",
                tdm_link_error_text(&resp, text, sizeof text));
        tdm_link_response_free(&resp);
        return false;
    }
    json_t *doc = json_loads(resp.body, 0, NULL);
    tdm_link_response_free(&resp);
    json_t *media = json_incref(json_object_get(doc, "media"));
    json_decref(doc);
    return use_media(v, media);
}

static int signal_start(view *v)
{
    if (v->session_file && !read_session_file(v))
        return 2;
    if (v->secret_opt)
        snprintf(v->secret, sizeof v->secret, "%s", v->secret_opt);
    v->ice_cli = v->ice;
    tdm_error err = {{0}};
    if (tdm_link_new(v->signal_url, 5000, &v->link, &err) != TDM_OK) {
        fprintf(stderr, PROG ": --signal: %s\n", err.msg);
        return 2;
    }
    if (signal_connect(v, &err) != TDM_OK) {
        fprintf(stderr, PROG ": the session's WebSocket at %s: %s\n", v->signal_url, err.msg);
        return 1;
    }
    if (!v->sid[0] ||
        strspn(v->sid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
            strlen(v->sid)) {
        fprintf(stderr, PROG ": the service did not name the session\n");
        return 1;
    }
    if (!fetch_media(v))
        return 1;
    printf("view: session %s media %s\n", v->sid, v->url);
    fflush(stdout);
    return 0;
}

/* Subscribes to the relay the session moved to. The decoder starts over
 * (the new relay's stream begins with a keyframe); the frame-number check
 * goes on across the gap. */
static void follow_move(view *v, json_t *media, const char *from)
{
    uint64_t t0 = tdm_client_now_us();
    if (!use_media(v, media))
        return;
    if (v->gap_pending_ms >= 0) /* still waiting for a stamp: no frame numbers then */
        print_gap(v, -1, true);
    v->moves++;
    if (!v->gap_open) {
        v->gap_open = true;
        v->gap_from_us = v->last_pic_us ? v->last_pic_us : t0;
        v->gap_from_frame = v->last;
    }
    tdm_assembler_free(v->asm_);
    v->asm_ = NULL;
    tdm_video_decoder_free(v->dec);
    v->dec = NULL;
    v->stream_failed = false;
    tdm_client_session *old = v->sess;
    tdm_error err = {{0}};
    if (open_media(v, &v->sess, &err) != TDM_OK) {
        fprintf(stderr, PROG ": subscribing to %s after a move: %s\n", v->url, err.msg);
        v->sess = old; /* still failed: the next move is waited for */
        return;
    }
    v->peer = tdm_client_session_peer(v->sess);
    tdm_client_session_close(old);
    printf("view: moved from relay %s to %s in %.0f ms, %s\n", from ? from : "?", v->url,
           (double)(tdm_client_now_us() - t0) / 1000.0, tdm_client_session_pair(v->sess));
    fflush(stdout);
}

/* Reads what the service sent (never blocks). false: stop (the session
 * ended or this participant was removed). */
static bool poll_signal(view *v)
{
    if (!v->link)
        return true;
    uint64_t now = tdm_client_now_us();
    if (!v->ws) {
        if (now < v->ws_retry_us)
            return true;
        tdm_error err = {{0}};
        tdm_status st = signal_connect(v, &err);
        if (st == TDM_ERR_UNAVAILABLE) {
            fprintf(stderr, PROG ": the service refused the secret: %s\n", err.msg);
            return false;
        }
        v->ws_retry_us = now + 1000000u;
        if (st != TDM_OK)
            return true;
    }
    for (;;) {
        const char *msg = NULL;
        size_t len = 0;
        tdm_error err = {{0}};
        tdm_status st = tdm_link_ws_recv(v->ws, 0, &msg, &len, &err);
        if (st == TDM_AGAIN)
            return true;
        if (st != TDM_OK) {
            int code = tdm_link_ws_close_code(v->ws);
            tdm_link_ws_close(v->ws);
            v->ws = NULL;
            if (st == TDM_EOF && (code == 1000 || code == 4003)) {
                printf("view: the session ended (or this participant left)\n");
                return false;
            }
            fprintf(stderr, PROG ": the session's WebSocket: %s; reconnecting\n",
                    st == TDM_EOF ? "closed" : err.msg);
            v->ws_retry_us = now + 500000u;
            return true;
        }
        tdm_media_move mv;
        if (tdm_media_move_parse(msg, len, &mv)) {
            follow_move(v, json_loads(mv.media, 0, NULL), mv.from);
            free(mv.media);
            continue;
        }
        json_t *doc = json_loadb(msg, len, 0, NULL);
        const char *type = json_string_value(json_object_get(doc, "type"));
        bool removed = type && strcmp(type, "removed") == 0;
        json_decref(doc);
        if (removed) {
            printf("view: removed from the session\n");
            return false;
        }
    }
}

#define MOVE_WAIT_US (60u * 1000000u)

static void print_status(view *v, double t)
{
    const tdm_assembler_stats *as = v->asm_ ? tdm_assembler_get_stats(v->asm_) : NULL;
    /* No stamp read this second (an unstamped source, no frame, or stamps
     * from another machine's clock): nothing was measured, so no number. */
    char latency[64] = "n/a";
    if (v->sec_latency_n)
        snprintf(latency, sizeof latency, "avg %.1f max %.1f",
                 v->sec_latency_sum / (double)v->sec_latency_n, v->sec_latency_max);
    printf("view: t=%.0fs fps %llu %.0f kbit/s frames %llu lost %llu recovered %llu nacks %llu "
           "plis %llu out_of_order %llu missing %llu latency_ms %s\n",
           t, (unsigned long long)v->sec_frames, (double)v->sec_bytes * 8 / 1000,
           (unsigned long long)v->frames, (unsigned long long)(as ? as->packets_given_up : 0),
           (unsigned long long)(as ? as->packets_recovered : 0),
           (unsigned long long)(as ? as->nacks_sent : 0), (unsigned long long)v->plis,
           (unsigned long long)v->out_of_order, (unsigned long long)v->missing, latency);
    fflush(stdout);
    v->sec_frames = v->sec_bytes = v->sec_latency_n = 0;
    v->sec_latency_sum = v->sec_latency_max = 0;
}

static int run(view *v)
{
    uint64_t start = tdm_client_now_us();
    uint64_t end = v->duration_s > 0 ? start + (uint64_t)(v->duration_s * 1e6) : UINT64_MAX;
    uint64_t next_status = start + 1000000u;
    uint64_t failed_at = 0;
    while (!stop_requested) {
        if (!poll_signal(v))
            break;
        uint64_t now = tdm_client_now_us();
        if (now >= end)
            break;
        if (v->expect_frames && v->frames >= (uint64_t)v->expect_frames)
            break;
        const char *reason = "";
        tdm_peer_state ps = tdm_peer_get_state(v->peer, NULL, &reason);
        if (ps == TDM_PEER_FAILED || ps == TDM_PEER_CLOSED) {
            if (!v->link) {
                fprintf(stderr, PROG ": media connection %s: %s\n", tdm_peer_state_name(ps),
                        reason);
                return 1;
            }
            if (!failed_at) { /* the service moves us if the relay is gone */
                failed_at = now;
                fprintf(stderr, PROG ": media connection %s: %s; waiting for a move\n",
                        tdm_peer_state_name(ps), reason);
            } else if (now - failed_at > MOVE_WAIT_US) {
                fprintf(stderr, PROG ": no move within %u s; giving up\n",
                        MOVE_WAIT_US / 1000000u);
                return 1;
            }
        } else {
            failed_at = 0;
        }
        if (now >= next_status) {
            print_status(v, (double)(now - start) / 1e6);
            next_status += 1000000u;
        }
        uint64_t wake = next_status < end ? next_status : end;
        if (v->asm_) {
            uint64_t d = tdm_assembler_poll_timeout(v->asm_);
            if (d < wake)
                wake = d;
        }
        now = tdm_client_now_us();
        unsigned wait_ms = wake > now ? (unsigned)((wake - now + 999) / 1000) : 0;
        if (wait_ms > 100 && v->snapshot_path)
            wait_ms = 100; /* SIGUSR1 does not interrupt the loop's wait */
        if (wait_ms > 50 && v->link)
            wait_ms = 50; /* the WebSocket is read between waits */
        tdm_client_session_iterate(v->sess, wait_ms);
        pump(v);
        if (snapshot_requested) {
            snapshot_requested = 0;
            write_snapshot(v);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    view v = {.first = -1, .last = -1, .offer_codec = TDM_CODEC_VP8, .gap_pending_ms = -1};
    int rc = parse_options(&v, argc, argv);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (v.snapshot_path)
        signal(SIGUSR1, on_usr1); /* only then: SIGUSR1 otherwise keeps its default */
    v.ssrc = tdm_client_random_u32() | 1u;
    if (v.signal_url && (rc = signal_start(&v)) != 0) {
        tdm_link_ws_close(v.ws);
        tdm_link_free(v.link);
        json_decref(v.media);
        return rc;
    }
    tdm_error err = {{0}};
    tdm_status st = open_media(&v, &v.sess, &err);
    if (st != TDM_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        tdm_link_ws_close(v.ws);
        tdm_link_free(v.link);
        json_decref(v.media);
        return st == TDM_ERR_INVALID ? 2 : 1;
    }
    v.peer = tdm_client_session_peer(v.sess);
    printf("view: connected %s\n", tdm_client_session_pair(v.sess));
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    rc = run(&v);
    write_snapshot(&v);
    tdm_i420_free(&v.latest);
    tdm_client_session_close(v.sess); /* DELETEs the resource */
    if (v.y4m && tdm_y4m_writer_close(v.y4m, &err) != TDM_OK) {
        fprintf(stderr, PROG ": writing %s: %s\n", v.y4m_path, err.msg);
        rc = 1;
    }
    const tdm_assembler_stats *as = v.asm_ ? tdm_assembler_get_stats(v.asm_) : NULL;
    printf("view: packets %llu bytes %llu recovered %llu given_up %llu "
           "unreadable_stamps %llu decode_errors %llu plis %llu\n",
           (unsigned long long)v.rtp_packets, (unsigned long long)v.rtp_bytes, (unsigned long long)(as ? as->packets_recovered : 0),
           (unsigned long long)(as ? as->packets_given_up : 0), (unsigned long long)v.unreadable,
           (unsigned long long)v.decode_errors, (unsigned long long)v.plis);
    print_gap(&v, -1, true); /* a gap still waiting for a stamp */
    if (v.moves)
        printf("view: moves %llu gap_max_ms %.0f%s\n", (unsigned long long)v.moves, v.gap_max_ms,
               v.gap_open ? " (no picture after the last move)" : "");
    tdm_link_ws_close(v.ws);
    tdm_link_free(v.link);
    json_decref(v.media);
    printf("frames %llu first %lld last %lld out_of_order %llu missing %llu\n",
           (unsigned long long)v.frames, (long long)v.first, (long long)v.last,
           (unsigned long long)v.out_of_order, (unsigned long long)v.missing);
    fflush(stdout);
    tdm_assembler_free(v.asm_);
    tdm_video_decoder_free(v.dec);
    if (rc == 0 && v.out_of_order > 0) {
        fprintf(stderr, PROG ": %llu frames came out of order\n",
                (unsigned long long)v.out_of_order);
        rc = 1;
    } else if (rc == 0 && v.frames == 0) {
        fprintf(stderr, PROG ": no frame was decoded (is anyone publishing?)\n");
        rc = 1;
    } else if (rc == 0 && v.expect_frames && v.frames < (uint64_t)v.expect_frames) {
        fprintf(stderr, PROG ": %llu frames decoded, fewer than the %ld expected\n",
                (unsigned long long)v.frames, v.expect_frames);
        rc = 1;
    }
    return rc;
}
