/* bench_codec: Tandem's capture-to-bitstream pipeline against plain libvpx.
 *
 * For each synthetic scenario at 1920x1080 (30 fps of video), VP8 and VP9,
 * 1 and 2 threads, two pipelines encode the same frames with the same
 * encoder settings (a browser's screen share: tdm_video_encoder_config_init):
 *   anchor  "plain_libvpx": every frame converted in full with libyuv's
 *           ARGBToI420 and encoded whole, as a browser does;
 *   tandem  incremental conversion of the tiles the damage names, then the
 *           content-aware encode (skip unchanged frames, active map).
 * Measured: CPU (process CPU time, so libvpx's worker threads count) of
 * conversion + encoding only, per second of video; frames/s of that work;
 * kbit/s; and PSNR of what a viewer sees (the latest decoded picture, also
 * when a frame was skipped) against the frame that was captured, pooled
 * over all frames and planes. Source generation, decoding and PSNR are not
 * timed. The two pipelines run interleaved, frame by frame (see run_pair). The synthetic stamp is frozen (tdm_synthetic_config.frozen_stamp):
 * a frame counter ticking in the corner would make `idle` a clock, not an
 * idle screen; `idle_stamped` keeps it ticking, to show what that costs.
 * BENCH lines:
 *   codec.cpu.<vp8|vp9>.<scenario>.<1|2>t   ms/s, ratio tandem/anchor
 *   codec.psnr.<vp8|vp9>.<scenario>.<1|2>t  dB, ratio tandem/anchor
 *   codec.fps.<vp8|vp9>.typing.2160p.2t     frames/s at 3840x2160 */
#include <getopt.h>
#include <libyuv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "tdm_incremental.h"
#include "tdm_psnr.h"
#include "tdm_synthetic.h"
#include "tdm_video_decoder.h"
#include "tdm_video_encoder.h"

#define VIDEO_FPS 30

typedef struct result {
    double cpu_ms_per_s; /* CPU ms per second of video */
    double fps;          /* frames per wall-clock second of conversion + encoding */
    double kbps;
    double psnr;
    unsigned long produced;
} result;

static void die(const char *what, tdm_status st, const tdm_error *err)
{
    fprintf(stderr, "bench_codec: %s: %s%s%s\n", what, tdm_status_str(st), err ? ": " : "",
            err ? err->msg : "");
    exit(1);
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int warmup = 90;

/* One pipeline being measured: its own source (the synthetic desktop is
 * deterministic, so both see the same frames), encoder, decoder for the
 * PSNR, and its tallies. */
typedef struct pipeline {
    bool tandem;
    int w, h;
    tdm_source *src;
    tdm_video_encoder *enc;
    tdm_video_decoder *dec;
    tdm_incremental *inc; /* tandem */
    tdm_i420 full;        /* anchor */
    uint64_t cpu, wall, bytes, sse, samples;
    bool have_picture;
    tdm_i420 picture;
    unsigned long produced;
} pipeline;

static void pipe_open(pipeline *p, tdm_synthetic_scenario sc, tdm_codec codec, int threads,
                      bool tandem, int w, int h, bool stamped)
{
    tdm_error err = {{0}};
    tdm_status st;
    memset(p, 0, sizeof *p);
    p->tandem = tandem;
    p->w = w;
    p->h = h;
    tdm_synthetic_config scfg = {.width = w, .height = h, .scenario = sc, .fps = VIDEO_FPS,
                                 .frozen_stamp = !stamped};
    if ((st = tdm_synthetic_open(&scfg, &p->src, &err)) != TDM_OK)
        die("synthetic source", st, &err);
    tdm_video_encoder_config ecfg;
    tdm_video_encoder_config_init(&ecfg, codec, w, h);
    ecfg.threads = threads;
    if (!tandem) {
        ecfg.skip_unchanged = false;
        ecfg.use_active_map = false;
        ecfg.own_frames = false;
        ecfg.loop_filter = true; /* as browsers encode */
    }
    if ((st = tdm_video_encoder_new(&ecfg, &p->enc, &err)) != TDM_OK)
        die("encoder", st, &err);
    tdm_video_decoder_config dcfg;
    tdm_video_decoder_config_init(&dcfg, codec);
    if ((st = tdm_video_decoder_new(&dcfg, &p->dec, &err)) != TDM_OK)
        die("decoder", st, &err);
    if (tandem ? tdm_incremental_new(w, h, TDM_MATRIX_BT601, &p->inc) != TDM_OK
               : tdm_i420_alloc(&p->full, w, h) != TDM_OK)
        die("conversion", TDM_ERR_NOMEM, NULL);
}

/* Frame n: conversion and encoding timed (when measured), then decoding
 * and PSNR untimed. */
static void pipe_step(pipeline *p, int n, bool measured)
{
    tdm_error err = {{0}};
    tdm_status st;
    uint64_t pts = (uint64_t)n * 1000000u / VIDEO_FPS + 1;
    tdm_frame f;
    if ((st = tdm_source_next(p->src, pts, &f, &err)) != TDM_OK)
        die("synthetic frame", st, &err);
    tdm_encoded_frame out;
    bool produced = false;
    const tdm_i420 *img;

    uint64_t c0 = cpu_ns(), w0 = tdm_bench_now_ns();
    if (p->tandem) {
        const tdm_tilemap *changed;
        if ((st = tdm_incremental_convert(p->inc, &f, &changed)) != TDM_OK)
            die("incremental conversion", st, NULL);
        img = tdm_incremental_image(p->inc);
        st = tdm_video_encoder_encode(p->enc, img, changed, pts, &out, &produced, &err);
    } else {
        ARGBToI420(f.bgra.data, f.bgra.stride, p->full.y, p->full.stride_y, p->full.u,
                   p->full.stride_u, p->full.v, p->full.stride_v, p->w, p->h);
        img = &p->full;
        st = tdm_video_encoder_encode(p->enc, img, NULL, pts, &out, &produced, &err);
    }
    if (measured) {
        p->cpu += cpu_ns() - c0;
        p->wall += tdm_bench_now_ns() - w0;
    }
    if (st != TDM_OK)
        die("encode", st, &err);

    if (produced) {
        if (measured) {
            p->bytes += out.len;
            p->produced++;
        }
        bool shown = false;
        if ((st = tdm_video_decoder_decode(p->dec, out.data, out.len, &p->picture, &shown,
                                           &err)) != TDM_OK)
            die("decode", st, &err);
        p->have_picture |= shown;
    }
    if (p->have_picture && measured) {
        tdm_psnr ps;
        if ((st = tdm_psnr_compute(&p->picture, img, &ps, &err)) != TDM_OK)
            die("psnr", st, &err);
        p->sse += ps.sse_y + ps.sse_u + ps.sse_v;
        p->samples += (uint64_t)p->w * p->h + 2 * (uint64_t)((p->w + 1) / 2) * ((p->h + 1) / 2);
    }
}

static result pipe_close(pipeline *p, int frames)
{
    result r = {0};
    double seconds = (double)frames / VIDEO_FPS;
    r.cpu_ms_per_s = (double)p->cpu / 1e6 / seconds;
    r.fps = (double)frames / ((double)p->wall / 1e9);
    r.kbps = (double)p->bytes * 8 / 1000 / seconds;
    r.psnr = tdm_psnr_from_sse(p->sse, p->samples);
    r.produced = p->produced;
    tdm_incremental_free(p->inc);
    tdm_i420_free(&p->full);
    tdm_video_decoder_free(p->dec);
    tdm_video_encoder_free(p->enc);
    tdm_source_close(p->src);
    return r;
}

/* The anchor and Tandem side by side, frame by frame, taking turns at
 * going first: on a shared machine whose speed drifts by 10-20 % over
 * seconds (measured here), running one pipeline after the other skewed
 * the ratio by as much; interleaved, both see the same machine. The
 * first warmup frames (the opening keyframe and the encoder's settling
 * after it) are encoded but not measured: a support session lasts
 * minutes, so its steady state is what costs. */
static void run_pair(tdm_synthetic_scenario sc, tdm_codec codec, int threads, int w, int h,
                     int frames, bool stamped, result *anchor, result *tandem)
{
    pipeline a, t;
    pipe_open(&a, sc, codec, threads, false, w, h, stamped);
    pipe_open(&t, sc, codec, threads, true, w, h, stamped);
    for (int n = 0; n < warmup + frames; n++) {
        bool measured = n >= warmup;
        pipeline *first = n % 2 ? &t : &a, *second = n % 2 ? &a : &t;
        pipe_step(first, n, measured);
        pipe_step(second, n, measured);
    }
    *anchor = pipe_close(&a, frames);
    *tandem = pipe_close(&t, frames);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_codec [--quick] [--frames N] [--codec vp8|vp9] [--scenario NAME]\n"
            "Compares Tandem's capture+encode pipeline with plain libvpx at 1920x1080,\n"
            "30 fps of video, 1 and 2 threads, and 3840x2160 typing on 2 threads.\n"
            "  --quick       30 warm-up and 60 measured frames per run\n"
            "  --frames N    measured frames per run                [150]\n"
            "  --warmup N    frames encoded before measuring starts [90]\n"
            "  --codec C     only this codec\n"
            "  --scenario S  only this scenario (idle typing scroll drag video full)\n");
}

int main(int argc, char **argv)
{
    int frames = 150;
    int only_codec = 0;
    int only_scenario = -1;
    static const struct option opts[] = {{"quick", no_argument, NULL, 'q'},
                                         {"frames", required_argument, NULL, 'n'},
                                         {"warmup", required_argument, NULL, 'w'},
                                         {"codec", required_argument, NULL, 'c'},
                                         {"scenario", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "qn:w:c:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            frames = 60;
            warmup = 30;
            break;
        case 'w':
            warmup = atoi(optarg);
            if (warmup < 0) {
                fprintf(stderr, "bench_codec: --warmup wants a number from 0\n");
                return 2;
            }
            break;
        case 'n':
            frames = atoi(optarg);
            if (frames < 2) {
                fprintf(stderr, "bench_codec: --frames wants a number from 2\n");
                return 2;
            }
            break;
        case 'c': {
            tdm_codec cc;
            if (!tdm_codec_parse(optarg, &cc) || cc == TDM_CODEC_OPUS) {
                fprintf(stderr, "bench_codec: --codec wants vp8 or vp9\n");
                return 2;
            }
            only_codec = (int)cc;
            break;
        }
        case 's': {
            tdm_synthetic_scenario s;
            if (!tdm_synthetic_scenario_parse(optarg, &s)) {
                fprintf(stderr, "bench_codec: unknown scenario '%s'\n", optarg);
                return 2;
            }
            only_scenario = (int)s;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    const tdm_codec codecs[] = {TDM_CODEC_VP8, TDM_CODEC_VP9};
    printf("codec benchmark: 1920x1080, %d frames (%.1f s of video) measured per run after %d "
           "warm-up frames\n",
           frames, (double)frames / VIDEO_FPS, warmup);
    printf("%-4s %-12s %2s | %9s %7s %8s %6s | %9s %7s %8s %6s %5s\n", "", "", "th", "anchor",
           "fps", "kbit/s", "PSNR", "tandem", "fps", "kbit/s", "PSNR", "coded");
    printf("%-4s %-12s %2s | %9s %7s %8s %6s | %9s %7s %8s %6s %5s\n", "", "", "", "CPU ms/s", "",
           "", "dB", "CPU ms/s", "", "", "dB", "");
    for (size_t ci = 0; ci < 2; ci++) {
        if (only_codec && (int)codecs[ci] != only_codec)
            continue;
        for (int s = 0; s < TDM_SCENARIO_COUNT; s++) {
            if (only_scenario >= 0 && s != only_scenario)
                continue;
            for (int th = 1; th <= 2; th++)
                for (int stamped = 0; stamped <= (s == TDM_SCENARIO_IDLE); stamped++) {
                result a, t;
                run_pair((tdm_synthetic_scenario)s, codecs[ci], th, 1920, 1080, frames, stamped,
                         &a, &t);
                const char *cn = tdm_codec_name(codecs[ci]);
                const char *sn = stamped ? "idle_stamped"
                                         : tdm_synthetic_scenario_name((tdm_synthetic_scenario)s);
                printf("%-4s %-12s %2d | %9.1f %7.1f %8.0f %6.2f | %9.1f %7.1f %8.0f %6.2f %5lu\n",
                       cn, sn, th, a.cpu_ms_per_s, a.fps, a.kbps, a.psnr, t.cpu_ms_per_s, t.fps,
                       t.kbps, t.psnr, t.produced);
                char name[96];
                snprintf(name, sizeof name, "codec.cpu.%s.%s.%dt", cn, sn, th);
                tdm_bench_line(name, t.cpu_ms_per_s, "ms/s", "plain_libvpx", a.cpu_ms_per_s);
                snprintf(name, sizeof name, "codec.psnr.%s.%s.%dt", cn, sn, th);
                tdm_bench_line(name, t.psnr, "dB", "plain_libvpx", a.psnr);
            }
        }
    }
    if (only_scenario < 0 || only_scenario == TDM_SCENARIO_TYPING) {
        for (size_t ci = 0; ci < 2; ci++) {
            if (only_codec && (int)codecs[ci] != only_codec)
                continue;
            int n = frames < 90 ? frames : 90;
            result a, t;
            run_pair(TDM_SCENARIO_TYPING, codecs[ci], 2, 3840, 2160, n, false, &a, &t);
            const char *cn = tdm_codec_name(codecs[ci]);
            printf("%-4s typing 2160p 2 threads: anchor %.1f fps, tandem %.1f fps\n", cn, a.fps,
                   t.fps);
            char name[96];
            snprintf(name, sizeof name, "codec.fps.%s.typing.2160p.2t", cn);
            tdm_bench_line(name, t.fps, "fps", "plain_libvpx", a.fps);
        }
    }
    return 0;
}
