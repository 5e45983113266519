/* vpx_encoder.c: the libvpx adapter behind tdm_video_encoder, with the
 * skip / active-map / settle policy described in tdm_video_encoder.h. */
#include "tdm_video_encoder.h"
#include "tdm_vp8_sparse.h"
#include "tdm_vp9_sparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vpx/vp8.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MB_SIZE 16
#define MBS_PER_TILE (TDM_TILE_SIZE / MB_SIZE)
/* At most 1 in REFINE_SHARE tiles is refined per frame beyond those that
 * changed (libvpx's own cyclic refresh takes about 1 in 10 blocks). */
#define REFINE_SHARE 8

/* Sparse frames in a row before VP9 drops to one thread (see encode). */
#define SPARSE_RUN_FOR_ONE_THREAD 15u
/* Sparse frames in a row before VP9 own frames start: leaving them costs a
 * keyframe (see encode), so they wait for a second of sparse activity. */
#define SPARSE_RUN_FOR_VP9_OWN 30u

struct tdm_video_encoder {
    tdm_video_encoder_config cfg;
    vpx_codec_ctx_t ctx;
    vpx_codec_enc_cfg_t vcfg;
    bool ctx_live;
    int tile_cols, tile_rows;
    int mb_cols, mb_rows;
    /* Per tile: produced frames without a gain in quality it may still
     * take before it settles; 0 = settled (inactive unless it changes). */
    uint8_t *patience;
    /* Per tile: lowest coding error seen since it changed; UINT32_MAX while
     * the change is owed, UINT32_MAX - 1 before the first measurement. */
    uint32_t *best_sse;
    size_t unsettled;   /* tiles with patience > 0 */
    /* libvpx's last reconstructed frame, read back to see which tiles are
     * coded well enough to leave alone; sized to the 16-aligned frame that
     * libvpx copies out, border 0. */
    uint8_t *recon_mem;
    vpx_image_t recon_copy; /* over recon_mem */
    /* What tile_sse reads: libvpx's own frame buffer when it lends it
     * (the preview frame: no copy, valid until the next encode), else
     * recon_copy. */
    vpx_image_t recon;
    bool readback; /* false after libvpx refused a read back: count instead */
    double good_mse;
    uint8_t *sel;     /* per tile: coded in the frame being made */
    size_t cursor;    /* where the rotation of refining tiles goes on */
    uint8_t *map;     /* mb_rows x mb_cols, 1 = active */
    bool map_on;      /* libvpx currently holds an active map of ours */
    int speed_now;    /* cpu-used libvpx was last given */
    bool map_refused; /* libvpx refused a map: code whole frames */
    bool force_kf;
    bool started;             /* a frame has been given to libvpx */
    bool have_output;         /* a frame has been produced */
    uint64_t first_pts_us;
    uint64_t last_pts90;      /* of the previous call, in 90 kHz ticks */
    uint64_t last_output_us;  /* pts of the last produced frame */
    uint64_t last_call_us;    /* pts of the previous call */
    vpx_codec_pts_t duration; /* 90 kHz ticks of one frame at max_fps */
    unsigned sparse_run;      /* sparse frames in a row, up to this one */
    /* Own frames (cfg.own_frames): one writer, for the configured codec. */
    bool own;                 /* own frames are on */
    tdm_vp8_sparse *writer;
    tdm_vp8_stream stream;    /* what the decoder holds, from libvpx's headers */
    tdm_vp9_sparse *writer9;
    tdm_vp9_stream stream9;
    uint8_t *own_mem;         /* the decoder's picture, kept by the writer */
    vpx_image_t own_img;      /* over own_mem, 16-aligned like recon_copy */
    tdm_vp8_picture own_pic;
    bool own_valid;           /* own_pic is the decoder's last frame */
    bool libvpx_stale;        /* libvpx's references lag behind own frames */
    double own_k;             /* bytes per coded macroblock x quantiser step */
    double own_bucket;        /* bytes the rate still allows */
    tdm_video_encoder_stats stats;
};

/* VP8 fixes its thread count when created, and its row threads wait on
 * each other by spinning: on a screen where few macroblocks change they
 * double the CPU of a frame (measured at 1080p typing: 2.5 ms of CPU per
 * frame on one thread, 4.4 ms on two) and save no time. Up to 1920x1088
 * one thread codes even a whole-screen change in about 6 ms, well inside
 * a frame interval, so VP8 takes the extra threads only above that. */
static int vp8_threads_used(const tdm_video_encoder_config *cfg)
{
    if (cfg->codec == TDM_CODEC_VP8 && (long)cfg->width * cfg->height <= 1920L * 1088L &&
        cfg->use_active_map)
        return 1;
    return cfg->threads;
}

void tdm_video_encoder_config_init(tdm_video_encoder_config *cfg, tdm_codec codec, int width,
                                   int height)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->codec = codec;
    cfg->width = width;
    cfg->height = height;
    double kbps = 0.04 * (double)width * (double)height * 30.0 / 1000.0;
    cfg->bitrate_kbps = kbps < 100 ? 100 : kbps > 200000 ? 200000 : (unsigned)kbps;
    cfg->max_fps = 30.0;
    /* VP8 -6 (fixed speed 6, WebRTC's desktop default) and VP9 8, measured
     * at 1080p on one core: VP8 -8 and -12 save little time on changing
     * content and overshoot the target there by a third; VP9 9 saves a
     * quarter of the time on full-screen change but loses 2.5 dB. */
    cfg->speed = codec == TDM_CODEC_VP9 ? 8 : -6;
    /* Measured on typing at 1080p (bench_codec): VP8 -16 under a map costs
     * a quarter less than -6 and settles text to a higher PSNR. */
    cfg->sparse_speed = codec == TDM_CODEC_VP9 ? 0 : -16; /* VP9 9 saves nothing there */
    cfg->sparse_max_pct = 3;
    cfg->threads = 1;
    cfg->keyframe_interval = 3000;
    cfg->min_q = 2;
    cfg->max_q = 56;
    cfg->buffer_ms = 1000;
    cfg->buffer_initial_ms = 500;
    cfg->buffer_optimal_ms = 600;
    cfg->skip_unchanged = true;
    cfg->use_active_map = true;
    cfg->idle_refresh_us = 1000000;
    /* 60 dB: what plain libvpx reaches on a static screen within seconds;
     * settling lower would save little and show as softer text. */
    cfg->settle_psnr = 60.0;
    cfg->settle_frames = 4;
    /* VP8 loses 2-4 dB with a map over large changes (scroll, drag) and
     * VP9 does not (its cyclic refresh keeps refining what the map skips). */
    cfg->active_map_max_pct = codec == TDM_CODEC_VP9 ? 60 : 30;
    /* Off for VP8 (sharper text, measured); VP9's filter adapts to the
     * content and turning it off cost 0.8 dB on typing (measured). */
    cfg->loop_filter = codec == TDM_CODEC_VP9;
    cfg->own_frames = true;
}

static tdm_status check_config(const tdm_video_encoder_config *c, tdm_error *err)
{
    if (c->codec != TDM_CODEC_VP8 && c->codec != TDM_CODEC_VP9)
        return tdm_fail(err, TDM_ERR_INVALID, "codec %s is not a video codec",
                        tdm_codec_name(c->codec));
    if (tdm_check_dimensions(c->width, c->height, err) != TDM_OK)
        return TDM_ERR_INVALID; /* err already says why */
    if (c->codec == TDM_CODEC_VP8 && (c->width > 16383 || c->height > 16383))
        return tdm_fail(err, TDM_ERR_INVALID,
                        "VP8 frames are at most 16383 pixels a side, not %dx%d", c->width,
                        c->height);
    if (c->bitrate_kbps < 10 || c->bitrate_kbps > 200000)
        return tdm_fail(err, TDM_ERR_INVALID, "bitrate %u kbit/s is outside [10, 200000]",
                        c->bitrate_kbps);
    if (!(c->max_fps > 0 && c->max_fps <= 240))
        return tdm_fail(err, TDM_ERR_INVALID, "max_fps %g is outside (0, 240]", c->max_fps);
    if (c->codec == TDM_CODEC_VP8 && (c->speed < -16 || c->speed > 16))
        return tdm_fail(err, TDM_ERR_INVALID, "VP8 speed %d is outside [-16, 16]", c->speed);
    if (c->codec == TDM_CODEC_VP9 && (c->speed < 5 || c->speed > 9))
        return tdm_fail(err, TDM_ERR_INVALID, "VP9 realtime speed %d is outside [5, 9]", c->speed);
    if (c->sparse_speed != 0 && c->codec == TDM_CODEC_VP8 &&
        (c->sparse_speed < -16 || c->sparse_speed > 16))
        return tdm_fail(err, TDM_ERR_INVALID, "VP8 sparse_speed %d is outside [-16, 16]",
                        c->sparse_speed);
    if (c->sparse_speed != 0 && c->codec == TDM_CODEC_VP9 &&
        (c->sparse_speed < 5 || c->sparse_speed > 9))
        return tdm_fail(err, TDM_ERR_INVALID, "VP9 sparse_speed %d is outside [5, 9]",
                        c->sparse_speed);
    if (c->threads < 1 || c->threads > 64)
        return tdm_fail(err, TDM_ERR_INVALID, "threads %d is outside [1, 64]", c->threads);
    if (c->keyframe_interval < 1 || c->keyframe_interval > 100000)
        return tdm_fail(err, TDM_ERR_INVALID, "keyframe interval %u is outside [1, 100000]",
                        c->keyframe_interval);
    if (c->min_q > c->max_q || c->max_q > 63)
        return tdm_fail(err, TDM_ERR_INVALID, "quantiser range %u..%u is not within 0..63",
                        c->min_q, c->max_q);
    if (c->buffer_ms < 1 || c->buffer_ms > 60000 || c->buffer_initial_ms < 1 ||
        c->buffer_initial_ms > c->buffer_ms || c->buffer_optimal_ms < 1 ||
        c->buffer_optimal_ms > c->buffer_ms)
        return tdm_fail(err, TDM_ERR_INVALID,
                        "buffer %u ms (initial %u, optimal %u) is not a size in [1, 60000] with "
                        "levels within it",
                        c->buffer_ms, c->buffer_initial_ms, c->buffer_optimal_ms);
    if (c->drop_threshold > 100)
        return tdm_fail(err, TDM_ERR_INVALID, "drop threshold %u%% is above 100",
                        c->drop_threshold);
    if (c->idle_refresh_us < 1000 || c->idle_refresh_us > 1000000)
        return tdm_fail(err, TDM_ERR_INVALID, "idle refresh %llu us is outside [1000, 1000000]",
                        (unsigned long long)c->idle_refresh_us);
    if (!(c->settle_psnr >= 20.0 && c->settle_psnr <= 100.0))
        return tdm_fail(err, TDM_ERR_INVALID, "settle_psnr %g dB is outside [20, 100]",
                        c->settle_psnr);
    if (c->settle_frames > 255)
        return tdm_fail(err, TDM_ERR_INVALID, "settle_frames %u is above 255", c->settle_frames);
    if (c->sparse_max_pct > 100)
        return tdm_fail(err, TDM_ERR_INVALID, "sparse_max_pct %u is above 100", c->sparse_max_pct);
    if (c->active_map_max_pct > 100)
        return tdm_fail(err, TDM_ERR_INVALID, "active_map_max_pct %u is above 100",
                        c->active_map_max_pct);
    return TDM_OK;
}

static tdm_status vpx_fail(tdm_video_encoder *enc, tdm_error *err, const char *what)
{
    const char *detail = vpx_codec_error_detail(&enc->ctx);
    return tdm_fail(err, TDM_ERR_UNAVAILABLE, "%s %s: %s%s%s", tdm_codec_name(enc->cfg.codec),
                    what, vpx_codec_error(&enc->ctx), detail ? ": " : "", detail ? detail : "");
}

#define CONTROL(enc, id, value, err)                                    \
    do {                                                                \
        if (vpx_codec_control(&(enc)->ctx, id, value) != VPX_CODEC_OK)  \
            return vpx_fail(enc, err, "control " #id);                  \
    } while (0)

static int floor_log2(int v)
{
    int l = 0;
    while (v > 1) {
        v >>= 1;
        l++;
    }
    return l;
}

/* The controls that make libvpx a screen-content realtime coder. */
static tdm_status apply_controls(tdm_video_encoder *enc, tdm_error *err)
{
    const tdm_video_encoder_config *c = &enc->cfg;
    /* A keyframe may take at most half the optimal buffer, so one does not
     * stall the stream for seconds (WebRTC's rule); in percent of a frame. */
    unsigned intra_pct = (unsigned)(c->buffer_optimal_ms * 0.5 * c->max_fps / 10.0);
    if (intra_pct < 300)
        intra_pct = 300;
    CONTROL(enc, VP8E_SET_CPUUSED, c->speed, err);
    enc->speed_now = c->speed;
    CONTROL(enc, VP8E_SET_MAX_INTRA_BITRATE_PCT, intra_pct, err);
    if (c->codec == TDM_CODEC_VP8) {
        /* Mode 2 adds re-encoding of overshooting frames at a coarser
         * quantiser, and dropping; it only makes sense when drops are on. */
        CONTROL(enc, VP8E_SET_SCREEN_CONTENT_MODE, c->drop_threshold > 0 ? 2u : 1u, err);
        /* Residual coding is skipped only where the prediction error is
         * below this: at 1, where the prediction is exact (WebRTC's value). */
        CONTROL(enc, VP8E_SET_STATIC_THRESHOLD, 1u, err);
        CONTROL(enc, VP8E_SET_NOISE_SENSITIVITY, 0u, err);
        /* Token partitions let the decoder use threads too. */
        int parts = floor_log2(c->threads);
        CONTROL(enc, VP8E_SET_TOKEN_PARTITIONS, parts > 3 ? 3 : parts, err);
    } else {
        CONTROL(enc, VP9E_SET_TUNE_CONTENT, (int)VP9E_CONTENT_SCREEN, err);
        if (!c->loop_filter)
            CONTROL(enc, VP9E_SET_DISABLE_LOOPFILTER, 2, err);
        /* Cyclic refresh: each frame re-codes a slice of the static area at
         * a finer quantiser, which is what sharpens text after a change. */
        CONTROL(enc, VP9E_SET_AQ_MODE, 3u, err);
        CONTROL(enc, VP9E_SET_NOISE_SENSITIVITY, 0u, err);
        CONTROL(enc, VP9E_SET_ROW_MT, c->threads > 1 ? 1u : 0u, err);
        /* Tile columns (log2) for threads; libvpx caps them at one per 256
         * pixels of width. */
        CONTROL(enc, VP9E_SET_TILE_COLUMNS, floor_log2(c->threads), err);
        CONTROL(enc, VP9E_SET_FRAME_PARALLEL_DECODING, 0u, err);
    }
    return TDM_OK;
}

tdm_status tdm_video_encoder_new(const tdm_video_encoder_config *cfg, tdm_video_encoder **out,
                                 tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "no place for the encoder");
    *out = NULL;
    if (!cfg)
        return tdm_fail(err, TDM_ERR_INVALID, "no encoder configuration");
    tdm_status st = check_config(cfg, err);
    if (st != TDM_OK)
        return st;

    tdm_video_encoder *enc = calloc(1, sizeof *enc);
    if (!enc)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the encoder");
    enc->cfg = *cfg;
    enc->tile_cols = (cfg->width + TDM_TILE_SIZE - 1) / TDM_TILE_SIZE;
    enc->tile_rows = (cfg->height + TDM_TILE_SIZE - 1) / TDM_TILE_SIZE;
    enc->mb_cols = (cfg->width + MB_SIZE - 1) / MB_SIZE;
    enc->mb_rows = (cfg->height + MB_SIZE - 1) / MB_SIZE;
    size_t tiles = (size_t)enc->tile_cols * enc->tile_rows;
    enc->patience = calloc(tiles, 1);
    enc->sel = calloc(tiles, 1);
    enc->best_sse = calloc(tiles, sizeof *enc->best_sse);
    enc->map = calloc((size_t)enc->mb_cols * enc->mb_rows, 1);
    /* libvpx copies its reference out at its own padded size (VP8 to 16,
     * VP9 to 8 pixels) into a buffer it assumes is that large. */
    int rw = (cfg->width + 15) & ~15, rh = (cfg->height + 15) & ~15;
    size_t rsize = (size_t)rw * rh + 2 * (size_t)(rw / 2) * (rh / 2);
    enc->recon_mem = malloc(rsize);
    if (!enc->patience || !enc->sel || !enc->best_sse || !enc->map || !enc->recon_mem) {
        tdm_video_encoder_free(enc);
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the encoder");
    }
    enc->recon_copy = (vpx_image_t){
        .fmt = VPX_IMG_FMT_I420,
        .w = (unsigned)rw, .h = (unsigned)rh, .d_w = (unsigned)rw, .d_h = (unsigned)rh,
        .x_chroma_shift = 1, .y_chroma_shift = 1, .bps = 12,
        .planes = {enc->recon_mem, enc->recon_mem + (size_t)rw * rh,
                   enc->recon_mem + (size_t)rw * rh + (size_t)(rw / 2) * (rh / 2)},
        .stride = {rw, rw / 2, rw / 2},
    };
    enc->recon = enc->recon_copy;
    enc->readback = true;
    /* Own frames code what the map would select, so they need the map. */
    if (cfg->own_frames && cfg->use_active_map &&
        (cfg->codec == TDM_CODEC_VP8 || cfg->width <= 4096)) {
        enc->own = true;
        st = cfg->codec == TDM_CODEC_VP8
                 ? tdm_vp8_sparse_new(cfg->width, cfg->height, &enc->writer, err)
                 : tdm_vp9_sparse_new(cfg->width, cfg->height, &enc->writer9, err);
        enc->own_mem = malloc(rsize);
        if (st != TDM_OK || !enc->own_mem) {
            tdm_video_encoder_free(enc);
            return st != TDM_OK ? st : tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the encoder");
        }
        enc->own_img = enc->recon_copy;
        enc->own_img.planes[0] = enc->own_mem;
        enc->own_img.planes[1] = enc->own_mem + (size_t)rw * rh;
        enc->own_img.planes[2] = enc->own_mem + (size_t)rw * rh + (size_t)(rw / 2) * (rh / 2);
        enc->own_pic = (tdm_vp8_picture){enc->own_img.planes[0], enc->own_img.planes[1],
                                         enc->own_img.planes[2], rw, rw / 2};
        tdm_vp8_stream_init(&enc->stream);
        tdm_vp9_stream_init(&enc->stream9);
        /* A text macroblock at VP8's finest quantiser takes ~250 bytes
         * (own_k is bytes x step); lossless in VP9 ~400 (own_k is bytes). */
        enc->own_k = cfg->codec == TDM_CODEC_VP8 ? 250.0 * 4 : 400.0;
        enc->own_bucket = cfg->bitrate_kbps * 1000.0 / 8 * cfg->buffer_initial_ms / 1000.0;
    }
    /* Per-sample squared error at settle_psnr. */
    enc->good_mse = 255.0 * 255.0 / pow(10.0, cfg->settle_psnr / 10.0);
    enc->duration = (vpx_codec_pts_t)(TDM_VIDEO_CLOCK_HZ / cfg->max_fps + 0.5);
    if (enc->duration < 1)
        enc->duration = 1;

    vpx_codec_iface_t *iface =
        cfg->codec == TDM_CODEC_VP9 ? vpx_codec_vp9_cx() : vpx_codec_vp8_cx();
    vpx_codec_enc_cfg_t *v = &enc->vcfg;
    if (vpx_codec_enc_config_default(iface, v, 0) != VPX_CODEC_OK) {
        tdm_video_encoder_free(enc);
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "libvpx has no default %s configuration",
                        tdm_codec_name(cfg->codec));
    }
    v->g_w = (unsigned)cfg->width;
    v->g_h = (unsigned)cfg->height;
    v->g_threads = (unsigned)vp8_threads_used(cfg);
    v->g_timebase.num = 1;
    v->g_timebase.den = TDM_VIDEO_CLOCK_HZ; /* pts in RTP ticks */
    v->g_error_resilient = cfg->error_resilient ? VPX_ERROR_RESILIENT_DEFAULT : 0;
    v->g_pass = VPX_RC_ONE_PASS;
    v->g_lag_in_frames = 0; /* a frame out for every frame in */
    v->rc_end_usage = VPX_CBR;
    v->rc_target_bitrate = cfg->bitrate_kbps;
    v->rc_min_quantizer = cfg->min_q;
    v->rc_max_quantizer = cfg->max_q;
    v->rc_dropframe_thresh = cfg->drop_threshold;
    v->rc_resize_allowed = 0; /* text must stay at native resolution */
    /* WebRTC's screen-share values: spend saved bits freely, overshoot
     * little, so the buffer (latency) stays short. */
    v->rc_undershoot_pct = 100;
    v->rc_overshoot_pct = 15;
    v->rc_buf_sz = cfg->buffer_ms;
    v->rc_buf_initial_sz = cfg->buffer_initial_ms;
    v->rc_buf_optimal_sz = cfg->buffer_optimal_ms;
    v->kf_mode = VPX_KF_AUTO;
    v->kf_min_dist = 0;
    v->kf_max_dist = cfg->keyframe_interval;
    if (cfg->codec == TDM_CODEC_VP8 && !cfg->loop_filter)
        v->g_profile = 2; /* version 2: no loop filter (see the config) */

    if (vpx_codec_enc_init(&enc->ctx, iface, v, 0) != VPX_CODEC_OK) {
        /* A failed init has already released its context. */
        st = vpx_fail(enc, err, "encoder init");
        tdm_video_encoder_free(enc);
        return st;
    }
    enc->ctx_live = true;
    st = apply_controls(enc, err);
    if (st != TDM_OK) {
        tdm_video_encoder_free(enc);
        return st;
    }
    *out = enc;
    return TDM_OK;
}

void tdm_video_encoder_free(tdm_video_encoder *enc)
{
    if (!enc)
        return;
    if (enc->ctx_live)
        vpx_codec_destroy(&enc->ctx);
    free(enc->patience);
    free(enc->sel);
    free(enc->best_sse);
    free(enc->recon_mem);
    free(enc->map);
    free(enc->own_mem);
    tdm_vp8_sparse_free(enc->writer);
    tdm_vp9_sparse_free(enc->writer9);
    free(enc);
}

tdm_status tdm_video_encoder_set_bitrate(tdm_video_encoder *enc, unsigned kbps, tdm_error *err)
{
    if (!enc)
        return tdm_fail(err, TDM_ERR_INVALID, "no encoder");
    if (kbps < 10 || kbps > 200000)
        return tdm_fail(err, TDM_ERR_INVALID, "bitrate %u kbit/s is outside [10, 200000]", kbps);
    unsigned old = enc->vcfg.rc_target_bitrate;
    enc->vcfg.rc_target_bitrate = kbps;
    if (vpx_codec_enc_config_set(&enc->ctx, &enc->vcfg) != VPX_CODEC_OK) {
        enc->vcfg.rc_target_bitrate = old;
        return vpx_fail(enc, err, "set bitrate");
    }
    enc->cfg.bitrate_kbps = kbps;
    return TDM_OK;
}

void tdm_video_encoder_force_keyframe(tdm_video_encoder *enc)
{
    if (enc)
        enc->force_kf = true;
}

void tdm_video_encoder_get_stats(const tdm_video_encoder *enc, tdm_video_encoder_stats *out)
{
    *out = enc->stats;
}

/* Marks changed tiles (all of them when changed is NULL) unsettled: they
 * stay active at least for the produced frame that carries the change.
 * Returns how many tiles changed. */
static size_t note_changes(tdm_video_encoder *enc, const tdm_tilemap *changed)
{
    size_t n = 0;
    for (int r = 0; r < enc->tile_rows; r++) {
        const uint64_t *words = changed ? changed->bits + (size_t)r * changed->words : NULL;
        size_t row = (size_t)r * enc->tile_cols;
        for (int w = 0; w * 64 < enc->tile_cols; w++) {
            uint64_t bits = words ? words[w] : ~UINT64_C(0);
            if (!bits)
                continue; /* the common case: a whole word of quiet tiles */
            int end = enc->tile_cols - w * 64 < 64 ? enc->tile_cols - w * 64 : 64;
            for (int b = 0; b < end; b++) {
                if (!((bits >> b) & 1))
                    continue;
                size_t t = row + (size_t)w * 64 + (size_t)b;
                if (enc->patience[t] == 0)
                    enc->unsettled++;
                enc->patience[t] = 1;
                enc->best_sse[t] = UINT32_MAX;
                n++;
            }
        }
    }
    return n;
}

/* The sum of squared differences of a w x h block. After a keyframe or a
 * large change every refining tile is measured each time it is coded (a
 * few hundred tiles a frame for seconds): there the scalar loop was 5 % of
 * the CPU of VP9 at 1080p (perf); SSE2 takes 16 samples a step and cut the
 * pipeline's CPU by 6-7 % over the first 4 s after a keyframe (bench_codec
 * --warmup 0, VP8 and VP9), with the same result. Sums fit: a 32x32 tile
 * of at most 255^2 each. */
static uint32_t block_sse(const uint8_t *a, int sa, const uint8_t *b, int sb, int w, int h)
{
    uint32_t sum = 0;
    int simd_w = 0;
#if defined(__SSE2__)
    simd_w = w & ~15;
    __m128i acc = _mm_setzero_si128();
    const __m128i zero = _mm_setzero_si128();
#endif
    for (int r = 0; r < h; r++, a += sa, b += sb) {
#if defined(__SSE2__)
        for (int c = 0; c < simd_w; c += 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(a + c));
            __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(b + c));
            __m128i lo = _mm_sub_epi16(_mm_unpacklo_epi8(x, zero), _mm_unpacklo_epi8(y, zero));
            __m128i hi = _mm_sub_epi16(_mm_unpackhi_epi8(x, zero), _mm_unpackhi_epi8(y, zero));
            acc = _mm_add_epi32(acc, _mm_add_epi32(_mm_madd_epi16(lo, lo), _mm_madd_epi16(hi, hi)));
        }
#endif
        for (int c = simd_w; c < w; c++) {
            int d = a[c] - b[c];
            sum += (uint32_t)(d * d);
        }
    }
#if defined(__SSE2__)
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0x4e));
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, 0xb1));
    sum += (uint32_t)_mm_cvtsi128_si32(acc);
#endif
    return sum;
}

/* The squared error of tile t between img and the reconstruction, and the
 * error at which it counts as coded well (settle_psnr over its samples). */
static uint32_t tile_sse(const tdm_video_encoder *enc, const tdm_i420 *img, int tc, int tr,
                         uint32_t *good)
{
    const vpx_image_t *rc = &enc->recon;
    int x = tc * TDM_TILE_SIZE, y = tr * TDM_TILE_SIZE;
    int w = img->width - x < TDM_TILE_SIZE ? img->width - x : TDM_TILE_SIZE;
    int h = img->height - y < TDM_TILE_SIZE ? img->height - y : TDM_TILE_SIZE;
    int cx = x / 2, cy = y / 2, cw = (w + 1) / 2, ch = (h + 1) / 2;
    uint32_t sse =
        block_sse(img->y + (size_t)y * img->stride_y + x, img->stride_y,
                  rc->planes[0] + (size_t)y * rc->stride[0] + x, rc->stride[0], w, h) +
        block_sse(img->u + (size_t)cy * img->stride_u + cx, img->stride_u,
                  rc->planes[1] + (size_t)cy * rc->stride[1] + cx, rc->stride[1], cw, ch) +
        block_sse(img->v + (size_t)cy * img->stride_v + cx, img->stride_v,
                  rc->planes[2] + (size_t)cy * rc->stride[2] + cx, rc->stride[2], cw, ch);
    double samples = (double)(w * h + 2 * cw * ch);
    *good = (uint32_t)(samples * enc->good_mse);
    return sse;
}

/* Chooses the tiles libvpx codes in the next frame, in enc->sel; returns
 * how many it chose.
 * Owed tiles (changed, not yet in a produced frame) always go in. Tiles
 * still refining go in too while they are few; when many are (after a
 * keyframe or a large change), a rotating share of them, so that the rest
 * of the frame keeps the cost of an active map while each of them still
 * gets another chance every few frames. */
static size_t choose_tiles(tdm_video_encoder *enc)
{
    size_t n = (size_t)enc->tile_cols * enc->tile_rows, chosen = 0;
    size_t budget = n / REFINE_SHARE + 1;
    memset(enc->sel, 0, n);
    size_t refining = 0;
    for (size_t t = 0; t < n; t++) {
        if (!enc->patience[t])
            continue;
        if (enc->best_sse[t] == UINT32_MAX) {
            enc->sel[t] = 1;
            chosen++;
        } else {
            refining++;
        }
    }
    if (refining <= budget) {
        for (size_t t = 0; t < n; t++) {
            if (enc->patience[t] && !enc->sel[t]) {
                enc->sel[t] = 1;
                chosen++;
            }
        }
    } else {
        size_t t = enc->cursor, taken = 0;
        for (size_t k = 0; k < n && taken < budget; k++, t = t + 1 == n ? 0 : t + 1) {
            if (enc->patience[t] && !enc->sel[t]) {
                enc->sel[t] = 1;
                chosen++;
                taken++;
            }
        }
        enc->cursor = t;
    }
    return chosen;
}

static void build_map(tdm_video_encoder *enc)
{
    memset(enc->map, 0, (size_t)enc->mb_cols * enc->mb_rows);
    for (int tr = 0; tr < enc->tile_rows; tr++) {
        for (int tc = 0; tc < enc->tile_cols; tc++) {
            if (!enc->sel[(size_t)tr * enc->tile_cols + tc])
                continue;
            for (int dy = 0; dy < MBS_PER_TILE && tr * MBS_PER_TILE + dy < enc->mb_rows; dy++) {
                uint8_t *row = enc->map + (size_t)(tr * MBS_PER_TILE + dy) * enc->mb_cols;
                for (int dx = 0; dx < MBS_PER_TILE && tc * MBS_PER_TILE + dx < enc->mb_cols; dx++)
                    row[tc * MBS_PER_TILE + dx] = 1;
            }
        }
    }
}

/* After a produced frame coded from img. A tile that was just coded for
 * its change (or a keyframe) starts refining: it stays unsettled for
 * settle_frames more codings. A refining tile that libvpx coded again
 * (enc->sel, or every tile when it coded the whole frame) is measured
 * against what the decoder now shows: it settles when it is within
 * settle_psnr, or when it has gone settle_frames codings without getting
 * better. Tiles that changed are not measured (they usually change again,
 * and measuring a whole changing frame would cost as much as a fast
 * encode), so the frame is read back only when a refining tile was coded.
 * Without a read back, a tile settles after settle_frames codings. */
static void settle(tdm_video_encoder *enc, const tdm_i420 *img, bool whole_frame,
                   const vpx_image_t *known)
{
    if (!enc->unsettled)
        return;
    size_t n = (size_t)enc->tile_cols * enc->tile_rows;
    bool measure = false;
    for (size_t t = 0; t < n && !measure; t++)
        measure = enc->patience[t] && enc->best_sse[t] != UINT32_MAX &&
                  (whole_frame || enc->sel[t]);
    if (measure && known) {
        enc->recon = *known; /* an own frame: the picture is ours already */
    } else if (measure && enc->readback) {
        /* The frame just shown is the last reference; libvpx lends it as
         * the preview without copying (1080p: saves a 3 MB copy per
         * frame), unless postprocessing or an alt-ref frame is in the way. */
        const vpx_image_t *pv = vpx_codec_get_preview_frame(&enc->ctx);
        if (pv && (int)pv->d_w == img->width && (int)pv->d_h == img->height &&
            pv->fmt == VPX_IMG_FMT_I420) {
            enc->recon = *pv;
        } else {
            vpx_ref_frame_t ref = {.frame_type = VP8_LAST_FRAME, .img = enc->recon_copy};
            if (vpx_codec_control(&enc->ctx, VP8_COPY_REFERENCE, &ref) != VPX_CODEC_OK)
                enc->readback = false;
            enc->recon = enc->recon_copy;
        }
    }
    size_t left = 0;
    for (int tr = 0; tr < enc->tile_rows; tr++) {
        for (int tc = 0; tc < enc->tile_cols; tc++) {
            size_t t = (size_t)tr * enc->tile_cols + tc;
            uint8_t *p = &enc->patience[t];
            if (!*p)
                continue;
            if (!whole_frame && !enc->sel[t]) {
                left++;
                continue;
            }
            if (enc->best_sse[t] == UINT32_MAX) {
                /* Just coded for its change: refining from here on. */
                enc->best_sse[t] = UINT32_MAX - 1;
                *p = (uint8_t)enc->cfg.settle_frames;
            } else if (!enc->readback) {
                (*p)--;
            } else {
                uint32_t good, sse = tile_sse(enc, img, tc, tr, &good);
                if (sse <= good) {
                    *p = 0;
                } else if (sse < enc->best_sse[t]) {
                    enc->best_sse[t] = sse; /* better: patience renewed */
                    *p = (uint8_t)enc->cfg.settle_frames;
                } else {
                    (*p)--;
                }
            }
            if (*p)
                left++;
        }
    }
    enc->unsettled = left;
}

/* Before measuring a keyframe: everything was just coded afresh. */
static void unsettle_all(tdm_video_encoder *enc)
{
    size_t n = (size_t)enc->tile_cols * enc->tile_rows;
    memset(enc->patience, 1, n);
    for (size_t i = 0; i < n; i++)
        enc->best_sse[i] = UINT32_MAX;
    enc->unsettled = n;
}

static bool control_map(tdm_video_encoder *enc, uint8_t *map)
{
    vpx_active_map_t am = {map, (unsigned)enc->mb_rows, (unsigned)enc->mb_cols};
    return vpx_codec_control(&enc->ctx, VP8E_SET_ACTIVEMAP, &am) == VPX_CODEC_OK;
}

/* Hands libvpx the map (*on) or takes it back; *on says afterwards whether
 * libvpx codes by it. A libvpx that refuses maps (none does in 1.12, for
 * either codec) gets whole frames from then on. Fails only if a map libvpx
 * holds cannot be taken back, as the frame would then be coded by a stale
 * one. */
static tdm_status set_map(tdm_video_encoder *enc, bool *on, tdm_error *err)
{
    if (*on && !enc->map_refused && control_map(enc, enc->map)) {
        enc->map_on = true;
        return TDM_OK;
    }
    if (*on)
        enc->map_refused = true;
    *on = false;
    if (!enc->map_on)
        return TDM_OK;
    if (!control_map(enc, NULL))
        return vpx_fail(enc, err, "active map");
    enc->map_on = false;
    return TDM_OK;
}

static void wrap_image(vpx_image_t *vi, const tdm_i420 *img)
{
    memset(vi, 0, sizeof *vi);
    vi->fmt = VPX_IMG_FMT_I420;
    vi->cs = VPX_CS_BT_601;
    vi->range = VPX_CR_STUDIO_RANGE;
    vi->w = vi->d_w = (unsigned)img->width;
    vi->h = vi->d_h = (unsigned)img->height;
    vi->x_chroma_shift = 1;
    vi->y_chroma_shift = 1;
    vi->bps = 12;
    vi->planes[VPX_PLANE_Y] = img->y;
    vi->planes[VPX_PLANE_U] = img->u;
    vi->planes[VPX_PLANE_V] = img->v;
    vi->stride[VPX_PLANE_Y] = img->stride_y;
    vi->stride[VPX_PLANE_U] = img->stride_u;
    vi->stride[VPX_PLANE_V] = img->stride_v;
}

/* ---- VP8 own frames (cfg.own_frames, tdm_vp8_sparse.h) ---- */

static double frame_budget(const tdm_video_encoder *enc)
{
    return enc->cfg.bitrate_kbps * 1000.0 / 8.0 / enc->cfg.max_fps;
}

/* Every produced frame earns the per-frame budget and spends its size; the
 * credit is capped at the rate-control buffer. Own frames pick their
 * quantiser from it (libvpx keeps its own account). */
static void account_bytes(tdm_video_encoder *enc, size_t bytes)
{
    double cap = enc->cfg.bitrate_kbps * 1000.0 / 8.0 * enc->cfg.buffer_ms / 1000.0;
    enc->own_bucket += frame_budget(enc) - (double)bytes;
    if (enc->own_bucket > cap)
        enc->own_bucket = cap;
}

/* The finest quantiser whose expected size fits: a third of the credit,
 * at least a frame's budget. Size ~ macroblocks x own_k / step, own_k
 * learned from the frames written. */
static int own_quantiser(const tdm_video_encoder *enc, size_t mbs)
{
    double allowance = enc->own_bucket / 3;
    if (allowance < frame_budget(enc))
        allowance = frame_budget(enc);
    int q = 0;
    while (q < 127 && 150.0 + (double)mbs * enc->own_k / tdm_vp8_ac_q[q] > allowance)
        q++;
    return q;
}

/* The bookkeeping of a call that produced a frame (own or libvpx's). */
static void note_produced(tdm_video_encoder *enc, const tdm_encoded_frame *out, uint64_t pts_us,
                          bool only_refresh)
{
    enc->have_output = true;
    enc->last_output_us = pts_us;
    enc->stats.frames_encoded++;
    enc->stats.bytes += out->len;
    if (only_refresh)
        enc->stats.refreshes++;
    if (enc->own)
        account_bytes(enc, out->len);
}

/* Writes the frame itself. *done false: own frames are not possible here
 * (libvpx would not lend its picture), code the frame with libvpx. */
static tdm_status encode_own(tdm_video_encoder *enc, const tdm_i420 *img, uint64_t pts_us,
                             size_t n_changed, tdm_encoded_frame *out, bool *produced,
                             bool *done, tdm_error *err)
{
    *done = false;
    bool vp8 = enc->cfg.codec == TDM_CODEC_VP8;
    size_t mbs = 0, n = (size_t)enc->mb_cols * enc->mb_rows;
    for (size_t i = 0; i < n; i++)
        mbs += enc->map[i];
    int q = 0;
    if (vp8) {
        q = own_quantiser(enc, mbs);
    } else {
        /* VP9 own frames are lossless: when that does not fit the rate,
         * libvpx codes the frame (at its quantiser) instead. */
        double allowance = enc->own_bucket / 3;
        if (allowance < frame_budget(enc))
            allowance = frame_budget(enc);
        if (100.0 + (double)mbs * enc->own_k > allowance)
            return TDM_OK;
    }
    if (!enc->own_valid) {
        /* Once per run of own frames: the decoder's picture, as libvpx made
         * it, at its padded size (the padding is predicted from too). */
        vpx_ref_frame_t ref = {.frame_type = VP8_LAST_FRAME, .img = enc->own_img};
        if (vpx_codec_control(&enc->ctx, VP8_COPY_REFERENCE, &ref) != VPX_CODEC_OK) {
            enc->own = false; /* this libvpx does not lend its picture */
            return TDM_OK;
        }
        enc->own_valid = true;
    }
    const uint8_t *data;
    size_t len;
    unsigned coded;
    tdm_status st;
    if (vp8) {
        tdm_vp8_sparse_result res;
        st = tdm_vp8_sparse_encode(enc->writer, &enc->stream, img, enc->map, q, &enc->own_pic,
                                   &res, err);
        data = res.data, len = res.len, coded = res.coded_mbs;
    } else {
        tdm_vp9_sparse_result res;
        st = tdm_vp9_sparse_encode(enc->writer9, &enc->stream9, img, enc->map, &enc->own_pic,
                                   &res, err);
        data = res.data, len = res.len, coded = (res.coded_blocks + 3) / 4;
        if (st == TDM_OK)
            tdm_vp9_stream_observe(&enc->stream9, data, len, NULL);
    }
    if (st != TDM_OK) {
        /* The picture may be half updated: only a keyframe is safe now. */
        enc->own_valid = false;
        enc->libvpx_stale = false;
        enc->force_kf = true;
        return st;
    }
    *done = true;
    enc->libvpx_stale = true;
    if (coded) {
        double k = vp8 ? ((double)len - 150.0) / coded * tdm_vp8_ac_q[q]
                       : ((double)len - 100.0) / coded;
        enc->own_k = 0.7 * enc->own_k + 0.3 * (k < 50 ? 50 : k);
    }
    *out = (tdm_encoded_frame){
        .codec = enc->cfg.codec,
        .data = data,
        .len = len,
        .rtp_timestamp = (uint32_t)(pts_us * 9 / 100),
        .keyframe = false,
        .width = enc->cfg.width,
        .height = enc->cfg.height,
    };
    *produced = true;
    bool only_refresh = n_changed == 0 && enc->unsettled == 0;
    settle(enc, img, false, &enc->own_img);
    enc->stats.own_frames++;
    note_produced(enc, out, pts_us, only_refresh);
    return TDM_OK;
}

/* Before libvpx codes again after own frames: all three of its references
 * become the decoder's picture (own frames refresh all three). */
static bool resume_libvpx(tdm_video_encoder *enc)
{
    static const int refs[3] = {VP8_LAST_FRAME, VP8_GOLD_FRAME, VP8_ALTR_FRAME};
    bool ok = true;
    for (int i = 0; i < 3; i++) {
        vpx_ref_frame_t ref = {.frame_type = refs[i], .img = enc->own_img};
        ok &= vpx_codec_control(&enc->ctx, VP8_SET_REFERENCE, &ref) == VPX_CODEC_OK;
    }
    enc->libvpx_stale = false;
    return ok;
}

/* One frame through libvpx; *produced false when rate control dropped it. */
static tdm_status libvpx_encode(tdm_video_encoder *enc, vpx_image_t *vi, uint64_t pts90,
                                uint64_t pts_us, vpx_enc_frame_flags_t flags,
                                tdm_encoded_frame *out, bool *produced, tdm_error *err)
{
    const tdm_video_encoder_config *c = &enc->cfg;
    *produced = false;
    if (vpx_codec_encode(&enc->ctx, vi, (vpx_codec_pts_t)pts90, (unsigned long)enc->duration,
                         flags, VPX_DL_REALTIME) != VPX_CODEC_OK)
        return vpx_fail(enc, err, "encode");
    const vpx_codec_cx_pkt_t *pkt;
    vpx_codec_iter_t it = NULL;
    while ((pkt = vpx_codec_get_cx_data(&enc->ctx, &it)) != NULL) {
        if (pkt->kind != VPX_CODEC_CX_FRAME_PKT)
            continue;
        /* With no lag and no layers libvpx emits at most one packet per
         * frame (VP9 packs hidden frames into a superframe). */
        if (*produced)
            return tdm_fail(err, TDM_ERR_UNAVAILABLE, "%s produced two packets for one frame",
                            tdm_codec_name(c->codec));
        *out = (tdm_encoded_frame){
            .codec = c->codec,
            .data = pkt->data.frame.buf,
            .len = pkt->data.frame.sz,
            .rtp_timestamp = (uint32_t)(pts_us * 9 / 100),
            .keyframe = (pkt->data.frame.flags & VPX_FRAME_IS_KEY) != 0,
            .width = c->width,
            .height = c->height,
        };
        *produced = true;
    }
    return TDM_OK;
}

tdm_status tdm_video_encoder_encode(tdm_video_encoder *enc, const tdm_i420 *img,
                                    const tdm_tilemap *changed, uint64_t pts_us,
                                    tdm_encoded_frame *out, bool *produced, tdm_error *err)
{
    if (produced)
        *produced = false;
    if (!enc || !out || !produced)
        return tdm_fail(err, TDM_ERR_INVALID, "encode needs an encoder, an output and a flag");
    tdm_status st = tdm_i420_check(img, err);
    if (st != TDM_OK)
        return TDM_ERR_INVALID;
    const tdm_video_encoder_config *c = &enc->cfg;
    if (img->width != c->width || img->height != c->height)
        return tdm_fail(err, TDM_ERR_INVALID, "image is %dx%d, the encoder %dx%d", img->width,
                        img->height, c->width, c->height);
    if (changed && (changed->width != c->width || changed->height != c->height || !changed->bits))
        return tdm_fail(err, TDM_ERR_INVALID, "changed-tile map is %dx%d, the encoder %dx%d",
                        changed->width, changed->height, c->width, c->height);
    if (enc->started && pts_us < enc->first_pts_us)
        return tdm_fail(err, TDM_ERR_INVALID, "pts %llu us is before the first frame's",
                        (unsigned long long)pts_us);
    uint64_t base = enc->started ? enc->first_pts_us : pts_us;
    uint64_t pts90 = (pts_us - base) * 9 / 100;
    if (enc->started && pts90 <= enc->last_pts90)
        return tdm_fail(err, TDM_ERR_INVALID,
                        "pts %llu us does not advance a 90 kHz tick past the previous frame",
                        (unsigned long long)pts_us);

    if (!c->skip_unchanged && !c->use_active_map)
        changed = NULL; /* the baseline: libvpx sees every frame whole */
    size_t n_changed = note_changes(enc, changed);
    /* Due when the refresh interval has passed, or would have by the next
     * call if it comes after the same gap as this one: so that with calls
     * at a steady rate, produced frames are never further apart than it. */
    uint64_t since = enc->have_output ? pts_us - enc->last_output_us : 0;
    uint64_t gap = enc->started ? pts_us - enc->last_call_us : 0;
    bool refresh_due = !enc->have_output || since >= c->idle_refresh_us ||
                       since + gap > c->idle_refresh_us;
    bool want_kf = enc->force_kf;
    if (c->skip_unchanged && n_changed == 0 && enc->unsettled == 0 && !refresh_due && !want_kf) {
        enc->last_pts90 = pts90; /* keep the order check honest */
        enc->last_call_us = pts_us;
        enc->started = true;
        enc->first_pts_us = base;
        enc->stats.frames_in++;
        enc->stats.frames_skipped++;
        return TDM_OK;
    }

    /* The map: only for inter frames, only when it leaves enough out. */
    bool map = false, sparse = false;
    if (c->use_active_map && !want_kf && enc->have_output) {
        size_t tiles = (size_t)enc->tile_cols * enc->tile_rows;
        size_t coded = choose_tiles(enc);
        map = coded * 100 <= tiles * c->active_map_max_pct;
        /* Sparse is judged by what changed in this frame, not by what is
         * coded: tiles being settled are static content, which the fast
         * speed refines as well (better, measured), while a tenth of the
         * frame in motion needs the full search. */
        sparse = n_changed * 100 <= tiles * c->sparse_max_pct;
        if (map)
            build_map(enc);
    }
    enc->sparse_run = map && sparse ? enc->sparse_run + 1 : 0;
    bool stream_known = c->codec == TDM_CODEC_VP8
                            ? enc->stream.valid
                            : enc->stream9.valid && enc->sparse_run >= SPARSE_RUN_FOR_VP9_OWN;
    if (enc->own && map && sparse && !want_kf && stream_known) {
        bool done;
        st = encode_own(enc, img, pts_us, n_changed, out, produced, &done, err);
        enc->started = true;
        enc->first_pts_us = base;
        enc->last_pts90 = pts90;
        enc->last_call_us = pts_us;
        if (st != TDM_OK || done) {
            enc->stats.frames_in += st == TDM_OK;
            return st;
        }
    }
    st = set_map(enc, &map, err);
    if (st != TDM_OK)
        return st;
    int speed = map && sparse && c->sparse_speed ? c->sparse_speed : c->speed;
    /* VP9 takes a new thread count between frames: a run of sparse frames
     * is coded on one (its row threads would only wait on each other:
     * measured, typing at 1080p on 2 threads cost 87 ms of CPU per second
     * of video, on one while sparse 60, at the same PSNR). libvpx tears
     * its thread pool down and builds it again on each change (4-5 ms), so
     * it goes down only after SPARSE_RUN_FOR_ONE_THREAD sparse frames in a
     * row, and back up at the first dense one. */
    if (c->codec == TDM_CODEC_VP9 && c->threads > 1) {
        unsigned want =
            enc->sparse_run >= SPARSE_RUN_FOR_ONE_THREAD ? 1u : (unsigned)c->threads;
        if (enc->vcfg.g_threads != want) {
            unsigned before = enc->vcfg.g_threads;
            enc->vcfg.g_threads = want;
            if (vpx_codec_enc_config_set(&enc->ctx, &enc->vcfg) != VPX_CODEC_OK)
                enc->vcfg.g_threads = before; /* keeps coding as it was */
        }
    }
    if (speed != enc->speed_now) {
        CONTROL(enc, VP8E_SET_CPUUSED, speed, err);
        enc->speed_now = speed;
    }

    vpx_image_t vi;
    wrap_image(&vi, img);
    bool resumed = false;
    if (enc->libvpx_stale && c->codec == TDM_CODEC_VP9) {
        /* VP9 own frames reset the decoder's carried state (probability
         * contexts, previous motion vectors) to the defaults, and libvpx
         * can neither be told that nor code error resilient from one frame
         * to the next (it takes that only at keyframes; coding error
         * resilient throughout cost 6 dB on full-screen motion and 15 on
         * drag, measured): it resumes with a keyframe. */
        want_kf = true;
        enc->libvpx_stale = false;
        enc->stats.own_exit_keyframes++;
    } else if (enc->libvpx_stale) {
        resumed = true;
        if (!resume_libvpx(enc))
            want_kf = true; /* libvpx refused the picture: start afresh */
    }
    enc->own_valid = false; /* libvpx's frame becomes the decoder's picture */
    vpx_enc_frame_flags_t flags = want_kf ? VPX_EFLAG_FORCE_KF : 0;
    st = libvpx_encode(enc, &vi, pts90, pts_us, flags, out, produced, err);
    if (st != TDM_OK)
        return st;
    if (*produced && enc->own) {
        bool followed, partial = false;
        if (c->codec == TDM_CODEC_VP8) {
            followed = tdm_vp8_stream_observe(&enc->stream, out->data, out->len, NULL) == TDM_OK;
            partial = enc->stream.segments_partial;
        } else {
            followed = tdm_vp9_stream_observe(&enc->stream9, out->data, out->len, NULL) == TDM_OK;
        }
        /* A frame that leans on segment data from before the own frames
         * (libvpx 1.12 rewrites it every frame; this guards a libvpx that
         * would not) or whose header could not be followed is replaced by
         * a keyframe before it leaves. */
        if (!out->keyframe && ((resumed && partial) || !followed)) {
            enc->stats.own_resyncs++;
            st = libvpx_encode(enc, &vi, pts90, pts_us, VPX_EFLAG_FORCE_KF, out, produced, err);
            if (st != TDM_OK)
                return st;
            if (*produced && c->codec == TDM_CODEC_VP8)
                tdm_vp8_stream_observe(&enc->stream, out->data, out->len, NULL);
            else if (*produced)
                tdm_vp9_stream_observe(&enc->stream9, out->data, out->len, NULL);
        }
    }
    enc->started = true;
    enc->first_pts_us = base;
    enc->last_pts90 = pts90;
    enc->last_call_us = pts_us;
    enc->stats.frames_in++;
    if (map)
        enc->stats.active_map_frames++;

    if (!*produced) {
        /* Dropped: its tiles stay unsettled, so the change is still owed. */
        enc->stats.frames_dropped++;
        return TDM_OK;
    }
    bool only_refresh = n_changed == 0 && enc->unsettled == 0 && !want_kf;
    if (out->keyframe) {
        enc->force_kf = false;
        enc->stats.keyframes++;
        unsettle_all(enc);
    }
    if (c->skip_unchanged || c->use_active_map)
        settle(enc, img, !map || out->keyframe, NULL);
    note_produced(enc, out, pts_us, only_refresh);
    return TDM_OK;
}
