-- 0009: outgoing webhooks: the organizers' endpoints, the webhook outbox
-- (one message per change reported, written in the transaction of the
-- change; id is the webhook-id header, body the JSON sent) and the
-- deliveries of its messages. Times are INTEGER unix microseconds in UTC.
--
--   webhook_endpoints   (id) · (organizer_id, id); events is a JSON array of message types; failures and failing_since count the attempts failed since the last success
--   webhook_messages    (id) · (fanned_out, created_at): the messages whose deliveries are not made yet
--   webhook_deliveries  (id) · (next_attempt_at): due, or the end of a lease; NULL once final or while the endpoint is disabled · (endpoint_id, id): the delivery log · (message_id): the purge of messages no delivery needs

CREATE TABLE webhook_endpoints (
	id              TEXT    NOT NULL PRIMARY KEY,
	organizer_id    TEXT    NOT NULL,
	url             TEXT    NOT NULL,
	events          TEXT    NOT NULL,
	secret          TEXT    NOT NULL,
	enabled         INTEGER NOT NULL,
	failures        INTEGER NOT NULL DEFAULT 0,
	failing_since   INTEGER,
	disabled_reason TEXT    NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_organizer ON webhook_endpoints (organizer_id, id);

CREATE TABLE webhook_messages (
	id           TEXT    NOT NULL PRIMARY KEY,
	organizer_id TEXT    NOT NULL,
	type         TEXT    NOT NULL,
	body         TEXT    NOT NULL,
	created_at   INTEGER NOT NULL,
	fanned_out   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_messages_fan_out ON webhook_messages (fanned_out, created_at);

CREATE TABLE webhook_deliveries (
	id              TEXT    NOT NULL PRIMARY KEY,
	endpoint_id     TEXT    NOT NULL,
	message_id      TEXT    NOT NULL,
	organizer_id    TEXT    NOT NULL,
	type            TEXT    NOT NULL,
	status          TEXT    NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	response_status INTEGER NOT NULL DEFAULT 0,
	error           TEXT    NOT NULL DEFAULT '',
	duration_us     INTEGER NOT NULL DEFAULT 0,
	last_attempt_at INTEGER,
	next_attempt_at INTEGER,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_message ON webhook_deliveries (message_id);
