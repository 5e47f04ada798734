// The local CPU runner: runs the stage as a child process in its own process
// group, tees its output into the run log (and the terminal), and stops the
// whole group on Ctrl-C.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "runner/local.h"

extern char** environ;

namespace mlo {

namespace {
double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}
std::string hostname() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}
}  // namespace

JobResult LocalRunner::run(const JobSpec& spec) {
  JobResult result;
  result.host = hostname();
  result.started_at = now_seconds();

  std::vector<std::string> args = spec.argv.empty() ? std::vector<std::string>{"/bin/sh", "-c", spec.shell} : spec.argv;
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
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  UniqueFd log;
  if (!spec.log_path.empty()) {
    log.reset(::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log) throw_errno("cannot open run log " + spec.log_path.string(), errno);
  }
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw_errno("pipe", errno);

  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork", errno);
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (!spec.workdir.empty() && ::chdir(spec.workdir.c_str()) != 0) {
      std::fprintf(stderr, "mlo: cannot enter %s: %s\n", spec.workdir.c_str(), std::strerror(errno));
      _exit(126);
    }
    if (args[0].find('/') != std::string::npos) ::execve(args[0].c_str(), argv.data(), envp.data());
    else {
      environ = envp.data();
      ::execvp(args[0].c_str(), argv.data());
    }
    std::fprintf(stderr, "mlo: cannot run %s: %s\n", args[0].c_str(), std::strerror(errno));
    _exit(127);
  }
  ::setpgid(pid, pid);
  ::close(pipefd[1]);

  bool timed_out = false, stopped = false;
  auto deadline = spec.resources.time_limit_s
                      ? std::chrono::steady_clock::now() +
                            std::chrono::milliseconds(static_cast<long long>(*spec.resources.time_limit_s * 1000))
                      : std::chrono::steady_clock::time_point::max();
  char buf[65536];
  for (bool open = true; open;) {
    pollfd p{pipefd[0], POLLIN, 0};
    int rc = ::poll(&p, 1, 100);
    if (rc > 0) {
      ssize_t n = ::read(pipefd[0], buf, sizeof buf);
      if (n > 0) {
        if (log) write_all(log.get(), std::string_view(buf, static_cast<size_t>(n)), spec.log_path.string());
        if (spec.stream_output) {
          ssize_t ignored = ::write(2, buf, static_cast<size_t>(n));
          (void)ignored;
        }
      } else if (n == 0 || errno != EINTR) {
        open = false;
      }
    }
    if (!stopped && (interrupted() || std::chrono::steady_clock::now() >= deadline)) {
      timed_out = !interrupted();
      stopped = true;
      ::kill(-pid, SIGTERM);
      // Give the group a moment to exit cleanly, then make sure it is gone.
      for (int i = 0; i < 50 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++i) ::usleep(20000);
      ::kill(-pid, SIGKILL);
    }
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  ::kill(-pid, SIGKILL);  // children that outlived the main process
  result.finished_at = now_seconds();
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  if (stopped && interrupted()) {
    result.status = "interrupted";
    result.message = "interrupted by the user";
  } else if (timed_out) {
    result.status = "timeout";
    result.message = "exceeded the time limit of " + std::to_string(*spec.resources.time_limit_s) + " s";
  } else if (result.signal) {
    result.status = "killed";
    result.message = std::string("killed by signal ") + ::strsignal(result.signal);
  } else if (result.exit_code != 0) {
    result.status = "failed";
    result.message = "exited with status " + std::to_string(result.exit_code);
  } else {
    result.status = "succeeded";
  }
  return result;
}

}  // namespace mlo
