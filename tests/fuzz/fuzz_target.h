// The entry point every fuzz target defines (libFuzzer's), and helpers they share.
//
// Each `*_fuzz.cc` in this folder is built twice: with clang and -fsanitize=fuzzer when
// GRAPHMIRROR_FUZZ is on (tests/fuzz/run), and in every other build as a replay program
// (replay_main.cc) that feeds it each file of its corpus and of its regression inputs,
// which the test suite runs. A target must not crash, leak or trip a sanitizer on any
// input; it checks nothing else unless it says so.
//
// Thread-safety: a target is called from one thread at a time.

#ifndef GRAPHMIRROR_TESTS_FUZZ_FUZZ_TARGET_H_
#define GRAPHMIRROR_TESTS_FUZZ_FUZZ_TARGET_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace graphmirror::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A property a target checks beyond "no crash": a violation aborts, which both libFuzzer
// and the replay report with the input.
inline void Require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "fuzz target property violated: %s\n", what);
  std::abort();
}

}  // namespace graphmirror::fuzz

#endif  // GRAPHMIRROR_TESTS_FUZZ_FUZZ_TARGET_H_
