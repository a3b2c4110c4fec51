#include "engine/base/turns.h"

#include <algorithm>

namespace graphmirror {
namespace {

thread_local Turns* t_turns = nullptr;
thread_local bool t_has_turn = false;

}  // namespace

Turns::Turns(int slots) : slots_(std::max(1, slots)), free_(slots_) {}

Turns::Participant::Participant(Turns* turns) {
  t_turns = turns;
  t_has_turn = false;
}

Turns::Participant::~Participant() {
  if (t_has_turn) t_turns->Give();
  t_turns = nullptr;
  t_has_turn = false;
}

void Turns::NextTurn() {
  if (t_turns == nullptr) return;
  t_turns->Take(t_has_turn);
  t_has_turn = true;
}

void Turns::Take(bool give_first) {
  std::unique_lock<std::mutex> lock(mu_);
  // Giving the slot and joining the line are one step: no one who had a turn after this
  // thread is ahead of it.
  if (give_first) ++free_;
  const uint64_t ticket = next_ticket_++;
  line_.push_back(ticket);
  if (give_first) cv_.notify_all();
  cv_.wait(lock, [&] { return free_ > 0 && line_.front() == ticket; });
  line_.pop_front();
  --free_;
  ++given_;
  // The next in line may take a slot still free.
  if (free_ > 0 && !line_.empty()) cv_.notify_all();
}

void Turns::Give() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++free_;
  }
  cv_.notify_all();
}

uint64_t Turns::given() const {
  std::lock_guard<std::mutex> lock(mu_);
  return given_;
}

size_t Turns::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return line_.size();
}

}  // namespace graphmirror

