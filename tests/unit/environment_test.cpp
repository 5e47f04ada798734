#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>

#include "core/error.h"
#include "environment/environment.h"
#include "pipeline/plan.h"
#include "runner/container.h"
#include "runner/runner.h"
#include "test_util.h"

using namespace mlo;
using json = nlohmann::json;
namespace env = mlo::environment;

TEST_CASE("a variable whose name may hold a secret is never recorded") {
  for (const char* n : {"GITHUB_TOKEN", "aws_secret_access_key", "API_KEY", "DB_PASSWORD", "GOOGLE_APPLICATION_CREDENTIALS",
                        "MyTokenFile"})
    CHECK(env::secret_name(n));
  for (const char* n : {"OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "PYTHONHASHSEED", "LANG"}) CHECK_FALSE(env::secret_name(n));
  // Only allow-listed names are read: a stage's own secret-looking variable never appears.
  json vars = env::result_env_vars({{"OMP_NUM_THREADS", "3"}, {"PYTHONHASHSEED", "0"}, {"HF_TOKEN", "x"}, {"MY_VAR", "y"}});
  CHECK(vars["OMP_NUM_THREADS"] == "3");
  CHECK(vars["PYTHONHASHSEED"] == "0");
  CHECK_FALSE(vars.contains("HF_TOKEN"));
  CHECK_FALSE(vars.contains("MY_VAR"));
}

TEST_CASE("machine facts: os-release, kernel, libc, cpu, memory") {
  json f = env::system_facts();
  CHECK_FALSE(f["os"].value("id", "").empty());
  CHECK_FALSE(f.value("kernel", "").empty());
  CHECK(f.value("libc", "").rfind("glibc ", 0) == 0);
  CHECK(f["cpu"].value("cores", 0) >= 1);
  CHECK(f.value("memory_bytes", 0LL) > 0);
}

TEST_CASE("the stage's python: from argv, a shell command, a #! line, or python3 on PATH") {
  test::TempDir tmp;
  test::write(tmp / "venv/bin/python", "");
  ::chmod((tmp / "venv/bin/python").c_str(), 0755);
  env::CaptureRequest r;
  r.root = tmp.path();
  r.argv = {"venv/bin/python", "train.py"};
  CHECK(env::find_python(r) == tmp.path() / "venv/bin/python");
  r.argv.clear();
  r.shell = "cd src && OMP_NUM_THREADS=2 ../venv/bin/python train.py --fast";
  r.wdir = "src";
  std::filesystem::create_directories(tmp / "src");
  CHECK(env::find_python(r) == tmp.path() / "venv/bin/python");
  // A script run directly: its "#!" line names the interpreter, looked up on the stage's PATH.
  test::write(tmp / "src/run.py", "#!/usr/bin/env python3\nprint(1)\n");
  test::write(tmp / "bin/python3", "");
  ::chmod((tmp / "bin/python3").c_str(), 0755);
  r.shell = "./run.py";
  r.env = {{"PATH", (tmp / "bin").string()}};
  CHECK(env::find_python(r) == tmp.path() / "bin/python3");
  // Nothing named: python3 on that PATH; none there: nothing.
  r.shell = "make all";
  CHECK(env::find_python(r) == tmp.path() / "bin/python3");
  r.env = {{"PATH", (tmp / "empty").string()}};
  CHECK_FALSE(env::find_python(r).has_value());
}

TEST_CASE("lock files: the usual names in the root and the stage's folder, hashed") {
  test::TempDir tmp;
  test::write(tmp / "requirements.txt", "numpy==1.26.4\n");
  test::write(tmp / "requirements-dev.txt", "pytest\n");
  test::write(tmp / "src/uv.lock", "x");
  test::write(tmp / "src/other.txt", "not a lock file");
  test::write(tmp / "deps/custom.lock", "y");
  json h = env::lock_file_hashes(tmp.path(), "src", {"deps/custom.lock", "deps/missing.lock"});
  CHECK(h.size() == 4);
  CHECK(h["requirements.txt"].get<std::string>().size() == 64);
  CHECK(h.contains("requirements-dev.txt"));
  CHECK(h.contains("src/uv.lock"));
  CHECK(h.contains("deps/custom.lock"));
  CHECK_FALSE(h.contains("src/other.txt"));
  CHECK_FALSE(h.contains("deps/missing.lock"));
}

TEST_CASE("environment differences: packages added, removed, changed; driver; OS; lock file") {
  json a = {{"os", {{"name", "Debian GNU/Linux 12 (bookworm)"}}},
            {"gpus", {{{"name", "H100"}, {"driver", "550.54"}, {"cuda", "12.4"}, {"memory_mib", 81559}}}},
            {"python", {{"version", "3.11.2"}, {"packages", {{"scikit-learn", "1.3.2"}, {"pandas", "2.0.0"}}}}},
            {"lock_files", {{"requirements.txt", std::string(64, 'a')}}}};
  json b = a;
  b["os"]["name"] = "Debian GNU/Linux 13 (trixie)";
  b["gpus"][0]["driver"] = "560.35";
  b["python"]["packages"] = {{"Scikit_Learn", "1.4.0"}, {"numpy", "1.26.4"}};
  b["lock_files"]["requirements.txt"] = std::string(64, 'b');
  json d = env::diff(a, b);
  auto row = [&](const std::string& field) {
    for (const auto& r : d)
      if (r["field"] == field) return r;
    return json();
  };
  CHECK(row("os")["change"] == "changed");
  CHECK(row("gpu driver")["new"] == "560.35");
  CHECK(row("package scikit-learn").is_null());  // names compare as pip does: one row, shown as now
  CHECK(row("package Scikit_Learn")["old"] == "1.3.2");
  CHECK(row("package Scikit_Learn")["new"] == "1.4.0");
  CHECK(row("package pandas")["change"] == "removed");
  CHECK(row("package numpy")["change"] == "added");
  CHECK(row("lock_file requirements.txt")["change"] == "changed");
  CHECK(row("python").is_null());
  CHECK(env::diff(a, a).empty());
  json only_pkg = env::diff(a["python"].is_object() ? json{{"python", a["python"]}} : json(),
                            json{{"python", {{"version", "3.11.2"}, {"packages", {{"scikit-learn", "1.4.0"}, {"pandas", "2.0.0"}}}}}});
  CHECK(env::describe(only_pkg) == "scikit-learn 1.3.2 → 1.4.0");
}

TEST_CASE("a stage's fingerprint holds what it chose, and says what is missing") {
  json e = {{"python", {{"path", "/usr/bin/python3"}, {"version", "3.11.2"}, {"packages", {{"numpy", "1.26.4"}}}}},
            {"lock_files", {{"requirements.txt", std::string(64, 'a')}}},
            {"kernel", "6.1.0"}};
  json fp = env::fingerprint(e, {"python", "requirements.txt"}, "mlo.yaml:3:5");
  CHECK(fp["python"]["packages"]["numpy"] == "1.26.4");
  CHECK(fp["lock_files"]["requirements.txt"] == std::string(64, 'a'));
  CHECK_FALSE(fp.contains("kernel"));  // a kernel update does not make every stage stale
  CHECK(env::fingerprint(e, {}, "x").empty());
  CHECK_THROWS_WITH(env::fingerprint(e, {"uv.lock"}, "mlo.yaml:3:5"), Catch::Contains("mlo.yaml:3:5") && Catch::Contains("'uv.lock'"));
  CHECK_THROWS_AS(env::fingerprint(json::object(), {"python"}, "x"), InputError);
  e["container"] = {{"image", "img:1"}, {"digest", "sha256:abc"}, {"id", "123"}};
  CHECK(env::fingerprint(e, {}, "x")["container"]["digest"] == "sha256:abc");
}

TEST_CASE("an interpreter's packages are asked once and cached by its site folders' mtimes") {
  test::TempDir tmp;
  // A stand-in interpreter that counts how often it is asked and answers like the probe.
  std::filesystem::create_directories(tmp / "site");
  test::write(tmp / "py/python3",
              "#!/bin/sh\necho x >> " + (tmp / "calls").string() + "\n"
              "echo '{\"version\":\"3.99.0\",\"implementation\":\"CPython\",\"paths\":[\"" + (tmp / "site").string() +
                  "\"],\"packages\":{\"demo\":\"1.0\"}}'\n");
  ::chmod((tmp / "py/python3").c_str(), 0755);
  auto calls = [&] { return read_file_if_exists(tmp / "calls").value_or("").size() / 2; };
  json a = env::python_facts(tmp / "py/python3", {}, tmp / "cache");
  CHECK(a["version"] == "3.99.0");
  CHECK(a["packages"]["demo"] == "1.0");
  CHECK_FALSE(a.contains("paths"));
  json b = env::python_facts(tmp / "py/python3", {}, tmp / "cache");
  CHECK(b == a);
  CHECK(calls() == 1);
  // A distribution installed: the site folder's mtime moves, the interpreter is asked again.
  struct timespec later[2] = {{0, UTIME_OMIT}, {2000000000, 0}};
  ::utimensat(AT_FDCWD, (tmp / "site").c_str(), later, 0);
  env::python_facts(tmp / "py/python3", {}, tmp / "cache");
  CHECK(calls() == 2);
  // An interpreter that fails is reported, not cached.
  test::write(tmp / "bad/python3", "#!/bin/sh\necho broken >&2\nexit 3\n");
  ::chmod((tmp / "bad/python3").c_str(), 0755);
  json bad = env::python_facts(tmp / "bad/python3", {}, tmp / "cache");
  CHECK(bad.value("error", "").find("broken") != std::string::npos);
}

TEST_CASE("container runner: the engine's argv") {
  JobSpec s;
  s.run_id = "0123456789abcdef";
  s.stage = "train";
  s.argv = {"python", "train.py"};
  s.workdir = "/repo/src";
  s.log_path = "/repo/.mlo/tmp/runs/0123456789abcdef.log";
  s.resources.cpus = 1.5;
  s.resources.memory_bytes = 1024;
  s.resources.gpus = 2;
  auto argv = ContainerRunner::run_argv("/usr/bin/podman", s, json::object(), "mlo-x", "sha256:img", "/e.env");
  auto has = [&](const std::vector<std::string>& seq) {
    return std::search(argv.begin(), argv.end(), seq.begin(), seq.end()) != argv.end();
  };
  CHECK(has({"--volume", "/repo:/repo"}));  // the repository at its own path (found above .mlo/)
  CHECK(has({"--workdir", "/repo/src"}));
  CHECK(has({"--user", std::to_string(::getuid()) + ":" + std::to_string(::getgid())}));
  CHECK(has({"--cpus", "1.5"}));
  CHECK(has({"--memory", "1024b"}));
  CHECK(has({"--device", "nvidia.com/gpu=0", "--device", "nvidia.com/gpu=1"}));
  CHECK(has({"--env-file", "/e.env"}));
  CHECK(has({"sha256:img", "python", "train.py"}));
  auto docker = ContainerRunner::run_argv("/usr/bin/docker", s, json::object(), "mlo-x", "img", "/e.env");
  std::vector<std::string> gpus_flag = {"--gpus", "2"};
  CHECK(std::search(docker.begin(), docker.end(), gpus_flag.begin(), gpus_flag.end()) != docker.end());
  CHECK_THROWS_AS(ContainerRunner::run_argv("podman", s, {{"gpu_flag", "magic"}}, "mlo-x", "img", "/e.env"), InputError);
}

TEST_CASE("container runner: a missing engine is a runner error (exit 5)") {
  CHECK_THROWS_AS(container_engine({{"engine", "/nonexistent/podman"}}), RunnerError);
}

TEST_CASE("GPUs: nvidia-smi's query and banner parse") {
  // The shape nvidia-smi 550 prints for the query and in its banner.
  json g = env::parse_gpu_query(
      "NVIDIA H100 80GB HBM3, 81559, 550.54.15, GPU-9c1b2d3e-0000-1111-2222-333344445555\n"
      "NVIDIA H100 80GB HBM3, 81559, 550.54.15, GPU-aaaa2d3e-0000-1111-2222-333344445555\n",
      "| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |\n");
  REQUIRE(g.size() == 2);
  CHECK(g[0]["name"] == "NVIDIA H100 80GB HBM3");
  CHECK(g[0]["memory_mib"] == 81559);
  CHECK(g[0]["driver"] == "550.54.15");
  CHECK(g[0]["cuda"] == "12.4");
  CHECK(g[1]["uuid"] == "GPU-aaaa2d3e-0000-1111-2222-333344445555");
  // [N/A] memory and no banner: the GPU is still listed.
  g = env::parse_gpu_query("Tesla T4, [N/A], 535.1, GPU-1\n", "");
  REQUIRE(g.size() == 1);
  CHECK_FALSE(g[0].contains("memory_mib"));
  CHECK_FALSE(g[0].contains("cuda"));
  CHECK(env::parse_gpu_query("No devices were found\n", "").empty());
}

TEST_CASE("the plan: an environment fingerprint joins the key only when chosen, and a change is named") {
  StageDef s;
  s.name = "train";
  s.shell = "python train.py";
  StageFacts f;
  StageKey plain = stage_key(s, f);
  CHECK_FALSE(plain.doc.contains("environment"));  // stages that chose nothing keep their keys
  f.env_fingerprint = {{"python", {{"version", "3.11.2"}, {"packages", {{"scikit-learn", "1.3.2"}}}}}};
  StageKey old_key = stage_key(s, f);
  CHECK(old_key.key != plain.key);
  json prev = {{"key", old_key.key}, {"cmd", "python train.py"}, {"deps", json::array()}, {"params", json::object()}};
  json prev_env = f.env_fingerprint;
  f.env_fingerprint["python"]["packages"]["scikit-learn"] = "1.4.0";
  StageKey new_key = stage_key(s, f);
  CHECK(new_key.key != old_key.key);
  std::string why = stale_reason(s, prev, new_key, TreeState{}, prev_env);
  CHECK(why == "environment changed: scikit-learn 1.3.2 → 1.4.0");
  // The earlier run's record is not here: say what may have changed.
  CHECK(stale_reason(s, prev, new_key, TreeState{}).find("its environment changed") != std::string::npos);
}
