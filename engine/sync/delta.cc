#include "engine/sync/delta.h"

#include <spdlog/spdlog.h>

#include <deque>
#include <set>

#include "engine/base/resource.h"
#include "engine/base/text.h"
#include "engine/graph/container_page.h"
#include "engine/graph/folders.h"
#include "engine/graph/html_text.h"
#include "engine/graph/page.h"
#include "engine/graph/query.h"
#include "engine/graph/timestamp.h"

namespace graphmirror::sync {
namespace {

// Folders listed at most per mailbox: a bound on a pathological folder tree.
constexpr size_t kMaxFolders = 10'000;
// Fresh restarts of one scope within a pass before giving up (a token that expires at
// once again means something else is wrong).
constexpr int kMaxRestarts = 2;
constexpr int kWindowStepDays = 30;

std::string UserPath(const std::string& user_id) {
  return "/users/" + graph::PercentEncode(user_id);
}

// "YYYY-MM-DDT00:00:00Z" of the day `days` after the epoch.
std::string DayLiteral(int64_t days) {
  graph::Timestamp t{std::chrono::duration_cast<graph::Ticks>(std::chrono::hours(24 * days))};
  return graph::FormatTimestamp(t).substr(0, 19) + "Z";
}

std::string RoundStart(const graph::Response& response, Clock* clock,
                       std::chrono::seconds overlap) {
  TimePoint now = graph::ServerDate(response).value_or(clock->Now());
  return graph::FormatTimestamp(std::chrono::time_point_cast<graph::Ticks>(now - overlap));
}

}  // namespace

DeltaOptions DeltaOptions::From(const config::SyncSettings& sync, graph::Projection projection) {
  DeltaOptions o;
  o.projection = std::move(projection);
  o.page_size = sync.page_size;
  o.overlap = sync.overlap;
  o.calendar_past_days = sync.calendar_past_days;
  o.calendar_future_days = sync.calendar_future_days;
  o.bodies = sync.bodies;
  return o;
}

DeltaSyncer::DeltaSyncer(graph::GraphClient* client, store::Store* store, Clock* clock,
                         DeltaOptions options)
    : client_(client),
      store_(store),
      clock_(clock),
      options_(options),
      containers_(client, store, options.page_size) {}

graph::Request DeltaSyncer::PageRequest(const std::string& user_id, const std::string& url) const {
  graph::Request request;
  request.mailbox = user_id;
  request.path_or_url = url;
  request.return_client_errors = true;
  request.max_page_size = options_.page_size;
  return request;
}

std::string DeltaSyncer::SelectQuery(const std::string& user_id, Collection collection) const {
  // Message and contact delta rounds and item GETs take it; calendarView delta does not
  // (its items are projected when parsed).
  std::string select = options_.projection.SelectOption(user_id, collection);
  return select.empty() ? select : "?" + select;
}

std::mutex& DeltaSyncer::LockFor(const std::string& user_id, Collection collection) {
  std::lock_guard<std::mutex> lock(locks_mu_);
  auto& slot = locks_[{user_id, collection}];
  if (!slot) slot = std::make_unique<std::mutex>();
  return *slot;
}

Result<std::set<std::string>> DeltaSyncer::ScopedFolderIds(const std::string& user_id) {
  {
    std::lock_guard<std::mutex> lock(locks_mu_);
    auto it = scoped_folder_ids_.find(user_id);
    if (it != scoped_folder_ids_.end()) return it->second;
  }
  std::set<std::string> ids;
  // "Get mailFolder": a well-known name stands in for the id; the id it answers with is
  // the folder's (a folder's id stays when it is renamed or moved).
  for (const std::string& name : options_.scopes.Of(user_id, Collection::kMessages).folders) {
    graph::Request request;
    request.mailbox = user_id;
    request.path_or_url =
        UserPath(user_id) + "/mailFolders/" + graph::PercentEncode(name) + "?$select=id";
    request.return_client_errors = true;
    auto response = client_->Send(request);
    if (!response.ok()) return response.status();
    if (response->status == 404) {
      return Status::InvalidArgument("mailbox.folders: mailbox " + user_id +
                                     " has no mail folder '" + name + "'");
    }
    if (response->status >= 400) {
      return graph::ClientErrorStatus(*response, "mail folder " + name);
    }
    auto folder = graph::ParseContainerEntity(*FindContainer("mail_folders"), response->body);
    if (!folder.ok()) return folder.status();
    ids.insert(folder->id);
  }
  std::lock_guard<std::mutex> lock(locks_mu_);
  scoped_folder_ids_[user_id] = ids;
  return ids;
}

Result<std::vector<DeltaSyncer::Scope>> DeltaSyncer::MailFolderScopes(const std::string& user_id) {
  std::vector<Scope> scopes;
  if (options_.scopes.Of(user_id, Collection::kMessages).by_folder()) {
    auto ids = ScopedFolderIds(user_id);
    if (!ids.ok()) return ids.status();
    for (const std::string& id : *ids) {
      scopes.push_back({id,
                        UserPath(user_id) + "/mailFolders/" + graph::PercentEncode(id) +
                            "/messages/delta" + SelectQuery(user_id, Collection::kMessages),
                        true});
    }
    return scopes;
  }
  std::set<std::string> seen;
  // Hidden folders are listed only when asked for ("List mailFolders"), and
  // /users/{id}/messages holds their messages too: without them those are in no scope.
  constexpr const char* kIncludeHidden = "?includeHiddenFolders=true";
  std::deque<std::string> lists{UserPath(user_id) + "/mailFolders" + kIncludeHidden};
  while (!lists.empty()) {
    std::string url = lists.front();
    lists.pop_front();
    while (!url.empty()) {
      auto response = client_->Get(user_id, url);
      if (!response.ok()) return response.status();
      auto page = graph::ParseFolderPage(response->body);
      if (!page.ok()) return page.status();
      for (const graph::MailFolder& f : page->folders) {
        // A search folder is a saved query over other folders: its messages are in their
        // own folders' scopes.
        if (f.search_folder) continue;
        if (!seen.insert(f.id).second) continue;
        if (seen.size() > kMaxFolders) {
          return Status::Unavailable("more than " + std::to_string(kMaxFolders) +
                                     " mail folders in " + user_id);
        }
        const std::string folder_path =
            UserPath(user_id) + "/mailFolders/" + graph::PercentEncode(f.id);
        scopes.push_back(
            {f.id, folder_path + "/messages/delta" + SelectQuery(user_id, Collection::kMessages),
             true});
        if (f.child_folder_count > 0) {
          lists.push_back(folder_path + "/childFolders" + kIncludeHidden);
        }
      }
      url = page->next_link;
    }
  }
  return scopes;
}

Result<std::string> DeltaSyncer::DefaultContactFolder(const std::string& user_id,
                                                      const std::string& from_listing) {
  std::string id = from_listing;
  if (id.empty()) {
    std::lock_guard<std::mutex> lock(locks_mu_);
    id = default_contact_folders_[user_id];  // the default folder's id never changes
  }
  if (id.empty()) {
    // No child folder says what its parent is: a contact of the default folder does (Graph
    // documents no well-known name for it). An empty default folder has nothing to mirror.
    auto response = client_->Get(
        user_id, UserPath(user_id) + "/contacts?$top=1&$select=createdDateTime,parentFolderId");
    if (!response.ok()) return response.status();
    auto page = graph::ParsePage(Collection::kContacts, response->body);
    if (!page.ok()) return page.status();
    for (const MirrorItem& item : page->items) {
      if (!item.folder_id.empty()) id = item.folder_id;
    }
    if (id.empty()) return id;
  }
  std::lock_guard<std::mutex> lock(locks_mu_);
  default_contact_folders_[user_id] = id;
  return id;
}

Result<std::vector<DeltaSyncer::Scope>> DeltaSyncer::ContactFolderScopes(
    const std::string& user_id) {
  // GET /contactFolders lists the folders under the default Contacts folder; each folder's
  // childFolders lists its own. A contact folder does not count its children, so every
  // folder's childFolders is asked.
  std::vector<std::string> folders;
  std::set<std::string> seen;
  std::string default_folder;
  std::deque<std::string> lists{UserPath(user_id) + "/contactFolders"};
  bool top_level = true;
  for (; !lists.empty(); top_level = false) {
    std::string url = lists.front();
    lists.pop_front();
    while (!url.empty()) {
      auto response = client_->Get(user_id, url);
      if (!response.ok()) return response.status();
      auto page = graph::ParseFolderPage(response->body);
      if (!page.ok()) return page.status();
      for (const graph::MailFolder& f : page->folders) {
        if (top_level && default_folder.empty()) default_folder = f.parent_folder_id;
        if (!seen.insert(f.id).second) continue;
        if (seen.size() > kMaxFolders) {
          return Status::Unavailable("more than " + std::to_string(kMaxFolders) +
                                     " contact folders in " + user_id);
        }
        folders.push_back(f.id);
        lists.push_back(UserPath(user_id) + "/contactFolders/" + graph::PercentEncode(f.id) +
                        "/childFolders");
      }
      url = page->next_link;
    }
  }
  auto default_id = DefaultContactFolder(user_id, default_folder);
  if (!default_id.ok()) return default_id.status();
  // The default folder first: its fresh round gives rows stored without a folder theirs.
  if (!default_id->empty() && !seen.count(*default_id)) {
    folders.insert(folders.begin(), *default_id);
  }
  std::vector<Scope> scopes;
  for (const std::string& id : folders) {
    scopes.push_back({id,
                      UserPath(user_id) + "/contactFolders/" + graph::PercentEncode(id) +
                          "/contacts/delta" + SelectQuery(user_id, Collection::kContacts),
                      true});
  }
  return scopes;
}

std::pair<std::string, std::string> DeltaSyncer::CalendarWindow() const {
  // The window moves in steps, not daily: each move starts a fresh round of the window.
  const int64_t today =
      std::chrono::duration_cast<std::chrono::hours>(clock_->Now().time_since_epoch()).count() / 24;
  const int64_t step_start = today - today % kWindowStepDays;
  return {DayLiteral(step_start - options_.calendar_past_days),
          DayLiteral(step_start + kWindowStepDays + options_.calendar_future_days)};
}

// "?startDateTime=..&endDateTime=..": the window as calendarView and instances take it.
std::string WindowQuery(const std::pair<std::string, std::string>& window) {
  return "?startDateTime=" + graph::PercentEncode(window.first) +
         "&endDateTime=" + graph::PercentEncode(window.second);
}

DeltaSyncer::Scope DeltaSyncer::CalendarScope(const std::string& user_id) const {
  const auto window = CalendarWindow();
  return {window.first + "/" + window.second,
          UserPath(user_id) + "/calendarView/delta" + WindowQuery(window), false};
}

Result<int64_t> DeltaSyncer::ReadSeries(const std::string& user_id, const std::string& master_id) {
  // "List instances": the occurrences and exceptions of a series master in the window,
  // cancelled ones left out.
  std::string url = UserPath(user_id) + "/events/" + graph::PercentEncode(master_id) +
                    "/instances" + WindowQuery(CalendarWindow());
  std::vector<MirrorItem> instances;
  while (!url.empty()) {
    auto response = client_->Send(PageRequest(user_id, url));
    if (!response.ok()) return response.status();
    if (response->status == 404) {
      // The series is gone: its master and occurrences leave together.
      store::PageWrite gone;
      gone.user_id = user_id;
      gone.collection = Collection::kEvents;
      gone.deletes = {master_id};
      if (Status s = store_->mirror().ApplyPage(std::move(gone)); !s.ok()) return s;
      return int64_t{0};
    }
    if (response->status >= 400) {
      return graph::ClientErrorStatus(*response, "instances of event " + master_id);
    }
    auto page = graph::ParsePage(Collection::kEvents, response->body,
                                 options_.projection.Keep(user_id, Collection::kEvents));
    if (!page.ok()) return page.status();
    for (MirrorItem& item : page->items) {
      if (!item.IsOccurrence() || item.series_master_id != master_id) {
        return Status::Corruption("instances of event " + master_id + " list " + item.id +
                                  ", not one of its occurrences");
      }
      instances.push_back(std::move(item));
    }
    url = page->next_link;
  }
  const auto read = static_cast<int64_t>(instances.size());
  if (Status s = store_->mirror().ReplaceSeries(user_id, master_id, std::move(instances)); !s.ok())
    return s;
  return read;
}

Result<std::vector<DeltaSyncer::Scope>> DeltaSyncer::Scopes(const std::string& user_id,
                                                            Collection collection) {
  switch (Describe(collection).delta_scope) {
    case DeltaScopeKind::kMailFolders:
      return MailFolderScopes(user_id);
    case DeltaScopeKind::kContactFolders:
      return ContactFolderScopes(user_id);
    case DeltaScopeKind::kCalendarWindow:
      return std::vector<Scope>{CalendarScope(user_id)};
  }
  return Status::InvalidArgument("unknown collection");
}

Status DeltaSyncer::RunScope(const std::string& user_id, Collection collection, const Scope& scope,
                             const store::DeltaScope* stored, DeltaStats* stats,
                             std::vector<store::DeltaPageWrite>* quiet,
                             std::set<std::string>* to_verify) {
  std::string url;
  bool fresh = false, first = true;
  if (stored != nullptr && !stored->next_link.empty()) {
    url = stored->next_link;  // a round in progress
    fresh = stored->fresh;
    first = false;
  } else if (stored != nullptr && !stored->delta_link.empty()) {
    url = stored->delta_link;
  } else {
    url = scope.fresh_url;
    fresh = true;
    ++stats->fresh_rounds;
  }
  ++stats->scopes;
  // Rows created since the previous round began are listed by this round if they still
  // exist in the scope; the ones it does not list are checked with Graph at the pass's
  // end. (Their `deleted` notification may be lost, and a delta round never reports an
  // item created and deleted since its token.)
  const std::string previous_start =
      stored != nullptr && stored->next_link.empty() ? stored->round_started_at : "";
  std::set<std::string> listed;
  auto round_ended = [&]() -> Status {
    if (fresh || previous_start.empty()) return Status::Ok();  // a fresh round sweeps instead
    auto recent = store_->mirror().CreatedSince(
        user_id, collection, Describe(collection).scoped_by_folder() ? scope.scope : "",
        previous_start);
    if (!recent.ok()) return recent.status();
    std::vector<std::string> unlisted;
    for (std::string& id : *recent) {
      if (!listed.count(id)) unlisted.push_back(std::move(id));
    }
    // Queued durably before the link that moves past them is: a pass that fails later
    // must not forget them.
    if (Status s = store_->sync_state().QueueForCheck(user_id, collection, unlisted); !s.ok())
      return s;
    to_verify->insert(unlisted.begin(), unlisted.end());
    return Status::Ok();
  };
  int restarts = 0;
  for (;;) {
    auto response = client_->Send(PageRequest(user_id, url));
    if (!response.ok()) return response.status();
    if (response->status >= 400) {
      if (graph::IsExpiredDeltaToken(*response) && restarts < kMaxRestarts) {
        // Start over without a token; the fresh round's sweep removes what went unseen.
        spdlog::info(
            "delta: {} {} {}: token expired ({}); starting a fresh round", user_id,
            CollectionName(collection), scope.scope,
            response->error_code.empty() ? std::to_string(response->status) : response->error_code);
        ++restarts;
        ++stats->expired_tokens;
        ++stats->fresh_rounds;
        url = scope.fresh_url;
        fresh = true;
        first = true;
        continue;
      }
      return graph::ClientErrorStatus(*response, "delta of " +
                                                     std::string(CollectionName(collection)) +
                                                     " in " + scope.scope + " for " + user_id);
    }
    auto page =
        graph::ParsePage(collection, response->body, options_.projection.Keep(user_id, collection));
    if (!page.ok()) {
      return Status::Corruption("delta page of " + std::string(CollectionName(collection)) +
                                " for " + user_id + ": " + page.status().message());
    }
    graph::PutBodiesInForm(options_.bodies, &page->items);
    if (collection == Collection::kMessages) {
      for (const MirrorItem& item : page->items) stats->without_body += item.body ? 0 : 1;
    }
    if (page->next_link.empty() && page->delta_link.empty()) {
      return Status::Corruption("delta page of " + std::string(CollectionName(collection)) +
                                " for " + user_id + " has neither nextLink nor deltaLink");
    }
    store::DeltaPageWrite write;
    write.user_id = user_id;
    write.collection = collection;
    write.scope = scope.scope;
    write.first_page = first;
    if (first) write.round_started_at = RoundStart(*response, clock_, options_.overlap);
    write.fresh = fresh;
    write.next_link = page->next_link;
    write.delta_link = page->delta_link;
    stats->items += static_cast<int64_t>(page->items.size());
    if (options_.progress != nullptr) options_.progress->fetch_add(page->items.size());
    write.upserts = std::move(page->items);
    write.removed_ids = std::move(page->removed_ids);
    // Kept only where round_ended needs it: a fresh round lists the whole scope, and a
    // set of every id would grow with the mailbox.
    if (!fresh && !previous_start.empty()) {
      for (const MirrorItem& item : write.upserts) listed.insert(item.id);
    }
    if (!write.delta_link.empty()) {
      if (Status s = round_ended(); !s.ok()) return s;
    }
    if (first && !fresh && write.upserts.empty() && write.removed_ids.empty() &&
        !write.delta_link.empty()) {
      // Nothing changed: the old link stays valid until the pass's end writes the new one.
      quiet->push_back(std::move(write));
      ++stats->pages;
      return Status::Ok();
    }
    if (Status s = store_->sync_state().ApplyDeltaPage(std::move(write)); !s.ok()) return s;
    ++stats->pages;
    if (options_.after_page && !options_.after_page(static_cast<int>(stats->pages))) {
      return Status::Cancelled("delta pass stopped after page " + std::to_string(stats->pages));
    }
    first = false;
    if (!page->delta_link.empty()) {
      if (fresh) ++stats->fresh_ended;
      return Status::Ok();
    }
    url = page->next_link;
  }
}

Result<std::map<std::string, std::string>> DeltaSyncer::ListIds(const std::string& user_id,
                                                                Collection collection,
                                                                const std::string& filter,
                                                                bool change_keys,
                                                                std::string* listing_began) {
  constexpr int kIdPage = 1000;
  std::map<std::string, std::string> listed;
  std::string since = "1900-01-01T00:00:00Z";
  auto query = [&] {
    return graph::CreatedSincePath(
        user_id, collection, since, kIdPage,
        change_keys ? "$select=id,createdDateTime,changeKey" : "$select=id,createdDateTime",
        filter);
  };
  std::string url = query();
  for (;;) {
    auto response = client_->Get(user_id, url);
    if (!response.ok()) return response.status();
    if (listing_began != nullptr && listing_began->empty()) {
      *listing_began = RoundStart(*response, clock_, std::chrono::seconds(0));
    }
    auto page = graph::ParsePage(collection, response->body);
    if (!page.ok()) return page.status();
    std::string oldest, newest;
    for (const MirrorItem& item : page->items) {
      listed[item.id] = item.change_key;
      if (oldest.empty() || item.created_at < oldest) oldest = item.created_at;
      newest = std::max(newest, item.created_at);
    }
    if (page->next_link.empty()) break;
    // Keyset paging, as in resync: a delete during the listing cannot shift an id past us.
    if (newest.empty() || newest == oldest) {
      url = page->next_link;
    } else {
      since = newest;
      url = query();
    }
  }
  return listed;
}

Status DeltaSyncer::ListPaged(const std::string& user_id, Collection collection,
                              const std::string& path,
                              const std::function<bool(const MirrorItem&)>& keep,
                              std::map<std::string, std::string>* out) {
  std::string url = path;
  while (!url.empty()) {
    auto response = client_->Get(user_id, url);
    if (!response.ok()) return response.status();
    auto page = graph::ParsePage(collection, response->body);
    if (!page.ok()) return page.status();
    for (const MirrorItem& item : page->items) {
      if (!keep || keep(item)) (*out)[item.id] = item.change_key;
    }
    url = page->next_link;
  }
  return Status::Ok();
}

Result<std::map<std::string, std::string>> DeltaSyncer::ListVersions(const std::string& user_id,
                                                                     Collection collection,
                                                                     bool occurrences) {
  // "List messages" and the other lists take $select and $top 1..1000; createdDateTime is
  // selected because every page is parsed as the rounds' pages are (it is required there).
  constexpr const char* kSelect = "$select=id,createdDateTime,changeKey&$top=1000";
  const config::MirrorScope& scope = options_.scopes.Of(user_id, collection);
  std::map<std::string, std::string> listed;
  if (occurrences) {
    if (collection != Collection::kEvents) {
      return Status::InvalidArgument("only events have occurrences");
    }
    // calendarView lists single instances too: only occurrences and exceptions are kept
    // in event_occurrences (single instances are in `events`, listed by /events).
    const std::string path = UserPath(user_id) + "/calendarView" + WindowQuery(CalendarWindow()) +
                             "&$select=id,createdDateTime,changeKey,type,seriesMasterId&$top=1000";
    if (Status s = ListPaged(
            user_id, collection, path, [](const MirrorItem& item) { return item.IsOccurrence(); },
            &listed);
        !s.ok()) {
      return s;
    }
    return listed;
  }
  // A filtered collection holds what its sweep lists (DeltaSyncer::Sweep).
  if (!scope.filter.empty()) return ListIds(user_id, collection, scope.filter, true, nullptr);
  switch (Describe(collection).delta_scope) {
    case DeltaScopeKind::kMailFolders: {
      if (!scope.by_folder()) {
        // /users/{id}/messages lists the messages of every folder, hidden ones included:
        // what the delta rounds of every folder hold.
        return ListIds(user_id, collection, "", true, nullptr);
      }
      auto folders = ScopedFolderIds(user_id);
      if (!folders.ok()) return folders.status();
      for (const std::string& id : *folders) {
        const std::string path =
            UserPath(user_id) + "/mailFolders/" + graph::PercentEncode(id) + "/messages?" + kSelect;
        if (Status s = ListPaged(user_id, collection, path, nullptr, &listed); !s.ok()) return s;
      }
      return listed;
    }
    case DeltaScopeKind::kContactFolders: {
      // /users/{id}/contacts lists the default folder only: each folder is listed.
      auto scopes = ContactFolderScopes(user_id);
      if (!scopes.ok()) return scopes.status();
      for (const Scope& folder : *scopes) {
        const std::string path = UserPath(user_id) + "/contactFolders/" +
                                 graph::PercentEncode(folder.scope) + "/contacts?" + kSelect;
        if (Status s = ListPaged(user_id, collection, path, nullptr, &listed); !s.ok()) return s;
      }
      return listed;
    }
    case DeltaScopeKind::kCalendarWindow:
      // /users/{id}/events: single instances and series masters, as `events` holds them.
      return ListIds(user_id, collection, "", true, nullptr);
  }
  return Status::InvalidArgument("unknown collection");
}

Status DeltaSyncer::UnlistedEvents(const std::string& user_id, std::set<std::string>* to_verify) {
  auto listed = ListIds(user_id, Collection::kEvents, "", /*change_keys=*/false, nullptr);
  if (!listed.ok()) return listed.status();
  auto rows = store_->mirror().ItemIds(user_id, Collection::kEvents);
  if (!rows.ok()) return rows.status();
  const std::set<std::string> mirrored(rows->begin(), rows->end());
  for (const std::string& id : mirrored) {
    if (!listed->count(id)) to_verify->insert(id);
  }
  // An event outside the window that the mirror lacks (its notification lost) is in no
  // fresh round: only this brings it.
  for (const auto& [id, unused] : *listed) {
    if (!mirrored.count(id)) to_verify->insert(id);
  }
  return Status::Ok();
}

Status DeltaSyncer::Sweep(const std::string& user_id, Collection collection,
                          const std::string& filter, DeltaStats* stats) {
  // Graph's lists may show a change an hour late at worst (see EndDeltaPass): a row
  // changed since then that the listing lacks may be one it does not show yet.
  constexpr std::chrono::hours kListingLag{1};
  std::string began;
  auto listed = ListIds(user_id, collection, filter, /*change_keys=*/true, &began);
  if (!listed.ok()) return listed.status();
  ++stats->scopes;
  stats->items += static_cast<int64_t>(listed->size());
  std::vector<std::pair<std::string, std::string>> versions(listed->begin(), listed->end());
  auto stale = store_->mirror().NotHeldAt(user_id, collection, versions);
  if (!stale.ok()) return stale.status();
  std::set<std::string> to_read(stale->begin(), stale->end());

  auto rows = store_->mirror().ItemIds(user_id, collection);
  if (!rows.ok()) return rows.status();
  std::string recent_since = began;
  if (auto t = graph::ParseTimestamp(began)) {
    recent_since = graph::FormatTimestamp(*t - kListingLag);
  }
  auto recent = store_->mirror().ModifiedSince(user_id, collection, recent_since);
  if (!recent.ok()) return recent.status();
  const std::set<std::string> recent_ids(recent->begin(), recent->end());
  std::vector<std::string> left;
  for (const std::string& id : *rows) {
    if (listed->count(id)) continue;
    if (recent_ids.count(id)) {
      to_read.insert(id);
    } else {
      left.push_back(id);  // no longer matches the filter, or gone
    }
  }
  auto write = Fetch(user_id, collection, to_read);
  if (!write.ok()) return write.status();
  stats->verified += static_cast<int64_t>(to_read.size());
  stats->removed += static_cast<int64_t>(write->deletes.size() + left.size());
  write->deletes.insert(write->deletes.end(), left.begin(), left.end());
  if (write->upserts.empty() && write->deletes.empty()) return Status::Ok();
  return store_->mirror().ApplyPage(std::move(write).value());
}

Result<store::PageWrite> DeltaSyncer::Fetch(const std::string& user_id, Collection collection,
                                            const std::set<std::string>& ids) {
  store::PageWrite verified;
  verified.user_id = user_id;
  verified.collection = collection;
  for (const std::string& id : ids) {
    graph::Request request;
    request.mailbox = user_id;
    request.path_or_url = UserPath(user_id) + "/" + std::string(CollectionName(collection)) + "/" +
                          graph::PercentEncode(id) + SelectQuery(user_id, collection);
    request.return_client_errors = true;
    auto response = client_->Send(request);
    if (!response.ok()) return response.status();
    if (response->status == 404) {
      verified.deletes.push_back(id);  // ids are immutable: gone for good
      continue;
    }
    if (response->status >= 400) {
      return graph::ClientErrorStatus(*response,
                                      std::string(CollectionName(collection)) + " " + id);
    }
    // Still there (moved, left the calendar window, changed since): keep it, current.
    auto item =
        graph::ParseItem(collection, response->body, options_.projection.Keep(user_id, collection));
    if (!item.ok()) return item.status();
    verified.upserts.push_back(std::move(item).value());
  }
  graph::PutBodiesInForm(options_.bodies, &verified.upserts);
  if (options_.scopes.Of(user_id, collection).by_folder() && !verified.upserts.empty()) {
    // Moved to a folder the mirror does not keep: out of the scope.
    auto scoped = ScopedFolderIds(user_id);
    if (!scoped.ok()) return scoped.status();
    std::erase_if(verified.upserts, [&](const MirrorItem& item) {
      if (scoped->count(item.folder_id)) return false;
      verified.deletes.push_back(item.id);
      return true;
    });
  }
  return verified;
}

Result<int64_t> DeltaSyncer::ReadMissingBodies(const std::string& user_id) {
  if (options_.projection.rich(user_id)) return 0;
  auto ids = store_->mirror().MessagesWithoutBody(user_id);
  if (!ids.ok()) return ids.status();
  if (ids->empty()) return 0;
  auto read = Fetch(user_id, Collection::kMessages, {ids->begin(), ids->end()});
  if (!read.ok()) return read.status();
  if (Status s = store_->mirror().ApplyPage(std::move(read).value()); !s.ok()) return s;
  return static_cast<int64_t>(ids->size());
}

Result<DeltaStats> DeltaSyncer::Sync(const std::string& user_id, Collection collection,
                                     bool listed_after) {
  std::lock_guard<std::mutex> lock(LockFor(user_id, collection));
  DeltaStats stats;
  // The containers of these items first: a folder new since the last pass is in the
  // mirror before any item in it is.
  for (const ContainerDescription& container : AllContainers()) {
    if (container.collection != collection) continue;
    auto round = containers_.Sync(user_id, container);
    if (!round.ok()) return round.status();
    stats.container_rows += round->upserted;
    stats.container_removed += round->removed;
  }
  if (const std::string& filter = options_.scopes.Of(user_id, collection).filter; !filter.empty()) {
    if (Status s = Sweep(user_id, collection, filter, &stats); !s.ok()) return s;
    return stats;
  }
  auto scopes = Scopes(user_id, collection);
  if (!scopes.ok()) return scopes.status();
  auto stored = store_->sync_state().DeltaScopes(user_id, collection);
  if (!stored.ok()) return stored.status();

  std::map<std::string, const store::DeltaScope*> by_scope;
  for (const auto& d : *stored) by_scope[d.scope] = &d;
  for (const auto& d : *stored) {
    bool current = false;
    for (const Scope& s : *scopes) current = current || s.scope == d.scope;
    if (current) continue;
    // A folder that is gone (its messages or contacts with it), or a calendar window
    // moved on.
    if (Status s = store_->sync_state().ForgetDeltaScope(user_id, collection, d.scope,
                                                         Describe(collection).scoped_by_folder());
        !s.ok()) {
      return s;
    }
  }

  bool complete = true;
  std::vector<store::DeltaPageWrite> quiet;
  std::set<std::string> to_verify;
  for (const Scope& scope : *scopes) {
    auto it = by_scope.find(scope.scope);
    Status s = RunScope(user_id, collection, scope, it == by_scope.end() ? nullptr : it->second,
                        &stats, &quiet, &to_verify);
    if (s.code() == Status::Code::kNotFound && scope.sweep_when_gone) {
      // The folder went away since it was listed: the next pass forgets it. Until then a
      // message moved into it would look removed, so no removal is applied this pass.
      complete = false;
      continue;
    }
    if (!s.ok()) return s;
  }
  if (!complete) {
    for (auto& page : quiet) {
      if (Status s = store_->sync_state().ApplyDeltaPage(std::move(page)); !s.ok()) return s;
    }
    return stats;
  }
  // Removals that are certain are done by the store's rule. Events are all checked with
  // Graph (leaving the window is not being deleted, and calendarView delta reports every
  // change outside its window as `@removed`), and so are the removals the rule held back
  // (rows changed since their round began) and the unlisted recent rows.
  const bool windowed = !Describe(collection).scoped_by_folder();
  if (!windowed) {
    auto removed = store_->sync_state().EndDeltaPass(user_id, collection, quiet, nullptr);
    if (!removed.ok()) return removed.status();
    stats.removed = *removed;
    quiet.clear();
  }
  if (windowed && stats.fresh_ended > 0 && !listed_after) {
    // A round from a token reports every event changed outside its window as `@removed`
    // ("event: delta"), which is checked by id below; a fresh round knows nothing of what
    // happened outside the window meanwhile.
    if (Status s = UnlistedEvents(user_id, &to_verify); !s.ok()) return s;
  }
  auto held = store_->sync_state().DeltaRemovals(user_id, collection);
  if (!held.ok()) return held.status();
  for (const auto& r : *held) to_verify.insert(r.item_id);
  if (to_verify.empty() && quiet.empty()) return stats;
  auto verified = Fetch(user_id, collection, to_verify);
  if (!verified.ok()) return verified.status();
  stats.verified = static_cast<int64_t>(to_verify.size());
  auto removed = store_->sync_state().EndDeltaPass(user_id, collection, quiet, &*verified);
  if (!removed.ok()) return removed.status();
  stats.removed += *removed;
  return stats;
}

}  // namespace graphmirror::sync
