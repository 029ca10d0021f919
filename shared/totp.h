/*
 * totp.h: time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA1
 * (OpenSSL's libcrypto; libsodium has no SHA-1), 30-second steps, 6 digits,
 * as the common authenticator apps expect. Secrets travel as RFC 4648
 * base32 without padding.
 */
#ifndef SH_TOTP_H
#define SH_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SH_TOTP_SECRET_LEN 32 /* base32 characters of a 20-byte secret */
#define SH_TOTP_STEP 30

/* A new random secret (base32, NUL-terminated). */
void sh_totp_secret_new(char out[SH_TOTP_SECRET_LEN + 1]);
/* The 6-digit code of a step; SH_ERR_INVALID for a bad secret. */
int sh_totp_code(const char *secret_b32, uint64_t step, char out[7]) SH_MUST_USE;
/*
 * Whether code is valid at unix time now_s, allowing `window` steps of
 * clock difference either way, and only for steps after `after_step` (a
 * code is used once). On success *step is the matched step.
 */
bool sh_totp_verify(const char *secret_b32, const char *code, uint64_t now_s, int window,
		    uint64_t after_step, uint64_t *step);
/* otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=… (caller frees with sh_free). */
char *sh_totp_uri(const char *issuer, const char *account, const char *secret_b32);

/* RFC 4648 base32 (no padding). Decode returns the byte count, or -1. */
void sh_base32_encode(const unsigned char *in, size_t n, char *out);
long sh_base32_decode(const char *in, unsigned char *out, size_t cap);

#endif
