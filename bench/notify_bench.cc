// Rows 5 and 9: change notifications end to end, Graph to mirror, in one process.
//
// Both rows run graphsim in-process (Simulator + Server over loopback, its delivery thread
// posting notifications as soon as they are due, delivery_delay 0) and the engine through
// its public API (Engine::Open, SyncOnce, Start with its own webhook listener on a free
// loopback port). Everything runs on the system clock: these are latencies. The engine's
// change observer stamps each reported message id with steady_clock and hands it to a
// collector thread (the observer runs on the writer thread and must stay short).
//
// Row 5 (notification -> visible): a driver thread makes 200 changes/s in graphsim, paced
// open-loop by a schedule (change i is due at start + i * 5 ms, however late the previous
// one was), spread over the mailboxes: creates, and every 5th change an update of a message
// whose create is already visible. Latency = the first observer report of the id at or
// after the instant just before the CreateItem/UpdateItem call.
// Row 9 (Graph requests per 1,000 notifications): with the engine caught up, 1,000
// messages are created in one inbox as fast as possible; the row is the number of Graph
// requests graphsim served until all are in the mirror, every notification is delivered
// and the log backlog is 0.

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "graphmirror/engine.h"
#include "tools/graphsim/graphsim.h"

namespace graphmirror::bench {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// When each message id was reported by the engine's observer. Report() is the observer:
// it only stamps the batch and queues it; a collector thread files it by id, so the
// writer thread never waits for the bookkeeping.
class Visibility {
 public:
  Visibility() : collector_([this] { Collect(); }) {}
  ~Visibility() {
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      stopping_ = true;
    }
    inbox_cv_.notify_one();
    collector_.join();
  }
  Visibility(const Visibility&) = delete;
  Visibility& operator=(const Visibility&) = delete;

  void Report(const std::vector<Change>& changes) {
    const SteadyTime now = std::chrono::steady_clock::now();
    std::vector<std::string> ids;
    for (const Change& c : changes) {
      if (c.collection == Collection::kMessages && !c.deleted) ids.push_back(c.id);
    }
    if (ids.empty()) return;
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      inbox_.emplace_back(now, std::move(ids));
    }
    inbox_cv_.notify_one();
  }

  bool Seen(const std::string& id) {
    std::lock_guard<std::mutex> lock(seen_mu_);
    return seen_.count(id) > 0;
  }

  // The first report of `id` at or after `after`, if there is one yet.
  std::optional<SteadyTime> FirstAfter(const std::string& id, SteadyTime after) {
    std::lock_guard<std::mutex> lock(seen_mu_);
    auto it = seen_.find(id);
    if (it == seen_.end()) return std::nullopt;
    for (SteadyTime t : it->second) {
      if (t >= after) return t;
    }
    return std::nullopt;
  }

 private:
  void Collect() {
    std::unique_lock<std::mutex> lock(inbox_mu_);
    for (;;) {
      inbox_cv_.wait(lock, [&] { return stopping_ || !inbox_.empty(); });
      if (inbox_.empty() && stopping_) return;
      std::vector<std::pair<SteadyTime, std::vector<std::string>>> batch;
      batch.swap(inbox_);
      lock.unlock();
      {
        std::lock_guard<std::mutex> seen_lock(seen_mu_);
        for (auto& [t, ids] : batch) {
          for (std::string& id : ids) seen_[std::move(id)].push_back(t);
        }
      }
      lock.lock();
    }
  }

  std::mutex inbox_mu_;
  std::condition_variable inbox_cv_;
  std::vector<std::pair<SteadyTime, std::vector<std::string>>> inbox_;
  bool stopping_ = false;
  std::mutex seen_mu_;
  std::unordered_map<std::string, std::vector<SteadyTime>> seen_;  // reports, in order
  std::thread collector_;  // last: starts once the members above exist
};

// graphsim and a started engine subscribed to it, its observer feeding `seen`.
struct Live {
  std::unique_ptr<graphsim::Simulator> sim;
  std::unique_ptr<graphsim::Server> server;
  std::unique_ptr<Visibility> seen;
  std::unique_ptr<Engine> engine;
  std::vector<std::string> users;

  ~Live() {
    // Deliveries first: nothing should post to a listener that is going away.
    if (sim) sim->StopDeliveryThread();
    if (engine) engine->Stop();
    engine.reset();  // before `seen`, which its observer refers to
  }
};

// Sets `live` up; false (with a one-line message on stderr) if any step fails.
// `collections` are mirrored for every user; `prepare` changes the tenant before the
// engine's first sync.
bool StartLive(const Options& options, const WorkDir& dir, const std::string& name, int users,
               int messages, Live* live,
               std::vector<Collection> collections = {Collection::kMessages},
               const std::function<void(graphsim::Simulator&)>& prepare = nullptr) {
  graphsim::Options o;
  o.seed = options.seed;
  o.users = users;
  o.messages = messages;
  o.events = 0;
  o.contacts = 0;
  o.delivery_delay = std::chrono::milliseconds(0);
  live->sim = std::make_unique<graphsim::Simulator>(o, nullptr);
  live->server = std::make_unique<graphsim::Server>(live->sim.get());
  if (Status s = live->server->Start("127.0.0.1", 0); !s.ok()) {
    std::cerr << "notify: graphsim did not start: " << s.message() << "\n";
    return false;
  }
  live->users = live->sim->UserIds();

  const int port = FreePort();
  const std::string hook = "http://127.0.0.1:" + std::to_string(port);
  Config config;
  config.database = dir.Path(name + ".db");
  config.graph.base_url = live->server->base_url() + "/v1.0";
  config.graph.token_url = live->server->base_url() + "/common/oauth2/v2.0/token";
  config.graph.client_id = "graphsim";
  config.graph.client_secret = "graphsim-secret";
  config.webhook.listen = "127.0.0.1:" + std::to_string(port);
  config.webhook.notification_url = hook + "/notify";
  config.webhook.lifecycle_url = hook + "/lifecycle";
  for (const std::string& user : live->users) {
    config.mailboxes.push_back({user, collections, false, {}, {}});
  }
  if (prepare) prepare(*live->sim);
  auto engine = Engine::Open(config);
  if (!engine.ok()) {
    std::cerr << "notify: Engine::Open: " << engine.status().message() << "\n";
    return false;
  }
  live->engine = std::move(engine).value();
  live->seen = std::make_unique<Visibility>();
  Visibility* seen = live->seen.get();
  live->engine->SetObserver([seen](const std::vector<Change>& changes) { seen->Report(changes); });
  if (Status s = live->engine->SyncOnce(); !s.ok()) {
    std::cerr << "notify: SyncOnce: " << s.message() << "\n";
    return false;
  }
  live->sim->StartDeliveryThread();
  if (Status s = live->engine->Start(); !s.ok()) {
    std::cerr << "notify: Engine::Start: " << s.message() << "\n";
    return false;
  }
  // Start returns at once; the subscriptions come with the initial sync.
  if (Status s = live->engine->WaitForInitialSync(std::chrono::minutes(10)); !s.ok()) {
    std::cerr << "notify: the initial sync: " << s.message() << "\n";
    return false;
  }
  if (live->sim->Subscriptions().size() != live->users.size() * collections.size()) {
    std::cerr << "notify: expected " << live->users.size() << " subscriptions in graphsim, found "
              << live->sim->Subscriptions().size() << "\n";
    return false;
  }
  return true;
}

int64_t Backlog(Engine& engine) {
  auto status = engine.GetStatus();
  return status.ok() ? status->log_backlog : -1;
}

// Waits until the log is empty and graphsim has nothing left to deliver (the start's
// catch-up rows applied), then a little longer for anything still in flight.
bool WaitQuiet(Live& live, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Backlog(*live.engine) == 0 && live.sim->Deliveries().pending_items == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      if (Backlog(*live.engine) == 0) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::cerr << "notify: the engine did not settle after Start\n";
  return false;
}

// --- Row 5 ----------------------------------------------------------------------------------

struct Sent {
  std::string user;
  std::string id;  // empty: the call failed
  SteadyTime before;
  bool update = false;
};

int LatencyRow(const Options& options, const WorkDir& dir) {
  constexpr int kRate = 200;  // changes per second
  const int seconds = options.smoke ? 2 : 30;
  const int total = kRate * seconds;
  std::cerr << "notify: row 5, " << total << " changes at " << kRate << "/s over 2 mailboxes\n";
  Live live;
  if (!StartLive(options, dir, "latency", 2, 50, &live)) return 1;
  if (!WaitQuiet(live, std::chrono::seconds(30))) return 1;

  const uint64_t requests_before = live.sim->RequestCount();
  const uint64_t delivered_before = live.sim->Deliveries().delivered_items;
  std::vector<Sent> sent;
  sent.reserve(total);
  double max_lag_ms = 0;
  // Updates: the observer reports an id on every commit that changed its row (a re-read of
  // the same version reports nothing, an older one is never written). So an update is made
  // only of a message whose create is already visible and that no earlier update touched:
  // then the first report of the id at or after the update's start is that update, and the
  // create's report (which came before) cannot be taken for it.
  std::thread driver([&] {
    std::deque<size_t> updatable;  // creates, oldest first, not updated yet
    const auto period = std::chrono::microseconds(1000000 / kRate);
    const SteadyTime start = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
    for (int i = 0; i < total; ++i) {
      const SteadyTime due = start + i * period;
      std::this_thread::sleep_until(due);
      Sent s;
      s.before = std::chrono::steady_clock::now();
      max_lag_ms = std::max(max_lag_ms, Ms(s.before - due));
      const bool update_slot = i % 5 == 4;
      if (update_slot && !updatable.empty() && live.seen->Seen(sent[updatable.front()].id)) {
        const Sent& target = sent[updatable.front()];
        updatable.pop_front();
        s.user = target.user;
        s.update = true;
        s.before = std::chrono::steady_clock::now();
        if (live.sim->UpdateItem(s.user, "messages", target.id,
                                 "{\"subject\":\"bench 5 update " + std::to_string(i) + "\"}")) {
          s.id = target.id;
        }
      } else {
        s.user = live.users[i % live.users.size()];
        s.id = live.sim->CreateItem(s.user, "messages",
                                    "{\"subject\":\"bench 5 create " + std::to_string(i) + "\"}");
        if (!s.id.empty()) updatable.push_back(sent.size());
      }
      sent.push_back(std::move(s));
    }
  });
  driver.join();
  const SteadyTime driver_done = std::chrono::steady_clock::now();

  // Every change visible, or 30 s after the driver stopped.
  std::vector<double> latency(sent.size(), -1);
  size_t resolved = 0;
  const SteadyTime deadline = driver_done + std::chrono::seconds(30);
  for (;;) {
    for (size_t i = 0; i < sent.size(); ++i) {
      if (latency[i] >= 0 || sent[i].id.empty()) continue;
      if (auto t = live.seen->FirstAfter(sent[i].id, sent[i].before)) {
        latency[i] = Ms(*t - sent[i].before);
        ++resolved;
      }
    }
    if (resolved == sent.size() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double drain_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - driver_done).count();
  const uint64_t requests = live.sim->RequestCount() - requests_before;
  const uint64_t delivered = live.sim->Deliveries().delivered_items - delivered_before;
  int throttled = 0;
  for (const std::string& user : live.users) throttled += live.sim->ThrottledCount(user);

  // The first and the last 5 s apart: a latency that grows with the run shows there.
  std::vector<double> all, creates, updates, first, last;
  size_t failed_calls = 0;
  const size_t window = std::min<size_t>(sent.size() / 2, 5 * kRate);
  for (size_t i = 0; i < sent.size(); ++i) {
    if (sent[i].id.empty()) ++failed_calls;
    if (latency[i] < 0) continue;
    all.push_back(latency[i]);
    (sent[i].update ? updates : creates).push_back(latency[i]);
    if (i < window) first.push_back(latency[i]);
    if (i >= sent.size() - window) last.push_back(latency[i]);
  }
  const size_t lost = sent.size() - all.size();
  const double p50 = Percentile(all, 50), p90 = Percentile(all, 90), p99 = Percentile(all, 99);
  const double max = all.empty() ? 0 : all.back();  // sorted by Percentile
  Row r;
  r.number = 5;
  r.what = "notification -> visible, " + std::to_string(kRate) + " changes/s for " +
           std::to_string(seconds) + " s (creates, 1 in 5 an update)";
  r.value = p50;
  r.unit = "ms";
  r.target = "p50 <= 50 ms, p99 <= 500 ms";
  r.met = !options.smoke && lost == 0 && p50 <= 50 && p99 <= 500;
  r.detail = Format(
      "p90 %.1f ms, p99 %.1f ms, max %.1f ms; %zu changes (%zu creates p50 %.1f ms, %zu "
      "updates p50 %.1f ms), lost %zu (failed calls %zu); p50 of the first %zu changes "
      "%.1f ms, of the last %zu %.1f ms; %llu Graph requests, %llu notifications "
      "delivered, %d throttled; driver lag max %.1f ms; drained %.1f s after the "
      "driver stopped",
      p90, p99, max, sent.size(), creates.size(), Percentile(creates, 50), updates.size(),
      Percentile(updates, 50), lost, failed_calls, window, Percentile(first, 50), window,
      Percentile(last, 50), static_cast<unsigned long long>(requests),
      static_cast<unsigned long long>(delivered), throttled, max_lag_ms, drain_s);
  r.reproduce = "bench/run --only 5";
  PrintRow(r);
  return all.empty() ? 1 : 0;  // nothing visible at all: the engine is broken, not slow
}

// --- Row 9 ----------------------------------------------------------------------------------

int RequestsRow(const Options& options, const WorkDir& dir) {
  const int burst = options.smoke ? 100 : 1000;
  std::cerr << "notify: row 9, a burst of " << burst << " new messages in one inbox\n";
  Live live;
  if (!StartLive(options, dir, "requests", 1, 50, &live)) return 1;
  if (!WaitQuiet(live, std::chrono::seconds(30))) return 1;

  const std::string user = live.users[0];
  const uint64_t requests_before = live.sim->RequestCount();
  const uint64_t item_gets_before = live.sim->ItemGets();
  const graphsim::DeliveryStats deliveries_before = live.sim->Deliveries();
  Stopwatch clock;
  std::vector<std::string> ids;
  ids.reserve(burst);
  for (int i = 0; i < burst; ++i) {
    std::string id = live.sim->CreateItem(
        user, "messages", "{\"subject\":\"bench 9 burst " + std::to_string(i) + "\"}", "inbox");
    if (id.empty()) {
      std::cerr << "notify: graphsim refused CreateItem\n";
      return 1;
    }
    ids.push_back(std::move(id));
  }
  const double burst_s = clock.Seconds();

  // Done: every message visible, graphsim has nothing left to deliver (no notification
  // still to come and cost a round), and the engine's log is empty.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  size_t visible = 0;
  bool done = false;
  while (!done && std::chrono::steady_clock::now() < deadline) {
    while (visible < ids.size() && live.seen->Seen(ids[visible])) ++visible;
    done = visible == ids.size() && live.sim->Deliveries().pending_items == 0 &&
           Backlog(*live.engine) == 0;
    if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double seconds = clock.Seconds();
  const uint64_t requests = live.sim->RequestCount() - requests_before;
  const uint64_t item_gets = live.sim->ItemGets() - item_gets_before;
  const graphsim::DeliveryStats deliveries = live.sim->Deliveries();
  const uint64_t delivered = deliveries.delivered_items - deliveries_before.delivered_items;
  const uint64_t posts = deliveries.attempts - deliveries_before.attempts;
  if (!done) {
    std::cerr << "notify: row 9 did not settle in 60 s (" << visible << " of " << burst
              << " visible, backlog " << Backlog(*live.engine) << ")\n";
  }

  Row r;
  r.number = 9;
  r.what = "Graph requests per " + Thousands(burst) + " notifications (burst in one inbox)";
  r.value = static_cast<double>(requests);
  r.unit = "requests";
  r.target = "<= 10 requests per 1,000";
  r.met = !options.smoke && done && requests <= 10;
  r.detail = Format(
      "%s%llu requests (%llu item GETs) for %d created messages; graphsim delivered "
      "%llu notifications in %llu POSTs; %zu of %d visible%s; burst %.2f s, settled "
      "%.2f s after its start",
      options.smoke ? "smoke: per 100, not 1,000; " : "", static_cast<unsigned long long>(requests),
      static_cast<unsigned long long>(item_gets), burst, static_cast<unsigned long long>(delivered),
      static_cast<unsigned long long>(posts), visible, burst, done ? "" : " (timed out)", burst_s,
      seconds);
  r.reproduce = "bench/run --only 9";
  PrintRow(r);
  return done ? 0 : 1;
}

// --- Row 10 ---------------------------------------------------------------------------------

// "YYYY-MM-DD" of the day `days` after today (UTC).
std::string Day(int days) {
  const auto day = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()) +
                   std::chrono::days(days);
  const std::chrono::year_month_day ymd(day);
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return text;
}

// A daily series of `count` half-hour occurrences at 09:00 Pacific, from `first_day`.
std::string DailySeries(const std::string& subject, const std::string& first_day, int count) {
  return "{\"subject\":\"" + subject + "\",\"start\":{\"dateTime\":\"" + first_day +
         "T09:00:00\",\"timeZone\":\"Pacific Standard Time\"},\"end\":{\"dateTime\":\"" +
         first_day +
         "T09:30:00\",\"timeZone\":\"Pacific Standard Time\"},\"recurrence\":{\"pattern\":"
         "{\"type\":\"daily\",\"interval\":1},\"range\":{\"type\":\"numbered\","
         "\"startDate\":\"" +
         first_day + "\",\"numberOfOccurrences\":" + std::to_string(count) + "}}}";
}

int SeriesRow(const Options& options, const WorkDir& dir) {
  const int series_count = options.smoke ? 5 : 50, per_series = options.smoke ? 10 : 100;
  std::cerr << "notify: row 10, a calendar of " << series_count << " series of " << per_series
            << " occurrences\n";
  Live live;
  auto make = [&](graphsim::Simulator& sim) {
    const std::string user = sim.UserIds()[0];
    for (int i = 0; i < series_count; ++i) {
      if (sim.CreateItem(user, "events",
                         DailySeries("series " + std::to_string(i), Day(i % 20), per_series))
              .empty()) {
        throw std::runtime_error("graphsim refused a series");
      }
    }
  };
  if (!StartLive(options, dir, "series", 1, 0, &live, {Collection::kEvents}, make)) return 1;
  if (!WaitQuiet(live, std::chrono::seconds(30))) return 1;
  const std::string user = live.users[0];
  const graphsim::MailboxStats initial = live.sim->Stats(user);
  const auto window_start = std::chrono::system_clock::now() - std::chrono::hours(24 * 360);
  const auto window_end = std::chrono::system_clock::now() + std::chrono::hours(24 * 720);
  const size_t occurrences = live.sim->EventOccurrences(user, window_start, window_end).size();

  // A safety-net pass with nothing changed: what every periodic pass costs.
  graphsim::MailboxStats before = live.sim->Stats(user);
  if (Status s = live.engine->Resync(user, Collection::kEvents); !s.ok()) {
    std::cerr << "notify: Resync: " << s.message() << "\n";
    return 1;
  }
  const graphsim::MailboxStats after_pass = live.sim->Stats(user);
  const uint64_t pass_requests = after_pass.requests - before.requests;
  const uint64_t pass_gets = after_pass.item_gets - before.item_gets;

  // A run of changes, as an organizer makes them: series renamed, occurrences edited
  // (exceptions) and cancelled, series deleted.
  std::vector<std::string> masters = live.sim->ItemIds(user, "events");
  auto listed = live.sim->EventOccurrences(user, window_start, window_end);
  const int runs = options.smoke ? 2 : 10;
  int changes = 0;
  before = live.sim->Stats(user);
  Stopwatch clock;
  for (int i = 0; i < runs && i < static_cast<int>(masters.size()); ++i) {
    const size_t at = static_cast<size_t>(i) * static_cast<size_t>(per_series);
    changes += live.sim->UpdateItem(user, "events", masters[static_cast<size_t>(i)],
                                    "{\"subject\":\"renamed\"}");
    changes += live.sim->UpdateItem(user, "events", listed[at + 3].id, "{\"subject\":\"edited\"}");
    changes += live.sim->DeleteItem(user, "events", listed[at + 5].id);
    if (i % 2 == 1)
      changes += live.sim->DeleteItem(user, "events", masters[masters.size() - 1 - i]);
  }
  const bool quiet = WaitQuiet(live, std::chrono::seconds(60));
  const double seconds = clock.Seconds();
  const graphsim::MailboxStats after = live.sim->Stats(user);
  const uint64_t requests = after.requests - before.requests;
  const uint64_t gets = after.item_gets - before.item_gets;
  const uint64_t budget = 2 * static_cast<uint64_t>(changes) + 50;

  Row r;
  r.number = 10;
  r.what = "recurring calendar, " + std::to_string(series_count) + " series x " +
           std::to_string(per_series) + " occurrences: Graph requests per safety-net pass";
  r.value = static_cast<double>(pass_requests);
  r.unit = "requests";
  r.target = "item GETs <= 2 x changes + 50 for any run of changes; none per occurrence";
  r.met = !options.smoke && quiet && gets <= budget && initial.item_gets == 0 && pass_gets == 0;
  r.detail = Format(
      "%s%zu occurrences in the window; first sync and start: %llu requests, %llu item GETs; "
      "safety-net pass: %llu requests, %llu item GETs; a run of %d changes (renames, "
      "exceptions, cancellations, deletions): %llu requests, %llu item GETs (budget %llu), "
      "settled in %.2f s%s",
      options.smoke ? "smoke: 5 series of 10; " : "", occurrences,
      static_cast<unsigned long long>(initial.requests),
      static_cast<unsigned long long>(initial.item_gets),
      static_cast<unsigned long long>(pass_requests), static_cast<unsigned long long>(pass_gets),
      changes, static_cast<unsigned long long>(requests), static_cast<unsigned long long>(gets),
      static_cast<unsigned long long>(budget), seconds, quiet ? "" : " (did not settle)");
  r.reproduce = "bench/run --only 10";
  PrintRow(r);
  return quiet ? 0 : 1;
}

}  // namespace
}  // namespace graphmirror::bench

int main(int argc, char** argv) {
  using namespace graphmirror::bench;
  return BenchMain(argc, argv, "notify",
                   "Change notifications: latency and Graph requests (rows 5, 9, 10)",
                   [](const Options& options) {
                     WorkDir dir(options, "notify");
                     int rc = 0;
                     if (Wanted(options, 5) && LatencyRow(options, dir) != 0) rc = 1;
                     if (Wanted(options, 9) && RequestsRow(options, dir) != 0) rc = 1;
                     if (Wanted(options, 10) && SeriesRow(options, dir) != 0) rc = 1;
                     return rc;
                   });
}
