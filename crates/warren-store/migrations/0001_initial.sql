-- warren's initial schema. Times are Unix milliseconds (UTC).

CREATE TABLE sandboxes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order; list cursor
    id           TEXT    NOT NULL UNIQUE,
    state        TEXT    NOT NULL,
    image_ref    TEXT    NOT NULL,
    image_digest TEXT    NOT NULL,
    spec         TEXT    NOT NULL,                   -- JSON, owned by warren-core
    labels       TEXT    NOT NULL,                   -- JSON object of strings
    error        TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX sandboxes_image_digest ON sandboxes (image_digest);

CREATE TABLE api_keys (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    hash       TEXT    NOT NULL UNIQUE,   -- sha256 hex of the whole key; the key itself is never stored
    prefix     TEXT    NOT NULL,          -- first characters, to recognise a key in listings
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    sandbox_id TEXT,
    action     TEXT    NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    actor      TEXT,
    result     TEXT    NOT NULL,          -- "ok" or "error"
    message    TEXT
);
CREATE INDEX events_sandbox ON events (sandbox_id, seq);
