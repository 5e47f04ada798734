#include "remote/http.h"
#include "core/version.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/log.h"

namespace mlo::remote {

namespace {

struct GlobalInit {
  GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

size_t write_cb(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* out = static_cast<std::string*>(user);
  out->append(ptr, size * nmemb);
  return size * nmemb;
}

size_t header_cb(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string line(ptr, size * nmemb);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    auto b = value.find_first_not_of(" \t");
    auto e = value.find_last_not_of(" \t\r\n");
    (*headers)[name] = b == std::string::npos ? "" : value.substr(b, e - b + 1);
  } else if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();  // a new response (after 100-continue or a redirect)
  }
  return size * nmemb;
}

int seek_cb(void* user, curl_off_t offset, int origin) {
  auto* st = static_cast<UploadSource*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > st->data.size()) return CURL_SEEKFUNC_FAIL;
  st->pos = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

bool curl_retryable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_FAIL_REWIND:
      return true;
    default:
      return false;
  }
}

}  // namespace

size_t upload_read_cb(char* buffer, size_t size, size_t nitems, void* source) {
  auto* st = static_cast<UploadSource*>(source);
  size_t n = std::min(size * nitems, st->data.size() - st->pos);
  std::copy_n(st->data.data() + st->pos, n, buffer);
  st->pos += n;
  return n;
}

// 5xx, 429 and 408 are worth another try. 501 and 505 say the server lacks
// the feature or protocol version (s3rver's ListMultipartUploads): the same
// answer every time, so retrying only waits.
bool http_status_retryable(long status) {
  if (status == 501 || status == 505) return false;
  return status >= 500 || status == 429 || status == 408;
}

int backoff_delay_ms(int base_ms, int attempt) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  long long delay = static_cast<long long>(base_ms) << std::min(attempt, 10);
  delay = std::min<long long>(delay, 20000);
  std::uniform_int_distribution<long long> jitter(0, delay / 2);
  return static_cast<int>(delay / 2 + jitter(rng));
}

std::string uri_encode(std::string_view text, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> uri_decode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || hex(text[i + 1]) < 0 || hex(text[i + 2]) < 0) return std::nullopt;
    out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
    i += 2;
  }
  return out;
}

namespace {

bool secret_query_name(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* part : {"sig", "token", "secret", "password", "passwd", "credential"})
    if (name.find(part) != std::string::npos) return true;
  return name == "key" || name == "apikey" || name == "api_key" || name == "auth" || name == "authorization";
}

// Where the URL that starts at `begin` ends inside free text.
size_t url_end(std::string_view text, size_t begin) {
  size_t end = text.find_first_of(" \t\r\n\"'<>`", begin);
  return end == std::string_view::npos ? text.size() : end;
}

// Redacts one URL (userinfo, then credential query values).
std::string redact_one(std::string_view url) {
  std::string out(url);
  size_t scheme = out.find("://");
  size_t host = scheme == std::string::npos ? 0 : scheme + 3;
  size_t auth_end = out.find_first_of("/?#", host);
  if (auth_end == std::string::npos) auth_end = out.size();
  size_t at = out.rfind('@', auth_end == 0 ? 0 : auth_end - 1);
  if (at != std::string::npos && at >= host && at < auth_end) {
    out.replace(host, at - host, "***");
    auth_end = out.find_first_of("/?#", host);
    if (auth_end == std::string::npos) auth_end = out.size();
  }
  size_t q = out.find('?', auth_end);
  if (q == std::string::npos) return out;
  size_t pos = q + 1;
  while (pos < out.size()) {
    size_t amp = out.find_first_of("&#", pos);
    if (amp == std::string::npos) amp = out.size();
    size_t eq = out.find('=', pos);
    if (eq != std::string::npos && eq < amp && secret_query_name(out.substr(pos, eq - pos))) {
      out.replace(eq + 1, amp - eq - 1, "***");
      amp = eq + 4;
    }
    if (amp >= out.size() || out[amp] == '#') break;
    pos = amp + 1;
  }
  return out;
}

}  // namespace

std::string redact_url(std::string_view text) {
  std::string out;
  size_t done = 0;
  for (size_t found = text.find("://"); found != std::string_view::npos; found = text.find("://", done)) {
    size_t begin = found;
    while (begin > done && (std::isalnum(static_cast<unsigned char>(text[begin - 1])) || text[begin - 1] == '+' ||
                            text[begin - 1] == '-' || text[begin - 1] == '.'))
      --begin;
    size_t end = url_end(text, found + 3);
    out.append(text.substr(done, begin - done));
    out += redact_one(text.substr(begin, end - begin));
    done = end;
  }
  out.append(text.substr(std::min(done, text.size())));
  return out;
}

bool url_has_userinfo(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return false;
  size_t host = scheme + 3;
  size_t auth_end = url.find_first_of("/?#", host);
  std::string_view authority = url.substr(host, auth_end == std::string_view::npos ? auth_end : auth_end - host);
  return authority.find('@') != std::string_view::npos;
}

std::uint64_t parse_remote_u64(std::string_view text, const std::string& what) {
  std::string_view t = text;
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\r' || t.back() == '\n')) t.remove_suffix(1);
  std::uint64_t value = 0;
  bool ok = !t.empty() && t.size() <= 20;
  for (char c : t) {
    ok = ok && c >= '0' && c <= '9' && !__builtin_mul_overflow(value, 10u, &value) &&
         !__builtin_add_overflow(value, static_cast<std::uint64_t>(c - '0'), &value);
    if (!ok) break;
  }
  if (!ok) {
    std::string shown(text.substr(0, 40));
    for (char& c : shown)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    throw RemoteError(what + ": '" + shown + "' is not a size (the server's answer is malformed)",
                      "try again; if it persists, check the server (a proxy that rewrites answers?)");
  }
  return value;
}

HttpClient::HttpClient(HttpOptions options) : options_(options) {
  static GlobalInit init;
  if (const char* r = std::getenv("MLO_REMOTE_RETRIES")) options_.retries = std::max(0, std::atoi(r));
  if (const char* b = std::getenv("MLO_REMOTE_BACKOFF_MS")) options_.backoff_ms = std::max(1, std::atoi(b));
}

HttpClient::~HttpClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
  if (std::getenv("MLO_HTTP_STATS"))
    std::fprintf(stderr, "mlo: http: %llu requests, %llu retries, %llu bytes sent, %llu bytes received\n",
                 static_cast<unsigned long long>(stats_.requests), static_cast<unsigned long long>(stats_.retries),
                 static_cast<unsigned long long>(stats_.bytes_sent),
                 static_cast<unsigned long long>(stats_.bytes_received));
}

HttpStats HttpClient::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void* HttpClient::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  CURL* h = curl_easy_init();
  if (!h) throw RemoteError("cannot initialise libcurl");
  return h;
}

void HttpClient::release(void* handle) {
  std::lock_guard lock(mutex_);
  idle_.push_back(handle);
}

HttpResponse HttpClient::perform(const std::function<HttpRequest()>& prepare, const std::string& raw_what) {
  // Every message and log line below names the request: never its secrets.
  const std::string what = redact_url(raw_what);
  std::string last_error;
  for (int attempt = 0;; ++attempt) {
    check_interrupted();
    HttpRequest req = prepare();
    CURL* h = static_cast<CURL*>(acquire());
    curl_easy_reset(h);
    HttpResponse resp;
    UploadSource rs{req.body, 0};
    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp.headers);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, options_.connect_timeout_s);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, options_.low_speed_time_s);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, options_.ssl_verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, options_.ssl_verify ? 2L : 0L);
    if (!options_.ca_bundle.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_bundle.c_str());
    char error_buffer[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    static const std::string user_agent = std::string("mlo/") + kVersion;
    curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent.c_str());
    if (req.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (req.method == "PUT") {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_read_cb);
      curl_easy_setopt(h, CURLOPT_READDATA, &rs);
      curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
      curl_easy_setopt(h, CURLOPT_SEEKDATA, &rs);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    } else if (req.method == "POST") {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    } else if (req.method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }
    curl_slist* list = nullptr;
    for (auto& [k, v] : req.headers) list = curl_slist_append(list, (k + ": " + v).c_str());
    // No "Expect: 100-continue" round trip for uploads.
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    CURLcode code = curl_easy_perform(h);
    curl_slist_free_all(list);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
    release(h);
    {
      std::lock_guard lock(mutex_);
      ++stats_.requests;
      if (attempt > 0) ++stats_.retries;
      stats_.bytes_sent += rs.pos;
      stats_.bytes_received += resp.body.size();
    }
    bool retry;
    if (code != CURLE_OK) {
      last_error = curl_easy_strerror(code);
      if (error_buffer[0]) last_error += std::string(" (") + error_buffer + ")";
      last_error = redact_url(last_error);
      retry = curl_retryable(code);
      if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE) {
        std::string name = options_.remote_name.empty() ? "NAME" : options_.remote_name;
        throw RemoteError(what + ": TLS certificate verification failed: " + last_error,
                          "trust the server's CA with 'mlo remote modify " + name +
                              " ca_bundle /path/to/ca.pem' (or CURL_CA_BUNDLE / SSL_CERT_FILE in the environment); "
                              "only for a server you trust otherwise: 'mlo remote modify " + name +
                              " ssl_verify false'");
      }
      if (!retry)
        throw RemoteError(what + ": " + last_error, "check the remote's URL and that the server is reachable");
    } else {
      retry = http_status_retryable(resp.status);
      last_error = "HTTP " + std::to_string(resp.status);
      if (!retry) return resp;
    }
    if (attempt >= options_.retries) {
      if (code == CURLE_OK) return resp;  // the caller reports the status
      throw RemoteError(what + ": " + last_error + " (after " + std::to_string(attempt + 1) + " attempts)",
                        "check that the remote is reachable (mlo remote ls shows its URL) and try again");
    }
    int delay = backoff_delay_ms(options_.backoff_ms, attempt);
    log::debug(what + ": " + last_error + "; retrying in " + std::to_string(delay) + " ms");
    for (int waited = 0; waited < delay; waited += 50) {
      check_interrupted();
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50, delay - waited)));
    }
  }
}

}  // namespace mlo::remote
