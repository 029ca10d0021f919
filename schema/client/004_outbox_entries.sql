-- The outbox as one entry per participant and change-set instead of one
-- row per change (client/outbox.h): numbering a change-set, building it and
-- removing it once acknowledged touch a participant once, not once per
-- field. An entry's changes are packed as a record (003: hlc, base as the
-- version, field, row, value, author), in the order they were made: the
-- server checks a participant's changes in that order.
DROP INDEX outbox_rejected; -- the name is the new table's
DROP TRIGGER outbox_rejected;

CREATE TABLE outbox_entry (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	participant TEXT NOT NULL,
	changeset   INTEGER,                   -- sequence number once sent; NULL: not sent yet
	n           INTEGER NOT NULL,          -- changes in it
	changes     BLOB NOT NULL
);
-- one unsent entry per participant: an edit joins it (replacing a waiting
-- change of the same field, whose base stays)
CREATE UNIQUE INDEX outbox_entry_unsent ON outbox_entry(participant) WHERE changeset IS NULL;
CREATE INDEX outbox_entry_participant ON outbox_entry(participant, changeset);
CREATE INDEX outbox_entry_changeset ON outbox_entry(changeset, participant) WHERE changeset IS NOT NULL;

-- Changes the server refused, one row each (rare): the value stays, the
-- field is marked, and the change is sent again when something else of the
-- participant goes through (client/sync_store.c).
CREATE TABLE outbox_rejected (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	participant TEXT NOT NULL,
	field       TEXT NOT NULL,
	row         TEXT NOT NULL DEFAULT '',
	value       TEXT NOT NULL,
	hlc         INTEGER NOT NULL,
	author      TEXT NOT NULL,
	base        INTEGER NOT NULL,
	changeset   INTEGER NOT NULL,          -- the change-set it was refused in
	reason      TEXT NOT NULL
);
CREATE INDEX outbox_rejected_field ON outbox_rejected(participant, field, row);

INSERT INTO outbox_entry(participant, changeset, n, changes)
SELECT participant, changeset, count(*), CAST(group_concat(printf('%020d%020d%05d%05d%05d%05d', hlc, base,
	length(CAST(field AS BLOB)), length(CAST(row AS BLOB)), length(CAST(value AS BLOB)),
	length(CAST(author AS BLOB))) || field || row || value || author, '') AS BLOB)
FROM (SELECT * FROM outbox WHERE rejected IS NULL ORDER BY participant, coalesce(changeset, -1), seq)
GROUP BY participant, coalesce(changeset, -1)
ORDER BY participant, min(seq);

INSERT INTO outbox_rejected(participant, field, row, value, hlc, author, base, changeset, reason)
SELECT participant, field, row, value, hlc, author, base, coalesce(changeset, 0), rejected
FROM outbox WHERE rejected IS NOT NULL ORDER BY seq;

DROP TABLE outbox; -- and its triggers

-- participant.pending: the changes waiting, kept by the entries' counts
CREATE TRIGGER outbox_entry_added AFTER INSERT ON outbox_entry BEGIN
	UPDATE participant SET pending = pending + NEW.n WHERE id = NEW.participant;
END;
CREATE TRIGGER outbox_entry_changed AFTER UPDATE OF n ON outbox_entry WHEN NEW.n <> OLD.n BEGIN
	UPDATE participant SET pending = pending + NEW.n - OLD.n WHERE id = NEW.participant;
END;
CREATE TRIGGER outbox_entry_removed AFTER DELETE ON outbox_entry BEGIN
	UPDATE participant SET pending = pending - OLD.n WHERE id = OLD.participant;
END;
-- and participant.rejected: the latest reason the server gave
CREATE TRIGGER outbox_rejected_added AFTER INSERT ON outbox_rejected BEGIN
	UPDATE participant SET pending = pending + 1, rejected = NEW.reason WHERE id = NEW.participant;
END;
CREATE TRIGGER outbox_rejected_removed AFTER DELETE ON outbox_rejected BEGIN
	UPDATE participant SET pending = pending - 1,
		rejected = (SELECT reason FROM outbox_rejected WHERE participant = OLD.participant
			    ORDER BY seq DESC LIMIT 1)
	WHERE id = OLD.participant;
END;

UPDATE participant SET
	pending = coalesce((SELECT sum(n) FROM outbox_entry WHERE participant = participant.id), 0)
		+ (SELECT count(*) FROM outbox_rejected WHERE participant = participant.id),
	rejected = (SELECT reason FROM outbox_rejected WHERE participant = participant.id ORDER BY seq DESC LIMIT 1);

-- One row per change again, for reading in SQL (tests, an operator's
-- questions): seq is the entry's (or the refused change's own), pos the
-- change's place in its entry. The program reads the tables.
CREATE VIEW outbox(seq, pos, participant, field, row, value, hlc, author, base, changeset, rejected) AS
WITH RECURSIVE entry(seq, participant, changeset, vals, at) AS (
	SELECT seq, participant, changeset, changes, 1 FROM outbox_entry WHERE length(changes) >= 60
	UNION ALL
	SELECT seq, participant, changeset, vals, at + 60
		+ CAST(substr(vals, at + 40, 5) AS INTEGER) + CAST(substr(vals, at + 45, 5) AS INTEGER)
		+ CAST(substr(vals, at + 50, 5) AS INTEGER) + CAST(substr(vals, at + 55, 5) AS INTEGER)
	FROM entry
	WHERE at + 60
		+ CAST(substr(vals, at + 40, 5) AS INTEGER) + CAST(substr(vals, at + 45, 5) AS INTEGER)
		+ CAST(substr(vals, at + 50, 5) AS INTEGER) + CAST(substr(vals, at + 55, 5) AS INTEGER)
		< length(vals)
),
sized AS (
	SELECT seq, participant, changeset, vals, at, CAST(substr(vals, at + 40, 5) AS INTEGER) AS lf,
		CAST(substr(vals, at + 45, 5) AS INTEGER) AS lr,
		CAST(substr(vals, at + 50, 5) AS INTEGER) AS lv,
		CAST(substr(vals, at + 55, 5) AS INTEGER) AS la
	FROM entry
)
SELECT seq, at, participant,
	CAST(substr(vals, at + 60, lf) AS TEXT),
	CAST(substr(vals, at + 60 + lf, lr) AS TEXT),
	CAST(substr(vals, at + 60 + lf + lr, lv) AS TEXT),
	CAST(substr(vals, at, 20) AS INTEGER),
	CAST(substr(vals, at + 60 + lf + lr + lv, la) AS TEXT),
	CAST(substr(vals, at + 20, 20) AS INTEGER),
	changeset, NULL
FROM sized
UNION ALL
SELECT seq, 0, participant, field, row, value, hlc, author, base, changeset, reason FROM outbox_rejected;

-- A change written straight into the view (tests, repairs by hand) joins
-- the participant's unsent entry, or is an entry of its own when it names
-- a change-set; one with a reason is a refused change. It is appended as
-- it is: unlike an autosave (client/outbox.c), it does not replace a
-- waiting change of the same field, so both would be sent.
CREATE TRIGGER outbox_insert INSTEAD OF INSERT ON outbox BEGIN
	INSERT INTO outbox_rejected(participant, field, row, value, hlc, author, base, changeset, reason)
	SELECT NEW.participant, NEW.field, coalesce(NEW.row, ''), NEW.value, NEW.hlc, NEW.author, NEW.base,
		coalesce(NEW.changeset, 0), NEW.rejected
	WHERE NEW.rejected IS NOT NULL;
	INSERT INTO outbox_entry(participant, changeset, n, changes)
	SELECT NEW.participant, NEW.changeset, 1, CAST(printf('%020d%020d%05d%05d%05d%05d', NEW.hlc, NEW.base,
		length(CAST(NEW.field AS BLOB)), length(CAST(coalesce(NEW.row, '') AS BLOB)),
		length(CAST(NEW.value AS BLOB)), length(CAST(NEW.author AS BLOB)))
		|| NEW.field || coalesce(NEW.row, '') || NEW.value || NEW.author AS BLOB)
	WHERE NEW.rejected IS NULL
	ON CONFLICT(participant) WHERE changeset IS NULL DO UPDATE SET n = n + 1,
		changes = CAST(changes || excluded.changes AS BLOB);
END;
