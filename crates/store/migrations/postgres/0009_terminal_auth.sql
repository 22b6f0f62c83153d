-- Terminals without SM2 sign in with a MAC under a terminal master key
-- (TMK) derived from the platform's terminal master: `auth` says which
-- (`sm2` or `mac`); `key_version` counts the terminal's keyings and
-- `master_version` is the version of the platform key its TMK came from.
ALTER TABLE terminals ADD COLUMN auth TEXT NOT NULL DEFAULT 'sm2';
ALTER TABLE terminals ADD COLUMN key_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE terminals ADD COLUMN master_version BIGINT NOT NULL DEFAULT 0;
