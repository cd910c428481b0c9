
-- The console's "tag health": an account's latest events.
CREATE INDEX events_by_account_seq ON events(ad_account_id, seq);

-- "Contact us" messages from the help page, contact details masked.
CREATE TABLE support_requests (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    id     TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL
);
