-- A participant's field values in one row instead of one row per value
-- (client/record.h): a sync writes a participant once, not once per field.
-- Per entry, sorted by (field, row): hlc and server version as 20 decimal
-- digits each, the byte lengths of field, row, value and author as 5 digits
-- each, then those four strings.
CREATE TABLE record (
	participant TEXT NOT NULL UNIQUE REFERENCES participant(id) ON DELETE CASCADE,
	vals        BLOB NOT NULL
);

INSERT INTO record(participant, vals)
SELECT participant, CAST(group_concat(printf('%020d%020d%05d%05d%05d%05d', hlc, version,
	length(CAST(field AS BLOB)), length(CAST(row AS BLOB)), length(CAST(value AS BLOB)),
	length(CAST(author AS BLOB))) || field || row || value || author, '') AS BLOB)
FROM (SELECT * FROM field_value ORDER BY participant, field, row)
GROUP BY participant;

DROP TABLE field_value;

-- The values one row each again, for reading in SQL (tests, an operator's
-- questions); the program itself reads and writes `record` (client/record.c).
CREATE VIEW field_value(participant, field, row, value, hlc, author, version) AS
WITH RECURSIVE entry(participant, vals, at) AS (
	SELECT participant, vals, 1 FROM record WHERE length(vals) >= 60
	UNION ALL
	SELECT participant, vals, at + 60
		+ CAST(substr(vals, at + 40, 5) AS INTEGER) + CAST(substr(vals, at + 45, 5) AS INTEGER)
		+ CAST(substr(vals, at + 50, 5) AS INTEGER) + CAST(substr(vals, at + 55, 5) AS INTEGER)
	FROM entry
	WHERE at + 60
		+ CAST(substr(vals, at + 40, 5) AS INTEGER) + CAST(substr(vals, at + 45, 5) AS INTEGER)
		+ CAST(substr(vals, at + 50, 5) AS INTEGER) + CAST(substr(vals, at + 55, 5) AS INTEGER)
		< length(vals)
),
sized AS (
	SELECT participant, vals, at, CAST(substr(vals, at + 40, 5) AS INTEGER) AS lf,
		CAST(substr(vals, at + 45, 5) AS INTEGER) AS lr,
		CAST(substr(vals, at + 50, 5) AS INTEGER) AS lv,
		CAST(substr(vals, at + 55, 5) AS INTEGER) AS la
	FROM entry
)
SELECT participant,
	CAST(substr(vals, at + 60, lf) AS TEXT),
	CAST(substr(vals, at + 60 + lf, lr) AS TEXT),
	CAST(substr(vals, at + 60 + lf + lr, lv) AS TEXT),
	CAST(substr(vals, at, 20) AS INTEGER),
	CAST(substr(vals, at + 60 + lf + lr + lv, la) AS TEXT),
	CAST(substr(vals, at + 20, 20) AS INTEGER)
FROM sized;
