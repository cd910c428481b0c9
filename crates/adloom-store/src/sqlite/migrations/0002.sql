
CREATE TABLE conversion_tags (
    id            TEXT PRIMARY KEY,
    ad_account_id TEXT NOT NULL REFERENCES ad_accounts(id),
    record        TEXT NOT NULL    -- ConversionTag as JSON
) WITHOUT ROWID;
CREATE INDEX conversion_tags_by_account ON conversion_tags(ad_account_id);

-- The log of partner events (tag and conversions API).
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    ad_account_id TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    user_id       TEXT,            -- the person it was resolved to, if any
    cookie_id     TEXT,
    name          TEXT NOT NULL,
    time          INTEGER NOT NULL,
    value_micros  INTEGER,
    record        TEXT NOT NULL,   -- TrackedEvent as JSON: hashed identifiers only
    UNIQUE (ad_account_id, event_id)
);
CREATE INDEX events_by_user ON events(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX events_by_cookie ON events(ad_account_id, cookie_id) WHERE cookie_id IS NOT NULL;

-- A browser (first-party cookie on the advertiser's site) that identified
-- itself: its anonymous events belong to this person.
CREATE TABLE cookie_links (
    ad_account_id TEXT NOT NULL,
    cookie_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    PRIMARY KEY (ad_account_id, cookie_id)
) WITHOUT ROWID;
CREATE INDEX cookie_links_by_user ON cookie_links(user_id);
