// The items of one collection (one user's messages, events or contacts), with ordered
// indexes on each timestamp so that a page of a query costs O(page + log n), not O(n).
//
// Thread-safety: none; the Simulator guards each Collection with its data lock.

#ifndef GRAPHMIRROR_TOOLS_GRAPHSIM_ITEM_STORE_H_
#define GRAPHMIRROR_TOOLS_GRAPHSIM_ITEM_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tools/graphsim/odata.h"
#include "tools/graphsim/time_format.h"

namespace graphsim {

// Graph's eventType: what an event is in a recurring series (singleInstance for messages
// and contacts).
enum class EventType : uint8_t { kSingleInstance, kOccurrence, kException, kSeriesMaster };

struct Item {
  std::string id;
  int folder = 0;  // index into the owner's folders (messages) or 0 (contacts, events)
  TimePoint times[kTimeFieldCount];  // by TimeField; tick-aligned so skiptokens round-trip
  uint64_t key = 0;                  // stable over the item's life (moves too): derives change keys
  uint32_t version = 0;              // bumped by every change, so the change key changes
  bool unread = false;  // messages: !isRead, kept here so folder counts need no content
  // Events: start and end (dateTime read as UTC), kept here for calendarView windows.
  TimePoint start{}, end{};
  // Events in a series: occurrences and exceptions name their master and the start the
  // pattern gave them (also their key in the series).
  EventType event_type = EventType::kSingleInstance;
  std::string series_master_id;
  TimePoint original_start{};
  // JSON object of the content properties. Empty for seeded items whose content is
  // generated from `key` on demand, which keeps 100,000s of seeded items cheap.
  std::string content;

  TimePoint time(TimeField f) const { return times[static_cast<int>(f)]; }
};

class Collection {
 public:
  // Order used when a query has no $orderby.
  Collection(TimeField default_field, bool default_descending);
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;

  size_t size() const { return items_.size(); }
  const Item* Find(std::string_view id) const;
  // The item's id must be new; returns the stored item.
  const Item* Insert(std::unique_ptr<Item> item);
  // Removes the item from the collection and hands it back (to change and re-insert:
  // indexes are keyed by id and times, so those must not change while it is inside).
  std::unique_ptr<Item> Remove(std::string_view id);
  std::vector<std::string> Ids() const;  // sorted
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const auto& [id, item] : items_) fn(*item);
  }

  struct Query {
    // Bounds the index walk by its timestamps and decides which items match.
    const FilterExpr* filter = nullptr;
    // Evaluates `filter` on an item when it reads more than timestamps: content needs the
    // owner and tenant, which a Collection does not know. Unset: the item's times alone.
    std::function<bool(const Item&)> matches;
    std::vector<OrderKey> order;  // empty: the default order
    std::optional<Cursor> after;  // resume after this position
    int folder = -1;              // -1: any folder
    // Leaves out occurrences and exceptions: GET /events lists single instances and
    // series masters only.
    bool skip_series_members = false;
    size_t skip = 0;
    size_t top = 10;
    bool count = false;
  };
  struct Page {
    std::vector<const Item*> items;
    bool more = false;  // at least one more item matches after the page
    size_t total = 0;   // all matches, if Query::count
  };
  // Sort order is total: ties on the sort keys are broken by id, in the direction of the
  // last key. Pointers stay valid until the collection is next changed.
  Page Run(const Query& query) const;
  // The sort keys a query uses (its $orderby, else the default order).
  std::vector<OrderKey> EffectiveOrder(const std::vector<OrderKey>& order) const;
  static Cursor CursorOf(const Item& item, const std::vector<OrderKey>& order);

 private:
  struct TimeKey {
    TimePoint t;
  };
  struct PosKey {
    TimePoint t;
    std::string_view id;
  };
  template <int F>
  struct ByTime {
    using is_transparent = void;
    static TimePoint T(const Item* i) { return i->times[F]; }
    bool operator()(const Item* a, const Item* b) const {
      return T(a) != T(b) ? T(a) < T(b) : a->id < b->id;
    }
    bool operator()(const Item* a, TimeKey k) const { return T(a) < k.t; }
    bool operator()(TimeKey k, const Item* a) const { return k.t < T(a); }
    bool operator()(const Item* a, const PosKey& k) const {
      return T(a) != k.t ? T(a) < k.t : std::string_view(a->id) < k.id;
    }
    bool operator()(const PosKey& k, const Item* a) const {
      return k.t != T(a) ? k.t < T(a) : k.id < std::string_view(a->id);
    }
  };

  template <typename Index>
  Page RunOnIndex(const Index& index, const Query& query, const OrderKey& key) const;
  template <typename Index>
  Page RunSorted(const Index& index, const Query& query, const std::vector<OrderKey>& order) const;
  template <typename Fn>
  void WithIndex(TimeField field, Fn fn) const;
  bool Matches(const Item& item, const Query& query) const;

  OrderKey default_order_;
  std::unordered_map<std::string_view, std::unique_ptr<Item>> items_;  // key views item->id
  std::set<const Item*, ByTime<0>> by_created_;
  std::set<const Item*, ByTime<1>> by_modified_;
  std::set<const Item*, ByTime<2>> by_received_;
};

}  // namespace graphsim

#endif  // GRAPHMIRROR_TOOLS_GRAPHSIM_ITEM_STORE_H_
