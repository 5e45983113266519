/* bench_util.c: see bench_util.h. */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

volatile uint64_t tdm_bench_sink;

uint64_t tdm_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double tdm_bench_median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void tdm_bench_line(const char *name, double value, const char *unit, const char *anchor,
                    double anchor_value)
{
    printf("BENCH %s %.4g %s anchor=%s:%.4g ratio=%.3f\n", name, value, unit, anchor, anchor_value,
           anchor_value > 0 ? value / anchor_value : 0.0);
    fflush(stdout);
}
