-- Accounts, keyed by canonical bare JID "local@domain" (RFC 7622 §3).
-- domain is the JID's domainpart, kept for per-domain listing.
-- created_at is Unix time in microseconds, UTC.
CREATE TABLE accounts (
    jid        TEXT    NOT NULL PRIMARY KEY,
    domain     TEXT    NOT NULL,
    disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at INTEGER NOT NULL
);

CREATE INDEX accounts_by_domain ON accounts (domain, jid);

-- SCRAM credentials (RFC 5802 §3: salt, iteration count, StoredKey,
-- ServerKey), one row per hash function; never a password. hash names the
-- SCRAM mechanism's hash: 'SHA-1' (RFC 5802) or 'SHA-256' (RFC 7677).
CREATE TABLE account_scram (
    jid        TEXT    NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
    hash       TEXT    NOT NULL,
    salt       BLOB    NOT NULL,
    iterations INTEGER NOT NULL CHECK (iterations > 0),
    stored_key BLOB    NOT NULL,
    server_key BLOB    NOT NULL,
    PRIMARY KEY (jid, hash)
);
