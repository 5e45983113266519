/* seal.c: AES-256-GCM records in a SHA-256 chain (tdm_rec_seal.h). */
#include "tdm_rec_seal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

struct tdm_rec_chain {
    EVP_CIPHER_CTX *enc, *dec; /* keyed once; only the nonce changes per record */
    EVP_MD_CTX *md;
    EVP_MD *sha256; /* fetched once: EVP_sha256() would fetch on every init */
    uint64_t seq;
    uint8_t hash[TDM_REC_HASH_LEN];
};

static bool derive(const uint8_t rec_key[TDM_REC_KEY_LEN], uint8_t out[32])
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *k = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    static const char salt[] = "tandem-recording-v1", info[] = "records";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)rec_key, TDM_REC_KEY_LEN),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, sizeof salt - 1),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, sizeof info - 1),
        OSSL_PARAM_construct_end(),
    };
    bool ok = k && EVP_KDF_derive(k, out, 32, params) > 0;
    EVP_KDF_CTX_free(k);
    EVP_KDF_free(kdf);
    return ok;
}

static bool digest2(EVP_MD_CTX *md, const EVP_MD *sha256, const void *a, size_t alen,
                    const void *b, size_t blen, uint8_t out[TDM_REC_HASH_LEN])
{
    unsigned n = 0;
    return EVP_DigestInit_ex(md, sha256, NULL) && EVP_DigestUpdate(md, a, alen) &&
           EVP_DigestUpdate(md, b, blen) && EVP_DigestFinal_ex(md, out, &n) &&
           n == TDM_REC_HASH_LEN;
}

tdm_status tdm_rec_chain_new(const uint8_t rec_key[TDM_REC_KEY_LEN], const uint8_t *header,
                             size_t header_len, tdm_rec_chain **out, tdm_error *err)
{
    if (!rec_key || !header || !out)
        return tdm_fail(err, TDM_ERR_INVALID, "rec chain: NULL argument");
    tdm_rec_chain *c = calloc(1, sizeof *c);
    if (!c)
        return tdm_fail(err, TDM_ERR_NOMEM, "rec chain: out of memory");
    uint8_t key[32];
    static const char label[] = "tandem-rec-chain";
    bool ok = derive(rec_key, key) && (c->enc = EVP_CIPHER_CTX_new()) &&
              (c->dec = EVP_CIPHER_CTX_new()) && (c->md = EVP_MD_CTX_new()) &&
              (c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) &&
              EVP_EncryptInit_ex(c->enc, EVP_aes_256_gcm(), NULL, key, NULL) &&
              EVP_DecryptInit_ex(c->dec, EVP_aes_256_gcm(), NULL, key, NULL) &&
              digest2(c->md, c->sha256, label, sizeof label - 1, header, header_len, c->hash);
    OPENSSL_cleanse(key, sizeof key);
    if (!ok) {
        tdm_rec_chain_free(c);
        return tdm_fail(err, TDM_ERR_UNAVAILABLE, "rec chain: OpenSSL setup failed");
    }
    *out = c;
    return TDM_OK;
}

void tdm_rec_chain_free(tdm_rec_chain *c)
{
    if (!c)
        return;
    EVP_CIPHER_CTX_free(c->enc);
    EVP_CIPHER_CTX_free(c->dec);
    EVP_MD_CTX_free(c->md);
    EVP_MD_free(c->sha256);
    OPENSSL_cleanse(c, sizeof *c);
    free(c);
}

uint64_t tdm_rec_chain_seq(const tdm_rec_chain *c) { return c->seq; }
const uint8_t *tdm_rec_chain_hash(const tdm_rec_chain *c) { return c->hash; }

static void nonce_aad(const tdm_rec_chain *c, const uint8_t lenf[4], uint8_t nonce[12],
                      uint8_t aad[44])
{
    memcpy(nonce, "TREC", 4);
    tdm_rec_put64(nonce + 4, c->seq);
    memcpy(aad, c->hash, TDM_REC_HASH_LEN);
    tdm_rec_put64(aad + 32, c->seq);
    memcpy(aad + 40, lenf, 4);
}

tdm_status tdm_rec_seal(tdm_rec_chain *c, const uint8_t *plain, size_t plain_len, uint8_t *out,
                        size_t cap, size_t *out_len)
{
    if (!c || !plain || !out || !out_len || plain_len == 0 || plain_len > TDM_REC_MAX_SEALED)
        return TDM_ERR_INVALID;
    size_t total = TDM_REC_LEN_FIELD + plain_len + TDM_REC_TAG_LEN;
    if (cap < total)
        return TDM_ERR_RANGE;
    tdm_rec_put32(out, (uint32_t)(plain_len + TDM_REC_TAG_LEN));
    uint8_t nonce[12], aad[44];
    nonce_aad(c, out, nonce, aad);
    int n = 0, fin = 0;
    uint8_t *ct = out + TDM_REC_LEN_FIELD;
    bool ok = EVP_EncryptInit_ex(c->enc, NULL, NULL, NULL, nonce) &&
              EVP_EncryptUpdate(c->enc, NULL, &n, aad, sizeof aad) &&
              EVP_EncryptUpdate(c->enc, ct, &n, plain, (int)plain_len) &&
              EVP_EncryptFinal_ex(c->enc, ct + n, &fin) &&
              EVP_CIPHER_CTX_ctrl(c->enc, EVP_CTRL_GCM_GET_TAG, TDM_REC_TAG_LEN, ct + plain_len) &&
              digest2(c->md, c->sha256, c->hash, TDM_REC_HASH_LEN, out, total, c->hash);
    if (!ok)
        return TDM_ERR_UNAVAILABLE;
    c->seq++;
    *out_len = total;
    return TDM_OK;
}

tdm_status tdm_rec_open(tdm_rec_chain *c, const uint8_t *rec, size_t rec_len, uint8_t *plain,
                        size_t *plain_len)
{
    if (!c || !rec || !plain || !plain_len)
        return TDM_ERR_INVALID;
    if (rec_len < TDM_REC_MIN_RECORD || rec_len > TDM_REC_MAX_RECORD ||
        tdm_rec_record_size(rec) != rec_len)
        return TDM_ERR_FORMAT;
    size_t ct_len = rec_len - TDM_REC_LEN_FIELD - TDM_REC_TAG_LEN;
    const uint8_t *ct = rec + TDM_REC_LEN_FIELD;
    uint8_t nonce[12], aad[44], tag[TDM_REC_TAG_LEN];
    nonce_aad(c, rec, nonce, aad);
    memcpy(tag, ct + ct_len, TDM_REC_TAG_LEN);
    int n = 0, fin = 0;
    bool ok = EVP_DecryptInit_ex(c->dec, NULL, NULL, NULL, nonce) &&
              EVP_DecryptUpdate(c->dec, NULL, &n, aad, sizeof aad) &&
              EVP_DecryptUpdate(c->dec, plain, &n, ct, (int)ct_len) &&
              EVP_CIPHER_CTX_ctrl(c->dec, EVP_CTRL_GCM_SET_TAG, TDM_REC_TAG_LEN, tag) &&
              EVP_DecryptFinal_ex(c->dec, plain + n, &fin) > 0;
    if (!ok) {
        OPENSSL_cleanse(plain, ct_len);
        return TDM_ERR_FORMAT;
    }
    uint8_t next[TDM_REC_HASH_LEN];
    if (!digest2(c->md, c->sha256, c->hash, TDM_REC_HASH_LEN, rec, rec_len, next))
        return TDM_ERR_UNAVAILABLE;
    memcpy(c->hash, next, sizeof next);
    c->seq++;
    *plain_len = ct_len;
    return TDM_OK;
}
