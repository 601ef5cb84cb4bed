-- 0007: tickets, one per admission, issued when an order is paid; each
-- event's signing key; the scans on record; gates and door staff; the
-- tickets a refund voided; until when holders may rename their tickets.
-- Times are INTEGER unix microseconds in UTC.
--
--   event_keys    (event_id): the event's Ed25519 key pair, stored once
--   tickets       (id) · (order_id, id) · (event_id, id) · (event_id, tier_id, status); checked_in_at and gate NULL unless used
--   checkins      (id) · (ticket_id) · UNIQUE (event_id, device_id, scan_id) WHERE scan_id <> ''; every scan that reached a ticket
--   gates         (event_id, name); tiers is a JSON array of tier IDs, empty for all
--   event_staff   (event_id, user_id): a user's door role at an event
--   refunds       ticket_ids: a JSON array of the tickets the refund voided

ALTER TABLE events ADD COLUMN name_changes_until INTEGER;

ALTER TABLE refunds ADD COLUMN ticket_ids TEXT NOT NULL DEFAULT '[]';

CREATE TABLE event_keys (
	event_id    TEXT    NOT NULL PRIMARY KEY REFERENCES events (id),
	public_key  BLOB    NOT NULL,
	private_key BLOB    NOT NULL,
	created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE tickets (
	id            TEXT    NOT NULL PRIMARY KEY,
	order_id      TEXT    NOT NULL REFERENCES orders (id),
	event_id      TEXT    NOT NULL REFERENCES events (id),
	tier_id       TEXT    NOT NULL REFERENCES tiers (id),
	user_id       TEXT    NOT NULL,
	attendee_name TEXT    NOT NULL DEFAULT '',
	status        TEXT    NOT NULL,
	version       INTEGER NOT NULL CHECK (version > 0),
	issued_at     INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	checked_in_at INTEGER,
	gate          TEXT
);
CREATE INDEX tickets_order_id ON tickets (order_id, id);
CREATE INDEX tickets_event_id ON tickets (event_id, id);
CREATE INDEX tickets_event_tier_status ON tickets (event_id, tier_id, status);

CREATE TABLE checkins (
	id          TEXT    NOT NULL PRIMARY KEY,
	event_id    TEXT    NOT NULL REFERENCES events (id),
	ticket_id   TEXT    NOT NULL REFERENCES tickets (id),
	gate        TEXT    NOT NULL DEFAULT '',
	device_id   TEXT    NOT NULL DEFAULT '',
	scan_id     TEXT    NOT NULL DEFAULT '',
	scanned_at  INTEGER NOT NULL,
	recorded_at INTEGER NOT NULL,
	result      TEXT    NOT NULL,
	admitted    INTEGER NOT NULL DEFAULT 0,
	undone      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX checkins_ticket_id ON checkins (ticket_id);
CREATE UNIQUE INDEX checkins_scan ON checkins (event_id, device_id, scan_id) WHERE scan_id <> '';

CREATE TABLE gates (
	event_id   TEXT    NOT NULL REFERENCES events (id),
	name       TEXT    NOT NULL,
	tiers      TEXT    NOT NULL DEFAULT '[]',
	created_at INTEGER NOT NULL,
	PRIMARY KEY (event_id, name)
) WITHOUT ROWID;

CREATE TABLE event_staff (
	event_id TEXT    NOT NULL REFERENCES events (id),
	user_id  TEXT    NOT NULL,
	role     TEXT    NOT NULL,
	added_at INTEGER NOT NULL,
	PRIMARY KEY (event_id, user_id)
) WITHOUT ROWID;
