/* log.c: timestamped stderr logging. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"

static const char *prog = "jsr";
static int level = -1;

void sh_log_init(const char *program)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	const char *want = sh_config_str("log_level");

	prog = program;
	level = SH_LOG_INFO;
	for (int i = 0; want && i < 4; i++)
		if (strcmp(want, names[i]) == 0)
			level = i;
}

void sh_log(enum sh_log_level lvl, const char *fmt, ...)
{
	static const char *tag[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	char line[1024], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (level < 0)
		sh_log_init(prog);
	if ((int)lvl > level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ldZ %s %s: %s\n", ts, now.tv_nsec / 1000000L, prog, tag[lvl], line);
}
