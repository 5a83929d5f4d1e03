-- Refunds by id, so a refund that fails later gives its amount back (see src/domain/refunds.rs).
-- charge_refunded_cents: the highest cumulative amount_refunded a charge reported.
-- refunds: every refund known by id, as JSON: {"re_…": {"amount": 500, "state": "succeeded"}}.
-- refunded_cents stays, now derived from both; the wall's totals and the accounts read it.
ALTER TABLE donations ADD COLUMN charge_refunded_cents INTEGER NOT NULL DEFAULT 0;
ALTER TABLE donations ADD COLUMN refunds TEXT NOT NULL DEFAULT '{}';
UPDATE donations SET charge_refunded_cents = refunded_cents;
