/* bench_capture: speed of capture/ against anchors measured in the same run.
 *
 *   capture.convert.<1080p|2160p>.<hot|cold>  ms/frame, ours vs libyuv ARGBToI420
 *     (.vs_floor: cold, vs one read-only AVX2 pass over the frame, the memory
 *      floor for any conversion; .vs_memcpy: vs copying the BGRA frame)
 *   capture.diff.<1080p|2160p>                GB/s over both frames, vs memcmp
 *   capture.incremental.<typing|drag>[.nodamage]  ms/frame vs our full conversion
 *
 * "hot" repeats one frame (it sits in the 32 MiB L3 at 1080p; at 2160p it
 * does not fit, so hot there is only warmer); "cold" rotates through frames
 * totalling several times the cache, as a live capture does. Every figure is
 * a median. Ratios are ours/anchor: below 1 is faster for times, above 1 is
 * faster for GB/s. */
#include <getopt.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif
#include <libyuv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "tdm_convert.h"
#include "tdm_dirty.h"
#include "tdm_incremental.h"
#include "tdm_synthetic.h"

typedef struct frameset {
    int w, h, n, stride;
    uint8_t **px;   /* n BGRA frames */
    uint8_t **twin; /* n identical copies, for the diff */
    tdm_i420 *out;  /* n destinations */
    uint8_t **copy; /* n memcpy destinations */
} frameset;

static int quick;

static void die(const char *what, tdm_status st, const tdm_error *err)
{
    fprintf(stderr, "bench_capture: %s: %s%s%s\n", what, tdm_status_str(st), err ? ": " : "",
            err ? err->msg : "");
    exit(1);
}

static void *xalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "bench_capture: out of memory\n");
        exit(1);
    }
    return p;
}

/* Frames of the synthetic `full` scenario, so each one differs. */
static void frameset_make(frameset *fs, int w, int h, int n)
{
    fs->w = w, fs->h = h, fs->n = n, fs->stride = 4 * w;
    fs->px = calloc((size_t)n, sizeof *fs->px);
    fs->twin = calloc((size_t)n, sizeof *fs->twin);
    fs->copy = calloc((size_t)n, sizeof *fs->copy);
    fs->out = calloc((size_t)n, sizeof *fs->out);
    tdm_synthetic_config cfg = {.width = w, .height = h, .scenario = TDM_SCENARIO_FULL, .fps = 30};
    tdm_source *src;
    tdm_error err;
    tdm_status st = tdm_synthetic_open(&cfg, &src, &err);
    if (st != TDM_OK)
        die("synthetic source", st, &err);
    size_t size = (size_t)fs->stride * h;
    for (int i = 0; i < n; i++) {
        tdm_frame f;
        st = tdm_source_next(src, (uint64_t)i * 33333, &f, &err);
        if (st != TDM_OK)
            die("synthetic frame", st, &err);
        fs->px[i] = xalloc(size);
        fs->twin[i] = xalloc(size);
        fs->copy[i] = xalloc(size);
        for (int y = 0; y < h; y++)
            memcpy(fs->px[i] + (size_t)y * fs->stride, f.bgra.data + (size_t)y * f.bgra.stride,
                   4 * (size_t)w);
        memcpy(fs->twin[i], fs->px[i], size);
        memset(fs->copy[i], 0, size);
        if (tdm_i420_alloc(&fs->out[i], w, h) != TDM_OK)
            die("i420 alloc", TDM_ERR_NOMEM, NULL);
    }
    tdm_source_close(src);
}

static void frameset_free(frameset *fs)
{
    for (int i = 0; i < fs->n; i++) {
        free(fs->px[i]);
        free(fs->twin[i]);
        free(fs->copy[i]);
        tdm_i420_free(&fs->out[i]);
    }
    free(fs->px);
    free(fs->twin);
    free(fs->copy);
    free(fs->out);
}

static tdm_bgra view(const frameset *fs, uint8_t *px)
{
    return (tdm_bgra){.data = px, .width = fs->w, .height = fs->h, .stride = fs->stride};
}

static double run_ours(const frameset *fs, int i)
{
    tdm_bgra b = view(fs, fs->px[i]);
    uint64_t t0 = tdm_bench_now_ns();
    tdm_convert_bgra_to_i420(&b, &fs->out[i], TDM_MATRIX_BT601);
    return (double)(tdm_bench_now_ns() - t0) / 1e6;
}

static double run_libyuv(const frameset *fs, int i)
{
    const tdm_i420 *o = &fs->out[i];
    uint64_t t0 = tdm_bench_now_ns();
    ARGBToI420(fs->px[i], fs->stride, o->y, o->stride_y, o->u, o->stride_u, o->v, o->stride_v,
               fs->w, fs->h);
    return (double)(tdm_bench_now_ns() - t0) / 1e6;
}

static double run_memcpy(const frameset *fs, int i)
{
    uint64_t t0 = tdm_bench_now_ns();
    memcpy(fs->copy[i], fs->px[i], (size_t)fs->stride * fs->h);
    return (double)(tdm_bench_now_ns() - t0) / 1e6;
}

#ifdef HAVE_X86
__attribute__((target("avx2"))) static uint64_t read_pass_avx2(const uint8_t *p, size_t n)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 128 <= n; i += 128) {
        a0 = _mm256_or_si256(a0, _mm256_load_si256((const __m256i *)(p + i)));
        a1 = _mm256_or_si256(a1, _mm256_load_si256((const __m256i *)(p + i + 32)));
        a2 = _mm256_or_si256(a2, _mm256_load_si256((const __m256i *)(p + i + 64)));
        a3 = _mm256_or_si256(a3, _mm256_load_si256((const __m256i *)(p + i + 96)));
    }
    __m256i a = _mm256_or_si256(_mm256_or_si256(a0, a1), _mm256_or_si256(a2, a3));
    return (uint64_t)_mm256_extract_epi64(a, 0) ^ (uint64_t)_mm256_extract_epi64(a, 3);
}

#else
static uint64_t read_pass_avx2(const uint8_t *p, size_t n)
{
    (void)p;
    (void)n;
    return 0; /* never called: the floor is measured only where AVX2 runs */
}
#endif

static double run_floor(const frameset *fs, int i)
{
    uint64_t t0 = tdm_bench_now_ns();
    tdm_bench_sink += read_pass_avx2(fs->px[i], (size_t)fs->stride * fs->h);
    return (double)(tdm_bench_now_ns() - t0) / 1e6;
}

typedef double (*run_fn)(const frameset *, int);

/* Runs each function reps times; cold rotates frames so that, between two
 * visits of a frame, far more than the cache has been touched, and no two
 * functions in one round share a frame. */
static void measure(const frameset *fs, bool cold, int reps, int nfn, const run_fn *fns,
                    double *medians)
{
    double *t = malloc(sizeof(double) * (size_t)reps * (size_t)nfn);
    for (int f = 0; f < nfn; f++)
        fns[f](fs, cold ? f * fs->n / nfn : 0); /* warm code and page tables */
    for (int r = 0; r < reps; r++)
        for (int k = 0; k < nfn; k++) {
            int f = r % 2 ? nfn - 1 - k : k; /* alternate who goes first */
            int i = cold ? (r + f * fs->n / nfn) % fs->n : 0;
            t[(size_t)f * reps + r] = fns[f](fs, i);
        }
    for (int f = 0; f < nfn; f++)
        medians[f] = tdm_bench_median(t + (size_t)f * reps, (size_t)reps);
    free(t);
}

static void bench_convert(int w, int h, const char *res)
{
    int nframes = w * h > 4000000 ? 8 : 16;
    frameset fs;
    frameset_make(&fs, w, h, nframes);
    const run_fn fns[] = {run_ours, run_libyuv, run_memcpy, run_floor};
    bool avx2 = tdm_cpu_supports(TDM_SIMD_AVX2);
    int nfn = avx2 ? 4 : 3;
    for (int cold = 0; cold < 2; cold++) {
        double med[4] = {0};
        int reps = (w * h > 4000000 ? 60 : 200) / (quick ? 4 : 1);
        measure(&fs, cold, reps, nfn, fns, med);
        char name[96];
        const char *temp = cold ? "cold" : "hot";
        printf("  convert %-5s %-4s  tandem %.3f ms  libyuv %.3f ms  memcpy %.3f ms  read-only %.3f ms\n",
               res, temp, med[0], med[1], med[2], med[3]);
        snprintf(name, sizeof name, "capture.convert.%s.%s", res, temp);
        tdm_bench_line(name, med[0], "ms", "libyuv", med[1]);
        snprintf(name, sizeof name, "capture.convert.%s.%s.vs_memcpy", res, temp);
        tdm_bench_line(name, med[0], "ms", "memcpy", med[2]);
        if (avx2 && cold) {
            snprintf(name, sizeof name, "capture.convert.%s.%s.vs_floor", res, temp);
            tdm_bench_line(name, med[0], "ms", "read_floor", med[3]);
        }
    }
    frameset_free(&fs);
}

static tdm_tilemap diff_map;

static double run_diff(const frameset *fs, int i)
{
    tdm_bgra a = view(fs, fs->px[i]), b = view(fs, fs->twin[i]);
    uint64_t t0 = tdm_bench_now_ns();
    tdm_dirty_detect(&a, &b, NULL, &diff_map);
    return (double)(tdm_bench_now_ns() - t0) / 1e6;
}

static double run_memcmp(const frameset *fs, int i)
{
    uint64_t t0 = tdm_bench_now_ns();
    tdm_bench_sink += (uint64_t)memcmp(fs->px[i], fs->twin[i], (size_t)fs->stride * fs->h);
    return (double)(tdm_bench_now_ns() - t0) / 1e6;
}

static void bench_diff(int w, int h, const char *res)
{
    frameset fs;
    frameset_make(&fs, w, h, w * h > 4000000 ? 6 : 12);
    if (tdm_tilemap_init(&diff_map, w, h) != TDM_OK)
        die("tilemap", TDM_ERR_NOMEM, NULL);
    /* Identical pairs: the case where both must read every byte. */
    const run_fn fns[] = {run_diff, run_memcmp};
    double med[2];
    measure(&fs, true, (w * h > 4000000 ? 60 : 200) / (quick ? 4 : 1), 2, fns, med);
    double bytes = 2.0 * 4.0 * w * h;
    double ours = bytes / (med[0] * 1e6), anchor = bytes / (med[1] * 1e6);
    printf("  diff    %-5s cold  tandem %.2f GB/s (%.3f ms)  memcmp %.2f GB/s (%.3f ms)\n", res,
           ours, med[0], anchor, med[1]);
    char name[64];
    snprintf(name, sizeof name, "capture.diff.%s", res);
    tdm_bench_line(name, ours, "GB/s", "memcmp", anchor);
    tdm_tilemap_free(&diff_map);
    frameset_free(&fs);
}

static void bench_incremental(tdm_synthetic_scenario sc)
{
    int w = 1920, h = 1080, frames = quick ? 60 : 240;
    tdm_synthetic_config cfg = {.width = w, .height = h, .scenario = sc, .fps = 30};
    tdm_source *src;
    tdm_error err;
    tdm_status st = tdm_synthetic_open(&cfg, &src, &err);
    if (st != TDM_OK)
        die("synthetic source", st, &err);
    tdm_incremental *with_damage, *no_damage;
    if (tdm_incremental_new(w, h, TDM_MATRIX_BT601, &with_damage) != TDM_OK ||
        tdm_incremental_new(w, h, TDM_MATRIX_BT601, &no_damage) != TDM_OK)
        die("incremental", TDM_ERR_NOMEM, NULL);
    tdm_i420 full;
    if (tdm_i420_alloc(&full, w, h) != TDM_OK)
        die("i420 alloc", TDM_ERR_NOMEM, NULL);
    double *t_dmg = malloc(sizeof(double) * frames), *t_nod = malloc(sizeof(double) * frames),
           *t_full = malloc(sizeof(double) * frames);
    double changed_tiles = 0;
    int n = 0;
    for (int i = 0; i < frames + 2; i++) {
        tdm_frame f;
        st = tdm_source_next(src, (uint64_t)i * 33333, &f, &err);
        if (st != TDM_OK)
            die("synthetic frame", st, &err);
        const tdm_tilemap *changed;
        uint64_t t0 = tdm_bench_now_ns();
        tdm_incremental_convert(with_damage, &f, &changed);
        uint64_t t1 = tdm_bench_now_ns();
        tdm_frame blind = f;
        blind.damage_known = false;
        tdm_incremental_convert(no_damage, &blind, NULL);
        uint64_t t2 = tdm_bench_now_ns();
        tdm_convert_bgra_to_i420(&f.bgra, &full, TDM_MATRIX_BT601);
        uint64_t t3 = tdm_bench_now_ns();
        if (i < 2) /* the first frame converts in full by design */
            continue;
        t_dmg[n] = (double)(t1 - t0) / 1e6;
        t_nod[n] = (double)(t2 - t1) / 1e6;
        t_full[n] = (double)(t3 - t2) / 1e6;
        changed_tiles += (double)tdm_tilemap_count(changed);
        n++;
    }
    double md = tdm_bench_median(t_dmg, (size_t)n), mn = tdm_bench_median(t_nod, (size_t)n),
           mf = tdm_bench_median(t_full, (size_t)n);
    const char *name = tdm_synthetic_scenario_name(sc);
    printf("  incremental %-7s 1080p  with damage %.4f ms  without %.3f ms  full %.3f ms  (%.1f of %d tiles changed per frame)\n",
           name, md, mn, mf, changed_tiles / n, ((w + 31) / 32) * ((h + 31) / 32));
    char line[64];
    snprintf(line, sizeof line, "capture.incremental.%s", name);
    tdm_bench_line(line, md, "ms", "full_convert", mf);
    snprintf(line, sizeof line, "capture.incremental.%s.nodamage", name);
    tdm_bench_line(line, mn, "ms", "full_convert", mf);
    free(t_dmg);
    free(t_nod);
    free(t_full);
    tdm_i420_free(&full);
    tdm_incremental_free(with_damage);
    tdm_incremental_free(no_damage);
    tdm_source_close(src);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_capture [--quick] [--only convert|diff|incremental]\n"
            "Measures colour conversion, dirty-tile detection and incremental conversion\n"
            "against libyuv, memcmp, memcpy and a read-only pass, in one run.\n"
            "TDM_SIMD=scalar|ssse3|avx2 caps the SIMD path used.\n");
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    static const struct option opts[] = {{"quick", no_argument, NULL, 'q'},
                                         {"only", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "qo:h", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quick = 1;
            break;
        case 'o':
            only = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (only && strcmp(only, "convert") && strcmp(only, "diff") && strcmp(only, "incremental")) {
        fprintf(stderr, "bench_capture: unknown part '%s'\n", only);
        usage(stderr);
        return 2;
    }
    printf("capture benchmark: SIMD path %s%s\n", tdm_simd_name(tdm_cpu_best()),
           quick ? " (quick)" : "");
    if (!only || !strcmp(only, "convert")) {
        bench_convert(1920, 1080, "1080p");
        bench_convert(3840, 2160, "2160p");
    }
    if (!only || !strcmp(only, "diff")) {
        bench_diff(1920, 1080, "1080p");
        bench_diff(3840, 2160, "2160p");
    }
    if (!only || !strcmp(only, "incremental")) {
        bench_incremental(TDM_SCENARIO_TYPING);
        bench_incremental(TDM_SCENARIO_DRAG);
    }
    return 0;
}
