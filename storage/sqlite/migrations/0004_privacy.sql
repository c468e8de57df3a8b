-- Privacy lists (XEP-0016 §2): named lists of ordered rules per user, at
-- most one of which is the user's default list (XEP-0016 §2.5).
CREATE TABLE privacy_lists (
    owner      TEXT    NOT NULL REFERENCES accounts (jid) ON DELETE CASCADE,
    name       TEXT    NOT NULL CHECK (name <> ''),
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    PRIMARY KEY (owner, name)
);

CREATE UNIQUE INDEX privacy_lists_one_default ON privacy_lists (owner) WHERE is_default = 1;

-- The rules (<item/> elements, XEP-0016 §2.1) of each list. position is the
-- 'order' attribute, an xs:unsignedInt unique within the list; type is '' for
-- the fall-through rule. message, iq, presence_in and presence_out are the
-- stanza kinds the rule names; all 0 means every kind.
CREATE TABLE privacy_rules (
    owner        TEXT    NOT NULL,
    list         TEXT    NOT NULL,
    position     INTEGER NOT NULL CHECK (position BETWEEN 0 AND 4294967295),
    type         TEXT    NOT NULL CHECK (type IN ('', 'jid', 'group', 'subscription')),
    value        TEXT    NOT NULL,
    allow        INTEGER NOT NULL CHECK (allow IN (0, 1)),
    message      INTEGER NOT NULL CHECK (message IN (0, 1)),
    iq           INTEGER NOT NULL CHECK (iq IN (0, 1)),
    presence_in  INTEGER NOT NULL CHECK (presence_in IN (0, 1)),
    presence_out INTEGER NOT NULL CHECK (presence_out IN (0, 1)),
    PRIMARY KEY (owner, list, position),
    FOREIGN KEY (owner, list) REFERENCES privacy_lists (owner, name) ON DELETE CASCADE
);
