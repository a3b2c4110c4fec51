// Events outside the calendar window of event delta rounds (calendarView delta lists only
// its window, `sync.calendar_past_days` before and `calendar_future_days` after now): no
// round lists them, so neither a rich notification that comes after a pass nor the pass
// itself may take the mirror's lack of one for its deletion. Found by the convergence
// checker (seed 1404: an event two years ahead in a rich mailbox, "created applied", never
// in the mirror).

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

#include "engine/rich/keygen.h"
#include "tests/integration/live_fixture.h"

namespace graphmirror::test {
namespace {

// "2028-05-10T10:00:00.0000000": an event's zone-less dateTime.
std::string LocalDateTime(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.0000000", &tm);
  return buf;
}

// An event `days` from now, an hour long, in UTC.
std::string EventIn(TimePoint now, int days, const std::string& subject) {
  const TimePoint start =
      std::chrono::floor<std::chrono::hours>(now) + std::chrono::hours(24 * days);
  return nlohmann::json{
      {"subject", subject},
      {"start", {{"dateTime", LocalDateTime(start)}, {"timeZone", "UTC"}}},
      {"end", {{"dateTime", LocalDateTime(start + std::chrono::hours(1))}, {"timeZone", "UTC"}}}}
      .dump();
}

// Every mailbox rich, with a fresh key pair.
class RichWindowFixture : public LiveFixture {
 public:
  RichWindowFixture() : LiveFixture(Small(), nullptr, [this](config::Config& c) { MakeRich(c); }) {}

  void MakeRich(config::Config& c) {
    auto generated = rich::GenerateCertificate("graphmirror window", 30);
    REQUIRE(generated.ok());
    c.rich.emplace();
    c.rich->certificate = dir().Path("window-cert.pem");
    c.rich->current = {"window", dir().Path("window-key.pem")};
    REQUIRE(
        rich::WriteCertificateFiles(*generated, c.rich->certificate, c.rich->current.private_key)
            .ok());
    c.rich->jwks_url = server().base_url() + "/common/discovery/v2.0/keys";
    for (auto& mailbox : c.mailboxes) mailbox.rich = true;
  }

  int64_t Has(const std::string& id) {
    return QueryInt("SELECT count(*) FROM events WHERE id = '" + id + "'");
  }
};

// The window ends 30-60 days past calendar_future_days (730) from now: 800 days is out.
constexpr int kBeyondWindowDays = 800;

TEST_CASE("A rich event beyond the calendar window notified after a delta pass is kept",
          "[live][rich][delta]") {
  RichWindowFixture f;
  f.Deliver();
  const std::string user = f.sim().UserIds()[0];
  f.clock().Advance(std::chrono::minutes(1));
  const std::string far = f.sim().CreateItem(
      user, "events", EventIn(f.clock().Now(), kBeyondWindowDays, "two years ahead"));
  REQUIRE(!far.empty());
  // Before its notification arrives, a pass begins well after the event was created. Its
  // tokens expired: a fresh round, which lists only the window.
  f.clock().Advance(std::chrono::minutes(10));
  f.sim().ExpireDeltaTokens();
  auto pass = f.live().collections().Delta(user, Collection::kEvents);
  REQUIRE(pass.ok());
  // The rich notification, older than that pass, is the mirror's word on the event.
  f.Deliver();
  CHECK(f.live().worker().stats().rich_items >= 1);
  CHECK(f.QueryInt("SELECT count(*) FROM notification_log WHERE item_id = '" + far +
                   "' AND state = 'applied'") >= 1);
  CHECK(f.Has(far) == 1);
  f.RequireExactMirror(user, Collection::kEvents);
}

TEST_CASE("The delta pass reads an event beyond the calendar window that the mirror lacks",
          "[live][delta]") {
  LiveFixture f(Small());
  f.Deliver();
  const std::string user = f.sim().UserIds()[1];
  f.clock().Advance(std::chrono::minutes(1));
  const std::string far = f.sim().CreateItem(
      user, "events", EventIn(f.clock().Now(), kBeyondWindowDays, "two years ahead"));
  const std::string past = f.sim().CreateItem(
      user, "events", EventIn(f.clock().Now(), -kBeyondWindowDays, "two years ago"));
  f.Deliver();
  REQUIRE(f.QueryInt("SELECT count(*) FROM events WHERE id IN ('" + far + "', '" + past + "')") ==
          2);
  // The rows are lost (their notifications were, say): no watermark round lists them
  // again, and no round of the window ever does.
  {
    SQLite::Database db(f.dir().Path("mirror.db"), SQLite::OPEN_READWRITE);
    db.exec("DELETE FROM events WHERE id IN ('" + far + "', '" + past + "')");
  }
  f.sim().ExpireDeltaTokens();
  f.clock().Advance(std::chrono::minutes(5));
  auto pass = f.live().collections().Delta(user, Collection::kEvents);
  REQUIRE(pass.ok());
  CHECK(pass->verified >= 2);
  f.RequireExactMirror(user, Collection::kEvents);
}

// Events the mirror holds none of: the first pass runs the calendar window's delta round,
// then the createdDateTime round from the beginning, which lists every event once; no
// listing of every event's id follows (CollectionSync::WindowFirst). What changes outside
// the window afterwards reaches the mirror through the next round from the window's token.
TEST_CASE("A first sync lists each event once; changes outside the window come after it",
          "[incremental][cost][delta]") {
  graphsim::Options options;
  options.seed = 31;
  options.users = 2;
  options.messages = 0;
  options.events = 150;
  options.contacts = 0;
  options.max_page_size = 1000;
  SimFixture f(options);
  const std::string user = f.sim().UserIds()[0];
  const std::string far = f.sim().CreateItem(
      user, "events", EventIn(f.clock().Now(), kBeyondWindowDays, "two years ahead"));
  const std::string past = f.sim().CreateItem(
      user, "events", EventIn(f.clock().Now(), -kBeyondWindowDays, "two years ago"));
  REQUIRE(!far.empty());
  REQUIRE(!past.empty());
  // Last changed an hour ago: not within the overlap of the first pass's modified round.
  f.clock().Advance(std::chrono::hours(1));
  config::Config config = f.Config(/*page_size=*/500);
  for (auto& mailbox : config.mailboxes) mailbox.resources = {Collection::kEvents};
  auto sync_all = [&] {
    for (const auto& r : sync::SyncAllOnce(config, &f.client(), &f.store(), nullptr, &f.clock())) {
      INFO(r.user_id << ": " << r.status.ToString());
      REQUIRE(r.status.ok());
    }
  };

  const graphsim::ItemsServed before = f.sim().Served();
  sync_all();
  const graphsim::ItemsServed served = f.sim().Served();
  uint64_t events = 0;
  for (const std::string& u : f.sim().UserIds()) {
    f.RequireExactMirror(u, Collection::kEvents);
    events += f.sim().ItemIds(u, "events").size();
  }
  INFO("listed " << served.listed - before.listed << ", by id " << served.by_id - before.by_id
                 << " for " << events << " events");
  // /events once, and each mailbox's one calendar (GET /calendars); no listing of ids.
  CHECK(served.listed - before.listed == events + f.sim().UserIds().size());
  CHECK(served.by_id - before.by_id == 0);

  REQUIRE(f.sim().DeleteItem(user, "events", far));
  REQUIRE(f.sim().UpdateItem(user, "events", past, R"({"subject":"moved on"})"));
  f.clock().Advance(std::chrono::minutes(5));
  sync_all();
  f.RequireExactMirror(user, Collection::kEvents);
  CHECK(f.QueryInt("SELECT count(*) FROM events WHERE id = '" + past +
                   "' AND subject = 'moved on'") == 1);
}

}  // namespace
}  // namespace graphmirror::test
