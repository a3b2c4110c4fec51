-- Containers (mail folders, contact folders, calendars: engine/base/resource.h) are kept
-- whole per mailbox, each by one Graph collection. A delta-tracked container's next round
-- continues from the deltaLink its last round ended at, stored here in the transaction
-- that wrote that round's rows. Each container's own table comes with its own migration.

CREATE TABLE container_links (
  user_id    TEXT NOT NULL,
  container  TEXT NOT NULL,  -- the container's table name: 'mail_folders', ...
  delta_link TEXT,           -- NULL: none (a plain list, or forgotten after it expired)
  synced_at  TEXT NOT NULL,  -- when the last round was written
  PRIMARY KEY (user_id, container)
);
