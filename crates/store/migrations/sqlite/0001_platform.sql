-- Platform core: platform-wide values, operators, tokens, the audit chain.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE operators (
    name TEXT PRIMARY KEY,
    role TEXT,
    disabled INTEGER NOT NULL,
    must_change INTEGER NOT NULL,
    failed_logins INTEGER NOT NULL,
    locked_until_ms INTEGER NOT NULL,
    password BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    operator TEXT NOT NULL REFERENCES operators(name),
    expires_ms INTEGER NOT NULL,
    password_change_only INTEGER NOT NULL
);

-- One row: the newest sequence number and hash. Updating it first in every
-- appending transaction serializes appends.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
