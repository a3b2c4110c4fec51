-- Recovery: delta rounds (how deletions and moves are seen), and the per-collection sync
-- status that `graphmirror status` shows.

-- The state of the delta rounds of one scope of a collection: a mail folder (scope is the
-- folder id), the default contacts folder ('contacts'), or a calendar window
-- ('{start}/{end}'). delta_link is the link that ended the last complete round; next_link
-- is where a round in progress resumes. fresh = 1 while a round that started without a
-- token runs: at its end, the rows of the scope it did not list are swept (see
-- delta_seen). Each is written in the same transaction as the page that justifies it.
CREATE TABLE delta_links (
  user_id    TEXT NOT NULL,
  collection TEXT NOT NULL CHECK (collection IN ('messages', 'events', 'contacts')),
  scope      TEXT NOT NULL,
  delta_link TEXT,
  next_link  TEXT,
  fresh      INTEGER NOT NULL DEFAULT 0,
  -- Graph's clock when the latest round began: a row changed after it is not removed on
  -- that round's word (the change may have brought it back).
  round_started_at TEXT,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (user_id, collection, scope)
);

-- The ids a fresh round has listed so far; emptied when it ends.
CREATE TABLE delta_seen (
  user_id    TEXT NOT NULL,
  collection TEXT NOT NULL,
  scope      TEXT NOT NULL,
  item_id    TEXT NOT NULL,
  PRIMARY KEY (user_id, collection, scope, item_id)
) WITHOUT ROWID;

-- Items a delta round reported gone from a scope (deleted, or moved out of a folder), and
-- the unlisted items a fresh round swept. They are removed from the mirror only when the
-- rounds of every scope of the collection have ended, and only if no scope listed them
-- since: a message moved from folder A to folder B is gone from A's round and present in
-- B's, and must keep its row.
CREATE TABLE delta_removals (
  user_id    TEXT NOT NULL,
  collection TEXT NOT NULL,
  item_id    TEXT NOT NULL,
  scope      TEXT NOT NULL,
  PRIMARY KEY (user_id, collection, item_id, scope)
) WITHOUT ROWID;

-- One row per configured (mailbox, collection): when it was last brought up to date, the
-- last lifecycle event Graph sent for it, and why it is stopped, if it is (a permission
-- missing or the credentials rejected; retried at retry_at).
CREATE TABLE sync_status (
  user_id              TEXT NOT NULL,
  collection           TEXT NOT NULL CHECK (collection IN ('messages', 'events', 'contacts')),
  last_sync_at         TEXT,
  last_sync_kind       TEXT,
  last_error           TEXT,
  last_error_at        TEXT,
  last_lifecycle_event TEXT,
  last_lifecycle_at    TEXT,
  stopped_reason       TEXT,
  stopped_at           TEXT,
  retry_at             TEXT,
  PRIMARY KEY (user_id, collection)
);

-- The watermark's delta_link column was never written: delta state lives in delta_links.
ALTER TABLE watermarks DROP COLUMN delta_link;
