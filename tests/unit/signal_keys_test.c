/* signal_keys_test: the secrets signaling hands out — join codes read as
 * three groups of three digits and normalize back from what a customer
 * types; link tokens carry 256 random bits in base64url; digests are keyed
 * and separated by kind; TURN credentials match coturn's REST-API form (a
 * vector computed with the openssl CLI); a wrapped recording key unwraps
 * only under its master key and session. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tdm_sig_keys.h"

static void join_codes_read_aloud(void **state)
{
    (void)state;
    uint8_t zero[8] = {0}, ones[8];
    memset(ones, 0xff, sizeof ones);
    char code[TDM_SIG_CODE_TEXT_CAP];
    tdm_sig_join_code_format(zero, code);
    assert_string_equal(code, "000-000-000");
    tdm_sig_join_code_format(ones, code);
    /* 2^64-1 mod 10^9 = 709551615 */
    assert_string_equal(code, "709-551-615");
    char digits[TDM_SIG_CODE_DIGITS + 1];
    assert_true(tdm_sig_join_code_normalize("709-551-615", digits));
    assert_string_equal(digits, "709551615");
    assert_true(tdm_sig_join_code_normalize(" 709 551 615 ", digits));
    assert_string_equal(digits, "709551615");
    assert_false(tdm_sig_join_code_normalize("709-551-61", digits));
    assert_false(tdm_sig_join_code_normalize("709-551-6155", digits));
    assert_false(tdm_sig_join_code_normalize("7O9-551-615", digits));
    assert_false(tdm_sig_join_code_normalize("", digits));
    assert_false(tdm_sig_join_code_normalize(NULL, digits));
}

static void link_tokens_are_base64url_of_256_bits(void **state)
{
    (void)state;
    uint8_t rnd[TDM_SIG_LINK_TOKEN_BYTES];
    for (size_t i = 0; i < sizeof rnd; i++)
        rnd[i] = (uint8_t)(i * 37 + 250);
    char tok[TDM_SIG_LINK_TOKEN_CAP];
    tdm_sig_link_token_format(rnd, tok);
    assert_int_equal(strlen(tok), 43);
    assert_int_equal(
        strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
}

static void digests_are_keyed_and_separated(void **state)
{
    (void)state;
    static const uint8_t k1[] = "key-one-key-one-", k2[] = "key-two-key-two-";
    uint8_t a[TDM_SIG_DIGEST_LEN], b[TDM_SIG_DIGEST_LEN], c[TDM_SIG_DIGEST_LEN],
        d[TDM_SIG_DIGEST_LEN];
    assert_int_equal(tdm_sig_secret_digest(k1, 16, "code", "123456789", a, NULL), TDM_OK);
    assert_int_equal(tdm_sig_secret_digest(k1, 16, "code", "123456789", b, NULL), TDM_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(tdm_sig_secret_digest(k2, 16, "code", "123456789", c, NULL), TDM_OK);
    assert_memory_not_equal(a, c, sizeof a);
    assert_int_equal(tdm_sig_secret_digest(k1, 16, "invite", "123456789", d, NULL), TDM_OK);
    assert_memory_not_equal(a, d, sizeof a);
}

static void turn_credentials_match_coturn_rest_api(void **state)
{
    (void)state;
    static const uint8_t secret[] = "coturn-static-secret";
    char user[TDM_SIG_TURN_USER_CAP], pass[TDM_SIG_TURN_PASS_CAP];
    tdm_error e = {{0}};
    assert_int_equal(tdm_sig_turn_credentials(secret, sizeof secret - 1,
                                              "p_0123456789abcdef01234567", 1700003600, user, pass,
                                              &e),
                     TDM_OK);
    assert_string_equal(user, "1700003600:p_0123456789abcdef01234567");
    /* echo -n USER | openssl dgst -sha1 -hmac SECRET -binary | base64 */
    assert_string_equal(pass, "8WZGm7l0db2Y/OYG3Ejh23ZXV4c=");
    assert_int_equal(tdm_sig_turn_credentials(secret, 0, "p", 1, user, pass, &e), TDM_ERR_INVALID);
}

static void recording_key_wraps_under_master_and_session(void **state)
{
    (void)state;
    uint8_t master[TDM_SIG_MASTER_KEY_LEN], other[TDM_SIG_MASTER_KEY_LEN];
    uint8_t key[TDM_SIG_RECORDING_KEY_LEN], back[TDM_SIG_RECORDING_KEY_LEN];
    uint8_t nonce[12] = {1, 2, 3};
    for (int i = 0; i < 32; i++) {
        master[i] = (uint8_t)i;
        other[i] = (uint8_t)(i + 1);
        key[i] = (uint8_t)(0xa0 ^ i);
    }
    uint8_t w[TDM_SIG_WRAPPED_KEY_LEN];
    tdm_error e = {{0}};
    assert_int_equal(tdm_sig_key_wrap(master, key, nonce, "s_1", w, &e), TDM_OK);
    assert_memory_not_equal(w + 15, key, sizeof key);
    assert_int_equal(tdm_sig_key_unwrap(master, w, sizeof w, "s_1", back, &e), TDM_OK);
    assert_memory_equal(back, key, sizeof key);
    assert_int_equal(tdm_sig_key_unwrap(other, w, sizeof w, "s_1", back, &e), TDM_ERR_FORMAT);
    assert_int_equal(tdm_sig_key_unwrap(master, w, sizeof w, "s_2", back, &e), TDM_ERR_FORMAT);
    w[20] ^= 1;
    assert_int_equal(tdm_sig_key_unwrap(master, w, sizeof w, "s_1", back, &e), TDM_ERR_FORMAT);
    assert_int_equal(tdm_sig_key_unwrap(master, w, sizeof w - 1, "s_1", back, &e), TDM_ERR_FORMAT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(join_codes_read_aloud),
        cmocka_unit_test(link_tokens_are_base64url_of_256_bits),
        cmocka_unit_test(digests_are_keyed_and_separated),
        cmocka_unit_test(turn_credentials_match_coturn_rest_api),
        cmocka_unit_test(recording_key_wraps_under_master_and_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
