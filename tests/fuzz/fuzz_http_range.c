/* fuzz_http_range: feeds arbitrary Range header values and resource sizes
 * to tdm_sig_http_range_parse (the header comes from any client of
 * tandem-signal's video route) and holds it to its contract: a partial
 * range is non-empty and inside the resource, "none" means the whole
 * resource, and "unsatisfiable" only for a resource the range misses.
 * Input: 8 bytes of size (big-endian, folded to a few magnitudes), then
 * the header's bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm_sig_http_range.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_http_range: invariant failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t res = 0;
    for (int i = 0; i < 8; i++)
        res = res << 8 | data[i];
    /* Small sizes find the edges; UINT64_MAX finds overflow. */
    static const uint64_t sizes[] = {0, 1, 2, 100, 92339, UINT64_MAX};
    if (data[0] < 0x80)
        res = sizes[data[0] % (sizeof sizes / sizeof sizes[0])];
    char hdr[512];
    size_t n = size - 8 < sizeof hdr - 1 ? size - 8 : sizeof hdr - 1;
    memcpy(hdr, data + 8, n);
    hdr[n] = '\0';
    uint64_t start = 7, len = 7;
    tdm_sig_range_kind k = tdm_sig_http_range_parse(hdr, res, &start, &len);
    switch (k) {
    case TDM_SIG_RANGE_PARTIAL:
        CHECK(len >= 1);
        CHECK(start < res);
        CHECK(len <= res - start);
        break;
    case TDM_SIG_RANGE_NONE:
        CHECK(start == 0 && len == res);
        break;
    case TDM_SIG_RANGE_UNSATISFIABLE:
        CHECK(strncmp(hdr + strspn(hdr, " \t"), "bytes=", 6) == 0);
        break;
    default:
        CHECK(!"unknown kind");
    }
    CHECK(tdm_sig_http_range_parse(NULL, res, &start, &len) == TDM_SIG_RANGE_NONE);
    return 0;
}
