-- 0009: outgoing webhooks: the organizers' endpoints, the webhook outbox
-- and the deliveries of its messages.
--
--   webhook_endpoints   an organizer's receiver: url, events (a JSON array
--                   of message types), secret (whsec_…, the signing key),
--                   enabled; failures counts the attempts failed since the
--                   last success, failing_since is the first of them.
--                   webhook_endpoints_organizer (organizer_id, id) lists an
--                   organizer's endpoints.
--   webhook_messages    the outbox: one message per change reported, written
--                   in the transaction of the change. id is the webhook-id
--                   header (msg_…); body is the JSON sent. fanned_out is set
--                   once its deliveries exist; webhook_messages_fan_out
--                   (fanned_out, created_at) finds the others, oldest first.
--   webhook_deliveries  one message to one endpoint: status (pending,
--                   succeeded, failed, given_up), attempts, the last
--                   attempt's answer (response_status, error, duration_us,
--                   last_attempt_at). next_attempt_at is when it is due,
--                   the end of a deliverer's lease while one holds it, and
--                   NULL once final or while its endpoint is disabled;
--                   webhook_deliveries_due (next_attempt_at) serves the
--                   claims (and, NULL, the purge of final ones),
--                   webhook_deliveries_endpoint (endpoint_id, id) an
--                   endpoint's delivery log and its pauses,
--                   webhook_deliveries_message (message_id) the purge of
--                   messages no delivery needs any more.
--
-- IDs are boxoffice.NewID strings (message IDs prefixed); times are UTC
-- DATETIME(6).

CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id              CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    organizer_id    CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    url             VARCHAR(2000) COLLATE utf8mb4_bin NOT NULL,
    events          TEXT CHARACTER SET ascii NOT NULL,
    secret          VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    enabled         BOOLEAN NOT NULL,
    failures        INT NOT NULL DEFAULT 0,
    failing_since   DATETIME(6) NULL,
    disabled_reason VARCHAR(500) NOT NULL DEFAULT '',
    created_at      DATETIME(6) NOT NULL,
    updated_at      DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY webhook_endpoints_organizer (organizer_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS webhook_messages (
    id           VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    organizer_id CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    type         VARCHAR(32) CHARACTER SET ascii NOT NULL,
    body         MEDIUMTEXT NOT NULL,
    created_at   DATETIME(6) NOT NULL,
    fanned_out   BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (id),
    KEY webhook_messages_fan_out (fanned_out, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    endpoint_id     CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    message_id      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    organizer_id    CHAR(26) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    type            VARCHAR(32) CHARACTER SET ascii NOT NULL,
    status          VARCHAR(16) CHARACTER SET ascii NOT NULL,
    attempts        INT NOT NULL DEFAULT 0,
    response_status INT NOT NULL DEFAULT 0,
    error           VARCHAR(500) NOT NULL DEFAULT '',
    duration_us     BIGINT NOT NULL DEFAULT 0,
    last_attempt_at DATETIME(6) NULL,
    next_attempt_at DATETIME(6) NULL,
    created_at      DATETIME(6) NOT NULL,
    updated_at      DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY webhook_deliveries_due (next_attempt_at),
    KEY webhook_deliveries_endpoint (endpoint_id, id),
    KEY webhook_deliveries_message (message_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
