// Tree manifests (data/tree.h): building, reading back, and hostile objects.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/hash.h"
#include "data/tree.h"
#include "repo/repo.h"
#include "store/cache.h"
#include "test_util.h"

using namespace mlo;

namespace {

Repo tree_repo(const test::TempDir& tmp) {
  test::git_init(tmp / "r");
  init_repo(tmp / "r", {});
  return Repo::open(tmp / "r");
}

Manifest sample() {
  Manifest m;
  // Names that sort differently as paths and as names: "a" (a folder) vs
  // "a.txt" and "a-b"; git's order puts the folder after them.
  for (const char* p : {"a-b", "a.txt", "a/x", "a/y/z", "b", "c/d/e/f"})
    m.entries.push_back({p, sha256_hex(p), std::string(p).size(), std::string(p) == "b"});
  m.sort();
  return m;
}

std::string store_tree(Cache& cache, const Manifest& m, std::set<std::string>* written = nullptr) {
  return build_tree(m, [&](const std::string& hash, const std::string& bytes) {
    if (written && !cache.has(hash)) written->insert(hash);
    CHECK(cache.add_bytes(bytes, false) == hash);
  });
}

// Stores `bytes` under `name` whatever their hash (a hostile cache or remote).
void plant(Cache& cache, const std::string& name, const std::string& bytes) {
  test::write(cache.object_path(name), bytes);
}

std::string tree_text(const std::string& entries) { return "{\"version\":2,\"entries\":[\n" + entries + "\n]}\n"; }

std::string file_entry(const std::string& name, std::uint64_t size = 1) {
  return "{\"name\":\"" + name + "\",\"sha256\":\"" + sha256_hex(name) + "\",\"size\":" + std::to_string(size) + "}";
}

std::string sub_entry(const std::string& name, const std::string& hash, std::uint64_t files, std::uint64_t size) {
  return "{\"name\":\"" + name + "\",\"tree\":\"" + hash + "\",\"size\":" + std::to_string(size) +
         ",\"files\":" + std::to_string(files) + "}";
}

void check_refused(Cache& cache, const std::string& root, const std::string& what) {
  try {
    read_manifest(cache, root, "test");
    FAIL("read_manifest accepted a hostile tree (" << what << ")");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find(what) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("a tree reads back as the flat manifest it was built from") {
  test::TempDir tmp;
  Repo repo = tree_repo(tmp);
  Manifest m = sample();
  std::set<std::string> written;
  std::string root = store_tree(repo.cache(), m, &written);
  // One object per folder: the root, a, a/y, c, c/d, c/d/e.
  CHECK(written.size() == 6);
  Manifest back = read_manifest(repo.cache(), root, "test");
  REQUIRE(back.entries.size() == m.entries.size());
  for (std::size_t i = 0; i < m.entries.size(); ++i) {
    CHECK(back.entries[i].path == m.entries[i].path);
    CHECK(back.entries[i].sha256 == m.entries[i].sha256);
    CHECK(back.entries[i].size == m.entries[i].size);
    CHECK(back.entries[i].executable == m.entries[i].executable);
  }
  CHECK(back.trees.size() == 5);
  CHECK(std::set<std::string>(back.trees.begin(), back.trees.end()).count(root) == 0);
  // The same files give the same root, whatever order they came in.
  Manifest shuffled = m;
  std::swap(shuffled.entries.front(), shuffled.entries.back());
  shuffled.sort();
  CHECK(build_tree(shuffled) == root);
  // A flat (version 1) manifest still reads the same way.
  std::string flat = repo.cache().add_bytes(serialize_manifest(m), false);
  Manifest old = read_manifest(repo.cache(), flat, "test");
  CHECK(old.entries.size() == m.entries.size());
  CHECK(old.trees.empty());
}

TEST_CASE("a one-file change makes new objects for its folder and its parents only") {
  test::TempDir tmp;
  Repo repo = tree_repo(tmp);
  Manifest m;
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b)
      for (int f = 0; f < 5; ++f) {
        std::string p = "d" + std::to_string(a) + "/e" + std::to_string(b) + "/f" + std::to_string(f);
        m.entries.push_back({p, sha256_hex(p), 1, false});
      }
  m.sort();
  store_tree(repo.cache(), m);
  m.entries[37].sha256 = sha256_hex("changed");
  std::set<std::string> written;
  std::string root = store_tree(repo.cache(), m, &written);
  CHECK(written.size() == 3);  // dX/eY, dX and the root
  CHECK(written.count(root) == 1);
  CHECK(read_manifest(repo.cache(), root, "test").entries[37].sha256 == sha256_hex("changed"));
}

TEST_CASE("a subfolder missing from the cache is an error, or listed when asked") {
  test::TempDir tmp;
  Repo repo = tree_repo(tmp);
  Manifest m = sample();
  std::string root = store_tree(repo.cache(), m);
  Manifest full = read_manifest(repo.cache(), root, "test");
  std::string gone = full.trees.back();
  fs::remove(repo.cache().object_path(gone));
  CHECK_THROWS_AS(read_manifest(repo.cache(), root, "test"), InputError);
  std::vector<std::string> missing;
  Manifest part = read_manifest(repo.cache(), root, "test", &missing);
  CHECK(missing == std::vector<std::string>{gone});
  CHECK(part.entries.size() < m.entries.size());
  CHECK(std::count(part.trees.begin(), part.trees.end(), gone) == 1);  // still named: a fetch asks for it
}

TEST_CASE("hostile tree objects are refused with the reason") {
  test::TempDir tmp;
  Repo repo = tree_repo(tmp);
  Cache& cache = repo.cache();
  auto stored = [&](const std::string& entries) { return cache.add_bytes(tree_text(entries), false); };

  check_refused(cache, stored(file_entry("..")), "unsafe name");
  check_refused(cache, stored(file_entry("a/b")), "holds a '/'");
  check_refused(cache, stored(file_entry(".")), "unsafe name");
  check_refused(cache, stored("{\"name\":\"a\\u0000b\",\"sha256\":\"" + sha256_hex("x") + "\",\"size\":1}"), "unsafe name");
  check_refused(cache, stored(file_entry("b") + ",\n" + file_entry("a")), "out of order");
  check_refused(cache, stored(file_entry("a") + ",\n" + file_entry("a")), "repeats a name");

  // A cycle by hash: an object that names itself can only be stored under a
  // name that is not its hash, which every read checks.
  std::string self = sha256_hex("self");
  plant(cache, self, tree_text(sub_entry("loop", self, 1, 1)));
  check_refused(cache, self, "do not match its hash");

  // A subfolder that holds more than its parent says.
  std::string two = stored(file_entry("x") + ",\n" + file_entry("y"));
  check_refused(cache, stored(sub_entry("s", two, 1, 2)), "but its parent says");

  // Exponential sharing (each level names the one below twice): refused from
  // the root's claimed count, before any expansion.
  std::string level = stored(file_entry("leaf"));
  std::uint64_t files = 1;
  for (int i = 0; i < 40; ++i) {
    level = stored(sub_entry("l", level, files, files) + ",\n" + sub_entry("r", level, files, files));
    files *= 2;
  }
  check_refused(cache, level, "claims 1099511627776 files");

  // Deeper than the bound: a chain of real, correctly hashed folders.
  Manifest deep;
  std::string path;
  for (std::size_t i = 0; i < kMaxTreeDepth + 5; ++i) path += "d/";
  deep.entries.push_back({path + "f", sha256_hex("f"), 1, false});
  std::string root = store_tree(cache, deep);
  check_refused(cache, root, "nest deeper than 255 levels");

  // A huge object where a manifest should be: refused from its size, unread
  // (a sparse file: no disk space used).
  std::string huge = sha256_hex("huge");
  plant(cache, huge, "{");
  fs::resize_file(cache.object_path(huge), kMaxManifestBytes + 1);
  check_refused(cache, huge, "more than a manifest may be");

  // Not a tree where a folder object should be.
  std::string flat = cache.add_bytes(serialize_manifest(sample()), false);
  check_refused(cache, stored(sub_entry("s", flat, 6, 30)), "not a version 2 folder object");
}
