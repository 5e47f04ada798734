// gs://BUCKET/PREFIX: Google Cloud Storage through its S3-compatible XML API
// (the S3 backend's requests, listing and multipart upload). Credentials,
// first found wins: HMAC keys (GS_ACCESS_KEY_ID / GS_SECRET_ACCESS_KEY, signed
// with SigV4 as GCS accepts), an OAuth token (GOOGLE_OAUTH_ACCESS_TOKEN), or
// the output of a command (MLO_GS_TOKEN_COMMAND, e.g. "gcloud auth
// print-access-token"). The command comes from the environment, never from a
// tracked config a clone would run.
#include "core/process.h"
#include "remote/backend_detail.h"

namespace mlo::remote {

using namespace detail;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string token_from_command(const RemoteConfig& remote, const std::string& command) {
  ProcessResult r = run_process({{"/bin/sh", "-c", command}});
  while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r' || r.out.back() == ' ')) r.out.pop_back();
  if (!r.ok() || r.out.empty() || r.out.find_first_of(" \n\r\t") != std::string::npos)
    throw RemoteError("remote '" + remote.name + "': MLO_GS_TOKEN_COMMAND ('" + printable(command) + "') " +
                          (r.ok() ? "printed no single token" : "failed (exit " + std::to_string(r.exit_code) + ")") +
                          (r.err.empty() ? "" : ": " + printable(r.err)),
                      "run the command by hand (gcloud auth login first?), or export GOOGLE_OAUTH_ACCESS_TOKEN");
  return r.out;
}

}  // namespace

std::unique_ptr<Backend> detail::open_gs(const RemoteConfig& remote) {
  S3Flavour flavour;
  flavour.scheme = "gs://";
  flavour.endpoint = "https://storage.googleapis.com";
  flavour.region = "auto";
  AwsCredentials creds;
  creds.access_key = env("GS_ACCESS_KEY_ID");
  creds.secret_key = env("GS_SECRET_ACCESS_KEY");
  if (creds.access_key.empty() || creds.secret_key.empty()) {
    flavour.bearer = env("GOOGLE_OAUTH_ACCESS_TOKEN");
    if (std::string command = env("MLO_GS_TOKEN_COMMAND"); flavour.bearer.empty() && !command.empty())
      flavour.bearer = token_from_command(remote, command);
    if (flavour.bearer.empty())
      throw RemoteError("remote '" + remote.name + "': no Google Cloud Storage credentials found",
                        "export GS_ACCESS_KEY_ID and GS_SECRET_ACCESS_KEY (HMAC keys: Cloud Storage > Settings > "
                        "Interoperability), or GOOGLE_OAUTH_ACCESS_TOKEN, or MLO_GS_TOKEN_COMMAND='gcloud auth "
                        "print-access-token' (secrets never go in mlo's config)");
  }
  return open_s3_compatible(remote, creds, flavour);
}

}  // namespace mlo::remote
