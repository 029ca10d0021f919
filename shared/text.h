/* text.h: UTF-8 checks and small string helpers for user-typed text. */
#ifndef SH_TEXT_H
#define SH_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF). */
bool sh_utf8_valid(const char *s, size_t len);
/* Number of code points in valid UTF-8. */
size_t sh_utf8_chars(const char *s, size_t len);
/* True if s holds a C0/C1 control character or DEL (tabs and newlines too). */
bool sh_has_control(const char *s, size_t len);

/*
 * v's lowest `width` digits in decimal at p, zero-padded, without a NUL
 * (packed records' numbers, dates, numbers in bodies); the end of them.
 */
char *sh_put_digits(char *p, int width, uint64_t v);

/*
 * src (NULL as "") into dst of n > 0 bytes, cut to fit and always ended
 * by a NUL, as snprintf(dst, n, "%s", src) but without its formatting
 * (which costs ten times as much on the merge's hot path).
 */
void sh_str_copy(char *dst, size_t n, const char *src);

/* FNV-1a of a NUL-terminated string: for the small hash tables keyed by name or id. */
uint32_t sh_str_hash(const char *s);

/*
 * The user's own input, if it is safe to quote back in a message (valid
 * UTF-8, no control characters, at most 40 bytes); otherwise "verdien".
 */
const char *sh_text_echo(const char *s);

#endif
