-- The card registry: one row per card prepared for personalization. The
-- holder's social security number is kept only as a keyed hash (a blind
-- index), so the registry finds a holder's card without storing the number.
CREATE TABLE cards (
    card_id      TEXT PRIMARY KEY,
    ssn_index    TEXT NOT NULL UNIQUE,
    region       TEXT NOT NULL,
    card_no      TEXT NOT NULL,
    card_factor  TEXT NOT NULL,
    algorithm    TEXT NOT NULL,
    state        TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    issued_ms    BIGINT NOT NULL DEFAULT 0
);
