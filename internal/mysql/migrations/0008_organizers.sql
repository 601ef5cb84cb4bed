-- 0008: organizers, their teams and API keys; every event's organizer and
-- life-cycle status; tiers hidden from the public or closed to sales.
--
--   organizers          who runs events; slug is unique (organizers_slug).
--                       The default organizer 00000000000000000000000000
--                       ("Default") owns every event made before organizers.
--   organizer_members   a user's role (owner, manager, staff, scanner) in an
--                       organizer's team; organizer_members_user
--                       (user_id, organizer_id) serves a user's organizers.
--   api_keys            an organizer's integration keys with their role;
--                       hash is the SHA-256 of the secret (never the secret),
--                       unique (api_keys_hash); api_keys_organizer
--                       (organizer_id, id) serves the list.
--   events.organizer_id the event's organizer (the default one for the
--                       existing events).
--   events.status       draft, published, cancelled or archived (existing
--                       events: published). events_starts_at becomes
--                       (status, starts_at, id): the public list is one range
--                       of the published events, whatever the number of
--                       drafts.
--   tiers.hidden        not shown to the public, not sold.
--   tiers.closed        shown, not sold.
--
-- IDs are boxoffice.NewID strings; times are UTC DATETIME(6).

CREATE TABLE IF NOT EXISTS organizers (
    id         CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name       VARCHAR(400) NOT NULL,
    slug       VARCHAR(60) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY organizers_slug (slug)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO organizers (id, name, slug, created_at)
VALUES ('00000000000000000000000000', 'Default', 'default', '1970-01-01 00:00:00');

CREATE TABLE IF NOT EXISTS organizer_members (
    organizer_id CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id      CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    role         VARCHAR(16) CHARACTER SET ascii NOT NULL,
    added_at     DATETIME(6) NOT NULL,
    PRIMARY KEY (organizer_id, user_id),
    KEY organizer_members_user (user_id, organizer_id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS api_keys (
    id           CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    organizer_id CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name         VARCHAR(400) NOT NULL,
    role         VARCHAR(16) CHARACTER SET ascii NOT NULL,
    hash         BINARY(32) NOT NULL,
    created_by   VARCHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    created_at   DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY api_keys_hash (hash),
    KEY api_keys_organizer (organizer_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

ALTER TABLE events
    ADD COLUMN organizer_id CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '00000000000000000000000000',
    ADD COLUMN status VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'published',
    DROP INDEX events_starts_at,
    ADD INDEX events_starts_at (status, starts_at, id);

ALTER TABLE tiers
    ADD COLUMN hidden BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN closed BOOLEAN NOT NULL DEFAULT FALSE;
