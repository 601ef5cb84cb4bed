-- 0011: the organizers' audit logs: who changed what, newest first; and
-- the index that finds the orders a cancellation has yet to settle.
-- detail is a small JSON object; addr the client's address ('' when
-- none); at is INTEGER unix microseconds in UTC.
--
--   audit_log  (id) · (organizer_id, id): an organizer's log, newest first
--   orders     (event_id, status): the open orders of a cancelled event
--              (CancelledEventOrders), one probe per cancelled event

CREATE TABLE audit_log (
	id           TEXT    NOT NULL PRIMARY KEY,
	organizer_id TEXT    NOT NULL,
	actor        TEXT    NOT NULL,
	action       TEXT    NOT NULL,
	subject_type TEXT    NOT NULL,
	subject_id   TEXT    NOT NULL,
	detail       TEXT    NOT NULL,
	addr         TEXT    NOT NULL,
	at           INTEGER NOT NULL
);
CREATE INDEX audit_log_organizer ON audit_log (organizer_id, id);
CREATE INDEX orders_event_status ON orders (event_id, status);
