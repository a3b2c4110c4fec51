#include "engine/sync/resync.h"

#include "engine/graph/html_text.h"
#include "engine/graph/page.h"
#include "engine/graph/query.h"
#include "engine/graph/timestamp.h"

namespace graphmirror::sync {
namespace {

// Where a collection with no watermark starts: before any mailbox existed.
constexpr const char* kBeginningOfTime = "1900-01-01T00:00:00Z";

std::string QueryStart(const std::string& watermark, std::chrono::seconds overlap) {
  if (watermark.empty()) return kBeginningOfTime;
  auto parsed = graph::ParseTimestamp(watermark);
  if (!parsed) return kBeginningOfTime;  // unreadable watermark: read everything again
  return graph::FormatTimestamp(*parsed - overlap);
}

}  // namespace

Resyncer::Resyncer(graph::GraphClient* client, store::Store* store, ResyncOptions options)
    : client_(client), store_(store), options_(std::move(options)) {}

Result<ResyncStats> Resyncer::ResyncCreated(const std::string& user_id, Collection collection,
                                            Reason reason) {
  return Resync(user_id, collection, Cursor::kCreated, reason);
}

Result<ResyncStats> Resyncer::ResyncModified(const std::string& user_id, Collection collection,
                                             Reason reason) {
  return Resync(user_id, collection, Cursor::kModified, reason);
}

Result<ResyncStats> Resyncer::Resync(const std::string& user_id, Collection collection,
                                     Cursor cursor, Reason reason) {
  auto started = std::chrono::steady_clock::now();
  auto watermark = store_->mirror().GetWatermark(user_id, collection);
  if (!watermark.ok()) return watermark.status();
  const bool created = cursor == Cursor::kCreated;
  const std::string since =
      QueryStart(created ? watermark->created_after : watermark->modified_after,
                 reason == Reason::kNotified ? options_.hint_overlap : options_.overlap);
  // Keyset paging: after each page the next query starts again at the newest timestamp
  // committed, instead of following @odata.nextLink through the whole round. Graph pages
  // messages with $skip, and items that change or vanish while a round pages would shift
  // $skip past others, which the watermark would then pass for good. nextLink is followed
  // only through a page that is one run of equal timestamps (else the query would repeat).
  const std::string select = options_.projection.SelectOption(user_id, collection);
  const std::vector<std::string>* keep = options_.projection.Keep(user_id, collection);
  const std::string& filter = options_.scopes.Of(user_id, collection).filter;
  auto query = [&](const std::string& from) {
    return created ? graph::CreatedSincePath(user_id, collection, from, options_.page_size, select,
                                             filter)
                   : graph::ModifiedSincePath(user_id, collection, from, options_.page_size, select,
                                              filter);
  };
  std::string query_start = since;
  std::string url = query(query_start);
  bool start_modified_cursor = created && watermark->modified_after.empty();

  ResyncStats stats;
  for (;;) {
    auto response = client_->Get(user_id, url);
    if (!response.ok()) return response.status();
    auto page = graph::ParsePage(collection, response->body, keep);
    if (!page.ok()) {
      return Status::Corruption("page of " + std::string(CollectionName(collection)) + " for " +
                                user_id + ": " + page.status().message());
    }
    graph::PutBodiesInForm(options_.bodies, &page->items);
    store::PageWrite write;
    write.user_id = user_id;
    write.collection = collection;
    std::string& moved = created ? write.created_after : write.modified_after;
    std::string oldest_on_page;
    for (const MirrorItem& item : page->items) {
      const std::string& t = created ? item.created_at : item.modified_at;
      moved = std::max(moved, t);
      if (oldest_on_page.empty() || t < oldest_on_page) oldest_on_page = t;
    }
    if (start_modified_cursor) {
      if (auto server_now = graph::ServerDate(*response)) {
        write.modified_after = graph::FormatTimestamp(
            std::chrono::time_point_cast<graph::Ticks>(*server_now - options_.overlap));
      }
      start_modified_cursor = false;
    }
    stats.fetched += static_cast<int64_t>(page->items.size());
    if (options_.progress != nullptr) options_.progress->fetch_add(page->items.size());
    const std::string newest = moved;
    write.upserts = std::move(page->items);
    Status committed = store_->mirror().ApplyPage(std::move(write));
    if (!committed.ok()) return committed;
    ++stats.pages;
    if (options_.after_page && !options_.after_page(static_cast<int>(stats.pages))) {
      return Status::Cancelled("resync stopped after page " + std::to_string(stats.pages));
    }
    if (page->next_link.empty()) break;
    if (newest.empty() || newest == oldest_on_page) {
      url = page->next_link;  // a run of equal timestamps longer than the page
    } else {
      query_start = newest;
      url = query(query_start);
    }
  }
  stats.elapsed = std::chrono::steady_clock::now() - started;
  return stats;
}

}  // namespace graphmirror::sync
