
-- Single-use tokens already spent (sign-in links), until they expire.
CREATE TABLE spent_tokens (
    id         TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
