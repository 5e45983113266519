/* tdm_cpu: which SIMD code paths this CPU (and OS) can run.
 *
 * Binaries are built for baseline x86-64; kernels compiled for SSSE3 or AVX2
 * live in their own files and are only called when tdm_cpu_supports() says
 * so. On other architectures every level above scalar reports unsupported and
 * the scalar path serves.
 *
 * The environment variable TDM_SIMD (scalar, ssse3, avx2, avxvnni) caps the level
 * tdm_cpu_best() returns, for comparing paths on one machine. */
#ifndef TDM_CPU_H
#define TDM_CPU_H

#include <stdbool.h>

typedef enum tdm_simd {
    TDM_SIMD_SCALAR = 0,
    TDM_SIMD_SSSE3 = 1, /* SSE2 + SSSE3, 128-bit */
    TDM_SIMD_AVX2 = 2,  /* 256-bit */
    TDM_SIMD_AVXVNNI = 3, /* AVX2 + VEX dot products (vpdpbusd): Alder Lake, Zen 4 on */
    TDM_SIMD_COUNT
} tdm_simd;

bool tdm_cpu_supports(tdm_simd level);

/* Highest supported level, capped by TDM_SIMD if set. Cached after first call. */
tdm_simd tdm_cpu_best(void);

const char *tdm_simd_name(tdm_simd level);

/* Parses a name tdm_simd_name gives; returns false for anything else. */
bool tdm_simd_parse(const char *name, tdm_simd *out);

#endif
