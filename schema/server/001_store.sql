-- The central store (jsr-server). A sketch for issues 4-6; each issue
-- extends it with new numbered migrations.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE participant (
	id         TEXT PRIMARY KEY,
	kommune    TEXT NOT NULL,
	fnr        TEXT,
	startdato  TEXT,
	sluttdato  TEXT,
	status     TEXT NOT NULL,
	seq        INTEGER NOT NULL              -- change-log position of the last change
) WITHOUT ROWID;
CREATE INDEX participant_fnr ON participant(fnr);
CREATE INDEX participant_kommune ON participant(kommune, seq);

-- Current value of every field, with its version (the change-log seq that
-- wrote it): the base clients send back with their edits.
CREATE TABLE field_value (
	participant TEXT NOT NULL,
	field       TEXT NOT NULL,
	row         TEXT NOT NULL DEFAULT '',
	value       TEXT NOT NULL,
	hlc         INTEGER NOT NULL,
	device      TEXT NOT NULL,
	author      TEXT NOT NULL,
	version     INTEGER NOT NULL,
	PRIMARY KEY (participant, field, row)
) WITHOUT ROWID;
CREATE INDEX field_value_version ON field_value(version);

CREATE TABLE users (
	id         INTEGER PRIMARY KEY,
	username   TEXT UNIQUE NOT NULL,
	role       TEXT NOT NULL,
	pwhash     TEXT,
	active     INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE user_kommune (
	user_id INTEGER NOT NULL REFERENCES users(id),
	kommune TEXT NOT NULL,
	PRIMARY KEY (user_id, kommune)
) WITHOUT ROWID;

CREATE TABLE device (
	id          TEXT PRIMARY KEY,
	user_id     INTEGER NOT NULL REFERENCES users(id),
	kx_pk       BLOB NOT NULL,
	sign_pk     BLOB NOT NULL,
	acked_seq   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
