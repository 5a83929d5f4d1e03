-- The public wall: a hidden entry is neither shown nor counted (moderation, issue 5 builds on it).
ALTER TABLE donations ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;

-- The wall and its totals read only paid, visible rows, newest first (keyset on created_at and
-- rowid; every index entry carries the rowid, so this one serves the whole ORDER BY).
CREATE INDEX donations_wall ON donations (created_at) WHERE status = 'paid' AND hidden = 0;
