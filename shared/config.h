/*
 * config.h: process-wide settings from a small "key = value" file, with an
 * environment override JSR_<KEY> for each key (e.g. JSR_TEST_MODE=1).
 *
 * Every key is declared in a table with its type, default and a one-line
 * description; `jsr config` / `jsr-server config` print that table, so the
 * documentation of a key is the code that parses it. Unknown keys and
 * malformed values are errors: a typo must not silently fall back.
 *
 * Set once at start-up on the main thread; read-only (thread-safe) after.
 */
#ifndef SH_CONFIG_H
#define SH_CONFIG_H

#include <stdbool.h>

#include "err.h"

enum sh_conf_type { SH_CONF_BOOL, SH_CONF_INT, SH_CONF_STRING };

struct sh_conf_key {
	const char *name;
	enum sh_conf_type type;
	const char *def; /* default as text; NULL = unset */
	const char *doc; /* one line, English, for operators */
};

/* Keys every program has (test_mode, woman_rule, codes_dir, ...). */
extern const struct sh_conf_key sh_conf_shared_keys[];

/*
 * Registers the shared keys plus `program_keys` (NULL-terminated by name,
 * may be NULL), applies defaults, then the file at `path` (NULL: none), then
 * the environment. On error `why` says where (file and line) in Norwegian.
 */
int sh_config_init(const struct sh_conf_key *program_keys, const char *path,
		   struct sh_reason *why) SH_MUST_USE;
/* Drop everything (tests). */
void sh_config_reset(void);
/* Override one key (command-line flags, tests). */
int sh_config_set(const char *key, const char *value, struct sh_reason *why) SH_MUST_USE;

/* Value of a key; NULL if unset or unknown. Lazily initialises shared keys. */
const char *sh_config_str(const char *key);
bool sh_config_bool(const char *key);
long sh_config_int(const char *key);

/* Shorthands for the settings the domain core reads. */
bool sh_config_test_mode(void);
bool sh_config_woman_rule(void);

/* Print every registered key with type, default, current value and doc. */
void sh_config_describe(void (*emit)(const char *line, void *arg), void *arg);

#endif
