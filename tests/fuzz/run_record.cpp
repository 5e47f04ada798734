// Fuzz target: run records (pipeline/runs.h) as a pull brings them: the
// object is put in a fresh scratch repository's cache and imported, then the
// index is rebuilt, listed, and asked for the objects the record names. A
// hostile record must be refused (a warning) or end in mlo::Error, never in
// another exception or a crash. Slow (a repository per input), but it is the
// path a teammate's record takes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "pipeline/runs.h"
#include "repo/repo.h"
#include "scratch.h"
#include "store/cache.h"

using mlo::fuzz::expect_mlo_errors_only;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& dir = mlo::fuzz::scratch_dir();
  std::error_code ec;
  std::filesystem::remove_all(dir / ".mlo", ec);  // each input starts from an empty repository
  std::filesystem::create_directories(dir / ".mlo");
  expect_mlo_errors_only([&] {
    mlo::Repo repo = mlo::Repo::open(dir);
    std::string hash = repo.cache().add_bytes(mlo::fuzz::as_text(data, size), false);
    if (mlo::import_run_records(repo, {hash}) == 0) return;
    mlo::rebuild_runs_index(repo);
    for (const auto& row : mlo::list_runs(repo, {})) {
      nlohmann::json record = mlo::load_run(repo, row["id"].get<std::string>());
      mlo::run_objects(repo, record);
      mlo::run_log_hash(record);
    }
  });
  return 0;
}
