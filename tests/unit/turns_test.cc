// Turns (engine/base/turns.h): slots given first come, first served, a thread that had a
// turn going to the back of the line; threads that are no participants never wait.

#include "engine/base/turns.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <mutex>
#include <thread>
#include <vector>

namespace graphmirror {
namespace {

void WaitFor(const std::function<bool()>& done) {
  for (int i = 0; i < 5000 && !done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(done());
}

}  // namespace

TEST_CASE("Participants take one slot in turn, first come first served", "[base][turns]") {
  Turns turns(1);
  std::optional<Turns::Participant> self(&turns);
  Turns::NextTurn();  // this thread holds the only slot while the others line up
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      Turns::Participant participant(&turns);
      for (int i = 0; i < 4; ++i) {
        Turns::NextTurn();
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(t);
      }
    });
    WaitFor([&] { return turns.waiting() == static_cast<size_t>(t + 1); });
  }
  Turns::NextTurn();  // to the back of the line: the three go first, once each
  {
    std::lock_guard<std::mutex> lock(mu);
    CHECK(order == std::vector<int>{0, 1, 2});
  }
  Turns::NextTurn();
  {
    std::lock_guard<std::mutex> lock(mu);
    CHECK(order == std::vector<int>{0, 1, 2, 0, 1, 2});
  }
  self.reset();  // gives its turn back for good
  for (auto& t : threads) t.join();
  CHECK(order == std::vector<int>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2});
}

TEST_CASE("No more participants than slots have a turn at once", "[base][turns]") {
  Turns turns(2);
  std::atomic<int> in_turn{0}, most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      Turns::Participant participant(&turns);
      for (int i = 0; i < 50; ++i) {
        Turns::NextTurn();
        const int now = ++in_turn;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        --in_turn;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(most.load() == 2);
  CHECK(turns.given() == 300);
}

TEST_CASE("NextTurn does not wait on a thread that is no participant", "[base][turns]") {
  Turns turns(1);
  Turns::Participant self(&turns);
  Turns::NextTurn();  // the only slot is taken
  std::atomic<bool> returned{false};
  std::thread other([&] {
    Turns::NextTurn();
    returned = true;
  });
  other.join();
  CHECK(returned);
  CHECK(turns.given() == 1);
}

}  // namespace graphmirror
