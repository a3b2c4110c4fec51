// Turns: `slots` threads at a time do their work, the others wait in a first-come,
// first-served line, and a thread that had a turn goes to the back of the line for its
// next one. A pass over many mailboxes runs a thread per collection as a participant:
// each Graph request ends the thread's turn and waits for its next, so a turn covers one
// request and what is done with its answer (a page applied), and the collections advance
// a page each in turn instead of one collection to its end before the next starts.
//
// A thread becomes a participant for the life of a Turns::Participant; NextTurn() is a
// no-op on other threads, so code shared with the daemon's other threads is unaffected.
//
// Thread-safety: every method may be called from any thread.

#ifndef GRAPHMIRROR_ENGINE_BASE_TURNS_H_
#define GRAPHMIRROR_ENGINE_BASE_TURNS_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>

namespace graphmirror {

class Turns {
 public:
  explicit Turns(int slots);
  Turns(const Turns&) = delete;
  Turns& operator=(const Turns&) = delete;

  // Makes the constructing thread a participant of `turns` until destroyed (its turn,
  // if it has one, then ends).
  class Participant {
   public:
    explicit Participant(Turns* turns);
    ~Participant();
    Participant(const Participant&) = delete;
    Participant& operator=(const Participant&) = delete;
  };

  // On a participant thread: ends its turn, if it has one, and waits for the next.
  static void NextTurn();

  // How many turns have been given, and how many threads wait for one (for tests).
  uint64_t given() const;
  size_t waiting() const;

 private:
  // Waits for a slot, first come first served; `give_first`: gives back the one held.
  void Take(bool give_first);
  void Give();

  const int slots_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int free_;
  uint64_t next_ticket_ = 0;
  std::deque<uint64_t> line_;  // tickets waiting, oldest first
  uint64_t given_ = 0;
};

}  // namespace graphmirror

#endif  // GRAPHMIRROR_ENGINE_BASE_TURNS_H_
