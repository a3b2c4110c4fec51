// The public embedding API (include/graphmirror/engine.h) against graphsim, as a program
// that links the library would use it: no internal header is included here.

#include <httplib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <mutex>
#include <thread>

#include "graphmirror/engine.h"
#include "tests/integration/sim_fixture.h"
#include "tests/support/free_port.h"

namespace graphmirror::test {
namespace {

TEST_CASE("Engine: sync once, typed queries, search and the change observer", "[api]") {
  graphsim::Options o;
  o.users = 2;
  o.messages = 30;
  o.events = 10;
  o.contacts = 10;
  SimFixture f(o);
  Config config = f.Config(100);
  config.database = f.dir().Path("api.db");
  auto engine = Engine::Open(config, &f.clock());
  REQUIRE(engine.ok());
  std::mutex mu;
  std::vector<Change> seen;
  (*engine)->SetObserver([&](const std::vector<Change>& changes) {
    std::lock_guard<std::mutex> lock(mu);
    seen.insert(seen.end(), changes.begin(), changes.end());
  });
  REQUIRE((*engine)->SyncOnce().ok());
  CHECK(seen.size() == 2 * (30 + 10 + 10));

  const std::string user = f.sim().UserIds()[0];
  auto messages = (*engine)->Messages({user, "", "", "", 1000});
  REQUIRE(messages.ok());
  CHECK(messages->size() == 30);
  for (size_t i = 1; i < messages->size(); ++i) {
    CHECK((*messages)[i - 1].received_at >= (*messages)[i].received_at);  // newest first
  }
  const Message& newest = messages->front();
  CHECK(newest.user_id == user);
  CHECK_FALSE(newest.json.empty());
  auto window =
      (*engine)->Messages({user, "", (*messages)[9].received_at, newest.received_at, 100});
  CHECK(window->size() == 9);  // [10th newest, newest)
  auto in_folder = (*engine)->Messages({user, newest.folder_id, "", "", 1000});
  for (const auto& m : *in_folder) CHECK(m.folder_id == newest.folder_id);

  auto events = (*engine)->Events({user, "", "", 100});
  REQUIRE(events->size() == 10);
  auto overlapping = (*engine)->Events({user, (*events)[4].start_at, (*events)[5].end_at, 100});
  for (const auto& e : *overlapping) {
    CHECK(e.end_at > (*events)[4].start_at);
    CHECK(e.start_at < (*events)[5].end_at);
  }
  CHECK_FALSE(overlapping->empty());

  auto contacts = (*engine)->Contacts({user, "", 100});
  REQUIRE(contacts->size() == 10);
  REQUIRE_FALSE(contacts->front().emails.empty());
  auto by_email = (*engine)->Contacts({"", contacts->front().emails[0], 100});
  REQUIRE(by_email.ok());
  CHECK(by_email->size() >= 1);

  const std::string word = newest.subject.substr(0, newest.subject.find(' '));
  auto found = (*engine)->Search(word, user, 50);
  REQUIRE(found.ok());
  CHECK_FALSE(found->empty());
  CHECK_FALSE((*engine)->Search("   ").ok());

  // A change in Graph, then a resync of that collection: the observer names the row.
  seen.clear();
  const std::string created = f.sim().CreateItem(user, "contacts", R"({"displayName":"Api"})");
  REQUIRE((*engine)->Resync(user, Collection::kContacts).ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].id == created);
    CHECK(seen[0].collection == Collection::kContacts);
    CHECK_FALSE(seen[0].deleted);
  }

  auto status = (*engine)->GetStatus();
  REQUIRE(status.ok());
  CHECK_FALSE(status->running);
  CHECK(status->collections.size() == 6);
  for (const auto& c : status->collections) CHECK_FALSE(c.last_sync_at.empty());
}

TEST_CASE("Engine: per-collection reports, progress, the whole status, read-only opening",
          "[api]") {
  graphsim::Options o;
  o.users = 2;
  o.messages = 12;
  o.events = 4;
  o.contacts = 3;
  SimFixture f(o);
  Config config = f.Config(100);
  config.database = f.dir().Path("reports.db");

  // A reader never creates the database.
  Engine::OpenOptions read_only;
  read_only.clock = &f.clock();
  read_only.create_if_missing = false;
  auto missing = Engine::Open(config, read_only);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Status::Code::kNotFound);
  CHECK(missing.status().message().find("reports.db") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(config.database));

  auto engine = Engine::Open(config, &f.clock());
  REQUIRE(engine.ok());
  REQUIRE((*engine)->CheckCredentials().ok());
  std::mutex mu;
  std::vector<SyncReport> streamed;
  auto reports = (*engine)->SyncOnceReports([&](const SyncReport& r) {
    std::lock_guard<std::mutex> lock(mu);
    streamed.push_back(r);
  });
  REQUIRE(reports.size() == 6);
  CHECK(streamed.size() == 6);
  int64_t fetched = 0;
  for (const auto& r : reports) {
    INFO(r.user_id << " " << CollectionName(r.collection) << " " << r.status.ToString());
    CHECK(r.status.ok());
    const int64_t expected = r.collection == Collection::kMessages ? 12
                             : r.collection == Collection::kEvents ? 4
                                                                   : 3;
    CHECK(r.items == expected);
    CHECK(r.added == expected);
    CHECK(r.removed == 0);
    // Messages and contacts are loaded by their delta rounds alone, each read once; events
    // by /events and the calendar window's delta round.
    if (r.collection != Collection::kEvents) CHECK(r.fetched == expected);
    if (r.collection == Collection::kEvents) CHECK(r.fetched >= 2 * expected);
    fetched += r.fetched;
  }
  CHECK(fetched >= 12 + 2 * 4 + 3);
  CHECK((*engine)->Progress().items_received >= fetched);
  CHECK((*engine)->Progress().waiting_requests == 0);
  CHECK_FALSE((*engine)->Healthy());
  CHECK_FALSE((*engine)->Metrics().ok());  // not started

  // A collection the config no longer names still shows, marked as such.
  Config fewer = config;
  fewer.mailboxes.resize(1);
  auto reader = Engine::Open(fewer, read_only);
  REQUIRE(reader.ok());
  auto status = (*reader)->GetStatus();
  REQUIRE(status.ok());
  REQUIRE(status->collections.size() == 6);
  int unconfigured = 0;
  for (const auto& c : status->collections) {
    CHECK(c.items > 0);
    CHECK_FALSE(c.created_up_to.empty());
    CHECK_FALSE(c.last_sync_at.empty());
    CHECK_FALSE(c.last_sync_kind.empty());
    unconfigured += c.configured ? 0 : 1;
    if (c.configured) CHECK(c.user_id == fewer.mailboxes[0].user);
  }
  CHECK(unconfigured == 3);
  CHECK(status->collections.front().configured);
  CHECK(status->logs.size() == 2);
  CHECK(status->lists.empty());

  // A configured SharePoint list shows before its first sync, as never synced.
  // (A list id must be a GUID, in a Config built by hand as in the file.)
  Config bad_list = fewer;
  bad_list.sharepoint.push_back({"https://contoso.sharepoint.com/sites/team", {"list-1"}});
  auto refused = Engine::Open(bad_list, read_only);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message() ==
        "config: 'sharepoint.lists' entries must be list ids (GUIDs)");
  const std::string list_id = "5c77031a-9621-4dfc-bb5d-57803a94e91d";
  Config with_list = fewer;
  with_list.sharepoint.push_back({"https://contoso.sharepoint.com/sites/team", {list_id}});
  auto list_reader = Engine::Open(with_list, read_only);
  REQUIRE(list_reader.ok());
  auto list_status = (*list_reader)->GetStatus();
  REQUIRE(list_status.ok());
  REQUIRE(list_status->lists.size() == 1);
  CHECK(list_status->lists[0].configured);
  CHECK(list_status->lists[0].list_id == list_id);
  CHECK(list_status->lists[0].items == 0);
  CHECK(list_status->lists[0].synced_at.empty());
  CHECK_FALSE(list_status->lists[0].has_change_token);
  CHECK(status->subscriptions.empty());
}

TEST_CASE("Engine: a program with its own HTTP server feeds notifications in", "[api][live]") {
  graphsim::Options o;
  o.users = 1;
  o.messages = 10;
  SimFixture f(o);
  const int port = FreePort();
  Config config = f.Config(100);
  config.database = f.dir().Path("api.db");
  config.webhook.listen = "127.0.0.1:" + std::to_string(port);
  config.webhook.notification_url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  auto opened = Engine::Open(config, &f.clock());
  REQUIRE(opened.ok());
  Engine& engine = **opened;

  // The program's own server: the handshake and the notifications go to the engine.
  httplib::Server server;
  server.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    HttpAnswer answer =
        req.has_param("validationToken")
            ? Engine::HandleValidation(req.get_param_value("validationToken"))
            : engine.HandleNotification(req.get_header_value("Content-Type"), req.body);
    res.status = answer.status;
    res.set_content(answer.body, answer.content_type.empty() ? "text/plain" : answer.content_type);
  });
  std::thread serving([&] { server.listen("127.0.0.1", port); });
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  REQUIRE(engine.Start({.serve_http = false}).ok());
  // Start returned at once; the subscriptions and the initial sync run in the background.
  REQUIRE(engine.WaitForInitialSync(std::chrono::seconds(60)).ok());
  CHECK(f.sim().Subscriptions().size() == 3);
  auto status = engine.GetStatus();
  CHECK(status->running);
  CHECK(status->ready);
  CHECK(status->subscriptions.size() == 3);
  CHECK(engine.Healthy());
  auto metrics = engine.Metrics();
  REQUIRE(metrics.ok());
  CHECK(metrics->find("graphmirror_") != std::string::npos);

  const std::string user = f.sim().UserIds()[0];
  const std::string id = f.sim().CreateItem(user, "messages", R"({"subject":"via my server"})");
  f.sim().PumpDeliveries();
  CHECK(f.sim().Deliveries().delivered_items >= 1);
  // The worker runs in the background: wait for the row.
  bool arrived = false;
  for (int i = 0; i < 500 && !arrived; ++i) {
    auto hits = engine.Search("via my server", user, 5);
    arrived = hits.ok() && !hits->empty() && hits->front().id == id;
    if (!arrived) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(arrived);
  CHECK(Engine::HandleValidation("bad\r\ntoken").status == 400);
  CHECK(engine.HandleNotification("text/html", "{}").status == 415);

  engine.Stop();
  CHECK_FALSE(engine.GetStatus()->running);
  CHECK(engine.WaitForInitialSync(std::chrono::seconds(1)).code() == Status::Code::kCancelled);
  CHECK(engine.HandleNotification("application/json", "{\"value\":[]}").status == 503);
  server.stop();
  serving.join();
}

TEST_CASE("Engine: [metrics] listen serves /metrics on its own address", "[api][ops]") {
  graphsim::Options o;
  o.users = 1;
  o.messages = 5;
  o.events = 0;
  o.contacts = 0;
  SimFixture f(o);
  const int port = FreePort();
  Config config = f.Config(100);
  config.database = f.dir().Path("metrics.db");
  config.webhook.listen = "127.0.0.1:" + std::to_string(port);
  config.webhook.notification_url = "http://127.0.0.1:" + std::to_string(port) + "/hook";

  SECTION("on its own listener") {
    config.metrics.listen = "127.0.0.1:0";
    auto opened = Engine::Open(config, &f.clock());
    REQUIRE(opened.ok());
    Engine& engine = **opened;
    CHECK(engine.MetricsPort() == 0);
    REQUIRE(engine.Start().ok());
    REQUIRE(engine.WaitForInitialSync(std::chrono::seconds(60)).ok());
    const int metrics_port = engine.MetricsPort();
    REQUIRE(metrics_port > 0);
    REQUIRE(metrics_port != port);
    httplib::Client metrics("127.0.0.1", metrics_port);
    auto scraped = metrics.Get("/metrics");
    REQUIRE(scraped);
    CHECK(scraped->status == 200);
    CHECK(scraped->body.find("graphmirror_") != std::string::npos);
    auto health = metrics.Get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
    auto other = metrics.Get("/notifications");
    REQUIRE(other);
    CHECK(other->status == 404);
    auto post = metrics.Post("/hook", "{\"value\":[]}", "application/json");
    REQUIRE(post);
    CHECK(post->status == 405);  // no notification is taken here
    // The webhook's port keeps /healthz and no longer serves /metrics.
    httplib::Client hook("127.0.0.1", port);
    auto moved = hook.Get("/metrics");
    REQUIRE(moved);
    CHECK(moved->status == 404);
    auto hook_health = hook.Get("/healthz");
    REQUIRE(hook_health);
    CHECK(hook_health->status == 200);
    engine.Stop();
    CHECK(engine.MetricsPort() == 0);
    httplib::Client gone("127.0.0.1", metrics_port);
    CHECK_FALSE(gone.Get("/metrics"));  // closed with the engine
  }

  SECTION("absent: on the webhook's listener, as before") {
    auto opened = Engine::Open(config, &f.clock());
    REQUIRE(opened.ok());
    Engine& engine = **opened;
    REQUIRE(engine.Start().ok());
    REQUIRE(engine.WaitForInitialSync(std::chrono::seconds(60)).ok());
    CHECK(engine.MetricsPort() == 0);
    httplib::Client hook("127.0.0.1", port);
    auto scraped = hook.Get("/metrics");
    REQUIRE(scraped);
    CHECK(scraped->status == 200);
    CHECK(scraped->body.find("graphmirror_") != std::string::npos);
    engine.Stop();
  }

  SECTION("the address of the webhook itself is refused, in one line") {
    config.metrics.listen = config.webhook.listen;
    auto opened = Engine::Open(config, &f.clock());
    REQUIRE_FALSE(opened.ok());
    CHECK(opened.status().message().find("'metrics.listen' is the webhook's address") !=
          std::string::npos);
  }
}

}  // namespace
}  // namespace graphmirror::test
