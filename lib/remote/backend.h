// Remote storage backends: a flat namespace of named blobs ("packs/x.pack")
// with get/put/has/list/remove. Three kinds: a local or mounted directory,
// a plain HTTP/WebDAV server, and S3-compatible object stores. Backends are
// safe to call from several threads at once. The layout mlo keeps in that
// namespace (packs, indexes) is lib/remote/layout.h's business.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "remote/http.h"
#include "remote/sigv4.h"

namespace mlo::remote {

// A remote as configured: its name, URL and options (endpoint, region, ...).
struct RemoteConfig {
  std::string name;
  std::string url;
  std::map<std::string, std::string> options;

  std::string option(const std::string& key, const std::string& fallback = {}) const {
    auto it = options.find(key);
    return it == options.end() ? fallback : it->second;
  }
  bool flag(const std::string& key, bool fallback) const;
};

struct BlobInfo {
  std::string key;        // relative to the remote's root
  std::uint64_t size = 0;
  std::int64_t mtime = 0;  // when the remote stored it (unix seconds; 0: unknown)
};

// A multipart upload in progress (S3): `key` is relative to the remote's root.
struct PendingUpload {
  std::string key;
  std::string id;
  std::int64_t initiated = 0;  // unix seconds (0: unknown)
};

enum class Versioning { unknown, off, enabled, suspended };
std::string to_string(Versioning v);

class Backend {
 public:
  virtual ~Backend() = default;
  // Human-readable location, for messages ("s3://bucket/prefix").
  virtual std::string describe() const = 0;
  // The whole blob, or nullopt when it does not exist.
  virtual std::optional<std::string> get(const std::string& key) = 0;
  // Exactly `length` bytes from `offset`; throws RemoteError when the blob
  // is missing or shorter.
  virtual std::string get_range(const std::string& key, std::uint64_t offset, std::uint64_t length) = 0;
  virtual bool has(const std::string& key) = 0;
  // The blob's size as the store reports it (a stat, a HEAD's
  // Content-Length), or nullopt when it does not exist: push checks with it
  // that what it sent was stored whole.
  virtual std::optional<std::uint64_t> size(const std::string& key) = 0;
  // Stores a blob. Atomic: readers see the whole blob or none.
  virtual void put(const std::string& key, std::string_view data) = 0;
  // Blobs whose key starts with `prefix` (a folder such as "packs/").
  virtual std::vector<BlobInfo> list(const std::string& prefix) = 0;
  // Temp files of writers directly under `prefix` (a killed writer's
  // leftovers): hidden names ("."-prefixed), as mlo's own writers
  // (.NAME.tmp.PID.N) and WebDAV servers (Apache's .davfs.tmp*) make them.
  // The default picks them out of list(); directories, whose list() hides
  // them, look for themselves.
  virtual std::vector<BlobInfo> list_temp(const std::string& prefix);
  // Multipart uploads begun under the remote's prefix and never completed
  // or aborted (their parts are stored, invisible, and billed). nullopt when
  // the store cannot list them (not S3, or a server that does not implement
  // ListMultipartUploads).
  virtual std::optional<std::vector<PendingUpload>> list_uploads() { return std::nullopt; }
  virtual void abort_upload(const PendingUpload& /*upload*/) {}
  // Whether the store keeps old versions of what is overwritten or deleted
  // (S3 bucket versioning); "unknown" where it cannot be asked.
  virtual Versioning versioning() { return Versioning::unknown; }
  // Removes a blob; no error when it is absent.
  virtual void remove(const std::string& key) = 0;
  // Creates the remote's root folder (directories only: `mlo remote add`,
  // `mlo push --create`); true when it did not exist. Every other call
  // refuses a missing root.
  virtual bool create_root() { return false; }
  // Requests made so far (0 for directories).
  virtual HttpStats stats() const { return {}; }
};

// Which backend a URL needs: "dir", "http" or "s3"; throws InputError on a
// malformed or unsupported URL (naming it).
std::string url_kind(const std::string& url);
// Opens the backend for a remote. Throws InputError for a malformed URL and
// RemoteError for missing credentials.
std::unique_ptr<Backend> open_backend(const RemoteConfig& remote);

// S3 credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN,
// else the profile (AWS_PROFILE, the remote's `profile`, or "default") in
// ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE overrides the path).
// nullopt when none are found.

std::optional<AwsCredentials> find_aws_credentials(const std::string& profile_option);

// Pieces of a simple XML document (S3 responses; WebDAV multistatus): the
// text of every <tag> element (namespace prefixes ignored), unescaped.
std::vector<std::string> xml_values(std::string_view xml, std::string_view tag);

// Puts a blob, then asks the store for its size: a server that acknowledged
// a PUT it did not keep (or kept in part) gets it once more, then it is a
// RemoteError. Every blob mlo writes goes through here.
void put_verified(Backend& backend, const std::string& key, std::string_view data);

}  // namespace mlo::remote
