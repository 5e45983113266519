/* tandem-capture: run a frame source through conversion and write what came
 * out, as Y4M and a PNG snapshot. The customer endpoint's capture half, on
 * its own, for trying sources and inspecting captures. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tdm_convert.h"
#include "tdm_incremental.h"
#include "tdm_png.h"
#include "tdm_synthetic.h"
#include "tdm_x11.h"
#include "tdm_y4m.h"

typedef struct options {
    const char *source;
    int width, height;
    long frames;
    int fps;
    int fps_given; /* else a source with its own rate (y4m) keeps it */
    tdm_matrix matrix;
    const char *y4m_path;
    const char *png_path;
    int realtime;
    int quiet;
} options;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tandem-capture [options]\n"
            "Captures frames from a source, converts them to I420 (only the tiles that\n"
            "changed) and writes them out.\n"
            "\n"
            "  -s, --source SRC   where frames come from:            [synthetic:typing]\n"
            "                       synthetic:SCENARIO  a generated desktop; SCENARIO is\n"
            "                                           idle, typing, scroll, drag, video, full\n"
            "                       x11[:DISPLAY]       a real X display via MIT-SHM\n"
            "                                           (default $DISPLAY)\n"
            "                       y4m:FILE            frames from a YUV4MPEG2 file\n"
            "  -S, --size WxH     size of a synthetic desktop        [1280x720]\n"
            "  -n, --frames N     frames to capture (y4m: at most)   [60]\n"
            "  -r, --fps N        frame rate for timing and Y4M      [30, or the file's]\n"
            "  -m, --matrix M     bt601 or bt709                     [bt601]\n"
            "  -o, --y4m FILE     write the converted frames as Y4M\n"
            "  -p, --png FILE     write the last frame as a PNG snapshot\n"
            "      --realtime     pace capture at the frame rate (always on for x11)\n"
            "  -q, --quiet        no progress line\n"
            "  -h, --help         this text\n"
            "\n"
            "Exit status: 0 on success, 1 when capture or writing fails, 2 on bad usage.\n");
}

__attribute__((format(printf, 1, 2))) static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tandem-capture: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'tandem-capture --help'.\n");
    va_end(ap);
    return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    static const struct option opts[] = {
        {"source", required_argument, NULL, 's'}, {"size", required_argument, NULL, 'S'},
        {"frames", required_argument, NULL, 'n'}, {"fps", required_argument, NULL, 'r'},
        {"matrix", required_argument, NULL, 'm'}, {"y4m", required_argument, NULL, 'o'},
        {"png", required_argument, NULL, 'p'},    {"realtime", no_argument, NULL, 'R'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    *o = (options){.source = "synthetic:typing", .width = 1280, .height = 720, .frames = 60,
                   .fps = 30, .matrix = TDM_MATRIX_BT601};
    opterr = 0;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, ":s:S:n:r:m:o:p:qh", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->source = optarg;
            break;
        case 'S': {
            int w, h, n = 0;
            if (sscanf(optarg, "%dx%d%n", &w, &h, &n) != 2 || optarg[n] != '\0')
                return bad_usage("--size wants WIDTHxHEIGHT, got '%s'", optarg);
            o->width = w;
            o->height = h;
            break;
        }
        case 'n':
            if (parse_long(optarg, 1, 10000000, &v))
                return bad_usage("--frames wants a number from 1, got '%s'", optarg);
            o->frames = v;
            break;
        case 'r':
            if (parse_long(optarg, 1, 240, &v))
                return bad_usage("--fps wants a number from 1 to 240, got '%s'", optarg);
            o->fps = (int)v;
            o->fps_given = 1;
            break;
        case 'm':
            if (!tdm_matrix_parse(optarg, &o->matrix))
                return bad_usage("--matrix wants bt601 or bt709, got '%s'", optarg);
            break;
        case 'o':
            o->y4m_path = optarg;
            break;
        case 'p':
            o->png_path = optarg;
            break;
        case 'R':
            o->realtime = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case ':':
            return bad_usage("option '%s' needs a value", argv[optind - 1]);
        default:
            return bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);
    return 0;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_until_us(uint64_t t)
{
    uint64_t now = now_us();
    if (t > now) {
        struct timespec ts = {.tv_sec = (time_t)((t - now) / 1000000u),
                              .tv_nsec = (long)((t - now) % 1000000u) * 1000};
        nanosleep(&ts, NULL);
    }
}

static int open_source(const options *o, tdm_source **src, int *realtime)
{
    tdm_error err = {{0}};
    tdm_status st;
    const char *s = o->source;
    if (strncmp(s, "synthetic:", 10) == 0) {
        tdm_synthetic_config cfg = {.width = o->width, .height = o->height, .fps = o->fps};
        if (!tdm_synthetic_scenario_parse(s + 10, &cfg.scenario))
            return bad_usage("unknown scenario '%s' (idle, typing, scroll, drag, video, full)",
                             s + 10);
        st = tdm_synthetic_open(&cfg, src, &err);
    } else if (strcmp(s, "x11") == 0 || strncmp(s, "x11:", 4) == 0) {
        tdm_x11_config cfg = {.display = s[3] == ':' ? s + 4 : NULL, .use_damage = true,
                              .fps = o->fps};
        st = tdm_x11_open(&cfg, src, &err);
        *realtime = 1;
    } else if (strncmp(s, "y4m:", 4) == 0) {
        st = tdm_y4m_source_open(s + 4, src, &err);
    } else {
        return bad_usage("unknown source '%s' (synthetic:SCENARIO, x11[:DISPLAY], y4m:FILE)", s);
    }
    if (st != TDM_OK) {
        fprintf(stderr, "tandem-capture: cannot open %s: %s\n", s,
                err.msg[0] ? err.msg : tdm_status_str(st));
        return 1;
    }
    return 0;
}

static long gcd(long a, long b)
{
    while (b) {
        long t = a % b;
        a = b;
        b = t;
    }
    return a ? a : 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    tdm_source *src = NULL;
    int realtime = o.realtime;
    rc = open_source(&o, &src, &realtime);
    if (rc)
        return rc;

    tdm_error err = {{0}};
    tdm_status st = TDM_OK;
    tdm_incremental *inc = NULL;
    tdm_y4m_writer *y4m = NULL;
    double *times = calloc((size_t)o.frames, sizeof *times);
    double tiles = 0;
    long n = 0;
    tdm_frame f = {0};
    const tdm_i420 *last = NULL;
    int progress = !o.quiet && isatty(STDERR_FILENO);
    int out_fps_num = o.fps, out_fps_den = 1;

    if (src->format == TDM_PIXFMT_BGRA &&
        (st = tdm_incremental_new(src->width, src->height, o.matrix, &inc)) != TDM_OK) {
        snprintf(err.msg, sizeof err.msg, "cannot set up conversion: %s", tdm_status_str(st));
        goto done;
    }
    if (!o.fps_given && src->fps > 0) {
        /* Keep a file's own rate, e.g. 30000/1001, to a thousandth. */
        long num = lround(src->fps * 1000.0), den = 1000, g = gcd(num, den);
        out_fps_num = (int)(num / g);
        out_fps_den = (int)(den / g);
    }
    if (o.y4m_path) {
        st = tdm_y4m_writer_open(o.y4m_path, src->width, src->height, out_fps_num, out_fps_den,
                                 &y4m, &err);
        if (st != TDM_OK)
            goto done;
    }
    if (!times) {
        st = TDM_ERR_NOMEM;
        goto done;
    }
    uint64_t start = now_us();
    for (n = 0; n < o.frames; n++) {
        if (realtime)
            sleep_until_us(start + (uint64_t)n * 1000000u * (uint64_t)out_fps_den /
                                       (uint64_t)out_fps_num);
        st = tdm_source_next(src, now_us(), &f, &err);
        if (st == TDM_EOF) {
            st = TDM_OK;
            break;
        }
        if (st != TDM_OK)
            goto done;
        if (f.format == TDM_PIXFMT_BGRA) {
            const tdm_tilemap *changed;
            uint64_t t0 = now_us();
            st = tdm_incremental_convert(inc, &f, &changed);
            times[n] = (double)(now_us() - t0) / 1000.0;
            if (st != TDM_OK) {
                snprintf(err.msg, sizeof err.msg, "conversion failed: %s", tdm_status_str(st));
                goto done;
            }
            if (n > 0)
                tiles += (double)tdm_tilemap_count(changed);
            last = tdm_incremental_image(inc);
        } else {
            last = &f.i420;
        }
        if (y4m && (st = tdm_y4m_writer_write(y4m, last, &err)) != TDM_OK)
            goto done;
        if (progress)
            fprintf(stderr, "\rtandem-capture: frame %ld/%ld", n + 1, o.frames);
    }
    if (progress)
        fprintf(stderr, "\n");
    if (y4m) {
        st = tdm_y4m_writer_close(y4m, &err);
        y4m = NULL;
        if (st != TDM_OK)
            goto done;
    }
    if (o.png_path) {
        if (!last) {
            st = TDM_ERR_UNAVAILABLE;
            snprintf(err.msg, sizeof err.msg, "no frame was captured, so there is no snapshot");
            goto done;
        }
        st = tdm_png_write_i420(o.png_path, last, o.matrix, &err);
        if (st != TDM_OK)
            goto done;
    }

    printf("tandem-capture: %ld frames %dx%d from %s (%s, %s path)\n", n, src->width,
           src->height, o.source, tdm_matrix_name(o.matrix), tdm_simd_name(tdm_cpu_best()));
    if (inc && n > 1) {
        qsort(times + 1, (size_t)(n - 1), sizeof *times, cmp_double);
        int total_tiles = ((src->width + 31) / 32) * ((src->height + 31) / 32);
        printf("  conversion: first frame %.3f ms (whole), then median %.3f ms/frame "
               "with %.1f of %d tiles changed per frame\n",
               times[0], times[1 + (n - 1) / 2], tiles / (double)(n - 1), total_tiles);
    }
    struct stat sb;
    if (o.y4m_path && stat(o.y4m_path, &sb) == 0)
        printf("  wrote %s (%.1f MB, %ld frames)\n", o.y4m_path, (double)sb.st_size / 1e6, n);
    if (o.png_path)
        printf("  wrote %s\n", o.png_path);

done:
    if (st != TDM_OK)
        fprintf(stderr, "tandem-capture: %s\n", err.msg[0] ? err.msg : tdm_status_str(st));
    if (y4m) {
        tdm_error ignored;
        tdm_y4m_writer_close(y4m, &ignored);
    }
    free(times);
    tdm_incremental_free(inc);
    tdm_source_close(src);
    return st == TDM_OK ? 0 : 1;
}
