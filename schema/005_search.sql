-- Search: a full-text index over messages (subject, body preview, sender) kept in step
-- with the mirror by triggers, so in the same transaction as every write; and views that
-- flatten the most used fields.

-- messages gets a stable row number for the index to refer to (a table without an
-- INTEGER PRIMARY KEY may have its rowids renumbered by VACUUM); (user_id, id) stays
-- unique and is what upserts match on.
CREATE TABLE messages_new (
  seq          INTEGER PRIMARY KEY,
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
  UNIQUE (user_id, id)
);
INSERT INTO messages_new (user_id, id, created_at, modified_at, change_key, received_at, subject,
                          from_address, from_name, folder_id, body_preview, is_read, json,
                          synced_at)
  SELECT user_id, id, created_at, modified_at, change_key, received_at, subject, from_address,
         from_name, folder_id, body_preview, is_read, json, synced_at FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_by_received ON messages (user_id, received_at);
CREATE INDEX messages_by_from ON messages (user_id, from_address COLLATE NOCASE);
CREATE INDEX messages_by_subject ON messages (user_id, subject);
CREATE INDEX messages_by_folder ON messages (user_id, folder_id, received_at);

-- What the index holds of each message: sender is the name and address together.
CREATE VIEW messages_search_source AS
  SELECT seq, subject, body_preview,
         trim(coalesce(from_name, '') || ' ' || coalesce(from_address, '')) AS sender
  FROM messages;

CREATE VIRTUAL TABLE messages_fts USING fts5(
  subject, body_preview, sender,
  content = 'messages_search_source', content_rowid = 'seq',
  tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
  INSERT INTO messages_fts (rowid, subject, body_preview, sender)
  VALUES (new.seq, new.subject, new.body_preview,
          trim(coalesce(new.from_name, '') || ' ' || coalesce(new.from_address, '')));
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, subject, body_preview, sender)
  VALUES ('delete', old.seq, old.subject, old.body_preview,
          trim(coalesce(old.from_name, '') || ' ' || coalesce(old.from_address, '')));
END;
CREATE TRIGGER messages_fts_update
  AFTER UPDATE OF subject, body_preview, from_name, from_address ON messages BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, subject, body_preview, sender)
  VALUES ('delete', old.seq, old.subject, old.body_preview,
          trim(coalesce(old.from_name, '') || ' ' || coalesce(old.from_address, '')));
  INSERT INTO messages_fts (rowid, subject, body_preview, sender)
  VALUES (new.seq, new.subject, new.body_preview,
          trim(coalesce(new.from_name, '') || ' ' || coalesce(new.from_address, '')));
END;

INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

-- Flattened views of the most used fields (the json column holds everything else).
CREATE VIEW message_list AS
  SELECT user_id, id, received_at, from_name, from_address, subject, body_preview, is_read,
         folder_id,
         json_extract(json, '$.hasAttachments') AS has_attachments,
         json_extract(json, '$.importance') AS importance,
         json_extract(json, '$.conversationId') AS conversation_id,
         (SELECT group_concat(json_extract(r.value, '$.emailAddress.address'), ', ')
            FROM json_each(json, '$.toRecipients') AS r) AS to_addresses
  FROM messages;

CREATE VIEW event_list AS
  SELECT user_id, id, subject, start_at, end_at,
         json_extract(json, '$.start.timeZone') AS time_zone,
         json_extract(json, '$.location.displayName') AS location,
         json_extract(json, '$.organizer.emailAddress.address') AS organizer,
         json_extract(json, '$.isAllDay') AS is_all_day,
         json_extract(json, '$.isCancelled') AS is_cancelled,
         json_extract(json, '$.showAs') AS show_as
  FROM events;

CREATE VIEW contact_list AS
  SELECT user_id, id, display_name, emails,
         json_extract(json, '$.companyName') AS company,
         json_extract(json, '$.jobTitle') AS job_title,
         json_extract(json, '$.mobilePhone') AS mobile_phone,
         json_extract(json, '$.businessPhones[0]') AS business_phone
  FROM contacts;
