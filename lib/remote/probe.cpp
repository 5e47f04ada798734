#include "remote/probe.h"

#include <chrono>
#include <random>

#include "core/error.h"

namespace mlo::remote {

namespace {

bool contains(const std::string& text, std::initializer_list<const char*> needles) {
  for (const char* n : needles)
    if (text.find(n) != std::string::npos) return true;
  return false;
}

std::string fix_for(const std::string& problem, const RemoteConfig& remote, const std::string& hint) {
  const std::string& n = remote.name;
  if (problem == "dns") return "the host name does not resolve: check its spelling in the URL or endpoint ('mlo remote ls'), and the machine's DNS";
  if (problem == "connect") return "nothing answers at that host and port: check the endpoint's port, that the server runs, and firewalls or proxies";
  if (problem == "tls") return "trust the server's CA with 'mlo remote modify " + n + " ca_bundle /path/ca.pem --local', or fix the server's certificate";
  if (problem == "missing_bucket") return hint.empty() ? "create the bucket or container, or fix the URL with 'mlo remote modify " + n + " url ...'" : hint;
  if (problem == "permission") return "the credentials are accepted but may not write or delete here: grant write/delete on the prefix (a bucket policy, the SAS permissions, folder permissions)";
  return hint.empty() ? "see man mlo-remote: CREDENTIALS" : hint;
}

}  // namespace

std::string classify_remote_failure(const std::string& step, const std::string& message) {
  if (contains(message, {"resolve host", "Could not resolve", "Couldn't resolve"})) return "dns";
  if (contains(message, {"host key"})) return "host_key";
  if (contains(message, {"TLS", "SSL", "certificate"})) return "tls";
  if (contains(message, {"Couldn't connect", "Could not connect", "Failed to connect", "Connection refused", "Timeout"}))
    return "connect";
  if (contains(message, {"credentials found", "no Azure credentials", "not base64", "MLO_GS_TOKEN_COMMAND"}))
    return "credentials";
  bool denied = contains(message, {"HTTP 401", "HTTP 403", "access denied", "Login denied", "Authentication",
                                   "InvalidAccessKeyId", "SignatureDoesNotMatch", "Access denied"});
  // A store that lists for us but refuses the write knows who we are.
  if (denied) return step == "list" || step == "connect" ? "auth" : "permission";
  if (contains(message, {"does not exist", "NoSuchBucket", "ContainerNotFound", "No such file"})) return "missing_bucket";
  if ((step == "write" || step == "delete") &&
      contains(message, {"Permission denied", "permission", "Upload failed", "QUOTE command", "Access denied"}))
    return "permission";
  return "other";
}

ProbeReport probe_remote(const RemoteConfig& remote) {
  ProbeReport report;
  std::unique_ptr<Backend> backend;
  std::string key = "probe/mlo-check-" + std::to_string(std::random_device{}()) + ".txt";
  std::string body = "mlo remote check " + key + "\n";
  auto step = [&](const std::string& name, auto&& action) {
    auto start = std::chrono::steady_clock::now();
    report.steps.push_back({name, false, 0});
    try {
      action();
      report.steps.back().ok = true;
    } catch (const Error& e) {
      report.error = e.what();
      report.problem = classify_remote_failure(name, e.what());
      report.fix = fix_for(report.problem, remote, e.hint());
    }
    report.steps.back().seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report.ok();
  };
  auto fail = [&](const std::string& what) { throw RemoteError(backend->describe() + key + ": " + what); };
  bool ok = step("connect", [&] { backend = open_backend(remote); }) &&
            step("list", [&] { backend->list("probe/"); }) &&
            step("write", [&] { backend->put(key, body); }) &&
            step("read", [&] {
              auto got = backend->get(key);
              if (!got) fail("written but not found when read back");
              if (*got != body) fail("read back different bytes than were written");
            }) &&
            step("delete", [&] {
              backend->remove(key);
              if (backend->has(key)) fail("still there after it was deleted");
            });
  if (!ok && report.problem == "other" && contains(report.error, {"read back", "not found when read", "still there"}))
    report.problem = "integrity";
  return report;
}

}  // namespace mlo::remote
