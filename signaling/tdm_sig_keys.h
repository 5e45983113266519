/* tdm_sig_keys: the secrets signaling hands out, sans-IO.
 *
 * Owns the formats and cryptography of: customer join codes (9 digits read
 * aloud as "123-456-789"), invite link tokens (32 random bytes, base64url),
 * the at-rest digests of both (HMAC-SHA256 under a server key, so a stolen
 * database does not yield usable codes), TURN credentials in coturn's
 * REST-API form, and wrapping a session's recording key under the master
 * key with AES-256-GCM. Randomness comes in as bytes from the caller; relay
 * access tokens are tdm_token_mint's (relay/tdm_token.h). */
#ifndef TDM_SIG_KEYS_H
#define TDM_SIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tdm_status.h"

#define TDM_SIG_CODE_DIGITS 9
#define TDM_SIG_CODE_TEXT_CAP 12 /* "123-456-789" + NUL */
#define TDM_SIG_LINK_TOKEN_BYTES 32
#define TDM_SIG_LINK_TOKEN_CAP 48 /* 43 base64url characters + NUL */
#define TDM_SIG_DIGEST_LEN 32
#define TDM_SIG_RECORDING_KEY_LEN 32
#define TDM_SIG_MASTER_KEY_LEN 32
/* "TK1" + 12-byte nonce + 32-byte ciphertext + 16-byte tag. */
#define TDM_SIG_WRAPPED_KEY_LEN (3 + 12 + 32 + 16)
#define TDM_SIG_TURN_USER_CAP 96
#define TDM_SIG_TURN_PASS_CAP 32

/* Formats a join code from 8 random bytes (uniform over 10^9 up to a 2^-34
 * bias, which is nothing next to the code's own guessability). */
void tdm_sig_join_code_format(const uint8_t rnd[8], char out[TDM_SIG_CODE_TEXT_CAP]);

/* Reduces what a customer typed to its 9 digits (spaces and dashes
 * dropped). false if anything else is there or the count is wrong. */
bool tdm_sig_join_code_normalize(const char *typed, char digits[TDM_SIG_CODE_DIGITS + 1]);

/* base64url (no padding) of TDM_SIG_LINK_TOKEN_BYTES random bytes. */
void tdm_sig_link_token_format(const uint8_t rnd[TDM_SIG_LINK_TOKEN_BYTES],
                               char out[TDM_SIG_LINK_TOKEN_CAP]);

/* HMAC-SHA256(key, domain ":" text): what the store keeps instead of a code
 * or token. domain separates the two kinds ("code", "invite"). */
tdm_status tdm_sig_secret_digest(const uint8_t *key, size_t key_len, const char *domain,
                                 const char *text, uint8_t out[TDM_SIG_DIGEST_LEN], tdm_error *err);

/* coturn REST API (draft-uberti-behave-turn-rest): username
 * "<expiry unix s>:<participant>", password base64(HMAC-SHA1(secret, username)).
 * @return TDM_OK; TDM_ERR_INVALID for an empty secret or participant;
 *         TDM_ERR_RANGE if it does not fit. */
tdm_status tdm_sig_turn_credentials(const uint8_t *secret, size_t secret_len,
                                    const char *participant, int64_t expires_s,
                                    char user[TDM_SIG_TURN_USER_CAP],
                                    char pass[TDM_SIG_TURN_PASS_CAP], tdm_error *err);

/* AES-256-GCM of key under master with a caller-given random nonce; aad
 * (the session id) is authenticated, so a wrapped key moved to another
 * session does not unwrap. */
tdm_status tdm_sig_key_wrap(const uint8_t master[TDM_SIG_MASTER_KEY_LEN],
                            const uint8_t key[TDM_SIG_RECORDING_KEY_LEN], const uint8_t nonce[12],
                            const char *aad, uint8_t out[TDM_SIG_WRAPPED_KEY_LEN], tdm_error *err);

/* @return TDM_OK; TDM_ERR_FORMAT if the blob is not ours, was altered, or
 *         belongs to another aad or master key. */
tdm_status tdm_sig_key_unwrap(const uint8_t master[TDM_SIG_MASTER_KEY_LEN], const uint8_t *wrapped,
                              size_t wrapped_len, const char *aad,
                              uint8_t key[TDM_SIG_RECORDING_KEY_LEN], tdm_error *err);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void tdm_sig_hex(const uint8_t *buf, size_t n, char *out);

#endif
