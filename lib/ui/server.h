// `mlo ui`: a read-only local web app over the repo's index, store and git,
// served by mlo's own HTTP server (deploy/http_server.h). Pages are rendered
// on the server as HTML with inline SVG; no script, no external asset, no
// write action. Every path and query parameter is bounded and every value
// written into a page is escaped (a name in a run record is as hostile as a
// request). Man page: mlo-ui(1).
#pragma once
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "deploy/http_server.h"

namespace mlo {
class Repo;
}

namespace mlo::ui {

struct Page;

struct UiOptions {
  std::string host = "127.0.0.1";
  int port = 8765;  // 0: any free port
  // Required on every request when host is not a loopback address; "" on loopback.
  std::string token;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);
// 32 random hex digits (from /dev/urandom).
std::string new_token();

// Answers requests (what the server calls per request; tests call it
// directly). A repo's index connection and git handle serve one request at a
// time, so up to `workers` requests are answered at once, each with a repo
// of its own (the first is `repo`, the others are opened at the same root
// when first needed): a slow page does not hold up the others.
class UiApp {
 public:
  UiApp(Repo& repo, UiOptions options, int workers = 1);
  ~UiApp();
  void handle(const deploy::HttpRequest& request, deploy::HttpResponse& response);

 private:
  bool authorized(const deploy::HttpRequest& request, bool& from_query) const;
  Repo& acquire();
  void release(Repo& repo);
  void render(const deploy::HttpRequest& request, deploy::HttpResponse& response, Page& page);
  Repo& repo_;
  UiOptions options_;
  int workers_;
  std::vector<std::unique_ptr<Repo>> opened_;
  std::vector<Repo*> idle_;
  std::mutex mutex_;
  std::condition_variable freed_;
};

// Serves until Ctrl-C (InterruptedError is not thrown: returns 0). `on_ready`
// receives the URL to open (with ?token=... when one is required).
int serve_ui(Repo& repo, const UiOptions& options, const std::function<void(const std::string& url)>& on_ready);

}  // namespace mlo::ui
