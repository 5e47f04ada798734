// A small HTTP/1.1 server and client for inference runners and the router.
// The server runs N worker threads, each with its own epoll loop sharing one
// listening socket (EPOLLEXCLUSIVE); connections are keep-alive and requests
// may be pipelined. Handlers run on the worker thread that owns the connection.
// Bodies are Content-Length framed (chunked request bodies get 411).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/fs.h"

namespace mlo::deploy {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;
  std::string target;  // as sent: path + optional ?query
  std::string path;    // target without the query
  Headers headers;     // names as sent
  std::string body;
  bool keep_alive = true;
  // Case-insensitive header lookup; empty when absent.
  std::string_view header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  Headers headers;  // extra headers
  std::string body;
};

// {"error": message} with the given status.
HttpResponse error_response(int status, const std::string& message);
const char* status_reason(int status);
bool iequals(std::string_view a, std::string_view b);

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

struct ReplyBox;  // a worker's queue of answers given later (http_server.cpp)

// Answers one request later, from any thread, exactly once (an answer for a
// connection that has closed meanwhile is dropped). The connection reads no
// further request until then, so pipelined answers stay in order.
class Reply {
 public:
  Reply() = default;
  Reply(std::shared_ptr<ReplyBox> box, int fd, std::uint64_t conn) : box_(std::move(box)), fd_(fd), conn_(conn) {}
  void operator()(HttpResponse resp) const;

 private:
  std::shared_ptr<ReplyBox> box_;
  int fd_ = -1;
  std::uint64_t conn_ = 0;
};
// Answers in `resp` and returns true, or keeps `reply` (moving out of `req`
// what it needs) and returns false to answer later.
using AsyncHandler = std::function<bool(HttpRequest& req, HttpResponse& resp, Reply& reply)>;

// Work that shares a server worker's event loop (the router's forwarder). It
// is created on the worker's thread with the worker's epoll descriptor, and
// registers its own descriptors there with kAttachedTag in the event's data
// (data.u64 = kAttachedTag | fd); the worker hands their events to on_event()
// and calls tick() after every round of events (and at least every 250 ms).
struct LoopAttachment {
  virtual ~LoopAttachment() = default;
  virtual void on_event(int fd, std::uint32_t events) = 0;
  virtual void tick() = 0;
};
inline constexpr std::uint64_t kAttachedTag = std::uint64_t{1} << 32;
using AttachFactory = std::function<std::unique_ptr<LoopAttachment>(int epoll_fd)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: pick a free port (see HttpServer::port())
  int threads = 2;
  std::size_t max_body = 64 << 20;
  // A request must arrive within these (from its first byte): else 408 and close.
  int header_timeout_ms = 10000;
  int request_timeout_ms = 60000;
  // A keep-alive connection with nothing to do, or a client that stopped reading, is closed.
  int idle_timeout_ms = 60000;
  // Open connections; 0: the open-file limit less a reserve (default_max_connections()).
  // At the cap, or when accept() runs out of descriptors, the connection that has
  // waited longest on an incomplete request (or idled longest) is closed for the new one.
  std::size_t max_connections = 0;
  // SO_REUSEPORT: worker processes of one runner each listen on the same port
  // and the kernel spreads connections over them.
  bool reuse_port = false;
};

// The open-file soft limit less 64 descriptors for logs, runners and clients
// (at least 16); MLO_HTTP_MAX_CONNECTIONS overrides it (tests use it to reach EMFILE).
std::size_t default_max_connections();
// Raises the open-file soft limit to the hard limit (a server holding many connections).
void raise_open_file_limit();

class HttpServer {
 public:
  // Binds and listens. Throws InputError when the address is in use or invalid.
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // Starts the worker threads; returns at once.
  void start(HttpHandler handler);
  // `attach`, when set, makes one LoopAttachment for each worker's loop.
  void start_async(AsyncHandler handler, AttachFactory attach = {});
  // Stops accepting, closes connections, joins the workers. Safe from any thread
  // (not from a handler) and idempotent.
  void stop();
  // Asks the workers to stop without waiting (safe from a handler or signal context thread).
  void request_stop();
  bool stopping() const { return stop_.load(); }
  // Blocks until stop() or request_stop() was called, then joins.
  void wait();

 private:
  void worker_loop();
  HttpServerOptions options_;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;  // eventfd: wakes every worker on stop
  int port_ = 0;
  AsyncHandler handler_;
  AttachFactory attach_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
};

// The outcome of parsing the start of a buffer as one HTTP message.
enum class ParseState { incomplete, complete, bad };

// Parses one request from buf. On complete, `consumed` is its length in bytes.
// `error` says what was wrong on bad; `status` is the status to answer with.
ParseState parse_request(std::string_view buf, std::size_t max_body, HttpRequest& out, std::size_t& consumed,
                         std::string& error, int& status);
std::string serialize_response(const HttpResponse& r, bool keep_alive);

struct HttpResult {
  int status = 0;     // 0: no response (connection failed)
  std::string error;  // why, when status is 0
  Headers headers;
  std::string body;
  std::string_view header(std::string_view name) const;
};

// Parses one Content-Length framed response from the start of buf; on
// complete, `consumed` is its length. A response without Content-Length stays
// incomplete: it ends when the connection does (until_close_response).
ParseState parse_response(std::string_view buf, HttpResult& out, std::size_t& consumed);
// At EOF: the response in buf whose body runs to the end. False if the head is incomplete.
bool until_close_response(std::string_view buf, HttpResult& out);
// Whether a comma-separated header value holds token (case-insensitive), e.g. Connection: close.
bool contains_header_token(std::string_view value, std::string_view token);
// The bytes of one HTTP/1.1 request with a Content-Length body.
std::string request_wire(std::string_view method, std::string_view target, std::string_view host, std::string_view body,
                         std::string_view content_type, const Headers& extra = {});

// A keep-alive client connection to one host:port (blocking, with a timeout).
// Reconnects once when a reused connection turns out to be closed.
class HttpClient {
 public:
  HttpClient(std::string host, int port, int timeout_ms = 30000) : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms) {}
  HttpResult request(std::string_view method, std::string_view target, std::string_view body = {},
                     std::string_view content_type = "application/json", const Headers& extra = {});
  void close() { fd_.reset(); }
  int port() const { return port_; }
  void set_timeout_ms(int ms) { timeout_ms_ = ms; }

 private:
  bool connect_now(std::string& error);
  HttpResult once(const std::string& wire, bool& retryable);
  std::string host_;
  int port_;
  int timeout_ms_;
  UniqueFd fd_;
  std::string buf_;
};

// One-shot GET/POST for health checks and tools.
HttpResult http_request(const std::string& host, int port, std::string_view method, std::string_view target,
                        std::string_view body = {}, int timeout_ms = 5000, const Headers& extra = {});

// A free TCP port on 127.0.0.1 (bind to port 0, read it, close).
int pick_free_port();

}  // namespace mlo::deploy
