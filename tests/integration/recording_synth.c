/* recording_synth: records a synthetic session through tdm_rec_writer,
 * the way the relay's hook will: real VP8 or VP9 RTP (capture/'s synthetic
 * source with its frame stamp -> codec/ encoder -> packetizer) and, with
 * --opus, real Opus RTP (a tone), each packet pushed with its arrival time.
 *
 *   recording_synth OUT --key-file KEY [--codec vp8|vp9] [--frames N]
 *                   [--opus] [--realtime] [--session ID] [--scenario NAME]
 *                   [--kbps N] [--skip A:B] [--start-unix-us US]
 *                   [--first-frame K] [--clock-us C] [--size WxH]
 *
 * --skip A:B leaves out every packet of frames A..B-1 (as if the relay
 * never got them) and makes frame B a keyframe (as a PLI would).
 *
 * --start-unix-us sets the header's start time (default: now), so a test
 * can place the recording against audit entries written at known times.
 *
 * --first-frame K makes the frames' stamps start at K (the source is run
 * through K frames first, not encoded): the next segment of a session whose
 * previous segment ended at frame K-1, as when the customer publishes again
 * on another relay (a new encoder: it starts with a keyframe; new RTP
 * sequence numbers and timestamps). --clock-us C starts the recorder's
 * clock at C (another relay's monotonic clock means nothing here).
 * --size sets the picture (default 640x360).
 *
 * --realtime paces frames at 30 per second on the wall clock (for the
 * kill -9 test); otherwise time is simulated and nothing sleeps. Prints
 * "frames N" (frames encoded and sent) at the end; with --realtime it
 * prints "frame K" as it goes, so a test knows how far it got. The session
 * key is random and wrapped under the master key as signaling does. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "tdm_audio.h"
#include "tdm_incremental.h"
#include "tdm_opus_rtp.h"
#include "tdm_rec_writer.h"
#include "tdm_rtp.h"
#include "tdm_synthetic.h"
#include "tdm_video_encoder.h"
#include "tdm_vp8_rtp.h"
#include "tdm_vp9_rtp.h"

#define FRAME_US 33333u
#define MTU 1200

static int die(const char *what, const tdm_error *err)
{
    fprintf(stderr, "recording_synth: %s%s%s\n", what, err ? ": " : "", err ? err->msg : "");
    return 1;
}

static int read_master(const char *path, uint8_t key[32])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char hex[80] = {0};
    size_t n = fread(hex, 1, sizeof hex - 1, f);
    fclose(f);
    if (n < 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        key[i] = (uint8_t)v;
    }
    return 0;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key-file", required_argument, NULL, 'k'}, {"codec", required_argument, NULL, 'c'},
        {"frames", required_argument, NULL, 'n'},   {"opus", no_argument, NULL, 'o'},
        {"realtime", no_argument, NULL, 'r'},       {"session", required_argument, NULL, 's'},
        {"scenario", required_argument, NULL, 'S'}, {"kbps", required_argument, NULL, 'b'},
        {"skip", required_argument, NULL, 'x'},     {"start-unix-us", required_argument, NULL, 'T'},
        {"first-frame", required_argument, NULL, 'F'}, {"clock-us", required_argument, NULL, 'C'},
        {"size", required_argument, NULL, 'z'},
        {NULL, 0, NULL, 0},
    };
    const char *key_file = NULL, *session = "synthetic-session";
    tdm_codec codec = TDM_CODEC_VP8;
    int frames = 90, c, first_frame = 0, W = 640, H = 360;
    uint64_t clock_us = 0;
    unsigned kbps = 1500;
    int skip_from = -1, skip_to = -1;
    tdm_synthetic_scenario scenario = TDM_SCENARIO_TYPING;
    bool opus = false, realtime = false;
    uint64_t start_unix_us = (uint64_t)time(NULL) * 1000000u;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key_file = optarg; break;
        case 'c':
            if (!tdm_codec_parse(optarg, &codec) || codec == TDM_CODEC_OPUS)
                return die("--codec vp8 or vp9", NULL);
            break;
        case 'n': frames = atoi(optarg); break;
        case 'o': opus = true; break;
        case 'r': realtime = true; break;
        case 's': session = optarg; break;
        case 'S':
            if (!tdm_synthetic_scenario_parse(optarg, &scenario))
                return die("unknown --scenario", NULL);
            break;
        case 'b': kbps = (unsigned)atoi(optarg); break;
        case 'T': start_unix_us = strtoull(optarg, NULL, 10); break;
        case 'F': first_frame = atoi(optarg); break;
        case 'C': clock_us = strtoull(optarg, NULL, 10); break;
        case 'z':
            if (sscanf(optarg, "%dx%d", &W, &H) != 2 || W < 16 || H < 16 || W > 4096 || H > 4096)
                return die("--size WxH, 16 to 4096", NULL);
            break;
        case 'x':
            if (sscanf(optarg, "%d:%d", &skip_from, &skip_to) != 2 || skip_from < 1 ||
                skip_to <= skip_from)
                return die("--skip A:B with 1 <= A < B", NULL);
            break;
        default: return 2;
        }
    }
    if (optind != argc - 1 || !key_file || frames <= 0 || first_frame < 0)
        return die(
            "usage: recording_synth OUT --key-file KEY [--codec vp8|vp9] [--frames N] [--opus] "
            "[--realtime]",
            NULL);
    uint8_t master[32], rec_key[32], nonce[12];
    if (read_master(key_file, master) != 0)
        return die("cannot read the master key (64 hex digits)", NULL);
    if (RAND_bytes(rec_key, sizeof rec_key) != 1 || RAND_bytes(nonce, sizeof nonce) != 1)
        return die("no randomness", NULL);
    tdm_error err = {{0}};
    tdm_rec_header hdr = {.start_unix_us = start_unix_us};
    snprintf(hdr.session_id, sizeof hdr.session_id, "%s", session);
    if (tdm_sig_key_wrap(master, rec_key, nonce, hdr.session_id, hdr.wrapped_key, &err) != TDM_OK)
        return die("key wrap", &err);
    hdr.streams[hdr.nstreams++] = (tdm_rec_stream){.id = 1,
                                                   .codec = codec,
                                                   .payload_type = codec == TDM_CODEC_VP8 ? 96 : 98,
                                                   .ssrc = 0x5eed0001,
                                                   .clock_hz = TDM_VIDEO_CLOCK_HZ};
    if (opus)
        hdr.streams[hdr.nstreams++] = (tdm_rec_stream){.id = 2, .codec = TDM_CODEC_OPUS,
                                                       .payload_type = 111, .ssrc = 0x5eed0002,
                                                       .clock_hz = TDM_OPUS_CLOCK_HZ};

    tdm_synthetic_config scfg = {.width = W, .height = H, .scenario = scenario, .fps = 30};
    tdm_source *src;
    tdm_incremental *inc;
    tdm_video_encoder_config ecfg;
    tdm_video_encoder *enc;
    tdm_audio_encoder *aenc = NULL;
    if (tdm_synthetic_open(&scfg, &src, &err) != TDM_OK)
        return die("synthetic source", &err);
    if (tdm_incremental_new(W, H, TDM_MATRIX_BT601, &inc) != TDM_OK)
        return die("incremental", NULL);
    tdm_video_encoder_config_init(&ecfg, codec, W, H);
    ecfg.bitrate_kbps = kbps;
    if (tdm_video_encoder_new(&ecfg, &enc, &err) != TDM_OK)
        return die("video encoder", &err);
    if (opus) {
        tdm_audio_encoder_config acfg;
        tdm_audio_encoder_config_init(&acfg, 1);
        if (tdm_audio_encoder_new(&acfg, &aenc, &err) != TDM_OK)
            return die("audio encoder", &err);
    }

    tdm_rec_writer_config wcfg = {.header = &hdr, .rec_key = rec_key, .queue_slots = 4096};
    tdm_rec_writer *w;
    if (tdm_rec_writer_open(argv[optind], &wcfg, &w, &err) != TDM_OK)
        return die("writer", &err);

    tdm_vp8_packetizer p8;
    tdm_vp9_packetizer p9;
    tdm_vp8_packetizer_init(&p8, 32760, 250);
    tdm_vp9_packetizer_init(&p9, 32760, 250, false);
    uint16_t vseq = (uint16_t)(65500 + 977 * first_frame), aseq = (uint16_t)(100 + first_frame);
    /* The RTP clock wraps a second in (another publisher: another start). */
    const uint32_t ts_offset = 0xFFFFFFFFu - 30 * 3000u + 7919u * (uint32_t)first_frame;
    for (int n = 0; n < first_frame; n++) {
        tdm_frame f;
        if (tdm_source_next(src, (uint64_t)n * FRAME_US + 1, &f, &err) != TDM_OK)
            return die("capture", &err);
    }
    int sent_frames = 0;
    uint64_t audio_us = 0, t_start = mono_us();
    tdm_rec_writer_push_event(w, TDM_REC_STREAM_START, 1, clock_us);
    if (opus)
        tdm_rec_writer_push_event(w, TDM_REC_STREAM_START, 2, clock_us);
    for (int n = 0; n < frames; n++) {
        uint64_t now = (uint64_t)n * FRAME_US;
        if (realtime) {
            uint64_t el = mono_us() - t_start;
            if (el < now)
                usleep((useconds_t)(now - el));
        }
        tdm_frame f;
        const tdm_tilemap *changed;
        if (tdm_source_next(src, now + 1 + (uint64_t)first_frame * FRAME_US, &f, &err) != TDM_OK ||
            tdm_incremental_convert(inc, &f, &changed) != TDM_OK)
            return die("capture", &err);
        /* After a gap the receiving side asks for a keyframe (PLI); the
         * sender answers with the frame after the gap. */
        if (n == skip_to)
            tdm_video_encoder_force_keyframe(enc);
        bool skipped = n >= skip_from && n < skip_to;
        tdm_encoded_frame ef;
        bool produced;
        if (tdm_video_encoder_encode(enc, tdm_incremental_image(inc), changed, now + 1, &ef,
                                     &produced, &err) != TDM_OK)
            return die("encode", &err);
        if (produced) {
            ef.rtp_timestamp += ts_offset;
            tdm_status st = codec == TDM_CODEC_VP8 ? tdm_vp8_packetizer_start(&p8, &ef, MTU - 12)
                                                   : tdm_vp9_packetizer_start(&p9, &ef, MTU - 12);
            if (st != TDM_OK)
                return die("packetize", NULL);
            bool last = false;
            while (!last) {
                uint8_t payload[MTU], pkt[MTU + 64];
                size_t plen, len;
                st = codec == TDM_CODEC_VP8
                         ? tdm_vp8_packetizer_next(&p8, payload, sizeof payload, &plen, &last)
                         : tdm_vp9_packetizer_next(&p9, payload, sizeof payload, &plen, &last);
                if (st != TDM_OK)
                    return die("packetize", NULL);
                tdm_rtp_header h = {.marker = last,
                                    .payload_type = hdr.streams[0].payload_type,
                                    .seq = vseq++,
                                    .timestamp = ef.rtp_timestamp,
                                    .ssrc = hdr.streams[0].ssrc};
                if (tdm_rtp_write(&h, payload, plen, 0, pkt, sizeof pkt, &len) != TDM_OK)
                    return die("rtp write", NULL);
                if (skipped)
                    continue; /* the packets the relay never recorded */
                /* Arrival time: the frame's time plus a little per packet. */
                while (!tdm_rec_writer_push_rtp(w, 1, clock_us + now + 100, pkt, len))
                    usleep(500); /* a test wants every packet; the relay would drop */
            }
            sent_frames++;
        }
        while (opus && audio_us <= now) {
            int16_t pcm[TDM_AUDIO_FRAME_SAMPLES];
            for (int i = 0; i < TDM_AUDIO_FRAME_SAMPLES; i++) {
                double t =
                    (double)(audio_us / 20000u * TDM_AUDIO_FRAME_SAMPLES + (uint64_t)i) / 48000.0;
                pcm[i] = (int16_t)(8000 * sin(2 * M_PI * 440 * t));
            }
            tdm_encoded_frame af;
            bool aprod;
            if (tdm_audio_encoder_encode(aenc, pcm, audio_us, &af, &aprod, &err) != TDM_OK)
                return die("audio encode", &err);
            if (aprod) {
                uint8_t payload[TDM_AUDIO_MAX_PACKET], pkt[TDM_AUDIO_MAX_PACKET + 64];
                size_t plen, len;
                if (tdm_opus_packetize(&af, payload, sizeof payload, &plen, NULL, NULL) != TDM_OK)
                    return die("opus packetize", NULL);
                tdm_rtp_header h = {.payload_type = 111,
                                    .seq = aseq++,
                                    .timestamp = af.rtp_timestamp,
                                    .ssrc = hdr.streams[1].ssrc};
                if (tdm_rtp_write(&h, payload, plen, 0, pkt, sizeof pkt, &len) != TDM_OK)
                    return die("rtp write", NULL);
                while (!tdm_rec_writer_push_rtp(w, 2, clock_us + audio_us + 100, pkt, len))
                    usleep(500);
            }
            audio_us += 20000;
        }
        if (realtime) {
            printf("frame %d\n", n);
            fflush(stdout);
        }
    }
    uint64_t end = clock_us + (uint64_t)frames * FRAME_US;
    tdm_rec_writer_push_event(w, TDM_REC_STREAM_STOP, 1, end);
    if (opus)
        tdm_rec_writer_push_event(w, TDM_REC_STREAM_STOP, 2, end);
    uint8_t hash[TDM_REC_HASH_LEN];
    if (tdm_rec_writer_close(w, end, hash, &err) != TDM_OK)
        return die("close", &err);
    printf("frames %d\n", sent_frames);
    tdm_audio_encoder_free(aenc);
    tdm_video_encoder_free(enc);
    tdm_incremental_free(inc);
    tdm_source_close(src);
    return 0;
}
