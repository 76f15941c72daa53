-- Free-form caller metadata on sandboxes (JSON object of strings), changeable on a live sandbox.

ALTER TABLE sandboxes ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
