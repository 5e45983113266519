/* vpx_decoder.c: the libvpx adapter behind tdm_video_decoder, with the
 * wait-for-keyframe rule that keeps broken pictures from being shown. */
#include "tdm_video_decoder.h"

#include <limits.h>
#include <stdlib.h>

#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

struct tdm_video_decoder {
    tdm_codec codec;
    uint64_t max_pixels;
    vpx_codec_ctx_t ctx;
    bool need_kf;
    tdm_video_decoder_stats stats;
};

void tdm_video_decoder_config_init(tdm_video_decoder_config *cfg, tdm_codec codec)
{
    *cfg = (tdm_video_decoder_config){.codec = codec, .threads = 1, .max_pixels = 7680 * 4320};
}

tdm_status tdm_video_decoder_new(const tdm_video_decoder_config *cfg, tdm_video_decoder **out,
                                 tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "no place for the decoder");
    *out = NULL;
    if (!cfg)
        return tdm_fail(err, TDM_ERR_INVALID, "no decoder configuration");
    if (cfg->codec != TDM_CODEC_VP8 && cfg->codec != TDM_CODEC_VP9)
        return tdm_fail(err, TDM_ERR_INVALID, "codec %s is not a video codec",
                        tdm_codec_name(cfg->codec));
    if (cfg->threads < 1 || cfg->threads > 64)
        return tdm_fail(err, TDM_ERR_INVALID, "threads %d is outside [1, 64]", cfg->threads);
    uint64_t most = (uint64_t)TDM_MAX_DIMENSION * TDM_MAX_DIMENSION;
    if (cfg->max_pixels < 1 || cfg->max_pixels > most)
        return tdm_fail(err, TDM_ERR_INVALID, "max_pixels %llu is outside [1, %llu]",
                        (unsigned long long)cfg->max_pixels, (unsigned long long)most);
    tdm_video_decoder *dec = calloc(1, sizeof *dec);
    if (!dec)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the decoder");
    dec->codec = cfg->codec;
    dec->max_pixels = cfg->max_pixels;
    dec->need_kf = true;
    vpx_codec_dec_cfg_t dcfg = {.threads = (unsigned)cfg->threads, .w = 0, .h = 0};
    vpx_codec_iface_t *iface =
        cfg->codec == TDM_CODEC_VP9 ? vpx_codec_vp9_dx() : vpx_codec_vp8_dx();
    if (vpx_codec_dec_init(&dec->ctx, iface, &dcfg, 0) != VPX_CODEC_OK) {
        /* A failed init has already released its context. */
        tdm_status st = tdm_fail(err, TDM_ERR_UNAVAILABLE, "%s decoder init: %s",
                                 tdm_codec_name(cfg->codec), vpx_codec_error(&dec->ctx));
        free(dec);
        return st;
    }
    if (cfg->codec == TDM_CODEC_VP9 && cfg->threads > 1 &&
        vpx_codec_control(&dec->ctx, VP9D_SET_ROW_MT, 1) != VPX_CODEC_OK) {
        tdm_status st = tdm_fail(err, TDM_ERR_UNAVAILABLE, "VP9 decoder row threads: %s",
                                 vpx_codec_error(&dec->ctx));
        tdm_video_decoder_free(dec);
        return st;
    }
    *out = dec;
    return TDM_OK;
}

void tdm_video_decoder_free(tdm_video_decoder *dec)
{
    if (!dec)
        return;
    vpx_codec_destroy(&dec->ctx);
    free(dec);
}

bool tdm_video_decoder_needs_keyframe(const tdm_video_decoder *dec)
{
    return dec->need_kf;
}

void tdm_video_decoder_get_stats(const tdm_video_decoder *dec, tdm_video_decoder_stats *out)
{
    *out = dec->stats;
}

/* ---- VP9 frame sizes, read before libvpx sees them ---- */

typedef struct bits {
    const uint8_t *p;
    size_t len, pos; /* in bits */
    bool over;       /* read past the end */
} bits;

static unsigned get(bits *b, int n)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++, b->pos++) {
        if (b->pos >= b->len) {
            b->over = true;
            return 0;
        }
        v = v << 1 | ((b->p[b->pos / 8] >> (7 - b->pos % 8)) & 1);
    }
    return v;
}

/* The size a VP9 frame declares, from its uncompressed header (VP9
 * bitstream spec, section 6.2): keyframes and intra-only frames always,
 * inter frames when they take no reference's size. Returns false when it
 * declares none or the header cannot be read (libvpx then judges it). */
static bool vp9_declared_size(const uint8_t *buf, size_t len, uint32_t *w, uint32_t *h)
{
    bits b = {buf, len * 8, 0, false};
    if (get(&b, 2) != 2) /* frame marker */
        return false;
    unsigned profile = get(&b, 1);
    profile |= get(&b, 1) << 1;
    if (profile == 3)
        get(&b, 1);
    if (get(&b, 1)) /* show_existing_frame */
        return false;
    unsigned key = get(&b, 1) == 0, show = get(&b, 1), error_res = get(&b, 1);
    bool explicit_size = true;
    if (key || (!show && get(&b, 1) /* intra_only */)) {
        if (!key && !error_res)
            get(&b, 2); /* reset_frame_context */
        get(&b, 24);    /* sync code */
        if (key || profile > 0) {
            if (profile >= 2)
                get(&b, 1); /* bit depth */
            if (get(&b, 3) != 7) { /* colour space other than sRGB */
                get(&b, 1);        /* range */
                if (profile == 1 || profile == 3)
                    get(&b, 3); /* subsampling, reserved */
            } else if (profile == 1 || profile == 3) {
                get(&b, 1);
            }
        }
        if (!key)
            get(&b, 8); /* refresh_frame_flags */
    } else {
        if (!error_res)
            get(&b, 2);     /* reset_frame_context */
        get(&b, 8);         /* refresh_frame_flags */
        get(&b, 3 * 4);     /* ref_frame_idx and sign bias, three times */
        for (int i = 0; i < 3 && explicit_size; i++)
            explicit_size = !get(&b, 1); /* found_ref */
    }
    if (!explicit_size)
        return false;
    uint32_t wm1 = get(&b, 16), hm1 = get(&b, 16);
    if (b.over)
        return false;
    *w = wm1 + 1;
    *h = hm1 + 1;
    return true;
}

static bool size_fits(const tdm_video_decoder *dec, uint32_t w, uint32_t h)
{
    return w >= 1 && h >= 1 && w <= TDM_MAX_DIMENSION && h <= TDM_MAX_DIMENSION &&
           (uint64_t)w * h <= dec->max_pixels;
}

/* Checks every frame of a VP9 packet, including each frame of a superframe
 * (whose index, at the end, lists the frames' sizes). */
static bool vp9_sizes_fit(const tdm_video_decoder *dec, const uint8_t *buf, size_t len,
                          uint32_t *bad_w, uint32_t *bad_h)
{
    size_t sizes[8], count = 0;
    uint8_t marker = buf[len - 1];
    if ((marker & 0xe0) == 0xc0) {
        size_t frames = (size_t)(marker & 7) + 1, mag = (size_t)((marker >> 3) & 3) + 1;
        size_t index = 2 + mag * frames;
        if (len >= index && buf[len - index] == marker) {
            const uint8_t *x = buf + len - index + 1;
            size_t total = 0;
            for (size_t i = 0; i < frames; i++, x += mag) {
                size_t sz = 0;
                for (size_t k = 0; k < mag; k++)
                    sz |= (size_t)x[k] << (8 * k);
                sizes[count++] = sz;
                total += sz;
            }
            if (total > len - index)
                count = 0; /* a broken index: libvpx will refuse it */
        }
    }
    if (count == 0) {
        sizes[0] = len;
        count = 1;
    }
    size_t off = 0;
    for (size_t i = 0; i < count; off += sizes[i], i++) {
        uint32_t w, h;
        if (sizes[i] && vp9_declared_size(buf + off, sizes[i], &w, &h) && !size_fits(dec, w, h)) {
            *bad_w = w;
            *bad_h = h;
            return false;
        }
    }
    return true;
}

static tdm_status refuse(tdm_video_decoder *dec, tdm_error *err, tdm_status st, const char *what)
{
    const char *detail = vpx_codec_error_detail(&dec->ctx);
    dec->need_kf = true;
    dec->stats.errors++;
    return tdm_fail(err, st, "%s %s: %s%s%s", tdm_codec_name(dec->codec), what,
                    vpx_codec_error(&dec->ctx), detail ? ": " : "", detail ? detail : "");
}

tdm_status tdm_video_decoder_decode(tdm_video_decoder *dec, const uint8_t *buf, size_t len,
                                    tdm_i420 *out, bool *produced, tdm_error *err)
{
    if (produced)
        *produced = false;
    if (!dec || !out || !produced)
        return tdm_fail(err, TDM_ERR_INVALID, "decode needs a decoder, an output and a flag");
    if (!buf || len == 0)
        return tdm_fail(err, TDM_ERR_INVALID, "empty frame");
    if (len > UINT_MAX)
        return tdm_fail(err, TDM_ERR_INVALID, "frame of %zu bytes is too large", len);
    dec->stats.frames_in++;

    /* Peek succeeds on keyframes (VP8 reports an inter frame as an error),
     * so only a frame it vouches for can end a wait for a keyframe. */
    vpx_codec_stream_info_t si = {.sz = sizeof si};
    vpx_codec_iface_t *iface =
        dec->codec == TDM_CODEC_VP9 ? vpx_codec_vp9_dx() : vpx_codec_vp8_dx();
    bool key = vpx_codec_peek_stream_info(iface, buf, (unsigned)len, &si) == VPX_CODEC_OK &&
               si.is_kf;
    uint32_t bw = si.w, bh = si.h;
    if ((key && !size_fits(dec, si.w, si.h)) ||
        (dec->codec == TDM_CODEC_VP9 && !vp9_sizes_fit(dec, buf, len, &bw, &bh))) {
        dec->need_kf = true;
        dec->stats.errors++;
        return tdm_fail(err, TDM_ERR_FORMAT,
                        "%s frame declares a %ux%u picture, over the limit of %llu pixels or %d "
                        "a side",
                        tdm_codec_name(dec->codec), bw, bh, (unsigned long long)dec->max_pixels,
                        TDM_MAX_DIMENSION);
    }
    if (dec->need_kf && !key) {
        dec->stats.set_aside++;
        return TDM_OK;
    }

    if (vpx_codec_decode(&dec->ctx, buf, (unsigned)len, NULL, 0) != VPX_CODEC_OK)
        return refuse(dec, err, TDM_ERR_FORMAT, "decode");
    if (dec->codec == TDM_CODEC_VP8) {
        /* VP8 can decode "successfully" from references it knows are bad. */
        int corrupt = 0;
        if (vpx_codec_control(&dec->ctx, VP8D_GET_FRAME_CORRUPTED, &corrupt) != VPX_CODEC_OK ||
            corrupt) {
            vpx_codec_iter_t it = NULL;
            while (vpx_codec_get_frame(&dec->ctx, &it) != NULL) {
            }
            dec->need_kf = true;
            dec->stats.errors++;
            return tdm_fail(err, TDM_ERR_FORMAT, "vp8 frame decoded corrupt");
        }
    }
    if (key) {
        dec->need_kf = false;
        dec->stats.keyframes++;
    }

    vpx_codec_iter_t it = NULL;
    vpx_image_t *img = vpx_codec_get_frame(&dec->ctx, &it);
    if (!img)
        return TDM_OK;
    while (vpx_codec_get_frame(&dec->ctx, &it) != NULL) {
        /* At most one shown frame per input in practice; keep the first. */
    }
    if (img->fmt != VPX_IMG_FMT_I420) {
        dec->need_kf = true;
        dec->stats.errors++;
        return tdm_fail(err, TDM_ERR_UNSUPPORTED, "%s picture format 0x%x is not 8-bit 4:2:0",
                        tdm_codec_name(dec->codec), (unsigned)img->fmt);
    }
    *out = (tdm_i420){
        .y = img->planes[VPX_PLANE_Y],
        .u = img->planes[VPX_PLANE_U],
        .v = img->planes[VPX_PLANE_V],
        .stride_y = img->stride[VPX_PLANE_Y],
        .stride_u = img->stride[VPX_PLANE_U],
        .stride_v = img->stride[VPX_PLANE_V],
        .width = (int)img->d_w,
        .height = (int)img->d_h,
        .owned = NULL,
    };
    *produced = true;
    dec->stats.frames_out++;
    return TDM_OK;
}
