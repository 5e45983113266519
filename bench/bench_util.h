/* bench_util: timing, medians and the one-line BENCH format scripts read:
 *   BENCH <name> <value> <unit> anchor=<anchor>:<value> ratio=<value/anchor> */
#ifndef TDM_BENCH_UTIL_H
#define TDM_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

uint64_t tdm_bench_now_ns(void);

/* Median of n values; sorts v in place. */
double tdm_bench_median(double *v, size_t n);

void tdm_bench_line(const char *name, double value, const char *unit, const char *anchor,
                    double anchor_value);

/* Keeps the compiler from discarding a computed value. */
extern volatile uint64_t tdm_bench_sink;

#endif
