/* x11_desktop_test: the customer endpoint's X side against a real Xvfb
 * (started here on a display number it picks itself through -displayfd, no
 * TCP, killed with this process):
 *   - XTEST injection (clients/x11_inject.h) of planned actions: motion
 *     lands on the pixel asked, a button press reaches a window, typed keys
 *     arrive as the right keysyms (Shift for upper case, a spare keycode
 *     remapped for a character the keyboard lacks, and emptied again when
 *     the injector closes), the take-back chord pressed on the display is
 *     seen;
 *   - capture (capture/tdm_x11.h) with the cursor drawn in: the cursor's
 *     pixels are in the frame, a cursor that moves over an unchanged screen
 *     damages exactly its old and new rectangles and the old place shows the
 *     screen again;
 *   - monitors (RandR 1.5): two defined here are listed, capture of one
 *     gives that rectangle only, an unknown one is refused naming those
 *     that exist. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sys/uio.h>

#include <xcb/randr.h>
#include <xcb/xcbext.h>
#include <xcb/xcb.h>
#include <xcb/xtest.h>

#include "inject_plan.h"
#include "tdm_cursor.h"
#include "tdm_x11.h"
#include "x11_inject.h"

enum { SCREEN_W = 640, SCREEN_H = 480 };

static pid_t xvfb_pid = -1;
static char display_name[32];
static xcb_connection_t *conn;
static xcb_screen_t *screen;

static void stop_xvfb(void)
{
    if (xvfb_pid > 0) {
        kill(xvfb_pid, SIGTERM);
        waitpid(xvfb_pid, NULL, 0);
        xvfb_pid = -1;
    }
}

static int start_xvfb(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int log = open("x11_desktop_test.xvfb.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (log >= 0) {
            dup2(log, STDOUT_FILENO);
            dup2(log, STDERR_FILENO);
        }
        int fd = dup(fds[1]);
        char arg[16];
        snprintf(arg, sizeof arg, "%d", fd);
        char *argv[] = {"Xvfb", "-displayfd", arg, "-screen", "0", "640x480x24",
                        "-nolisten", "tcp", "-noreset", NULL};
        execvp("Xvfb", argv);
        _exit(127);
    }
    xvfb_pid = pid;
    close(fds[1]);
    char buf[32] = "";
    size_t len = 0;
    while (len + 1 < sizeof buf && !strchr(buf, '\n')) {
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        if (poll(&p, 1, 30000) <= 0)
            break;
        ssize_t n = read(fds[0], buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = 0;
    }
    close(fds[0]);
    if (!strchr(buf, '\n')) {
        fprintf(stderr, "x11_desktop_test: Xvfb did not start (is it installed?)\n");
        stop_xvfb();
        return -1;
    }
    snprintf(display_name, sizeof display_name, ":%d", atoi(buf));
    return 0;
}

/* A round trip, so everything sent so far has been processed. */
static void sync_x(void)
{
    free(xcb_get_input_focus_reply(conn, xcb_get_input_focus(conn), NULL));
}

static int group_setup(void **state)
{
    (void)state;
    if (start_xvfb() != 0)
        return -1;
    conn = xcb_connect(display_name, NULL);
    if (xcb_connection_has_error(conn))
        return -1;
    screen = xcb_setup_roots_iterator(xcb_get_setup(conn)).data;
    /* A plain grey root, so the cursor and drawings stand out. */
    uint32_t grey = 0x808080;
    xcb_change_window_attributes(conn, screen->root, XCB_CW_BACK_PIXEL, &grey);
    xcb_clear_area(conn, 0, screen->root, 0, 0, 0, 0);
    sync_x();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (conn)
        xcb_disconnect(conn);
    stop_xvfb();
    return 0;
}

/* --- injection ------------------------------------------------------------ */

static xcb_window_t make_window(uint32_t events)
{
    xcb_window_t w = xcb_generate_id(conn);
    uint32_t values[2] = {screen->white_pixel, events};
    xcb_create_window(conn, XCB_COPY_FROM_PARENT, w, screen->root, 0, 0, SCREEN_W, SCREEN_H, 0,
                      XCB_WINDOW_CLASS_INPUT_OUTPUT, screen->root_visual,
                      XCB_CW_BACK_PIXEL | XCB_CW_EVENT_MASK, values);
    xcb_map_window(conn, w);
    sync_x();
    xcb_set_input_focus(conn, XCB_INPUT_FOCUS_POINTER_ROOT, w, XCB_CURRENT_TIME);
    sync_x();
    return w;
}

static xcb_generic_event_t *next_event_of(uint8_t type)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        xcb_generic_event_t *ev;
        while ((ev = xcb_poll_for_event(conn)) != NULL) {
            if ((ev->response_type & 0x7f) == type)
                return ev;
            free(ev);
        }
        struct pollfd p = {.fd = xcb_get_file_descriptor(conn), .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0)
            return NULL;
    }
}

/* The keysym the server gives keycode kc with Shift in state or not. */
static uint32_t keysym_of(uint8_t kc, uint16_t state)
{
    xcb_get_keyboard_mapping_reply_t *r =
        xcb_get_keyboard_mapping_reply(conn, xcb_get_keyboard_mapping(conn, kc, 1), NULL);
    assert_non_null(r);
    const xcb_keysym_t *s = xcb_get_keyboard_mapping_keysyms(r);
    int col = (state & XCB_MOD_MASK_SHIFT) ? 1 : 0;
    uint32_t ks = r->keysyms_per_keycode > col ? s[col] : 0;
    if (col == 1 && ks == 0)
        ks = s[0];
    free(r);
    return ks;
}

static void plan_and_run(tdm_inject_planner *p, tdm_x11_injector *inj, const char *json)
{
    tdm_inject_plan plan;
    tdm_inject_result r = tdm_inject_plan_message(p, (const uint8_t *)json, strlen(json), &plan, NULL);
    if (r != TDM_INJECT_OK)
        fail_msg("%s: %s", json, tdm_inject_result_name(r));
    tdm_error err = {{0}};
    if (tdm_x11_injector_run(inj, &plan, &err) != TDM_OK)
        fail_msg("run: %s", err.msg);
    /* Another connection's requests are not ordered with ours: wait until
     * the server has done these before looking. */
    if (tdm_x11_injector_sync(inj, &err) != TDM_OK)
        fail_msg("sync: %s", err.msg);
}

static void injection_reaches_the_display(void **state)
{
    (void)state;
    tdm_x11_injector *inj = NULL;
    tdm_error err = {{0}};
    if (tdm_x11_injector_open(display_name, true, &inj, &err) != TDM_OK)
        fail_msg("injector: %s", err.msg);
    xcb_window_t w = make_window(XCB_EVENT_MASK_KEY_PRESS | XCB_EVENT_MASK_BUTTON_PRESS);
    tdm_inject_planner p;
    tdm_inject_planner_init(&p, tdm_x11_injector_keymap(inj), (tdm_rect){0, 0, SCREEN_W, SCREEN_H},
                            TDM_INJECT_ALLOW_ALL);

    plan_and_run(&p, inj, "{\"type\":\"pointer_move\",\"x\":0.25,\"y\":0.5}");
    sync_x();
    xcb_query_pointer_reply_t *qp = xcb_query_pointer_reply(conn, xcb_query_pointer(conn, screen->root), NULL);
    assert_non_null(qp);
    assert_int_equal(qp->root_x, 160); /* 0.25 * 639, rounded */
    assert_int_equal(qp->root_y, 240); /* 0.5 * 479, rounded */
    free(qp);

    plan_and_run(&p, inj, "{\"type\":\"pointer_button\",\"button\":2,\"down\":true,\"x\":0.5,\"y\":0.5}");
    plan_and_run(&p, inj, "{\"type\":\"pointer_button\",\"button\":2,\"down\":false,\"x\":0.5,\"y\":0.5}");
    xcb_button_press_event_t *bp = (xcb_button_press_event_t *)next_event_of(XCB_BUTTON_PRESS);
    assert_non_null(bp);
    assert_int_equal(bp->detail, 3);
    assert_int_equal(bp->event_x, 320);
    free(bp);

    /* "a", "A" (Shift from the keymap's column), "€" (not on the keyboard:
     * a spare keycode remapped). */
    const char *keys[] = {"a", "A", "\\u20ac", "\\u00e9"};
    const uint32_t want[] = {'a', 'A', 0x010020ac, 0xe9};
    for (size_t i = 0; i < 4; i++) {
        char json[96];
        snprintf(json, sizeof json, "{\"type\":\"key_down\",\"key\":\"%s\"}", keys[i]);
        plan_and_run(&p, inj, json);
        snprintf(json, sizeof json, "{\"type\":\"key_up\",\"key\":\"%s\"}", keys[i]);
        plan_and_run(&p, inj, json);
        xcb_key_press_event_t *kp = (xcb_key_press_event_t *)next_event_of(XCB_KEY_PRESS);
        assert_non_null(kp);
        /* Shift's own press comes first for "A": skip modifier keys. */
        while (kp && (keysym_of(kp->detail, 0) == 0xffe1)) {
            free(kp);
            kp = (xcb_key_press_event_t *)next_event_of(XCB_KEY_PRESS);
        }
        assert_non_null(kp);
        uint32_t got = keysym_of(kp->detail, kp->state);
        if (got != want[i])
            fail_msg("key %s: keycode %u state %#x gives keysym %#x, want %#x", keys[i], kp->detail,
                     kp->state, got, want[i]);
        free(kp);
    }
    /* The mapping changes (our REMAP) come back as MappingNotify; the
     * injector re-reads it. */
    unsigned chords = 0;
    bool remapped = false;
    for (int i = 0; i < 50 && !remapped; i++) {
        assert_int_equal(tdm_x11_injector_poll(inj, &chords, &remapped, &err), TDM_OK);
        if (!remapped)
            usleep(20000);
    }
    assert_true(remapped);

    /* The chord pressed on the display (XTEST from another client here,
     * as xdotool would) reaches the injector's grab, not the window. */
    uint8_t kc_ctrl = 0, kc_alt = 0, kc_shift = 0, kc_t = 0;
    const tdm_xkeymap *m = tdm_x11_injector_keymap(inj);
    for (unsigned kc = m->min_keycode; kc <= m->max_keycode; kc++) {
        uint32_t s = m->syms[(kc - m->min_keycode) * TDM_XKEYMAP_COLUMNS];
        if (s == 0xffe3 && !kc_ctrl) kc_ctrl = (uint8_t)kc;
        if (s == 0xffe9 && !kc_alt) kc_alt = (uint8_t)kc;
        if (s == 0xffe1 && !kc_shift) kc_shift = (uint8_t)kc;
        if (s == 't' && !kc_t) kc_t = (uint8_t)kc;
    }
    assert_true(kc_ctrl && kc_alt && kc_shift && kc_t);
    uint8_t seq[] = {kc_ctrl, kc_alt, kc_shift, kc_t};
    for (int i = 0; i < 4; i++)
        xcb_test_fake_input(conn, XCB_KEY_PRESS, seq[i], XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
    for (int i = 3; i >= 0; i--)
        xcb_test_fake_input(conn, XCB_KEY_RELEASE, seq[i], XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
    sync_x();
    unsigned seen = 0;
    for (int i = 0; i < 100 && !seen; i++) {
        assert_int_equal(tdm_x11_injector_poll(inj, &chords, &remapped, &err), TDM_OK);
        seen += chords;
        if (!seen)
            usleep(20000);
    }
    assert_int_equal(seen, 1);

    /* A second injector cannot grab the same chord: refused by name. */
    tdm_x11_injector *other = NULL;
    assert_int_not_equal(tdm_x11_injector_open(display_name, true, &other, &err), TDM_OK);
    assert_non_null(strstr(err.msg, "Ctrl+Alt+Shift+T"));

    xcb_destroy_window(conn, w);
    sync_x();
    /* The keycodes borrowed for € and é are empty again after close. */
    uint8_t borrowed[2] = {0, 0};
    for (unsigned kc = m->min_keycode, k = 0; kc <= m->max_keycode && k < 2; kc++) {
        uint32_t s0 = m->syms[(kc - m->min_keycode) * TDM_XKEYMAP_COLUMNS];
        if (s0 == 0x010020ac || s0 == 0xe9)
            borrowed[k++] = (uint8_t)kc;
    }
    assert_true(borrowed[0] && borrowed[1]);
    tdm_x11_injector_close(inj);
    sync_x();
    for (int k = 0; k < 2; k++)
        assert_int_equal(keysym_of(borrowed[k], 0), 0);
}

/* --- capture with the cursor ----------------------------------------------- */

static bool grey_at(const tdm_frame *f, int x, int y)
{
    const uint8_t *p = f->bgra.data + (size_t)y * (size_t)f->bgra.stride + (size_t)x * 4;
    return p[0] == 0x80 && p[1] == 0x80 && p[2] == 0x80;
}

static size_t non_grey_in(const tdm_frame *f, tdm_rect r)
{
    size_t n = 0;
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++)
            n += !grey_at(f, x, y);
    return n;
}

static void warp(int x, int y)
{
    xcb_warp_pointer(conn, XCB_NONE, screen->root, 0, 0, 0, 0, (int16_t)x, (int16_t)y);
    sync_x();
}

static void cursor_is_drawn_and_damaged(void **state)
{
    (void)state;
    warp(100, 100);
    tdm_x11_config cfg = {.display = display_name, .use_damage = true, .fps = 30, .draw_cursor = true};
    tdm_source *src = NULL;
    tdm_error err = {{0}};
    if (tdm_x11_open(&cfg, &src, &err) != TDM_OK)
        fail_msg("open: %s", err.msg);
    tdm_frame f;
    assert_int_equal(tdm_source_next(src, 0, &f, &err), TDM_OK);
    /* The root's cursor (an X) is drawn around the pointer. */
    assert_true(non_grey_in(&f, (tdm_rect){84, 84, 32, 32}) > 10);
    assert_int_equal(non_grey_in(&f, (tdm_rect){300, 300, 32, 32}), 0);

    /* Nothing moved: nothing damaged. */
    assert_int_equal(tdm_source_next(src, 1, &f, &err), TDM_OK);
    assert_true(f.damage_known);
    assert_int_equal(f.damage_count, 0);

    /* Only the cursor moves: its old and new rectangles, nothing else, and
     * the old place is screen again. */
    warp(400, 300);
    assert_int_equal(tdm_source_next(src, 2, &f, &err), TDM_OK);
    assert_true(f.damage_known);
    assert_int_equal(f.damage_count, 2);
    bool old_covered = false, new_covered = false;
    for (size_t i = 0; i < f.damage_count; i++) {
        tdm_rect r = f.damage[i];
        assert_true(r.w <= TDM_CURSOR_MAX && r.h <= TDM_CURSOR_MAX);
        old_covered |= r.x <= 100 && 100 < r.x + r.w && r.y <= 100 && 100 < r.y + r.h;
        new_covered |= r.x <= 400 && 400 < r.x + r.w && r.y <= 300 && 300 < r.y + r.h;
    }
    assert_true(old_covered);
    assert_true(new_covered);
    assert_int_equal(non_grey_in(&f, (tdm_rect){84, 84, 32, 32}), 0);
    assert_true(non_grey_in(&f, (tdm_rect){384, 284, 32, 32}) > 10);

    /* Without the cursor option, the pixels are the screen's alone. */
    tdm_source_close(src);
    cfg.draw_cursor = false;
    assert_int_equal(tdm_x11_open(&cfg, &src, &err), TDM_OK);
    assert_int_equal(tdm_source_next(src, 0, &f, &err), TDM_OK);
    assert_int_equal(non_grey_in(&f, (tdm_rect){384, 284, 32, 32}), 0);
    tdm_source_close(src);
}

/* --- monitors ---------------------------------------------------------------- */

static xcb_atom_t atom(const char *name)
{
    xcb_intern_atom_reply_t *r =
        xcb_intern_atom_reply(conn, xcb_intern_atom(conn, 0, (uint16_t)strlen(name), name), NULL);
    xcb_atom_t a = r ? r->atom : XCB_NONE;
    free(r);
    return a;
}

/* RRSetMonitor, written out by hand: libxcb-randr's serializer for it
 * trips an assertion on the request length. */
static void define_monitor(const char *name, int x, int y, int w, int h)
{
    uint8_t req[8 + sizeof(xcb_randr_monitor_info_t)];
    memset(req, 0, sizeof req);
    uint32_t root = screen->root;
    memcpy(req + 4, &root, 4);
    xcb_randr_monitor_info_t mi = {.name = atom(name),
                                   .x = (int16_t)x,
                                   .y = (int16_t)y,
                                   .width = (uint16_t)w,
                                   .height = (uint16_t)h,
                                   .width_in_millimeters = (uint32_t)w / 4,
                                   .height_in_millimeters = (uint32_t)h / 4};
    memcpy(req + 8, &mi, sizeof mi);
    struct iovec iov[3];
    iov[2].iov_base = req;
    iov[2].iov_len = sizeof req;
    xcb_protocol_request_t pr = {.count = 1, .ext = &xcb_randr_id, .opcode = XCB_RANDR_SET_MONITOR,
                                 .isvoid = 1};
    xcb_void_cookie_t ck = {xcb_send_request(conn, XCB_REQUEST_CHECKED, iov + 2, &pr)};
    xcb_generic_error_t *e = xcb_request_check(conn, ck);
    if (e)
        fail_msg("RRSetMonitor %s: X error %u", name, e->error_code);
}

static void monitors_are_listed_and_chosen(void **state)
{
    (void)state;
    xcb_randr_query_version_reply_t *v =
        xcb_randr_query_version_reply(conn, xcb_randr_query_version(conn, 1, 5), NULL);
    if (!v || (v->major_version == 1 && v->minor_version < 5)) {
        free(v);
        skip(); /* no RandR 1.5 on this server */
    }
    free(v);
    define_monitor("LEFT-1", 0, 0, 320, 480);
    define_monitor("RIGHT-1", 320, 0, 320, 480);
    tdm_x11_monitor mons[TDM_X11_MAX_MONITORS];
    size_t n = 0;
    tdm_error err = {{0}};
    assert_int_equal(tdm_x11_list_monitors(display_name, mons, TDM_X11_MAX_MONITORS, &n, &err), TDM_OK);
    int right = -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(mons[i].name, "RIGHT-1") == 0)
            right = (int)i;
    assert_true(right >= 0);
    assert_int_equal(mons[right].area.x, 320);
    assert_int_equal(mons[right].area.w, 320);

    /* A black square at root (400, 40): at (80, 40) of the right monitor. */
    xcb_gcontext_t gc = xcb_generate_id(conn);
    uint32_t black = screen->black_pixel;
    xcb_create_gc(conn, gc, screen->root, XCB_GC_FOREGROUND, &black);
    xcb_rectangle_t sq = {400, 40, 20, 20};
    xcb_poly_fill_rectangle(conn, screen->root, gc, 1, &sq);
    warp(10, 400); /* the cursor stays on the left monitor */
    char index[8];
    snprintf(index, sizeof index, "%d", right);
    const char *sel[] = {"RIGHT-1", index};
    for (int k = 0; k < 2; k++) {
        tdm_x11_config cfg = {.display = display_name, .use_damage = true, .fps = 30,
                              .monitor = sel[k], .draw_cursor = true};
        tdm_source *src = NULL;
        if (tdm_x11_open(&cfg, &src, &err) != TDM_OK)
            fail_msg("open monitor %s: %s", sel[k], err.msg);
        assert_int_equal(src->width, 320);
        assert_int_equal(src->height, 480);
        tdm_rect area;
        assert_true(tdm_x11_area(src, &area));
        assert_int_equal(area.x, 320);
        tdm_frame f;
        assert_int_equal(tdm_source_next(src, 0, &f, &err), TDM_OK);
        assert_false(grey_at(&f, 85, 45));
        assert_true(grey_at(&f, 75, 45));
        /* Drawing on the left monitor is not this one's damage. */
        xcb_rectangle_t left = {100, 100, 10, 10};
        xcb_poly_fill_rectangle(conn, screen->root, gc, 1, &left);
        sync_x();
        assert_int_equal(tdm_source_next(src, 1, &f, &err), TDM_OK);
        assert_true(f.damage_known);
        assert_int_equal(f.damage_count, 0);
        tdm_source_close(src);
    }
    tdm_source *src = NULL;
    tdm_x11_config bad = {.display = display_name, .monitor = "HDMI-9"};
    assert_int_not_equal(tdm_x11_open(&bad, &src, &err), TDM_OK);
    assert_non_null(strstr(err.msg, "RIGHT-1"));
    xcb_free_gc(conn, gc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(injection_reaches_the_display),
        cmocka_unit_test(cursor_is_drawn_and_damaged),
        cmocka_unit_test(monitors_are_listed_and_chosen),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
