-- What an approver is shown: the public facts of the request (key name,
-- algorithm, usage, level, region, KCV, exportability; usage before and
-- after), as a JSON object. Nothing secret.
ALTER TABLE approvals ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
