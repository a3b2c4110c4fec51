-- Bulk loads: a collection read into an empty mirror (a first sync, a scope read anew) is
-- written without its full-text index and, when its table was empty, without the table's
-- secondary indexes; both are built once at the end of the load (MirrorTables::BeginLoad,
-- FinishLoad). Everything about a load is in these tables, so a process that dies
-- mid-load resumes it, and whatever opens the database can tell what is missing.

-- The collections being loaded. While a row is here, the rows of that mailbox's
-- collection past the `indexed_*` marks are not in the FTS5 indexes: the triggers below
-- skip them (an external-content FTS5 'delete' of a row it never indexed would corrupt
-- it), and the end of the load indexes them in order, moving the marks, until none is left
-- and the row goes. Rows at or below the marks are indexed and kept so by the triggers.
CREATE TABLE bulk_loads (
  user_id            TEXT NOT NULL,
  collection         TEXT NOT NULL CHECK (collection IN ('messages', 'events', 'contacts')),
  started_at         TEXT NOT NULL,
  indexed_seq        INTEGER NOT NULL DEFAULT 0,  -- messages.seq indexed up to
  indexed_body_rowid INTEGER NOT NULL DEFAULT 0,  -- message_bodies.rowid indexed up to
  PRIMARY KEY (user_id, collection)
);

-- Secondary indexes a load dropped (its table was empty), with the statement that makes
-- each again: it is run once no load of the table's collection remains, by the last load
-- to finish or, after a crash, when the database is next opened.
CREATE TABLE bulk_dropped_indexes (
  name       TEXT PRIMARY KEY,
  table_name TEXT NOT NULL,
  collection TEXT NOT NULL,
  sql        TEXT NOT NULL
);

DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TRIGGER message_bodies_fts_insert;
DROP TRIGGER message_bodies_fts_delete;
DROP TRIGGER message_bodies_fts_update;

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN NOT EXISTS (SELECT 1 FROM bulk_loads WHERE user_id = new.user_id
                 AND collection = 'messages' AND new.seq > indexed_seq) BEGIN
  INSERT INTO messages_fts (rowid, subject, body_preview, sender)
  VALUES (new.seq, new.subject, new.body_preview,
          trim(coalesce(new.from_name, '') || ' ' || coalesce(new.from_address, '')));
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN NOT EXISTS (SELECT 1 FROM bulk_loads WHERE user_id = old.user_id
                 AND collection = 'messages' AND old.seq > indexed_seq) BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, subject, body_preview, sender)
  VALUES ('delete', old.seq, old.subject, old.body_preview,
          trim(coalesce(old.from_name, '') || ' ' || coalesce(old.from_address, '')));
END;
CREATE TRIGGER messages_fts_update
  AFTER UPDATE OF subject, body_preview, from_name, from_address ON messages
WHEN NOT EXISTS (SELECT 1 FROM bulk_loads WHERE user_id = old.user_id
                 AND collection = 'messages' AND old.seq > indexed_seq) BEGIN
  INSERT INTO messages_fts (messages_fts, rowid, subject, body_preview, sender)
  VALUES ('delete', old.seq, old.subject, old.body_preview,
          trim(coalesce(old.from_name, '') || ' ' || coalesce(old.from_address, '')));
  INSERT INTO messages_fts (rowid, subject, body_preview, sender)
  VALUES (new.seq, new.subject, new.body_preview,
          trim(coalesce(new.from_name, '') || ' ' || coalesce(new.from_address, '')));
END;

CREATE TRIGGER message_bodies_fts_insert AFTER INSERT ON message_bodies
WHEN NOT EXISTS (SELECT 1 FROM bulk_loads WHERE user_id = new.user_id
                 AND collection = 'messages' AND new.rowid > indexed_body_rowid) BEGIN
  INSERT INTO message_bodies_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER message_bodies_fts_delete AFTER DELETE ON message_bodies
WHEN NOT EXISTS (SELECT 1 FROM bulk_loads WHERE user_id = old.user_id
                 AND collection = 'messages' AND old.rowid > indexed_body_rowid) BEGIN
  INSERT INTO message_bodies_fts (message_bodies_fts, rowid, content)
  VALUES ('delete', old.rowid, old.content);
END;
CREATE TRIGGER message_bodies_fts_update AFTER UPDATE OF content ON message_bodies
WHEN NOT EXISTS (SELECT 1 FROM bulk_loads WHERE user_id = old.user_id
                 AND collection = 'messages' AND old.rowid > indexed_body_rowid) BEGIN
  INSERT INTO message_bodies_fts (message_bodies_fts, rowid, content)
  VALUES ('delete', old.rowid, old.content);
  INSERT INTO message_bodies_fts (rowid, content) VALUES (new.rowid, new.content);
END;
