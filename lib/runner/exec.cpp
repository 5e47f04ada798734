#include "runner/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "runner/output.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "core/process.h"

extern char** environ;

namespace mlo::runner {

namespace {

using Clock = std::chrono::steady_clock;

void write_str(int fd, const std::string& s) {
  ssize_t ignored = ::write(fd, s.data(), s.size());
  (void)ignored;
}

// In the child after fork (async-signal-safe only): says why it cannot go
// on, on its stderr (the job's log) and on the exec-status pipe, and exits.
[[noreturn]] void child_fail(int status_fd, const std::string& prefix, int err, int code) {
  write_str(2, prefix);
  if (err) {
    const char* e = std::strerror(err);
    ssize_t ignored = ::write(2, e, std::strlen(e));
    (void)ignored;
  }
  write_str(2, "\n");
  write_str(status_fd, "x");
  _exit(code);
}


// The program, argv, environment and messages of a job, built before fork.
struct ExecImage {
  std::vector<std::string> env_strings, args, cleanup_args;
  std::vector<char*> envp, argv, cleanup_argv;
  std::string program, cleanup_program, not_found, exec_error, chdir_error;
  cpu_set_t cpus;
};

void prepare_image(const ChildOptions& opt, ExecImage& img) {
  std::string path_value;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos && opt.env.count(kv.substr(0, eq))) continue;
    if (kv.rfind("PATH=", 0) == 0) path_value = kv.substr(5);
    img.env_strings.push_back(std::move(kv));
  }
  for (auto& [k, v] : opt.env) {
    img.env_strings.push_back(k + "=" + v);
    if (k == "PATH") path_value = v;
  }
  for (auto& s : img.env_strings) img.envp.push_back(s.data());
  img.envp.push_back(nullptr);
  img.args = opt.argv;
  for (auto& a : img.args) img.argv.push_back(a.data());
  img.argv.push_back(nullptr);
  // A name with a slash is run as given (execve says why it cannot be); others are looked up.
  const std::string& name = img.args[0];
  img.program = name.find('/') != std::string::npos ? name : std::string();
  if (img.program.empty()) {
    if (auto found = find_program_in(name, path_value.empty() ? "/usr/local/bin:/usr/bin:/bin" : path_value))
      img.program = found->string();
  }
  img.not_found = "mlo: cannot run '" + name + "': command not found on PATH";
  if (!opt.orphan_cleanup.empty()) {
    img.cleanup_args = opt.orphan_cleanup;
    for (auto& a : img.cleanup_args) img.cleanup_argv.push_back(a.data());
    img.cleanup_argv.push_back(nullptr);
    const std::string& c = img.cleanup_args[0];
    if (c.find('/') != std::string::npos) img.cleanup_program = c;
    else if (auto found = find_program_in(c, path_value.empty() ? "/usr/local/bin:/usr/bin:/bin" : path_value))
      img.cleanup_program = found->string();
  }
  img.exec_error = "mlo: cannot run '" + name + "': ";
  img.chdir_error = "mlo: cannot enter " + opt.workdir.string() + ": ";
  CPU_ZERO(&img.cpus);
  for (int c : opt.cpu_set) CPU_SET(c, &img.cpus);
}

// Everything the processes forked for a job need, prepared before fork.
struct ChildPlan {
  const ChildOptions* opt;
  const std::string& program;
  char** argv;
  char** envp;
  const std::string& not_found;
  const std::string& exec_error;
  const std::string& chdir_error;
  const cpu_set_t* cpus;
  const std::string& cleanup_program;  // empty: none
  char** cleanup_argv;
  int output_fd;  // the pipe to mlo (stdout and stderr)
  int status_fd;  // the exec-status pipe
  pid_t mlo;
};

// The job process proper (async-signal-safe only): default signals, limits, exec.
[[noreturn]] void exec_job(const ChildPlan& p, int status_fd) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s : {SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGHUP, SIGQUIT, SIGUSR1}) ::sigaction(s, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  const ChildOptions& opt = *p.opt;
  if (opt.memory_bytes) {
    rlimit rl{static_cast<rlim_t>(*opt.memory_bytes), static_cast<rlim_t>(*opt.memory_bytes)};
    ::setrlimit(RLIMIT_AS, &rl);
  }
  if (!opt.cpu_set.empty()) ::sched_setaffinity(0, sizeof *p.cpus, p.cpus);
  if (opt.nice > 0) {
    errno = 0;
    int ignored = ::nice(opt.nice);
    (void)ignored;
  }
  if (!opt.workdir.empty() && ::chdir(opt.workdir.c_str()) != 0) child_fail(status_fd, p.chdir_error, errno, 126);
  if (p.program.empty()) child_fail(status_fd, p.not_found, 0, 127);
  ::execve(p.program.c_str(), p.argv, p.envp);
  int err = errno;
  child_fail(status_fd, p.exec_error, err, err == ENOENT ? 127 : 126);
}

// Ends the guard the way the job ended: the same exit code, or the same signal.
[[noreturn]] void exit_like(int status) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, nullptr);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    ::sigprocmask(SIG_UNBLOCK, &only, nullptr);
    ::kill(::getpid(), sig);
    _exit(128 + sig);
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

// The orphan cleanup (async-signal-safe only): in a session of its own, so
// the group kill that follows cannot reach it; the guard waits until it has
// exec'd (the CLOEXEC pipe closes) before it kills the group.
void start_cleanup(const ChildPlan& p) {
  int sync[2];
  if (::pipe2(sync, O_CLOEXEC) != 0) return;
  pid_t c = ::fork();
  if (c == 0) {
    ::setsid();
    int null_out = ::open("/dev/null", O_WRONLY);  // nobody reads the job's pipe any more
    if (null_out >= 0) {
      ::dup2(null_out, 1);
      ::dup2(null_out, 2);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(p.cleanup_program.c_str(), p.cleanup_argv, p.envp);
    _exit(127);
  }
  ::close(sync[1]);
  char b;
  if (c > 0)
    while (::read(sync[0], &b, 1) < 0 && errno == EINTR) {}
  ::close(sync[0]);
}

// The group leader mlo forks for a job (async-signal-safe only). It starts
// the job and waits for it; when mlo dies (even by SIGKILL, which no handler
// sees) it kills the whole group, so no stage outlives mlo and keeps writing
// its outputs. mlo's SIGTERM reaches the job directly (the group), or through
// the guard for plugins (term_leader_only).
[[noreturn]] void guard_job(const ChildPlan& p) {
  ::setpgid(0, 0);
  // Every signal is still blocked (see run_child): they are waited for below.
  ::prctl(PR_SET_PDEATHSIG, SIGUSR1);
  if (::getppid() != p.mlo) _exit(129);  // mlo died before prctl
  ::dup2(p.output_fd, 1);
  ::dup2(p.output_fd, 2);
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  // The status pipe at fd 3, closed by exec; every other descriptor of mlo
  // (other jobs' pipes, the repo lock) is closed: the guard outlives exec.
  ::dup2(p.status_fd, 3);
  ::fcntl(3, F_SETFD, FD_CLOEXEC);
  if (::syscall(SYS_close_range, 4U, ~0U, 0U) != 0)
    for (int fd = 4; fd < 65536; ++fd) ::close(fd);
  pid_t job = ::fork();
  if (job < 0) child_fail(3, "mlo: cannot start the job: fork: ", errno, 126);
  if (job == 0) exec_job(p, 3);
  ::close(3);
  sigset_t waited;
  sigemptyset(&waited);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1}) sigaddset(&waited, s);
  timespec tick{0, 100 * 1000 * 1000};
  for (;;) {
    int status = 0;
    pid_t done = ::waitpid(job, &status, WNOHANG);
    if (done == job) exit_like(status);
    if (::getppid() != p.mlo) {  // mlo is gone: so is the job
      if (!p.cleanup_program.empty()) start_cleanup(p);
      ::kill(0, SIGKILL);
      _exit(137);
    }
    siginfo_t info{};
    int sig = ::sigtimedwait(&waited, &info, &tick);
    if (p.opt->term_leader_only && (sig == SIGTERM || sig == SIGINT)) ::kill(job, sig);
  }
}
}  // namespace

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::string hostname() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

int online_cpus() {
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

int whole_cpus(double cpus) {
  if (!(cpus > 0)) return 1;
  return std::max(1, static_cast<int>(std::ceil(cpus - 1e-9)));
}

std::string shell_quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-./=:,+@%") ==
                           std::string::npos)
    return word;
  return shell_quote_always(word);
}

std::string shell_quote_always(const std::string& word) {
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

std::vector<std::string> job_argv(const JobSpec& spec) {
  if (!spec.argv.empty()) return spec.argv;
  return {"/bin/sh", "-c", spec.shell};
}

std::map<std::string, std::string> thread_env(const Resources& resources,
                                              const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> out;
  if (!resources.cpus) return out;
  std::string n = std::to_string(whole_cpus(*resources.cpus));
  for (const char* key : {"OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                          "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS", "MLO_CPUS"})
    if (!env.count(key)) out[key] = n;
  return out;
}

nlohmann::json merged_config(const nlohmann::json& runner_config, const JobSpec& spec) {
  nlohmann::json out = runner_config.is_object() ? runner_config : nlohmann::json::object();
  if (spec.runner_config.is_object())
    for (auto& [k, v] : spec.runner_config.items()) out[k] = v;
  return out;
}

double config_number(const nlohmann::json& config, const std::string& key, double fallback) {
  if (!config.is_object() || !config.contains(key) || config[key].is_null()) return fallback;
  const auto& v = config[key];
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    try {
      size_t used = 0;
      double d = std::stod(v.get<std::string>(), &used);
      if (used == v.get<std::string>().size()) return d;
    } catch (const std::exception&) {
    }
  }
  throw InputError("runner setting '" + key + "' must be a number, got " + v.dump(),
                   "fix it in .mlo/config.yaml (runners.NAME." + key + ")");
}

bool config_bool(const nlohmann::json& config, const std::string& key, bool fallback) {
  if (!config.is_object() || !config.contains(key) || config[key].is_null()) return fallback;
  const auto& v = config[key];
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
    if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  }
  throw InputError("runner setting '" + key + "' must be true or false, got " + v.dump(),
                   "fix it in .mlo/config.yaml (runners.NAME." + key + ")");
}

std::string config_string(const nlohmann::json& config, const std::string& key, const std::string& fallback) {
  if (!config.is_object() || !config.contains(key) || config[key].is_null()) return fallback;
  const auto& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

JobResult classify(const ChildOutcome& o, std::optional<double> time_limit_s) {
  JobResult r;
  r.exit_code = o.exit_code;
  r.signal = o.signal;
  r.started_at = o.started_at;
  r.finished_at = o.finished_at;
  r.host = hostname();
  if (o.interrupted) {
    r.status = "interrupted";
    r.message = "interrupted by the user; the job's processes were stopped";
  } else if (o.timed_out) {
    std::ostringstream s;
    s << "exceeded its time limit of " << (time_limit_s ? *time_limit_s : 0) << " s and was stopped";
    r.status = "timeout";
    r.message = s.str();
  } else if (o.signal) {
    r.status = "killed";
    r.message = std::string("killed by signal ") + std::to_string(o.signal) + " (" + ::strsignal(o.signal) + ")";
    if (o.signal == SIGKILL) r.message += "; out of memory or killed by another process?";
  } else if (o.exec_failed) {
    r.status = "failed";
    r.message = "the command could not be started (exit status " + std::to_string(o.exit_code) +
                "): see the log for why";
  } else if (o.exit_code != 0) {
    r.status = "failed";
    r.message = "exited with status " + std::to_string(o.exit_code);
  } else {
    r.status = "succeeded";
  }
  return r;
}

ChildOutcome run_child(const ChildOptions& opt) {
  if (opt.argv.empty()) throw InputError("job has no command", "give the stage a cmd");
  ChildOutcome out;

  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls (the pipeline may run jobs from several threads).
  ExecImage img;
  prepare_image(opt, img);

  UniqueFd log;
  if (!opt.log_path.empty()) {
    log.reset(::open(opt.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log) throw_errno("cannot open the run log " + opt.log_path.string(), errno);
  }
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw RunnerError(std::string("pipe: ") + std::strerror(errno));
  UniqueFd read_end(pipefd[0]), write_end(pipefd[1]);
  // Closed by a successful exec; otherwise carries one byte: the exec failed.
  int errpipe[2];
  if (::pipe2(errpipe, O_CLOEXEC) != 0) throw RunnerError(std::string("pipe: ") + std::strerror(errno));
  UniqueFd err_read(errpipe[0]), err_write(errpipe[1]);

  sigset_t all, old;
  sigfillset(&all);
  out.started_at = now_seconds();
  auto started = Clock::now();
  pid_t parent = ::getpid();
  // Block signals around fork so the child cannot run mlo's handlers before exec.
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw RunnerError(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    ChildPlan plan{&opt, img.program, img.argv.data(), img.envp.data(), img.not_found, img.exec_error,
                   img.chdir_error, &img.cpus, img.cleanup_program,
                   img.cleanup_argv.empty() ? nullptr : img.cleanup_argv.data(), write_end.get(), err_write.get(), parent};
    guard_job(plan);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::setpgid(pid, pid);  // also in the child: whichever runs first
  write_end.reset();
  err_write.reset();
  {
    char c;
    ssize_t n;
    while ((n = ::read(err_read.get(), &c, 1)) < 0 && errno == EINTR) {}
    out.exec_failed = n == 1;
  }

  auto deadline = opt.time_limit_s ? started + std::chrono::milliseconds(static_cast<long long>(*opt.time_limit_s * 1000))
                                   : Clock::time_point::max();
  auto next_tick = started + std::chrono::milliseconds(static_cast<long long>(std::min(opt.tick_s, 0.5) * 1000));
  enum class Stop { none, termed, killed } stop = Stop::none;
  Clock::time_point kill_at{};
  bool exited = false, eof = false;
  int status = 0;
  char buf[65536];

  auto pump = [&](int timeout_ms) {
    pollfd p{read_end.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc <= 0) return false;
    ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n > 0) {
      std::string_view chunk(buf, static_cast<size_t>(n));
      if (log) write_all(log.get(), chunk, opt.log_path.string());
      if (opt.stream_output) write_job_output(opt.output_key, chunk);
      return true;
    }
    if (n == 0 || (errno != EINTR && errno != EAGAIN)) eof = true;
    return false;
  };

  // A pidfd tells us the moment the leader exits; without one (old kernels), poll every 10 ms.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  while (!exited) {
    pollfd p[2];
    int n = 0;
    if (!eof) p[n++] = {read_end.get(), POLLIN, 0};
    if (pidfd) p[n++] = {pidfd.get(), POLLIN, 0};
    int rc = ::poll(p, static_cast<nfds_t>(n), pidfd ? 50 : 10);
    if (rc > 0 && !eof && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) pump(0);
    // Has the leader exited? Peek without reaping, so its pid (= the group id)
    // cannot be reused before the group is cleaned up.
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
      exited = true;
    auto now = Clock::now();
    if (!exited && stop == Stop::none && (interrupted() || now >= deadline)) {
      out.interrupted = interrupted();
      out.timed_out = !out.interrupted;
      stop = Stop::termed;
      ::kill(opt.term_leader_only ? pid : -pid, SIGTERM);
      kill_at = now + std::chrono::milliseconds(static_cast<long long>(opt.kill_grace_s * 1000));
    } else if (!exited && stop == Stop::termed && now >= kill_at) {
      stop = Stop::killed;
      ::kill(-pid, SIGKILL);
    }
    if (!exited && opt.on_tick && now >= next_tick) {
      opt.on_tick();
      next_tick = now + std::chrono::milliseconds(static_cast<long long>(opt.tick_s * 1000));
    }
  }
  // The leader is done: whatever it left running in its group goes too.
  ::kill(-pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  // Drain what is left in the pipe; a process that left the group (setsid) and
  // kept the pipe open must not hold us forever.
  auto drain_until = Clock::now() + std::chrono::seconds(2);
  while (!eof && Clock::now() < drain_until) pump(100);
  out.finished_at = now_seconds();
  if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  return out;
}

}  // namespace mlo::runner

namespace mlo::runner {

std::uint64_t parse_memory_size(const std::string& text, const std::string& what) {
  auto bad = [&] {
    return InputError(what + ": '" + text + "' is not a memory size", "write e.g. 512M, 4G or 1.5GiB (bytes without a unit)");
  };
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw bad();
  }
  if (!(value > 0)) throw bad();
  std::string unit = text.substr(used);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
  double mult = unit.empty() || unit == "B" ? 1
                : unit == "K"               ? 1024.0
                : unit == "M"               ? 1024.0 * 1024
                : unit == "G"               ? 1024.0 * 1024 * 1024
                : unit == "T"               ? 1024.0 * 1024 * 1024 * 1024
                                            : -1;
  if (mult < 0) throw bad();
  return static_cast<std::uint64_t>(value * mult);
}

double parse_duration(const std::string& text, const std::string& what) {
  auto bad = [&] {
    return InputError(what + ": '" + text + "' is not a duration", "write e.g. 90, 90s, 5m, 2h or 1h30m");
  };
  double total = 0;
  size_t pos = 0;
  bool any = false;
  while (pos < text.size()) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(text.substr(pos), &used);
    } catch (const std::exception&) {
      throw bad();
    }
    if (v < 0) throw bad();
    pos += used;
    double mult = 1;
    if (pos < text.size()) {
      char u = text[pos++];
      mult = u == 's' ? 1 : u == 'm' ? 60 : u == 'h' ? 3600 : u == 'd' ? 86400 : -1;
      if (mult < 0) throw bad();
    } else if (any) {
      throw bad();  // "1h30" is ambiguous
    }
    total += v * mult;
    any = true;
  }
  if (!any || !(total > 0)) throw bad();
  return total;
}

}  // namespace mlo::runner
