/* date.c: civil-date arithmetic (Howard Hinnant's days_from_civil). */
#include "date.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "text.h"

bool sh_is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int sh_days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m < 1 || m > 12)
		return 0;
	return (m == 2 && sh_is_leap(y)) ? 29 : dim[m - 1];
}

int sh_date_days(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	int yoe = y - era * 400;
	int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void sh_date_ymd(int z, int *y, int *m, int *d)
{
	z += 719468;
	int era = (z >= 0 ? z : z - 146096) / 146097;
	int doe = z - era * 146097;
	int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp + (mp < 10 ? 3 : -9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int sh_date_parse(const char *s, int *days)
{
	int y, m, d;

	*days = 0;
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return SH_ERR_INVALID;
	y = digits(s, 4);
	m = digits(s + 5, 2);
	d = digits(s + 8, 2);
	if (y < 1800 || y > 2999 || m < 1 || m > 12 || d < 1 ||
	    d > sh_days_in_month(y, m))
		return SH_ERR_INVALID;
	*days = sh_date_days(y, m, d);
	return SH_OK;
}

/* y-m-d or d.m.y, each part zero-padded as %04u / %02u would (the merge formats every date it checks) */
static void date_parts(int days, char out[11], bool norwegian)
{
	int y, m, d;

	sh_date_ymd(days, &y, &m, &d);
	sh_put_digits(out + (norwegian ? 6 : 0), 4, (unsigned)y % 10000u);
	sh_put_digits(out + (norwegian ? 3 : 5), 2, (unsigned)m % 100u);
	sh_put_digits(out + (norwegian ? 0 : 8), 2, (unsigned)d % 100u);
	out[norwegian ? 2 : 4] = out[norwegian ? 5 : 7] = norwegian ? '.' : '-';
	out[10] = '\0';
}

void sh_date_format(int days, char out[11]) { date_parts(days, out, false); }

void sh_date_format_no(int days, char out[11]) { date_parts(days, out, true); }

/*
 * The local date is cached per minute: validators call this in hot loops
 * and localtime_r is not free. One packed atomic keeps it thread-safe.
 */
int sh_today(void)
{
	static _Atomic uint64_t cache; /* minute << 32 | (day + 2^31) */
	const char *pin = getenv("JSR_TODAY");
	int days;
	time_t now;
	uint64_t c, minute;
	struct tm tm;

	if (pin && sh_config_test_mode() && sh_date_parse(pin, &days) == SH_OK)
		return days;
	now = time(NULL);
	minute = (uint64_t)now / 60;
	c = atomic_load(&cache);
	if (c >> 32 == minute)
		return (int)((int64_t)(c & 0xffffffffu) - 2147483648LL);
	localtime_r(&now, &tm);
	days = sh_date_days(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	atomic_store(&cache, minute << 32 | (uint64_t)((int64_t)days + 2147483648LL));
	return days;
}
