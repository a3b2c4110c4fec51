#include "engine/store/mirror_writes.h"

#include <ctime>

#include "engine/base/resource.h"
#include "engine/store/bulk_load.h"

namespace graphmirror::store {
namespace {

// A stored row is replaced only by a newer version: pages, notifications and retries
// arrive in any order, and an old copy must never undo a newer one. The same version
// (same lastModifiedDateTime and changeKey) read again is not rewritten: re-reads are
// common (overlaps, delta replays) and cost nothing this way, and the row keeps the JSON
// it was first stored with (a delta round's copy carries @odata.type, a list's does not).
constexpr const char* kNewerOnly =
    " WHERE excluded.modified_at IS NULL OR {t}.modified_at IS NULL"
    " OR excluded.modified_at > {t}.modified_at"
    " OR (excluded.modified_at = {t}.modified_at AND excluded.change_key IS NOT {t}.change_key)";

std::string NewerOnly(const std::string& table) {
  std::string clause = kNewerOnly;
  for (size_t pos; (pos = clause.find("{t}")) != std::string::npos;) clause.replace(pos, 3, table);
  return clause;
}

// The values ?1..?n, unless a `deleted` notification named the item: Graph never reuses an
// id, and its lists and delta rounds may still show an item for a while after the
// notification of its deletion came (and rich content may come late), so nothing may bring
// the item back. The partial index notification_log_deleted answers this. A scoped
// subscription's `deleted` is not such a word: the item may only have left the scope, and
// come back into it.
std::string UnlessNotifiedDeleted(const std::string& table, int n) {
  std::string values;
  for (int i = 1; i <= n; ++i) values += (i > 1 ? ", ?" : "?") + std::to_string(i);
  return " SELECT " + values +
         " WHERE NOT EXISTS (SELECT 1 FROM notification_log WHERE user_id = ?1 AND "
         "collection = '" +
         table +
         "' AND item_id = ?2 AND change_type = 'deleted' AND state != 'ignored' AND "
         "scoped = 0)";
}

const std::string& UpsertSql(Collection c) {
  static const std::string kMessages =
      "INSERT INTO messages (user_id, id, created_at, modified_at, change_key, received_at, "
      "subject, from_address, from_name, folder_id, body_preview, is_read, json, synced_at)" +
      UnlessNotifiedDeleted("messages", 14) +
      " ON CONFLICT (user_id, id) DO UPDATE SET created_at = excluded.created_at, "
      "modified_at = excluded.modified_at, change_key = excluded.change_key, "
      "received_at = excluded.received_at, subject = excluded.subject, "
      "from_address = excluded.from_address, from_name = excluded.from_name, "
      "folder_id = excluded.folder_id, body_preview = excluded.body_preview, "
      "is_read = excluded.is_read, json = excluded.json, synced_at = excluded.synced_at" +
      NewerOnly("messages");
  static const std::string kEvents =
      "INSERT INTO events (user_id, id, created_at, modified_at, change_key, subject, start_at, "
      "end_at, json, synced_at)" +
      UnlessNotifiedDeleted("events", 10) +
      " ON CONFLICT (user_id, id) DO UPDATE SET created_at = excluded.created_at, "
      "modified_at = excluded.modified_at, change_key = excluded.change_key, "
      "subject = excluded.subject, start_at = excluded.start_at, end_at = excluded.end_at, "
      "json = excluded.json, synced_at = excluded.synced_at" +
      NewerOnly("events");
  static const std::string kContacts =
      "INSERT INTO contacts (user_id, id, created_at, modified_at, change_key, display_name, "
      "emails, json, synced_at, folder_id)" +
      UnlessNotifiedDeleted("contacts", 10) +
      " ON CONFLICT (user_id, id) DO UPDATE SET created_at = excluded.created_at, "
      "modified_at = excluded.modified_at, change_key = excluded.change_key, "
      "display_name = excluded.display_name, emails = excluded.emails, json = excluded.json, "
      "synced_at = excluded.synced_at, "
      "folder_id = coalesce(excluded.folder_id, contacts.folder_id)" +
      NewerOnly("contacts") +
      // A row stored before contacts had folders learns its folder from the same version.
      " OR (contacts.folder_id IS NULL AND excluded.folder_id IS NOT NULL)";
  switch (c) {
    case Collection::kMessages:
      return kMessages;
    case Collection::kEvents:
      return kEvents;
    case Collection::kContacts:
      return kContacts;
  }
  return kMessages;
}

// Binds text, or NULL for an empty string (an absent Graph field).
void BindText(SQLite::Statement& s, int index, const std::string& value) {
  if (value.empty()) {
    s.bind(index);
  } else {
    s.bind(index, value);
  }
}

std::string JoinEmails(const std::vector<std::string>& emails) {
  std::string out;
  for (const std::string& e : emails) {
    if (!out.empty()) out += ", ";
    out += e;
  }
  return out;
}

void ReplaceContactEmails(WriteContext& ctx, const std::string& user_id, const MirrorItem& item) {
  SQLite::Statement& del =
      ctx.Prepare("DELETE FROM contact_emails WHERE user_id = ?1 AND contact_id = ?2");
  del.bind(1, user_id);
  del.bind(2, item.id);
  del.exec();
  SQLite::Statement& ins = ctx.Prepare(
      "INSERT OR IGNORE INTO contact_emails (user_id, contact_id, address) VALUES (?1, ?2, ?3)");
  for (const std::string& address : item.emails) {
    if (address.empty()) continue;
    ins.reset();
    ins.bind(1, user_id);
    ins.bind(2, item.id);
    ins.bind(3, address);
    ins.exec();
  }
}

}  // namespace

std::string FormatUtc(TimePoint t) {
  auto ticks =
      std::chrono::duration_cast<std::chrono::duration<int64_t, std::ratio<1, 10'000'000>>>(
          t.time_since_epoch())
          .count();
  int64_t secs = ticks / 10'000'000;
  int64_t frac = ticks % 10'000'000;
  if (frac < 0) {
    frac += 10'000'000;
    --secs;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%07lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac));
  return buf;
}

// The body of a message the mirror holds, unless the stored one is of a newer version
// (a delta round writes a message without its body, a list read of the same version
// brings it).
void WriteBody(WriteContext& ctx, const std::string& user_id, const MirrorItem& item) {
  SQLite::Statement& s = ctx.Prepare(
      "INSERT INTO message_bodies (user_id, id, content_type, content, modified_at) "
      "SELECT ?1, ?2, ?3, ?4, NULLIF(?5, '') WHERE EXISTS "
      "(SELECT 1 FROM messages WHERE user_id = ?1 AND id = ?2) "
      "ON CONFLICT (user_id, id) DO UPDATE SET content_type = excluded.content_type, "
      "content = excluded.content, modified_at = excluded.modified_at "
      "WHERE message_bodies.modified_at IS NULL OR excluded.modified_at IS NULL OR "
      "excluded.modified_at >= message_bodies.modified_at");
  s.bind(1, user_id);
  s.bind(2, item.id);
  s.bind(3, item.body_type);
  s.bind(4, *item.body);
  s.bind(5, item.modified_at);
  s.exec();
}

// An occurrence or exception of a series. Not held back by a `deleted` notification of
// its id, unlike other rows: a series whose pattern changes regenerates its occurrences,
// and Graph's id of an occurrence is its series' and its date's, so a cancelled one's id
// can come back.
void UpsertOccurrence(WriteContext& ctx, const std::string& user_id, const MirrorItem& item,
                      const std::string& synced_at) {
  SQLite::Statement& s = ctx.Prepare(
      "INSERT INTO event_occurrences (user_id, id, series_master_id, type, original_start, "
      "start_at, end_at, subject, created_at, modified_at, change_key, json, synced_at) "
      "VALUES (?1, ?2, ?3, ?4, NULLIF(?5, ''), NULLIF(?6, ''), NULLIF(?7, ''), NULLIF(?8, ''), "
      "NULLIF(?9, ''), NULLIF(?10, ''), NULLIF(?11, ''), ?12, ?13) "
      "ON CONFLICT (user_id, id) DO UPDATE SET series_master_id = excluded.series_master_id, "
      "type = excluded.type, original_start = excluded.original_start, "
      "start_at = excluded.start_at, end_at = excluded.end_at, subject = excluded.subject, "
      "created_at = excluded.created_at, modified_at = excluded.modified_at, "
      "change_key = excluded.change_key, json = excluded.json, synced_at = excluded.synced_at" +
      NewerOnly("event_occurrences"));
  s.bind(1, user_id);
  s.bind(2, item.id);
  s.bind(3, item.series_master_id);
  s.bind(4, item.event_type);
  s.bind(5, item.original_start);
  s.bind(6, item.start_at);
  s.bind(7, item.end_at);
  s.bind(8, item.subject);
  s.bind(9, item.created_at);
  s.bind(10, item.modified_at);
  s.bind(11, item.change_key);
  s.bind(12, item.json);
  s.bind(13, synced_at);
  if (s.exec() > 0) ctx.changes().push_back({user_id, Collection::kEvents, item.id, false, {}, {}});
}

void UpsertItem(WriteContext& ctx, const std::string& user_id, Collection collection,
                const MirrorItem& item, const std::string& synced_at) {
  if (collection == Collection::kEvents && item.IsOccurrence()) {
    UpsertOccurrence(ctx, user_id, item, synced_at);
    return;
  }
  SQLite::Statement& s = ctx.Prepare(UpsertSql(collection));
  s.bind(1, user_id);
  s.bind(2, item.id);
  s.bind(3, item.created_at);
  BindText(s, 4, item.modified_at);
  BindText(s, 5, item.change_key);
  switch (collection) {
    case Collection::kMessages:
      BindText(s, 6, item.received_at);
      BindText(s, 7, item.subject);
      BindText(s, 8, item.from_address);
      BindText(s, 9, item.from_name);
      BindText(s, 10, item.folder_id);
      BindText(s, 11, item.body_preview);
      s.bind(12, item.is_read ? 1 : 0);
      s.bind(13, item.json);
      s.bind(14, synced_at);
      break;
    case Collection::kEvents:
      BindText(s, 6, item.subject);
      BindText(s, 7, item.start_at);
      BindText(s, 8, item.end_at);
      s.bind(9, item.json);
      s.bind(10, synced_at);
      break;
    case Collection::kContacts:
      BindText(s, 6, item.display_name);
      BindText(s, 7, JoinEmails(item.emails));
      s.bind(8, item.json);
      s.bind(9, synced_at);
      BindText(s, 10, item.folder_id);
      break;
  }
  int changed = s.exec();
  if (item.body && ctx.keep_bodies()) WriteBody(ctx, user_id, item);
  if (changed == 0) return;  // an older or the same version: nothing written
  ctx.changes().push_back({user_id, collection, item.id, false, {}, {}});
  if (collection == Collection::kContacts) ReplaceContactEmails(ctx, user_id, item);
}

void DeleteItem(WriteContext& ctx, const std::string& user_id, Collection collection,
                const std::string& id) {
  SQLite::Statement& s = ctx.Prepare("DELETE FROM " + std::string(CollectionName(collection)) +
                                     " WHERE user_id = ?1 AND id = ?2");
  s.bind(1, user_id);
  s.bind(2, id);
  if (s.exec() > 0) ctx.changes().push_back({user_id, collection, id, true, {}, {}});
  if (collection != Collection::kEvents) return;
  // The id may be an occurrence's (a cancelled one), or a master's: its series goes too.
  SQLite::Statement& occurrences = ctx.Prepare(
      "DELETE FROM event_occurrences WHERE user_id = ?1 AND (id = ?2 OR series_master_id = ?2) "
      "RETURNING id");
  occurrences.bind(1, user_id);
  occurrences.bind(2, id);
  while (occurrences.executeStep()) {
    ctx.changes().push_back(
        {user_id, collection, occurrences.getColumn(0).getString(), true, {}, {}});
  }
}

void AdvanceWatermarks(WriteContext& ctx, const std::string& user_id, Collection collection,
                       const std::string& created_after, const std::string& modified_after,
                       const std::string& now) {
  // NULLIF turns "no new value" into NULL, which max() and coalesce() pass over.
  SQLite::Statement& s = ctx.Prepare(
      "INSERT INTO watermarks (user_id, collection, created_after, modified_after, updated_at) "
      "VALUES (?1, ?2, NULLIF(?3, ''), NULLIF(?4, ''), ?5) "
      "ON CONFLICT (user_id, collection) DO UPDATE SET "
      "created_after = coalesce(max(created_after, excluded.created_after), created_after, "
      "excluded.created_after), "
      "modified_after = coalesce(max(modified_after, excluded.modified_after), modified_after, "
      "excluded.modified_after), "
      "updated_at = excluded.updated_at");
  s.bind(1, user_id);
  s.bind(2, std::string(CollectionName(collection)));
  s.bind(3, created_after);
  s.bind(4, modified_after);
  s.bind(5, now);
  s.exec();
}

int64_t InsertTokenBatch(WriteContext& ctx, const std::vector<std::string>& tokens) {
  std::string joined;
  for (const std::string& token : tokens) {
    // A JWT is base64url with dots: a newline can only be in a forged one, which would
    // fail to check anyway; dropping it keeps the list's separator unambiguous.
    if (token.find('\n') != std::string::npos) continue;
    joined.append(token).push_back('\n');
  }
  SQLite::Statement& s =
      ctx.Prepare("INSERT INTO notification_tokens (tokens, received_at) VALUES (?1, ?2)");
  s.bind(1, joined);
  s.bind(2, FormatUtc(ctx.clock()->Now()));
  s.exec();
  return ctx.db().getLastInsertRowid();
}

void AppendLogEntries(WriteContext& ctx, const std::vector<LogEntry>& entries,
                      int64_t token_batch) {
  std::string now = FormatUtc(ctx.clock()->Now());
  SQLite::Statement& s = ctx.Prepare(
      "INSERT OR IGNORE INTO notification_log (dedupe_key, received_at, subscription_id, "
      "user_id, collection, change_type, lifecycle_event, resource, item_id, notification_id, "
      "rich_data, rich_data_key, rich_signature, rich_certificate_id, token_batch, etag, scoped) "
      "VALUES (?1, ?2, ?3, ?4, ?5, NULLIF(?6, ''), NULLIF(?7, ''), NULLIF(?8, ''), "
      "NULLIF(?9, ''), NULLIF(?10, ''), NULLIF(?11, ''), NULLIF(?12, ''), NULLIF(?13, ''), "
      "NULLIF(?14, ''), NULLIF(?15, 0), NULLIF(?16, ''), ?17)");
  for (const LogEntry& e : entries) {
    s.reset();
    s.bind(1, e.dedupe_key);
    s.bind(2, now);
    s.bind(3, e.subscription_id);
    s.bind(4, e.user_id);
    s.bind(5, std::string(CollectionName(e.collection)));
    s.bind(6, e.change_type);
    s.bind(7, e.lifecycle_event);
    s.bind(8, e.resource);
    s.bind(9, e.item_id);
    s.bind(10, e.notification_id);
    s.bind(11, e.rich.data);
    s.bind(12, e.rich.data_key);
    s.bind(13, e.rich.signature);
    s.bind(14, e.rich.certificate_id);
    s.bind(15, token_batch);
    s.bind(16, e.etag);
    s.bind(17, e.scoped ? 1 : 0);
    s.exec();
  }
}

void MarkLogRows(WriteContext& ctx, const std::vector<int64_t>& seqs, LogState state,
                 const std::string& reason, TimePoint retry_at) {
  static constexpr const char* kStateNames[] = {"applied", "ignored", "failed"};
  std::string now = FormatUtc(ctx.clock()->Now());
  SQLite::Statement& s = ctx.Prepare(
      "UPDATE notification_log SET state = ?2, reason = NULLIF(?3, ''), "
      "attempts = attempts + 1, next_attempt_at = NULLIF(?4, ''), "
      "done_at = CASE WHEN ?2 = 'failed' THEN NULL ELSE ?5 END WHERE seq = ?1");
  for (int64_t seq : seqs) {
    s.reset();
    s.bind(1, seq);
    s.bind(2, kStateNames[static_cast<int>(state)]);
    s.bind(3, reason);
    s.bind(4, state == LogState::kFailed ? FormatUtc(retry_at) : std::string());
    s.bind(5, now);
    s.exec();
  }
}

void QueueIfLoading(WriteContext& ctx, const std::string& user_id, Collection collection,
                    const std::vector<MirrorItem>& upserts) {
  if (upserts.empty() || !Describe(collection).scoped_by_folder() ||
      !LoadOpen(ctx, user_id, collection)) {
    return;
  }
  for (const MirrorItem& item : upserts) QueueCheck(ctx, user_id, collection, item.id);
}

void QueueCheck(WriteContext& ctx, const std::string& user_id, Collection collection,
                const std::string& id) {
  SQLite::Statement& q = ctx.Prepare(
      "INSERT OR IGNORE INTO delta_removals (user_id, collection, item_id, scope) "
      "VALUES (?1, ?2, ?3, '')");
  q.reset();
  q.bind(1, user_id);
  q.bind(2, std::string(CollectionName(collection)));
  q.bind(3, id);
  q.exec();
}

void WritePage(WriteContext& ctx, const PageWrite& page) {
  std::string now = FormatUtc(ctx.clock()->Now());
  for (const MirrorItem& item : page.upserts) {
    UpsertItem(ctx, page.user_id, page.collection, item, now);
  }
  // A page that moves a watermark is a createdDateTime or lastModifiedDateTime round's:
  // the load's own when one is open (a collection scoped by a $filter loads that way).
  // Any other (items read by id) is written beside the load.
  if (page.created_after.empty() && page.modified_after.empty()) {
    QueueIfLoading(ctx, page.user_id, page.collection, page.upserts);
  }
  for (const std::string& id : page.deletes) DeleteItem(ctx, page.user_id, page.collection, id);
  if (!page.created_after.empty() || !page.modified_after.empty()) {
    AdvanceWatermarks(ctx, page.user_id, page.collection, page.created_after, page.modified_after,
                      now);
  }
}

}  // namespace graphmirror::store
