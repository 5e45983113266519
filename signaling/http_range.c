/* http_range.c: the Range request header (tdm_sig_http_range.h). */
#include "tdm_sig_http_range.h"

#include <stdbool.h>
#include <string.h>

/* Decimal digits at *p into *v (no sign, no overflow); false if none. */
static bool digits(const char **p, uint64_t *v)
{
    const char *s = *p;
    uint64_t n = 0;
    if (*s < '0' || *s > '9')
        return false;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (n > (UINT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (uint64_t)(*s - '0');
    }
    *v = n;
    *p = s;
    return true;
}

static void skip_ows(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

tdm_sig_range_kind tdm_sig_http_range_parse(const char *hdr, uint64_t size, uint64_t *start,
                                            uint64_t *len)
{
    *start = 0;
    *len = size;
    if (!hdr)
        return TDM_SIG_RANGE_NONE;
    const char *p = hdr;
    skip_ows(&p);
    if (strncmp(p, "bytes=", 6) != 0)
        return TDM_SIG_RANGE_NONE;
    p += 6;
    skip_ows(&p);
    uint64_t first = 0, last = 0;
    bool has_first = digits(&p, &first);
    if (*p != '-')
        return TDM_SIG_RANGE_NONE;
    p++;
    bool has_last = digits(&p, &last);
    skip_ows(&p);
    if (*p != '\0' || (!has_first && !has_last))
        return TDM_SIG_RANGE_NONE; /* several ranges, or garbage */
    if (!has_first) {
        /* A suffix: the last `last` bytes. */
        if (last == 0 || size == 0)
            return TDM_SIG_RANGE_UNSATISFIABLE;
        uint64_t n = last < size ? last : size;
        *start = size - n;
        *len = n;
        return TDM_SIG_RANGE_PARTIAL;
    }
    if (has_last && last < first)
        return TDM_SIG_RANGE_NONE; /* invalid: RFC 9110 says ignore */
    if (first >= size)
        return TDM_SIG_RANGE_UNSATISFIABLE;
    uint64_t end = has_last && last < size - 1 ? last : size - 1;
    *start = first;
    *len = end - first + 1;
    return TDM_SIG_RANGE_PARTIAL;
}
