-- Donations: one row per checkout session we created (or per recorded Payment Link session).
-- Timestamps are unix seconds (UTC). Money is integer cents.
CREATE TABLE donations (
    id                    TEXT PRIMARY KEY NOT NULL,
    provider              TEXT NOT NULL CHECK (provider IN ('stripe', 'demo', 'payment_link')),
    checkout_session_id   TEXT UNIQUE,
    payment_intent_id     TEXT,
    charge_id             TEXT,
    -- The derived state (see src/domain/lifecycle.rs); the three fact columns below decide it.
    status                TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                          ('pending', 'processing', 'paid', 'failed', 'expired', 'refunded', 'disputed', 'lost')),
    checkout_state        TEXT NOT NULL DEFAULT 'open' CHECK (checkout_state IN
                          ('open', 'processing', 'expired', 'failed', 'paid')),
    refunded_cents        INTEGER NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
    dispute_state         TEXT NOT NULL DEFAULT 'none' CHECK (dispute_state IN ('none', 'open', 'won', 'lost')),
    coffees               INTEGER NOT NULL CHECK (coffees >= 1),
    -- What we asked for; Stripe's amount_total replaces amount_cents once known.
    expected_amount_cents INTEGER NOT NULL CHECK (expected_amount_cents >= 0),
    amount_cents          INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency              TEXT NOT NULL,
    amount_mismatch       INTEGER NOT NULL DEFAULT 0,
    name                  TEXT,
    message               TEXT,
    visibility            TEXT NOT NULL DEFAULT 'anonymous' CHECK (visibility IN ('public', 'anonymous')),
    consent_at            INTEGER,
    livemode              INTEGER NOT NULL DEFAULT 0,
    created_at            INTEGER NOT NULL,
    paid_at               INTEGER,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX donations_payment_intent ON donations (payment_intent_id) WHERE payment_intent_id IS NOT NULL;
CREATE INDEX donations_charge ON donations (charge_id) WHERE charge_id IS NOT NULL;
CREATE INDEX donations_status_created ON donations (status, created_at DESC, id DESC);

-- The event ledger: every verified Stripe event, once. The primary key is the idempotency.
CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY NOT NULL,
    type        TEXT NOT NULL,
    created     INTEGER NOT NULL,
    livemode    INTEGER NOT NULL,
    api_version TEXT,
    received_at INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('applied', 'ignored', 'deferred', 'failed')),
    error       TEXT,
    donation_id TEXT REFERENCES donations (id),
    payload     TEXT NOT NULL
);
CREATE INDEX stripe_events_deferred ON stripe_events (created) WHERE status = 'deferred';
CREATE INDEX stripe_events_received ON stripe_events (received_at DESC);

-- Small pieces of service state (the reconciliation cursor, generated secrets).
CREATE TABLE app_state (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
