// Which cache objects are still needed: the roots that `mlo gc` keeps, that
// `mlo fsck` checks for, and that `mlo gc --remote` keeps on a remote.
//
// A root is a pointer file (*.mlo) in the work tree or in a git revision. A
// file pointer names one object; a folder pointer names its manifest, whose
// entries name the rest. Anything that can not be read (a pointer that does
// not parse, a manifest missing from the cache or damaged) is reported in
// `broken`, never silently skipped: the objects it would protect are unknown,
// so deleting on the strength of such a set could lose data.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/hash_set.h"

namespace mlo {

class Repo;

// Which roots count. Revisions are read from git (libgit2), manifests from
// the local cache.
struct ReferenceScope {
  bool workspace = true;             // pointer files in the work tree (also uncommitted ones)
  bool all_branches = false;         // the tip of every local branch
  bool all_tags = false;             // every tag's commit
  bool all_commits = false;          // every commit reachable from a branch, tag or HEAD
  bool remote_branches = false;      // also remote-tracking branches (with all_commits: their history)
  std::vector<std::string> revisions;  // further revisions (anything git can resolve)
};

enum class BrokenKind {
  bad_pointer,       // a *.mlo file that does not parse
  missing_manifest,  // a folder's manifest is not in the cache: its files are unknown
  bad_manifest,      // a folder's manifest does not parse or does not match its hash
};
std::string to_string(BrokenKind kind);

struct BrokenReference {
  BrokenKind kind;
  std::string where;    // "data/x.mlo" (work tree) or "data/x.mlo at 1a2b3c4" (a commit)
  std::string object;   // the manifest's hash (manifest problems)
  std::string message;  // what is wrong, for people
};

struct References {
  // Every needed object, 32 bytes each (a map to where each is named held
  // ~230 bytes an object: most of gc's peak at a million files). Where an
  // object is named is asked for afterwards, for the few that need it
  // (label_references).
  HashSet objects;
  std::vector<BrokenReference> broken;
  std::size_t pointers = 0;   // pointer files read (each distinct one once)
  std::size_t revisions = 0;  // git commits read
  // Memo: manifests and folder objects already expanded and pointer texts
  // already read, so a folder shared by a thousand commits (or versions) is
  // read once.
  std::unordered_set<std::string> seen_manifests;
  std::unordered_set<std::string> seen_pointers;
  // Set by label_references: add() then records, instead of the object,
  // the first place that names each of these hashes.
  const HashSet* label_only = nullptr;
  std::unordered_map<std::string, std::string> labels;

  // A gc in passes (data/gc.h) keeps only the hashes whose first byte is in
  // [first_byte_lo, first_byte_hi], and no more than `max_held` of them
  // (0: no limit): past it `overflowed` is set, `beyond` counts what was
  // left out, and the pass is split by that count.
  unsigned first_byte_lo = 0, first_byte_hi = 255;
  std::size_t max_held = 0;
  bool overflowed = false;
  std::size_t beyond = 0;

  bool needs(const std::string& hash) const { return objects.contains(hash); }
  // Records that `where` needs `hash`.
  void add(const std::string& hash, const std::string& where) {
    if (label_only) {
      if (label_only->contains(hash)) labels.emplace(hash, where);
      return;
    }
    if (!in_pass(hash)) return;
    if (max_held && objects.held() >= max_held) {
      overflowed = true;
      ++beyond;
      return;
    }
    objects.insert(hash);
  }
  bool in_pass(const std::string& hash) const;
};

// A further kind of root (pipeline outputs in mlo.lock, run records, ...):
// called once for the work tree (`rev` empty) and once for each commit in
// scope; adds what it needs to `refs` (and problems to refs.broken).
struct ReferenceSource {
  std::string name;
  std::function<void(Repo& repo, const std::string& rev, References& refs)> collect;
};

// Reads every root in scope. Throws only for problems with the repository
// itself (git unreadable, an unknown revision); damaged roots go to `broken`.
References collect_references(Repo& repo, const ReferenceScope& scope,
                              const std::vector<ReferenceSource>& extra_sources = {});
// The same in shares of the hashes' first byte, each holding at most
// `max_held` hashes (32 bytes each): a share that would hold more is split
// into as many as the count it met asks for (x1.25 for an uneven spread;
// one that still overflows is split again; a single byte's share has no
// limit), so the memory is bounded however many files the roots name.
// `share` is called for each, lowest first, with its refs and first bytes
// [lo, hi]; below the limit, once with [0, 255]. `first_walk` is called
// with the first walk's refs before anything else (every walk meets the
// same roots, so a broken one shows there). Returns the shares walked.
std::size_t for_each_reference_share(Repo& repo, const ReferenceScope& scope,
                                     const std::vector<ReferenceSource>& extra_sources, std::size_t max_held,
                                     const std::function<void(const References&)>& first_walk,
                                     const std::function<void(References&, unsigned lo, unsigned hi)>& share);

// The first place found that names each of `hashes` ("data/train.csv",
// "data/images/cat.png at 1a2b3c4"), reading the same roots again; a hash
// no root names is absent.
std::unordered_map<std::string, std::string> label_references(Repo& repo, const ReferenceScope& scope,
                                                              const std::vector<ReferenceSource>& extra_sources,
                                                              const HashSet& hashes);

// Adds what the folder manifest `sha` (flat or a tree) names, as far as the
// cache has it: each file as "WHERE:PATH", each folder object as WHERE. The
// manifest absent from the cache, or one of its folder objects, is recorded
// as missing_manifest (the files below it are unknown); one that does not
// parse or match its hash as bad_manifest. Each manifest is expanded once.
void add_manifest_references(Repo& repo, const std::string& sha, const std::string& where, References& refs);

// Adds what one pointer file's text needs: the pointer's object and, for a
// folder, its manifest's entries (manifest read from the cache, its hash
// verified). `label` names the pointer in `where` strings. Exposed for the
// sources above and for remotes.
void add_pointer_references(Repo& repo, const std::string& pointer_path, const std::string& text,
                            const std::string& label, References& refs);

}  // namespace mlo
