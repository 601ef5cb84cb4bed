-- 0002: what decides whether a user's tokens still stand. A token carries
-- the user's token_version; raising it ends every token of the user.
-- changed_at (unix microseconds, UTC) is when role, token_version or
-- disabled last changed (NULL: never), so that every instance can poll for
-- the users changed lately. Users are disabled, never deleted:
-- reservations refer to them.

ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN changed_at INTEGER;
CREATE INDEX users_changed_at ON users (changed_at) WHERE changed_at IS NOT NULL;
