/* cpu.c: run-time CPU feature detection for the SIMD dispatchers. */
#include "tdm_cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <stdlib.h>
#include <string.h>

static const char *const simd_names[TDM_SIMD_COUNT] = {"scalar", "ssse3", "avx2", "avxvnni"};

static bool detect(tdm_simd level)
{
    switch (level) {
    case TDM_SIMD_SCALAR:
        return true;
#if defined(__x86_64__) || defined(__i386__)
    /* __builtin_cpu_supports also checks that the OS saves the AVX state
     * (OSXSAVE/XGETBV), so an AVX2 CPU under an OS without it says no. */
    case TDM_SIMD_SSSE3:
        return __builtin_cpu_supports("sse2") && __builtin_cpu_supports("ssse3");
    case TDM_SIMD_AVX2:
        return __builtin_cpu_supports("avx2");
    case TDM_SIMD_AVXVNNI: {
        /* GCC 12's __builtin_cpu_supports does not know AVX-VNNI (CPUID leaf
         * 7 subleaf 1, EAX bit 4); AVX2 support already vouches for the OS. */
        unsigned a, b, c, d;
        if (!__builtin_cpu_supports("avx2") || !__get_cpuid_count(7, 1, &a, &b, &c, &d))
            return false;
        return (a >> 4) & 1;
    }
#endif
    default:
        return false;
    }
}

bool tdm_cpu_supports(tdm_simd level)
{
    /* CPUID traps to the hypervisor in a VM (tens of microseconds), and this
     * is asked on every conversion call: detect once. Benign race: every
     * thread computes the same bits. */
    static int known = -1;
    if (known < 0) {
        int bits = 0;
        for (int l = 0; l < TDM_SIMD_COUNT; l++)
            bits |= detect((tdm_simd)l) << l;
        known = bits;
    }
    return (unsigned)level < TDM_SIMD_COUNT && ((known >> level) & 1);
}

const char *tdm_simd_name(tdm_simd level)
{
    return (unsigned)level < TDM_SIMD_COUNT ? simd_names[level] : "unknown";
}

bool tdm_simd_parse(const char *name, tdm_simd *out)
{
    for (int i = 0; i < TDM_SIMD_COUNT; i++) {
        if (strcmp(name, simd_names[i]) == 0) {
            *out = (tdm_simd)i;
            return true;
        }
    }
    return false;
}

tdm_simd tdm_cpu_best(void)
{
    /* Benign race: every thread computes the same value. */
    static int cached = -1;
    if (cached >= 0)
        return (tdm_simd)cached;
    tdm_simd best = TDM_SIMD_SCALAR;
    for (int l = TDM_SIMD_COUNT - 1; l > 0; l--) {
        if (tdm_cpu_supports((tdm_simd)l)) {
            best = (tdm_simd)l;
            break;
        }
    }
    const char *cap = getenv("TDM_SIMD");
    tdm_simd capped;
    if (cap && tdm_simd_parse(cap, &capped) && capped < best)
        best = capped;
    cached = (int)best;
    return best;
}
