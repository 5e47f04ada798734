// deployments.ENV.validate_requests (warn | reject): the router checks the
// rows of each inference request against the contract of the served
// version's training data (contracts/request.h). warn logs and counts the
// failures; reject also answers 422 with them. Counts are in deploy status.
#pragma once
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "contracts/request.h"
#include "deploy/deploy.h"
#include "deploy/http_server.h"

namespace mlo::deploy {

struct RequestGuard {
  bool reject = false;
  contracts::RequestChecker checker;
  std::vector<std::string> features;  // names of positional columns (the version's signature inputs)
};

// The guard for one served version; nullptr with `note` saying why when
// validation is off for it (mode empty, no registered training data, no
// contract with columns).
std::shared_ptr<const RequestGuard> request_guard(Repo& repo, const Backend& b, const std::string& mode,
                                                  std::string& note);

// The failures of one request: MLflow /invocations (JSON or CSV) and Open
// Inference Protocol v2 infer bodies; other routes and bodies it cannot read
// are left to the runner (no failures).
std::vector<contracts::RequestFailure> check_request(const RequestGuard& g, const HttpRequest& req);

// What deploy status shows: requests checked, failing, refused, and failures per check.
class RequestCounts {
 public:
  void add(const std::vector<contracts::RequestFailure>& failures, bool refused);
  nlohmann::json to_json(const std::string& mode) const;

 private:
  std::atomic<long> checked_{0}, invalid_{0}, rejected_{0};
  mutable std::mutex mu_;
  std::map<std::string, long> by_check_;  // "range age" -> rows
};

// The 422 answer to a refused request: {"error", "checks": [...]} (the first
// 20 failures); 400 when the body could not be read (a "format" failure).
HttpResponse invalid_request_response(const RequestGuard& g, const std::vector<contracts::RequestFailure>& failures);

}  // namespace mlo::deploy
