/* seal.c: key files, fingerprints, crypto_kx channels, sealed boxes. */
#include "seal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "alloc.h"
#include "buf.h"

int sh_keys_generate(struct sh_keys **out)
{
	struct sh_keys *k = sodium_malloc(sizeof(*k));

	*out = NULL;
	if (!k)
		return SH_ERR_NOMEM;
	if (crypto_kx_keypair(k->kx_pk, k->kx_sk) != 0 ||
	    crypto_sign_keypair(k->sign_pk, k->sign_sk) != 0) {
		sodium_free(k);
		return SH_ERR_CRYPTO;
	}
	*out = k;
	return SH_OK;
}

void sh_keys_free(struct sh_keys *k)
{
	if (k)
		sodium_free(k); /* wipes */
}

/* File format: "jsr-keys-v1\n" then the struct in hex on one line. */
int sh_keys_save(const char *path, const struct sh_keys *k, struct sh_reason *why)
{
	char tmp[4200], *hex;
	size_t hexlen = sizeof(*k) * 2 + 1;
	int fd, rc = SH_OK;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return SH_ERR_IO;
	hex = sodium_malloc(hexlen);
	if (!hex)
		return SH_ERR_NOMEM;
	sodium_bin2hex(hex, hexlen, (const unsigned char *)k, sizeof(*k));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "jsr-keys-v1\n", 12) != 12 ||
	    write(fd, hex, hexlen - 1) != (ssize_t)(hexlen - 1) || write(fd, "\n", 1) != 1 ||
	    fsync(fd) != 0) {
		sh_reason_set(why, "Kan ikke skrive nøkkelfilen %s: %s.", path, strerror(errno));
		rc = SH_ERR_IO;
	}
	if (fd >= 0)
		close(fd);
	if (rc == SH_OK && rename(tmp, path) != 0) {
		sh_reason_set(why, "Kan ikke lagre nøkkelfilen %s: %s.", path, strerror(errno));
		rc = SH_ERR_IO;
	}
	if (rc != SH_OK)
		unlink(tmp);
	sodium_free(hex);
	return rc;
}

int sh_keys_load(const char *path, struct sh_keys **out, struct sh_reason *why)
{
	struct stat sb;
	char *buf;
	size_t want = 12 + sizeof(struct sh_keys) * 2 + 1, got = 0, binlen = 0;
	int fd, rc = SH_ERR_CONFIG;
	struct sh_keys *k;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sh_reason_set(why, "Kan ikke lese nøkkelfilen %s: %s.", path, strerror(errno));
		return SH_ERR_IO;
	}
	if (fstat(fd, &sb) != 0 || (sb.st_mode & 077) != 0) {
		close(fd);
		sh_reason_set(why, "Nøkkelfilen %s kan leses av andre; den må ha tilgang 0600.", path);
		return SH_ERR_CONFIG;
	}
	buf = sodium_malloc(want + 1);
	k = sodium_malloc(sizeof(*k));
	if (!buf || !k) {
		close(fd);
		sodium_free(buf);
		sodium_free(k);
		return SH_ERR_NOMEM;
	}
	while (got < want) {
		ssize_t n = read(fd, buf + got, want - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got == want && memcmp(buf, "jsr-keys-v1\n", 12) == 0 && buf[want - 1] == '\n' &&
	    sodium_hex2bin((unsigned char *)k, sizeof(*k), buf + 12, want - 13, NULL, &binlen,
			   NULL) == 0 && binlen == sizeof(*k))
		rc = SH_OK;
	sodium_free(buf);
	if (rc != SH_OK) {
		sodium_free(k);
		sh_reason_set(why, "Nøkkelfilen %s er skadet.", path);
		return rc;
	}
	*out = k;
	return SH_OK;
}

void sh_fingerprint(const unsigned char kx_pk[SH_KX_PK], const unsigned char sign_pk[SH_SIGN_PK],
		    char out[SH_FPR_LEN + 1])
{
	unsigned char both[SH_KX_PK + SH_SIGN_PK], h[SH_FPR_LEN / 2];

	memcpy(both, kx_pk, SH_KX_PK);
	memcpy(both + SH_KX_PK, sign_pk, SH_SIGN_PK);
	crypto_generichash(h, sizeof(h), both, sizeof(both), NULL, 0);
	sodium_bin2hex(out, SH_FPR_LEN + 1, h, sizeof(h));
}

int sh_fingerprint_normalise(const char *in, char out[SH_FPR_LEN + 1])
{
	size_t n = 0;

	memset(out, 0, SH_FPR_LEN + 1);
	for (; in && *in; in++) {
		char ch = *in;

		if (ch == ' ' || ch == ':' || ch == '-')
			continue;
		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')) || n == SH_FPR_LEN)
			return SH_ERR_INVALID;
		out[n++] = ch;
	}
	return n == SH_FPR_LEN ? SH_OK : SH_ERR_INVALID;
}

int sh_channel_device(struct sh_channel *ch, const struct sh_keys *dev,
		      const unsigned char server_kx_pk[SH_KX_PK])
{
	return crypto_kx_client_session_keys(ch->rx, ch->tx, dev->kx_pk, dev->kx_sk,
					     server_kx_pk) == 0 ? SH_OK : SH_ERR_CRYPTO;
}

int sh_channel_server(struct sh_channel *ch, const struct sh_keys *srv,
		      const unsigned char device_kx_pk[SH_KX_PK])
{
	return crypto_kx_server_session_keys(ch->rx, ch->tx, srv->kx_pk, srv->kx_sk,
					     device_kx_pk) == 0 ? SH_OK : SH_ERR_CRYPTO;
}

void sh_channel_wipe(struct sh_channel *ch) { sodium_memzero(ch, sizeof(*ch)); }

/*
 * Base64 (standard alphabet, padded) through OpenSSL's table coder, which
 * runs at about ten times the speed of libsodium's constant-time one; boxes
 * carry ciphertext, which is public, so no secret is exposed by its timing.
 * EVP_DecodeBlock is lenient where jsr.v1 is strict (padding anywhere,
 * whitespace at either end), so those are refused here first.
 */
/* Characters of len bytes in base64; 0 past what EVP_EncodeBlock takes (an int). */
static size_t b64_len(size_t len)
{
	return len > (size_t)INT_MAX / 4 * 3 - 3 ? 0 : (len + 2) / 3 * 4;
}

int sh_b64_encode(const unsigned char *in, size_t len, char **out)
{
	size_t n = b64_len(len);

	if (!n && len)
		return SH_ERR_TOO_BIG;
	*out = sh_malloc(n + 1);
	if (!*out)
		return SH_ERR_NOMEM;
	EVP_EncodeBlock((unsigned char *)*out, in, (int)len); /* and the NUL after */
	return SH_OK;
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/';
}

/* Decodes n characters into out (room for n / 4 * 3); the length, or -1. */
static long b64_decode(const char *in, size_t n, unsigned char *out)
{
	size_t pad = 0;
	int k;

	if (n == 0)
		return 0;
	if (n % 4 != 0 || n > INT_MAX || !b64_char(in[0]))
		return -1;
	while (pad < 2 && in[n - 1 - pad] == '=')
		pad++;
	if (!b64_char(in[n - 1 - pad]) || memchr(in, '=', n - pad))
		return -1;
	k = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	return k < 0 || (size_t)k < pad ? -1 : (long)((size_t)k - pad);
}

int sh_b64_decode(const char *in, unsigned char **out, size_t *len)
{
	size_t n = strlen(in);
	long k;

	*out = NULL;
	*len = 0;
	if (n > (size_t)SH_BOX_MAX_BODY / 3 * 4 + 4096)
		return SH_ERR_TOO_BIG;
	*out = sh_malloc(n / 4 * 3 + 3);
	if (!*out)
		return SH_ERR_NOMEM;
	if ((k = b64_decode(in, n, *out)) < 0) {
		sh_free(*out);
		*out = NULL;
		return SH_ERR_INVALID;
	}
	*len = (size_t)k;
	return SH_OK;
}

/* Keys: small, and some secret, so libsodium's constant-time decoder. */
int sh_b64_decode_fixed(const char *in, unsigned char *out, size_t n)
{
	size_t len = 0;

	if (!in || strlen(in) != sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL) - 1)
		return SH_ERR_INVALID;
	if (sodium_base642bin(out, n, in, strlen(in), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || len != n)
		return SH_ERR_INVALID;
	return SH_OK;
}

/* header || nonce || ciphertext, the signed message (Ed25519ph not needed). */
static int signed_part(const char *header, const unsigned char *nonce, const unsigned char *ct,
		       size_t ctlen, unsigned char hash[crypto_generichash_BYTES])
{
	crypto_generichash_state st;

	/* sign a BLAKE2b digest: boxes can be megabytes */
	if (crypto_generichash_init(&st, NULL, 0, crypto_generichash_BYTES) != 0)
		return SH_ERR_CRYPTO;
	crypto_generichash_update(&st, (const unsigned char *)header, strlen(header));
	crypto_generichash_update(&st, nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_generichash_update(&st, ct, ctlen);
	crypto_generichash_final(&st, hash, crypto_generichash_BYTES);
	return SH_OK;
}

/* A sealed box's parts: body encrypted under key with header as additional data, and signed. */
struct sealed {
	unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned char sig[crypto_sign_BYTES];
	unsigned char *ct; /* sh_free */
	size_t ctlen;
};

static int seal(const unsigned char key[32], const struct sh_keys *signer, const char *header, const void *body,
		size_t len, struct sealed *out)
{
	unsigned char hash[crypto_generichash_BYTES];
	unsigned long long ctlen = 0;

	out->ct = NULL;
	if (len > SH_BOX_MAX_BODY)
		return SH_ERR_TOO_BIG;
	if (!(out->ct = sh_malloc(len + crypto_aead_xchacha20poly1305_ietf_ABYTES)))
		return SH_ERR_NOMEM;
	randombytes_buf(out->nonce, sizeof(out->nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(out->ct, &ctlen, body, len, (const unsigned char *)header,
						   strlen(header), NULL, out->nonce, key);
	out->ctlen = (size_t)ctlen;
	if (signed_part(header, out->nonce, out->ct, out->ctlen, hash) != SH_OK ||
	    crypto_sign_detached(out->sig, NULL, hash, sizeof(hash), signer->sign_sk) != 0) {
		sh_free(out->ct);
		out->ct = NULL;
		return SH_ERR_CRYPTO;
	}
	return SH_OK;
}

/* ,"key":"base64 of in" */
static void b64_member(struct sh_buf *b, const char *key, const unsigned char *in, size_t len)
{
	char *at;
	size_t n = b64_len(len);

	sh_buf_printf(b, ",\"%s\":\"", key);
	if (!n && len) {
		b->err = SH_ERR_TOO_BIG;
		return;
	}
	/* EVP_EncodeBlock writes a NUL after the text: the one sh_buf keeps there */
	if ((at = sh_buf_extend(b, n)))
		EVP_EncodeBlock((unsigned char *)at, in, (int)len);
	sh_buf_puts(b, "\"");
}

char *sh_box_message(const unsigned char key[32], const struct sh_keys *signer, const char *type, uint64_t id,
		     const char *header, const void *body, size_t len)
{
	struct sealed x;
	struct sh_buf b;

	if (seal(key, signer, header, body, len, &x) != SH_OK)
		return NULL;
	sh_buf_init(&b, (size_t)-1);
	sh_buf_puts(&b, "{\"t\":");
	sh_buf_json_str(&b, type);
	sh_buf_printf(&b, ",\"id\":%llu,\"box\":{\"h\":", (unsigned long long)id);
	sh_buf_json_str(&b, header);
	b64_member(&b, "n", x.nonce, sizeof(x.nonce));
	b64_member(&b, "c", x.ct, x.ctlen);
	b64_member(&b, "s", x.sig, sizeof(x.sig));
	sh_buf_puts(&b, "}}");
	sh_free(x.ct);
	if (b.err != SH_OK) {
		sh_buf_free(&b);
		return NULL;
	}
	return sh_buf_take(&b, NULL);
}

char *sh_box_message_peek(const char *text, size_t len)
{
	static const char at[] = ",\"box\":{\"h\":\"";
	const char *end = text + (len < 512 ? len : 512), *h, *q;
	cJSON *s;
	char *out = NULL;

	/* {"t":"…","id":N,"box":{"h":"…" */
	if (len < 6 || memcmp(text, "{\"t\":\"", 6) != 0)
		return NULL;
	for (h = text; h + sizeof(at) - 1 <= end && memcmp(h, at, sizeof(at) - 1) != 0; h++)
		;
	if (h + sizeof(at) - 1 > end)
		return NULL;
	for (q = h + sizeof(at) - 1; q < end && *q != '"'; q++)
		if (*q == '\\' && ++q == end)
			return NULL;
	if (q == end)
		return NULL;
	h += sizeof(at) - 2; /* the string's opening quote */
	if ((s = cJSON_ParseWithLength(h, (size_t)(q + 1 - h))) && cJSON_IsString(s))
		out = sh_strdup(s->valuestring);
	cJSON_Delete(s);
	return out;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int sh_box_header(const cJSON *box, const char **header)
{
	*header = NULL;
	if (!cJSON_IsObject(box) || !str_of(box, "h") || !str_of(box, "n") || !str_of(box, "c") ||
	    !str_of(box, "s"))
		return SH_ERR_PROTO;
	*header = str_of(box, "h");
	return SH_OK;
}

int sh_box_open(const unsigned char key[32], const unsigned char signer_pk[SH_SIGN_PK],
		const cJSON *box, char **body, size_t *len)
{
	unsigned char nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	unsigned char sig[crypto_sign_BYTES], hash[crypto_generichash_BYTES];
	unsigned char *ct = NULL;
	unsigned long long plen = 0;
	const char *header;
	char *plain;
	size_t ctlen = 0;
	int rc;

	*body = NULL;
	*len = 0;
	if (sh_box_header(box, &header) != SH_OK)
		return SH_ERR_PROTO;
	if (sh_b64_decode_fixed(str_of(box, "n"), nonce, sizeof(nonce)) != SH_OK ||
	    sh_b64_decode_fixed(str_of(box, "s"), sig, sizeof(sig)) != SH_OK)
		return SH_ERR_CRYPTO;
	rc = sh_b64_decode(str_of(box, "c"), &ct, &ctlen);
	if (rc == SH_ERR_NOMEM || rc == SH_ERR_TOO_BIG)
		return rc;
	if (rc != SH_OK || ctlen < crypto_aead_xchacha20poly1305_ietf_ABYTES) {
		sh_free(ct);
		return SH_ERR_CRYPTO;
	}
	if (signed_part(header, nonce, ct, ctlen, hash) != SH_OK ||
	    crypto_sign_verify_detached(sig, hash, sizeof(hash), signer_pk) != 0) {
		sh_free(ct);
		return SH_ERR_CRYPTO;
	}
	plain = sh_malloc(ctlen - crypto_aead_xchacha20poly1305_ietf_ABYTES + 1);
	if (!plain) {
		sh_free(ct);
		return SH_ERR_NOMEM;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)plain, &plen, NULL, ct, ctlen,
						       (const unsigned char *)header,
						       strlen(header), nonce, key) != 0) {
		sh_free(ct);
		sh_free(plain);
		return SH_ERR_CRYPTO;
	}
	sh_free(ct);
	plain[plen] = '\0';
	*body = plain;
	*len = (size_t)plen;
	return SH_OK;
}
