-- Live sync: the subscriptions graphmirror keeps with Graph, and the durable log of the
-- change notifications it acknowledged.

-- One live subscription per (mailbox, collection). client_state is the random secret
-- Graph echoes in every notification of the subscription.
CREATE TABLE subscriptions (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL,
  collection   TEXT NOT NULL CHECK (collection IN ('messages', 'events', 'contacts')),
  resource     TEXT NOT NULL,
  change_type  TEXT NOT NULL,
  client_state TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  renewed_at   TEXT,
  UNIQUE (user_id, collection)
);

-- Every notification item the receiver accepted, written before the 202 went out. The
-- sync worker moves each row from 'received' to 'applied', 'ignored' or 'failed' (with a
-- reason); failed rows are retried at next_attempt_at. A redelivery of the same
-- notification collapses on dedupe_key.
CREATE TABLE notification_log (
  seq             INTEGER PRIMARY KEY,
  dedupe_key      TEXT NOT NULL UNIQUE,
  received_at     TEXT NOT NULL,
  subscription_id TEXT NOT NULL,
  user_id         TEXT NOT NULL,
  collection      TEXT NOT NULL CHECK (collection IN ('messages', 'events', 'contacts')),
  change_type     TEXT,  -- created, updated, deleted; NULL for lifecycle events
  lifecycle_event TEXT,  -- reauthorizationRequired, subscriptionRemoved, missed, ...
  resource        TEXT,
  item_id         TEXT,
  notification_id TEXT,  -- Graph's changeNotification.id, when it sent one
  state           TEXT NOT NULL DEFAULT 'received'
                  CHECK (state IN ('received', 'applied', 'ignored', 'failed')),
  reason          TEXT,
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  done_at         TEXT
);
CREATE INDEX notification_log_pending ON notification_log (seq)
  WHERE state IN ('received', 'failed');
CREATE INDEX notification_log_by_time ON notification_log (user_id, received_at);
