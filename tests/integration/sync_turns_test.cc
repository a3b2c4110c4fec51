// A pass over many mailboxes (SyncAllOnce) reads them in turn, a request each, at most
// sync.parallelism at once: when the first mailbox is done every other is nearly done
// too, instead of not yet started.

#include <algorithm>
#include <map>
#include <mutex>

#include "tests/integration/sim_fixture.h"

namespace graphmirror::test {

TEST_CASE("a pass reads its mailboxes in turn, none waiting for another to be read whole",
          "[sync][turns]") {
  graphsim::Options o;
  o.seed = 31;
  o.users = 6;
  o.messages = 200;
  o.events = 0;
  o.contacts = 0;
  o.max_page_size = 10;  // 20 pages a mailbox
  SimFixture f(o);
  config::Config config = f.Config(/*page_size=*/10);
  config.sync.parallelism = GENERATE(1, 2);
  INFO("sync.parallelism = " << config.sync.parallelism);
  for (auto& mailbox : config.mailboxes) mailbox.resources = {Collection::kMessages};

  std::mutex mu;
  std::vector<std::map<std::string, int64_t>> held_when_done;  // at each mailbox's end
  auto reports = sync::SyncAllOnce(
      config, &f.client(), &f.store(),
      [&](const sync::CollectionReport&) {
        std::map<std::string, int64_t> held;
        for (const auto& mailbox : config.mailboxes) {
          held[mailbox.user] = *f.store().mirror().CountItems(mailbox.user, Collection::kMessages);
        }
        std::lock_guard<std::mutex> lock(mu);
        held_when_done.push_back(std::move(held));
      },
      &f.clock());
  for (const auto& r : reports) {
    INFO(r.user_id << ": " << r.status.ToString());
    REQUIRE(r.status.ok());
    CHECK(r.items_after == 200);
  }
  REQUIRE(held_when_done.size() == 6);
  // No more requests at once than sync.parallelism, the six mailboxes' threads though.
  CHECK(f.sim().MaxConcurrentObservedAll() <= config.sync.parallelism);
  // When the first mailbox is read whole, the others are at least most of the way: read in
  // config order, one after another, they would hold nothing yet.
  for (const auto& [user, held] : held_when_done.front()) {
    INFO(user << " held " << held << " of 200 when the first mailbox was done");
    CHECK(held >= 150);
  }
}

}  // namespace graphmirror::test
