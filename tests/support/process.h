// Running a program as a child process: the graphmirror command for tests that kill it,
// graphsim and wrk for the benchmarks.

#ifndef GRAPHMIRROR_TESTS_SUPPORT_PROCESS_H_
#define GRAPHMIRROR_TESTS_SUPPORT_PROCESS_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace graphmirror::test {

// Starts `args` (args[0] is the program, searched in PATH if it has no slash) with stdout
// and stderr appended to `log`.
inline pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  std::fflush(nullptr);  // else the child flushes a copy of our buffered output
  pid_t pid = ::fork();
  if (pid == 0) {
    FILE* out = std::freopen(log.c_str(), "a", stdout);
    (void)out;
    ::dup2(::fileno(stdout), 2);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::_Exit(127);
  }
  return pid;
}

// Waits for the child; its exit code, or 128 + the signal that ended it.
inline int WaitExit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace graphmirror::test

#endif  // GRAPHMIRROR_TESTS_SUPPORT_PROCESS_H_
