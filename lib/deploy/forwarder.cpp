#include "deploy/forwarder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "core/error.h"

namespace mlo::deploy {

using Clock = std::chrono::steady_clock;

Upstream::Upstream(std::string host, int port, UpstreamLimits limits)
    : host_(std::move(host)), port_(port), limits_(limits) {
  limits_.max_inflight = std::max(1, limits_.max_inflight);
  limits_.max_queue = std::max(0, limits_.max_queue);
}

void Upstream::fail_queued(const std::string& error) {
  std::deque<Job> jobs;
  {
    std::lock_guard lock(mu_);
    jobs.swap(queue_);
  }
  for (auto& job : jobs) {
    HttpResult r;
    r.error = error;
    job.done(std::move(r), false);
  }
}

// One connection to a runner: idle in its forwarder's pool, or carrying one job.
struct Forwarder::Conn {
  UniqueFd fd;
  std::shared_ptr<Upstream> up;
  bool connecting = false;
  bool reused = false;  // it served a request before: a close on it may be retried once
  std::optional<Job> job;
  std::size_t sent = 0;
  std::string in;
  std::uint32_t polled = 0;  // the events epoll watches for: changed only when they differ
};

namespace {
constexpr int kSweepMs = 100;
}

Forwarder::Forwarder() : own_ep_(::epoll_create1(EPOLL_CLOEXEC)), ep_(own_ep_.get()), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!own_ep_ || !wake_) throw_errno("forwarder event loop", errno);
  watch(wake_.get(), EPOLLIN, EPOLL_CTL_ADD);
  thread_ = std::thread([this] { loop(); });
  owner_ = thread_.get_id();
}

Forwarder::Forwarder(int epoll_fd)
    : ep_(epoll_fd), tag_(kAttachedTag), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), owner_(std::this_thread::get_id()) {
  if (!wake_) throw_errno("forwarder eventfd", errno);
  watch(wake_.get(), EPOLLIN, EPOLL_CTL_ADD);
}

Forwarder::~Forwarder() { stop(); }

void Forwarder::submit(const std::shared_ptr<Upstream>& up, std::string wire, ForwardDone done) {
  Job job{std::move(wire), std::move(done), Clock::now() + std::chrono::milliseconds(up->limits().timeout_ms)};
  if (std::this_thread::get_id() == owner_ && !stopped_) return admit(up, std::move(job));  // on the loop's own thread
  bool first = false;
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      first = submitted_.empty();
      submitted_.push_back({up, std::move(job)});
      job.done = nullptr;
    }
  }
  if (job.done) {
    HttpResult r;
    r.error = "the router is stopping";
    return job.done(std::move(r), false);
  }
  // One wake-up for all requests submitted before the loop takes them (it
  // reads the eventfd first, so a later submit wakes it again).
  if (!first) return;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
}

void Forwarder::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
    thread_.join();
    return;  // the loop answered what was pending as it ended
  }
  // On a worker's loop, which is ending: answer what is pending here.
  stopped_ = true;
  take_submitted();
  HttpResult r;
  r.error = "the router is stopping";
  std::vector<Job> pending;
  for (auto& [fd, c] : conns_) {
    if (c->job) pending.push_back(std::move(*c->job));
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
  }
  ::epoll_ctl(ep_, EPOLL_CTL_DEL, wake_.get(), nullptr);
  conns_.clear();
  idle_.clear();
  for (auto& job : pending) job.done(HttpResult(r), false);
}

void Forwarder::watch(int fd, std::uint32_t events, int op) {
  epoll_event e{};
  e.events = events;
  e.data.u64 = tag_ | static_cast<std::uint32_t>(fd);
  ::epoll_ctl(ep_, op, fd, &e);
}

void Forwarder::poll_for(Conn& c, std::uint32_t events) {
  if (c.polled == events) return;
  c.polled = events;
  watch(c.fd.get(), events, EPOLL_CTL_MOD);
}

void Forwarder::tick() {
  if (Clock::now() >= next_sweep_) sweep();
}

void Forwarder::loop() {
  epoll_event events[128];
  for (;;) {
    int n = ::epoll_wait(ep_, events, 128, kSweepMs);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) on_event(static_cast<int>(events[i].data.u64 & 0xffffffffu), events[i].events);
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    tick();
  }
  // Stopping: everything still pending gets an answer.
  stopped_ = true;
  take_submitted();
  HttpResult r;
  r.error = "the router is stopping";
  std::vector<Job> pending;
  for (auto& [fd, c] : conns_)
    if (c->job) pending.push_back(std::move(*c->job));
  std::vector<std::shared_ptr<Upstream>> ups;
  for (auto& [fd, c] : conns_) ups.push_back(c->up);
  conns_.clear();
  idle_.clear();
  for (auto& job : pending) job.done(HttpResult(r), false);
  for (auto& up : ups) up->fail_queued(r.error);
}

void Forwarder::take_submitted() {
  std::uint64_t v;
  [[maybe_unused]] auto n = ::read(wake_.get(), &v, sizeof v);
  std::vector<Submitted> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(submitted_);
  }
  for (auto& s : batch) {
    if (!stopped_) {
      admit(s.up, std::move(s.job));
      continue;
    }
    HttpResult r;
    r.error = "the router is stopping";
    s.job.done(std::move(r), false);
  }
}

// A free slot: send now; else wait in the queue; a full queue refuses.
void Forwarder::admit(const std::shared_ptr<Upstream>& up, Job job) {
  bool slot = false;
  {
    std::lock_guard lock(up->mu_);
    slot = up->inflight_ < up->limits_.max_inflight;
    if (slot) {
      ++up->inflight_;
    } else if (static_cast<int>(up->queue_.size()) < up->limits_.max_queue) {
      up->queue_.push_back(std::move(job));
      return;
    }
  }
  if (slot) return dispatch(up, std::move(job), false);
  HttpResult r;  // refused, outside the lock (done may submit again)
  r.error = "at its limit of " + std::to_string(up->limits_.max_inflight) + " requests in flight and " +
            std::to_string(up->limits_.max_queue) + " queued";
  job.done(std::move(r), true);
}

// Sends a job that holds a slot, on a pooled connection unless `fresh`.
void Forwarder::dispatch(const std::shared_ptr<Upstream>& up, Job job, bool fresh) {
  Conn* c = nullptr;
  if (auto pool = idle_.find(up.get()); !fresh && pool != idle_.end()) {
    while (!pool->second.empty() && !c) {
      int fd = pool->second.back();
      pool->second.pop_back();
      auto it = conns_.find(fd);
      if (it != conns_.end()) c = it->second.get();
    }
  }
  std::string error;
  if (!c) c = open(up, error);
  if (!c) {
    HttpResult r;
    r.error = error;
    job.done(std::move(r), false);
    return release(up);
  }
  c->job = std::move(job);
  c->sent = 0;
  c->in.clear();
  if (c->connecting) return poll_for(*c, EPOLLOUT | EPOLLRDHUP);
  if (write_some(*c)) poll_for(*c, EPOLLIN | EPOLLRDHUP | (c->sent < c->job->wire.size() ? std::uint32_t{EPOLLOUT} : 0u));
}

Forwarder::Conn* Forwarder::open(const std::shared_ptr<Upstream>& up, std::string& error) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(up->port_));
  if (::inet_pton(AF_INET, up->host_.c_str(), &addr.sin_addr) != 1) {
    error = "runner address '" + up->host_ + "' is not an IPv4 address";
    return nullptr;
  }
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    error = std::string("socket: ") + std::strerror(errno);
    return nullptr;
  }
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno != EINPROGRESS) {
    error = "connect to " + up->host_ + ":" + std::to_string(up->port_) + ": " + std::strerror(errno);
    return nullptr;
  }
  auto c = std::make_unique<Conn>();
  c->connecting = rc != 0;
  c->up = up;
  int raw = fd.get();
  c->fd = std::move(fd);
  c->polled = EPOLLIN | EPOLLRDHUP;
  watch(raw, c->polled, EPOLL_CTL_ADD);
  return conns_.emplace(raw, std::move(c)).first->second.get();
}

// Writes what is left of the request; false when the connection broke (handled).
bool Forwarder::write_some(Conn& c) {
  const std::string& wire = c.job->wire;
  while (c.sent < wire.size()) {
    ssize_t n = ::send(c.fd.get(), wire.data() + c.sent, wire.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    broken(c, std::string("send: ") + std::strerror(errno));
    return false;
  }
  return true;
}

void Forwarder::on_event(int fd, std::uint32_t events) {
  if (fd == wake_.get()) return take_submitted();
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if (!c.job) return close(c);  // an idle pooled connection: the runner closed it (or sent junk)
  if (c.connecting) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
      return broken(c, "connect to " + c.up->host_ + ":" + std::to_string(c.up->port_) + ": " +
                           std::strerror(err ? err : ECONNREFUSED));
    }
    if (!(events & EPOLLOUT)) return;
    c.connecting = false;
  }
  if (c.sent < c.job->wire.size()) {
    if (!write_some(c)) return;
    poll_for(c, EPOLLIN | EPOLLRDHUP | (c.sent < c.job->wire.size() ? std::uint32_t{EPOLLOUT} : 0u));
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_some(c);
}

void Forwarder::read_some(Conn& c) {
  char chunk[16384];
  bool eof = false;
  for (;;) {
    ssize_t r = ::recv(c.fd.get(), chunk, sizeof chunk, 0);
    if (r > 0) {
      c.in.append(chunk, static_cast<std::size_t>(r));
      if (static_cast<std::size_t>(r) < sizeof chunk) break;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    eof = !(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    break;
  }
  HttpResult res;
  std::size_t consumed = 0;
  ParseState st = parse_response(c.in, res, consumed);
  if (st == ParseState::complete) {
    bool keep = !eof && consumed == c.in.size() && !contains_header_token(res.header("Connection"), "close");
    return answered(c, std::move(res), keep);
  }
  if (st == ParseState::bad) return broken(c, "the runner sent a malformed response");
  if (!eof) return;
  if (until_close_response(c.in, res)) return answered(c, std::move(res), false);
  broken(c, c.in.empty() ? "connection closed before a response arrived" : "connection closed in the middle of a response");
}

void Forwarder::answered(Conn& c, HttpResult&& res, bool keep) {
  Job job = std::move(*c.job);
  c.job.reset();
  std::shared_ptr<Upstream> up = c.up;
  if (keep) {
    c.reused = true;
    c.in.clear();
    poll_for(c, EPOLLIN | EPOLLRDHUP);
    idle_[up.get()].push_back(c.fd.get());
  } else {
    close(c);
  }
  job.done(std::move(res), false);
  release(up);
}

// The connection failed: a request that a pooled connection lost before any
// answer is sent again once on a new connection (the runner closed an idle
// keep-alive connection as the request went out); otherwise it fails.
void Forwarder::broken(Conn& c, const std::string& error) {
  Job job = std::move(*c.job);
  c.job.reset();
  bool retry = c.reused && c.in.empty() && !job.retried;
  std::shared_ptr<Upstream> up = c.up;
  close(c);
  if (retry) {
    job.retried = true;
    return dispatch(up, std::move(job), true);
  }
  HttpResult r;
  r.error = error;
  job.done(std::move(r), false);
  release(up);
}

// A slot is free: the oldest queued request still in time takes it (on this
// forwarder's connections, whichever forwarder it was submitted to).
void Forwarder::release(const std::shared_ptr<Upstream>& up) {
  std::unique_lock lock(up->mu_);
  --up->inflight_;
  while (!up->queue_.empty() && up->inflight_ < up->limits_.max_inflight) {
    Job job = std::move(up->queue_.front());
    up->queue_.pop_front();
    bool late = Clock::now() > job.deadline;
    if (!late) ++up->inflight_;
    lock.unlock();
    if (late) {
      HttpResult r;
      r.error = "timed out waiting for a free connection to the runner";
      job.done(std::move(r), false);
    } else {
      dispatch(up, std::move(job), false);
    }
    lock.lock();
  }
}

void Forwarder::close(Conn& c) {
  int fd = c.fd.get();
  if (auto pool = idle_.find(c.up.get()); pool != idle_.end()) {
    auto& v = pool->second;
    v.erase(std::remove(v.begin(), v.end(), fd), v.end());
    if (v.empty()) idle_.erase(pool);  // keyed by address: a later runner may reuse it
  }
  ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
  conns_.erase(fd);  // destroys c
}

void Forwarder::sweep() {
  auto now = Clock::now();
  next_sweep_ = now + std::chrono::milliseconds(kSweepMs);
  std::vector<int> late;
  for (auto& [fd, c] : conns_)
    if (c->job && now > c->job->deadline) late.push_back(fd);
  for (int fd : late) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) continue;
    it->second->job->retried = true;  // a timeout is not retried
    it->second->reused = false;
    broken(*it->second, "timed out after " + std::to_string(it->second->up->limits_.timeout_ms) + " ms");
  }
}

}  // namespace mlo::deploy
