-- Presence authorization rules (RFC 5025 over RFC 4745 common policy): one
-- document per account, the canonical serialisation of a validated
-- <ruleset/>, replaced as a whole. It goes with the account.
CREATE TABLE pres_rules (
    owner    TEXT NOT NULL PRIMARY KEY REFERENCES accounts (jid) ON DELETE CASCADE,
    document BLOB NOT NULL CHECK (length(document) > 0)
);
