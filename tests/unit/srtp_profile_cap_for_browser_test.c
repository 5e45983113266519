/* srtp_profile_cap_for_browser_test: TDM_SRTP_PROFILE restricts endpoints
 * that leave only_profile unset to one SRTP profile, whichever side is the
 * DTLS server, which is how the browser test gets Chromium (which always
 * offers both and prefers GCM) onto AES_CM_128_HMAC_SHA1_80; the spellings
 * of OpenSSL, Chromium's getStats and RFC 5764 are all taken; an unknown
 * value fails endpoint creation with a message naming the variable; an
 * explicit only_profile wins over it; unset or empty leaves GCM preferred. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dtls_test_pair.h"
#include "tdm_dtls.h"

static int clear_env(void **state)
{
    (void)state;
    unsetenv("TDM_SRTP_PROFILE");
    return 0;
}

static tdm_srtp_profile negotiated(const test_pair_options *o)
{
    test_pair p;
    tdm_srtp_keys c, s;
    test_pair_handshake(&p, o, &c, &s);
    assert_int_equal(c.profile, s.profile);
    assert_int_equal(c.master_len, s.master_len);
    test_pair_free(&p);
    tdm_srtp_profile got = c.profile;
    tdm_srtp_keys_wipe(&c);
    tdm_srtp_keys_wipe(&s);
    return got;
}

static void unset_prefers_gcm(void **state)
{
    (void)state;
    assert_int_equal(negotiated(NULL), TDM_SRTP_AEAD_AES_128_GCM);
    setenv("TDM_SRTP_PROFILE", "", 1);
    assert_int_equal(negotiated(NULL), TDM_SRTP_AEAD_AES_128_GCM);
    tdm_srtp_profile p = (tdm_srtp_profile)99;
    assert_int_equal(tdm_dtls_env_profile(&p, NULL), TDM_OK);
    assert_int_equal(p, TDM_SRTP_PROFILE_NONE);
}

static void every_spelling_caps_to_aes_cm(void **state)
{
    (void)state;
    static const char *const names[] = {"SRTP_AES128_CM_SHA1_80", "SRTP_AES128_CM_HMAC_SHA1_80",
                                        "AES_CM_128_HMAC_SHA1_80"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        setenv("TDM_SRTP_PROFILE", names[i], 1);
        tdm_srtp_profile p;
        assert_int_equal(tdm_dtls_env_profile(&p, NULL), TDM_OK);
        assert_int_equal(p, TDM_SRTP_AES128_CM_SHA1_80);
        /* Both sides capped, as two relays (or a relay and a client
         * program) in one environment would be. */
        assert_int_equal(negotiated(NULL), TDM_SRTP_AES128_CM_SHA1_80);
    }
}

/* The cap holds in either DTLS role: against a peer that will only do GCM,
 * a capped client and a capped server both end without keys (so the cap is
 * what a browser, which offers both, gets to choose from). */
static bool handshake_fails(const test_pair_options *o)
{
    test_pair p;
    test_pair_make(&p, o);
    test_pair_run(&p, NULL, NULL);
    tdm_srtp_keys k;
    bool failed = tdm_dtls_srtp_keys(p.client, &k) != TDM_OK &&
                  tdm_dtls_srtp_keys(p.server, &k) != TDM_OK;
    test_pair_free(&p);
    return failed;
}

static void cap_holds_in_both_roles(void **state)
{
    (void)state;
    setenv("TDM_SRTP_PROFILE", "SRTP_AES128_CM_SHA1_80", 1);
    test_pair_options gcm_server = {.server_only = TDM_SRTP_AEAD_AES_128_GCM};
    assert_true(handshake_fails(&gcm_server));
    test_pair_options gcm_client = {.client_only = TDM_SRTP_AEAD_AES_128_GCM};
    assert_true(handshake_fails(&gcm_client));
}

static void gcm_spellings(void **state)
{
    (void)state;
    static const char *const names[] = {"SRTP_AEAD_AES_128_GCM", "AEAD_AES_128_GCM"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        setenv("TDM_SRTP_PROFILE", names[i], 1);
        tdm_srtp_profile p;
        assert_int_equal(tdm_dtls_env_profile(&p, NULL), TDM_OK);
        assert_int_equal(p, TDM_SRTP_AEAD_AES_128_GCM);
        assert_int_equal(negotiated(NULL), TDM_SRTP_AEAD_AES_128_GCM);
    }
}

static void explicit_profile_wins(void **state)
{
    (void)state;
    setenv("TDM_SRTP_PROFILE", "SRTP_AES128_CM_SHA1_80", 1);
    test_pair_options gcm = {.client_only = TDM_SRTP_AEAD_AES_128_GCM,
                             .server_only = TDM_SRTP_AEAD_AES_128_GCM};
    assert_int_equal(negotiated(&gcm), TDM_SRTP_AEAD_AES_128_GCM);
}

static void unknown_value_fails_creation(void **state)
{
    (void)state;
    static const char *const bad[] = {"gcm", "SRTP_AES128_CM_SHA1_32", "srtp_aead_aes_128_gcm",
                                      "SRTP_AEAD_AES_256_GCM", " SRTP_AEAD_AES_128_GCM"};
    tdm_dtls_identity *id = NULL;
    tdm_error err = {{0}};
    assert_int_equal(tdm_dtls_identity_new(NULL, &id, &err), TDM_OK);
    uint8_t fp[TDM_DTLS_FINGERPRINT_LEN] = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("TDM_SRTP_PROFILE", bad[i], 1);
        tdm_srtp_profile p;
        assert_int_equal(tdm_dtls_env_profile(&p, &err), TDM_ERR_INVALID);
        assert_int_equal(p, TDM_SRTP_PROFILE_NONE);
        for (int role = TDM_DTLS_CLIENT; role <= TDM_DTLS_SERVER; role++) {
            tdm_dtls_config cfg;
            tdm_dtls_config_init(&cfg, id, (tdm_dtls_role)role, fp);
            tdm_dtls_endpoint *ep = (tdm_dtls_endpoint *)&cfg; /* must be reset to NULL */
            memset(&err, 0, sizeof err);
            assert_int_equal(tdm_dtls_new(&cfg, &ep, &err), TDM_ERR_INVALID);
            assert_null(ep);
            assert_non_null(strstr(err.msg, "TDM_SRTP_PROFILE"));
            /* An explicit profile does not look at the variable at all. */
            cfg.only_profile = TDM_SRTP_AEAD_AES_128_GCM;
            assert_int_equal(tdm_dtls_new(&cfg, &ep, &err), TDM_OK);
            tdm_dtls_free(ep);
        }
    }
    /* A very long value is cut in the message, not overflowed. */
    char longv[2000];
    memset(longv, 'A', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    setenv("TDM_SRTP_PROFILE", longv, 1);
    tdm_srtp_profile p;
    assert_int_equal(tdm_dtls_env_profile(&p, &err), TDM_ERR_INVALID);
    assert_true(strlen(err.msg) < sizeof err.msg);
    assert_int_equal(tdm_dtls_env_profile(NULL, &err), TDM_ERR_INVALID);
    tdm_dtls_identity_free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(unset_prefers_gcm, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(every_spelling_caps_to_aes_cm, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(cap_holds_in_both_roles, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(gcm_spellings, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(explicit_profile_wins, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(unknown_value_fails_creation, clear_env, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
