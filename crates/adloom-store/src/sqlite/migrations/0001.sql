
CREATE TABLE people (
    user_id    TEXT PRIMARY KEY,
    record     TEXT NOT NULL,      -- PersonRecord as JSON (identifiers as digests only), updated_at aside
    updated_at INTEGER NOT NULL
);  -- a rowid table: records are too large for WITHOUT ROWID to pay off

-- The identity index. No index by user and no foreign key, on purpose: the
-- person's record lists their digests, so the store deletes rows by key,
-- and an import writes each row once instead of twice.
CREATE TABLE identifiers (
    digest  BLOB NOT NULL,         -- SHA-256, SHA-1 or MD5 of a normalized identifier
    user_id TEXT NOT NULL,
    kind    TEXT NOT NULL,
    PRIMARY KEY (digest, user_id)
) WITHOUT ROWID;

CREATE TABLE ads_settings (
    user_id          TEXT PRIMARY KEY REFERENCES people(user_id) ON DELETE CASCADE,
    use_partner_info INTEGER,      -- 1, 0 or NULL (back to the default)
    updated_at       INTEGER NOT NULL
) WITHOUT ROWID;

-- Outlives the person on purpose: it keeps only the user id and the choices.
CREATE TABLE ads_setting_history (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          TEXT NOT NULL,
    use_partner_info INTEGER,
    changed_at       INTEGER NOT NULL,
    source           TEXT NOT NULL
);
CREATE INDEX ads_setting_history_by_user ON ads_setting_history(user_id, seq);

CREATE TABLE ad_accounts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    country       TEXT NOT NULL,
    currency      TEXT NOT NULL,
    owner_user_id TEXT,
    created_time  INTEGER NOT NULL,
    updated_time  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,   -- hex SHA-256 of the bearer token
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE access_token_accounts (
    token_hash    TEXT NOT NULL REFERENCES access_tokens(token_hash) ON DELETE CASCADE,
    ad_account_id TEXT NOT NULL REFERENCES ad_accounts(id),
    PRIMARY KEY (token_hash, ad_account_id)
) WITHOUT ROWID;
