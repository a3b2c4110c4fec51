-- SharePoint lists: a whole-list read written page by page, and what status and metrics
-- show of each list.
--
-- A whole read (first sync, expired change token) takes the next read_generation and
-- clears the token in one transaction, writes each page as it arrives with that
-- generation, and at the end deletes the rows it did not see (an older generation) and
-- stores the token, in one transaction. Readers never see the list emptied; a crash
-- midway leaves no token, so the next sync reads the list whole again.
ALTER TABLE list_items ADD COLUMN read_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE list_state ADD COLUMN read_generation INTEGER NOT NULL DEFAULT 0;

ALTER TABLE list_state ADD COLUMN token_at TEXT;        -- when change_token was stored
ALTER TABLE list_state ADD COLUMN last_change_at TEXT;  -- when an item was last written or removed
-- The last failed sync's one-line error and when; cleared by the next sync that succeeds.
ALTER TABLE list_state ADD COLUMN last_error TEXT;
ALTER TABLE list_state ADD COLUMN last_error_at TEXT;
-- The last failed subscription create or renew; cleared when one succeeds.
ALTER TABLE list_state ADD COLUMN subscription_error TEXT;
-- Counters since the list was first mirrored (the /metrics counters).
ALTER TABLE list_state ADD COLUMN syncs INTEGER NOT NULL DEFAULT 0;          -- syncs that succeeded
ALTER TABLE list_state ADD COLUMN sync_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE list_state ADD COLUMN changes_read INTEGER NOT NULL DEFAULT 0;   -- GetChanges records
ALTER TABLE list_state ADD COLUMN items_written INTEGER NOT NULL DEFAULT 0;  -- rows upserted
ALTER TABLE list_state ADD COLUMN items_removed INTEGER NOT NULL DEFAULT 0;  -- rows deleted
ALTER TABLE list_state ADD COLUMN requests INTEGER NOT NULL DEFAULT 0;       -- REST calls for syncs
