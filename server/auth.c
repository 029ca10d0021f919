/* auth.c: Argon2id password hashes, the password rules, password prompts. */
#include "auth.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "config.h"

static void limits(unsigned long long *ops, size_t *mem)
{
	const char *s = sh_config_str("password_strength");

	if (s && strcmp(s, "min") == 0) {
		*ops = crypto_pwhash_OPSLIMIT_MIN;
		*mem = crypto_pwhash_MEMLIMIT_MIN;
	} else if (s && strcmp(s, "moderate") == 0) {
		*ops = crypto_pwhash_OPSLIMIT_MODERATE;
		*mem = crypto_pwhash_MEMLIMIT_MODERATE;
	} else {
		*ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		*mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	}
}

int ss_password_hash(const char *password, char **out)
{
	unsigned long long ops;
	size_t mem;

	*out = sh_malloc(crypto_pwhash_STRBYTES);
	if (!*out)
		return SH_ERR_NOMEM;
	limits(&ops, &mem);
	if (crypto_pwhash_str(*out, password, strlen(password), ops, mem) != 0) {
		sh_free(*out);
		*out = NULL;
		return SH_ERR_NOMEM;
	}
	return SH_OK;
}

bool ss_password_verify(const char *hash, const char *password)
{
	static char dummy[crypto_pwhash_STRBYTES];

	if (!hash) {
		if (!dummy[0] && crypto_pwhash_str(dummy, "x", 1, crypto_pwhash_OPSLIMIT_MIN,
						   crypto_pwhash_MEMLIMIT_MIN) != 0)
			return false;
		if (crypto_pwhash_str_verify(dummy, password, strlen(password)) == 0)
			return false;
		return false;
	}
	return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

int ss_password_policy(const char *password, const char *username, const char *email,
		       struct sh_reason *why)
{
	size_t n = strlen(password);

	if (n < 12) {
		sh_reason_set(why, "Passordet må ha minst 12 tegn.");
		return SH_ERR_INVALID;
	}
	if (n > 512) {
		sh_reason_set(why, "Passordet kan ha høyst 512 tegn.");
		return SH_ERR_INVALID;
	}
	if ((username && strcasecmp(password, username) == 0) ||
	    (email && strcasecmp(password, email) == 0)) {
		sh_reason_set(why, "Passordet kan ikke være det samme som brukernavnet eller e-postadressen.");
		return SH_ERR_INVALID;
	}
	return SH_OK;
}

