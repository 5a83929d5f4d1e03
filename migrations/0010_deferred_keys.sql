-- What each deferred event waits for (#20): the ids that would find its donation (ours, the
-- payment intent, the charge). An event that teaches the database an id then retries exactly
-- the events waiting for it, instead of re-reading up to 500 deferred events each time.
CREATE TABLE deferred_keys (
    key      TEXT NOT NULL,
    event_id TEXT NOT NULL REFERENCES stripe_events (id) ON DELETE CASCADE,
    PRIMARY KEY (key, event_id)
) WITHOUT ROWID;
CREATE INDEX deferred_keys_event ON deferred_keys (event_id);
-- The events deferred before this version, by the same fields the interpreter reads.
INSERT OR IGNORE INTO deferred_keys (key, event_id)
SELECT k.value, e.id
FROM stripe_events e, json_each(json_array(
    json_extract(e.payload, '$.data.object.metadata.donation_id'),
    json_extract(e.payload, '$.data.object.payment_intent'),
    json_extract(e.payload, '$.data.object.charge'),
    CASE WHEN e.type = 'charge.refunded' THEN json_extract(e.payload, '$.data.object.id') END
)) k
WHERE e.status = 'deferred' AND k.type = 'text';
