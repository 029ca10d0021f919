/*
 * buf.h: a growable byte buffer with a hard cap (curl's dynbuf idea). Used
 * for WebSocket message reassembly and for building large JSON texts
 * quickly. Appends after a failure are ignored and the failure sticks, so a
 * builder checks once at the end.
 */
#ifndef SH_BUF_H
#define SH_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct sh_buf {
	char *data; /* NUL-terminated while not failed */
	size_t len, cap, max;
	int err;    /* SH_OK, SH_ERR_NOMEM or SH_ERR_TOO_BIG (sticky) */
};

void sh_buf_init(struct sh_buf *b, size_t max);
void sh_buf_free(struct sh_buf *b);
/* Empties the buffer (keeps the memory) and clears a failure. */
void sh_buf_reset(struct sh_buf *b);
int sh_buf_append(struct sh_buf *b, const void *p, size_t n);
int sh_buf_puts(struct sh_buf *b, const char *s);
int sh_buf_printf(struct sh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Makes room for n more bytes at the end and counts them in: the caller
 * writes them at the pointer returned (the NUL after them is set). NULL
 * after a failure.
 */
char *sh_buf_extend(struct sh_buf *b, size_t n);
/* Appends v in decimal (as printf's %llu, without its cost: bodies carry a number per value). */
int sh_buf_u64(struct sh_buf *b, unsigned long long v);
/* Appends s as a JSON string literal (quotes and escapes). */
int sh_buf_json_str(struct sh_buf *b, const char *s);
/*
 * The same written at a pointer, for an encoder that makes room for a
 * whole element at once (sh_buf_extend) and then fills it: the length
 * first, then the writer, which returns the end of what it wrote.
 * sh_u64_len: the digits of v in decimal (sh_put_digits in text.h writes
 * them). sh_json_str_len: the literal's length, quotes and escapes
 * counted, and strlen(s) in *n; sh_json_str_at writes that literal (enc
 * bytes).
 */
size_t sh_u64_len(unsigned long long v);
size_t sh_json_str_len(const char *s, size_t *n);
char *sh_json_str_at(char *o, const char *s, size_t n, size_t enc);
/* Hands the data to the caller (free with sh_free) and empties b. */
char *sh_buf_take(struct sh_buf *b, size_t *len);

#endif
