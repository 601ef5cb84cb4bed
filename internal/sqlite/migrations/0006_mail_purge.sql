-- 0006: the purge of sent mail finds what it deletes by when it was sent.

CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
