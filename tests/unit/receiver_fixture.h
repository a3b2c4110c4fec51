// A started Receiver over a real Store for the receiver tests, and notification bodies.

#ifndef GRAPHMIRROR_TESTS_UNIT_RECEIVER_FIXTURE_H_
#define GRAPHMIRROR_TESTS_UNIT_RECEIVER_FIXTURE_H_

#include <SQLiteCpp/SQLiteCpp.h>
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "engine/notify/receiver.h"
#include "engine/store/store.h"
#include "graphmirror/clock.h"
#include "tests/support/temp_dir.h"

namespace graphmirror::notify {

using namespace std::chrono_literals;

inline constexpr char kJson[] = "application/json; charset=utf-8";

// A Store in a temp dir, a subscription table with two subscriptions, and a started
// Receiver; the clock is manual so that nothing depends on it moving.
struct Fixture {
  explicit Fixture(ReceiverOptions options = {}) : clock(TimePoint{} + 1000h) {
    store = std::move(store::Store::Open(dir.Path("mirror.db"), &clock)).value();
    table.Put({"sub-1", "user-1", Collection::kMessages, "cs-1", {}, {}, false});
    table.Put({"sub-2", "user-2", Collection::kContacts, "cs-2", {}, {}, false});
    receiver = std::make_unique<Receiver>(std::move(options), &table, store.get(), &clock);
    Status started = receiver->Start();
    REQUIRE(started.ok());
    REQUIRE(receiver->port() > 0);
  }

  httplib::Client Client() const {
    httplib::Client cli("127.0.0.1", receiver->port());
    cli.set_url_encode(false);  // targets are sent exactly as the tests write them
    // Generous: under a sanitizer on a loaded machine an answer can take many seconds,
    // and no test here measures speed with them.
    cli.set_connection_timeout(60, 0);
    cli.set_read_timeout(300, 0);
    cli.set_write_timeout(300, 0);
    return cli;
  }

  // Rows of notification_log, read through a read-only connection of our own.
  int64_t Rows(const std::string& where = "1") const {
    SQLite::Database db(dir.Path("mirror.db"), SQLite::OPEN_READONLY);
    return db.execAndGet("SELECT count(*) FROM notification_log WHERE " + where).getInt64();
  }

  test::TempDir dir;
  ManualClock clock;
  std::unique_ptr<store::Store> store;
  SubscriptionTable table;
  std::unique_ptr<Receiver> receiver;
};

inline std::string Item(const std::string& subscription, const std::string& client_state,
                        const std::string& message_id, const std::string& etag,
                        const std::string& change_type = "created") {
  return R"({"subscriptionId":")" + subscription +
         R"(","subscriptionExpirationDateTime":"2026-01-02T03:12:18.2257768+05:30",)"
         R"("changeType":")" +
         change_type + R"(","resource":"Users/spoofed-user/Messages/)" + message_id +
         R"(","resourceData":{"@odata.type":"#Microsoft.Graph.Message","@odata.etag":"W/\")" +
         etag + R"(\"","id":")" + message_id + R"("},"clientState":")" + client_state +
         R"(","tenantId":"tenant-1"})";
}

inline std::string Body(const std::vector<std::string>& items) {
  std::string body = R"({"value":[)";
  for (size_t i = 0; i < items.size(); ++i) body += (i ? "," : "") + items[i];
  return body + "]}";
}

// A TCP connection to 127.0.0.1:`port` for writing raw requests; -1 if it fails.
inline int ConnectRaw(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace graphmirror::notify

#endif  // GRAPHMIRROR_TESTS_UNIT_RECEIVER_FIXTURE_H_
