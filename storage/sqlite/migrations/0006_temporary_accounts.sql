-- Temporary accounts belong to sessions that authenticated anonymously
-- (SASL ANONYMOUS, RFC 4505). They have no credentials, hold a roster,
-- lists and subscriptions like any account while the session lasts, and are
-- deleted (with everything stored for them) when it ends, or at the next
-- start if the server stopped without ending it.
ALTER TABLE accounts ADD COLUMN temporary INTEGER NOT NULL DEFAULT 0 CHECK (temporary IN (0, 1));

CREATE INDEX accounts_temporary ON accounts (jid) WHERE temporary = 1;
