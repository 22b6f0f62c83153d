-- What an approved operation produced for its requester (e.g. a wrapped
-- key to export): ciphertext under a KEK or a recipient's key, never a secret in clear.
ALTER TABLE approvals ADD COLUMN result BLOB NOT NULL DEFAULT x'';
