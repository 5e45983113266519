/* tdm_sig_password: reps' password hashes.
 *
 * Owns hashing a password with scrypt (OpenSSL EVP_PBE_scrypt) under a fresh
 * random salt, and checking a password against a stored hash in constant
 * time. The stored form is self-describing, so the cost can be raised later
 * without breaking old hashes:
 *
 *     $scrypt$ln=15,r=8,p=1$<salt, base64>$<hash, base64>
 *
 * (N = 2^ln; 16-byte salt; 32-byte hash; standard base64 without padding.)
 * Checking refuses parameters above TDM_SIG_SCRYPT_LN_MAX / r*p bounds so a
 * planted hash cannot make a login cost gigabytes. */
#ifndef TDM_SIG_PASSWORD_H
#define TDM_SIG_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

/* Default cost: 2^15 * 8 * 128 bytes = 32 MiB and ~50-100 ms per check. */
#define TDM_SIG_SCRYPT_LN_DEFAULT 15
#define TDM_SIG_SCRYPT_LN_MAX 20
#define TDM_SIG_PASSWORD_MAX 1024
/* Enough for any hash this module writes. */
#define TDM_SIG_PASSWORD_HASH_CAP 128

typedef struct tdm_sig_scrypt_params {
    unsigned ln; /* log2(N), 1..TDM_SIG_SCRYPT_LN_MAX */
    unsigned r, p;
} tdm_sig_scrypt_params;

/* Hashes pw (pw_len bytes, 1..TDM_SIG_PASSWORD_MAX) with params (NULL means
 * the default cost) into out as a NUL-terminated string. The salt comes from
 * OpenSSL's RAND_bytes.
 * @return TDM_OK; TDM_ERR_INVALID for an empty/oversize password or bad
 *         params; TDM_ERR_RANGE if cap is too small; TDM_ERR_UNAVAILABLE if
 *         the random generator or scrypt fails. */
tdm_status tdm_sig_password_hash(const char *pw, size_t pw_len, const tdm_sig_scrypt_params *params,
                                 char *out, size_t cap, tdm_error *err);

/* Checks pw against a stored hash. *ok is true only on a match; the final
 * comparison is constant-time.
 * @return TDM_OK (whether or not it matched); TDM_ERR_FORMAT if stored is not
 *         a hash this module understands (or exceeds the cost bounds);
 *         TDM_ERR_UNAVAILABLE if scrypt fails. */
tdm_status tdm_sig_password_check(const char *pw, size_t pw_len, const char *stored, bool *ok,
                                  tdm_error *err);

#endif
