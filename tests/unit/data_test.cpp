#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include "core/error.h"
#include "core/hash.h"
#include "data/checkout.h"
#include "data/workspace.h"
#include "data/written_tree.h"
#include "repo/repo.h"
#include "repo/yaml_block.h"
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

TEST_CASE("a pointer read on the fast path is the one yaml-cpp reads; a bad one is reported with its line") {
  Pointer p;
  p.path = "d";
  p.type = EntryType::dir;
  p.sha256 = sha256_hex("d");
  p.size = 12;
  p.files = 3;
  p.executable = true;
  p.description = "it's: \"quoted\" # not a comment";
  const std::string text = serialize_pointer(p);
  REQUIRE(read_block_yaml_node(text).has_value() == (text.find('\\') == std::string::npos));
  Pointer back = parse_pointer(text, "d.mlo");
  CHECK(back.path == p.path);
  CHECK(back.type == p.type);
  CHECK(back.sha256 == p.sha256);
  CHECK(back.size == 12);
  CHECK(back.files == 3);
  CHECK(back.executable);
  CHECK(back.description == p.description);
  // Block YAML the fast reader answers, with a bad value on line 5: the error
  // comes from yaml-cpp's reading and names that line.
  const std::string bad = "# c\nversion: 1\npath: a\ntype: file\nsha256: xyz\nsize: 1\n";
  REQUIRE(read_block_yaml_node(bad).has_value());
  CHECK_THROWS_WITH(parse_pointer(bad, "a.mlo"), Catch::Contains("a.mlo:5: sha256 must be"));
  CHECK_THROWS_WITH(parse_pointer("version: 1\npath: a\ntype: file\nsha256: " + p.sha256 + "\nsize: -4\n", "a.mlo"),
                    Catch::Contains("a.mlo:5: size must not be negative"));
}

#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>

#include "core/fs.h"
#include "data/data.h"
#include "data/scan.h"
#include "data/stat_cache.h"
#include "store/cache.h"

namespace {
// Dates a file back so the stat cache may trust it (not racily clean).
void age(const fs::path& p) {
  struct timespec times[2];
  ::clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= 60;
  times[1] = times[0];
  ::utimensat(AT_FDCWD, p.c_str(), times, 0);
}

void write_aged(const fs::path& p, const std::string& content) {
  test::write(p, content);
  age(p);
}

// Counts what an SQL count query over the index answers.
std::int64_t count_rows(Repo& repo, const std::string& sql) {
  auto st = repo.index().prepare(sql);
  REQUIRE(st.step());
  return st.int64(0);
}

struct Cwd {
  fs::path old = fs::current_path();
  explicit Cwd(const fs::path& p) { fs::current_path(p); }
  ~Cwd() { fs::current_path(old); }
};
}  // namespace

TEST_CASE(".gitignore lines are anchored, escaped, added once and removed") {
  CHECK(gitignore_line("train.csv") == "/train.csv");
  CHECK(gitignore_line("a*b?[c]") == "/a\\*b\\?\\[c]");
  CHECK(gitignore_line("#x") == "/\\#x");
  CHECK(gitignore_line("sp ") == "/sp\\ ");
  test::TempDir tmp;
  test::write(tmp / "d/.gitignore", "*.log");  // no trailing newline
  CHECK(gitignore_add((tmp / "d").string(), "x.csv"));
  CHECK_FALSE(gitignore_add((tmp / "d").string(), "x.csv"));
  CHECK(read_file(tmp / "d/.gitignore") == "*.log\n/x.csv\n");
  CHECK(gitignore_remove((tmp / "d").string(), "x.csv"));
  CHECK(read_file(tmp / "d/.gitignore") == "*.log\n");
  fs::create_directories(tmp / "e");
  CHECK(gitignore_add((tmp / "e").string(), "only"));
  CHECK(gitignore_remove((tmp / "e").string(), "only"));
  CHECK_FALSE(fs::exists(tmp / "e/.gitignore"));  // nothing else was in it
}

TEST_CASE("stat cache answers sorted lookups and skips racily clean files") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  StatCache sc(repo.index());
  StatKey k1{1, 1'000'000'000, 10}, k2{2, 2'000'000'000, 20};
  std::int64_t later = 100'000'000'000;
  sc.record("d/a", k1, "h1", false, later);
  sc.record("d/b/c", k2, "h2", true, later);
  sc.record("d0", k1, "other", false, later);               // not under d/
  sc.record("d/racy", k1, "h3", false, k1.mtime_ns + 1000);  // hashed in the same tick: not kept
  sc.flush();
  std::string a = "a", bc = "b/c", racy = "racy", z = "z";
  std::vector<const std::string*> paths{&a, &bc, &racy, &z};
  std::vector<StatKey> keys{k1, k2, k1, k1};
  std::vector<std::string> hits(4);
  sc.lookup_sorted(
      "d", paths.size(), [&](std::size_t i) { return std::string_view(*paths[i]); }, [&](std::size_t i) { return keys[i]; },
      [&](std::size_t i, StatCacheHit&& h) { hits[i] = h.sha256; });
  CHECK(hits == std::vector<std::string>{"h1", "h2", "", ""});
  keys[0].size = 11;  // changed size: no answer
  hits.assign(4, "");
  sc.lookup_sorted(
      "d", paths.size(), [&](std::size_t i) { return std::string_view(*paths[i]); }, [&](std::size_t i) { return keys[i]; },
      [&](std::size_t i, StatCacheHit&& h) { hits[i] = h.sha256; });
  CHECK(hits[0].empty());
  CHECK(sc.lookup("d0", k1)->sha256 == "other");
  sc.forget("d");
  sc.flush();
  CHECK_FALSE(sc.lookup("d/a", k1));
  CHECK(sc.lookup("d0", k1));
}

namespace {
// Rows in one table of the repository's index.
std::int64_t table_rows(Repo& repo, const std::string& table) {
  auto st = repo.index().prepare("SELECT count(*) FROM " + table);
  return st.step() ? st.int64(0) : -1;
}
}  // namespace

TEST_CASE("stat cache keeps the complete-folder rows of the stamps it records now, not older ones") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  StatCache sc(repo.index());
  auto rows = [&] { return table_rows(repo, "data_complete"); };
  sc.record_complete("m1", "s1");
  sc.record_folders_complete("t1", "s1");
  sc.flush();
  CHECK(rows() == 2);
  CHECK(sc.known_complete("m1", "s1"));
  CHECK(sc.known_folders_complete("t1", "s1"));

  // The cache changed (a new stamp): the rows of s1 can never be trusted again.
  sc.record_complete("m2", "s2");
  sc.flush();
  CHECK(rows() == 1);
  CHECK_FALSE(sc.known_complete("m1", "s1"));
  CHECK_FALSE(sc.known_folders_complete("t1", "s1"));
  CHECK(sc.known_complete("m2", "s2"));

  // Two stamps in one flush (the cache changed between two records): both stay.
  sc.record_complete("m3", "s3");
  sc.record_complete("m4", "s4");
  sc.flush();
  CHECK(rows() == 2);
  CHECK(sc.known_complete("m3", "s3"));
  CHECK(sc.known_complete("m4", "s4"));

  // A flush that records nothing complete leaves the rows alone.
  sc.record("d/a", StatKey{1, 1'000'000'000, 1}, "h", false, 100'000'000'000);
  sc.flush();
  CHECK(rows() == 2);
}

TEST_CASE("stat cache writes a long queue early, but never ahead of a queued forget") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  StatCache sc(repo.index());
  auto rows = [&] { return table_rows(repo, "data_stat"); };
  const std::int64_t later = 100'000'000'000;
  const int n = 40000;  // over the queue's bound (16,384 rows)
  for (int i = 0; i < n; ++i) sc.record("d/" + std::to_string(i), StatKey{1, 1'000'000'000, 1}, "h", false, later);
  const std::int64_t early = rows();
  CHECK(early > 0);
  CHECK(early < n);
  sc.flush();
  CHECK(rows() == n);

  // A queued forget of d must run before rows recorded after it: none go early.
  sc.forget("d");
  for (int i = 0; i < n; ++i) sc.record("d/" + std::to_string(i), StatKey{2, 1'000'000'000, 1}, "h2", false, later);
  CHECK(rows() == n);  // the old rows, untouched until flush
  sc.flush();
  CHECK(rows() == n);
  CHECK(sc.lookup("d/7", StatKey{2, 1'000'000'000, 1})->sha256 == "h2");
}

TEST_CASE("add, status, commit and checkout through the library") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  Cwd cwd(tmp / "r");
  test::write(tmp / "r/ds/a.txt", "alpha");
  test::write(tmp / "r/ds/sub/b.txt", "beta");
  test::write(tmp / "r/one.csv", "1,2\n");
  for (auto p : {"ds/a.txt", "ds/sub/b.txt", "one.csv"}) age(tmp / "r" / p);

  auto added = data_add(repo, {"ds", "one.csv"});
  REQUIRE(added.size() == 2);
  CHECK(added[0].result.type == EntryType::dir);
  CHECK(added[0].result.files == 2);
  CHECK(added[0].result.size == 9);
  CHECK(added[1].result.sha256 == sha256_hex("1,2\n"));
  CHECK(repo.git().is_tracked("ds.mlo"));
  CHECK(repo.git().is_tracked(".gitignore"));
  CHECK(repo.git().is_ignored("ds/a.txt"));
  // The root tree, the tree of ds/sub and the two files.
  CHECK(read_pointer(repo, "ds.mlo").version == 2);
  CHECK(objects_of(repo, read_pointer(repo, "ds.mlo")).size() == 4);
  // Re-adding reads nothing: the stat cache knows every file.
  auto again = data_add(repo, {"ds"});
  CHECK(again[0].hashed == 0);
  CHECK_FALSE(again[0].changed);
  CHECK(data_status(repo).clean());

  test::write(tmp / "r/ds/a.txt", "ALPHA");
  test::write(tmp / "r/ds/new.txt", "new");
  fs::remove(tmp / "r/ds/sub/b.txt");
  StatusResult st = data_status(repo);
  REQUIRE(st.entries.size() == 2);
  const EntryStatus& e = st.entries[0];
  CHECK(e.state == DataState::modified);
  REQUIRE(e.added.size() == 1);
  CHECK(e.added[0].path == "ds/new.txt");
  REQUIRE(e.removed.size() == 1);
  CHECK(e.removed[0].path == "ds/sub/b.txt");
  REQUIRE(e.modified.size() == 1);
  CHECK(e.modified[0].path == "ds/a.txt");
  CHECK(st.entries[1].clean());

  // Checkout refuses to drop the unsaved edits, --force discards them.
  CHECK_THROWS_AS(data_checkout(repo, {}), InputError);
  CHECK(read_file(tmp / "r/ds/a.txt") == "ALPHA");
  CheckoutOptions force;
  force.force = true;
  CheckoutResult r = data_checkout(repo, {"ds"}, force);
  CHECK(r.removed == std::vector<std::string>{"ds/new.txt"});
  CHECK(read_file(tmp / "r/ds/a.txt") == "alpha");
  CHECK(read_file(tmp / "r/ds/sub/b.txt") == "beta");
  CHECK(data_status(repo).clean());

  // commit records a change; diff against the staged-but-uncommitted state.
  test::write(tmp / "r/one.csv", "1,2\n3,4\n");
  auto committed = data_commit(repo, {});
  REQUIRE(committed.size() == 1);
  CHECK(committed[0].path == "one.csv");
  CHECK(data_status(repo).clean());
  DiffResult d = data_diff(repo, "", "");  // no commits yet: everything is added
  CHECK(d.added.size() == 3);

  // rm keeps the data and unignores it.
  auto removed = data_rm(repo, {"one.csv"});
  CHECK_FALSE(removed[0].data_removed);
  CHECK(fs::exists(tmp / "r/one.csv"));
  CHECK_FALSE(fs::exists(tmp / "r/one.csv.mlo"));
  CHECK_FALSE(repo.git().is_ignored("one.csv"));
}

TEST_CASE("status answers an unchanged folder from its stat fingerprint, and sees every change") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  Cwd cwd(tmp / "r");
  for (auto p : {"ds/a.txt", "ds/sub/b.txt"}) {
    test::write(tmp / "r" / p, std::string("content of ") + p);
    age(tmp / "r" / p);
  }
  data_add(repo, {"ds"});
  for (auto d : {"ds", "ds/sub"}) age(tmp / "r" / d);  // folders old enough to remember their listings
  CHECK(data_status(repo).clean());  // records the folder's fingerprint and listings
  auto listing_rows = repo.index().prepare("SELECT count(*) FROM data_dirs WHERE path IN ('ds', 'ds/sub')");
  REQUIRE(listing_rows.step());
  CHECK(listing_rows.int64(0) == 2);
  auto recorded = [&] {
    auto st = repo.index().prepare("SELECT hash FROM data_tree WHERE path = 'ds'");
    return st.step() ? st.text(0) : std::string();
  };
  const std::string pointer_hash = read_pointer(repo, "ds.mlo").sha256;
  CHECK(recorded() == pointer_hash);
  CHECK(data_status(repo).clean());  // answered from the fingerprint

  // A wrong recorded hash is never trusted over the files.
  repo.index().exec("UPDATE data_tree SET hash = 'bogus'");
  CHECK(data_status(repo).clean());

  // Every kind of change alters the fingerprint.
  test::write(tmp / "r/ds/a.txt", "edited, same folder");
  age(tmp / "r/ds/a.txt");
  StatusResult st = data_status(repo);
  REQUIRE(st.entries.size() == 1);
  CHECK(st.entries[0].modified.size() == 1);
  test::write(tmp / "r/ds/a.txt", "content of ds/a.txt");
  age(tmp / "r/ds/a.txt");
  CHECK(data_status(repo).clean());
  test::write(tmp / "r/ds/sub/new.txt", "new");
  age(tmp / "r/ds/sub/new.txt");
  st = data_status(repo);
  REQUIRE(st.entries.size() == 1);
  CHECK(st.entries[0].added.size() == 1);
  fs::remove(tmp / "r/ds/sub/new.txt");
  fs::permissions(tmp / "r/ds/sub/b.txt", fs::perms::owner_exec, fs::perm_options::add);
  CHECK_FALSE(data_status(repo).clean());
}

TEST_CASE("status keeps no files of folders as recorded, and brings them back from their rows") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  Cwd cwd(tmp / "r");
  for (auto p : {"ds/top.txt", "ds/a/1.txt", "ds/a/2.txt", "ds/b/1.txt", "ds/b/x/deep.txt"})
    write_aged(tmp / "r" / p, std::string("content of ") + p);
  data_add(repo, {"ds"});
  CHECK(data_status(repo).clean());  // a full scan: records each folder's digest
  StatCache sc(repo.index());
  const FolderDigests recorded = sc.folder_digests("ds");
  CHECK(recorded.size() == 4);  // ds, ds/a, ds/b, ds/b/x

  // A full scan and a scan that drops the unchanged folders agree.
  const FolderDigests none;
  WorkTree full = scan_tree(tmp / "r", "ds", nullptr, &none);  // digests taken, nothing dropped
  CHECK_FALSE(full.partial());
  fill_from_stat_cache(sc, full);
  WorkTree lean = scan_tree(tmp / "r", "ds", nullptr, &recorded);
  CHECK(lean.files.empty());
  CHECK(lean.partial());
  CHECK(lean.stat_fingerprint() == full.stat_fingerprint());
  REQUIRE(fill_and_restore(sc, lean));
  CHECK_FALSE(lean.partial());
  REQUIRE(lean.files.size() == full.files.size());
  for (std::size_t i = 0; i < full.files.size(); ++i) {
    CHECK(lean.files[i].rel() == full.files[i].rel());
    CHECK(lean.files[i].sha256() == full.files[i].sha256());
    CHECK(lean.files[i].key == full.files[i].key);
  }
  CHECK(lean.content_hash() == read_pointer(repo, "ds.mlo").sha256);

  // One changed folder: only its files stay in the scan; status sees the change.
  test::write(tmp / "r/ds/a/2.txt", "edited");
  age(tmp / "r/ds/a/2.txt");
  WorkTree one = scan_tree(tmp / "r", "ds", nullptr, &recorded);
  CHECK(one.files.size() == 2);
  StatusResult st = data_status(repo);
  REQUIRE(st.entries.size() == 1);
  REQUIRE(st.entries[0].modified.size() == 1);
  CHECK(st.entries[0].modified[0].path == "ds/a/2.txt");
  test::write(tmp / "r/ds/a/2.txt", "content of ds/a/2.txt");
  age(tmp / "r/ds/a/2.txt");
  CHECK(data_status(repo).clean());
  // A mode change in a folder whose files are otherwise as recorded is seen.
  fs::permissions(tmp / "r/ds/b/x/deep.txt", fs::perms::owner_exec, fs::perm_options::add);
  CHECK_FALSE(data_status(repo).clean());
  fs::permissions(tmp / "r/ds/b/x/deep.txt", fs::perms::owner_exec, fs::perm_options::remove);
  CHECK(data_status(repo).clean());

  // A row that lies about a dropped folder (a file that is not there) is
  // never trusted: nothing comes back. When status needs the files (here
  // for a change below it) it scans again in full, and deletes the row.
  sc.record("ds/b/ghost.txt", StatKey{1, 1'000'000'000, 3}, std::string(64, 'a'), false, 100'000'000'000);
  sc.flush();
  const FolderDigests now = sc.folder_digests("ds");
  WorkTree lied = scan_tree(tmp / "r", "ds", nullptr, &now);
  CHECK_FALSE(fill_and_restore(sc, lied));
  CHECK(lied.files.empty());
  CHECK(data_status(repo).clean());  // from the fingerprint: no row read
  write_aged(tmp / "r/ds/b/x/deep.txt", "edited");
  st = data_status(repo);
  REQUIRE(st.entries.size() == 1);
  REQUIRE(st.entries[0].modified.size() == 1);
  CHECK(st.entries[0].modified[0].path == "ds/b/x/deep.txt");
  CHECK(st.entries[0].added.empty());
  CHECK(count_rows(repo, "SELECT count(*) FROM data_stat WHERE path = 'ds/b/ghost.txt'") == 0);
  write_aged(tmp / "r/ds/b/x/deep.txt", "content of ds/b/x/deep.txt");
  CHECK(data_status(repo).clean());
  WorkTree honest = scan_tree(tmp / "r", "ds", nullptr, &now);
  CHECK(fill_and_restore(sc, honest));
}

TEST_CASE("a checkout from nothing records each folder as a status scan would: the next status drops them all") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  Cwd cwd(tmp / "r");
  // "x.csv" sorts before the folder "x" ("x/"); "deep" holds only a folder.
  for (auto p : {"ds/top.txt", "ds/x.csv", "ds/x/1.txt", "ds/x/2.txt", "ds/x/y/3.txt", "ds/x/z.txt",
                 "ds/deep/only/4.txt", "ds/run.sh"})
    write_aged(tmp / "r" / p, std::string("content of ") + p);
  fs::permissions(tmp / "r/ds/run.sh", fs::perms::owner_exec, fs::perm_options::add);
  data_add(repo, {"ds"});
  const std::string hash = read_pointer(repo, "ds.mlo").sha256;
  fs::remove_all(tmp / "r/ds");
  data_checkout(repo, {"ds"});

  // What the checkout recorded is what a scan of the written folder finds.
  StatCache sc(repo.index());
  const FolderDigests recorded = sc.folder_digests("ds");
  const FolderDigests none;
  WorkTree full = scan_tree(tmp / "r", "ds", nullptr, &none);
  REQUIRE(full.folders.size() == 5);  // ds itself, deep, deep/only, x, x/y
  CHECK(recorded.size() == full.folders.size());
  for (const auto& d : full.folders) {
    auto r = recorded.find(d.prefix);
    REQUIRE(r != recorded.end());
    CHECK(r->second == d.digest);
  }
  CHECK(sc.tree_hash("ds", full.stat_fingerprint()) == hash);
  // So a status holds no file: every folder is dropped, its hash known.
  WorkTree lean = scan_tree(tmp / "r", "ds", nullptr, &recorded);
  CHECK(lean.files.empty());
  CHECK(data_status(repo).clean());

  // The walk out of path order, or a file that is not a regular one: nothing is recorded.
  struct stat st {};
  REQUIRE(::stat((tmp / "r/ds/top.txt").c_str(), &st) == 0);
  WrittenTree backwards;
  backwards.add("b/1", st);
  backwards.add("a/1", st);
  CHECK_FALSE(backwards.record(sc, "other", hash, clock_now_ns()));
  WrittenTree linked;
  linked.add("a/1", st);
  linked.add("a/2", std::nullopt);
  CHECK_FALSE(linked.record(sc, "other", hash, clock_now_ns()));
  WrittenTree fine;
  fine.add("a/1", st);
  CHECK(fine.record(sc, "other", hash, clock_now_ns() + 1'000'000'000));
}

TEST_CASE("diff keeps a folder one side lacks whole and lists its files, in path order, as it walks them") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  Cwd cwd(tmp / "r");
  for (auto p : {"ds/a/1.txt", "ds/b/x/3.txt", "ds/b/2.txt", "ds/c.txt"}) write_aged(tmp / "r" / p, p);
  write_aged(tmp / "r/ds.csv", "beside");
  data_add(repo, {"ds", "ds.csv"});
  REQUIRE(test::sh(tmp / "r", "git add -A && git commit -qm one") == 0);
  fs::remove_all(tmp / "r/ds/b");
  write_aged(tmp / "r/ds/a/new.txt", "new");
  data_add(repo, {"ds"});
  REQUIRE(test::sh(tmp / "r", "git add -A && git commit -qm two") == 0);
  auto listed = [&](const DiffResult& d, ChangeKind kind) {
    std::vector<std::string> paths;
    for_each_change(repo, d, kind, [&](const FileChange& c) { paths.push_back(c.path); });
    return paths;
  };

  // A subfolder that went: kept whole (not in `deleted`), walked when listed.
  DiffResult d = data_diff(repo, "HEAD~1", "HEAD");
  REQUIRE(d.whole.size() == 1);
  CHECK(d.whole[0].path == "ds/b");
  CHECK_FALSE(d.whole[0].added);
  CHECK(d.deleted.empty());
  CHECK(listed(d, ChangeKind::deleted) == std::vector<std::string>{"ds/b/2.txt", "ds/b/x/3.txt"});
  CHECK(listed(d, ChangeKind::added) == std::vector<std::string>{"ds/a/new.txt"});
  CHECK(listed(d, ChangeKind::modified).empty());

  // A tracked folder the work tree lacks: whole, merged in path order with a
  // file beside it ("ds.csv" sorts before "ds/").
  fs::remove_all(tmp / "r/ds");
  fs::remove(tmp / "r/ds.csv");
  d = data_diff(repo, "", "");
  REQUIRE(d.whole.size() == 1);
  CHECK(d.whole[0].path == "ds");
  CHECK(listed(d, ChangeKind::deleted) ==
        std::vector<std::string>{"ds.csv", "ds/a/1.txt", "ds/a/new.txt", "ds/c.txt"});
}

TEST_CASE("status with a change builds only the changed folders; the others stand in by their objects") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  Cwd cwd(tmp / "r");
  auto count = [&](const std::string& sql) { return count_rows(repo, sql); };
  for (auto p : {"ds/top.txt", "ds/a/1.txt", "ds/a/2.txt", "ds/b/1.txt", "ds/b/x/deep.txt", "ds/c/y/z/deep.txt"})
    write_aged(tmp / "r" / p, std::string("content of ") + p);
  data_add(repo, {"ds"});
  // Each subfolder's object is recorded under its fingerprint.
  CHECK(count("SELECT count(*) FROM data_tree WHERE path > 'ds/' AND path < 'ds0' "
              "AND fingerprint LIKE 'subtree:%'") == 6);  // a, b, b/x, c, c/y, c/y/z
  CHECK(data_status(repo).clean());
  CHECK(data_status(repo).clean());  // the first may not trust a cache folder changed this tick
  const std::string recorded_root = read_pointer(repo, "ds.mlo").sha256;

  write_aged(tmp / "r/ds/b/x/deep.txt", "edited");
  StatCache sc(repo.index());
  const FolderDigests recorded = sc.folder_digests("ds");
  WorkTree lean = scan_tree(tmp / "r", "ds", nullptr, &recorded);
  REQUIRE(restore_outside_known_subtrees(sc, repo.cache(), lean) == SubtreeRestore::restored);
  std::vector<std::string> known, files;
  for (const auto& s : lean.subtrees) known.push_back(s.prefix);
  for (const auto& f : lean.files) files.emplace_back(f.rel());
  CHECK(known == std::vector<std::string>{"a", "c"});
  CHECK(files == std::vector<std::string>{"b/1.txt", "b/x/deep.txt", "top.txt"});
  hash_missing(sc, {&lean}, 1);
  const FolderDigests none;
  WorkTree full = scan_tree(tmp / "r", "ds", nullptr, &none);
  REQUIRE(fill_and_restore(sc, full));
  hash_missing(sc, {&full}, 1);
  CHECK(lean.content_hash() == full.content_hash());
  CHECK(lean.total_size() == full.total_size());
  CHECK(lean.content_hash() != recorded_root);
  CHECK_THROWS(lean.manifest());  // a flat list would lack the known subfolders' files

  StatusResult st = data_status(repo);
  REQUIRE(st.entries.size() == 1);
  CHECK(st.entries[0].state == DataState::modified);
  REQUIRE(st.entries[0].modified.size() == 1);
  CHECK(st.entries[0].modified[0].path == "ds/b/x/deep.txt");
  CHECK(st.entries[0].added.empty());
  CHECK(st.entries[0].removed.empty());
  CHECK(st.entries[0].in_cache);

  // A subfolder whose object left the cache is built from its files.
  const std::string a_hash = [&] {
    auto row = repo.index().prepare("SELECT hash FROM data_tree WHERE path = 'ds/a'");
    REQUIRE(row.step());
    return row.text(0);
  }();
  const fs::path a_object = repo.cache().object_path(a_hash);
  std::ifstream in(a_object, std::ios::binary);
  const std::string a_bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE_FALSE(a_bytes.empty());
  fs::permissions(a_object.parent_path(), fs::perms::owner_write, fs::perm_options::add);
  fs::remove(a_object);
  WorkTree without_a = scan_tree(tmp / "r", "ds", nullptr, &recorded);
  REQUIRE(restore_outside_known_subtrees(sc, repo.cache(), without_a) == SubtreeRestore::restored);
  CHECK(without_a.subtrees.size() == 1);
  CHECK(without_a.files.size() == 5);  // a's two files too
  repo.cache().add_bytes(a_bytes, /*durable=*/false);

  // A row that lies about a folder outside the known subfolders is never
  // trusted: status scans again in full, answers right, and deletes it. One
  // inside a known subfolder is not read at all.
  sc.record("ds/b/ghost.txt", StatKey{1, 1'000'000'000, 3}, std::string(64, 'a'), false, 100'000'000'000);
  sc.record("ds/a/ghost.txt", StatKey{1, 1'000'000'000, 3}, std::string(64, 'a'), false, 100'000'000'000);
  sc.flush();
  write_aged(tmp / "r/ds/top.txt", "edited");
  WorkTree lied = scan_tree(tmp / "r", "ds", nullptr, &recorded);
  CHECK(restore_outside_known_subtrees(sc, repo.cache(), lied) == SubtreeRestore::rows_changed);
  st = data_status(repo);
  REQUIRE(st.entries.size() == 1);
  REQUIRE(st.entries[0].modified.size() == 2);
  CHECK(st.entries[0].modified[0].path == "ds/b/x/deep.txt");
  CHECK(st.entries[0].modified[1].path == "ds/top.txt");
  CHECK(st.entries[0].added.empty());
  CHECK(count("SELECT count(*) FROM data_stat WHERE path = 'ds/b/ghost.txt'") == 0);

  // Back as recorded: clean, from the known subfolders again.
  write_aged(tmp / "r/ds/top.txt", "content of ds/top.txt");
  write_aged(tmp / "r/ds/b/x/deep.txt", "content of ds/b/x/deep.txt");
  CHECK(data_status(repo).clean());
  CHECK(data_status(repo).clean());
}

TEST_CASE("a re-add after a change holds only the changed folders, where the old tree vouches for the rest") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  Cwd cwd(tmp / "r");
  for (auto p : {"ds/top.txt", "ds/a/1.txt", "ds/a/2.txt", "ds/b/1.txt", "ds/b/x/deep.txt", "ds/c/y/z/deep.txt"})
    write_aged(tmp / "r" / p, std::string("content of ") + p);
  // The tree a full scan of the workspace gives.
  auto full_hash = [&] {
    StatCache sc(repo.index());
    const FolderDigests none;
    WorkTree full = scan_tree(tmp / "r", "ds", nullptr, &none);
    REQUIRE(fill_and_restore(sc, full));
    hash_missing(sc, {&full}, 1);
    return full.content_hash();
  };
  data_add(repo, {"ds"});
  const std::string first = read_file(tmp / "r/ds.mlo");
  CHECK(data_status(repo).clean());
  CHECK(data_status(repo).clean());  // found complete

  write_aged(tmp / "r/ds/a/1.txt", "edited");
  std::vector<AddedEntry> added = data_add(repo, {"ds"});
  REQUIRE(added.size() == 1);
  CHECK(added[0].result.sha256 == full_hash());
  CHECK(added[0].result.files == 6);  // the known subfolders' files count too
  std::uint64_t bytes = 0;
  for (const auto& f : fs::recursive_directory_iterator(tmp / "r/ds"))
    if (f.is_regular_file()) bytes += f.file_size();
  CHECK(added[0].result.size == bytes);
  CHECK(added[0].hashed == 1);
  CHECK(added[0].manifests_written == 2);  // ds/a and the root
  CHECK(data_status(repo).clean());

  // The old pointer back, with ds/a as just added: ds/a's object is in the
  // cache but not in the old tree, so it cannot stand in; a full scan does.
  write_file_atomic(tmp / "r/ds.mlo", first);
  CHECK(data_status(repo).entries.at(0).state == DataState::modified);
  CHECK(data_status(repo).entries.at(0).in_cache);  // found complete again
  write_aged(tmp / "r/ds/c/y/z/deep.txt", "edited");
  added = data_add(repo, {"ds"});
  REQUIRE(added.size() == 1);
  CHECK(added[0].result.sha256 == full_hash());
  CHECK(added[0].result.files == 6);
  CHECK(data_status(repo).clean());
}

TEST_CASE("add records what the next status needs to answer from the folders' stats alone") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  Cwd cwd(tmp / "r");
  auto count = [&](const std::string& sql) { return count_rows(repo, sql); };
  // 1,000 files: large enough for add to record the objects complete.
  for (int i = 0; i < 1000; ++i)
    write_aged(tmp / "r/big" / (i % 2 ? "a" : "b") / ("f" + std::to_string(i)), "file " + std::to_string(i));
  data_add(repo, {"big"});
  const std::string hash = read_pointer(repo, "big.mlo").sha256;
  CHECK(count("SELECT count(*) FROM data_folders WHERE path IN ('big', 'big/a', 'big/b')") == 3);
  CHECK(count("SELECT count(*) FROM data_tree WHERE path = 'big' AND hash = '" + hash + "'") == 1);
  CHECK(count("SELECT count(*) FROM data_complete WHERE manifest = '" + hash + "'") == 1);
  // A row that lies about a folder is never read when status answers from
  // the fingerprint: it stays. (A status that read the rows would delete it.)
  StatCache sc(repo.index());
  sc.record("big/a/ghost", StatKey{1, 1'000'000'000, 3}, std::string(64, 'a'), false, 100'000'000'000);
  sc.flush();
  CHECK(data_status(repo).clean());
  CHECK(count("SELECT count(*) FROM data_stat WHERE path = 'big/a/ghost'") == 1);

  // A small folder gets its fingerprint, not the completeness: its first
  // status checks its objects, then records them complete.
  test::write(tmp / "r/small/x.txt", "x");
  age(tmp / "r/small/x.txt");
  data_add(repo, {"small"});
  const std::string small = read_pointer(repo, "small.mlo").sha256;
  CHECK(count("SELECT count(*) FROM data_tree WHERE path = 'small' AND hash = '" + small + "'") == 1);
  CHECK(count("SELECT count(*) FROM data_complete WHERE manifest = '" + small + "'") == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the cache's folders settle (objects_stamp)
  CHECK(data_status(repo).clean());
  CHECK(count("SELECT count(*) FROM data_complete WHERE manifest = '" + small + "'") == 1);
}

TEST_CASE("add refuses bad paths before writing anything") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  Cwd cwd(tmp / "r");
  test::write(tmp / "r/ok.txt", "ok");
  CHECK_THROWS_AS(data_add(repo, {"ok.txt", "missing.txt"}), InputError);
  CHECK_FALSE(fs::exists(tmp / "r/ok.txt.mlo"));
  CHECK_THROWS_AS(data_add(repo, {".mlo/config.yaml"}), InputError);
  CHECK_THROWS_AS(data_add(repo, {"."}), InputError);
  CHECK_THROWS_AS(data_add(repo, {}), UsageError);
}

// ---- checkout plan (pure: no file system) ----------------------------------


namespace {
// A file of `tree` (its path kept in the tree's pool).
WorkFile work_file(WorkTree& tree, const std::string& rel, const std::string& content) {
  WorkFile f;
  f.set_rel(tree.paths->keep(rel));
  f.set_sha256(sha256_hex(content));
  return f;
}
}  // namespace

TEST_CASE("a scanned file keeps its hash as raw bytes, and a damaged hash as unknown") {
  WorkFile f;
  CHECK_FALSE(f.hash_known);
  CHECK(f.sha256().empty());
  const std::string hex = sha256_hex("content");
  f.set_sha256(hex);
  CHECK(f.hash_known);
  CHECK(f.sha256() == hex);
  f.set_sha256("not a hash");  // e.g. a stat cache row damaged by hand
  CHECK_FALSE(f.hash_known);
  CHECK(f.sha256().empty());
  f.set_sha256(std::string(64, 'A'));  // upper case is not a name mlo writes
  CHECK_FALSE(f.hash_known);
}

TEST_CASE("a scan's paths live in its pool: views stay valid as blocks fill and the tree is copied or moved") {
  WorkTree tree;
  std::vector<std::string> expected;
  // 64 KiB blocks: 20,000 paths of ~20 bytes fill several; one path longer
  // than a block gets a block of its own.
  for (int i = 0; i < 20000; ++i) {
    expected.push_back("g" + std::to_string(i % 7) + "/f" + std::to_string(i) + ".bin");
    if (i == 9000) expected.back() = std::string(70000, 'x');
    const std::string& path = expected.back();
    const std::size_t slash = path.find('/');
    WorkFile f;
    // Every other path kept as folder and name, as a scan keeps them.
    f.set_rel(i % 2 || slash == std::string::npos ? tree.paths->keep(path)
                                                  : tree.paths->keep_joined(std::string_view(path).substr(0, slash),
                                                                            std::string_view(path).substr(slash + 1)));
    tree.files.push_back(f);
  }
  CHECK(tree.paths->keep("").empty());  // a tracked file's own path
  CHECK(WorkTree().paths->keep("").empty());  // before any block
  CHECK(tree.paths->keep_joined("", "name") == "name");
  CHECK(tree.paths->keep_joined("a/b", "c") == "a/b/c");
  WorkTree copy = tree;
  WorkTree moved = std::move(tree);
  tree = WorkTree();  // the original's pool is gone from it; the copies share theirs
  std::size_t same = 0;
  for (std::size_t i = 0; i < expected.size(); ++i)
    same += copy.files[i].rel() == expected[i] && moved.files[i].rel() == expected[i];
  CHECK(same == expected.size());
  CHECK(WorkFile().rel().empty());

  // Rewinding forgets only what came after the mark, across blocks too.
  PathPool pool;
  const std::string_view first = pool.keep("kept/before.bin");
  for (int round = 0; round < 3; ++round) {
    const PathPool::Mark m = pool.mark();
    for (int i = 0; i < 5000; ++i) pool.keep_joined("dropped/folder", "file" + std::to_string(i));  // > 64 KiB
    pool.rewind(m);
  }
  const std::string_view after = pool.keep("kept/after.bin");
  CHECK(first == "kept/before.bin");
  CHECK(after == "kept/after.bin");
  CHECK(after.data() == first.data() + first.size());  // the dropped paths' room is used again
}

TEST_CASE("plan_checkout writes what differs, removes what is not wanted, keeps what matches") {
  CheckoutTarget target{"data", EntryType::dir, {}};
  target.want.emplace_back("a", wanted_file(sha256_hex("A"), false, "test"));
  target.want.emplace_back("sub/b", wanted_file(sha256_hex("B2"), true, "test"));
  target.want.emplace_back("new", wanted_file(sha256_hex("N"), false, "test"));
  WorkTree tree;
  tree.data_rel = "data";
  tree.exists = true;
  tree.type = EntryType::dir;
  tree.files = {work_file(tree, "a", "A"), work_file(tree, "old", "O"), work_file(tree, "sub/b", "B1")};
  tree.stale_temps = {".x.tmp.1.0"};
  CheckoutPlan plan = plan_checkout({target}, {&tree}, [](const std::string&) { return true; });
  REQUIRE(plan.entries.size() == 1);
  const EntryPlan& e = plan.entries[0];
  CHECK(plan.unchanged == 1);
  CHECK(plan.conflicts.empty());
  CHECK_FALSE(e.replace_whole);
  REQUIRE(e.write.size() == 2);
  CHECK(e.write[0].first == "new");
  CHECK(e.write[1].first == "sub/b");
  CHECK(e.write[1].second.executable);
  CHECK_FALSE(e.write[0].second.replaces);  // new: linked in from an unnamed file
  CHECK(e.write[1].second.replaces);        // stands there: staged and renamed over
  CHECK(e.remove == std::vector<std::string>{"old"});
  CHECK(e.stale_temps == std::vector<std::string>{".x.tmp.1.0"});
  CHECK(e.write[0].second.sha256() == sha256_hex("N"));

  // Unsorted, with a rel given twice: the later entry wins, as an assignment would.
  CheckoutTarget twice{"data", EntryType::dir, {}};
  twice.want.emplace_back("sub/b", wanted_file(sha256_hex("B1"), false, "test"));
  twice.want.emplace_back("a", wanted_file(sha256_hex("X"), false, "test"));
  twice.want.emplace_back("sub/b", wanted_file(sha256_hex("B3"), false, "test"));
  twice.want.emplace_back("a", wanted_file(sha256_hex("A"), false, "test"));
  CheckoutPlan p2 = plan_checkout({twice}, {&tree}, [](const std::string&) { return true; });
  CHECK(p2.unchanged == 1);  // a
  REQUIRE(p2.entries[0].write.size() == 1);
  CHECK(p2.entries[0].write[0].first == "sub/b");
  CHECK(p2.entries[0].write[0].second.sha256() == sha256_hex("B3"));
  CHECK(p2.entries[0].remove == std::vector<std::string>{"old"});
}

TEST_CASE("plan_checkout lists unsaved changes as conflicts and replaces a file that became a folder") {
  CheckoutTarget target{"data", EntryType::dir, {}};
  target.want.emplace_back("a", wanted_file(sha256_hex("A"), false, "test"));
  WorkTree tree;
  tree.data_rel = "data";
  tree.exists = true;
  tree.type = EntryType::file;
  tree.files = {work_file(tree, "", "edited")};
  auto nothing_saved = [](const std::string&) { return false; };
  CheckoutPlan plan = plan_checkout({target}, {&tree}, nothing_saved);
  CHECK(plan.entries[0].replace_whole);
  CHECK(plan.conflicts == std::vector<std::string>{"data"});
  // An edited file inside a folder, and an unwanted unsaved one.
  tree.type = EntryType::dir;
  tree.files = {work_file(tree, "a", "edited"), work_file(tree, "extra", "x")};
  plan = plan_checkout({target}, {&tree}, nothing_saved);
  CHECK_FALSE(plan.entries[0].replace_whole);
  CHECK(plan.conflicts == std::vector<std::string>{"data/a", "data/extra"});
  // An empty tracked folder that is missing: made, nothing else.
  CheckoutTarget empty{"e", EntryType::dir, {}};
  WorkTree missing;
  missing.data_rel = "e";
  plan = plan_checkout({empty}, {&missing}, nothing_saved);
  CHECK(plan.entries[0].make_empty_dir);
  CHECK(plan.entries[0].write.empty());
  CHECK(plan.conflicts.empty());
}

TEST_CASE("scans leave out temp files of killed processes") {
  test::TempDir tmp;
  test::write(tmp / "d/a.txt", "a");
  // pid 2^22+1 is above Linux's pid_max limit, so no such process exists.
  test::write(tmp / "d/.a.txt.tmp.4194305.0", "partial");
  test::write(tmp / "d/.keep.tmp.x.0", "not a temp name");
  WorkTree t = scan_tree(tmp.path(), "d");
  REQUIRE(t.files.size() == 2);
  CHECK(t.files[0].rel() == ".keep.tmp.x.0");
  CHECK(t.files[1].rel() == "a.txt");
  CHECK(t.stale_temps == std::vector<std::string>{".a.txt.tmp.4194305.0"});
  CHECK(is_stale_temp_name(".a.tmp.4194305.12"));
  CHECK_FALSE(is_stale_temp_name(".a.tmp." + std::to_string(::getpid()) + ".0"));
  CHECK_FALSE(is_stale_temp_name("a.tmp.4194305.0"));
}

TEST_CASE("a scan over several stat groups lists every file once, sorted, and remembers every listing") {
  test::TempDir tmp;
  // Two folders of 0.6 groups each on one level: the level is taken in two groups.
  const std::size_t per_folder = kScanGroupNames * 6 / 10;
  std::vector<std::string> expected;
  for (const char* dir : {"b", "a/x", "a/y"}) {
    fs::create_directories(tmp / "d" / dir);
    for (std::size_t i = 0; i < (dir[0] == 'a' ? per_folder : 3); ++i) {
      std::string rel = std::string(dir) + "/f" + std::to_string(i);
      std::ofstream(tmp / "d" / rel) << i;
      expected.push_back(rel);
    }
  }
  test::write(tmp / "d/a/y/.f.tmp.4194305.0", "partial");
  test::write(tmp / "d/top.txt", "top");
  expected.push_back("top.txt");
  // A level wider than kScanGroupFolders: its folders are opened group by group.
  std::vector<std::string> wide{"c"};
  for (std::size_t i = 0; i < kScanGroupFolders + 44; ++i) {
    std::string rel = "c/" + std::to_string(1000 + i) + "/one";
    test::write(tmp / "d" / rel, "1");
    expected.push_back(rel);
    wide.push_back("c/" + std::to_string(1000 + i));
  }
  std::sort(expected.begin(), expected.end());
  for (const char* dir : {"", "a", "a/x", "a/y", "b"}) age(tmp / "d" / dir);
  for (const auto& dir : wide) age(tmp / "d" / dir);

  DirListings listings;
  const FolderDigests none;  // digests taken, nothing dropped
  WorkTree t = scan_tree(tmp.path(), "d", &listings, &none);
  std::vector<std::string> got;
  for (const auto& f : t.files) got.emplace_back(f.rel());
  CHECK(got == expected);
  CHECK(t.stale_temps == std::vector<std::string>{"a/y/.f.tmp.4194305.0"});
  std::vector<std::string> read;
  for (const auto& [rel, listing] : listings.read) read.push_back(rel);
  std::sort(read.begin(), read.end());
  std::vector<std::string> all_dirs{"", "a", "a/x", "a/y", "b"};
  all_dirs.insert(all_dirs.end(), wide.begin(), wide.end());
  std::sort(all_dirs.begin(), all_dirs.end());
  CHECK(read == all_dirs);
  for (const auto& [rel, listing] : listings.read)
    if (rel == "a/x") CHECK(std::count(listing.names.begin(), listing.names.end(), '\0') == per_folder);

  // The remembered listings answer a second scan without readdir, the same way.
  std::map<std::string, DirListing> remembered;
  for (auto& [rel, listing] : listings.read) remembered[rel] = std::move(listing);
  listings.read.clear();
  listings.find = [&](const std::string& rel) -> std::optional<DirListing> {
    auto it = remembered.find(rel);
    return it == remembered.end() ? std::nullopt : std::optional<DirListing>(it->second);
  };
  WorkTree again = scan_tree(tmp.path(), "d", &listings);
  CHECK(listings.read.empty());
  REQUIRE(again.files.size() == t.files.size());
  std::size_t same = 0;
  for (std::size_t i = 0; i < t.files.size(); ++i)
    same += again.files[i].rel() == t.files[i].rel() && again.files[i].key == t.files[i].key;
  CHECK(same == t.files.size());
  CHECK(again.stale_temps == t.stale_temps);

  // With every folder's digest as recorded, a scan drops every file; the
  // listings are asked for chunk by chunk (the wide level is two chunks).
  FolderDigests recorded;
  for (const auto& d : t.folders) recorded[d.prefix] = d.digest;
  CHECK(t.folders.size() == all_dirs.size());
  std::size_t asked = 0;
  auto find = listings.find;
  listings.find = [&](const std::string& rel) {
    ++asked;
    return find(rel);
  };
  WorkTree lean = scan_tree(tmp.path(), "d", &listings, &recorded);
  CHECK(lean.files.empty());
  CHECK(asked == all_dirs.size());
  CHECK(listings.read.empty());
  CHECK(lean.stat_fingerprint() == t.stat_fingerprint());
  CHECK(lean.stale_temps == t.stale_temps);
  std::size_t counted = 0;
  for (const auto& d : lean.folders) counted += d.dropped ? d.files : 0;
  CHECK(counted == t.files.size());
}

TEST_CASE("stage outputs: status against the recorded hash, checkout restores, keeps unsaved edits") {
  test::TempDir tmp;
  Repo repo = make_repo(tmp);
  Cwd cwd(tmp / "r");
  Cache& cache = repo.cache();
  std::string v1 = cache.add_bytes("model v1\n"), v2 = cache.add_bytes("model v2\n");
  test::write(tmp / "r/out/model.bin", "model v2\n");
  age(tmp / "r/out/model.bin");
  std::vector<TrackedOutput> outs = {{"out/model.bin", EntryType::file, v2, "train"}};
  StatusResult st = data_status(repo, {}, outs);
  REQUIRE(st.entries.size() == 1);
  CHECK(st.entries[0].stage == "train");
  CHECK(st.entries[0].pointer == "mlo.lock");
  CHECK(st.clean());
  // mlo.lock now names v1 (git checkout of an older commit): modified, restored.
  outs[0].sha256 = v1;
  CHECK(data_status(repo, {}, outs).entries[0].state == DataState::modified);
  CheckoutOptions co;
  co.outputs = outs;
  CheckoutResult r = data_checkout(repo, {}, co);
  CHECK(r.updated == std::vector<std::string>{"out/model.bin"});
  CHECK(read_file(tmp / "r/out/model.bin") == "model v1\n");
  CHECK(data_status(repo, {"out"}, outs).clean());
  CHECK_FALSE(repo.git().is_ignored("out/model.bin"));  // no .gitignore written for outputs
  // An edit the cache lacks is kept, not an error; --force replaces it.
  test::write(tmp / "r/out/model.bin", "edited\n");
  co.outputs[0].sha256 = v2;
  r = data_checkout(repo, {}, co);
  CHECK(r.kept == std::vector<std::string>{"out/model.bin"});
  CHECK(read_file(tmp / "r/out/model.bin") == "edited\n");
  co.force = true;
  r = data_checkout(repo, {"out/model.bin"}, co);
  CHECK(r.kept.empty());
  CHECK(read_file(tmp / "r/out/model.bin") == "model v2\n");
  // Content the cache lacks: left as it is, named.
  co.outputs[0].sha256 = sha256_hex("never stored");
  r = data_checkout(repo, {}, co);
  CHECK(r.missing == std::vector<std::string>{"out/model.bin"});
  CHECK(read_file(tmp / "r/out/model.bin") == "model v2\n");
  CHECK_FALSE(data_status(repo, {}, co.outputs).entries[0].in_cache);
  // A path that is neither data nor an output is still an error.
  CHECK_THROWS_AS(data_status(repo, {"nope"}, outs), InputError);
}
