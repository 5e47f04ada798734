#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/hash.h"
#include "data/workspace.h"
#include "repo/repo.h"
#include "test_util.h"

using namespace mlo;

namespace {
Repo make_repo(const test::TempDir& tmp) {
  test::git_init(tmp / "r");
  init_repo(tmp / "r", {});
  return Repo::open(tmp / "r");
}

std::string pointer_text(const std::string& name, const std::string& hash, const char* type = "file") {
  Pointer p;
  p.path = name;
  p.type = std::string(type) == "dir" ? EntryType::dir : EntryType::file;
  p.sha256 = hash;
  p.size = 1;
  return serialize_pointer(p);
}
}  // namespace

TEST_CASE("find_pointer_files skips .git, .mlo and tracked folders") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  std::string h = sha256_hex("x");
  test::write(tmp / "r/a.csv.mlo", pointer_text("a.csv", h));
  test::write(tmp / "r/sub/b.bin.mlo", pointer_text("b.bin", h));
  test::write(tmp / "r/imgs.mlo", pointer_text("imgs", h, "dir"));
  test::write(tmp / "r/imgs/inner.mlo", "not a pointer of ours");
  test::write(tmp / "r/.mlo/stray.mlo", "x");
  CHECK(find_pointer_files(repo) == std::vector<std::string>{"a.csv.mlo", "imgs.mlo", "sub/b.bin.mlo"});
  CHECK(find_pointer_files(repo, {"sub"}) == std::vector<std::string>{"sub/b.bin.mlo"});
  CHECK(find_pointer_files(repo, {"a.csv"}) == std::vector<std::string>{"a.csv.mlo"});
  CHECK(find_pointer_files(repo, {"imgs.mlo", "a.csv"}) == std::vector<std::string>{"a.csv.mlo", "imgs.mlo"});
  CHECK(find_pointer_files(repo, {"nothing-here"}).empty());
}

TEST_CASE("objects_of lists a file's hash, or a manifest and its entries") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  Pointer f;
  f.path = "a";
  f.sha256 = sha256_hex("a");
  CHECK(objects_of(repo, f) == std::set<std::string>{f.sha256});
  Manifest m;
  m.entries.push_back({"x/1", sha256_hex("1"), 1, false});
  m.entries.push_back({"2", sha256_hex("2"), 1, false});
  Pointer d;
  d.path = "d";
  d.type = EntryType::dir;
  d.sha256 = sha256_hex(serialize_manifest(m));
  CHECK_THROWS_AS(objects_of(repo, d), InputError);  // manifest not in the cache
  CHECK(repo.cache().add_bytes(serialize_manifest(m)) == d.sha256);
  CHECK(objects_of(repo, d) == std::set<std::string>{d.sha256, sha256_hex("1"), sha256_hex("2")});
}

TEST_CASE("a pointer must name its own file") {
  std::string h = sha256_hex("x");
  CHECK(parse_pointer_for(pointer_text("a.csv", h), "data/a.csv.mlo", "w").path == "a.csv");
  CHECK_THROWS_AS(parse_pointer_for(pointer_text("b.csv", h), "data/a.csv.mlo", "w"), InputError);
}
