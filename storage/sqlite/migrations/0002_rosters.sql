-- Rosters (RFC 6121 §2) with roster versioning (RFC 6121 §2.6), and pending
-- inbound subscription requests (RFC 6121 §3.1.3). Owners and contacts are
-- canonical bare JIDs; every owner row goes with its account (ON DELETE
-- CASCADE).

-- The source of roster versions, shared by all rosters (PostgreSQL: a
-- SEQUENCE). A version is never handed out twice, so when an account is
-- deleted and created again, every version of the new roster exceeds every
-- version of the old one, and a client's cached old version is recognised as
-- unknown rather than answered with the wrong changes.
CREATE TABLE roster_version_counter (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL CHECK (value >= 0)
);

INSERT INTO roster_version_counter (id, value) VALUES (1, 0);

-- One row per owner whose roster has ever changed (since the account was
-- created). version is the current version (that of the latest change);
-- first_version the version of the first change, below which a version is
-- not this roster's; pruned_version the newest version of a discarded
-- tombstone (0 if none), from before which changes cannot be computed.
CREATE TABLE rosters (
    owner          TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (jid) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    first_version  INTEGER NOT NULL CHECK (first_version > 0),
    pruned_version INTEGER NOT NULL DEFAULT 0,
    CHECK (first_version <= version AND pruned_version <= version)
);

-- Roster items, and tombstones of removed ones (deleted = 1, the other
-- attributes reset), each with the version of its latest change.
-- subscription is the 'subscription' attribute value (RFC 6121 §2.1.2.5);
-- pending_out, pending_in and pre_approved complete the state of RFC 6121
-- Appendix A.1 and §3.4.
CREATE TABLE roster_items (
    owner        TEXT    NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
    contact      TEXT    NOT NULL,
    name         TEXT    NOT NULL DEFAULT '',
    subscription TEXT    NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
    pending_out  INTEGER NOT NULL DEFAULT 0 CHECK (pending_out IN (0, 1)),
    pending_in   INTEGER NOT NULL DEFAULT 0 CHECK (pending_in IN (0, 1)),
    pre_approved INTEGER NOT NULL DEFAULT 0 CHECK (pre_approved IN (0, 1)),
    deleted      INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    version      INTEGER NOT NULL,
    PRIMARY KEY (owner, contact)
);

-- Changes since a version, in order (RFC 6121 §2.6.3).
CREATE INDEX roster_items_by_version ON roster_items (owner, version);

-- Presence broadcast targets (RFC 6121 §4.2.2): read at every presence
-- change, so they get their own small index, which also covers the
-- subscribers query (hence the last two columns).
CREATE INDEX roster_subscribers ON roster_items (owner, contact, subscription, deleted)
    WHERE deleted = 0 AND subscription IN ('from', 'both');

-- Tombstones, oldest first, for pruning.
CREATE INDEX roster_tombstones ON roster_items (owner, version) WHERE deleted = 1;

-- The roster groups of each item (RFC 6121 §2.1.2.6).
CREATE TABLE roster_groups (
    owner   TEXT NOT NULL,
    contact TEXT NOT NULL,
    name    TEXT NOT NULL CHECK (name <> ''),
    PRIMARY KEY (owner, contact, name),
    FOREIGN KEY (owner, contact) REFERENCES roster_items (owner, contact) ON DELETE CASCADE
);

-- Pending inbound subscription requests ("Pending In", RFC 6121 Appendix
-- A.1), one per contact, with the original stanza for redelivery at login
-- (RFC 6121 §3.1.3). seq orders them by arrival (PostgreSQL: an identity
-- column); received_at is Unix time in microseconds, UTC.
CREATE TABLE subscription_requests (
    seq         INTEGER NOT NULL PRIMARY KEY,
    owner       TEXT    NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
    contact     TEXT    NOT NULL,
    stanza      BLOB    NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (owner, contact)
);

-- A user's pending requests in order of arrival, read at every login.
CREATE INDEX subscription_requests_by_owner ON subscription_requests (owner, seq);
