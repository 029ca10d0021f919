/*
 * alloc.h: thin allocation wrappers so tests can make the Nth allocation
 * fail (curl's torture idea). All jobbsjanse code allocates through these;
 * cJSON is hooked to them by sh_alloc_hook_cjson().
 */
#ifndef SH_ALLOC_H
#define SH_ALLOC_H

#include <stddef.h>

void *sh_malloc(size_t n);
void *sh_calloc(size_t count, size_t size);
void *sh_realloc(void *p, size_t n);
char *sh_strdup(const char *s);          /* NULL in, NULL out */
char *sh_strndup(const char *s, size_t n);
void sh_free(void *p);

/* Test hook: the allocation after `n` more succeed fails; -1 turns it off. */
void sh_alloc_fail_after(long n);

/* Route cJSON's allocations through the wrappers above. Call once. */
void sh_alloc_hook_cjson(void);

/*
 * An arena: many small allocations from a few large blocks, let go of all
 * at once. A large message's cJSON tree (tens of thousands of nodes) is
 * parsed into one (sh_arena_parse) and released in one step, instead of a
 * malloc and a free per node.
 */
struct sh_arena;

/* The arena's allocation of n bytes (16-aligned); NULL when out of memory. */
void *sh_arena_alloc(struct sh_arena *a, size_t n);
void sh_arena_free(struct sh_arena *a); /* NULL: nothing */

/*
 * Parses len bytes of JSON with cJSON into a new arena (*arena), or, when
 * cJSON is not hooked (sh_alloc_hook_cjson), as cJSON does (*arena NULL).
 * Either way the tree goes with sh_arena_json_free(). NULL when the text is
 * not JSON or memory ran out.
 */
struct cJSON *sh_arena_parse(const char *text, size_t len, struct sh_arena **arena);
void sh_arena_json_free(struct cJSON *root, struct sh_arena *arena);

#endif
