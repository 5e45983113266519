/* tdm_source: the frame-source interface.
 *
 * A source yields frames one at a time. Three implementations exist:
 * synthetic (tdm_synthetic.h), X11 (tdm_x11.h) and Y4M files (tdm_y4m.h).
 * The frame and everything it points to is borrowed from the source and stays
 * valid until the next call to tdm_source_next or tdm_source_close.
 * now_us is the capture time the caller assigns (the source never reads a
 * clock itself, so runs are reproducible); it lands in frame->capture_us. */
#ifndef TDM_SOURCE_H
#define TDM_SOURCE_H

#include "tdm_frame.h"

typedef struct tdm_source tdm_source;

typedef struct tdm_source_ops {
    const char *kind; /* "synthetic", "x11", "y4m" */
    /* Returns TDM_OK with a frame, TDM_EOF when a finite source is done,
     * or an error with detail in err. */
    tdm_status (*next)(tdm_source *src, uint64_t now_us, tdm_frame *out, tdm_error *err);
    void (*close)(tdm_source *src);
} tdm_source_ops;

struct tdm_source {
    const tdm_source_ops *ops;
    int width, height;
    tdm_pixfmt format; /* what next() yields */
    double fps;        /* nominal frame rate, 0 if the source has none */
};

static inline tdm_status tdm_source_next(tdm_source *src, uint64_t now_us, tdm_frame *out,
                                         tdm_error *err)
{
    return src->ops->next(src, now_us, out, err);
}

static inline void tdm_source_close(tdm_source *src)
{
    if (src)
        src->ops->close(src);
}

#endif
