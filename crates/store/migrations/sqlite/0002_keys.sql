-- Keys of the KMS: metadata in clear, material only sealed by the barrier.
CREATE TABLE keys (
    name TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    usage TEXT NOT NULL,
    level TEXT NOT NULL,
    region TEXT NOT NULL,
    exportable INTEGER NOT NULL,
    state TEXT NOT NULL,
    min_version INTEGER NOT NULL,
    uses INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE key_versions (
    name TEXT NOT NULL REFERENCES keys(name),
    version INTEGER NOT NULL,
    material BLOB NOT NULL,
    kcv TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);
