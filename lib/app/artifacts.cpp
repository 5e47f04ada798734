#include "app/artifacts.h"

#include <sys/stat.h>

#include "core/error.h"
#include "core/safe_path.h"
#include "data/manifest.h"
#include "data/tree.h"
#include "data/workspace.h"
#include "registry/model_ref.h"
#include "remote/remotes.h"
#include "remote/transfer.h"
#include "repo/repo.h"

namespace mlo::app {

namespace fs = std::filesystem;

namespace {

void fetch_from_default_remote(Repo& repo, const std::set<std::string>& hashes, const std::string& why) {
  remote::RemoteConfig rc;
  try {
    rc = remote::resolve_remote(repo.config(), "");
  } catch (const Error& e) {
    throw InputError(why + ": " + std::to_string(hashes.size()) +
                         " object(s) are not in the cache, and there is no remote to fetch them from (" + e.what() + ")",
                     "add the team's remote with 'mlo remote add --default NAME URL', then run again");
  }
  auto backend = remote::open_backend(rc);
  remote::TransferOptions options;
  options.verb = "fetch";
  remote::TransferStats stats = remote::fetch_objects(
      *backend, repo.cache(), remote::index_cache_dir(repo.cache_dir(), rc.url), hashes, options);
  if (!stats.missing.empty())
    throw RemoteError(why + ": remote '" + rc.name + "' lacks " + std::to_string(stats.missing.size()) +
                          " object(s), e.g. " + stats.missing.front(),
                      "run 'mlo push' in the clone that registered or produced it, then run again");
}

// Where `mlo models get` writes: OUT, OUT/NAME when OUT is a folder, or NAME here.
fs::path output_path(const fs::path& out, const std::string& artifact_path) {
  std::string name = fs::path(artifact_path).filename().string();
  if (name.empty()) name = "model";
  if (out.empty()) return fs::current_path() / name;
  std::error_code ec;
  if (fs::is_directory(out, ec) && !fs::is_symlink(out, ec)) return fs::absolute(out) / name;
  return fs::absolute(out);
}

void refuse_existing(const fs::path& dest, bool force) {
  std::error_code ec;
  if (force || !fs::exists(fs::symlink_status(dest, ec))) return;
  if (fs::is_directory(dest, ec) && fs::is_empty(dest, ec)) return;
  throw InputError(dest.string() + " already exists", "pass -o with another path, or --force to replace it");
}

void write_file_artifact(Repo& repo, const registry::ResolvedModel& r, const fs::path& dest, ModelGetResult& out) {
  std::error_code ec;
  if (fs::is_directory(fs::symlink_status(dest, ec))) fs::remove(dest, ec);  // an empty folder (checked above)
  fs::create_directories(dest.parent_path());
  // A copy (or reflink), never a link: the user may edit what they got.
  repo.cache().materialize(r.artifact_sha256, dest, {LinkMode::reflink, LinkMode::copy});
  out.bytes = r.artifact_size;
  out.files = 1;
}

void write_dir_artifact(Repo& repo, const registry::ResolvedModel& r, const fs::path& dest, ModelGetResult& out) {
  Manifest m = load_manifest_fetching(repo, r.artifact_sha256, r.tag, &out.fetched);
  std::set<std::string> files;
  for (const auto& e : m.entries) files.insert(e.sha256);
  std::size_t before = 0;
  for (const auto& h : files) before += repo.cache().has(h) ? 0 : 1;
  repo.ensure_objects(files, "the artifact of " + r.tag);
  out.fetched += before;
  std::error_code ec;
  fs::remove_all(dest, ec);
  fs::create_directories(dest);
  TreeWriter tree(dest, "manifest of " + r.tag);
  for (const auto& e : m.entries) {
    tree.check_parents(e.path, true);
    repo.cache().materialize(e.sha256, tree.resolve(e.path), {LinkMode::reflink, LinkMode::copy}, e.executable);
    out.bytes += e.size;
    ++out.files;
  }
}

}  // namespace

void install_remote_fetcher() { set_object_fetcher(fetch_from_default_remote); }

ModelGetResult get_model(Repo& repo, const std::string& ref, const fs::path& out, bool force) {
  registry::ResolvedModel r = registry::resolve_model(repo, ref);
  if (r.artifact_sha256.empty())
    throw InputError(ref + " (" + r.tag + ") has no recorded artifact hash: it was registered without mlo",
                     "its files are in git at commit " + r.commit + ": 'git show " + r.commit + ":PATH'");
  ModelGetResult res;
  res.name = r.name;
  res.version = r.version;
  res.tag = r.tag;
  res.sha256 = r.artifact_sha256;
  res.type = r.artifact_type.empty() ? "file" : r.artifact_type;
  res.path = output_path(out, r.path);
  refuse_existing(res.path, force);
  res.fetched = repo.cache().has(r.artifact_sha256) ? 0 : 1;
  repo.ensure_objects({r.artifact_sha256}, "the artifact of " + r.tag);
  if (res.type == "dir") write_dir_artifact(repo, r, res.path, res);
  else write_file_artifact(repo, r, res.path, res);
  return res;
}

}  // namespace mlo::app
