/* tdm_sig_http_range: the Range request header (RFC 9110 14.2), sans-IO.
 *
 * Owns reading one "bytes=" range against a resource's size, which is all a
 * media element asks for when it seeks (Chromium sends "bytes=N-"). Several
 * ranges in one header are answered with the whole resource, as RFC 9110
 * allows a server to ignore Range; so is any other unit. */
#ifndef TDM_SIG_HTTP_RANGE_H
#define TDM_SIG_HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>

typedef enum tdm_sig_range_kind {
    TDM_SIG_RANGE_NONE,          /* no usable Range: answer 200 with everything */
    TDM_SIG_RANGE_PARTIAL,       /* answer 206 with [start, start + len) */
    TDM_SIG_RANGE_UNSATISFIABLE, /* answer 416 with Content-Range: bytes * / size */
} tdm_sig_range_kind;

/* Parses hdr (the header's value, or NULL) for a resource of size bytes.
 * A syntactically bad header counts as none (RFC 9110: ignore it). */
tdm_sig_range_kind tdm_sig_http_range_parse(const char *hdr, uint64_t size, uint64_t *start,
                                            uint64_t *len);

#endif
