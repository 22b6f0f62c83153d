-- Terminal security: the registry, single-use sign-in challenges, terminal
-- sessions (by hash), the card blacklist with the version each entry came
-- and went in, security events and the alerts their rules raise.
CREATE TABLE terminals (
    terminal_no  TEXT PRIMARY KEY,
    serial       TEXT NOT NULL,
    institution  TEXT NOT NULL,
    location     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    state        TEXT NOT NULL,
    psam         TEXT NOT NULL,
    public_key   TEXT NOT NULL,
    cert_serial  TEXT NOT NULL,
    cert_expires BIGINT NOT NULL,
    state_ms     BIGINT NOT NULL,
    created_ms   BIGINT NOT NULL
);
CREATE TABLE signin_nonces (
    nonce        TEXT PRIMARY KEY,
    terminal_no  TEXT NOT NULL,
    expires_ms   BIGINT NOT NULL
);
CREATE TABLE terminal_sessions (
    hash         TEXT PRIMARY KEY,
    terminal_no  TEXT NOT NULL,
    expires_ms   BIGINT NOT NULL
);
CREATE TABLE blacklist (
    card_id         TEXT PRIMARY KEY,
    reason          TEXT NOT NULL,
    added_version   BIGINT NOT NULL,
    removed_version BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL
);
CREATE INDEX blacklist_added ON blacklist (added_version);
CREATE INDEX blacklist_removed ON blacklist (removed_version);
CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    time_ms      BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    terminal_no  TEXT NOT NULL,
    card_id      TEXT NOT NULL,
    institution  TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX events_time ON events (time_ms);
CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    time_ms      BIGINT NOT NULL,
    rule         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    count        BIGINT NOT NULL,
    action       TEXT NOT NULL,
    state        TEXT NOT NULL,
    acked_by     TEXT NOT NULL
);
