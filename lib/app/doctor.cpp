#include "app/doctor.h"
#include "core/version.h"

#include <curl/curl.h>
#include <git2.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <zstd.h>

#include <nlohmann/json.hpp>

#include "app/index_rebuild.h"
#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "core/hash.h"
#include "data/workspace.h"
#include "remote/curl_library.h"
#include "repo/git_library.h"
#include "repo/repo.h"

#ifndef MLO_YAML_CPP_VERSION
#define MLO_YAML_CPP_VERSION "unknown"
#endif

namespace mlo::app {

std::string to_string(CheckLevel level) {
  switch (level) {
    case CheckLevel::ok: return "ok";
    case CheckLevel::info: return "info";
    case CheckLevel::warn: return "warn";
    case CheckLevel::fail: return "fail";
  }
  return "ok";
}

bool DoctorReport::ok() const {
  for (const auto& c : checks)
    if (c.level == CheckLevel::fail) return false;
  return true;
}

std::vector<std::pair<std::string, std::string>> component_versions() {
  std::vector<std::pair<std::string, std::string>> v;
  v.emplace_back("mlo", kVersion);
  // Both are loaded on first use: ask before calling them (a missing libgit2
  // would end the process at its first call).
  if (libgit2_load_error()) {
    v.emplace_back("libgit2", "missing");
  } else {
    int major = 0, minor = 0, rev = 0;
    git_libgit2_version(&major, &minor, &rev);
    v.emplace_back("libgit2", std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(rev));
  }
  v.emplace_back("sqlite", sqlite3_libversion());
  v.emplace_back("zstd", ZSTD_versionString());
  const curl_version_info_data* curl = remote::libcurl_load_error() ? nullptr : curl_version_info(CURLVERSION_NOW);
  v.emplace_back("libcurl", curl && curl->version ? curl->version : "missing");
  // OpenSSL is used only through libcurl (TLS); SHA-256 is built in.
  v.emplace_back("openssl", curl && curl->ssl_version ? curl->ssl_version : "unknown");
  v.emplace_back("sha256", sha256_implementation());
  v.emplace_back("yaml-cpp", MLO_YAML_CPP_VERSION);
  v.emplace_back("nlohmann-json", std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
                                      std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
                                      std::to_string(NLOHMANN_JSON_VERSION_PATCH));
#if defined(__clang__)
  v.emplace_back("compiler", std::string("clang ") + __clang_version__);
#elif defined(__GNUC__)
  v.emplace_back("compiler", std::string("g++ ") + __VERSION__);
#endif
  return v;
}

namespace {

std::string git_state_name(int state) {
  switch (state) {
    case GIT_REPOSITORY_STATE_NONE: return "";
    case GIT_REPOSITORY_STATE_MERGE: return "a merge";
    case GIT_REPOSITORY_STATE_REVERT:
    case GIT_REPOSITORY_STATE_REVERT_SEQUENCE: return "a revert";
    case GIT_REPOSITORY_STATE_CHERRYPICK:
    case GIT_REPOSITORY_STATE_CHERRYPICK_SEQUENCE: return "a cherry-pick";
    case GIT_REPOSITORY_STATE_BISECT: return "a bisect";
    default: return "a rebase";
  }
}

void check_git(Repo& repo, DoctorReport& r) {
  DoctorCheck c{"git", CheckLevel::ok, "", ""};
  try {
    GitRepo& git = repo.git();
    std::string head = "no commits yet";
    if (auto id = git.head_commit()) {
      head = "HEAD " + id->substr(0, 7);
      git_reference* ref = nullptr;
      if (git_repository_head(&ref, git.raw()) == 0) {
        if (git_reference_is_branch(ref)) head += " on branch " + std::string(git_reference_shorthand(ref));
        else head += " (detached)";
        git_reference_free(ref);
      }
    }
    c.detail = "work tree " + repo.root().string() + ", " + head;
    std::string state = git_state_name(git_repository_state(git.raw()));
    if (!state.empty()) {
      c.level = CheckLevel::warn;
      c.detail += "; " + state + " is in progress";
      c.hint = "finish or abort it with git before checking out data";
    }
  } catch (const Error& e) {
    c.level = CheckLevel::fail;
    c.detail = e.what();
    c.hint = "check the repository with 'git status' and 'git fsck'";
  }
  r.checks.push_back(c);
}

bool check_config(Repo& repo, DoctorReport& r) {
  DoctorCheck c{"config", CheckLevel::ok, ".mlo/config.yaml parses", ""};
  try {
    repo.config();
    r.configured_link = repo.config().get_or("cache.link", "reflink,copy");
    repo.link_modes();
    repo.lock_timeout_ms();
  } catch (const Error& e) {
    c.level = CheckLevel::fail;
    c.detail = e.what();
    c.hint = e.hint().empty() ? "fix the file (see man mlo-config)" : e.hint();
    r.checks.push_back(c);
    return false;
  }
  r.checks.push_back(c);
  return true;
}

void check_index(Repo& repo, DoctorReport& r) {
  IndexStatus s = index_status(repo);
  DoctorCheck c{"index", CheckLevel::ok, "", ""};
  if (!s.exists) {
    c.level = CheckLevel::info;
    c.detail = s.path + " is missing; it is recreated on first use";
  } else if (!s.healthy) {
    c.level = CheckLevel::fail;
    c.detail = s.path + ": " + s.problem;
    c.hint = "the index is only a cache: run 'mlo index rebuild'";
  } else {
    c.detail = human_bytes(s.bytes) + ", schema";
    if (s.modules.empty()) c.detail += ": no module tables yet";
    for (size_t i = 0; i < s.modules.size(); ++i)
      c.detail += std::string(i ? ", " : " ") + s.modules[i].first + " v" + std::to_string(s.modules[i].second);
  }
  r.checks.push_back(c);
}

void check_cache(Repo& repo, DoctorReport& r, bool config_ok) {
  DoctorCheck c{"cache", CheckLevel::ok, "", ""};
  Cache& cache = repo.cache();
  std::size_t count = 0;
  std::uint64_t bytes = 0;
  cache.for_each_object([&](const std::string&, std::uint64_t size) {
    ++count;
    bytes += size;
  });
  c.detail = cache.root().string() + ": " + std::to_string(count) + " objects, " + human_bytes(bytes);
  struct statvfs vfs;
  fs::path objects = cache.root() / "objects";
  struct stat st;
  if (::stat(objects.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    c.level = CheckLevel::fail;
    c.detail = objects.string() + " is missing";
    c.hint = "run 'mlo init' to recreate it (the cache is then empty: 'mlo pull' refills it)";
    r.checks.push_back(c);
    return;
  }
  if (::statvfs(cache.root().c_str(), &vfs) == 0) {
    std::uint64_t free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    c.detail += ", " + human_bytes(free_bytes) + " free";
    if (free_bytes < (1ull << 30)) {
      c.level = CheckLevel::warn;
      c.hint = "less than 1 GiB free where the cache lives; 'mlo gc' removes unneeded objects";
    }
  }
  r.filesystem = filesystem_type(cache.root());
  r.probe_from = repo.tmp_dir().string();
  r.probe_to = (cache.root() / "tmp").string();
  try {
    r.link_modes = probe_link_modes(repo.tmp_dir(), cache.root() / "tmp");
  } catch (const Error& e) {
    c.level = CheckLevel::fail;
    c.detail += "; not writable: " + std::string(e.what());
    c.hint = "check the permissions of .mlo and the cache";
  }
  r.checks.push_back(c);

  if (!config_ok || r.link_modes.empty()) return;
  DoctorCheck l{"link modes", CheckLevel::ok, "", ""};
  std::vector<LinkMode> configured = repo.link_modes();
  for (LinkMode m : configured) {
    for (const auto& p : r.link_modes)
      if (p.mode == m && p.works && r.effective_link.empty()) r.effective_link = to_string(m);
  }
  if (r.effective_link.empty()) {
    l.level = CheckLevel::fail;
    l.detail = "none of cache.link (" + r.configured_link + ") works on this file system";
    l.hint = "add 'copy' to cache.link in .mlo/config.yaml";
  } else {
    l.detail = "cache.link is '" + r.configured_link + "': files are shared by " + r.effective_link;
    if (r.effective_link == "hardlink" || r.effective_link == "symlink")
      l.detail += " (cached objects are read-only; edit a copy, not the file in place)";
  }
  r.checks.push_back(l);
}

void check_pointers(Repo& repo, DoctorReport& r) {
  DoctorCheck c{"pointers", CheckLevel::ok, "", ""};
  std::vector<std::string> errors;
  std::size_t missing = 0, count = 0;
  for (const auto& ptr : find_pointer_files(repo)) {
    ++count;
    try {
      Pointer p = read_pointer(repo, ptr);
      if (!repo.cache().has(p.sha256)) ++missing;
    } catch (const Error& e) {
      errors.push_back(e.what());
    }
  }
  c.detail = std::to_string(count) + " pointer file(s)";
  if (!errors.empty()) {
    c.level = CheckLevel::fail;
    c.detail += ", " + std::to_string(errors.size()) + " do not parse: " + errors.front();
    c.hint = "restore them with 'git checkout -- FILE' or re-add the data with 'mlo data add'";
  } else if (missing) {
    c.level = CheckLevel::warn;
    c.detail += ", " + std::to_string(missing) + " name content missing from the cache";
    c.hint = "run 'mlo pull' to fetch it, or 'mlo fsck' for details";
  } else {
    c.detail += ", all parse, their content is in the cache";
  }
  r.checks.push_back(c);
}

// A missing libgit2 or libcurl (a minimal container, a broken upgrade) is a
// finding, not a crash: without libgit2 nothing that reads the repository
// works, without libcurl only remotes over the network do not.
bool check_libraries(DoctorReport& r) {
  if (auto why = remote::libcurl_load_error())
    r.checks.push_back({"libcurl", CheckLevel::warn, "cannot load libcurl: " + *why +
                            "; remotes other than a local directory will not work",
                        "install it: apt-get install libcurl4"});
  if (auto why = libgit2_load_error()) {
    r.checks.push_back({"libgit2", CheckLevel::fail, "cannot load libgit2: " + *why +
                            "; no command that reads the repository can work",
                        "install it: apt-get install libgit2-1.5 (the libgit2 mlo was built with)"});
    return false;
  }
  return true;
}

}  // namespace

DoctorReport run_doctor(const fs::path& start) {
  DoctorReport r;
  r.versions = component_versions();
  fs::path root;
  if (check_libraries(r)) {
    try {
      root = Repo::find_work_tree(start);
      r.root = root.string();
    } catch (const Error& e) {
      r.checks.push_back({"repository", CheckLevel::info, e.what(), "run 'mlo init --git' to start one"});
    }
  }
  if (!root.empty()) {
    try {
      Repo repo = Repo::open(root);
      r.mlo_repo = true;
      check_git(repo, r);
      bool config_ok = check_config(repo, r);
      check_index(repo, r);
      check_cache(repo, r, config_ok);
      check_pointers(repo, r);
    } catch (const Error& e) {
      if (r.mlo_repo) {
        r.checks.push_back({"repository", CheckLevel::fail, e.what(), e.hint()});
      } else {
        r.checks.push_back({"repository", CheckLevel::info, e.what(), "run 'mlo init' to set mlo up here"});
      }
    }
  }
  if (!r.mlo_repo) {
    // Still say what this machine's temp folder supports.
    fs::path tmp = fs::temp_directory_path();
    r.filesystem = filesystem_type(tmp);
    r.probe_from = r.probe_to = tmp.string();
    try {
      r.link_modes = probe_link_modes(tmp, tmp);
    } catch (const Error&) {
    }
  }
  return r;
}

}  // namespace mlo::app
