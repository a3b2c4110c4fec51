-- Mail folders of each mailbox, kept by GET /users/{id}/mailFolders/delta ("mailFolder:
-- delta"); columns from "mailFolder resource type". Search folders (mailSearchFolder) are
-- saved queries that hold no message of their own: flagged, never a delta scope.
-- well_known_name is asked of Graph by name (GET /mailFolders/inbox, ...), as v1.0 has no
-- property for it; NULL for the mailbox's own folders.

CREATE TABLE mail_folders (
  user_id            TEXT NOT NULL,
  id                 TEXT NOT NULL,
  parent_id          TEXT,
  display_name       TEXT,
  well_known_name    TEXT,
  is_hidden          INTEGER,
  is_search_folder   INTEGER NOT NULL DEFAULT 0,
  child_folder_count INTEGER,
  unread_count       INTEGER,
  total_count        INTEGER,
  json               TEXT NOT NULL,
  synced_at          TEXT NOT NULL,
  PRIMARY KEY (user_id, id)
);
CREATE INDEX mail_folders_by_parent ON mail_folders (user_id, parent_id);
CREATE INDEX mail_folders_by_name ON mail_folders (user_id, well_known_name);
