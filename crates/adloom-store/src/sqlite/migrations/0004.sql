
-- Campaigns, ad groups, ads and pins, each in the API's shape.
CREATE TABLE objects (
    kind          TEXT NOT NULL,
    id            TEXT NOT NULL,
    ad_account_id TEXT NOT NULL,
    record        TEXT NOT NULL,
    created_time  INTEGER NOT NULL,
    updated_time  INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX objects_by_account ON objects(kind, ad_account_id, id);
