#include <catch2/catch.hpp>

#include <algorithm>

#include "core/error.h"
#include "pipeline/pipeline.h"
#include "repo/config.h"
#include "repo/lock.h"
#include "repo/record_refs.h"
#include "repo/refs.h"
#include "repo/repo.h"
#include "repo/yaml_read.h"
#include "repo/yaml_schema.h"
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
  c.set("remote.default", std::string("a"), ConfigScope::tracked);
  Config again = Config::load(tmp / "c.yaml", tmp / "l.yaml");
  CHECK(again.get("remote.default").value() == "a");
  CHECK(again.get("remotes.a.url").value() == "/x");
  again.set("remote.default", std::nullopt, ConfigScope::tracked);
  CHECK_FALSE(Config::load(tmp / "c.yaml", tmp / "l.yaml").get("remote.default").has_value());

  test::write(tmp / "bad.yaml", "a: 1\nb: [unclosed\n");
  try {
    Config::load(tmp / "bad.yaml", tmp / "none.yaml");
    FAIL("expected an error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("bad.yaml:") != std::string::npos);
  }
}

TEST_CASE("schema check memo: an unchanged document skips its check, any other is checked") {
  test::TempDir tmp;
  std::filesystem::path memo_file = tmp / "schema-checks";
  std::string good = "cache:\n  link: copy\n";
  std::string typo = "cache:\n  lnk: copy\n";
  auto check = [&](const std::string& text) {
    SchemaCheckMemo memo(memo_file);
    memo.check(YAML::Load(text), text, "config.schema.json", "c.yaml");
  };
  check(good);
  REQUIRE(std::filesystem::exists(memo_file));
  std::string after_good = read_file_if_exists(memo_file).value_or("");
  CHECK(after_good.size() == 65);  // one key: the check passed
  // A failing document throws every time and is never kept.
  for (int i = 0; i < 2; ++i) CHECK_THROWS_WITH(check(typo), Catch::Contains("unknown key 'lnk'"));
  CHECK(read_file_if_exists(memo_file).value_or("") == after_good);
  // The memo only skips: a document it knows is not re-checked, even when the
  // node passed differs (the key is the text) ...
  SchemaCheckMemo memo(memo_file);
  CHECK_NOTHROW(memo.check(YAML::Load(typo), good, "config.schema.json", "c.yaml"));
  // ... and the same text under another schema is checked again.
  CHECK_THROWS(memo.check(YAML::Load("stages: 1\n"), good, "mlo.schema.json", "mlo.yaml"));
  // The file keeps the newest kKeep keys; a damaged one is read as empty.
  for (std::size_t i = 0; i < SchemaCheckMemo::kKeep + 4; ++i) check("cache:\n  link: copy\n# " + std::to_string(i) + "\n");
  CHECK(read_file_if_exists(memo_file).value_or("").size() == 65 * SchemaCheckMemo::kKeep);
  test::write(memo_file, "not a key\n\0\n");
  CHECK_THROWS(check(typo));
  check(good);
  CHECK(read_file_if_exists(memo_file).value_or("").substr(0, 65) == after_good);
  // No folder for the memo: checks still run, nothing is written.
  SchemaCheckMemo nowhere(tmp / "missing" / "schema-checks");
  CHECK_THROWS(nowhere.check(YAML::Load(typo), typo, "config.schema.json", "c.yaml"));
  CHECK_NOTHROW(nowhere.check(YAML::Load(good), good, "config.schema.json", "c.yaml"));
  CHECK_FALSE(std::filesystem::exists(tmp / "missing"));
}

TEST_CASE("config: a file that passed its check reads the same on the fast path, a changed one is checked again") {
  test::TempDir tmp;
  std::filesystem::path memo = tmp / "schema-checks";
  test::write(tmp / "config.yaml", Config::default_text() +
                                       "remotes:\n  r:\n    url: s3://b/p\n    region: '07'\n    jobs: 8\n"
                                       "runners:\n  gpu:\n    type: cuda\n    devices: \"0\"\n    memory: 4\n");
  test::write(tmp / "config.local.yaml", "remote:\n  default: r\n");
  auto runner = [](const Config& c) { return yaml_to_json(c.node("runners.gpu")).dump(); };
  Config first = Config::load(tmp / "config.yaml", tmp / "config.local.yaml", memo);  // checked, remembered
  REQUIRE(read_file_if_exists(memo).value_or("").size() == 2 * 65);
  Config second = Config::load(tmp / "config.yaml", tmp / "config.local.yaml", memo);  // block reader
  for (const char* key : {"cache.link", "remote.default", "remotes.r.url", "remotes.r.region", "remotes.r.jobs"})
    CHECK(first.get(key) == second.get(key));
  CHECK(second.get("remotes.r.region") == "07");
  CHECK(runner(first) == runner(second));
  CHECK(runner(second) == R"({"devices":"0","memory":4,"type":"cuda"})");  // quoted stays a string
  // Saving a fast-read file writes the same text as saving a slow-read one.
  std::string saved_first, saved_second;
  first.save(ConfigScope::tracked);
  saved_first = read_file_if_exists(tmp / "config.yaml").value_or("");
  Config::load(tmp / "config.yaml", tmp / "config.local.yaml", memo);  // remembers the saved text
  Config third = Config::load(tmp / "config.yaml", tmp / "config.local.yaml", memo);
  third.save(ConfigScope::tracked);
  CHECK(read_file_if_exists(tmp / "config.yaml").value_or("") == saved_first);
  // An edit (a typo) is read by yaml-cpp and checked again, with its line.
  test::write(tmp / "config.local.yaml", "remote:\n  defualt: r\n");
  CHECK_THROWS_WITH(Config::load(tmp / "config.yaml", tmp / "config.local.yaml", memo),
                    Catch::Contains("config.local.yaml:2:3") && Catch::Contains("defualt"));
}

TEST_CASE("read_yaml_checked: a value of the wrong kind names the file, line and column") {
  YAML::Node doc = load_yaml("a:\n  b: [1, 2]\n", "f.yaml");
  try {
    read_yaml_checked("f.yaml", [&] { return doc["a"]["b"].as<std::string>(); });
    FAIL("expected an error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).rfind("f.yaml:2:6: a value of the wrong kind", 0) == 0);
  }
  // yaml-cpp knows no line for an absent node: the file alone is named.
  try {
    read_yaml_checked("f.yaml", [&] { return doc["a"]["nope"].as<int>(); });
    FAIL("expected an error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).rfind("f.yaml: a value of the wrong kind", 0) == 0);
  }
  CHECK(read_yaml_checked("f.yaml", [&] { return doc["a"]["b"][1].as<int>(); }) == 2);
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

// ---- repo/refs.h: the ref store read without libgit2 -------------------------


TEST_CASE("refs: packed-refs with peel lines, loose files nested, lock files skipped") {
  mlo::test::TempDir t;
  auto common = t.path() / ".git";
  mlo::test::write(common / "packed-refs",
                   "# pack-refs with: peeled fully-peeled sorted \n"
                   "1111111111111111111111111111111111111111 refs/heads/main\n"
                   "^3333333333333333333333333333333333333333\n"
                   "2222222222222222222222222222222222222222 refs/tags/m@v1.0.0\n"
                   "^4444444444444444444444444444444444444444\n"
                   "5555555555555555555555555555555555555555 refs/tags/team/m#prod#1\n");
  auto packed = mlo::read_packed_refs(common, "tags");
  REQUIRE(packed.size() == 2);
  CHECK(packed[0].name == "m@v1.0.0");
  CHECK(packed[0].oid == "2222222222222222222222222222222222222222");
  CHECK(packed[0].peeled == "4444444444444444444444444444444444444444");
  CHECK(packed[1].name == "team/m#prod#1");
  CHECK(packed[1].peeled.empty());

  mlo::test::write(common / "refs/tags/team/m@v2.0.0", "6666666666666666666666666666666666666666\n");
  mlo::test::write(common / "refs/tags/m@v1.0.0", "7777777777777777777777777777777777777777\n");
  mlo::test::write(common / "refs/tags/m@v3.0.0.lock", "8888888888888888888888888888888888888888\n");
  mlo::test::write(common / "refs/tags/sym", "ref: refs/tags/m@v1.0.0\n");
  auto loose = mlo::list_loose_refs(common, "tags");
  std::vector<std::string> names;
  for (const auto& l : loose) {
    names.push_back(l.name);
    CHECK(!l.stat.empty());
  }
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"m@v1.0.0", "sym", "team/m@v2.0.0"});
  CHECK(mlo::read_loose_ref(common, "tags", "team/m@v2.0.0") == "6666666666666666666666666666666666666666");
  CHECK(mlo::read_loose_ref(common, "tags", "sym").empty());  // symbolic: the caller asks libgit2
  CHECK(mlo::read_loose_ref(common, "tags", "gone").empty());
  CHECK(mlo::list_loose_refs(common, "nothing").empty());
}

TEST_CASE("refs: the common git folder of a plain repo and of a linked work tree") {
  mlo::test::TempDir t;
  REQUIRE(mlo::test::sh(t.path(), "git init -q main && cd main && git -c user.name=a -c user.email=a@b commit -q --allow-empty -m x && git worktree add -q ../wt") == 0);
  CHECK(std::filesystem::equivalent(mlo::git_common_dir(t / "main"), t / "main/.git"));
  CHECK(std::filesystem::equivalent(mlo::git_common_dir(t / "wt"), t / "main/.git"));
}

TEST_CASE("record refs: several at one blob, all or none") {
  test::TempDir tmp;
  test::git_init(tmp / "r");
  const std::string a = "refs/mlo/t/x/k-1", b = "refs/mlo/t/x/c-2";
  REQUIRE(create_record_refs(tmp / "r", {a, b}, "{\"n\":1}\n"));
  auto both = read_record_refs(tmp / "r", "refs/mlo/t/");
  REQUIRE(both.size() == 2);
  CHECK(both[0].second == both[1].second);
  CHECK(both[0].second["n"] == 1);
  // b exists: a new a beside it is deleted again, and b keeps its record.
  const std::string a2 = "refs/mlo/t/x/k-3";
  CHECK_FALSE(create_record_refs(tmp / "r", {a2, b}, "{\"n\":2}\n"));
  auto after = read_record_refs(tmp / "r", "refs/mlo/t/");
  REQUIRE(after.size() == 2);
  for (const auto& [ref, doc] : after) CHECK(doc["n"] == 1);
  CHECK_FALSE(create_record_ref(tmp / "r", a, "{\"n\":3}\n"));
}
