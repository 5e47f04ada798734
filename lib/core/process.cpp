#include "core/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

extern char** environ;

namespace mlo {

std::optional<std::filesystem::path> find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  return find_program_in(name, path ? path : "/usr/local/bin:/usr/bin:/bin");
}

std::optional<std::filesystem::path> find_program_in(const std::string& name, const std::string& dirs) {
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return std::filesystem::path(name);
    return std::nullopt;
  }
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::filesystem::path dir = end > start ? std::filesystem::path(dirs.substr(start, end - start))
                                            : std::filesystem::path(".");
    std::filesystem::path candidate = dir / name;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate))
      return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

ProcessResult run_process(const ProcessSpec& spec) {
  if (spec.argv.empty()) throw UsageError("run_process: empty argv");
  auto program = find_program(spec.argv[0]);
  if (!program) throw InputError("program not found: " + spec.argv[0], "install it or put it on PATH");

  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, in_pipe[2] = {-1, -1};
  if (spec.capture_stdout && ::pipe2(out_pipe, O_CLOEXEC) != 0) throw_errno("pipe", errno);
  if (spec.capture_stderr && ::pipe2(err_pipe, O_CLOEXEC) != 0) throw_errno("pipe", errno);
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) throw_errno("pipe", errno);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos && spec.env.count(kv.substr(0, eq))) continue;
    env_strings.push_back(std::move(kv));
  }
  for (auto& [k, v] : spec.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = spec.argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork", errno);
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    if (spec.capture_stdout) ::dup2(out_pipe[1], 1);
    if (spec.capture_stderr) ::dup2(err_pipe[1], 2);
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) _exit(127);
    ::execve(program->c_str(), argv.data(), envp.data());
    _exit(127);
  }
  ::close(in_pipe[0]);
  if (spec.capture_stdout) ::close(out_pipe[1]);
  if (spec.capture_stderr) ::close(err_pipe[1]);

  ProcessResult result;
  std::string_view pending_in = spec.stdin_data;
  int in_fd = in_pipe[1];
  if (pending_in.empty()) { ::close(in_fd); in_fd = -1; }
  int fds[2] = {spec.capture_stdout ? out_pipe[0] : -1, spec.capture_stderr ? err_pipe[0] : -1};
  std::string* sinks[2] = {&result.out, &result.err};
  char buf[65536];
  while (fds[0] >= 0 || fds[1] >= 0 || in_fd >= 0) {
    pollfd pfds[3];
    int n = 0;
    int which[3];
    for (int i = 0; i < 2; ++i)
      if (fds[i] >= 0) { pfds[n] = {fds[i], POLLIN, 0}; which[n++] = i; }
    if (in_fd >= 0) { pfds[n] = {in_fd, POLLOUT, 0}; which[n++] = 2; }
    if (::poll(pfds, n, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < n; ++k) {
      if (!pfds[k].revents) continue;
      if (which[k] == 2) {
        ssize_t w = ::write(in_fd, pending_in.data(), pending_in.size());
        if (w > 0) pending_in.remove_prefix(static_cast<size_t>(w));
        if (w < 0 || pending_in.empty()) { ::close(in_fd); in_fd = -1; }
        continue;
      }
      int i = which[k];
      ssize_t r = ::read(fds[i], buf, sizeof buf);
      if (r > 0) sinks[i]->append(buf, static_cast<size_t>(r));
      else if (r == 0 || errno != EINTR) { ::close(fds[i]); fds[i] = -1; }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  return result;
}

}  // namespace mlo
