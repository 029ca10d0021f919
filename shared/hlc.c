/* hlc.c: hybrid logical clock. */
#include "hlc.h"

#include <string.h>
#include <time.h>

uint64_t sh_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sh_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t physical(const struct sh_hlc *c)
{
	uint64_t ms = c->now_ms ? c->now_ms() : sh_wall_ms();

	return sh_hlc_pack(ms & 0xffffffffffffULL, 0);
}

/*
 * Packed arithmetic: "max, and if the physical clock did not win, counter
 * + 1" is a plain +1 on the packed value; a full counter carries into the
 * millisecond part, which only moves the clock a millisecond ahead.
 */
uint64_t sh_hlc_now(struct sh_hlc *c)
{
	uint64_t pt = physical(c);

	c->last = pt > c->last ? pt : c->last + 1;
	return c->last;
}

int sh_hlc_recv(struct sh_hlc *c, uint64_t remote, uint64_t *out)
{
	uint64_t pt = physical(c);
	uint64_t drift = c->max_drift_ms ? c->max_drift_ms : 300000;
	uint64_t m = remote > c->last ? remote : c->last;

	*out = 0;
	if (sh_hlc_ms(remote) > sh_hlc_ms(pt) + drift)
		return SH_ERR_CLOCK;
	c->last = pt > m ? pt : m + 1;
	*out = c->last;
	return SH_OK;
}

void sh_hlc_encode(uint64_t h, char out[SH_HLC_TEXT_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = SH_HLC_TEXT_LEN - 1; i >= 0; i--, h >>= 4)
		out[i] = hex[h & 0xf];
	out[SH_HLC_TEXT_LEN] = '\0';
}

int sh_hlc_decode(const char *s, uint64_t *out)
{
	uint64_t h = 0;

	*out = 0;
	if (!s || strlen(s) != SH_HLC_TEXT_LEN)
		return SH_ERR_INVALID;
	for (int i = 0; i < SH_HLC_TEXT_LEN; i++) {
		char ch = s[i];
		unsigned v;

		if (ch >= '0' && ch <= '9')
			v = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			v = (unsigned)(ch - 'a' + 10);
		else
			return SH_ERR_INVALID;
		h = h << 4 | v;
	}
	*out = h;
	return SH_OK;
}

int sh_hlc_cmp(uint64_t a, const char *dev_a, uint64_t b, const char *dev_b)
{
	if (a != b)
		return a < b ? -1 : 1;
	return strcmp(dev_a ? dev_a : "", dev_b ? dev_b : "");
}
