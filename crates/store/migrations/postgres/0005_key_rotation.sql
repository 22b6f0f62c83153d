-- Scheduled rotation: a key with a period gets a new version once its
-- newest version is older than the period (0: rotated only by command).
ALTER TABLE keys ADD COLUMN rotate_every_ms BIGINT NOT NULL DEFAULT 0;
