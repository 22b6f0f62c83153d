-- One row per period a card is on the blacklist (from the version it came
-- in to the version it left in), so that a card added again after its
-- removal gets a row of its own and no published version ever changes.
CREATE TABLE blacklist_periods (
    card_id         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    added_version   INTEGER NOT NULL,
    removed_version INTEGER NOT NULL,
    updated_ms      INTEGER NOT NULL,
    PRIMARY KEY (card_id, added_version)
);
INSERT INTO blacklist_periods (card_id, reason, added_version, removed_version, updated_ms)
    SELECT card_id, reason, added_version, removed_version, updated_ms FROM blacklist;
DROP TABLE blacklist;
ALTER TABLE blacklist_periods RENAME TO blacklist;
CREATE INDEX blacklist_added ON blacklist (added_version);
CREATE INDEX blacklist_removed ON blacklist (removed_version);

-- The address a sign-in challenge was asked from: the limit of live
-- challenges holds per terminal and address, so that nobody else can use
-- up a terminal's challenges.
ALTER TABLE signin_nonces ADD COLUMN source TEXT NOT NULL DEFAULT '';
