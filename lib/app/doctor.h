// `mlo doctor`: what mlo is built with, which link modes work where the cache
// lives, and whether the repository is healthy. Works outside a repository
// (versions, and link modes probed in the temp folder).
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "store/probe.h"

namespace mlo::app {

enum class CheckLevel { ok, info, warn, fail };
std::string to_string(CheckLevel level);

struct DoctorCheck {
  std::string name;     // "git", "config", "index", "cache", "pointers", "link modes", ...
  CheckLevel level = CheckLevel::ok;
  std::string detail;   // what was found
  std::string hint;     // what to do (warn/fail)
};

struct DoctorReport {
  std::vector<std::pair<std::string, std::string>> versions;  // component -> version
  std::string root;        // the work tree ("" outside a git repository)
  bool mlo_repo = false;   // .mlo exists there
  std::string probe_from, probe_to, filesystem;
  std::vector<LinkProbe> link_modes;
  std::string configured_link;  // cache.link as written ("" outside a repo)
  std::string effective_link;   // the first configured mode that works here
  std::vector<DoctorCheck> checks;
  bool ok() const;  // no check failed
};

// Looks at the repository around `start` (if any). Never changes anything but
// scratch files in .mlo/tmp and the cache's tmp folder, which it removes.
DoctorReport run_doctor(const std::filesystem::path& start);

// Versions of mlo and the libraries it is linked with.
std::vector<std::pair<std::string, std::string>> component_versions();

}  // namespace mlo::app
