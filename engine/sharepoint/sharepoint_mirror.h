// SharePointMirror: the configured SharePoint lists kept current (GRAPH.md section 9).
//
// One GraphClient per site (its token is for the site's host), a ListSync per list, the
// list subscriptions (created with SharePoint, which first checks the notification URL
// with a validationtoken handshake; renewed when less than 30 of their 179 days are left;
// made anew if SharePoint no longer knows one), and a worker that syncs a list once the
// receiver has counted a notification for it, and every `sync.delta_interval` anyway.
// Notifications carry no change details: the store counts them (list_state.notified),
// and a sync that started after the last one clears the list.
//
// Thread-safety: LoadStored, Maintain and RunOnce from one thread at a time (the
// background Run, or a test); Wake and Stop from any thread.

#ifndef GRAPHMIRROR_ENGINE_SHAREPOINT_SHAREPOINT_MIRROR_H_
#define GRAPHMIRROR_ENGINE_SHAREPOINT_SHAREPOINT_MIRROR_H_

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/config/config.h"
#include "engine/graph/graph_client.h"
#include "engine/notify/subscription_table.h"
#include "engine/sharepoint/list_sync.h"
#include "engine/store/store.h"
#include "graphmirror/clock.h"

namespace graphmirror::sharepoint {

// The client options for a site: the app's credentials and timeouts (`app`), the site URL
// as base, and a token for the site's host (https://contoso.sharepoint.com/.default: the
// resource's name, no default port).
graph::ClientOptions SiteClientOptions(const graph::ClientOptions& app, const std::string& site);

class SharePointMirror {
 public:
  // `client_options`: the app's credentials and timeouts; base_url and scope are set per
  // site. `store`, `table` and `clock` must outlive the mirror.
  SharePointMirror(const config::Config& config, const graph::ClientOptions& client_options,
                   store::Store* store, notify::SubscriptionTable* table, Clock* clock);
  ~SharePointMirror();

  // Puts the stored list subscriptions into the receiver's table.
  Status LoadStored();
  // Creates the missing list subscriptions and renews those near their end. A list that
  // fails is retried at the next call; the first failure is returned.
  Status Maintain();
  // Syncs every list that is due (notified, never synced) or whose retry time came, or
  // every list if `all`; returns how many synced without error.
  Result<int> RunOnce(bool all = false);

  // The background loop: RunOnce when woken (a notification) or every second for lists
  // waiting for a retry, Maintain hourly, RunOnce(all) every delta_interval. Until Stop.
  void Run();
  void Wake();
  void Stop();

  const std::vector<std::unique_ptr<ListSync>>& lists() const { return lists_; }

 private:
  struct Retry {
    int failures = 0;
    TimePoint next{};
  };
  Status MaintainList(const std::string& site, const std::string& list_id,
                      const std::vector<store::ListSubscriptionRecord>& stored);
  graph::GraphClient* ClientFor(const std::string& site);

  const config::Config config_;
  store::Store* const store_;
  notify::SubscriptionTable* const table_;
  Clock* const clock_;
  std::map<std::string, std::unique_ptr<graph::GraphClient>> clients_;  // by site
  std::vector<std::unique_ptr<ListSync>> lists_;
  std::map<const ListSync*, Retry> retries_;

  std::mutex mu_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  bool stopping_ = false;
};

}  // namespace graphmirror::sharepoint

#endif  // GRAPHMIRROR_ENGINE_SHAREPOINT_SHAREPOINT_MIRROR_H_
