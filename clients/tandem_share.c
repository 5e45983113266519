/* tandem-share: the customer's endpoint — publishes a desktop to a relay
 * over WHIP and, joined to a session, takes the reps' input.
 *
 * Two ways in: --url/--token (a WHIP URL and token from elsewhere: tests,
 * benchmarks) or --signal/--join-code (the customer's join code alone:
 * POST /api/v1/join gives the WHIP URL, token and TURN credentials, and the
 * participant secret opens the WebSocket that carries the filtered input
 * events; share_remote.c injects them on --display and handles taking
 * control back).
 *
 * Owns the publisher's media loop: source (the synthetic desktop, stamped
 * with the frame number and CLOCK_MONOTONIC microseconds, or an X display
 * with its cursor, tdm_x11.h) -> incremental conversion ->
 * VP8/VP9 encoder -> RTP packetizer -> tdm_peer. It answers the relay's
 * RTCP: PLI and FIR force a keyframe, NACKs are served from a small cache
 * of the packets it sent (the relay answers its subscribers from its own
 * cache, but the leg from here to the relay can lose packets too), and
 * REMB becomes the encoder's bitrate, clamped to [100, --bitrate] kbit/s. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <jansson.h>

#include "inject_plan.h"
#include "share_audio.h"
#include "share_remote.h"
#include "signal_link.h"
#include "tdm_incremental.h"
#include "tdm_opus_rtp.h"
#include "tdm_rtcp.h"
#include "tdm_rtp.h"
#include "tdm_sdp_offer.h"
#include "tdm_synthetic.h"
#include "tdm_video_encoder.h"
#include "tdm_vp8_rtp.h"
#include "tdm_vp9_rtp.h"
#include "tdm_x11.h"
#include "whip_client.h"

#define PROG "tandem-share"
/* RTP packet (header + payload) at most this big, so that with SRTP's tag
 * a datagram stays within 1200 bytes: safe on any path, TURN included. */
#define RTP_MAX (1200 - TDM_PEER_MAX_SRTP_OVERHEAD)
#define CACHE_SLOTS 1024 /* a power of two; about a second of 8 Mbit/s */
#define PAYLOAD_TYPE 96
#define AUDIO_PAYLOAD_TYPE 111 /* Opus, as browsers number it */
#define MIN_KBPS 100

static volatile sig_atomic_t stop_requested;
static tdm_share_remote *remote_for_signal;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* SIGUSR2: the customer toggles control (take back / give again). */
static void on_usr2(int sig)
{
    (void)sig;
    tdm_share_remote_wake(remote_for_signal);
}

typedef struct cached {
    bool used;
    uint16_t seq;
    size_t len;
    uint8_t buf[RTP_MAX];
} cached;

typedef struct share {
    /* options */
    const char *url, *token;
    const char *signal_url, *join_code, *name;
    const char *display, *monitor;
    bool list_monitors, no_cursor;
    unsigned allow_input;
    const char *input_log_path;
    const char *audio_spec; /* --audio: "tone" or a WAV file */
    const char *local[TDM_ICE_MAX_LOCAL_ADDRESSES];
    size_t n_local;
    tdm_client_ice_options ice; /* --ice-server etc. */
    tdm_client_ice_options ice_cli; /* as given on the command line, before the service's TURN */
    tdm_synthetic_scenario scenario;
    int width, height;
    double fps;
    tdm_codec codec;
    unsigned max_kbps; /* 0: the encoder's default for the size */
    double duration_s; /* 0: until SIGINT */
    double drop_pct;   /* test aid: RTP dropped before sending */

    /* joined with a code */
    json_t *joined; /* the join answer: url, token, TURN strings live here */
    json_t *moved;  /* the latest "media moved" media object: url, token, TURN */
    uint64_t moves;
    tdm_link *link;
    const char *secret;
    tdm_share_remote *remote;
    FILE *input_log;
    tdm_rect area; /* the shared monitor in root pixels */

    /* the voice channel (--audio) */
    tdm_share_audio *audio;
    tdm_audio_encoder *aenc;
    uint32_t audio_ssrc;
    uint16_t audio_seq;
    uint64_t audio_next_us, audio_pts_us;
    uint64_t audio_packets;

    tdm_client_session *sess;
    tdm_peer *peer;
    tdm_source *src;
    tdm_incremental *inc;
    tdm_video_encoder *enc;
    tdm_vp8_packetizer vp8;
    tdm_vp9_packetizer vp9;
    uint32_t ssrc;
    uint16_t seq;
    cached *cache;
    bool keyframe_pending;
    unsigned kbps;

    uint64_t frames, keyframes, bytes, packets, send_errors, dropped;
    uint64_t nacks_served, nacks_missed, plis, firs, rembs;
    uint64_t sec_frames, sec_bytes;
} share;

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " --signal URL --join-code CODE --local-address ADDR [options]\n"
               "       " PROG " --url URL --token TOKEN --local-address ADDR [options]\n"
               "       " PROG " --list-monitors [--display D]\n"
               "\n"
               "Publishes a desktop to a Tandem relay over WHIP: an X display (--display,\n"
               "with its cursor) or a synthetic desktop (each frame stamped with its number\n"
               "and the CLOCK_MONOTONIC time in microseconds, which tandem-view reads back).\n"
               "Joined with a code, it also takes the session's remote input and injects it\n"
               "on --display with XTEST (with the synthetic desktop it only counts it).\n"
               "\n"
               "  --signal URL         tandem-signal's base URL, http://HOST:PORT\n"
               "  --join-code CODE     the customer's join code (\"123-456-789\")\n"
               "  --name NAME          the name the session's reps see (default Customer)\n"
               "  --url URL            instead of joining: http://HOST:PORT/whip/SESSION\n"
               "  --token TOKEN        with --url: bearer token with the publish role\n"
               "  --local-address ADDR numeric address ICE gathers on; required, repeatable\n"
               "                       (ICE never enumerates this machine's interfaces)\n"
               TDM_CLIENT_ICE_USAGE
               "  --display D          capture X display D (\":1\") instead of the synthetic\n"
               "                       desktop, cursor included; its size is the picture size\n"
               "  --monitor M          with --display: only RandR monitor M (index or name)\n"
               "  --list-monitors      print the display's monitors (index, name, geometry)\n"
               "  --no-cursor          with --display: leave the cursor out of the picture\n"
               "  --allow-input none|pointer|keyboard|all\n"
               "                       this machine's own limit on remote input, on top of\n"
               "                       the session's profile (default all: the profile\n"
               "                       decides); refused events are counted\n"
               "  --audio tone|FILE    also send the customer's voice: Opus from a 440 Hz test\n"
               "                       tone or a WAV file (16-bit PCM, 48 kHz, mono or\n"
               "                       stereo; it loops)\n"
               "  --input-log FILE     one line per input event received:\n"
               "                       <CLOCK_MONOTONIC us> <event type> injected|refused:<reason>\n"
               "  --scenario NAME      synthetic desktop: idle|typing|scroll|drag|video|full\n"
               "                       (default typing)\n"
               "  --size WxH           synthetic desktop: picture size (default 1280x720, at\n"
               "                       least 320x240)\n"
               "  --fps N              frames per second, 1..120 (default 30)\n"
               "  --codec vp8|vp9      (default vp8)\n"
               "  --bitrate KBPS       target and ceiling for REMB, 100..200000 (default: the\n"
               "                       encoder's for the size, about 0.04 bit per pixel)\n"
               "  --duration S         stop after S seconds (default: run until SIGINT)\n"
               "  --drop-percent P     test aid: drop P%% of outgoing RTP packets at random\n"
               "                       (retransmissions too) to exercise loss repair on the\n"
               "                       publisher-to-relay leg\n"
               "  --help               this text\n"
               "\n"
               "Taking control back (joined with a code): the chord Ctrl+Alt+Shift+T on the\n"
               "shared display, SIGUSR2, or the line \"take\" on stdin stop all remote input\n"
               "at once (whatever it held pressed is released) and the session's reps are\n"
               "told; the chord or SIGUSR2 again, or \"give\", hand control back.\n"
               "\n"
               "Joined with a code, it follows the session when the service moves it to\n"
               "another relay (its relay went away): it publishes there at once and prints\n"
               "\"share: moved to URL in N ms\"; a failed media connection is waited out (60 s)\n"
               "for such a move.\n"
               "\n"
               "Prints \"joined session SID as PID\", \"control: customer\" / \"control: shared\"\n"
               "and a status line every second. Exits 0 after --duration, SIGINT or the end\n"
               "of the session (the WHIP resource is DELETEd), 1 if the service or the relay\n"
               "cannot be reached, refuses the code or token, or the media connection fails\n"
               "(joined: and no move came within 60 s), 2 for bad options.\n");
}

static bool parse_size(const char *s, int *w, int *h)
{
    char *x;
    long a = strtol(s, &x, 10);
    if (x == s || (*x != 'x' && *x != 'X'))
        return false;
    char *end;
    long b = strtol(x + 1, &end, 10);
    if (end == x + 1 || *end || a < TDM_SYNTHETIC_MIN_WIDTH || b < TDM_SYNTHETIC_MIN_HEIGHT ||
        a > TDM_MAX_DIMENSION || b > TDM_MAX_DIMENSION)
        return false;
    *w = (int)a;
    *h = (int)b;
    return true;
}


/* Every pair ICE selects, on stderr, so that a test (or a user puzzled by
 * a NAT) can see how media flows: directly (host, srflx) or via TURN. */
static void on_pair(void *user, const char *pair)
{
    (void)user;
    fprintf(stderr, "ice: selected %s\n", pair);
}

/* 0 ok, 1 --help shown, 2 bad usage (message printed). */
static int parse_options(share *sh, int argc, char **argv)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"token", required_argument, NULL, 't'},
                                         {"local-address", required_argument, NULL, 'l'},
                                         {"scenario", required_argument, NULL, 's'},
                                         {"size", required_argument, NULL, 'z'},
                                         {"fps", required_argument, NULL, 'f'},
                                         {"codec", required_argument, NULL, 'c'},
                                         {"bitrate", required_argument, NULL, 'b'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"drop-percent", required_argument, NULL, 'p'},
                                         {"signal", required_argument, NULL, 'S'},
                                         {"join-code", required_argument, NULL, 'J'},
                                         {"name", required_argument, NULL, 'N'},
                                         {"display", required_argument, NULL, 'D'},
                                         {"monitor", required_argument, NULL, 'M'},
                                         {"list-monitors", no_argument, NULL, 'L'},
                                         {"no-cursor", no_argument, NULL, 'K'},
                                         {"allow-input", required_argument, NULL, 'A'},
                                         {"input-log", required_argument, NULL, 'G'},
                                         {"audio", required_argument, NULL, 'O'},
                                         TDM_CLIENT_ICE_LONG_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    double v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'u': sh->url = optarg; break;
        case 't': sh->token = optarg; break;
        case 'l':
            if (sh->n_local == TDM_ICE_MAX_LOCAL_ADDRESSES) {
                fprintf(stderr, PROG ": at most %d --local-address\n", TDM_ICE_MAX_LOCAL_ADDRESSES);
                return 2;
            }
            sh->local[sh->n_local++] = optarg;
            break;
        case 's':
            if (!tdm_synthetic_scenario_parse(optarg, &sh->scenario)) {
                fprintf(stderr, PROG ": unknown scenario '%s'\n", optarg);
                return 2;
            }
            break;
        case 'z':
            if (!parse_size(optarg, &sh->width, &sh->height)) {
                fprintf(stderr, PROG ": bad --size '%s' (want WxH, at least 320x240)\n", optarg);
                return 2;
            }
            break;
        case 'f':
            if (!tdm_client_parse_number(optarg, 1, 120, &sh->fps)) {
                fprintf(stderr, PROG ": bad --fps '%s' (1..120)\n", optarg);
                return 2;
            }
            break;
        case 'c':
            if (strcmp(optarg, "vp8") == 0)
                sh->codec = TDM_CODEC_VP8;
            else if (strcmp(optarg, "vp9") == 0)
                sh->codec = TDM_CODEC_VP9;
            else {
                fprintf(stderr, PROG ": bad --codec '%s' (vp8 or vp9)\n", optarg);
                return 2;
            }
            break;
        case 'b':
            if (!tdm_client_parse_number(optarg, MIN_KBPS, 200000, &v)) {
                fprintf(stderr, PROG ": bad --bitrate '%s' (%d..200000 kbit/s)\n", optarg,
                        MIN_KBPS);
                return 2;
            }
            sh->max_kbps = (unsigned)v;
            break;
        case 'd':
            if (!tdm_client_parse_number(optarg, 0.001, 1e7, &sh->duration_s)) {
                fprintf(stderr, PROG ": bad --duration '%s' (seconds, > 0)\n", optarg);
                return 2;
            }
            break;
        case 'p':
            if (!tdm_client_parse_number(optarg, 0, 100, &sh->drop_pct)) {
                fprintf(stderr, PROG ": bad --drop-percent '%s' (0..100)\n", optarg);
                return 2;
            }
            break;
        case 'S': sh->signal_url = optarg; break;
        case 'J': sh->join_code = optarg; break;
        case 'N': sh->name = optarg; break;
        case 'D': sh->display = optarg; break;
        case 'M': sh->monitor = optarg; break;
        case 'L': sh->list_monitors = true; break;
        case 'K': sh->no_cursor = true; break;
        case 'G': sh->input_log_path = optarg; break;
        case 'O': sh->audio_spec = optarg; break;
        case 'A':
            if (!tdm_inject_allow_parse(optarg, &sh->allow_input)) {
                fprintf(stderr, PROG ": bad --allow-input '%s' (none, pointer, keyboard, all)\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 1;
        default:
            if (tdm_client_is_ice_option(c)) {
                tdm_error ierr = {{0}};
                if (tdm_client_ice_option(&sh->ice, c, optarg, &ierr) == TDM_OK)
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
    if (sh->list_monitors)
        return 0;
    bool joining = sh->signal_url || sh->join_code;
    if (joining && (!sh->signal_url || !sh->join_code || sh->url || sh->token)) {
        fprintf(stderr, PROG ": --signal and --join-code go together, without --url/--token "
                        "(see --help)\n");
        return 2;
    }
    if ((!joining && (!sh->url || !sh->token)) || sh->n_local == 0) {
        fprintf(stderr, PROG ": --local-address and either --signal with --join-code or --url "
                        "with --token are required (see --help)\n");
        return 2;
    }
    if ((sh->monitor || sh->no_cursor) && !sh->display) {
        fprintf(stderr, PROG ": --monitor and --no-cursor need --display\n");
        return 2;
    }
    tdm_error err = {{0}};
    if (tdm_client_ice_options_check(&sh->ice, &err) != TDM_OK) {
        fprintf(stderr, PROG ": %s (see --help)\n", err.msg);
        return 2;
    }
    return 0;
}

/* The voice channel: a second m-section (mid 1) in the video's BUNDLE,
 * so it shares the one ICE/DTLS transport. The offer writer makes the
 * video section; this adds the audio one after it. */
static tdm_status add_audio_section(share *sh, const tdm_client_offer_params *p, char *out,
                                    size_t cap, size_t *len, tdm_error *err)
{
    static const char bundle[] = "a=group:BUNDLE 0\r\n";
    char *b = strstr(out, bundle);
    if (!b || *len + 2 >= cap)
        return tdm_fail(err, TDM_ERR_FORMAT, "offer: no BUNDLE line to add audio to");
    size_t at = (size_t)(b - out) + sizeof bundle - 3; /* before "\r\n" */
    memmove(out + at + 2, out + at, *len - at + 1);
    memcpy(out + at, " 1", 2);
    *len += 2;
    char fp[TDM_SDP_FINGERPRINT_LEN * 3 + 1];
    for (size_t i = 0; i < TDM_SDP_FINGERPRINT_LEN; i++)
        snprintf(fp + 3 * i, 4, "%02X%s", p->fingerprint[i], i + 1 < TDM_SDP_FINGERPRINT_LEN ? ":" : "");
    bool stereo = tdm_share_audio_channels(sh->audio) == 2;
    int n = snprintf(out + *len, cap - *len,
                     "m=audio 9 UDP/TLS/RTP/SAVPF %d\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"
                     "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\n"
                     "a=setup:actpass\r\na=sendonly\r\na=rtcp-mux\r\n"
                     "a=rtpmap:%d opus/48000/2\r\na=fmtp:%d minptime=10;useinbandfec=1%s\r\n"
                     "a=ssrc:%u cname:tandem-share\r\n",
                     AUDIO_PAYLOAD_TYPE, p->ice_ufrag, p->ice_pwd, fp, AUDIO_PAYLOAD_TYPE,
                     AUDIO_PAYLOAD_TYPE, stereo ? ";stereo=1;sprop-stereo=1" : "",
                     (unsigned)sh->audio_ssrc);
    if (n < 0 || (size_t)n >= cap - *len)
        return tdm_fail(err, TDM_ERR_RANGE, "offer: no room for the audio section");
    *len += (size_t)n;
    return TDM_OK;
}

static tdm_status build_offer(void *user, const tdm_client_offer_params *p, char *out, size_t cap,
                              size_t *len, tdm_error *err)
{
    share *sh = user;
    tdm_sdp_offer_config oc = {.role = TDM_SDP_ROLE_PUBLISH,
                               .ice_ufrag = p->ice_ufrag,
                               .ice_pwd = p->ice_pwd,
                               .session_id = ((uint64_t)tdm_client_random_u32() << 32 | tdm_client_random_u32()) >> 1,
                               .video_codec = sh->codec,
                               .video_pt = PAYLOAD_TYPE,
                               .video_ssrc = sh->ssrc,
                               .cname = "tandem-share",
                               .candidates = p->candidates,
                               .n_candidates = p->n_candidates,
                               .candidates_complete = true};
    memcpy(oc.fingerprint, p->fingerprint, sizeof oc.fingerprint);
    tdm_status st = tdm_sdp_offer_write(&oc, out, cap, len, err);
    if (st == TDM_OK && sh->audio)
        st = add_audio_section(sh, p, out, cap, len, err);
    return st;
}

/* --- sending --------------------------------------------------------------- */

static void send_packet(share *sh, const uint8_t *pkt, size_t len)
{
    sh->packets++;
    sh->bytes += len;
    sh->sec_bytes += len;
    if (sh->drop_pct > 0 && tdm_client_random_u32() % 10000 < (uint32_t)(sh->drop_pct * 100)) {
        sh->dropped++;
        return;
    }
    uint8_t wire[RTP_MAX + TDM_PEER_MAX_SRTP_OVERHEAD];
    memcpy(wire, pkt, len); /* SRTP encrypts in place; the cache keeps plaintext */
    tdm_status st = tdm_peer_send_rtp(tdm_client_session_peer(sh->sess), wire, len, sizeof wire);
    if (st != TDM_OK)
        sh->send_errors++; /* a full socket: the relay's NACK brings it back */
}

static tdm_status send_frame(share *sh, const tdm_encoded_frame *ef, tdm_error *err)
{
    size_t max_payload = RTP_MAX - TDM_RTP_FIXED_HEADER;
    tdm_status st = sh->codec == TDM_CODEC_VP8
                        ? tdm_vp8_packetizer_start(&sh->vp8, ef, max_payload)
                        : tdm_vp9_packetizer_start(&sh->vp9, ef, max_payload);
    if (st != TDM_OK)
        return tdm_fail(err, st, "packetizer refused a frame of %zu bytes", ef->len);
    bool last = false;
    while (!last) {
        cached *c = &sh->cache[sh->seq & (CACHE_SLOTS - 1)];
        tdm_rtp_header h = {.payload_type = PAYLOAD_TYPE,
                            .seq = sh->seq,
                            .timestamp = ef->rtp_timestamp,
                            .ssrc = sh->ssrc};
        size_t hlen = 0, plen = 0;
        st = tdm_rtp_write_header(&h, c->buf, sizeof c->buf, &hlen);
        if (st == TDM_OK)
            st = sh->codec == TDM_CODEC_VP8
                     ? tdm_vp8_packetizer_next(&sh->vp8, c->buf + hlen, sizeof c->buf - hlen, &plen,
                                               &last)
                     : tdm_vp9_packetizer_next(&sh->vp9, c->buf + hlen, sizeof c->buf - hlen, &plen,
                                               &last);
        if (st != TDM_OK)
            return tdm_fail(err, st, "packetizing: %s", tdm_status_str(st));
        if (last)
            c->buf[1] |= 0x80; /* the marker bit, known only once the last payload is out */
        c->used = true;
        c->seq = sh->seq++;
        c->len = hlen + plen;
        send_packet(sh, c->buf, c->len);
    }
    return TDM_OK;
}

static tdm_status capture_and_send(share *sh, tdm_error *err)
{
    uint64_t now = tdm_client_now_us();
    tdm_frame f;
    tdm_status st = tdm_source_next(sh->src, now, &f, err);
    const tdm_tilemap *changed = NULL;
    if (st == TDM_OK)
        st = tdm_incremental_convert(sh->inc, &f, &changed);
    if (st != TDM_OK)
        return tdm_fail(err, st, "capture: %s", err->msg[0] ? err->msg : tdm_status_str(st));
    if (sh->keyframe_pending) {
        tdm_video_encoder_force_keyframe(sh->enc);
        sh->keyframe_pending = false;
    }
    tdm_encoded_frame ef;
    bool produced = false;
    st = tdm_video_encoder_encode(sh->enc, tdm_incremental_image(sh->inc), changed, now, &ef,
                                  &produced, err);
    if (st != TDM_OK || !produced)
        return st;
    sh->frames++;
    sh->sec_frames++;
    if (ef.keyframe)
        sh->keyframes++;
    return send_frame(sh, &ef, err);
}

/* One 20 ms frame of the voice channel, paced by its own clock: the RTP
 * timestamp advances by exactly 960 a frame whatever the loop's jitter. */
static tdm_status send_audio(share *sh, tdm_error *err)
{
    int16_t pcm[TDM_AUDIO_FRAME_SAMPLES * 2];
    tdm_share_audio_next(sh->audio, pcm);
    tdm_encoded_frame ef;
    bool produced = false;
    tdm_status st = tdm_audio_encoder_encode(sh->aenc, pcm, sh->audio_pts_us, &ef, &produced, err);
    sh->audio_pts_us += 20000;
    if (st != TDM_OK || !produced)
        return st;
    uint8_t pkt[RTP_MAX + TDM_PEER_MAX_SRTP_OVERHEAD];
    tdm_rtp_header h = {.payload_type = AUDIO_PAYLOAD_TYPE,
                        .seq = sh->audio_seq++,
                        .timestamp = ef.rtp_timestamp,
                        .ssrc = sh->audio_ssrc};
    size_t hlen = 0, plen = 0;
    if ((st = tdm_rtp_write_header(&h, pkt, RTP_MAX, &hlen)) != TDM_OK ||
        (st = tdm_opus_packetize(&ef, pkt + hlen, RTP_MAX - hlen, &plen, NULL, NULL)) != TDM_OK)
        return tdm_fail(err, st, "audio packet: %s", tdm_status_str(st));
    if (tdm_peer_send_rtp(sh->peer, pkt, hlen + plen, sizeof pkt) != TDM_OK)
        sh->send_errors++;
    sh->audio_packets++;
    return TDM_OK;
}

/* --- RTCP from the relay ---------------------------------------------------- */

static void serve_nack(share *sh, const tdm_rtcp_nack *n)
{
    uint16_t seqs[256];
    size_t count = tdm_rtcp_nack_seqs(n, seqs, 256);
    for (size_t i = 0; i < count && i < 256; i++) {
        const cached *c = &sh->cache[seqs[i] & (CACHE_SLOTS - 1)];
        if (!c->used || c->seq != seqs[i]) {
            sh->nacks_missed++; /* too old: the relay's PLI will follow */
            continue;
        }
        send_packet(sh, c->buf, c->len);
        sh->nacks_served++;
    }
}

static void apply_remb(share *sh, uint64_t bps)
{
    uint64_t kbps = bps / 1000;
    unsigned ceiling = sh->max_kbps;
    if (kbps < MIN_KBPS)
        kbps = MIN_KBPS;
    if (kbps > ceiling)
        kbps = ceiling;
    sh->rembs++;
    /* Small wobbles are not worth a libvpx reconfiguration. */
    unsigned diff =
        (unsigned)kbps > sh->kbps ? (unsigned)kbps - sh->kbps : sh->kbps - (unsigned)kbps;
    if (diff * 20 < sh->kbps)
        return;
    if (tdm_video_encoder_set_bitrate(sh->enc, (unsigned)kbps, NULL) == TDM_OK)
        sh->kbps = (unsigned)kbps;
}

static void on_rtcp(void *user, uint8_t *buf, size_t len)
{
    share *sh = user;
    tdm_rtcp_iter it;
    if (tdm_rtcp_iter_init(&it, buf, len, NULL) != TDM_OK)
        return;
    tdm_rtcp_item item;
    while (tdm_rtcp_iter_next(&it, &item) == TDM_OK) {
        switch (item.type) {
        case TDM_RTCP_PLI:
            sh->plis++;
            sh->keyframe_pending = true;
            break;
        case TDM_RTCP_FIR:
            for (size_t i = 0; i < item.u.fir.entry_count; i++)
                if (tdm_rtcp_fir_entry_at(&item.u.fir, i).ssrc == sh->ssrc) {
                    sh->firs++;
                    sh->keyframe_pending = true;
                }
            break;
        case TDM_RTCP_NACK:
            if (item.u.nack.media_ssrc == sh->ssrc)
                serve_nack(sh, &item.u.nack);
            break;
        case TDM_RTCP_REMB: apply_remb(sh, item.u.remb.bitrate_bps); break;
        default: break;
        }
    }
}

/* --- main ------------------------------------------------------------------ */

static int setup_media(share *sh)
{
    tdm_error err = {{0}};
    tdm_status st;
    if (sh->display) {
        tdm_x11_config xcfg = {.display = sh->display,
                               .use_damage = true,
                               .fps = sh->fps,
                               .monitor = sh->monitor,
                               .draw_cursor = !sh->no_cursor};
        st = tdm_x11_open(&xcfg, &sh->src, &err);
        if (st == TDM_OK) {
            sh->width = sh->src->width;
            sh->height = sh->src->height;
            tdm_x11_area(sh->src, &sh->area);
        }
    } else {
        tdm_synthetic_config scfg = {
            .width = sh->width, .height = sh->height, .scenario = sh->scenario, .fps = sh->fps};
        st = tdm_synthetic_open(&scfg, &sh->src, &err);
        sh->area = (tdm_rect){0, 0, sh->width, sh->height};
    }
    if (st == TDM_OK)
        st = tdm_incremental_new(sh->width, sh->height, TDM_MATRIX_BT601, &sh->inc);
    if (st != TDM_OK) {
        fprintf(stderr, PROG ": cannot set up capture: %s\n",
                err.msg[0] ? err.msg : tdm_status_str(st));
        return 1;
    }
    tdm_video_encoder_config ecfg;
    tdm_video_encoder_config_init(&ecfg, sh->codec, sh->width, sh->height);
    ecfg.max_fps = sh->fps;
    if (sh->max_kbps)
        ecfg.bitrate_kbps = sh->max_kbps;
    else
        sh->max_kbps = ecfg.bitrate_kbps;
    sh->kbps = ecfg.bitrate_kbps;
    st = tdm_video_encoder_new(&ecfg, &sh->enc, &err);
    if (st != TDM_OK) {
        fprintf(stderr, PROG ": cannot set up the encoder: %s\n", err.msg);
        return 1;
    }
    tdm_vp8_packetizer_init(&sh->vp8, (uint16_t)tdm_client_random_u32(), (uint8_t)tdm_client_random_u32());
    tdm_vp9_packetizer_init(&sh->vp9, (uint16_t)tdm_client_random_u32(), (uint8_t)tdm_client_random_u32(), false);
    sh->cache = calloc(CACHE_SLOTS, sizeof *sh->cache);
    if (!sh->cache) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    if (sh->audio_spec) {
        tdm_audio_encoder_config acfg;
        if ((st = tdm_share_audio_open(sh->audio_spec, &sh->audio, &err)) == TDM_OK) {
            tdm_audio_encoder_config_init(&acfg, tdm_share_audio_channels(sh->audio));
            st = tdm_audio_encoder_new(&acfg, &sh->aenc, &err);
        }
        if (st != TDM_OK) {
            fprintf(stderr, PROG ": --audio: %s\n", err.msg);
            return st == TDM_ERR_NOMEM ? 1 : 2;
        }
        sh->audio_ssrc = tdm_client_random_u32() | 1u;
        if (sh->audio_ssrc == sh->ssrc)
            sh->audio_ssrc ^= 2u;
        sh->audio_seq = (uint16_t)tdm_client_random_u32();
    }
    return 0;
}

static void print_status(share *sh, double t)
{
    char input[200] = "";
    if (sh->remote) {
        tdm_share_remote_stats rs;
        tdm_share_remote_get_stats(sh->remote, &rs);
        snprintf(input, sizeof input, " input %llu injected %llu refused %llu control %s",
                 (unsigned long long)rs.received, (unsigned long long)rs.injected,
                 (unsigned long long)rs.refused, rs.customer_control ? "customer" : "shared");
    }
    if (sh->audio) {
        size_t used = strlen(input);
        snprintf(input + used, sizeof input - used, " audio_packets %llu",
                 (unsigned long long)sh->audio_packets);
    }
    printf("share: t=%.0fs frames %llu (+%llu) %.0f kbit/s keyframes %llu nacks_served %llu "
           "plis %llu firs %llu bitrate %u kbit/s send_errors %llu%s\n",
           t, (unsigned long long)sh->frames, (unsigned long long)sh->sec_frames,
           (double)sh->sec_bytes * 8 / 1000, (unsigned long long)sh->keyframes,
           (unsigned long long)sh->nacks_served, (unsigned long long)sh->plis,
           (unsigned long long)sh->firs, sh->kbps, (unsigned long long)sh->send_errors, input);
    fflush(stdout);
    sh->sec_frames = sh->sec_bytes = 0;
}

/* WHIP to sh->url with sh->token: a new tdm_client_session in *out. */
static tdm_status open_media(share *sh, tdm_client_session **out, tdm_error *err)
{
    tdm_client_session_config cfg = {.url = sh->url,
                                     .token = sh->token,
                                     .kind = TDM_CLIENT_PUBLISH,
                                     .build_offer = build_offer,
                                     .offer_user = sh,
                                     .ice = &sh->ice,
                                     .on_rtcp = on_rtcp,
                                     .on_pair = on_pair,
                                     .media_user = sh};
    for (size_t i = 0; i < sh->n_local; i++)
        cfg.local_addresses[cfg.n_local_addresses++] = sh->local[i];
    return tdm_client_session_open(&cfg, out, err);
}

/* TURN servers and credentials of a media object (join answer or move). */
static tdm_status use_turn(share *sh, json_t *media, tdm_error *err)
{
    json_t *turn = json_object_get(media, "turn");
    if (!json_is_object(turn))
        return TDM_OK;
    size_t i;
    json_t *u;
    json_array_foreach (json_object_get(turn, "urls"), i, u) {
        const char *url = json_string_value(u);
        tdm_error ierr = {{0}};
        if (url && tdm_client_ice_options_add_server(&sh->ice, url, &ierr) != TDM_OK)
            fprintf(stderr, PROG ": TURN server %s not used: %s\n", url, ierr.msg);
    }
    sh->ice.username = json_string_value(json_object_get(turn, "username"));
    sh->ice.credential = json_string_value(json_object_get(turn, "credential"));
    return tdm_client_ice_options_check(&sh->ice, err);
}

/* The service moved the session to another relay (its relay went away:
 * signaling/API.md "Relay failover"): publish there, then let go of the
 * old relay (best effort: it may be dead). Nobody is asked anything. The
 * first frame on the new relay is a keyframe. 0, or 1 when the new relay
 * cannot be reached (the caller goes on waiting for another move). */
static int follow_move(share *sh, char *text)
{
    json_t *media = json_loads(text, 0, NULL);
    free(text);
    const char *url = json_string_value(json_object_get(media, "url"));
    const char *token = json_string_value(json_object_get(media, "token"));
    if (!url || !token) {
        fprintf(stderr, PROG ": a move without url or token ignored\n");
        json_decref(media);
        return 1;
    }
    uint64_t t0 = tdm_client_now_us();
    sh->url = url;
    sh->token = token;
    tdm_error err = {{0}};
    tdm_client_session *next = NULL;
    sh->ice = sh->ice_cli; /* the new media's TURN replaces the old one's */
    tdm_status st = use_turn(sh, media, &err);
    if (st == TDM_OK)
        st = open_media(sh, &next, &err);
    if (st != TDM_OK) {
        fprintf(stderr, PROG ": publishing to %s after a move: %s\n", url, err.msg);
        json_decref(sh->moved);
        sh->moved = media; /* sh->url points into it */
        return 1;
    }
    tdm_client_session *old = sh->sess;
    sh->sess = next;
    sh->peer = tdm_client_session_peer(next);
    tdm_client_session_close(old); /* DELETE on the old relay, if it still answers */
    json_decref(sh->moved);
    sh->moved = media;
    sh->moves++;
    sh->keyframe_pending = true;
    printf("share: moved to %s in %.0f ms, %s\n", url, (double)(tdm_client_now_us() - t0) / 1000.0,
           tdm_client_session_pair(next));
    fflush(stdout);
    return 0;
}

/* How long a share joined with a code waits for the service to move it
 * after its media connection failed, before giving up. */
#define MOVE_WAIT_US (60u * 1000000u)

static int run(share *sh)
{
    uint64_t start = tdm_client_now_us();
    uint64_t period = (uint64_t)(1e6 / sh->fps);
    uint64_t end = sh->duration_s > 0 ? start + (uint64_t)(sh->duration_s * 1e6) : UINT64_MAX;
    uint64_t next_frame = start, next_status = start + 1000000u;
    uint64_t failed_at = 0; /* when the media connection failed, 0 while it works */
    sh->audio_next_us = start;
    sh->audio_pts_us = start;
    /* The relay asks for a keyframe when a subscriber joins; the first
     * frame is one anyway. */
    while (!stop_requested) {
        uint64_t now = tdm_client_now_us();
        if (now >= end)
            break;
        char *move = tdm_share_remote_take_move(sh->remote);
        if (move) {
            follow_move(sh, move);
            failed_at = 0;
            now = tdm_client_now_us();
        }
        const char *reason = "";
        tdm_peer_state ps = tdm_peer_get_state(sh->peer, NULL, &reason);
        if (ps == TDM_PEER_FAILED || ps == TDM_PEER_CLOSED) {
            if (!sh->remote) {
                fprintf(stderr, PROG ": media connection %s: %s\n", tdm_peer_state_name(ps),
                        reason);
                return 1;
            }
            /* Joined to a session: the service moves us if the relay is gone. */
            if (!failed_at) {
                failed_at = now;
                fprintf(stderr, PROG ": media connection %s: %s; waiting for the service to "
                                "move the session\n", tdm_peer_state_name(ps), reason);
            } else if (now - failed_at > MOVE_WAIT_US) {
                fprintf(stderr, PROG ": no move within %u s; giving up\n",
                        MOVE_WAIT_US / 1000000u);
                return 1;
            }
        }
        if (now >= next_frame) {
            tdm_error err = {{0}};
            if (capture_and_send(sh, &err) != TDM_OK) {
                fprintf(stderr, PROG ": %s\n", err.msg);
                return 1;
            }
            next_frame += period;
            if (next_frame + period < now)
                next_frame = now; /* fell behind (slow encode): skip, don't burst */
        }
        while (sh->audio && now >= sh->audio_next_us) {
            tdm_error err = {{0}};
            if (send_audio(sh, &err) != TDM_OK) {
                fprintf(stderr, PROG ": %s\n", err.msg);
                return 1;
            }
            sh->audio_next_us += 20000;
            if (sh->audio_next_us + 200000 < now)
                sh->audio_next_us = now; /* stalled: no burst of stale voice */
        }
        if (now >= next_status) {
            print_status(sh, (double)(now - start) / 1e6);
            next_status += 1000000u;
        }
        now = tdm_client_now_us();
        uint64_t wake = next_frame < next_status ? next_frame : next_status;
        if (sh->audio && sh->audio_next_us < wake)
            wake = sh->audio_next_us;
        if (end < wake)
            wake = end;
        unsigned wait_ms = wake > now ? (unsigned)((wake - now) / 1000) : 0;
        if (failed_at && wait_ms > 50)
            wait_ms = 50; /* a move may come any moment */
        tdm_client_session_iterate(sh->sess, wait_ms);
    }
    return 0;
}

static int list_monitors(const share *sh)
{
    tdm_x11_monitor mons[TDM_X11_MAX_MONITORS];
    size_t n = 0;
    tdm_error err = {{0}};
    if (tdm_x11_list_monitors(sh->display, mons, TDM_X11_MAX_MONITORS, &n, &err) != TDM_OK) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        printf("%zu %s %dx%d+%d+%d%s\n", i, mons[i].name, mons[i].area.w, mons[i].area.h,
               mons[i].area.x, mons[i].area.y, mons[i].primary ? " primary" : "");
    return 0;
}

/* POST /api/v1/join with the code: the WHIP URL and token, TURN, and the
 * participant secret for the WebSocket. */
static int join(share *sh)
{
    tdm_error err = {{0}};
    if (tdm_link_new(sh->signal_url, 10000, &sh->link, &err) != TDM_OK) {
        fprintf(stderr, PROG ": --signal: %s\n", err.msg);
        return 2;
    }
    json_t *req = json_pack("{s:s,s:s}", "code", sh->join_code, "display_name",
                            sh->name ? sh->name : "Customer");
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    tdm_link_request rq = {.method = "POST", .path = "/api/v1/join", .body = body};
    tdm_link_response resp = {0};
    tdm_status st = tdm_link_http(sh->link, &rq, &resp, &err);
    free(body);
    if (st != TDM_OK) {
        fprintf(stderr, PROG ": joining at %s: %s\n", sh->signal_url, err.msg);
        tdm_link_response_free(&resp);
        return 1;
    }
    if (resp.status != 201) {
        char text[256];
        fprintf(stderr, PROG ": the service refused the join code: %s\n",
                tdm_link_error_text(&resp, text, sizeof text));
        tdm_link_response_free(&resp);
        return 1;
    }
    sh->joined = json_loads(resp.body, 0, NULL);
    tdm_link_response_free(&resp);
    json_t *media = json_object_get(sh->joined, "media");
    const char *sid = json_string_value(json_object_get(sh->joined, "session_id"));
    const char *pid = json_string_value(json_object_get(sh->joined, "participant_id"));
    const char *secret = json_string_value(json_object_get(sh->joined, "secret"));
    if (!sid || !pid || !secret) {
        fprintf(stderr, PROG ": the join answer lacks session_id, participant_id or secret\n");
        return 1;
    }
    if (!json_is_object(media)) {
        fprintf(stderr, PROG ": joined, but no relay can take the session now (media null); "
                        "try again later\n");
        return 1;
    }
    sh->url = json_string_value(json_object_get(media, "url"));
    sh->token = json_string_value(json_object_get(media, "token"));
    if (!sh->url || !sh->token) {
        fprintf(stderr, PROG ": the join answer's media lacks url or token\n");
        return 1;
    }
    sh->ice_cli = sh->ice;
    if (use_turn(sh, media, &err) != TDM_OK) {
        fprintf(stderr, PROG ": the service's TURN settings: %s\n", err.msg);
        return 1;
    }
    printf("joined session %s as %s\n", sid, pid);
    fflush(stdout);
    sh->secret = secret; /* the WebSocket's (start_remote), in sh->joined */
    return 0;
}

static int start_remote(share *sh)
{
    if (sh->input_log_path && !(sh->input_log = fopen(sh->input_log_path, "w"))) {
        fprintf(stderr, PROG ": cannot write %s: %s\n", sh->input_log_path, strerror(errno));
        return 2;
    }
    /* The WebSocket before the media: input may come as soon as a rep sees
     * the picture. */
    tdm_share_remote_config rc = {.signal_url = sh->signal_url,
                                  .secret = sh->secret,
                                  .display = sh->allow_input ? sh->display : NULL,
                                  .area = sh->area,
                                  .allow = sh->allow_input,
                                  .input_log = sh->input_log,
                                  .stdin_commands = true,
                                  .stop = &stop_requested};
    tdm_error err = {{0}};
    if (tdm_share_remote_start(&rc, &sh->remote, &err) != TDM_OK) {
        fprintf(stderr, PROG ": remote input: %s\n", err.msg);
        return 1;
    }
    remote_for_signal = sh->remote;
    return 0;
}

int main(int argc, char **argv)
{
    share sh = {.scenario = TDM_SCENARIO_TYPING,
                .width = 1280,
                .height = 720,
                .fps = 30,
                .codec = TDM_CODEC_VP8,
                .allow_input = TDM_INJECT_ALLOW_ALL};
    int rc = parse_options(&sh, argc, argv);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (sh.list_monitors)
        return list_monitors(&sh);
    sh.ssrc = tdm_client_random_u32() | 1u; /* nonzero */
    sh.seq = (uint16_t)tdm_client_random_u32();
    /* SIGUSR2 is wanted from the start (a test may send it early); the
     * handler does nothing until the remote side exists. */
    signal(SIGUSR2, on_usr2);
    rc = setup_media(&sh);
    if (rc == 0 && sh.join_code)
        rc = join(&sh);
    if (rc == 0 && sh.secret)
        rc = start_remote(&sh);
    if (rc == 0) {
        tdm_error err = {{0}};
        tdm_status st = open_media(&sh, &sh.sess, &err);
        if (st != TDM_OK) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            rc = st == TDM_ERR_INVALID ? 2 : 1;
        }
    }
    if (rc == 0) {
        sh.peer = tdm_client_session_peer(sh.sess);
        printf("share: connected %s, %s %dx%d@%g, ssrc %08x\n", tdm_client_session_pair(sh.sess),
               tdm_codec_name(sh.codec), sh.width, sh.height, sh.fps, sh.ssrc);
        fflush(stdout);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        rc = run(&sh);
        printf("share: done frames %llu keyframes %llu packets %llu bytes %llu dropped %llu "
               "nacks_served %llu nacks_missed %llu plis %llu firs %llu rembs %llu\n",
               (unsigned long long)sh.frames, (unsigned long long)sh.keyframes,
               (unsigned long long)sh.packets, (unsigned long long)sh.bytes,
               (unsigned long long)sh.dropped,
               (unsigned long long)sh.nacks_served, (unsigned long long)sh.nacks_missed,
               (unsigned long long)sh.plis, (unsigned long long)sh.firs,
               (unsigned long long)sh.rembs);
        if (sh.moves)
            printf("share: moved %llu time(s) by the service\n", (unsigned long long)sh.moves);
    }
    remote_for_signal = NULL;
    if (sh.remote) {
        tdm_share_remote_stats rs;
        tdm_share_remote_get_stats(sh.remote, &rs);
        printf("share: input %llu injected %llu refused %llu\n", (unsigned long long)rs.received,
               (unsigned long long)rs.injected, (unsigned long long)rs.refused);
    }
    tdm_share_remote_stop(sh.remote);
    tdm_link_free(sh.link);
    if (sh.input_log)
        fclose(sh.input_log);
    tdm_client_session_close(sh.sess); /* DELETEs the resource */
    tdm_audio_encoder_free(sh.aenc);
    tdm_share_audio_close(sh.audio);
    tdm_video_encoder_free(sh.enc);
    tdm_incremental_free(sh.inc);
    tdm_source_close(sh.src);
    free(sh.cache);
    json_decref(sh.joined);
    json_decref(sh.moved);
    return rc;
}
