/* prompt.c: passwords from the environment or a terminal without echo. */
#include "prompt.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

int sh_read_password(const char *prompt, const char *env, bool confirm, char *buf, size_t len,
		     struct sh_reason *why)
{
	const char *v = env ? getenv(env) : NULL;
	struct termios old, quiet;
	char again[512];
	bool tty = isatty(0);

	if (v && *v) {
		if (strlen(v) >= len) {
			sh_reason_set(why, "Passordet i %s er for langt.", env);
			return SH_ERR_INVALID;
		}
		memcpy(buf, v, strlen(v) + 1);
		return SH_OK;
	}
	for (int round = 0; round < (confirm ? 2 : 1); round++) {
		char *dst = round ? again : buf;
		size_t cap = round ? sizeof(again) : len;

		fprintf(stderr, "%s", round ? "Gjenta passordet: " : prompt);
		if (tty) {
			tcgetattr(0, &old);
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(0, TCSANOW, &quiet);
		}
		if (!fgets(dst, (int)cap, stdin))
			dst[0] = '\0';
		if (tty) {
			tcsetattr(0, TCSANOW, &old);
			fputc('\n', stderr);
		}
		dst[strcspn(dst, "\r\n")] = '\0';
	}
	if (confirm && strcmp(buf, again) != 0) {
		sodium_memzero(again, sizeof(again));
		sh_reason_set(why, "Passordene er ikke like.");
		return SH_ERR_INVALID;
	}
	sodium_memzero(again, sizeof(again));
	if (!buf[0]) {
		sh_reason_set(why, "Tomt passord.");
		return SH_ERR_INVALID;
	}
	return SH_OK;
}
