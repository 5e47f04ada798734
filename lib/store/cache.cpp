#include "store/cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <cerrno>
#include <ctime>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/hash_set.h"
#include "core/interrupt.h"
#include "core/unnamed_file.h"

namespace mlo {

std::string to_string(LinkMode mode) {
  switch (mode) {
    case LinkMode::reflink: return "reflink";
    case LinkMode::hardlink: return "hardlink";
    case LinkMode::symlink: return "symlink";
    case LinkMode::copy: return "copy";
  }
  return "copy";
}

std::vector<LinkMode> parse_link_modes(std::string_view text, const std::string& where) {
  if (text.empty() || text == "auto") return {LinkMode::reflink, LinkMode::copy};
  std::vector<LinkMode> modes;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(start, end - start);
    while (!word.empty() && word.front() == ' ') word.remove_prefix(1);
    while (!word.empty() && word.back() == ' ') word.remove_suffix(1);
    if (word == "reflink") modes.push_back(LinkMode::reflink);
    else if (word == "hardlink") modes.push_back(LinkMode::hardlink);
    else if (word == "symlink") modes.push_back(LinkMode::symlink);
    else if (word == "copy") modes.push_back(LinkMode::copy);
    else
      throw InputError(where + ": unknown link mode '" + std::string(word) + "'",
                       "use reflink, hardlink, symlink or copy (or a comma list such as reflink,copy)");
    start = end + 1;
  }
  return modes;
}

Cache::Cache(fs::path root) : root_(std::move(root)), stage_dir_(root_ / "tmp") {}

fs::path Cache::object_path(std::string_view hash) const { return object_file(hash); }

std::string Cache::object_file(std::string_view hash) const {
  // As root_ / "objects" / "ab" / "cdef...", byte for byte (stat cache rows
  // are keyed by this string).
  const std::string& root = root_.native();
  std::string file;
  file.reserve(root.size() + 12 + hash.size());
  file += root;
  if (!root.empty() && root.back() != '/') file += '/';
  file += "objects/";
  file.append(hash.substr(0, 2));
  file += '/';
  file.append(hash.substr(2));
  return file;
}

bool Cache::has(std::string_view hash) const {
  struct stat st;
  return ::stat(object_file(hash).c_str(), &st) == 0;
}

void Cache::ensure_fanout(std::string_view hash) const {
  // Remembered per process: 100,000 objects need 256 mkdir calls, not 100,000.
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::atomic<bool>& ready = fanout_ready_[static_cast<size_t>(nibble(hash[0]) * 16 + nibble(hash[1])) & 255];
  if (ready.load(std::memory_order_relaxed)) return;
  ensure_fanout_dir(hash);
  ready.store(true);
}

void Cache::ensure_fanout_dir(std::string_view hash) const {
  fs::path dir = root_ / "objects" / std::string(hash.substr(0, 2));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    if (errno == ENOENT) {
      fs::create_directories(dir);
      return;
    }
    throw_errno("cannot create " + dir.string(), errno);
  }
}

namespace {

// rename() that fails with EEXIST instead of replacing `to`. File systems
// without RENAME_NOREPLACE get a check first (a race then replaces the
// object with the same bytes, which is harmless).
int rename_no_replace(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  struct stat st;
  if (::stat(to.c_str(), &st) == 0) {
    errno = EEXIST;
    return -1;
  }
  return ::rename(from.c_str(), to.c_str());
}

}  // namespace

namespace {
// Cleared for the process when the file system has no O_TMPFILE.
std::atomic<bool> unnamed_files_work{true};
}  // namespace

bool Cache::link_object(const UnnamedFile& file, std::string_view hash, bool durable) const {
  ensure_fanout(hash);
  const std::string dest = object_file(hash);
  // As publish: never over an existing object (the same bytes; its inode may
  // be linked from the workspace), and the fan-out folder made again once.
  bool linked = file.link_as(AT_FDCWD, dest.c_str());
  if (!linked && errno == ENOENT) {
    ensure_fanout_dir(hash);
    linked = file.link_as(AT_FDCWD, dest.c_str());
  }
  if (!linked && errno != EEXIST) return false;  // (no /proc to link through): the caller's named way
  if (linked && durable) fsync_path(fs::path(dest).parent_path());
  return true;
}

void Cache::publish(const fs::path& temp, std::string_view hash, bool durable, bool read_only) const {
  ensure_fanout(hash);
  fs::path dest = object_path(hash);
  if (!read_only) ::chmod(temp.c_str(), 0444);
  // Never over an existing object (same bytes): keeping its inode preserves
  // hardlinks already pointing at it. The fan-out folder may have been removed
  // since it was made (gc of an emptied folder by another process): make it
  // again and retry once.
  int rc = rename_no_replace(temp, dest);
  if (rc != 0 && errno == ENOENT) {
    ensure_fanout_dir(hash);
    rc = rename_no_replace(temp, dest);
  }
  if (rc != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    if (err == EEXIST) return;
    throw_errno("cannot store object " + dest.string(), err);
  }
  if (durable) fsync_path(dest.parent_path());
}

namespace {

bool try_reflink(int src_fd, int dst_fd) { return ::ioctl(dst_fd, FICLONE, src_fd) == 0; }

// Files below this size are copied and hashed from one buffer in one thread;
// a second thread costs more than it saves.
constexpr off_t kParallelCopyMin = 8 << 20;

// Copies src to out with the kernel's copy_file_range (no user-space copy),
// falling back to pread/write where the file systems do not support it.
// `stop` makes it return early (the caller is unwinding).
void kernel_copy(int src_fd, int out_fd, off_t size, const std::atomic<bool>& stop, int& error) {
  off_t in_off = 0, out_off = 0;
  bool fallback = false;
  std::vector<char> buf;
  while (in_off < size && !stop.load(std::memory_order_relaxed)) {
    const size_t want = static_cast<size_t>(std::min<off_t>(size - in_off, 64 << 20));
    ssize_t n;
    if (!fallback) {
      n = ::copy_file_range(src_fd, &in_off, out_fd, &out_off, want, 0);
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
        fallback = true;
        continue;
      }
    } else {
      if (buf.empty()) buf.resize(kIoBufferSize);
      n = ::pread(src_fd, buf.data(), std::min(want, buf.size()), in_off);
      for (ssize_t done = 0; n > 0 && done < n;) {
        ssize_t w = ::pwrite(out_fd, buf.data() + done, static_cast<size_t>(n - done), out_off + done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          error = errno;
          return;
        }
        done += w;
      }
      if (n > 0) {
        in_off += n;
        out_off += n;
      }
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      return;
    }
    if (n == 0) break;  // the file shrank: the stat check below catches it
  }
}

bool same_file_state(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

// Copies src to a new temp file and returns the hash of the bytes. Small
// files: read once, hash and write the same buffer. Large files: the kernel
// copies in one thread while this one hashes (cp's speed instead of cp + sha256);
// the source's stat is compared before and after, so a file changed during
// the copy is an error rather than an object whose name mismatches its bytes.
// `out` is the new object file (`temp` names it in messages).
std::string copy_and_hash(int src_fd, const UniqueFd& out, const fs::path& temp, const fs::path& source, bool durable,
                          const ByteProgress& on_bytes) {
  struct stat before;
  if (::fstat(src_fd, &before) != 0) throw_errno("cannot read " + source.string(), errno);
  Sha256 h;
  char* buf = io_buffer();
  if (before.st_size < kParallelCopyMin) {
    // A file that fits the buffer is done once its size is read: no read for
    // end-of-file (a tenth of the system calls of adding a small file).
    const auto whole = static_cast<std::size_t>(before.st_size);
    for (std::size_t done = 0;;) {
      check_interrupted();
      if (done == whole && whole > 0 && whole <= kIoBufferSize) break;
      ssize_t n = ::read(src_fd, buf, kIoBufferSize);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("cannot read " + source.string(), errno);
      }
      if (n == 0) break;
      h.update(buf, static_cast<size_t>(n));
      write_all(out.get(), std::string_view(buf, static_cast<size_t>(n)), "to the cache (" + temp.string() + ")");
      done += static_cast<size_t>(n);
      if (on_bytes) on_bytes(static_cast<size_t>(n));
    }
  } else {
    std::atomic<bool> stop{false};
    int copy_error = 0;
    std::thread copier(kernel_copy, src_fd, out.get(), before.st_size, std::cref(stop), std::ref(copy_error));
    struct JoinGuard {
      std::thread& t;
      std::atomic<bool>& stop;
      ~JoinGuard() {
        stop = true;
        if (t.joinable()) t.join();
      }
    } join{copier, stop};
    for (off_t off = 0;;) {
      check_interrupted();
      ssize_t n = ::pread(src_fd, buf, kIoBufferSize, off);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("cannot read " + source.string(), errno);
      }
      if (n == 0) break;
      h.update(buf, static_cast<size_t>(n));
      off += n;
      if (on_bytes) on_bytes(static_cast<size_t>(n));
    }
    copier.join();
    if (copy_error) throw_errno("cannot copy " + source.string() + " to the cache (" + temp.string() + ")", copy_error);
    struct stat after;
    if (::fstat(src_fd, &after) != 0) throw_errno("cannot read " + source.string(), errno);
    if (!same_file_state(before, after))
      throw InputError(source.string() + " changed while it was being added", "run the command again once it is written");
  }
  if (durable && ::fsync(out.get()) != 0) throw_errno("cannot sync " + temp.string(), errno);
  return h.hex_digest();
}

// Removes a temp file unless released; keeps every error path tidy.
struct TempGuard {
  fs::path path;
  ~TempGuard() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

}  // namespace

void Cache::ensure_temp_dir() const {
  if (temp_ready_.load(std::memory_order_relaxed)) return;
  fs::create_directories(temp_dir());
  temp_ready_.store(true);
}

std::string Cache::add_file(const fs::path& source, const std::vector<LinkMode>& modes, bool durable) {
  return add_file(source, modes, durable, {});
}

std::string Cache::add_file(const fs::path& source, const std::vector<LinkMode>& modes, bool durable,
                            const ByteProgress& on_bytes) {
  UniqueFd src(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src) throw_errno("cannot read " + source.string(), errno);
  ensure_temp_dir();

  for (LinkMode mode : modes) {
    if (mode == LinkMode::hardlink || mode == LinkMode::symlink) {
      // The workspace keeps its inode: link it into the store under its hash.
      std::string hash = sha256_file(source, on_bytes);
      if (has(hash)) return hash;
      TempGuard temp{unique_temp_name(temp_dir(), "obj")};
      if (::link(source.c_str(), temp.path.c_str()) != 0) {
        if (errno == EXDEV || errno == EPERM || errno == EMLINK) continue;
        throw_errno("cannot link " + source.string() + " into the cache", errno);
      }
      if (durable) ::fsync(src.get());
      publish(temp.path, hash, durable);
      temp.path.clear();
      return hash;
    }
    if (mode == LinkMode::reflink) {
      if (reflink_unsupported_.load(std::memory_order_relaxed)) continue;
      TempGuard temp{unique_temp_name(temp_dir(), "obj")};
      UniqueFd out(::open(temp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));  // see copy_and_hash
      if (!out) throw_errno("cannot write to the cache (" + temp.path.string() + ")", errno);
      if (!try_reflink(src.get(), out.get())) {
        if (errno == EOPNOTSUPP || errno == EXDEV || errno == EINVAL || errno == ENOTTY || errno == ENOSYS)
          reflink_unsupported_.store(true);
        continue;
      }
      std::string hash = sha256_file(temp.path, on_bytes);  // hash the clone: it can not change under us
      if (durable) ::fsync(out.get());
      out.reset();
      publish(temp.path, hash, durable, /*read_only=*/true);
      temp.path.clear();
      return hash;
    }
    // copy: into an unnamed file, linked in under its hash once known
    // (core/unnamed_file.h); or into a named temp file, renamed.
    if (unnamed_files_work.load(std::memory_order_relaxed)) {
      UnnamedFile out(AT_FDCWD, temp_dir().c_str(), 0444);
      if (out.fd) {
        std::string hash = copy_and_hash(src.get(), out.fd, temp_dir(), source, durable, on_bytes);
        if (link_object(out, hash, durable)) return hash;
        if (::lseek(src.get(), 0, SEEK_SET) != 0) throw_errno("cannot read " + source.string(), errno);
      } else if (out.unsupported()) {
        unnamed_files_work.store(false);
      }
    }
    TempGuard temp{unique_temp_name(temp_dir(), "obj")};
    // Created read-only (objects are): the descriptor still writes, and publish needs no chmod.
    UniqueFd out(::open(temp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
    if (!out) throw_errno("cannot write to the cache (" + temp.path.string() + ")", errno);
    std::string hash = copy_and_hash(src.get(), out, temp.path, source, durable, on_bytes);
    out.reset();
    publish(temp.path, hash, durable, /*read_only=*/true);
    temp.path.clear();
    return hash;
  }
  throw InputError("no link mode in cache.link works for " + source.string(),
                   "add 'copy' to cache.link in .mlo/config.yaml");
}

void Cache::write_object(std::string_view hash, std::string_view data, bool durable) const {
  // An unnamed file in the object's own folder (core/unnamed_file.h): no
  // shared temp folder for every thread to lock, no rename.
  if (unnamed_files_work.load(std::memory_order_relaxed)) {
    ensure_fanout(hash);
    const std::string file = object_file(hash);
    const std::string shard = file.substr(0, file.size() - (hash.size() - 1));  // less "/cdef..."
    UnnamedFile out(AT_FDCWD, shard.c_str(), 0444);
    if (out.fd) {
      write_all(out.fd.get(), data, "to the cache (" + file + ")");
      if (durable && ::fsync(out.fd.get()) != 0) throw_errno("cannot sync " + file, errno);
      if (link_object(out, hash, durable)) return;
    } else if (out.unsupported()) {
      unnamed_files_work.store(false);
    }
  }
  ensure_temp_dir();
  TempGuard temp{unique_temp_name(temp_dir(), "obj")};
  // Created read-only: the descriptor still writes, and no chmod is needed.
  UniqueFd out(::open(temp.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!out) throw_errno("cannot write to the cache (" + temp.path.string() + ")", errno);
  write_all(out.get(), data, "to the cache (" + temp.path.string() + ")");
  if (durable && ::fsync(out.get()) != 0) throw_errno("cannot sync " + temp.path.string(), errno);
  out.reset();
  publish(temp.path, hash, durable, /*read_only=*/true);
  temp.path.clear();
}

std::string Cache::add_bytes(std::string_view data, bool durable) {
  std::string hash = sha256_hex(data);
  if (!has(hash)) write_object(hash, data, durable);
  return hash;
}

namespace {

// At most this many hashes are remembered as verified (32 MiB); past it a
// checkout verifies the rest itself, as it would without the memory.
constexpr std::size_t kMaxVerified = 1u << 21;

}  // namespace

Cache::VerifiedKey Cache::verified_key(const std::array<unsigned char, 32>& hash) {
  VerifiedKey key;
  std::copy_n(hash.begin(), key.size(), key.begin());
  return key;
}

void Cache::add_verified_bytes(std::string_view hash, std::string_view data, bool durable) {
  write_object(hash, data, durable);
  std::array<unsigned char, 32> key;
  if (!sha256_from_hex(hash, key)) return;
  std::lock_guard<std::mutex> g(verified_mutex_);
  if (verified_.size() >= kMaxVerified) return;
  verified_.push_back(verified_key(key));
  verified_sorted_ = false;
}

void Cache::expect_verified(std::size_t count) {
  std::lock_guard<std::mutex> g(verified_mutex_);
  verified_.reserve(std::min(kMaxVerified, verified_.size() + count));
}

bool Cache::verified_this_command(std::string_view hash) const {
  std::array<unsigned char, 32> key;
  if (!sha256_from_hex(hash, key)) return false;
  std::lock_guard<std::mutex> g(verified_mutex_);
  if (verified_.empty()) return false;
  if (!verified_sorted_) {
    std::sort(verified_.begin(), verified_.end());
    verified_sorted_ = true;
  }
  return std::binary_search(verified_.begin(), verified_.end(), verified_key(key));
}

std::string Cache::read(std::string_view hash) const {
  auto data = read_file_if_exists(object_path(hash));
  if (!data)
    throw InputError("object " + std::string(hash) + " is missing from the cache",
                     "run 'mlo pull' to fetch it from a remote, or 'mlo fsck' to check the cache");
  return *data;
}

namespace {

// Copies all of `in` to `out` (the kernel's copy_file_range, or read/write
// where it does not work: old kernels, another file system).
// (Names as strings, only for messages: no fs::path built per object.)
void copy_fd(int in, int out, const std::string& obj, const std::string& temp) {
  struct stat st;
  if (::fstat(in, &st) != 0) throw_errno("cannot read " + obj, errno);
  for (off_t left = st.st_size; left > 0;) {
    check_interrupted();
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, static_cast<size_t>(left), 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
      char* buf = io_buffer();
      ssize_t r;
      while ((r = ::read(in, buf, kIoBufferSize)) > 0)
        write_all(out, std::string_view(buf, static_cast<size_t>(r)), temp);
      break;
    }
    if (n < 0) throw_errno("cannot write " + temp, errno);
    if (n == 0) break;
    left -= n;
  }
}

[[noreturn]] void throw_missing_object(std::string_view hash) {
  throw InputError("object " + std::string(hash) + " is missing from the cache",
                   "run 'mlo pull' to fetch it from a remote");
}

// The object opened for reading and a new temp file for it.
struct ObjectCopy {
  UniqueFd in, out;
};

ObjectCopy open_object_copy(std::string_view hash, const fs::path& obj, const fs::path& temp, bool executable) {
  ObjectCopy f;
  f.in = UniqueFd(::open(obj.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f.in && errno == ENOENT) throw_missing_object(hash);
  if (!f.in) throw_errno("cannot read " + obj.string(), errno);
  f.out = UniqueFd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, executable ? 0755 : 0644));
  if (!f.out) throw_errno("cannot write " + temp.string(), errno);
  return f;
}

dev_t device_of(const fs::path& dir) {
  struct stat st;
  return ::stat(dir.c_str(), &st) == 0 ? st.st_dev : static_cast<dev_t>(-1);
}

}  // namespace

bool Cache::reflink_known_to_fail(const fs::path& temp_dir) const {
  if (clone_from_cache_unsupported_.load(std::memory_order_relaxed)) return true;
  std::lock_guard<std::mutex> g(reflink_mutex_);
  return std::find(reflink_failed_dirs_.begin(), reflink_failed_dirs_.end(), temp_dir.native()) !=
         reflink_failed_dirs_.end();
}

void Cache::note_reflink_failure(const fs::path& temp_dir, int err) const {
  if (err == EOPNOTSUPP || err == ENOTTY || err == ENOSYS || err == EINVAL) {
    clone_from_cache_unsupported_.store(true);  // the cache's file system cannot clone at all
  } else if (err == EXDEV) {
    std::lock_guard<std::mutex> g(reflink_mutex_);
    if (reflink_failed_dirs_.size() < 16) reflink_failed_dirs_.push_back(temp_dir.native());
  }
}

// Fills `temp` by a copy, after trying a clone first when `try_reflink_first`:
// a failed clone is followed by a copy into the same file, so a file system
// without reflinks costs no second temp file.
bool Cache::stage_by_copy(std::string_view hash, const fs::path& obj, const fs::path& temp, bool executable,
                          bool try_reflink_first, const fs::path& temp_dir, LinkMode* used) const {
  ObjectCopy files = open_object_copy(hash, obj, temp, executable);
  if (try_reflink_first) {
    if (try_reflink(files.in.get(), files.out.get())) {
      if (used) *used = LinkMode::reflink;
      return true;
    }
    note_reflink_failure(temp_dir, errno);
  }
  copy_fd(files.in.get(), files.out.get(), obj.native(), temp.native());
  if (used) *used = LinkMode::copy;
  return true;
}

fs::path Cache::stage(std::string_view hash, const fs::path& temp_dir, const std::vector<LinkMode>& modes,
                      bool executable, LinkMode* used) const {
  fs::path obj = object_path(hash);
  for (std::size_t i = 0; i < modes.size(); ++i) {
    LinkMode mode = modes[i];
    if (mode == LinkMode::reflink && reflink_known_to_fail(temp_dir)) continue;
    TempGuard temp{unique_temp_name(temp_dir, "stage")};
    bool filled;
    if (mode == LinkMode::hardlink || mode == LinkMode::symlink) {
      filled = mode == LinkMode::hardlink ? ::link(obj.c_str(), temp.path.c_str()) == 0
                                          : ::symlink(fs::absolute(obj).c_str(), temp.path.c_str()) == 0;
      if (filled && used) *used = mode;
      if (!filled && errno == ENOENT && !has(hash)) throw_missing_object(hash);
    } else if (mode == LinkMode::reflink && !(i + 1 < modes.size() && modes[i + 1] == LinkMode::copy)) {
      // reflink without copy after it (cache.link: reflink): a clone or nothing.
      ObjectCopy files = open_object_copy(hash, obj, temp.path, executable);
      filled = try_reflink(files.in.get(), files.out.get());
      if (!filled) note_reflink_failure(temp_dir, errno);
      if (filled && used) *used = LinkMode::reflink;
    } else {
      filled = stage_by_copy(hash, obj, temp.path, executable, mode == LinkMode::reflink, temp_dir, used);
    }
    if (!filled) continue;
    fs::path done = std::move(temp.path);
    temp.path.clear();
    return done;
  }
  if (!has(hash)) throw_missing_object(hash);
  throw InputError("no link mode in cache.link works for object " + std::string(hash),
                   "add 'copy' to cache.link in .mlo/config.yaml");
}

fs::path Cache::stage_dir_for(const fs::path& dest_dir) const {
  // Staged files must be renamed into place, which needs one file system.
  std::error_code ec;
  fs::create_directories(stage_dir_, ec);
  if (!ec && device_of(stage_dir_) == device_of(dest_dir)) return stage_dir_;
  return dest_dir;
}

LinkMode Cache::materialize(std::string_view hash, const fs::path& dest, const std::vector<LinkMode>& modes,
                            bool executable) const {
  if (!has(hash))
    throw InputError("object " + std::string(hash) + " for " + dest.string() + " is missing from the cache",
                     "run 'mlo pull' to fetch it from a remote");
  fs::path dir = dest.parent_path().empty() ? fs::path(".") : dest.parent_path();
  fs::create_directories(dir);
  LinkMode used = LinkMode::copy;
  TempGuard temp{stage(hash, stage_dir_for(dir), modes, executable, &used)};
  if (::rename(temp.path.c_str(), dest.c_str()) != 0) throw_errno("cannot replace " + dest.string(), errno);
  temp.path.clear();
  return used;
}

bool Cache::write_file_at(std::string_view hash, int dir_fd, const std::string& name, const std::vector<LinkMode>& modes,
                          bool executable) const {
  // Only for the modes that fill a file (a link is staged as before).
  if (modes.empty() || (modes[0] != LinkMode::copy && modes[0] != LinkMode::reflink)) return false;
  if (!unnamed_files_work.load(std::memory_order_relaxed)) return false;
  const bool clone_first = modes[0] == LinkMode::reflink && !clone_from_cache_unsupported_.load(std::memory_order_relaxed);
  if (modes[0] == LinkMode::reflink && !clone_first && !(modes.size() > 1 && modes[1] == LinkMode::copy)) return false;
  UnnamedFile out(dir_fd, ".", executable ? 0755 : 0644);
  if (!out.fd) {
    if (out.unsupported()) unnamed_files_work.store(false);
    return false;
  }
  const std::string obj = object_file(hash);
  UniqueFd in(::open(obj.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in && errno == ENOENT) throw_missing_object(hash);
  if (!in) throw_errno("cannot read " + obj, errno);
  bool filled = false;
  if (clone_first) {
    filled = try_reflink(in.get(), out.fd.get());
    // Not tried again this command (EXDEV too: the work tree is on another
    // file system; one refused clone a file would double the calls).
    if (!filled && (errno == EOPNOTSUPP || errno == ENOTTY || errno == ENOSYS || errno == EINVAL || errno == EXDEV))
      clone_from_cache_unsupported_.store(true);
    if (!filled && !(modes.size() > 1 && modes[1] == LinkMode::copy)) return false;  // stage() goes on from here
  }
  if (!filled) copy_fd(in.get(), out.fd.get(), obj, name);
  // Not linked: a file stands there (the caller stages the new one in its
  // stage folder and renames it over, so no temp name ever appears inside
  // tracked data, even under kill -9), or no /proc to link through (the
  // named way then reports a real failure, such as a full disk).
  return out.link_as(dir_fd, name.c_str());
}

bool Cache::verify(std::string_view hash) const { return sha256_file(object_path(hash)) == hash; }

void Cache::remove(std::string_view hash) {
  fs::path p = object_path(hash);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_errno("cannot remove " + p.string(), errno);
}

void Cache::for_each_object(const std::function<void(const std::string&, std::uint64_t)>& visit,
                            unsigned first_byte_lo, unsigned first_byte_hi) const {
  walk_objects(
      [&](int dir_fd, const char* name, const std::string& hash) {
        struct stat st;
        if (::fstatat(dir_fd, name, &st, 0) == 0) visit(hash, static_cast<std::uint64_t>(st.st_size));
      },
      first_byte_lo, first_byte_hi);
}

void Cache::for_each_object_hash(const std::function<void(const std::string&)>& visit, unsigned first_byte_lo,
                                 unsigned first_byte_hi) const {
  walk_objects([&](int, const char*, const std::string& hash) { visit(hash); }, first_byte_lo, first_byte_hi);
}

void Cache::walk_objects(const std::function<void(int, const char*, const std::string&)>& visit,
                         unsigned first_byte_lo, unsigned first_byte_hi) const {
  fs::path objects = root_ / "objects";
  DIR* top = ::opendir(objects.c_str());
  if (!top) return;
  auto in_range = [&](const char* name) {
    if (first_byte_lo == 0 && first_byte_hi == 255) return true;
    char* end = nullptr;
    unsigned long b = std::strtoul(name, &end, 16);
    return end == name + 2 && b >= first_byte_lo && b <= first_byte_hi;
  };
  std::vector<std::string> fanouts;
  while (dirent* e = ::readdir(top))
    if (e->d_name[0] != '.' && std::char_traits<char>::length(e->d_name) == 2 && in_range(e->d_name))
      fanouts.push_back(e->d_name);
  ::closedir(top);
  for (const auto& f : fanouts) {
    fs::path dir = objects / f;
    // Closed however the visitor leaves (fsck verifies inside it).
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) continue;
    while (dirent* e = ::readdir(d.get())) {
      if (e->d_name[0] == '.') continue;
      std::string hash = f + e->d_name;
      if (!is_sha256_hex(hash)) continue;
      visit(::dirfd(d.get()), e->d_name, hash);
    }
  }
}

void Cache::sync() const {
  UniqueFd fd(::open(root_.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd) ::syncfs(fd.get());
}

void Cache::clean_temp(int max_age_seconds) const {
  std::error_code ec;
  time_t now = std::time(nullptr);
  for (auto& entry : fs::directory_iterator(temp_dir(), ec)) {
    struct stat st;
    if (::lstat(entry.path().c_str(), &st) == 0 && now - st.st_mtime > max_age_seconds)
      ::unlink(entry.path().c_str());
  }
}

}  // namespace mlo
