// Delta queries (GRAPH.md section 6): mail folder messages, contact folder contacts,
// calendarView, and the mail and contact folders themselves (mailFolders/delta,
// contactFolders/delta), with Graph's rounds (nextLink pages ending in a deltaLink),
// removed items, expired tokens and replayed pages.
//
// Every change of an item is journaled per mailbox with a sequence number and where the
// item was before and after it (folder; for events, start and end). A token holds a
// sequence number: a round without a token lists the state at the sequence where it began;
// a round from a delta token reports, for every item the journal touched in (token, now]
// within the scope, its current state if it is in the scope now, else `@removed` if it was
// in the scope at the token (calendarView: every touched event outside the window is
// `@removed`, as Microsoft's "event: delta" page says). Folders are journaled too (their
// creation, rename, deletion, a change of their child folders); a folder round reports
// the folders those entries, and message changes that moved a folder's counts, touched.
// Tokens are opaque (base64url) but self-contained: no state is kept per token, so
// expiring them all is an epoch bump.

#include <algorithm>
#include <charconv>
#include <map>
#include <unordered_map>

#include "tools/graphsim/errors.h"
#include "tools/graphsim/ids.h"
#include "tools/graphsim/simulator_core.h"

namespace graphsim {
namespace {

constexpr int kDefaultDeltaPageSize = 10;

struct Token {
  bool skip = false;  // $skiptoken (inside a round) or $deltatoken (between rounds)
  uint64_t epoch = 0;
  int64_t issued = 0;  // ticks: when its round (or, for a delta token, its link) was issued
  int user = 0;
  int kind = 0;
  int folder = -1;
  int64_t window_start = 0, window_end = 0;  // calendarView, ticks
  // Delta token: changes after this sequence. Listing round: the state at this sequence.
  // Change round: changes in (base, end].
  uint64_t base = 0;
  uint64_t end = 0;
  char mode = 'i';        // 'i': listing round, 'c': change round
  std::string pos, prev;  // where the next page / the page that made this token begin(s)
  bool replayed = false;  // the page that made this token was a replay
  std::string select;     // comma-joined $select
};

std::string EncodeToken(const Token& t) {
  std::string plain = "gsd1|";
  plain += t.skip ? "S" : "D";
  auto add = [&](const std::string& v) { plain += "|" + v; };
  add(std::to_string(t.epoch));
  add(std::to_string(t.issued));
  add(std::to_string(t.user));
  add(std::to_string(t.kind));
  add(std::to_string(t.folder));
  add(std::to_string(t.window_start));
  add(std::to_string(t.window_end));
  add(std::to_string(t.base));
  add(std::to_string(t.end));
  add(std::string(1, t.mode));
  add(t.pos);
  add(t.prev);
  add(t.replayed ? "1" : "0");
  add(t.select);
  return Base64Url(reinterpret_cast<const uint8_t*>(plain.data()), plain.size());
}

template <typename T>
bool ParseNumber(const std::string& text, T* out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

std::optional<Token> DecodeToken(const std::string& text, bool skip) {
  std::string plain;
  if (!Base64UrlDecode(text, &plain)) return std::nullopt;
  std::vector<std::string> parts = SplitTokenFields(plain);
  if (parts.size() != 16 || parts[0] != "gsd1" || parts[1] != (skip ? "S" : "D")) {
    return std::nullopt;
  }
  Token t;
  t.skip = skip;
  if (!ParseNumber(parts[2], &t.epoch) || !ParseNumber(parts[3], &t.issued) ||
      !ParseNumber(parts[4], &t.user) || !ParseNumber(parts[5], &t.kind) ||
      !ParseNumber(parts[6], &t.folder) || !ParseNumber(parts[7], &t.window_start) ||
      !ParseNumber(parts[8], &t.window_end) || !ParseNumber(parts[9], &t.base) ||
      !ParseNumber(parts[10], &t.end) || parts[11].size() != 1 ||
      (parts[11][0] != 'i' && parts[11][0] != 'c')) {
    return std::nullopt;
  }
  t.mode = parts[11][0];
  t.pos = parts[12];
  t.prev = parts[13];
  t.replayed = parts[14] == "1";
  t.select = parts[15];
  return t;
}

const char* TypeName(EntityKind kind) {
  switch (kind) {
    case EntityKind::kMessage:
      return "message";
    case EntityKind::kEvent:
      return "event";
    case EntityKind::kContact:
      break;
  }
  return "contact";
}

// The answer to an expired (or too old) token, per Options::delta_expired_style;
// `location`: the fresh first-request URL a 410 points at.
HttpResponse ExpiredAnswer(DeltaExpiredStyle style, const std::string& location, TimePoint now) {
  const std::string message =
      "The sync state generation is not found or has expired. Restart the synchronization "
      "without a delta token.";
  switch (style) {
    case DeltaExpiredStyle::kSyncStateNotFound400:
      return ErrorResponse(400, "syncStateNotFound", message, now);
    case DeltaExpiredStyle::kResyncRequired:
      return ErrorResponse(400, "resyncRequired",
                           "Resync required. Replace any local cached data with the data from "
                           "a new delta query without a delta token.",
                           now);
    case DeltaExpiredStyle::kGone410:
      break;
  }
  HttpResponse response = ErrorResponse(410, "syncStateNotFound", message, now);
  response.headers.emplace_back("Location", location);
  return response;
}

HttpResponse BadToken(TimePoint now) {
  return ErrorResponse(400, "BadRequest", "The delta or skip token is not valid here.", now);
}

// The properties of a folder round's items ("mailFolder resource type", "contactFolder
// resource type", v1.0), for $select.
const std::vector<std::string>& FolderProperties(int folders) {
  static const std::vector<std::string> kMail = {"id",
                                                 "displayName",
                                                 "parentFolderId",
                                                 "childFolderCount",
                                                 "unreadItemCount",
                                                 "totalItemCount",
                                                 "isHidden"};
  static const std::vector<std::string> kContact = {"id", "displayName", "parentFolderId"};
  return folders == SimulatorCore::kMailFolderRounds ? kMail : kContact;
}

std::optional<TimePoint> ParseWindowTime(const std::string& text) {
  if (auto t = ParseDateTimeOffset(text)) return t;
  return ParseLocalDateTime(text);  // no offset: UTC
}

}  // namespace

HttpResponse SimulatorCore::Delta(const HttpRequest& request, const UserRecord& user,
                                  const DeltaTarget& target, TimePoint now) {
  if (target.folders != 0) return FolderDelta(request, user, target, now);
  std::optional<std::string> delta_text, skip_text, start_text, end_text;
  std::vector<std::pair<std::string, std::string>> select_params;
  for (const auto& [name, value] : request.params) {
    std::string lower = ToLower(name);
    if (lower == "$deltatoken") {
      delta_text = value;
    } else if (lower == "$skiptoken") {
      skip_text = value;
    } else if (lower == "$select") {
      select_params.emplace_back(name, value);
    } else if (lower == "startdatetime") {
      start_text = value;
    } else if (lower == "enddatetime") {
      end_text = value;
    } else if (!name.empty() && name[0] == '$') {
      return ErrorResponse(400, "BadRequest",
                           "graphsim does not implement the query option '" + name +
                               "' on delta queries (page size: Prefer: odata.maxpagesize).",
                           now);
    }
  }
  if (delta_text && skip_text) {
    return ErrorResponse(400, "BadRequest",
                         "The query options '$deltatoken' and '$skiptoken' cannot be used "
                         "together.",
                         now);
  }
  if (!select_params.empty() && target.kind == EntityKind::kEvent) {
    return ErrorResponse(400, "BadRequest",
                         "The query option '$select' is not supported on calendarView delta.", now);
  }
  QueryOptions q;
  if (auto err = ParseQueryOptions(select_params, Entity(target.kind), QueryKind::kSingle, &q)) {
    return ErrorResponse(*err, now);
  }

  const uint64_t epoch = delta_epoch_.load();
  Token tok;
  bool have_token = delta_text || skip_text;
  if (have_token) {
    std::optional<Token> decoded = DecodeToken(delta_text ? *delta_text : *skip_text, !delta_text);
    if (!decoded || decoded->user != user.index || decoded->kind != static_cast<int>(target.kind) ||
        (target.kind != EntityKind::kEvent && decoded->folder != target.folder)) {
      return ErrorResponse(400, "BadRequest", "The delta or skip token is not valid here.", now);
    }
    tok = *decoded;
  } else {
    tok.epoch = epoch;
    tok.issued = ToTicks(now);
    tok.user = user.index;
    tok.kind = static_cast<int>(target.kind);
    tok.folder = target.folder;
    for (size_t i = 0; i < q.select.size(); ++i) tok.select += (i ? "," : "") + q.select[i];
    if (target.calendar_view) {
      std::optional<TimePoint> ws, we;
      if (start_text) ws = ParseWindowTime(*start_text);
      if (end_text) we = ParseWindowTime(*end_text);
      if (!start_text || !end_text) {
        return ErrorResponse(400, "ErrorInvalidParameter",
                             "This request requires a time window specified by the query string "
                             "parameters StartDateTime and EndDateTime.",
                             now);
      }
      if (!ws || !we) {
        return ErrorResponse(400, "ErrorInvalidParameter",
                             "The value of StartDateTime or EndDateTime is not a valid date.", now);
      }
      if (*we <= *ws) {
        return ErrorResponse(400, "ErrorInvalidParameter",
                             "EndDateTime must be later than StartDateTime.", now);
      }
      tok.window_start = ToTicks(*ws);
      tok.window_end = ToTicks(*we);
    }
  }
  std::vector<std::string> select;
  for (size_t start = 0; !tok.select.empty() && start <= tok.select.size();) {
    size_t comma = tok.select.find(',', start);
    select.push_back(tok.select.substr(start, comma == std::string::npos ? comma : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }

  auto expired = [&]() {
    std::string location = request.base_url + target.link_path;
    if (target.calendar_view) {
      location +=
          "?startDateTime=" + PercentEncode(FormatTicksZ(FromTicks(tok.window_start)), false) +
          "&endDateTime=" + PercentEncode(FormatTicksZ(FromTicks(tok.window_end)), false);
    }
    return ExpiredAnswer(options_.delta_expired_style, location, now);
  };
  if (have_token &&
      (tok.epoch != epoch || now - FromTicks(tok.issued) > options_.delta_token_lifetime)) {
    return expired();
  }

  size_t page_size =
      static_cast<size_t>(target.max_page_size > 0 ? target.max_page_size : kDefaultDeltaPageSize);
  const TimePoint window_start = FromTicks(tok.window_start);
  const TimePoint window_end = FromTicks(tok.window_end);
  auto in_scope = [&](const Place& p) {
    if (!p.exists) return false;
    switch (target.kind) {
      case EntityKind::kMessage:
        return p.folder == tok.folder;
      case EntityKind::kEvent:  // series masters are never in a calendarView
        return p.in_view && p.start < window_end && p.end > window_start;
      case EntityKind::kContact:
        return p.folder == tok.folder;  // one contact folder ("contact: delta")
    }
    return true;
  };
  const std::string type = std::string("#microsoft.graph.") + TypeName(target.kind);

  Json body{{"@odata.context",
             request.base_url + "/v1.0/$metadata#Collection(" + TypeName(target.kind) + ")"},
            {"value", Json::array()}};
  Json& value = body["value"];
  bool more = false;
  std::string next_pos;
  {
    std::shared_lock<std::shared_mutex> lock(data_mu_);
    const Mailbox& mailbox = MailboxOf(user);
    // With a listing lag, rounds see the listed view and the journal up to its sequence.
    const Collection& collection = mailbox.Listed(target.kind);
    const uint64_t visible_seq = mailbox.ListedSeq();
    if (have_token && tok.base < mailbox.journal_floor) return expired();
    if (!have_token) {  // a new listing round: the state now
      tok.mode = 'i';
      tok.base = visible_seq;
    } else if (delta_text) {  // a new change round: the changes since the token
      tok.mode = 'c';
      tok.end = std::max(tok.base, visible_seq);
      tok.issued = ToTicks(now);
      tok.pos = tok.prev = "0";
    }
    if (tok.end > mailbox.journal_seq || tok.base > mailbox.journal_seq) {
      return ErrorResponse(400, "BadRequest", "The delta or skip token is not valid here.", now);
    }
    bool replay = false;
    if (skip_text && options_.delta_replay_every > 0 && !tok.replayed &&
        ++delta_continuations_ % static_cast<uint64_t>(options_.delta_replay_every) == 0) {
      replay = true;
    }
    std::string start = replay ? tok.prev : tok.pos;
    tok.prev = start;
    tok.replayed = replay;
    auto render = [&](const Item& item) {
      Json out{{"@odata.type", type}};
      out.update(Render(target.kind, item, user, tenant_, select));
      value.push_back(std::move(out));
    };

    if (tok.mode == 'i' && target.kind != EntityKind::kEvent) {
      Collection::Query query;
      query.folder = tok.folder;
      query.top = page_size;
      if (!start.empty()) {
        query.after = DecodeSkipToken(start, 1);
        if (!query.after) {
          return ErrorResponse(400, "BadRequest", "The delta or skip token is not valid here.",
                               now);
        }
      }
      Collection::Page page = collection.Run(query);
      for (const Item* item : page.items) render(*item);
      more = page.more;
      if (!page.items.empty()) {
        next_pos = EncodeSkipToken(
            Collection::CursorOf(*page.items.back(), collection.EffectiveOrder({})));
      }
    } else if (tok.mode == 'i') {  // events in the window, by id
      std::vector<const Item*> matches;
      collection.ForEach([&](const Item& item) {
        if (in_scope(PlaceOf(item)) && item.id > start) matches.push_back(&item);
      });
      size_t take = std::min(page_size, matches.size());
      std::partial_sort(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(take),
                        matches.end(), [](const Item* a, const Item* b) { return a->id < b->id; });
      for (size_t i = 0; i < take; ++i) render(*matches[i]);
      more = matches.size() > take;
      if (take > 0) next_pos = matches[take - 1]->id;
    } else {  // changes in (base, end], by the first change of each item
      struct Touched {
        Place at_base;
        bool in_scope = false;
        bool viewable = false;  // events: was or is something a calendarView lists
      };
      std::vector<std::string> order;
      std::unordered_map<std::string, Touched> touched;
      auto first = std::partition_point(mailbox.journal.begin(), mailbox.journal.end(),
                                        [&](const JournalEntry& e) { return e.seq <= tok.base; });
      for (auto it = first; it != mailbox.journal.end() && it->seq <= tok.end; ++it) {
        if (it->space != Space::kItem || it->kind != target.kind) continue;
        auto [slot, inserted] = touched.try_emplace(it->id);
        if (inserted) {
          slot->second.at_base = it->before;
          order.push_back(it->id);
        }
        slot->second.in_scope =
            slot->second.in_scope || in_scope(it->before) || in_scope(it->after);
        slot->second.viewable = slot->second.viewable ||
                                (it->before.exists && it->before.in_view) ||
                                (it->after.exists && it->after.in_view);
      }
      // calendarView ("event: delta", Response): events outside the window that were
      // added, updated or deleted since the token come as `@removed` too, for the client
      // to filter by its own range.
      const bool every_touched = target.kind == EntityKind::kEvent;
      std::vector<const std::string*> relevant;
      for (const std::string& id : order) {
        // A series master's own changes are not calendarView's (its occurrences' are).
        if ((every_touched && touched[id].viewable) || touched[id].in_scope) {
          relevant.push_back(&id);
        }
      }
      size_t offset = 0;
      if (!ParseNumber(start, &offset) || offset > relevant.size()) {
        return ErrorResponse(400, "BadRequest", "The delta or skip token is not valid here.", now);
      }
      size_t stop = std::min(relevant.size(), offset + page_size);
      for (size_t i = offset; i < stop; ++i) {
        const std::string& id = *relevant[i];
        const Item* item = collection.Find(id);
        if (item && in_scope(PlaceOf(*item))) {
          render(*item);
        } else if (every_touched || in_scope(touched[id].at_base)) {
          value.push_back(
              Json{{"@odata.type", type}, {"id", id}, {"@removed", Json{{"reason", "deleted"}}}});
        }
        // else: created and gone again since the token; the client never saw it.
      }
      more = stop < relevant.size();
      next_pos = std::to_string(stop);
    }
  }

  if (more && options_.delta_empty_page_every > 1 &&
      ++delta_next_links_ % static_cast<uint64_t>(options_.delta_empty_page_every) == 0) {
    // An empty page first; its nextLink asks for this page again.
    value.clear();
    next_pos = tok.prev;
  }
  served_delta_ += value.size();
  if (more) {
    Token next = tok;
    next.skip = true;
    next.pos = next_pos;
    body["@odata.nextLink"] = request.base_url + target.link_path +
                              "?$skiptoken=" + PercentEncode(EncodeToken(next), false);
  } else {
    Token delta = tok;
    delta.skip = false;
    delta.issued = ToTicks(now);
    delta.base = tok.mode == 'i' ? tok.base : tok.end;
    delta.end = 0;
    delta.mode = 'i';
    delta.pos = delta.prev = "";
    delta.replayed = false;
    body["@odata.deltaLink"] = request.base_url + target.link_path +
                               "?$deltatoken=" + PercentEncode(EncodeToken(delta), false);
  }
  return JsonResponse(200, DumpJson(body));
}

}  // namespace graphsim

namespace graphsim {

// Folder rounds follow item rounds' rules (tokens, pages, expiry, replays, empty pages);
// what differs is the scope (every live folder of the mailbox, one flat list) and what
// makes a folder changed: its own journal entries (created, renamed, its child folders
// changed, deleted) and, for mail folders, every message change that moved one of its
// counts (a message created, deleted or moved in or out, or read state changed).
HttpResponse SimulatorCore::FolderDelta(const HttpRequest& request, const UserRecord& user,
                                        const DeltaTarget& target, TimePoint now) {
  const bool mail = target.folders == kMailFolderRounds;
  const char* type_name = mail ? "mailFolder" : "contactFolder";
  std::optional<std::string> delta_text, skip_text;
  std::optional<std::string> select_text;
  for (const auto& [name, value] : request.params) {
    std::string lower = ToLower(name);
    if (lower == "$deltatoken") {
      delta_text = value;
    } else if (lower == "$skiptoken") {
      skip_text = value;
    } else if (lower == "$select") {
      if (select_text) {
        return ErrorResponse(400, "BadRequest",
                             "Query option '" + name +
                                 "' was specified more than once, but it must be specified at "
                                 "most once.",
                             now);
      }
      select_text = value;
    } else if (!name.empty() && name[0] == '$') {
      return ErrorResponse(400, "BadRequest",
                           "graphsim does not implement the query option '" + name +
                               "' on delta queries (page size: Prefer: odata.maxpagesize).",
                           now);
    }
  }
  if (delta_text && skip_text) {
    return ErrorResponse(400, "BadRequest",
                         "The query options '$deltatoken' and '$skiptoken' cannot be used "
                         "together.",
                         now);
  }
  std::vector<std::string> select;
  if (select_text) {
    for (const std::string& part : SplitList(*select_text)) {
      const std::string* found = nullptr;
      for (const std::string& p : FolderProperties(target.folders)) {
        if (ToLower(p) == ToLower(part)) found = &p;
      }
      if (!found) {
        return ErrorResponse(400, "BadRequest",
                             "Could not find a property named '" + part +
                                 "' on type 'microsoft.graph." + type_name + "'.",
                             now);
      }
      if (std::find(select.begin(), select.end(), *found) == select.end()) {
        select.push_back(*found);
      }
    }
  }

  const uint64_t epoch = delta_epoch_.load();
  Token tok;
  const bool have_token = delta_text || skip_text;
  if (have_token) {
    std::optional<Token> decoded = DecodeToken(delta_text ? *delta_text : *skip_text, !delta_text);
    if (!decoded || decoded->user != user.index || decoded->kind != target.folders) {
      return BadToken(now);
    }
    tok = *decoded;
    select.clear();
    for (const std::string& part : SplitList(tok.select)) {
      if (!part.empty()) select.push_back(part);
    }
  } else {
    tok.epoch = epoch;
    tok.issued = ToTicks(now);
    tok.user = user.index;
    tok.kind = target.folders;
    tok.folder = -1;
    for (size_t i = 0; i < select.size(); ++i) tok.select += (i ? "," : "") + select[i];
  }
  auto expired = [&]() {
    return ExpiredAnswer(options_.delta_expired_style, request.base_url + target.link_path, now);
  };
  if (have_token &&
      (tok.epoch != epoch || now - FromTicks(tok.issued) > options_.delta_token_lifetime)) {
    return expired();
  }

  const size_t page_size =
      static_cast<size_t>(target.max_page_size > 0 ? target.max_page_size : kDefaultDeltaPageSize);
  Json body{{"@odata.context", request.base_url + "/v1.0/$metadata#Collection(" + type_name + ")"},
            {"value", Json::array()}};
  Json& value = body["value"];
  bool more = false;
  std::string next_pos;
  {
    std::shared_lock<std::shared_mutex> lock(data_mu_);
    const Mailbox& mailbox = MailboxOf(user);
    if (have_token && tok.base < mailbox.journal_floor) return expired();
    if (!have_token) {  // a listing round: every folder now
      tok.mode = 'i';
      tok.base = mailbox.journal_seq;
    } else if (delta_text) {  // a change round: the folders changed since the token
      tok.mode = 'c';
      tok.end = std::max(tok.base, mailbox.journal_seq);
      tok.issued = ToTicks(now);
      tok.pos = tok.prev = "0";
    }
    if (tok.end > mailbox.journal_seq || tok.base > mailbox.journal_seq) return BadToken(now);
    bool replay = false;
    if (skip_text && options_.delta_replay_every > 0 && !tok.replayed &&
        ++delta_continuations_ % static_cast<uint64_t>(options_.delta_replay_every) == 0) {
      replay = true;
    }
    const std::string start = replay ? tok.prev : tok.pos;
    tok.prev = start;
    tok.replayed = replay;

    // The live folders now, by index, as the listing routes render them.
    std::map<int, Json> live;
    if (mail) {
      for (const MailFolderView& v : MailFolderViewsLocked(user, mailbox)) {
        live.emplace(v.index, MailFolderJson(v, user));
      }
    } else {
      const auto& folders = mailbox.contact_folders;
      for (size_t i = 1; i < folders.size(); ++i) {  // not the default folder
        if (folders[i].deleted) continue;
        const int parent = folders[i].parent;
        live.emplace(static_cast<int>(i),
                     Json{{"id", ContactFolderId(user, static_cast<int>(i))},
                          {"displayName", folders[i].display_name},
                          {"parentFolderId",
                           parent < 0 ? RootFolderId(user) : ContactFolderId(user, parent)}});
      }
    }
    auto render = [&](const Json& folder) {
      if (select.empty()) {
        value.push_back(folder);
        return;
      }
      Json out;
      for (auto it = folder.begin(); it != folder.end(); ++it) {
        const std::string& key = it.key();
        if (key == "@odata.type" || key == "id" ||
            std::find(select.begin(), select.end(), key) != select.end()) {
          out[key] = it.value();
        }
      }
      value.push_back(std::move(out));
    };
    auto folder_id = [&](int index) {
      return mail ? MailFolderId(user, index) : ContactFolderId(user, index);
    };

    if (tok.mode == 'i') {
      int after = -1;
      if (!start.empty() && !ParseNumber(start, &after)) return BadToken(now);
      auto it = live.upper_bound(after);
      size_t taken = 0;
      for (; it != live.end() && taken < page_size; ++it, ++taken) {
        render(it->second);
        next_pos = std::to_string(it->first);
      }
      more = it != live.end();
    } else {
      const Space space = mail ? Space::kMailFolder : Space::kContactFolder;
      std::vector<int> order;
      std::map<int, bool> existed_at_base;  // touched folders
      auto touch = [&](int index, bool existed) {
        if (existed_at_base.emplace(index, existed).second) order.push_back(index);
      };
      auto first = std::partition_point(mailbox.journal.begin(), mailbox.journal.end(),
                                        [&](const JournalEntry& e) { return e.seq <= tok.base; });
      for (auto it = first; it != mailbox.journal.end() && it->seq <= tok.end; ++it) {
        if (it->space == space) {
          touch(it->before.folder, it->before.exists);
        } else if (mail && it->space == Space::kItem && it->kind == EntityKind::kMessage) {
          // A folder whose counts this change moved (it held the message before or after).
          const Place& b = it->before;
          const Place& a = it->after;
          if (b.exists && (!a.exists || a.folder != b.folder || a.unread != b.unread)) {
            touch(b.folder, true);
          }
          if (a.exists && (!b.exists || a.folder != b.folder || a.unread != b.unread)) {
            touch(a.folder, true);
          }
        }
      }
      // Pages cut the touched folders by position (stable while the round is paged); a
      // page can come out short.
      size_t offset = 0;
      if (!ParseNumber(start, &offset) || offset > order.size()) return BadToken(now);
      const size_t stop = std::min(order.size(), offset + page_size);
      for (size_t i = offset; i < stop; ++i) {
        const int index = order[i];
        auto found = live.find(index);
        if (found != live.end()) {
          render(found->second);
        } else if (existed_at_base[index]) {
          value.push_back(
              Json{{"id", folder_id(index)}, {"@removed", Json{{"reason", "deleted"}}}});
        }
        // else: created and deleted since the token; the client never saw it.
      }
      more = stop < order.size();
      next_pos = std::to_string(stop);
    }
  }

  if (more && options_.delta_empty_page_every > 1 &&
      ++delta_next_links_ % static_cast<uint64_t>(options_.delta_empty_page_every) == 0) {
    value.clear();
    next_pos = tok.prev;
  }
  served_delta_ += value.size();
  if (more) {
    Token next = tok;
    next.skip = true;
    next.pos = next_pos;
    body["@odata.nextLink"] = request.base_url + target.link_path +
                              "?$skiptoken=" + PercentEncode(EncodeToken(next), false);
  } else {
    Token delta = tok;
    delta.skip = false;
    delta.issued = ToTicks(now);
    delta.base = tok.mode == 'i' ? tok.base : tok.end;
    delta.end = 0;
    delta.mode = 'i';
    delta.pos = delta.prev = "";
    delta.replayed = false;
    body["@odata.deltaLink"] = request.base_url + target.link_path +
                               "?$deltatoken=" + PercentEncode(EncodeToken(delta), false);
  }
  return JsonResponse(200, DumpJson(body));
}

}  // namespace graphsim
