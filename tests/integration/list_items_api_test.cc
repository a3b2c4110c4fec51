// SharePoint list items through the public API: Engine::ListItems reads them typed, and
// the observer (SetObserver) reports their inserts, updates and deletes as it does
// mailbox items.

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>

#include "engine/rich/keygen.h"
#include "graphmirror/engine.h"
#include "tests/integration/sim_fixture.h"
#include "tests/support/free_port.h"

namespace graphmirror::test {
namespace {

TEST_CASE("Engine::ListItems reads SharePoint list items; the observer reports their changes",
          "[api][sharepoint]") {
  // SharePoint takes app-only tokens obtained with a certificate only.
  auto generated = rich::GenerateCertificate("graphmirror app", 30);
  REQUIRE(generated.ok());
  graphsim::Options o;
  o.users = 1;
  o.messages = 3;
  o.events = 0;
  o.contacts = 0;
  o.client_certificate_pem = generated->certificate_pem;
  SimFixture f(o);
  const std::string cert = f.dir().Path("app-cert.pem"), key = f.dir().Path("app-key.pem");
  REQUIRE(rich::WriteCertificateFiles(*generated, cert, key).ok());
  const std::string list = f.sim().AddSharePointList("/sites/team", "Tasks");
  for (int i = 0; i < 3; ++i) {
    REQUIRE(f.sim().CreateListItem(list, "{\"Title\":\"seeded " + std::to_string(i) + "\"}") > 0);
  }
  const std::string site = f.server().base_url() + "/sites/team";

  const int port = FreePort();
  Config config = f.Config(100);
  config.database = f.dir().Path("api.db");
  config.graph.client_secret.clear();
  config.graph.certificate = cert;
  config.graph.private_key = key;
  config.webhook.listen = "127.0.0.1:" + std::to_string(port);
  config.webhook.notification_url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  config.sharepoint.push_back({site, {list}});
  auto opened = Engine::Open(config, &f.clock());
  REQUIRE(opened.ok());
  Engine& engine = **opened;
  std::mutex mu;
  std::vector<Change> seen;
  engine.SetObserver([&](const std::vector<Change>& changes) {
    std::lock_guard<std::mutex> lock(mu);
    for (const Change& c : changes) {
      if (c.is_list_item()) seen.push_back(c);
    }
  });
  auto seen_list = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return seen;
  };

  REQUIRE(engine.Start().ok());
  REQUIRE(engine.WaitForInitialSync(std::chrono::seconds(60)).ok());

  // Read whole at start: typed, by Id.
  auto items = engine.ListItems(site, list);
  REQUIRE(items.ok());
  REQUIRE(items->size() == 3);
  for (size_t i = 0; i < items->size(); ++i) {
    const ListItem& item = (*items)[i];
    CHECK(item.site == site);
    CHECK(item.list_id == list);
    CHECK(item.json.find("seeded " + std::to_string(i)) != std::string::npos);
    if (i > 0) CHECK(item.item_id > (*items)[i - 1].item_id);
  }
  // Paged by Id; the list id in any case, the site with a trailing slash.
  std::string upper = list;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  auto page = engine.ListItems({site + "/", upper, (*items)[0].item_id, 1});
  REQUIRE(page.ok());
  REQUIRE(page->size() == 1);
  CHECK(page->front().item_id == (*items)[1].item_id);
  CHECK(engine.ListItems({site, list, 0, 0}).status().code() == Status::Code::kInvalidArgument);
  CHECK(engine.ListItems("https://elsewhere.example/sites/x", list)->empty());
  // The observer saw the inserts of the first read.
  {
    auto changes = seen_list();
    REQUIRE(changes.size() == 3);
    for (const Change& c : changes) {
      CHECK(c.site == site);
      CHECK(c.list_id == list);
      CHECK(c.user_id.empty());
      CHECK_FALSE(c.deleted);
    }
  }

  // Added, updated, deleted in SharePoint: notified, then read with GetChanges.
  const int added = f.sim().CreateListItem(list, R"({"Title":"added"})");
  REQUIRE(f.sim().UpdateListItem(list, static_cast<int>((*items)[0].item_id),
                                 R"({"Title":"renamed"})"));
  REQUIRE(f.sim().DeleteListItem(list, static_cast<int>((*items)[1].item_id)));
  bool converged = false;
  for (int i = 0; i < 500 && !converged; ++i) {
    f.sim().PumpDeliveries();
    auto now = engine.ListItems(site, list);
    converged = now.ok() && now->size() == 3 &&
                std::any_of(now->begin(), now->end(),
                            [&](const ListItem& item) { return item.item_id == added; });
    if (!converged) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(converged);
  auto after = engine.ListItems(site, list);
  REQUIRE(after.ok());
  CHECK(after->front().item_id == (*items)[0].item_id);
  CHECK(after->front().json.find("renamed") != std::string::npos);

  auto changes = seen_list();
  auto has = [&](int64_t id, bool deleted) {
    return std::any_of(changes.begin(), changes.end(), [&](const Change& c) {
      return c.id == std::to_string(id) && c.deleted == deleted && c.list_id == list;
    });
  };
  CHECK(has(added, false));
  CHECK(has((*items)[0].item_id, false));
  CHECK(has((*items)[1].item_id, true));
  // An item read again unchanged is no change: the untouched one was reported once.
  CHECK(std::count_if(changes.begin(), changes.end(), [&](const Change& c) {
          return c.id == std::to_string((*items)[2].item_id);
        }) == 1);
  engine.Stop();
}

}  // namespace
}  // namespace graphmirror::test
