// The version macros of include/graphmirror/version.h agree with each other and with
// CMake's project version.

#include "graphmirror/version.h"

#include <catch2/catch.hpp>
#include <string>

namespace graphmirror {
namespace {

TEST_CASE("version.h agrees with the CMake project version", "[version]") {
  const std::string parts = std::to_string(GRAPHMIRROR_VERSION_MAJOR) + "." +
                            std::to_string(GRAPHMIRROR_VERSION_MINOR) + "." +
                            std::to_string(GRAPHMIRROR_VERSION_PATCH);
  CHECK(parts == GRAPHMIRROR_VERSION);
  CHECK(std::string(GRAPHMIRROR_VERSION) == GRAPHMIRROR_PROJECT_VERSION);
}

}  // namespace
}  // namespace graphmirror
