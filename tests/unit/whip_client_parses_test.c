/* whip_client_parses_test: the sans-IO half of clients/whip_client — relay
 * URLs (IPv4, [IPv6], localhost, default port, refusals with a reason),
 * Location resolution (same relay only), and HTTP/1.1 responses (status,
 * headers in any case, Content-Length, bodies that run to the end, partial
 * input asks for more, garbage is refused). The blocking HTTP exchange is
 * checked against a refused port on 127.0.0.1, which must fail fast with
 * a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "whip_client.h"

static void url_accepts_relay_urls(void **state)
{
    (void)state;
    tdm_client_url u;
    tdm_error err = {{0}};
    assert_int_equal(tdm_client_url_parse("http://127.0.0.1:8080/whip/demo", &u, &err), TDM_OK);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/whip/demo");
    assert_string_equal(u.session, "demo");
    assert_int_equal(u.kind, TDM_CLIENT_PUBLISH);

    assert_int_equal(tdm_client_url_parse("http://[::1]:9/whep/s-1/?x=1", &u, &err), TDM_OK);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 9);
    assert_string_equal(u.path, "/whep/s-1");
    assert_string_equal(u.session, "s-1");
    assert_int_equal(u.kind, TDM_CLIENT_SUBSCRIBE);

    assert_int_equal(tdm_client_url_parse("http://localhost/whep/x", &u, &err), TDM_OK);
    assert_int_equal(u.port, 80);
    assert_string_equal(u.host, "localhost");
}

static void url_refuses_with_a_reason(void **state)
{
    (void)state;
    static const struct {
        const char *url, *needle;
    } bad[] = {
        {"https://127.0.0.1/whip/a", "https"},
        {"ftp://127.0.0.1/whip/a", "http://"},
        {"http://relay.example.com/whip/a", "numeric"},
        {"http://127.0.0.1:0/whip/a", "port"},
        {"http://127.0.0.1:70000/whip/a", "port"},
        {"http://127.0.0.1:80x/whip/a", "port"},
        {"http://127.0.0.1/whip/", "no session"},
        {"http://127.0.0.1/whip/a/b", "contains '/'"},
        {"http://127.0.0.1/api/a", "neither"},
        {"http://127.0.0.1", "no path"},
        {"http://[::1/whip/a", "']'"},
        {"http://[nonsense]/whip/a", "numeric"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tdm_client_url u;
        tdm_error err = {{0}};
        assert_int_equal(tdm_client_url_parse(bad[i].url, &u, &err), TDM_ERR_FORMAT);
        if (!strstr(err.msg, bad[i].needle))
            fail_msg("%s: message '%s' lacks '%s'", bad[i].url, err.msg, bad[i].needle);
    }
}

static void location_stays_on_the_relay(void **state)
{
    (void)state;
    tdm_client_url u;
    tdm_error err = {{0}};
    char path[TDM_CLIENT_PATH_MAX];
    assert_int_equal(tdm_client_url_parse("http://127.0.0.1:8080/whip/demo", &u, &err), TDM_OK);
    assert_int_equal(tdm_client_location_resolve(&u, "/whip/demo/abc", path, &err), TDM_OK);
    assert_string_equal(path, "/whip/demo/abc");
    assert_int_equal(
        tdm_client_location_resolve(&u, "http://127.0.0.1:8080/whip/demo/r", path, &err), TDM_OK);
    assert_string_equal(path, "/whip/demo/r");
    assert_int_equal(
        tdm_client_location_resolve(&u, "http://10.0.0.1:8080/whip/demo/r", path, &err),
        TDM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "not on the relay"));
    assert_int_equal(tdm_client_location_resolve(&u, "abc", path, &err), TDM_ERR_FORMAT);
}

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static void response_reads_status_headers_body(void **state)
{
    (void)state;
    tdm_client_response r;
    tdm_error err = {{0}};
    static const char created[] = "HTTP/1.1 201 Created\r\n"
                                  "location: /whip/demo/0123\r\n"
                                  "CONTENT-TYPE:  application/sdp \r\n"
                                  "Content-Length: 5\r\n"
                                  "\r\n"
                                  "v=0\r\nEXTRA";
    assert_int_equal(tdm_client_response_parse(S(created), &r, &err), TDM_OK);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.reason, "Created");
    assert_string_equal(r.location, "/whip/demo/0123");
    assert_string_equal(r.content_type, "application/sdp");
    assert_true(r.has_content_length);
    assert_int_equal(r.body_len, 5);
    assert_memory_equal(r.body, "v=0\r\n", 5);

    /* No Content-Length: the body is whatever came before the close. */
    static const char refused[] = "HTTP/1.1 401 Unauthorized\r\n"
                                  "Content-Type: text/plain; charset=utf-8\r\n"
                                  "\r\n"
                                  "token expired\nmore\n";
    assert_int_equal(tdm_client_response_parse(S(refused), &r, &err), TDM_OK);
    assert_int_equal(r.status, 401);
    assert_false(r.has_content_length);
    char why[64];
    tdm_client_response_reason_text(&r, why, sizeof why);
    assert_string_equal(why, "token expired");
    tdm_client_response_reason_text(&r, why, 6);
    assert_string_equal(why, "token");
}

static void response_asks_for_more_or_refuses(void **state)
{
    (void)state;
    tdm_client_response r;
    tdm_error err = {{0}};
    assert_int_equal(tdm_client_response_parse(S(""), &r, &err), TDM_AGAIN);
    assert_int_equal(tdm_client_response_parse(S("HTTP/1.1 200 OK\r\nContent-Le"), &r, &err),
                     TDM_AGAIN);
    assert_int_equal(tdm_client_response_parse(S("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
                                                 "short"),
                                               &r, &err),
                     TDM_AGAIN);
    assert_int_equal(tdm_client_response_parse(S("SSH-2.0-OpenSSH\r\n\r\n"), &r, &err),
                     TDM_ERR_FORMAT);
    assert_int_equal(tdm_client_response_parse(S("HTTP/1.1 2x0 OK\r\n\r\n"), &r, &err),
                     TDM_ERR_FORMAT);
    assert_int_equal(tdm_client_response_parse(S("HTTP/1.1 200 OK\r\nno colon\r\n\r\n"), &r, &err),
                     TDM_ERR_FORMAT);
    assert_int_equal(
        tdm_client_response_parse(S("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), &r, &err),
        TDM_ERR_FORMAT);
    assert_int_equal(tdm_client_response_parse(
                         S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), &r, &err),
                     TDM_ERR_UNSUPPORTED);
    /* Bare LF line ends are taken too. */
    assert_int_equal(tdm_client_response_parse(S("HTTP/1.0 204 No Content\n\n"), &r, &err), TDM_OK);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body_len, 0);
}

static void http_to_a_closed_port_fails_fast(void **state)
{
    (void)state;
    /* Bind a port and close it again: nothing listens there now. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    char url_text[64];
    snprintf(url_text, sizeof url_text, "http://127.0.0.1:%u/whip/x", ntohs(a.sin_port));
    tdm_client_url u;
    tdm_error err = {{0}};
    assert_int_equal(tdm_client_url_parse(url_text, &u, &err), TDM_OK);
    tdm_client_reply reply;
    uint64_t t0 = tdm_client_now_us();
    assert_int_equal(tdm_client_http(&u, "POST", u.path, "tok", "application/sdp",
                                     (const uint8_t *)"v=0\r\n", 5, 2000, &reply, &err),
                     TDM_ERR_UNAVAILABLE);
    assert_true(tdm_client_now_us() - t0 < 1500000u);
    assert_non_null(strstr(err.msg, "cannot connect"));
    assert_non_null(strstr(err.msg, "refused"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_accepts_relay_urls),
        cmocka_unit_test(url_refuses_with_a_reason),
        cmocka_unit_test(location_stays_on_the_relay),
        cmocka_unit_test(response_reads_status_headers_body),
        cmocka_unit_test(response_asks_for_more_or_refuses),
        cmocka_unit_test(http_to_a_closed_port_fails_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
