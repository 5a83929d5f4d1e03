-- Storage limitation (GDPR Art. 5(1)(e)), see src/storage/retention.rs.
-- enveloped: a failed or ignored event's payload was cut to its envelope after the retention
--   period, so the hourly pass does not read it again.
ALTER TABLE stripe_events ADD COLUMN enveloped INTEGER NOT NULL DEFAULT 0;
CREATE INDEX stripe_events_to_envelope ON stripe_events (received_at)
    WHERE status IN ('failed', 'ignored') AND enveloped = 0;
-- Checkouts that never paid, oldest first, until their personal fields are gone.
CREATE INDEX donations_unpaid_personal ON donations (created_at)
    WHERE checkout_state IN ('open', 'expired', 'failed') AND erased_at IS NULL;
