/* x11_capture_test.c: the X11 source (capture/x11.c) against a real Xvfb.
 *
 * The test starts its own Xvfb on a display number the server picks and
 * reports through -displayfd (no TCP listener), draws on it from a second
 * connection, and checks the captured pixels and damage. Xvfb is stopped by
 * its PID in the group teardown, at exit, and by the kernel if this process
 * dies (PR_SET_PDEATHSIG). A missing Xvfb fails the run with a message. */
#define _GNU_SOURCE /* pipe2 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xcb/randr.h>
#include <xcb/xcb.h>

#include "tdm_x11.h"

enum {
    SCREEN_W = 640,
    SCREEN_H = 480,
    STARTUP_TIMEOUT_MS = 30000,
    SHUTDOWN_TIMEOUT_MS = 5000,
};

static const char XVFB_LOG[] = "x11_capture_test.xvfb.log";

static pid_t xvfb_pid = -1;
static char display_name[32];
static xcb_connection_t *conn;
static const xcb_screen_t *screen;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to timeout_ms for the child to exit, without sleeping: a pidfd
 * becomes readable when the process ends. Returns true once reaped. */
static bool reap_within(pid_t pid, int timeout_ms)
{
#ifdef SYS_pidfd_open
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd >= 0) {
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        int r;
        do
            r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        close(pidfd);
        if (r <= 0)
            return false;
    }
#else
    (void)timeout_ms;
#endif
    return waitpid(pid, NULL, 0) == pid;
}

static void stop_xvfb(void)
{
    if (xvfb_pid <= 0)
        return;
    pid_t pid = xvfb_pid;
    xvfb_pid = -1;
    kill(pid, SIGTERM);
    if (!reap_within(pid, SHUTDOWN_TIMEOUT_MS)) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

static void print_xvfb_log(void)
{
    FILE *f = fopen(XVFB_LOG, "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "  Xvfb: %s", line);
    fclose(f);
}

typedef enum { READ_OK, READ_EOF, READ_TIMEOUT } read_result;

/* Reads the display number Xvfb writes to the pipe once it accepts
 * connections. EOF first means Xvfb exited (or never started). */
static read_result read_display_number(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    int64_t deadline = now_ms() + STARTUP_TIMEOUT_MS;
    while (len + 1 < cap) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return READ_TIMEOUT;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            return READ_TIMEOUT;
        ssize_t n = r < 0 ? -1 : read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return READ_EOF;
        len += (size_t)n;
        buf[len] = '\0';
        if (strchr(buf, '\n'))
            return READ_OK;
    }
    return READ_EOF; /* a line longer than any display number */
}

static int start_xvfb(void)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        fprintf(stderr, "pipe2: %s\n", strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork: %s\n", strerror(errno));
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        /* If the test process dies without cleaning up, so does Xvfb. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int logfd = open(XVFB_LOG, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (logfd >= 0) {
            dup2(logfd, STDERR_FILENO);
            dup2(logfd, STDOUT_FILENO);
        }
        int fd = dup(pipefd[1]); /* without O_CLOEXEC, so Xvfb inherits it */
        char fdarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", fd);
        /* No TCP. The abstract "local" socket stays: binding it is what
         * tells Xvfb a display number is taken (the path socket in
         * /tmp/.X11-unix is unlinked and rebound regardless), so without it
         * parallel runs, or a desktop on :0, would collide. */
        char *argv[] = {"Xvfb", "-displayfd", fdarg,       "-screen",  "0",
                        "640x480x24", "-nolisten", "tcp", "-noreset", NULL};
        execvp("Xvfb", argv);
        fprintf(stderr, "cannot run Xvfb: %s\n", strerror(errno));
        _exit(127);
    }
    xvfb_pid = pid;
    close(pipefd[1]);
    char buf[32];
    read_result got = read_display_number(pipefd[0], buf, sizeof buf);
    close(pipefd[0]);
    if (got != READ_OK) {
        int status = 0;
        if (got == READ_EOF) {
            /* The pipe closed, so Xvfb is exiting (or has): reap it. */
            if (waitpid(pid, &status, 0) == pid)
                xvfb_pid = -1;
        }
        stop_xvfb();
        if (got == READ_TIMEOUT)
            fprintf(stderr, "x11_capture_test: Xvfb did not report a display within %d ms\n",
                    STARTUP_TIMEOUT_MS);
        else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            fprintf(stderr, "x11_capture_test: Xvfb is not installed or not on PATH "
                            "(Debian package 'xvfb'); this integration test needs it\n");
        else
            fprintf(stderr, "x11_capture_test: Xvfb exited before reporting a display\n");
        print_xvfb_log();
        return -1;
    }
    snprintf(display_name, sizeof display_name, ":%d", atoi(buf));
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    atexit(stop_xvfb);
    if (start_xvfb() != 0)
        return -1;
    conn = xcb_connect(display_name, NULL);
    if (xcb_connection_has_error(conn)) {
        fprintf(stderr, "x11_capture_test: cannot connect to Xvfb on %s\n", display_name);
        return -1;
    }
    screen = xcb_setup_roots_iterator(xcb_get_setup(conn)).data;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (conn)
        xcb_disconnect(conn);
    conn = NULL;
    stop_xvfb();
    return 0;
}

/* --- drawing from the test's own connection --- */

/* A round trip: once its reply is here, the server has executed every
 * request sent before it, damage included. */
static void sync_server(void)
{
    free(xcb_get_input_focus_reply(conn, xcb_get_input_focus(conn), NULL));
}

static void fill_root_nosync(uint32_t rgb, int x, int y, int w, int h)
{
    xcb_gcontext_t gc = xcb_generate_id(conn);
    uint32_t values[] = {rgb, XCB_SUBWINDOW_MODE_INCLUDE_INFERIORS};
    xcb_create_gc(conn, gc, screen->root, XCB_GC_FOREGROUND | XCB_GC_SUBWINDOW_MODE, values);
    xcb_rectangle_t r = {(int16_t)x, (int16_t)y, (uint16_t)w, (uint16_t)h};
    xcb_poly_fill_rectangle(conn, screen->root, gc, 1, &r);
    xcb_free_gc(conn, gc);
}

static void fill_root(uint32_t rgb, tdm_rect r)
{
    fill_root_nosync(rgb, r.x, r.y, r.w, r.h);
    sync_server();
}

static xcb_window_t map_window(uint32_t rgb, tdm_rect r)
{
    xcb_window_t win = xcb_generate_id(conn);
    uint32_t values[] = {rgb, 1}; /* background pixel, override-redirect */
    xcb_create_window(conn, XCB_COPY_FROM_PARENT, win, screen->root, (int16_t)r.x, (int16_t)r.y,
                      (uint16_t)r.w, (uint16_t)r.h, 0, XCB_WINDOW_CLASS_INPUT_OUTPUT,
                      screen->root_visual, XCB_CW_BACK_PIXEL | XCB_CW_OVERRIDE_REDIRECT, values);
    xcb_map_window(conn, win);
    sync_server();
    return win;
}

/* --- helpers on frames --- */

static tdm_source *open_source(bool use_damage)
{
    tdm_x11_config cfg = {.display = display_name, .use_damage = use_damage, .fps = 30.0};
    tdm_source *src = NULL;
    tdm_error err = {{0}};
    tdm_status st = tdm_x11_open(&cfg, &src, &err);
    if (st != TDM_OK)
        fail_msg("tdm_x11_open(%s): %s: %s", display_name, tdm_status_str(st), err.msg);
    assert_non_null(src);
    return src;
}

static tdm_frame capture(tdm_source *src)
{
    tdm_frame f;
    tdm_error err = {{0}};
    tdm_status st = tdm_source_next(src, 1234, &f, &err);
    if (st != TDM_OK)
        fail_msg("tdm_source_next: %s: %s", tdm_status_str(st), err.msg);
    return f;
}

static uint32_t rgb_at(const tdm_bgra *img, int x, int y)
{
    const uint8_t *p = img->data + (size_t)y * (size_t)img->stride + (size_t)x * 4;
    return (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static bool inside(tdm_rect r, int x, int y)
{
    return x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h;
}

/* The frame's pixels live in the source's segment and are overwritten by the
 * next capture, so comparisons across frames need a copy. */
static uint32_t *copy_rgb(const tdm_frame *f)
{
    uint32_t *out = malloc((size_t)f->bgra.width * (size_t)f->bgra.height * sizeof *out);
    assert_non_null(out);
    for (int y = 0; y < f->bgra.height; y++)
        for (int x = 0; x < f->bgra.width; x++)
            out[(size_t)y * (size_t)f->bgra.width + (size_t)x] = rgb_at(&f->bgra, x, y);
    return out;
}

/* Inside r every pixel is rgb; outside, every pixel is as in before. */
static void assert_only_rect_changed(const tdm_frame *f, const uint32_t *before, tdm_rect r,
                                     uint32_t rgb)
{
    for (int y = 0; y < f->bgra.height; y++)
        for (int x = 0; x < f->bgra.width; x++) {
            uint32_t got = rgb_at(&f->bgra, x, y);
            uint32_t want = inside(r, x, y) ? rgb : before[(size_t)y * (size_t)f->bgra.width + (size_t)x];
            if (got != want)
                fail_msg("pixel (%d,%d) is %06x, expected %06x", x, y, (unsigned)got,
                         (unsigned)want);
        }
}

/* The damage covers every pixel of r and reaches no further than margin
 * pixels beyond it. */
static void assert_damage_covers(const tdm_frame *f, tdm_rect r, int margin)
{
    assert_true(f->damage_known);
    assert_true(f->damage_count > 0);
    assert_non_null(f->damage);
    for (size_t i = 0; i < f->damage_count; i++) {
        tdm_rect d = f->damage[i];
        assert_true(d.w > 0 && d.h > 0);
        assert_true(d.x >= 0 && d.y >= 0 && d.x + d.w <= f->bgra.width &&
                    d.y + d.h <= f->bgra.height);
        if (d.x < r.x - margin || d.y < r.y - margin || d.x + d.w > r.x + r.w + margin ||
            d.y + d.h > r.y + r.h + margin)
            fail_msg("damage %d,%d %dx%d is far from the drawing at %d,%d %dx%d", d.x, d.y,
                     d.w, d.h, r.x, r.y, r.w, r.h);
    }
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++) {
            bool covered = false;
            for (size_t i = 0; i < f->damage_count && !covered; i++)
                covered = inside(f->damage[i], x, y);
            if (!covered)
                fail_msg("pixel (%d,%d) changed but is not in the damage", x, y);
        }
}

static void assert_no_damage(const tdm_frame *f)
{
    assert_true(f->damage_known);
    if (f->damage_count != 0)
        fail_msg("expected no damage, got %zu rects, first %d,%d %dx%d", f->damage_count,
                 f->damage[0].x, f->damage[0].y, f->damage[0].w, f->damage[0].h);
}

/* --- tests --- */

static void open_and_capture_reports_screen_size(void **state)
{
    (void)state;
    tdm_source *src = open_source(true);
    assert_string_equal(src->ops->kind, "x11");
    assert_int_equal(src->width, SCREEN_W);
    assert_int_equal(src->height, SCREEN_H);
    assert_int_equal(src->format, TDM_PIXFMT_BGRA);
    assert_true(src->fps == 30.0);

    tdm_frame f = capture(src);
    assert_int_equal(f.format, TDM_PIXFMT_BGRA);
    assert_int_equal(f.bgra.width, SCREEN_W);
    assert_int_equal(f.bgra.height, SCREEN_H);
    assert_int_equal(f.bgra.stride, 4 * SCREEN_W);
    assert_int_equal(tdm_bgra_check(&f.bgra, NULL), TDM_OK);
    assert_int_equal(f.number, 0);
    assert_int_equal(f.capture_us, 1234);
    assert_false(f.damage_known);

    f = capture(src);
    assert_int_equal(f.number, 1);
    tdm_source_close(src);
}

static void drawn_rectangle_and_window_appear_in_capture(void **state)
{
    (void)state;
    tdm_source *src = open_source(false);
    tdm_frame f = capture(src);
    uint32_t *before = copy_rgb(&f);

    const tdm_rect r = {100, 50, 80, 60};
    fill_root(0x123456, r);
    f = capture(src);
    assert_only_rect_changed(&f, before, r, 0x123456);
    free(before);

    /* A mapped child window, to show capture includes what is above root. */
    before = copy_rgb(&f);
    const tdm_rect w = {300, 200, 50, 40};
    xcb_window_t win = map_window(0xabcdef, w);
    f = capture(src);
    assert_only_rect_changed(&f, before, w, 0xabcdef);
    free(before);

    xcb_destroy_window(conn, win);
    sync_server();
    tdm_source_close(src);
}

static void damage_covers_drawing_and_nothing_else(void **state)
{
    (void)state;
    tdm_source *src = open_source(true);
    assert_true(tdm_x11_has_damage(src));

    tdm_frame f = capture(src);
    assert_false(f.damage_known);
    f = capture(src);
    assert_no_damage(&f);
    uint32_t *before = copy_rgb(&f);

    const tdm_rect r = {200, 100, 64, 32};
    fill_root(0x40c020, r);
    f = capture(src);
    assert_damage_covers(&f, r, 16);
    assert_only_rect_changed(&f, before, r, 0x40c020);
    free(before);

    /* Nothing drawn: no damage, and the pixels are still the screen's. */
    f = capture(src);
    assert_no_damage(&f);
    assert_int_equal(rgb_at(&f.bgra, r.x, r.y), 0x40c020);

    /* Drawing inside a child window is damage on the root too. */
    const tdm_rect w = {400, 300, 30, 20};
    xcb_window_t win = map_window(0x0a0b0c, w);
    f = capture(src);
    assert_damage_covers(&f, w, 16);
    assert_int_equal(rgb_at(&f.bgra, w.x + 5, w.y + 5), 0x0a0b0c);
    xcb_destroy_window(conn, win);
    sync_server();
    f = capture(src);
    assert_damage_covers(&f, w, 16);
    f = capture(src);
    assert_no_damage(&f);
    tdm_source_close(src);
}

static void damage_list_grows_then_collapses_to_bounding_box(void **state)
{
    (void)state;
    tdm_source *src = open_source(true);
    assert_true(tdm_x11_has_damage(src));
    capture(src);

    /* 100 separate 1x1 dots, 10 px apart: a region of 100 rects, more than
     * the source's initial array holds. */
    for (int i = 0; i < 100; i++)
        fill_root_nosync(0x111111u * (uint32_t)(i % 15 + 1), 10 + (i % 10) * 10,
                         10 + (i / 10) * 10, 1, 1);
    sync_server();
    tdm_frame f = capture(src);
    assert_true(f.damage_known);
    assert_int_equal(f.damage_count, 100);
    for (size_t i = 0; i < f.damage_count; i++) {
        assert_int_equal(f.damage[i].w, 1);
        assert_int_equal(f.damage[i].h, 1);
    }

    /* 30 x 20 = 600 dots, past the cap: one bounding box. */
    for (int i = 0; i < 600; i++)
        fill_root_nosync(0x222222u, 20 + (i % 30) * 20, 20 + (i / 30) * 20, 1, 1);
    sync_server();
    f = capture(src);
    assert_true(f.damage_known);
    assert_int_equal(f.damage_count, 1);
    assert_int_equal(f.damage[0].x, 20);
    assert_int_equal(f.damage[0].y, 20);
    assert_int_equal(f.damage[0].w, 29 * 20 + 1);
    assert_int_equal(f.damage[0].h, 19 * 20 + 1);
    tdm_source_close(src);
}

static void without_damage_every_frame_is_unknown(void **state)
{
    (void)state;
    tdm_source *src = open_source(false);
    assert_false(tdm_x11_has_damage(src));
    for (int i = 0; i < 3; i++) {
        if (i == 1)
            fill_root(0x777777, (tdm_rect){5, 5, 10, 10});
        tdm_frame f = capture(src);
        assert_false(f.damage_known);
        assert_int_equal(f.damage_count, 0);
    }
    tdm_source_close(src);
}

static void expect_open_error(const tdm_x11_config *cfg, const char *in_message)
{
    tdm_source *src = (tdm_source *)&src; /* must be reset to NULL */
    tdm_error err = {{0}};
    tdm_status st = tdm_x11_open(cfg, &src, &err);
    assert_true(st < 0);
    assert_null(src);
    if (!strstr(err.msg, in_message))
        fail_msg("error '%s' does not mention '%s'", err.msg, in_message);
}

static void bad_display_is_a_clear_error(void **state)
{
    (void)state;
    /* Display 4711 has no server: nothing listens on its socket. */
    expect_open_error(&(tdm_x11_config){.display = ":4711", .use_damage = true}, ":4711");
    expect_open_error(&(tdm_x11_config){.display = "no display here"}, "no display here");
    expect_open_error(&(tdm_x11_config){.display = display_name, .fps = -1}, "rate");
    expect_open_error(NULL, "configuration");

    const char *saved = getenv("DISPLAY");
    char *copy = saved ? strdup(saved) : NULL;
    unsetenv("DISPLAY");
    expect_open_error(&(tdm_x11_config){.display = NULL}, "$DISPLAY");

    /* With $DISPLAY set, a NULL display name uses it. */
    setenv("DISPLAY", display_name, 1);
    tdm_x11_config cfg = {.display = NULL};
    tdm_source *src = NULL;
    tdm_error err = {{0}};
    assert_int_equal(tdm_x11_open(&cfg, &src, &err), TDM_OK);
    assert_int_equal(src->width, SCREEN_W);
    tdm_source_close(src);
    if (copy)
        setenv("DISPLAY", copy, 1);
    else
        unsetenv("DISPLAY");
    free(copy);

    assert_false(tdm_x11_has_damage(NULL));
}

/* Shrinks the screen through RandR (the CRTC must be switched off first, or
 * the server refuses a size smaller than the mode). Runs last: it leaves the
 * shared Xvfb at 320x240. */
static void resize_fails_next_until_reopened(void **state)
{
    (void)state;
    tdm_source *with_damage = open_source(true);
    tdm_source *without = open_source(false);
    capture(with_damage);
    capture(without);

    free(xcb_randr_query_version_reply(conn, xcb_randr_query_version(conn, 1, 3), NULL));
    xcb_randr_get_screen_resources_current_reply_t *res =
        xcb_randr_get_screen_resources_current_reply(
            conn, xcb_randr_get_screen_resources_current(conn, screen->root), NULL);
    assert_non_null(res);
    const xcb_randr_crtc_t *crtcs = xcb_randr_get_screen_resources_current_crtcs(res);
    for (int i = 0; i < xcb_randr_get_screen_resources_current_crtcs_length(res); i++)
        free(xcb_randr_set_crtc_config_reply(
            conn,
            xcb_randr_set_crtc_config(conn, crtcs[i], XCB_CURRENT_TIME, res->config_timestamp, 0,
                                      0, XCB_NONE, XCB_RANDR_ROTATION_ROTATE_0, 0, NULL),
            NULL));
    free(res);
    xcb_generic_error_t *e =
        xcb_request_check(conn, xcb_randr_set_screen_size_checked(conn, screen->root, 320, 240,
                                                                  80, 60));
    if (e) {
        unsigned code = e->error_code;
        free(e);
        fail_msg("Xvfb refused RandR SetScreenSize (X error %u)", code);
    }
    sync_server();

    tdm_source *srcs[] = {with_damage, without};
    for (int i = 0; i < 2; i++) {
        for (int attempt = 0; attempt < 2; attempt++) { /* the error is sticky */
            tdm_frame f;
            tdm_error err = {{0}};
            tdm_status st = tdm_source_next(srcs[i], 0, &f, &err);
            assert_int_equal(st, TDM_ERR_UNAVAILABLE);
            if (!strstr(err.msg, "resized"))
                fail_msg("unexpected error after resize: %s", err.msg);
        }
        tdm_source_close(srcs[i]);
    }

    /* A reopened source follows the new size. */
    tdm_source *src = open_source(true);
    assert_int_equal(src->width, 320);
    assert_int_equal(src->height, 240);
    tdm_frame f = capture(src);
    assert_int_equal(f.bgra.width, 320);
    tdm_source_close(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_and_capture_reports_screen_size),
        cmocka_unit_test(drawn_rectangle_and_window_appear_in_capture),
        cmocka_unit_test(damage_covers_drawing_and_nothing_else),
        cmocka_unit_test(damage_list_grows_then_collapses_to_bounding_box),
        cmocka_unit_test(without_damage_every_frame_is_unknown),
        cmocka_unit_test(bad_display_is_a_clear_error),
        cmocka_unit_test(resize_fails_next_until_reopened),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
