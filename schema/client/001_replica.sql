-- The caseworker's replica (one file per user and server). DESIGN.md §3.
-- Field values are stored one row per field (the catalogue names them);
-- participant carries copies of the columns lists and rules need, kept in
-- step in the same transaction as the values.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE participant (
	id         TEXT PRIMARY KEY,           -- 128-bit random, hex
	draft      INTEGER NOT NULL DEFAULT 1, -- 1 = utkast: local only, never synchronised
	status     TEXT NOT NULL,              -- sh_status_code(), derived
	fnr        TEXT,
	navn       TEXT,
	kommune    TEXT,
	startdato  TEXT,
	sluttdato  TEXT,
	created    INTEGER NOT NULL,           -- hlc
	updated    INTEGER NOT NULL,           -- hlc of the last change
	-- kept by the triggers below, so the overview reads one table
	pending    INTEGER NOT NULL DEFAULT 0, -- entries in the outbox
	rejected   TEXT,                       -- latest reason the server refused a change
	lookup     TEXT                        -- state of the Folkeregister lookup
) WITHOUT ROWID;
CREATE INDEX participant_fnr ON participant(fnr, draft);
CREATE INDEX participant_status ON participant(draft, status, updated);

CREATE TABLE field_value (
	participant TEXT NOT NULL REFERENCES participant(id) ON DELETE CASCADE,
	field       TEXT NOT NULL,             -- catalogue name
	row         TEXT NOT NULL DEFAULT '',  -- Tiltak row id, '' for single fields
	value       TEXT NOT NULL,
	hlc         INTEGER NOT NULL,
	author      TEXT NOT NULL,
	version     INTEGER NOT NULL DEFAULT 0, -- server version this value is based on
	PRIMARY KEY (participant, field, row)
) WITHOUT ROWID;

-- Changes not yet acknowledged by the server. A change joins a change-set
-- (changeset not NULL) when first sent; from then on it is frozen.
CREATE TABLE outbox (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	participant TEXT NOT NULL,
	field       TEXT NOT NULL,
	row         TEXT NOT NULL DEFAULT '',
	value       TEXT NOT NULL,             -- '' clears the field
	hlc         INTEGER NOT NULL,
	author      TEXT NOT NULL,
	base        INTEGER NOT NULL,          -- server version the edit was based on
	changeset   INTEGER,                   -- sequence number once sent
	rejected    TEXT                       -- the server's reason, when refused
);
CREATE UNIQUE INDEX outbox_unsent ON outbox(participant, field, row) WHERE changeset IS NULL;
CREATE INDEX outbox_participant ON outbox(participant, field, row);
CREATE INDEX outbox_changeset ON outbox(changeset) WHERE changeset IS NOT NULL;
CREATE INDEX outbox_rejected ON outbox(participant, field, row) WHERE rejected IS NOT NULL;

-- Folkeregister lookups waiting for (or answered by) the server.
CREATE TABLE lookup (
	participant TEXT PRIMARY KEY REFERENCES participant(id) ON DELETE CASCADE,
	fnr         TEXT NOT NULL,
	state       TEXT NOT NULL,             -- venter, sendt, henter, hentet, ikke_funnet, feil
	created     INTEGER NOT NULL,          -- hlc
	attempts    INTEGER NOT NULL DEFAULT 0,
	next_try    INTEGER,                   -- unix ms
	reason      TEXT
) WITHOUT ROWID;

-- Sync state and lookup state of each participant, maintained here so that
-- no code path can forget them.
CREATE TRIGGER outbox_added AFTER INSERT ON outbox BEGIN
	UPDATE participant SET pending = pending + 1 WHERE id = NEW.participant;
END;
CREATE TRIGGER outbox_removed AFTER DELETE ON outbox BEGIN
	UPDATE participant SET pending = pending - 1 WHERE id = OLD.participant;
END;
CREATE TRIGGER outbox_rejected_removed AFTER DELETE ON outbox WHEN OLD.rejected IS NOT NULL BEGIN
	UPDATE participant SET
		rejected = (SELECT rejected FROM outbox WHERE participant = OLD.participant
			    AND rejected IS NOT NULL ORDER BY seq DESC LIMIT 1)
	WHERE id = OLD.participant;
END;
CREATE TRIGGER outbox_rejected AFTER UPDATE OF rejected ON outbox BEGIN
	UPDATE participant SET
		rejected = (SELECT rejected FROM outbox WHERE participant = NEW.participant
			    AND rejected IS NOT NULL ORDER BY seq DESC LIMIT 1)
	WHERE id = NEW.participant;
END;
CREATE TRIGGER lookup_added AFTER INSERT ON lookup BEGIN
	UPDATE participant SET lookup = NEW.state WHERE id = NEW.participant;
END;
CREATE TRIGGER lookup_changed AFTER UPDATE OF state ON lookup BEGIN
	UPDATE participant SET lookup = NEW.state WHERE id = NEW.participant;
END;
CREATE TRIGGER lookup_removed AFTER DELETE ON lookup BEGIN
	UPDATE participant SET lookup = NULL WHERE id = OLD.participant;
END;

-- Conflicts from the server (field conflicts and duplicate registrations).
CREATE TABLE conflict (
	id             INTEGER PRIMARY KEY,        -- the server's id
	seq            INTEGER NOT NULL,
	kind           TEXT NOT NULL,              -- field, duplicate
	participant    TEXT NOT NULL,
	kommune        TEXT,
	field          TEXT,
	row            TEXT,
	winner_value   TEXT,
	loser_value    TEXT,
	winner_author  TEXT,
	loser_author   TEXT,
	winner_hlc     INTEGER,
	loser_hlc      INTEGER,
	other          TEXT,
	other_kommune  TEXT,
	resolved       INTEGER NOT NULL DEFAULT 0  -- 1 resolved, 2 resolved here and not yet sent
);
CREATE INDEX conflict_open ON conflict(resolved, participant);
