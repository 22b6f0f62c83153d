-- A terminal session's working keys come from the terminal master version
-- that was newest at sign-in; kept so that a rotation of the master during
-- the session leaves them as delivered.
ALTER TABLE terminal_sessions ADD COLUMN master_version INTEGER NOT NULL DEFAULT 0;
