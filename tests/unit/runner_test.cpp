#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "core/process.h"
#include "runner/cuda.h"
#include "runner/exec.h"
#include "runner/local.h"
#include "runner/plugin.h"
#include "runner/runner.h"
#include "runner/slurm.h"
#include "test_util.h"

using namespace mlo;

namespace {

JobSpec shell_job(const test::TempDir& tmp, const std::string& cmd) {
  JobSpec s;
  s.run_id = "r1";
  s.stage = "train";
  s.shell = cmd;
  s.workdir = tmp.path();
  s.log_path = tmp / "run.log";
  s.stream_output = false;
  return s;
}

bool process_alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  // A zombie (its parent gone, not yet reaped by init) counts as gone.
  auto stat = read_file_if_exists("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  auto close = stat->rfind(')');
  return close == std::string::npos || stat->substr(close + 2, 1) != "Z";
}

// Sets PATH for one scope.
struct ScopedPath {
  std::string old;
  explicit ScopedPath(const std::string& front) {
    const char* p = std::getenv("PATH");
    old = p ? p : "";
    ::setenv("PATH", (front + ":" + old).c_str(), 1);
  }
  ~ScopedPath() { ::setenv("PATH", old.c_str(), 1); }
};

// Pretends Ctrl-C after `ms` (and, if given, once `file` exists: the job has
// started, however loaded the machine), cleared when the scope ends.
struct CtrlCAfter {
  std::thread t;
  explicit CtrlCAfter(int ms, std::filesystem::path file = {}) : t([ms, file] {
    for (int i = 0; i < 600 && !file.empty() && !std::filesystem::exists(file); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    set_interrupted(true);
  }) {}
  ~CtrlCAfter() {
    t.join();
    set_interrupted(false);
  }
};

}  // namespace

TEST_CASE("job spec and result round-trip through JSON", "[runner]") {
  JobSpec s;
  s.run_id = "abc";
  s.stage = "train";
  s.argv = {"python3", "train.py", "--lr", "0.1; rm -rf /"};
  s.workdir = "/w";
  s.env = {{"A", "1"}};
  s.resources.cpus = 2.5;
  s.resources.gpus = 1;
  s.resources.memory_bytes = 1 << 30;
  s.resources.time_limit_s = 60;
  JobSpec t = JobSpec::from_json(nlohmann::json::parse(s.to_json().dump()));
  CHECK(t.argv == s.argv);
  CHECK(t.resources.cpus == 2.5);
  CHECK(t.resources.gpus == 1);
  CHECK(*t.resources.memory_bytes == (1u << 30));
  CHECK(t.env.at("A") == "1");
  CHECK_THROWS_AS(JobSpec::from_json({{"version", 2}}), InputError);
  JobResult r;
  r.status = "timeout";
  r.info["node"] = "n1";
  CHECK(JobResult::from_json(r.to_json()).info["node"] == "n1");
}

TEST_CASE("memory sizes and durations parse, and bad ones name the value", "[runner]") {
  using namespace runner;
  CHECK(parse_memory_size("512M", "m") == 512ull << 20);
  CHECK(parse_memory_size("1.5GiB", "m") == 3ull << 29);
  CHECK(parse_memory_size("1000", "m") == 1000);
  CHECK_THROWS_WITH(parse_memory_size("lots", "resources.memory"), Catch::Contains("'lots' is not a memory size"));
  CHECK_THROWS_AS(parse_memory_size("5X", "m"), InputError);
  CHECK(parse_duration("90", "t") == 90);
  CHECK(parse_duration("1h30m", "t") == 5400);
  CHECK(parse_duration("0.5s", "t") == 0.5);
  CHECK_THROWS_AS(parse_duration("1h30", "t"), InputError);
  CHECK_THROWS_AS(parse_duration("-3", "t"), InputError);
}

TEST_CASE("status mapping: interrupted > timeout > killed > failed > succeeded", "[runner]") {
  using runner::ChildOutcome;
  ChildOutcome o;
  o.exit_code = 0;
  CHECK(runner::classify(o, {}).status == "succeeded");
  o.exit_code = 3;
  CHECK(runner::classify(o, {}).status == "failed");
  CHECK(runner::classify(o, {}).message == "exited with status 3");
  o.signal = SIGSEGV;
  CHECK(runner::classify(o, {}).status == "killed");
  o.timed_out = true;
  CHECK(runner::classify(o, 5.0).status == "timeout");
  o.interrupted = true;
  CHECK(runner::classify(o, 5.0).status == "interrupted");
}

TEST_CASE("local runner: success, log capture and environment", "[runner]") {
  test::TempDir tmp;
  LocalRunner r;
  auto spec = shell_job(tmp, "echo out; echo err >&2; echo \"$GREETING $OMP_NUM_THREADS $MKL_NUM_THREADS $MLO_STAGE\"; pwd");
  spec.env["GREETING"] = "hello world";
  spec.resources.cpus = 1.5;
  JobResult res = r.run(spec);
  CHECK(res.status == "succeeded");
  CHECK(res.exit_code == 0);
  CHECK(res.finished_at >= res.started_at);
  std::string log = read_file(tmp / "run.log");
  CHECK(log.find("out\n") != std::string::npos);
  CHECK(log.find("err\n") != std::string::npos);
  CHECK(log.find("hello world 2 2 train\n") != std::string::npos);
  CHECK(log.find(tmp.path().string()) != std::string::npos);
  // A thread count the stage sets itself wins.
  spec.shell = "echo threads=$OMP_NUM_THREADS";
  spec.env["OMP_NUM_THREADS"] = "7";
  CHECK(r.run(spec).ok());
  CHECK(read_file(tmp / "run.log").find("threads=7") != std::string::npos);
}

TEST_CASE("local runner: argv runs without a shell, so arguments are never re-split", "[runner]") {
  test::TempDir tmp;
  LocalRunner r;
  JobSpec spec = shell_job(tmp, "");
  spec.argv = {"/bin/sh", "-c", "printf '[%s]' \"$1\" > arg.txt", "sh", "a b; echo injected"};
  CHECK(r.run(spec).ok());
  CHECK(read_file(tmp / "arg.txt") == "[a b; echo injected]");
}

TEST_CASE("local runner: failure, signal, missing program", "[runner]") {
  test::TempDir tmp;
  LocalRunner r;
  auto res = r.run(shell_job(tmp, "exit 3"));
  CHECK(res.status == "failed");
  CHECK(res.exit_code == 3);
  res = r.run(shell_job(tmp, "kill -SEGV $$"));
  CHECK(res.status == "killed");
  CHECK(res.signal == SIGSEGV);
  JobSpec spec = shell_job(tmp, "");
  spec.argv = {"no-such-program-mlo"};
  res = r.run(spec);
  CHECK(res.status == "failed");
  CHECK(res.exit_code == 127);
  CHECK(read_file(tmp / "run.log").find("cannot run 'no-such-program-mlo'") != std::string::npos);
  spec.argv = {"true"};
  spec.workdir = tmp / "missing";
  res = r.run(spec);
  CHECK(res.status == "failed");
  CHECK(read_file(tmp / "run.log").find("cannot enter") != std::string::npos);
}

TEST_CASE("local runner: the time limit stops the whole process group", "[runner]") {
  test::TempDir tmp;
  LocalRunner r(nlohmann::json{{"kill_grace_s", 1}});
  // A grandchild in the background that ignores SIGTERM: only SIGKILL to the group gets it.
  auto spec = shell_job(tmp, "sh -c 'trap \"\" TERM; echo $$ > grandchild.pid; exec sleep 60' & sleep 60");
  spec.resources.time_limit_s = 1.5;  // time enough for the shell to start the grandchild, even when loaded
  auto t0 = std::chrono::steady_clock::now();
  JobResult res = r.run(spec);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(res.status == "timeout");
  CHECK(took < 10);
  pid_t grandchild = std::stoi(read_file(tmp / "grandchild.pid"));
  for (int i = 0; i < 50 && process_alive(grandchild); ++i) ::usleep(20000);
  CHECK_FALSE(process_alive(grandchild));
}

TEST_CASE("local runner: leftovers of a finished job are stopped too", "[runner]") {
  test::TempDir tmp;
  LocalRunner r;
  auto spec = shell_job(tmp, "sleep 60 & echo $! > bg.pid; echo done");
  JobResult res = r.run(spec);
  CHECK(res.status == "succeeded");
  pid_t bg = std::stoi(read_file(tmp / "bg.pid"));
  for (int i = 0; i < 50 && process_alive(bg); ++i) ::usleep(20000);
  CHECK_FALSE(process_alive(bg));
}

TEST_CASE("local runner: Ctrl-C stops the job and reports interrupted", "[runner]") {
  test::TempDir tmp;
  LocalRunner r;
  auto spec = shell_job(tmp, "echo $$ > job.pid; sleep 60");
  JobResult res;
  {
    CtrlCAfter ctrl_c(100, tmp / "job.pid");
    res = r.run(spec);
  }
  CHECK(res.status == "interrupted");
  CHECK(res.signal == SIGTERM);
  CHECK_FALSE(process_alive(std::stoi(read_file(tmp / "job.pid"))));
}

TEST_CASE("local runner: memory limit is RLIMIT_AS of the job", "[runner]") {
  test::TempDir tmp;
  LocalRunner r;
  auto spec = shell_job(tmp, "ulimit -v");
  spec.resources.memory_bytes = 256ull << 20;
  JobResult res = r.run(spec);
  CHECK(res.ok());
  CHECK(read_file(tmp / "run.log") == "262144\n");
  CHECK(res.info["memory_limit_bytes"] == (256ull << 20));
}

TEST_CASE("local runner: capacity is cores / cpus requested", "[runner]") {
  LocalRunner r;
  int cores = runner::online_cpus();
  CHECK(r.capacity() == cores);
  Resources res;
  CHECK(r.capacity_for(res) == cores);
  res.cpus = cores * 2.0;
  CHECK(r.capacity_for(res) == 1);
  res.cpus = 0.5;
  CHECK(r.capacity_for(res) == cores * 2);
}

TEST_CASE("local runner: pin_cpus gives concurrent jobs disjoint CPUs", "[runner]") {
  test::TempDir tmp;
  LocalRunner r(nlohmann::json{{"pin_cpus", true}});
  auto spec = shell_job(tmp, "grep Cpus_allowed_list /proc/self/status");
  spec.resources.cpus = 1;
  JobResult res = r.run(spec);
  REQUIRE(res.ok());
  REQUIRE(res.info["cpu_set"].size() == 1);
  int cpu = res.info["cpu_set"][0];
  CHECK(read_file(tmp / "run.log").find("\t" + std::to_string(cpu) + "\n") != std::string::npos);
}

// Captured `nvidia-smi --query-gpu=index,uuid,name,driver_version,memory.total,memory.used,utilization.gpu
// --format=csv,noheader,nounits` lines: a two-GPU node, one busy; a GPU that
// cannot report utilisation.
static const char* kTwoGpus =
    "0, GPU-5a1e4b2c-8f3d-11ee-9a3b-0242ac120002, NVIDIA H100 80GB HBM3, 550.54.15, 81559, 0, 0\n"
    "1, GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff, NVIDIA H100 80GB HBM3, 550.54.15, 81559, 40211, 97\n";

TEST_CASE("nvidia-smi output parses, N/A and all", "[runner]") {
  auto gpus = parse_nvidia_smi(kTwoGpus);
  REQUIRE(gpus.size() == 2);
  CHECK(gpus[0].index == 0);
  CHECK(gpus[0].uuid == "GPU-5a1e4b2c-8f3d-11ee-9a3b-0242ac120002");
  CHECK(gpus[0].name == "NVIDIA H100 80GB HBM3");
  CHECK(gpus[0].driver == "550.54.15");
  CHECK(*gpus[0].memory_total_mib == 81559);
  CHECK(*gpus[1].memory_used_mib == 40211);
  CHECK(*gpus[1].utilization == 97);
  gpus = parse_nvidia_smi(
      "0, GPU-1, Tesla T4, 535.129.03, 15360, [N/A], [Not Supported]\r\n\n"
      "1, GPU-2, \"NVIDIA GeForce RTX 3090, 24GB\", 535.129.03, 24576, 8192, 65\n");
  REQUIRE(gpus.size() == 2);
  CHECK_FALSE(gpus[0].memory_used_mib);
  CHECK_FALSE(gpus[0].utilization);
  CHECK(gpus[1].name == "NVIDIA GeForce RTX 3090, 24GB");
  CHECK(parse_nvidia_smi("").empty());
  CHECK_THROWS_AS(parse_nvidia_smi("No devices were found"), RunnerError);
  CHECK_THROWS_WITH(parse_nvidia_smi("0, GPU-1, T4, 535, lots, 0, 0"), Catch::Contains("'lots' is not a number"));
}

TEST_CASE("GPU allocation: free ones first, all or nothing, shared through lock files", "[runner]") {
  test::TempDir tmp;
  auto gpus = parse_nvidia_smi(kTwoGpus);
  auto locks = tmp / "gpu-locks";
  // GPU 1 has 40 GB in use by something outside mlo: busy.
  auto a = try_acquire_gpus(gpus, 1, locks, 1024);
  REQUIRE(a);
  CHECK(a->visible_devices() == "0");
  CHECK_FALSE(try_acquire_gpus(gpus, 1, locks, 1024));  // 0 is taken, 1 is busy
  // Ignoring foreign memory use, the second job gets GPU 1.
  auto b = try_acquire_gpus(gpus, 1, locks, -1);
  REQUIRE(b);
  CHECK(b->visible_devices() == "1");
  b.reset();
  // Two at once: not while one is held, and nothing is left locked by the attempt.
  CHECK_FALSE(try_acquire_gpus(gpus, 2, locks, -1));
  CHECK(try_acquire_gpus(gpus, 1, locks, -1));
  a.reset();
  auto both = try_acquire_gpus(gpus, 2, locks, -1);
  REQUIRE(both);
  CHECK(both->visible_devices() == "0,1");
  // Another process sees the locks (flock is per open file, across processes).
  CHECK(test::sh(tmp.path(), "flock -n gpu-locks/gpu-GPU-5a1e4b2c-8f3d-11ee-9a3b-0242ac120002.lock true") != 0);
  both.reset();
  CHECK(test::sh(tmp.path(), "flock -n gpu-locks/gpu-GPU-5a1e4b2c-8f3d-11ee-9a3b-0242ac120002.lock true") == 0);
}

TEST_CASE("cuda runner: a machine without nvidia-smi is a RunnerError with a hint", "[runner]") {
  test::TempDir tmp;
  try {
    discover_gpus("mlo-no-such-nvidia-smi");
    FAIL("no error");
  } catch (const RunnerError& e) {
    CHECK(e.code() == Exit::runner);
    CHECK(std::string(e.what()).find("no NVIDIA GPU found") != std::string::npos);
    CHECK(e.hint().find("runner: local") != std::string::npos);
  }
  // A driver that does not answer (nvidia-smi exits non-zero): its words are in the message.
  test::write(tmp / "bin/nvidia-smi",
              "#!/bin/sh\necho \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"\nexit 9\n");
  ::chmod((tmp / "bin/nvidia-smi").c_str(), 0755);
  CHECK_THROWS_WITH(discover_gpus((tmp / "bin/nvidia-smi").string()), Catch::Contains("couldn't communicate"));
  if (!find_program("nvidia-smi")) {
    CHECK_THROWS_AS(make_runner("cuda", nlohmann::json::object(), tmp.path()), RunnerError);
  }
}

TEST_CASE("slurm: scontrol and sacct output parse, states map to results", "[runner]") {
  // Captured from the test cluster (slurm-wlm 22.05), shortened.
  auto job = parse_scontrol_job(
      "JobId=7 JobName=mlo-train UserId=root(0) GroupId=root(0) JobState=FAILED Reason=NonZeroExitCode "
      "Dependency=(null) ExitCode=3:0 RunTime=00:00:01 Partition=debug NodeList=vm BatchHost=vm NumNodes=1\n");
  REQUIRE(job);
  CHECK(job->state == "FAILED");
  CHECK(job->exit_code == 3);
  CHECK(job->node == "vm");
  CHECK(job->partition == "debug");
  CHECK(job->reason == "NonZeroExitCode");
  CHECK_FALSE(parse_scontrol_job("slurm_load_jobs error: Invalid job id specified"));
  auto sa = parse_sacct_line("CANCELLED by 0|0:15|node3|gpu\n");
  REQUIRE(sa);
  CHECK(sa->state == "CANCELLED");
  CHECK(sa->signal == 15);
  CHECK(sa->node == "node3");

  SlurmJob j;
  j.state = "COMPLETED";
  CHECK(map_slurm_state(j, false).status == "succeeded");
  j.state = "FAILED";
  j.exit_code = 2;
  CHECK(map_slurm_state(j, false).status == "failed");
  j.state = "TIMEOUT";
  CHECK(map_slurm_state(j, false).status == "timeout");
  j.state = "CANCELLED";
  CHECK(map_slurm_state(j, true).status == "interrupted");
  CHECK(map_slurm_state(j, false).status == "killed");
  j.state = "OUT_OF_MEMORY";
  CHECK(map_slurm_state(j, false).message.find("out of memory") != std::string::npos);
  j.state = "NODE_FAIL";
  CHECK(map_slurm_state(j, false).status == "error");
  CHECK(slurm_state_final("COMPLETED"));
  CHECK_FALSE(slurm_state_final("RUNNING"));
  CHECK_FALSE(slurm_state_final("PENDING"));
}

TEST_CASE("slurm: sbatch arguments and a batch script that keeps argv intact", "[runner]") {
  test::TempDir tmp;
  JobSpec spec = shell_job(tmp, "");
  spec.argv = {"/bin/sh", "-c", "printf '[%s]' \"$1\" \"$V\" > out.txt", "sh", "it's a \"b\" $HOME"};
  spec.env["V"] = "x'y";
  spec.resources.cpus = 3;
  spec.resources.memory_bytes = 1536ull << 20;
  spec.resources.time_limit_s = 61;
  spec.resources.gpus = 2;
  nlohmann::json config = {{"partition", "gpu"}, {"account", "ml"}, {"qos", "high"},
                           {"extra_args", {"--exclusive"}}};
  auto args = sbatch_args(spec, config, tmp / "o.out");
  auto has = [&](const std::string& a) { return std::find(args.begin(), args.end(), a) != args.end(); };
  CHECK(has("--cpus-per-task=3"));
  CHECK(has("--mem=1536M"));
  CHECK(has("--time=2"));
  CHECK(has("--gres=gpu:2"));
  CHECK(has("--partition=gpu"));
  CHECK(has("--account=ml"));
  CHECK(has("--qos=high"));
  CHECK(has("--exclusive"));
  CHECK(has("--job-name=mlo-train"));
  CHECK_THROWS_AS(sbatch_args(spec, {{"extra_args", 5}}, tmp / "o"), InputError);
  // The script runs under sh exactly as Slurm would run it.
  test::write(tmp / "job.sh", sbatch_script(spec));
  CHECK(test::sh(tmp.path(), "sh job.sh") == 0);
  CHECK(read_file(tmp / "out.txt") == "[it's a \"b\" $HOME][x'y]");
  CHECK(sbatch_script(spec).find("export OMP_NUM_THREADS=3") != std::string::npos);
}

TEST_CASE("make_runner: built-ins, plugins on PATH, and a clear error otherwise", "[runner]") {
  test::TempDir tmp;
  CHECK(make_runner("local", nlohmann::json::object(), tmp.path())->name() == "local");
  test::write(tmp / "bin/mlo-runner-mine", "#!/bin/sh\nexit 0\n");
  ::chmod((tmp / "bin/mlo-runner-mine").c_str(), 0755);
  ScopedPath path((tmp / "bin").string());
  auto runners = available_runners();
  bool found = false;
  for (auto& r : runners) found |= r.name == "mine" && r.kind == "plugin";
  CHECK(found);
  CHECK(make_runner("mine", nlohmann::json::object(), tmp.path())->name() == "mine");
  try {
    make_runner("nope", nlohmann::json::object(), tmp.path());
    FAIL("no error");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()) == "unknown runner 'nope'");
    CHECK(e.hint().find("local, cuda, slurm") != std::string::npos);
    CHECK(e.hint().find("mine") != std::string::npos);
    CHECK(e.hint().find("mlo-runner-nope") != std::string::npos);
  }
  CHECK_THROWS_AS(make_runner("../evil", nlohmann::json::object(), tmp.path()), InputError);
}

TEST_CASE("plugin protocol: the example mlo-runner-nice runs a job end to end", "[runner]") {
  const char* src = std::getenv("MLO_TEST_SOURCE_DIR");
  if (!src || !find_program("python3")) {
    WARN("skipped: needs MLO_TEST_SOURCE_DIR and python3");
    return;
  }
  test::TempDir tmp;
  ScopedPath path(std::string(src) + "/examples/runners");
  auto r = make_runner("nice", nlohmann::json{{"niceness", 7}}, tmp.path());
  CHECK(r->name() == "nice");
  CHECK(r->capacity() >= 1);
  CHECK(r->describe()["path"].get<std::string>().find("mlo-runner-nice") != std::string::npos);
  int base = ::nice(0);
  auto spec = shell_job(tmp, "echo nice=$(nice) threads=$OMP_NUM_THREADS; echo oops >&2");
  spec.resources.cpus = 2;
  JobResult res = r->run(spec);
  CHECK(res.status == "succeeded");
  CHECK(res.info["niceness"] == 7);
  std::string log = read_file(tmp / "run.log");
  CHECK(log.find("nice=" + std::to_string(std::min(19, base + 7)) + " threads=2\n") != std::string::npos);
  CHECK(log.find("oops\n") != std::string::npos);
  res = r->run(shell_job(tmp, "exit 4"));
  CHECK(res.status == "failed");
  CHECK(res.exit_code == 4);
  // Ctrl-C: mlo sends SIGTERM to the plugin, which stops its job and says so.
  auto slow = shell_job(tmp, "echo $$ > job.pid; sleep 60");
  {
    CtrlCAfter ctrl_c(100, tmp / "job.pid");
    res = r->run(slow);
  }
  CHECK(res.status == "interrupted");
  CHECK_FALSE(process_alive(std::stoi(read_file(tmp / "job.pid"))));
  // No spec or result files are left behind.
  CHECK(std::filesystem::is_empty(tmp / "plugins"));
}

TEST_CASE("plugin protocol: bad plugins give status error, not a crash", "[runner]") {
  test::TempDir tmp;
  test::write(tmp / "bin/mlo-runner-silent", "#!/bin/sh\necho working on $2\nexit 0\n");
  test::write(tmp / "bin/mlo-runner-garbage",
              "#!/bin/sh\nf=$(sed -n 's/.*\"result_path\": *\"\\([^\"]*\\)\".*/\\1/p' \"$2\")\n"
              "echo 'not json' > \"$f\"\n");
  test::write(tmp / "bin/mlo-runner-crash", "#!/bin/sh\nkill -KILL $$\n");
  test::write(tmp / "bin/mlo-runner-odd",
              "#!/bin/sh\necho '{\"version\":1,\"status\":\"great\"}' > \"$MLO_JOB_RESULT\"\n");
  for (auto n : {"silent", "garbage", "crash", "odd"}) ::chmod((tmp / "bin" / (std::string("mlo-runner-") + n)).c_str(), 0755);
  ScopedPath path((tmp / "bin").string());
  auto spec = shell_job(tmp, "true");
  auto res = make_runner("silent", nlohmann::json::object(), tmp.path())->run(spec);
  CHECK(res.status == "error");
  CHECK(res.message.find("without writing a job result") != std::string::npos);
  CHECK(read_file(tmp / "run.log").find("working on") != std::string::npos);
  res = make_runner("garbage", nlohmann::json::object(), tmp.path())->run(spec);
  CHECK(res.status == "error");
  CHECK(res.message.find("unreadable result") != std::string::npos);
  res = make_runner("crash", nlohmann::json::object(), tmp.path())->run(spec);
  CHECK(res.status == "error");
  CHECK(res.message.find("on signal 9") != std::string::npos);
  res = make_runner("odd", nlohmann::json::object(), tmp.path())->run(spec);
  CHECK(res.status == "error");
  CHECK(res.message.find("unknown status 'great'") != std::string::npos);
}

TEST_CASE("GPU queue: a job waits while the GPUs are held, and gets one when freed", "[runner]") {
  test::TempDir tmp;
  auto gpus = parse_nvidia_smi(kTwoGpus);
  GpuQueue q;
  q.want = 1;
  q.lock_dir = tmp / "gpu-locks";
  q.busy_memory_mib = -1;
  q.poll_s = 0.05;
  // Re-reading the GPUs: the same captured nvidia-smi text, now with GPU 1 idle.
  q.discover = [] {
    return parse_nvidia_smi(
        "0, GPU-5a1e4b2c-8f3d-11ee-9a3b-0242ac120002, NVIDIA H100 80GB HBM3, 550.54.15, 81559, 0, 0\n"
        "1, GPU-9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff, NVIDIA H100 80GB HBM3, 550.54.15, 81559, 3, 0\n");
  };
  int waits = 0;
  q.on_wait = [&] { ++waits; };
  auto held = try_acquire_gpus(gpus, 2, q.lock_dir, -1);
  REQUIRE(held);
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    held.reset();
  });
  std::string why;
  bool waited = false;
  auto lease = wait_for_gpus(q, gpus, &why, &waited);
  release.join();
  REQUIRE(lease);
  CHECK(waited);
  CHECK(waits == 1);
  CHECK(lease->gpus().size() == 1);

  // With a queue timeout and nothing free: timeout. With Ctrl-C: interrupted.
  q.want = 2;
  q.timeout_s = 0.2;
  CHECK_FALSE(wait_for_gpus(q, gpus, &why, &waited));
  CHECK(why == "timeout");
  q.timeout_s = -1;
  {
    CtrlCAfter ctrl_c(200);
    CHECK_FALSE(wait_for_gpus(q, gpus, &why, &waited));
  }
  CHECK(why == "interrupted");
  // A busy GPU (memory in use by work outside mlo) is not handed out.
  lease.reset();
  q.want = 2;
  q.busy_memory_mib = 1024;
  q.timeout_s = 0.1;
  q.discover = nullptr;
  CHECK_FALSE(wait_for_gpus(q, gpus, &why, &waited));
}

TEST_CASE("shell quoting: both forms give /bin/sh the word back; the minimal one leaves plain words bare", "[runner]") {
  using mlo::runner::shell_quote;
  using mlo::runner::shell_quote_always;
  for (std::string word : {"plain.txt", "", "it's", "a b", "$HOME `x` \"q\"", "line\nbreak", "''", "-n", "a\\b"}) {
    for (const std::string& quoted : {shell_quote(word), shell_quote_always(word)}) {
      mlo::ProcessResult r = mlo::run_process({{"/bin/sh", "-c", "printf %s " + quoted}});
      INFO(quoted);
      CHECK(r.out == word);
    }
  }
  CHECK(shell_quote("models/m1.json") == "models/m1.json");
  CHECK(shell_quote_always("models/m1.json") == "'models/m1.json'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote_always("it's") == shell_quote("it's"));
}
