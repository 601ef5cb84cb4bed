-- 0008: organizers, their teams and API keys; every event's organizer and
-- life-cycle status; tiers hidden from the public or closed to sales.
-- Times are INTEGER unix microseconds in UTC.
--
--   organizers          (id) · UNIQUE (slug); the default organizer
--                       00000000000000000000000000 ("Default") owns every
--                       event made before organizers
--   organizer_members   (organizer_id, user_id) · (user_id, organizer_id); role is owner, manager, staff or scanner
--   api_keys            (id) · UNIQUE (hash) · (organizer_id, id); hash is the SHA-256 of the secret, never the secret
--   events.organizer_id the organizer (the default one for existing events)
--   events.status       draft, published, cancelled or archived (existing events: published);
--                       events_starts_at becomes (status, starts_at, id): the public list walks
--                       the published events only, whatever the number of drafts
--   tiers.hidden        1: not shown to the public, not sold
--   tiers.closed        1: shown, not sold

CREATE TABLE organizers (
	id         TEXT    NOT NULL PRIMARY KEY,
	name       TEXT    NOT NULL,
	slug       TEXT    NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
);

INSERT INTO organizers (id, name, slug, created_at) VALUES ('00000000000000000000000000', 'Default', 'default', 0);

CREATE TABLE organizer_members (
	organizer_id TEXT    NOT NULL REFERENCES organizers (id),
	user_id      TEXT    NOT NULL,
	role         TEXT    NOT NULL,
	added_at     INTEGER NOT NULL,
	PRIMARY KEY (organizer_id, user_id)
) WITHOUT ROWID;
CREATE INDEX organizer_members_user ON organizer_members (user_id, organizer_id);

CREATE TABLE api_keys (
	id           TEXT    NOT NULL PRIMARY KEY,
	organizer_id TEXT    NOT NULL REFERENCES organizers (id),
	name         TEXT    NOT NULL,
	role         TEXT    NOT NULL,
	hash         BLOB    NOT NULL UNIQUE,
	created_by   TEXT    NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL
);
CREATE INDEX api_keys_organizer ON api_keys (organizer_id, id);

ALTER TABLE events ADD COLUMN organizer_id TEXT NOT NULL DEFAULT '00000000000000000000000000';
ALTER TABLE events ADD COLUMN status TEXT NOT NULL DEFAULT 'published';

DROP INDEX events_starts_at;
CREATE INDEX events_starts_at ON events (status, starts_at, id);

ALTER TABLE tiers ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tiers ADD COLUMN closed INTEGER NOT NULL DEFAULT 0;
