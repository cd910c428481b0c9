
-- Access tokens get a name to list and revoke them by, an optional expiry,
-- when they were last used, and a generation that signing out of the
-- console bumps, ending the sessions of earlier ones (issue 13).
ALTER TABLE access_tokens ADD COLUMN id TEXT;
ALTER TABLE access_tokens ADD COLUMN expires_at INTEGER;
ALTER TABLE access_tokens ADD COLUMN last_used_at INTEGER;
ALTER TABLE access_tokens ADD COLUMN console_generation INTEGER NOT NULL DEFAULT 0;
UPDATE access_tokens SET id = substr(token_hash, 1, 18);
CREATE UNIQUE INDEX access_tokens_by_id ON access_tokens(id);
