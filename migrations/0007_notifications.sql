-- The notification outbox: one row per notification and channel, written in the same transaction
-- as the donation change it reports, delivered later by the background sender. A row holds no
-- name or message: the sender reads them from the donation when it sends, so an erasure before
-- delivery reaches them too. `id` is the notification's id, the same on every channel, so that
-- receivers can drop a repeat after a crash between sending and recording.
CREATE TABLE notifications (
    id              TEXT NOT NULL,
    channel         TEXT NOT NULL CHECK (channel IN ('ntfy', 'webhook', 'email')),
    kind            TEXT NOT NULL,
    donation_id     TEXT,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    sent_at         INTEGER,
    -- Set when the sender gave up (after three days of retries).
    failed_at       INTEGER,
    last_error      TEXT,
    PRIMARY KEY (id, channel)
);

-- The sender's query: what is due, oldest first.
CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;

-- The admin's list, newest first; and pruning of delivered notifications after 30 days.
CREATE INDEX notifications_created ON notifications (created_at);
