
-- Each audience's and list's reported size for its latest period, so that
-- every node answers alike (invariant 5).
CREATE TABLE reported_sizes (
    id     TEXT PRIMARY KEY,
    period BIGINT NOT NULL,
    ready  BOOLEAN NOT NULL,
    size   BIGINT
);
