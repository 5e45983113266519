/* signal_serve_static_test: URL path to web-root file (signaling/
 * tdm_sig_static.h), sans-IO: "/" and directories get index.html; "..",
 * percent-escaped dots and slashes, dot-files, "//", backslashes and NUL are
 * refused; content types by extension; the under-root check does not take a
 * sibling with the root's name as a prefix. (A unit test named with the
 * service's tests.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tdm_sig_static.h"

static void maps_pages(void **state)
{
    (void)state;
    char out[256];
    assert_true(tdm_sig_static_map("/srv/web", "/", out, sizeof out));
    assert_string_equal(out, "/srv/web/index.html");
    assert_true(tdm_sig_static_map("/srv/web", "/js/app.js", out, sizeof out));
    assert_string_equal(out, "/srv/web/js/app.js");
    assert_true(tdm_sig_static_map("/srv/web", "/docs/", out, sizeof out));
    assert_string_equal(out, "/srv/web/docs/index.html");
    assert_true(tdm_sig_static_map("/srv/web", "/a%20b.html", out, sizeof out));
    assert_string_equal(out, "/srv/web/a b.html");
    assert_false(tdm_sig_static_map("/srv/web", "/index.html", out, 10)); /* does not fit */
}

static void refuses_escapes(void **state)
{
    (void)state;
    char out[256];
    const char *bad[] = {"/../etc/passwd", "/a/../../x",   "/%2e%2e/x",   "/%2E%2E%2Fx",
                         "/.git/config",   "/a/.env",      "//etc/passwd", "/a\\..\\b",
                         "/a%00.html",     "/a%5c..%5cb",  "relative",     "/%zz",
                         "/a/%2e/b",       "/..",          ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (tdm_sig_static_map("/srv/web", bad[i], out, sizeof out))
            fail_msg("accepted %s as %s", bad[i], out);
}

static void content_types(void **state)
{
    (void)state;
    assert_string_equal(tdm_sig_static_mime("/x/index.html"), "text/html; charset=utf-8");
    assert_string_equal(tdm_sig_static_mime("/x/app.JS"), "text/javascript; charset=utf-8");
    assert_string_equal(tdm_sig_static_mime("/x/s.css"), "text/css; charset=utf-8");
    assert_string_equal(tdm_sig_static_mime("/x/i.svg"), "image/svg+xml");
    assert_string_equal(tdm_sig_static_mime("/x.d/noext"), "application/octet-stream");
}

static void under_root(void **state)
{
    (void)state;
    assert_true(tdm_sig_static_under("/srv/web", "/srv/web/index.html"));
    assert_true(tdm_sig_static_under("/srv/web/", "/srv/web/a/b"));
    assert_false(tdm_sig_static_under("/srv/web", "/srv/web2/index.html"));
    assert_false(tdm_sig_static_under("/srv/web", "/srv/secret"));
    assert_false(tdm_sig_static_under("/srv/web", "/srv/web"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(maps_pages),
        cmocka_unit_test(refuses_escapes),
        cmocka_unit_test(content_types),
        cmocka_unit_test(under_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
