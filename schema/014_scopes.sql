-- Scoped mirrors ([[mailbox]] folders and filter). A collection scoped by mail folders
-- has a subscription per folder, so a subscription is one of (mailbox, collection,
-- scope): scope is the folder as configured, '' for a whole or filtered collection.
CREATE TABLE subscriptions_new (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL,
  collection   TEXT NOT NULL CHECK (collection IN ('messages', 'events', 'contacts')),
  scope        TEXT NOT NULL DEFAULT '',
  resource     TEXT NOT NULL,
  change_type  TEXT NOT NULL,
  client_state TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  renewed_at   TEXT,
  encryption_certificate_id TEXT,
  UNIQUE (user_id, collection, scope)
);
INSERT INTO subscriptions_new (id, user_id, collection, resource, change_type, client_state,
                               expires_at, created_at, renewed_at, encryption_certificate_id)
  SELECT id, user_id, collection, resource, change_type, client_state, expires_at,
         created_at, renewed_at, encryption_certificate_id
  FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE subscriptions_new RENAME TO subscriptions;

-- The scope each collection's rows were read under (config::MirrorScope::Signature): when
-- the configuration names another, the collection's rows, watermarks and delta state are
-- dropped and it is read again under the new one. No row: the whole collection.
CREATE TABLE mirror_scopes (
  user_id    TEXT NOT NULL,
  collection TEXT NOT NULL CHECK (collection IN ('messages', 'events', 'contacts')),
  scope      TEXT NOT NULL,
  PRIMARY KEY (user_id, collection)
);

-- A `deleted` from a scoped subscription (scoped = 1) may only mean "left the scope": it
-- does not keep the item from coming back (mirror_writes.cc, UnlessNotifiedDeleted).
ALTER TABLE notification_log ADD COLUMN scoped INTEGER NOT NULL DEFAULT 0;
