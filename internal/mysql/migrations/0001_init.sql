-- 0001: the initial schema. IDs are the 26-character strings of
-- boxoffice.NewID; times are UTC DATETIME(6). Hot rows (tiers, counters) are
-- keyed by event and tier so the schema can later be sharded by event.

CREATE TABLE users (
    id            CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    email         VARCHAR(320) NOT NULL,
    email_lower   VARCHAR(320) COLLATE utf8mb4_bin NOT NULL,
    name          VARCHAR(400) NOT NULL,
    role          VARCHAR(16) CHARACTER SET ascii NOT NULL,
    password_hash VARBINARY(255) NOT NULL,
    created_at    DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY users_email_lower (email_lower)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- sales_lead_us and sales_lag_us let an on-sale list scan a bounded range
-- of starts_at: MAX() of each is read from its index in O(1).
CREATE TABLE events (
    id                   CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    title                VARCHAR(500) NOT NULL,
    description          TEXT NOT NULL,
    venue                VARCHAR(500) NOT NULL,
    starts_at            DATETIME(6) NOT NULL,
    ends_at              DATETIME(6) NULL,
    sales_start_at       DATETIME(6) NOT NULL,
    sales_end_at         DATETIME(6) NOT NULL,
    max_tickets_per_user INT NOT NULL,
    hold_seconds         INT NOT NULL,
    queue_enabled        BOOLEAN NOT NULL,
    admit_per_minute     INT NOT NULL,
    created_at           DATETIME(6) NOT NULL,
    updated_at           DATETIME(6) NOT NULL,
    sales_lead_us        BIGINT GENERATED ALWAYS AS (TIMESTAMPDIFF(MICROSECOND, sales_start_at, starts_at)) STORED,
    sales_lag_us         BIGINT GENERATED ALWAYS AS (TIMESTAMPDIFF(MICROSECOND, starts_at, sales_end_at)) STORED,
    PRIMARY KEY (id),
    KEY events_starts_at (starts_at, id),
    KEY events_sales_lead (sales_lead_us),
    KEY events_sales_lag (sales_lag_us),
    FULLTEXT KEY events_text (title, venue)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE tiers (
    id             CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    event_id       CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name           VARCHAR(400) NOT NULL,
    price_amount   BIGINT NOT NULL,
    price_currency CHAR(3) CHARACTER SET ascii NOT NULL,
    capacity       INT NOT NULL,
    reserved       INT NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    KEY tiers_event (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE reservations (
    id              CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    event_id        CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    tier_id         CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id         CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    quantity        INT NOT NULL,
    status          VARCHAR(16) CHARACTER SET ascii NOT NULL,
    amount          BIGINT NOT NULL,
    currency        CHAR(3) CHARACTER SET ascii NOT NULL,
    attendee_name   VARCHAR(400) NULL,
    attendee_phone  VARCHAR(100) NULL,
    hold_expires_at DATETIME(6) NOT NULL,
    created_at      DATETIME(6) NOT NULL,
    updated_at      DATETIME(6) NOT NULL,
    confirmed_at    DATETIME(6) NULL,
    cancelled_at    DATETIME(6) NULL,
    PRIMARY KEY (id),
    KEY reservations_user (user_id, id),
    KEY reservations_expiry (status, hold_expires_at),
    KEY reservations_tier (tier_id, status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- tickets is the user's held + confirmed tickets for the event, so
-- max_tickets_per_user is enforced under one row lock.
CREATE TABLE user_event_tickets (
    user_id  CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    event_id CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    tickets  INT NOT NULL,
    PRIMARY KEY (user_id, event_id)
) ENGINE=InnoDB;

CREATE TABLE idempotency (
    user_id        CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    idem_key       VARCHAR(255) COLLATE utf8mb4_bin NOT NULL,
    fingerprint    VARCHAR(255) NOT NULL,
    status         INT NOT NULL,
    reservation_id CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    response       BLOB NULL,
    created_at     DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, idem_key),
    KEY idempotency_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- bookmarks_event serves DeleteEvent.
CREATE TABLE bookmarks (
    user_id    CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    event_id   CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, event_id),
    KEY bookmarks_user_created (user_id, created_at, event_id),
    KEY bookmarks_event (event_id)
) ENGINE=InnoDB;
