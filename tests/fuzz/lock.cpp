// Fuzz target: mlo.lock (pipeline/lock_file.h), as `mlo run` reads it and as
// push and gc read it for the objects it names. A bad lock must end in
// mlo::Error, never another exception or a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include <yaml-cpp/yaml.h>

#include "pipeline/lock_file.h"
#include "pipeline/pipeline.h"
#include "pipeline/runs.h"
#include "repo/yaml_block.h"
#include "repo/repo.h"
#include "scratch.h"

using mlo::fuzz::expect_mlo_errors_only;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& dir = mlo::fuzz::scratch_dir();
  std::string text(mlo::fuzz::as_text(data, size));
  // The block reader answers only where yaml-cpp reads the same document.
  if (auto fast = mlo::read_block_yaml(text)) {
    std::string slow;
    try {
      slow = mlo::yaml_to_json(YAML::Load(text)).dump();
    } catch (const YAML::Exception&) {
      __builtin_trap();  // the fast path took what yaml-cpp refuses
    }
    if (slow != fast->dump()) __builtin_trap();
  }
  expect_mlo_errors_only([&] {
    nlohmann::json lock = mlo::parse_lock(text, "mlo.lock");
    mlo::parse_lock(mlo::serialize_lock(lock), "mlo.lock again");
  });
  mlo::fuzz::write_file(dir / "mlo.lock", text);
  expect_mlo_errors_only([&] {
    mlo::LockFile lock = mlo::LockFile::load(dir);
    for (const char* stage : {"train", "prepare", "a"}) lock.entry(stage);
  });
  expect_mlo_errors_only([&] {
    mlo::Repo repo = mlo::Repo::open(dir);
    mlo::lock_objects(repo, text);
  });
  return 0;
}
