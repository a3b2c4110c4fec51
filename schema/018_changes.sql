-- The change feed: a row for every change applied to the mirrored items (messages,
-- events, event_occurrences, contacts, list_items), written by the triggers below in the
-- transaction of the change itself, so a change is in the feed exactly when it is in the
-- mirror (a rolled-back write leaves neither). Read in seq order by Engine::ReadChanges
-- and `graphmirror changes`; pruned by the daemon ([changes] keep_days).
--
-- seq is AUTOINCREMENT: never reused, even after the newest rows are pruned, and
-- committed rows have no holes (rows are pruned oldest first only), so a reader that sees
-- seq jump knows what it missed. kind: insert, update, move (a message or contact whose
-- folder changed), delete. changed_at: the row's synced_at (the engine's clock) for
-- inserts, updates and moves; a deleted row has no time of its own in the statement, so a
-- delete carries SQLite's clock at the delete, or the row's last synced_at if that is later
-- (an engine on a simulated clock ahead of real time). fields: for updates and moves, the
-- top-level keys of the item's JSON whose value differs (added and removed keys too), as a
-- JSON array in key order; NULL otherwise. A rewrite with identical JSON (and folder) is no
-- change and leaves no row. Rows that existed before this migration have no insert row.
CREATE TABLE changes (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  resource   TEXT NOT NULL
             CHECK (resource IN ('messages', 'events', 'event_occurrences', 'contacts',
                                 'list_items')),
  user_id    TEXT,           -- the mailbox, for mailbox resources; NULL for list items
  site       TEXT,           -- the site and list, for list items; NULL otherwise
  list_id    TEXT,
  item_id    TEXT NOT NULL,  -- the row's id (a list item's integer id as text)
  kind       TEXT NOT NULL CHECK (kind IN ('insert', 'update', 'move', 'delete')),
  changed_at TEXT NOT NULL,
  fields     TEXT
);

-- Named readers of the feed and how far each has read (committed): the daemon's pruning
-- never deletes a change a consumer has not read, unless [changes] drop_unread is set.
-- A consumer is registered (at 0) the first time it reads.
CREATE TABLE consumers (
  name       TEXT PRIMARY KEY,
  last_seq   INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TRIGGER messages_changes_insert AFTER INSERT ON messages BEGIN
  INSERT INTO changes (resource, user_id, item_id, kind, changed_at)
  VALUES ('messages', new.user_id, new.id, 'insert', new.synced_at);
END;

CREATE TRIGGER messages_changes_update AFTER UPDATE ON messages
WHEN old.json IS NOT new.json OR old.folder_id IS NOT new.folder_id BEGIN
  INSERT INTO changes (resource, user_id, item_id, kind, changed_at, fields)
  VALUES ('messages', new.user_id, new.id,
          CASE WHEN old.folder_id IS NOT new.folder_id THEN 'move' ELSE 'update' END, new.synced_at,
          (SELECT json_group_array(key) FROM (
      SELECT n.key AS key FROM json_each(new.json) AS n WHERE NOT EXISTS (
        SELECT 1 FROM json_each(old.json) AS o
        WHERE o.key = n.key AND o.type = n.type AND o.value IS n.value)
      UNION
      SELECT o.key FROM json_each(old.json) AS o WHERE NOT EXISTS (
        SELECT 1 FROM json_each(new.json) AS n WHERE n.key = o.key)
      ORDER BY 1)));
END;

CREATE TRIGGER messages_changes_delete AFTER DELETE ON messages BEGIN
  INSERT INTO changes (resource, user_id, item_id, kind, changed_at)
  VALUES ('messages', old.user_id, old.id, 'delete',
          max(old.synced_at, strftime('%Y-%m-%dT%H:%M:%f0000Z', 'now')));
END;

CREATE TRIGGER events_changes_insert AFTER INSERT ON events BEGIN
  INSERT INTO changes (resource, user_id, item_id, kind, changed_at)
  VALUES ('events', new.user_id, new.id, 'insert', new.synced_at);
END;

CREATE TRIGGER events_changes_update AFTER UPDATE ON events
WHEN old.json IS NOT new.json BEGIN
  INSERT INTO changes (resource, user_id, item_id, kind, changed_at, fields)
  VALUES ('events', new.user_id, new.id,
          'update', new.synced_at,
          (SELECT json_group_array(key) FROM (
      SELECT n.key AS key FROM json_each(new.json) AS n WHERE NOT EXISTS (
        SELECT 1 FROM json_each(old.json) AS o
        WHERE o.key = n.key AND o.type = n.type AND o.value IS n.value)
      UNION
      SELECT o.key FROM json_each(old.json) AS o WHERE NOT EXISTS (
        SELECT 1 FROM json_each(new.json) AS n WHERE n.key = o.key)
      ORDER BY 1)));
END;

CREATE TRIGGER events_changes_delete AFTER DELETE ON events BEGIN
  INSERT INTO changes (resource, user_id, item_id, kind, changed_at)
  VALUES ('events', old.user_id, old.id, 'delete',
          max(old.synced_at, strftime('%Y-%m-%dT%H:%M:%f0000Z', 'now')));
END;

CREATE TRIGGER event_occurrences_changes_insert AFTER INSERT ON event_occurrences BEGIN
  INSERT INTO changes (resource, user_id, item_id, kind, changed_at)
  VALUES ('event_occurrences', new.user_id, new.id, 'insert', new.synced_at);
END;

CREATE TRIGGER event_occurrences_changes_update AFTER UPDATE ON event_occurrences
WHEN old.json IS NOT new.json BEGIN
  INSERT INTO changes (resource, user_id, item_id, kind, changed_at, fields)
  VALUES ('event_occurrences', new.user_id, new.id,
          'update', new.synced_at,
          (SELECT json_group_array(key) FROM (
      SELECT n.key AS key FROM json_each(new.json) AS n WHERE NOT EXISTS (
        SELECT 1 FROM json_each(old.json) AS o
        WHERE o.key = n.key AND o.type = n.type AND o.value IS n.value)
      UNION
      SELECT o.key FROM json_each(old.json) AS o WHERE NOT EXISTS (
        SELECT 1 FROM json_each(new.json) AS n WHERE n.key = o.key)
      ORDER BY 1)));
END;

CREATE TRIGGER event_occurrences_changes_delete AFTER DELETE ON event_occurrences BEGIN
  INSERT INTO changes (resource, user_id, item_id, kind, changed_at)
  VALUES ('event_occurrences', old.user_id, old.id, 'delete',
          max(old.synced_at, strftime('%Y-%m-%dT%H:%M:%f0000Z', 'now')));
END;

CREATE TRIGGER contacts_changes_insert AFTER INSERT ON contacts BEGIN
  INSERT INTO changes (resource, user_id, item_id, kind, changed_at)
  VALUES ('contacts', new.user_id, new.id, 'insert', new.synced_at);
END;

CREATE TRIGGER contacts_changes_update AFTER UPDATE ON contacts
WHEN old.json IS NOT new.json
  OR (old.folder_id IS NOT NULL AND old.folder_id IS NOT new.folder_id) BEGIN
  INSERT INTO changes (resource, user_id, item_id, kind, changed_at, fields)
  VALUES ('contacts', new.user_id, new.id,
          CASE WHEN old.folder_id IS NOT NULL AND old.folder_id IS NOT new.folder_id
          THEN 'move' ELSE 'update' END, new.synced_at,
          (SELECT json_group_array(key) FROM (
      SELECT n.key AS key FROM json_each(new.json) AS n WHERE NOT EXISTS (
        SELECT 1 FROM json_each(old.json) AS o
        WHERE o.key = n.key AND o.type = n.type AND o.value IS n.value)
      UNION
      SELECT o.key FROM json_each(old.json) AS o WHERE NOT EXISTS (
        SELECT 1 FROM json_each(new.json) AS n WHERE n.key = o.key)
      ORDER BY 1)));
END;

CREATE TRIGGER contacts_changes_delete AFTER DELETE ON contacts BEGIN
  INSERT INTO changes (resource, user_id, item_id, kind, changed_at)
  VALUES ('contacts', old.user_id, old.id, 'delete',
          max(old.synced_at, strftime('%Y-%m-%dT%H:%M:%f0000Z', 'now')));
END;

CREATE TRIGGER list_items_changes_insert AFTER INSERT ON list_items BEGIN
  INSERT INTO changes (resource, site, list_id, item_id, kind, changed_at)
  VALUES ('list_items', new.site, new.list_id, CAST(new.item_id AS TEXT), 'insert',
          new.synced_at);
END;

CREATE TRIGGER list_items_changes_update AFTER UPDATE ON list_items
WHEN old.json IS NOT new.json BEGIN
  INSERT INTO changes (resource, site, list_id, item_id, kind, changed_at, fields)
  VALUES ('list_items', new.site, new.list_id, CAST(new.item_id AS TEXT), 'update',
          new.synced_at,
          (SELECT json_group_array(key) FROM (
      SELECT n.key AS key FROM json_each(new.json) AS n WHERE NOT EXISTS (
        SELECT 1 FROM json_each(old.json) AS o
        WHERE o.key = n.key AND o.type = n.type AND o.value IS n.value)
      UNION
      SELECT o.key FROM json_each(old.json) AS o WHERE NOT EXISTS (
        SELECT 1 FROM json_each(new.json) AS n WHERE n.key = o.key)
      ORDER BY 1)));
END;

CREATE TRIGGER list_items_changes_delete AFTER DELETE ON list_items BEGIN
  INSERT INTO changes (resource, site, list_id, item_id, kind, changed_at)
  VALUES ('list_items', old.site, old.list_id, CAST(old.item_id AS TEXT), 'delete',
          max(old.synced_at, strftime('%Y-%m-%dT%H:%M:%f0000Z', 'now')));
END;

