// HTTP through libcurl for the http and s3 remotes: a pool of easy handles
// (each keeps its connections alive, so requests reuse them), retries with
// exponential backoff and jitter on 5xx, 429, timeouts and resets, and TLS
// verification unless the remote sets ssl_verify: false.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlo::remote {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;  // sent for PUT/POST (not owned)
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

struct HttpOptions {
  bool ssl_verify = true;
  std::string ca_bundle;        // PEM file of CAs to trust instead of the system's (empty: system)
  std::string remote_name;      // for hints in errors
  int retries = 5;              // extra attempts after the first
  int backoff_ms = 200;         // first delay; doubles each attempt (with jitter)
  long connect_timeout_s = 10;
  long low_speed_time_s = 30;   // abort a transfer slower than 1 KiB/s for this long
};

// Counts requests (for tests and the benchmark: MLO_HTTP_STATS=1 prints them).
struct HttpStats {
  std::uint64_t requests = 0;
  std::uint64_t retries = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs a request, retrying transient failures (connection errors,
  // timeouts, 5xx, 429). `prepare` is called before each attempt so signed
  // requests get a fresh signature. Returns the last response (any status);
  // throws RemoteError when no response could be had. `what` names the
  // request in errors.
  HttpResponse perform(const std::function<HttpRequest()>& prepare, const std::string& what);

  HttpStats stats() const;
  const HttpOptions& options() const { return options_; }

 private:
  void* acquire();
  void release(void* handle);

  HttpOptions options_;
  mutable std::mutex mutex_;
  std::vector<void*> idle_;
  HttpStats stats_;
};

// An upload's bytes for libcurl's CURLOPT_READFUNCTION (READDATA: an
// UploadSource); `pos` counts what was sent.
struct UploadSource {
  std::string_view data;
  size_t pos = 0;
};
size_t upload_read_cb(char* buffer, size_t size, size_t nitems, void* source);

// True for statuses worth another attempt.
bool http_status_retryable(long status);
// Backoff delay for attempt n (0-based): base * 2^n, with up to 50% random jitter.
int backoff_delay_ms(int base_ms, int attempt);
// Percent-encodes per RFC 3986 (unreserved kept); '/' kept when keep_slash.
std::string uri_encode(std::string_view text, bool keep_slash);
// Decodes %XX escapes; nullopt for a malformed escape ("%zz", a trailing "%").
std::optional<std::string> uri_decode(std::string_view text);

// The one place secrets are taken out of text that names a URL (messages,
// logs, --json): the userinfo of every "scheme://user:pass@host" becomes
// "***@", and the value of every query parameter that carries a credential
// (X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token, sig, signature,
// token, access_token, password, secret, key, ...) becomes "***".
std::string redact_url(std::string_view text);
// True when a URL carries userinfo ("user[:password]@" before its host).
bool url_has_userinfo(std::string_view url);

// A number a remote sent (a size, a count, a Content-Length, an XML value):
// decimal digits only, no sign, no overflow of 64 bits. Anything else is a
// RemoteError naming `what` (a malformed answer, retried like other
// transient failures where the caller can).
std::uint64_t parse_remote_u64(std::string_view text, const std::string& what);

}  // namespace mlo::remote
