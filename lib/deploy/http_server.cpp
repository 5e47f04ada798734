#include "deploy/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/error.h"

namespace mlo::deploy {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

namespace {
std::string_view find_header(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool contains_token(std::string_view value, std::string_view token) {
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t end = value.find(',', start);
    if (end == std::string_view::npos) end = value.size();
    if (iequals(trim(value.substr(start, end - start)), token)) return true;
    start = end + 1;
  }
  return false;
}

// Parses the header block lines after the start line. Returns false on a bad line.
bool parse_headers(std::string_view block, Headers& out) {
  std::size_t pos = 0;
  while (pos < block.size()) {
    std::size_t eol = block.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = block.size();
    std::string_view line = block.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) continue;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    out.emplace_back(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
  }
  return true;
}

bool parse_length(std::string_view text, std::size_t& out) {
  text = trim(text);
  if (text.empty() || text.size() > 18) return false;
  std::size_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::size_t>(c - '0');
  }
  out = v;
  return true;
}

bool resolve(const std::string& host, int port, sockaddr_storage& addr, socklen_t& len) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string h = host.empty() ? "127.0.0.1" : host;
  if (::getaddrinfo(h.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) return false;
  std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
  len = res->ai_addrlen;
  ::freeaddrinfo(res);
  return true;
}
}  // namespace

std::string_view HttpRequest::header(std::string_view name) const { return find_header(headers, name); }
std::string_view HttpResult::header(std::string_view name) const { return find_header(headers, name); }

const char* status_reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

HttpResponse error_response(int status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  // Messages may quote what a client sent: invalid UTF-8 is replaced, never thrown.
  r.body = nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

namespace {
// Visible ASCII only: the request line's method and target (RFC 9112 3; other
// bytes must be percent-encoded).
bool visible_ascii(std::string_view s) {
  for (char c : s)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}
}  // namespace

ParseState parse_request(std::string_view buf, std::size_t max_body, HttpRequest& out, std::size_t& consumed,
                         std::string& error, int& status) {
  std::size_t head_end = buf.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (buf.size() > 64 * 1024) {
      error = "request headers are larger than 64 KiB";
      status = 431;
      return ParseState::bad;
    }
    return ParseState::incomplete;
  }
  std::size_t line_end = buf.find("\r\n");
  std::string_view line = buf.substr(0, line_end);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  status = 400;
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp1 == 0 || sp2 == sp1 + 1) {
    error = "malformed request line";
    return ParseState::bad;
  }
  std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    error = "unsupported protocol version (expected HTTP/1.1 or HTTP/1.0)";
    return ParseState::bad;
  }
  std::string_view method = line.substr(0, sp1), target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!visible_ascii(method) || !visible_ascii(target)) {
    error = "malformed request line: the method and target must be visible ASCII (percent-encode other bytes)";
    return ParseState::bad;
  }
  out.method.assign(method);
  out.target.assign(target);
  out.path = out.target.substr(0, out.target.find('?'));
  out.headers.clear();
  // No header lines at all: the request line ends where the blank line starts.
  std::string_view header_block = line_end >= head_end ? std::string_view() : buf.substr(line_end + 2, head_end - line_end - 2);
  if (!parse_headers(header_block, out.headers)) {
    error = "malformed header line";
    return ParseState::bad;
  }
  std::string_view conn = out.header("Connection");
  out.keep_alive = version == "HTTP/1.1" ? !contains_token(conn, "close") : contains_token(conn, "keep-alive");
  if (!out.header("Transfer-Encoding").empty()) {
    error = "chunked request bodies are not supported; send Content-Length";
    status = 411;
    return ParseState::bad;
  }
  std::size_t length = 0;
  std::string_view cl = out.header("Content-Length");
  if (!cl.empty() && !parse_length(cl, length)) {
    error = "invalid Content-Length";
    return ParseState::bad;
  }
  if (length > max_body) {
    error = "request body is larger than " + std::to_string(max_body) + " bytes";
    status = 413;
    return ParseState::bad;
  }
  std::size_t total = head_end + 4 + length;
  if (buf.size() < total) return ParseState::incomplete;
  out.body.assign(buf.substr(head_end + 4, length));
  consumed = total;
  return ParseState::complete;
}

namespace {
// Appends the response's bytes to out (a connection's output buffer: no copy of the body on the way).
void append_response(std::string& out, const HttpResponse& r, bool keep_alive) {
  out.reserve(out.size() + 160 + r.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += status_reason(r.status);
  out += "\r\nContent-Length: ";
  out += std::to_string(r.body.size());
  if (!r.content_type.empty()) {
    out += "\r\nContent-Type: ";
    out += r.content_type;
  }
  for (const auto& [k, v] : r.headers) {
    out += "\r\n";
    out += k;
    out += ": ";
    out += v;
  }
  out += keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
  out += r.body;
}
}  // namespace

std::string serialize_response(const HttpResponse& r, bool keep_alive) {
  std::string out;
  append_response(out, r, keep_alive);
  return out;
}

HttpServer::HttpServer(HttpServerOptions options) : options_(std::move(options)) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!resolve(options_.host, options_.port, addr, len))
    throw InputError("cannot resolve listen address '" + options_.host + "'", "use an IP address such as 127.0.0.1");
  UniqueFd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throw_errno("socket", errno);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (options_.reuse_port && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    throw_errno("setsockopt SO_REUSEPORT", errno);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    int err = errno;
    if (err == EADDRINUSE)
      throw InputError("port " + std::to_string(options_.port) + " on " + options_.host + " is already in use",
                       "choose another port with --port, or stop what listens there");
    throw_errno("bind " + options_.host + ":" + std::to_string(options_.port), err);
  }
  if (::listen(fd.get(), 1024) != 0) throw_errno("listen", errno);
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &blen);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fd_ = std::move(fd);
  wake_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start(HttpHandler handler) {
  start_async([h = std::move(handler)](HttpRequest& req, HttpResponse& resp, Reply&) {
    h(req, resp);
    return true;
  });
}

void HttpServer::start_async(AsyncHandler handler, AttachFactory attach) {
  handler_ = std::move(handler);
  attach_ = std::move(attach);
  int n = std::max(1, options_.threads);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
}

void HttpServer::request_stop() {
  stop_ = true;
  std::uint64_t one = 1;
  if (wake_fd_) [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof one);
}

void HttpServer::wait() {
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void HttpServer::stop() {
  request_stop();
  wait();
}

std::size_t default_max_connections() {
  if (const char* v = std::getenv("MLO_HTTP_MAX_CONNECTIONS")) {
    long n = std::atol(v);
    if (n > 0) return static_cast<std::size_t>(n);
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 10000;
  return rl.rlim_cur > 64 + 16 ? static_cast<std::size_t>(rl.rlim_cur - 64) : 16;
}

void raise_open_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// Answers given later (Reply) for one worker's connections, and the eventfd
// that wakes the worker for them. Shared: a reply may outlive its worker.
struct ReplyBox {
  struct Item {
    int fd;
    std::uint64_t conn;
    HttpResponse resp;
  };
  std::mutex mu;
  std::vector<Item> items;
  UniqueFd wake{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  bool open = true;
  std::thread::id owner = std::this_thread::get_id();  // the worker's thread
  // An answer given on the worker's own thread (its forwarder's): taken after
  // the current round of events, with no eventfd write.
  std::atomic<bool> local{false};
};

void Reply::operator()(HttpResponse resp) const {
  if (!box_) return;
  bool first = false;
  {
    std::lock_guard lock(box_->mu);
    if (!box_->open) return;
    first = box_->items.empty();
    box_->items.push_back({fd_, conn_, std::move(resp)});
    if (box_->owner == std::this_thread::get_id()) {
      box_->local.store(true, std::memory_order_relaxed);
      return;
    }
  }
  // One wake-up for all answers given before the worker takes them: it reads
  // the eventfd before it takes the list, so a later answer wakes it again.
  if (!first) return;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(box_->wake.get(), &one, sizeof one);
}

namespace {
using Clock = std::chrono::steady_clock;

struct Conn {
  std::uint64_t id = 0;  // tells a reply for this connection from one for an earlier user of its fd
  bool waiting = false;  // a request is being answered later (Reply); nothing more is read meanwhile
  bool wait_keep_alive = true;
  UniqueFd fd;
  std::string in;
  std::string out;
  std::size_t out_pos = 0;
  bool close_after = false;
  std::uint32_t polled = 0;  // the events epoll watches for: changed only when they differ
  Clock::time_point request_start;  // first byte of the request in `in`
  Clock::time_point last_active;    // last byte read or written
};

// One worker thread's event loop: its connections, accepting, parsing, the
// handler, timeouts and the connection cap.
class Worker {
 public:
  Worker(const HttpServerOptions& o, int listen_fd, int wake_fd, const std::atomic<bool>& stop, const AsyncHandler& h,
         const AttachFactory& attach)
      : opt_(o), listen_fd_(listen_fd), wake_fd_(wake_fd), stop_(stop), handler_(h), ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    std::size_t cap = o.max_connections ? o.max_connections : default_max_connections();
    cap_ = std::max<std::size_t>(1, cap / static_cast<std::size_t>(std::max(1, o.threads)));
    watch(wake_fd_, EPOLLIN, EPOLL_CTL_ADD);
    watch(box_->wake.get(), EPOLLIN, EPOLL_CTL_ADD);
    listen_on();
    if (attach) attached_ = attach(ep_.get());
  }
  ~Worker() {
    std::lock_guard lock(box_->mu);
    box_->open = false;  // later replies are dropped
  }

  void run() {
    epoll_event events[64];
    while (!stop_.load()) {
      int n = ::epoll_wait(ep_.get(), events, 64, wait_ms());
      if (n < 0 && errno != EINTR) break;
      for (int i = 0; i < n; ++i) on_event(events[i]);
      if (attached_) attached_->tick();
      if (box_->local.load(std::memory_order_relaxed)) take_replies(false);
      auto now = Clock::now();
      if (paused_ && now >= resume_at_) listen_on();
      if (now >= next_sweep_) sweep(now);
    }
  }

 private:
  static constexpr int kSweepMs = 250;
  static constexpr int kAcceptPauseMs = 100;

  void watch(int fd, std::uint32_t events, int op) {
    epoll_event e{};
    e.events = events;
    e.data.fd = fd;
    ::epoll_ctl(ep_.get(), op, fd, &e);
  }
  // Sets what a connection is polled for; no system call when it is unchanged.
  void poll_for(Conn& c, std::uint32_t events) {
    if (c.polled == events) return;
    c.polled = events;
    watch(c.fd.get(), events, EPOLL_CTL_MOD);
  }
  void listen_on() {
    watch(listen_fd_, EPOLLIN | EPOLLEXCLUSIVE, EPOLL_CTL_ADD);
    paused_ = false;
  }
  // Out of descriptors or at the cap with nothing to evict: stop polling the
  // listening socket for a while instead of spinning on a level-triggered event.
  void pause_accepting() {
    ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, listen_fd_, nullptr);
    paused_ = true;
    resume_at_ = Clock::now() + std::chrono::milliseconds(kAcceptPauseMs);
  }
  int wait_ms() const {
    if (box_->local.load(std::memory_order_relaxed)) return 0;  // answers given while answering
    if (!paused_) return kSweepMs;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(resume_at_ - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(ms, 0, kSweepMs));
  }

  void close_conn(int fd) {
    ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr);
    conns_.erase(fd);
  }

  // Closes the connection that waited longest on an incomplete request or idled
  // longest; one that is sending a response is kept. False when there is none.
  bool evict_one() {
    int victim = -1;
    Clock::time_point oldest = Clock::time_point::max();
    for (auto& [fd, c] : conns_) {
      if (!c->out.empty() || c->waiting) continue;
      auto since = c->in.empty() ? c->last_active : c->request_start;
      if (since < oldest) {
        oldest = since;
        victim = fd;
      }
    }
    if (victim < 0) return false;
    close_conn(victim);
    return true;
  }

  // Accepts a bounded batch: the new connections' first requests are read in the
  // next round, before a flood of later arrivals could evict them.
  void accept_all() {
    for (std::size_t batch = std::max<std::size_t>(1, cap_ / 4); batch > 0; --batch) {
      if (conns_.size() >= cap_ && !evict_one()) return pause_accepting();
      int cfd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (cfd >= 0) {
        add_conn(cfd);
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        if (evict_one()) continue;
        return pause_accepting();
      }
      return;  // EAGAIN: nothing more to accept
    }
  }

  void add_conn(int cfd) {
    int one = 1;
    ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto c = std::make_unique<Conn>();
    c->id = ++next_conn_id_;
    c->fd = UniqueFd(cfd);
    c->last_active = c->request_start = Clock::now();
    c->polled = EPOLLIN | EPOLLRDHUP;
    watch(cfd, c->polled, EPOLL_CTL_ADD);
    conns_.emplace(cfd, std::move(c));
  }

  // Writes pending output; false when the connection is finished or broken.
  bool flush(Conn& c) {
    while (c.out_pos < c.out.size()) {
      ssize_t n = ::send(c.fd.get(), c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_pos += static_cast<std::size_t>(n);
        c.last_active = Clock::now();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        poll_for(c, reading(c) | EPOLLOUT);
        return true;
      }
      return false;
    }
    c.out.clear();
    c.out_pos = 0;
    return !c.close_after;
  }

  // What to poll for besides writing: nothing while a request is answered later
  // (HUP and errors are always reported). Reading stops only when the client
  // sends while it waits, so the usual request costs no epoll_ctl.
  static std::uint32_t reading(const Conn& c) { return c.waiting ? 0 : EPOLLIN | EPOLLRDHUP; }

  void reject(Conn& c, int status, const std::string& error) {
    append_response(c.out, error_response(status, error), false);
    c.close_after = true;
    c.in.clear();
  }

  bool process(Conn& c) {
    HttpRequest req;
    while (!c.close_after && !c.waiting) {
      std::size_t consumed = 0;
      std::string error;
      int status = 400;
      ParseState st = parse_request(c.in, opt_.max_body, req, consumed, error, status);
      if (st == ParseState::incomplete) break;
      if (st == ParseState::bad) {
        reject(c, status, error);
        break;
      }
      c.in.erase(0, consumed);
      c.request_start = Clock::now();  // of the next pipelined request, if any
      HttpResponse resp;
      Reply reply(box_, c.fd.get(), c.id);
      bool now = true;
      try {
        now = handler_(req, resp, reply);
      } catch (const std::exception& e) {
        resp = error_response(500, e.what());
      }
      if (!now) {
        c.waiting = true;
        c.wait_keep_alive = req.keep_alive;
        break;
      }
      if (!req.keep_alive) c.close_after = true;
      append_response(c.out, resp, req.keep_alive);
    }
    return flush(c);
  }

  // Reads what the socket has; false when the peer closed.
  bool read_some(Conn& c) {
    char chunk[16384];
    for (;;) {
      ssize_t r = ::recv(c.fd.get(), chunk, sizeof chunk, 0);
      if (r > 0) {
        if (c.in.empty()) c.request_start = Clock::now();
        c.in.append(chunk, static_cast<std::size_t>(r));
        c.last_active = Clock::now();
        if (static_cast<std::size_t>(r) < sizeof chunk) return true;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  }

  void on_event(const epoll_event& ev) {
    if (ev.data.u64 & kAttachedTag) return attached_->on_event(static_cast<int>(ev.data.u64 & 0xffffffffu), ev.events);
    int fd = ev.data.fd;
    if (fd == wake_fd_) return;
    if (fd == box_->wake.get()) return take_replies(true);
    if (fd == listen_fd_) return accept_all();
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    bool alive = true;
    if (ev.events & EPOLLOUT) {
      alive = flush(c);
      if (alive && c.out.empty()) poll_for(c, reading(c));
    }
    bool gone = ev.events & (EPOLLHUP | EPOLLERR);
    if (alive && c.waiting && !gone && (ev.events & (EPOLLIN | EPOLLRDHUP))) {
      // More from a client whose answer is pending: read it after the answer.
      poll_for(c, c.out.empty() ? 0u : std::uint32_t{EPOLLOUT});
    } else if (alive && !c.waiting && (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
      bool eof = !read_some(c);
      if (!c.in.empty()) alive = process(c);
      if (eof && c.waiting && !gone) c.close_after = true;  // the client only stopped sending: answer, then close
      else if (eof && (c.out.empty() || c.waiting)) alive = false;
    }
    if (!alive || (c.close_after && c.out.empty() && !c.waiting)) close_conn(fd);
  }

  // Answers given later: each goes out in its connection's order, then the
  // requests that arrived meanwhile are served. `woken`: by the eventfd (read it).
  void take_replies(bool woken) {
    if (woken) {
      std::uint64_t v;
      [[maybe_unused]] auto n = ::read(box_->wake.get(), &v, sizeof v);
    }
    std::vector<ReplyBox::Item> items;
    {
      std::lock_guard lock(box_->mu);
      items.swap(box_->items);
      box_->local.store(false, std::memory_order_relaxed);
    }
    for (auto& item : items) {
      auto it = conns_.find(item.fd);
      if (it == conns_.end() || it->second->id != item.conn || !it->second->waiting) continue;
      Conn& c = *it->second;
      c.waiting = false;
      if (!c.wait_keep_alive) c.close_after = true;
      append_response(c.out, item.resp, c.wait_keep_alive);
      c.last_active = c.request_start = Clock::now();
      bool alive = process(c);
      if (alive && c.out.empty()) poll_for(c, reading(c));
      if (!alive || (c.close_after && c.out.empty())) close_conn(item.fd);
    }
  }

  // Applies the header, request and idle timeouts.
  void sweep(Clock::time_point now) {
    next_sweep_ = now + std::chrono::milliseconds(kSweepMs);
    auto over = [&](Clock::time_point since, int ms) { return now - since > std::chrono::milliseconds(ms); };
    std::vector<int> expired;
    for (auto& [fd, cp] : conns_) {
      Conn& c = *cp;
      if (c.waiting) continue;  // whoever answers later has its own deadline
      if (!c.out.empty() || c.close_after) {
        if (over(c.last_active, opt_.idle_timeout_ms)) expired.push_back(fd);  // not reading its answer
      } else if (c.in.empty()) {
        if (over(c.last_active, opt_.idle_timeout_ms)) expired.push_back(fd);
      } else if (over(c.request_start, opt_.request_timeout_ms) ||
                 (over(c.request_start, opt_.header_timeout_ms) && c.in.find("\r\n\r\n") == std::string::npos)) {
        reject(c, 408, "the request did not arrive in time (headers within " +
                           std::to_string(opt_.header_timeout_ms / 1000) + " s, the whole request within " +
                           std::to_string(opt_.request_timeout_ms / 1000) + " s)");
        if (!flush(c) || c.out.empty()) expired.push_back(fd);
      }
    }
    for (int fd : expired) close_conn(fd);
  }

  const HttpServerOptions& opt_;
  int listen_fd_, wake_fd_;
  const std::atomic<bool>& stop_;
  const AsyncHandler& handler_;
  UniqueFd ep_;
  std::shared_ptr<ReplyBox> box_ = std::make_shared<ReplyBox>();
  std::uint64_t next_conn_id_ = 0;
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
  std::size_t cap_ = 1;
  bool paused_ = false;
  Clock::time_point resume_at_, next_sweep_;
  std::unique_ptr<LoopAttachment> attached_;  // last: gone before the connections and the epoll
};
}  // namespace

void HttpServer::worker_loop() {
  Worker(options_, listen_fd_.get(), wake_fd_.get(), stop_, handler_, attach_).run();
}

// ---------------------------------------------------------------- client

bool HttpClient::connect_now(std::string& error) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!resolve(host_, port_, addr, len)) {
    error = "cannot resolve " + host_;
    return false;
  }
  UniqueFd fd(::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    error = std::strerror(errno);
    return false;
  }
  int rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len);
  if (rc != 0 && errno != EINPROGRESS) {
    error = std::string("connect to ") + host_ + ":" + std::to_string(port_) + ": " + std::strerror(errno);
    return false;
  }
  if (rc != 0) {
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, timeout_ms_) <= 0) {
      error = "connect to " + host_ + ":" + std::to_string(port_) + " timed out";
      return false;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr != 0) {
      error = std::string("connect to ") + host_ + ":" + std::to_string(port_) + ": " + std::strerror(soerr);
      return false;
    }
  }
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fd_ = std::move(fd);
  buf_.clear();
  return true;
}

bool contains_header_token(std::string_view value, std::string_view token) { return contains_token(value, token); }

namespace {
// The status line and headers of a response whose head ends at head_end; false when malformed.
bool parse_response_head(std::string_view buf, std::size_t head_end, HttpResult& out) {
  std::size_t le = buf.find("\r\n");
  std::string_view line = buf.substr(0, le);
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ') return false;
  int status = 0;
  for (char ch : line.substr(9, 3)) {
    if (ch < '0' || ch > '9') return false;
    status = status * 10 + (ch - '0');
  }
  out.status = status;
  out.headers.clear();
  return le >= head_end || parse_headers(buf.substr(le + 2, head_end - le - 2), out.headers);
}
}  // namespace

ParseState parse_response(std::string_view buf, HttpResult& out, std::size_t& consumed) {
  std::size_t head_end = buf.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return buf.size() > (64 << 10) ? ParseState::bad : ParseState::incomplete;
  HttpResult r;
  if (!parse_response_head(buf, head_end, r)) return ParseState::bad;
  std::string_view cl = r.header("Content-Length");
  std::size_t length = 0;
  if (cl.empty()) return ParseState::incomplete;
  if (!parse_length(cl, length)) return ParseState::bad;
  if (buf.size() < head_end + 4 + length) return ParseState::incomplete;
  r.body.assign(buf.substr(head_end + 4, length));
  consumed = head_end + 4 + length;
  out = std::move(r);
  return ParseState::complete;
}

bool until_close_response(std::string_view buf, HttpResult& out) {
  std::size_t head_end = buf.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return false;
  HttpResult r;
  if (!parse_response_head(buf, head_end, r) || !r.header("Content-Length").empty()) return false;
  r.body.assign(buf.substr(head_end + 4));
  out = std::move(r);
  return true;
}

std::string request_wire(std::string_view method, std::string_view target, std::string_view host, std::string_view body,
                         std::string_view content_type, const Headers& extra) {
  std::string wire;
  wire.reserve(128 + body.size());
  wire += method;
  wire += ' ';
  wire += target;
  wire += " HTTP/1.1\r\nHost: ";
  wire += host;
  wire += "\r\nContent-Length: ";
  wire += std::to_string(body.size());
  if (!body.empty() && !content_type.empty()) {
    wire += "\r\nContent-Type: ";
    wire += content_type;
  }
  for (const auto& [k, v] : extra) {
    wire += "\r\n";
    wire += k;
    wire += ": ";
    wire += v;
  }
  wire += "\r\n\r\n";
  wire += body;
  return wire;
}

HttpResult HttpClient::once(const std::string& wire, bool& retryable) {
  HttpResult res;
  retryable = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
  auto remaining = [&] {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    return static_cast<int>(std::max<long long>(0, ms));
  };
  std::size_t sent = 0;
  while (sent < wire.size()) {
    ssize_t n = ::send(fd_.get(), wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_.get(), POLLOUT, 0};
      if (::poll(&p, 1, remaining()) <= 0) {
        res.error = "timed out sending the request";
        return res;
      }
      continue;
    }
    retryable = sent == 0;
    res.error = std::string("send: ") + std::strerror(errno);
    return res;
  }
  bool got_any = false;
  char chunk[16384];
  for (;;) {
    // Try to parse a complete response from buf_.
    std::size_t consumed = 0;
    ParseState st = parse_response(buf_, res, consumed);
    if (st == ParseState::bad) {
      res = HttpResult{};
      res.error = "malformed response";
      fd_.reset();
      return res;
    }
    if (st == ParseState::complete) {
      buf_.erase(0, consumed);
      if (contains_token(res.header("Connection"), "close")) fd_.reset();
      return res;
    }
    pollfd p{fd_.get(), POLLIN, 0};
    int pr = ::poll(&p, 1, remaining());
    if (pr <= 0) {
      res.error = "timed out waiting for the response";
      fd_.reset();
      return res;
    }
    ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
    if (n > 0) {
      got_any = true;
      buf_.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    // EOF: a response without Content-Length ends here.
    if (until_close_response(buf_, res)) {
      buf_.clear();
      fd_.reset();
      return res;
    }
    retryable = !got_any;
    res.error = "connection closed before a response arrived";
    fd_.reset();
    return res;
  }
}

HttpResult HttpClient::request(std::string_view method, std::string_view target, std::string_view body,
                               std::string_view content_type, const Headers& extra) {
  std::string wire = request_wire(method, target, host_, body, content_type, extra);
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = static_cast<bool>(fd_);
    if (!fd_) {
      HttpResult r;
      if (!connect_now(r.error)) return r;
    }
    bool retryable = false;
    HttpResult r = once(wire, retryable);
    if (r.status != 0) return r;
    fd_.reset();
    if (!(reused && retryable)) return r;
  }
  HttpResult r;
  r.error = "connection failed";
  return r;
}

HttpResult http_request(const std::string& host, int port, std::string_view method, std::string_view target,
                        std::string_view body, int timeout_ms, const Headers& extra) {
  HttpClient c(host, port, timeout_ms);
  return c.request(method, target, body, "application/json", extra);
}

int pick_free_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw_errno("bind 127.0.0.1:0", errno);
  socklen_t len = sizeof a;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

}  // namespace mlo::deploy
