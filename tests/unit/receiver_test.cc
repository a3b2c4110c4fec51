// Receiver: the webhook endpoint over real loopback HTTP, writing through a real Store.

#include "engine/notify/receiver.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/rich/keygen.h"
#include "engine/store/store.h"
#include "engine/store/write_context.h"
#include "graphmirror/clock.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/receiver_fixture.h"

namespace graphmirror::notify {
namespace {

using namespace std::chrono_literals;

TEST_CASE("receiver: the validation handshake echoes the token as plain text", "[notify]") {
  Fixture f;
  auto cli = f.Client();

  auto res = cli.Post("/notifications?validationToken=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "",
                      "text/plain");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "<script>alert(1)</script>");
  CHECK(res->get_header_value("Content-Type") == "text/plain; charset=utf-8");
  CHECK(res->get_header_value("X-Content-Type-Options") == "nosniff");

  // As Graph sends it: '+' for spaces, lower-case escapes, on the lifecycle URL too.
  res = cli.Post(
      "/lifecycle?validationToken=Validation%3a+Testing+client+application+reachability+for+"
      "subscription+Request-Id%3a+a5c9d3c4-7cd6-4c1a-b5ad-1b2b3bb1aaaf",
      "", "text/plain");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body ==
        "Validation: Testing client application reachability for subscription Request-Id: "
        "a5c9d3c4-7cd6-4c1a-b5ad-1b2b3bb1aaaf");

  // SharePoint and Outlook v2 spelling, by GET, next to other parameters.
  res = cli.Get("/notifications?tenant=x&validationtoken=abc%3D%3D&z");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "abc==");
  res = cli.Post("/notifications?VALIDATIONTOKEN=t1", "", "text/plain");
  REQUIRE(res);
  CHECK(res->body == "t1");
  // Decoded once, from the raw target: an encoded '+' or '%' is that character.
  res = cli.Post("/notifications?validationToken=a%2Bb%25c+d", "", "text/plain");
  REQUIRE(res);
  CHECK(res->body == "a+b%c d");

  // A token in the body does not count: only the query string names it.
  res = cli.Post("/notifications", "validationToken=x", "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 415);

  CHECK(f.receiver->stats().validations == 5);
  CHECK(f.Rows() == 0);
}

TEST_CASE("receiver: malformed validation tokens are refused", "[notify]") {
  Fixture f;
  auto cli = f.Client();
  for (const std::string& target : {
           "/notifications?validationToken=" + std::string(1025, 'a'),
           std::string("/notifications?validationToken=a%0Ab"),
           std::string("/notifications?validationToken=a%00b"),
           std::string("/notifications?validationToken=a%zzb"),
           std::string("/notifications?validationToken="),
       }) {
    INFO(target);
    auto res = cli.Post(target, "", "text/plain");
    REQUIRE(res);
    CHECK(res->status == 400);
  }
  auto ok = cli.Post("/notifications?validationToken=" + std::string(1024, 'a'), "", "text/plain");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(f.receiver->stats().validations == 1);
  CHECK(f.receiver->stats().bad_requests == 5);
}

TEST_CASE("receiver: other paths are 404, other methods 405", "[notify]") {
  Fixture f;
  auto cli = f.Client();
  auto res = cli.Post("/elsewhere", Body({}), kJson);
  REQUIRE(res);
  CHECK(res->status == 404);
  res = cli.Get("/notifications/extra?validationToken=x");
  REQUIRE(res);
  CHECK(res->status == 404);
  res = cli.Put("/notifications", Body({}), kJson);
  REQUIRE(res);
  CHECK(res->status == 405);
  res = cli.Delete("/lifecycle");
  REQUIRE(res);
  CHECK(res->status == 405);
  res = cli.Get("/notifications");  // GET is for the handshake only
  REQUIRE(res);
  CHECK(res->status == 405);
  CHECK(f.receiver->stats().requests == 5);
  CHECK(f.receiver->stats().not_found == 2);
  CHECK(f.receiver->stats().method_not_allowed == 3);
  CHECK(f.Rows() == 0);
}

TEST_CASE("receiver: body limits, content types and bad JSON", "[notify]") {
  ReceiverOptions options;
  options.max_body_bytes = 4096;
  Fixture f(options);
  auto cli = f.Client();

  const std::string big =
      Body({Item("sub-1", "cs-1", "m1", "e1", "created" + std::string(5000, ' '))});
  auto res = cli.Post("/notifications", big, kJson);
  REQUIRE(res);
  CHECK(res->status == 413);

  // (Chunked bodies: see "an endless chunked body is cut off at the limit".)
  CHECK(f.receiver->stats().too_large == 1);

  const std::string good = Body({Item("sub-1", "cs-1", "m1", "e1")});
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded", "", "json"}) {
    INFO(type);
    res = cli.Post("/notifications", good, type);
    REQUIRE(res);
    CHECK(res->status == 415);
  }
  CHECK(f.receiver->stats().unsupported_media_type == 4);
  CHECK(f.Rows() == 0);

  for (const std::string& body :
       {std::string("not json"), std::string("[]"),
        std::string(R"({"value":[{"changeType":"created"}]})"), good.substr(0, good.size() - 1)}) {
    INFO(body);
    res = cli.Post("/notifications", body, "application/json");
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(res->get_header_value("Content-Type") == "text/plain; charset=utf-8");
    CHECK(!res->body.empty());
    CHECK(res->body.size() < 200);
  }
  CHECK(f.receiver->stats().bad_requests == 4);
  CHECK(f.Rows() == 0);

  res = cli.Post("/notifications", good, "Application/JSON;charset=UTF-8");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.Rows() == 1);

  // A chunked body within the limit is read whole (and is a duplicate of the last one).
  res = cli.Post(
      "/notifications",
      [&](size_t offset, httplib::DataSink& sink) {
        if (offset < good.size()) {
          sink.write(good.data() + offset, std::min<size_t>(100, good.size() - offset));
        } else {
          sink.done();
        }
        return true;
      },
      kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.Rows() == 1);
  CHECK(f.receiver->stats().accepted == 2);
}

// Copies what the default logger writes while it lives. Made before the receiver under
// test and destroyed after it: its threads start after the sink is added and are joined
// before it is removed. The text is read under the sink's own mutex, which the writing
// threads hold too.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<Sink>()), logger_(spdlog::default_logger()) {
    logger_->sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = logger_->sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  size_t Count(const std::string& needle) { return sink_->Count(needle); }

 private:
  class Sink : public spdlog::sinks::base_sink<std::mutex> {
   public:
    size_t Count(const std::string& needle) {
      std::lock_guard<std::mutex> lock(mutex_);
      size_t n = 0;
      for (size_t at = text_.find(needle); at != std::string::npos;
           at = text_.find(needle, at + 1)) {
        ++n;
      }
      return n;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
      text_.append(msg.payload.data(), msg.payload.size()).push_back('\n');
    }
    void flush_() override {}

   private:
    std::string text_;
  };

  std::shared_ptr<Sink> sink_;
  std::shared_ptr<spdlog::logger> logger_;
};

TEST_CASE("receiver: hostile bodies: deep nesting, huge arrays, invalid UTF-8", "[notify]") {
  LogCapture log;
  ReceiverOptions options;
  options.max_body_bytes = 8 << 20;
  Fixture f(options);
  auto cli = f.Client();
  auto post = [&](const std::string& body) {
    auto res = cli.Post("/notifications", body, kJson);
    REQUIRE(res);
    return res->status;
  };

  // Nesting far deeper than any parser stack: a clear 400, no crash.
  const int depth = 100000;
  CHECK(post(R"({"value":[)" + std::string(depth, '[') + std::string(depth, ']') + "]}") == 400);
  const std::string good = Item("sub-1", "cs-1", "m1", "e1");
  CHECK(post(R"({"value":[)" + good + R"(],"x":)" + std::string(depth, '[') +
             std::string(depth, ']') + "}") == 400);
  // Invalid UTF-8 in a string (a lone continuation byte, an overlong encoding).
  for (const std::string& bad : {std::string("\x80"), std::string("\xc0\xaf")}) {
    std::string item = good;
    item.replace(item.find("tenant-1"), 8, "tenant" + bad);
    CHECK(post(Body({item})) == 400);
  }
  CHECK(f.receiver->stats().bad_requests == 4);
  CHECK(f.Rows() == 0);

  // 20,000 items of an unknown subscription in one body: answered (202, nothing kept: a
  // forgery must not make Graph retry), each counted, and cheaply: one pass over the
  // items, no write to the store, one log line (not one per item).
  std::vector<std::string> forged;
  for (int i = 0; i < 20000; ++i) {
    forged.push_back(Item("sub-unknown", "cs-1", "m" + std::to_string(i), "e"));
  }
  const std::string huge = Body(forged);
  REQUIRE(huge.size() < options.max_body_bytes);
  const uint64_t commits_before = f.store->stats().commits.load();
  CHECK(post(huge) == 202);
  CHECK(f.store->stats().commits.load() == commits_before);
  CHECK(log.Count("rejected a notification (unknown_subscription)") == 1);
  CHECK(f.receiver->stats().rejected_unknown_subscription == 20000);
  CHECK(f.Rows() == 0);
  // And a value array of 20,000 non-objects is one 400.
  CHECK(post(R"({"value":[)" + [] {
          std::string numbers;
          for (int i = 0; i < 20000; ++i) numbers += (i ? ",1" : "1");
          return numbers;
        }() + "]}") == 400);
  CHECK(f.Rows() == 0);

  // 10 MB against the default limit (1 MiB): 413, and the receiver still answers.
  Fixture defaults;
  auto default_cli = defaults.Client();
  auto res = default_cli.Post("/notifications", std::string(10'000'000, ' '), kJson);
  REQUIRE(res);
  CHECK(res->status == 413);
  res = default_cli.Post("/notifications", Body({good}), kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
}

TEST_CASE("receiver: CR and LF in a validation token never become headers", "[notify]") {
  Fixture f;
  auto cli = f.Client();
  for (const char* attack : {"abc%0D%0AX-Injected:%201", "abc%0AX-Injected:%201",
                             "abc%0D%0A%0D%0A<html>", "abc\r\nX-Injected: 1"}) {
    INFO(attack);
    auto res = cli.Post(std::string("/notifications?validationToken=") + attack, "", "text/plain");
    if (!res) continue;  // refused at the HTTP layer: nothing was injected either
    CHECK(res->status == 400);
    CHECK(!res->has_header("X-Injected"));
    CHECK(res->body.find("<html>") == std::string::npos);
  }
  CHECK(f.receiver->stats().validations == 0);
  CHECK(f.Rows() == 0);
}

TEST_CASE("receiver: an endless chunked body is cut off at the limit", "[notify]") {
  ReceiverOptions options;
  options.max_body_bytes = 4096;
  Fixture f(options);
  const int fd = ConnectRaw(f.receiver->port());
  REQUIRE(fd >= 0);
  timeval timeout{3, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string request =
      "POST /notifications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  // Four 4 KiB chunks and no final one: the answer must not wait for the end.
  for (int i = 0; i < 4; ++i) request += "1000\r\n" + std::string(4096, ' ') + "\r\n";
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  char buffer[256] = {};
  const ssize_t n = ::recv(fd, buffer, sizeof(buffer) - 1, 0);
  ::close(fd);
  REQUIRE(n > 0);
  CHECK(std::string(buffer, n).rfind("HTTP/1.1 413", 0) == 0);
  CHECK(f.receiver->stats().too_large == 1);
}

// An Outlook REST v2.0 notification item (GRAPH.md section 10) for sub-1.
std::string V2Item(int sequence, const std::string& change_type, const std::string& id) {
  return R"js({"@odata.type":"#Microsoft.OutlookServices.Notification","Id":null,)js"
         R"js("SubscriptionId":"sub-1","SequenceNumber":)js" +
         std::to_string(sequence) + R"js(,"ChangeType":")js" + change_type +
         R"js(","Resource":"https://outlook.office.com/api/v2.0/Users('u')/Messages(')js" + id +
         R"js(')","ResourceData":{"@odata.type":"#Microsoft.OutlookServices.Message",)js"
         R"js("@odata.etag":"W/\"v)js" +
         std::to_string(sequence) + R"js(\"","Id":")js" + id + R"js("}})js";
}

TEST_CASE("receiver: Outlook REST v2.0: ClientState header, Missed, sequence gaps", "[notify]") {
  Fixture f;
  auto cli = f.Client();
  auto post = [&](const std::vector<std::string>& items, const std::string& client_state) {
    httplib::Headers headers;
    if (!client_state.empty()) headers.emplace("ClientState", client_state);
    return cli.Post("/notifications", headers, Body(items), kJson);
  };
  // clientState comes as a header; without it, or wrong, the items are forged.
  auto res = post({V2Item(1, "Created", "m1")}, "cs-1");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.Rows("subscription_id = 'sub-1' AND change_type = 'created' AND item_id = 'm1'") == 1);
  res = post({V2Item(2, "Updated", "m1")}, "");
  REQUIRE(res);
  CHECK(res->status == 202);
  res = post({V2Item(2, "Updated", "m1")}, "wrong");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.receiver->stats().rejected_bad_client_state == 2);
  CHECK(f.Rows() == 1);

  // Consecutive numbers in one body and across bodies: no gap.
  res = post({V2Item(2, "Updated", "m1"), V2Item(3, "Deleted", "m1")}, "cs-1");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.Rows("lifecycle_event = 'missed'") == 0);

  // 4 and 5 never came: the subscription is resynced, as for Graph's `missed`.
  res = post({V2Item(6, "Created", "m2")}, "cs-1");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.Rows("lifecycle_event = 'missed' AND subscription_id = 'sub-1'") == 1);
  CHECK(f.receiver->stats().sequence_gaps == 1);
  // The same body again (Graph retried it) adds no second gap.
  res = post({V2Item(6, "Created", "m2")}, "cs-1");
  REQUIRE(res);
  CHECK(f.Rows("lifecycle_event = 'missed'") == 1);

  // A gap in a body answered 503 is seen again when the body comes back.
  {
    SQLite::Database blocker(f.dir.Path("mirror.db"), SQLite::OPEN_READWRITE);
    blocker.exec("BEGIN EXCLUSIVE");
    res = post({V2Item(9, "Created", "m3")}, "cs-1");
    REQUIRE(res);
    CHECK(res->status == 503);
    blocker.exec("ROLLBACK");
  }
  res = post({V2Item(9, "Created", "m3")}, "cs-1");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.Rows("lifecycle_event = 'missed'") == 2);

  // v2.0's ChangeType "Missed" is the lifecycle event itself.
  res = post({V2Item(10, "Missed", "m3")}, "cs-1");
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.Rows("lifecycle_event = 'missed'") == 3);
  CHECK(f.receiver->stats().sequence_gaps == 2);
}

TEST_CASE("receiver: forged items are dropped, counted, and still acknowledged", "[notify]") {
  Fixture f;
  auto cli = f.Client();
  auto res = cli.Post("/notifications", Body({Item("sub-unknown", "cs-1", "m1", "e1")}), kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
  res = cli.Post("/notifications",
                 Body({Item("sub-1", "cs-2", "m1", "e1"), Item("sub-1", "", "m2", "e1"),
                       Item("sub-1", "cs-1x", "m3", "e1")}),
                 kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
  const ReceiverStats& stats = f.receiver->stats();
  CHECK(stats.rejected_unknown_subscription == 1);
  CHECK(stats.rejected_bad_client_state == 3);
  CHECK(stats.rejected_batches == 2);
  CHECK(stats.accepted == 0);
  CHECK(stats.notifications_received == 4);
  CHECK(f.Rows() == 0);

  // Mixed: only the genuine item is kept.
  res =
      cli.Post("/notifications",
               Body({Item("sub-1", "cs-2", "m1", "e1"), Item("sub-1", "cs-1", "m4", "e1")}), kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.Rows() == 1);
  CHECK(f.Rows("item_id = 'm4'") == 1);
  CHECK(stats.rejected_batches == 2);

  // An entry without a clientState accepts nothing, not even an empty one.
  f.table.Put({"sub-3", "user-3", Collection::kEvents, "", {}, {}, false});
  res = cli.Post("/notifications", Body({Item("sub-3", "", "m6", "e1")}), kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.Rows() == 1);
  CHECK(stats.rejected_bad_client_state == 5);

  // A subscription removed from the table is unknown from then on.
  f.table.Remove("sub-1");
  res = cli.Post("/notifications", Body({Item("sub-1", "cs-1", "m5", "e1")}), kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.Rows() == 1);
  CHECK(stats.rejected_unknown_subscription == 2);
}

TEST_CASE("receiver: accepted items are durable before the 202", "[notify]") {
  Fixture f;
  std::atomic<int> woken{0};
  f.receiver->SetOnAccepted([&] { woken.fetch_add(1); });
  auto cli = f.Client();
  const std::string lifecycle =
      R"({"subscriptionId":"sub-2","lifecycleEvent":"missed","clientState":"cs-2",)"
      R"("organizationId":"org","resource":"Subscriptions/sub-2","resourceData":null})";
  const std::string with_id =
      R"({"id":"n-1","subscriptionId":"sub-1","changeType":"deleted","clientState":"cs-1",)"
      R"j("resource":"Users('u')/messages('AAMk%3D')"})j";
  auto res = cli.Post(
      "/notifications",
      Body({Item("sub-1", "cs-1", "AAMkAD=-_1", "CQ1", "created"), lifecycle, with_id}), kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(res->body.empty());
  CHECK(woken == 1);
  CHECK(f.receiver->stats().accepted == 3);

  // The rows are there as soon as the answer is: read from another connection.
  SQLite::Database db(f.dir.Path("mirror.db"), SQLite::OPEN_READONLY);
  SQLite::Statement q(db,
                      "SELECT dedupe_key, subscription_id, user_id, collection, "
                      "coalesce(change_type, ''), coalesce(lifecycle_event, ''), "
                      "coalesce(item_id, ''), coalesce(notification_id, ''), state "
                      "FROM notification_log ORDER BY seq");
  REQUIRE(q.executeStep());
  // The user comes from our subscription record, not from the resource path.
  CHECK(q.getColumn(0).getString() == "s:sub-1|created|AAMkAD=-_1|W/\"CQ1\"");
  CHECK(q.getColumn(1).getString() == "sub-1");
  CHECK(q.getColumn(2).getString() == "user-1");
  CHECK(q.getColumn(3).getString() == "messages");
  CHECK(q.getColumn(4).getString() == "created");
  CHECK(q.getColumn(5).getString().empty());
  CHECK(q.getColumn(6).getString() == "AAMkAD=-_1");
  CHECK(q.getColumn(8).getString() == "received");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getString().rfind("s:sub-2|missed||", 0) == 0);
  CHECK(q.getColumn(2).getString() == "user-2");
  CHECK(q.getColumn(3).getString() == "contacts");
  CHECK(q.getColumn(4).getString().empty());
  CHECK(q.getColumn(5).getString() == "missed");
  CHECK(q.getColumn(6).getString().empty());
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getString() == "n:n-1");
  CHECK(q.getColumn(4).getString() == "deleted");
  CHECK(q.getColumn(6).getString() == "AAMk=");
  CHECK(q.getColumn(7).getString() == "n-1");
  CHECK_FALSE(q.executeStep());
}

TEST_CASE("receiver: rich items are logged encrypted, with their body's tokens", "[notify]") {
  Fixture f;
  auto cli = f.Client();
  std::string rich = Item("sub-1", "cs-1", "m-rich", "CQ9", "updated");
  rich.insert(rich.size() - 1,
              R"(,"encryptedContent":{"data":"ZGF0YQ==","dataSignature":"c2ln","dataKey":"a2V5",)"
              R"("encryptionCertificateId":"cert-1","encryptionCertificateThumbprint":"AB12"})");
  std::string body = Body({rich, Item("sub-1", "cs-1", "m-plain", "CQ8", "deleted")});
  body.insert(body.size() - 1, R"(,"validationTokens":["h.p.s1","h.p.s2"])");
  auto res = cli.Post("/notifications", body, kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.receiver->stats().rich_items == 1);

  SQLite::Database db(f.dir.Path("mirror.db"), SQLite::OPEN_READONLY);
  SQLite::Statement q(db,
                      "SELECT item_id, coalesce(rich_data, ''), coalesce(rich_data_key, ''), "
                      "coalesce(rich_signature, ''), coalesce(rich_certificate_id, ''), "
                      "l.token_batch, t.tokens FROM notification_log l "
                      "JOIN notification_tokens t ON t.id = l.token_batch ORDER BY seq");
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getString() == "m-rich");
  CHECK(q.getColumn(1).getString() == "ZGF0YQ==");
  CHECK(q.getColumn(2).getString() == "a2V5");
  CHECK(q.getColumn(3).getString() == "c2ln");
  CHECK(q.getColumn(4).getString() == "cert-1");
  CHECK(q.getColumn(6).getString() == "h.p.s1\nh.p.s2\n");
  const int64_t batch = q.getColumn(5).getInt64();
  // The plain item of the same body is vouched for by the same tokens.
  REQUIRE(q.executeStep());
  CHECK(q.getColumn(0).getString() == "m-plain");
  CHECK(q.getColumn(1).getString().empty());
  CHECK(q.getColumn(5).getInt64() == batch);
  CHECK_FALSE(q.executeStep());
}

TEST_CASE("receiver: rich items read from an event hub need no tokens; the webhook cannot say so",
          "[notify][kafka]") {
  Fixture f;
  std::string rich = Item("sub-1", "cs-1", "m-hub", "CQ9", "updated");
  rich.insert(rich.size() - 1,
              R"(,"encryptedContent":{"data":"ZGF0YQ==","dataSignature":"c2ln","dataKey":"a2V5",)"
              R"("encryptionCertificateId":"cert-1","encryptionCertificateThumbprint":"AB12"})");
  // Graph sends no validation tokens through a hub: the body's rich items are logged with
  // the event hub's marker as their token batch.
  NotificationAnswer answer =
      f.receiver->Accept("application/json", Body({rich}), Delivery::kEventHub);
  CHECK(answer.status == 202);
  {
    SQLite::Database db(f.dir.Path("mirror.db"), SQLite::OPEN_READONLY);
    SQLite::Statement q(db,
                        "SELECT l.item_id, t.tokens FROM notification_log l "
                        "JOIN notification_tokens t ON t.id = l.token_batch");
    REQUIRE(q.executeStep());
    CHECK(q.getColumn(0).getString() == "m-hub");
    CHECK(q.getColumn(1).getString() == std::string(kEventHubTokens) + "\n");
    CHECK_FALSE(q.executeStep());
  }
  // A webhook body claiming the marker is refused whole.
  std::string forged = Body({Item("sub-1", "cs-1", "m-forged", "CQ1")});
  forged.insert(forged.size() - 1,
                ",\"validationTokens\":[\"" + std::string(kEventHubTokens) + "\"]");
  auto cli = f.Client();
  auto res = cli.Post("/notifications", forged, kJson);
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK(f.receiver->Accept("application/json", forged).status == 400);
  CHECK(f.Rows("item_id = 'm-forged'") == 0);
  // Not rich: no marker is stored (plain items need no tokens anywhere).
  answer = f.receiver->Accept("application/json", Body({Item("sub-1", "cs-1", "m-plain", "CQ2")}),
                              Delivery::kEventHub);
  CHECK(answer.status == 202);
  CHECK(f.Rows("item_id = 'm-plain' AND token_batch IS NULL OR item_id = 'm-plain' AND "
               "token_batch = 0") == 1);
}

TEST_CASE("receiver: redeliveries collapse; etag-less lifecycle events do not", "[notify]") {
  Fixture f;
  auto cli = f.Client();
  const std::string body = Body(
      {Item("sub-1", "cs-1", "m1", "e1"), Item("sub-1", "cs-1", "m1", "e1"),
       R"({"id":"n-7","subscriptionId":"sub-1","changeType":"updated","clientState":"cs-1"})"});
  for (int i = 0; i < 3; ++i) {
    auto res = cli.Post("/notifications", body, kJson);
    REQUIRE(res);
    CHECK(res->status == 202);
  }
  CHECK(f.Rows() == 2);
  // A new version of the same message is a new change.
  auto res =
      cli.Post("/notifications", Body({Item("sub-1", "cs-1", "m1", "e2", "updated")}), kJson);
  REQUIRE(res);
  CHECK(f.Rows() == 3);
  // `missed` twice, days apart, is two events: the second must reach the sync worker.
  const std::string missed =
      Body({R"({"subscriptionId":"sub-1","lifecycleEvent":"missed","clientState":"cs-1"})"});
  for (int i = 0; i < 2; ++i) {
    res = cli.Post("/lifecycle", missed, kJson);
    REQUIRE(res);
    CHECK(res->status == 202);
  }
  CHECK(f.Rows("lifecycle_event = 'missed'") == 2);
}

TEST_CASE("receiver: 64 concurrent deliveries are all acknowledged and stored", "[notify]") {
  Fixture f;
  constexpr int kPosts = 64;
  std::vector<std::thread> threads;
  std::atomic<int> acked{0};
  std::atomic<int> other{0};
  for (int i = 0; i < kPosts; ++i) {
    threads.emplace_back([&, i] {
      auto cli = f.Client();
      const std::string n = std::to_string(i);
      auto res = cli.Post("/notifications",
                          Body({Item("sub-1", "cs-1", "m" + n, "a" + n),
                                Item("sub-2", "cs-2", "c" + n, "b" + n, "updated")}),
                          kJson);
      (res && res->status == 202 ? acked : other).fetch_add(1);
    });
  }
  for (auto& t : threads) t.join();
  CHECK(acked == kPosts);
  CHECK(other == 0);
  CHECK(f.Rows() == 2 * kPosts);
  CHECK(f.receiver->stats().accepted == 2 * kPosts);
}

TEST_CASE("receiver: concurrent deliveries share store commits (group commit)", "[notify]") {
  ReceiverOptions options;
  options.commit_timeout = 10min;  // the writer is held below; no delivery may give up
  Fixture f(options);
  // Hold the store's writer in a job of its own while the deliveries arrive, so that
  // their appends are all waiting when it is free again: however fast or slow this
  // machine is, they then go into one transaction, or a few if some come late.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> holding;
  Status held;
  std::thread holder([&] {
    held = f.store->Write([&](store::WriteContext&) {
      holding.set_value();
      released.wait();
    });
  });
  holding.get_future().wait();
  const uint64_t commits_before = f.store->stats().commits.load();

  constexpr int kDeliveries = 32;
  std::atomic<int> acked{0};
  std::vector<std::thread> senders;
  for (int i = 0; i < kDeliveries; ++i) {
    senders.emplace_back([&, i] {
      auto cli = f.Client();
      cli.set_read_timeout(600, 0);
      const std::string n = std::to_string(i);
      auto res = cli.Post("/notifications", Body({Item("sub-1", "cs-1", "m" + n, "e" + n)}), kJson);
      if (res && res->status == 202) acked.fetch_add(1);
    });
  }
  // Every delivery is in the receiver (parsed, on its way to the store) before the
  // writer is let go.
  while (f.receiver->stats().notifications_received.load() < kDeliveries) {
    std::this_thread::sleep_for(1ms);
  }
  CHECK(acked == 0);  // nothing is acknowledged before it is durable
  release.set_value();
  holder.join();
  for (std::thread& t : senders) t.join();

  CHECK(held.ok());
  CHECK(acked == kDeliveries);
  CHECK(f.Rows() == kDeliveries);
  // The holder's transaction, and the deliveries' transactions: fewer than deliveries.
  const uint64_t commits = f.store->stats().commits.load() - commits_before;
  INFO(kDeliveries << " deliveries in " << commits << " commits (the holder's included)");
  CHECK(commits >= 2);
  CHECK(commits - 1 < kDeliveries);
}

TEST_CASE("receiver: 503 when the store cannot commit in time, then a retry lands", "[notify]") {
  LogCapture log;
  ReceiverOptions options;
  options.commit_timeout = 200ms;
  Fixture f(options);
  auto cli = f.Client();
  const std::string body = Body({Item("sub-1", "cs-1", "m1", "e1")});
  {
    SQLite::Database blocker(f.dir.Path("mirror.db"), SQLite::OPEN_READWRITE);
    blocker.exec("BEGIN EXCLUSIVE");
    const auto start = std::chrono::steady_clock::now();
    auto res = cli.Post("/notifications", body, kJson);
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(res);
    CHECK(res->status == 503);
    CHECK(res->get_header_value("Retry-After") == "1");
    CHECK(took >= 200ms);
    // Answered while the lock is still held, by the commit deadline: not after SQLite's
    // busy timeout failed the commit, nor after the lock went.
    CHECK(log.Count("answering 503 to 1 notification(s)") == 1);
    CHECK(log.Count("did not commit in time") == 1);
    std::this_thread::sleep_for(300ms);  // hold the lock past the deadline a while longer
    blocker.exec("ROLLBACK");
  }
  CHECK(f.receiver->stats().unavailable == 1);
  CHECK(f.receiver->stats().accepted == 0);

  // Graph delivers again; this time it is stored, once.
  bool stored = false;
  for (int attempt = 0; attempt < 20 && !stored; ++attempt) {
    auto res = cli.Post("/notifications", body, kJson);
    REQUIRE(res);
    stored = res->status == 202;
    if (!stored) std::this_thread::sleep_for(100ms);
  }
  CHECK(stored);
  CHECK(f.Rows() == 1);
  CHECK(f.receiver->stats().accepted == 1);
}

TEST_CASE("receiver: Stop() lets an in-flight delivery finish", "[notify]") {
  ReceiverOptions options;
  options.commit_timeout = 2000ms;
  Fixture f(options);
  SQLite::Database blocker(f.dir.Path("mirror.db"), SQLite::OPEN_READWRITE);
  blocker.exec("BEGIN EXCLUSIVE");
  std::atomic<int> status{0};
  std::thread delivery([&] {
    auto res = f.Client().Post("/notifications", Body({Item("sub-1", "cs-1", "m1", "e1")}), kJson);
    status = res ? res->status : -1;
  });
  // Wait until the request is inside the receiver, waiting for its commit.
  while (f.receiver->stats().notifications_received == 0) std::this_thread::sleep_for(1ms);
  std::thread release([&] {
    std::this_thread::sleep_for(300ms);
    blocker.exec("ROLLBACK");
  });
  f.receiver->Stop();
  delivery.join();
  release.join();
  CHECK(status == 202);
  CHECK(f.Rows() == 1);
  // Stopped: no one answers on the port any more.
  auto res = f.Client().Post("/notifications?validationToken=x", "", "text/plain");
  CHECK_FALSE(res);
}

TEST_CASE("receiver: a second receiver on the same port fails to start", "[notify]") {
  Fixture f;
  ReceiverOptions options;
  options.port = f.receiver->port();
  Receiver second(options, &f.table, f.store.get(), &f.clock);
  Status started = second.Start();
  REQUIRE_FALSE(started.ok());
  CHECK(started.message().find(std::to_string(f.receiver->port())) != std::string::npos);
  INFO(started.ToString());
  CHECK(started.message().find("in use") != std::string::npos);
  second.Stop();  // harmless on a receiver that never ran

  // The first one still answers.
  auto res = f.Client().Post("/notifications?validationToken=still-me", "", "text/plain");
  REQUIRE(res);
  CHECK(res->body == "still-me");

  // And once it stops, the port can be taken again at once (SO_REUSEADDR).
  const int port = f.receiver->port();
  f.receiver->Stop();
  f.receiver->Stop();
  Receiver third(options, &f.table, f.store.get(), &f.clock);
  Status again = third.Start();
  CHECK(again.ok());
  CHECK(third.port() == port);
}

TEST_CASE("receiver: options are checked", "[notify]") {
  test::TempDir dir;
  ManualClock clock(TimePoint{});
  auto store = std::move(store::Store::Open(dir.Path("m.db"), &clock)).value();
  SubscriptionTable table;
  ReceiverOptions options;
  options.notification_path = "notifications";
  Receiver bad_path(options, &table, store.get(), &clock);
  CHECK(bad_path.Start().code() == Status::Code::kInvalidArgument);
  options = {};
  options.threads = 0;
  Receiver bad_threads(options, &table, store.get(), &clock);
  CHECK(bad_threads.Start().code() == Status::Code::kInvalidArgument);
  options = {};
  options.host = "192.0.2.1";  // not an address of this machine
  Receiver bad_host(options, &table, store.get(), &clock);
  CHECK_FALSE(bad_host.Start().ok());
}

// Connects with TLS versions [min, max] and reports whether the handshake succeeded (the
// client is made permissive, security level 0, so that a refusal is the server's).
bool TlsHandshake(int port, int min_version, int max_version) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  SSL_CTX_set_security_level(ctx.get(), 0);
  SSL_CTX_set_min_proto_version(ctx.get(), min_version);
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  std::unique_ptr<BIO, decltype(&BIO_free_all)> bio(BIO_new_ssl_connect(ctx.get()), BIO_free_all);
  BIO_set_conn_hostname(bio.get(), ("127.0.0.1:" + std::to_string(port)).c_str());
  return BIO_do_connect(bio.get()) == 1 && BIO_do_handshake(bio.get()) == 1;
}

TEST_CASE("receiver: HTTPS with a configured certificate, TLS 1.2 at least", "[notify]") {
  test::TempDir keys;
  auto generated = rich::GenerateCertificate("localhost", 2);
  REQUIRE(generated.ok());
  ReceiverOptions options;
  options.tls_certificate = keys.Path("tls-cert.pem");
  options.tls_private_key = keys.Path("tls-key.pem");
  REQUIRE(rich::WriteCertificateFiles(*generated, options.tls_certificate, options.tls_private_key)
              .ok());
  Fixture f(options);
  httplib::SSLClient client("127.0.0.1", f.receiver->port());
  client.enable_server_certificate_verification(false);  // self-signed
  auto res = client.Post("/notifications?validationToken=over-tls", "", "text/plain");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == "over-tls");
  res = client.Post("/notifications", Body({Item("sub-1", "cs-1", "m-tls", "CQ1")}), kJson);
  REQUIRE(res);
  CHECK(res->status == 202);
  CHECK(f.Rows() == 1);
  CHECK(TlsHandshake(f.receiver->port(), TLS1_2_VERSION, TLS1_3_VERSION));
  CHECK_FALSE(TlsHandshake(f.receiver->port(), TLS1_VERSION, TLS1_1_VERSION));
  // Plain HTTP on the TLS port gets nothing useful.
  auto plain = f.Client().Post("/notifications?validationToken=x", "", "text/plain");
  CHECK(!(plain && plain->status == 200 && plain->body == "x"));

  // A key that does not match, or half a pair: the receiver refuses to start.
  auto other = rich::GenerateCertificate("other", 2);
  REQUIRE(other.ok());
  ReceiverOptions mismatched = options;
  mismatched.port = 0;
  mismatched.tls_private_key = keys.Path("other-key.pem");
  REQUIRE(
      rich::WriteCertificateFiles(*other, keys.Path("other-cert.pem"), mismatched.tls_private_key)
          .ok());
  Receiver bad(mismatched, &f.table, f.store.get(), &f.clock);
  Status started = bad.Start();
  CHECK_FALSE(started.ok());
  CHECK(started.message().find("TLS certificate") != std::string::npos);
  ReceiverOptions half;
  half.tls_certificate = options.tls_certificate;
  Receiver halfway(half, &f.table, f.store.get(), &f.clock);
  CHECK_FALSE(halfway.Start().ok());
}

TEST_CASE("receiver: Event Hubs' validation messages are skipped and counted, not refused",
          "[notify][kafka]") {
  Fixture f;
  // What Graph writes to an event hub when it creates a subscription ("Receive change
  // notifications through Azure Event Hubs"), here beside a real item.
  const std::string validation =
      R"({"subscriptionId":"NA","subscriptionExpirationDateTime":"NA","clientState":"NA",)"
      R"("changeType":"Validation: Testing client application reachability for subscription )"
      R"(Request-Id: 522a8e7e-096a-494c-aaf1-ac0dcfca45b7","resource":"NA",)"
      R"("resourceData":{"@odata.type":"NA","@odata.id":"NA","id":"NA"}})";
  NotificationAnswer answer = f.receiver->Accept("application/json", Body({validation}));
  CHECK(answer.status == 202);
  CHECK(f.receiver->stats().hub_validations == 1);
  CHECK(f.receiver->stats().rejected_unknown_subscription == 0);
  CHECK(f.receiver->stats().rejected_batches == 0);
  CHECK(f.Rows() == 0);
  answer =
      f.receiver->Accept("application/json", Body({validation, Item("sub-1", "cs-1", "m1", "e1")}));
  CHECK(answer.status == 202);
  CHECK(f.receiver->stats().hub_validations == 2);
  CHECK(f.Rows() == 1);
  // Only the "NA" subscription with a Validation change type is one: anything else named
  // NA is refused as unknown.
  std::string forged = validation;
  forged.replace(forged.find("Validation: Testing"), 19, "created");
  answer = f.receiver->Accept("application/json", Body({forged}));
  CHECK(answer.status == 202);
  CHECK(f.receiver->stats().rejected_unknown_subscription == 1);
  CHECK(f.receiver->stats().hub_validations == 2);
}

}  // namespace
}  // namespace graphmirror::notify
