// gc, fsck, references, index rebuild, doctor and link probes.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

#include "app/doctor.h"
#include "app/index_rebuild.h"
#include "core/error.h"
#include "core/format.h"
#include "core/hash.h"
#include "data/gc.h"
#include "data/manifest.h"
#include "data/pointer.h"
#include "data/references.h"
#include "data/tree.h"
#include "index/database.h"
#include "repo/lock.h"
#include "repo/repo.h"
#include "store/probe.h"
#include "test_util.h"

using namespace mlo;

namespace {

struct MaintRepo {
  test::TempDir tmp;
  fs::path root;
  std::optional<Repo> repo;
  MaintRepo() {
    root = tmp / "r";
    test::git_init(root);
    init_repo(root, {});
    repo.emplace(Repo::open(root));
  }
  // Tracks `name` (a file) holding `content`: object in the cache, pointer written.
  std::string track_file(const std::string& name, const std::string& content) {
    std::string h = repo->cache().add_bytes(content);
    Pointer p;
    p.path = fs::path(name).filename().string();
    p.sha256 = h;
    p.size = content.size();
    test::write(root / (name + ".mlo"), serialize_pointer(p));
    return h;
  }
  // Tracks a folder from (relative path, content) pairs; returns the manifest's hash.
  std::string track_dir(const std::string& name, const std::vector<std::pair<std::string, std::string>>& files) {
    Manifest m;
    for (const auto& [path, content] : files) m.entries.push_back({path, repo->cache().add_bytes(content), content.size(), false});
    m.sort();
    std::string h = repo->cache().add_bytes(serialize_manifest(m));
    Pointer p;
    p.path = name;
    p.type = EntryType::dir;
    p.sha256 = h;
    p.size = m.total_size();
    p.files = m.entries.size();
    test::write(root / (name + ".mlo"), serialize_pointer(p));
    return h;
  }
  void commit(const std::string& msg) { REQUIRE(test::sh(root, "git add -A && git commit -qm '" + msg + "'") == 0); }
  void damage(const std::string& hash, const std::string& bytes) {
    fs::path p = repo->cache().object_path(hash);
    ::chmod(p.c_str(), 0644);
    std::ofstream(p, std::ios::trunc) << bytes;
  }
};

GcOptions gc_now() {
  GcOptions o;
  o.grace_seconds = 0;
  return o;
}

}  // namespace

TEST_CASE("durations parse with units") {
  CHECK(parse_duration_seconds("0", "--grace") == 0);
  CHECK(parse_duration_seconds("90", "--grace") == 90);
  CHECK(parse_duration_seconds("90s", "--grace") == 90);
  CHECK(parse_duration_seconds("30m", "--grace") == 1800);
  CHECK(parse_duration_seconds("2h", "--grace") == 7200);
  CHECK(parse_duration_seconds("7d", "--grace") == 7 * 86400);
  for (const char* bad : {"", "h", "-1", "1.5h", "1w", "1h30m", "9999999999999"})
    CHECK_THROWS_AS(parse_duration_seconds(bad, "--grace"), UsageError);
}

TEST_CASE("references: workspace pointers, folders through their manifests") {
  MaintRepo r;
  std::string a = r.track_file("a.csv", "alpha");
  std::string m = r.track_dir("imgs", {{"x.png", "x"}, {"sub/y.png", "y"}});
  References refs = collect_references(*r.repo, {});
  CHECK(refs.broken.empty());
  CHECK(refs.pointers == 2);
  CHECK(refs.needs(a));
  CHECK(refs.needs(m));
  CHECK(refs.needs(sha256_hex("x")));
  // Where an object is named: asked for afterwards, for the ones wanted.
  HashSet wanted;
  wanted.insert(sha256_hex("y"));
  wanted.insert(a);
  auto labels = label_references(*r.repo, {}, {}, wanted);
  CHECK(labels.size() == 2);
  CHECK(labels.at(sha256_hex("y")) == "imgs/sub/y.png");
  CHECK(labels.at(a) == "a.csv");
}

TEST_CASE("references: broken pointers and manifests are reported, not skipped") {
  MaintRepo r;
  test::write(r.root / "bad.csv.mlo", "version: 1\npath: ../../etc/passwd\ntype: file\n");
  std::string m = r.track_dir("imgs", {{"x.png", "x"}});
  r.damage(m, "{ not json");
  References refs = collect_references(*r.repo, {});
  REQUIRE(refs.broken.size() == 2);
  std::set<BrokenKind> kinds{refs.broken[0].kind, refs.broken[1].kind};
  CHECK(kinds == std::set<BrokenKind>{BrokenKind::bad_pointer, BrokenKind::bad_manifest});
  r.repo->cache().remove(m);
  refs = collect_references(*r.repo, {});
  bool missing = false;
  for (const auto& b : refs.broken) missing |= b.kind == BrokenKind::missing_manifest && b.object == m;
  CHECK(missing);
}

TEST_CASE("references: revisions come from git history") {
  MaintRepo r;
  std::string v1 = r.track_file("a.csv", "v1");
  r.commit("v1");
  REQUIRE(test::sh(r.root, "git tag v1") == 0);
  std::string v2 = r.track_file("a.csv", "v2");
  r.commit("v2");
  std::string v3 = r.track_file("a.csv", "v3");  // not committed
  ReferenceScope ws;
  References refs = collect_references(*r.repo, ws);
  CHECK(refs.needs(v3));
  CHECK_FALSE(refs.needs(v2));
  CHECK_FALSE(refs.needs(v1));
  ReferenceScope branches;
  branches.all_branches = true;
  refs = collect_references(*r.repo, branches);
  CHECK(refs.needs(v2));
  CHECK_FALSE(refs.needs(v1));
  ReferenceScope tags;
  tags.all_tags = true;
  CHECK(collect_references(*r.repo, tags).needs(v1));
  ReferenceScope all;
  all.all_commits = true;
  refs = collect_references(*r.repo, all);
  CHECK((refs.needs(v1) && refs.needs(v2) && refs.needs(v3)));
  CHECK(refs.revisions == 2);  // v1 and v2; the tag names v1 again, read once
  ReferenceScope one;
  one.revisions = {"HEAD~1"};
  CHECK(collect_references(*r.repo, one).needs(v1));
  one.revisions = {"no-such-rev"};
  CHECK_THROWS_AS(collect_references(*r.repo, one), InputError);
}

TEST_CASE("gc deletes only unneeded objects, and nothing on a dry run") {
  MaintRepo r;
  std::string keep = r.track_file("a.csv", "keep me");
  std::string m = r.track_dir("imgs", {{"x.png", "x"}});
  std::string old = r.repo->cache().add_bytes("garbage");
  GcOptions dry = gc_now();
  dry.dry_run = true;
  GcResult d = collect_garbage(*r.repo, dry);
  REQUIRE(d.removed.size() == 1);
  CHECK(d.removed[0].hash == old);
  CHECK(d.removed_bytes == 7);
  CHECK(r.repo->cache().has(old));
  GcResult g = collect_garbage(*r.repo, gc_now());
  CHECK(g.removed.size() == 1);
  CHECK_FALSE(r.repo->cache().has(old));
  CHECK(r.repo->cache().has(keep));
  CHECK(r.repo->cache().has(m));
  CHECK(r.repo->cache().has(sha256_hex("x")));
  CHECK(g.kept == 3);
}

TEST_CASE("gc keeps objects inside the grace period") {
  MaintRepo r;
  std::string fresh = r.repo->cache().add_bytes("just stored by a concurrent add");
  GcOptions o;  // default grace: one hour
  GcResult g = collect_garbage(*r.repo, o);
  CHECK(g.removed.empty());
  CHECK(g.kept_recent == 1);
  CHECK(r.repo->cache().has(fresh));
}

TEST_CASE("gc stops on broken references unless told to skip them") {
  MaintRepo r;
  std::string m = r.track_dir("imgs", {{"x.png", "x"}});
  std::string other = r.repo->cache().add_bytes("garbage");
  r.damage(m, "{ damaged");
  CHECK_THROWS_AS(collect_garbage(*r.repo, gc_now()), InputError);
  CHECK(r.repo->cache().has(other));
  CHECK(r.repo->cache().has(sha256_hex("x")));
  GcOptions skip = gc_now();
  skip.skip_broken = true;
  GcResult g = collect_garbage(*r.repo, skip);
  CHECK(g.refs.broken.size() == 1);
  CHECK_FALSE(r.repo->cache().has(other));
  CHECK(r.repo->cache().has(m));  // still named by the pointer
}

TEST_CASE("gc waits for the data lock and gives up with a clear error") {
  MaintRepo r;
  test::write(r.root / ".mlo/config.local.yaml", "core:\n  lock_timeout: 0.2\n");
  Repo repo = Repo::open(r.root);
  std::string junk = repo.cache().add_bytes("junk");
  RepoLock held(repo.tmp_dir(), "data", 1000);
  try {
    collect_garbage(repo, gc_now());
    FAIL("gc ran while the lock was held");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("another mlo command") != std::string::npos);
  }
  CHECK(repo.cache().has(junk));
}

TEST_CASE("gc removes stale temp files only") {
  MaintRepo r;
  fs::path tmpdir = r.repo->cache().root() / "tmp";
  test::write(tmpdir / ".obj.tmp.1.1", "old");
  test::write(tmpdir / ".obj.tmp.1.2", "new");
  REQUIRE(test::sh(tmpdir, "touch -d '3 hours ago' .obj.tmp.1.1") == 0);
  GcResult g = collect_garbage(*r.repo, gc_now());
  CHECK(g.temp_files == 1);
  CHECK_FALSE(fs::exists(tmpdir / ".obj.tmp.1.1"));
  CHECK(fs::exists(tmpdir / ".obj.tmp.1.2"));
}

TEST_CASE("fsck finds damaged and missing objects; repair moves damaged ones aside") {
  MaintRepo r;
  std::string a = r.track_file("a.csv", "alpha");
  std::string b = r.track_file("b.csv", "beta");
  std::string m = r.track_dir("imgs", {{"x.png", "x"}, {"y.png", "y"}});
  FsckResult ok = fsck(*r.repo, {});
  CHECK(ok.ok());
  CHECK(ok.objects == 5);
  r.damage(a, "ALPHA");
  r.repo->cache().remove(sha256_hex("y"));
  FsckResult bad = fsck(*r.repo, {});
  CHECK_FALSE(bad.ok());
  REQUIRE(bad.corrupt.size() == 1);
  CHECK(bad.corrupt[0].hash == a);
  CHECK(bad.corrupt[0].actual == sha256_hex("ALPHA"));
  CHECK(bad.corrupt[0].needed_by == "a.csv");
  CHECK(bad.corrupt[0].moved_to.empty());
  REQUIRE(bad.missing.size() == 1);
  CHECK(bad.missing[0].needed_by == "imgs/y.png");
  CHECK(r.repo->cache().has(a));  // reporting changes nothing

  FsckOptions repair;
  repair.repair = true;
  FsckResult rep = fsck(*r.repo, repair);
  REQUIRE(rep.corrupt.size() == 1);
  CHECK(rep.corrupt[0].moved_to == (r.repo->cache().root() / "corrupt" / a).string());
  CHECK(read_file(rep.corrupt[0].moved_to) == "ALPHA");
  CHECK_FALSE(r.repo->cache().has(a));
  // Now it is simply missing.
  FsckResult after = fsck(*r.repo, {});
  CHECK(after.corrupt.empty());
  CHECK(after.missing.size() == 2);
  (void)b;
  (void)m;
}

TEST_CASE("fsck reports pointer files that do not parse") {
  MaintRepo r;
  test::write(r.root / "x.csv.mlo", "version: 1\npath: x.csv\ntype: file\nsha256: nothex\nsize: 1\n");
  FsckResult f = fsck(*r.repo, {});
  CHECK_FALSE(f.ok());
  REQUIRE(f.broken.size() == 1);
  CHECK(f.broken[0].kind == BrokenKind::bad_pointer);
}

TEST_CASE("index rebuild replaces a garbage or missing index") {
  MaintRepo r;
  fs::path db = r.repo->index_path();
  test::write(db, std::string(5000, 'x'));
  CHECK_FALSE(app::check_index_file(db.string()).empty());
  CHECK_FALSE(app::index_status(*r.repo).healthy);
  auto res = app::rebuild_index(*r.repo);
  CHECK(res.previous.rfind("unreadable", 0) == 0);
  CHECK(res.modules.front() == "data");
  app::IndexStatus s = app::index_status(*r.repo);
  CHECK(s.healthy);
  {
    Database d(db);
    d.migrate({"maint_test", {"CREATE TABLE t (x INTEGER)"}});
    d.exec("INSERT INTO t VALUES (1), (2)");
  }
  s = app::index_status(*r.repo);
  bool found = false;
  for (const auto& t : s.tables) found |= t.name == "t" && t.rows == 2;
  CHECK(found);
  fs::remove(db);
  CHECK_FALSE(app::index_status(*r.repo).exists);
  CHECK(app::rebuild_index(*r.repo).previous == "missing");
  CHECK(app::index_status(*r.repo).healthy);
  // No leftovers of the build.
  for (auto& e : fs::directory_iterator(r.repo->tmp_dir()))
    CHECK(e.path().filename().string().find("rebuild") == std::string::npos);
}

TEST_CASE("link probes: copy always works, hardlink within one file system") {
  test::TempDir tmp;
  auto probes = probe_link_modes(tmp / "a", tmp / "b");
  REQUIRE(probes.size() == 4);
  for (const auto& p : probes) {
    if (p.mode == LinkMode::copy || p.mode == LinkMode::hardlink) CHECK(p.works);
    if (!p.works) CHECK_FALSE(p.detail.empty());
  }
  CHECK(fs::is_empty(tmp / "a"));
  CHECK(fs::is_empty(tmp / "b"));
  CHECK_FALSE(filesystem_type(tmp.path()).empty());
}

TEST_CASE("doctor reports versions and a healthy repository") {
  MaintRepo r;
  r.track_file("a.csv", "alpha");
  app::DoctorReport d = app::run_doctor(r.root);
  CHECK(d.ok());
  CHECK(d.mlo_repo);
  CHECK(d.versions.front().first == "mlo");
  CHECK_FALSE(d.effective_link.empty());
  test::write(r.root / ".mlo/index.db", std::string(5000, 'x'));
  test::write(r.root / "b.csv.mlo", "garbage: [");
  d = app::run_doctor(r.root);
  CHECK_FALSE(d.ok());
  int fails = 0;
  for (const auto& c : d.checks) fails += c.level == app::CheckLevel::fail;
  CHECK(fails == 2);
}

TEST_CASE("byte counts print in binary units") {
  CHECK(human_bytes(0) == "0 B");
  CHECK(human_bytes(1023) == "1023 B");
  CHECK(human_bytes(2048) == "2.0 KiB");
  CHECK(human_bytes(3ull << 30) == "3.0 GiB");
}

TEST_CASE("references: every root kind tells a missing folder object from a damaged one") {
  // The same rule for registry artifacts, deployments, run outputs and push
  // records (add_manifest_references): a tree whose folder object is missing
  // is missing_manifest, naming that object; one that does not parse is
  // bad_manifest; one absent altogether is missing_manifest.
  MaintRepo r;
  Manifest m;
  for (std::string path : {"a.txt", "sub/b.txt", "sub/deep/c.txt"})
    m.entries.push_back({path, r.repo->cache().add_bytes(path), path.size(), false});
  m.sort();
  std::map<std::string, std::string> folders;  // folder object -> its bytes
  std::string root = build_tree(m, [&](const std::string& h, const std::string& bytes) {
    r.repo->cache().add_bytes(bytes);
    folders[h] = bytes;
  });
  REQUIRE(folders.size() == 3);

  References whole;
  add_manifest_references(*r.repo, root, "registry model@v1", whole);
  CHECK(whole.broken.empty());
  CHECK(whole.needs(sha256_hex("sub/deep/c.txt")));
  HashSet deep_file;
  deep_file.insert(sha256_hex("sub/deep/c.txt"));
  References labelled;
  labelled.label_only = &deep_file;
  add_manifest_references(*r.repo, root, "registry model@v1", labelled);
  CHECK(labelled.labels.at(sha256_hex("sub/deep/c.txt")) == "registry model@v1:sub/deep/c.txt");
  CHECK(labelled.objects.empty());

  std::string deep;  // the folder object of sub/deep
  for (const auto& [h, bytes] : folders)
    if (h != root && bytes.find("c.txt") != std::string::npos) deep = h;
  REQUIRE(!deep.empty());
  r.repo->cache().remove(deep);
  References part;
  add_manifest_references(*r.repo, root, "registry model@v1", part);
  REQUIRE(part.broken.size() == 1);
  CHECK(part.broken[0].kind == BrokenKind::missing_manifest);
  CHECK(part.broken[0].object == deep);
  CHECK(part.needs(sha256_hex("a.txt")));  // what the cache has is still kept

  r.damage(root, "{ not json");
  References damaged;
  add_manifest_references(*r.repo, root, "deployment production", damaged);
  REQUIRE(damaged.broken.size() == 1);
  CHECK(damaged.broken[0].kind == BrokenKind::bad_manifest);

  References absent;
  add_manifest_references(*r.repo, sha256_hex("never stored"), "run 1a2b", absent);
  REQUIRE(absent.broken.size() == 1);
  CHECK(absent.broken[0].kind == BrokenKind::missing_manifest);
}
