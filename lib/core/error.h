// Errors carry the documented exit code and a hint that says what to do.
#pragma once
#include <stdexcept>
#include <string>

namespace mlo {

// Exit codes, documented in man/mlo.1. Never renumber: scripts depend on them.
enum class Exit : int {
  ok = 0,
  check_failed = 1,   // a check said no: drift found, dirty status with --exit-code, gate refused
  usage = 2,          // bad command line
  input = 3,          // not a repo, bad config, bad file or path
  remote = 4,         // remote or network failure
  runner = 5,         // a runner or stage failed
  interrupted = 130,  // Ctrl-C / SIGTERM
};

class Error : public std::runtime_error {
 public:
  Error(Exit code, std::string message, std::string hint = {})
      : std::runtime_error(std::move(message)), code_(code), hint_(std::move(hint)) {}
  Exit code() const { return code_; }
  const std::string& hint() const { return hint_; }

 private:
  Exit code_;
  std::string hint_;
};

// Bad input: a path, a file the user wrote, a config value, a repo problem.
struct InputError : Error {
  explicit InputError(std::string message, std::string hint = {})
      : Error(Exit::input, std::move(message), std::move(hint)) {}
};
struct UsageError : Error {
  explicit UsageError(std::string message, std::string hint = {})
      : Error(Exit::usage, std::move(message), std::move(hint)) {}
};
struct RemoteError : Error {
  explicit RemoteError(std::string message, std::string hint = {})
      : Error(Exit::remote, std::move(message), std::move(hint)) {}
};
struct RunnerError : Error {
  explicit RunnerError(std::string message, std::string hint = {})
      : Error(Exit::runner, std::move(message), std::move(hint)) {}
};
struct InterruptedError : Error {
  InterruptedError() : Error(Exit::interrupted, "interrupted") {}
};

// "PATH: strerror(errno)" as an InputError; for failed system calls on user paths.
[[noreturn]] void throw_errno(const std::string& what, int err, std::string hint = {});

}  // namespace mlo
