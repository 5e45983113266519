/* vp8_sparse.c: Tandem's own VP8 inter frames for sparse changes, and the
 * decoder-state tracking they need (see tdm_vp8_sparse.h). */
#include "tdm_vp8_sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_vp8_bool.h"

/* Per macroblock column (above) and for the row being coded (left): the
 * "has non-zero coefficients" state of the blocks on that edge, in the
 * order 4 Y, 2 U, 2 V, Y2 (RFC 6386 section 13.3). */
#define CTX_Y 0
#define CTX_U 4
#define CTX_V 6
#define CTX_Y2 8
#define CTX_N 9

enum { TYPE_Y_AFTER_Y2 = 0, TYPE_Y2 = 1, TYPE_UV = 2 };

struct tdm_vp8_sparse {
    int width, height, mb_cols, mb_rows;
    tdm_vp8_bool_writer modes, tokens;
    uint8_t *out;
    size_t out_cap;
    uint8_t *above; /* mb_cols * CTX_N */
};

void tdm_vp8_stream_init(tdm_vp8_stream *s)
{
    memset(s, 0, sizeof *s);
}

/* ---- following libvpx's headers ---- */

static bool read_signed_skip(tdm_vp8_bool_reader *r, int bits)
{
    if (tdm_vp8_bool_read_literal(r, 1)) {
        tdm_vp8_bool_read_literal(r, bits);
        tdm_vp8_bool_read_literal(r, 1);
        return true;
    }
    return false;
}

tdm_status tdm_vp8_stream_observe(tdm_vp8_stream *s, const uint8_t *frame, size_t len,
                                  tdm_error *err)
{
    if (!s || !frame)
        return tdm_fail(err, TDM_ERR_INVALID, "no stream state or frame");
    if (len < 3) {
        s->valid = false;
        return tdm_fail(err, TDM_ERR_INVALID, "VP8 frame of %zu bytes has no frame tag", len);
    }
    uint32_t tag = (uint32_t)frame[0] | (uint32_t)frame[1] << 8 | (uint32_t)frame[2] << 16;
    bool key = !(tag & 1);
    int version = (int)((tag >> 1) & 7);
    size_t first = tag >> 5;
    size_t start = key ? 10 : 3;
    if (len < start || first > len - start) {
        s->valid = false;
        return tdm_fail(err, TDM_ERR_INVALID,
                        "VP8 frame of %zu bytes is shorter than its header (%zu + %zu)", len,
                        start, first);
    }
    if (key) {
        if (frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a) {
            s->valid = false;
            return tdm_fail(err, TDM_ERR_INVALID, "VP8 keyframe without its start code");
        }
        s->width = (frame[6] | frame[7] << 8) & 0x3fff;
        s->height = (frame[8] | frame[9] << 8) & 0x3fff;
    } else if (!s->valid) {
        return tdm_fail(err, TDM_ERR_INVALID, "VP8 inter frame before any keyframe");
    }

    tdm_vp8_bool_reader r;
    tdm_vp8_bool_reader_init(&r, frame + start, first);
    if (key)
        tdm_vp8_bool_read_literal(&r, 2); /* color space, clamping type */
    bool segmentation = tdm_vp8_bool_read_literal(&r, 1);
    bool update_map = false, update_data = false;
    if (segmentation) {
        update_map = tdm_vp8_bool_read_literal(&r, 1);
        update_data = tdm_vp8_bool_read_literal(&r, 1);
        if (update_data) {
            tdm_vp8_bool_read_literal(&r, 1);
            for (int i = 0; i < 4; i++)
                read_signed_skip(&r, 7);
            for (int i = 0; i < 4; i++)
                read_signed_skip(&r, 6);
        }
        if (update_map) {
            for (int i = 0; i < 3; i++)
                if (tdm_vp8_bool_read_literal(&r, 1))
                    tdm_vp8_bool_read_literal(&r, 8);
        }
    }
    tdm_vp8_bool_read_literal(&r, 1 + 6 + 3); /* filter type, level, sharpness */
    if (tdm_vp8_bool_read_literal(&r, 1) && tdm_vp8_bool_read_literal(&r, 1)) {
        for (int i = 0; i < 8; i++)
            read_signed_skip(&r, 6);
    }
    tdm_vp8_bool_read_literal(&r, 2); /* token partitions */
    tdm_vp8_bool_read_literal(&r, 7); /* y_ac_qi */
    for (int i = 0; i < 5; i++)
        read_signed_skip(&r, 4);
    bool refresh_entropy;
    if (key) {
        refresh_entropy = tdm_vp8_bool_read_literal(&r, 1);
    } else {
        bool golden = tdm_vp8_bool_read_literal(&r, 1);
        bool altref = tdm_vp8_bool_read_literal(&r, 1);
        if (!golden)
            tdm_vp8_bool_read_literal(&r, 2);
        if (!altref)
            tdm_vp8_bool_read_literal(&r, 2);
        tdm_vp8_bool_read_literal(&r, 2); /* sign biases */
        refresh_entropy = tdm_vp8_bool_read_literal(&r, 1);
        tdm_vp8_bool_read_literal(&r, 1); /* refresh last */
    }
    tdm_vp8_coef_probs probs;
    memcpy(probs, key ? tdm_vp8_default_coef_probs : s->coef_probs, sizeof probs);
    for (int i = 0; i < TDM_VP8_BLOCK_TYPES; i++)
        for (int j = 0; j < TDM_VP8_COEF_BANDS; j++)
            for (int k = 0; k < TDM_VP8_COEF_CONTEXTS; k++)
                for (int t = 0; t < TDM_VP8_COEF_NODES; t++)
                    if (tdm_vp8_bool_read(&r, tdm_vp8_coef_update_probs[i][j][k][t]))
                        probs[i][j][k][t] = (uint8_t)tdm_vp8_bool_read_literal(&r, 8);
    /* A header that ran out of bytes before this point was cut short (the
     * reader pads with zeros; two bytes of look-ahead are normal). */
    if (r.overrun > 2) {
        s->valid = false;
        return tdm_fail(err, TDM_ERR_INVALID, "VP8 frame header is truncated");
    }
    if (key)
        memcpy(s->coef_probs, tdm_vp8_default_coef_probs, sizeof probs);
    if (refresh_entropy)
        memcpy(s->coef_probs, probs, sizeof probs);
    s->version = version;
    s->segmentation = segmentation;
    s->segments_partial = segmentation && (!update_map || !update_data);
    if (key)
        s->valid = true;
    return TDM_OK;
}

/* ---- writing ---- */

tdm_status tdm_vp8_sparse_new(int width, int height, tdm_vp8_sparse **out, tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "no place for the VP8 writer");
    *out = NULL;
    if (width < 1 || height < 1 || width > 16383 || height > 16383)
        return tdm_fail(err, TDM_ERR_INVALID, "VP8 size %dx%d is outside 1..16383", width,
                        height);
    tdm_vp8_sparse *w = calloc(1, sizeof *w);
    if (!w)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the VP8 writer");
    w->width = width;
    w->height = height;
    w->mb_cols = (width + 15) / 16;
    w->mb_rows = (height + 15) / 16;
    w->above = malloc((size_t)w->mb_cols * CTX_N);
    if (!w->above) {
        free(w);
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the VP8 writer");
    }
    *out = w;
    return TDM_OK;
}

void tdm_vp8_sparse_free(tdm_vp8_sparse *w)
{
    if (!w)
        return;
    tdm_vp8_bool_writer_free(&w->modes);
    tdm_vp8_bool_writer_free(&w->tokens);
    free(w->out);
    free(w->above);
    free(w);
}

/* sqrt(2) cos(pi/8) and sqrt(2) sin(pi/8): the inverse DCT's constants. */
#define IDCT_C 1.3065629648763766
#define IDCT_S 0.5411961001461971

/* Forward transforms. Any forward transform works as long as the
 * reconstruction uses the normative inverse; these are the exact inverses
 * of VP8's (its 1-D inverse DCT is out = M X with orthogonal columns of
 * norm 2, and the 2-D output is scaled by 1/8, so X = M^T x M / 2; the
 * WHT is the same with the Hadamard matrix). */
static void fdct4x4(const int r[16], double X[16])
{
    double t[16];
    for (int j = 0; j < 4; j++) { /* columns */
        double x0 = r[j], x1 = r[4 + j], x2 = r[8 + j], x3 = r[12 + j];
        t[j] = x0 + x1 + x2 + x3;
        t[4 + j] = IDCT_C * (x0 - x3) + IDCT_S * (x1 - x2);
        t[8 + j] = x0 - x1 - x2 + x3;
        t[12 + j] = IDCT_S * (x0 - x3) - IDCT_C * (x1 - x2);
    }
    for (int k = 0; k < 4; k++) { /* rows */
        const double *y = t + 4 * k;
        X[4 * k] = (y[0] + y[1] + y[2] + y[3]) * 0.5;
        X[4 * k + 1] = (IDCT_C * (y[0] - y[3]) + IDCT_S * (y[1] - y[2])) * 0.5;
        X[4 * k + 2] = (y[0] - y[1] - y[2] + y[3]) * 0.5;
        X[4 * k + 3] = (IDCT_S * (y[0] - y[3]) - IDCT_C * (y[1] - y[2])) * 0.5;
    }
}

static void fwht4x4(const double x[16], double X[16])
{
    double t[16];
    for (int j = 0; j < 4; j++) {
        double x0 = x[j], x1 = x[4 + j], x2 = x[8 + j], x3 = x[12 + j];
        t[j] = x0 + x1 + x2 + x3;
        t[4 + j] = x0 + x1 - x2 - x3;
        t[8 + j] = x0 - x1 - x2 + x3;
        t[12 + j] = x0 - x1 + x2 - x3;
    }
    for (int k = 0; k < 4; k++) {
        const double *y = t + 4 * k;
        X[4 * k] = (y[0] + y[1] + y[2] + y[3]) * 0.5;
        X[4 * k + 1] = (y[0] + y[1] - y[2] - y[3]) * 0.5;
        X[4 * k + 2] = (y[0] - y[1] - y[2] + y[3]) * 0.5;
        X[4 * k + 3] = (y[0] - y[1] + y[2] - y[3]) * 0.5;
    }
}

/* Normative inverses (RFC 6386 14.3, 14.4), intermediates in 16 bits. */
static void iwht4x4(const int16_t in[16], int16_t out[16])
{
    int16_t t[16];
    for (int i = 0; i < 4; i++) {
        int a1 = in[i] + in[12 + i], b1 = in[4 + i] + in[8 + i];
        int c1 = in[4 + i] - in[8 + i], d1 = in[i] - in[12 + i];
        t[i] = (int16_t)(a1 + b1);
        t[4 + i] = (int16_t)(c1 + d1);
        t[8 + i] = (int16_t)(a1 - b1);
        t[12 + i] = (int16_t)(d1 - c1);
    }
    for (int i = 0; i < 4; i++) {
        const int16_t *p = t + 4 * i;
        int a1 = p[0] + p[3], b1 = p[1] + p[2], c1 = p[1] - p[2], d1 = p[0] - p[3];
        out[4 * i] = (int16_t)((a1 + b1 + 3) >> 3);
        out[4 * i + 1] = (int16_t)((c1 + d1 + 3) >> 3);
        out[4 * i + 2] = (int16_t)((a1 - b1 + 3) >> 3);
        out[4 * i + 3] = (int16_t)((d1 - c1 + 3) >> 3);
    }
}

#define COS_M1 20091 /* (sqrt(2) cos(pi/8) - 1) * 65536 */
#define SIN_Q 35468  /* sqrt(2) sin(pi/8) * 65536 */

static void idct4x4_add(const int16_t in[16], uint8_t *dst, int stride)
{
    int16_t t[16];
    for (int i = 0; i < 4; i++) {
        int a1 = in[i] + in[8 + i], b1 = in[i] - in[8 + i];
        int c1 = ((in[4 + i] * SIN_Q) >> 16) - (in[12 + i] + ((in[12 + i] * COS_M1) >> 16));
        int d1 = (in[4 + i] + ((in[4 + i] * COS_M1) >> 16)) + ((in[12 + i] * SIN_Q) >> 16);
        t[i] = (int16_t)(a1 + d1);
        t[12 + i] = (int16_t)(a1 - d1);
        t[4 + i] = (int16_t)(b1 + c1);
        t[8 + i] = (int16_t)(b1 - c1);
    }
    for (int i = 0; i < 4; i++) {
        const int16_t *p = t + 4 * i;
        int a1 = p[0] + p[2], b1 = p[0] - p[2];
        int c1 = ((p[1] * SIN_Q) >> 16) - (p[3] + ((p[3] * COS_M1) >> 16));
        int d1 = (p[1] + ((p[1] * COS_M1) >> 16)) + ((p[3] * SIN_Q) >> 16);
        int res[4] = {(a1 + d1 + 4) >> 3, (b1 + c1 + 4) >> 3, (b1 - c1 + 4) >> 3,
                      (a1 - d1 + 4) >> 3};
        uint8_t *row = dst + (size_t)i * stride;
        for (int c = 0; c < 4; c++) {
            int v = row[c] + (int16_t)res[c];
            row[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

typedef struct quant {
    int y1[2], y2[2], uv[2]; /* DC, AC steps */
} quant;

static int qclamp(int q)
{
    return q < 0 ? 0 : q > 127 ? 127 : q;
}

static void make_quant(int q, quant *out)
{
    q = qclamp(q);
    out->y1[0] = tdm_vp8_dc_q[q];
    out->y1[1] = tdm_vp8_ac_q[q];
    out->y2[0] = tdm_vp8_dc_q[q] * 2;
    out->y2[1] = tdm_vp8_ac_q[q] * 155 / 100;
    if (out->y2[1] < 8)
        out->y2[1] = 8;
    out->uv[0] = tdm_vp8_dc_q[q] > 132 ? 132 : tdm_vp8_dc_q[q];
    out->uv[1] = tdm_vp8_ac_q[q];
}

/* Rounds X / step to a level; a slight dead zone keeps near-zero noise out
 * of the token stream. Levels stay within the token range (2048) and so
 * that level * step fits the decoder's 16-bit dequantised coefficient. */
static int quantize(double X, int step)
{
    double a = fabs(X) / step + 0.42;
    int lim = 32767 / step < 2048 ? 32767 / step : 2048;
    int l = (int)a;
    if (l > lim)
        l = lim;
    return X < 0 ? -l : l;
}

/* Writes one block's tokens; levels in raster order; returns whether any
 * coded coefficient is non-zero. */
static int write_block(tdm_vp8_bool_writer *w, const tdm_vp8_coef_probs *probs, int type,
                       int first, int ctx, const int16_t level[16])
{
    int last = -1;
    for (int i = 15; i >= first; i--) {
        if (level[tdm_vp8_zigzag[i]]) {
            last = i;
            break;
        }
    }
    bool prev_zero = false;
    for (int i = first; i <= last; i++) {
        const uint8_t *p = (*probs)[type][tdm_vp8_coef_bands[i]][ctx];
        int v = level[tdm_vp8_zigzag[i]];
        int a = v < 0 ? -v : v;
        if (!prev_zero)
            tdm_vp8_bool_write(w, 1, p[0]); /* not the end of the block */
        if (a == 0) {
            tdm_vp8_bool_write(w, 0, p[1]);
            prev_zero = true;
            ctx = 0;
            continue;
        }
        tdm_vp8_bool_write(w, 1, p[1]);
        if (a == 1) {
            tdm_vp8_bool_write(w, 0, p[2]);
        } else {
            tdm_vp8_bool_write(w, 1, p[2]);
            if (a <= 4) {
                tdm_vp8_bool_write(w, 0, p[3]);
                if (a == 2) {
                    tdm_vp8_bool_write(w, 0, p[4]);
                } else {
                    tdm_vp8_bool_write(w, 1, p[4]);
                    tdm_vp8_bool_write(w, a == 4, p[5]);
                }
            } else {
                int cat;
                tdm_vp8_bool_write(w, 1, p[3]);
                if (a <= 10) {
                    tdm_vp8_bool_write(w, 0, p[6]);
                    cat = a <= 6 ? 0 : 1;
                    tdm_vp8_bool_write(w, cat, p[7]);
                } else {
                    tdm_vp8_bool_write(w, 1, p[6]);
                    if (a <= 34) {
                        tdm_vp8_bool_write(w, 0, p[8]);
                        cat = a <= 18 ? 2 : 3;
                        tdm_vp8_bool_write(w, cat == 3, p[9]);
                    } else {
                        tdm_vp8_bool_write(w, 1, p[8]);
                        cat = a <= 66 ? 4 : 5;
                        tdm_vp8_bool_write(w, cat == 5, p[10]);
                    }
                }
                const uint8_t *cp = tdm_vp8_cat_probs[cat];
                int bits = 0;
                while (cp[bits])
                    bits++;
                int extra = a - tdm_vp8_cat_base[cat];
                for (int b = 0; b < bits; b++)
                    tdm_vp8_bool_write(w, (extra >> (bits - 1 - b)) & 1, cp[b]);
            }
        }
        tdm_vp8_bool_write(w, v < 0, 128);
        prev_zero = false;
        ctx = a == 1 ? 1 : 2;
    }
    if (last < 15) {
        int pos = last < first ? first : last + 1;
        tdm_vp8_bool_write(w, 0, (*probs)[type][tdm_vp8_coef_bands[pos]][ctx][0]);
    }
    return last >= first;
}

/* The residual of a 4x4 block: source minus picture, zero outside the
 * source (those pixels exist only in the decoder's padded picture). */
static void residual4x4(const uint8_t *s, int ss, int sw, int sh, const uint8_t *p, int ps,
                        int r[16])
{
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            r[4 * y + x] = (x < sw && y < sh) ? s[(size_t)y * ss + x] - p[(size_t)y * ps + x] : 0;
}

typedef struct mb_levels {
    int16_t y2[16];
    int16_t y[16][16];
    int16_t uv[8][16];
} mb_levels;

/* Transforms and quantises the macroblock at (mx, my); false when every
 * level is zero (nothing to code). */
static bool quantize_mb(const tdm_i420 *src, const tdm_vp8_picture *ref,
                        int mx, int my, const quant *q, mb_levels *L)
{
    bool any = false;
    double dc[16], X[16];
    int r[16];
    int px = mx * 16, py = my * 16;
    for (int b = 0; b < 16; b++) {
        int bx = px + (b & 3) * 4, by = py + (b >> 2) * 4;
        int sw = src->width - bx, sh = src->height - by;
        sw = sw < 0 ? 0 : sw;
        sh = sh < 0 ? 0 : sh;
        const uint8_t *rp = ref->y + (size_t)by * ref->stride_y + bx;
        residual4x4(sw && sh ? src->y + (size_t)by * src->stride_y + bx : rp, src->stride_y, sw,
                    sh, rp, ref->stride_y, r);
        fdct4x4(r, X);
        dc[b] = X[0];
        L->y[b][0] = 0;
        for (int i = 1; i < 16; i++) {
            L->y[b][i] = (int16_t)quantize(X[i], q->y1[1]);
            any |= L->y[b][i] != 0;
        }
    }
    fwht4x4(dc, X);
    for (int i = 0; i < 16; i++) {
        L->y2[i] = (int16_t)quantize(X[i], q->y2[i ? 1 : 0]);
        any |= L->y2[i] != 0;
    }
    int cw = (src->width + 1) / 2, ch = (src->height + 1) / 2;
    for (int b = 0; b < 8; b++) {
        const uint8_t *plane = b < 4 ? src->u : src->v;
        int sstride = b < 4 ? src->stride_u : src->stride_v;
        uint8_t *rplane = b < 4 ? ref->u : ref->v;
        int k = b & 3;
        int bx = mx * 8 + (k & 1) * 4, by = my * 8 + (k >> 1) * 4;
        int sw = cw - bx, sh = ch - by;
        sw = sw < 0 ? 0 : sw;
        sh = sh < 0 ? 0 : sh;
        const uint8_t *rp = rplane + (size_t)by * ref->stride_uv + bx;
        residual4x4(sw && sh ? plane + (size_t)by * sstride + bx : rp, sstride, sw, sh, rp,
                    ref->stride_uv, r);
        fdct4x4(r, X);
        for (int i = 0; i < 16; i++) {
            L->uv[b][i] = (int16_t)quantize(X[i], q->uv[i ? 1 : 0]);
            any |= L->uv[b][i] != 0;
        }
    }
    return any;
}

/* Adds the decoded residual to the picture: what the decoder does. */
static void reconstruct_mb(tdm_vp8_picture *ref, int mx, int my, const quant *q,
                           const mb_levels *L)
{
    int16_t dq[16], dcs[16], c[16];
    for (int i = 0; i < 16; i++)
        dq[i] = (int16_t)(L->y2[i] * q->y2[i ? 1 : 0]);
    iwht4x4(dq, dcs);
    for (int b = 0; b < 16; b++) {
        c[0] = dcs[b];
        for (int i = 1; i < 16; i++)
            c[i] = (int16_t)(L->y[b][i] * q->y1[1]);
        int bx = mx * 16 + (b & 3) * 4, by = my * 16 + (b >> 2) * 4;
        idct4x4_add(c, ref->y + (size_t)by * ref->stride_y + bx, ref->stride_y);
    }
    for (int b = 0; b < 8; b++) {
        for (int i = 0; i < 16; i++)
            c[i] = (int16_t)(L->uv[b][i] * q->uv[i ? 1 : 0]);
        uint8_t *plane = b < 4 ? ref->u : ref->v;
        int k = b & 3;
        int bx = mx * 8 + (k & 1) * 4, by = my * 8 + (k >> 1) * 4;
        idct4x4_add(c, plane + (size_t)by * ref->stride_uv + bx, ref->stride_uv);
    }
}

static void write_mb_tokens(tdm_vp8_bool_writer *w, const tdm_vp8_coef_probs *probs,
                            uint8_t *above, uint8_t *left, const mb_levels *L)
{
    int nz = write_block(w, probs, TYPE_Y2, 0, above[CTX_Y2] + left[CTX_Y2], L->y2);
    above[CTX_Y2] = left[CTX_Y2] = (uint8_t)nz;
    for (int b = 0; b < 16; b++) {
        int x = b & 3, y = b >> 2;
        nz = write_block(w, probs, TYPE_Y_AFTER_Y2, 1, above[CTX_Y + x] + left[CTX_Y + y],
                         L->y[b]);
        above[CTX_Y + x] = left[CTX_Y + y] = (uint8_t)nz;
    }
    for (int b = 0; b < 8; b++) {
        int base = b < 4 ? CTX_U : CTX_V, k = b & 3, x = k & 1, y = k >> 1;
        nz = write_block(w, probs, TYPE_UV, 0, above[base + x] + left[base + y], L->uv[b]);
        above[base + x] = left[base + y] = (uint8_t)nz;
    }
}

static void write_header(tdm_vp8_bool_writer *m, int q_index, int prob_skip_false)
{
    /* Segmentation on, every macroblock in segment 0, every segment at the
     * frame's quantiser: libvpx's CBR mode keeps segmentation on (cyclic
     * refresh), and a decoder keeps the map and the segment data from
     * frame to frame, so they are written whole here; libvpx rewrites both
     * in each of its own frames (checked: tdm_vp8_stream.needs_full_segments). */
    tdm_vp8_bool_write_literal(m, 1, 1); /* segmentation_enabled */
    tdm_vp8_bool_write_literal(m, 1, 1); /* update_mb_segmentation_map */
    tdm_vp8_bool_write_literal(m, 1, 1); /* update_segment_feature_data */
    tdm_vp8_bool_write_literal(m, 0, 1); /* delta mode */
    tdm_vp8_bool_write_literal(m, 0, 8); /* no quantiser or filter deltas */
    for (int i = 0; i < 3; i++) {
        tdm_vp8_bool_write_literal(m, 1, 1); /* tree probability given: */
        tdm_vp8_bool_write_literal(m, 255, 8); /* segment 0 costs next to nothing */
    }
    tdm_vp8_bool_write_literal(m, 0, 1); /* filter type */
    tdm_vp8_bool_write_literal(m, 0, 6); /* loop filter level 0: no filtering */
    tdm_vp8_bool_write_literal(m, 0, 3); /* sharpness */
    tdm_vp8_bool_write_literal(m, 0, 1); /* no mode/ref filter deltas */
    tdm_vp8_bool_write_literal(m, 0, 2); /* one token partition */
    tdm_vp8_bool_write_literal(m, (uint32_t)q_index, 7);
    tdm_vp8_bool_write_literal(m, 0, 5); /* no quantiser deltas */
    tdm_vp8_bool_write_literal(m, 1, 1); /* refresh golden */
    tdm_vp8_bool_write_literal(m, 1, 1); /* refresh alt-ref */
    tdm_vp8_bool_write_literal(m, 0, 2); /* sign biases */
    tdm_vp8_bool_write_literal(m, 0, 1); /* refresh_entropy_probs: keep nothing */
    tdm_vp8_bool_write_literal(m, 1, 1); /* refresh last */
    for (int i = 0; i < TDM_VP8_BLOCK_TYPES; i++)
        for (int j = 0; j < TDM_VP8_COEF_BANDS; j++)
            for (int k = 0; k < TDM_VP8_COEF_CONTEXTS; k++)
                for (int t = 0; t < TDM_VP8_COEF_NODES; t++)
                    tdm_vp8_bool_write(m, 0, tdm_vp8_coef_update_probs[i][j][k][t]);
    tdm_vp8_bool_write_literal(m, 1, 1); /* mb_no_skip_coeff */
    tdm_vp8_bool_write_literal(m, (uint32_t)prob_skip_false, 8);
    tdm_vp8_bool_write_literal(m, 1, 8);   /* prob_intra: all inter */
    tdm_vp8_bool_write_literal(m, 255, 8); /* prob_last: all from the last frame */
    tdm_vp8_bool_write_literal(m, 128, 8); /* prob_gf (unused) */
    tdm_vp8_bool_write_literal(m, 0, 1);   /* no intra mode probability updates */
    tdm_vp8_bool_write_literal(m, 0, 1);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 19; j++)
            tdm_vp8_bool_write(m, 0, tdm_vp8_mv_update_probs[i][j]);
}

tdm_status tdm_vp8_sparse_encode(tdm_vp8_sparse *w, const tdm_vp8_stream *stream,
                                 const tdm_i420 *src, const uint8_t *code, int q_index,
                                 tdm_vp8_picture *ref, tdm_vp8_sparse_result *out,
                                 tdm_error *err)
{
    if (!w || !stream || !src || !code || !ref || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "sparse VP8 frame needs all its arguments");
    if (!stream->valid)
        return tdm_fail(err, TDM_ERR_INVALID,
                        "the VP8 stream's state is not known (no keyframe followed)");
    if (src->width != w->width || src->height != w->height)
        return tdm_fail(err, TDM_ERR_INVALID, "image is %dx%d, the writer %dx%d", src->width,
                        src->height, w->width, w->height);
    if (q_index < 0 || q_index > 127)
        return tdm_fail(err, TDM_ERR_INVALID, "quantiser index %d is outside 0..127", q_index);

    size_t n = (size_t)w->mb_cols * w->mb_rows, wanted = 0;
    for (size_t i = 0; i < n; i++)
        wanted += code[i] != 0;
    int prob_skip_false = (int)(256 * wanted / n);
    prob_skip_false = prob_skip_false < 1 ? 1 : prob_skip_false > 254 ? 254 : prob_skip_false;

    quant q;
    make_quant(q_index, &q);
    tdm_vp8_bool_writer_reset(&w->modes);
    tdm_vp8_bool_writer_reset(&w->tokens);
    write_header(&w->modes, q_index, prob_skip_false);
    memset(w->above, 0, (size_t)w->mb_cols * CTX_N);
    mb_levels L;
    unsigned coded = 0;
    for (int my = 0; my < w->mb_rows; my++) {
        uint8_t left[CTX_N] = {0};
        for (int mx = 0; mx < w->mb_cols; mx++) {
            uint8_t *above = w->above + (size_t)mx * CTX_N;
            bool residual = code[(size_t)my * w->mb_cols + mx] &&
                            quantize_mb(src, ref, mx, my, &q, &L);
            tdm_vp8_bool_write(&w->modes, 0, 255); /* segment 0: "00" */
            tdm_vp8_bool_write(&w->modes, 0, 255);
            tdm_vp8_bool_write(&w->modes, !residual, prob_skip_false);
            tdm_vp8_bool_write(&w->modes, 1, 1);   /* inter */
            tdm_vp8_bool_write(&w->modes, 0, 255); /* from the last frame */
            /* ZEROMV, the tree's first leaf; the census of neighbours
             * that are inter-coded (all are; outside the frame counts as
             * intra) picks its probability (RFC 6386 16.3). */
            int census = (my > 0 ? 2 : 0) + (mx > 0 ? 2 : 0) + (mx > 0 && my > 0 ? 1 : 0);
            tdm_vp8_bool_write(&w->modes, 0, tdm_vp8_mode_contexts[census][0]);
            if (residual) {
                write_mb_tokens(&w->tokens, &stream->coef_probs, above, left, &L);
                reconstruct_mb(ref, mx, my, &q, &L);
                coded++;
            } else {
                memset(above, 0, CTX_N);
                memset(left, 0, CTX_N);
            }
        }
    }
    tdm_vp8_bool_writer_flush(&w->modes);
    tdm_vp8_bool_writer_flush(&w->tokens);
    if (w->modes.nomem || w->tokens.nomem)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for a VP8 frame");
    if (w->modes.pos >= (1u << 19))
        return tdm_fail(err, TDM_ERR_INVALID, "VP8 first partition of %zu bytes is too large",
                        w->modes.pos);
    size_t total = 3 + w->modes.pos + w->tokens.pos;
    if (total > w->out_cap) {
        uint8_t *nb = realloc(w->out, total);
        if (!nb)
            return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for a VP8 frame");
        w->out = nb;
        w->out_cap = total;
    }
    uint32_t tag = 1u /* inter */ | (uint32_t)(stream->version & 7) << 1 | 1u << 4 /* shown */ |
                   (uint32_t)w->modes.pos << 5;
    w->out[0] = (uint8_t)tag;
    w->out[1] = (uint8_t)(tag >> 8);
    w->out[2] = (uint8_t)(tag >> 16);
    memcpy(w->out + 3, w->modes.buf, w->modes.pos);
    memcpy(w->out + 3 + w->modes.pos, w->tokens.buf, w->tokens.pos);
    *out = (tdm_vp8_sparse_result){.data = w->out, .len = total, .coded_mbs = coded};
    return TDM_OK;
}
