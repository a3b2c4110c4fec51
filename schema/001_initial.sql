-- The mirror tables, one per collection, and the watermarks that say how far each
-- (mailbox, collection) has been read. Timestamps are UTC text,
-- "YYYY-MM-DDTHH:MM:SS.fffffffZ": text order is time order, and date() reads them.

CREATE TABLE messages (
  user_id      TEXT NOT NULL,
  id           TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  modified_at  TEXT,
  change_key   TEXT,
  received_at  TEXT,
  subject      TEXT,
  from_address TEXT,
  from_name    TEXT,
  folder_id    TEXT,
  body_preview TEXT,
  is_read      INTEGER NOT NULL DEFAULT 0,
  json         TEXT NOT NULL,
  synced_at    TEXT NOT NULL,
  PRIMARY KEY (user_id, id)
);
CREATE INDEX messages_by_received ON messages (user_id, received_at);
CREATE INDEX messages_by_from ON messages (user_id, from_address COLLATE NOCASE);
CREATE INDEX messages_by_subject ON messages (user_id, subject);
CREATE INDEX messages_by_folder ON messages (user_id, folder_id, received_at);

CREATE TABLE events (
  user_id     TEXT NOT NULL,
  id          TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  modified_at TEXT,
  change_key  TEXT,
  subject     TEXT,
  start_at    TEXT,
  end_at      TEXT,
  json        TEXT NOT NULL,
  synced_at   TEXT NOT NULL,
  PRIMARY KEY (user_id, id)
);
CREATE INDEX events_by_start ON events (user_id, start_at);
CREATE INDEX events_by_end ON events (user_id, end_at);
CREATE INDEX events_by_subject ON events (user_id, subject);

CREATE TABLE contacts (
  user_id      TEXT NOT NULL,
  id           TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  modified_at  TEXT,
  change_key   TEXT,
  display_name TEXT,
  emails       TEXT,  -- the addresses joined by ", ", for display; search contact_emails
  json         TEXT NOT NULL,
  synced_at    TEXT NOT NULL,
  PRIMARY KEY (user_id, id)
);
CREATE INDEX contacts_by_name ON contacts (user_id, display_name COLLATE NOCASE);

-- One row per address of a contact, so that "who is alice@example.com" is an index lookup.
CREATE TABLE contact_emails (
  user_id    TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  address    TEXT NOT NULL COLLATE NOCASE,
  PRIMARY KEY (user_id, contact_id, address),
  FOREIGN KEY (user_id, contact_id) REFERENCES contacts (user_id, id) ON DELETE CASCADE
);
CREATE INDEX contact_emails_by_address ON contact_emails (address, user_id);

-- How far the mirror has read each collection. created_after is the newest
-- createdDateTime whose items are committed; it only moves forward, and always in the
-- same transaction as the items it covers.
CREATE TABLE watermarks (
  user_id        TEXT NOT NULL,
  collection     TEXT NOT NULL CHECK (collection IN ('messages', 'events', 'contacts')),
  created_after  TEXT,
  modified_after TEXT,
  delta_link     TEXT,
  updated_at     TEXT NOT NULL,
  PRIMARY KEY (user_id, collection)
);
