-- The list equals the money (issue #18).
-- charge_amount, charge_currency: what the reader was charged, in their own currency (with Adaptive
--   Pricing not the jar's). Refunds arrive in it and count as their share of it (domain/lifecycle.rs).
-- disputes: every dispute by id, as JSON: {"dp_…": "won"}; dispute_state stays, derived from them.
--   A row's one earlier state is kept under the empty id, a floor for the dispute first known by
--   id (domain/disputes.rs).
ALTER TABLE donations ADD COLUMN charge_amount INTEGER;
ALTER TABLE donations ADD COLUMN charge_currency TEXT;
ALTER TABLE donations ADD COLUMN disputes TEXT NOT NULL DEFAULT '{}';
UPDATE donations SET disputes = json_object('', dispute_state) WHERE dispute_state != 'none';
