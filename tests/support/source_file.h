// Reading a file of the source tree (test vectors in tests/unit/data) from a test.
// Needs the GRAPHMIRROR_SOURCE_DIR compile definition (set for unit_tests).

#ifndef GRAPHMIRROR_TESTS_SUPPORT_SOURCE_FILE_H_
#define GRAPHMIRROR_TESTS_SUPPORT_SOURCE_FILE_H_

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

namespace graphmirror::test {

// The whole file at `relative_path` under the source root; fails the test if unreadable.
inline std::string ReadSourceFile(const std::string& relative_path) {
  std::ifstream in(std::string(GRAPHMIRROR_SOURCE_DIR) + "/" + relative_path);
  INFO(relative_path);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace graphmirror::test

#endif  // GRAPHMIRROR_TESTS_SUPPORT_SOURCE_FILE_H_
