// Fuzz target: mlo ui's pages (ui/server.h) over hostile input on both sides.
// The input is a run record, a 0 byte, then request targets separated by
// newlines: the record is imported into a fresh scratch repository (as a pull
// would bring it) and each target is answered, and so are the runs table and
// the record's run page. Contract: the handler never throws, never answers
// 500 (an internal error), and no page carries markup from the input (no
// "<script" and no "<img": mlo ui writes neither).
#include <cstddef>
#include <cstdint>
#include <string>

#include "pipeline/runs.h"
#include "repo/repo.h"
#include "scratch.h"
#include "store/cache.h"
#include "ui/server.h"

namespace {

void answer(mlo::ui::UiApp& app, std::string target) {
  mlo::deploy::HttpRequest req;
  req.method = "GET";
  req.target = target;
  req.path = target.substr(0, target.find('?'));
  req.headers = {{"Host", "127.0.0.1:8765"}};
  mlo::deploy::HttpResponse res;
  app.handle(req, res);
  if (res.status == 500) __builtin_trap();
  if (res.body.find("<script") != std::string::npos || res.body.find("<img") != std::string::npos) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& dir = mlo::fuzz::scratch_dir();
  std::error_code ec;
  std::filesystem::remove_all(dir / ".mlo", ec);  // each input starts from an empty repository
  std::filesystem::create_directories(dir / ".mlo");
  std::string_view text = mlo::fuzz::as_text(data, size);
  std::size_t nul = text.find('\0');
  std::string_view record = text.substr(0, nul);
  std::string_view targets = nul == std::string_view::npos ? std::string_view{} : text.substr(nul + 1);
  mlo::Repo repo = mlo::Repo::open(dir);
  mlo::fuzz::expect_mlo_errors_only([&] {
    std::string hash = repo.cache().add_bytes(record, false);
    mlo::import_run_records(repo, {hash});
  });
  mlo::ui::UiApp app(repo, {});
  answer(app, "/");
  for (const auto& row : mlo::list_runs(repo, {})) answer(app, "/run/" + row["id"].get<std::string>());
  int n = 0;
  for (auto t : mlo::fuzz::split(targets, '\n'))
    if (!t.empty() && n++ < 16) answer(app, std::string(t));
  return 0;
}
