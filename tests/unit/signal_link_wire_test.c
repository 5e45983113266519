/* signal_link_wire_test: the sans-IO parsers of clients/signal_link_wire.h
 * with plain calls — base URLs, HTTP response heads, chunked bodies,
 * WebSocket accept keys (RFC 6455's own example) and frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "signal_link_wire.h"

static void url_forms(void **state)
{
    (void)state;
    tdm_link_url u;
    assert_int_equal(tdm_link_url_parse("http://127.0.0.1:8443", &u, NULL), TDM_OK);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8443);
    assert_string_equal(u.prefix, "");
    assert_int_equal(tdm_link_url_parse("HTTP://signal.example/", &u, NULL), TDM_OK);
    assert_string_equal(u.host, "signal.example");
    assert_int_equal(u.port, 80);
    assert_string_equal(u.prefix, "");
    assert_int_equal(tdm_link_url_parse("http://[::1]:9/tandem//", &u, NULL), TDM_OK);
    assert_string_equal(u.host, "::1");
    assert_true(u.ipv6_literal);
    assert_int_equal(u.port, 9);
    assert_string_equal(u.prefix, "/tandem");
    assert_int_equal(tdm_link_url_parse("http://h:65535", &u, NULL), TDM_OK);

    const char *bad[] = {NULL, "", "http://", "http://:1", "http://h:", "http://h:65536",
                         "http://h:-1", "http://h:1a", "http://[::1]x", "http://[::1",
                         "http://h#f", "http://h/p?q", "http://a@h", "ws://h",
                         "http://h\x01", "http://h/\x7f", "http://h h"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tdm_error err = {{0}};
        assert_true(tdm_link_url_parse(bad[i], &u, &err) < 0);
        assert_true(err.msg[0] != '\0');
    }
    assert_int_equal(tdm_link_url_parse("https://h", &u, NULL), TDM_ERR_UNSUPPORTED);
}

static tdm_status head(const char *s, tdm_http_head *h)
{
    return tdm_http_head_parse((const uint8_t *)s, strlen(s), h, NULL);
}

static void http_heads(void **state)
{
    (void)state;
    tdm_http_head h;
    const char *ok = "HTTP/1.1 201 Created\r\ncontent-length:  12 \r\nX-A: b\r\n\r\n{\"a\":\"bcd\"}";
    assert_int_equal(head(ok, &h), TDM_OK);
    assert_int_equal(h.status, 201);
    assert_int_equal(h.content_length, 12);
    assert_int_equal(h.head_len, strstr(ok, "{") - ok);
    assert_false(h.chunked);

    assert_int_equal(head("HTTP/1.1 200", &h), TDM_AGAIN);
    assert_int_equal(head("HTT", &h), TDM_AGAIN);
    assert_int_equal(head("SSH-2.0", &h), TDM_ERR_FORMAT);
    assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", &h),
                     TDM_ERR_FORMAT);
    assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", &h),
                     TDM_OK);
    assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n", &h), TDM_ERR_FORMAT);
    assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999\r\n\r\n", &h),
                     TDM_ERR_FORMAT);
    assert_int_equal(head("HTTP/1.1 2x0 OK\r\n\r\n", &h), TDM_ERR_FORMAT);
    assert_int_equal(head("HTTP/1.1 099 OK\r\n\r\n", &h), TDM_ERR_FORMAT);
    assert_int_equal(head("HTTP/2.0 200 OK\r\n\r\n", &h), TDM_ERR_FORMAT);
    assert_int_equal(head("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", &h), TDM_ERR_FORMAT);
    assert_int_equal(head("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", &h), TDM_ERR_FORMAT);
    assert_int_equal(head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", &h),
                     TDM_ERR_FORMAT);
    assert_int_equal(head("HTTP/1.0 204\r\n\r\n", &h), TDM_OK);
    assert_int_equal(h.status, 204);
    assert_int_equal(h.content_length, -1);

    assert_int_equal(head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                          &h),
                     TDM_OK);
    assert_true(h.chunked);
    assert_int_equal(h.content_length, -1);

    assert_int_equal(head("HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n"
                          "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: abc= \r\n"
                          "Sec-WebSocket-Protocol: tandem-v1\r\n\r\n",
                          &h),
                     TDM_OK);
    assert_true(h.upgrade_websocket);
    assert_true(h.connection_upgrade);
    assert_string_equal(h.ws_accept, "abc=");
    assert_string_equal(h.ws_protocol, "tandem-v1");

    /* An endless head is refused, not buffered forever. */
    static uint8_t big[20000];
    memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
    memset(big + 17, 'a', sizeof big - 17);
    assert_int_equal(tdm_http_head_parse(big, sizeof big, &h, NULL), TDM_ERR_FORMAT);
}

static tdm_status dechunk(const char *s, char *out, size_t *out_len, size_t max)
{
    size_t n = strlen(s);
    memcpy(out, s, n + 1);
    return tdm_http_dechunk((uint8_t *)out, n, max, out_len, NULL);
}

static void chunked_bodies(void **state)
{
    (void)state;
    char b[256];
    size_t n = 0;
    assert_int_equal(dechunk("3\r\nabc\r\nA;x=y\r\n0123456789\r\n0\r\n\r\n", b, &n, 100), TDM_OK);
    assert_int_equal(n, 13);
    assert_memory_equal(b, "abc0123456789", 13);
    assert_int_equal(dechunk("0\r\nTrailer: x\r\n\r\n", b, &n, 100), TDM_OK);
    assert_int_equal(n, 0);
    /* Incomplete at every cut, and the bytes are left as they were. */
    const char *full = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    for (size_t cut = 0; cut < strlen(full); cut++) {
        char in[64];
        memcpy(in, full, cut);
        assert_int_equal(tdm_http_dechunk((uint8_t *)in, cut, 100, &n, NULL), TDM_AGAIN);
        assert_memory_equal(in, full, cut);
    }
    assert_int_equal(dechunk("zz\r\n", b, &n, 100), TDM_ERR_FORMAT);
    assert_int_equal(dechunk("3\r\nabcX\r\n", b, &n, 100), TDM_ERR_FORMAT);
    assert_int_equal(dechunk("3\nabc", b, &n, 100), TDM_ERR_FORMAT);
    assert_int_equal(dechunk("ffffffffffffffff\r\n", b, &n, 100), TDM_ERR_FORMAT);
    assert_int_equal(dechunk("65\r\n", b, &n, 100), TDM_ERR_RANGE);
}

static void ws_accept_rfc_example(void **state)
{
    (void)state;
    char acc[29];
    /* RFC 6455 section 1.3 */
    tdm_ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc);
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void ws_frames(void **state)
{
    (void)state;
    tdm_ws_frame f;
    const uint8_t hello[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
    assert_int_equal(tdm_ws_frame_parse(hello, sizeof hello, 1000, &f, NULL), TDM_OK);
    assert_true(f.fin);
    assert_int_equal(f.opcode, TDM_WS_OP_TEXT);
    assert_int_equal(f.header_len, 2);
    assert_int_equal(f.payload_len, 5);
    assert_int_equal(tdm_ws_frame_parse(hello, 1, 1000, &f, NULL), TDM_AGAIN);

    const uint8_t len16[] = {0x01, 126, 0x01, 0x00};
    assert_int_equal(tdm_ws_frame_parse(len16, 3, 1000, &f, NULL), TDM_AGAIN);
    assert_int_equal(tdm_ws_frame_parse(len16, 4, 1000, &f, NULL), TDM_OK);
    assert_false(f.fin);
    assert_int_equal(f.payload_len, 256);
    assert_int_equal(f.header_len, 4);
    assert_int_equal(tdm_ws_frame_parse(len16, 4, 255, &f, NULL), TDM_ERR_RANGE);

    const uint8_t len64[] = {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0};
    assert_int_equal(tdm_ws_frame_parse(len64, 9, 1u << 20, &f, NULL), TDM_AGAIN);
    assert_int_equal(tdm_ws_frame_parse(len64, 10, 1u << 20, &f, NULL), TDM_OK);
    assert_int_equal(f.payload_len, 65536);
    assert_int_equal(f.header_len, 10);

    const uint8_t bad[][10] = {
        {0xC1, 0x00},                       /* RSV1 */
        {0x83, 0x00},                       /* reserved opcode */
        {0x81, 0x80, 1, 2, 3, 4},           /* masked from a server */
        {0x09, 0x00},                       /* fragmented ping */
        {0x89, 126, 0, 126},                /* control frame over 125 */
        {0x81, 126, 0, 5},                  /* non-minimal 16-bit */
        {0x81, 127, 0, 0, 0, 0, 0, 0, 1, 0},/* non-minimal 64-bit */
        {0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(tdm_ws_frame_parse(bad[i], 10, (uint64_t)1 << 62, &f, NULL),
                         TDM_ERR_FORMAT);

    /* Our own client frames: header forms and masking round trip. */
    uint8_t out[14 + 300];
    const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = tdm_ws_frame_header(out, TDM_WS_OP_TEXT, 5, key);
    assert_int_equal(h, 6);
    assert_int_equal(out[0], 0x81);
    assert_int_equal(out[1], 0x85);
    memcpy(out + h, "Hello", 5);
    tdm_ws_mask(out + h, 5, key, 0);
    /* RFC 6455 5.7: a masked "Hello" */
    const uint8_t rfc[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    assert_memory_equal(out, rfc, sizeof rfc);
    assert_int_equal(tdm_ws_frame_header(out, TDM_WS_OP_TEXT, 300, key), 8);
    assert_int_equal(out[1], 0x80 | 126);
    assert_int_equal(tdm_ws_frame_header(out, TDM_WS_OP_BINARY, 70000, key), 14);
    assert_int_equal(out[1], 0x80 | 127);

    int code;
    assert_true(tdm_ws_close_code((const uint8_t *)"", 0, &code));
    assert_int_equal(code, 1005);
    assert_true(tdm_ws_close_code((const uint8_t[]){0x0f, 0xa3}, 2, &code));
    assert_int_equal(code, 4003);
    assert_false(tdm_ws_close_code((const uint8_t[]){0x03}, 1, &code));
    assert_false(tdm_ws_close_code((const uint8_t[]){0x03, 0xee}, 2, &code)); /* 1006 */
    assert_false(tdm_ws_close_code((const uint8_t[]){0x03, 0xe7}, 2, &code)); /* 999 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(url_forms),           cmocka_unit_test(http_heads),
        cmocka_unit_test(chunked_bodies),      cmocka_unit_test(ws_accept_rfc_example),
        cmocka_unit_test(ws_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
