/* tdm_video_encoder: VP8/VP9 realtime encoding of screen content (libvpx).
 *
 * One encoder turns a stream of I420 frames into VP8 frames or VP9
 * superframes the way a browser's screen share does: one pass, no lag, CBR,
 * the realtime deadline, screen-content tuning. What is particular to
 * Tandem is that it uses what capture already knows, the 32x32 tiles that
 * changed (tdm_dirty.h):
 *
 * - Skipping. A call where no tile changed produces nothing, unless a
 *   refresh is due (so that produced frames are never more than
 *   idle_refresh_us apart: a late joiner's decoder and the recording see
 *   the stream alive), a keyframe was forced, or tiles are still settling.
 * - An active map. When few tiles need coding, libvpx is told which 16x16
 *   macroblocks to code (a tile is 2x2 of them); the others are sent as
 *   "same as the last frame", with no search and no residual. In libvpx
 *   1.12 VP8 short-cuts mode decision for each inactive macroblock; VP9
 *   (realtime) turns the map into a skip segment, ignores it on keyframes,
 *   and still codes the blocks its cyclic-refresh AQ picks.
 * - Settling. A tile coded once at a coarse quantiser (a change, a
 *   keyframe) would stay blurred for as long as it is left out of the map.
 *   So a tile that was coded for a change keeps being coded until libvpx's
 *   reconstruction of it (copied back, VP8_COPY_REFERENCE, after frames
 *   that coded such tiles) reaches settle_psnr against the source, or it
 *   has gone settle_frames codings without getting better. When many tiles are settling (after a keyframe), a
 *   rotating eighth of the frame is coded each time, so the map still
 *   pays. Frames are produced while tiles are settling: a short top-off
 *   after activity (seconds after a keyframe), after which an idle screen
 *   costs only the refresh. A frame that rate control drops leaves its
 *   tiles owed, so a change is never lost.
 *
 * - Own frames. When the frame is sparse, Tandem writes it itself
 *   (tdm_vp8_sparse.h, tdm_vp9_sparse.h) instead of asking libvpx, whose
 *   per-frame cost (~2 ms at 1080p) does not shrink with the map: VP8 from
 *   the first such frame, at a quantiser the rate allows; VP9 losslessly,
 *   after a second of sparse frames and only when that fits the rate. libvpx
 *   takes over again for keyframes and larger changes: VP8 from the same
 *   picture (its three references are set to it), VP9 with a keyframe (its
 *   carried state cannot be handed to libvpx).
 *
 * Output is borrowed from libvpx or the writer: the bytes stay valid until
 * the next call to tdm_video_encoder_encode or tdm_video_encoder_free. */
#ifndef TDM_VIDEO_ENCODER_H
#define TDM_VIDEO_ENCODER_H

#include <stdbool.h>
#include <stdint.h>

#include "tdm_codec.h"
#include "tdm_dirty.h"
#include "tdm_frame.h"

typedef struct tdm_video_encoder tdm_video_encoder;

typedef struct tdm_video_encoder_config {
    tdm_codec codec;       /* TDM_CODEC_VP8 or TDM_CODEC_VP9 */
    int width, height;     /* [1, TDM_MAX_DIMENSION] (VP8: up to 16383) */
    unsigned bitrate_kbps; /* target, [10, 200000] */
    double max_fps;        /* the rate rate control plans for, (0, 240] */
    /* libvpx cpu-used. VP8 [-16, 16]: negative is a fixed speed, positive
     * lets libvpx change it with the measured encode time (so runs are not
     * reproducible). VP9 [5, 9] (the realtime speeds). */
    int speed;
    /* cpu-used while an active map is on, i.e. while only a few
     * macroblocks are coded: a slower search over a handful of blocks buys
     * nothing, and libvpx's per-frame cost is what remains. Same range as
     * speed; 0 keeps speed. */
    int sparse_speed;
    /* ... and only while at most this percentage of the tiles changed in
     * the frame (tiles still settling do not count: they are static): a
     * moving video region, a tenth of the frame, needs the full search or
     * loses several dB. [0, 100]. */
    unsigned sparse_max_pct;
    /* [1, 64]. VP9: row multithreading and tile columns, one thread while
     * a frame is sparse. VP8 with the active map on: used only above
     * 1920x1088 (its threads spin on each other; see vpx_encoder.c). */
    int threads;
    unsigned keyframe_interval;  /* most frames between keyframes, [1, 100000] */
    bool error_resilient;        /* no cross-frame entropy dependencies */
    unsigned min_q, max_q;       /* quantiser range, 0 <= min_q <= max_q <= 63 */
    /* Rate-control buffer (ms of the target rate): size, initial fill and
     * the level rate control aims for; [1, 60000], initial and optimal
     * within the size. */
    unsigned buffer_ms, buffer_initial_ms, buffer_optimal_ms;
    /* Rate control may drop a frame when its buffer falls below this
     * percentage; 0 never drops, [0, 100]. */
    unsigned drop_threshold;
    /* Content-aware encoding (see above). With both off, every call
     * encodes a whole frame: the plain libvpx baseline. */
    bool skip_unchanged;
    bool use_active_map;
    uint64_t idle_refresh_us;   /* [1000, 1000000]: at least once a second */
    double settle_psnr;         /* a tile coded this well (dB) settles, [20, 100] */
    unsigned settle_frames;     /* or after this many codings without a gain, [0, 255] */
    /* The map is used only while the tiles to code are at most this share
     * of the frame, [0, 100]; above it libvpx codes the whole frame. */
    unsigned active_map_max_pct;
    /* The deblocking loop filter. VP8's suits screens badly: it smooths
     * block edges, which blurs text (measured: typing at 1080p decodes
     * 2.5 dB closer to the source without it), and it is a pass over the
     * whole frame every frame, however little was coded (10-15 % of the
     * CPU on typing). Off, VP8 codes bitstream version 2 (no loop filter,
     * bilinear prediction; RFC 6386 section 9.1: every VP8 decoder takes
     * all four versions; libvpx, hence Chromium's and Firefox's software
     * decoders, does; a hardware decoder that ignored the version would
     * drift, so a deployment with such viewers sets it on). VP9's filter adapts to the content: off, typing
     * lost 0.8 dB, so the default keeps it (VP9E_SET_DISABLE_LOOPFILTER
     * when off). Browsers keep it on for both. */
    bool loop_filter;
    /* A frame whose coding fits the active map and whose change is sparse
     * (the two limits above) is written by Tandem itself (see above; needs
     * use_active_map; VP9 up to 4096 pixels wide). Off: libvpx codes every
     * frame it is given. */
    bool own_frames;
} tdm_video_encoder_config;

/* Fills cfg with the defaults for codec at width x height, in the manner
 * of a browser's screen share: 30 fps, 1 thread, a bitrate of 0.04 bit per
 * pixel per frame (about 2.5 Mbit/s at 1080p30, at least 100 kbit/s),
 * VP8 speed -6 (-16 while few tiles change) / VP9 speed 8, a keyframe at
 * most every 3000 frames
 * (receivers ask for keyframes; periodic ones only cost bandwidth),
 * quantisers 2..56, a 1000/500/600 ms buffer, no frame dropping, not error
 * resilient, and content-aware encoding on: refresh 1 s, settle at 60 dB or
 * after 4 codings without a gain, map up to 30 % (VP8) / 60 % (VP9) of the
 * frame, the loop filter off for VP8 and on for VP9, own frames on. Nothing is validated here: tdm_video_encoder_new does that. */
void tdm_video_encoder_config_init(tdm_video_encoder_config *cfg, tdm_codec codec, int width,
                                   int height);

/* Creates an encoder. TDM_ERR_INVALID (a field out of its range; err names
 * it), TDM_ERR_NOMEM, TDM_ERR_UNAVAILABLE (libvpx refused the
 * configuration; err has libvpx's detail). */
tdm_status tdm_video_encoder_new(const tdm_video_encoder_config *cfg, tdm_video_encoder **out,
                                 tdm_error *err);
void tdm_video_encoder_free(tdm_video_encoder *enc);

/* Changes the target bitrate from the next frame on. TDM_ERR_INVALID when
 * outside [10, 200000] kbit/s. */
tdm_status tdm_video_encoder_set_bitrate(tdm_video_encoder *enc, unsigned kbps, tdm_error *err);

/* Makes the next call to tdm_video_encoder_encode produce a keyframe, even
 * if nothing changed (a receiver asked with PLI/FIR). */
void tdm_video_encoder_force_keyframe(tdm_video_encoder *enc);

/* Encodes img (the configured size; a view is fine) captured at pts_us.
 * changed names the tiles that differ from the previous call's image (a
 * tilemap of the same size, e.g. from tdm_incremental_convert); NULL means
 * unknown, i.e. everything may have changed. pts_us must increase by at
 * least 12 us from call to call (one 90 kHz tick).
 * On TDM_OK, *produced says whether out holds a frame: false when the frame
 * was skipped (nothing changed) or dropped by rate control. out->data is
 * borrowed until the next encode or free; rtp_timestamp is pts_us at
 * 90 kHz (mod 2^32); keyframe is set for keyframes.
 * Errors: TDM_ERR_INVALID (NULL, wrong size, pts not increasing),
 * TDM_ERR_UNAVAILABLE (libvpx failed; err has its detail). */
tdm_status tdm_video_encoder_encode(tdm_video_encoder *enc, const tdm_i420 *img,
                                    const tdm_tilemap *changed, uint64_t pts_us,
                                    tdm_encoded_frame *out, bool *produced, tdm_error *err);

typedef struct tdm_video_encoder_stats {
    uint64_t frames_in;         /* calls to encode that returned TDM_OK */
    uint64_t frames_encoded;    /* frames produced */
    uint64_t frames_skipped;    /* nothing changed: not given to libvpx */
    uint64_t frames_dropped;    /* given to libvpx, which produced nothing */
    uint64_t keyframes;
    uint64_t refreshes;         /* produced only because a refresh was due */
    uint64_t active_map_frames; /* encoded with an active map */
    uint64_t own_frames;        /* written by Tandem (own_frames), not libvpx */
    uint64_t own_resyncs;       /* keyframes forced because libvpx could not resume */
    uint64_t own_exit_keyframes; /* VP9: keyframes that end a run of own frames */
    uint64_t bytes;             /* of all frames produced */
} tdm_video_encoder_stats;

void tdm_video_encoder_get_stats(const tdm_video_encoder *enc, tdm_video_encoder_stats *out);

#endif
