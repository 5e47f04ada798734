// Fuzz target: .mlo/config.yaml and .mlo/config.local.yaml (the input holds
// both, split at the first NUL byte), as commands read them: the strict load,
// the remotes, the default remote, link modes and the lock timeout. A bad file
// must end in mlo::Error, never another exception or a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "remote/remotes.h"
#include "repo/config.h"
#include "repo/repo.h"
#include "scratch.h"

using mlo::fuzz::expect_mlo_errors_only;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& dir = mlo::fuzz::scratch_dir();
  std::string_view text = mlo::fuzz::as_text(data, size);
  std::size_t nul = text.find('\0');
  mlo::fuzz::write_file(dir / ".mlo/config.yaml", text.substr(0, nul));
  std::error_code ec;
  std::filesystem::remove(dir / ".mlo/config.local.yaml", ec);
  if (nul != std::string_view::npos) mlo::fuzz::write_file(dir / ".mlo/config.local.yaml", text.substr(nul + 1));
  expect_mlo_errors_only([&] {
    mlo::Repo repo = mlo::Repo::open(dir);
    mlo::Config& config = repo.config();
    expect_mlo_errors_only([&] { mlo::remote::list_remotes(config); });
    expect_mlo_errors_only([&] { mlo::remote::resolve_remote(config, ""); });
    expect_mlo_errors_only([&] { mlo::remote::resolve_remote(config, "origin"); });
    expect_mlo_errors_only([&] { repo.link_modes(); });
    expect_mlo_errors_only([&] { repo.lock_timeout_ms(); });
  });
  return 0;
}
