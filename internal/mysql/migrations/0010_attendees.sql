-- 0010: the indexes of the attendee search (GET /api/v1/events/{id}/attendees?q=).
--
--   tickets_event_name  (event_id, attendee_name, status): the tickets of
--                       an event whose attendee name starts with a prefix
--                       (LIKE 'p%' in the table's case-insensitive
--                       collation), a status filter read from the index.
--   orders_event_email  (event_id, email): the orders of an event whose
--                       email starts with a prefix; orders without one
--                       (email '') go to their buyer's users.email_lower.

ALTER TABLE tickets ADD INDEX tickets_event_name (event_id, attendee_name, status);

ALTER TABLE orders ADD INDEX orders_event_email (event_id, email);
