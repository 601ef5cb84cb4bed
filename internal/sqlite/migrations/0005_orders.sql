-- 0005: orders, their lines, payments, refunds and the provider events
-- applied; each event's refund policy. Times are INTEGER unix microseconds
-- in UTC; money is INTEGER minor units with a currency beside it.
--
-- An order's lines count in tiers.reserved and user_event_tickets.tickets
-- (as reservations do) while the order's status holds its tickets: pending,
-- paid, partially_refunded; quantity − refunded per line.
--
--   orders           (id) · (user_id, id) · (event_id, id) · (status, hold_expires_at)
--   order_lines      (order_id, line_no); attendees is a JSON array or NULL
--   payments         (id) · (order_id) · UNIQUE (provider, ref) · (status, updated_at); ref NULL until the provider answered
--   refunds          (id) · (status, next_attempt_at) · (order_id); lines is a JSON array
--   provider_events  (event_key): a provider's webhook event is applied once

ALTER TABLE events ADD COLUMN refunds_none INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN refunds_until INTEGER;

CREATE TABLE orders (
	id              TEXT    NOT NULL PRIMARY KEY,
	event_id        TEXT    NOT NULL REFERENCES events (id),
	user_id         TEXT    NOT NULL,
	email           TEXT    NOT NULL,
	status          TEXT    NOT NULL,
	total_amount    INTEGER NOT NULL,
	currency        TEXT    NOT NULL,
	refunded_amount INTEGER NOT NULL DEFAULT 0,
	hold_expires_at INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	paid_at         INTEGER,
	paid_by         TEXT
);
CREATE INDEX orders_user_id ON orders (user_id, id);
CREATE INDEX orders_event_id ON orders (event_id, id);
CREATE INDEX orders_status_expiry ON orders (status, hold_expires_at);

CREATE TABLE order_lines (
	order_id   TEXT    NOT NULL REFERENCES orders (id),
	line_no    INTEGER NOT NULL,
	tier_id    TEXT    NOT NULL REFERENCES tiers (id),
	quantity   INTEGER NOT NULL CHECK (quantity > 0),
	unit_price INTEGER NOT NULL,
	refunded   INTEGER NOT NULL DEFAULT 0,
	attendees  TEXT,
	CHECK (refunded >= 0 AND refunded <= quantity),
	PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;

CREATE TABLE payments (
	id             TEXT    NOT NULL PRIMARY KEY,
	order_id       TEXT    NOT NULL REFERENCES orders (id),
	provider       TEXT    NOT NULL,
	ref            TEXT,
	status         TEXT    NOT NULL,
	amount         INTEGER NOT NULL,
	currency       TEXT    NOT NULL,
	client_secret  TEXT    NOT NULL DEFAULT '',
	failure_reason TEXT    NOT NULL DEFAULT '',
	status_at      INTEGER NOT NULL,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
);
CREATE INDEX payments_order_id ON payments (order_id);
CREATE UNIQUE INDEX payments_provider_ref ON payments (provider, ref);
CREATE INDEX payments_status_updated ON payments (status, updated_at);

CREATE TABLE refunds (
	id              TEXT    NOT NULL PRIMARY KEY,
	order_id        TEXT    NOT NULL REFERENCES orders (id),
	payment_id      TEXT    NOT NULL REFERENCES payments (id),
	provider        TEXT    NOT NULL,
	ref             TEXT,
	amount          INTEGER NOT NULL,
	currency        TEXT    NOT NULL,
	status          TEXT    NOT NULL,
	reason          TEXT    NOT NULL DEFAULT '',
	lines           TEXT    NOT NULL DEFAULT '[]',
	by_organizer    INTEGER NOT NULL DEFAULT 0,
	automatic       INTEGER NOT NULL DEFAULT 0,
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT    NOT NULL DEFAULT '',
	next_attempt_at INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);
CREATE INDEX refunds_due ON refunds (status, next_attempt_at);
CREATE INDEX refunds_order_id ON refunds (order_id);

CREATE TABLE provider_events (
	event_key  TEXT    NOT NULL PRIMARY KEY,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;
