-- A participant's field values in its own row instead of one row per
-- value (shared/packed.h, with devices): a merge reads and writes a
-- participant once, not once per field. Per entry, sorted by (field, row):
-- hlc and version as 20 decimal digits each, the byte lengths of field,
-- row, value, author and device as 5 digits each, then those five strings.
-- participant.version is the newest of its entries' versions, and a pull
-- reads participants by (kommune, version).

-- the newest version of a participant is that of its newest value (a move
-- to another municipality stamped every value anew)
CREATE TEMP TABLE packed AS
SELECT participant, CAST(group_concat(printf('%020d%020d%05d%05d%05d%05d%05d', hlc, version,
	length(CAST(field AS BLOB)), length(CAST(row AS BLOB)), length(CAST(value AS BLOB)),
	length(CAST(author AS BLOB)), length(CAST(device AS BLOB)))
	|| field || row || value || author || device, '') AS BLOB) AS vals, max(version) AS newest
FROM (SELECT * FROM field_value ORDER BY participant, field, row)
GROUP BY participant;

-- A rowid table now: a row of some kilobytes fits a leaf page there, where
-- WITHOUT ROWID would put most of it on overflow pages (writes ~35 % slower).
CREATE TABLE participant_packed (
	id         TEXT PRIMARY KEY,
	kommune    TEXT NOT NULL,
	fnr        TEXT,
	startdato  TEXT,
	sluttdato  TEXT,
	status     TEXT NOT NULL,
	created    INTEGER NOT NULL,             -- version that created it
	version    INTEGER NOT NULL,             -- the newest version of its values
	vals       BLOB NOT NULL DEFAULT x''     -- its values, packed (shared/packed.h)
);
INSERT INTO participant_packed(id, kommune, fnr, startdato, sluttdato, status, created, version, vals)
SELECT p.id, p.kommune, p.fnr, p.startdato, p.sluttdato, p.status, p.created,
	max(p.version, coalesce(packed.newest, 0)), coalesce(packed.vals, x'')
FROM participant p LEFT JOIN packed ON packed.participant = p.id;
DROP TABLE packed;
DROP TABLE participant;
DROP TABLE field_value;
ALTER TABLE participant_packed RENAME TO participant;
CREATE INDEX participant_fnr ON participant(fnr);
CREATE INDEX participant_pull ON participant(kommune, version);

-- The values one row each again, for reading in SQL (tests, an operator's
-- questions); the server itself reads and writes participant.vals
-- (server/store.c).
CREATE VIEW field_value(participant, field, row, value, hlc, device, author, version, kommune) AS
WITH RECURSIVE entry(participant, kommune, vals, at) AS (
	SELECT id, kommune, vals, 1 FROM participant WHERE length(vals) >= 65
	UNION ALL
	SELECT participant, kommune, vals, at + 65
		+ CAST(substr(vals, at + 40, 5) AS INTEGER) + CAST(substr(vals, at + 45, 5) AS INTEGER)
		+ CAST(substr(vals, at + 50, 5) AS INTEGER) + CAST(substr(vals, at + 55, 5) AS INTEGER)
		+ CAST(substr(vals, at + 60, 5) AS INTEGER)
	FROM entry
	WHERE at + 65
		+ CAST(substr(vals, at + 40, 5) AS INTEGER) + CAST(substr(vals, at + 45, 5) AS INTEGER)
		+ CAST(substr(vals, at + 50, 5) AS INTEGER) + CAST(substr(vals, at + 55, 5) AS INTEGER)
		+ CAST(substr(vals, at + 60, 5) AS INTEGER)
		< length(vals)
),
sized AS (
	SELECT participant, kommune, vals, at, CAST(substr(vals, at + 40, 5) AS INTEGER) AS lf,
		CAST(substr(vals, at + 45, 5) AS INTEGER) AS lr,
		CAST(substr(vals, at + 50, 5) AS INTEGER) AS lv,
		CAST(substr(vals, at + 55, 5) AS INTEGER) AS la,
		CAST(substr(vals, at + 60, 5) AS INTEGER) AS ld
	FROM entry
)
SELECT participant,
	CAST(substr(vals, at + 65, lf) AS TEXT),
	CAST(substr(vals, at + 65 + lf, lr) AS TEXT),
	CAST(substr(vals, at + 65 + lf + lr, lv) AS TEXT),
	CAST(substr(vals, at, 20) AS INTEGER),
	CAST(substr(vals, at + 65 + lf + lr + lv + la, ld) AS TEXT),
	CAST(substr(vals, at + 65 + lf + lr + lv, la) AS TEXT),
	CAST(substr(vals, at + 20, 20) AS INTEGER),
	kommune
FROM sized;
