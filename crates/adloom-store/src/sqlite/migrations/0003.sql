
CREATE TABLE customer_lists (
    id            TEXT PRIMARY KEY,
    ad_account_id TEXT NOT NULL REFERENCES ad_accounts(id),
    record        TEXT NOT NULL    -- CustomerList as JSON: counters, never records
) WITHOUT ROWID;
CREATE INDEX customer_lists_by_account ON customer_lists(ad_account_id, id);

-- Only records that matched someone, as digests.
CREATE TABLE list_members (
    list_id TEXT NOT NULL,
    digest  BLOB NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (list_id, digest, user_id)
) WITHOUT ROWID;
CREATE INDEX list_members_by_user ON list_members(user_id);

CREATE TABLE audiences (
    id            TEXT PRIMARY KEY,
    ad_account_id TEXT NOT NULL REFERENCES ad_accounts(id),
    record        TEXT NOT NULL,   -- name, description, audience_type, rule: the API's shape
    created_time  INTEGER NOT NULL,
    updated_time  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX audiences_by_account ON audiences(ad_account_id, id);

CREATE INDEX events_by_account_time ON events(ad_account_id, time) WHERE user_id IS NOT NULL;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('secret', lower(hex(randomblob(32))));

-- Click ids (epik) adloom appended to landing pages: who clicked.
CREATE TABLE click_ids (
    click_id      TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    ad_account_id TEXT NOT NULL,
    time          INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX click_ids_by_user ON click_ids(user_id);
