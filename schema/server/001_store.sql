-- The central store (jsr-server). DESIGN.md §3–6.
-- Versions: every applied change, conflict and resolution takes the next
-- number of one server-wide sequence (meta 'seq'); field_value.version is
-- the number that wrote the value. Clients send it back as the base of
-- their edits and pull "everything after the number I have".

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES ('seq', '0');

CREATE TABLE users (
	id         INTEGER PRIMARY KEY,
	username   TEXT UNIQUE,               -- chosen at activation; NULL while invited
	role       TEXT NOT NULL CHECK (role IN ('imdi_admin', 'kommune_admin', 'kommune_user', 'imdi_analyst')),
	pwhash     TEXT,                      -- Argon2id (crypto_pwhash_str)
	active     INTEGER NOT NULL DEFAULT 1,
	created    INTEGER NOT NULL           -- unix ms
);
CREATE TABLE user_kommune (
	user_id INTEGER NOT NULL REFERENCES users(id),
	kommune TEXT NOT NULL,
	PRIMARY KEY (user_id, kommune)
) WITHOUT ROWID;

-- A device (a caseworker's replica) and its public keys, bound to one user.
CREATE TABLE device (
	id          TEXT PRIMARY KEY,
	user_id     INTEGER NOT NULL REFERENCES users(id),
	kx_pk       BLOB NOT NULL,
	sign_pk     BLOB NOT NULL,
	acked_seq   INTEGER NOT NULL DEFAULT 0,  -- last change-set applied
	created     INTEGER NOT NULL,
	last_seen   INTEGER
) WITHOUT ROWID;

-- Sessions: only a hash of the token is kept.
CREATE TABLE session (
	token_hash  BLOB PRIMARY KEY,
	user_id     INTEGER NOT NULL REFERENCES users(id),
	device_id   TEXT NOT NULL REFERENCES device(id),
	created     INTEGER NOT NULL,
	last_used   INTEGER NOT NULL,
	expires     INTEGER NOT NULL,            -- absolute expiry, unix ms
	revoked     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX session_user ON session(user_id);

-- Every change-set received and applied, with its acknowledgement, so a
-- re-sent one is acknowledged again and never applied twice.
CREATE TABLE changeset (
	device      TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	hash        BLOB NOT NULL,               -- BLAKE2b of its changes (sh_wire_changes_hash; of the body before protocol 3)
	received    INTEGER NOT NULL,
	changes     INTEGER NOT NULL,
	ack         TEXT NOT NULL,               -- the acknowledgement body sent
	PRIMARY KEY (device, seq)
) WITHOUT ROWID;

CREATE TABLE participant (
	id         TEXT PRIMARY KEY,
	kommune    TEXT NOT NULL,
	fnr        TEXT,
	startdato  TEXT,
	sluttdato  TEXT,
	status     TEXT NOT NULL,
	created    INTEGER NOT NULL,             -- version that created it
	version    INTEGER NOT NULL              -- version of its last change
) WITHOUT ROWID;
CREATE INDEX participant_fnr ON participant(fnr);

-- The current value of every field. kommune is the participant's, copied
-- so that a pull reads one index: (kommune, version).
CREATE TABLE field_value (
	participant TEXT NOT NULL,
	field       TEXT NOT NULL,
	row         TEXT NOT NULL DEFAULT '',
	value       TEXT NOT NULL,               -- '' = cleared
	hlc         INTEGER NOT NULL,
	device      TEXT NOT NULL,
	author      TEXT NOT NULL,
	version     INTEGER NOT NULL,
	kommune     TEXT NOT NULL,
	PRIMARY KEY (participant, field, row)
) WITHOUT ROWID;
CREATE INDEX field_value_pull ON field_value(kommune, version);

-- Concurrent edits of one field, and duplicate registrations of one person.
CREATE TABLE conflict (
	id              INTEGER PRIMARY KEY,
	seq             INTEGER NOT NULL,        -- version when created or last changed
	kind            TEXT NOT NULL CHECK (kind IN ('field', 'duplicate')),
	participant     TEXT NOT NULL,
	kommune         TEXT NOT NULL,
	field           TEXT,
	row             TEXT,
	winner_value    TEXT,
	loser_value     TEXT,
	winner_author   TEXT,
	loser_author    TEXT,
	winner_hlc      INTEGER,
	loser_hlc       INTEGER,
	other           TEXT,                    -- duplicate: the other participation
	other_kommune   TEXT,
	resolved        INTEGER NOT NULL DEFAULT 0,
	resolved_by     TEXT,
	created         INTEGER NOT NULL         -- unix ms
);
CREATE INDEX conflict_seq ON conflict(seq);
CREATE INDEX conflict_participant ON conflict(participant);
