-- Public keys registered for the SSH gateway. A key grants access to every sandbox, like a
-- full-scope API key. `fingerprint` is OpenSSH's `SHA256:<base64>` of the key blob: the lookup
-- at authentication. Deleting a key removes its row (the event log keeps the record).

CREATE TABLE ssh_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    public_key  TEXT NOT NULL,           -- "<algorithm> <base64>", the comment dropped
    comment     TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL         -- Unix ms
);
