-- 0003: verified emails, one-time tokens (email verification, password
-- reset) and the mail outbox. Times are INTEGER unix microseconds in UTC.

ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;

ALTER TABLE events ADD COLUMN require_verified_email INTEGER NOT NULL DEFAULT 0;

-- One live token per user and purpose; codes and secrets only hashed.
CREATE TABLE user_tokens (
	user_id     TEXT    NOT NULL,
	purpose     TEXT    NOT NULL,
	code_hash   BLOB,
	secret_hash BLOB    NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL,
	used_at     INTEGER,
	PRIMARY KEY (user_id, purpose)
) WITHOUT ROWID;

-- next_attempt_at is NULL once a message is sent or given up.
CREATE TABLE outbox (
	id              TEXT    NOT NULL PRIMARY KEY,
	kind            TEXT    NOT NULL,
	recipient       TEXT    NOT NULL,
	subject         TEXT    NOT NULL,
	body            TEXT    NOT NULL,
	created_at      INTEGER NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	next_attempt_at INTEGER,
	sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
