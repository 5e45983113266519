/* password.c: scrypt password hashes (tdm_sig_password.h). */
#include "tdm_sig_password.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define SALT_LEN 16
#define HASH_LEN 32

static bool params_ok(const tdm_sig_scrypt_params *p)
{
    /* r*p bounded as in RFC 7914 and small enough that one check stays in
     * tens of MiB at ln 15. */
    return p->ln >= 1 && p->ln <= TDM_SIG_SCRYPT_LN_MAX && p->r >= 1 && p->r <= 32 && p->p >= 1 &&
           p->p <= 16;
}

static tdm_status derive(const char *pw, size_t pw_len, const uint8_t *salt,
                         const tdm_sig_scrypt_params *p, uint8_t out[HASH_LEN], tdm_error *err)
{
    uint64_t n = (uint64_t)1 << p->ln;
    /* scrypt needs 128*N*r bytes (plus 128*r*p); give it that and no more. */
    uint64_t maxmem = 128 * n * p->r + 128 * (uint64_t)p->r * p->p + (1u << 20);
    if (EVP_PBE_scrypt(pw, pw_len, salt, SALT_LEN, n, p->r, p->p, maxmem, out, HASH_LEN) != 1)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "password: scrypt failed");
    return TDM_OK;
}

tdm_status tdm_sig_password_hash(const char *pw, size_t pw_len, const tdm_sig_scrypt_params *params,
                                 char *out, size_t cap, tdm_error *err)
{
    tdm_sig_scrypt_params p = {TDM_SIG_SCRYPT_LN_DEFAULT, 8, 1};
    if (params)
        p = *params;
    if (!pw || !out || pw_len == 0 || pw_len > TDM_SIG_PASSWORD_MAX)
        return tdm_fail(err, TDM_ERR_INVALID, "password must be 1..%d bytes", TDM_SIG_PASSWORD_MAX);
    if (!params_ok(&p))
        return tdm_fail(err, TDM_ERR_INVALID, "password: bad scrypt parameters");
    uint8_t salt[SALT_LEN], hash[HASH_LEN];
    if (RAND_bytes(salt, SALT_LEN) != 1)
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "password: no random bytes");
    tdm_status st = derive(pw, pw_len, salt, &p, hash, err);
    if (st != TDM_OK)
        return st;
    /* EVP_EncodeBlock pads with '='; strip it (the lengths are fixed). */
    char s64[32], h64[48];
    int sn = EVP_EncodeBlock((unsigned char *)s64, salt, SALT_LEN);
    int hn = EVP_EncodeBlock((unsigned char *)h64, hash, HASH_LEN);
    while (sn > 0 && s64[sn - 1] == '=')
        s64[--sn] = '\0';
    while (hn > 0 && h64[hn - 1] == '=')
        h64[--hn] = '\0';
    OPENSSL_cleanse(hash, sizeof hash);
    int n = snprintf(out, cap, "$scrypt$ln=%u,r=%u,p=%u$%s$%s", p.ln, p.r, p.p, s64, h64);
    if (n < 0 || (size_t)n >= cap)
        return tdm_fail(err, TDM_ERR_RANGE, "password: hash does not fit in %zu bytes", cap);
    return TDM_OK;
}

/* Decodes unpadded base64 of exactly want bytes. */
static bool b64_exact(const char *s, size_t n, uint8_t *out, size_t want)
{
    char buf[64];
    if (n + 3 >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    while (n % 4)
        buf[n++] = '=';
    uint8_t tmp[48];
    int got = EVP_DecodeBlock(tmp, (const unsigned char *)buf, (int)n);
    /* DecodeBlock counts the padding as zero bytes. */
    size_t pad = (size_t)(buf[n - 1] == '=') + (size_t)(buf[n - 2] == '=');
    if (got < 0 || (size_t)got - pad != want)
        return false;
    memcpy(out, tmp, want);
    return true;
}

tdm_status tdm_sig_password_check(const char *pw, size_t pw_len, const char *stored, bool *ok,
                                  tdm_error *err)
{
    if (!ok)
        return tdm_fail(err, TDM_ERR_INVALID, "password_check: NULL argument");
    *ok = false;
    if (!pw || !stored)
        return tdm_fail(err, TDM_ERR_INVALID, "password_check: NULL argument");
    tdm_sig_scrypt_params p;
    int used = 0;
    if (sscanf(stored, "$scrypt$ln=%2u,r=%2u,p=%2u$%n", &p.ln, &p.r, &p.p, &used) != 3 ||
        used == 0 || !params_ok(&p))
        return tdm_fail(err, TDM_ERR_FORMAT, "password: stored hash is not a known scrypt hash");
    const char *salt_s = stored + used;
    const char *dollar = strchr(salt_s, '$');
    if (!dollar)
        return tdm_fail(err, TDM_ERR_FORMAT, "password: stored hash has no hash part");
    uint8_t salt[SALT_LEN], want[HASH_LEN], got[HASH_LEN];
    if (!b64_exact(salt_s, (size_t)(dollar - salt_s), salt, SALT_LEN) ||
        !b64_exact(dollar + 1, strlen(dollar + 1), want, HASH_LEN))
        return tdm_fail(err, TDM_ERR_FORMAT, "password: stored hash has a bad salt or hash");
    if (pw_len == 0 || pw_len > TDM_SIG_PASSWORD_MAX)
        return TDM_OK; /* cannot match: no password of that length was hashed */
    tdm_status st = derive(pw, pw_len, salt, &p, got, err);
    if (st != TDM_OK)
        return st;
    *ok = CRYPTO_memcmp(got, want, HASH_LEN) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return TDM_OK;
}
