// The local content-addressed store (.mlo/cache). Objects are named by the
// SHA-256 of their bytes, stored uncompressed so that the workspace can share
// them through hardlinks or reflinks, written once (temp + rename) and made
// read-only. zstd is used on the remote, where bytes travel (lib/remote).
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
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

class Cache {
 public:
  explicit Cache(fs::path root);

  const fs::path& root() const { return root_; }
  fs::path object_path(std::string_view hash) const;
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
  std::string read(std::string_view hash) const;

  // Makes `dest` hold the object's bytes, replacing it atomically, with the
  // first link mode that works here. Returns the mode used. The temp file is
  // made in the stage folder (never beside `dest`, where a kill would leave
  // it inside tracked data) unless that is on another file system.
  LinkMode materialize(std::string_view hash, const fs::path& dest, const std::vector<LinkMode>& modes,
                       bool executable = false) const;
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
  // Visits every object: (hash, size in bytes).
  void for_each_object(const std::function<void(const std::string&, std::uint64_t)>& visit) const;
  // Flushes objects added with durable=false to disk (syncfs).
  void sync() const;
  // Removes temp files left by interrupted writers older than max_age_seconds.
  void clean_temp(int max_age_seconds = 3600) const;

 private:
  fs::path temp_dir() const { return root_ / "tmp"; }
  void ensure_fanout(std::string_view hash) const;
  void ensure_fanout_dir(std::string_view hash) const;
  // Moves a finished temp file into place as object `hash` (no-op if it exists).
  void publish(const fs::path& temp, std::string_view hash, bool durable) const;

  void ensure_temp_dir() const;

  fs::path root_;
  fs::path stage_dir_;
  // Learned once per command: reflink fails on this file system (ext4), so
  // later files go straight to the next mode instead of trying again.
  mutable std::atomic<bool> reflink_unsupported_{false};
  mutable std::atomic<bool> temp_ready_{false};
  mutable std::atomic<bool> fanout_ready_[256] = {};
};

}  // namespace mlo
