/* prompt.h: reading a password for jsr login, jsr-server init and user add. */
#ifndef SH_PROMPT_H
#define SH_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/*
 * From the environment variable `env` if it is set (scripts, tests),
 * otherwise from the terminal without echo, asking twice when `confirm`.
 * The prompt goes to stderr.
 */
int sh_read_password(const char *prompt, const char *env, bool confirm, char *buf, size_t len,
		     struct sh_reason *why) SH_MUST_USE;

#endif
