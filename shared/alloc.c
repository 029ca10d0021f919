/* alloc.c: allocation wrappers with failure injection for tests. */
#include "alloc.h"

#include <cjson/cJSON.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
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

/* The arena cJSON allocates from on this thread (sh_arena_parse), if any. */
static _Thread_local struct sh_arena *parsing;
static atomic_bool hooked;

static void *cjson_malloc(size_t n) { return parsing ? sh_arena_alloc(parsing, n) : sh_malloc(n); }

/* cJSON frees inside a parse only what it allocated there: the arena's. */
static void cjson_free(void *p)
{
	if (!parsing)
		sh_free(p);
}

void sh_alloc_hook_cjson(void)
{
	cJSON_Hooks h = {.malloc_fn = cjson_malloc, .free_fn = cjson_free};

	cJSON_InitHooks(&h);
	atomic_store(&hooked, true);
}

enum { ARENA_FIRST = 64 * 1024, ARENA_MAX_BLOCK = 4 * 1024 * 1024 };

struct block {
	struct block *next;
	size_t used, size;
	alignas(16) unsigned char data[];
};

struct sh_arena {
	struct block *head;
};

void *sh_arena_alloc(struct sh_arena *a, size_t n)
{
	struct block *b = a->head;

	if (n > SIZE_MAX / 4) /* far beyond any body; and the rounding below cannot wrap */
		return NULL;
	n = (n + 15) & ~(size_t)15;
	if (!b || b->size - b->used < n) {
		size_t size = b ? b->size * 2 : ARENA_FIRST;

		if (size > ARENA_MAX_BLOCK)
			size = ARENA_MAX_BLOCK;
		if (size < n)
			size = n;
		if (!(b = sh_malloc(sizeof(*b) + size)))
			return NULL;
		b->size = size;
		b->used = 0;
		b->next = a->head;
		a->head = b;
	}
	b->used += n;
	return b->data + b->used - n;
}

void sh_arena_free(struct sh_arena *a)
{
	if (!a)
		return;
	for (struct block *b = a->head, *next; b; b = next) {
		next = b->next;
		sh_free(b);
	}
	sh_free(a);
}

cJSON *sh_arena_parse(const char *text, size_t len, struct sh_arena **arena)
{
	cJSON *root;

	*arena = NULL;
	if (!atomic_load(&hooked))
		return cJSON_ParseWithLength(text, len);
	if (!(*arena = sh_calloc(1, sizeof(**arena))))
		return NULL;
	parsing = *arena;
	root = cJSON_ParseWithLength(text, len);
	parsing = NULL;
	if (!root) {
		sh_arena_free(*arena);
		*arena = NULL;
	}
	return root;
}

void sh_arena_json_free(cJSON *root, struct sh_arena *arena)
{
	if (arena)
		sh_arena_free(arena);
	else
		cJSON_Delete(root);
}
