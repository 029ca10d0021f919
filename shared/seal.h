/*
 * seal.h: keys and sealed boxes (DESIGN.md §4), libsodium only.
 *
 * A party (server or device) has a long-term X25519 key pair (crypto_kx)
 * and an Ed25519 key pair. Between a device and the server, crypto_kx gives
 * one key per direction (sh_channel). A box is
 *     {"h": HEADER, "n": NONCE, "c": CIPHERTEXT, "s": SIGNATURE}
 * HEADER is a JSON text sent in clear (device, kind, sequence ...) and used
 * byte for byte as the additional data of XChaCha20-Poly1305; the nonce is
 * random; SIGNATURE is the sender's Ed25519 signature over HEADER || NONCE
 * || CIPHERTEXT (provenance, kept for audit). n, c, s are base64.
 *
 * Opening checks the signature, then decrypts. Any failure is one bare
 * SH_ERR_CRYPTO: nothing is revealed about which check failed.
 * Secret keys live in sodium_malloc memory and are wiped when freed.
 */
#ifndef SH_SEAL_H
#define SH_SEAL_H

#include <cjson/cJSON.h>
#include <sodium.h>
#include <stddef.h>

#include "err.h"

#define SH_KX_PK 32
#define SH_SIGN_PK 32
#define SH_FPR_LEN 40          /* hex digits of a key fingerprint */
#define SH_BOX_MAX_BODY (48u << 20) /* 48 MiB of plaintext at most */

struct sh_keys {
	unsigned char kx_pk[crypto_kx_PUBLICKEYBYTES];
	unsigned char kx_sk[crypto_kx_SECRETKEYBYTES];
	unsigned char sign_pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sign_sk[crypto_sign_SECRETKEYBYTES];
};

/* A fresh pair of key pairs in guarded memory; free with sh_keys_free(). */
int sh_keys_generate(struct sh_keys **out) SH_MUST_USE;
/* Reads a key file written by sh_keys_save(); refuses group/world-readable files. */
int sh_keys_load(const char *path, struct sh_keys **out, struct sh_reason *why) SH_MUST_USE;
/* Writes the keys 0600 (temporary file, fsync, rename). */
int sh_keys_save(const char *path, const struct sh_keys *k, struct sh_reason *why) SH_MUST_USE;
void sh_keys_free(struct sh_keys *k);

/* 40 lowercase hex digits naming kx_pk + sign_pk (BLAKE2b, 160 bits). */
void sh_fingerprint(const unsigned char kx_pk[SH_KX_PK], const unsigned char sign_pk[SH_SIGN_PK],
		    char out[SH_FPR_LEN + 1]);
/* A user-typed fingerprint (spaces, colons, dashes, any case) to canonical form. */
int sh_fingerprint_normalise(const char *in, char out[SH_FPR_LEN + 1]) SH_MUST_USE;

/* The two keys between one device and the server. */
struct sh_channel {
	unsigned char rx[crypto_kx_SESSIONKEYBYTES];
	unsigned char tx[crypto_kx_SESSIONKEYBYTES];
};
/* Device side (crypto_kx client). */
int sh_channel_device(struct sh_channel *ch, const struct sh_keys *dev,
		      const unsigned char server_kx_pk[SH_KX_PK]) SH_MUST_USE;
/* Server side (crypto_kx server). */
int sh_channel_server(struct sh_channel *ch, const struct sh_keys *srv,
		      const unsigned char device_kx_pk[SH_KX_PK]) SH_MUST_USE;
void sh_channel_wipe(struct sh_channel *ch);

/*
 * The text of a sealed message, {"t": type, "id": id, "box": {"h":
 * header, "n": nonce, "c": ciphertext, "s": signature}}: body (len bytes)
 * encrypted under key with header as additional data, and signed by
 * signer; nonce, ciphertext and signature in base64, written straight into
 * the text (a page's or a change-set's box is megabytes). NULL when out of
 * memory or too big; free with sh_free.
 */
char *sh_box_message(const unsigned char key[32], const struct sh_keys *signer, const char *type, uint64_t id,
		     const char *header, const void *body, size_t len);

/*
 * The header of a message's box as sh_box_message writes it ("box" after
 * "t" and "id", "h" first), read from the start of its text without
 * parsing the rest (a page is megabytes): a new string (sh_free), or NULL
 * when the text is not laid out so. Unchecked until the box is opened:
 * only a hint (the header is the box's additional data).
 */
char *sh_box_message_peek(const char *text, size_t len);

/*
 * Checks a box's shape and returns its header text (borrowed from box) so
 * the receiver can find the sender before opening. SH_ERR_PROTO if malformed.
 */
int sh_box_header(const cJSON *box, const char **header) SH_MUST_USE;

/*
 * Verifies the signature with signer_pk and decrypts with key. On success
 * *body is a new NUL-terminated buffer of *len bytes (free with sh_free).
 */
int sh_box_open(const unsigned char key[32], const unsigned char signer_pk[SH_SIGN_PK],
		const cJSON *box, char **body, size_t *len) SH_MUST_USE;

/* base64 (standard, padded) helpers; *out freed with sh_free. */
int sh_b64_encode(const unsigned char *in, size_t len, char **out) SH_MUST_USE;
int sh_b64_decode(const char *in, unsigned char **out, size_t *len) SH_MUST_USE;
/* Decodes into a fixed-size buffer; SH_ERR_INVALID unless exactly n bytes. */
int sh_b64_decode_fixed(const char *in, unsigned char *out, size_t n) SH_MUST_USE;

#endif
