/*
 * checkpointer.h: the replica's WAL checkpointed on a thread of its own,
 * with a connection of its own, so that a sync that writes a lot (a fresh
 * device's first pull: 40 MB) does not stop to copy pages into the file.
 * SQLite lets a checkpoint run while the other connection writes (WAL);
 * the writer starts the WAL over at its next transaction after a whole
 * checkpoint. Nothing else is done on that connection.
 */
#ifndef SC_CHECKPOINTER_H
#define SC_CHECKPOINTER_H

#include <stdbool.h>

struct sc_checkpointer;

/* Starts the thread on the database at path; NULL if it cannot (the caller checkpoints itself then). */
struct sc_checkpointer *sc_checkpointer_start(const char *path);
/* Asks for a checkpoint (PASSIVE) soon; returns at once. */
void sc_checkpointer_poke(struct sc_checkpointer *c);
/* Waits for a checkpoint asked for to end, then stops the thread and closes its connection. */
void sc_checkpointer_stop(struct sc_checkpointer *c);
/* Checkpoints done (for tests). */
unsigned sc_checkpointer_done(struct sc_checkpointer *c);

#endif
