#include "remote/gc_lock.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "remote/layout.h"

namespace mlo::remote {

namespace {

std::string stamped_name(std::int64_t now) {
  std::random_device rd;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%010lld-%08x%08x", static_cast<long long>(now), static_cast<unsigned>(rd()),
                static_cast<unsigned>(rd()));
  return buf;
}

// The later of the time a key's name records and the listing's time.
std::int64_t stamped_time(const BlobInfo& b, const std::string& prefix) {
  return std::max(pack_time(b.key.substr(prefix.size())), b.mtime);
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::vector<std::string> hash_list(const nlohmann::json& doc, const char* field) {
  std::vector<std::string> out;
  if (!doc.contains(field) || !doc[field].is_array()) return out;
  for (const auto& h : doc[field])
    if (h.is_string() && is_sha256_hex(h.get<std::string>())) out.push_back(h.get<std::string>());
  return out;
}

// The process that holds a lock, as the lock names it.
struct Holder {
  std::string host, boot_id;
  long long pid = 0, pid_start = 0;
  std::int64_t heartbeat = 0;  // 0: an older mlo's lock, without one
};

std::string this_host() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string this_boot() {
  static const std::string id = first_line("/proc/sys/kernel/random/boot_id");
  return id;
}

// A process's start time (clock ticks after boot, /proc/PID/stat field 22):
// with the pid it names one process, even after the pid is reused. 0: gone.
long long process_start(long long pid) {
  std::string stat = first_line("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) return 0;
  std::istringstream rest(stat.substr(paren + 1));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 22) return std::strtoll(field.c_str(), nullptr, 10);
  return 0;
}

std::string lock_body(std::int64_t since, std::int64_t heartbeat) {
  static const long long pid = ::getpid();
  nlohmann::json doc = {{"version", 2},         {"since", since},       {"heartbeat", heartbeat},
                        {"host", this_host()},  {"boot_id", this_boot()}, {"pid", pid},
                        {"pid_start", process_start(pid)}};
  return doc.dump() + "\n";
}

// The holder a lock names; fields of the wrong type (a hostile or older
// writer) read as absent.
Holder read_holder(Backend& backend, const std::string& key) {
  Holder h;
  auto text = backend.get(key);
  if (!text) return h;
  auto doc = nlohmann::json::parse(*text, nullptr, false);
  if (!doc.is_object()) return h;
  auto str = [&](const char* k) { return doc.contains(k) && doc[k].is_string() ? doc[k].get<std::string>() : ""; };
  auto num = [&](const char* k) { return doc.contains(k) && doc[k].is_number_integer() ? doc[k].get<long long>() : 0; };
  h.host = str("host");
  h.boot_id = str("boot_id");
  h.pid = num("pid");
  h.pid_start = num("pid_start");
  h.heartbeat = num("heartbeat");
  return h;
}

// Why a holder on this host no longer runs ("" when it may: another host, or alive).
std::string gone_here(const Holder& h) {
  if (h.host.empty() || h.host != this_host()) return "";
  if (!h.boot_id.empty() && !this_boot().empty() && h.boot_id != this_boot())
    return "its host (" + h.host + ", this one) has restarted since";
  constexpr long long kMaxPid = 4194304;  // Linux's pid_max limit; a hostile pid is never looked up
  if (h.pid <= 0 || h.pid > kMaxPid) return "";
  long long start = process_start(h.pid);
  if (start == 0) return "its process (pid " + std::to_string(h.pid) + " on this host) is gone";
  if (h.pid_start != 0 && start != h.pid_start)
    return "its process (pid " + std::to_string(h.pid) + " on this host) is gone (the pid now names another one)";
  return "";
}

// Why the lock `b` is stale, or "" while its gc may be running.
std::string stale_reason(Backend& backend, const BlobInfo& b, std::int64_t now) {
  std::int64_t written = stamped_time(b, "locks/gc-");
  if (now - written >= kGcLockStale) return "not refreshed for " + std::to_string((now - written) / 3600) + " hours";
  Holder h = read_holder(backend, b.key);
  if (std::string gone = gone_here(h); !gone.empty()) return gone;
  if (h.heartbeat == 0) return "";  // an older mlo's gc: only age tells
  std::int64_t beat = std::max(written, h.heartbeat);
  if (now - beat > kGcHeartbeatStale)
    return "its heartbeat stopped " + std::to_string(now - beat) + " s ago (on " +
           (h.host.empty() ? std::string("an unknown host") : h.host) + ", pid " + std::to_string(h.pid) + ")";
  return "";
}

}  // namespace

std::int64_t unix_now() {
  std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Tests only: pretend to run later (a teammate's push days after ours).
  if (const char* skew = std::getenv("MLO_TEST_CLOCK_SKEW")) now += std::strtoll(skew, nullptr, 10);
  return now;
}

std::optional<std::string> running_gc(Backend& backend, std::int64_t now, const std::string& except,
                                      std::vector<StaleGcLock>* stale) {
  std::optional<std::string> running;
  for (const auto& b : backend.list("locks/")) {
    if (b.key == except || b.key.rfind("locks/gc-", 0) != 0 || !ends_with(b.key, ".json")) continue;
    std::string why = stale_reason(backend, b, now);
    if (why.empty() && !running) running = b.key;
    if (!why.empty() && stale) stale->push_back({b.key, why});
  }
  return running;
}

GcLock::GcLock(Backend& backend, std::int64_t now) : backend_(backend), since_(now) {
  key_ = "locks/gc-" + stamped_name(now) + ".json";
  backend_.put(key_, lock_body(since_, now));
  std::vector<StaleGcLock> stale;
  if (auto other = running_gc(backend_, now, key_, &stale)) {
    backend_.remove(key_);
    throw RemoteError(backend_.describe() + ": another gc is running (" + *other + ")",
                      "wait for it to finish; if none is running (a gc killed on another host), remove " + *other +
                          " from the remote (it is ignored " + std::to_string(kGcHeartbeatStale) +
                          " s after its last heartbeat)");
  }
  for (const auto& s : stale) {  // a killed gc's: this gc holds the lock now, so it may clear them
    backend_.remove(s.key);
    log::info(backend_.describe() + ": removed the lock of a killed gc (" + s.key + ": " + s.reason + ")");
  }
  heartbeat_ = std::thread([this] { heartbeat_loop(); });
}

// Rewrites the lock every kGcHeartbeatEvery seconds: others see it is alive.
void GcLock::heartbeat_loop() {
  std::unique_lock<std::mutex> hold(mutex_);
  bool warned = false;
  while (!wake_.wait_for(hold, std::chrono::seconds(kGcHeartbeatEvery), [this] { return stop_; })) {
    try {
      backend_.put(key_, lock_body(since_, unix_now()));
    } catch (const Error& e) {
      if (!warned) log::warn(backend_.describe() + ": could not refresh the gc lock " + key_ + ": " + e.what());
      warned = true;
    }
  }
}

GcLock::~GcLock() {
  {
    std::lock_guard<std::mutex> hold(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  try {
    backend_.remove(key_);
  } catch (const Error&) {
    // Left behind, it is ignored once its heartbeat is stale.
  }
}

void wait_for_gc(Backend& backend, std::int64_t timeout_seconds) {
  auto start = std::chrono::steady_clock::now();
  bool told = false;
  std::set<std::string> reported;
  auto report_stale = [&](const std::vector<StaleGcLock>& stale) {
    for (const auto& s : stale)
      if (reported.insert(s.key).second)
        log::warn(backend.describe() + ": ignoring the lock of a killed gc (" + s.key + ": " + s.reason +
                  "); the next 'mlo gc --remote' removes it, or remove that file from the remote");
  };
  std::vector<StaleGcLock> stale;
  while (auto lock = running_gc(backend, unix_now(), {}, &stale)) {
    report_stale(stale);
    stale.clear();
    if (!told) {  // a killed gc's lock looks like a running one: say what is awaited
      log::warn(backend.describe() + ": waiting for a gc to finish (" + *lock + "); if none is running (a gc "
                "killed on another host), remove that file from the remote, or wait: it is ignored " +
                std::to_string(kGcHeartbeatStale) + " s after its last heartbeat");
      told = true;
    }
    check_interrupted();  // Ctrl-C / SIGTERM stop the wait
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(timeout_seconds))
      throw RemoteError(backend.describe() + ": a gc has been running for more than " +
                            std::to_string(timeout_seconds) + " s (" + *lock + "); this push's objects are uploaded "
                            "but not yet checked against it",
                        "run 'mlo push' again once the gc has finished");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  report_stale(stale);
}

std::string write_push_record(Backend& backend, const std::set<std::string>& objects,
                              const std::set<std::string>& manifests, std::int64_t now) {
  nlohmann::json doc = {{"version", 1}, {"time", now}, {"objects", objects}, {"manifests", manifests}};
  std::string key = "pushes/" + stamped_name(now) + ".json";
  put_verified(backend, key, doc.dump() + "\n");
  return key;
}

std::vector<PushRecord> read_push_records(Backend& backend, std::int64_t since, std::vector<std::string>* expired) {
  std::vector<PushRecord> out;
  for (const auto& b : backend.list("pushes/")) {
    if (!ends_with(b.key, ".json")) continue;
    std::int64_t t = stamped_time(b, "pushes/");
    if (t < since) {
      if (expired) expired->push_back(b.key);
      continue;
    }
    auto text = backend.get(b.key);
    if (!text) continue;  // expired and removed by another gc meanwhile
    auto doc = nlohmann::json::parse(*text, nullptr, false);
    if (!doc.is_object()) continue;
    out.push_back({b.key, t, hash_list(doc, "objects"), hash_list(doc, "manifests")});
  }
  return out;
}

}  // namespace mlo::remote
