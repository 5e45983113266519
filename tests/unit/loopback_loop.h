/* loopback_loop.h: runs a test's GMainContext until a condition holds or a
 * deadline passes, for the ICE and peer tests over 127.0.0.1. No sleeps: a
 * timeout source at the deadline guarantees the blocking iteration wakes
 * up even if nothing else happens. Header-only so each test stays one .c. */
#ifndef LOOPBACK_LOOP_H
#define LOOPBACK_LOOP_H

#include <glib.h>
#include <stdbool.h>
#include <string.h>

static gboolean loopback_wake(gpointer unused)
{
    (void)unused;
    return G_SOURCE_CONTINUE;
}

/* Iterates ctx until done(arg) or timeout_ms passed; returns done(arg). */
static bool loopback_run_until(GMainContext *ctx, bool (*done)(void *), void *arg,
                               unsigned timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    GSource *wake = g_timeout_source_new(timeout_ms);
    g_source_set_callback(wake, loopback_wake, NULL, NULL);
    g_source_attach(wake, ctx);
    while (!done(arg) && g_get_monotonic_time() < deadline)
        g_main_context_iteration(ctx, TRUE);
    g_source_destroy(wake);
    g_source_unref(wake);
    return done(arg);
}

/* Lets ctx dispatch what is already due (sources libnice leaves behind when
 * an agent is freed), without blocking. */
static void loopback_drain(GMainContext *ctx)
{
    for (int i = 0; i < 100 && g_main_context_iteration(ctx, FALSE); i++)
        ;
}

/* True if a candidate attribute ("candidate:f c transport prio ADDR port
 * typ ...") has exactly this connection address. */
static bool loopback_candidate_address_is(const char *cand, const char *addr)
{
    const char *p = strchr(cand, ':');
    if (!p)
        return false;
    p++;
    for (int field = 0; field < 4; field++) {
        p += strspn(p, " ");
        p += strcspn(p, " ");
    }
    p += strspn(p, " ");
    size_t n = strcspn(p, " ");
    return n == strlen(addr) && strncmp(p, addr, n) == 0;
}

#endif
