// Running the graphmirror command from a test: its exit code and all it printed, and the
// config files it reads.

#ifndef GRAPHMIRROR_TESTS_INTEGRATION_CLI_RUN_H_
#define GRAPHMIRROR_TESTS_INTEGRATION_CLI_RUN_H_

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace graphmirror::test {

struct Run {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// `via_script`: on a pseudo-terminal (util-linux `script`), as a user's shell runs it.
inline Run RunCli(const std::string& args, bool via_script = false) {
  Run run;
  std::string command = std::string(GRAPHMIRROR_CLI_PATH) + " " + args + " 2>&1";
  if (via_script) {
    command = "script -qec '" + std::string(GRAPHMIRROR_CLI_PATH) + " " + args + "' /dev/null";
  }
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) run.output.append(buf.data(), n);
  int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

inline int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

inline std::string WriteFile(TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir.Path(name)) << text;
  return dir.Path(name);
}

inline std::string ConfigText(const std::string& base, const std::string& secret,
                              const std::vector<std::string>& users) {
  std::string text =
      "database = \"m.db\"\n[graph]\nbase_url = \"" + base + "/v1.0\"\ntoken_url = \"" + base +
      "/common/oauth2/v2.0/token\"\nclient_id = \"graphsim\"\nclient_secret = \"" + secret + "\"\n";
  for (const std::string& u : users) text += "[[mailbox]]\nuser = \"" + u + "\"\n";
  return text;
}

}  // namespace graphmirror::test

#endif  // GRAPHMIRROR_TESTS_INTEGRATION_CLI_RUN_H_
