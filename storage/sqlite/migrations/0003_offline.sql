-- Offline messages (XEP-0160), kept until delivered. id orders them by
-- arrival and, thanks to AUTOINCREMENT, is never reused (PostgreSQL: an
-- identity column), so deleting an already-delivered ID cannot remove a newer
-- message. stored_at is Unix time in microseconds, UTC.
CREATE TABLE offline_messages (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    owner     TEXT    NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
    stanza    BLOB    NOT NULL,
    stored_at INTEGER NOT NULL
);

-- A user's queue in order, its length for the quota, and the cascade from
-- accounts.
CREATE INDEX offline_messages_by_owner ON offline_messages (owner, id);
