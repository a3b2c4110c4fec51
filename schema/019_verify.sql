-- The last `graphmirror verify` (Engine::Verify) of each scope: what a cheap comparison of
-- the mirror with Graph (ids and changeKeys, listed with $select) found. One row per
-- (mailbox, resource), replaced by every verify of that scope, so `graphmirror status`
-- and /metrics show how far the mirror was from Graph when it was last checked.
--
-- resource: messages, events (single instances and series masters), event_occurrences
-- (occurrences and exceptions within the calendar window), contacts. missing: in Graph,
-- not in the mirror; extra: in the mirror, not in Graph; stale: both, with another
-- changeKey. repaired: rows a --repair wrote or deleted. remaining: the drift left, as the
-- comparison after the repair found it (without --repair: missing + extra + stale).
-- verified_at is the engine's clock (UTC text, like synced_at).
CREATE TABLE verify_results (
  user_id      TEXT NOT NULL,
  resource     TEXT NOT NULL,
  verified_at  TEXT NOT NULL,
  graph_items  INTEGER NOT NULL,
  mirror_items INTEGER NOT NULL,
  missing      INTEGER NOT NULL,
  extra        INTEGER NOT NULL,
  stale        INTEGER NOT NULL,
  repaired     INTEGER NOT NULL DEFAULT 0,
  remaining    INTEGER NOT NULL,
  PRIMARY KEY (user_id, resource)
);
