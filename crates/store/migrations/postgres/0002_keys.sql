-- Keys of the KMS: metadata in clear, material only sealed by the barrier.
CREATE TABLE keys (
    name TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    usage TEXT NOT NULL,
    level TEXT NOT NULL,
    region TEXT NOT NULL,
    exportable BIGINT NOT NULL,
    state TEXT NOT NULL,
    min_version BIGINT NOT NULL,
    uses BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE key_versions (
    name TEXT NOT NULL REFERENCES keys(name),
    version BIGINT NOT NULL,
    material BYTEA NOT NULL,
    kcv TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
