#include "engine/store/notification_log.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <cctype>
#include <mutex>
#include <set>

#include "engine/base/resource.h"
#include "engine/store/mirror_writes.h"
#include "engine/store/store.h"
#include "engine/store/write_context.h"

namespace graphmirror::store {

Status NotificationLog::Append(std::vector<LogEntry> entries, TimePoint deadline,
                               std::vector<std::string> validation_tokens) {
  if (entries.empty()) return Status::Ok();
  return store_->WriteBefore(
      [entries = std::move(entries), tokens = std::move(validation_tokens)](WriteContext& ctx) {
        AppendLogEntries(ctx, entries, tokens.empty() ? 0 : InsertTokenBatch(ctx, tokens));
      },
      deadline);
}

Result<std::vector<std::string>> NotificationLog::Tokens(int64_t token_batch) {
  std::vector<std::string> out;
  Status s = store_->Read("reading validation tokens", [&](SQLite::Database& db) {
    SQLite::Statement q(db, "SELECT tokens FROM notification_tokens WHERE id = ?1");
    q.bind(1, token_batch);
    if (!q.executeStep()) return;
    const std::string tokens = q.getColumn(0).getString();
    for (size_t start = 0; start < tokens.size();) {
      size_t end = tokens.find('\n', start);
      if (end == std::string::npos) end = tokens.size();
      if (end > start) out.push_back(tokens.substr(start, end - start));
      start = end + 1;
    }
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<PendingNotification>> NotificationLog::Pending(TimePoint now, int limit) {
  std::lock_guard<std::mutex> lock(store_->read_mu());
  try {
    SQLite::Statement q(
        store_->read_db(),
        "SELECT seq, user_id, collection, coalesce(change_type, ''), "
        "coalesce(lifecycle_event, ''), subscription_id, coalesce(item_id, ''), "
        "attempts, received_at, coalesce(rich_data, ''), "
        "coalesce(rich_data_key, ''), coalesce(rich_signature, ''), "
        "coalesce(rich_certificate_id, ''), coalesce(token_batch, 0), "
        "coalesce(etag, '') FROM notification_log WHERE state IN ('received', 'failed') AND "
        "(state = 'received' OR next_attempt_at <= ?1) ORDER BY seq LIMIT ?2");
    q.bind(1, FormatUtc(now));
    q.bind(2, limit);
    std::vector<PendingNotification> out;
    while (q.executeStep()) {
      PendingNotification p;
      p.seq = q.getColumn(0).getInt64();
      p.user_id = q.getColumn(1).getString();
      p.collection = ParseCollection(q.getColumn(2).getString()).value_or(Collection::kMessages);
      p.change_type = q.getColumn(3).getString();
      p.lifecycle_event = q.getColumn(4).getString();
      p.subscription_id = q.getColumn(5).getString();
      p.item_id = q.getColumn(6).getString();
      p.attempts = q.getColumn(7).getInt();
      p.received_at = q.getColumn(8).getString();
      p.rich.data = q.getColumn(9).getString();
      p.rich.data_key = q.getColumn(10).getString();
      p.rich.signature = q.getColumn(11).getString();
      p.rich.certificate_id = q.getColumn(12).getString();
      p.token_batch = q.getColumn(13).getInt64();
      p.etag = q.getColumn(14).getString();
      out.push_back(std::move(p));
    }
    return out;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading the notification log: ") + e.what());
  }
}

Status NotificationLog::Mark(const std::vector<int64_t>& seqs, LogState state,
                             const std::string& reason, TimePoint retry_at) {
  if (seqs.empty()) return Status::Ok();
  return store_->Write([&](WriteContext& ctx) { MarkLogRows(ctx, seqs, state, reason, retry_at); });
}

Status NotificationLog::ApplyChanges(const std::string& user_id, Collection collection,
                                     const std::vector<MirrorItem>& upserts,
                                     const std::vector<std::string>& deleted_ids,
                                     const std::vector<int64_t>& seqs) {
  return store_->Write([&](WriteContext& ctx) {
    const std::string now = FormatUtc(ctx.clock()->Now());
    for (const MirrorItem& item : upserts) UpsertItem(ctx, user_id, collection, item, now);
    QueueIfLoading(ctx, user_id, collection, upserts);
    for (const std::string& id : deleted_ids) DeleteItem(ctx, user_id, collection, id);
    MarkLogRows(ctx, seqs, LogState::kApplied, "", TimePoint{});
  });
}

Result<std::vector<std::pair<std::string, std::string>>> NotificationLog::EtagsNotifiedAfter(
    const std::string& user_id, Collection collection, int64_t after_seq,
    const std::vector<std::string>& item_ids) {
  std::vector<std::pair<std::string, std::string>> etags;
  if (item_ids.empty()) return etags;
  const std::set<std::string> wanted(item_ids.begin(), item_ids.end());
  std::lock_guard<std::mutex> lock(store_->read_mu());
  try {
    SQLite::Statement q(store_->read_db(),
                        // +user_id: the rows after seq, by rowid, not every row of
                        // the mailbox through notification_log_by_time.
                        "SELECT item_id, etag FROM notification_log WHERE seq > ?1 AND "
                        "+user_id = ?2 AND collection = ?3 AND etag IS NOT NULL");
    q.bind(1, after_seq);
    q.bind(2, user_id);
    q.bind(3, std::string(CollectionName(collection)));
    while (q.executeStep()) {
      std::string id = q.getColumn(0).getString();
      if (wanted.count(id)) etags.emplace_back(std::move(id), q.getColumn(1).getString());
    }
    return etags;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading the notification log: ") + e.what());
  }
}

Result<LogStats> NotificationLog::Stats(const std::string& user_id) {
  std::lock_guard<std::mutex> lock(store_->read_mu());
  try {
    SQLite::Statement q(store_->read_db(),
                        "SELECT (SELECT count(*) FROM notification_log WHERE user_id = ?1 AND "
                        "state IN ('received', 'failed')), "
                        "(SELECT count(*) FROM notification_log WHERE user_id = ?1 AND "
                        "state = 'failed'), "
                        "coalesce((SELECT max(received_at) FROM notification_log WHERE "
                        "user_id = ?1), ''), "
                        "(SELECT count(*) FROM notification_log WHERE user_id = ?1 AND "
                        "state = 'ignored' AND reason LIKE 'suspicious:%')");
    q.bind(1, user_id);
    q.executeStep();
    LogStats stats;
    stats.pending = q.getColumn(0).getInt64();
    stats.failed = q.getColumn(1).getInt64();
    stats.last_received_at = q.getColumn(2).getString();
    stats.suspicious = q.getColumn(3).getInt64();
    return stats;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("reading the notification log: ") + e.what());
  }
}

Result<int64_t> NotificationLog::Prune(TimePoint cutoff) {
  int64_t deleted = 0;
  Status s = store_->Write([&](WriteContext& ctx) {
    SQLite::Statement& q = ctx.Prepare(
        "DELETE FROM notification_log WHERE state IN ('applied', 'ignored') AND done_at < ?1");
    q.bind(1, FormatUtc(cutoff));
    deleted = q.exec();
    ctx.Prepare(
           "DELETE FROM notification_tokens WHERE id NOT IN (SELECT token_batch FROM "
           "notification_log WHERE token_batch IS NOT NULL)")
        .exec();
  });
  if (!s.ok()) return s;
  return deleted;
}

}  // namespace graphmirror::store
