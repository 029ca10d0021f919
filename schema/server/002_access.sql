-- Access (issue 5): provisioning by invitation, two-factor login, lockout,
-- deactivation, the mail outbox and the hash-chained audit log.

ALTER TABLE users ADD COLUMN name TEXT;
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN phone TEXT;
ALTER TABLE users ADD COLUMN state TEXT NOT NULL DEFAULT 'active';   -- invited, active, deactivated
ALTER TABLE users ADD COLUMN totp_secret TEXT;                      -- base32; set at activation
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;  -- no code used twice
ALTER TABLE users ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until INTEGER NOT NULL DEFAULT 0;  -- unix ms
ALTER TABLE users ADD COLUMN deactivated_at INTEGER;                  -- unix ms
ALTER TABLE users ADD COLUMN invited_by INTEGER REFERENCES users(id);

ALTER TABLE device ADD COLUMN wipe INTEGER NOT NULL DEFAULT 0;        -- told to wipe its replica

-- An invitation: only a hash of the token is kept; single use; expires.
CREATE TABLE invitation (
	id          INTEGER PRIMARY KEY,
	user_id     INTEGER NOT NULL REFERENCES users(id),
	token_hash  BLOB NOT NULL UNIQUE,
	created     INTEGER NOT NULL,
	expires     INTEGER NOT NULL,
	state       TEXT NOT NULL DEFAULT 'open'  -- open, password_set, used, voided
);
CREATE INDEX invitation_user ON invitation(user_id);

-- Failed logins per network address (per account: users.failures).
CREATE TABLE address_failure (
	address      TEXT PRIMARY KEY,
	failures     INTEGER NOT NULL,
	locked_until INTEGER NOT NULL
) WITHOUT ROWID;

-- E-mail waiting to go out (sendmail -t -i, or .eml files in a spool folder).
CREATE TABLE mail (
	id          INTEGER PRIMARY KEY,
	recipient   TEXT NOT NULL,
	subject     TEXT NOT NULL,
	body        TEXT NOT NULL,
	state       TEXT NOT NULL DEFAULT 'pending',  -- pending, sent
	attempts    INTEGER NOT NULL DEFAULT 0,
	next_try    INTEGER NOT NULL,
	created     INTEGER NOT NULL,
	sent        INTEGER,
	last_error  TEXT
);
CREATE INDEX mail_due ON mail(state, next_try);

-- Append-only, hash-chained: hash = BLAKE2b(prev hash ‖ the entry's fields).
-- Never a fødselsnummer or a name in detail; participants by id only.
CREATE TABLE audit (
	id          INTEGER PRIMARY KEY,
	at          INTEGER NOT NULL,       -- unix ms
	actor       TEXT NOT NULL,          -- username, or a description for failed logins
	device      TEXT NOT NULL,
	action      TEXT NOT NULL,          -- login, login_failed, read, write, admin, ...
	detail      TEXT NOT NULL,
	participants TEXT NOT NULL,         -- space-separated ids the entry concerns
	hash        BLOB NOT NULL
);
CREATE TABLE audit_subject (
	participant TEXT NOT NULL,
	audit_id    INTEGER NOT NULL,
	PRIMARY KEY (participant, audit_id)
) WITHOUT ROWID;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN
	SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN
	SELECT RAISE(ABORT, 'the audit log is append-only');
END;
