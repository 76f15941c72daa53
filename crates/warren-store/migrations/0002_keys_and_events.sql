-- API key scopes and expiry; an index for filtering events by action.

ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'full';  -- "read" or "full"
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;                   -- Unix ms; NULL = never

CREATE INDEX events_action ON events (action, seq);
