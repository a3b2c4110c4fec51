// A data race planted on purpose in a receiver handler, for the ThreadSanitizer build
// only: tests/tsan/expect_race runs it and passes only if TSan reports the race. It
// proves that tests/tsan.supp cannot hide a race in our own code whose stack passes
// through cpp-httplib (every receiver handler's does).
//
// Two GETs are served at once on two of the receiver's workers; the admin handler (run by
// Receiver's request handler, called from httplib's request parser) increments a plain
// int, then waits until both requests are inside it. They meet through a relaxed atomic,
// which orders nothing, so the writes are unordered however the threads are scheduled
// (a report delaying one worker cannot let the other finish first). Each worker writes
// again once both are inside: TSan can miss two writes made at the very same instant
// (each checks the shadow before the other records its access), never a write made after
// the other worker's write has been recorded.

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include "engine/notify/receiver.h"
#include "engine/notify/subscription_table.h"
#include "engine/store/store.h"
#include "graphmirror/clock.h"

namespace {

int planted_counter = 0;  // the race: written by two workers without a lock
std::atomic<int> inside{0};

// Not inlined, so that TSan's report names it.
__attribute__((noinline)) void PlantedRaceInHandler() {
  ++planted_counter;
  inside.fetch_add(1, std::memory_order_relaxed);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (inside.load(std::memory_order_relaxed) < 2 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ++planted_counter;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace graphmirror;
  if (argc != 2) {
    std::fprintf(stderr, "usage: planted_race DATABASE\n");
    return 2;
  }
  SystemClock clock;
  auto store = store::Store::Open(argv[1], &clock);
  if (!store.ok()) {
    std::fprintf(stderr, "planted_race: %s\n", store.status().ToString().c_str());
    return 2;
  }
  notify::SubscriptionTable table;
  notify::Receiver receiver({}, &table, store->get(), &clock);
  receiver.SetAdminHandler([](const std::string&) -> std::optional<notify::AdminResponse> {
    PlantedRaceInHandler();
    return notify::AdminResponse{200, "text/plain", "ok\n"};
  });
  if (Status started = receiver.Start(); !started.ok()) {
    std::fprintf(stderr, "planted_race: %s\n", started.ToString().c_str());
    return 2;
  }
  std::atomic<int> answered{0};
  auto get = [&] {
    httplib::Client cli("127.0.0.1", receiver.port());
    cli.set_read_timeout(300, 0);  // TSan on a loaded machine is slow
    auto res = cli.Get("/planted");
    if (res && res->status == 200) {
      answered.fetch_add(1);
    } else {
      std::fprintf(
          stderr, "planted_race: GET failed: %s\n",
          res ? std::to_string(res->status).c_str() : httplib::to_string(res.error()).c_str());
    }
  };
  std::thread first(get);
  std::thread second(get);
  first.join();
  second.join();
  receiver.Stop();
  std::printf("planted_race: %d answers, counter %d\n", answered.load(), planted_counter);
  return answered == 2 ? 0 : 2;
}
