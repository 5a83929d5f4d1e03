-- Admin browser sessions, so logging out ends a session on the server and not only in the
-- browser. The cookie carries the id, signed with a key derived from SIGNING_SECRET and
-- ADMIN_TOKEN; a row that is gone (logout, "log out everywhere") or expired is no session.
CREATE TABLE admin_sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- How often the thanks page asked Stripe about a pending session, and when last: anonymous
-- refreshes must not spend the account's API quota (at most 20 lookups, one per 5 seconds).
ALTER TABLE donations ADD COLUMN stripe_lookups INTEGER NOT NULL DEFAULT 0;
ALTER TABLE donations ADD COLUMN stripe_looked_at INTEGER;
