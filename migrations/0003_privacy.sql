-- Moderation and donor privacy.
-- held: a public entry waiting for the blogger's approval (shown as anonymous until then).
-- consent_version: which wording of the public opt-in the donor saw.
-- erased_at: personal fields were anonymised (by the admin or the donor); cannot be undone.
ALTER TABLE donations ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE donations ADD COLUMN consent_version TEXT;
ALTER TABLE donations ADD COLUMN erased_at INTEGER;
