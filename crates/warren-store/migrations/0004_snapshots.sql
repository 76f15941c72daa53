-- Snapshots (immutable captures of a sandbox) and the lineage that links sandboxes to them.

CREATE TABLE snapshots (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order; list cursor
    id              TEXT    NOT NULL UNIQUE,
    name            TEXT    UNIQUE,                     -- optional, unique when given
    state           TEXT    NOT NULL,                   -- creating | ready | deleting
    source_sandbox  TEXT,                               -- captured from (may be deleted since)
    parent_snapshot TEXT,                               -- the source's own snapshot, if any
    image_ref       TEXT    NOT NULL,
    image_digest    TEXT    NOT NULL,
    memory          INTEGER NOT NULL,                   -- 1: processes captured too
    spec            TEXT    NOT NULL,                   -- JSON, owned by warren-core
    labels          TEXT    NOT NULL,                   -- JSON object of strings
    fs_bytes        INTEGER NOT NULL DEFAULT 0,
    memory_bytes    INTEGER NOT NULL DEFAULT 0,
    paused_us       INTEGER NOT NULL DEFAULT 0,         -- how long the source was frozen
    created_at      INTEGER NOT NULL
);
CREATE INDEX snapshots_parent ON snapshots (parent_snapshot);
CREATE INDEX snapshots_source ON snapshots (source_sandbox);
CREATE INDEX snapshots_image_digest ON snapshots (image_digest);

-- The snapshot a sandbox was created from (its filesystem layers, and memory if any).
ALTER TABLE sandboxes ADD COLUMN parent_snapshot TEXT;
CREATE INDEX sandboxes_parent_snapshot ON sandboxes (parent_snapshot);

-- Last API call, exec, file operation or terminal activity (Unix ms): idle policies.
ALTER TABLE sandboxes ADD COLUMN last_active_at INTEGER;
