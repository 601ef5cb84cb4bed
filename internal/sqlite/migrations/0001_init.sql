-- The initial schema. Times are INTEGER unix microseconds in UTC.

CREATE TABLE users (
	id            TEXT    NOT NULL PRIMARY KEY,
	email         TEXT    NOT NULL,
	email_lower   TEXT    NOT NULL UNIQUE,
	name          TEXT    NOT NULL,
	role          TEXT    NOT NULL,
	password_hash BLOB    NOT NULL,
	created_at    INTEGER NOT NULL
);

CREATE TABLE events (
	id                   TEXT    NOT NULL PRIMARY KEY,
	title                TEXT    NOT NULL,
	description          TEXT    NOT NULL,
	venue                TEXT    NOT NULL,
	starts_at            INTEGER NOT NULL,
	ends_at              INTEGER,
	sales_start_at       INTEGER NOT NULL,
	sales_end_at         INTEGER NOT NULL,
	max_tickets_per_user INTEGER NOT NULL,
	hold_seconds         INTEGER NOT NULL,
	queue_enabled        INTEGER NOT NULL,
	admit_per_minute     INTEGER NOT NULL,
	created_at           INTEGER NOT NULL,
	updated_at           INTEGER NOT NULL
);
CREATE INDEX events_starts_at ON events (starts_at, id);

-- reserved counts held + confirmed tickets; the CHECK makes overselling
-- impossible whatever a statement does.
CREATE TABLE tiers (
	id             TEXT    NOT NULL PRIMARY KEY,
	event_id       TEXT    NOT NULL REFERENCES events (id),
	name           TEXT    NOT NULL,
	price_amount   INTEGER NOT NULL,
	price_currency TEXT    NOT NULL,
	capacity       INTEGER NOT NULL,
	reserved       INTEGER NOT NULL DEFAULT 0,
	CHECK (reserved >= 0 AND reserved <= capacity)
);
CREATE INDEX tiers_event_id ON tiers (event_id);

CREATE TABLE reservations (
	id              TEXT    NOT NULL PRIMARY KEY,
	event_id        TEXT    NOT NULL,
	tier_id         TEXT    NOT NULL REFERENCES tiers (id),
	user_id         TEXT    NOT NULL,
	quantity        INTEGER NOT NULL CHECK (quantity > 0),
	status          TEXT    NOT NULL,
	amount          INTEGER NOT NULL,
	currency        TEXT    NOT NULL,
	attendee_name   TEXT,
	attendee_phone  TEXT,
	hold_expires_at INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	confirmed_at    INTEGER,
	cancelled_at    INTEGER
);
CREATE INDEX reservations_user_id ON reservations (user_id, id);
CREATE INDEX reservations_status_expiry ON reservations (status, hold_expires_at);
CREATE INDEX reservations_tier_status ON reservations (tier_id, status);

-- tickets is the user's held + confirmed tickets for the event: the counter
-- that enforces max_tickets_per_user.
CREATE TABLE user_event_tickets (
	user_id  TEXT    NOT NULL,
	event_id TEXT    NOT NULL,
	tickets  INTEGER NOT NULL CHECK (tickets >= 0),
	PRIMARY KEY (user_id, event_id)
) WITHOUT ROWID;

CREATE TABLE idempotency (
	user_id        TEXT    NOT NULL,
	idem_key       TEXT    NOT NULL,
	fingerprint    TEXT    NOT NULL,
	status         INTEGER NOT NULL,
	reservation_id TEXT    NOT NULL,
	response       BLOB,
	created_at     INTEGER NOT NULL,
	PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_created_at ON idempotency (created_at);

CREATE TABLE bookmarks (
	user_id    TEXT    NOT NULL,
	event_id   TEXT    NOT NULL REFERENCES events (id),
	created_at INTEGER NOT NULL,
	PRIMARY KEY (user_id, event_id)
) WITHOUT ROWID;
CREATE INDEX bookmarks_user_created ON bookmarks (user_id, created_at, event_id);
CREATE INDEX bookmarks_event_id ON bookmarks (event_id);
