/* buf.c: capped growable buffer and a JSON string writer. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "text.h"

void sh_buf_init(struct sh_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void sh_buf_free(struct sh_buf *b)
{
	sh_free(b->data);
	sh_buf_init(b, b->max);
}

void sh_buf_reset(struct sh_buf *b)
{
	b->len = 0;
	b->err = SH_OK;
	if (b->data)
		b->data[0] = '\0';
}

static int grow(struct sh_buf *b, size_t extra)
{
	size_t need, cap;
	char *d;

	if (b->err != SH_OK)
		return b->err;
	if (extra > b->max || b->len > b->max - extra) {
		b->err = SH_ERR_TOO_BIG;
		return b->err;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return SH_OK;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
	d = sh_realloc(b->data, cap);
	if (!d) {
		b->err = SH_ERR_NOMEM;
		return b->err;
	}
	b->data = d;
	b->cap = cap;
	return SH_OK;
}

int sh_buf_append(struct sh_buf *b, const void *p, size_t n)
{
	if (grow(b, n) != SH_OK)
		return b->err;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return SH_OK;
}

char *sh_buf_extend(struct sh_buf *b, size_t n)
{
	char *at;

	if (grow(b, n) != SH_OK)
		return NULL;
	at = b->data + b->len;
	b->len += n;
	b->data[b->len] = '\0';
	return at;
}

int sh_buf_puts(struct sh_buf *b, const char *s) { return sh_buf_append(b, s, strlen(s)); }

int sh_buf_printf(struct sh_buf *b, const char *fmt, ...)
{
	size_t room = b->data ? b->cap - b->len : 0; /* with the NUL's */
	va_list ap;
	int n;

	if (b->err != SH_OK)
		return b->err;
	/* into the room there is, when it fits; else measured, grown and written again */
	va_start(ap, fmt);
	n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < room && (size_t)n <= b->max - b->len) {
		b->len += (size_t)n;
		return SH_OK;
	}
	if (room)
		b->data[b->len] = '\0'; /* what did not fit is not counted */
	if (n < 0 || grow(b, (size_t)n) != SH_OK)
		return b->err != SH_OK ? b->err : (b->err = SH_ERR_INTERNAL);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return SH_OK;
}

size_t sh_u64_len(unsigned long long v)
{
	size_t n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

int sh_buf_u64(struct sh_buf *b, unsigned long long v)
{
	size_t len = sh_u64_len(v);
	char *o = sh_buf_extend(b, len);

	if (o)
		sh_put_digits(o, (int)len, v);
	return b->err;
}

/* What a byte adds to a JSON string literal beyond itself: \" and \\ one, \u00XX five. */
static const unsigned char json_extra[256] = {
	[0x00] = 5, [0x01] = 5, [0x02] = 5, [0x03] = 5, [0x04] = 5, [0x05] = 5, [0x06] = 5, [0x07] = 5,
	[0x08] = 5, [0x09] = 5, [0x0a] = 5, [0x0b] = 5, [0x0c] = 5, [0x0d] = 5, [0x0e] = 5, [0x0f] = 5,
	[0x10] = 5, [0x11] = 5, [0x12] = 5, [0x13] = 5, [0x14] = 5, [0x15] = 5, [0x16] = 5, [0x17] = 5,
	[0x18] = 5, [0x19] = 5, [0x1a] = 5, [0x1b] = 5, [0x1c] = 5, [0x1d] = 5, [0x1e] = 5, [0x1f] = 5,
	['"'] = 1, ['\\'] = 1,
};

size_t sh_json_str_len(const char *s, size_t *n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t extra = 0;

	for (; *p; p++)
		extra += json_extra[*p];
	*n = (size_t)(p - (const unsigned char *)s);
	return *n + 2 + extra;
}

char *sh_json_str_at(char *o, const char *s, size_t n, size_t enc)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	*o++ = '"';
	if (enc == n + 2) { /* nothing to escape */
		memcpy(o, s, n);
		o += n;
	} else {
		for (; *p; p++) {
			if (!json_extra[*p]) {
				*o++ = (char)*p;
				continue;
			}
			*o++ = '\\';
			if (json_extra[*p] == 1) {
				*o++ = (char)*p;
			} else {
				memcpy(o, "u00", 3);
				o[3] = hex[*p >> 4];
				o[4] = hex[*p & 0xf];
				o += 5;
			}
		}
	}
	*o++ = '"';
	return o;
}

int sh_buf_json_str(struct sh_buf *b, const char *s)
{
	size_t n, enc = sh_json_str_len(s, &n);
	char *o = sh_buf_extend(b, enc);

	if (o)
		sh_json_str_at(o, s, n, enc);
	return b->err;
}

char *sh_buf_take(struct sh_buf *b, size_t *len)
{
	char *d = b->data;

	if (len)
		*len = b->len;
	if (b->err != SH_OK) {
		sh_free(d);
		d = NULL;
	} else if (!d) {
		d = sh_strdup("");
	}
	b->data = NULL;
	b->len = b->cap = 0;
	return d;
}
