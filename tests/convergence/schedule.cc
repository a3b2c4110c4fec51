#include "tests/convergence/schedule.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>

#include "engine/config/config.h"
#include "engine/graph/graph_client.h"
#include "engine/rich/keygen.h"
#include "engine/store/store.h"
#include "engine/sync/live_sync.h"
#include "engine/sync/verify.h"
#include "tests/support/mirror_compare.h"
#include "tests/support/temp_dir.h"
#include "tools/graphsim/graphsim.h"

namespace graphmirror::convergence {

void Tally::Add(const Tally& other) {
  for (const auto& [k, v] : other.ops) ops[k] += v;
  for (const auto& [k, v] : other.faults) faults[k] += v;
  for (const auto& [k, v] : other.injected) injected[k] += v;
  for (const auto& [k, v] : other.engine) engine[k] += v;
}

namespace {

using Json = nlohmann::json;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr const char* kCollections[] = {"messages", "events", "contacts"};
constexpr const char* kFolders[] = {"inbox", "drafts", "sentitems", "deleteditems", "archive"};
constexpr char kListSite[] = "/sites/convergence";

// Quiescence gives up after this many rounds (each: Maintain, pump, RunOnce).
constexpr int kQuiesceRounds = 300;
// Mismatches printed per failing schedule.
constexpr size_t kShownMismatches = 8;

// 2026-03-01T00:00:00Z: after all seeded data (which lies before 2026-01-01).
TimePoint ScheduleStart() { return TimePoint(seconds(1772323200)); }

// "2026-03-01T10:00:00.0000000": an event's zone-less dateTime.
std::string LocalDateTime(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.0000000", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// The receiver's loopback port, held for the whole schedule by a bound socket that never
// listens: connections to the port are refused while the engine is down (as Graph finds a
// dead endpoint), no other socket of this process or another can take the port meanwhile
// (schedules run in parallel), and the receiver, binding with SO_REUSEADDR as this socket
// does, can bind it again at every restart.
class PortReservation {
 public:
  PortReservation() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int yes = 1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) != 0 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("cannot reserve a loopback port");
    }
    port_ = ntohs(addr.sin_port);
  }
  ~PortReservation() { ::close(fd_); }
  PortReservation(const PortReservation&) = delete;
  PortReservation& operator=(const PortReservation&) = delete;

  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

enum class Step {
  kContactFolder,
  kMailFolder,
  kCalendar,
  kCreate,
  kUpdate,
  kDelete,
  kMove,
  kMoveRoundTrip,
  kPump,
  kRunWorker,
  kMaintain,
  kAdvance,
  kDeliver,
  kList,
  kFault,
  kSeries,
};

class Schedule {
 public:
  Schedule(uint64_t seed, const Settings& settings)
      : seed_(seed),
        settings_(settings),
        rng_(seed * 0x9E3779B97F4A7C15ULL + 0x51ED),
        options_(ChooseOptions()),
        clock_(ScheduleStart()),
        sim_(options_, &clock_),
        server_(&sim_),
        db_path_(dir_.Path("mirror.db")) {
    for (const std::string& kind : FaultKinds()) {
      if (Enabled(kind) && !IsOptionFault(kind)) step_faults_.push_back(kind);
    }
  }

  ScheduleResult Run() {
    ScheduleResult result;
    result.seed = seed_;
    if (Status s = server_.Start("127.0.0.1", 0); !s.ok()) {
      Fail("harness error", "graphsim server: " + s.message());
    } else {
      users_ = sim_.UserIds();
      // A SharePoint list beside the mailboxes, mirrored through its own webhook.
      list_id_ = sim_.AddSharePointList(kListSite, "Tasks");
      list_site_ = server_.base_url() + kListSite;
      for (int i = 0; i < 3; ++i) ListCreate();
      config_ = MakeConfig();
      LearnFolders();
      // The mailbox as the engine first finds it is older than any listing lag.
      if (options_.listing_lag.count() > 0) clock_.Advance(options_.listing_lag + seconds(1));
      Log("options: " + DescribeOptions());
      if (StartEngine()) {
        for (step_ = 1; step_ <= settings_.steps; ++step_) {
          if (!Up() && step_ >= down_until_) {
            Log("engine restarts after downtime");
            StopEngine(/*process_exit=*/true);
            StartEngine();
          }
          RandomStep();
        }
        Check();
      }
    }
    CountObservedFaults();
    result.ok = errors_.empty();
    result.verdict = verdict_;
    if (!result.ok && !settings_.keep_dir.empty()) KeepMirror();
    for (const std::string& e : errors_) result.failure += e + "\n";
    result.tally = std::move(tally_);
    result.log = std::move(log_);
    return result;
  }

 private:
  // Records a failure; the first one names the schedule's verdict.
  void Fail(const std::string& verdict, const std::string& text) {
    if (verdict_ == "converged") verdict_ = verdict;
    errors_.push_back(verdict + ": " + text);
  }

  // --- set-up -------------------------------------------------------------------------

  static bool IsOptionFault(const std::string& kind) {
    return kind == "duplicate" || kind == "reorder" || kind == "delay" ||
           kind == "resource_style" || kind == "delta_replay" || kind == "delta_expired_style" ||
           kind == "rich" || kind == "listing_lag";
  }

  bool Enabled(const std::string& kind) const { return settings_.faults.count(kind) > 0; }

  graphsim::Options ChooseOptions() {
    graphsim::Options o;
    o.seed = seed_;
    o.users = 2;
    o.messages = 6 + static_cast<int>(Below(8));
    o.events = 3 + static_cast<int>(Below(4));
    o.contacts = 3 + static_cast<int>(Below(4));
    o.missed_on_drop = true;
    // The app's certificate: SharePoint takes app-only tokens obtained with one only.
    o.client_certificate_pem = KeyPair().certificate_pem;
    if (Enabled("duplicate") && Chance(40)) {
      o.duplicate_every = 1 + static_cast<int>(Below(3));
      ++tally_.injected["duplicate"];  // happened once a batch went twice
    }
    if (Enabled("reorder") && Chance(40)) {
      o.reorder_deliveries = true;
      Fault("reorder");
    }
    if (Enabled("delay") && Chance(40)) {
      static constexpr int kDelays[] = {5, 30, 90};
      o.delivery_delay = seconds(kDelays[Below(3)]);
      Fault("delay");
    }
    if (Enabled("resource_style") && Chance(50)) {
      static constexpr graphsim::ResourcePathStyle kStyles[] = {
          graphsim::ResourcePathStyle::kParen, graphsim::ResourcePathStyle::kMixed,
          graphsim::ResourcePathStyle::kTenant};
      o.resource_path_style = kStyles[Below(3)];
      Fault("resource_style");
    }
    if (Enabled("delta_replay") && Chance(40)) {
      o.delta_replay_every = 1 + static_cast<int>(Below(3));
      Fault("delta_replay");
    }
    if (Enabled("delta_expired_style") && Chance(50)) {
      o.delta_expired_style = Chance(50) ? graphsim::DeltaExpiredStyle::kSyncStateNotFound400
                                         : graphsim::DeltaExpiredStyle::kResyncRequired;
      Fault("delta_expired_style");
    }
    o.listing_lag = seconds(std::max(settings_.listing_lag, 0));
    if (settings_.listing_lag < 0 && Enabled("listing_lag")) {
      // Apart from rng_: a seed's changes and faults are the same whatever its lag.
      std::mt19937_64 lag_rng(seed_ ^ 0x1A66ED115ULL);
      static constexpr int kLags[] = {0, 0, 0, 5, 30, 120};
      o.listing_lag = seconds(kLags[lag_rng() % 6]);
    }
    if (o.listing_lag.count() > 0) Fault("listing_lag");
    return o;
  }

  std::string DescribeOptions() const {
    return "users=2 messages=" + std::to_string(options_.messages) +
           " events=" + std::to_string(options_.events) +
           " contacts=" + std::to_string(options_.contacts) +
           " duplicate_every=" + std::to_string(options_.duplicate_every) +
           " reorder=" + std::to_string(options_.reorder_deliveries) +
           " delay_ms=" + std::to_string(options_.delivery_delay.count()) +
           " resource_style=" + std::to_string(static_cast<int>(options_.resource_path_style)) +
           " delta_replay_every=" + std::to_string(options_.delta_replay_every) +
           " delta_expired_style=" +
           std::to_string(static_cast<int>(options_.delta_expired_style)) +
           " page_size=" + std::to_string(config_.sync.page_size) +
           " lifecycle_url=" + (config_.webhook.lifecycle_url.empty() ? "no" : "yes") +
           " rich_mailboxes=" + std::to_string(rich_users_.size()) +
           " scoped=" + (scope_.empty() ? std::string("no") : scope_) +
           " listing_lag=" + std::to_string(options_.listing_lag.count());
  }

  graph::ClientOptions ClientOptions() const {
    graph::ClientOptions o;
    o.base_url = server_.base_url() + "/v1.0";
    o.token_url = server_.base_url() + "/common/oauth2/v2.0/token";
    o.client_id = "graphsim";
    o.client_secret = "graphsim-secret";
    return o;
  }

  config::Config MakeConfig() {
    config::Config c;
    c.database = db_path_;
    c.graph.base_url = ClientOptions().base_url;
    c.graph.token_url = ClientOptions().token_url;
    c.graph.client_id = "graphsim";
    c.graph.client_secret = "graphsim-secret";
    static constexpr int kPageSizes[] = {3, 10, 500};
    c.sync.page_size = kPageSizes[Below(3)];
    c.sync.overlap = seconds(60);
    const std::string base = "http://127.0.0.1:" + std::to_string(port_.port());
    c.webhook.listen = "127.0.0.1:" + std::to_string(port_.port());
    c.webhook.notification_url = base + "/notify";
    // Mostly with a lifecycle URL; else lifecycle events come to the notification URL.
    if (Chance(80)) c.webhook.lifecycle_url = base + "/lifecycle";
    for (const std::string& user : users_) {
      config::MailboxConfig m;
      m.user = user;
      m.resources.assign(std::begin(kAllCollections), std::end(kAllCollections));
      c.mailboxes.push_back(m);
    }
    // Every token by certificate (the secret stays for the harness's own Graph calls).
    c.graph.certificate = dir_.Path("app-cert.pem");
    c.graph.private_key = dir_.Path("app-key.pem");
    if (!rich::WriteCertificateFiles(KeyPair(), c.graph.certificate, c.graph.private_key).ok()) {
      Fail("harness error", "cannot write the app's certificate");
    }
    c.sharepoint.push_back({list_site_, {list_id_}});
    // A scoped mailbox in some schedules (README "Scoped mirrors"): the first mailbox keeps
    // the messages of two mail folders, or its unread messages only.
    switch (settings_.scoped ? Below(4) : 3) {
      case 0:
        scope_ = "folders";
        c.mailboxes[0].folders = {"inbox", "archive"};
        break;
      case 1:
        scope_ = "unread";
        c.mailboxes[0].filters[Collection::kMessages] = "isRead eq false";
        break;
      default:
        break;
    }
    if (Enabled("rich") && Chance(50)) {
      // One mailbox or both get rich subscriptions.
      const bool both = Chance(50);
      const size_t first = Below(c.mailboxes.size());
      for (size_t i = 0; i < c.mailboxes.size(); ++i) {
        if (both || i == first) {
          c.mailboxes[i].rich = true;
          rich_users_.insert(c.mailboxes[i].user);
        }
      }
      c.rich.emplace();
      c.rich->certificate = dir_.Path("rich-cert.pem");
      c.rich->current = {"convergence", dir_.Path("rich-key.pem")};
      c.rich->jwks_url = server_.base_url() + "/common/discovery/v2.0/keys";
      const rich::GeneratedCertificate& pair = KeyPair();
      if (!rich::WriteCertificateFiles(pair, c.rich->certificate, c.rich->current.private_key)
               .ok()) {
        Fail("harness error", "cannot write the rich key pair");
      }
      ++tally_.injected["rich"];  // happened once rich items were delivered
    }
    return c;
  }

  // One key pair for every schedule and use (rich content, the app's certificate): RSA key
  // generation is slow, and no schedule depends on the key itself.
  static const rich::GeneratedCertificate& KeyPair() {
    static const rich::GeneratedCertificate pair = [] {
      auto generated = rich::GenerateCertificate("graphmirror convergence", 365);
      return generated.ok() ? std::move(generated).value() : rich::GeneratedCertificate{};
    }();
    return pair;
  }

  // The ids of every user's well-known mail folders, asked of graphsim's Graph API
  // (GET /users/{id}/mailFolders/{name}) before the engine starts, so that moves can pick a
  // folder other than the message's own.
  void LearnFolders() {
    graphsim::HttpRequest token;
    token.method = "POST";
    token.path = "/common/oauth2/v2.0/token";
    token.base_url = server_.base_url();
    token.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    token.body =
        "grant_type=client_credentials&client_id=graphsim&client_secret=graphsim-secret&"
        "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default";
    Json answer = Json::parse(sim_.Handle(token).body, nullptr, false);
    if (!answer.is_object() || !answer.contains("access_token")) {
      Fail("harness error", "no graphsim token to read the mail folders");
      return;
    }
    const std::string bearer = "Bearer " + answer["access_token"].get<std::string>();
    for (const std::string& user : users_) {
      for (const char* name : kFolders) {
        graphsim::HttpRequest get;
        get.method = "GET";
        get.path = "/v1.0/users/" + user + "/mailFolders/" + name;
        get.base_url = server_.base_url();
        get.headers = {{"Authorization", bearer}};
        Json folder = Json::parse(sim_.Handle(get).body, nullptr, false);
        if (folder.is_object() && folder.contains("id") && folder["id"].is_string()) {
          folder_names_[folder["id"].get<std::string>()] = name;
        } else {
          Fail("harness error", "graphsim did not return mail folder " + std::string(name));
        }
      }
      // The hidden folder: listed only with includeHiddenFolders=true.
      graphsim::HttpRequest list;
      list.method = "GET";
      list.path = "/v1.0/users/" + user + "/mailFolders";
      list.params = {{"includeHiddenFolders", "true"}};
      list.base_url = server_.base_url();
      list.headers = {{"Authorization", bearer}};
      Json folders = Json::parse(sim_.Handle(list).body, nullptr, false);
      if (folders.is_object() && folders["value"].is_array()) {
        for (const Json& folder : folders["value"]) {
          if (folder.value("isHidden", false)) {
            hidden_folder_[user] = folder["id"].get<std::string>();
            folder_names_[hidden_folder_[user]] = "hidden";
          }
        }
      }
      if (hidden_folder_[user].empty()) Fail("harness error", "graphsim listed no hidden folder");
      // Contact folders under the default one, nested, each with a contact.
      const std::string work = sim_.CreateContactFolder(user, "", "Work");
      const std::string team = sim_.CreateContactFolder(user, work, "Team");
      if (work.empty() || team.empty()) Fail("harness error", "graphsim made no contact folder");
      contact_folders_[user] = {{work, ""}, {team, work}};
      for (const std::string& folder : {work, team}) {
        const Json contact{{"displayName", "seed " + folder.substr(folder.size() - 8)}};
        if (sim_.CreateItem(user, "contacts", contact.dump(), folder).empty()) {
          Fail("harness error", "graphsim made no contact in a contact folder");
        }
      }
    }
  }

  // A contact folder is made (under the default folder or another one), renamed, or deleted
  // with the folders under it, and with them their contacts.
  void ChangeContactFolder() {
    const std::string user = RandomUser();
    auto& folders = contact_folders_[user];
    if (!folders.empty() && Chance(40)) {
      const std::string gone = folders[Below(folders.size())].first;
      if (!sim_.DeleteContactFolder(user, gone)) {
        Fail("harness error",
             "graphsim DeleteContactFolder failed at step " + std::to_string(step_));
        return;
      }
      std::set<std::string> removed{gone};
      for (bool more = true; more;) {  // and every folder under it
        more = false;
        for (const auto& [id, parent] : folders) {
          if (removed.count(parent) && removed.insert(id).second) more = true;
        }
      }
      std::erase_if(folders, [&](const auto& f) { return removed.count(f.first) > 0; });
      Op("delete contact_folders");
      Log("delete contact folder " + UserLabel(user) + " " + gone + " (" +
          std::to_string(removed.size()) + " folders)");
      return;
    }
    if (!folders.empty() && Chance(30)) {
      const std::string renamed = folders[Below(folders.size())].first;
      if (!sim_.RenameContactFolder(user, renamed, "Renamed " + std::to_string(step_))) {
        Fail("harness error",
             "graphsim RenameContactFolder failed at step " + std::to_string(step_));
        return;
      }
      Op("rename contact_folders");
      Log("rename contact folder " + UserLabel(user) + " " + renamed);
      return;
    }
    const std::string parent =
        folders.empty() || Chance(50) ? "" : folders[Below(folders.size())].first;
    const std::string id =
        sim_.CreateContactFolder(user, parent, "Folder " + std::to_string(step_));
    if (id.empty()) {
      Fail("harness error", "graphsim CreateContactFolder failed at step " + std::to_string(step_));
      return;
    }
    folders.emplace_back(id, parent);
    Op("create contact_folders");
    Log("create contact folder " + UserLabel(user) + " " + id +
        (parent.empty() ? "" : " under " + parent));
  }

  // A mail folder is made (under the root, the Inbox or a folder made before; sometimes
  // hidden), renamed, or deleted with the folders under it and their messages.
  void ChangeMailFolder() {
    const std::string user = RandomUser();
    auto& folders = mail_folders_[user];
    const uint64_t pick = Below(100);
    if (!folders.empty() && pick < 35) {
      const std::string gone = folders[Below(folders.size())].first;
      if (!sim_.DeleteMailFolder(user, gone)) {
        Fail("harness error", "graphsim DeleteMailFolder failed at step " + std::to_string(step_));
        return;
      }
      std::set<std::string> removed{gone};
      for (bool more = true; more;) {
        more = false;
        for (const auto& [id, parent] : folders) {
          if (removed.count(parent) && removed.insert(id).second) more = true;
        }
      }
      std::erase_if(folders, [&](const auto& f) { return removed.count(f.first) > 0; });
      Op("delete mail_folders");
      Log("delete mail folder " + UserLabel(user) + " " + gone + " (" +
          std::to_string(removed.size()) + " folders)");
      return;
    }
    if (!folders.empty() && pick < 70) {
      const std::string renamed = folders[Below(folders.size())].first;
      if (!sim_.RenameMailFolder(user, renamed, "Renamed " + std::to_string(step_))) {
        Fail("harness error", "graphsim RenameMailFolder failed at step " + std::to_string(step_));
        return;
      }
      Op("rename mail_folders");
      Log("rename mail folder " + UserLabel(user) + " " + renamed);
      return;
    }
    std::string parent = Chance(50) ? "" : "inbox";
    if (!folders.empty() && Chance(40)) parent = folders[Below(folders.size())].first;
    const bool hidden = Chance(10);
    const std::string id =
        sim_.CreateMailFolder(user, parent, "Mail " + std::to_string(step_), hidden);
    if (id.empty()) {
      Fail("harness error", "graphsim CreateMailFolder failed at step " + std::to_string(step_));
      return;
    }
    folders.emplace_back(id, parent);
    folder_names_[id] = "mail folder " + std::to_string(step_);
    Op("create mail_folders");
    Log("create mail folder " + UserLabel(user) + " " + id + (hidden ? " hidden" : "") +
        (parent.empty() ? "" : " under " + parent));
  }

  // A calendar is made, renamed (its changeKey changes) or deleted.
  void ChangeCalendar() {
    const std::string user = RandomUser();
    auto& calendars = calendars_[user];
    const uint64_t pick = Below(100);
    const std::string name = "Calendar " + std::to_string(step_);
    if (!calendars.empty() && pick < 35) {
      const size_t at = Below(calendars.size());
      if (!sim_.DeleteCalendar(user, calendars[at])) {
        Fail("harness error", "graphsim DeleteCalendar failed at step " + std::to_string(step_));
        return;
      }
      Op("delete calendars");
      Log("delete calendar " + UserLabel(user) + " " + calendars[at]);
      calendars.erase(calendars.begin() + static_cast<std::ptrdiff_t>(at));
      return;
    }
    if (!calendars.empty() && pick < 70) {
      const std::string renamed = calendars[Below(calendars.size())];
      if (!sim_.RenameCalendar(user, renamed, name)) {
        Fail("harness error", "graphsim RenameCalendar failed at step " + std::to_string(step_));
        return;
      }
      Op("rename calendars");
      Log("rename calendar " + UserLabel(user) + " " + renamed);
      return;
    }
    const std::string id = sim_.CreateCalendar(user, name);
    if (id.empty()) {
      Fail("harness error", "graphsim CreateCalendar failed at step " + std::to_string(step_));
      return;
    }
    calendars.push_back(id);
    Op("create calendars");
    Log("create calendar " + UserLabel(user) + " " + id);
  }

  // A recurring series of a random pattern, range and time zone, starting within two
  // months, as patternedRecurrence spells it.
  Json RandomSeries(const std::string& subject) {
    static const char* kZones[] = {"UTC", "Pacific Standard Time", "W. Europe Standard Time",
                                   "Europe/London"};
    static const char* kDays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                  "thursday", "friday", "saturday"};
    static const char* kIndexes[] = {"first", "second", "third", "fourth", "last"};
    const TimePoint day = std::chrono::floor<std::chrono::days>(clock_.Now()) +
                          hours(24 * static_cast<int64_t>(Below(60)));
    const std::string date = LocalDateTime(day).substr(0, 10);
    const int hour = 7 + static_cast<int>(Below(10));
    const int minutes_long = 30 * (1 + static_cast<int>(Below(3)));
    char start[40], end[40];
    std::snprintf(start, sizeof start, "%sT%02d:00:00", date.c_str(), hour);
    std::snprintf(end, sizeof end, "%sT%02d:%02d:00", date.c_str(), hour + minutes_long / 60,
                  minutes_long % 60);
    const std::string zone = kZones[Below(4)];
    const int weekday = static_cast<int>(
        std::chrono::weekday(std::chrono::floor<std::chrono::days>(day)).c_encoding());
    const int month = static_cast<int>(
        unsigned(std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(day)).month()));
    const int day_of_month = static_cast<int>(
        unsigned(std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(day)).day()));
    Json pattern;
    switch (Below(6)) {
      case 0:
        pattern = {{"type", "daily"}, {"interval", 1 + Below(3)}};
        break;
      case 1:
        pattern = {{"type", "weekly"},
                   {"interval", 1 + Below(2)},
                   {"daysOfWeek", Json::array({kDays[weekday], kDays[(weekday + 2) % 7]})},
                   {"firstDayOfWeek", Chance(50) ? "sunday" : "monday"}};
        break;
      case 2:
        pattern = {{"type", "absoluteMonthly"}, {"interval", 1}, {"dayOfMonth", day_of_month}};
        break;
      case 3:
        pattern = {{"type", "relativeMonthly"},
                   {"interval", 1 + Below(2)},
                   {"daysOfWeek", Json::array({kDays[weekday]})},
                   {"index", kIndexes[Below(5)]}};
        break;
      case 4:
        pattern = {{"type", "absoluteYearly"},
                   {"interval", 1},
                   {"month", month},
                   {"dayOfMonth", day_of_month}};
        break;
      default:
        pattern = {{"type", "relativeYearly"},
                   {"interval", 1},
                   {"month", month},
                   {"daysOfWeek", Json::array({kDays[weekday]})},
                   {"index", kIndexes[Below(5)]}};
        break;
    }
    Json range = {{"startDate", date}};
    switch (Below(3)) {
      case 0:
        range["type"] = "numbered";
        range["numberOfOccurrences"] = 2 + Below(30);
        break;
      case 1:
        range["type"] = "endDate";
        range["endDate"] =
            LocalDateTime(day + hours(24 * static_cast<int64_t>(30 + Below(400)))).substr(0, 10);
        break;
      default:
        range["type"] = "noEnd";
        break;
    }
    return {{"subject", subject},
            {"start", {{"dateTime", start}, {"timeZone", zone}}},
            {"end", {{"dateTime", end}, {"timeZone", zone}}},
            {"recurrence", {{"pattern", pattern}, {"range", range}}}};
  }

  // A change of a recurring series: one made, renamed, its pattern changed, deleted, or
  // one occurrence edited (an exception) or cancelled.
  void ChangeSeries() {
    const std::string user = RandomUser();
    auto& series = series_[user];
    std::erase_if(series, [&](const std::string& id) {
      return sim_.ItemJson(user, "events", id).empty();  // deleted by Delete()
    });
    const uint64_t pick = Below(100);
    std::vector<graphsim::EventOccurrenceState> occurrences;
    if (!series.empty() && pick < 45) {
      for (auto& o : sim_.EventOccurrences(user, TimePoint{}, TimePoint::max())) {
        occurrences.push_back(std::move(o));
      }
    }
    // Each branch makes one change of `kind` to the event `id`; `ok` is graphsim's answer.
    std::string kind, id, history;
    bool ok = false;
    if (!occurrences.empty() && pick < 45) {
      const auto& o = occurrences[Below(occurrences.size())];
      id = o.id;
      if (pick < 25) {
        kind = "except occurrence";
        history = "excepted";
        Json change = {{"subject", "exception " + Tag()}};
        if (Chance(40)) {
          const TimePoint moved = o.start + hours(1 + static_cast<int64_t>(Below(3)));
          change["start"] = {{"dateTime", LocalDateTime(moved)}, {"timeZone", "UTC"}};
          change["end"] = {{"dateTime", LocalDateTime(moved + (o.end - o.start))},
                           {"timeZone", "UTC"}};
        }
        ok = sim_.UpdateItem(user, "events", id, change.dump());
      } else {
        kind = "cancel occurrence";
        history = "cancelled";
        ok = sim_.DeleteItem(user, "events", id);
      }
    } else if (!series.empty() && pick < 75) {
      id = series[Below(series.size())];
      if (pick < 58) {
        kind = "series renamed";
        ok = sim_.UpdateItem(user, "events", id, Json{{"subject", "series " + Tag()}}.dump());
      } else if (pick < 68) {
        kind = "series pattern changed";
        ok = sim_.UpdateItem(user, "events", id, RandomSeries("series " + Tag()).dump());
      } else {
        kind = "series deleted";
        ok = sim_.DeleteItem(user, "events", id);
        std::erase(series, id);
      }
      history = kind;
    } else {
      const Json made = RandomSeries("series " + Tag());
      kind = "create series";
      history = "series created " + made["recurrence"]["pattern"].value("type", "?") + "/" +
                made["recurrence"]["range"].value("type", "?") + " in " +
                made["start"].value("timeZone", "?");
      id = sim_.CreateItem(user, "events", made.dump());
      ok = !id.empty();
      if (ok) {
        series.push_back(id);
        created_[{user, "events"}].push_back(id);
      }
    }
    if (!ok) {
      return Fail("harness error",
                  "graphsim refused '" + kind + "' at step " + std::to_string(step_));
    }
    Op(kind);
    History(id, history);
    Log(kind + " " + UserLabel(user) + " " + id);
  }

  // --- randomness, tallies, log -----------------------------------------------------

  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(int percent) { return Below(100) < static_cast<uint64_t>(percent); }

  void Op(const std::string& kind) { ++tally_.ops[kind]; }
  // A fault that happens as it is made.
  void Fault(const std::string& kind) {
    ++tally_.injected[kind];
    ++tally_.faults[kind];
  }
  void Engine(const std::string& kind) { ++tally_.engine[kind]; }

  // --- faults that happen later, if at all ------------------------------------------------

  // A fault whose effect shows as a counter rising: it happened if the counter rose
  // before the next injection of the same kind (or the schedule's end). Quiescence
  // clears injected statuses and resets the engine never met.
  void Injected(const std::string& kind) {
    ++tally_.injected[kind];
    injections_[kind].push_back(FaultCounter(kind));
  }

  // The counter that shows `kind` happened.
  uint64_t FaultCounter(const std::string& kind) const {
    if (kind == "throttle_429") {
      uint64_t n = 0;
      for (const std::string& user : users_) n += static_cast<uint64_t>(sim_.ThrottledCount(user));
      return n;
    }
    EngineCounters c = engine_counters_;
    AddLiveCounters(&c);
    if (kind == "status_503") return c.answers_5xx;
    if (kind == "conn_reset") return c.no_answer;
    if (kind == "rich_content") return c.refused_content;
    return 0;
  }

  // The engine's own counters, summed over its restarts.
  struct EngineCounters {
    uint64_t answers_5xx = 0;
    uint64_t no_answer = 0;  // requests that got no answer (a reset connection)
    uint64_t refused_content = 0;
  };
  void AddLiveCounters(EngineCounters* c) const {
    if (client_) {
      c->answers_5xx += client_->stats().by_status_class[5].load();
      c->no_answer += client_->stats().by_status_class[0].load();
    }
    if (live_ && live_->rich() != nullptr) {
      c->refused_content += live_->rich()->stats().refused_content.load();
    }
  }

  // A lifecycle event queued by the schedule: it happened if Graph's POST of it was
  // answered 2xx.
  void EmittedLifecycle(const std::string& kind, const std::string& subscription_id,
                        const std::string& event) {
    ++tally_.injected[kind];
    lifecycle_emitted_.push_back({kind, subscription_id, event});
  }

  void CountObservedFaults() {
    for (const auto& [kind, baselines] : injections_) {
      const uint64_t end = FaultCounter(kind);
      for (size_t i = 0; i < baselines.size(); ++i) {
        const uint64_t until = i + 1 < baselines.size() ? baselines[i + 1] : end;
        if (until > baselines[i]) ++tally_.faults[kind];
      }
    }
    if (!lifecycle_emitted_.empty()) {
      std::multiset<std::pair<std::string, std::string>> delivered;
      for (const graphsim::AckedNotification& a : sim_.AckedNotifications()) {
        if (!a.lifecycle_event.empty()) delivered.insert({a.subscription_id, a.lifecycle_event});
      }
      for (const LifecycleEmitted& e : lifecycle_emitted_) {
        auto it = delivered.find({e.subscription_id, e.event});
        if (it == delivered.end()) continue;
        delivered.erase(it);
        ++tally_.faults[e.kind];
      }
    }
    // Graphsim options: chosen, and seen at work.
    const graphsim::DeliveryStats deliveries = sim_.Deliveries();
    if (tally_.injected.count("duplicate") && deliveries.duplicate_posts > 0) {
      ++tally_.faults["duplicate"];
    }
    if (tally_.injected.count("rich") && deliveries.rich_items > 0) ++tally_.faults["rich"];
  }

  bool Up() const { return live_ != nullptr; }
  const char* State() const { return live_ ? "up" : store_ ? "receiver down" : "down"; }

  void Log(const std::string& line) {
    if (!settings_.verbose) return;
    log_ += "  step " + std::to_string(step_) + " [" + State() + "] " + line + "\n";
  }

  void History(const std::string& id, const std::string& what) {
    if (id.empty()) return;
    std::string line = "step " + std::to_string(step_) + ": " + what;
    if (!Up()) line += std::string(" (engine ") + State() + ")";
    history_[id].push_back(line);
  }

  std::string UserLabel(const std::string& user) const {
    for (size_t i = 0; i < users_.size(); ++i) {
      if (users_[i] == user) return "u" + std::to_string(i);
    }
    return user;
  }

  std::string Tag() const {
    return "s" + std::to_string(seed_) + "." + std::to_string(step_) + "." +
           std::to_string(++serial_);
  }

  // --- the engine as a process ------------------------------------------------------

  bool StartEngine() {
    if (live_) return true;
    if (!client_) client_ = std::make_unique<graph::GraphClient>(ClientOptions(), &clock_);
    if (!store_) {
      auto opened = store::Store::Open(db_path_, &clock_);
      if (!opened.ok()) {
        Fail("engine error", "Store::Open: " + opened.status().message());
        return false;
      }
      store_ = std::move(opened).value();
    }
    Status last;
    // The port is reserved (PortReservation); a retry only covers a slow release.
    for (int attempt = 0; attempt < 10; ++attempt) {
      auto live = std::make_unique<sync::LiveSync>(config_, client_.get(), store_.get(), &clock_);
      sync::LiveSyncOptions options;
      options.background = false;
      last = live->Start(options);
      if (last.ok()) {
        live_ = std::move(live);
        Engine("start");
        return true;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    Fail("engine error", "LiveSync::Start: " + last.message());
    return false;
  }

  // The receiver (and keeper and worker) stop; with `process_exit` the Store and the
  // GraphClient go too, as when the process ends.
  void StopEngine(bool process_exit) {
    if (live_) {
      live_->Stop();
      if (live_->rich() != nullptr) {
        engine_counters_.refused_content += live_->rich()->stats().refused_content.load();
      }
      live_.reset();
    }
    if (process_exit) {
      store_.reset();
      if (client_) {
        engine_counters_.answers_5xx += client_->stats().by_status_class[5].load();
        engine_counters_.no_answer += client_->stats().by_status_class[0].load();
      }
      client_.reset();
    }
  }

  // Time passes; a running keeper renews what came due meanwhile, as its thread would.
  void Advance(std::chrono::nanoseconds d) {
    clock_.Advance(d);
    if (live_ && live_->keeper().NextDue() <= clock_.Now()) {
      (void)live_->keeper().Maintain();
      Engine("keeper_due");
    }
  }

  // --- steps --------------------------------------------------------------------------

  void RandomStep() {
    struct Weighted {
      Step step;
      int weight;
    };
    const int fault_weight = step_faults_.empty() ? 0 : 14;
    const Weighted table[] = {
        {Step::kCreate, 10},       {Step::kUpdate, 10},       {Step::kDelete, 6},
        {Step::kMove, 6},          {Step::kMoveRoundTrip, 3}, {Step::kPump, 8},
        {Step::kRunWorker, 7},     {Step::kMaintain, 2},      {Step::kAdvance, 5},
        {Step::kDeliver, 8},       {Step::kList, 6},          {Step::kFault, fault_weight},
        {Step::kContactFolder, 2}, {Step::kMailFolder, 4},    {Step::kCalendar, 2},
        {Step::kSeries, 5},
    };
    int total = 0;
    for (const Weighted& w : table) total += w.weight;
    int pick = static_cast<int>(Below(static_cast<uint64_t>(total)));
    Step step = Step::kPump;
    for (const Weighted& w : table) {
      if (pick < w.weight) {
        step = w.step;
        break;
      }
      pick -= w.weight;
    }
    switch (step) {
      case Step::kCreate:
        return Create();
      case Step::kUpdate:
        return Update();
      case Step::kDelete:
        return Delete();
      case Step::kMove:
        return Move();
      case Step::kMoveRoundTrip:
        return MoveRoundTrip();
      case Step::kPump:
        return Pump();
      case Step::kRunWorker:
        return RunWorker();
      case Step::kMaintain:
        return Maintain();
      case Step::kAdvance:
        Log("advance a little");
        Engine("advance");
        return Advance(seconds(1 + Below(90)));
      case Step::kDeliver:
        Pump();
        return RunWorker();
      case Step::kList:
        return ListChange();
      case Step::kFault:
        return InjectFault(step_faults_[Below(step_faults_.size())]);
      case Step::kContactFolder:
        return ChangeContactFolder();
      case Step::kMailFolder:
        return ChangeMailFolder();
      case Step::kCalendar:
        return ChangeCalendar();
      case Step::kSeries:
        return ChangeSeries();
    }
  }

  // --- mailbox operations (graphsim's direct API) -------------------------------------

  std::string RandomUser() { return users_[Below(users_.size())]; }

  // An item of the collection: often one this schedule created (drafts are written and
  // deleted all the time; such an item may never have been seen by a delta round), else any.
  std::string RandomId(const std::string& user, const std::string& collection) {
    auto ids = sim_.ItemIds(user, collection);
    if (ids.empty()) return "";
    std::vector<std::string> fresh;
    for (const std::string& id : created_[{user, collection}]) {
      if (std::binary_search(ids.begin(), ids.end(), id)) fresh.push_back(id);
    }
    if (!fresh.empty() && Chance(40)) return fresh[Below(fresh.size())];
    return ids[Below(ids.size())];
  }

  std::string FolderOf(const std::string& user, const std::string& id) const {
    Json item = Json::parse(sim_.ItemJson(user, "messages", id), nullptr, false);
    return item.is_object() ? item.value("parentFolderId", "") : "";
  }

  std::string FolderName(const std::string& folder_id) const {
    auto it = folder_names_.find(folder_id);
    return it != folder_names_.end() ? it->second : "folder " + folder_id.substr(0, 12) + "..";
  }

  // A well-known folder other than the one with id `current`.
  std::string OtherFolder(const std::string& current) {
    const std::string current_name = FolderName(current);
    std::vector<std::string> others;
    for (const char* name : kFolders) {
      if (name != current_name) others.push_back(name);
    }
    return others[Below(others.size())];
  }

  Json Fields(const std::string& collection, const std::string& text, bool created) {
    Json f = Json::object();
    if (collection == "messages") {
      f["subject"] = text;
      if (created || Chance(30)) f["isRead"] = Chance(50);
    } else if (collection == "events") {
      f["subject"] = text;
      if (Chance(40)) {
        // Mostly the coming two weeks; sometimes years away (past or future), as old
        // meetings and far recurrences are, which a calendar window may not cover.
        TimePoint start = std::chrono::floor<hours>(clock_.Now()) + hours(1 + Below(24 * 14));
        if (Chance(15)) {
          const auto years = hours(24 * (500 + Below(600)));
          start = Chance(50) ? start - years : start + years;
        }
        TimePoint end = start + minutes(30 * (1 + Below(4)));
        f["start"] = Json{{"dateTime", LocalDateTime(start)}, {"timeZone", "UTC"}};
        f["end"] = Json{{"dateTime", LocalDateTime(end)}, {"timeZone", "UTC"}};
      }
    } else {
      f["displayName"] = text;
      if (created || Chance(40)) {
        f["emailAddresses"] =
            Json::array({Json{{"address", text + "@example.com"}, {"name", text}}});
      }
    }
    return f;
  }

  // ", starts 2024-..." for an event, "" otherwise.
  std::string EventStart(const std::string& user, const std::string& collection,
                         const std::string& id) const {
    if (collection != "events") return "";
    Json item = Json::parse(sim_.ItemJson(user, collection, id), nullptr, false);
    if (!item.is_object() || !item.contains("start") || !item["start"].is_object()) return "";
    return ", starts " + item["start"].value("dateTime", "?").substr(0, 10);
  }

  void Create() {
    const std::string user = RandomUser();
    const std::string collection = kCollections[Below(3)];
    std::string folder = "inbox";
    if (collection == "messages") {
      folder = Chance(15) ? hidden_folder_[user] : kFolders[Below(5)];
      const auto& made = mail_folders_[user];
      if (!made.empty() && Chance(20)) folder = made[Below(made.size())].first;
    } else if (collection == "contacts") {
      const auto& folders = contact_folders_[user];
      const uint64_t pick = Below(folders.size() + 1);  // 0: the default folder
      if (pick > 0) folder = folders[pick - 1].first;
    }
    const std::string text = "new " + Tag();
    const std::string id =
        sim_.CreateItem(user, collection, Fields(collection, text, true).dump(), folder);
    if (id.empty()) {
      Fail("harness error", "graphsim CreateItem failed at step " + std::to_string(step_));
      return;
    }
    Op("create " + collection);
    created_[{user, collection}].push_back(id);
    std::string where;
    if (collection == "messages") where = " in " + FolderName(FolderOf(user, id));
    if (collection == "contacts" && folder != "inbox") where = " in contact folder " + folder;
    History(id, "created" + where + EventStart(user, collection, id));
    Log("create " + collection + " " + UserLabel(user) + " " + id + where);
  }

  void Update() {
    const std::string user = RandomUser();
    const std::string collection = kCollections[Below(3)];
    const std::string id = RandomId(user, collection);
    if (id.empty()) return Create();
    const std::string text = "upd " + Tag();
    if (!sim_.UpdateItem(user, collection, id, Fields(collection, text, false).dump())) {
      Fail("harness error", "graphsim UpdateItem failed at step " + std::to_string(step_));
      return;
    }
    Op("update " + collection);
    History(id, "updated (" + text + ")" + EventStart(user, collection, id));
    Log("update " + collection + " " + UserLabel(user) + " " + id);
  }

  void Delete() {
    const std::string user = RandomUser();
    const std::string collection = kCollections[Below(3)];
    const std::string id = RandomId(user, collection);
    if (id.empty()) return Create();
    if (!sim_.DeleteItem(user, collection, id)) {
      Fail("harness error", "graphsim DeleteItem failed at step " + std::to_string(step_));
      return;
    }
    Op("delete " + collection);
    History(id, "deleted");
    Log("delete " + collection + " " + UserLabel(user) + " " + id);
  }

  // Moves with immutable ids (the engine asks for them): the id survives the move.
  bool MoveTo(const std::string& user, const std::string& id, const std::string& destination) {
    std::string moved = sim_.MoveMessage(user, id, destination, /*immutable_ids=*/true);
    if (moved != id) {
      Fail("harness error", "graphsim MoveMessage returned '" + moved + "' for " + id +
                                " at step " + std::to_string(step_));
      return false;
    }
    return true;
  }

  void Move() {
    const std::string user = RandomUser();
    const std::string id = RandomId(user, "messages");
    if (id.empty()) return Create();
    const std::string from = FolderOf(user, id);
    const std::string to = OtherFolder(from);
    if (!MoveTo(user, id, to)) return;
    Op("move messages");
    History(id, "moved " + FolderName(from) + " -> " + to);
    Log("move " + UserLabel(user) + " " + id + " " + FolderName(from) + " -> " + to);
  }

  // A -> B -> A: back where it was, with a new lastModifiedDateTime; sometimes the engine
  // sees the first move before the second.
  void MoveRoundTrip() {
    const std::string user = RandomUser();
    const std::string id = RandomId(user, "messages");
    if (id.empty()) return Create();
    const std::string from = FolderOf(user, id);
    const std::string via = OtherFolder(from);
    if (!MoveTo(user, id, via)) return;
    std::string between;
    switch (Below(3)) {
      case 0:
        break;
      case 1:
        between = ", a few seconds apart";
        Advance(seconds(1 + Below(5)));
        break;
      case 2:
        between = ", delivered in between";
        sim_.PumpDeliveries();
        if (live_) (void)live_->worker().RunOnce();
        break;
    }
    if (!MoveTo(user, id, from)) return;  // by folder id
    Op("move_round_trip messages");
    History(id, "moved " + FolderName(from) + " -> " + via + " -> back" + between);
    Log("move round trip " + UserLabel(user) + " " + id + " " + FolderName(from) + " -> " + via +
        " -> back" + between);
  }

  // --- SharePoint list operations ----------------------------------------------------

  void ListCreate() {
    const int id = sim_.CreateListItem(list_id_, nlohmann::json{{"Title", "item " + Tag()}}.dump());
    Op("create list_items");
    Log("list: created item " + std::to_string(id));
  }

  // Creates, updates, deletes (into the recycle bin), restores from it, or lets the
  // change log pass the mirror's token (SharePoint answers 500 or 400 with
  // SPInvalidChangeTokenException; the mirror must read the list whole).
  void ListChange() {
    const uint64_t pick = Below(8);
    if (pick == 6 && !list_recycled_.empty()) {
      const size_t at = Below(list_recycled_.size());
      const int id = list_recycled_[at];
      list_recycled_.erase(list_recycled_.begin() + static_cast<std::ptrdiff_t>(at));
      if (sim_.RestoreListItem(list_id_, id)) {
        Op("restore list_items");
        return Log("list: restored item " + std::to_string(id));
      }
    }
    if (pick == 7) {
      const int status = Below(2) == 0 ? 500 : 400;
      sim_.ExpireListChangeTokens(list_id_, status);
      Op("expire list change tokens");
      return Log("list: change tokens expired (answered " + std::to_string(status) + ")");
    }
    const std::vector<int> ids = sim_.ListItemIds(list_id_);
    if (ids.empty() || pick <= 1 || pick >= 6) return ListCreate();
    const int id = ids[Below(ids.size())];
    if (pick <= 3) {
      sim_.UpdateListItem(list_id_, id, nlohmann::json{{"Title", "renamed " + Tag()}}.dump());
      Op("update list_items");
      return Log("list: updated item " + std::to_string(id));
    }
    sim_.DeleteListItem(list_id_, id);
    list_recycled_.push_back(id);
    Op("delete list_items");
    Log("list: deleted item " + std::to_string(id));
  }

  // Syncs the lists the receiver was notified about; false (and a failure) on an error
  // that is not a sync the mirror retries.
  bool RunLists(const std::string& phase) {
    auto synced = live_->sharepoint()->RunOnce();
    if (!synced.ok()) {
      Fail("engine error",
           "SharePointMirror::RunOnce in " + phase + ": " + synced.status().message());
      return false;
    }
    return true;
  }

  bool ListQuiet() {
    auto state = store_->lists().State(list_site_, list_id_);
    return state.ok() && !state->due() && sim_.ListDeliveries().pending == 0;
  }

  // --- engine steps -------------------------------------------------------------------

  void Pump() {
    size_t posts = sim_.PumpDeliveries();
    Engine("pump");
    Log("pump: " + std::to_string(posts) + " POSTs");
  }

  void RunWorker() {
    if (!live_) return Pump();
    auto ended = live_->worker().RunOnce();
    Engine("run_worker");
    if (!ended.ok()) {
      Fail("engine error", "SyncWorker::RunOnce at step " + std::to_string(step_) + ": " +
                               ended.status().message());
      return;
    }
    Log("worker: ended " + std::to_string(*ended) + " rows");
    RunLists("step " + std::to_string(step_));
  }

  void Maintain() {
    if (!live_) return Pump();
    Status s = live_->keeper().Maintain();
    Engine("maintain");
    Log("keeper: " + (s.ok() ? std::string("ok") : s.message()));
  }

  // --- faults -------------------------------------------------------------------------

  std::string RandomSubscription() {
    auto subs = sim_.Subscriptions();
    return subs.empty() ? "" : subs[Below(subs.size())].id;
  }

  void Lifecycle(const std::string& kind, const std::string& event) {
    const std::string id = RandomSubscription();
    if (id.empty() || !sim_.EmitLifecycle(id, event)) {
      Log("no live subscription for " + event);
      return;
    }
    EmittedLifecycle(kind, id, event);
    Log("lifecycle " + event + " for " + id);
  }

  void InjectFault(const std::string& kind) {
    if (kind == "drop") return Drop();
    if (kind == "rich_content") {
      if (rich_users_.empty()) return Log("rich_content: no rich mailbox in this schedule");
      static constexpr graphsim::RichFault kContentFaults[] = {
          graphsim::RichFault::kFlipDataBit,      graphsim::RichFault::kBadSignature,
          graphsim::RichFault::kTruncatedDataKey, graphsim::RichFault::kWrongCertificateId,
          graphsim::RichFault::kBadPadding,       graphsim::RichFault::kMalformedBase64};
      const auto fault = kContentFaults[Below(std::size(kContentFaults))];
      const int n = 1 + static_cast<int>(Below(3));
      sim_.InjectRichFault(fault, n);
      Injected(kind);
      return Log("rich content fault " + std::to_string(static_cast<int>(fault)) + " for " +
                 std::to_string(n) + " items");
    }
    if (kind == "throttle_429") {
      const std::string user = RandomUser();
      const int n = 1 + static_cast<int>(Below(12));
      sim_.ForceThrottle(user, n);
      Injected(kind);
      return Log("throttle " + UserLabel(user) + " for " + std::to_string(n) + " requests");
    }
    if (kind == "status_503") {
      static constexpr double kRetryAfter[] = {-1, 0.5, 2, 30};
      const int n = 1 + static_cast<int>(Below(12));
      const double retry_after = kRetryAfter[Below(4)];
      sim_.InjectStatus(503, n, retry_after);
      Injected(kind);
      return Log("503 for " + std::to_string(n) + " requests, Retry-After " +
                 std::to_string(retry_after));
    }
    if (kind == "conn_reset") {
      const int n = 1 + static_cast<int>(Below(4));
      sim_.InjectConnectionResets(n);
      Injected(kind);
      return Log("connection resets for " + std::to_string(n) + " requests");
    }
    if (kind == "lifecycle_missed") return Lifecycle(kind, "missed");
    if (kind == "lifecycle_reauth") return Lifecycle(kind, "reauthorizationRequired");
    if (kind == "lifecycle_removed") return Lifecycle(kind, "subscriptionRemoved");
    if (kind == "lifecycle_unknown") {
      static constexpr const char* kEvents[] = {"somethingNew", "subscriptionPaused", "Missed"};
      return Lifecycle(kind, kEvents[Below(3)]);
    }
    if (kind == "remove_subscription") {
      const std::string id = RandomSubscription();
      if (id.empty() || !sim_.RemoveSubscription(id)) return Log("no subscription to remove");
      Fault(kind);
      return Log("subscription " + id + " removed");
    }
    if (kind == "password_reset") {
      const auto users = sim_.UserIds();
      const std::string& user = users[Below(users.size())];
      if (!sim_.ResetPassword(user)) return Log("no such user");
      Fault(kind);
      return Log("password of " + user + " reset");
    }
    if (kind == "token_expiry") {
      sim_.ExpireAllTokens();
      Fault(kind);
      return Log("all tokens expired");
    }
    if (kind == "delta_expiry") {
      sim_.ExpireDeltaTokens();
      Fault(kind);
      return Log("all delta tokens expired");
    }
    if (kind == "restart") {
      Fault(kind);
      Log("restart");
      StopEngine(/*process_exit=*/true);
      StartEngine();
      return;
    }
    if (kind == "downtime") {
      StopEngine(/*process_exit=*/true);
      down_until_ = std::max(down_until_, step_ + 2 + static_cast<int>(Below(6)));
      Fault(kind);
      return Log("process down until step " + std::to_string(down_until_));
    }
    if (kind == "clock_minutes") {
      Fault(kind);
      const auto d = minutes(1 + Below(59));
      Log("clock +" + std::to_string(d.count()) + " min");
      return Advance(d);
    }
    if (kind == "clock_hours") {
      Fault(kind);
      const auto d = hours(1 + Below(8));
      Log("clock +" + std::to_string(d.count()) + " h");
      return Advance(d);
    }
    if (kind == "clock_days") {
      // Past every subscription's expiry (4230 minutes asked), with the process down.
      StopEngine(/*process_exit=*/true);
      down_until_ = std::max(down_until_, step_ + 1 + static_cast<int>(Below(3)));
      const auto d = hours(24 * (3 + Below(6)));
      Fault(kind);
      Log("process down, clock +" + std::to_string(d.count() / 24) + " days");
      clock_.Advance(d);
      return;
    }
    Fail("harness error", "unknown fault kind " + kind);
  }

  // Nobody listens long enough for Graph to give up: its batches are dropped after the
  // retry window, and (missed_on_drop) a `missed` lifecycle event is queued instead.
  void Drop() {
    if (live_) StopEngine(/*process_exit=*/false);
    down_until_ = std::max(down_until_, step_ + 1 + static_cast<int>(Below(5)));
    if (sim_.Deliveries().pending_items == 0) Update();  // something to lose
    clock_.Advance(options_.delivery_delay + seconds(1));
    sim_.PumpDeliveries();  // first attempts fail
    const uint64_t dropped = sim_.Deliveries().dropped_items;
    clock_.Advance(options_.delivery_retry_window + minutes(5));
    sim_.PumpDeliveries();  // the next retry would fall past the window: dropped
    const uint64_t lost = sim_.Deliveries().dropped_items - dropped;
    if (lost > 0) Fault("drop");
    Log("receiver down past the retry window: " + std::to_string(lost) +
        " notifications dropped; down until step " + std::to_string(down_until_));
  }

  // Copies the mirror (WAL included) for inspection with sqlite3.
  void KeepMirror() {
    const std::string to =
        settings_.keep_dir + "/convergence-seed-" + std::to_string(seed_) + ".db";
    try {
      std::filesystem::remove(to);
      SQLite::Database db(db_path_, SQLite::OPEN_READONLY);
      SQLite::Statement vacuum(db, "VACUUM INTO ?1");
      vacuum.bind(1, to);
      vacuum.exec();
      errors_.push_back("mirror kept at " + to);  // a note: the verdict stands
    } catch (const std::exception& e) {
      errors_.push_back(std::string("could not keep the mirror: ") + e.what());
    }
  }

  // --- quiescence and the comparison ----------------------------------------------------

  int64_t PendingLogRows() {
    SQLite::Database db(db_path_, SQLite::OPEN_READONLY);
    return db
        .execAndGet(
            "SELECT count(*) FROM notification_log WHERE state IN ('received', "
            "'failed')")
        .getInt64();
  }

  std::string PendingLogSummary() {
    std::string out;
    SQLite::Database db(db_path_, SQLite::OPEN_READONLY);
    SQLite::Statement q(db,
                        "SELECT state, coalesce(change_type, lifecycle_event), "
                        "coalesce(reason, ''), count(*) FROM notification_log WHERE state IN "
                        "('received', 'failed') GROUP BY 1, 2, 3 ORDER BY 4 DESC LIMIT 5");
    while (q.executeStep()) {
      out += "    log: " + std::to_string(q.getColumn(3).getInt64()) + " rows " +
             q.getColumn(0).getString() + " " + q.getColumn(1).getString() + " " +
             q.getColumn(2).getString() + "\n";
    }
    return out;
  }

  // Faults cleared, the engine running, then rounds of Maintain, pump and RunOnce until
  // nothing is pending at either side, the clock moving on so backoffs come due.
  bool Quiesce(const std::string& phase) {
    sim_.ClearFaults();
    if (!live_) {
      StopEngine(/*process_exit=*/true);
      if (!StartEngine()) return false;
    }
    auto idle = seconds(5);
    std::string last_keeper;
    for (int round = 0; round < kQuiesceRounds; ++round) {
      Status kept = live_->keeper().Maintain();
      last_keeper = kept.ok() ? "" : kept.message();
      const size_t posts = sim_.PumpDeliveries();
      auto ended = live_->worker().RunOnce();
      if (!ended.ok()) {
        Fail("engine error", "SyncWorker::RunOnce in " + phase + ": " + ended.status().message());
        return false;
      }
      const uint64_t sim_pending = sim_.Deliveries().pending_items;
      const int64_t log_pending = PendingLogRows();
      if (!RunLists(phase)) return false;
      if (posts == 0 && *ended == 0) {
        // A catch-up's recheck still to come is work pending too.
        if (sim_pending == 0 && log_pending == 0 && kept.ok() && ListQuiet() &&
            !live_->collections().NextRecheck()) {
          Log(phase + ": quiet after " + std::to_string(round + 1) + " rounds");
          return true;
        }
        clock_.Advance(idle);
        idle = std::min<seconds>(idle * 2, seconds(1800));
      } else {
        clock_.Advance(seconds(2));
        idle = seconds(5);
      }
    }
    std::string why = "in " + phase + " after " + std::to_string(kQuiesceRounds) +
                      " rounds: graphsim pending " +
                      std::to_string(sim_.Deliveries().pending_items) + " notifications, log " +
                      std::to_string(PendingLogRows()) + " rows pending";
    if (!last_keeper.empty()) why += ", keeper: " + last_keeper;
    Fail("no quiescence", why + "\n" + PendingLogSummary());
    return false;
  }

  // What Graph delivered about an item (acked change notifications, by subscription, and
  // whether that subscription is the one the engine stores now) and what the engine's
  // notification log holds for it.
  std::string Trace(const Mismatch& m) const {
    std::string out;
    std::set<std::string> stored_subscriptions;
    try {
      SQLite::Database db(db_path_, SQLite::OPEN_READONLY);
      SQLite::Statement subs(db, "SELECT id FROM subscriptions");
      while (subs.executeStep()) stored_subscriptions.insert(subs.getColumn(0).getString());
      SQLite::Statement q(db,
                          "SELECT coalesce(change_type, ''), state, coalesce(reason, '') FROM "
                          "notification_log WHERE item_id = ?1 ORDER BY seq");
      q.bind(1, m.id);
      std::string logged;
      while (q.executeStep()) {
        std::string reason = q.getColumn(2).getString();
        logged += std::string(logged.empty() ? "" : ", ") + q.getColumn(0).getString() + " " +
                  q.getColumn(1).getString() + (reason.empty() ? "" : " (" + reason + ")");
      }
      out += "      engine log: " + (logged.empty() ? "no row for this item" : logged) + "\n";
    } catch (const std::exception& e) {
      out += std::string("      engine log: unreadable: ") + e.what() + "\n";
    }
    std::string acked;
    for (const graphsim::AckedNotification& a : sim_.AckedNotifications()) {
      if (a.resource_id != m.id) continue;
      acked += std::string(acked.empty() ? "" : ", ") + a.change_type + " via " +
               a.subscription_id.substr(0, 8) +
               (stored_subscriptions.count(a.subscription_id) ? " (stored)" : "");
    }
    out += "      graph delivered: " + (acked.empty() ? "nothing about this item" : acked) + "\n";
    return out;
  }

  std::string Describe(const std::vector<Mismatch>& mismatches) const {
    std::map<std::string, int> by_kind;
    for (const Mismatch& m : mismatches) ++by_kind[KindName(m.kind)];
    std::string out;
    for (const auto& [k, n] : by_kind)
      out += (out.empty() ? "" : ", ") + std::to_string(n) + " " + k;
    out += "\n";
    for (size_t i = 0; i < mismatches.size() && i < kShownMismatches; ++i) {
      const Mismatch& m = mismatches[i];
      out += "    " + std::string(KindName(m.kind)) + " " + m.collection + " " + UserLabel(m.user) +
             " " + m.id + ": " + m.detail + "\n";
      if (m.id.empty()) continue;
      out += Trace(m);
      auto h = history_.find(m.id);
      if (h == history_.end()) {
        out += "      history: seeded, untouched by the schedule\n";
        continue;
      }
      out += "      history: ";
      if (h->second.front().find(": created") == std::string::npos) out += "seeded; ";
      for (size_t j = 0; j < h->second.size(); ++j) out += (j ? "; " : "") + h->second[j];
      out += "\n";
    }
    if (mismatches.size() > kShownMismatches) {
      out += "    ... and " + std::to_string(mismatches.size() - kShownMismatches) + " more\n";
    }
    return out;
  }

  std::vector<Mismatch> CompareAll() {
    ScopeTruth scopes;
    if (scope_ == "folders") {
      scopes[{users_[0], Collection::kMessages}] = [this](const std::string& item) {
        Json json = Json::parse(item, nullptr, false);
        if (!json.is_object()) return false;
        auto name = folder_names_.find(json.value("parentFolderId", ""));
        return name != folder_names_.end() &&
               (name->second == std::string("inbox") || name->second == std::string("archive"));
      };
    } else if (scope_ == "unread") {
      scopes[{users_[0], Collection::kMessages}] = [](const std::string& item) {
        Json json = Json::parse(item, nullptr, false);
        return json.is_object() && !json.value("isRead", true);
      };
    }
    auto mismatches =
        CompareMirror(sim_, *store_, db_path_, users_, rich_users_,
                      {std::begin(kAllCollections), std::end(kAllCollections)}, scopes);
    for (Mismatch& m : CompareList(sim_, *store_, list_site_, list_id_)) {
      mismatches.push_back(std::move(m));
    }
    // Containers are as current as the last delta pass of the items they hold (folder
    // counts change with every message, and no notification carries them): after the items
    // are compared, one pass per mailbox, as the engine's periodic one, then the tables.
    std::vector<std::string> tables;
    for (const ContainerDescription& d : AllContainers()) {
      tables.emplace_back(d.name);
      for (const std::string& user : users_) {
        auto pass = live_->collections().Delta(user, d.collection);
        if (!pass.ok()) {
          mismatches.push_back(
              {Mismatch::Kind::kOther, user, std::string(d.name), "",
               "the delta pass before comparing failed: " + pass.status().message()});
        }
      }
    }
    for (Mismatch& m : CompareContainers(sim_, db_path_, users_, tables)) {
      mismatches.push_back(std::move(m));
    }
    for (Mismatch& m : CompareOccurrences(sim_, db_path_, users_, rich_users_)) {
      mismatches.push_back(std::move(m));
    }
    if (mismatches.empty()) {
      // A second judge: the engine's own verify (ids and changeKeys as Graph lists them)
      // must agree with the row-by-row comparison that the mirror equals Graph.
      sync::Verifier verifier(config_, client_.get(), store_.get(), &clock_);
      auto verified = verifier.Run({});
      if (!verified.ok()) {
        mismatches.push_back({Mismatch::Kind::kOther, "", "verify", "",
                              "verify failed: " + verified.status().ToString()});
      } else {
        for (const sync::ScopeVerify& v : *verified) {
          if (v.drift.total() == 0) continue;
          const sync::Drift& d = v.drift;
          const std::string id = !d.missing.empty() ? d.missing[0]
                                 : !d.extra.empty() ? d.extra[0]
                                                    : d.stale[0];
          mismatches.push_back({Mismatch::Kind::kOther, v.user_id, v.resource, id,
                                "verify reports " + std::to_string(d.missing.size()) +
                                    " missing, " + std::to_string(d.extra.size()) + " extra, " +
                                    std::to_string(d.stale.size()) +
                                    " stale where the rows compare equal"});
        }
      }
    }
    return mismatches;
  }

  void Check() {
    if (!errors_.empty()) return;
    step_ = settings_.steps + 1;
    if (!Quiesce("quiescence")) return;
    auto mismatches = CompareAll();
    if (!mismatches.empty()) {
      // Strict: the engine is quiet, so the mirror must be right now. For the diagnosis,
      // see whether the engine's own periodic safety net (a delta pass every
      // sync.delta_interval) repairs it later, or whether the mirror never converges.
      const std::string now = Describe(mismatches);
      const auto interval = config_.sync.delta_interval;
      Advance(interval + minutes(1));
      if (!Quiesce("safety-net pass")) return;
      auto later = CompareAll();
      if (later.empty()) {
        Fail("stale until safety-net pass",
             "mirror differs from Graph after quiescence (it converged only after the periodic "
             "safety-net delta pass, " +
                 std::to_string(interval.count()) + " min later): " + now);
      } else {
        Fail("diverged", "mirror differs from Graph after quiescence: " + now +
                             "  and still after the periodic safety-net delta pass " +
                             std::to_string(interval.count()) + " min later: " + Describe(later));
      }
      return;
    }
    // Liveness: a new item in every (mailbox, collection) must still reach the mirror,
    // so the subscriptions the engine believes in really notify.
    for (const std::string& user : users_) {
      for (const char* collection : kCollections) {
        const std::string id =
            sim_.CreateItem(user, collection, Fields(collection, "probe " + Tag(), true).dump());
        History(id, "created as a liveness probe after quiescence");
      }
    }
    ListCreate();  // the list subscription must still notify too
    if (!Quiesce("liveness probe")) return;
    mismatches = CompareAll();
    if (!mismatches.empty()) {
      Fail("liveness",
           "changes made after quiescence did not reach the mirror: " + Describe(mismatches));
    }
  }

  const uint64_t seed_;
  const Settings& settings_;
  std::mt19937_64 rng_;
  Tally tally_;
  std::string log_;
  std::vector<std::string> errors_;
  std::string verdict_ = "converged";
  std::map<std::string, std::vector<std::string>> history_;  // item id -> what happened
  std::map<std::string, std::string> folder_names_;          // folder id -> well-known name
  std::map<std::string, std::string> hidden_folder_;         // user -> hidden mail folder id
  // user -> live contact folders under the default one: (id, parent id or "" for default)
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> contact_folders_;
  // Mail folders the schedule made, by mailbox: (id, parent id or "" / "inbox").
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> mail_folders_;
  std::map<std::string, std::vector<std::string>> calendars_;  // made by the schedule
  std::map<std::string, std::vector<std::string>> series_;     // series masters, by user
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> created_;
  std::vector<std::string> step_faults_;
  // Faults seen later (see Injected): the counter's value at each injection, by kind.
  std::map<std::string, std::vector<uint64_t>> injections_;
  struct LifecycleEmitted {
    std::string kind, subscription_id, event;
  };
  std::vector<LifecycleEmitted> lifecycle_emitted_;
  EngineCounters engine_counters_;  // of the engine's earlier lives (before restarts)
  int step_ = 0;
  int down_until_ = 0;
  mutable int serial_ = 0;

  graphsim::Options options_;
  test::TempDir dir_;
  std::set<std::string> rich_users_;
  std::string scope_;  // of the first mailbox's messages: "", "folders" or "unread"
  ManualClock clock_;
  graphsim::Simulator sim_;
  graphsim::Server server_;
  PortReservation port_;
  std::string db_path_;
  std::vector<std::string> users_;
  std::string list_id_;             // the SharePoint list
  std::string list_site_;           // its site URL, as configured
  std::vector<int> list_recycled_;  // its items in the recycle bin
  config::Config config_;
  std::unique_ptr<graph::GraphClient> client_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<sync::LiveSync> live_;
};

}  // namespace

ScheduleResult RunSchedule(uint64_t seed, const Settings& settings) {
  try {
    Schedule schedule(seed, settings);
    return schedule.Run();
  } catch (const std::exception& e) {
    ScheduleResult result;
    result.seed = seed;
    result.verdict = "harness error";
    result.failure = std::string("harness error: exception: ") + e.what() + "\n";
    return result;
  }
}

}  // namespace graphmirror::convergence
