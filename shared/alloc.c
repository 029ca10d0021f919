/* alloc.c: allocation wrappers with failure injection for tests. */
#include "alloc.h"

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_after = -1;

static int should_fail(void)
{
	long v = atomic_load(&fail_after);

	if (v < 0)
		return 0;
	if (v == 0)
		return 1;
	atomic_fetch_sub(&fail_after, 1);
	return 0;
}

void sh_alloc_fail_after(long n) { atomic_store(&fail_after, n); }

void *sh_malloc(size_t n)
{
	return should_fail() ? NULL : malloc(n ? n : 1);
}

void *sh_calloc(size_t count, size_t size)
{
	return should_fail() ? NULL : calloc(count ? count : 1, size ? size : 1);
}

void *sh_realloc(void *p, size_t n)
{
	return should_fail() ? NULL : realloc(p, n ? n : 1);
}

char *sh_strndup(const char *s, size_t n)
{
	char *d;

	if (!s)
		return NULL;
	d = sh_malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

char *sh_strdup(const char *s) { return s ? sh_strndup(s, strlen(s)) : NULL; }

void sh_free(void *p) { free(p); }

void sh_alloc_hook_cjson(void)
{
	cJSON_Hooks h = {.malloc_fn = sh_malloc, .free_fn = sh_free};

	cJSON_InitHooks(&h);
}
