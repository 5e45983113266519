/* keys.c: join codes, link tokens, secret digests, TURN credentials and
 * recording-key wrapping (tdm_sig_keys.h). */
#include "tdm_sig_keys.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

void tdm_sig_join_code_format(const uint8_t rnd[8], char out[TDM_SIG_CODE_TEXT_CAP])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | rnd[i];
    unsigned n = (unsigned)(v % 1000000000u);
    snprintf(out, TDM_SIG_CODE_TEXT_CAP, "%03u-%03u-%03u", n / 1000000, n / 1000 % 1000, n % 1000);
}

bool tdm_sig_join_code_normalize(const char *typed, char digits[TDM_SIG_CODE_DIGITS + 1])
{
    size_t n = 0;
    for (const char *p = typed; p && *p; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (*p < '0' || *p > '9' || n == TDM_SIG_CODE_DIGITS)
            return false;
        digits[n++] = *p;
    }
    digits[n] = '\0';
    return n == TDM_SIG_CODE_DIGITS;
}

void tdm_sig_link_token_format(const uint8_t rnd[TDM_SIG_LINK_TOKEN_BYTES],
                               char out[TDM_SIG_LINK_TOKEN_CAP])
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint32_t acc = 0;
    int bits = 0;
    char *o = out;
    for (size_t i = 0; i < TDM_SIG_LINK_TOKEN_BYTES; i++) {
        acc = acc << 8 | rnd[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            *o++ = t[(acc >> bits) & 63];
        }
    }
    if (bits > 0)
        *o++ = t[(acc << (6 - bits)) & 63];
    *o = '\0';
}

void tdm_sig_hex(const uint8_t *buf, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[buf[i] >> 4];
        out[2 * i + 1] = h[buf[i] & 15];
    }
    out[2 * n] = '\0';
}

tdm_status tdm_sig_secret_digest(const uint8_t *key, size_t key_len, const char *domain,
                                 const char *text, uint8_t out[TDM_SIG_DIGEST_LEN], tdm_error *err)
{
    if (!key || key_len == 0 || !domain || !text)
        return tdm_fail(err, TDM_ERR_INVALID, "secret_digest: missing key or text");
    /* One-shot HMAC over "domain:text" (HMAC_CTX is deprecated in
     * OpenSSL 3); codes and tokens are short. */
    char msg[256];
    int n = snprintf(msg, sizeof msg, "%s:%s", domain, text);
    if (n < 0 || (size_t)n >= sizeof msg)
        return tdm_fail(err, TDM_ERR_RANGE, "secret_digest: text too long");
    unsigned len = 0;
    bool ok = HMAC(EVP_sha256(), key, (int)key_len, (const uint8_t *)msg, (size_t)n, out, &len) &&
              len == TDM_SIG_DIGEST_LEN;
    OPENSSL_cleanse(msg, sizeof msg);
    return ok ? TDM_OK : tdm_fail(err, TDM_ERR_UNAVAILABLE, "secret_digest: HMAC failed");
}

tdm_status tdm_sig_turn_credentials(const uint8_t *secret, size_t secret_len,
                                    const char *participant, int64_t expires_s,
                                    char user[TDM_SIG_TURN_USER_CAP],
                                    char pass[TDM_SIG_TURN_PASS_CAP], tdm_error *err)
{
    if (!secret || secret_len == 0 || !participant || !*participant)
        return tdm_fail(err, TDM_ERR_INVALID, "turn_credentials: missing secret or participant");
    int n = snprintf(user, TDM_SIG_TURN_USER_CAP, "%lld:%s", (long long)expires_s, participant);
    if (n < 0 || n >= TDM_SIG_TURN_USER_CAP)
        return tdm_fail(err, TDM_ERR_RANGE, "turn_credentials: username too long");
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    if (!HMAC(EVP_sha1(), secret, (int)secret_len, (const uint8_t *)user, (size_t)n, mac, &mac_len))
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "turn_credentials: HMAC failed");
    /* 20 bytes -> 28 base64 characters with padding, as coturn compares. */
    EVP_EncodeBlock((unsigned char *)pass, mac, (int)mac_len);
    return TDM_OK;
}

static const uint8_t wrap_magic[3] = {'T', 'K', '1'};

tdm_status tdm_sig_key_wrap(const uint8_t master[TDM_SIG_MASTER_KEY_LEN],
                            const uint8_t key[TDM_SIG_RECORDING_KEY_LEN], const uint8_t nonce[12],
                            const char *aad, uint8_t out[TDM_SIG_WRAPPED_KEY_LEN], tdm_error *err)
{
    if (!master || !key || !nonce || !aad || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "key_wrap: NULL argument");
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    memcpy(out, wrap_magic, 3);
    memcpy(out + 3, nonce, 12);
    bool ok =
        c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, master, nonce) &&
        EVP_EncryptUpdate(c, NULL, &len, (const uint8_t *)aad, (int)strlen(aad)) &&
        EVP_EncryptUpdate(c, out + 15, &len, key, TDM_SIG_RECORDING_KEY_LEN) &&
        EVP_EncryptFinal_ex(c, out + 15 + len, &fin) &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + 15 + TDM_SIG_RECORDING_KEY_LEN);
    EVP_CIPHER_CTX_free(c);
    return ok ? TDM_OK : tdm_fail(err, TDM_ERR_UNAVAILABLE, "key_wrap: AES-GCM failed");
}

tdm_status tdm_sig_key_unwrap(const uint8_t master[TDM_SIG_MASTER_KEY_LEN], const uint8_t *wrapped,
                              size_t wrapped_len, const char *aad,
                              uint8_t key[TDM_SIG_RECORDING_KEY_LEN], tdm_error *err)
{
    if (!master || !wrapped || !aad || !key)
        return tdm_fail(err, TDM_ERR_INVALID, "key_unwrap: NULL argument");
    if (wrapped_len != TDM_SIG_WRAPPED_KEY_LEN || memcmp(wrapped, wrap_magic, 3) != 0)
        return tdm_fail(err, TDM_ERR_FORMAT, "key_unwrap: not a wrapped key");
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t plain[TDM_SIG_RECORDING_KEY_LEN + 16];
    uint8_t tag[16];
    memcpy(tag, wrapped + 15 + TDM_SIG_RECORDING_KEY_LEN, 16);
    int len = 0, fin = 0;
    bool ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, master, wrapped + 3) &&
              EVP_DecryptUpdate(c, NULL, &len, (const uint8_t *)aad, (int)strlen(aad)) &&
              EVP_DecryptUpdate(c, plain, &len, wrapped + 15, TDM_SIG_RECORDING_KEY_LEN) &&
              EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) &&
              EVP_DecryptFinal_ex(c, plain + len, &fin) > 0;
    EVP_CIPHER_CTX_free(c);
    if (ok)
        memcpy(key, plain, TDM_SIG_RECORDING_KEY_LEN);
    OPENSSL_cleanse(plain, sizeof plain);
    return ok ? TDM_OK : tdm_fail(err, TDM_ERR_FORMAT, "key_unwrap: authentication failed");
}
