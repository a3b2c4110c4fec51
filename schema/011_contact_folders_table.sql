-- Contact folders of each mailbox (the folders under the default Contacts folder, nested),
-- kept by GET /users/{id}/contactFolders/delta ("contactFolder: delta"); columns from
-- "contactFolder resource type". The default Contacts folder itself is not listed by
-- Graph: contacts.folder_id names it for the contacts it holds.

CREATE TABLE contact_folders (
  user_id      TEXT NOT NULL,
  id           TEXT NOT NULL,
  parent_id    TEXT,
  display_name TEXT,
  json         TEXT NOT NULL,
  synced_at    TEXT NOT NULL,
  PRIMARY KEY (user_id, id)
);
CREATE INDEX contact_folders_by_parent ON contact_folders (user_id, parent_id);
