-- Folkeregister lookups (DESIGN.md §7): one durable job per number, and the
-- participants that wait for it. A job ends only as found, not found or a
-- permanent error with its reason; a configuration error (401/403) keeps it.
CREATE TABLE lookup_job (
	fnr         TEXT PRIMARY KEY,
	state       TEXT NOT NULL DEFAULT 'pending',  -- pending, found, not_found, failed, cancelled
	attempts    INTEGER NOT NULL DEFAULT 0,
	next_try    INTEGER NOT NULL DEFAULT 0,       -- unix ms
	last_error  TEXT,                             -- Norwegian, for people
	navn        TEXT,
	kjonn       TEXT,
	status      TEXT,                             -- bosatt, utflyttet, doed ...
	created     INTEGER NOT NULL,
	updated     INTEGER NOT NULL,
	done_at     INTEGER
) WITHOUT ROWID;
CREATE INDEX lookup_job_open ON lookup_job(state, next_try);

-- Which participant waits for which number (one per participant: its current number).
CREATE TABLE lookup_request (
	participant TEXT PRIMARY KEY,
	fnr         TEXT NOT NULL,
	kommune     TEXT NOT NULL,
	requested   INTEGER NOT NULL,                 -- unix ms
	by_user     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX lookup_request_fnr ON lookup_request(fnr);
