
CREATE TABLE people (
    user_id    TEXT PRIMARY KEY,
    record     TEXT NOT NULL,      -- PersonRecord as JSON (identifiers as digests only), updated_at aside
    updated_at BIGINT NOT NULL
);

-- The identity index: digest → people. No foreign key, on purpose: the
-- person's record lists their digests, so rows are deleted by key.
CREATE TABLE identifiers (
    digest  BYTEA NOT NULL,        -- SHA-256, SHA-1 or MD5 of a normalized identifier
    user_id TEXT NOT NULL,
    kind    TEXT NOT NULL,
    PRIMARY KEY (digest, user_id)
);

CREATE TABLE ads_settings (
    user_id          TEXT PRIMARY KEY REFERENCES people(user_id) ON DELETE CASCADE,
    use_partner_info BOOLEAN,      -- NULL: back to the default
    updated_at       BIGINT NOT NULL
);

-- Outlives the person on purpose: it keeps only the user id and the choices.
CREATE TABLE ads_setting_history (
    seq              BIGSERIAL PRIMARY KEY,
    user_id          TEXT NOT NULL,
    use_partner_info BOOLEAN,
    changed_at       BIGINT NOT NULL,
    source           TEXT NOT NULL
);
CREATE INDEX ads_setting_history_by_user ON ads_setting_history(user_id, seq);

CREATE TABLE ad_accounts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    country       TEXT NOT NULL,
    currency      TEXT NOT NULL,
    owner_user_id TEXT,
    created_time  BIGINT NOT NULL,
    updated_time  BIGINT NOT NULL
);

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,   -- hex SHA-256 of the bearer token
    created_at BIGINT NOT NULL
);

CREATE TABLE access_token_accounts (
    token_hash    TEXT NOT NULL REFERENCES access_tokens(token_hash) ON DELETE CASCADE,
    ad_account_id TEXT NOT NULL REFERENCES ad_accounts(id),
    PRIMARY KEY (token_hash, ad_account_id)
);

CREATE TABLE conversion_tags (
    id            TEXT PRIMARY KEY,
    ad_account_id TEXT NOT NULL REFERENCES ad_accounts(id),
    record        TEXT NOT NULL    -- ConversionTag as JSON
);
CREATE INDEX conversion_tags_by_account ON conversion_tags(ad_account_id);

-- The log of partner events (tag and conversions API).
CREATE TABLE events (
    seq           BIGSERIAL PRIMARY KEY,
    ad_account_id TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    user_id       TEXT,            -- the person it was resolved to, if any
    cookie_id     TEXT,
    name          TEXT NOT NULL,
    time          BIGINT NOT NULL,
    value_micros  BIGINT,
    record        TEXT NOT NULL,   -- TrackedEvent as JSON: hashed identifiers only
    UNIQUE (ad_account_id, event_id)
);
CREATE INDEX events_by_user ON events(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX events_by_cookie ON events(ad_account_id, cookie_id) WHERE cookie_id IS NOT NULL;
CREATE INDEX events_by_account_time ON events(ad_account_id, time) WHERE user_id IS NOT NULL;
CREATE INDEX events_by_account_seq ON events(ad_account_id, seq);

-- A browser (first-party cookie on the advertiser's site) that identified
-- itself: its anonymous events belong to this person.
CREATE TABLE cookie_links (
    ad_account_id TEXT NOT NULL,
    cookie_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    PRIMARY KEY (ad_account_id, cookie_id)
);
CREATE INDEX cookie_links_by_user ON cookie_links(user_id);

CREATE TABLE customer_lists (
    id            TEXT PRIMARY KEY,
    ad_account_id TEXT NOT NULL REFERENCES ad_accounts(id),
    record        TEXT NOT NULL    -- CustomerList as JSON: counters, never records
);
CREATE INDEX customer_lists_by_account ON customer_lists(ad_account_id, id);

-- Only records that matched someone, as digests.
CREATE TABLE list_members (
    list_id TEXT NOT NULL,
    digest  BYTEA NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (list_id, digest, user_id)
);
CREATE INDEX list_members_by_user ON list_members(user_id);

CREATE TABLE audiences (
    id            TEXT PRIMARY KEY,
    ad_account_id TEXT NOT NULL REFERENCES ad_accounts(id),
    record        TEXT NOT NULL,   -- name, description, audience_type, rule: the API's shape
    created_time  BIGINT NOT NULL,
    updated_time  BIGINT NOT NULL
);
CREATE INDEX audiences_by_account ON audiences(ad_account_id, id);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Click ids (epik) adloom appended to landing pages: who clicked.
CREATE TABLE click_ids (
    click_id      TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    ad_account_id TEXT NOT NULL,
    time          BIGINT NOT NULL
);
CREATE INDEX click_ids_by_user ON click_ids(user_id);

-- Campaigns, ad groups, ads and pins, each in the API's shape.
CREATE TABLE objects (
    kind          TEXT NOT NULL,
    id            TEXT NOT NULL,
    ad_account_id TEXT NOT NULL,
    record        TEXT NOT NULL,
    created_time  BIGINT NOT NULL,
    updated_time  BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX objects_by_account ON objects(kind, ad_account_id, id);

-- Impressions and clicks of served ads; a beacon counts once.
CREATE TABLE engagements (
    decision_id   TEXT NOT NULL,
    ad_id         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    ad_group_id   TEXT NOT NULL,
    campaign_id   TEXT NOT NULL,
    ad_account_id TEXT NOT NULL,
    user_id       TEXT,
    charge_micros BIGINT NOT NULL,
    time          BIGINT NOT NULL,
    PRIMARY KEY (decision_id, ad_id, kind)
);
CREATE INDEX engagements_by_account_time ON engagements(ad_account_id, time);
CREATE INDEX engagements_by_user ON engagements(user_id) WHERE user_id IS NOT NULL;

-- "Contact us" messages from the help page, contact details masked.
CREATE TABLE support_requests (
    seq    BIGSERIAL PRIMARY KEY,
    id     TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL
);
