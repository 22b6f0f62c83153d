-- One row per period a card is on the blacklist (from the version it came
-- in to the version it left in), so that a card added again after its
-- removal gets a row of its own and no published version ever changes.
ALTER TABLE blacklist DROP CONSTRAINT blacklist_pkey;
ALTER TABLE blacklist ADD PRIMARY KEY (card_id, added_version);

-- The address a sign-in challenge was asked from: the limit of live
-- challenges holds per terminal and address, so that nobody else can use
-- up a terminal's challenges.
ALTER TABLE signin_nonces ADD COLUMN source TEXT NOT NULL DEFAULT '';
