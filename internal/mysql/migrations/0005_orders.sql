-- 0005: orders, their payments and refunds, and the events' refund policy.
--
--   orders          one checkout of tickets of one event; its lines' kept
--                   tickets (quantity − refunded) count in tiers.reserved and
--                   user_event_tickets while its status holds tickets
--                   (pending, paid, partially_refunded).
--   order_lines     the tickets of one tier in an order; unit_price is in the
--                   order's currency; attendees is a JSON array of
--                   {"name", "phone"}, NULL when none were given.
--   payments        attempts to pay for an order; ref is the provider's id,
--                   NULL until it answered (so that UNIQUE (provider, ref)
--                   allows many unanswered ones).
--   refunds         money owed back, sent to the provider by the refund
--                   outbox; lines is a JSON array of {"tier_id", "quantity"};
--                   next_attempt_at is when the outbox tries (again).
--   provider_events the provider events (webhooks) applied, each once.
--
-- IDs are boxoffice.NewID strings; times are UTC DATETIME(6); amounts are
-- BIGINT minor units.

ALTER TABLE events ADD COLUMN refunds_none BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE events ADD COLUMN refunds_until DATETIME(6) NULL;

CREATE TABLE IF NOT EXISTS orders (
    id              CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    event_id        CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id         CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    email           VARCHAR(320) NOT NULL,
    status          VARCHAR(24) CHARACTER SET ascii NOT NULL,
    total_amount    BIGINT NOT NULL,
    currency        CHAR(3) CHARACTER SET ascii NOT NULL,
    refunded_amount BIGINT NOT NULL DEFAULT 0,
    hold_expires_at DATETIME(6) NOT NULL,
    created_at      DATETIME(6) NOT NULL,
    updated_at      DATETIME(6) NOT NULL,
    paid_at         DATETIME(6) NULL,
    paid_by         CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NULL,
    PRIMARY KEY (id),
    KEY orders_user (user_id, id),
    KEY orders_event (event_id, id),
    KEY orders_expiry (status, hold_expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS order_lines (
    order_id   CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    line_no    INT NOT NULL,
    tier_id    CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    quantity   INT NOT NULL,
    unit_price BIGINT NOT NULL,
    refunded   INT NOT NULL DEFAULT 0,
    attendees  TEXT NULL,
    PRIMARY KEY (order_id, line_no)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS payments (
    id             CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    order_id       CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    provider       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    ref            VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
    status         VARCHAR(24) CHARACTER SET ascii NOT NULL,
    amount         BIGINT NOT NULL,
    currency       CHAR(3) CHARACTER SET ascii NOT NULL,
    client_secret  VARCHAR(500) COLLATE utf8mb4_bin NOT NULL DEFAULT '',
    failure_reason VARCHAR(1000) NOT NULL DEFAULT '',
    status_at      DATETIME(6) NOT NULL,
    created_at     DATETIME(6) NOT NULL,
    updated_at     DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY payments_order (order_id),
    UNIQUE KEY payments_ref (provider, ref),
    KEY payments_stuck (status, updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- lines is a reserved word in MySQL: always quote it.
CREATE TABLE IF NOT EXISTS refunds (
    id              CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    order_id        CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    payment_id      CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    provider        VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    ref             VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
    amount          BIGINT NOT NULL,
    currency        CHAR(3) CHARACTER SET ascii NOT NULL,
    status          VARCHAR(24) CHARACTER SET ascii NOT NULL,
    reason          VARCHAR(1000) NOT NULL DEFAULT '',
    `lines`         TEXT NOT NULL,
    by_organizer    BOOLEAN NOT NULL DEFAULT FALSE,
    automatic       BOOLEAN NOT NULL DEFAULT FALSE,
    attempts        INT NOT NULL DEFAULT 0,
    last_error      VARCHAR(1000) NOT NULL DEFAULT '',
    next_attempt_at DATETIME(6) NOT NULL,
    created_at      DATETIME(6) NOT NULL,
    updated_at      DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY refunds_due (status, next_attempt_at),
    KEY refunds_order (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS provider_events (
    event_key  VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (event_key)
) ENGINE=InnoDB;
