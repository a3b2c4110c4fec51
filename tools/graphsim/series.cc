// Recurring events: series masters, their occurrences and exceptions, cancelled
// occurrences, calendarView and instances.
//
// A series master is an Item of the events collection; so is each of its occurrences and
// exceptions (materialized: GET by id, the delta journal, the listing lag and
// notifications treat them as any event). A SeriesRecord per master keeps its parsed
// recurrence, its members by original start and the original starts the client
// cancelled. Expanding a series (recurrence.h) gives the occurrences; an occurrence's id is
// a function of the master and its original start, so expanding again keeps ids.

#include <algorithm>
#include <variant>

#include "tools/graphsim/errors.h"
#include "tools/graphsim/ids.h"
#include "tools/graphsim/simulator_core.h"

namespace graphsim {
namespace {

ApiError NotFound() {
  return ApiError{404, "ErrorItemNotFound", "The specified object was not found in the store."};
}

// A recurrence Graph refuses ("Schedule repeating appointments as recurring events in
// Outlook": "using a value outside the allowed set causes an error").
ApiError BadRecurrence(const std::string& why) {
  return ApiError{400, "ErrorInvalidRequest", "The recurrence is not valid: " + why};
}

ItemChange ChangeFor(ItemChange::Op op, const UserRecord& user, const Item& item) {
  ItemChange change;
  change.op = op;
  change.user = user.index;
  change.user_id = user.id;
  change.kind = EntityKind::kEvent;
  change.id = item.id;
  change.etag = "W/\"" + ChangeKey(item.key, item.version) + "\"";
  change.folder = item.folder;
  return change;
}

// An event's start or end as written: the wall time and its zone ("UTC" when absent).
struct WallTime {
  LocalTime local{};
  std::string zone = "UTC";
  bool ok = false;
};

WallTime ReadWallTime(const Json& content, const char* name) {
  WallTime out;
  auto it = content.find(name);
  if (it == content.end() || !it->is_object()) return out;
  auto tz = it->find("timeZone");
  if (tz != it->end() && tz->is_string() && !tz->get<std::string>().empty()) {
    out.zone = tz->get<std::string>();
  }
  auto dt = it->find("dateTime");
  if (dt == it->end() || !dt->is_string()) return out;
  std::optional<TimePoint> t = ParseLocalDateTime(dt->get<std::string>());
  if (!t) return out;
  out.local = LocalTime{t->time_since_epoch()};
  out.ok = true;
  return out;
}

Json UtcDateTime(TimePoint t) {
  return Json{{"dateTime", FormatTicksLocal(t)}, {"timeZone", "UTC"}};
}

// Notes the zones `fields` give start and end in (originalStartTimeZone and
// originalEndTimeZone, "the start (end) time zone that was set when the event was
// created" or last rescheduled).
void NoteZones(const Json& fields, Json* content) {
  if (fields.contains("start"))
    (*content)["originalStartTimeZone"] = ReadWallTime(fields, "start").zone;
  if (fields.contains("end")) (*content)["originalEndTimeZone"] = ReadWallTime(fields, "end").zone;
}

// Start and end kept as Graph answers them by default: in UTC ("If Prefer:
// outlook.timezone is not specified, those time values are returned in UTC"), converted
// from the zone they were given in. An unknown zone is left as given (read as UTC).
void UtcTimes(Json* content) {
  for (const char* name : {"start", "end"}) {
    WallTime wall = ReadWallTime(*content, name);
    if (!wall.ok || wall.zone == "UTC") continue;
    std::optional<TimeZone> zone = TimeZone::Find(wall.zone);
    if (!zone) continue;
    (*content)[name] = UtcDateTime(zone->ToUtc(wall.local));
  }
}

bool IsMember(const Item& item) {
  return item.event_type == EventType::kOccurrence || item.event_type == EventType::kException;
}

// The content of an occurrence: the master's, at its own times, without the pattern.
Json OccurrenceContent(const Json& master, const std::string& master_id, TimePoint original_start,
                       TimePoint start, TimePoint end) {
  Json content = master;
  content["type"] = "occurrence";
  content["seriesMasterId"] = master_id;
  content["recurrence"] = nullptr;
  content["originalStart"] = FormatSecondsZ(original_start);
  content["start"] = UtcDateTime(start);
  content["end"] = UtcDateTime(end);
  return content;
}

// Reads content["recurrence"] (null or absent: none) and writes it back as Graph prints
// it, recurrenceTimeZone filled in with the start's zone when the client gave none.
std::optional<ApiError> NormalizeRecurrence(Json* content, std::optional<Recurrence>* out) {
  out->reset();
  auto it = content->find("recurrence");
  if (it == content->end() || it->is_null()) return std::nullopt;
  auto parsed = ParseRecurrence(*it);
  if (auto* why = std::get_if<std::string>(&parsed)) return BadRecurrence(*why);
  Recurrence r = std::get<Recurrence>(parsed);
  if (r.range.recurrence_time_zone.empty()) {
    // The event's own zone: its times are kept in UTC (UtcTimes), the zone they were
    // given in is originalStartTimeZone.
    r.range.recurrence_time_zone =
        content->value("originalStartTimeZone", ReadWallTime(*content, "start").zone);
  }
  (*content)["recurrence"] = ToJson(r);
  *out = std::move(r);
  return std::nullopt;
}

// The occurrences of a master's series, from its range's start through its end, or for a
// series without an end through the horizon.
std::variant<std::vector<Occurrence>, std::string> ExpandSeries(const Json& master,
                                                                const Recurrence& r,
                                                                int horizon_days, TimePoint now) {
  WallTime start = ReadWallTime(master, "start");
  WallTime end = ReadWallTime(master, "end");
  if (!start.ok || !end.ok) return std::string("the event's start or end is not readable");
  std::optional<TimeZone> start_zone = TimeZone::Find(start.zone);
  std::optional<TimeZone> end_zone = TimeZone::Find(end.zone);
  if (!start_zone) return "unknown time zone '" + start.zone + "'";
  if (!end_zone) return "unknown time zone '" + end.zone + "'";
  const TimePoint first = start_zone->ToUtc(start.local);
  const TimePoint::duration duration = end_zone->ToUtc(end.local) - first;
  if (duration < TimePoint::duration::zero()) return std::string("the event ends before it starts");
  const TimePoint kLatest = TimePoint(std::chrono::sys_days(std::chrono::year{2200} / 1 / 1));
  const TimePoint window_start =
      TimePoint(std::chrono::sys_days(r.range.start_date)) - std::chrono::hours(48);
  TimePoint window_end;
  switch (r.range.type) {
    case RecurrenceRange::Type::kNoEnd:
      window_end = std::max(first, now) + std::chrono::hours(24) * horizon_days;
      break;
    case RecurrenceRange::Type::kEndDate:
      window_end = r.range.end_date < std::chrono::year{2200} / 1 / 1
                       ? TimePoint(std::chrono::sys_days(r.range.end_date)) + std::chrono::hours(48)
                       : kLatest;
      break;
    case RecurrenceRange::Type::kNumbered:
      // The count ends it; ExpandRecurrence's cap bounds the work. (TimePoint counts
      // nanoseconds: it ends in 2262.)
      window_end = kLatest;
      break;
  }
  return ExpandRecurrence(r, start.local, start.zone, duration, window_start, window_end);
}

}  // namespace

std::string SimulatorCore::OccurrenceId(const UserRecord& user, uint64_t master_key,
                                        TimePoint original_start) const {
  uint8_t bytes[20];
  PutUint64(master_key, bytes);
  PutUint64(static_cast<uint64_t>(ToTicks(original_start)), bytes + 8);
  uint64_t check = HashCombine(HashCombine(master_key, bytes[8]), options_.seed);
  for (int i = 0; i < 4; ++i) bytes[16 + i] = static_cast<uint8_t>(check >> (8 * i));
  return "AAMkAD" + user.id_part + "-BGAAO_" + Base64Url(bytes, sizeof(bytes)) + "AAA=";
}

std::optional<ApiError> SimulatorCore::CreateEventLocked(const UserRecord& user, Json content,
                                                         TimePoint now, Created* out,
                                                         std::vector<ItemChange>* changes) {
  Mailbox& mailbox = MailboxOf(user);
  std::optional<Recurrence> recurrence;
  NoteZones(content, &content);
  if (auto err = NormalizeRecurrence(&content, &recurrence)) return err;
  content["type"] = recurrence ? "seriesMaster" : "singleInstance";
  content["seriesMasterId"] = nullptr;
  content.erase("originalStart");
  auto item = std::make_unique<Item>();
  item->key = NextKey();
  item->id = ItemId(user, EntityKind::kEvent, item->key);
  item->event_type = recurrence ? EventType::kSeriesMaster : EventType::kSingleInstance;
  if (recurrence) {
    // Refuse a series that cannot be expanded (an unknown zone) before storing anything.
    auto expanded = ExpandSeries(content, *recurrence, options_.recurrence_horizon_days, now);
    if (auto* why = std::get_if<std::string>(&expanded)) return BadRecurrence(*why);
  }
  UtcTimes(&content);
  item->content = content.dump();
  for (TimePoint& t : item->times) t = now;
  SetEventSpan(content, item.get());
  const Item* stored = mailbox.events.Insert(std::move(item));
  Journal(mailbox, EntityKind::kEvent, stored->id, Place{}, PlaceOf(*stored), stored);
  out->id = stored->id;
  out->rendered = Render(EntityKind::kEvent, *stored, user, tenant_, {});
  ItemChange change = ChangeFor(ItemChange::Op::kCreate, user, *stored);
  if (notifier_.WantsContent()) change.content = std::make_shared<const Json>(out->rendered);
  changes->push_back(std::move(change));
  if (recurrence) {
    mailbox.series[out->id].recurrence = *recurrence;
    if (auto err = SyncSeries(user, mailbox, out->id, /*reset=*/true, now)) return err;
  }
  return std::nullopt;
}

std::optional<ApiError> SimulatorCore::SyncSeries(const UserRecord& user, Mailbox& mailbox,
                                                  const std::string& master_id, bool reset,
                                                  TimePoint now) {
  Collection& events = mailbox.events;
  const Item* master = events.Find(master_id);
  auto record = mailbox.series.find(master_id);
  if (!master || record == mailbox.series.end()) return NotFound();
  SeriesRecord& series = record->second;
  const Json master_content = ContentOf(EntityKind::kEvent, *master, user, tenant_);
  const uint64_t master_key = master->key;
  const TimePoint created = master->time(TimeField::kCreated);
  auto expanded =
      ExpandSeries(master_content, series.recurrence, options_.recurrence_horizon_days, now);
  if (auto* why = std::get_if<std::string>(&expanded)) return BadRecurrence(*why);
  if (reset) series.cancelled.clear();

  std::map<int64_t, Occurrence> wanted;
  for (const Occurrence& o : std::get<std::vector<Occurrence>>(expanded)) {
    const int64_t key = ToTicks(o.original_start);
    if (!series.cancelled.count(key)) wanted.emplace(key, o);
  }
  // Members the pattern no longer has go.
  for (auto it = series.members.begin(); it != series.members.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    std::unique_ptr<Item> gone = events.Remove(it->second);
    if (gone) Journal(mailbox, EntityKind::kEvent, gone->id, PlaceOf(*gone), Place{}, nullptr);
    it = series.members.erase(it);
  }
  for (const auto& [key, o] : wanted) {
    auto member = series.members.find(key);
    std::unique_ptr<Item> item;
    Place before;
    if (member != series.members.end()) {
      item = events.Remove(member->second);
    }
    if (item) {
      before = PlaceOf(*item);
      // Without a reset an exception keeps its own fields and times.
      if (!reset && item->event_type == EventType::kException) {
        events.Insert(std::move(item));
        continue;
      }
      ++item->version;
    } else {
      item = std::make_unique<Item>();
      item->key = NextKey();
      item->id = OccurrenceId(user, master_key, o.original_start);
      item->times[static_cast<int>(TimeField::kCreated)] = created;
      item->times[static_cast<int>(TimeField::kReceived)] = created;
    }
    item->times[static_cast<int>(TimeField::kModified)] = now;
    item->event_type = EventType::kOccurrence;
    item->series_master_id = master_id;
    item->original_start = o.original_start;
    item->start = o.start;
    item->end = o.end;
    item->content =
        OccurrenceContent(master_content, master_id, o.original_start, o.start, o.end).dump();
    const Item* stored = events.Insert(std::move(item));
    series.members[key] = stored->id;
    Journal(mailbox, EntityKind::kEvent, stored->id, before, PlaceOf(*stored), stored);
  }
  return std::nullopt;
}

void SimulatorCore::DropSeries(Mailbox& mailbox, const std::string& master_id) {
  auto record = mailbox.series.find(master_id);
  if (record == mailbox.series.end()) return;
  for (const auto& [key, id] : record->second.members) {
    std::unique_ptr<Item> gone = mailbox.events.Remove(id);
    if (gone) Journal(mailbox, EntityKind::kEvent, gone->id, PlaceOf(*gone), Place{}, nullptr);
  }
  mailbox.series.erase(record);
}

void SimulatorCore::TouchMaster(const UserRecord& user, Mailbox& mailbox,
                                const std::string& master_id, TimePoint now,
                                std::vector<ItemChange>* changes) {
  const Item* existing = mailbox.events.Find(master_id);
  if (!existing) return;
  std::shared_ptr<const Json> before;
  if (notifier_.WantsContent()) {
    before = std::make_shared<const Json>(Render(EntityKind::kEvent, *existing, user, tenant_, {}));
  }
  std::unique_ptr<Item> master = mailbox.events.Remove(master_id);
  Place place = PlaceOf(*master);
  ++master->version;
  master->times[static_cast<int>(TimeField::kModified)] = now;
  const Item* stored = mailbox.events.Insert(std::move(master));
  Journal(mailbox, EntityKind::kEvent, stored->id, place, PlaceOf(*stored), stored);
  ItemChange change = ChangeFor(ItemChange::Op::kUpdate, user, *stored);
  change.before = std::move(before);
  if (notifier_.WantsContent()) {
    change.content =
        std::make_shared<const Json>(Render(EntityKind::kEvent, *stored, user, tenant_, {}));
  }
  changes->push_back(std::move(change));
}

std::optional<ApiError> SimulatorCore::UpdateEventLocked(const UserRecord& user,
                                                         const std::string& id, const Json& fields,
                                                         TimePoint now, Json* rendered,
                                                         std::vector<ItemChange>* changes) {
  Mailbox& mailbox = MailboxOf(user);
  Collection& events = mailbox.events;
  const Item* existing = events.Find(id);
  if (!existing) return NotFound();
  const Json old_content = ContentOf(EntityKind::kEvent, *existing, user, tenant_);
  Json content = old_content;
  if (auto err = ApplyFields(EntityKind::kEvent, fields, &content)) return err;
  if (fields.is_object()) NoteZones(fields, &content);
  const EventType type = existing->event_type;
  const bool member = IsMember(*existing);
  if (member && fields.is_object() && fields.contains("recurrence") &&
      !fields["recurrence"].is_null()) {
    return ApiError{400, "ErrorInvalidRequest",
                    "An occurrence or exception of a series cannot have a recurrence of its own."};
  }
  std::optional<Recurrence> recurrence;
  if (!member) {
    if (auto err = NormalizeRecurrence(&content, &recurrence)) return err;
    if (recurrence) {
      auto expanded = ExpandSeries(content, *recurrence, options_.recurrence_horizon_days, now);
      if (auto* why = std::get_if<std::string>(&expanded)) return BadRecurrence(*why);
    }
  }
  UtcTimes(&content);
  std::shared_ptr<const Json> state_before;
  if (notifier_.WantsContent()) {
    state_before =
        std::make_shared<const Json>(Render(EntityKind::kEvent, *existing, user, tenant_, {}));
  }
  std::unique_ptr<Item> item = events.Remove(id);
  Place before = PlaceOf(*item);
  if (member) {
    // A change of an occurrence makes it an exception: same id, its own fields.
    item->event_type = EventType::kException;
    content["type"] = "exception";
  } else {
    item->event_type = recurrence ? EventType::kSeriesMaster : EventType::kSingleInstance;
    content["type"] = recurrence ? "seriesMaster" : "singleInstance";
  }
  item->content = content.dump();
  item->times[static_cast<int>(TimeField::kModified)] = now;
  SetEventSpan(content, item.get());
  ++item->version;
  const Item* stored = events.Insert(std::move(item));
  Journal(mailbox, EntityKind::kEvent, stored->id, before, PlaceOf(*stored), stored);
  const std::string master_id = stored->series_master_id;
  if (rendered) *rendered = Render(EntityKind::kEvent, *stored, user, tenant_, {});

  if (member) {
    // Exchange keeps exceptions inside the master item: Graph notifies the master, not
    // the occurrence (CONFORMANCE.md, field reports).
    TouchMaster(user, mailbox, master_id, now, changes);
    return std::nullopt;
  }
  ItemChange change = ChangeFor(ItemChange::Op::kUpdate, user, *stored);
  change.before = std::move(state_before);
  if (notifier_.WantsContent()) {
    change.content =
        std::make_shared<const Json>(Render(EntityKind::kEvent, *stored, user, tenant_, {}));
  }
  changes->push_back(std::move(change));

  if (!recurrence) {
    if (type == EventType::kSeriesMaster) DropSeries(mailbox, id);  // no longer a series
    return std::nullopt;
  }
  const bool was_series = type == EventType::kSeriesMaster;
  // A new pattern or new times expand the series afresh: exceptions and cancellations go
  // ([MS-OXOCAL] 3.1.4.7.3.5 "Updating a Recurring Series"). Other changes reach the
  // occurrences; exceptions keep their own fields.
  auto differs = [&](const char* name) {
    return old_content.value(name, Json()) != content.value(name, Json());
  };
  const bool reset = !was_series || differs("recurrence") || differs("start") || differs("end");
  mailbox.series[id].recurrence = *recurrence;
  return SyncSeries(user, mailbox, id, reset, now);
}

std::optional<ApiError> SimulatorCore::DeleteEventLocked(const UserRecord& user,
                                                         const std::string& id, TimePoint now,
                                                         std::vector<ItemChange>* changes) {
  Mailbox& mailbox = MailboxOf(user);
  std::unique_ptr<Item> removed = mailbox.events.Remove(id);
  if (!removed) return NotFound();
  Journal(mailbox, EntityKind::kEvent, removed->id, PlaceOf(*removed), Place{}, nullptr);
  if (IsMember(*removed)) {
    // A cancelled occurrence: gone from instances and calendarView for good.
    auto record = mailbox.series.find(removed->series_master_id);
    if (record != mailbox.series.end()) {
      const int64_t key = ToTicks(removed->original_start);
      record->second.members.erase(key);
      record->second.cancelled.insert(key);
    }
    TouchMaster(user, mailbox, removed->series_master_id, now, changes);
    return std::nullopt;
  }
  ItemChange change = ChangeFor(ItemChange::Op::kDelete, user, *removed);
  if (notifier_.WantsContent()) {
    change.before =
        std::make_shared<const Json>(Render(EntityKind::kEvent, *removed, user, tenant_, {}));
  }
  changes->push_back(std::move(change));
  if (removed->event_type == EventType::kSeriesMaster) DropSeries(mailbox, id);
  return std::nullopt;
}

std::optional<ApiError> SimulatorCore::View(const UserRecord& user, TimePoint window_start,
                                            TimePoint window_end, const std::string& master_id,
                                            const std::vector<std::string>& select, size_t top,
                                            const std::optional<Cursor>& after,
                                            ListResult* out) const {
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  const Collection& events = MailboxOf(user).Listed(EntityKind::kEvent);
  if (!master_id.empty() && !events.Find(master_id)) return NotFound();
  std::vector<const Item*> matches;
  events.ForEach([&](const Item& item) {
    if (item.event_type == EventType::kSeriesMaster) return;
    if (!master_id.empty() && item.series_master_id != master_id) return;
    if (!(item.start < window_end && item.end > window_start)) return;
    if (after) {
      const int64_t start = ToTicks(item.start);
      if (start < after->keys[0] || (start == after->keys[0] && item.id <= after->id)) return;
    }
    matches.push_back(&item);
  });
  auto before = [](const Item* a, const Item* b) {
    return a->start != b->start ? a->start < b->start : a->id < b->id;
  };
  const size_t take = std::min(top, matches.size());
  std::partial_sort(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(take),
                    matches.end(), before);
  out->items.clear();
  for (size_t i = 0; i < take; ++i) {
    out->items.push_back(Render(EntityKind::kEvent, *matches[i], user, tenant_, select));
  }
  out->more = matches.size() > take;
  out->total = matches.size();
  if (take > 0) out->next = Cursor{{ToTicks(matches[take - 1]->start)}, matches[take - 1]->id};
  return std::nullopt;
}

std::vector<EventOccurrenceState> SimulatorCore::EventOccurrences(const UserRecord& user,
                                                                  TimePoint window_start,
                                                                  TimePoint window_end) const {
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  std::vector<const Item*> matches;
  MailboxOf(user).events.ForEach([&](const Item& item) {
    if (IsMember(item) && item.start < window_end && item.end > window_start) {
      matches.push_back(&item);
    }
  });
  std::sort(matches.begin(), matches.end(), [](const Item* a, const Item* b) {
    return a->start != b->start ? a->start < b->start : a->id < b->id;
  });
  std::vector<EventOccurrenceState> out;
  for (const Item* item : matches) {
    Json rendered = Render(EntityKind::kEvent, *item, user, tenant_, {});
    EventOccurrenceState state;
    state.id = item->id;
    state.series_master_id = item->series_master_id;
    state.type = item->event_type == EventType::kException ? "exception" : "occurrence";
    state.original_start = item->original_start;
    state.start = item->start;
    state.end = item->end;
    state.subject = rendered.value("subject", "");
    state.json = rendered.dump();
    out.push_back(std::move(state));
  }
  return out;
}

}  // namespace graphsim
