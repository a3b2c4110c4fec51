-- Rich notifications (includeResourceData): the encrypted item a notification carries, and
-- the validation tokens (JWTs) of the body it came in, kept until the sync worker has
-- checked and applied them. Encrypted, as received: the log holds no plaintext.

-- The validationTokens of one notification body, shared by its log rows.
CREATE TABLE notification_tokens (
  id          INTEGER PRIMARY KEY,
  tokens      TEXT NOT NULL,  -- the JWTs, one per line
  received_at TEXT NOT NULL
);

-- encryptedContent's fields (base64 text) of a rich change notification; NULL otherwise.
ALTER TABLE notification_log ADD COLUMN rich_data TEXT;
ALTER TABLE notification_log ADD COLUMN rich_data_key TEXT;
ALTER TABLE notification_log ADD COLUMN rich_signature TEXT;
ALTER TABLE notification_log ADD COLUMN rich_certificate_id TEXT;
-- The body's tokens, if it had any: every row of such a body is applied only if they check.
ALTER TABLE notification_log ADD COLUMN token_batch INTEGER REFERENCES notification_tokens (id);

-- A rich item must not bring back an item that a `deleted` notification removed (Graph
-- never reuses an id): the worker looks deletions up by item.
CREATE INDEX notification_log_deleted ON notification_log (user_id, collection, item_id)
  WHERE change_type = 'deleted';

-- The certificate a rich subscription was created (or last renewed) with; NULL for plain
-- subscriptions. A renewal after a key rotation sends the new certificate.
ALTER TABLE subscriptions ADD COLUMN encryption_certificate_id TEXT;
