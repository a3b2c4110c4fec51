#include "tools/graphsim/item_store.h"

#include <algorithm>

namespace graphsim {

Collection::Collection(TimeField default_field, bool default_descending)
    : default_order_{default_field, default_descending} {}

const Item* Collection::Find(std::string_view id) const {
  auto it = items_.find(id);
  return it == items_.end() ? nullptr : it->second.get();
}

const Item* Collection::Insert(std::unique_ptr<Item> item) {
  const Item* raw = item.get();
  by_created_.insert(raw);
  by_modified_.insert(raw);
  by_received_.insert(raw);
  items_.emplace(std::string_view(raw->id), std::move(item));
  return raw;
}

std::unique_ptr<Item> Collection::Remove(std::string_view id) {
  auto it = items_.find(id);
  if (it == items_.end()) return nullptr;
  std::unique_ptr<Item> item = std::move(it->second);
  items_.erase(it);
  by_created_.erase(item.get());
  by_modified_.erase(item.get());
  by_received_.erase(item.get());
  return item;
}

std::vector<std::string> Collection::Ids() const {
  std::vector<std::string> ids;
  ids.reserve(items_.size());
  for (const auto& [id, item] : items_) ids.emplace_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<OrderKey> Collection::EffectiveOrder(const std::vector<OrderKey>& order) const {
  if (order.empty()) return {default_order_};
  return order;
}

Cursor Collection::CursorOf(const Item& item, const std::vector<OrderKey>& order) {
  Cursor cursor;
  for (const OrderKey& key : order) cursor.keys.push_back(ToTicks(item.time(key.field)));
  cursor.id = item.id;
  return cursor;
}

namespace {

// An item's timestamps: all a time-only filter reads.
class TimesSubject : public FilterSubject {
 public:
  explicit TimesSubject(const Item& item) : item_(item) {}
  TimePoint Time(TimeField field) const override { return item_.time(field); }
  FilterValue Value(const std::string&) const override { return FilterValue{}; }

 private:
  const Item& item_;
};

}  // namespace

bool Collection::Matches(const Item& item, const Query& query) const {
  if (query.folder >= 0 && item.folder != query.folder) return false;
  if (query.skip_series_members &&
      (item.event_type == EventType::kOccurrence || item.event_type == EventType::kException)) {
    return false;
  }
  if (!query.filter) return true;
  if (query.matches) return query.matches(item);
  return query.filter->Matches(TimesSubject(item));
}

template <typename Fn>
void Collection::WithIndex(TimeField field, Fn fn) const {
  switch (field) {
    case TimeField::kCreated:
      fn(by_created_);
      return;
    case TimeField::kModified:
      fn(by_modified_);
      return;
    case TimeField::kReceived:
      fn(by_received_);
      return;
  }
}

Collection::Page Collection::Run(const Query& query) const {
  std::vector<OrderKey> order = EffectiveOrder(query.order);
  Page page;
  WithIndex(order[0].field, [&](const auto& index) {
    page = order.size() == 1 ? RunOnIndex(index, query, order[0]) : RunSorted(index, query, order);
  });
  return page;
}

// One sort key: walk the index of that key forward (asc) or backward (desc), from the
// cursor or the filter's bound, whichever comes later. Index order is (time, id), so the
// walk yields ties by id in the key's direction.
template <typename Index>
Collection::Page Collection::RunOnIndex(const Index& index, const Query& query,
                                        const OrderKey& key) const {
  std::optional<TimePoint> low, high;
  if (query.filter) query.filter->Bounds(key.field, &low, &high);
  auto time_of = [&](const Item* item) { return item->time(key.field); };

  Page page;
  if (query.count) {
    auto it = low ? index.lower_bound(TimeKey{*low}) : index.begin();
    for (; it != index.end() && !(high && time_of(*it) > *high); ++it) {
      if (Matches(**it, query)) ++page.total;
    }
  }

  size_t skipped = 0;
  // Returns false once the page is complete and one more match has been seen.
  auto visit = [&](const Item* item) {
    if (!Matches(*item, query)) return true;
    if (skipped < query.skip) {
      ++skipped;
      return true;
    }
    if (page.items.size() < query.top) {
      page.items.push_back(item);
      return true;
    }
    page.more = true;
    return false;
  };

  std::optional<PosKey> after;
  if (query.after) after = PosKey{FromTicks(query.after->keys[0]), query.after->id};
  if (!key.descending) {
    auto it = low ? index.lower_bound(TimeKey{*low}) : index.begin();
    if (after && (!low || after->t >= *low)) it = index.upper_bound(*after);
    for (; it != index.end() && !(high && time_of(*it) > *high); ++it) {
      if (!visit(*it)) break;
    }
  } else {
    auto it = high ? index.upper_bound(TimeKey{*high}) : index.end();
    if (after && (!high || after->t <= *high)) it = index.lower_bound(*after);
    while (it != index.begin()) {
      --it;
      if (low && time_of(*it) < *low) break;
      if (!visit(*it)) break;
    }
  }
  return page;
}

// Several sort keys: collect the matches (seeking on the first key's bounds), sort them
// fully, then resume after the cursor. O(matches log matches) per page; rare in practice.
template <typename Index>
Collection::Page Collection::RunSorted(const Index& index, const Query& query,
                                       const std::vector<OrderKey>& order) const {
  std::optional<TimePoint> low, high;
  if (query.filter) query.filter->Bounds(order[0].field, &low, &high);
  std::vector<const Item*> matches;
  auto it = low ? index.lower_bound(TimeKey{*low}) : index.begin();
  for (; it != index.end() && !(high && (*it)->time(order[0].field) > *high); ++it) {
    if (Matches(**it, query)) matches.push_back(*it);
  }
  bool ids_descending = order.back().descending;
  // Negative, zero or positive as (keys, id) of `a` sorts before, with, after `b`'s.
  auto compare = [&](const std::vector<int64_t>& a_keys, std::string_view a_id,
                     const Item& b) -> int {
    for (size_t i = 0; i < order.size(); ++i) {
      int64_t bk = ToTicks(b.time(order[i].field));
      if (a_keys[i] != bk) {
        bool less = a_keys[i] < bk;
        return (less != order[i].descending) ? -1 : 1;
      }
    }
    if (a_id == b.id) return 0;
    bool less = a_id < std::string_view(b.id);
    return (less != ids_descending) ? -1 : 1;
  };
  auto keys_of = [&](const Item& item) { return CursorOf(item, order).keys; };
  std::sort(matches.begin(), matches.end(),
            [&](const Item* a, const Item* b) { return compare(keys_of(*a), a->id, *b) < 0; });

  Page page;
  page.total = matches.size();
  auto start = matches.begin();
  if (query.after) {
    start = std::upper_bound(matches.begin(), matches.end(), 0, [&](int, const Item* item) {
      return compare(query.after->keys, query.after->id, *item) < 0;
    });
  }
  size_t available = static_cast<size_t>(matches.end() - start);
  size_t skip = std::min(query.skip, available);
  start += static_cast<std::ptrdiff_t>(skip);
  available -= skip;
  size_t take = std::min(query.top, available);
  page.items.assign(start, start + static_cast<std::ptrdiff_t>(take));
  page.more = available > take;
  return page;
}

}  // namespace graphsim
