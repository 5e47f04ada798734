// The local content-addressed store (.mlo/cache). Objects are named by the
// SHA-256 of their bytes, stored uncompressed so that the workspace can share
// them through hardlinks or reflinks, written once (temp + rename) and made
// read-only. zstd is used on the remote, where bytes travel (lib/remote).
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mlo {

namespace fs = std::filesystem;

// How a workspace file shares bytes with the cache.
enum class LinkMode { reflink, hardlink, symlink, copy };

std::string to_string(LinkMode mode);
// Parses "reflink,copy", "hardlink", ... ("auto" means "reflink,copy", the
// safe default: neither lets an edit in the workspace change a cached object).
// Throws InputError naming `where` on an unknown word.
std::vector<LinkMode> parse_link_modes(std::string_view text, const std::string& where);

using ByteProgress = std::function<void(std::size_t)>;

struct UnnamedFile;

class Cache {
 public:
  explicit Cache(fs::path root);

  const fs::path& root() const { return root_; }
  fs::path object_path(std::string_view hash) const;
  // The same name as a string: the per-object paths (a pull opens a million)
  // skip the component parsing a fs::path does on construction.
  std::string object_file(std::string_view hash) const;
  bool has(std::string_view hash) const;

  // Adds a file's bytes to the store and returns their hash. Copy mode reads
  // the file once, hashing while it writes; hardlink and reflink hash, then
  // link or clone. With durable=false the caller must call sync() before it
  // records the hash anywhere (batching one sync for many objects).
  std::string add_file(const fs::path& source, const std::vector<LinkMode>& modes, bool durable = true);
  // The same; on_bytes hears of every block read (a progress line for one large file).
  std::string add_file(const fs::path& source, const std::vector<LinkMode>& modes, bool durable,
                       const ByteProgress& on_bytes);
  std::string add_bytes(std::string_view data, bool durable = true);
  // Adds bytes the caller has already checked against `hash` (a fetch hashes
  // every blob it downloads): no second hash, and the object is remembered as
  // verified, so a checkout in the same command does not read it again.
  void add_verified_bytes(std::string_view hash, std::string_view data, bool durable = true);
  // Room for `count` more verified objects at once: a fetch knows how many it
  // will add, and a list grown by doubling holds up to twice that for a moment.
  void expect_verified(std::size_t count);
  // True when this command wrote the object from bytes it had verified.
  bool verified_this_command(std::string_view hash) const;
  std::string read(std::string_view hash) const;

  // Makes `dest` hold the object's bytes, replacing it atomically, with the
  // first link mode that works here. Returns the mode used. The temp file is
  // made in the stage folder (never beside `dest`, where a kill would leave
  // it inside tracked data) unless that is on another file system.
  LinkMode materialize(std::string_view hash, const fs::path& dest, const std::vector<LinkMode>& modes,
                       bool executable = false) const;
  // Writes the object as the file `name` in the folder open as `dir_fd`
  // by copy (or clone) into an unnamed file there, linked in when full
  // (core/unnamed_file.h): no temp folder shared by every thread, no rename.
  // False, nothing left behind, where that does not apply: a file is
  // already named so (the caller stages and renames it over, keeping temp
  // names out of tracked data), the first link mode links, or no unnamed
  // files here.
  bool write_file_at(std::string_view hash, int dir_fd, const std::string& name, const std::vector<LinkMode>& modes,
                 bool executable) const;
  // Makes a new temp file in `temp_dir` holding the object's bytes (by the
  // first link mode that works; `used` receives it) and returns its path;
  // the caller renames it into place or removes it.
  fs::path stage(std::string_view hash, const fs::path& temp_dir, const std::vector<LinkMode>& modes,
                 bool executable = false, LinkMode* used = nullptr) const;
  // Where workspace files are staged before the rename into place (the
  // repository's .mlo/tmp; default: the cache's tmp folder).
  void set_stage_dir(fs::path dir) { stage_dir_ = std::move(dir); }
  // The stage folder when it is on `dest_dir`'s file system, else `dest_dir`.
  fs::path stage_dir_for(const fs::path& dest_dir) const;

  // Re-hashes the object: false when its bytes no longer match its name.
  bool verify(std::string_view hash) const;
  void remove(std::string_view hash);
  // Visits every object: (hash, size in bytes); or only those whose first
  // byte is in [first_byte_lo, first_byte_hi] (their fan-out folders alone
  // are listed).
  void for_each_object(const std::function<void(const std::string&, std::uint64_t)>& visit,
                       unsigned first_byte_lo = 0, unsigned first_byte_hi = 255) const;
  // The same without sizes (no stat an object): fsck's second pass, which
  // learns each size by reading the object.
  void for_each_object_hash(const std::function<void(const std::string&)>& visit, unsigned first_byte_lo = 0,
                            unsigned first_byte_hi = 255) const;
  // Flushes objects added with durable=false to disk (syncfs).
  void sync() const;
  // Removes temp files left by interrupted writers older than max_age_seconds.
  void clean_temp(int max_age_seconds = 3600) const;

 private:
  // Every object file of objects/XX/: (the fan-out folder's fd, its name, the hash).
  void walk_objects(const std::function<void(int, const char*, const std::string&)>& visit,
                    unsigned first_byte_lo = 0, unsigned first_byte_hi = 255) const;
  fs::path temp_dir() const { return root_ / "tmp"; }
  void ensure_fanout(std::string_view hash) const;
  void ensure_fanout_dir(std::string_view hash) const;
  // Moves a finished temp file into place as object `hash` (no-op if it
  // exists). `read_only`: the temp was created 0444 (no chmod needed).
  void publish(const fs::path& temp, std::string_view hash, bool durable, bool read_only = false) const;
  // The same for an unnamed file (core/unnamed_file.h); false when it can
  // not be linked here (the caller then writes a named temp file).
  bool link_object(const UnnamedFile& file, std::string_view hash, bool durable) const;
  void write_object(std::string_view hash, std::string_view data, bool durable) const;
  // Reflink memory for stage(): a clone from the cache fails on the cache's
  // file system (once learned, for every later file), or into one temp folder.
  bool reflink_known_to_fail(const fs::path& temp_dir) const;
  void note_reflink_failure(const fs::path& temp_dir, int err) const;
  bool stage_by_copy(std::string_view hash, const fs::path& obj, const fs::path& temp, bool executable, bool try_reflink_first,
                     const fs::path& temp_dir, LinkMode* used) const;

  void ensure_temp_dir() const;

  fs::path root_;
  fs::path stage_dir_;
  // Learned once per command: reflink fails on this file system (ext4), so
  // later files go straight to the next mode instead of trying again.
  mutable std::atomic<bool> reflink_unsupported_{false};
  mutable std::atomic<bool> temp_ready_{false};
  mutable std::atomic<bool> fanout_ready_[256] = {};
  mutable std::atomic<bool> clone_from_cache_unsupported_{false};
  mutable std::mutex reflink_mutex_;
  mutable std::vector<std::string> reflink_failed_dirs_;  // bounded: a few stage folders
  // Hashes written from verified bytes in this command, bounded, by their
  // first 128 bits (a pull of N files holds N: 16 bytes each instead of 32).
  // Another object sharing those bits with a fetched one (found by chance:
  // 2^-128 a pair; on purpose: a 128-bit partial preimage of SHA-256) would
  // only be spared checkout's own hash.
  using VerifiedKey = std::array<unsigned char, 16>;
  static VerifiedKey verified_key(const std::array<unsigned char, 32>& hash);
  mutable std::mutex verified_mutex_;
  mutable std::vector<VerifiedKey> verified_;
  mutable bool verified_sorted_ = true;
};

}  // namespace mlo
