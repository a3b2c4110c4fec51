-- Message bodies (sync.bodies: "text", converted by Graph through
-- Prefer: outlook.body-content-type="text"; "html"; or "none"), one row per message the
-- mirror holds, apart from the row's json (which no longer carries `body`), and
-- searchable. A body leaves with its message.

CREATE TABLE message_bodies (
  user_id      TEXT NOT NULL,
  id           TEXT NOT NULL,
  content_type TEXT,  -- 'text' or 'html', as Graph sent it
  content      TEXT NOT NULL,
  modified_at  TEXT,  -- the message version the body is of (its lastModifiedDateTime)
  PRIMARY KEY (user_id, id)
);

CREATE VIRTUAL TABLE message_bodies_fts USING fts5(
  content, content = 'message_bodies', content_rowid = 'rowid',
  tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER message_bodies_fts_insert AFTER INSERT ON message_bodies BEGIN
  INSERT INTO message_bodies_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER message_bodies_fts_delete AFTER DELETE ON message_bodies BEGIN
  INSERT INTO message_bodies_fts (message_bodies_fts, rowid, content)
  VALUES ('delete', old.rowid, old.content);
END;
CREATE TRIGGER message_bodies_fts_update AFTER UPDATE OF content ON message_bodies BEGIN
  INSERT INTO message_bodies_fts (message_bodies_fts, rowid, content)
  VALUES ('delete', old.rowid, old.content);
  INSERT INTO message_bodies_fts (rowid, content) VALUES (new.rowid, new.content);
END;
CREATE TRIGGER messages_body_delete AFTER DELETE ON messages BEGIN
  DELETE FROM message_bodies WHERE user_id = old.user_id AND id = old.id;
END;
