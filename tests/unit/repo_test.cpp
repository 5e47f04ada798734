#include <catch2/catch.hpp>

#include "core/error.h"
#include "repo/config.h"
#include "repo/lock.h"
#include "repo/repo.h"
#include "test_util.h"

using namespace mlo;

TEST_CASE("init sets up .mlo in the work tree and stages config") {
  test::TempDir tmp;
  test::git_init(tmp / "r");
  fs::create_directories(tmp / "r/sub");
  auto r = init_repo(tmp / "r/sub", {});
  CHECK(r.root == fs::canonical(tmp / "r"));
  CHECK_FALSE(r.already_initialized);
  Repo repo = Repo::open(tmp / "r/sub");
  CHECK(repo.git().is_tracked(".mlo/config.yaml"));
  CHECK(repo.git().is_ignored(".mlo/cache/x"));
  CHECK(init_repo(tmp / "r", {}).already_initialized);
}

TEST_CASE("opening outside a repo, or before init, is an InputError") {
  test::TempDir tmp;
  fs::create_directories(tmp / "plain");
  // TMPDIR may itself sit in a git repo; only check when it does not.
  bool inside_git = false;
  try { Repo::find_work_tree(tmp / "plain"); inside_git = true; } catch (const InputError&) {}
  if (!inside_git) CHECK_THROWS_AS(init_repo(tmp / "plain", {}), InputError);
  test::git_init(tmp / "g");
  CHECK_THROWS_AS(Repo::open(tmp / "g"), InputError);
}

TEST_CASE("repo-relative paths reject the outside, .git and .mlo") {
  test::TempDir tmp;
  test::git_init(tmp / "r");
  init_repo(tmp / "r", {});
  Repo repo = Repo::open(tmp / "r");
  CHECK(repo.relative(tmp / "r/data/x.csv") == "data/x.csv");
  CHECK_THROWS_AS(repo.relative(tmp / "elsewhere"), InputError);
  CHECK_THROWS_AS(repo.relative(tmp / "r/.git/config"), InputError);
  CHECK_THROWS_AS(repo.relative(tmp / "r/.mlo/cache"), InputError);
}

TEST_CASE("config: dotted keys, local overrides, malformed YAML names the line") {
  test::TempDir tmp;
  test::write(tmp / "c.yaml", "cache:\n  link: copy\nremotes:\n  a: {url: /x}\n");
  test::write(tmp / "l.yaml", "cache:\n  link: hardlink\n");
  Config c = Config::load(tmp / "c.yaml", tmp / "l.yaml");
  CHECK(c.get("cache.link").value() == "hardlink");
  CHECK(c.node("remotes.a.url").as<std::string>() == "/x");
  CHECK_FALSE(c.get("nope.nothing").has_value());
  c.set("core.remote", std::string("a"), ConfigScope::tracked);
  Config again = Config::load(tmp / "c.yaml", tmp / "l.yaml");
  CHECK(again.get("core.remote").value() == "a");
  CHECK(again.get("remotes.a.url").value() == "/x");
  again.set("core.remote", std::nullopt, ConfigScope::tracked);
  CHECK_FALSE(Config::load(tmp / "c.yaml", tmp / "l.yaml").get("core.remote").has_value());

  test::write(tmp / "bad.yaml", "a: 1\nb: [unclosed\n");
  try {
    Config::load(tmp / "bad.yaml", tmp / "none.yaml");
    FAIL("expected an error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("bad.yaml:") != std::string::npos);
  }
}

TEST_CASE("repo lock: a second holder times out with a clear message") {
  test::TempDir tmp;
  RepoLock first(tmp.path(), "data", 100);
  // flock is per open file description, so a second open in this process conflicts.
  CHECK_THROWS_AS(RepoLock(tmp.path(), "data", 50), InputError);
  CHECK_NOTHROW(RepoLock(tmp.path(), "other", 50));
}

TEST_CASE("git: read files at a revision") {
  test::TempDir tmp;
  test::git_init(tmp / "r");
  test::write(tmp / "r/a.txt", "v1");
  test::sh(tmp / "r", "git add a.txt && git commit -qm one");
  test::write(tmp / "r/a.txt", "v2");
  test::sh(tmp / "r", "git commit -qam two");
  GitRepo git(tmp / "r");
  CHECK(git.read_file_at("HEAD~1", "a.txt").value() == "v1");
  CHECK(git.read_file_at("HEAD", "a.txt").value() == "v2");
  CHECK_FALSE(git.read_file_at("HEAD", "b.txt").has_value());
  CHECK_THROWS_AS(git.resolve_commit("no-such-rev"), InputError);
  CHECK(git.all_commits().size() == 2);
  int seen = 0;
  git.for_each_file_at("HEAD", ".txt", [&](const std::string& p, const std::string& c) {
    CHECK(p == "a.txt");
    CHECK(c == "v2");
    ++seen;
  });
  CHECK(seen == 1);
}
