/* signal_password_test: scrypt password hashes (signaling/tdm_sig_password.h)
 * check back, refuse a wrong password, salt every hash differently, say
 * their parameters, and refuse stored hashes that are malformed or would
 * cost too much to check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_sig_password.h"

/* Cheap parameters keep the test fast; the format carries them. */
static const tdm_sig_scrypt_params cheap = {10, 8, 1};

static void hash_checks_back_and_wrong_password_is_refused(void **state)
{
    (void)state;
    char h[TDM_SIG_PASSWORD_HASH_CAP];
    tdm_error e = {{0}};
    assert_int_equal(tdm_sig_password_hash("correct horse", 13, &cheap, h, sizeof h, &e), TDM_OK);
    assert_true(strncmp(h, "$scrypt$ln=10,r=8,p=1$", 22) == 0);
    bool ok = false;
    assert_int_equal(tdm_sig_password_check("correct horse", 13, h, &ok, &e), TDM_OK);
    assert_true(ok);
    assert_int_equal(tdm_sig_password_check("correct horsf", 13, h, &ok, &e), TDM_OK);
    assert_false(ok);
    assert_int_equal(tdm_sig_password_check("correct hors", 12, h, &ok, &e), TDM_OK);
    assert_false(ok);
    assert_int_equal(tdm_sig_password_check("", 0, h, &ok, &e), TDM_OK);
    assert_false(ok);
}

static void every_hash_has_its_own_salt(void **state)
{
    (void)state;
    char a[TDM_SIG_PASSWORD_HASH_CAP], b[TDM_SIG_PASSWORD_HASH_CAP];
    assert_int_equal(tdm_sig_password_hash("same", 4, &cheap, a, sizeof a, NULL), TDM_OK);
    assert_int_equal(tdm_sig_password_hash("same", 4, &cheap, b, sizeof b, NULL), TDM_OK);
    assert_string_not_equal(a, b);
}

static void default_cost_is_the_documented_one(void **state)
{
    (void)state;
    char h[TDM_SIG_PASSWORD_HASH_CAP];
    assert_int_equal(tdm_sig_password_hash("pw", 2, NULL, h, sizeof h, NULL), TDM_OK);
    assert_true(strncmp(h, "$scrypt$ln=15,r=8,p=1$", 22) == 0);
    bool ok = false;
    assert_int_equal(tdm_sig_password_check("pw", 2, h, &ok, NULL), TDM_OK);
    assert_true(ok);
}

static void bad_inputs_are_refused(void **state)
{
    (void)state;
    char h[TDM_SIG_PASSWORD_HASH_CAP];
    tdm_error e = {{0}};
    assert_int_equal(tdm_sig_password_hash("", 0, &cheap, h, sizeof h, &e), TDM_ERR_INVALID);
    tdm_sig_scrypt_params huge = {30, 8, 1};
    assert_int_equal(tdm_sig_password_hash("x", 1, &huge, h, sizeof h, &e), TDM_ERR_INVALID);
    assert_int_equal(tdm_sig_password_hash("x", 1, &cheap, h, 20, &e), TDM_ERR_RANGE);

    bool ok = true;
    static const char *const bad[] =
        {
            "",
            "plaintext",
            "$2b$12$abcdefghijklmnopqrstuv",
            "$scrypt$ln=10,r=8,p=1$",
            "$scrypt$ln=10,r=8,p=1$c2FsdA$aGFzaA", /* short salt and hash */
            "$scrypt$ln=25,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* too costly */
            "$scrypt$ln=10,r=99,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$scrypt$ln=10,r=8,p=1$AAAA*AAAAAAAAAAAAAAAAA$"
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tdm_sig_password_check("x", 1, bad[i], &ok, &e), TDM_ERR_FORMAT);
        assert_false(ok);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_checks_back_and_wrong_password_is_refused),
        cmocka_unit_test(every_hash_has_its_own_salt),
        cmocka_unit_test(default_cost_is_the_documented_one),
        cmocka_unit_test(bad_inputs_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
