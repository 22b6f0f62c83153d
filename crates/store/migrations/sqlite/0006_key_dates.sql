-- Activation and expiry dates (NIST SP 800-57 cryptoperiods): a key created
-- with a future activation date waits pre-active until then; past its
-- expiry it only processes (decrypt, verify). 0: no date.
ALTER TABLE keys ADD COLUMN activate_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE keys ADD COLUMN expire_ms INTEGER NOT NULL DEFAULT 0;
