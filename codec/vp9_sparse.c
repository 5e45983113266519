/* vp9_sparse.c: Tandem's own lossless VP9 inter frames for sparse changes
 * (see tdm_vp9_sparse.h).
 *
 * The probabilities below are the VP9 format's defaults (what every
 * decoder resets to in an error-resilient frame); the values are those of
 * the VP9 bitstream specification, as built into libvpx 1.12. Only the
 * parts this writer codes are here: 4x4 inter tokens, and the rows of the
 * Pareto token model those defaults select. */
#include "tdm_vp9_sparse.h"

#include <stdlib.h>
#include <string.h>

#include "tdm_vp8_bool.h"

/* Inter (reference type 1) 4x4 token probabilities, [plane type][band][context][node]. */
static const uint8_t coef_probs_4x4_inter[2][6][6][3] = {
    {
        {{191, 107, 226}, {124, 117, 204}, {25, 99, 155}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}},
        {{29, 148, 210}, {37, 126, 194}, {8, 93, 157}, {2, 68, 118}, {1, 39, 69}, {1, 17, 33}},
        {{41, 151, 213}, {27, 123, 193}, {3, 82, 144}, {1, 58, 105}, {1, 32, 60}, {1, 13, 26}},
        {{59, 159, 220}, {23, 126, 198}, {4, 88, 151}, {1, 66, 114}, {1, 38, 71}, {1, 18, 34}},
        {{114, 136, 232}, {51, 114, 207}, {11, 83, 155}, {3, 56, 105}, {1, 33, 65}, {1, 17, 34}},
        {{149, 65, 234}, {121, 57, 215}, {61, 49, 166}, {28, 36, 114}, {12, 25, 76}, {3, 16, 42}},
    },
    {
        {{229, 99, 249}, {143, 111, 235}, {46, 109, 192}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}},
        {{82, 158, 236}, {94, 146, 224}, {25, 117, 191}, {9, 87, 149}, {3, 56, 99}, {1, 33, 57}},
        {{83, 167, 237}, {68, 145, 222}, {10, 103, 177}, {2, 72, 131}, {1, 41, 79}, {1, 20, 39}},
        {{99, 167, 239}, {47, 141, 224}, {10, 104, 178}, {2, 73, 133}, {1, 44, 85}, {1, 22, 47}},
        {{127, 145, 243}, {71, 129, 228}, {17, 93, 177}, {3, 61, 124}, {1, 41, 84}, {1, 21, 52}},
        {{157, 78, 244}, {140, 72, 231}, {69, 58, 184}, {31, 44, 137}, {14, 38, 105}, {8, 23, 61}},
    },
};

/* Rows of the Pareto model (node probabilities beyond ONE) for the pivot
 * probabilities that occur above, keyed by that probability. */
static const struct { uint8_t pivot; uint8_t p[8]; } pareto_rows[59] = {
    {26, {68, 95, 135, 114, 105, 221, 153, 223}},
    {33, {84, 98, 138, 134, 110, 234, 166, 233}},
    {34, {86, 98, 138, 137, 111, 235, 168, 234}},
    {39, {97, 101, 140, 149, 115, 240, 176, 238}},
    {42, {103, 102, 140, 156, 117, 242, 180, 239}},
    {47, {113, 104, 142, 166, 120, 245, 187, 242}},
    {52, {121, 106, 143, 175, 124, 247, 193, 244}},
    {57, {130, 109, 145, 183, 128, 249, 199, 245}},
    {60, {135, 110, 146, 187, 130, 250, 202, 246}},
    {61, {137, 111, 147, 189, 131, 251, 203, 246}},
    {65, {143, 113, 148, 194, 133, 251, 207, 247}},
    {69, {149, 115, 149, 199, 136, 252, 210, 248}},
    {71, {152, 115, 150, 201, 138, 252, 211, 248}},
    {76, {159, 117, 151, 207, 141, 253, 215, 249}},
    {79, {163, 119, 153, 210, 143, 253, 217, 249}},
    {84, {169, 121, 154, 214, 146, 254, 220, 250}},
    {85, {171, 122, 155, 215, 147, 254, 221, 250}},
    {99, {187, 129, 160, 225, 156, 255, 228, 251}},
    {105, {193, 133, 162, 228, 160, 255, 230, 252}},
    {114, {201, 137, 165, 233, 165, 255, 233, 252}},
    {118, {205, 139, 166, 234, 167, 255, 234, 252}},
    {124, {209, 143, 169, 237, 171, 255, 236, 252}},
    {131, {215, 147, 172, 240, 175, 255, 238, 253}},
    {133, {216, 148, 173, 240, 176, 255, 238, 253}},
    {137, {219, 150, 174, 241, 179, 255, 239, 253}},
    {144, {223, 154, 177, 243, 182, 255, 240, 253}},
    {149, {226, 158, 179, 244, 185, 255, 242, 253}},
    {151, {228, 159, 180, 245, 186, 255, 242, 253}},
    {155, {230, 161, 182, 246, 188, 255, 243, 253}},
    {157, {231, 163, 183, 246, 189, 255, 243, 253}},
    {166, {235, 168, 186, 248, 193, 255, 244, 253}},
    {177, {240, 175, 192, 249, 199, 255, 246, 254}},
    {178, {240, 176, 192, 249, 199, 255, 246, 254}},
    {184, {242, 180, 195, 250, 202, 255, 246, 254}},
    {191, {244, 185, 199, 251, 206, 255, 247, 254}},
    {192, {244, 185, 199, 251, 206, 255, 247, 254}},
    {193, {245, 186, 200, 251, 207, 255, 247, 254}},
    {194, {245, 187, 200, 251, 207, 255, 247, 254}},
    {198, {246, 190, 202, 252, 208, 255, 248, 254}},
    {204, {248, 194, 205, 252, 211, 255, 248, 254}},
    {207, {249, 197, 207, 253, 213, 255, 249, 254}},
    {210, {249, 199, 209, 253, 214, 255, 249, 254}},
    {213, {250, 201, 211, 253, 215, 255, 249, 254}},
    {215, {250, 203, 212, 253, 216, 255, 249, 254}},
    {220, {251, 206, 215, 254, 218, 255, 250, 254}},
    {222, {252, 208, 216, 254, 219, 255, 250, 254}},
    {224, {252, 210, 217, 254, 220, 255, 250, 254}},
    {226, {252, 212, 218, 254, 221, 255, 250, 254}},
    {228, {253, 213, 220, 254, 222, 255, 250, 254}},
    {231, {253, 216, 222, 254, 224, 255, 251, 254}},
    {232, {253, 217, 223, 254, 224, 255, 251, 254}},
    {234, {253, 219, 224, 254, 225, 255, 251, 254}},
    {235, {254, 220, 225, 254, 225, 255, 251, 254}},
    {236, {254, 221, 226, 254, 225, 255, 251, 254}},
    {237, {254, 222, 227, 255, 226, 255, 251, 254}},
    {239, {254, 224, 228, 255, 227, 255, 251, 254}},
    {243, {255, 228, 231, 255, 230, 255, 251, 254}},
    {244, {255, 229, 232, 255, 230, 255, 251, 254}},
    {249, {255, 235, 237, 255, 233, 255, 252, 254}},
};

/* Partition probabilities for inter frames, [context][node]. */
static const uint8_t partition_probs[16][3] = {
    {199, 122, 141}, {147, 63, 159}, {148, 133, 118}, {121, 104, 114}, /* 8x8 */
    {174, 73, 87},   {92, 41, 83},   {82, 99, 50},    {53, 39, 39},    /* 16x16 */
    {177, 58, 59},   {68, 26, 63},   {52, 79, 25},    {17, 14, 12},    /* 32x32 */
    {222, 34, 30},   {72, 16, 44},   {58, 32, 12},    {10, 7, 6},      /* 64x64 */
};
static const uint8_t skip_probs[3] = {192, 128, 64};
/* intra_inter_prob[0] (both neighbours inter, or none), single_ref_prob[c][0]
 * and inter_mode_probs[BOTH_PREDICTED_MV] = {7, 166, 63}. */
#define PROB_INTER_CTX0 9
static const uint8_t single_ref_p1[5] = {33, 77, 142, 172, 238};
#define PROB_NOT_ZEROMV 7
#define PROB_NEARESTMV 166
#define DIFF_UPDATE_PROB 252

static const uint8_t band_4x4[16] = {0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5};
static const uint8_t scan_4x4[16] = {0, 4, 1, 5, 8, 2, 12, 9, 3, 6, 13, 10, 7, 14, 11, 15};
/* Raster positions above and left of each scan position (the token
 * context), and a pad entry after the last. */
static const uint8_t neighbors_4x4[17][2] = {
    {0, 0}, {0, 0}, {0, 0}, {1, 4}, {4, 4},   {1, 1},   {8, 8},   {5, 8},  {2, 2},
    {2, 5}, {9, 12}, {6, 9}, {3, 6}, {10, 13}, {7, 10}, {11, 14}, {0, 0},
};
static const uint8_t cat_probs[6][14] = {
    {159},
    {165, 145},
    {173, 148, 140},
    {176, 155, 140, 135},
    {180, 157, 141, 134, 130},
    {254, 254, 254, 252, 249, 243, 230, 196, 177, 153, 140, 133, 130, 129},
};
static const uint8_t cat_bits[6] = {1, 2, 3, 4, 5, 14};
static const int cat_base[6] = {5, 7, 11, 19, 35, 67};

struct block_levels {
    int coef[3][64][16]; /* per plane, 4x4 blocks of a block up to 32x32 luma */
};

struct tdm_vp9_sparse {
    int width, height, mi_cols, mi_rows, mb_cols;
    tdm_vp8_bool_writer header, tile;
    uint8_t *out;
    size_t out_cap;
    uint8_t *above_seg;    /* mi_cols + 8 */
    uint8_t left_seg[8];
    uint8_t *above_ctx[3]; /* per plane, 4x4 columns (+ padding) */
    uint8_t left_ctx[3][16];
    uint8_t *mi_skip;      /* mi_rows x mi_cols */
    struct block_levels *levels;
    const tdm_i420 *src;
    const uint8_t *code;
    tdm_vp8_picture *ref;
    unsigned coded;
};

void tdm_vp9_stream_init(tdm_vp9_stream *s)
{
    memset(s, 0, sizeof *s);
}

/* ---- following libvpx's frames: the uncompressed header ---- */

typedef struct bit_reader {
    const uint8_t *p;
    size_t len, pos; /* in bits */
    bool over;
} bit_reader;

static uint32_t get_bits(bit_reader *r, int n)
{
    uint32_t v = 0;
    while (n-- > 0) {
        int bit = 0;
        if (r->pos < r->len * 8)
            bit = (r->p[r->pos >> 3] >> (7 - (r->pos & 7))) & 1;
        else
            r->over = true;
        r->pos++;
        v = (v << 1) | (uint32_t)bit;
    }
    return v;
}

static tdm_status unfollowable(tdm_vp9_stream *s, tdm_error *err, const char *why)
{
    s->valid = false;
    return tdm_fail(err, TDM_ERR_INVALID, "VP9 frame cannot be followed: %s", why);
}

tdm_status tdm_vp9_stream_observe(tdm_vp9_stream *s, const uint8_t *frame, size_t len,
                                  tdm_error *err)
{
    if (!s || !frame)
        return tdm_fail(err, TDM_ERR_INVALID, "no stream state or frame");
    if (len < 1)
        return unfollowable(s, err, "empty");
    uint8_t last = frame[len - 1];
    if ((last & 0xe0) == 0xc0) {
        size_t frames = (size_t)(last & 7) + 1, mag = (size_t)((last >> 3) & 3) + 1;
        size_t index = 2 + mag * frames;
        if (len >= index && frame[len - index] == last)
            return unfollowable(s, err, "a superframe");
    }
    bit_reader r = {frame, len, 0, false};
    if (get_bits(&r, 2) != 2)
        return unfollowable(s, err, "no frame marker");
    int profile = (int)get_bits(&r, 1);
    profile |= (int)get_bits(&r, 1) << 1;
    if (profile != 0)
        return unfollowable(s, err, "not profile 0");
    if (get_bits(&r, 1))
        return unfollowable(s, err, "shows an existing frame");
    bool key = get_bits(&r, 1) == 0;
    bool show = get_bits(&r, 1);
    bool error_res = get_bits(&r, 1);
    if (key) {
        if (get_bits(&r, 24) != 0x498342)
            return unfollowable(s, err, "keyframe without its sync code");
        if (get_bits(&r, 3) == 7)
            return unfollowable(s, err, "RGB in profile 0");
        get_bits(&r, 1); /* colour range */
        int w = (int)get_bits(&r, 16) + 1, h = (int)get_bits(&r, 16) + 1;
        if (r.over)
            return unfollowable(s, err, "truncated header");
        s->width = w;
        s->height = h;
        s->last_slot = 0; /* a keyframe fills every slot */
        s->valid = true;
        return TDM_OK;
    }
    if (!s->valid)
        return tdm_fail(err, TDM_ERR_INVALID, "VP9 inter frame before any keyframe");
    if (!show)
        return unfollowable(s, err, "a hidden frame");
    if (!error_res)
        get_bits(&r, 2); /* reset_frame_context */
    uint32_t refresh = get_bits(&r, 8);
    uint32_t last_idx = get_bits(&r, 3);
    if (r.over)
        return unfollowable(s, err, "truncated header");
    if (refresh == 0)
        return TDM_OK; /* nothing stored: the slots are as they were */
    if (!((refresh >> last_idx) & 1))
        return unfollowable(s, err, "the last frame's slot was not refreshed");
    s->last_slot = (int)last_idx;
    return TDM_OK;
}

/* ---- writing ---- */

typedef struct bit_writer {
    uint8_t buf[64];
    size_t pos; /* bits */
} bit_writer;

static void put_bits(bit_writer *w, uint32_t v, int n)
{
    while (n-- > 0) {
        if (((v >> n) & 1) != 0)
            w->buf[w->pos >> 3] |= (uint8_t)(0x80 >> (w->pos & 7));
        w->pos++;
    }
}

tdm_status tdm_vp9_sparse_new(int width, int height, tdm_vp9_sparse **out, tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "no place for the VP9 writer");
    *out = NULL;
    if (width < 1 || height < 1 || width > 65536 || height > 65536)
        return tdm_fail(err, TDM_ERR_INVALID, "VP9 size %dx%d is outside 1..65536", width,
                        height);
    tdm_vp9_sparse *w = calloc(1, sizeof *w);
    if (!w)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the VP9 writer");
    w->width = width;
    w->height = height;
    w->mi_cols = (width + 7) / 8;
    w->mi_rows = (height + 7) / 8;
    w->mb_cols = (width + 15) / 16;
    size_t cols = (size_t)w->mi_cols + 16;
    w->above_seg = calloc(cols, 1);
    w->mi_skip = calloc((size_t)w->mi_cols * w->mi_rows, 1);
    w->levels = malloc(sizeof *w->levels);
    bool ok = w->above_seg && w->mi_skip && w->levels;
    for (int p = 0; p < 3; p++) {
        w->above_ctx[p] = calloc(cols * 2, 1);
        ok = ok && w->above_ctx[p];
    }
    if (!ok) {
        tdm_vp9_sparse_free(w);
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the VP9 writer");
    }
    *out = w;
    return TDM_OK;
}

void tdm_vp9_sparse_free(tdm_vp9_sparse *w)
{
    if (!w)
        return;
    tdm_vp8_bool_writer_free(&w->header);
    tdm_vp8_bool_writer_free(&w->tile);
    free(w->out);
    free(w->above_seg);
    free(w->mi_skip);
    free(w->levels);
    for (int p = 0; p < 3; p++)
        free(w->above_ctx[p]);
    free(w);
}

/* The exact inverse of VP9's lossless 4x4 Walsh-Hadamard (the decoder's
 * lifting steps undone in reverse order): one dimension. */
static void fwht1(int x0, int x1, int x2, int x3, int out[4])
{
    int a = x0 + x1, d = x3 - x2;
    int e = (a - d) >> 1;
    int c = e - x2, b = e - x1;
    out[0] = a - c;
    out[1] = c;
    out[2] = d + b;
    out[3] = b;
}

/* Coefficients (raster) of a 4x4 residual (rows). The decoder inverts the
 * rows of the coefficients first, then the columns. */
static void fwht4x4(const int r[16], int coef[16])
{
    int t[16], o[4];
    for (int j = 0; j < 4; j++) {
        fwht1(r[j], r[4 + j], r[8 + j], r[12 + j], o);
        for (int i = 0; i < 4; i++)
            t[4 * i + j] = o[i];
    }
    for (int i = 0; i < 4; i++) {
        fwht1(t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3], o);
        for (int j = 0; j < 4; j++)
            coef[4 * i + j] = o[j];
    }
}

static const uint8_t *pareto(int pivot)
{
    int lo = 0, hi = (int)(sizeof pareto_rows / sizeof pareto_rows[0]) - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (pareto_rows[mid].pivot == pivot)
            return pareto_rows[mid].p;
        if (pareto_rows[mid].pivot < pivot)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL; /* not reached: every default pivot is listed */
}

static void write_extra(tdm_vp8_bool_writer *b, int cat, int v)
{
    int extra = v - cat_base[cat], n = cat_bits[cat];
    for (int i = 0; i < n; i++)
        tdm_vp8_bool_write(b, (extra >> (n - 1 - i)) & 1, cat_probs[cat][i]);
}

/* One 4x4 block's tokens (coef in raster order); returns its end of block. */
static int write_tokens(tdm_vp8_bool_writer *b, int plane_type, int ctx, const int coef[16])
{
    int eob = 0;
    for (int c = 15; c >= 0; c--) {
        if (coef[scan_4x4[c]]) {
            eob = c + 1;
            break;
        }
    }
    uint8_t cache[16] = {0};
    const uint8_t(*probs)[6][3] = coef_probs_4x4_inter[plane_type];
    int c = 0;
    while (c < 16) {
        const uint8_t *p = probs[band_4x4[c]][ctx];
        if (c >= eob) {
            tdm_vp8_bool_write(b, 0, p[0]);
            break;
        }
        tdm_vp8_bool_write(b, 1, p[0]);
        while (coef[scan_4x4[c]] == 0) {
            tdm_vp8_bool_write(b, 0, p[1]);
            cache[scan_4x4[c]] = 0;
            c++;
            ctx = (1 + cache[neighbors_4x4[c][0]] + cache[neighbors_4x4[c][1]]) >> 1;
            p = probs[band_4x4[c]][ctx];
        }
        tdm_vp8_bool_write(b, 1, p[1]);
        int v = coef[scan_4x4[c]], a = v < 0 ? -v : v, energy;
        if (a == 1) {
            tdm_vp8_bool_write(b, 0, p[2]);
            energy = 1;
        } else {
            tdm_vp8_bool_write(b, 1, p[2]);
            const uint8_t *pp = pareto(p[2]);
            if (a <= 4) {
                tdm_vp8_bool_write(b, 0, pp[0]);
                if (a == 2) {
                    tdm_vp8_bool_write(b, 0, pp[1]);
                    energy = 2;
                } else {
                    tdm_vp8_bool_write(b, 1, pp[1]);
                    tdm_vp8_bool_write(b, a == 4, pp[2]);
                    energy = 3;
                }
            } else {
                tdm_vp8_bool_write(b, 1, pp[0]);
                if (a <= 10) {
                    tdm_vp8_bool_write(b, 0, pp[3]);
                    energy = 4;
                    int cat = a <= 6 ? 0 : 1;
                    tdm_vp8_bool_write(b, cat, pp[4]);
                    write_extra(b, cat, a);
                } else {
                    tdm_vp8_bool_write(b, 1, pp[3]);
                    energy = 5;
                    int cat;
                    if (a <= 34) {
                        tdm_vp8_bool_write(b, 0, pp[5]);
                        cat = a <= 18 ? 2 : 3;
                        tdm_vp8_bool_write(b, cat == 3, pp[6]);
                    } else {
                        tdm_vp8_bool_write(b, 1, pp[5]);
                        cat = a <= 66 ? 4 : 5;
                        tdm_vp8_bool_write(b, cat == 5, pp[7]);
                    }
                    write_extra(b, cat, a);
                }
            }
        }
        tdm_vp8_bool_write(b, v < 0, 128);
        cache[scan_4x4[c]] = (uint8_t)energy;
        c++;
        if (c < 16)
            ctx = (1 + cache[neighbors_4x4[c][0]] + cache[neighbors_4x4[c][1]]) >> 1;
    }
    return eob;
}

/* How many of the 16x16 areas inside the block are chosen, of how many. */
static void count_wanted(const tdm_vp9_sparse *w, int mi_row, int mi_col, int n8, int *want,
                         int *all)
{
    int mb_rows = (w->height + 15) / 16;
    *want = *all = 0;
    for (int my = mi_row / 2; my <= (mi_row + n8 - 1) / 2 && my < mb_rows; my++)
        for (int mx = mi_col / 2; mx <= (mi_col + n8 - 1) / 2 && mx < w->mb_cols; mx++) {
            (*all)++;
            *want += w->code[(size_t)my * w->mb_cols + mx] != 0;
        }
}


/* Residual of the 4x4 at pixel (x, y) of a plane: source minus picture,
 * zero outside the source. */
static bool residual_coefs(const uint8_t *s, int ss, int sw, int sh, const uint8_t *p, int ps,
                           int x, int y, int coef[16])
{
    int r[16];
    bool any = false;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            int v = 0;
            if (x + j < sw && y + i < sh)
                v = s[(size_t)(y + i) * ss + x + j] - p[(size_t)(y + i) * ps + x + j];
            r[4 * i + j] = v;
            any |= v != 0;
        }
    if (!any) {
        memset(coef, 0, 16 * sizeof coef[0]);
        return false;
    }
    fwht4x4(r, coef);
    return true;
}

static void plane_of(const tdm_vp9_sparse *w, int plane, const uint8_t **s, int *ss,
                     uint8_t **p, int *ps, int *sw, int *sh)
{
    const tdm_i420 *src = w->src;
    if (plane == 0) {
        *s = src->y, *ss = src->stride_y, *p = w->ref->y, *ps = w->ref->stride_y;
        *sw = src->width, *sh = src->height;
    } else {
        *s = plane == 1 ? src->u : src->v;
        *ss = plane == 1 ? src->stride_u : src->stride_v;
        *p = plane == 1 ? w->ref->u : w->ref->v;
        *ps = w->ref->stride_uv;
        *sw = (src->width + 1) / 2, *sh = (src->height + 1) / 2;
    }
}

/* Codes one square block of n8 x n8 mode-info units (8x8 pixels each). */
static void code_block(tdm_vp9_sparse *w, int mi_row, int mi_col, int n8)
{
    tdm_vp8_bool_writer *b = &w->tile;
    int x_mis = w->mi_cols - mi_col < n8 ? w->mi_cols - mi_col : n8;
    int y_mis = w->mi_rows - mi_row < n8 ? w->mi_rows - mi_row : n8;
    /* The transform blocks the decoder reads: those inside the 8-aligned
     * frame, per plane (4x4 units). */
    int n4w[3], n4h[3], full4[3];
    n4w[0] = x_mis * 2, n4h[0] = y_mis * 2, full4[0] = n8 * 2;
    n4w[1] = n4w[2] = x_mis, n4h[1] = n4h[2] = y_mis, full4[1] = full4[2] = n8;
    struct block_levels *L = w->levels; /* coded blocks are at most 32x32 */
    bool residual = false;
    int want = 0, all;
    if (n8 <= 4)
        count_wanted(w, mi_row, mi_col, n8, &want, &all);
    if (want > 0) {
        for (int pl = 0; pl < 3; pl++) {
            const uint8_t *s;
            uint8_t *p;
            int ss, ps, sw, sh;
            plane_of(w, pl, &s, &ss, &p, &ps, &sw, &sh);
            int px = mi_col * (pl ? 4 : 8), py = mi_row * (pl ? 4 : 8);
            for (int r = 0; r < n4h[pl]; r++)
                for (int c = 0; c < n4w[pl]; c++)
                    residual |= residual_coefs(s, ss, sw, sh, p, ps, px + 4 * c, py + 4 * r,
                                               L->coef[pl][r * full4[pl] + c]);
        }
    }
    bool has_above = mi_row > 0, has_left = mi_col > 0;
    int skip_ctx = (has_above ? w->mi_skip[(size_t)(mi_row - 1) * w->mi_cols + mi_col] : 0) +
                   (has_left ? w->mi_skip[(size_t)mi_row * w->mi_cols + mi_col - 1] : 0);
    tdm_vp8_bool_write(b, !residual, skip_probs[skip_ctx]);
    tdm_vp8_bool_write(b, 1, PROB_INTER_CTX0);                        /* inter */
    tdm_vp8_bool_write(b, 0, single_ref_p1[has_above || has_left ? 4 : 2]); /* last */
    tdm_vp8_bool_write(b, 1, PROB_NOT_ZEROMV);                        /* NEARESTMV, */
    tdm_vp8_bool_write(b, 0, PROB_NEARESTMV);                         /* which is 0 */
    for (int r = 0; r < y_mis; r++)
        memset(w->mi_skip + (size_t)(mi_row + r) * w->mi_cols + mi_col, !residual, (size_t)x_mis);
    for (int pl = 0; pl < 3; pl++) {
        int ax = mi_col * (pl ? 1 : 2), ly = (mi_row & 7) * (pl ? 1 : 2);
        uint8_t *above = w->above_ctx[pl] + ax, *left = w->left_ctx[pl] + ly;
        if (!residual) {
            memset(above, 0, (size_t)full4[pl]);
            memset(left, 0, (size_t)full4[pl]);
            continue;
        }
        for (int r = 0; r < n4h[pl]; r++)
            for (int c = 0; c < n4w[pl]; c++) {
                int eob = write_tokens(b, pl > 0, (above[c] != 0) + (left[r] != 0),
                                       L->coef[pl][r * full4[pl] + c]);
                above[c] = left[r] = eob > 0;
            }
    }
    if (!residual)
        return;
    w->coded += (unsigned)(x_mis * y_mis);
    /* Lossless: the decoder now shows the source there. */
    for (int pl = 0; pl < 3; pl++) {
        const uint8_t *s;
        uint8_t *p;
        int ss, ps, sw, sh;
        plane_of(w, pl, &s, &ss, &p, &ps, &sw, &sh);
        int px = mi_col * (pl ? 4 : 8), py = mi_row * (pl ? 4 : 8);
        int x1 = px + n4w[pl] * 4 < sw ? px + n4w[pl] * 4 : sw;
        int y1 = py + n4h[pl] * 4 < sh ? py + n4h[pl] * 4 : sh;
        for (int y = py; y < y1; y++)
            if (x1 > px)
                memcpy(p + (size_t)y * ps + px, s + (size_t)y * ss + px, (size_t)(x1 - px));
    }
}

static void code_partition(tdm_vp9_sparse *w, int mi_row, int mi_col, int n8_log2)
{
    if (mi_row >= w->mi_rows || mi_col >= w->mi_cols)
        return;
    tdm_vp8_bool_writer *b = &w->tile;
    int n8 = 1 << n8_log2, hbs = n8 >> 1;
    bool has_rows = mi_row + hbs < w->mi_rows, has_cols = mi_col + hbs < w->mi_cols;
    int above = (w->above_seg[mi_col] >> n8_log2) & 1;
    int left = (w->left_seg[mi_row & 7] >> n8_log2) & 1;
    const uint8_t *p = partition_probs[left * 2 + above + n8_log2 * 4];
    bool split;
    if (n8_log2 == 0) {
        split = false;
    } else if (!has_rows || !has_cols) {
        split = true;
    } else if (mi_row + n8 > w->mi_rows + 2 || mi_col + n8 > w->mi_cols + 2) {
        /* A block reaching more than 16 pixels past the frame's edge gets
         * its nearest motion vector clamped to point back inside (by the
         * overhang less 16 pixels): it would not repeat the last frame.
         * Only a 64x64 block can (up to 24 pixels); its quarters cannot. */
        split = true;
    } else {
        int want, all;
        count_wanted(w, mi_row, mi_col, n8, &want, &all);
        /* 64x64 is split whenever anything in it is coded (a coded block is
         * at most 32x32); below that, only when it is partly coded. */
        split = want > 0 && (n8_log2 == 3 || want < all);
    }
    if (has_rows && has_cols) {
        tdm_vp8_bool_write(b, split, p[0]);
        if (split) {
            tdm_vp8_bool_write(b, 1, p[1]);
            tdm_vp8_bool_write(b, 1, p[2]);
        }
    } else if (has_cols) {
        tdm_vp8_bool_write(b, 1, p[1]); /* split, not horizontal */
    } else if (has_rows) {
        tdm_vp8_bool_write(b, 1, p[2]); /* split, not vertical */
    }
    if (split) {
        code_partition(w, mi_row, mi_col, n8_log2 - 1);
        code_partition(w, mi_row, mi_col + hbs, n8_log2 - 1);
        code_partition(w, mi_row + hbs, mi_col, n8_log2 - 1);
        code_partition(w, mi_row + hbs, mi_col + hbs, n8_log2 - 1);
        return;
    }
    code_block(w, mi_row, mi_col, n8);
    /* Partition context: bits of the sizes above this one set. */
    static const uint8_t seg_ctx[4] = {14, 12, 8, 0};
    memset(w->above_seg + mi_col, seg_ctx[n8_log2], (size_t)n8);
    memset(w->left_seg + (mi_row & 7), seg_ctx[n8_log2], (size_t)n8);
}

static void write_compressed_header(tdm_vp8_bool_writer *h)
{
    tdm_vp8_bool_writer_reset(h);
    tdm_vp8_bool_write(h, 0, 128); /* marker */
    /* Lossless: no tx_mode. No token probability update for 4x4. */
    tdm_vp8_bool_write(h, 0, 128);
    /* No updates of: skip (3), inter mode (7x3), intra/inter (4), single
     * reference (5x2), y mode (4x9), partition (16x3). */
    for (int i = 0; i < 3 + 21 + 4 + 10 + 36 + 48; i++)
        tdm_vp8_bool_write(h, 0, DIFF_UPDATE_PROB);
    /* Nor of the motion vector probabilities: joints 3, per component
     * sign 1, classes 10, class0 1, bits 10, then class0_fp 2x3 and fp 3. */
    for (int i = 0; i < 3 + 2 * 22 + 2 * 9; i++)
        tdm_vp8_bool_write(h, 0, DIFF_UPDATE_PROB);
    tdm_vp8_bool_writer_flush(h);
}

static int min_log2_tile_cols(int sb_cols)
{
    int k = 0;
    while ((64 << k) < sb_cols)
        k++;
    return k;
}

static int max_log2_tile_cols(int sb_cols)
{
    int k = 1;
    while ((sb_cols >> k) >= 4)
        k++;
    return k - 1;
}

tdm_status tdm_vp9_sparse_encode(tdm_vp9_sparse *w, const tdm_vp9_stream *stream,
                                 const tdm_i420 *src, const uint8_t *code,
                                 tdm_vp8_picture *ref, tdm_vp9_sparse_result *out,
                                 tdm_error *err)
{
    if (!w || !stream || !src || !code || !ref || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "sparse VP9 frame needs all its arguments");
    if (!stream->valid || stream->width != w->width || stream->height != w->height)
        return tdm_fail(err, TDM_ERR_INVALID,
                        "the VP9 stream's state is not known or its size differs");
    if (src->width != w->width || src->height != w->height)
        return tdm_fail(err, TDM_ERR_INVALID, "image is %dx%d, the writer %dx%d", src->width,
                        src->height, w->width, w->height);
    w->src = src;
    w->code = code;
    w->ref = ref;
    w->coded = 0;

    /* Tile data first: the header carries the compressed header's size. */
    tdm_vp8_bool_writer_reset(&w->tile);
    tdm_vp8_bool_write(&w->tile, 0, 128); /* marker */
    memset(w->above_seg, 0, (size_t)w->mi_cols + 16);
    for (int p = 0; p < 3; p++)
        memset(w->above_ctx[p], 0, ((size_t)w->mi_cols + 16) * 2);
    for (int mi_row = 0; mi_row < w->mi_rows; mi_row += 8) {
        memset(w->left_seg, 0, sizeof w->left_seg);
        memset(w->left_ctx, 0, sizeof w->left_ctx);
        for (int mi_col = 0; mi_col < w->mi_cols; mi_col += 8)
            code_partition(w, mi_row, mi_col, 3);
    }
    tdm_vp8_bool_writer_flush(&w->tile);
    write_compressed_header(&w->header);
    if (w->tile.nomem || w->header.nomem)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for a VP9 frame");

    bit_writer u = {{0}, 0};
    put_bits(&u, 2, 2);          /* frame marker */
    put_bits(&u, 0, 2);          /* profile 0 */
    put_bits(&u, 0, 1);          /* not an existing frame */
    put_bits(&u, 1, 1);          /* inter frame */
    put_bits(&u, 1, 1);          /* shown */
    put_bits(&u, 1, 1);          /* error resilient: defaults everywhere */
    put_bits(&u, 0xff, 8);       /* refresh every slot */
    for (int i = 0; i < 3; i++) {
        put_bits(&u, (uint32_t)stream->last_slot, 3);
        put_bits(&u, 0, 1);      /* sign bias */
    }
    put_bits(&u, 1, 1);          /* size as the first reference's */
    put_bits(&u, 0, 1);          /* render size the same */
    put_bits(&u, 0, 1);          /* no 1/8-pel motion vectors */
    put_bits(&u, 0, 1);          /* fixed interpolation filter: */
    put_bits(&u, 1, 2);          /* regular 8-tap */
    put_bits(&u, 0, 2);          /* frame context 0 */
    put_bits(&u, 0, 6 + 3 + 1);  /* loop filter off, no deltas */
    put_bits(&u, 0, 8);          /* quantiser index 0 ... */
    put_bits(&u, 0, 3);          /* ... and no deltas: lossless */
    put_bits(&u, 0, 1);          /* no segmentation */
    int sb_cols = (w->mi_cols + 7) / 8;
    if (max_log2_tile_cols(sb_cols) > min_log2_tile_cols(sb_cols))
        put_bits(&u, 0, 1);      /* tile columns: the minimum */
    put_bits(&u, 0, 1);          /* one tile row */
    put_bits(&u, (uint32_t)w->header.pos, 16);
    size_t ubytes = (u.pos + 7) / 8;
    if (min_log2_tile_cols(sb_cols) > 0)
        return tdm_fail(err, TDM_ERR_INVALID, "VP9 frames over 4096 pixels wide need tiles");

    size_t total = ubytes + w->header.pos + w->tile.pos + 1;
    if (total > w->out_cap) {
        uint8_t *nb = realloc(w->out, total);
        if (!nb)
            return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for a VP9 frame");
        w->out = nb;
        w->out_cap = total;
    }
    memcpy(w->out, u.buf, ubytes);
    memcpy(w->out + ubytes, w->header.buf, w->header.pos);
    memcpy(w->out + ubytes + w->header.pos, w->tile.buf, w->tile.pos);
    size_t len = ubytes + w->header.pos + w->tile.pos;
    /* A last byte that looks like a superframe index marker gets a zero
     * after it (as libvpx does), so no decoder mistakes it for one. */
    if ((w->out[len - 1] & 0xe0) == 0xc0)
        w->out[len++] = 0;
    *out = (tdm_vp9_sparse_result){.data = w->out, .len = len, .coded_blocks = w->coded};
    return TDM_OK;
}
