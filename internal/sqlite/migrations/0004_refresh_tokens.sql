-- 0004: refresh tokens, stored only as the SHA-256 hash of their secret.
-- The tokens descended from one sign-in share a family_id; rotated_at is
-- set when a token is exchanged for its successor, revoked_at when its
-- family is ended. Times are INTEGER unix microseconds in UTC.

CREATE TABLE refresh_tokens (
	token_hash    BLOB    NOT NULL PRIMARY KEY,
	family_id     TEXT    NOT NULL,
	user_id       TEXT    NOT NULL,
	token_version INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	rotated_at    INTEGER,
	revoked_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
