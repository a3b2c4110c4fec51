-- Recurring events, as Graph models them ("event resource type"): GET /users/{id}/events
-- lists single instances and series masters; calendarView (and its delta) lists single
-- instances, occurrences and exceptions within a window, never masters.
--
-- `events` holds what /events lists. `type` is Graph's event.type (singleInstance or
-- seriesMaster) and `recurrence` a master's patternedRecurrence, both read from the row's
-- JSON (virtual columns: nothing is stored twice).
ALTER TABLE events ADD COLUMN type TEXT GENERATED ALWAYS AS (json_extract(json, '$.type')) VIRTUAL;
ALTER TABLE events ADD COLUMN recurrence TEXT
  GENERATED ALWAYS AS (json_extract(json, '$.recurrence')) VIRTUAL;

-- Every occurrence and exception of a series that the calendar delta round lists within
-- the configured window ([sync] calendar_past_days, calendar_future_days). A cancelled
-- occurrence is absent, as it is from calendarView. Times are UTC, like events'.
CREATE TABLE event_occurrences (
  user_id          TEXT NOT NULL,
  id               TEXT NOT NULL,
  series_master_id TEXT NOT NULL,
  type             TEXT NOT NULL CHECK (type IN ('occurrence', 'exception')),
  original_start   TEXT,  -- when the occurrence was scheduled by the pattern (UTC)
  start_at         TEXT,
  end_at           TEXT,
  subject          TEXT,
  created_at       TEXT,
  modified_at      TEXT,
  change_key       TEXT,
  json             TEXT NOT NULL,
  synced_at        TEXT NOT NULL,
  PRIMARY KEY (user_id, id)
);
CREATE INDEX event_occurrences_by_series ON event_occurrences (user_id, series_master_id);
CREATE INDEX event_occurrences_by_start ON event_occurrences (user_id, start_at);

-- Rows an earlier version kept in `events` from calendarView move to their own table.
INSERT OR IGNORE INTO event_occurrences (user_id, id, series_master_id, type, original_start,
                                         start_at, end_at, subject, created_at, modified_at,
                                         change_key, json, synced_at)
  SELECT user_id, id, coalesce(json_extract(json, '$.seriesMasterId'), ''),
         json_extract(json, '$.type'),
         -- UTC text as the engine writes it (Graph's originalStart has whole seconds).
         strftime('%Y-%m-%dT%H:%M:%S', json_extract(json, '$.originalStart')) || '.0000000Z',
         start_at, end_at,
         subject, created_at, modified_at, change_key, json, synced_at
  FROM events WHERE json_extract(json, '$.type') IN ('occurrence', 'exception');
DELETE FROM events WHERE json_extract(json, '$.type') IN ('occurrence', 'exception');

-- The identity of every event row, whichever table holds it: lookups by id (is this
-- version held? is this item new?) see masters, single instances and occurrences alike.
CREATE VIEW event_rows AS
  SELECT user_id, id, created_at, modified_at, change_key FROM events
  UNION ALL
  SELECT user_id, id, created_at, modified_at, change_key FROM event_occurrences;

-- What a calendar shows: single instances, occurrences and exceptions (never masters),
-- times in UTC. Occurrences are there for the configured window only.
CREATE VIEW calendar AS
  SELECT user_id, id, coalesce(type, 'singleInstance') AS type, NULL AS series_master_id,
         subject, start_at, end_at, json
  FROM events WHERE type IS NULL OR type <> 'seriesMaster'
  UNION ALL
  SELECT user_id, id, type, series_master_id, subject, start_at, end_at, json
  FROM event_occurrences;
