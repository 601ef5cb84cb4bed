-- 0003: verified emails, one-time tokens (email verification, password
-- reset) and the mail outbox.

ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE events ADD COLUMN require_verified_email BOOLEAN NOT NULL DEFAULT FALSE;

-- One live token per user and purpose; codes and secrets only hashed.
CREATE TABLE IF NOT EXISTS user_tokens (
    user_id     CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    purpose     VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    code_hash   VARBINARY(64) NULL,
    secret_hash VARBINARY(64) NOT NULL,
    attempts    INT NOT NULL DEFAULT 0,
    created_at  DATETIME(6) NOT NULL,
    expires_at  DATETIME(6) NOT NULL,
    used_at     DATETIME(6) NULL,
    PRIMARY KEY (user_id, purpose)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- next_attempt_at is NULL once a message is sent or given up.
CREATE TABLE IF NOT EXISTS outbox (
    id              CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind            VARCHAR(32) CHARACTER SET ascii NOT NULL,
    recipient       VARCHAR(320) NOT NULL,
    subject         VARCHAR(500) NOT NULL,
    body            TEXT NOT NULL,
    created_at      DATETIME(6) NOT NULL,
    attempts        INT NOT NULL DEFAULT 0,
    last_error      VARCHAR(1000) NOT NULL DEFAULT '',
    next_attempt_at DATETIME(6) NULL,
    sent_at         DATETIME(6) NULL,
    PRIMARY KEY (id),
    KEY outbox_due (next_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
