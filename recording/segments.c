/* segments.c: a session's recordings as segments (tdm_rec_segments.h). */
#include "tdm_rec_segments.h"

#include <stdlib.h>
#include <string.h>

tdm_status tdm_rec_segment_scan(tdm_rec_reader *r, size_t tag, tdm_rec_segment *out,
                                tdm_error *err)
{
    if (!r || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "segments: NULL argument");
    memset(out, 0, sizeof *out);
    const tdm_rec_header *h = tdm_rec_reader_header(r);
    memcpy(out->session_id, h->session_id, sizeof out->session_id);
    out->start_unix_us = h->start_unix_us;
    out->tag = tag;
    tdm_status st = tdm_rec_reader_rewind(r, err);
    if (st != TDM_OK)
        return st;
    tdm_rec_record rec;
    bool any = false;
    uint64_t last = 0;
    while ((st = tdm_rec_reader_next(r, &rec, &out->ending_msg)) == TDM_OK) {
        if (!any)
            out->first_time_us = rec.time_us, any = true;
        last = rec.time_us;
    }
    out->ending = st;
    out->records = tdm_rec_reader_records(r);
    /* A recorder's clock only goes forward; a record stamped before the
     * first (impossible from our writer) must not wrap the span. */
    out->end_unix_us = out->start_unix_us + (any && last > out->first_time_us
                                                  ? last - out->first_time_us
                                                  : 0);
    return TDM_OK;
}

static int by_session_start(const void *x, const void *y)
{
    const tdm_rec_segment *a = x, *b = y;
    int c = strcmp(a->session_id, b->session_id);
    if (c)
        return c;
    if (a->start_unix_us != b->start_unix_us)
        return a->start_unix_us < b->start_unix_us ? -1 : 1;
    return a->tag < b->tag ? -1 : a->tag > b->tag;
}

void tdm_rec_segments_sort(tdm_rec_segment *s, size_t n)
{
    if (s && n > 1)
        qsort(s, n, sizeof *s, by_session_start);
}

size_t tdm_rec_segments_run(const tdm_rec_segment *s, size_t n, size_t from)
{
    if (!s || from >= n)
        return 0;
    size_t k = from + 1;
    while (k < n && strcmp(s[k].session_id, s[from].session_id) == 0)
        k++;
    return k - from;
}

tdm_rec_seam tdm_rec_segments_seam(const tdm_rec_segment *a, const tdm_rec_segment *b)
{
    tdm_rec_seam m = {0};
    if (b->start_unix_us > a->end_unix_us) {
        m.gap = true;
        m.from_unix_us = a->end_unix_us;
        m.to_unix_us = b->start_unix_us;
    } else if (b->start_unix_us < a->end_unix_us) {
        m.overlap = true;
        m.from_unix_us = b->start_unix_us;
        m.to_unix_us = a->end_unix_us < b->end_unix_us ? a->end_unix_us : b->end_unix_us;
    } else {
        m.from_unix_us = m.to_unix_us = b->start_unix_us;
    }
    return m;
}
