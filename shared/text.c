/* text.c: UTF-8 validation (RFC 3629 table 3-7). */
#include "text.h"

#include <stdint.h>
#include <string.h>

/*
 * How many of the first bytes are ASCII: 16 at a time, then one at a time
 * (a fast skip over the common case, long texts and short strings alike).
 */
static size_t ascii_run(const unsigned char *s, size_t len)
{
	size_t i = 0;

	for (; i + 16 <= len; i += 16) {
		uint64_t a, b;

		memcpy(&a, s + i, 8);
		memcpy(&b, s + i + 8, 8);
		if ((a | b) & 0x8080808080808080u)
			break;
	}
	while (i < len && s[i] < 0x80)
		i++;
	return i;
}

bool sh_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i += 1 + ascii_run(s + i + 1, len - i - 1);
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return false;
		if (i + n >= len)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += n + 1;
	}
	return true;
}

size_t sh_utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

bool sh_has_control(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < len; i++) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return true;
		/* C1 controls U+0080..U+009F are encoded as C2 80..C2 9F */
		if (s[i] == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

const char *sh_text_echo(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return (s && n <= 40 && sh_utf8_valid(s, n) && !sh_has_control(s, n)) ? s : "verdien";
}

uint32_t sh_str_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void sh_str_copy(char *dst, size_t n, const char *src)
{
	size_t len = src ? strnlen(src, n - 1) : 0;

	if (len)
		memcpy(dst, src, len);
	dst[len] = '\0';
}

char *sh_put_digits(char *p, int width, uint64_t v)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				    "8081828384858687888990919293949596979899";
	int i = width;

	/* two digits a step, and zeros at once when v runs out */
	while (i >= 2 && v) {
		i -= 2;
		memcpy(p + i, pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (i == 1 && v)
		p[--i] = (char)('0' + v % 10);
	memset(p, '0', (size_t)i);
	return p + width;
}
