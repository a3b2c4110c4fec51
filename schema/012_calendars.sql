-- Calendars of each mailbox, read whole by GET /users/{id}/calendars ("List calendars":
-- Graph has no delta for calendars) at every delta pass of events; columns from "calendar
-- resource type". A calendar Graph no longer lists leaves.

CREATE TABLE calendars (
  user_id       TEXT NOT NULL,
  id            TEXT NOT NULL,
  name          TEXT,
  color         TEXT,
  is_default    INTEGER,
  can_edit      INTEGER,
  owner_name    TEXT,
  owner_address TEXT,
  change_key    TEXT,
  json          TEXT NOT NULL,
  synced_at     TEXT NOT NULL,
  PRIMARY KEY (user_id, id)
);
