#include "engine/sync/container_sync.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "engine/graph/container_page.h"
#include "engine/graph/query.h"

namespace graphmirror::sync {

namespace {

// A round that keeps answering nextLinks past this is Graph misbehaving (or a link loop):
// folders and calendars of one mailbox fit in far fewer pages.
constexpr int kMaxPages = 10000;

std::string FreshUrl(const std::string& user_id, const ContainerDescription& d) {
  std::string url = "/users/" + graph::PercentEncode(user_id) + std::string(d.path);
  const std::string select = graph::ContainerSelect(d);
  if (!select.empty()) url += "?" + select;
  return url;
}

std::string Named(const std::string& user_id, const ContainerDescription& d) {
  return std::string(d.name) + " of " + user_id;
}

}  // namespace

ContainerSyncer::ContainerSyncer(graph::GraphClient* client, store::Store* store, int page_size)
    : client_(client), store_(store), page_size_(page_size) {}

Result<ContainerStats> ContainerSyncer::Sync(const std::string& user_id,
                                             const ContainerDescription& d) {
  ContainerStats stats;
  std::string url;
  if (d.delta) {
    auto link = store_->containers().DeltaLink(user_id, d.name);
    if (!link.ok()) return link.status();
    url = *link;
  }
  stats.whole = url.empty();
  if (url.empty()) url = FreshUrl(user_id, d);

  store::ContainerRound round;
  round.user_id = user_id;
  round.container = &d;
  bool restarted = false;
  for (;;) {
    if (stats.pages >= kMaxPages) {
      return Status::Corruption(Named(user_id, d) + ": more than " + std::to_string(kMaxPages) +
                                " pages in one round");
    }
    graph::Request request;
    request.mailbox = user_id;
    request.path_or_url = url;
    request.return_client_errors = true;
    if (d.delta) request.max_page_size = page_size_;
    auto response = client_->Send(request);
    if (!response.ok()) return response.status();
    if (response->status >= 400) {
      if (d.delta && !stats.whole && !restarted && graph::IsExpiredDeltaToken(*response)) {
        spdlog::info(
            "containers: {}: token expired ({}); reading it whole", Named(user_id, d),
            response->error_code.empty() ? std::to_string(response->status) : response->error_code);
        if (Status s = store_->containers().ForgetDeltaLink(user_id, d.name); !s.ok()) return s;
        ++stats.expired_tokens;
        restarted = true;
        stats.whole = true;
        round.rows.clear();
        round.removed_ids.clear();
        url = FreshUrl(user_id, d);
        continue;
      }
      return graph::ClientErrorStatus(*response, std::string(d.name) + " of " + user_id);
    }
    auto page = graph::ParseContainerPage(d, response->body);
    if (!page.ok()) {
      return Status::Corruption(Named(user_id, d) + ": " + page.status().message());
    }
    ++stats.pages;
    for (auto& row : page->rows) round.rows.push_back(std::move(row));
    for (auto& id : page->removed_ids) round.removed_ids.push_back(std::move(id));
    if (!page->next_link.empty()) {
      url = std::move(page->next_link);
      continue;
    }
    if (d.delta && page->delta_link.empty()) {
      return Status::Corruption(Named(user_id, d) +
                                ": a delta page has neither nextLink nor deltaLink");
    }
    round.delta_link = std::move(page->delta_link);
    break;
  }
  round.whole = stats.whole || !d.delta;
  stats.whole = round.whole;

  if (round.whole) {
    // Names Graph gives only by address: each is one GET of the folder's id.
    for (std::string_view name : d.well_known_names) {
      std::string path = "/users/" + graph::PercentEncode(user_id);
      std::string tail(d.well_known_path);
      tail.replace(tail.find("{name}"), 6, name);
      graph::Request request;
      request.mailbox = user_id;
      request.path_or_url = path + tail + "?$select=id";
      request.return_client_errors = true;
      auto response = client_->Send(request);
      if (!response.ok()) return response.status();
      if (response->status == 404) continue;  // this mailbox has none
      if (response->status >= 400) {
        return graph::ClientErrorStatus(*response,
                                        "the " + std::string(name) + " folder of " + user_id);
      }
      auto entity = graph::ParseContainerEntity(d, response->body);
      if (!entity.ok()) {
        return Status::Corruption(Named(user_id, d) + ": the " + std::string(name) +
                                  " folder: " + entity.status().message());
      }
      round.well_known.emplace_back(entity->id, std::string(name));
    }
  }
  auto written = store_->containers().ApplyRound(round);
  if (!written.ok()) return written.status();
  stats.upserted = written->upserted;
  stats.removed = written->removed;
  return stats;
}

}  // namespace graphmirror::sync
