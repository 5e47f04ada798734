// `mlo remote check NAME`: a write-read-delete round trip of one small
// probe blob, and when a step fails, what kind of failure it is (DNS,
// connection, TLS, host key, credentials, permission, missing bucket) and
// how to fix it.
#pragma once
#include <string>
#include <vector>

#include "remote/backend.h"

namespace mlo::remote {

struct ProbeStep {
  std::string name;  // "connect", "list", "write", "read", "delete"
  bool ok = false;
  double seconds = 0;
};

struct ProbeReport {
  std::vector<ProbeStep> steps;  // those that ran, the failed one last
  std::string problem;           // empty when all passed: dns, connect, tls, host_key, credentials,
                                 // auth, permission, missing_bucket, integrity, other
  std::string error;             // the failure as the backend said it
  std::string fix;               // what to do about it
  bool ok() const { return problem.empty(); }
};

// Runs the round trip against `remote` (opening it is the first step, so
// missing credentials are diagnosed too). Never throws a RemoteError: a
// failure is the report's answer.
ProbeReport probe_remote(const RemoteConfig& remote);

// The kind of a failure, from the step it happened at and the message.
std::string classify_remote_failure(const std::string& step, const std::string& message);

}  // namespace mlo::remote
