#include "engine/sharepoint/list_sync.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "engine/base/text.h"

namespace graphmirror::sharepoint {

namespace {

constexpr int kRowLimit = 1000;         // SharePoint's largest GetChanges batch
constexpr int kPageSize = 500;          // items per page of a whole-list read
constexpr size_t kItemsPerQuery = 100;  // changed items read by one GetItems
// An expired change token: List.GetChanges documents the exception type (whatever the
// status: 500 and 400 are both seen); older servers throw a plain SPException whose
// message says the token lies before the change log.
constexpr char kInvalidChangeToken[] = "Microsoft.SharePoint.SPInvalidChangeTokenException";
constexpr char kTooEarly[] = "before the start of the current change log";

// SPChangeType values GetChanges reports for items. A restore from the recycle bin brings
// the item back under its id; a system update changes it without a new Modified.
constexpr int64_t kAdd = 1;
constexpr int64_t kUpdate = 2;
constexpr int64_t kDeleteObject = 3;
constexpr int64_t kRestore = 7;
constexpr int64_t kSystemUpdate = 15;

// The ChangeQuery: every change type that adds, changes, removes or brings back an item.
// SharePoint reports each type only if the query asks for it.
constexpr char kChangeTypes[] =
    R"("Add":true,"Update":true,"SystemUpdate":true,"DeleteObject":true,"Restore":true,)"
    R"("Item":true)";

// Whether an error answer says the change token is no longer valid. The error is
// {"odata.error":{...}} (JSON light) or {"error":{...}} (verbose), with "code" like
// "-2130575172, Microsoft.SharePoint.SPInvalidChangeTokenException" and "message" an object
// {"lang","value"}.
bool IsInvalidChangeToken(simdjson::dom::parser& parser, const std::string& body) {
  simdjson::dom::element root;
  if (parser.parse(body).get(root) != simdjson::SUCCESS) return false;
  for (const char* key : {"odata.error", "error"}) {
    simdjson::dom::element error;
    if (root[key].get(error) != simdjson::SUCCESS) continue;
    std::string_view text;
    if (error["code"].get(text) == simdjson::SUCCESS &&
        text.find(kInvalidChangeToken) != std::string_view::npos) {
      return true;
    }
    if ((error["message"]["value"].get(text) == simdjson::SUCCESS ||
         error["message"].get(text) == simdjson::SUCCESS) &&
        text.find(kTooEarly) != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

Status Malformed(const std::string& what, const std::string& detail) {
  return Status::Unavailable("sharepoint: " + what + ": unexpected answer (" + OneLine(detail) +
                             ")");
}

// An item of the REST API as a row: its Id, Created, Modified and exact JSON.
Result<store::ListItemRow> RowOf(simdjson::dom::element item) {
  store::ListItemRow row;
  int64_t id = 0;
  if (item["Id"].get(id) != simdjson::SUCCESS || id <= 0) {
    return Status::InvalidArgument("an item without an Id");
  }
  row.item_id = id;
  std::string_view text;
  if (item["Created"].get(text) == simdjson::SUCCESS) row.created_at = std::string(text);
  if (item["Modified"].get(text) == simdjson::SUCCESS) row.modified_at = std::string(text);
  row.json = simdjson::minify(item);
  return row;
}

// The items of a collection answer ({"value":[...]}) as rows; `next_link`, if given,
// receives its odata.nextLink ("" on the last page).
Result<std::vector<store::ListItemRow>> RowsOf(simdjson::dom::parser& parser,
                                               const std::string& body, const std::string& what,
                                               std::string* next_link = nullptr) {
  simdjson::dom::element root;
  simdjson::dom::array values;
  if (parser.parse(body).get(root) != simdjson::SUCCESS ||
      root["value"].get(values) != simdjson::SUCCESS) {
    return Malformed(what, body);
  }
  std::vector<store::ListItemRow> rows;
  for (simdjson::dom::element item : values) {
    auto row = RowOf(item);
    if (!row.ok()) return Malformed(what, row.status().message());
    rows.push_back(std::move(row).value());
  }
  if (next_link != nullptr) {
    std::string_view link;
    *next_link = root["odata.nextLink"].get(link) == simdjson::SUCCESS ? std::string(link) : "";
  }
  return rows;
}

}  // namespace

ListSync::ListSync(graph::GraphClient* site, store::Store* store, std::string site_url,
                   std::string list_id)
    : site_(site), store_(store), site_url_(std::move(site_url)), list_id_(std::move(list_id)) {}

std::string ListApiPath(const std::string& list_id) { return "/_api/web/lists('" + list_id + "')"; }

Status ListSync::Sync() {
  auto state = store_->lists().State(site_url_, list_id_);
  if (!state.ok()) return state.status();
  const int64_t notified_before = state->notified;
  if (state->change_token.empty()) return WholeRead(notified_before);

  std::string token = state->change_token;
  simdjson::dom::parser parser;
  for (;;) {
    graph::Request request;
    request.mailbox = site_url_;
    request.method = "POST";
    request.path_or_url = ListApiPath(list_id_) + "/GetChanges";
    request.body = std::string(R"({"query":{)") + kChangeTypes + R"(,"RowLimit":)" +
                   std::to_string(kRowLimit) + R"(,"ChangeTokenStart":{"StringValue":)" +
                   JsonString(token) + "}}}";
    request.return_client_errors = true;
    request.return_server_errors = true;
    auto response = site_->Send(request);
    if (!response.ok()) return response.status();
    if (response->status >= 400) {
      if (IsInvalidChangeToken(parser, response->body)) {
        // The change log no longer reaches back to our token: only a whole read is exact.
        spdlog::info("sharepoint: {} list {}: the change token expired; reading the list whole",
                     site_url_, list_id_);
        return WholeRead(notified_before);
      }
      return graph::ClientErrorStatus(*response, "GetChanges of list " + list_id_);
    }
    simdjson::dom::element body;
    simdjson::dom::array changes;
    if (parser.parse(response->body).get(body) != simdjson::SUCCESS ||
        body["value"].get(changes) != simdjson::SUCCESS) {
      return Malformed("GetChanges of list " + list_id_, response->body);
    }
    // The last change of each item decides: gone, or (added, updated, restored) read as it
    // is now.
    std::map<int64_t, int64_t> last_change;
    std::string next_token = token;
    size_t count = 0;
    for (simdjson::dom::element change : changes) {
      ++count;
      int64_t type = 0, item = 0;
      std::string_view change_token;
      if (change["ChangeToken"]["StringValue"].get(change_token) != simdjson::SUCCESS) {
        return Malformed("a change of list " + list_id_, simdjson::minify(change));
      }
      next_token = std::string(change_token);
      if (change["ChangeType"].get(type) != simdjson::SUCCESS ||
          change["ItemId"].get(item) != simdjson::SUCCESS) {
        continue;  // not an item change
      }
      if (type == kAdd || type == kUpdate || type == kSystemUpdate || type == kDeleteObject ||
          type == kRestore) {
        last_change[item] = type;
      }
    }

    store::ListChanges write;
    write.site = site_url_;
    write.list_id = list_id_;
    write.change_token = next_token;
    write.notified_before = notified_before;
    write.changes_read = static_cast<int64_t>(count);
    write.requests = 1;
    std::vector<int64_t> to_read;
    for (const auto& [item, type] : last_change) {
      if (type == kDeleteObject) {
        write.deletes.push_back(item);
      } else {
        to_read.push_back(item);
      }
    }
    for (size_t from = 0; from < to_read.size(); from += kItemsPerQuery) {
      const size_t to = std::min(to_read.size(), from + kItemsPerQuery);
      ++write.requests;
      if (Status s = ReadItems(parser, to_read, from, to, &write); !s.ok()) return s;
    }
    stats_.largest_batch = std::max(stats_.largest_batch, write.upserts.size());
    if (Status s = store_->lists().ApplyChanges(write); !s.ok()) return s;
    token = next_token;
    if (count < static_cast<size_t>(kRowLimit)) return Status::Ok();
  }
}

// SP.List.getItems with a CAML query selecting ids[from, to) by `In` on the ID field, over
// every folder of the list (Scope RecursiveAll). An id the answer lacks was deleted after
// its change: removed from the mirror.
Status ListSync::ReadItems(simdjson::dom::parser& parser, const std::vector<int64_t>& ids,
                           size_t from, size_t to, store::ListChanges* write) {
  std::string view = "<View Scope='RecursiveAll'><Query><Where><In><FieldRef Name='ID'/><Values>";
  for (size_t i = from; i < to; ++i) {
    view += "<Value Type='Counter'>" + std::to_string(ids[i]) + "</Value>";
  }
  view +=
      "</Values></In></Where></Query><RowLimit>" + std::to_string(to - from) + "</RowLimit></View>";
  graph::Request request;
  request.mailbox = site_url_;
  request.method = "POST";
  request.path_or_url = ListApiPath(list_id_) + "/GetItems";
  request.body = R"({"query":{"ViewXml":)" + JsonString(view) + "}}";
  ++stats_.item_queries;
  auto response = site_->Send(request);
  if (!response.ok()) return response.status();
  auto rows = RowsOf(parser, response->body, "GetItems of list " + list_id_);
  if (!rows.ok()) return rows.status();
  std::set<int64_t> returned;
  for (store::ListItemRow& row : *rows) {
    returned.insert(row.item_id);
    write->upserts.push_back(std::move(row));
  }
  stats_.item_reads += returned.size();
  for (size_t i = from; i < to; ++i) {
    if (returned.count(ids[i]) == 0) write->deletes.push_back(ids[i]);  // deleted since
  }
  return Status::Ok();
}

Status ListSync::WholeRead(int64_t notified_before) {
  simdjson::dom::parser parser;
  // The token before the read: changes made during it come again with the next sync
  // (applying them twice is harmless).
  auto list = site_->Get(site_url_, ListApiPath(list_id_));
  if (!list.ok()) return list.status();
  simdjson::dom::element info;
  std::string_view current;
  if (parser.parse(list->body).get(info) != simdjson::SUCCESS ||
      info["CurrentChangeToken"]["StringValue"].get(current) != simdjson::SUCCESS) {
    return Malformed("list " + list_id_, list->body);
  }
  const std::string change_token(current);
  auto generation = store_->lists().BeginWholeRead(site_url_, list_id_);
  if (!generation.ok()) return generation.status();
  size_t items = 0;
  // Page by page: each page is written as it arrives, so memory holds one page.
  std::string next = ListApiPath(list_id_) + "/items?$top=" + std::to_string(kPageSize);
  while (!next.empty()) {
    auto page = site_->Get(site_url_, next);
    if (!page.ok()) return page.status();
    store::ListPage write;
    write.site = site_url_;
    write.list_id = list_id_;
    write.generation = *generation;
    write.requests = 1;
    auto rows = RowsOf(parser, page->body, "the items of list " + list_id_, &next);
    if (!rows.ok()) return rows.status();
    write.rows = std::move(rows).value();
    items += write.rows.size();
    stats_.largest_batch = std::max(stats_.largest_batch, write.rows.size());
    if (Status s = store_->lists().WriteWholeReadPage(write); !s.ok()) return s;
  }
  spdlog::info("sharepoint: {} list {}: read whole, {} items", site_url_, list_id_, items);
  return store_->lists().FinishWholeRead(site_url_, list_id_, *generation, change_token,
                                         notified_before, /*requests=*/1);
}

}  // namespace graphmirror::sharepoint
