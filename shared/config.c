/* config.c: key tables, file parser, environment overrides. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"

#ifndef JSR_DEFAULT_CODES_DIR
#define JSR_DEFAULT_CODES_DIR "/usr/share/jobbsjanse/codes"
#endif

const struct sh_conf_key sh_conf_shared_keys[] = {
	{"test_mode", SH_CONF_BOOL, "0",
	 "accept synthetic (Tenor) numbers and test clocks; never in production"},
	{"woman_rule", SH_CONF_BOOL, "1",
	 "the programme's rule that a participant must be a woman"},
	{"codes_dir", SH_CONF_STRING, JSR_DEFAULT_CODES_DIR,
	 "directory of the code-list files (schema/codes)"},
	{"max_clock_drift_ms", SH_CONF_INT, "300000",
	 "largest accepted lead of a remote hybrid logical clock, ms"},
	{"log_level", SH_CONF_STRING, "info", "error, warn, info or debug"},
	{NULL, 0, NULL, NULL},
};

#define MAX_KEYS 96

static struct {
	int n;
	bool ready;
	const struct sh_conf_key *key[MAX_KEYS];
	char *value[MAX_KEYS];
} cfg;

static int find(const char *name)
{
	for (int i = 0; i < cfg.n; i++)
		if (strcmp(cfg.key[i]->name, name) == 0)
			return i;
	return -1;
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *yes[] = {"1", "true", "yes", "ja", "on"};
	static const char *no[] = {"0", "false", "no", "nei", "off"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static bool parse_long(const char *v, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(v, &end, 10);
	return errno == 0 && end != v && *end == '\0';
}

static int store(int i, const char *value, struct sh_reason *why)
{
	bool b;
	long l;
	char *copy;

	if (value && cfg.key[i]->type == SH_CONF_BOOL && !parse_bool(value, &b)) {
		sh_reason_set(why, "Innstillingen %s må være ja eller nei, ikke «%s».",
			      cfg.key[i]->name, value);
		return SH_ERR_CONFIG;
	}
	if (value && cfg.key[i]->type == SH_CONF_INT && !parse_long(value, &l)) {
		sh_reason_set(why, "Innstillingen %s må være et heltall, ikke «%s».",
			      cfg.key[i]->name, value);
		return SH_ERR_CONFIG;
	}
	copy = value ? sh_strdup(value) : NULL;
	if (value && !copy)
		return SH_ERR_NOMEM;
	sh_free(cfg.value[i]);
	cfg.value[i] = copy;
	return SH_OK;
}

static int add_keys(const struct sh_conf_key *keys)
{
	for (; keys && keys->name; keys++) {
		int i = find(keys->name);

		if (i < 0) {
			if (cfg.n == MAX_KEYS)
				return SH_ERR_INTERNAL;
			i = cfg.n++;
		}
		cfg.key[i] = keys;
		if (store(i, keys->def, NULL) != SH_OK)
			return SH_ERR_NOMEM;
	}
	return SH_OK;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int load_file(const char *path, struct sh_reason *why)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int lineno = 0, rc = SH_OK;

	if (!f) {
		sh_reason_set(why, "Kan ikke lese oppsettsfilen %s: %s.", path, strerror(errno));
		return SH_ERR_CONFIG;
	}
	while (rc == SH_OK && fgets(line, sizeof(line), f)) {
		char *s, *eq;
		int i;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			sh_reason_set(why, "%s linje %d: linjen er for lang.", path, lineno);
			rc = SH_ERR_CONFIG;
			break;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (!eq) {
			sh_reason_set(why, "%s linje %d: forventet «nøkkel = verdi».", path, lineno);
			rc = SH_ERR_CONFIG;
			break;
		}
		*eq = '\0';
		i = find(trim(s));
		if (i < 0) {
			sh_reason_set(why, "%s linje %d: ukjent innstilling «%s».", path, lineno, trim(s));
			rc = SH_ERR_CONFIG;
			break;
		}
		rc = store(i, trim(eq + 1), why);
		if (rc == SH_ERR_CONFIG) {
			struct sh_reason inner = *why;

			sh_reason_set(why, "%s linje %d: %s", path, lineno, inner.text);
		}
	}
	fclose(f);
	return rc;
}

static int load_env(struct sh_reason *why)
{
	for (int i = 0; i < cfg.n; i++) {
		char name[96] = "JSR_";
		size_t j;
		const char *v;

		for (j = 0; cfg.key[i]->name[j] && j + 5 < sizeof(name); j++)
			name[4 + j] = (char)toupper((unsigned char)cfg.key[i]->name[j]);
		name[4 + j] = '\0';
		v = getenv(name);
		if (v && *v) {
			int rc = store(i, v, why);

			if (rc != SH_OK)
				return rc;
		}
	}
	return SH_OK;
}

void sh_config_reset(void)
{
	for (int i = 0; i < cfg.n; i++)
		sh_free(cfg.value[i]);
	memset(&cfg, 0, sizeof(cfg));
}

int sh_config_init(const struct sh_conf_key *program_keys, const char *path,
		   struct sh_reason *why)
{
	int rc;

	sh_config_reset();
	rc = add_keys(sh_conf_shared_keys);
	if (rc == SH_OK)
		rc = add_keys(program_keys);
	if (rc == SH_OK && path)
		rc = load_file(path, why);
	if (rc == SH_OK)
		rc = load_env(why);
	cfg.ready = true;
	return rc;
}

static void lazy_init(void)
{
	if (!cfg.ready) {
		struct sh_reason why;

		/* Env errors surface at the program's own sh_config_init(). */
		(void)!sh_config_init(NULL, NULL, &why);
	}
}

int sh_config_set(const char *key, const char *value, struct sh_reason *why)
{
	int i;

	lazy_init();
	i = find(key);
	if (i < 0) {
		sh_reason_set(why, "Ukjent innstilling «%s».", key);
		return SH_ERR_CONFIG;
	}
	return store(i, value, why);
}

const char *sh_config_str(const char *key)
{
	int i;

	lazy_init();
	i = find(key);
	return i < 0 ? NULL : cfg.value[i];
}

bool sh_config_bool(const char *key)
{
	const char *v = sh_config_str(key);
	bool b = false;

	return v && parse_bool(v, &b) && b;
}

long sh_config_int(const char *key)
{
	const char *v = sh_config_str(key);
	long l = 0;

	return (v && parse_long(v, &l)) ? l : 0;
}

bool sh_config_test_mode(void) { return sh_config_bool("test_mode"); }
bool sh_config_woman_rule(void) { return sh_config_bool("woman_rule"); }

void sh_config_describe(void (*emit)(const char *line, void *arg), void *arg)
{
	static const char *types[] = {"bool", "int", "string"};
	char line[512];

	lazy_init();
	for (int i = 0; i < cfg.n; i++) {
		snprintf(line, sizeof(line), "%-22s %-6s = %-28s # %s (default: %s)",
			 cfg.key[i]->name, types[cfg.key[i]->type],
			 cfg.value[i] ? cfg.value[i] : "", cfg.key[i]->doc,
			 cfg.key[i]->def ? cfg.key[i]->def : "unset");
		emit(line, arg);
	}
}
