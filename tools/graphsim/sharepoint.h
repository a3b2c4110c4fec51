// SharePointSim: SharePoint Online lists and their webhooks as GRAPH.md section 9 and the
// seed document describe them, served under the site's path
// (`/sites/{name}/_api/web/lists('{id}')/...`):
//   - lists of items (integer ids, fields as JSON, Created/Modified), with item CRUD, read
//     one by one, page by page, or by `GetItems` with a CAML query whose Where is an `In`
//     (or `Eq`) on the ID field (other CAML is refused: not modelled);
//   - each list's change log: every add, update, delete and restore gets a change number,
//     and `GetChanges` returns the changes after a change token ("1;3;{list};{ticks};{n}")
//     of the types the ChangeQuery asks for (Add, Update, DeleteObject, Restore), at most
//     RowLimit (1000 by default) at a time, each with its own token; a token older than
//     the log (after ExpireChangeTokens) is refused with an
//     SPInvalidChangeTokenException, status 500 unless told otherwise;
//   - the site's recycle bin: an item deleted by a user (DeleteItem) or recycled
//     (`POST .../items({id})/recycle()`) waits there under a GUID until
//     `POST .../_api/web/RecycleBin('{guid}')/restore()` (or RestoreItem) brings it back
//     with the same id; a REST DELETE removes the item outright (a choice);
//   - list subscriptions: created only after the notification URL echoed a
//     `validationtoken` within 5 s, expiring at most 180 days ahead, renewed by PATCH,
//     removed by DELETE;
//   - notifications without change details, one per subscription for a burst of changes,
//     retried 5 times 5 minutes apart (by the clock), then dropped.
//
// Thread-safety: safe from many threads. mu_ guards everything and is never held during a
// webhook request; pump_mu_ serializes pumps.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_SHAREPOINT_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_SHAREPOINT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tools/graphsim/graphsim.h"
#include "tools/graphsim/time_format.h"

namespace graphsim {

class SharePointSim {
 public:
  using Json = nlohmann::ordered_json;

  SharePointSim(std::function<TimePoint()> now, std::string tenant_id, uint64_t seed);

  // Direct API. Sites are paths ("/sites/team"); list ids are lower-case GUID text.
  std::string AddList(const std::string& site, const std::string& title);
  // The new item's id; 0 if the list does not exist or `fields` is not an object.
  int CreateItem(const std::string& list, const Json& fields);
  bool UpdateItem(const std::string& list, int id, const Json& fields);
  // Deletes as a user does in the browser: the item goes to the recycle bin.
  bool DeleteItem(const std::string& list, int id);
  // Restores item `id` of `list` from the recycle bin (same id, fields and dates); false
  // if it is not there.
  bool RestoreItem(const std::string& list, int id);
  std::vector<int> ItemIds(const std::string& list) const;  // sorted
  std::optional<Json> Item(const std::string& list, int id) const;
  // Forgets the change log so far: every token issued until now is too old, and is
  // answered with `status` (SharePoint does not document it; 500 has been seen, 400 too).
  void ExpireChangeTokens(const std::string& list, int status = 500);
  // The next `n` notifications are lost on the way (never posted, never retried).
  void DropNextNotifications(int n);
  std::vector<SharePointSubscriptionView> Subscriptions() const;
  SharePointDeliveryStats Stats() const;
  SharePointRequestStats Requests() const;
  // After `after_pages` more item pages, the next one is answered `status` once.
  void FailItemPage(int after_pages, int status);

  // The REST API: a request whose path starts with a site's path and "/_api/"; nullopt
  // for any other path. The caller checked the bearer token.
  std::optional<HttpResponse> Handle(const HttpRequest& request, TimePoint now);

  // Posts every notification due by the clock; returns the number of POSTs attempted.
  size_t Pump();

 private:
  struct ListItem {
    Json fields;  // the item's own fields (Title, ...)
    TimePoint created, modified;
    int version = 1;
  };
  struct Change {
    uint64_t number = 0;
    int type = 0;  // SPChangeType: 1 Add, 2 Update, 3 DeleteObject, 7 Restore
    int item = 0;
    TimePoint time;
  };
  struct List {
    std::string id;
    std::string site;
    std::string title;
    std::map<int, ListItem> items;
    int next_item = 1;
    std::vector<Change> changes;
    uint64_t floor = 0;        // the log's first number: tokens before it are too old
    int expired_status = 500;  // the status that refuses a token before `floor`
  };
  // An item in the site's recycle bin, under its own GUID.
  struct Recycled {
    std::string list;
    int id = 0;
    ListItem item;
  };
  struct Subscription {
    std::string id;
    std::string list;
    std::string notification_url;
    std::string client_state;
    TimePoint expires;
  };
  struct Pending {
    std::string subscription;
    int attempts = 0;
    TimePoint due;
  };

  // Requires mu_ held.
  HttpResponse HandleList(const HttpRequest& request, List& list, const std::string& rest,
                          TimePoint now);
  HttpResponse GetChanges(const HttpRequest& request, const List& list) const;
  HttpResponse GetItems(const HttpRequest& request, const List& list) const;
  HttpResponse HandleRecycleBin(const HttpRequest& request, const std::string& site,
                                const std::string& key, const std::vector<std::string>& rest,
                                TimePoint now);
  // Moves item `it` of `list` to the recycle bin; returns its recycle bin id.
  std::string RecycleLocked(List& list, std::map<int, ListItem>::iterator it, TimePoint now);
  bool RestoreLocked(const std::string& guid, TimePoint now);
  HttpResponse CreateSubscription(const HttpRequest& request, const List& list, TimePoint now);
  Json ItemJson(const List& list, int id, const ListItem& item) const;
  Json SubscriptionJson(const Subscription& s) const;
  std::string Token(const List& list, uint64_t number, TimePoint time) const;
  void RecordLocked(List& list, int type, int item, TimePoint now);
  List* FindLocked(const std::string& list);
  const List* FindLocked(const std::string& list) const;

  const std::function<TimePoint()> now_;
  const std::string tenant_id_;
  const std::string site_guid_, web_guid_;

  mutable std::mutex mu_;
  std::map<std::string, List> lists_;  // by id
  std::map<std::string, Subscription> subscriptions_;
  std::map<std::string, Recycled> recycle_bin_;  // by recycle bin item id
  std::vector<Pending> pending_;
  uint64_t change_number_ = 0;
  uint64_t guid_counter_;
  int drop_next_ = 0;
  SharePointDeliveryStats stats_;
  SharePointRequestStats requests_;
  int fail_page_after_ = -1;  // item pages to serve before failing one; -1: none
  int fail_page_status_ = 0;
  std::mutex pump_mu_;
};

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_SHAREPOINT_H_
