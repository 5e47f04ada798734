#include "remote/gc_lock.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
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

}  // namespace

std::int64_t unix_now() {
  std::int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Tests only: pretend to run later (a teammate's push days after ours).
  if (const char* skew = std::getenv("MLO_TEST_CLOCK_SKEW")) now += std::strtoll(skew, nullptr, 10);
  return now;
}

std::optional<std::string> running_gc(Backend& backend, std::int64_t now, const std::string& except) {
  for (const auto& b : backend.list("locks/")) {
    if (b.key == except || b.key.rfind("locks/gc-", 0) != 0 || !ends_with(b.key, ".json")) continue;
    if (now - stamped_time(b, "locks/gc-") < kGcLockStale) return b.key;
  }
  return std::nullopt;
}

GcLock::GcLock(Backend& backend, std::int64_t now) : backend_(backend) {
  key_ = "locks/gc-" + stamped_name(now) + ".json";
  backend_.put(key_, nlohmann::json({{"version", 1}, {"since", now}}).dump() + "\n");
  if (auto other = running_gc(backend_, now, key_)) {
    backend_.remove(key_);
    throw RemoteError(backend_.describe() + ": another gc is running (" + *other + ")",
                      "wait for it to finish; if none is running (a killed gc), remove " + *other +
                          " from the remote (it is ignored after 6 hours)");
  }
}

GcLock::~GcLock() {
  try {
    backend_.remove(key_);
  } catch (const Error&) {
    // Left behind, it is ignored once stale.
  }
}

void wait_for_gc(Backend& backend, std::int64_t timeout_seconds) {
  auto start = std::chrono::steady_clock::now();
  bool told = false;
  while (auto lock = running_gc(backend, unix_now())) {
    if (!told) {  // a killed gc's lock looks like a running one: say what is awaited
      log::warn(backend.describe() + ": waiting for a gc to finish (" + *lock + "); if none is running (a killed "
                "gc), remove that file from the remote");
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
