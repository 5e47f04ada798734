#include "core/process.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
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

namespace {

// posix_spawn, not fork: glibc starts the child as vfork does, sharing the
// parent's memory until exec, where fork copies the page tables of the whole
// process: tens of milliseconds for a large long-running one (mlo ui with a
// big registry runs git for pages). A child whose chdir or exec fails exits
// 127, as the forked child did; -1 for that.
pid_t spawn_child(const std::filesystem::path& program, const ProcessSpec& spec, int in_fd, int out_fd, int err_fd,
                  char** argv, char** envp) {
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
  if (out_fd >= 0) ::posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  if (err_fd >= 0) ::posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  if (!spec.cwd.empty()) ::posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, envp);
  ::posix_spawn_file_actions_destroy(&actions);
  if (rc == EAGAIN || rc == ENOMEM) throw_errno("starting " + program.string(), rc);
  return rc == 0 ? pid : -1;
}

}  // namespace

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

  pid_t pid = spawn_child(*program, spec, in_pipe[0], spec.capture_stdout ? out_pipe[1] : -1,
                          spec.capture_stderr ? err_pipe[1] : -1, argv.data(), envp.data());
  ::close(in_pipe[0]);
  if (spec.capture_stdout) ::close(out_pipe[1]);
  if (spec.capture_stderr) ::close(err_pipe[1]);

  ProcessResult result;
  if (pid < 0) {  // its chdir or exec failed: what the forked child's _exit(127) reported
    for (int fd : {in_pipe[1], out_pipe[0], err_pipe[0]})
      if (fd >= 0) ::close(fd);
    result.exit_code = 127;
    return result;
  }
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
