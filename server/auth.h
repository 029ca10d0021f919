/*
 * auth.h: passwords (Argon2id through crypto_pwhash_str) with a strength
 * from configuration (password_strength = min | interactive | moderate;
 * tests use min), and the password rules for new users.
 */
#ifndef SS_AUTH_H
#define SS_AUTH_H

#include <stdbool.h>

#include "err.h"

/* *out (sh_free) is the encoded hash. */
int ss_password_hash(const char *password, char **out) SH_MUST_USE;
/*
 * True if password matches hash. With hash NULL (no such user) a dummy hash
 * is checked so that the time taken does not tell whether a user exists.
 */
bool ss_password_verify(const char *hash, const char *password);
/* Minimum rules for a password chosen by a person (Norwegian reason). */
int ss_password_policy(const char *password, const char *username, const char *email,
		       struct sh_reason *why) SH_MUST_USE;

#endif
