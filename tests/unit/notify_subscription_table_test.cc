#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/notify/subscription_table.h"

namespace graphmirror::notify {
namespace {

TEST_CASE("subscription table: put, replace, find, remove", "[notify]") {
  SubscriptionTable table;
  CHECK(table.size() == 0);
  CHECK_FALSE(table.Find("s1"));
  table.Put({"s1", "u1", Collection::kMessages, "cs1", {}, {}, false});
  table.Put({"s2", "u2", Collection::kContacts, "cs2", {}, {}, false});
  CHECK(table.size() == 2);
  auto s1 = table.Find("s1");
  REQUIRE(s1);
  CHECK(s1->user_id == "u1");
  CHECK(s1->collection == Collection::kMessages);
  CHECK(s1->client_state == "cs1");
  // A renewal with a new secret replaces the entry.
  table.Put({"s1", "u1", Collection::kMessages, "cs1-new", {}, {}, false});
  CHECK(table.size() == 2);
  CHECK(table.Find("s1")->client_state == "cs1-new");
  CHECK_FALSE(table.Find("S1"));  // ids are exact
  table.Remove("s1");
  table.Remove("missing");
  CHECK_FALSE(table.Find("s1"));
  CHECK(table.size() == 1);
}

TEST_CASE("subscription table: readers and writers at once", "[notify]") {
  SubscriptionTable table;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&table, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string id = "s" + std::to_string(i % 50);
        if (t % 2 == 0) {
          table.Put({id, "u", Collection::kEvents, "cs" + std::to_string(i), {}, {}, false});
        } else if (auto found = table.Find(id)) {
          CHECK(found->id == id);
        }
        if (i % 7 == 0) table.Remove(id);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(table.size() <= 50);
}

TEST_CASE("ConstantTimeEquals compares whole strings", "[notify]") {
  CHECK(ConstantTimeEquals("", ""));
  CHECK(ConstantTimeEquals("secret", "secret"));
  CHECK_FALSE(ConstantTimeEquals("secret", "secreT"));
  CHECK_FALSE(ConstantTimeEquals("secret", "secre"));
  CHECK_FALSE(ConstantTimeEquals("", "x"));
  CHECK_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
  CHECK(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
}

TEST_CASE("NewClientState: 32 random bytes, base64url", "[notify]") {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string state = NewClientState();
    CHECK(state.size() == 43);
    CHECK(state.size() <= 128);  // Graph's limit
    for (char c : state) {
      const bool url_safe = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_';
      CHECK(url_safe);
    }
    seen.insert(state);
  }
  CHECK(seen.size() == 200);
}

}  // namespace
}  // namespace graphmirror::notify
