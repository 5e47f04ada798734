// What keeps `mlo gc --remote` and `mlo push` from losing each other's work.
//
// The gc lock: locks/gc-<unix seconds>-<hex>.json. A gc writes its own, then
// lists locks/: if it sees another fresh one it removes its own and stops
// (two gc runs that start together may both stop; never both go on, since
// the later writer sees the earlier lock). Stores are read-after-write
// consistent (a directory, WebDAV, S3 since 2020), which is all this needs.
// The lock names its holder (host, boot, pid and the pid's start time) and
// carries a heartbeat the gc rewrites every kGcHeartbeatEvery seconds while
// it runs. A lock is stale (a killed gc's) when its heartbeat is older than
// kGcHeartbeatStale, or at once when its holder ran on this host and that
// process is gone; a lock without a heartbeat (an older mlo's) when it is
// older than kGcLockStale. Stale locks are ignored, named in a warning, and
// removed by the next gc.
//
// Push records: pushes/<unix seconds>-<hex>.json, written by every push
// before it uploads, naming what the push counts on (the objects its
// pointers and runs need, and folder manifests whose files it needs). They
// are a push's "upload time" for objects it found already on the remote
// (dedup), as git's freshening of loose objects is: gc keeps what a record
// younger than the grace period names, so a teammate's push that git has
// not seen yet is safe even when its objects were uploaded long ago.
//
// The race: a push writes its record, uploads, then waits while a gc lock
// is held, then checks that every object it counted on is still listed
// (and sends again what is not). A gc takes its lock before it reads the
// records. So either the gc read the record (and keeps what it names), or
// the record came after the lock, and the push's final check runs after
// that gc finished.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "remote/backend.h"

namespace mlo::remote {

constexpr std::int64_t kGcLockStale = 6 * 3600;
constexpr std::int64_t kGcHeartbeatEvery = 20;
constexpr std::int64_t kGcHeartbeatStale = 120;

// The current unix time (plus MLO_TEST_CLOCK_SKEW seconds, for tests).
std::int64_t unix_now();

class GcLock {
 public:
  // Throws RemoteError (exit 4) naming the other lock when a gc holds one.
  // Removes stale locks (saying so) and keeps its own fresh until destroyed.
  GcLock(Backend& backend, std::int64_t now);
  ~GcLock();
  GcLock(const GcLock&) = delete;
  GcLock& operator=(const GcLock&) = delete;

 private:
  void heartbeat_loop();

  Backend& backend_;
  std::string key_;
  std::int64_t since_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread heartbeat_;
};

// A gc lock that no running gc holds, and why ("its process (pid 12 on this
// host) is gone").
struct StaleGcLock {
  std::string key, reason;
};

// The key of a fresh gc lock other than `except`, if any; stale ones go to `stale`.
std::optional<std::string> running_gc(Backend& backend, std::int64_t now, const std::string& except = {},
                                      std::vector<StaleGcLock>* stale = nullptr);
// Returns once no fresh gc lock is held; throws RemoteError after
// `timeout_seconds` (the push's objects are then uploaded but unverified).
void wait_for_gc(Backend& backend, std::int64_t timeout_seconds);

std::string write_push_record(Backend& backend, const std::set<std::string>& objects,
                              const std::set<std::string>& manifests, std::int64_t now);

struct PushRecord {
  std::string key;
  std::int64_t time = 0;
  std::vector<std::string> objects, manifests;
};
// Records uploaded at or after `since` (the later of the time in the name
// and the listing's); the keys of older ones go to `expired`.
std::vector<PushRecord> read_push_records(Backend& backend, std::int64_t since, std::vector<std::string>* expired);

}  // namespace mlo::remote
