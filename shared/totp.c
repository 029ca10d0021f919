/* totp.c: RFC 6238 TOTP with OpenSSL's HMAC-SHA1, base32, otpauth URIs. */
#include "totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void sh_base32_encode(const unsigned char *in, size_t n, char *out)
{
	unsigned buf = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		buf = buf << 8 | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alphabet[(buf >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = alphabet[(buf << (5 - bits)) & 31];
	out[o] = '\0';
}

long sh_base32_decode(const char *in, unsigned char *out, size_t cap)
{
	unsigned buf = 0;
	int bits = 0;
	size_t o = 0;

	for (; *in; in++) {
		const char *p;
		char ch = *in;

		if (ch == ' ' || ch == '=')
			continue;
		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 32);
		if (!(p = strchr(alphabet, ch)) || ch == '\0')
			return -1;
		buf = buf << 5 | (unsigned)(p - alphabet);
		bits += 5;
		if (bits >= 8) {
			if (o == cap)
				return -1;
			out[o++] = (unsigned char)(buf >> (bits - 8));
			bits -= 8;
		}
	}
	return (long)o;
}

void sh_totp_secret_new(char out[SH_TOTP_SECRET_LEN + 1])
{
	unsigned char raw[20];

	randombytes_buf(raw, sizeof(raw));
	sh_base32_encode(raw, sizeof(raw), out);
	sodium_memzero(raw, sizeof(raw));
}

int sh_totp_code(const char *secret_b32, uint64_t step, char out[7])
{
	unsigned char key[64], msg[8], mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	long klen = sh_base32_decode(secret_b32, key, sizeof(key));
	uint32_t bin;
	int off;

	out[0] = '\0';
	if (klen < 10)
		return SH_ERR_INVALID;
	for (int i = 7; i >= 0; i--, step >>= 8)
		msg[i] = (unsigned char)(step & 0xff);
	if (!HMAC(EVP_sha1(), key, (int)klen, msg, sizeof(msg), mac, &maclen) || maclen < 20) {
		sodium_memzero(key, sizeof(key));
		return SH_ERR_CRYPTO;
	}
	sodium_memzero(key, sizeof(key));
	off = mac[maclen - 1] & 0x0f;
	bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
	      (uint32_t)mac[off + 2] << 8 | mac[off + 3];
	snprintf(out, 7, "%06u", bin % 1000000u);
	return SH_OK;
}

bool sh_totp_verify(const char *secret_b32, const char *code, uint64_t now_s, int window,
		    uint64_t after_step, uint64_t *step)
{
	uint64_t now = now_s / SH_TOTP_STEP;
	bool ok = false;

	*step = 0;
	if (!code || strlen(code) != 6 || strspn(code, "0123456789") != 6)
		return false;
	for (int d = -window; d <= window; d++) {
		char want[7];
		uint64_t s = now + (uint64_t)(int64_t)d;

		if (s <= after_step || sh_totp_code(secret_b32, s, want) != SH_OK)
			continue;
		/* compare every candidate: no early exit on the time taken */
		if (sodium_memcmp(want, code, 6) == 0 && !ok) {
			ok = true;
			*step = s;
		}
	}
	return ok;
}

static void put_escaped(struct sh_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			sh_buf_append(b, s, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			sh_buf_append(b, e, 3);
		}
	}
}

char *sh_totp_uri(const char *issuer, const char *account, const char *secret_b32)
{
	struct sh_buf b;

	sh_buf_init(&b, 4096);
	sh_buf_puts(&b, "otpauth://totp/");
	put_escaped(&b, issuer);
	sh_buf_puts(&b, ":");
	put_escaped(&b, account);
	sh_buf_printf(&b, "?secret=%s&issuer=", secret_b32);
	put_escaped(&b, issuer);
	sh_buf_puts(&b, "&algorithm=SHA1&digits=6&period=30");
	return sh_buf_take(&b, NULL);
}
