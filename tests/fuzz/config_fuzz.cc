// The config loader (config::ParseConfig) on arbitrary TOML text: a Config or a one-line
// error naming the problem, never a crash. The environment is empty.

#include <optional>
#include <string>

#include "engine/config/config.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using graphmirror::fuzz::Require;
  const std::string text(graphmirror::fuzz::AsText(data, size));
  auto no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  auto config = graphmirror::config::ParseConfig(text, "fuzz.toml", "", no_env);
  if (!config.ok()) {
    const std::string& message = config.status().message();
    Require(!message.empty(), "an error has a message");
    Require(message.find('\n') == std::string::npos, "an error is one line");
  }
  return 0;
}
