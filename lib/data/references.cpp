#include "data/references.h"

#include <algorithm>
#include <set>

#include <git2.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "data/manifest.h"
#include "data/pointer.h"
#include "data/tree.h"
#include "data/tree_walk.h"
#include "data/workspace.h"
#include "repo/repo.h"

namespace mlo {

std::string to_string(BrokenKind kind) {
  switch (kind) {
    case BrokenKind::bad_pointer: return "bad_pointer";
    case BrokenKind::missing_manifest: return "missing_manifest";
    case BrokenKind::bad_manifest: return "bad_manifest";
  }
  return "bad_pointer";
}

namespace {

std::string data_label(const std::string& pointer_path, const std::string& rev_label) {
  std::string data = data_path_for(pointer_path).value_or(pointer_path);
  return rev_label.empty() ? data : data + " at " + rev_label;
}

}  // namespace

void add_pointer_references(Repo& repo, const std::string& pointer_path, const std::string& text,
                            const std::string& label, References& refs) {
  if (!refs.seen_pointers.insert(text).second) return;
  ++refs.pointers;
  std::string where = label.empty() ? pointer_path : pointer_path + " at " + label;
  Pointer p;
  try {
    p = parse_pointer_for(text, pointer_path, where);
  } catch (const Error& e) {
    refs.broken.push_back({BrokenKind::bad_pointer, where, "", e.what()});
    return;
  }
  std::string data = data_label(pointer_path, label);
  refs.add(p.sha256, data);
  if (p.type != EntryType::dir) return;
  if (!refs.seen_manifests.insert(p.sha256).second) return;
  // A tree's folder objects are read as far as the cache has them; one
  // missing leaves the files below it unknown, which is reported. Walked
  // entry by entry, not read into a list (the list was half of gc's peak).
  // Paths inside a folder are only labels here; keep the first one seen.
  std::string prefix = data_path_for(pointer_path).value_or(pointer_path);
  std::string suffix = label.empty() ? "" : " at " + label;
  std::vector<std::string> missing;
  try {
    walk_manifest(
        repo.cache(), p.sha256, "manifest " + p.sha256 + " of " + data,
        [&](ManifestEntry&& e) { refs.add(e.sha256, prefix + "/" + e.path + suffix); },
        [&](const std::string& folder) { refs.add(folder, data + " (folder manifest)"); }, &missing, {},
        [&](const std::string& folder, std::uint64_t, const std::string&) {
          return refs.seen_manifests.insert(folder).second;  // another version's folder, read already
        });
  } catch (const Error& e) {
    refs.broken.push_back({BrokenKind::bad_manifest, where, p.sha256, e.what()});
    return;
  }
  if (!missing.empty()) {
    bool root = missing.front() == p.sha256;
    refs.broken.push_back({BrokenKind::missing_manifest, where, missing.front(),
                           "the manifest of " + data + " (object " + missing.front() + (root ? "" : ", a folder of it") +
                               ") is missing from the cache"});
  }
}

void add_manifest_references(Repo& repo, const std::string& sha, const std::string& where, References& refs) {
  if (!refs.seen_manifests.insert(sha).second) return;
  if (!repo.cache().has(sha)) {
    refs.broken.push_back({BrokenKind::missing_manifest, where, sha, "the manifest of " + where + " is not in the cache"});
    return;
  }
  try {
    std::vector<std::string> missing;
    walk_manifest(
        repo.cache(), sha, "manifest " + sha.substr(0, 12) + " (" + where + ")",
        [&](ManifestEntry&& f) { refs.add(f.sha256, where + ":" + f.path); },
        [&](const std::string& folder) { refs.add(folder, where); }, &missing, {},
        [&](const std::string& folder, std::uint64_t, const std::string&) {
          return refs.seen_manifests.insert(folder).second;
        });
    if (!missing.empty())
      refs.broken.push_back({BrokenKind::missing_manifest, where, missing.front(),
                             "a folder manifest of " + where + " (object " + missing.front() + ") is not in the cache"});
  } catch (const Error& e) {
    refs.broken.push_back({BrokenKind::bad_manifest, where, sha, e.what()});
  }
}

namespace {

std::string oid_hex(const git_oid* oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, oid);
  return buf;
}

// Commits of remote-tracking branches (refs/remotes/*, what teammates pushed
// as of the last fetch): every commit reachable from them with `history`,
// else their tips.
std::vector<std::string> remote_branch_commits(const GitRepo& git, bool history) {
  std::vector<std::string> out;
  if (history) {
    git_revwalk* walk = nullptr;
    if (git_revwalk_new(&walk, git.raw()) != 0) return out;
    git_oid oid;
    if (git_revwalk_push_glob(walk, "refs/remotes/*") == 0)
      while (git_revwalk_next(&oid, walk) == 0) out.push_back(oid_hex(&oid));
    git_revwalk_free(walk);
    return out;
  }
  git_reference_iterator* it = nullptr;
  if (git_reference_iterator_glob_new(&it, git.raw(), "refs/remotes/*") != 0) return out;
  git_reference* ref = nullptr;
  while (git_reference_next(&ref, it) == 0) {
    git_object* obj = nullptr;
    if (git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) == 0) {
      out.push_back(oid_hex(git_object_id(obj)));
      git_object_free(obj);
    }
    git_reference_free(ref);
  }
  git_reference_iterator_free(it);
  return out;
}

}  // namespace

namespace {

void collect_into(Repo& repo, const ReferenceScope& scope, const std::vector<ReferenceSource>& extra_sources,
                  References& refs) {
  // Counted in pointer files, then commits: neither total is known up front.
  ProgressPhase phase("references", 0, 0, "pointers and commits");
  if (scope.workspace) {
    for (const auto& ptr : find_pointer_files(repo)) {
      check_interrupted();
      phase.add(1);
      auto text = read_file_if_exists(repo.root() / ptr);
      if (!text) continue;  // removed while we looked
      add_pointer_references(repo, ptr, *text, "", refs);
    }
    for (const auto& src : extra_sources) src.collect(repo, "", refs);
  }

  // Commits in scope, each once, in a stable order.
  std::vector<std::string> commits;
  std::set<std::string> seen;
  auto want = [&](const std::string& id) {
    if (seen.insert(id).second) commits.push_back(id);
  };
  bool any_rev = scope.all_branches || scope.all_tags || scope.all_commits || scope.remote_branches ||
                 !scope.revisions.empty();
  if (any_rev) {
    GitRepo& git = repo.git();
    for (const auto& rev : scope.revisions) want(git.resolve_commit(rev));
    if (scope.all_commits) {
      for (const auto& id : git.all_commits()) want(id);
      if (scope.remote_branches)
        for (const auto& id : remote_branch_commits(git, true)) want(id);
    } else {
      if (scope.remote_branches)
        for (const auto& id : remote_branch_commits(git, false)) want(id);
      if (scope.all_branches)
        for (const auto& id : git.branch_heads()) want(id);
      if (scope.all_tags)
        for (const auto& id : git.tag_targets()) want(id);
    }
    for (const auto& id : commits) {
      check_interrupted();
      phase.add(1);
      ++refs.revisions;
      std::string label = id.substr(0, 7);
      git.for_each_file_at(id, kPointerSuffix, [&](const std::string& path, const std::string& content) {
        if (path.rfind(".mlo/", 0) == 0 || !data_path_for(path)) return;
        add_pointer_references(repo, path, content, label, refs);
      });
      for (const auto& src : extra_sources) src.collect(repo, id, refs);
    }
  }
}

}  // namespace

bool References::in_pass(const std::string& hash) const {
  if (first_byte_lo == 0 && first_byte_hi == 255) return true;
  Sha256Bytes b;
  if (!sha256_from_hex(hash, b)) return true;  // not a hash: kept in every pass (it names no object)
  return b[0] >= first_byte_lo && b[0] <= first_byte_hi;
}

References collect_references(Repo& repo, const ReferenceScope& scope,
                              const std::vector<ReferenceSource>& extra_sources) {
  References refs;
  collect_into(repo, scope, extra_sources, refs);
  refs.objects.sorted();  // sorted once here: later reads may come from several threads
  return refs;
}

std::size_t for_each_reference_share(Repo& repo, const ReferenceScope& scope,
                                     const std::vector<ReferenceSource>& extra_sources, std::size_t max_held,
                                     const std::function<void(const References&)>& first_walk,
                                     const std::function<void(References&, unsigned lo, unsigned hi)>& share) {
  max_held = std::max<std::size_t>(max_held, 1);
  std::vector<std::pair<unsigned, unsigned>> ranges{{0, 255}};  // first bytes still to do
  std::size_t shares = 0;
  bool first = true;
  while (!ranges.empty()) {
    auto [lo, hi] = ranges.back();
    ranges.pop_back();
    References refs;
    refs.first_byte_lo = lo;
    refs.first_byte_hi = hi;
    refs.max_held = lo < hi ? max_held : 0;
    collect_into(repo, scope, extra_sources, refs);
    refs.objects.sorted();
    if (first) first_walk(refs);
    first = false;
    if (refs.overflowed) {
      const std::size_t total = refs.objects.held() + refs.beyond;
      const unsigned width = hi - lo + 1;
      const auto parts = static_cast<unsigned>(std::clamp<std::size_t>((total + total / 4) / max_held + 1, 2, width));
      for (unsigned k = parts; k-- > 0;)  // the lowest share on top: done first
        ranges.push_back({lo + width * k / parts, lo + width * (k + 1) / parts - 1});
      continue;
    }
    ++shares;
    share(refs, lo, hi);
  }
  return shares;
}

std::unordered_map<std::string, std::string> label_references(Repo& repo, const ReferenceScope& scope,
                                                              const std::vector<ReferenceSource>& extra_sources,
                                                              const HashSet& hashes) {
  if (hashes.empty()) return {};
  hashes.sorted();
  // The same roots in the same order, so the first place found is the one
  // the map of every object kept.
  References refs;
  refs.label_only = &hashes;
  collect_into(repo, scope, extra_sources, refs);
  return std::move(refs.labels);
}

}  // namespace mlo
