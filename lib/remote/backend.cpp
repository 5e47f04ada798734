#include "remote/backend.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/safe_path.h"
#include "remote/backend_detail.h"
#include "remote/remotes.h"
#include "remote/sigv4.h"
#include "remote/timestamps.h"

namespace mlo::remote {

bool RemoteConfig::flag(const std::string& key, bool fallback) const {
  auto it = options.find(key);
  if (it == options.end() || it->second.empty()) return fallback;
  std::string v = it->second;
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "true" || v == "yes" || v == "1" || v == "on") return true;
  if (v == "false" || v == "no" || v == "0" || v == "off") return false;
  throw InputError("remote '" + name + "': option " + key + " must be true or false, not '" + it->second + "'",
                   "run 'mlo remote modify " + name + " " + key + " true' (or false)");
}

std::vector<std::string> xml_values(std::string_view xml, std::string_view tag) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = xml.find('<', pos)) != std::string_view::npos) {
    size_t end = xml.find('>', pos);
    if (end == std::string_view::npos) break;
    std::string_view name = xml.substr(pos + 1, end - pos - 1);
    if (!name.empty() && name.back() == '/') { pos = end; continue; }
    auto sp = name.find_first_of(" \t\r\n");
    if (sp != std::string_view::npos) name = name.substr(0, sp);
    auto colon = name.find(':');
    std::string_view local = colon == std::string_view::npos ? name : name.substr(colon + 1);
    if (local != tag || name.empty() || name[0] == '/') { pos = end; continue; }
    std::string close = "</" + std::string(name) + ">";
    size_t stop = xml.find(close, end);
    if (stop == std::string_view::npos) break;
    std::string_view raw = xml.substr(end + 1, stop - end - 1);
    std::string text;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '&') {
        auto semi = raw.find(';', i);
        std::string_view ent = raw.substr(i, semi - i + 1);
        if (ent == "&amp;") text += '&';
        else if (ent == "&lt;") text += '<';
        else if (ent == "&gt;") text += '>';
        else if (ent == "&quot;") text += '"';
        else if (ent == "&apos;") text += '\'';
        else { text += raw[i]; continue; }
        i = semi;
      } else {
        text += raw[i];
      }
    }
    out.push_back(std::move(text));
    pos = stop + close.size();
  }
  return out;
}

std::string to_string(Versioning v) {
  switch (v) {
    case Versioning::off: return "off";
    case Versioning::enabled: return "enabled";
    case Versioning::suspended: return "suspended";
    case Versioning::unknown: break;
  }
  return "unknown";
}

std::vector<BlobInfo> Backend::list_temp(const std::string& prefix) {
  std::vector<BlobInfo> out;
  for (auto& b : list(prefix)) {
    std::string_view rest = std::string_view(b.key).substr(prefix.size());
    if (!rest.empty() && rest[0] == '.' && rest.find('/') == std::string_view::npos) out.push_back(std::move(b));
  }
  return out;
}

namespace detail {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim_slashes(std::string s) {
  while (!s.empty() && s.front() == '/') s.erase(s.begin());
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string printable(std::string_view text) {
  std::string out(text.substr(0, 200));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

bool acceptable_key(const std::string& key, const std::string& prefix, const std::string& where) {
  if (key.rfind(prefix, 0) != 0) return false;
  std::string why;
  if (is_checked_relative(key, &why)) return true;
  log::warn(where + ": ignoring the listed name '" + printable(key) + "' (" + why + ")");
  return false;
}

std::string status_hint(long status) {
  if (status == 401 || status == 403)
    return "check the credentials in the environment (see man mlo-remote: CREDENTIALS)";
  return "check the remote's URL and options with 'mlo remote ls'";
}

namespace {
const char* kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64_encode(std::string_view in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
    out += {kBase64[v >> 18], kBase64[(v >> 12) & 63], kBase64[(v >> 6) & 63], kBase64[v & 63]};
  }
  if (i + 1 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16;
    out += {kBase64[v >> 18], kBase64[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
    out += {kBase64[v >> 18], kBase64[(v >> 12) & 63], kBase64[(v >> 6) & 63], '='};
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return std::nullopt;  // no whole byte in the last group
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    const char* at = std::strchr(kBase64, c);
    if (c == '\0' || !at) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(at - kBase64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace detail

namespace {

using namespace detail;

// ---------------------------------------------------------------- directory

class DirBackend : public Backend {
 public:
  explicit DirBackend(fs::path root) : root_(std::move(root)) {}
  std::string describe() const override { return root_.string(); }

  bool create_root() override {
    std::error_code ec;
    if (fs::is_directory(root_, ec)) return false;
    fs::create_directories(root_, ec);
    if (ec) throw RemoteError("cannot create remote folder " + root_.string() + ": " + ec.message(),
                              "check the path with 'mlo remote ls' and its parent's permissions");
    root_checked_ = true;
    return true;
  }

  std::optional<std::string> get(const std::string& key) override {
    require_root();
    fs::path p = root_ / key;
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) return std::nullopt;
      fail("cannot read " + p.string(), errno);
    }
    return read_file(p);
  }

  std::string get_range(const std::string& key, std::uint64_t offset, std::uint64_t length) override {
    require_root();
    fs::path p = root_ / key;
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) fail("cannot read " + p.string(), errno);
    std::string out(length, '\0');
    ssize_t n = pread_full(fd.get(), out.data(), length, offset);
    if (n < 0) fail("cannot read " + p.string(), errno);
    if (static_cast<std::uint64_t>(n) != length)
      throw RemoteError(p.string() + " is shorter than its index says (truncated pack)",
                        "run 'mlo push' from a clone that has the data to repair the remote");
    return out;
  }

  bool has(const std::string& key) override {
    require_root();
    struct stat st;
    return ::stat((root_ / key).c_str(), &st) == 0;
  }

  std::optional<std::uint64_t> size(const std::string& key) override {
    require_root();
    struct stat st;
    if (::stat((root_ / key).c_str(), &st) != 0) {
      if (errno == ENOENT) return std::nullopt;
      fail("cannot stat " + (root_ / key).string(), errno);
    }
    return static_cast<std::uint64_t>(st.st_size);
  }

  void put(const std::string& key, std::string_view data) override {
    require_root();
    fs::path dest = root_ / key;
    std::error_code ec;
    fs::create_directories(dest.parent_path(), ec);
    if (ec) throw RemoteError("cannot create " + dest.parent_path().string() + ": " + ec.message(),
                              "check that the remote directory is writable");
    try {
      // Temp name in the same folder, renamed when complete: a reader never
      // sees a partial blob.
      AtomicFile f(dest, 0644);
      f.write(data);
      f.commit(true);
    } catch (const Error& e) {
      throw RemoteError(e.what(), "check that the remote directory is writable and not full");
    }
  }

  std::vector<BlobInfo> list(const std::string& prefix) override {
    require_root();
    std::vector<BlobInfo> out;
    fs::path dir = root_ / prefix;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return out;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      std::error_code type_ec;
      if (it->is_symlink(type_ec) || !it->is_regular_file(type_ec)) continue;  // mlo writes plain files only
      std::string name = it->path().filename().string();
      if (name.rfind(".", 0) == 0) continue;  // temp files of writers in progress
      auto rel = relative_inside(it->path(), root_);
      if (!rel || !acceptable_key(*rel, prefix, root_.string())) continue;
      std::error_code size_ec;
      auto bytes = it->file_size(size_ec);
      if (size_ec) continue;  // removed since the listing (a gc, a writer's rename)
      out.push_back({*rel, static_cast<std::uint64_t>(bytes), file_mtime(it->path())});
    }
    if (ec) fail("cannot list " + dir.string(), ec.value());
    return out;
  }

  std::vector<BlobInfo> list_temp(const std::string& prefix) override {
    require_root();
    std::vector<BlobInfo> out;
    std::error_code ec;
    for (auto it = fs::directory_iterator(root_ / prefix, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      if (it->path().filename().string().find(".tmp.") != std::string::npos && it->is_regular_file(ec))
        out.push_back({prefix + it->path().filename().string(), 0, file_mtime(it->path())});
    return out;
  }

  void remove(const std::string& key) override {
    require_root();
    fs::path p = root_ / key;
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) fail("cannot remove " + p.string(), errno);
  }

 private:
  [[noreturn]] static void fail(const std::string& what, int err) {
    throw RemoteError(what + ": " + std::strerror(err), "check the remote directory and its permissions");
  }
  // A missing root is a typo or an unmounted volume, never an empty remote:
  // reads would report "nothing there" and writes would scatter a new
  // remote where nobody looks. Checked once per command (it stays).
  void require_root() {
    if (root_checked_) return;
    std::error_code ec;
    if (!fs::is_directory(root_, ec))
      throw RemoteError("remote folder " + root_.string() + " does not exist",
                        "check the path with 'mlo remote ls' (a typo? a volume not mounted?); to start a new "
                        "remote there, run 'mlo push --create'");
    root_checked_ = true;
  }
  fs::path root_;
  std::atomic<bool> root_checked_{false};
};

// ---------------------------------------------------------------- HTTP / WebDAV

class HttpBackend : public Backend {
 public:
  HttpBackend(const RemoteConfig& remote, HttpOptions opts) : client_(opts), name_(remote.name) {
    base_ = remote.url;
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
    shown_ = redact_url(base_);
    std::string auth = remote.option("auth");
    std::string token_env = remote.option("token_env", "MLO_HTTP_TOKEN");
    std::string user_env = remote.option("user_env", "MLO_HTTP_USER");
    std::string pass_env = remote.option("password_env", "MLO_HTTP_PASSWORD");
    const char* token = std::getenv(token_env.c_str());
    const char* user = std::getenv(user_env.c_str());
    const char* pass = std::getenv(pass_env.c_str());
    if (auth.empty()) auth = token ? "bearer" : user ? "basic" : "none";
    if (auth == "bearer") {
      if (!token) throw RemoteError("remote '" + name_ + "' uses bearer auth but $" + token_env + " is not set",
                                    "export " + token_env + "=TOKEN (secrets never go in config files)");
      auth_header_ = std::string("Bearer ") + token;
    } else if (auth == "basic") {
      if (!user || !pass)
        throw RemoteError("remote '" + name_ + "' uses basic auth but $" + user_env + " or $" + pass_env +
                              " is not set",
                          "export " + user_env + "=NAME " + pass_env + "=PASSWORD");
      auth_header_ = "Basic " + base64_encode(std::string(user) + ":" + pass);
    } else if (auth != "none") {
      throw InputError("remote '" + name_ + "': auth must be none, bearer or basic, not '" + auth + "'",
                       "run 'mlo remote modify " + name_ + " auth bearer'");
    }
  }

  std::string describe() const override { return shown_; }

  std::optional<std::string> get(const std::string& key) override {
    HttpResponse r = request("GET", key, {});
    if (r.status == 404) return std::nullopt;
    check(r, "GET", key);
    return std::move(r.body);
  }

  std::string get_range(const std::string& key, std::uint64_t offset, std::uint64_t length) override {
    HttpResponse r = request("GET", key, {}, range_header(offset, length));
    check(r, "GET", key);
    if (r.status == 200 && r.body.size() >= offset + length) r.body = r.body.substr(offset, length);
    if (r.body.size() != length)
      throw RemoteError("GET " + shown_url(key) + ": got " + std::to_string(r.body.size()) + " bytes, expected " +
                            std::to_string(length) + " (truncated response)",
                        "try again; if it persists the remote's pack is damaged");
    return std::move(r.body);
  }

  bool has(const std::string& key) override {
    HttpResponse r = request("HEAD", key, {});
    if (r.status == 404) return false;
    check(r, "HEAD", key);
    return true;
  }

  std::optional<std::uint64_t> size(const std::string& key) override {
    HttpResponse r = request("HEAD", key, {});
    if (r.status == 404) return std::nullopt;
    check(r, "HEAD", key);
    return parse_remote_u64(r.headers["content-length"], "HEAD " + shown_url(key) + ": Content-Length");
  }

  void put(const std::string& key, std::string_view data) override {
    // WebDAV servers write the body to a temp file and rename it into
    // place when the request completes: a partial PUT is never visible.
    HttpResponse r = request("PUT", key, data);
    check(r, "PUT", key);
  }

  std::vector<BlobInfo> list(const std::string& prefix) override {
    // WebDAV PROPFIND, Depth 1 (mlo's layout is one level deep under a prefix).
    auto ask = [&] {
      HttpResponse r = request("PROPFIND", prefix, {}, {"Depth", "1"});
      if (r.status == 405 || r.status == 501)
        throw RemoteError("the HTTP server at " + shown_ + " cannot list folders (PROPFIND answered " +
                              std::to_string(r.status) + ")",
                          "use a WebDAV server (nginx with dav_ext_methods PROPFIND, Apache mod_dav)");
      if (r.status != 404) check(r, "PROPFIND", prefix);
      return r;
    };
    return retry_malformed(ask, [&](const HttpResponse& r) {
      return r.status == 404 ? std::vector<BlobInfo>{} : parse_propfind(r.body, prefix);
    });
  }

  void remove(const std::string& key) override {
    HttpResponse r = request("DELETE", key, {});
    if (r.status == 404) return;
    check(r, "DELETE", key);
  }

  HttpStats stats() const override { return client_.stats(); }

 private:
  static std::pair<std::string, std::string> range_header(std::uint64_t offset, std::uint64_t length) {
    return {"Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1)};
  }

  std::string url(const std::string& key) const { return base_ + "/" + uri_encode(key, true); }
  std::string shown_url(const std::string& key) const { return shown_ + "/" + uri_encode(key, true); }

  // Keys and sizes from a multistatus body. Entries without a size are
  // folders; hrefs are percent-decoded, then checked like any untrusted path.
  std::vector<BlobInfo> parse_propfind(std::string_view body, const std::string& prefix) const {
    std::vector<BlobInfo> out;
    auto root_path = uri_decode(path_of(base_ + "/"));
    if (!root_path) throw InputError("remote '" + name_ + "': malformed percent-escape in URL " + shown_);
    for (const auto& resp : xml_values(body, "response")) {
      auto h = xml_values(resp, "href");
      auto s = xml_values(resp, "getcontentlength");
      if (h.empty() || s.empty()) continue;
      auto decoded = uri_decode(path_of(h[0]));
      if (!decoded) {
        log::warn(shown_ + ": ignoring the listed name '" + printable(h[0]) + "' (malformed percent-escape)");
        continue;
      }
      if (decoded->rfind(*root_path, 0) != 0) continue;
      std::string key = decoded->substr(root_path->size());
      if (key.empty() || key.back() == '/' || !acceptable_key(key, prefix, shown_)) continue;
      auto modified = xml_values(resp, "getlastmodified");
      out.push_back({key, parse_remote_u64(s[0], "PROPFIND " + shown_url(prefix) + ": size of " + printable(key)),
                     modified.empty() ? 0 : parse_http_date(modified[0])});
    }
    return out;
  }

  static std::string path_of(const std::string& u) {
    auto scheme = u.find("://");
    if (scheme == std::string::npos) return u;
    auto slash = u.find('/', scheme + 3);
    return slash == std::string::npos ? "/" : u.substr(slash);
  }

  HttpResponse request(const std::string& method, const std::string& key, std::string_view body,
                       std::pair<std::string, std::string> extra = {}) {
    return client_.perform(
        [&] {
          HttpRequest req;
          req.method = method;
          req.url = url(key);
          req.body = body;
          if (!auth_header_.empty()) req.headers.emplace_back("Authorization", auth_header_);
          if (!extra.first.empty()) req.headers.push_back(extra);
          return req;
        },
        method + " " + url(key));
  }

  void check(const HttpResponse& r, const std::string& method, const std::string& key) const {
    if (r.status >= 200 && r.status < 300) return;
    std::string what = method + " " + shown_url(key) + ": HTTP " + std::to_string(r.status);
    if (r.status == 401 || r.status == 403) what += " (access denied)";
    throw RemoteError("remote '" + name_ + "': " + what, status_hint(r.status));
  }

  HttpClient client_;
  std::string name_;
  std::string base_;
  std::string shown_;  // base_ without secrets, for messages
  std::string auth_header_;
};

// ---------------------------------------------------------------- S3

class S3Backend : public Backend {
 public:
  S3Backend(const RemoteConfig& remote, HttpOptions opts, AwsCredentials creds, S3Flavour flavour = {})
      : client_(opts), name_(remote.name), creds_(std::move(creds)), flavour_(std::move(flavour)) {
    std::string rest = remote.url.substr(5);  // after s3:// (or gs://)
    auto slash = rest.find('/');
    bucket_ = rest.substr(0, slash);
    prefix_ = slash == std::string::npos ? "" : trim_slashes(rest.substr(slash + 1));
    if (!prefix_.empty()) prefix_ += '/';
    region_ = remote.option("region", flavour_.region);
    if (region_.empty()) {
      const char* r = std::getenv("AWS_REGION");
      if (!r) r = std::getenv("AWS_DEFAULT_REGION");
      region_ = r ? r : "us-east-1";
    }
    std::string endpoint = remote.option("endpoint");
    path_style_ = remote.flag("path_style", !endpoint.empty());
    if (endpoint.empty()) endpoint = flavour_.endpoint.empty() ? "https://s3." + region_ + ".amazonaws.com" : flavour_.endpoint;
    if (endpoint.find("://") == std::string::npos) endpoint = "https://" + endpoint;
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    auto scheme_end = endpoint.find("://");
    scheme_ = endpoint.substr(0, scheme_end);
    host_ = endpoint.substr(scheme_end + 3);
    if (host_.find('/') != std::string::npos)
      throw InputError("remote '" + name_ + "': endpoint '" + endpoint + "' must not have a path",
                       "set endpoint to scheme://host[:port], e.g. http://127.0.0.1:9000");
    if (!path_style_) host_ = bucket_ + "." + host_;
    page_size_ = std::min<std::uint64_t>(config_u64(remote, "list_page", 0), 1000);  // 0: the store's own (1,000)
    multipart_threshold_ = config_u64(remote, "multipart_threshold", 64ull << 20);
    part_size_ = std::max<std::uint64_t>(5ull << 20, config_u64(remote, "part_size", 16ull << 20));
    if (remote.options.count("multipart_threshold") && multipart_threshold_ < part_size_)
      part_size_ = std::max<std::uint64_t>(multipart_threshold_, 1);  // tests use small parts
  }

  std::string describe() const override { return flavour_.scheme + bucket_ + "/" + prefix_; }

  std::optional<std::string> get(const std::string& key) override {
    HttpResponse r = request("GET", object_path(key), {}, {});
    if (r.status == 404 && error_code(r) != "NoSuchBucket") return std::nullopt;
    check(r, "GET", key);
    return std::move(r.body);
  }

  std::string get_range(const std::string& key, std::uint64_t offset, std::uint64_t length) override {
    HttpResponse r = request("GET", object_path(key), {}, {},
                             {{"range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + length - 1)}});
    check(r, "GET", key);
    if (r.status == 200 && r.body.size() >= offset + length) r.body = r.body.substr(offset, length);
    if (r.body.size() != length)
      throw RemoteError("GET " + describe() + key + ": got " + std::to_string(r.body.size()) +
                            " bytes, expected " + std::to_string(length) + " (truncated response)",
                        "try again; if it persists the remote's pack is damaged");
    return std::move(r.body);
  }

  bool has(const std::string& key) override {
    HttpResponse r = request("HEAD", object_path(key), {}, {});
    if (r.status == 404) return false;
    check(r, "HEAD", key);
    return true;
  }

  std::optional<std::uint64_t> size(const std::string& key) override {
    HttpResponse r = request("HEAD", object_path(key), {}, {});
    if (r.status == 404) return std::nullopt;
    check(r, "HEAD", key);
    return parse_remote_u64(r.headers["content-length"], "HEAD " + describe() + key + ": Content-Length");
  }

  void put(const std::string& key, std::string_view data) override {
    if (data.size() > multipart_threshold_) return put_multipart(key, data);
    HttpResponse r = request("PUT", object_path(key), {}, data);
    check(r, "PUT", key);
  }

  std::vector<BlobInfo> list(const std::string& prefix) override {
    std::vector<BlobInfo> out;
    std::string token;
    for (;;) {
      // A page whose body is malformed (a corrupted answer) is asked again.
      auto ask = [&] {
        std::vector<std::pair<std::string, std::string>> q = {{"list-type", "2"}, {"prefix", prefix_ + prefix}};
        if (page_size_) q.emplace_back("max-keys", std::to_string(page_size_));
        if (!token.empty()) q.emplace_back("continuation-token", token);
        HttpResponse r = request("GET", bucket_path(), q, {});
        check(r, "LIST", prefix);
        return r;
      };
      bool more = retry_malformed(ask, [&](const HttpResponse& r) { return parse_list_page(r.body, prefix, out, token); });
      if (!more) break;
    }
    return out;
  }

  void remove(const std::string& key) override {
    HttpResponse r = request("DELETE", object_path(key), {}, {});
    if (r.status == 404) return;
    check(r, "DELETE", key);
  }

  std::optional<std::vector<PendingUpload>> list_uploads() override {
    std::vector<PendingUpload> out;
    std::string key_marker, id_marker;
    for (;;) {
      std::vector<std::pair<std::string, std::string>> q = {{"uploads", ""}, {"prefix", prefix_}};
      if (!key_marker.empty()) q.insert(q.end(), {{"key-marker", key_marker}, {"upload-id-marker", id_marker}});
      HttpResponse r = request("GET", bucket_path(), q, {});
      if (optional_feature_missing(r, "ListMultipartUploads")) return std::nullopt;
      check(r, "ListMultipartUploads", "");
      if (!parse_uploads_page(r.body, out, key_marker, id_marker)) return out;
    }
  }

  void abort_upload(const PendingUpload& upload) override {
    HttpResponse r = request("DELETE", object_path(upload.key), {{"uploadId", upload.id}}, {});
    if (r.status == 404) return;  // completed or aborted meanwhile
    check(r, "AbortMultipartUpload", upload.key);
  }

  Versioning versioning() override {
    HttpResponse r = request("GET", bucket_path(), {{"versioning", ""}}, {});
    if (optional_feature_missing(r, "GetBucketVersioning")) return Versioning::unknown;
    check(r, "GetBucketVersioning", "");
    // A server that ignores the query answers something else (a listing).
    if (r.body.find("VersioningConfiguration") == std::string::npos) return Versioning::unknown;
    auto status = xml_values(r.body, "Status");
    if (status.empty()) return Versioning::off;  // never enabled: no <Status>
    if (status[0] == "Enabled") return Versioning::enabled;
    if (status[0] == "Suspended") return Versioning::suspended;
    return Versioning::unknown;
  }

  HttpStats stats() const override { return client_.stats(); }

 private:
  // A call gc can do without: a server that does not implement it (s3rver
  // answers 501 NotImplemented) or a policy that denies it.
  bool optional_feature_missing(const HttpResponse& r, const std::string& op) const {
    if (r.status != 501 && r.status != 405 && r.status != 403 && error_code(r) != "NotImplemented") return false;
    std::string what = "remote '" + name_ + "': " + op + " answered HTTP " + std::to_string(r.status) + " " + error_code(r);
    if (r.status == 403) log::warn(what + " (access denied: gc goes on without it)");
    else log::debug(what);
    return true;
  }

  // One ListMultipartUploads page: appends the uploads under the remote's
  // prefix; returns true (and sets the markers) when another page follows.
  bool parse_uploads_page(std::string_view body, std::vector<PendingUpload>& out, std::string& key_marker,
                          std::string& id_marker) const {
    if (body.find("ListMultipartUploadsResult") == std::string_view::npos)
      throw RemoteError("ListMultipartUploads " + describe() + ": the answer is not a ListMultipartUploadsResult",
                        "try again; if it persists, check the endpoint");
    for (const auto& upload : xml_values(body, "Upload")) {
      auto key = xml_values(upload, "Key");
      auto id = xml_values(upload, "UploadId");
      auto initiated = xml_values(upload, "Initiated");
      if (key.size() != 1 || id.size() != 1 || key[0].rfind(prefix_, 0) != 0) continue;
      std::string rel = key[0].substr(prefix_.size());
      if (!acceptable_key(rel, "", describe())) continue;
      out.push_back({rel, id[0], initiated.empty() ? 0 : parse_iso8601(initiated[0])});
    }
    auto truncated = xml_values(body, "IsTruncated");
    auto next_key = xml_values(body, "NextKeyMarker");
    auto next_id = xml_values(body, "NextUploadIdMarker");
    if (truncated.empty() || truncated[0] != "true" || next_key.empty() || next_key[0].empty()) return false;
    std::string id = next_id.empty() ? "" : next_id[0];
    if (next_key[0] == key_marker && id == id_marker)
      throw RemoteError("ListMultipartUploads " + describe() + ": a truncated listing without new markers",
                        "try again; if it persists, check the endpoint");
    key_marker = next_key[0];
    id_marker = id;
    return true;
  }

  // One ListObjectsV2 page: appends its keys to `out`; returns true (and
  // sets `token`) when another page follows. Throws RemoteError on a
  // malformed body, before anything is appended.
  bool parse_list_page(std::string_view body, const std::string& prefix, std::vector<BlobInfo>& out,
                       std::string& token) const {
    if (body.find("ListBucketResult") == std::string_view::npos)
      throw RemoteError("LIST " + describe() + prefix + ": the answer is not a ListBucketResult (malformed body)",
                        "try again; if it persists, check the endpoint");
    std::vector<BlobInfo> page;
    for (const auto& contents : xml_values(body, "Contents")) {
      auto key = xml_values(contents, "Key");
      auto size = xml_values(contents, "Size");
      if (key.size() != 1 || size.size() != 1)
        throw RemoteError("LIST " + describe() + prefix + ": an entry without one Key and one Size (malformed body)",
                          "try again; if it persists, check the endpoint");
      std::uint64_t bytes = parse_remote_u64(size[0], "LIST " + describe() + prefix + ": Size");
      if (key[0].rfind(prefix_, 0) != 0) continue;
      std::string rel = key[0].substr(prefix_.size());
      auto modified = xml_values(contents, "LastModified");
      if (acceptable_key(rel, prefix, describe()))
        page.push_back({rel, bytes, modified.empty() ? 0 : parse_iso8601(modified[0])});
    }
    auto truncated = xml_values(body, "IsTruncated");
    auto next = xml_values(body, "NextContinuationToken");
    bool more = !truncated.empty() && truncated[0] == "true";
    if (more && (next.empty() || next[0].empty() || next[0] == token))
      throw RemoteError("LIST " + describe() + prefix + ": a truncated listing without a new continuation token",
                        "try again; if it persists, check the endpoint");
    out.insert(out.end(), page.begin(), page.end());
    if (more) token = next[0];
    return more;
  }

  std::string bucket_path() const { return path_style_ ? "/" + uri_encode(bucket_, false) + "/" : "/"; }
  std::string object_path(const std::string& key) const {
    return (path_style_ ? "/" + uri_encode(bucket_, false) + "/" : "/") + uri_encode(prefix_ + key, true);
  }

  void put_multipart(const std::string& key, std::string_view data) {
    std::string path = object_path(key);
    HttpResponse r = request("POST", path, {{"uploads", ""}}, {});
    check(r, "CreateMultipartUpload", key);
    auto ids = xml_values(r.body, "UploadId");
    if (ids.empty()) throw RemoteError("CreateMultipartUpload for " + key + " returned no UploadId");
    std::string upload_id = ids[0];
    try {
      std::string complete = "<CompleteMultipartUpload>";
      int part = 1;
      for (std::uint64_t off = 0; off < data.size(); off += part_size_, ++part) {
        std::string_view piece = data.substr(off, part_size_);
        HttpResponse pr = request("PUT", path, {{"partNumber", std::to_string(part)}, {"uploadId", upload_id}}, piece);
        check(pr, "UploadPart", key);
        std::string etag = pr.headers["etag"];
        complete += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>" + etag + "</ETag></Part>";
      }
      complete += "</CompleteMultipartUpload>";
      HttpResponse cr = request("POST", path, {{"uploadId", upload_id}}, complete);
      check(cr, "CompleteMultipartUpload", key);
      // S3 may answer 200 with an error document.
      if (cr.body.find("<Error>") != std::string::npos)
        throw RemoteError("CompleteMultipartUpload for " + key + " failed: " + error_code(cr));
    } catch (...) {
      // Abort so the parts do not linger (and are never visible as the object).
      try {
        request("DELETE", path, {{"uploadId", upload_id}}, {});
      } catch (...) {
      }
      throw;
    }
  }

  HttpResponse request(const std::string& method, const std::string& path,
                       const std::vector<std::pair<std::string, std::string>>& query, std::string_view body,
                       std::map<std::string, std::string> extra = {}) {
    std::string payload_hash = sha256_hex(body);
    std::string canonical_query = sigv4_canonical_query(query);
    std::string target = scheme_ + "://" + host_ + path + (canonical_query.empty() ? "" : "?" + canonical_query);
    return client_.perform(
        [&] {
          SigV4Request sreq;
          sreq.method = method;
          sreq.canonical_uri = path;
          sreq.query = query;
          sreq.headers = extra;
          sreq.headers["host"] = host_;
          std::string date = amz_date_now();
          sreq.headers["x-amz-date"] = date;
          // Set explicitly: libcurl does not add it (and S3 requires it).
          sreq.headers["x-amz-content-sha256"] = payload_hash;
          if (!creds_.session_token.empty()) sreq.headers["x-amz-security-token"] = creds_.session_token;
          HttpRequest req;
          req.method = method;
          req.url = target;
          req.body = body;
          for (auto& [k, v] : sreq.headers)
            if (k != "host") req.headers.emplace_back(k, v);
          // GCS's XML API takes an OAuth bearer token instead of a signature.
          req.headers.emplace_back("Authorization", flavour_.bearer
                                                        ? "Bearer " + flavour_.bearer->current()
                                                        : sigv4_sign(sreq, creds_, region_, "s3", date).authorization);
          return req;
        },
        method + " " + target);
  }

  static std::string error_code(const HttpResponse& r) {
    auto codes = xml_values(r.body, "Code");
    return codes.empty() ? "" : codes[0];
  }

  void check(const HttpResponse& r, const std::string& op, const std::string& key) const {
    if (r.status >= 200 && r.status < 300) return;
    std::string code = error_code(r);
    auto messages = xml_values(r.body, "Message");
    std::string where = describe() + key;
    if (code == "NoSuchBucket")
      throw RemoteError("remote '" + name_ + "': bucket '" + bucket_ + "' does not exist",
                        "create the bucket, or fix the URL with 'mlo remote modify " + name_ + " url s3://BUCKET/PREFIX'");
    std::string msg = "remote '" + name_ + "': " + op + " " + where + ": HTTP " + std::to_string(r.status);
    if (!code.empty()) msg += " " + code;
    if (!messages.empty()) msg += " (" + messages[0] + ")";
    else if (r.status == 403) msg += " (access denied)";
    throw RemoteError(msg, status_hint(r.status));
  }

  HttpClient client_;
  std::string name_;
  AwsCredentials creds_;
  S3Flavour flavour_;
  std::string bucket_, prefix_, region_, scheme_, host_;
  bool path_style_ = false;
  std::uint64_t page_size_ = 0;
  std::uint64_t multipart_threshold_ = 64ull << 20;
  std::uint64_t part_size_ = 16ull << 20;
};

}  // namespace

std::unique_ptr<Backend> detail::open_s3_compatible(const RemoteConfig& remote, const AwsCredentials& creds,
                                                    const S3Flavour& flavour) {
  return std::make_unique<S3Backend>(remote, http_options(remote), creds, flavour);
}

HttpOptions detail::http_options(const RemoteConfig& remote) {
  HttpOptions o;
  o.ssl_verify = remote.flag("ssl_verify", true);
  o.remote_name = remote.name;
  // CAs to trust: the remote's ca_bundle, else the variables curl and
  // OpenSSL users know; libcurl alone reads neither, so mlo passes them on.
  o.ca_bundle = remote.option("ca_bundle");
  for (const char* var : {"CURL_CA_BUNDLE", "SSL_CERT_FILE"})
    if (const char* v = std::getenv(var); o.ca_bundle.empty() && v && *v) o.ca_bundle = v;
  std::error_code ec;
  if (!o.ca_bundle.empty() && !fs::is_regular_file(o.ca_bundle, ec))
    throw InputError("CA bundle " + o.ca_bundle + " (remote '" + remote.name + "'): no such file",
                     "point 'mlo remote modify " + remote.name +
                         " ca_bundle FILE' (or CURL_CA_BUNDLE / SSL_CERT_FILE) at a PEM file of CA certificates");
  if (auto r = remote.option("retries"); !r.empty()) o.retries = std::max(0, std::atoi(r.c_str()));
  if (auto t = remote.option("timeout"); !t.empty()) o.low_speed_time_s = std::max(1, std::atoi(t.c_str()));
  return o;
}

std::optional<AwsCredentials> find_aws_credentials(const std::string& profile_option) {
  const char* ak = std::getenv("AWS_ACCESS_KEY_ID");
  const char* sk = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (ak && sk && *ak && *sk) {
    const char* tok = std::getenv("AWS_SESSION_TOKEN");
    return AwsCredentials{ak, sk, tok ? tok : ""};
  }
  std::string profile = profile_option;
  if (const char* p = std::getenv("AWS_PROFILE"); p && *p) profile = p;
  if (profile.empty()) profile = "default";
  fs::path file;
  if (const char* f = std::getenv("AWS_SHARED_CREDENTIALS_FILE"); f && *f) file = f;
  else if (const char* home = std::getenv("HOME")) file = fs::path(home) / ".aws" / "credentials";
  if (file.empty()) return std::nullopt;
  std::ifstream in(file);
  if (!in) return std::nullopt;
  AwsCredentials c;
  std::string line, section;
  auto trim = [](std::string s) {
    auto b = s.find_first_not_of(" \t\r");
    auto e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      if (section.rfind("profile ", 0) == 0) section = trim(section.substr(8));
      continue;
    }
    if (section != profile) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string k = lower(trim(line.substr(0, eq))), v = trim(line.substr(eq + 1));
    if (k == "aws_access_key_id") c.access_key = v;
    else if (k == "aws_secret_access_key") c.secret_key = v;
    else if (k == "aws_session_token") c.session_token = v;
  }
  if (c.access_key.empty() || c.secret_key.empty()) return std::nullopt;
  return c;
}

namespace {

// azure://, gs://, ssh:// and sftp:// URLs: their kind, or "" for another scheme.
template <class Bad>
std::string cloud_url_kind(const std::string& url, Bad bad) {
  auto rest_after = [&](std::string_view scheme) { return url.substr(scheme.size()); };
  auto first_part = [](const std::string& rest) { return rest.substr(0, rest.find('/')); };
  if (url.rfind("azure://", 0) == 0) {
    std::string container = first_part(rest_after("azure://"));
    if (container.size() < 3 || container.size() > 63) return bad("container names have 3 to 63 characters");
    for (char c : container)
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-'))
        return bad("container names have lower-case letters, digits and '-' only");
    return "azure";
  }
  if (url.rfind("gs://", 0) == 0) {
    std::string bucket = first_part(rest_after("gs://"));
    if (bucket.empty()) return bad("no bucket name");
    for (char c : bucket)
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' ||
            c == '_' || c == '.'))
        return bad("bucket names have lower-case letters, digits, '-', '_' and '.' only");
    return "gs";
  }
  for (std::string_view scheme : {"ssh://", "sftp://"}) {
    if (url.rfind(scheme, 0) != 0) continue;
    std::string rest = rest_after(scheme);
    auto slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    if (authority.empty() || authority.back() == '@' || authority.front() == ':') return bad("no host name");
    auto at = authority.find('@');
    if (at != std::string::npos && authority.substr(0, at).find(':') != std::string::npos)
      return bad("a password in an ssh URL; use a key (ssh-agent or ~/.ssh)");
    if (slash == std::string::npos || slash + 1 >= rest.size()) return bad("no path on the host (ssh://HOST/PATH)");
    return "ssh";
  }
  return "";
}

}  // namespace

std::string url_kind(const std::string& url) {
  auto bad = [&](const std::string& why) -> std::string {
    throw InputError("malformed remote URL '" + redact_url(url) + "': " + why,
                     "use s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, azure://CONTAINER/PREFIX, ssh://[USER@]HOST[:PORT]/PATH, "
                     "http(s)://HOST/PATH, file:///PATH or an absolute /PATH");
  };
  if (url.empty()) return bad("it is empty");
  if (auto cloud = cloud_url_kind(url, bad); !cloud.empty()) return cloud;
  if (url.rfind("s3://", 0) == 0) {
    std::string bucket = url.substr(5, url.find('/', 5) == std::string::npos ? std::string::npos : url.find('/', 5) - 5);
    if (bucket.empty()) return bad("no bucket name");
    for (char c : bucket)
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' ||
            c == '.'))
        return bad("bucket names have lower-case letters, digits, '-' and '.' only");
    return "s3";
  }
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
    auto host_start = url.find("://") + 3;
    if (host_start >= url.size() || url[host_start] == '/') return bad("no host name");
    return "http";
  }
  if (url.rfind("file://", 0) == 0) {
    if (url.size() <= 7 || url[7] != '/') return bad("file:// URLs need an absolute path (file:///data/remote)");
    return "dir";
  }
  if (url[0] == '/') return "dir";
  if (url.find("://") != std::string::npos) return bad("unsupported scheme");
  return bad("a directory remote needs an absolute path");
}

std::unique_ptr<Backend> open_backend(const RemoteConfig& remote) {
  std::string kind = url_kind(remote.url);
  if (kind == "dir") {
    std::string path = remote.url.rfind("file://", 0) == 0 ? remote.url.substr(7) : remote.url;
    return std::make_unique<DirBackend>(fs::path(path).lexically_normal());
  }
  if (kind == "http") return std::make_unique<HttpBackend>(remote, http_options(remote));
  if (kind == "azure") return open_azure(remote);
  if (kind == "gs") return open_gs(remote);
  if (kind == "ssh") return open_sftp(remote);
  auto creds = find_aws_credentials(remote.option("profile"));
  if (!creds)
    throw RemoteError("remote '" + remote.name + "': no S3 credentials found",
                      "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or set AWS_PROFILE to a profile in "
                      "~/.aws/credentials (secrets never go in mlo's config)");
  return std::make_unique<S3Backend>(remote, http_options(remote), *creds);
}

// Puts a blob and asks the store how big it now is: a server that
// acknowledged a PUT it did not store (or stored in part) is caught here, and
// the blob is sent once more before that is an error.
void put_verified(Backend& backend, const std::string& key, std::string_view data) {
  for (int attempt = 1;; ++attempt) {
    backend.put(key, data);
    std::optional<std::uint64_t> stored = backend.size(key);
    if (stored && *stored == data.size()) return;
    std::string what = backend.describe() + "/" + key + ": the remote acknowledged " + std::to_string(data.size()) +
                       " bytes but holds " + (stored ? std::to_string(*stored) + " bytes" : "nothing");
    if (attempt >= 2)
      throw RemoteError(what, "the server loses uploads (a full disk, a proxy?): check it, then run 'mlo push' "
                              "again (it sends only what is missing)");
    log::warn(what + "; sending it again");
  }
}

}  // namespace mlo::remote
