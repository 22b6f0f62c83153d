-- Platform core: platform-wide values, operators, tokens, the audit chain.
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE operators (
    name TEXT PRIMARY KEY,
    role TEXT,
    disabled BIGINT NOT NULL,
    must_change BIGINT NOT NULL,
    failed_logins BIGINT NOT NULL,
    locked_until_ms BIGINT NOT NULL,
    password BYTEA NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    operator TEXT NOT NULL REFERENCES operators(name),
    expires_ms BIGINT NOT NULL,
    password_change_only BIGINT NOT NULL
);

-- One row: the newest sequence number and hash. Updating it first in every
-- appending transaction serializes appends.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
