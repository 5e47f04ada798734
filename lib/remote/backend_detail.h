// Helpers the backends share (lib/remote/backend.cpp and one file per
// cloud backend: azure.cpp, sftp.cpp, gs.cpp). Not part of the module's
// public API.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/log.h"
#include "remote/backend.h"
#include "remote/http.h"

namespace mlo::remote::detail {

std::string lower(std::string s);
std::string trim_slashes(std::string s);
// At most 200 characters of untrusted text, control characters as '?'.
std::string printable(std::string_view text);
// A listed key becomes a local path (cached pack indexes and run lists), so
// anything but a plain relative path under the listed folder is skipped,
// with a warning naming it: a hostile server cannot steer a write.
bool acceptable_key(const std::string& key, const std::string& prefix, const std::string& where);
std::string status_hint(long status);
// libcurl settings (TLS trust, retries, timeouts) from a remote's options.
HttpOptions http_options(const RemoteConfig& remote);
std::string base64_encode(std::string_view in);
// nullopt for text that is not base64.
std::optional<std::string> base64_decode(std::string_view in);

// Asks again (up to 4 times in all) when an answer arrived but `parse`
// finds it malformed (a corrupted listing body): transient, like a reset.
// HTTP errors are thrown by `ask` and not repeated here (the client has
// retried them already).
template <class Ask, class Parse>
auto retry_malformed(Ask ask, Parse parse) {
  for (int n = 1;; ++n) {
    auto r = ask();
    try {
      return parse(r);
    } catch (const RemoteError& e) {
      if (n >= 4) throw;
      log::debug(std::string(e.what()) + "; asking again");
    }
  }
}

// An OAuth bearer token, fetched again before it expires: a transfer can
// outlast a token's hour. Shared by the threads of one backend.
class BearerToken {
 public:
  struct Fetched {
    std::string token;
    double lifetime_s = 0;  // how long it is valid; 0: for good (never fetched again)
  };
  explicit BearerToken(std::function<Fetched()> fetch) : fetch_(std::move(fetch)) {}
  // The token to send now: fetched on first use and again once most of its
  // lifetime has passed (5 minutes before it ends, or half way for short ones).
  std::string current();

 private:
  std::function<Fetched()> fetch_;
  std::mutex mutex_;
  std::string token_;
  double refresh_at_ = 0;  // steady-clock seconds; 0 with a token: never
};

// What differs between S3 and stores that speak its API (GCS's XML API).
struct S3Flavour {
  std::string scheme = "s3://";  // for messages
  std::string endpoint;          // default endpoint (empty: AWS's for the region)
  std::string region;            // default region (empty: AWS_REGION, else us-east-1)
  std::shared_ptr<BearerToken> bearer;  // an OAuth token sent instead of a SigV4 signature
};
std::unique_ptr<Backend> open_s3_compatible(const RemoteConfig& remote, const AwsCredentials& creds,
                                            const S3Flavour& flavour);

// The cloud backends, one file each (the factory in backend.cpp picks one).
std::unique_ptr<Backend> open_azure(const RemoteConfig& remote);
std::unique_ptr<Backend> open_sftp(const RemoteConfig& remote);
std::unique_ptr<Backend> open_gs(const RemoteConfig& remote);

}  // namespace mlo::remote::detail
