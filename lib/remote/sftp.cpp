// ssh://[USER@]HOST[:PORT]/PATH (and sftp://): libcurl's SFTP (libssh2).
// The host key is checked against known_hosts (unknown hosts refused unless
// the remote's accept_new option is on, as ssh's StrictHostKeyChecking=
// accept-new); keys come from the remote's identity option, ~/.ssh or
// ssh-agent. A put writes a hidden temp name and renames it into place, so a
// reader never sees half a blob; OpenSSH's rename (SFTP v3) refuses an
// existing target, which makes writes create-only. Easy handles are pooled
// per thread of the transfer engine, so parallel jobs keep their sessions.
#include <curl/curl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/fs.h"
#include "core/interrupt.h"
#include "remote/backend_detail.h"

namespace mlo::remote {

using namespace detail;

namespace {

struct SshTarget {
  std::string user, host, port, path;  // path as in the URL: "/abs" or "/~/rel"
};

SshTarget parse_ssh_url(const std::string& url) {
  SshTarget t;
  std::string rest = url.substr(url.find("://") + 3);
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  t.path = rest.substr(slash);
  while (t.path.size() > 1 && t.path.back() == '/') t.path.pop_back();
  if (auto at = authority.find('@'); at != std::string::npos) {
    t.user = authority.substr(0, at);
    authority = authority.substr(at + 1);
  }
  if (auto colon = authority.rfind(':'); colon != std::string::npos && authority.find(']') == std::string::npos) {
    t.port = authority.substr(colon + 1);
    authority = authority.substr(0, colon);
  }
  t.host = authority;
  if (t.user.empty()) {
    const char* u = std::getenv("USER");
    t.user = u && *u ? u : "root";
  }
  return t;
}

// Why the last host key check failed, filled by the callback.
struct HostKeyCheck {
  bool accept_new = false;
  enum { ok, unknown, changed } outcome = ok;
};

extern "C" int host_key_cb(CURL*, const curl_khkey*, const curl_khkey*, curl_khmatch match, void* data) {
  auto* check = static_cast<HostKeyCheck*>(data);
  if (match == CURLKHMATCH_OK) return CURLKHSTAT_FINE;
  if (match == CURLKHMATCH_MISSING && check->accept_new) return CURLKHSTAT_FINE_ADD_TO_FILE;
  check->outcome = match == CURLKHMATCH_MISSING ? HostKeyCheck::unknown : HostKeyCheck::changed;
  return CURLKHSTAT_REJECT;
}

size_t append_cb(char* ptr, size_t size, size_t nmemb, void* user) {
  static_cast<std::string*>(user)->append(ptr, size * nmemb);
  return size * nmemb;
}

// One SFTP operation: what to do at which path (under the remote's root).
struct SftpOp {
  std::string url;                    // full sftp:// URL
  std::vector<std::string> quote;     // commands after the transfer (or alone with nobody)
  std::string range;                  // "A-B" or empty
  std::optional<std::string_view> upload;
  bool nobody = false;
  bool stat = false;  // stat the file (for its time; libcurl then knows its size)
};

struct SftpResult {
  CURLcode code = CURLE_OK;
  std::string body;
  std::string error;
  curl_off_t length = -1;
};

bool sftp_retryable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSH:
    case CURLE_COULDNT_RESOLVE_HOST:
      return true;
    default:
      return false;
  }
}

// "Dec  4 10:00" or "Dec  4  2025" (ls -l, as OpenSSH's longname writes it)
// to unix seconds; 0 when it is neither.
std::int64_t parse_ls_time(const std::string& month, const std::string& day, const std::string& clock_or_year) {
  static const char* months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  auto m = std::string_view(months).find(month);
  if (month.size() != 3 || m == std::string_view::npos || m % 3) return 0;
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  int this_year = tm.tm_year;
  tm = {};
  tm.tm_mon = static_cast<int>(m / 3);
  tm.tm_mday = std::atoi(day.c_str());
  if (clock_or_year.find(':') != std::string::npos) {
    tm.tm_year = this_year;
    tm.tm_hour = std::atoi(clock_or_year.c_str());
    tm.tm_min = std::atoi(clock_or_year.c_str() + clock_or_year.find(':') + 1);
    std::int64_t t = timegm(&tm);
    if (t > now + 86400) {  // "Dec 31 23:00" seen in January is last year's
      tm.tm_year -= 1;
      t = timegm(&tm);
    }
    return t;
  }
  tm.tm_year = std::atoi(clock_or_year.c_str()) - 1900;
  return tm.tm_year > 0 ? timegm(&tm) : 0;
}

class SftpBackend : public Backend {
 public:
  SftpBackend(const RemoteConfig& remote, HttpOptions opts) : name_(remote.name), opts_(std::move(opts)) {
    static std::once_flag once;  // before any worker thread makes a handle
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    SshTarget t = parse_ssh_url(remote.url);
    root_ = t.path;
    base_ = "sftp://" + uri_encode(t.user, false) + "@" + t.host + (t.port.empty() ? "" : ":" + t.port);
    shown_ = "ssh://" + t.user + "@" + t.host + (t.port.empty() ? "" : ":" + t.port) + root_;
    accept_new_ = remote.flag("accept_new", false);
    std::string home = std::getenv("HOME") ? std::getenv("HOME") : "";
    known_hosts_ = remote.option("known_hosts", home + "/.ssh/known_hosts");
    identity_ = remote.option("identity");
    for (const char* name : {"id_ed25519", "id_ecdsa", "id_rsa"}) {
      std::error_code ec;
      if (identity_.empty() && fs::is_regular_file(home + "/.ssh/" + name, ec)) identity_ = home + "/.ssh/" + name;
    }
  }

  ~SftpBackend() override {
    for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
  }

  std::string describe() const override { return shown_; }

  std::optional<std::string> get(const std::string& key) override {
    SftpResult r = run({url(key)}, "read " + key);
    if (r.code == CURLE_REMOTE_FILE_NOT_FOUND) return std::nullopt;
    check(r, "read", key);
    return std::move(r.body);
  }

  std::string get_range(const std::string& key, std::uint64_t offset, std::uint64_t length) override {
    SftpOp op{url(key)};
    op.range = std::to_string(offset) + "-" + std::to_string(offset + length - 1);
    SftpResult r = run(op, "read " + key);
    check(r, "read", key);
    if (r.body.size() != length)
      throw RemoteError(shown_ + "/" + key + ": got " + std::to_string(r.body.size()) + " bytes, expected " +
                            std::to_string(length) + " (truncated pack)",
                        "run 'mlo push' from a clone that has the data to repair the remote");
    return std::move(r.body);
  }

  bool has(const std::string& key) override { return size(key).has_value(); }

  std::optional<std::uint64_t> size(const std::string& key) override {
    // libcurl's SFTP stats the file for its time (CURLOPT_FILETIME) and
    // reports the size it saw; it leaves an empty file's size unset.
    SftpOp op{url(key)};
    op.nobody = true;
    op.stat = true;
    SftpResult r = run(op, "stat " + key);
    if (r.code == CURLE_REMOTE_FILE_NOT_FOUND) return std::nullopt;
    check(r, "stat", key);
    return static_cast<std::uint64_t>(std::max<curl_off_t>(r.length, 0));
  }

  void put(const std::string& key, std::string_view data) override {
    auto slash = key.rfind('/');
    std::string dir = slash == std::string::npos ? "" : key.substr(0, slash + 1);
    std::string temp = dir + "." + key.substr(dir.size()) + ".tmp." + std::to_string(::getpid()) + "." +
                       std::to_string(counter_++);
    SftpOp op{url(temp)};
    op.upload = data;
    op.quote = {"rename " + quoted(temp) + " " + quoted(key)};
    SftpResult r = run(op, "write " + key);
    if (r.code == CURLE_QUOTE_ERROR) r = settle_existing(key, temp, data.size(), r);
    if (r.code == CURLE_OK) return;
    remove(temp);
    check(r, "write", key);
  }
  std::vector<BlobInfo> list(const std::string& prefix) override {
    std::string dir = prefix;
    if (!dir.empty() && dir.back() != '/') dir = dir.substr(0, dir.rfind('/') + 1);
    SftpResult r = run({base_ + encoded_path(dir) + (dir.empty() ? "/" : "")}, "list " + prefix);
    if (r.code == CURLE_REMOTE_FILE_NOT_FOUND) return {};
    check(r, "list", prefix);
    std::vector<BlobInfo> out;
    std::istringstream lines(r.body);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string perms, links, user, group, size, month, day, clock, name;
      if (!(fields >> perms >> links >> user >> group >> size >> month >> day >> clock >> name)) continue;
      if (perms.empty() || perms[0] != '-') continue;  // folders, links: mlo writes plain files only
      std::string key = dir + name;
      if (!acceptable_key(key, prefix, shown_)) continue;
      out.push_back({key, parse_remote_u64(size, "list " + shown_ + "/" + dir + ": size of " + printable(name)),
                     parse_ls_time(month, day, clock)});
    }
    return out;
  }

  void remove(const std::string& key) override {
    SftpOp op{base_ + encoded_path("")};
    op.nobody = true;
    op.quote = {"rm " + quoted(key)};
    SftpResult r = run(op, "remove " + key);
    if (r.code == CURLE_QUOTE_ERROR && !has(key)) return;  // absent already
    check(r, "remove", key);
  }

  HttpStats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  // The rename found `key` there already (OpenSSH's rename never replaces).
  // The same size is an earlier attempt of this write whose answer was
  // lost. mlo's names are unique to their writer (content hashes, time +
  // random), so another size is this writer's own damaged earlier attempt:
  // removed, and the rename tried once more.
  SftpResult settle_existing(const std::string& key, const std::string& temp, std::uint64_t bytes, SftpResult failed) {
    std::optional<std::uint64_t> there = size(key);
    if (!there) return failed;  // the rename failed for another reason
    if (*there == bytes) {
      remove(temp);
      return {};
    }
    log::warn(shown_ + "/" + key + " holds " + std::to_string(*there) + " bytes of an earlier attempt, not " +
              std::to_string(bytes) + "; replacing it");
    SftpOp op{base_ + encoded_path("")};
    op.nobody = true;
    op.quote = {"rm " + quoted(key), "rename " + quoted(temp) + " " + quoted(key)};
    return run(op, "replace " + key);
  }

  std::string encoded_path(const std::string& key) const {
    return uri_encode(root_, true) + (key.empty() ? "/" : "/" + uri_encode(key, true));
  }
  std::string url(const std::string& key) const { return base_ + encoded_path(key); }
  // A path for a quote command: the root and key (mlo's keys have no quotes).
  std::string quoted(const std::string& key) const { return "\"" + root_ + "/" + key + "\""; }

  SftpResult run(const SftpOp& op, const std::string& what) {
    for (int attempt = 0;; ++attempt) {
      check_interrupted();
      SftpResult r = perform_once(op);
      if (r.code == CURLE_OK || !sftp_retryable(r.code) || attempt >= opts_.retries) return r;
      log::debug(shown_ + ": " + what + ": " + r.error + "; trying again");
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_delay_ms(opts_.backoff_ms, attempt)));
    }
  }

  SftpResult perform_once(const SftpOp& op) {
    CURL* h = acquire();
    curl_easy_reset(h);
    SftpResult r;
    HostKeyCheck host{accept_new_};
    UploadSource up{op.upload.value_or(std::string_view())};
    char error_buffer[CURL_ERROR_SIZE] = "";
    configure(h, host, error_buffer);
    curl_easy_setopt(h, CURLOPT_URL, op.url.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_cb);
    if (op.stat) curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
    if (op.nobody) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (!op.range.empty()) curl_easy_setopt(h, CURLOPT_RANGE, op.range.c_str());
    if (op.upload) {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_read_cb);
      curl_easy_setopt(h, CURLOPT_READDATA, &up);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(up.data.size()));
      curl_easy_setopt(h, CURLOPT_FTP_CREATE_MISSING_DIRS, static_cast<long>(CURLFTP_CREATE_DIR));
    }
    curl_slist* quote = nullptr;
    for (const auto& q : op.quote) quote = curl_slist_append(quote, q.c_str());
    if (quote) curl_easy_setopt(h, op.nobody ? CURLOPT_QUOTE : CURLOPT_POSTQUOTE, quote);
    r.code = curl_easy_perform(h);
    curl_slist_free_all(quote);
    curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &r.length);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    curl_easy_setopt(h, op.nobody ? CURLOPT_QUOTE : CURLOPT_POSTQUOTE, nullptr);
    release(h);
    if (r.code != CURLE_OK) r.error = describe_failure(r.code, error_buffer, host);
    std::lock_guard lock(mutex_);
    ++stats_.requests;
    stats_.bytes_sent += up.pos;
    stats_.bytes_received += r.body.size();
    return r;
  }

  void configure(CURL* h, HostKeyCheck& host, char* error_buffer) const {
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, opts_.connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, opts_.low_speed_time_s);
    curl_easy_setopt(h, CURLOPT_SSH_AUTH_TYPES, static_cast<long>(CURLSSH_AUTH_PUBLICKEY | CURLSSH_AUTH_AGENT));
    if (!identity_.empty()) {
      curl_easy_setopt(h, CURLOPT_SSH_PRIVATE_KEYFILE, identity_.c_str());
      std::error_code ec;
      std::string pub = identity_ + ".pub";
      // Empty: libssh2 derives the public key from the private one.
      curl_easy_setopt(h, CURLOPT_SSH_PUBLIC_KEYFILE, fs::is_regular_file(pub, ec) ? pub.c_str() : "");
    }
    curl_easy_setopt(h, CURLOPT_SSH_KNOWNHOSTS, known_hosts_.c_str());
    curl_easy_setopt(h, CURLOPT_SSH_KEYFUNCTION, host_key_cb);
    curl_easy_setopt(h, CURLOPT_SSH_KEYDATA, &host);
  }

  std::string describe_failure(CURLcode code, const char* error_buffer, const HostKeyCheck& host) const {
    std::string out = curl_easy_strerror(code);
    if (error_buffer[0]) out += std::string(" (") + error_buffer + ")";
    if (host.outcome == HostKeyCheck::unknown) out = "host key unknown: not in " + known_hosts_;
    if (host.outcome == HostKeyCheck::changed)
      out = "host key CHANGED: it does not match the one in " + known_hosts_ + " (a new server, or someone in between)";
    return out;
  }

  void check(const SftpResult& r, const std::string& op, const std::string& key) const {
    if (r.code == CURLE_OK) return;
    std::string msg = "remote '" + name_ + "': " + op + " " + shown_ + "/" + key + ": " + r.error;
    if (r.error.rfind("host key unknown", 0) == 0)
      throw RemoteError(msg, "check the host's fingerprint, then run 'mlo remote check " + name_ +
                                 " --accept-new' (adds it to known_hosts), or add it with ssh-keyscan");
    if (r.error.rfind("host key CHANGED", 0) == 0)
      throw RemoteError(msg, "if the server was reinstalled, remove its old line from " + known_hosts_ +
                                 " (ssh-keygen -R HOST); otherwise do not connect");
    if (r.code == CURLE_LOGIN_DENIED)
      throw RemoteError(msg, "add your public key to the server's ~/.ssh/authorized_keys, load it in ssh-agent, or "
                             "set the key with 'mlo remote modify " + name_ + " identity ~/.ssh/KEY --local'");
    if (r.code == CURLE_REMOTE_ACCESS_DENIED || r.code == CURLE_QUOTE_ERROR || r.code == CURLE_UPLOAD_FAILED)
      throw RemoteError(msg, "check that the user may write the remote folder (permissions, quota, disk space)");
    throw RemoteError(msg, "check the remote's URL and that the ssh server is reachable");
  }

  CURL* acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        void* h = idle_.back();
        idle_.pop_back();
        return static_cast<CURL*>(h);
      }
    }
    CURL* h = curl_easy_init();
    if (!h) throw RemoteError("cannot initialise libcurl");
    return h;
  }
  void release(CURL* h) {
    std::lock_guard lock(mutex_);
    idle_.push_back(h);
  }

  std::string name_;
  HttpOptions opts_;
  std::string root_, base_, shown_, known_hosts_, identity_;
  bool accept_new_ = false;
  std::atomic<unsigned> counter_{0};
  mutable std::mutex mutex_;
  std::vector<void*> idle_;
  HttpStats stats_;
};

}  // namespace

std::unique_ptr<Backend> detail::open_sftp(const RemoteConfig& remote) {
  return std::make_unique<SftpBackend>(remote, http_options(remote));
}

}  // namespace mlo::remote
