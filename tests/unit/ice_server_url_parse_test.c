/* ice_server_url_parse_test: the clients' --ice-server URLs (RFC 7064,
 * RFC 7065) and the checks over the --ice-* options together. URLs: stun:
 * and turn: with IPv4, [IPv6] and host names, the default port 3478,
 * ?transport=udp|tcp; refusals name the fault (other schemes, TLS, "//",
 * user info, bad ports and queries). Options: one stun: and
 * TDM_ICE_MAX_TURN turn: servers at most, TURN needs both credentials and
 * credentials need TURN, policy all|relay. Resolution is checked only for
 * numeric hosts (left alone) and "localhost" (/etc/hosts, no DNS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sys/socket.h>

#include <cmocka.h>

#include "whip_client.h"

static void parses_stun_and_turn(void **state)
{
    (void)state;
    tdm_client_ice_server s;
    tdm_error err = {{0}};

    assert_int_equal(tdm_client_ice_server_parse("stun:100.64.0.10", &s, &err), TDM_OK);
    assert_int_equal(s.scheme, TDM_CLIENT_ICE_STUN);
    assert_string_equal(s.host, "100.64.0.10");
    assert_false(s.host_is_name);
    assert_int_equal(s.port, 3478);

    assert_int_equal(tdm_client_ice_server_parse("STUN:10.0.0.1:19302", &s, &err), TDM_OK);
    assert_int_equal(s.scheme, TDM_CLIENT_ICE_STUN);
    assert_int_equal(s.port, 19302);

    assert_int_equal(tdm_client_ice_server_parse("turn:100.64.0.10:3479", &s, &err), TDM_OK);
    assert_int_equal(s.scheme, TDM_CLIENT_ICE_TURN);
    assert_int_equal(s.port, 3479);
    assert_int_equal(s.transport, TDM_ICE_TURN_UDP);

    assert_int_equal(tdm_client_ice_server_parse("turn:100.64.0.10?transport=tcp", &s, &err),
                     TDM_OK);
    assert_int_equal(s.port, 3478);
    assert_int_equal(s.transport, TDM_ICE_TURN_TCP);

    assert_int_equal(tdm_client_ice_server_parse("turn:[2001:db8::1]:5349?transport=udp", &s, &err),
                     TDM_OK);
    assert_string_equal(s.host, "2001:db8::1");
    assert_false(s.host_is_name);
    assert_int_equal(s.port, 5349);
    assert_int_equal(s.transport, TDM_ICE_TURN_UDP);

    assert_int_equal(tdm_client_ice_server_parse("turn:turn.example.com", &s, &err), TDM_OK);
    assert_string_equal(s.host, "turn.example.com");
    assert_true(s.host_is_name);
}

static void refuses_with_a_reason(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        tdm_status st;
        const char *needle;
    } bad[] = {
        {"", TDM_ERR_FORMAT, "stun: or turn:"},
        {"http://100.64.0.10", TDM_ERR_FORMAT, "stun: or turn:"},
        {"stun100.64.0.10", TDM_ERR_FORMAT, "stun: or turn:"},
        {"stuns:100.64.0.10", TDM_ERR_UNSUPPORTED, "TLS"},
        {"turns:100.64.0.10", TDM_ERR_UNSUPPORTED, "TLS"},
        {"stun://100.64.0.10", TDM_ERR_FORMAT, "'//'"},
        {"turn:user:pw@100.64.0.10", TDM_ERR_FORMAT, "--ice-username"},
        {"stun:", TDM_ERR_FORMAT, "no host"},
        {"stun::3478", TDM_ERR_FORMAT, "no host"},
        {"stun:100.64.0.10:", TDM_ERR_FORMAT, "port"},
        {"stun:100.64.0.10:0", TDM_ERR_FORMAT, "port"},
        {"stun:100.64.0.10:65536", TDM_ERR_FORMAT, "port"},
        {"stun:100.64.0.10:34x", TDM_ERR_FORMAT, "port"},
        {"stun:[2001:db8::1", TDM_ERR_FORMAT, "']'"},
        {"stun:[not-v6]", TDM_ERR_FORMAT, "IPv6"},
        {"stun:bad_name", TDM_ERR_FORMAT, "host name"},
        {"stun:-lead.example", TDM_ERR_FORMAT, "host name"},
        {"stun:a..b", TDM_ERR_FORMAT, "host name"},
        {"stun:100.64.0.10?transport=udp", TDM_ERR_UNSUPPORTED, "no query"},
        {"turn:100.64.0.10?transport=tls", TDM_ERR_FORMAT, "transport=tcp"},
        {"turn:100.64.0.10?transport=", TDM_ERR_FORMAT, "transport=tcp"},
        {"turn:100.64.0.10?foo=bar", TDM_ERR_FORMAT, "transport=tcp"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tdm_client_ice_server s;
        tdm_error err = {{0}};
        tdm_status st = tdm_client_ice_server_parse(bad[i].url, &s, &err);
        if (st != bad[i].st)
            fail_msg("'%s': status %d, want %d", bad[i].url, st, bad[i].st);
        if (!strstr(err.msg, bad[i].needle))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].url, err.msg, bad[i].needle);
    }
    tdm_client_ice_server s;
    assert_int_equal(tdm_client_ice_server_parse(NULL, &s, NULL), TDM_ERR_INVALID);
}

static void resolves_names_only(void **state)
{
    (void)state;
    tdm_client_ice_server s;
    tdm_error err = {{0}};
    assert_int_equal(tdm_client_ice_server_parse("stun:100.64.0.10", &s, &err), TDM_OK);
    assert_int_equal(tdm_client_ice_server_resolve(&s, AF_INET, &err), TDM_OK);
    assert_string_equal(s.host, "100.64.0.10");

    assert_int_equal(tdm_client_ice_server_parse("turn:localhost:3479", &s, &err), TDM_OK);
    assert_true(s.host_is_name);
    assert_int_equal(tdm_client_ice_server_resolve(&s, AF_INET, &err), TDM_OK);
    assert_false(s.host_is_name);
    assert_string_equal(s.host, "127.0.0.1");
    assert_int_equal(s.port, 3479);
}

static void options_limit_servers(void **state)
{
    (void)state;
    tdm_client_ice_options o = {0};
    tdm_error err = {{0}};
    assert_int_equal(tdm_client_ice_options_add_server(&o, "stun:100.64.0.10", &err), TDM_OK);
    assert_int_equal(tdm_client_ice_options_add_server(&o, "stun:100.64.0.11", &err),
                     TDM_ERR_RANGE);
    assert_non_null(strstr(err.msg, "one stun"));
    for (int i = 0; i < TDM_ICE_MAX_TURN; i++)
        assert_int_equal(tdm_client_ice_options_add_server(&o, "turn:100.64.0.10", &err), TDM_OK);
    assert_int_equal(tdm_client_ice_options_add_server(&o, "turn:100.64.0.10", &err),
                     TDM_ERR_RANGE);
    assert_int_equal(o.n_servers, 1 + TDM_ICE_MAX_TURN);
    /* A refused URL adds nothing. */
    assert_int_equal(tdm_client_ice_options_add_server(&o, "ftp:x", &err), TDM_ERR_FORMAT);
    assert_int_equal(o.n_servers, 1 + TDM_ICE_MAX_TURN);
}

static void options_check_credentials_and_policy(void **state)
{
    (void)state;
    tdm_client_ice_options o = {0};
    tdm_error err = {{0}};
    assert_int_equal(tdm_client_ice_options_check(&o, &err), TDM_OK); /* nothing: host only */

    o.username = "u";
    assert_int_equal(tdm_client_ice_options_check(&o, &err), TDM_ERR_INVALID);
    assert_non_null(strstr(err.msg, "turn:"));

    assert_int_equal(tdm_client_ice_options_add_server(&o, "turn:100.64.0.10", &err), TDM_OK);
    assert_int_equal(tdm_client_ice_options_check(&o, &err), TDM_ERR_INVALID);
    assert_non_null(strstr(err.msg, "--ice-credential"));
    o.credential = "";
    assert_int_equal(tdm_client_ice_options_check(&o, &err), TDM_ERR_INVALID);
    o.credential = "p";
    assert_int_equal(tdm_client_ice_options_check(&o, &err), TDM_OK);

    assert_int_equal(tdm_client_ice_options_set_policy(&o, "everything", &err), TDM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "all or relay"));
    assert_int_equal(tdm_client_ice_options_set_policy(&o, "all", &err), TDM_OK);
    assert_false(o.relay_only);
    assert_int_equal(tdm_client_ice_options_set_policy(&o, "relay", &err), TDM_OK);
    assert_true(o.relay_only);
    assert_int_equal(tdm_client_ice_options_check(&o, &err), TDM_OK);
    tdm_client_ice_options stun_only = {.relay_only = true};
    assert_int_equal(tdm_client_ice_options_add_server(&stun_only, "stun:100.64.0.10", &err),
                     TDM_OK);
    assert_int_equal(tdm_client_ice_options_check(&stun_only, &err), TDM_ERR_INVALID);
    assert_non_null(strstr(err.msg, "needs a turn:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_stun_and_turn),
        cmocka_unit_test(refuses_with_a_reason),
        cmocka_unit_test(resolves_names_only),
        cmocka_unit_test(options_limit_servers),
        cmocka_unit_test(options_check_credentials_and_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
