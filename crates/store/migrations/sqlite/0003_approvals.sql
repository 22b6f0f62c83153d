-- Dual control: operations waiting for a second security administrator.
-- The payload (e.g. an imported key) is sealed by the barrier.
CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    requester TEXT NOT NULL,
    payload BLOB NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    decided_by TEXT NOT NULL
);
