-- Images advertisers upload in Ads Manager (issue 16), checked and
-- re-encoded before they get here, served by adloom from here so that
-- every node has them and people's browsers never reach the advertiser.
-- The id is the bytes' SHA-256: the same upload is kept once.
CREATE TABLE media (
    id            TEXT PRIMARY KEY,
    ad_account_id TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    bytes         BYTEA NOT NULL,
    created_time  BIGINT NOT NULL
);
