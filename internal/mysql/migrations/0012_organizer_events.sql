-- 0012: an organizer's events, every status, the latest first: the back
-- office's list (OrganizerEvents) walks events_organizer
-- (organizer_id, starts_at, id) backwards from its cursor, whatever the
-- number of other organizers' events.

ALTER TABLE events ADD INDEX events_organizer (organizer_id, starts_at, id);
