#include "ui/server.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "core/random.h"
#include "repo/repo.h"
#include "ui/page.h"

namespace mlo::ui {

using json = nlohmann::json;
using deploy::HttpRequest;
using deploy::HttpResponse;

namespace {

constexpr std::size_t kMaxTarget = 4096;
constexpr int kWorkers = 4;  // requests answered at once (one repo handle each)
constexpr const char* kCookie = "mlo_ui_token";

const std::pair<const char*, const char*> kNav[] = {{"runs", "/"},
                                                     {"experiments", "/experiments"},
                                                     {"plots", "/plots"},
                                                     {"models", "/models"},
                                                     {"lineage", "/lineage"},
                                                     {"deployments", "/deployments"},
                                                     {"monitors", "/monitors"},
                                                     {"audit", "/audit"}};

// Same length and bytes, in time that does not depend on where they differ.
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    std::size_t semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=')
      return std::string(part.substr(name.size() + 1));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
  }
  return {};
}

// DNS rebinding: on loopback without a token, a page of another site that
// resolves its name to 127.0.0.1 must not read ours. Only local Host names pass.
bool local_host_header(std::string_view host) {
  std::string_view name = host;
  if (!name.empty() && name.front() == '[') name = name.substr(0, name.find(']') + 1);
  else name = name.substr(0, name.rfind(':'));
  return name == "localhost" || name == "[::1]" || (name.size() >= 4 && name.substr(0, 4) == "127.");
}

Page error_page(int status, const std::string& message, const std::string& hint) {
  Page p;
  p.status = status;
  p.title = status == 404 ? "Not found" : "Error";
  p.body = "<h1>" + esc(p.title) + "</h1><p class='err'>" + esc(message) + "</p>" +
           (hint.empty() ? "" : "<p>" + esc(hint) + "</p>");
  return p;
}

Page route(Repo& repo, const std::string& path, const QueryParams& q) {
  auto rest = [&](std::string_view prefix) { return checked_name(url_decode(path.substr(prefix.size())), "name"); };
  if (path == "/" || path == "/runs") return runs_page(repo, q);
  if (path == "/experiments") return experiments_page(repo, q);
  if (path.rfind("/run/", 0) == 0) return run_page(repo, rest("/run/"));
  if (path == "/compare") return compare_page(repo, q);
  if (path == "/scatter") return scatter_page(repo, q);
  if (path == "/plots") return plots_page(repo, q);
  if (path == "/models") return models_page(repo, q);
  if (path.rfind("/model/", 0) == 0) return model_page(repo, rest("/model/"), q);
  if (path == "/audit") return audit_page(repo, q);
  if (path == "/lineage") return lineage_page(repo, q);
  if (path == "/deployments") return deployments_page(repo);
  if (path == "/monitors") return monitors_page(repo, q);
  if (path.rfind("/monitor/result/", 0) == 0) return monitor_result_page(repo, rest("/monitor/result/"));
  return error_page(404, "no page at " + path, "start from the runs table: /");
}

void security_headers(HttpResponse& r) {
  // No script runs, nothing loads from elsewhere, no other site frames or reads the page.
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
                         "frame-ancestors 'none'; base-uri 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("Cache-Control", "no-store");
}

}  // namespace

std::string render_page(const Page& page) {
  if (!page.raw_html.empty()) return page.raw_html;
  std::ostringstream s;
  s << "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>" << esc(page.title) << " · mlo ui</title><link rel='icon' href='data:,'>";
  if (page.refresh_s > 0) s << "<meta http-equiv='refresh' content='" << page.refresh_s << "'>";
  s << "<style>" << style_sheet() << "</style></head><body><nav>";
  for (const auto& [name, href] : kNav)
    s << "<a href='" << href << "'" << (page.section == name ? " class='here'" : "") << ">" << name << "</a>";
  s << "</nav><main>" << page.body << "</main></body></html>\n";
  return s.str();
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr a{};
  return ::inet_pton(AF_INET, host.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

std::string new_token() { return random_hex(16); }

bool UiApp::authorized(const HttpRequest& req, bool& from_query) const {
  from_query = false;
  if (options_.token.empty()) return local_host_header(req.header("Host"));
  std::string_view auth = req.header("Authorization");
  if (auth.size() > 7 && auth.substr(0, 7) == "Bearer " && same_secret(auth.substr(7), options_.token)) return true;
  if (same_secret(cookie_value(req.header("Cookie"), kCookie), options_.token)) return true;
  std::size_t qm = req.target.find('?');
  if (qm == std::string::npos) return false;
  try {
    from_query = same_secret(query_value(parse_query(req.target.substr(qm + 1)), "token"), options_.token);
  } catch (const Error&) {
  }
  return from_query;
}

UiApp::UiApp(Repo& repo, UiOptions options, int workers)
    : repo_(repo), options_(std::move(options)), workers_(std::max(1, workers)), idle_{&repo} {}

UiApp::~UiApp() = default;

Repo& UiApp::acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (idle_.empty() && static_cast<int>(opened_.size()) + 1 < workers_) {
    opened_.push_back(std::make_unique<Repo>(Repo::open(repo_.root())));
    return *opened_.back();
  }
  freed_.wait(lock, [this] { return !idle_.empty(); });
  Repo* r = idle_.back();
  idle_.pop_back();
  return *r;
}

void UiApp::release(Repo& repo) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(&repo);
  }
  freed_.notify_one();
}

void UiApp::render(const HttpRequest& req, HttpResponse& res, Page& page) {
  std::size_t qm = req.target.find('?');
  auto start = std::chrono::steady_clock::now();
  Repo* repo = nullptr;
  try {
    repo = &acquire();
    QueryParams q = qm == std::string::npos ? QueryParams{} : parse_query(req.target.substr(qm + 1));
    page = route(*repo, req.path, q);
  } catch (const UsageError& e) {
    page = error_page(400, e.what(), e.hint());
  } catch (const Error& e) {
    page = error_page(e.code() == Exit::input ? 404 : 500, e.what(), e.hint());
  } catch (const std::exception& e) {
    log::warn(std::string("mlo ui: ") + req.path + ": " + e.what());
    page = error_page(500, "internal error while rendering " + req.path, "see mlo ui's output");
  }
  if (repo) release(*repo);
  std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
  char timing[48];
  std::snprintf(timing, sizeof timing, "render;dur=%.2f", took.count());
  res.headers.emplace_back("Server-Timing", timing);  // what tests/bench/ui.sh reads
}

void UiApp::handle(const HttpRequest& req, HttpResponse& res) {
  res.content_type = "text/html; charset=utf-8";
  security_headers(res);
  bool from_query = false;
  Page page;
  if (req.method != "GET" && req.method != "HEAD") {
    page = error_page(405, "mlo ui is read-only: " + req.method + " is not served", "");
    res.headers.emplace_back("Allow", "GET, HEAD");
  } else if (req.path == "/favicon.ico") {  // browsers ask on every page: none, and no 404 in their console
    res.status = 204;
    return;
  } else if (req.target.size() > kMaxTarget) {
    page = error_page(414, "the address is longer than " + std::to_string(kMaxTarget) + " bytes", "");
  } else if (!authorized(req, from_query)) {
    page = options_.token.empty()
               ? error_page(403, "this server answers only to localhost addresses", "open the URL mlo ui printed")
               : error_page(401, "a token is required", "open the URL mlo ui printed (it ends in ?token=...)");
  } else {
    if (from_query)  // later links carry no token: the browser keeps it
      res.headers.emplace_back("Set-Cookie", std::string(kCookie) + "=" + options_.token +
                                                 "; Path=/; HttpOnly; SameSite=Strict");
    render(req, res, page);
  }
  res.status = page.status;
  res.body = req.method == "HEAD" ? std::string() : render_page(page);
}

int serve_ui(Repo& repo, const UiOptions& options, const std::function<void(const std::string&)>& on_ready) {
  if (!is_loopback_host(options.host) && options.token.empty())
    throw UsageError("--host " + options.host + " is not a loopback address and no token was set",
                     "mlo ui makes one for such hosts; this is a bug in the caller");
  deploy::HttpServerOptions so;
  so.host = options.host;
  so.port = options.port;
  so.threads = kWorkers;
  so.max_body = 64 << 10;  // nothing is posted: GET only
  deploy::HttpServer server(so);
  UiApp app(repo, options, kWorkers);
  install_interrupt_handlers();
  server.start([&app](const HttpRequest& req, HttpResponse& res) { app.handle(req, res); });
  std::string shown_host = options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
  on_ready("http://" + shown_host + ":" + std::to_string(server.port()) + "/" +
           (options.token.empty() ? "" : "?token=" + options.token));
  while (!interrupted() && !server.stopping()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.stop();
  return 0;
}

}  // namespace mlo::ui
