// Simulator: the data model, seeding, and the direct C++ API. The HTTP surface lives in
// graph_routes.cc and sim_control.cc.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <set>
#include <thread>

#include "tools/graphsim/errors.h"
#include "tools/graphsim/graphsim.h"
#include "tools/graphsim/ids.h"
#include "tools/graphsim/simulator_core.h"

namespace graphsim {
namespace {

// Seeded timestamps lie in the 60 days before this instant, whatever the clock says, so
// that a seed always means the same data.
const TimePoint kSeedEpoch = std::chrono::sys_days{std::chrono::year{2026} / 1 / 1};
constexpr int64_t kSeedSpanSeconds = 60LL * 24 * 3600;

struct Person {
  const char* given;
  const char* surname;
};
constexpr Person kPeople[] = {{"Adele", "Vance"},   {"Alex", "Wilber"},    {"Diego", "Siciliani"},
                              {"Grady", "Archie"},  {"Isaiah", "Langer"},  {"Johanna", "Lorenz"},
                              {"Lee", "Gu"},        {"Lidia", "Holloway"}, {"Megan", "Bowen"},
                              {"Miriam", "Graham"}, {"Nestor", "Wilke"},   {"Patti", "Fernandez"},
                              {"Pradeep", "Gupta"}, {"Lynne", "Robbins"},  {"Henrietta", "Mueller"},
                              {"Joni", "Sherman"}};

constexpr const char* kKindMarkers[] = {"-BGAAA_", "-BGAAB_", "-BGAAC_"};

Json ParseFields(const std::string& text) {
  if (text.empty()) return Json::object();
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

ItemChange ChangeOf(ItemChange::Op op, const UserRecord& user, EntityKind kind, const Item& item) {
  ItemChange change;
  change.op = op;
  change.user = user.index;
  change.user_id = user.id;
  change.kind = kind;
  change.id = item.id;
  change.etag = "W/\"" + ChangeKey(item.key, item.version) + "\"";
  change.folder = item.folder;
  return change;
}

std::string TenantIdFor(uint64_t seed) {
  return FormatGuid(HashCombine(seed, 1), HashCombine(seed, 2));
}

// The item in full for rich subscriptions, if any may want it (see Notifier::WantsContent).
void AttachContent(const Notifier& notifier, const Json& rendered, ItemChange* change) {
  if (notifier.WantsContent()) change->content = std::make_shared<const Json>(rendered);
}

// The item as it was before the change, for subscriptions with a $filter (rendered only
// if any may want it).
std::shared_ptr<const Json> StateBefore(const Notifier& notifier, EntityKind kind, const Item& item,
                                        const UserRecord& owner, const TenantView& tenant) {
  if (!notifier.WantsContent()) return nullptr;
  return std::make_shared<const Json>(Render(kind, item, owner, tenant, {}));
}

ApiError ItemNotFound() {
  return ApiError{404, "ErrorItemNotFound", "The specified object was not found in the store."};
}

// A folder or calendar created or renamed without a name.
ApiError FolderNameMissing() {
  return ApiError{400, "ErrorInvalidParameter", "The folder name cannot be empty."};
}

// A folder or calendar named as a sibling already is (Exchange keeps sibling names unique).
ApiError FolderExists() {
  return ApiError{409, "ErrorFolderExists", "A folder with the specified name already exists."};
}

// A well-known folder (or the default calendar or Contacts folder) cannot be renamed or
// deleted.
ApiError DistinguishedFolder(const std::string& what) {
  return ApiError{400,
                  what == "deleted" ? "ErrorDeleteDistinguishedFolder" : "ErrorInvalidOperation",
                  "Distinguished folders cannot be " + what + "."};
}

// A message created in or moved to a mailSearchFolder: the documentation is silent; a
// search folder is a saved query, so graphsim refuses (CONFORMANCE.md).
ApiError SearchFolderHoldsNoItems() {
  return ApiError{400, "ErrorInvalidOperation",
                  "A search folder holds no items of its own; use one of its source folders."};
}

}  // namespace

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string part = path.substr(start, slash == std::string::npos ? slash : slash - start);
    if (!part.empty()) segments.push_back(std::move(part));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return segments;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? comma : comma - start);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    parts.push_back(std::move(part));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// --- construction and seeding -------------------------------------------------------

SimulatorCore::Collections::Collections()
    : messages(TimeField::kReceived, /*default_descending=*/true),
      events(TimeField::kCreated, false),
      contacts(TimeField::kCreated, false),
      contact_folders{ContactFolderRecord{"Contacts", -1, false}} {}

Collection& SimulatorCore::Collections::Of(EntityKind kind) {
  switch (kind) {
    case EntityKind::kMessage:
      return messages;
    case EntityKind::kEvent:
      return events;
    case EntityKind::kContact:
      break;
  }
  return contacts;
}

const Collection& SimulatorCore::Collections::Of(EntityKind kind) const {
  return const_cast<Collections*>(this)->Of(kind);
}

SimulatorCore::SimulatorCore(Options options, graphmirror::Clock* clock)
    : options_(std::move(options)),
      clock_(clock ? clock : graphmirror::SystemClock::Default()),
      manual_(dynamic_cast<graphmirror::ManualClock*>(clock_)),
      tokens_(options_, TenantIdFor(options_.seed), &access_),
      governor_(MailboxGovernor::Limits{
          std::max(1, options_.max_concurrent_per_mailbox),
          std::max(1, options_.requests_per_window), options_.window,
          std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::duration<double>(options_.throttle_retry_after_seconds)),
          options_.early_retry_grace}),
      signer_(options_.client_id, TenantIdFor(options_.seed), options_.validation_token_version),
      notifier_(
          options_, TenantIdFor(options_.seed), [this] { return Now(); }, &signer_),
      sharepoint_([this] { return Now(); }, TenantIdFor(options_.seed), options_.seed) {
  tenant_id_ = TenantIdFor(options_.seed);
  key_base_ = HashCombine(options_.seed, 0x1d);
  latency_ms_ = options_.handler_latency.count();
  SetRandomFaults(options_.random_faults);
  SeedUsers();
  tenant_ = TenantView{options_.seed, &users_};
  SeedItems();
}

SimulatorCore::~SimulatorCore() { notifier_.StopThread(); }

void SimulatorCore::SeedUsers() {
  Rng rng(HashCombine(options_.seed, 0x05e5));
  int n = std::max(0, options_.users);
  for (int i = 0; i < n; ++i) {
    UserRecord u;
    u.index = i;
    uint64_t hi = rng.Next(), lo = rng.Next();
    u.id = FormatGuid(hi, lo);
    const Person& p = kPeople[static_cast<size_t>(i) % std::size(kPeople)];
    u.given_name = p.given;
    u.surname = p.surname;
    u.display_name = u.given_name + " " + u.surname;
    std::string alias = ToLower(std::string(p.given) + p.surname[0]);
    if (static_cast<size_t>(i) >= std::size(kPeople)) {
      alias += std::to_string(static_cast<size_t>(i) / std::size(kPeople));
    }
    u.upn = alias + "@graphsim.onmicrosoft.com";
    u.upn_lower = ToLower(u.upn);
    uint8_t part[12];
    PutUint64(HashCombine(hi, lo), part);
    PutUint64(HashCombine(lo, hi), part + 4);
    u.id_part = Base64Url(part, sizeof(part));
    auto folder_id = [&](uint64_t salt) {
      uint8_t bytes[9];
      uint8_t word[8];
      PutUint64(HashCombine(HashCombine(hi, lo), salt), word);
      std::copy(word, word + 8, bytes);
      bytes[8] = static_cast<uint8_t>(salt);
      return "AAMkAD" + u.id_part + "-AAuAAAAAA_" + Base64Url(bytes, sizeof(bytes)) + "AQAAA=";
    };
    static const char* const kWellKnown[] = {"inbox", "drafts", "sentitems", "deleteditems",
                                             "archive"};
    static const char* const kNames[] = {"Inbox", "Drafts", "Sent Items", "Deleted Items",
                                         "Archive"};
    for (int f = 0; f < kHiddenFolder; ++f) {
      u.mail_folders.push_back(Folder{kWellKnown[f], kNames[f], folder_id(10 + f)});
    }
    Folder hidden{"", "Hidden Folder", folder_id(10 + kHiddenFolder)};
    hidden.hidden = true;
    u.mail_folders.push_back(hidden);
    Folder search{"", "Unread Mail", folder_id(10 + kSearchFolder)};
    search.parent = kInbox;
    search.search = true;
    u.mail_folders.push_back(search);
    u.contacts_folder = Folder{"", "Contacts", folder_id(30)};
    u.calendar = Folder{"calendar", "Calendar", folder_id(40)};
    user_index_[u.id] = i;
    user_index_[u.upn_lower] = i;
    users_.push_back(std::move(u));
  }
}

void SimulatorCore::Journal(Mailbox& mailbox, EntityKind kind, const std::string& id, Place before,
                            Place after, const Item* after_item) {
  mailbox.journal.push_back(JournalEntry{++mailbox.journal_seq, kind, id, before, after});
  if (mailbox.listed) {
    mailbox.pending.push_back(
        PendingListing{mailbox.journal_seq, Now(), kind, id,
                       after_item ? std::make_unique<Item>(*after_item) : nullptr});
  }
  TrimJournal(mailbox);
}

void SimulatorCore::JournalFolder(Mailbox& mailbox, Space space, int index, bool before,
                                  bool after) {
  JournalEntry entry;
  entry.seq = ++mailbox.journal_seq;
  entry.before = Place{before, index};
  entry.after = Place{after, index};
  entry.space = space;
  mailbox.journal.push_back(std::move(entry));
  TrimJournal(mailbox);
}

void SimulatorCore::TrimJournal(Mailbox& mailbox) {
  size_t cap = std::max<size_t>(1, options_.delta_journal_max_entries);
  while (mailbox.journal.size() > cap) {
    mailbox.journal_floor = mailbox.journal.front().seq;
    mailbox.journal.pop_front();
  }
}

uint64_t SimulatorCore::NextKey() { return Mix64(key_base_ + ++serial_); }

std::string SimulatorCore::ItemId(const UserRecord& user, EntityKind kind, uint64_t id_key) const {
  uint8_t bytes[12];
  PutUint64(id_key, bytes);
  uint64_t check = HashCombine(id_key, options_.seed);
  for (int i = 0; i < 4; ++i) bytes[8 + i] = static_cast<uint8_t>(check >> (8 * i));
  return "AAMkAD" + user.id_part + kKindMarkers[static_cast<int>(kind)] +
         Base64Url(bytes, sizeof(bytes)) + "AAA=";
}

void SimulatorCore::CatchUpListing(const UserRecord& user, TimePoint now) {
  if (options_.listing_lag.count() <= 0) return;
  const TimePoint visible_until = now - options_.listing_lag;
  auto due = [&](const Mailbox& m) {
    return !m.pending.empty() && m.pending.front().at <= visible_until;
  };
  {
    std::shared_lock<std::shared_mutex> lock(data_mu_);
    if (!due(MailboxOf(user))) return;
  }
  std::unique_lock<std::shared_mutex> lock(data_mu_);
  Mailbox& mailbox = MailboxOf(user);
  while (due(mailbox)) {
    PendingListing& change = mailbox.pending.front();
    Collection& listed = mailbox.listed->Of(change.kind);
    listed.Remove(change.id);
    if (change.after) listed.Insert(std::move(change.after));
    mailbox.listed_seq = change.seq;
    mailbox.pending.pop_front();
  }
}

void SimulatorCore::SeedItems() {
  std::unique_lock<std::shared_mutex> lock(data_mu_);
  const int counts[] = {options_.messages, options_.events, options_.contacts};
  for (const UserRecord& user : users_) {
    mailboxes_.push_back(std::make_unique<Mailbox>());
    for (const Folder& f : user.mail_folders) {
      mailboxes_.back()->mail_folders.push_back(
          MailFolderRecord{f.display_name, f.well_known, f.parent, f.hidden, f.search, false});
    }
    mailboxes_.back()->calendars.push_back(CalendarRecord{user.calendar.display_name, 0, false});
    if (options_.listing_lag.count() > 0) {
      mailboxes_.back()->listed = std::make_unique<Collections>();
    }
    for (int k = 0; k < kEntityKindCount; ++k) {
      auto kind = static_cast<EntityKind>(k);
      Collection& collection = mailboxes_.back()->Of(kind);
      Rng rng(HashCombine(HashCombine(options_.seed, static_cast<uint64_t>(user.index)),
                          static_cast<uint64_t>(100 + k)));
      TimePoint previous{};
      for (int i = 0; i < counts[k]; ++i) {
        auto item = std::make_unique<Item>();
        item->key = NextKey();
        item->id = ItemId(user, kind, item->key);
        TimePoint created;
        if (i > 0 && rng.OneIn(4)) {
          created = previous;  // deliberate ties: many items share one createdDateTime
        } else if (kind == EntityKind::kMessage) {
          created = kSeedEpoch - std::chrono::seconds(1 + rng.Below(kSeedSpanSeconds));
        } else {
          created = kSeedEpoch - Ticks(1 + rng.Below(kSeedSpanSeconds * 10'000'000LL));
          created = TruncateToTicks(created);
        }
        previous = created;
        TimePoint modified = created;
        if (rng.OneIn(3)) {
          auto span = std::chrono::duration_cast<std::chrono::seconds>(kSeedEpoch - created);
          modified = created + std::chrono::seconds(rng.Below(
                                   static_cast<uint64_t>(std::max<int64_t>(1, span.count()))));
        }
        item->times[static_cast<int>(TimeField::kCreated)] = created;
        item->times[static_cast<int>(TimeField::kModified)] = modified;
        item->times[static_cast<int>(TimeField::kReceived)] = created;
        if (kind == EntityKind::kMessage) {
          item->folder = SeedMessageFolder(item->key);
          item->unread = SeedMessageUnread(item->key);
        }
        if (kind == EntityKind::kEvent) {
          SetEventSpan(ContentOf(kind, *item, user, tenant_), item.get());
        }
        if (mailboxes_.back()->listed) {
          mailboxes_.back()->listed->Of(kind).Insert(std::make_unique<Item>(*item));
        }
        collection.Insert(std::move(item));
      }
    }
  }
}

// --- time and users -----------------------------------------------------------------

TimePoint SimulatorCore::Now() const {
  TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(time_mu_);
  return now + std::chrono::duration_cast<TimePoint::duration>(offset_);
}

void SimulatorCore::Advance(std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero()) return;
  if (manual_) {
    manual_->Advance(d);
    return;
  }
  std::lock_guard<std::mutex> lock(time_mu_);
  offset_ += d;
}

const UserRecord* SimulatorCore::FindUser(const std::string& key) const {
  auto it = user_index_.find(key);
  if (it == user_index_.end()) it = user_index_.find(ToLower(key));
  return it == user_index_.end() ? nullptr : &users_[static_cast<size_t>(it->second)];
}

int SimulatorCore::FindMailFolder(const UserRecord& user, const std::string& name_or_id) const {
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  return FindMailFolderLocked(user, MailboxOf(user), name_or_id);
}

int SimulatorCore::FindMailFolderLocked(const UserRecord& user, const Mailbox& mailbox,
                                        const std::string& name_or_id) const {
  const std::string lower = ToLower(name_or_id);
  for (size_t i = 0; i < mailbox.mail_folders.size(); ++i) {
    const MailFolderRecord& f = mailbox.mail_folders[i];
    if (f.deleted) continue;
    if ((!f.well_known.empty() && f.well_known == lower) ||
        MailFolderId(user, static_cast<int>(i)) == name_or_id) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

template <typename Records>
bool SimulatorCore::SiblingNamed(const Records& folders, int parent, const std::string& name,
                                 int except) {
  const std::string lower = ToLower(name);
  for (size_t i = 0; i < folders.size(); ++i) {
    if (static_cast<int>(i) == except || folders[i].deleted || folders[i].parent != parent) {
      continue;
    }
    if (ToLower(folders[i].display_name) == lower) return true;
  }
  return false;
}

// --- data operations ----------------------------------------------------------------

std::optional<ApiError> SimulatorCore::CreateItem(const UserRecord& user, EntityKind kind,
                                                  const Json& fields, int folder, bool draft,
                                                  Created* out) {
  TimePoint now = ItemPrecision(kind, Now());
  std::unique_lock<std::shared_mutex> lock(data_mu_);
  if (kind == EntityKind::kMessage) {
    const auto& folders = MailboxOf(user).mail_folders;
    if (folder < 0 || static_cast<size_t>(folder) >= folders.size() ||
        folders[static_cast<size_t>(folder)].deleted) {
      return ItemNotFound();  // deleted meanwhile
    }
    if (folders[static_cast<size_t>(folder)].search) return SearchFolderHoldsNoItems();
  }
  if (kind == EntityKind::kEvent) {
    Json content = DefaultContent(kind, user, 0, draft, now);
    if (auto err = ApplyFields(kind, fields, &content)) return err;
    std::vector<ItemChange> changes;
    if (auto err = CreateEventLocked(user, std::move(content), now, out, &changes)) return err;
    lock.unlock();
    for (const ItemChange& change : changes) notifier_.OnChange(change);
    return std::nullopt;
  }
  auto item = std::make_unique<Item>();
  item->key = NextKey();
  item->id = ItemId(user, kind, item->key);
  Json content = DefaultContent(kind, user, item->key, draft, now);
  if (auto err = ApplyFields(kind, fields, &content)) return err;
  item->content = content.dump();
  item->unread = kind == EntityKind::kMessage && !content.value("isRead", true);
  for (TimePoint& t : item->times) t = now;
  item->folder = kind == EntityKind::kEvent ? 0 : folder;
  if (kind == EntityKind::kEvent) SetEventSpan(content, item.get());
  const Item* stored = MailboxOf(user).Of(kind).Insert(std::move(item));
  Journal(MailboxOf(user), kind, stored->id, Place{}, PlaceOf(*stored), stored);
  out->id = stored->id;
  out->rendered = Render(kind, *stored, user, tenant_, {});
  ItemChange change = ChangeOf(ItemChange::Op::kCreate, user, kind, *stored);
  AttachContent(notifier_, out->rendered, &change);
  lock.unlock();
  notifier_.OnChange(change);
  return std::nullopt;
}

int SimulatorCore::FindContactFolder(const UserRecord& user, const std::string& id) const {
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  const auto& folders = MailboxOf(user).contact_folders;
  for (size_t i = 0; i < folders.size(); ++i) {
    if (!folders[i].deleted && ContactFolderId(user, static_cast<int>(i)) == id) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

std::optional<SimulatorCore::ContactFolderView> SimulatorCore::ContactFolderInfo(
    const UserRecord& user, int index) const {
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  const auto& folders = MailboxOf(user).contact_folders;
  if (index < 0 || static_cast<size_t>(index) >= folders.size()) return std::nullopt;
  const ContactFolderRecord& f = folders[static_cast<size_t>(index)];
  if (f.deleted) return std::nullopt;
  return ContactFolderView{
      index, ContactFolderId(user, index), f.display_name,
      f.parent < 0 ? "AAMkAD" + user.id_part + "-AAuAAAAAA_root" : ContactFolderId(user, f.parent)};
}

std::vector<SimulatorCore::ContactFolderView> SimulatorCore::ContactFolderChildren(
    const UserRecord& user, int parent) const {
  std::vector<ContactFolderView> out;
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  const auto& folders = MailboxOf(user).contact_folders;
  for (size_t i = 1; i < folders.size(); ++i) {
    if (folders[i].deleted || folders[i].parent != parent) continue;
    out.push_back(ContactFolderView{static_cast<int>(i), ContactFolderId(user, static_cast<int>(i)),
                                    folders[i].display_name, ContactFolderId(user, parent)});
  }
  return out;
}

std::optional<ApiError> SimulatorCore::CreateContactFolder(const UserRecord& user, int parent,
                                                           const std::string& display_name,
                                                           std::string* id) {
  std::unique_lock<std::shared_mutex> lock(data_mu_);
  auto& folders = MailboxOf(user).contact_folders;
  if (parent < 0 || static_cast<size_t>(parent) >= folders.size() ||
      folders[static_cast<size_t>(parent)].deleted) {
    return ItemNotFound();
  }
  if (display_name.empty()) return FolderNameMissing();
  if (SiblingNamed(folders, parent, display_name, -1)) return FolderExists();
  folders.push_back(ContactFolderRecord{display_name, parent, false});
  const int index = static_cast<int>(folders.size() - 1);
  JournalFolder(MailboxOf(user), Space::kContactFolder, index, false, true);
  *id = ContactFolderId(user, index);
  return std::nullopt;
}

std::optional<ApiError> SimulatorCore::RenameContactFolder(const UserRecord& user, int folder,
                                                           const std::string& display_name) {
  if (folder == 0) return DistinguishedFolder("renamed");
  if (display_name.empty()) return FolderNameMissing();
  std::unique_lock<std::shared_mutex> lock(data_mu_);
  auto& folders = MailboxOf(user).contact_folders;
  if (folder < 0 || static_cast<size_t>(folder) >= folders.size() ||
      folders[static_cast<size_t>(folder)].deleted) {
    return ItemNotFound();
  }
  ContactFolderRecord& f = folders[static_cast<size_t>(folder)];
  if (f.display_name == display_name) return std::nullopt;
  if (SiblingNamed(folders, f.parent, display_name, folder)) return FolderExists();
  f.display_name = display_name;
  JournalFolder(MailboxOf(user), Space::kContactFolder, folder, true, true);
  return std::nullopt;
}

std::optional<ApiError> SimulatorCore::DeleteContactFolder(const UserRecord& user, int folder) {
  if (folder == 0) {
    return ApiError{400, "ErrorDeleteDistinguishedFolder",
                    "Distinguished folders cannot be deleted."};
  }
  std::vector<ItemChange> changes;
  {
    std::unique_lock<std::shared_mutex> lock(data_mu_);
    Mailbox& mailbox = MailboxOf(user);
    auto& folders = mailbox.contact_folders;
    if (folder < 0 || static_cast<size_t>(folder) >= folders.size() ||
        folders[static_cast<size_t>(folder)].deleted) {
      return ItemNotFound();
    }
    // The folder and every folder under it (children always come after their parent).
    std::set<int> gone{folder};
    for (size_t i = static_cast<size_t>(folder) + 1; i < folders.size(); ++i) {
      if (!folders[i].deleted && gone.count(folders[i].parent)) gone.insert(static_cast<int>(i));
    }
    for (int f : gone) {
      folders[static_cast<size_t>(f)].deleted = true;
      JournalFolder(mailbox, Space::kContactFolder, f, true, false);
    }
    std::vector<std::string> ids;
    mailbox.contacts.ForEach([&](const Item& item) {
      if (gone.count(item.folder)) ids.push_back(item.id);
    });
    for (const std::string& id : ids) {
      std::unique_ptr<Item> removed = mailbox.contacts.Remove(id);
      Journal(mailbox, EntityKind::kContact, removed->id, PlaceOf(*removed), Place{}, nullptr);
      changes.push_back(ChangeOf(ItemChange::Op::kDelete, user, EntityKind::kContact, *removed));
      changes.back().before = StateBefore(notifier_, EntityKind::kContact, *removed, user, tenant_);
    }
  }
  for (const ItemChange& change : changes) notifier_.OnChange(change);
  return std::nullopt;
}

std::optional<ApiError> SimulatorCore::UpdateItem(const UserRecord& user, EntityKind kind,
                                                  const std::string& id, const Json& fields,
                                                  Json* rendered) {
  TimePoint now = ItemPrecision(kind, Now());
  std::unique_lock<std::shared_mutex> lock(data_mu_);
  if (kind == EntityKind::kEvent) {
    std::vector<ItemChange> changes;
    if (auto err = UpdateEventLocked(user, id, fields, now, rendered, &changes)) return err;
    lock.unlock();
    for (const ItemChange& change : changes) notifier_.OnChange(change);
    return std::nullopt;
  }
  Collection& collection = MailboxOf(user).Of(kind);
  const Item* existing = collection.Find(id);
  if (!existing) return ItemNotFound();
  Json content = ContentOf(kind, *existing, user, tenant_);
  if (auto err = ApplyFields(kind, fields, &content)) return err;
  std::shared_ptr<const Json> state_before = StateBefore(notifier_, kind, *existing, user, tenant_);
  std::unique_ptr<Item> item = collection.Remove(id);
  Place before = PlaceOf(*item);
  item->content = content.dump();
  item->unread = kind == EntityKind::kMessage && !content.value("isRead", true);
  item->times[static_cast<int>(TimeField::kModified)] = now;
  if (kind == EntityKind::kEvent) SetEventSpan(content, item.get());
  ++item->version;
  const Item* stored = collection.Insert(std::move(item));
  Journal(MailboxOf(user), kind, stored->id, before, PlaceOf(*stored), stored);
  ItemChange change = ChangeOf(ItemChange::Op::kUpdate, user, kind, *stored);
  change.before = std::move(state_before);
  if (rendered || notifier_.WantsContent()) {
    Json full = Render(kind, *stored, user, tenant_, {});
    AttachContent(notifier_, full, &change);
    if (rendered) *rendered = std::move(full);
  }
  lock.unlock();
  notifier_.OnChange(change);
  return std::nullopt;
}

std::optional<ApiError> SimulatorCore::DeleteItem(const UserRecord& user, EntityKind kind,
                                                  const std::string& id) {
  TimePoint now = ItemPrecision(kind, Now());
  std::unique_lock<std::shared_mutex> lock(data_mu_);
  if (kind == EntityKind::kEvent) {
    std::vector<ItemChange> changes;
    if (auto err = DeleteEventLocked(user, id, now, &changes)) return err;
    lock.unlock();
    for (const ItemChange& change : changes) notifier_.OnChange(change);
    return std::nullopt;
  }
  std::unique_ptr<Item> removed = MailboxOf(user).Of(kind).Remove(id);
  if (!removed) return ItemNotFound();
  Journal(MailboxOf(user), kind, removed->id, PlaceOf(*removed), Place{}, nullptr);
  ItemChange change = ChangeOf(ItemChange::Op::kDelete, user, kind, *removed);
  change.before = StateBefore(notifier_, kind, *removed, user, tenant_);
  lock.unlock();
  notifier_.OnChange(change);
  return std::nullopt;
}

std::optional<ApiError> SimulatorCore::MoveMessage(const UserRecord& user, const std::string& id,
                                                   int folder, bool immutable_ids, Created* out) {
  TimePoint now = ItemPrecision(EntityKind::kMessage, Now());
  std::unique_lock<std::shared_mutex> lock(data_mu_);
  const auto& folders = MailboxOf(user).mail_folders;
  if (folder < 0 || static_cast<size_t>(folder) >= folders.size() ||
      folders[static_cast<size_t>(folder)].deleted) {
    return ItemNotFound();  // deleted meanwhile
  }
  if (folders[static_cast<size_t>(folder)].search) return SearchFolderHoldsNoItems();
  Collection& messages = MailboxOf(user).messages;
  std::unique_ptr<Item> item = messages.Remove(id);
  if (!item) return ItemNotFound();
  std::string old_id = item->id;
  int old_folder = item->folder;
  Place before = PlaceOf(*item);
  std::shared_ptr<const Json> state_before =
      StateBefore(notifier_, EntityKind::kMessage, *item, user, tenant_);
  item->folder = folder;
  item->times[static_cast<int>(TimeField::kModified)] = now;
  ++item->version;
  // Exchange gives a moved item a new id (the old one is gone), unless the client asked
  // for immutable ids. The item's key (change keys, seeded content) stays.
  if (!immutable_ids) item->id = ItemId(user, EntityKind::kMessage, NextKey());
  const Item* stored = messages.Insert(std::move(item));
  if (stored->id == old_id) {
    Journal(MailboxOf(user), EntityKind::kMessage, old_id, before, PlaceOf(*stored), stored);
  } else {  // a new id: the old item is gone, a new one appears
    Journal(MailboxOf(user), EntityKind::kMessage, old_id, before, Place{}, nullptr);
    Journal(MailboxOf(user), EntityKind::kMessage, stored->id, Place{}, PlaceOf(*stored), stored);
  }
  out->id = stored->id;
  out->rendered = Render(EntityKind::kMessage, *stored, user, tenant_, {});
  ItemChange change = ChangeOf(ItemChange::Op::kMove, user, EntityKind::kMessage, *stored);
  AttachContent(notifier_, out->rendered, &change);
  change.old_id = std::move(old_id);
  change.old_folder = old_folder;
  change.before = std::move(state_before);
  lock.unlock();
  notifier_.OnChange(change);
  return std::nullopt;
}

std::optional<ApiError> SimulatorCore::GetItem(const UserRecord& user, EntityKind kind,
                                               const std::string& id,
                                               const std::vector<std::string>& select,
                                               Json* rendered, BodyType body_type) const {
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  const Item* item = MailboxOf(user).Of(kind).Find(id);
  if (!item) return ItemNotFound();
  *rendered = Render(kind, *item, user, tenant_, select, body_type);
  return std::nullopt;
}

size_t SimulatorCore::Count(const UserRecord& user, EntityKind kind) const {
  if (kind == EntityKind::kEvent) return Ids(user, kind).size();
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  return MailboxOf(user).Of(kind).size();
}

std::vector<std::string> SimulatorCore::Ids(const UserRecord& user, EntityKind kind) const {
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  const Collection& collection = MailboxOf(user).Of(kind);
  if (kind != EntityKind::kEvent) return collection.Ids();
  // What GET /events lists: occurrences and exceptions are not among them.
  std::vector<std::string> ids;
  collection.ForEach([&](const Item& item) {
    if (item.event_type == EventType::kSingleInstance ||
        item.event_type == EventType::kSeriesMaster) {
      ids.push_back(item.id);
    }
  });
  std::sort(ids.begin(), ids.end());
  return ids;
}

// --- mail folders ---------------------------------------------------------------------

std::vector<SimulatorCore::MailFolderView> SimulatorCore::MailFolderViewsLocked(
    const UserRecord& user, const Mailbox& mailbox) const {
  const auto& folders = mailbox.mail_folders;
  std::vector<int> total(folders.size(), 0), unread(folders.size(), 0), children(folders.size(), 0);
  mailbox.messages.ForEach([&](const Item& item) {
    auto f = static_cast<size_t>(item.folder);
    if (f >= folders.size()) return;
    ++total[f];
    if (item.unread) ++unread[f];
  });
  for (const MailFolderRecord& f : folders) {
    if (!f.deleted && f.parent >= 0) ++children[static_cast<size_t>(f.parent)];
  }
  std::vector<MailFolderView> views;
  for (size_t i = 0; i < folders.size(); ++i) {
    const MailFolderRecord& f = folders[i];
    if (f.deleted) continue;
    MailFolderView v;
    v.index = static_cast<int>(i);
    v.parent = f.parent;
    v.id = MailFolderId(user, v.index);
    v.display_name = f.display_name;
    v.parent_folder_id = f.parent < 0 ? RootFolderId(user) : MailFolderId(user, f.parent);
    v.child_folder_count = children[i];
    v.unread_item_count = unread[i];
    v.total_item_count = total[i];
    v.is_hidden = f.hidden;
    v.is_search_folder = f.search;
    v.well_known_name = f.well_known;
    views.push_back(std::move(v));
  }
  return views;
}

std::vector<SimulatorCore::MailFolderView> SimulatorCore::MailFolderViews(
    const UserRecord& user) const {
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  return MailFolderViewsLocked(user, MailboxOf(user));
}

std::optional<SimulatorCore::MailFolderView> SimulatorCore::MailFolderInfo(const UserRecord& user,
                                                                           int index) const {
  for (MailFolderView& v : MailFolderViews(user)) {
    if (v.index == index) return std::move(v);
  }
  return std::nullopt;
}

std::optional<ApiError> SimulatorCore::CreateMailFolder(const UserRecord& user, int parent,
                                                        const std::string& display_name,
                                                        bool hidden, std::string* id) {
  if (display_name.empty()) return FolderNameMissing();
  std::unique_lock<std::shared_mutex> lock(data_mu_);
  Mailbox& mailbox = MailboxOf(user);
  auto& folders = mailbox.mail_folders;
  if (parent >= 0) {
    if (static_cast<size_t>(parent) >= folders.size() ||
        folders[static_cast<size_t>(parent)].deleted) {
      return ItemNotFound();
    }
    if (folders[static_cast<size_t>(parent)].search) return SearchFolderHoldsNoItems();
  }
  if (SiblingNamed(folders, parent, display_name, -1)) return FolderExists();
  folders.push_back(MailFolderRecord{display_name, "", parent, hidden, false, false});
  const int index = static_cast<int>(folders.size() - 1);
  JournalFolder(mailbox, Space::kMailFolder, index, false, true);
  // The parent's childFolderCount changed: a change of the parent too.
  if (parent >= 0) JournalFolder(mailbox, Space::kMailFolder, parent, true, true);
  *id = MailFolderId(user, index);
  return std::nullopt;
}

std::optional<ApiError> SimulatorCore::RenameMailFolder(const UserRecord& user, int folder,
                                                        const std::string& display_name) {
  if (display_name.empty()) return FolderNameMissing();
  std::unique_lock<std::shared_mutex> lock(data_mu_);
  Mailbox& mailbox = MailboxOf(user);
  auto& folders = mailbox.mail_folders;
  if (folder < 0 || static_cast<size_t>(folder) >= folders.size() ||
      folders[static_cast<size_t>(folder)].deleted) {
    return ItemNotFound();
  }
  MailFolderRecord& f = folders[static_cast<size_t>(folder)];
  if (!f.well_known.empty()) return DistinguishedFolder("renamed");
  if (f.display_name == display_name) return std::nullopt;
  if (SiblingNamed(folders, f.parent, display_name, folder)) return FolderExists();
  f.display_name = display_name;
  JournalFolder(mailbox, Space::kMailFolder, folder, true, true);
  return std::nullopt;
}

std::optional<ApiError> SimulatorCore::DeleteMailFolder(const UserRecord& user, int folder) {
  std::vector<ItemChange> changes;
  {
    std::unique_lock<std::shared_mutex> lock(data_mu_);
    Mailbox& mailbox = MailboxOf(user);
    auto& folders = mailbox.mail_folders;
    if (folder < 0 || static_cast<size_t>(folder) >= folders.size() ||
        folders[static_cast<size_t>(folder)].deleted) {
      return ItemNotFound();
    }
    if (!folders[static_cast<size_t>(folder)].well_known.empty()) {
      return DistinguishedFolder("deleted");
    }
    // The folder and every folder under it (children always come after their parent).
    std::set<int> gone{folder};
    for (size_t i = static_cast<size_t>(folder) + 1; i < folders.size(); ++i) {
      if (!folders[i].deleted && gone.count(folders[i].parent)) gone.insert(static_cast<int>(i));
    }
    std::vector<std::string> ids;
    mailbox.messages.ForEach([&](const Item& item) {
      if (gone.count(item.folder)) ids.push_back(item.id);
    });
    std::sort(ids.begin(), ids.end());
    for (const std::string& id : ids) {
      std::unique_ptr<Item> removed = mailbox.messages.Remove(id);
      Journal(mailbox, EntityKind::kMessage, removed->id, PlaceOf(*removed), Place{}, nullptr);
      changes.push_back(ChangeOf(ItemChange::Op::kDelete, user, EntityKind::kMessage, *removed));
      changes.back().before = StateBefore(notifier_, EntityKind::kMessage, *removed, user, tenant_);
    }
    for (int f : gone) {
      folders[static_cast<size_t>(f)].deleted = true;
      JournalFolder(mailbox, Space::kMailFolder, f, true, false);
    }
    const int parent = folders[static_cast<size_t>(folder)].parent;
    if (parent >= 0) JournalFolder(mailbox, Space::kMailFolder, parent, true, true);
  }
  for (const ItemChange& change : changes) notifier_.OnChange(change);
  return std::nullopt;
}

// --- calendars ------------------------------------------------------------------------

SimulatorCore::CalendarView SimulatorCore::CalendarViewLocked(const UserRecord& user,
                                                              const Mailbox& mailbox,
                                                              int index) const {
  const CalendarRecord& c = mailbox.calendars[static_cast<size_t>(index)];
  CalendarView v;
  v.index = index;
  v.id = CalendarId(user, index);
  v.name = c.name;
  v.is_default_calendar = index == 0;
  v.change_key = ChangeKey(
      HashCombine(HashCombine(options_.seed, 0xca1e + user.index), static_cast<uint64_t>(index)),
      c.version);
  v.is_removable = index != 0;
  v.owner_name = user.display_name;
  v.owner_address = user.upn;
  return v;
}

std::vector<SimulatorCore::CalendarView> SimulatorCore::CalendarViews(
    const UserRecord& user) const {
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  const Mailbox& mailbox = MailboxOf(user);
  std::vector<CalendarView> views;
  for (size_t i = 0; i < mailbox.calendars.size(); ++i) {
    if (!mailbox.calendars[i].deleted) {
      views.push_back(CalendarViewLocked(user, mailbox, static_cast<int>(i)));
    }
  }
  return views;
}

int SimulatorCore::FindCalendar(const UserRecord& user, const std::string& id) const {
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  const auto& calendars = MailboxOf(user).calendars;
  for (size_t i = 0; i < calendars.size(); ++i) {
    if (!calendars[i].deleted && CalendarId(user, static_cast<int>(i)) == id) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

namespace {
// Calendars are not nested: every one is a sibling of every other.
bool CalendarNamed(const std::vector<std::string>& names, const std::string& name) {
  for (const std::string& n : names) {
    if (ToLower(n) == ToLower(name)) return true;
  }
  return false;
}
}  // namespace

std::optional<ApiError> SimulatorCore::CreateCalendar(const UserRecord& user,
                                                      const std::string& name, std::string* id) {
  if (name.empty()) return FolderNameMissing();
  std::unique_lock<std::shared_mutex> lock(data_mu_);
  auto& calendars = MailboxOf(user).calendars;
  std::vector<std::string> names;
  for (const CalendarRecord& c : calendars) {
    if (!c.deleted) names.push_back(c.name);
  }
  if (CalendarNamed(names, name)) return FolderExists();
  calendars.push_back(CalendarRecord{name, 0, false});
  *id = CalendarId(user, static_cast<int>(calendars.size() - 1));
  return std::nullopt;
}

std::optional<ApiError> SimulatorCore::RenameCalendar(const UserRecord& user, int index,
                                                      const std::string& name) {
  if (name.empty()) return FolderNameMissing();
  std::unique_lock<std::shared_mutex> lock(data_mu_);
  auto& calendars = MailboxOf(user).calendars;
  if (index < 0 || static_cast<size_t>(index) >= calendars.size() ||
      calendars[static_cast<size_t>(index)].deleted) {
    return ItemNotFound();
  }
  CalendarRecord& c = calendars[static_cast<size_t>(index)];
  if (c.name == name) return std::nullopt;
  std::vector<std::string> names;
  for (size_t i = 0; i < calendars.size(); ++i) {
    if (!calendars[i].deleted && static_cast<int>(i) != index) names.push_back(calendars[i].name);
  }
  if (CalendarNamed(names, name)) return FolderExists();
  c.name = name;
  ++c.version;
  return std::nullopt;
}

std::optional<ApiError> SimulatorCore::DeleteCalendar(const UserRecord& user, int index) {
  if (index == 0) return DistinguishedFolder("deleted");
  std::unique_lock<std::shared_mutex> lock(data_mu_);
  auto& calendars = MailboxOf(user).calendars;
  if (index < 0 || static_cast<size_t>(index) >= calendars.size() ||
      calendars[static_cast<size_t>(index)].deleted) {
    return ItemNotFound();
  }
  calendars[static_cast<size_t>(index)].deleted = true;
  return std::nullopt;
}

Json MailFolderJson(const MailFolderState& f, const UserRecord& owner) {
  Json out;
  // A search folder is listed with its derived type ("mailSearchFolder resource type").
  if (f.is_search_folder) out["@odata.type"] = "#microsoft.graph.mailSearchFolder";
  out["id"] = f.id;
  out["displayName"] = f.display_name;
  out["parentFolderId"] = f.parent_folder_id;
  out["childFolderCount"] = f.child_folder_count;
  out["unreadItemCount"] = f.unread_item_count;
  out["totalItemCount"] = f.total_item_count;
  out["isHidden"] = f.is_hidden;
  if (f.is_search_folder) {
    out["isSupported"] = true;
    out["includeNestedFolders"] = false;
    out["sourceFolderIds"] = Json::array({MailFolderId(owner, kInbox)});
    out["filterQuery"] = "isRead eq false";
  }
  return out;
}

Json CalendarJson(const CalendarState& c) {
  return Json{{"id", c.id},
              {"name", c.name},
              {"color", c.color},
              {"isDefaultCalendar", c.is_default_calendar},
              {"changeKey", c.change_key},
              {"canShare", c.can_share},
              {"canViewPrivateItems", c.can_view_private_items},
              {"canEdit", c.can_edit},
              {"isRemovable", c.is_removable},
              {"owner", Json{{"name", c.owner_name}, {"address", c.owner_address}}}};
}

std::vector<OrderKey> SimulatorCore::EffectiveOrder(EntityKind kind,
                                                    const std::vector<OrderKey>& order) const {
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  if (mailboxes_.empty()) return order;
  return mailboxes_[0]->Of(kind).EffectiveOrder(order);
}

SimulatorCore::ListResult SimulatorCore::List(const UserRecord& user, EntityKind kind,
                                              const Collection::Query& query,
                                              const std::vector<std::string>& select,
                                              BodyType body_type) const {
  std::shared_lock<std::shared_mutex> lock(data_mu_);
  const Collection& collection = MailboxOf(user).Listed(kind);
  Collection::Query run = query;
  if (run.filter && !run.filter->TimesOnly()) {
    run.matches = [&](const Item& item) {
      return run.filter->Matches(ItemFilterSubject(kind, item, user, tenant_));
    };
  }
  Collection::Page page = collection.Run(run);
  ListResult result;
  result.more = page.more;
  result.total = page.total;
  result.items.reserve(page.items.size());
  for (const Item* item : page.items)
    result.items.push_back(Render(kind, *item, user, tenant_, select, body_type));
  if (!page.items.empty()) {
    result.next = Collection::CursorOf(*page.items.back(), collection.EffectiveOrder(query.order));
  }
  return result;
}

// --- access -------------------------------------------------------------------------

const char* SimulatorCore::PermissionFor(EntityKind kind) {
  switch (kind) {
    case EntityKind::kMessage:
      return "Mail.Read";
    case EntityKind::kEvent:
      return "Calendars.Read";
    case EntityKind::kContact:
      break;
  }
  return "Contacts.Read";
}

std::optional<ApiError> SimulatorCore::AccessDenied(const UserRecord& user, EntityKind kind) const {
  return AccessDenied(user, std::vector<const char*>{PermissionFor(kind)});
}

std::optional<ApiError> SimulatorCore::AccessDenied(
    const UserRecord& user, const std::vector<const char*>& permissions) const {
  bool granted = false;
  for (const char* permission : permissions) granted = granted || access_.Granted(permission);
  if (!granted) {
    return ApiError{403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."};
  }
  if (!access_.MailboxAllowed(user.index)) {
    return ApiError{403, "ErrorAccessDenied", "Access to OData is disabled."};
  }
  return std::nullopt;
}

// --- faults -------------------------------------------------------------------------

void SimulatorCore::InjectStatus(int status, int count, double retry_after) {
  std::lock_guard<std::mutex> lock(faults_mu_);
  injected_ = InjectedStatus{status, retry_after};
  injected_count_ = std::max(0, count);
}

void SimulatorCore::InjectResets(int count) {
  std::lock_guard<std::mutex> lock(faults_mu_);
  resets_ = std::max(0, count);
}

void SimulatorCore::InjectLostCreateAnswers(int count) {
  std::lock_guard<std::mutex> lock(faults_mu_);
  lost_create_answers_ = std::max(0, count);
}

void SimulatorCore::SetRandomFaults(const RandomFaults& faults) {
  std::lock_guard<std::mutex> lock(faults_mu_);
  random_ = faults;
  random_rng_.seed(faults.seed);
}

SimulatorCore::RandomFault SimulatorCore::DrawRandomFault() {
  std::lock_guard<std::mutex> lock(faults_mu_);
  const double total =
      random_.throttle + random_.unavailable + random_.gateway_timeout + random_.reset;
  if (total <= 0) return RandomFault::kNone;
  double draw = std::uniform_real_distribution<double>(0, 1)(random_rng_);
  if ((draw -= random_.throttle) < 0) {
    ++random_counts_.throttled;
    return RandomFault::kThrottle;
  }
  if ((draw -= random_.unavailable) < 0) {
    ++random_counts_.unavailable;
    return RandomFault::kUnavailable;
  }
  if ((draw -= random_.gateway_timeout) < 0) {
    ++random_counts_.gateway_timeout;
    return RandomFault::kGatewayTimeout;
  }
  if ((draw -= random_.reset) < 0) {
    ++random_counts_.resets;
    return RandomFault::kReset;
  }
  return RandomFault::kNone;
}

RandomFaultCounts SimulatorCore::RandomFaultsServed() {
  std::lock_guard<std::mutex> lock(faults_mu_);
  return random_counts_;
}

void SimulatorCore::InjectForeignLinks(const std::string& base, int count,
                                       const std::string& link) {
  std::lock_guard<std::mutex> lock(faults_mu_);
  foreign_base_ = base;
  while (!foreign_base_.empty() && foreign_base_.back() == '/') foreign_base_.pop_back();
  foreign_link_ = link;
  foreign_count_ = std::max(0, count);
}

void SimulatorCore::RewriteForeignLinks(const HttpRequest& request, HttpResponse* response) {
  if (foreign_count_.load() <= 0 || response->status / 100 != 2) return;
  Json body = Json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) return;
  std::lock_guard<std::mutex> lock(faults_mu_);
  if (foreign_count_ <= 0) return;
  bool rewritten = false;
  for (const char* key : {"@odata.nextLink", "@odata.deltaLink"}) {
    const bool wanted = foreign_link_ == "any" ||
                        (foreign_link_ == "next" && key == std::string("@odata.nextLink")) ||
                        (foreign_link_ == "delta" && key == std::string("@odata.deltaLink"));
    auto it = body.find(key);
    if (!wanted || it == body.end() || !it->is_string()) continue;
    std::string link = it->get<std::string>();
    if (link.rfind(request.base_url, 0) != 0) continue;
    *it = foreign_base_ + link.substr(request.base_url.size());
    rewritten = true;
  }
  if (!rewritten) return;
  --foreign_count_;
  response->body = DumpJson(body);
}

void SimulatorCore::ClearFaults() {
  {
    std::lock_guard<std::mutex> lock(faults_mu_);
    injected_count_ = 0;
    resets_ = 0;
    lost_create_answers_ = 0;
    random_ = RandomFaults{};
    foreign_count_ = 0;
  }
  notifier_.ClearRichFaults();
}

std::optional<SimulatorCore::InjectedStatus> SimulatorCore::TakeInjectedStatus() {
  std::lock_guard<std::mutex> lock(faults_mu_);
  if (injected_count_ <= 0) return std::nullopt;
  --injected_count_;
  return injected_;
}

bool SimulatorCore::TakeReset() {
  std::lock_guard<std::mutex> lock(faults_mu_);
  if (resets_ <= 0) return false;
  --resets_;
  return true;
}

bool SimulatorCore::TakeLostCreateAnswer() {
  std::lock_guard<std::mutex> lock(faults_mu_);
  if (lost_create_answers_ <= 0) return false;
  --lost_create_answers_;
  return true;
}

bool SimulatorCore::TakeStaleUpn() {
  std::lock_guard<std::mutex> lock(faults_mu_);
  return upn_requests_++ % 3 == 0;
}

// --- HTTP entry point ---------------------------------------------------------------

// Outlook REST (outlook.office.com/api/v2.0, retired in March 2024) as it answered a token
// minted for Graph (seed 000): 401, and Exchange Online's WWW-Authenticate naming its own
// app id. graphsim mints no token for Outlook REST, so every request here gets it.
HttpResponse SimulatorCore::OutlookRestRefusal() {
  HttpResponse response;
  response.status = 401;
  response.headers.emplace_back(
      "WWW-Authenticate",
      "Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\", "
      "trusted_issuers=\"00000001-0000-0000-c000-000000000000@*\", "
      "token_types=\"app_asserted_user_v1 service_asserted_app_v1\", "
      "authorization_uri=\"https://login.windows.net/common/oauth2/authorize\", "
      "error=\"invalid_token\",Basic Realm=\"\",Basic Realm=\"\",Basic Realm=\"\"");
  response.headers.emplace_back("x-backendhttpstatus", "401, 401");
  return response;
}

// SharePoint Online's own 401 (not Graph's error shape): a JSON `error_description`, and
// the x-ms-diagnostics header naming the cause's category.
static HttpResponse SharePointUnauthorized(const std::string& description) {
  HttpResponse response;
  response.status = 401;
  response.content_type = "application/json; charset=utf-8";
  response.body = DumpJson(nlohmann::ordered_json{{"error_description", description}});
  response.headers.emplace_back("x-ms-diagnostics",
                                "3001000;reason=\"There has been an error authenticating the "
                                "request.\";category=\"invalid_client\"");
  response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"\"");
  return response;
}

std::optional<HttpResponse> SimulatorCore::CheckSharePointBearer(const HttpRequest& request,
                                                                 TimePoint now) const {
  TokenIssuer::Facts facts;
  if (std::optional<HttpResponse> refused = CheckBearer(request, now, &facts)) return refused;
  if (facts.resource != NormalizeOrigin(request.base_url)) {
    return SharePointUnauthorized("Invalid audience Uri '" + facts.resource + "'.");
  }
  if (!facts.certificate) return SharePointUnauthorized("Unsupported app only token.");
  // SharePoint API application permissions: reading items needs Sites.Read.All or more;
  // a list subscription (create, renew, delete) "Read and write items and lists in all
  // site collections" (Sites.Manage.All) or full control.
  const bool manage =
      access_.Granted("Sites.Manage.All") || access_.Granted("Sites.FullControl.All");
  const bool read =
      manage || access_.Granted("Sites.Read.All") || access_.Granted("Sites.ReadWrite.All");
  std::string path = request.path;
  for (char& c : path) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool subscription_call =
      path.find("/subscriptions") != std::string::npos && request.method != "GET";
  if (subscription_call ? !manage : !read) {
    HttpResponse denied;
    denied.status = 403;
    denied.content_type = "application/json; charset=utf-8";
    denied.body = DumpJson(nlohmann::ordered_json{
        {"odata.error",
         {{"code", "-2147024891, System.UnauthorizedAccessException"},
          {"message",
           {{"lang", "en-US"},
            {"value",
             "Access denied. You do not have permission to perform this action or access "
             "this resource."}}}}}});
    return denied;
  }
  return std::nullopt;
}

HttpResponse SimulatorCore::Handle(const HttpRequest& request) {
  TimePoint now = Now();
  std::vector<std::string> segments = SplitPath(request.path);
  HttpResponse response;
  if (!segments.empty() && segments[0] == "_sim") {
    response = HandleControl(request, segments);
  } else if (segments.size() == 4 && ToLower(segments[1]) == "oauth2" &&
             ToLower(segments[2]) == "v2.0" && ToLower(segments[3]) == "token") {
    if (request.method != "POST") {
      response = ErrorResponse(405, "BadRequest", "The token endpoint only accepts POST.", now);
    } else {
      response = tokens_.HandleTokenRequest(request, now);
    }
  } else if (!segments.empty() && segments[0] == "v1.0") {
    response = HandleGraph(request, segments, now);
  } else if (segments.size() >= 2 && ToLower(segments[0]) == "api") {
    response = OutlookRestRefusal();
  } else if (segments.size() >= 3 && ToLower(segments[0]) == "sites") {
    // SharePoint: /sites/{name}/_api/web/lists('{id}')/...
    if (std::optional<HttpResponse> refused = CheckSharePointBearer(request, now)) {
      response = std::move(*refused);
    } else if (std::optional<HttpResponse> answer = sharepoint_.Handle(request, now)) {
      response = std::move(*answer);
    } else {
      response = ErrorResponse(404, "NotFound", "No SharePoint API at " + request.path + ".", now);
    }
  } else if (std::optional<HttpResponse> discovery = HandleDiscovery(request, segments, now)) {
    response = std::move(*discovery);
  } else {
    response =
        ErrorResponse(400, "BadRequest",
                      "Invalid version: '" + (segments.empty() ? "" : segments[0]) + "'.", now);
  }
  if (response.reset_connection) return response;
  if (response.Header("request-id").empty()) {
    response.headers.emplace_back("request-id", NewRequestId());
  }
  std::string client_request_id = request.Header("client-request-id");
  if (!client_request_id.empty()) {
    response.headers.emplace_back("client-request-id", client_request_id);
  }
  response.headers.emplace_back("Date", FormatHttpDate(Now()));
  return response;
}

// --- Public API ---------------------------------------------------------------------------

std::string HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && ToLower(k) == ToLower(name)) return v;
  }
  return "";
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && ToLower(k) == ToLower(name)) return v;
  }
  return "";
}

Simulator::Simulator(Options options, graphmirror::Clock* clock)
    : impl_(std::make_unique<SimulatorCore>(std::move(options), clock)) {}

Simulator::~Simulator() { impl_->notifier_.StopThread(); }

const Options& Simulator::options() const { return impl_->options_; }

std::vector<std::string> Simulator::UserIds() const {
  std::vector<std::string> ids;
  for (const UserRecord& u : impl_->users()) ids.push_back(u.id);
  return ids;
}

std::vector<UserInfo> Simulator::Users() const {
  std::vector<UserInfo> users;
  for (const UserRecord& u : impl_->users()) users.push_back({u.id, u.upn, u.display_name});
  return users;
}

std::string Simulator::TenantId() const { return impl_->tenant_id(); }

std::string Simulator::CreateContactFolder(const std::string& user, const std::string& parent_id,
                                           const std::string& display_name) {
  const UserRecord* u = impl_->FindUser(user);
  if (!u) return "";
  int parent = parent_id.empty() ? 0 : impl_->FindContactFolder(*u, parent_id);
  if (parent < 0) return "";
  std::string id;
  if (impl_->CreateContactFolder(*u, parent, display_name, &id)) return "";
  return id;
}

bool Simulator::DeleteContactFolder(const std::string& user, const std::string& folder_id) {
  const UserRecord* u = impl_->FindUser(user);
  if (!u) return false;
  int folder = impl_->FindContactFolder(*u, folder_id);
  return folder > 0 && !impl_->DeleteContactFolder(*u, folder);
}

bool Simulator::RenameContactFolder(const std::string& user, const std::string& folder_id,
                                    const std::string& display_name) {
  const UserRecord* u = impl_->FindUser(user);
  if (!u) return false;
  int folder = impl_->FindContactFolder(*u, folder_id);
  return folder > 0 && !impl_->RenameContactFolder(*u, folder, display_name);
}

std::string Simulator::CreateMailFolder(const std::string& user, const std::string& parent,
                                        const std::string& display_name, bool hidden) {
  const UserRecord* u = impl_->FindUser(user);
  if (!u) return "";
  int parent_index = parent.empty() ? -1 : impl_->FindMailFolder(*u, parent);
  if (!parent.empty() && parent_index < 0) return "";
  std::string id;
  if (impl_->CreateMailFolder(*u, parent_index, display_name, hidden, &id)) return "";
  return id;
}

bool Simulator::RenameMailFolder(const std::string& user, const std::string& folder,
                                 const std::string& display_name) {
  const UserRecord* u = impl_->FindUser(user);
  if (!u) return false;
  int index = impl_->FindMailFolder(*u, folder);
  return index >= 0 && !impl_->RenameMailFolder(*u, index, display_name);
}

bool Simulator::DeleteMailFolder(const std::string& user, const std::string& folder) {
  const UserRecord* u = impl_->FindUser(user);
  if (!u) return false;
  int index = impl_->FindMailFolder(*u, folder);
  return index >= 0 && !impl_->DeleteMailFolder(*u, index);
}

std::string Simulator::CreateCalendar(const std::string& user, const std::string& name) {
  const UserRecord* u = impl_->FindUser(user);
  if (!u) return "";
  std::string id;
  if (impl_->CreateCalendar(*u, name, &id)) return "";
  return id;
}

bool Simulator::RenameCalendar(const std::string& user, const std::string& calendar_id,
                               const std::string& name) {
  const UserRecord* u = impl_->FindUser(user);
  if (!u) return false;
  int index = impl_->FindCalendar(*u, calendar_id);
  return index >= 0 && !impl_->RenameCalendar(*u, index, name);
}

bool Simulator::DeleteCalendar(const std::string& user, const std::string& calendar_id) {
  const UserRecord* u = impl_->FindUser(user);
  if (!u) return false;
  int index = impl_->FindCalendar(*u, calendar_id);
  return index >= 0 && !impl_->DeleteCalendar(*u, index);
}

std::vector<MailFolderState> Simulator::MailFolders(const std::string& user) const {
  const UserRecord* u = impl_->FindUser(user);
  if (!u) return {};
  std::vector<MailFolderState> out;
  for (SimulatorCore::MailFolderView& v : impl_->MailFolderViews(*u)) {
    out.push_back(static_cast<MailFolderState&&>(std::move(v)));
  }
  return out;
}

std::vector<ContactFolderState> Simulator::ContactFolders(const std::string& user) const {
  const UserRecord* u = impl_->FindUser(user);
  if (!u) return {};
  std::vector<ContactFolderState> out;
  std::vector<SimulatorCore::ContactFolderView> pending;
  if (auto root = impl_->ContactFolderInfo(*u, 0)) pending.push_back(*root);
  // Depth-first from the default folder; then sorted by index (creation order).
  std::vector<SimulatorCore::ContactFolderView> all;
  while (!pending.empty()) {
    SimulatorCore::ContactFolderView v = std::move(pending.back());
    pending.pop_back();
    for (auto& child : impl_->ContactFolderChildren(*u, v.index)) pending.push_back(child);
    all.push_back(std::move(v));
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  for (const auto& v : all) {
    out.push_back(ContactFolderState{v.id, v.display_name, v.parent_id, v.index == 0});
  }
  return out;
}

std::vector<CalendarState> Simulator::Calendars(const std::string& user) const {
  const UserRecord* u = impl_->FindUser(user);
  if (!u) return {};
  std::vector<CalendarState> out;
  for (SimulatorCore::CalendarView& v : impl_->CalendarViews(*u)) {
    out.push_back(static_cast<CalendarState&&>(std::move(v)));
  }
  return out;
}

std::string Simulator::MessageBody(const std::string& user, const std::string& id,
                                   bool text) const {
  try {
    const UserRecord* u = impl_->FindUser(user);
    if (!u) return "";
    Json rendered;
    if (impl_->GetItem(*u, EntityKind::kMessage, id, {"body"}, &rendered,
                       text ? BodyType::kText : BodyType::kHtml)) {
      return "";
    }
    const Json& body = rendered["body"];
    return body.is_object() ? body.value("content", "") : "";
  } catch (const std::exception& e) {
    spdlog::error("graphsim MessageBody: {}", e.what());
    return "";
  }
}

std::vector<EventOccurrenceState> Simulator::EventOccurrences(
    const std::string& user, graphmirror::TimePoint window_start,
    graphmirror::TimePoint window_end) const {
  try {
    const UserRecord* u = impl_->FindUser(user);
    if (!u) return {};
    return impl_->EventOccurrences(*u, window_start, window_end);
  } catch (const std::exception& e) {
    spdlog::error("graphsim EventOccurrences: {}", e.what());
    return {};
  }
}

std::string Simulator::CreateItem(const std::string& user, const std::string& collection,
                                  const std::string& fields_json, const std::string& folder) {
  try {
    const UserRecord* u = impl_->FindUser(user);
    auto kind = KindFromCollection(collection);
    Json fields = ParseFields(fields_json);
    if (!u || !kind || !fields.is_object()) return "";
    int folder_index = 0;
    if (*kind == EntityKind::kMessage) {
      folder_index = impl_->FindMailFolder(*u, folder);
      if (folder_index < 0) return "";
    } else if (*kind == EntityKind::kContact && !folder.empty() && folder != "inbox") {
      folder_index = impl_->FindContactFolder(*u, folder);
      if (folder_index < 0) return "";
    }
    const bool draft = *kind == EntityKind::kMessage && folder_index == kDrafts;
    SimulatorCore::Created created;
    if (impl_->CreateItem(*u, *kind, fields, folder_index, draft, &created)) {
      return "";
    }
    return created.id;
  } catch (const std::exception& e) {
    spdlog::error("graphsim CreateItem: {}", e.what());
    return "";
  }
}

bool Simulator::UpdateItem(const std::string& user, const std::string& collection,
                           const std::string& id, const std::string& fields_json) {
  try {
    const UserRecord* u = impl_->FindUser(user);
    auto kind = KindFromCollection(collection);
    Json fields = ParseFields(fields_json);
    if (!u || !kind || !fields.is_object()) return false;
    return !impl_->UpdateItem(*u, *kind, id, fields, nullptr);
  } catch (const std::exception& e) {
    spdlog::error("graphsim UpdateItem: {}", e.what());
    return false;
  }
}

bool Simulator::DeleteItem(const std::string& user, const std::string& collection,
                           const std::string& id) {
  try {
    const UserRecord* u = impl_->FindUser(user);
    auto kind = KindFromCollection(collection);
    if (!u || !kind) return false;
    return !impl_->DeleteItem(*u, *kind, id);
  } catch (const std::exception& e) {
    spdlog::error("graphsim DeleteItem: {}", e.what());
    return false;
  }
}

std::string Simulator::MoveMessage(const std::string& user, const std::string& id,
                                   const std::string& destination_folder, bool immutable_ids) {
  try {
    const UserRecord* u = impl_->FindUser(user);
    if (!u) return "";
    int folder = impl_->FindMailFolder(*u, destination_folder);
    if (folder < 0) return "";
    SimulatorCore::Created moved;
    if (impl_->MoveMessage(*u, id, folder, immutable_ids, &moved)) return "";
    return moved.id;
  } catch (const std::exception& e) {
    spdlog::error("graphsim MoveMessage: {}", e.what());
    return "";
  }
}

size_t Simulator::Count(const std::string& user, const std::string& collection) const {
  const UserRecord* u = impl_->FindUser(user);
  auto kind = KindFromCollection(collection);
  return u && kind ? impl_->Count(*u, *kind) : 0;
}

std::vector<std::string> Simulator::ItemIds(const std::string& user,
                                            const std::string& collection) const {
  const UserRecord* u = impl_->FindUser(user);
  auto kind = KindFromCollection(collection);
  if (!u || !kind) return {};
  return impl_->Ids(*u, *kind);
}

std::string Simulator::ItemJson(const std::string& user, const std::string& collection,
                                const std::string& id) const {
  try {
    const UserRecord* u = impl_->FindUser(user);
    auto kind = KindFromCollection(collection);
    if (!u || !kind) return "";
    Json rendered;
    if (impl_->GetItem(*u, *kind, id, {}, &rendered)) return "";
    return rendered.dump();
  } catch (const std::exception& e) {
    spdlog::error("graphsim ItemJson: {}", e.what());
    return "";
  }
}

void Simulator::ForceThrottle(const std::string& user, int next_n_requests) {
  const UserRecord* u = impl_->FindUser(user);
  if (u) impl_->governor_.Force(u->id, next_n_requests);
}

void Simulator::InjectStatus(int status, int next_n_requests, double retry_after_seconds) {
  impl_->InjectStatus(status, next_n_requests, retry_after_seconds);
}

void Simulator::InjectConnectionResets(int next_n_requests) {
  impl_->InjectResets(next_n_requests);
}

void Simulator::LoseSubscriptionCreateAnswers(int next_n) {
  impl_->InjectLostCreateAnswers(next_n);
}

void Simulator::ExpireAllTokens() { impl_->tokens_.ExpireAll(); }
void Simulator::ExpireDeltaTokens() { impl_->ExpireDeltaTokens(); }

void Simulator::ClearFaults() { impl_->ClearFaults(); }

void Simulator::SetRandomFaults(const RandomFaults& faults) { impl_->SetRandomFaults(faults); }

RandomFaultCounts Simulator::RandomFaultsServed() const { return impl_->RandomFaultsServed(); }

void Simulator::InjectForeignLinks(const std::string& base, int count, const std::string& link) {
  impl_->InjectForeignLinks(base, count, link);
}

void Simulator::SetPermission(const std::string& permission, bool granted) {
  impl_->access_.SetPermission(permission, granted);
}

void Simulator::SetMailboxAccess(const std::string& user, bool allowed) {
  const UserRecord* u = impl_->FindUser(user);
  if (u) impl_->access_.SetMailboxAllowed(u->index, allowed);
}

void Simulator::SetHandlerLatency(std::chrono::milliseconds latency) {
  impl_->latency_ms_ = latency.count();
}

MailboxStats Simulator::Stats(const std::string& user) const {
  const UserRecord* u = impl_->FindUser(user);
  return u ? impl_->governor_.Stats(u->id) : MailboxStats{};
}

int Simulator::MaxConcurrentObserved(const std::string& user) const {
  return Stats(user).max_concurrent_observed;
}

int Simulator::MaxConcurrentObservedAll() const {
  return impl_->governor_.MaxConcurrentObservedAll();
}

int Simulator::EarlyRetries(const std::string& user) const { return Stats(user).early_retries; }

int Simulator::ThrottledCount(const std::string& user) const { return Stats(user).throttled; }

uint64_t Simulator::RequestCount() const { return impl_->request_count_.load(); }

ItemsServed Simulator::Served() const {
  return ItemsServed{impl_->served_listed_.load(), impl_->served_delta_.load(),
                     impl_->served_by_id_.load()};
}

uint64_t Simulator::ItemGets() const {
  uint64_t total = 0;
  for (const UserRecord& u : impl_->users()) total += impl_->governor_.Stats(u.id).item_gets;
  return total;
}

graphmirror::Clock* Simulator::clock() const { return impl_->clock_; }

graphmirror::TimePoint Simulator::Now() const { return impl_->Now(); }

void Simulator::AdvanceClock(std::chrono::nanoseconds d) { impl_->Advance(d); }

std::vector<SubscriptionView> Simulator::Subscriptions() const {
  std::vector<SubscriptionView> views;
  bool more = false;
  for (const SubscriptionRecord& s :
       impl_->notifier_.List(0, std::numeric_limits<size_t>::max(), &more)) {
    views.push_back(SubscriptionView{
        s.id, s.resource, ChangeTypeText(s.changes), s.notification_url, s.lifecycle_url,
        s.client_state.value_or(""), s.expires, IsRich(s), s.certificate_id});
  }
  return views;
}

size_t Simulator::PumpDeliveries() { return impl_->notifier_.Pump() + impl_->sharepoint_.Pump(); }

void Simulator::StartDeliveryThread(std::chrono::milliseconds poll) {
  impl_->notifier_.StartThread(poll, [this] { impl_->sharepoint_.Pump(); });
}

std::string Simulator::AddSharePointList(const std::string& site, const std::string& title) {
  return impl_->sharepoint_.AddList(site, title);
}

int Simulator::CreateListItem(const std::string& list_id, const std::string& fields_json) {
  return impl_->sharepoint_.CreateItem(list_id, ParseFields(fields_json));
}

bool Simulator::UpdateListItem(const std::string& list_id, int item_id,
                               const std::string& fields_json) {
  return impl_->sharepoint_.UpdateItem(list_id, item_id, ParseFields(fields_json));
}

bool Simulator::DeleteListItem(const std::string& list_id, int item_id) {
  return impl_->sharepoint_.DeleteItem(list_id, item_id);
}

bool Simulator::RestoreListItem(const std::string& list_id, int item_id) {
  return impl_->sharepoint_.RestoreItem(list_id, item_id);
}

std::vector<int> Simulator::ListItemIds(const std::string& list_id) const {
  return impl_->sharepoint_.ItemIds(list_id);
}

std::string Simulator::ListItemJson(const std::string& list_id, int item_id) const {
  auto item = impl_->sharepoint_.Item(list_id, item_id);
  return item ? DumpJson(*item) : "";
}

void Simulator::ExpireListChangeTokens(const std::string& list_id, int status) {
  impl_->sharepoint_.ExpireChangeTokens(list_id, status);
}

void Simulator::DropNextListNotifications(int n) { impl_->sharepoint_.DropNextNotifications(n); }

std::vector<SharePointSubscriptionView> Simulator::ListSubscriptions() const {
  return impl_->sharepoint_.Subscriptions();
}

SharePointDeliveryStats Simulator::ListDeliveries() const { return impl_->sharepoint_.Stats(); }
SharePointRequestStats Simulator::ListRequests() const { return impl_->sharepoint_.Requests(); }
void Simulator::FailListItemPage(int after_pages, int status) {
  impl_->sharepoint_.FailItemPage(after_pages, status);
}

void Simulator::StopDeliveryThread() { impl_->notifier_.StopThread(); }

DeliveryStats Simulator::Deliveries() const { return impl_->notifier_.Stats(); }

std::vector<std::string> Simulator::AckedNotificationIds() const {
  std::vector<std::string> ids;
  for (const AckedNotification& a : impl_->notifier_.Acked()) {
    if (!a.id.empty()) ids.push_back(a.id);
  }
  return ids;
}

std::vector<AckedNotification> Simulator::AckedNotifications() const {
  return impl_->notifier_.Acked();
}

bool Simulator::EmitLifecycle(const std::string& subscription_id, const std::string& event) {
  return impl_->notifier_.EmitLifecycle(subscription_id, event);
}

bool Simulator::RemoveSubscription(const std::string& subscription_id) {
  return impl_->notifier_.Remove(subscription_id);
}

bool Simulator::ResetPassword(const std::string& user) {
  const UserRecord* u = impl_->FindUser(user);
  if (!u) return false;
  impl_->ResetPassword(*u);
  return true;
}

void Simulator::InjectRichFault(RichFault fault, int next_n) {
  impl_->notifier_.InjectRichFault(fault, next_n);
}

void Simulator::RotateSigningKey() { impl_->signer_.Rotate(); }

uint64_t Simulator::JwksRequests() const { return impl_->jwks_requests_.load(); }

HttpResponse Simulator::Handle(const HttpRequest& request) {
  try {
    return impl_->Handle(request);
  } catch (const std::exception& e) {
    spdlog::error("graphsim: {} {} failed: {}", request.method, request.path, e.what());
  } catch (...) {
    spdlog::error("graphsim: {} {} failed", request.method, request.path);
  }
  return ErrorResponse(500, "generalException", "An unexpected error occurred.", impl_->Now());
}

}  // namespace graphsim
