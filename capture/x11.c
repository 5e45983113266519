/* x11.c: the X11 frame source (tdm_x11.h). Owns one xcb connection, one
 * SysV shared-memory segment the server writes the captured rectangle (the
 * root window or one RandR monitor of it) into (MIT-SHM), when the server
 * has DAMAGE and XFIXES a damage object on the root whose accumulated region
 * becomes each frame's damage list, and the cursor drawn into the frame. */
#include "tdm_x11.h"

#include "tdm_cursor.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include <xcb/damage.h>
#include <xcb/randr.h>
#include <xcb/shm.h>
#include <xcb/xcb.h>
#include <xcb/xfixes.h>

/* The rect array starts small and doubles when a frame needs more; past the
 * cap the damage collapses to the region's bounding box, because a region
 * that fragmented is cheaper to diff as one block than to walk. */
enum { RECTS_INITIAL = 64, RECTS_MAX = 512 };
/* Slots kept free past rects_cap for the cursor's old and new rectangles. */
enum { CURSOR_RECTS = 2 };

typedef struct x11_source {
    tdm_source base; /* first, so tdm_source * and x11_source * convert */
    xcb_connection_t *conn;
    xcb_window_t root;
    char display[64]; /* for messages; truncated if longer */
    int stride;
    tdm_rect area; /* what is captured, in root coordinates */

    int shmid;        /* -1 when none */
    bool shm_removed; /* IPC_RMID done: the segment dies with its last attach */
    uint8_t *pixels;  /* our mapping of the segment (writable: the cursor) */
    xcb_shm_seg_t seg;

    /* The cursor: drawn when draw_cursor; the segment holds it at
     * cursor_at (w == 0: not drawn), with what it covers in cursor_save. */
    bool draw_cursor;
    uint8_t *cursor_save;
    tdm_rect cursor_at;
    uint32_t cursor_serial;

    /* DAMAGE; damage is XCB_NONE when not in use. */
    xcb_damage_damage_t damage;
    xcb_xfixes_region_t region;
    tdm_rect *rects;
    size_t rects_cap;
    /* False until a frame was fully grabbed, and again after any failure
     * between taking the server's damage and grabbing: the damage then taken
     * is lost, so the next frame must say "unknown". */
    bool image_valid;

    int root_w, root_h;       /* the root's size at open */
    int resized_w, resized_h; /* nonzero once the root changed size */
    uint8_t x_error;          /* first asynchronous X error not yet reported */
    uint8_t x_error_major;
    uint16_t x_error_minor;
    uint64_t number;
} x11_source;

static tdm_status x11_next(tdm_source *base, uint64_t now_us, tdm_frame *out, tdm_error *err);
static void x11_close(tdm_source *base);
static bool cursor_available(xcb_connection_t *conn);

static const tdm_source_ops x11_ops = {
    .kind = "x11",
    .next = x11_next,
    .close = x11_close,
};

static const xcb_screen_t *screen_of(const xcb_setup_t *setup, int number)
{
    xcb_screen_iterator_t it = xcb_setup_roots_iterator(setup);
    for (int i = 0; it.rem; xcb_screen_next(&it), i++)
        if (i == number)
            return it.data;
    return NULL;
}

static const xcb_visualtype_t *root_visual(const xcb_screen_t *screen)
{
    xcb_depth_iterator_t d = xcb_screen_allowed_depths_iterator(screen);
    for (; d.rem; xcb_depth_next(&d)) {
        if (d.data->depth != screen->root_depth)
            continue;
        xcb_visualtype_iterator_t v = xcb_depth_visuals_iterator(d.data);
        for (; v.rem; xcb_visualtype_next(&v))
            if (v.data->visual_id == screen->root_visual)
                return v.data;
    }
    return NULL;
}

static const xcb_format_t *pixmap_format(const xcb_setup_t *setup, uint8_t depth)
{
    xcb_format_iterator_t f = xcb_setup_pixmap_formats_iterator(setup);
    for (; f.rem; xcb_format_next(&f))
        if (f.data->depth == depth)
            return f.data;
    return NULL;
}

/* The frame promises bytes B, G, R, X in memory. That holds exactly when the
 * server stores 32-bit pixels 0x00RRGGBB least significant byte first; the
 * client's own byte order does not matter because the server writes the
 * segment in its image byte order. */
static tdm_status check_pixel_layout(x11_source *src, const xcb_setup_t *setup,
                                     const xcb_screen_t *screen, tdm_error *err)
{
    if (screen->root_depth != 24 && screen->root_depth != 32)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                        "X display '%s' has root depth %u; only 24 or 32-bit TrueColor is supported",
                        src->display, screen->root_depth);
    const xcb_visualtype_t *vis = root_visual(screen);
    if (!vis || vis->_class != XCB_VISUAL_CLASS_TRUE_COLOR)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                        "X display '%s': the root visual is not TrueColor", src->display);
    if (vis->red_mask != 0xff0000u || vis->green_mask != 0x00ff00u || vis->blue_mask != 0x0000ffu)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                        "X display '%s': root visual masks R=%#x G=%#x B=%#x are not BGRX",
                        src->display, (unsigned)vis->red_mask, (unsigned)vis->green_mask,
                        (unsigned)vis->blue_mask);
    const xcb_format_t *fmt = pixmap_format(setup, screen->root_depth);
    if (!fmt || fmt->bits_per_pixel != 32 || fmt->scanline_pad == 0 || fmt->scanline_pad % 8)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                        "X display '%s': depth %u is not stored as 32 bits per pixel",
                        src->display, screen->root_depth);
    if (setup->image_byte_order != XCB_IMAGE_ORDER_LSB_FIRST)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                        "X display '%s' stores images most significant byte first (XRGB, not BGRX)",
                        src->display);
    size_t pad = fmt->scanline_pad;
    size_t row_bits = (size_t)src->base.width * 32;
    src->stride = (int)((row_bits + pad - 1) / pad * pad / 8);
    return TDM_OK;
}

/* --- RandR monitors -------------------------------------------------------- */

/* Monitors as RandR 1.5 lists them; without RandR 1.5 (or with no monitor
 * defined) the whole screen is the one monitor "screen". */
static tdm_status query_monitors(xcb_connection_t *conn, const xcb_screen_t *screen,
                                 tdm_x11_monitor *out, size_t cap, size_t *n)
{
    *n = 0;
    const xcb_query_extension_reply_t *ext = xcb_get_extension_data(conn, &xcb_randr_id);
    xcb_randr_get_monitors_reply_t *mons = NULL;
    if (ext && ext->present) {
        xcb_randr_query_version_reply_t *v =
            xcb_randr_query_version_reply(conn, xcb_randr_query_version(conn, 1, 5), NULL);
        bool v15 = v && (v->major_version > 1 || (v->major_version == 1 && v->minor_version >= 5));
        free(v);
        if (v15)
            mons = xcb_randr_get_monitors_reply(
                conn, xcb_randr_get_monitors(conn, screen->root, 1), NULL);
    }
    if (mons) {
        xcb_randr_monitor_info_iterator_t it = xcb_randr_get_monitors_monitors_iterator(mons);
        for (; it.rem && *n < cap; xcb_randr_monitor_info_next(&it)) {
            tdm_x11_monitor *m = &out[*n];
            memset(m, 0, sizeof *m);
            m->area = (tdm_rect){it.data->x, it.data->y, it.data->width, it.data->height};
            m->primary = it.data->primary;
            xcb_get_atom_name_reply_t *an =
                xcb_get_atom_name_reply(conn, xcb_get_atom_name(conn, it.data->name), NULL);
            if (an) {
                int len = xcb_get_atom_name_name_length(an);
                if (len >= (int)sizeof m->name)
                    len = (int)sizeof m->name - 1;
                memcpy(m->name, xcb_get_atom_name_name(an), (size_t)len);
                m->name[len] = 0;
                free(an);
            }
            m->area = tdm_rect_clip(m->area, screen->width_in_pixels, screen->height_in_pixels);
            if (m->area.w > 0 && m->area.h > 0)
                (*n)++;
        }
        free(mons);
    }
    if (*n == 0 && cap > 0) {
        memset(&out[0], 0, sizeof out[0]);
        snprintf(out[0].name, sizeof out[0].name, "screen");
        out[0].area = (tdm_rect){0, 0, screen->width_in_pixels, screen->height_in_pixels};
        out[0].primary = true;
        *n = 1;
    }
    return TDM_OK;
}

/* Picks the monitor named by sel: an index (0-based, as listed) or a name. */
static tdm_status choose_monitor(x11_source *src, const xcb_screen_t *screen, const char *sel,
                                 tdm_error *err)
{
    tdm_x11_monitor mons[TDM_X11_MAX_MONITORS];
    size_t n = 0;
    query_monitors(src->conn, screen, mons, TDM_X11_MAX_MONITORS, &n);
    char *end;
    long idx = strtol(sel, &end, 10);
    bool numeric = *sel && !*end;
    for (size_t i = 0; i < n; i++)
        if ((numeric && idx == (long)i) || (!numeric && strcmp(mons[i].name, sel) == 0)) {
            src->area = mons[i].area;
            return TDM_OK;
        }
    char names[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%zu=%s", i ? ", " : "", i,
                                 mons[i].name);
    return tdm_fail(err, TDM_ERR_INVALID, "X display '%s' has no monitor '%s' (monitors: %s)",
                    src->display, sel, names);
}

static tdm_status connect_display(x11_source *src, const char *name, int *screen_number,
                                  tdm_error *err)
{
    snprintf(src->display, sizeof src->display, "%s", name);
    src->conn = xcb_connect(name, screen_number);
    int code = xcb_connection_has_error(src->conn);
    switch (code) {
    case 0:
        return TDM_OK;
    case XCB_CONN_CLOSED_PARSE_ERR:
        return tdm_fail(err, TDM_ERR_INVALID, "cannot parse X display name '%s'", src->display);
    case XCB_CONN_CLOSED_INVALID_SCREEN:
        return tdm_fail(err, TDM_ERR_INVALID, "X display '%s' has no such screen", src->display);
    case XCB_CONN_CLOSED_MEM_INSUFFICIENT:
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory connecting to X display '%s'",
                        src->display);
    default:
        return tdm_fail(err, TDM_ERR_UNAVAILABLE,
                        "cannot connect to X display '%s' (xcb error %d): is the server running, "
                        "and may this user connect?",
                        src->display, code);
    }
}

static tdm_status setup_shm(x11_source *src, tdm_error *err)
{
    const xcb_query_extension_reply_t *ext = xcb_get_extension_data(src->conn, &xcb_shm_id);
    xcb_shm_query_version_reply_t *ver =
        ext && ext->present
            ? xcb_shm_query_version_reply(src->conn, xcb_shm_query_version(src->conn), NULL)
            : NULL;
    if (!ver)
        return tdm_fail(err, TDM_ERR_UNSUPPORTED,
                        "X display '%s' lacks the MIT-SHM extension, which capture requires",
                        src->display);
    free(ver);

    size_t size = (size_t)src->stride * (size_t)src->base.height;
    src->shmid = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
    if (src->shmid < 0)
        return tdm_fail(err, TDM_ERR_NOMEM, "shmget of %zu bytes failed: %s", size,
                        strerror(errno));
    /* Writable only when the cursor is drawn into it. */
    void *mapped = shmat(src->shmid, NULL, src->draw_cursor ? 0 : SHM_RDONLY);
    if (mapped == (void *)-1)
        return tdm_fail(err, TDM_ERR_NOMEM, "shmat failed: %s", strerror(errno));
    src->pixels = mapped;

    src->seg = xcb_generate_id(src->conn);
    xcb_generic_error_t *e =
        xcb_request_check(src->conn, xcb_shm_attach_checked(src->conn, src->seg, (uint32_t)src->shmid, 0));
    if (e) {
        uint8_t code = e->error_code;
        free(e);
        return tdm_fail(err, TDM_ERR_UNAVAILABLE,
                        "X display '%s' could not attach the shared-memory segment (X error %u); "
                        "MIT-SHM needs the server on this machine",
                        src->display, code);
    }
    /* The server has its own attach now, so removing the id here means the
     * segment is freed by the kernel however either side exits. */
    shmctl(src->shmid, IPC_RMID, NULL);
    src->shm_removed = true;
    return TDM_OK;
}

/* Returns false (not an error) when the server lacks DAMAGE or XFIXES 2:
 * the source then reports damage as unknown and the consumer diffs. */
static bool damage_available(xcb_connection_t *conn)
{
    const xcb_query_extension_reply_t *d = xcb_get_extension_data(conn, &xcb_damage_id);
    const xcb_query_extension_reply_t *f = xcb_get_extension_data(conn, &xcb_xfixes_id);
    if (!d || !d->present || !f || !f->present)
        return false;
    /* Both extensions refuse requests from clients that did not announce a
     * version first, so these queries are required, not just informative. */
    xcb_damage_query_version_cookie_t dc = xcb_damage_query_version(conn, 1, 1);
    xcb_xfixes_query_version_cookie_t fc = xcb_xfixes_query_version(conn, 2, 0);
    xcb_damage_query_version_reply_t *dv = xcb_damage_query_version_reply(conn, dc, NULL);
    xcb_xfixes_query_version_reply_t *fv = xcb_xfixes_query_version_reply(conn, fc, NULL);
    bool ok = dv && fv && fv->major_version >= 2; /* regions arrived in XFIXES 2 */
    free(dv);
    free(fv);
    return ok;
}

static tdm_status setup_damage(x11_source *src, tdm_error *err)
{
    src->rects = malloc((RECTS_INITIAL + CURSOR_RECTS) * sizeof *src->rects);
    if (!src->rects)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the damage list");
    src->rects_cap = RECTS_INITIAL;

    xcb_xfixes_region_t region = xcb_generate_id(src->conn);
    xcb_damage_damage_t damage = xcb_generate_id(src->conn);
    xcb_void_cookie_t rc = xcb_xfixes_create_region_checked(src->conn, region, 0, NULL);
    /* NonEmpty: one event when the damage stops being empty, not one per
     * drawing request; next() fetches the region itself anyway. */
    xcb_void_cookie_t dc = xcb_damage_create_checked(src->conn, damage, src->root,
                                                     XCB_DAMAGE_REPORT_LEVEL_NON_EMPTY);
    xcb_generic_error_t *re = xcb_request_check(src->conn, rc);
    xcb_generic_error_t *de = xcb_request_check(src->conn, dc);
    uint8_t code = re ? re->error_code : de ? de->error_code : 0;
    free(re);
    free(de);
    if (code)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE,
                        "X display '%s' refused to create a damage object (X error %u)",
                        src->display, code);
    src->region = region;
    src->damage = damage;
    return TDM_OK;
}

tdm_status tdm_x11_open(const tdm_x11_config *cfg, tdm_source **out, tdm_error *err)
{
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "x11 source: no output pointer");
    *out = NULL;
    if (!cfg)
        return tdm_fail(err, TDM_ERR_INVALID, "x11 source: no configuration");
    if (!(cfg->fps >= 0.0) || !isfinite(cfg->fps))
        return tdm_fail(err, TDM_ERR_RANGE, "x11 source: frame rate %g is not a rate", cfg->fps);
    const char *name = cfg->display ? cfg->display : getenv("DISPLAY");
    if (!name || !*name)
        return tdm_fail(err, TDM_ERR_INVALID, "no X display given and $DISPLAY is not set");

    x11_source *src = calloc(1, sizeof *src);
    if (!src)
        return tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the x11 source");
    src->base.ops = &x11_ops;
    src->base.format = TDM_PIXFMT_BGRA;
    src->base.fps = cfg->fps;
    src->shmid = -1;

    int screen_number = 0;
    tdm_status st = connect_display(src, name, &screen_number, err);
    if (st != TDM_OK)
        goto fail;
    const xcb_setup_t *setup = xcb_get_setup(src->conn);
    const xcb_screen_t *screen = screen_of(setup, screen_number);
    if (!screen) {
        st = tdm_fail(err, TDM_ERR_INVALID, "X display '%s' has no screen %d", src->display,
                      screen_number);
        goto fail;
    }
    src->root = screen->root;
    src->root_w = screen->width_in_pixels;
    src->root_h = screen->height_in_pixels;
    src->area = (tdm_rect){0, 0, src->root_w, src->root_h};
    if (cfg->monitor && (st = choose_monitor(src, screen, cfg->monitor, err)) != TDM_OK)
        goto fail;
    src->base.width = src->area.w;
    src->base.height = src->area.h;
    src->draw_cursor = cfg->draw_cursor && cursor_available(src->conn);
    if (src->draw_cursor && !(src->cursor_save = malloc(TDM_CURSOR_SAVE_BYTES))) {
        st = tdm_fail(err, TDM_ERR_NOMEM, "out of memory for the cursor");
        goto fail;
    }
    if ((st = tdm_check_dimensions(src->base.width, src->base.height, err)) != TDM_OK ||
        (st = check_pixel_layout(src, setup, screen, err)) != TDM_OK ||
        (st = setup_shm(src, err)) != TDM_OK)
        goto fail;
    if (cfg->use_damage && damage_available(src->conn) &&
        (st = setup_damage(src, err)) != TDM_OK)
        goto fail;

    /* RandR resizes the root window, and the server tells root's
     * StructureNotify listeners with a ConfigureNotify. */
    uint32_t mask = XCB_EVENT_MASK_STRUCTURE_NOTIFY;
    xcb_change_window_attributes(src->conn, src->root, XCB_CW_EVENT_MASK, &mask);
    xcb_flush(src->conn);

    *out = &src->base;
    return TDM_OK;

fail:
    x11_close(&src->base);
    return st;
}

tdm_status tdm_x11_list_monitors(const char *display, tdm_x11_monitor *out, size_t cap, size_t *n,
                                 tdm_error *err)
{
    if (!out || !n)
        return tdm_fail(err, TDM_ERR_INVALID, "list monitors: NULL argument");
    *n = 0;
    const char *name = display ? display : getenv("DISPLAY");
    if (!name || !*name)
        return tdm_fail(err, TDM_ERR_INVALID, "no X display given and $DISPLAY is not set");
    x11_source tmp = {0};
    int screen_number = 0;
    tdm_status st = connect_display(&tmp, name, &screen_number, err);
    if (st == TDM_OK) {
        const xcb_screen_t *screen = screen_of(xcb_get_setup(tmp.conn), screen_number);
        st = screen ? query_monitors(tmp.conn, screen, out, cap, n)
                    : tdm_fail(err, TDM_ERR_INVALID, "X display '%s' has no screen %d", name,
                               screen_number);
    }
    xcb_disconnect(tmp.conn);
    return st;
}

bool tdm_x11_area(const tdm_source *src, tdm_rect *area)
{
    if (!src || src->ops != &x11_ops || !area)
        return false;
    *area = ((const x11_source *)src)->area;
    return true;
}

bool tdm_x11_has_damage(const tdm_source *src)
{
    if (!src || src->ops != &x11_ops)
        return false;
    return ((const x11_source *)src)->damage != XCB_NONE;
}

/* Reads whatever events have arrived, without blocking. DamageNotify events
 * are dropped: they only say the damage became non-empty, and next() asks
 * for the region regardless. */
static tdm_status drain_events(x11_source *src, tdm_error *err)
{
    xcb_generic_event_t *ev;
    while ((ev = xcb_poll_for_event(src->conn)) != NULL) {
        uint8_t type = ev->response_type & 0x7f;
        if (type == 0 && !src->x_error) {
            const xcb_generic_error_t *e = (const xcb_generic_error_t *)ev;
            src->x_error = e->error_code;
            src->x_error_major = e->major_code;
            src->x_error_minor = e->minor_code;
        } else if (type == XCB_CONFIGURE_NOTIFY) {
            const xcb_configure_notify_event_t *c = (const xcb_configure_notify_event_t *)ev;
            if (c->window == src->root &&
                (c->width != src->root_w || c->height != src->root_h)) {
                src->resized_w = c->width;
                src->resized_h = c->height;
            }
        }
        free(ev);
    }
    if (xcb_connection_has_error(src->conn))
        return tdm_fail(err, TDM_ERR_IO, "lost the connection to X display '%s'", src->display);
    /* Sticky: the segment, and everything downstream sized at open, no
     * longer matches the screen. */
    if (src->resized_w)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE,
                        "X display '%s' was resized from %dx%d to %dx%d; reopen the source",
                        src->display, src->root_w, src->root_h, src->resized_w,
                        src->resized_h);
    if (src->x_error) {
        uint8_t code = src->x_error;
        src->x_error = 0;
        return tdm_fail(err, TDM_ERR_IO, "X display '%s' reported error %u (request %u.%u)",
                        src->display, code, src->x_error_major, src->x_error_minor);
    }
    return TDM_OK;
}

/* A root rectangle in frame coordinates (relative to the captured area). */
static tdm_rect rect_from_x(const x11_source *src, xcb_rectangle_t r)
{
    return tdm_rect_clip(
        (tdm_rect){.x = r.x - src->area.x, .y = r.y - src->area.y, .w = r.width, .h = r.height},
        src->base.width, src->base.height);
}

/* Takes the damage accumulated since the previous call from the server (so
 * the server starts accumulating afresh) and fills src->rects. */
static tdm_status collect_damage(x11_source *src, size_t *count, tdm_error *err)
{
    xcb_damage_subtract(src->conn, src->damage, XCB_NONE, src->region);
    xcb_generic_error_t *e = NULL;
    xcb_xfixes_fetch_region_reply_t *reply = xcb_xfixes_fetch_region_reply(
        src->conn, xcb_xfixes_fetch_region(src->conn, src->region), &e);
    if (!reply) {
        uint8_t code = e ? e->error_code : 0;
        free(e);
        if (!code)
            return tdm_fail(err, TDM_ERR_IO, "lost the connection to X display '%s'",
                            src->display);
        return tdm_fail(err, TDM_ERR_IO, "X display '%s': fetching the damage failed (X error %u)",
                        src->display, code);
    }
    const xcb_rectangle_t *xr = xcb_xfixes_fetch_region_rectangles(reply);
    int len = xcb_xfixes_fetch_region_rectangles_length(reply);
    size_t n = len > 0 ? (size_t)len : 0;

    if (n > src->rects_cap && n <= RECTS_MAX) {
        size_t cap = src->rects_cap;
        while (cap < n)
            cap *= 2;
        tdm_rect *grown = realloc(src->rects, (cap + CURSOR_RECTS) * sizeof *grown);
        if (grown) {
            src->rects = grown;
            src->rects_cap = cap;
        }
    }
    size_t out = 0;
    if (n > src->rects_cap) {
        /* Past the cap, or growth failed: the bounding box is still a
         * correct (coarser) answer. */
        tdm_rect r = rect_from_x(src, reply->extents);
        if (r.w > 0 && r.h > 0)
            src->rects[out++] = r;
    } else {
        for (size_t i = 0; i < n; i++) {
            tdm_rect r = rect_from_x(src, xr[i]);
            if (r.w > 0 && r.h > 0)
                src->rects[out++] = r;
        }
    }
    free(reply);
    *count = out;
    return TDM_OK;
}

static tdm_status grab_image(x11_source *src, tdm_error *err)
{
    xcb_generic_error_t *e = NULL;
    xcb_shm_get_image_cookie_t ck = xcb_shm_get_image(
        src->conn, src->root, (int16_t)src->area.x, (int16_t)src->area.y,
        (uint16_t)src->base.width, (uint16_t)src->base.height,
        ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP, src->seg, 0);
    xcb_shm_get_image_reply_t *reply = xcb_shm_get_image_reply(src->conn, ck, &e);
    if (!reply) {
        uint8_t code = e ? e->error_code : 0;
        free(e);
        /* A root that shrank makes the grab fail with BadMatch; its
         * ConfigureNotify was queued ahead of the error, so the drain names
         * the real cause. */
        tdm_status st = drain_events(src, err);
        if (st != TDM_OK)
            return st;
        if (!code)
            return tdm_fail(err, TDM_ERR_IO, "lost the connection to X display '%s'",
                            src->display);
        return tdm_fail(err, TDM_ERR_IO,
                        "X display '%s': shared-memory GetImage failed (X error %u)",
                        src->display, code);
    }
    free(reply);
    return TDM_OK;
}

/* --- the cursor ------------------------------------------------------------ */

/* GetCursorImage is XFIXES 1; damage_available asked for version 2 only
 * when damage is used, and the server wants a version announced first. */
static bool cursor_available(xcb_connection_t *conn)
{
    const xcb_query_extension_reply_t *f = xcb_get_extension_data(conn, &xcb_xfixes_id);
    if (!f || !f->present)
        return false;
    xcb_xfixes_query_version_reply_t *fv =
        xcb_xfixes_query_version_reply(conn, xcb_xfixes_query_version(conn, 2, 0), NULL);
    bool ok = fv != NULL;
    free(fv);
    return ok;
}

static void add_damage(x11_source *src, size_t *count, tdm_rect r)
{
    if (count && r.w > 0 && r.h > 0)
        src->rects[(*count)++] = r; /* CURSOR_RECTS slots are kept for this */
}

/* Draws the cursor the server reports into the segment. When the segment
 * was not grabbed afresh, it still holds the previous cursor: that is put
 * back first, unless the cursor did not change at all. count (NULL when
 * damage is unknown) gets the old and new rectangles of a cursor that
 * moved or changed shape. */
static void update_cursor(x11_source *src, xcb_xfixes_get_cursor_image_cookie_t ck, bool grabbed,
                          size_t *count)
{
    xcb_xfixes_get_cursor_image_reply_t *img = xcb_xfixes_get_cursor_image_reply(src->conn, ck, NULL);
    tdm_rect old = src->cursor_at;
    if (!img) {
        /* No image this time: leave the frame without a cursor. */
        if (!grabbed)
            tdm_cursor_restore(src->pixels, src->stride, old, src->cursor_save);
        add_damage(src, count, old);
        src->cursor_at = (tdm_rect){0, 0, 0, 0};
        return;
    }
    tdm_cursor_image c = {.argb = xcb_xfixes_get_cursor_image_cursor_image(img),
                          .width = img->width,
                          .height = img->height,
                          .x = img->x - img->xhot - src->area.x,
                          .y = img->y - img->yhot - src->area.y};
    bool same = img->cursor_serial == src->cursor_serial && old.w > 0 && c.x == old.x &&
                c.y == old.y;
    if (!(same && !grabbed)) {
        if (!grabbed)
            tdm_cursor_restore(src->pixels, src->stride, old, src->cursor_save);
        tdm_rect now = tdm_cursor_draw(src->pixels, src->stride, src->base.width, src->base.height,
                                       &c, src->cursor_save);
        if (!same) {
            add_damage(src, count, old);
            add_damage(src, count, now);
        }
        src->cursor_at = now;
        src->cursor_serial = img->cursor_serial;
    }
    free(img);
}

static tdm_status x11_next(tdm_source *base, uint64_t now_us, tdm_frame *out, tdm_error *err)
{
    x11_source *src = (x11_source *)base;
    if (!out)
        return tdm_fail(err, TDM_ERR_INVALID, "x11 source: no output frame");
    tdm_status st = drain_events(src, err);
    if (st != TDM_OK)
        return st;

    bool known = false;
    size_t count = 0;
    if (src->damage != XCB_NONE) {
        /* Damage is taken before the grab: whatever is drawn after the
         * server processes the subtract is either in this image already or
         * still in the damage for the next frame, never in neither. */
        if (src->image_valid) {
            src->image_valid = false;
            if ((st = collect_damage(src, &count, err)) != TDM_OK)
                return st;
            known = true;
        } else {
            xcb_damage_subtract(src->conn, src->damage, XCB_NONE, XCB_NONE);
        }
    }
    /* The cursor is asked for before the grab, so a pointer that moves
     * meanwhile is at worst a frame late, never drawn over stale pixels. */
    xcb_xfixes_get_cursor_image_cookie_t cursor_ck = {0};
    if (src->draw_cursor)
        cursor_ck = xcb_xfixes_get_cursor_image(src->conn);
    /* With damage known and empty, the segment still holds the screen. */
    bool grabbed = !known || count > 0;
    if (grabbed && (st = grab_image(src, err)) != TDM_OK) {
        if (src->draw_cursor)
            xcb_discard_reply(src->conn, cursor_ck.sequence);
        src->cursor_at = (tdm_rect){0, 0, 0, 0}; /* the grab may have half-overwritten it */
        return st;
    }
    if (src->draw_cursor)
        update_cursor(src, cursor_ck, grabbed, known ? &count : NULL);
    /* A resize the server processed before our last request has its event
     * queued ahead of that request's reply, so it is visible now. */
    if ((st = drain_events(src, err)) != TDM_OK)
        return st;
    src->image_valid = true;

    *out = (tdm_frame){
        .format = TDM_PIXFMT_BGRA,
        .bgra = {.data = src->pixels,
                 .width = src->base.width,
                 .height = src->base.height,
                 .stride = src->stride},
        .number = src->number++,
        .capture_us = now_us,
        .damage_known = known,
        .damage = known ? src->rects : NULL,
        .damage_count = count,
    };
    return TDM_OK;
}

static void x11_close(tdm_source *base)
{
    x11_source *src = (x11_source *)base;
    if (!src)
        return;
    /* The server frees the segment attach, damage and region when the
     * client goes away, so disconnecting is enough on that side. */
    if (src->conn)
        xcb_disconnect(src->conn);
    if (src->pixels)
        shmdt(src->pixels);
    free(src->cursor_save);
    if (src->shmid >= 0 && !src->shm_removed)
        shmctl(src->shmid, IPC_RMID, NULL);
    free(src->rects);
    free(src);
}
