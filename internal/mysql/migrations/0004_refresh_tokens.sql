-- 0004: refresh tokens, stored only as the SHA-256 hash of their secret.
-- The tokens descended from one sign-in share a family_id; rotated_at is
-- set when a token is exchanged for its successor, revoked_at when its
-- family is ended.

CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash    BINARY(32) NOT NULL,
    family_id     CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id       CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    token_version BIGINT NOT NULL,
    created_at    DATETIME(6) NOT NULL,
    expires_at    DATETIME(6) NOT NULL,
    rotated_at    DATETIME(6) NULL,
    revoked_at    DATETIME(6) NULL,
    PRIMARY KEY (token_hash),
    KEY refresh_tokens_family (family_id),
    KEY refresh_tokens_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
