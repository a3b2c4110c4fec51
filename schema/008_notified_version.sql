-- The version a change notification names (resourceData.@odata.etag): Graph may notify a
-- change before its list and delta queries show it, so after the rounds a notification
-- started, an item the mirror does not hold at that version is read by id.
ALTER TABLE notification_log ADD COLUMN etag TEXT;
