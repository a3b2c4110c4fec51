-- SharePoint lists: the items of each mirrored list, the list's change token (the
-- watermark: the newest change the rows reflect, written in the same transaction as
-- them), and the list subscriptions the keeper holds with SharePoint.

CREATE TABLE list_items (
  site        TEXT NOT NULL,     -- the site URL as configured
  list_id     TEXT NOT NULL,     -- the list's GUID, lower case
  item_id     INTEGER NOT NULL,  -- SharePoint's item Id
  json        TEXT NOT NULL,     -- the item as the REST API returned it
  created_at  TEXT,              -- its Created and Modified
  modified_at TEXT,
  synced_at   TEXT NOT NULL,     -- when this row was written (local clock)
  PRIMARY KEY (site, list_id, item_id)
) WITHOUT ROWID;

CREATE TABLE list_state (
  site          TEXT NOT NULL,
  list_id       TEXT NOT NULL,
  change_token  TEXT,               -- GetChanges resumes after it; NULL: read the list whole
  notified      INTEGER NOT NULL DEFAULT 0,  -- notifications received for the list
  synced        INTEGER NOT NULL DEFAULT 0,  -- `notified` as the last sync began
  synced_at     TEXT,
  full_reads    INTEGER NOT NULL DEFAULT 0,  -- whole-list reads (first sync, expired token)
  PRIMARY KEY (site, list_id)
) WITHOUT ROWID;

CREATE TABLE list_subscriptions (
  id               TEXT PRIMARY KEY,
  site             TEXT NOT NULL,
  list_id          TEXT NOT NULL,
  client_state     TEXT NOT NULL,
  notification_url TEXT NOT NULL,
  expires_at       TEXT NOT NULL   -- UTC, SharePoint's answer
);
CREATE INDEX list_subscriptions_by_list ON list_subscriptions (site, list_id);
