-- 0007: tickets, the events' signing keys, scans at the door, gates and
-- door staff.
--
--   events.name_changes_until  until when holders may rename their tickets
--                   (NULL: until the event starts).
--   event_keys      one Ed25519 key pair per event: public_key (32 bytes)
--                   and private_key (64 bytes) sign and verify its ticket
--                   codes.
--   tickets         one admission, issued when its order is paid; status is
--                   valid, used or void; version is raised by every name
--                   change; checked_in_at and gate are the first scan that
--                   admitted it (NULL while it is not used).
--                   tickets_order (order_id, id) serves an order's tickets,
--                   tickets_event (event_id, id) the check-in bundle and the
--                   attendee lists (keyset pages), tickets_counts
--                   (event_id, tier_id, status, gate) the door counts, which
--                   it covers.
--   checkins        every scan that reached a ticket. device_id and scan_id
--                   name a scan made offline; an online scan has device_id
--                   '' and scan_id NULL, so the UNIQUE key checkins_scan
--                   (event_id, device_id, scan_id) makes an offline scan
--                   uploaded twice a duplicate while online scans repeat
--                   freely. checkins_ticket (ticket_id) serves the first
--                   scans of a batch's tickets and a check-in undone.
--                   device_id and scan_id are bytes: they compare (and
--                   break "first scan wins" ties) as the domain does.
--   gates           an event's entrances; tiers is a JSON array of the tier
--                   IDs it admits ([] admits all).
--   event_staff     a user's door role (scanner, supervisor) at an event.
--   refunds.ticket_ids  a JSON array of the tickets a refund voided.
--
-- IDs are boxoffice.NewID strings; times are UTC DATETIME(6).

ALTER TABLE events ADD COLUMN name_changes_until DATETIME(6) NULL;

ALTER TABLE refunds ADD COLUMN ticket_ids TEXT NOT NULL DEFAULT ('[]');

CREATE TABLE IF NOT EXISTS event_keys (
    event_id    CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    public_key  VARBINARY(32) NOT NULL,
    private_key VARBINARY(64) NOT NULL,
    created_at  DATETIME(6) NOT NULL,
    PRIMARY KEY (event_id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS tickets (
    id            CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    order_id      CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    event_id      CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    tier_id       CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id       CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attendee_name VARCHAR(400) NOT NULL DEFAULT '',
    status        VARCHAR(8) CHARACTER SET ascii NOT NULL,
    version       INT NOT NULL,
    issued_at     DATETIME(6) NOT NULL,
    updated_at    DATETIME(6) NOT NULL,
    checked_in_at DATETIME(6) NULL,
    gate          VARCHAR(100) COLLATE utf8mb4_bin NULL,
    PRIMARY KEY (id),
    KEY tickets_order (order_id, id),
    KEY tickets_event (event_id, id),
    KEY tickets_counts (event_id, tier_id, status, gate)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS checkins (
    id          CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    event_id    CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    ticket_id   CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    gate        VARCHAR(100) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    device_id   VARBINARY(255) NOT NULL DEFAULT '',
    scan_id     VARBINARY(255) NULL,
    scanned_at  DATETIME(6) NOT NULL,
    recorded_at DATETIME(6) NOT NULL,
    result      VARCHAR(16) CHARACTER SET ascii NOT NULL,
    admitted    BOOLEAN NOT NULL,
    undone      BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (id),
    KEY checkins_ticket (ticket_id),
    UNIQUE KEY checkins_scan (event_id, device_id, scan_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS gates (
    event_id   CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name       VARCHAR(100) COLLATE utf8mb4_bin NOT NULL,
    tiers      TEXT CHARACTER SET ascii NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (event_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS event_staff (
    event_id CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id  CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    role     VARCHAR(16) CHARACTER SET ascii NOT NULL,
    added_at DATETIME(6) NOT NULL,
    PRIMARY KEY (event_id, user_id)
) ENGINE=InnoDB;
