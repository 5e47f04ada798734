// gs://BUCKET/PREFIX: Google Cloud Storage through its S3-compatible XML API
// (the S3 backend's requests, listing and multipart upload). Credentials,
// first found wins: HMAC keys (GS_ACCESS_KEY_ID / GS_SECRET_ACCESS_KEY, signed
// with SigV4 as GCS accepts), an OAuth token (GOOGLE_OAUTH_ACCESS_TOKEN), or
// the output of a command (MLO_GS_TOKEN_COMMAND, e.g. "gcloud auth
// print-access-token"), or a service-account JSON key
// (GOOGLE_APPLICATION_CREDENTIALS) whose RS256-signed JWT is exchanged for a
// token at the key's token_uri. The command and the key come from the
// environment, never from a tracked config a clone would use.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>

#include "core/fs.h"
#include "core/process.h"
#include "remote/backend_detail.h"
#include "remote/rs256.h"

namespace mlo::remote {

using namespace detail;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// gcloud's access tokens last an hour; the command does not say, so it is
// asked again when an hour's token would be near its end.
constexpr double kCommandTokenLifetime = 3600;

BearerToken::Fetched token_from_command(const RemoteConfig& remote, const std::string& command) {
  ProcessResult r = run_process({{"/bin/sh", "-c", command}});
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r' || r.out.back() == ' ')) r.out.pop_back();
  if (!r.ok() || r.out.empty() || r.out.find_first_of(" \n\r\t") != std::string::npos)
    throw RemoteError("remote '" + remote.name + "': MLO_GS_TOKEN_COMMAND ('" + printable(command) + "') " +
                          (r.ok() ? "printed no single token" : "failed (exit " + std::to_string(r.exit_code) + ")") +
                          (r.err.empty() ? "" : ": " + printable(r.err)),
                      "run the command by hand (gcloud auth login first?), or export GOOGLE_OAUTH_ACCESS_TOKEN");
  return {r.out, kCommandTokenLifetime};
}

// The fields of a service-account key that the token exchange needs.
struct ServiceAccountKey {
  std::string source;  // "service-account key FILE" (for messages)
  std::string email, private_key, token_uri;
  std::string key_id;  // private_key_id: names the key in the JWT header (optional)
};

const std::string kKeyHint = "download a new JSON key for the service account (IAM > Service accounts > Keys > Add key)";

std::string key_field(const nlohmann::json& doc, const char* name, const std::string& source) {
  auto it = doc.find(name);
  if (it == doc.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
    throw InputError(source + ": no \"" + std::string(name) + "\" text field", kKeyHint);
  return it->get<std::string>();
}

ServiceAccountKey read_service_account_key(const std::string& path) {
  ServiceAccountKey key{"service-account key " + path + " (GOOGLE_APPLICATION_CREDENTIALS)", "", "", "", ""};
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec) throw InputError(key.source + ": cannot read it: " + ec.message(), "export the path of the JSON key file");
  if (size > (1u << 20)) throw InputError(key.source + ": over 1 MiB, not a JSON key", kKeyHint);
  auto doc = nlohmann::json::parse(read_file(path), nullptr, false);
  if (!doc.is_object()) throw InputError(key.source + ": not a JSON object", kKeyHint);
  if (key_field(doc, "type", key.source) != "service_account")
    throw InputError(key.source + ": \"type\" is not \"service_account\" (a user or external-account file?)",
                     "use a service-account key, or GOOGLE_OAUTH_ACCESS_TOKEN / MLO_GS_TOKEN_COMMAND");
  key.email = key_field(doc, "client_email", key.source);
  key.private_key = key_field(doc, "private_key", key.source);
  key.token_uri = doc.contains("token_uri") ? key_field(doc, "token_uri", key.source)
                                            : "https://oauth2.googleapis.com/token";
  if (doc.value("private_key_id", nlohmann::json()).is_string()) key.key_id = doc["private_key_id"];
  return key;
}

// The assertion is a credential for an hour: it only goes over TLS, or to this
// machine (a test's or a proxy's endpoint).
void check_token_uri(const ServiceAccountKey& key) {
  const std::string& uri = key.token_uri;
  bool loopback = uri.rfind("http://127.0.0.1:", 0) == 0 || uri.rfind("http://127.0.0.1/", 0) == 0 ||
                  uri.rfind("http://localhost:", 0) == 0 || uri.rfind("http://localhost/", 0) == 0 ||
                  uri.rfind("http://[::1]", 0) == 0;
  if (uri.rfind("https://", 0) != 0 && !loopback)
    throw InputError(key.source + ": token_uri '" + printable(uri) + "' is not https:// (nor http:// on this machine)",
                     kKeyHint);
}

std::string base64url(std::string_view bytes) {
  std::string text = base64_encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  for (char& c : text) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return text;
}

// header.claims.signature (RFC 7523), valid for an hour from now.
std::string signed_jwt(const ServiceAccountKey& key, std::int64_t now) {
  nlohmann::json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  if (!key.key_id.empty()) header["kid"] = key.key_id;
  nlohmann::json claims = {{"iss", key.email},
                           {"scope", "https://www.googleapis.com/auth/devstorage.read_write"},
                           {"aud", key.token_uri},
                           {"iat", now},
                           {"exp", now + 3600}};
  std::string unsigned_part = base64url(header.dump()) + "." + base64url(claims.dump());
  return unsigned_part + "." + base64url(rs256_sign(key.private_key, unsigned_part, key.source));
}

// A token becomes an HTTP header: printable ASCII without spaces only.
bool plausible_token(const std::string& token) {
  if (token.empty() || token.size() > 4096) return false;
  for (unsigned char c : token)
    if (c <= 0x20 || c >= 0x7f) return false;
  return true;
}

BearerToken::Fetched token_from_answer(const ServiceAccountKey& key, const HttpResponse& r, const std::string& remote) {
  auto doc = nlohmann::json::parse(r.body, nullptr, false);
  std::string where = "the token endpoint " + printable(key.token_uri) + " (remote '" + remote + "')";
  if (r.status != 200) {
    std::string why = doc.is_object() && doc.value("error", nlohmann::json()).is_string()
                          ? doc["error"].get<std::string>() +
                                (doc.value("error_description", nlohmann::json()).is_string()
                                     ? ": " + doc["error_description"].get<std::string>()
                                     : "")
                          : "HTTP " + std::to_string(r.status);
    throw RemoteError(where + " refused the key of " + printable(key.email) + ": " + printable(why),
                      "check that the key is not deleted or disabled (IAM > Service accounts > Keys) and that this "
                      "machine's clock is right (the request is valid for an hour from now)");
  }
  auto token = doc.is_object() ? doc.value("access_token", nlohmann::json()) : nlohmann::json();
  if (!token.is_string() || !plausible_token(token.get<std::string>()))
    throw RemoteError(where + " answered without a usable access_token", "check token_uri in the key file");
  auto expires = doc.value("expires_in", nlohmann::json());
  if (expires.is_number() && expires.get<double>() <= 0)
    throw RemoteError(where + " sent a token that has already expired (expires_in " + expires.dump() + ")",
                      "check this machine's clock, then run the command again");
  // Google's tokens last 3599 s; an answer without expires_in is taken as that.
  return {token.get<std::string>(), expires.is_number() ? expires.get<double>() : 3599.0};
}

BearerToken::Fetched token_from_service_account(const RemoteConfig& remote, const std::string& path) {
  ServiceAccountKey key = read_service_account_key(path);
  check_token_uri(key);
  std::string body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" +
                     signed_jwt(key, static_cast<std::int64_t>(std::time(nullptr)));
  HttpClient client(http_options(remote));
  HttpResponse r = client.perform(
      [&] {
        return HttpRequest{"POST", key.token_uri, {{"Content-Type", "application/x-www-form-urlencoded"}}, body};
      },
      "exchanging the service-account key for a token");
  return token_from_answer(key, r, remote.name);
}

// The first token source the environment names, asked for its first token
// now (so a bad one fails before any transfer); nullptr when none is named.
std::shared_ptr<BearerToken> bearer_from_environment(const RemoteConfig& remote) {
  std::function<BearerToken::Fetched()> fetch;
  if (std::string token = env("GOOGLE_OAUTH_ACCESS_TOKEN"); !token.empty())
    fetch = [token] { return BearerToken::Fetched{token, 0}; };  // given as is: nothing to fetch it again from
  else if (std::string command = env("MLO_GS_TOKEN_COMMAND"); !command.empty())
    fetch = [remote, command] { return token_from_command(remote, command); };
  else if (std::string key = env("GOOGLE_APPLICATION_CREDENTIALS"); !key.empty())
    fetch = [remote, key] { return token_from_service_account(remote, key); };
  if (!fetch) return nullptr;
  auto bearer = std::make_shared<BearerToken>(std::move(fetch));
  bearer->current();
  return bearer;
}

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string detail::BearerToken::current() {
  std::lock_guard<std::mutex> lock(mutex_);
  double now = steady_seconds();
  if (token_.empty() || (refresh_at_ > 0 && now >= refresh_at_)) {
    Fetched f = fetch_();
    token_ = std::move(f.token);
    refresh_at_ = f.lifetime_s > 0 ? now + f.lifetime_s - std::min(300.0, f.lifetime_s / 2) : 0;
  }
  return token_;
}

std::unique_ptr<Backend> detail::open_gs(const RemoteConfig& remote) {
  S3Flavour flavour;
  flavour.scheme = "gs://";
  flavour.endpoint = "https://storage.googleapis.com";
  flavour.region = "auto";
  AwsCredentials creds;
  creds.access_key = env("GS_ACCESS_KEY_ID");
  creds.secret_key = env("GS_SECRET_ACCESS_KEY");
  if (creds.access_key.empty() || creds.secret_key.empty()) {
    flavour.bearer = bearer_from_environment(remote);
    if (!flavour.bearer)
      throw RemoteError("remote '" + remote.name + "': no Google Cloud Storage credentials found",
                        "export GS_ACCESS_KEY_ID and GS_SECRET_ACCESS_KEY (HMAC keys: Cloud Storage > Settings > "
                        "Interoperability), or GOOGLE_OAUTH_ACCESS_TOKEN, or MLO_GS_TOKEN_COMMAND='gcloud auth "
                        "print-access-token', or GOOGLE_APPLICATION_CREDENTIALS=KEY.json (a service-account key; "
                        "secrets never go in mlo's config)");
  }
  return open_s3_compatible(remote, creds, flavour);
}

}  // namespace mlo::remote
