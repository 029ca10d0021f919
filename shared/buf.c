/* buf.c: capped growable buffer and a JSON string writer. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

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

int sh_buf_u64(struct sh_buf *b, unsigned long long v)
{
	char d[20], *p = d + sizeof(d);

	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	return sh_buf_append(b, p, (size_t)(d + sizeof(d) - p));
}

int sh_buf_json_str(struct sh_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *run = p;

	sh_buf_append(b, "\"", 1);
	for (; *p; p++) {
		const char *esc = NULL;
		char u[6];

		if (*p == '"')
			esc = "\\\"";
		else if (*p == '\\')
			esc = "\\\\";
		else if (*p < 0x20) {
			u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
			u[4] = hex[*p >> 4], u[5] = hex[*p & 0xf];
		} else
			continue;
		sh_buf_append(b, run, (size_t)(p - run));
		if (esc)
			sh_buf_append(b, esc, 2);
		else
			sh_buf_append(b, u, 6);
		run = p + 1;
	}
	sh_buf_append(b, run, (size_t)(p - run));
	return sh_buf_append(b, "\"", 1);
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
