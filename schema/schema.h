/*
 * schema.h: the numbered SQL migrations compiled into every binary.
 * Generated from schema/client/NNN_*.sql and schema/server/NNN_*.sql by
 * schema/embed.cmake; applied by sh_migrate() (shared/migrate.h).
 */
#ifndef JSR_SCHEMA_H
#define JSR_SCHEMA_H

#include <stddef.h>

struct sh_migration {
	int version;      /* 1, 2, ... contiguous; becomes PRAGMA user_version */
	const char *name; /* file name, for messages */
	const char *sql;  /* whole script, run inside one transaction */
};

extern const struct sh_migration sh_migrations_client[];
extern const size_t sh_migrations_client_count;
extern const struct sh_migration sh_migrations_server[];
extern const size_t sh_migrations_server_count;

#endif
