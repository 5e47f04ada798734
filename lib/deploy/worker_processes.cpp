#include "deploy/worker_processes.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/fs.h"

namespace mlo::deploy {

namespace {
// One line to stderr in one write: the workers share it, and pieces of their
// lines would interleave.
void say(const std::string& line) {
  std::string text = line + "\n";
  [[maybe_unused]] auto n = ::write(2, text.data(), text.size());
}

// A socket bound to host:port with SO_REUSEPORT but not listening: it holds
// the port (a free one when port is 0) until the workers listen on it, and
// takes no connections itself.
UniqueFd hold_port(const std::string& host, int& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found)
    throw InputError("cannot use listen address '" + host + "'", "use an IP address such as 127.0.0.1");
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, ::freeaddrinfo);
  UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket", errno);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) throw_errno("setsockopt SO_REUSEPORT", errno);
  if (::bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
    int err = errno;
    if (err == EADDRINUSE)
      throw InputError("port " + std::to_string(port) + " on " + host + " is already in use",
                       "choose another port, or stop what listens there");
    throw_errno("bind " + host + ":" + std::to_string(port), err);
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return fd;
}

// The forked worker: serves until told to stop, never returns into the
// parent's code (std::_Exit: the parent's objects are not ours to destroy).
[[noreturn]] void worker_main(pid_t parent, int port, int ready_fd, const sigset_t& caller_mask, const ServeWorker& serve) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the supervisor
  if (::getppid() != parent) std::_Exit(1);
  pthread_sigmask(SIG_SETMASK, &caller_mask, nullptr);
  int code = 1;
  try {
    code = serve(port, [ready_fd](int) {
      char b = 'r';
      [[maybe_unused]] auto n = ::write(ready_fd, &b, 1);
      ::close(ready_fd);  // so the supervisor reads EOF once every worker said ready or died
    });
  } catch (const Error& e) {
    say("worker process " + std::to_string(::getpid()) + ": error: " + e.what());
    code = static_cast<int>(e.code());
  } catch (const std::exception& e) {
    say("worker process " + std::to_string(::getpid()) + ": error: " + e.what());
  }
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(code);
}

// True when all `workers` said ready; false when one exited first.
bool await_ready(int fd, int workers) {
  int got = 0;
  char buf[64];
  while (got < workers) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<int>(n);
  }
  return true;
}

void stop_workers(std::vector<pid_t>& pids) {
  for (pid_t p : pids) ::kill(p, SIGTERM);
  for (pid_t p : pids)
    while (::waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
    }
  pids.clear();
}

std::string how_it_ended(int status) {
  return WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                           : "was killed by signal " + std::to_string(WTERMSIG(status));
}

// Waits for SIGTERM/SIGINT (0) or a worker's death (1); stops the workers either way.
int supervise(std::vector<pid_t>& pids, const sigset_t& signals) {
  while (true) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig != SIGCHLD) {
      stop_workers(pids);
      return 0;
    }
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      auto it = std::find(pids.begin(), pids.end(), pid);
      if (it == pids.end()) continue;
      pids.erase(it);
      say("worker process " + std::to_string(pid) + " " + how_it_ended(status) +
          "; stopping every worker, so that the runner exits and is restarted whole");
      stop_workers(pids);
      return 1;
    }
  }
}
}  // namespace

int run_worker_processes(const std::string& host, int port, int workers, const ServeWorker& serve,
                         const std::function<void(int port)>& on_ready) {
  UniqueFd holder = hold_port(host, port);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe", errno);
  UniqueFd ready_r(fds[0]), ready_w(fds[1]);
  sigset_t caller_mask, signals;
  pthread_sigmask(SIG_BLOCK, nullptr, &caller_mask);
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGCHLD}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // taken with sigwait in supervise()
  ::signal(SIGCHLD, SIG_DFL);                      // an inherited SIG_IGN would reap the workers unseen
  std::vector<pid_t> pids;
  pid_t parent = ::getpid();
  for (int i = 0; i < workers; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      holder.reset();
      ready_r.reset();
      worker_main(parent, port, ready_w.get(), caller_mask, serve);
    }
    if (pid < 0) {
      int err = errno;
      stop_workers(pids);
      throw_errno("fork", err, "the system is out of processes or memory; lower serving.workers");
    }
    pids.push_back(pid);
  }
  ready_w.reset();
  if (!await_ready(ready_r.get(), workers)) {
    stop_workers(pids);
    throw RunnerError("a worker process exited before it listened on port " + std::to_string(port),
                      "see the worker's error above");
  }
  holder.reset();
  on_ready(port);
  return supervise(pids, signals);
}

}  // namespace mlo::deploy
