-- Monthly coffees (#21): a Stripe subscription our checkout started is one donation row (one
-- entry on the wall), and each of its invoices is a coffee record in `invoices`. The row's
-- coffees, amount_cents, refunded_cents and status are then the sum of its invoices
-- (src/domain/subscription.rs), so the wall's totals and triggers read it as before.
--
-- interval:           'once' (a one-time coffee) or 'month'.
-- monthly_coffees:    coffees per month, as asked at /donate (expected_amount_cents is one month).
-- subscription_id, customer_id: learned from Stripe, never overwritten.
-- first_invoice_id:   the invoice the checkout paid.
-- sub_view_at, sub_status, cancel_at_period_end, current_period_end: the newest subscription
--                     event's display fields (sub_view_at is that event's `created`).
-- ended_at, ended_reason: terminal; why it ended (cancelled, payment_failed, disputed, other).
-- paid_through:       the latest period end over paid invoices.
-- renewal_failed:     a debit after the paid period failed and nothing paid it since.
-- subscription_checked_at: when the daily sweep last asked Stripe about it.
-- checkout_paid_at:   when the checkout's own events said it was paid.
ALTER TABLE donations ADD COLUMN interval TEXT NOT NULL DEFAULT 'once' CHECK (interval IN ('once', 'month'));
ALTER TABLE donations ADD COLUMN monthly_coffees INTEGER;
ALTER TABLE donations ADD COLUMN subscription_id TEXT;
ALTER TABLE donations ADD COLUMN customer_id TEXT;
ALTER TABLE donations ADD COLUMN first_invoice_id TEXT;
ALTER TABLE donations ADD COLUMN sub_view_at INTEGER;
ALTER TABLE donations ADD COLUMN sub_status TEXT;
ALTER TABLE donations ADD COLUMN cancel_at_period_end INTEGER NOT NULL DEFAULT 0;
ALTER TABLE donations ADD COLUMN current_period_end INTEGER;
ALTER TABLE donations ADD COLUMN ended_at INTEGER;
ALTER TABLE donations ADD COLUMN ended_reason TEXT CHECK (ended_reason IN ('other', 'cancelled', 'payment_failed', 'disputed'));
ALTER TABLE donations ADD COLUMN paid_through INTEGER;
ALTER TABLE donations ADD COLUMN renewal_failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE donations ADD COLUMN subscription_checked_at INTEGER;
-- When the checkout itself said it was paid (the first month, before its invoice is reported).
ALTER TABLE donations ADD COLUMN checkout_paid_at INTEGER;

CREATE UNIQUE INDEX donations_subscription ON donations (subscription_id) WHERE subscription_id IS NOT NULL;
-- Every checkout e-mail address a monthly coffee was seen with (the checkout's, a later invoice's
-- after a change in the portal), as a keyed hash of the lower-cased address: a cancellation by
-- address (/kuendigen) finds the coffee without the address being kept. Erased with the entry.
CREATE TABLE email_hashes (
    hash        TEXT NOT NULL,
    donation_id TEXT NOT NULL REFERENCES donations (id),
    PRIMARY KEY (hash, donation_id)
) WITHOUT ROWID;
CREATE INDEX email_hashes_donation ON email_hashes (donation_id);
-- Every monthly coffee (the admin's filter; whether a charge without our id can be a renewal).
CREATE INDEX donations_interval ON donations (created_at) WHERE interval = 'month';
-- Monthly coffees still running: the stats' count, the sweep.
CREATE INDEX donations_monthly ON donations (paid_through) WHERE interval = 'month' AND ended_at IS NULL;

-- The wall shows a running monthly coffee with a badge: its end, or a renewal that moves its
-- paid-through date, changes what a cached page shows.
CREATE TRIGGER wall_version_monthly AFTER UPDATE OF ended_at, paid_through ON donations
WHEN NEW.status = 'paid' AND NEW.hidden = 0
 AND (OLD.ended_at IS NOT NEW.ended_at OR OLD.paid_through IS NOT NEW.paid_through)
BEGIN
    UPDATE wall_totals SET version = version + 1 WHERE id = 1;
END;

-- One row per invoice of a monthly coffee: its money facts, as a one-time donation has them.
-- checkout_state: open < processing < expired (void, uncollectible) < failed < paid.
-- amount_rank: where amount_cents and coffees come from: 0 what the reader asked for, 1 the
--   checkout's total or an unpaid invoice's amount due, 2 a paid invoice's amount paid and its
--   subscription line's quantity. The highest wins (the invoice itself is the truth).
-- stripe_status: the invoice's own status word in the newest event (stripe_status_at), for display.
CREATE TABLE invoices (
    id                    TEXT PRIMARY KEY NOT NULL,
    donation_id           TEXT NOT NULL REFERENCES donations (id),
    is_first              INTEGER NOT NULL DEFAULT 0,
    billing_reason        TEXT,
    coffees               INTEGER NOT NULL CHECK (coffees >= 1),
    amount_cents          INTEGER NOT NULL CHECK (amount_cents >= 0),
    amount_rank           INTEGER NOT NULL DEFAULT 0,
    currency              TEXT NOT NULL,
    period_end            INTEGER,
    payment_intent_id     TEXT,
    charge_id             TEXT,
    status                TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                          ('pending', 'processing', 'paid', 'failed', 'expired', 'refunded', 'disputed', 'lost')),
    checkout_state        TEXT NOT NULL DEFAULT 'open' CHECK (checkout_state IN
                          ('open', 'processing', 'expired', 'failed', 'paid')),
    refunded_cents        INTEGER NOT NULL DEFAULT 0,
    charge_refunded_cents INTEGER NOT NULL DEFAULT 0,
    refunds               TEXT NOT NULL DEFAULT '{}',
    disputes              TEXT NOT NULL DEFAULT '{}',
    charge_amount         INTEGER,
    charge_currency       TEXT,
    stripe_status         TEXT,
    stripe_status_at      INTEGER,
    paid_at               INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX invoices_donation ON invoices (donation_id);
CREATE INDEX invoices_payment_intent ON invoices (payment_intent_id) WHERE payment_intent_id IS NOT NULL;
CREATE INDEX invoices_charge ON invoices (charge_id) WHERE charge_id IS NOT NULL;
-- The admin's monthly figures and the CSV read invoices by when they were paid.
CREATE INDEX invoices_paid ON invoices (paid_at) WHERE checkout_state = 'paid';

-- Cancellations (§ 312k BGB): every declaration is stored before Stripe is asked, and worked off
-- in the background until done, however long Stripe is unavailable.
-- source:    'form' (/kuendigen, matched by e-mail), 'manage' (the manage link), 'erase' (an
--            erasure of a running monthly coffee).
-- email, name, kind, reason, timing: what was declared, kept as the record of it (the page and
--            the download show it) for 13 months (the longest a debit can be disputed), then
--            deleted; an erasure of the supporter's entry deletes theirs at once. email_hash
--            matches the subscriptions, the same keyed hash as donations.email_hash.
-- mail_due_at: when to send (or try again) the confirmation e-mail: set once the declaration
--            matched a monthly coffee (only its owner's address is mailed, so nobody can use the
--            form to send mail to anyone), NULL when nothing is to be sent; mailed_at once sent,
--            mail_error when given up. The e-mail is tracked apart from the cancellation itself.
-- timing:    'now' or 'period_end'. kind: 'ordinary' or 'extraordinary' (with a reason).
-- attempt:   bumps after a Stripe 5xx, so the next try goes out under a fresh idempotency key
--            (Stripe replays a saved 500 to a repeated key).
CREATE TABLE cancellations (
    id              TEXT PRIMARY KEY NOT NULL,
    created_at      INTEGER NOT NULL,
    source          TEXT NOT NULL CHECK (source IN ('form', 'manage', 'erase')),
    email           TEXT,
    email_hash      TEXT,
    name            TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('ordinary', 'extraordinary')),
    reason          TEXT,
    timing          TEXT NOT NULL CHECK (timing IN ('now', 'period_end')),
    lang            TEXT NOT NULL,
    donation_id     TEXT,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
    attempt         INTEGER NOT NULL DEFAULT 0,
    tries           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    done_at         INTEGER,
    cancelled       INTEGER NOT NULL DEFAULT 0,
    mailed_at       INTEGER,
    mail_due_at     INTEGER,
    mail_tries      INTEGER NOT NULL DEFAULT 0,
    mail_error      TEXT,
    last_error      TEXT
);
CREATE INDEX cancellations_mail_due ON cancellations (mail_due_at) WHERE mail_due_at IS NOT NULL;
CREATE INDEX cancellations_due ON cancellations (next_attempt_at) WHERE state = 'pending';
CREATE INDEX cancellations_created ON cancellations (created_at);
CREATE INDEX cancellations_email_hash ON cancellations (email_hash) WHERE email_hash IS NOT NULL;
