-- 0011: the organizers' audit logs: who changed what; and the index that
-- finds the orders a cancellation has yet to settle.
--
--   audit_log  one change: actor (a user ID, key:<API key ID> or
--              system), action (event.published), the subject's type and
--              ID, detail (a small JSON object, never a secret), addr (the
--              client's address, '' when none), at.
--              audit_log_organizer (organizer_id, id) reads an
--              organizer's log newest first, a page at any depth.
--   orders_event_status (event_id, status): the open orders of each
--              cancelled event (CancelledEventOrders) in one index probe,
--              however many orders it had.
--
-- IDs are boxoffice.NewID strings; times are UTC DATETIME(6).

CREATE TABLE IF NOT EXISTS audit_log (
    id           CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    organizer_id CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    actor        VARCHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    action       VARCHAR(60) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    subject_type VARCHAR(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    subject_id   VARCHAR(60) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    detail       TEXT NOT NULL,
    addr         VARCHAR(64) CHARACTER SET ascii NOT NULL,
    at           DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY audit_log_organizer (organizer_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE orders ADD INDEX orders_event_status (event_id, status);
