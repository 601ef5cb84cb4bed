-- 0012: an organizer's events, every status, the latest first: the back
-- office's list walks events_organizer (organizer_id, starts_at, id) from
-- its cursor, whatever the number of other organizers' events.

CREATE INDEX events_organizer ON events (organizer_id, starts_at, id);
